//! A few store connections shared by the requests, each read on tokio's blocking
//! threads so that SQLite never stalls the runtime.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use baton_store::{HistoryStore, SqliteStore};

/// How many connections: one per core of a small machine, and one spare.
pub const SIZE: usize = 3;

/// Round-robin over [`SIZE`] stores (each one connection behind its own mutex).
#[derive(Debug)]
pub struct Pool {
    stores: Vec<Arc<SqliteStore>>,
    next: AtomicUsize,
}

impl Pool {
    /// Opens the history at `path`, which must exist.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if !path.is_file() {
            anyhow::bail!("failed to find the history {}", path.display());
        }
        let stores = (0..SIZE)
            .map(|_| SqliteStore::open(path).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("failed to open the history {}", path.display()))?;
        Ok(Self {
            stores,
            next: AtomicUsize::new(0),
        })
    }

    fn pick(&self) -> Arc<SqliteStore> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.stores.len();
        Arc::clone(&self.stores[i])
    }

    /// Runs `read` with a store on a blocking thread.
    pub async fn read<T, F>(&self, read: F) -> Result<T, crate::api::Failure>
    where
        T: Send + 'static,
        F: FnOnce(&dyn HistoryStore) -> Result<T, crate::api::Failure> + Send + 'static,
    {
        let store = self.pick();
        tokio::task::spawn_blocking(move || read(store.as_ref()))
            .await
            .map_err(|_| crate::api::Failure::Internal("a read of the history stopped".into()))?
    }
}
