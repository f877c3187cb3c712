//! Where baton keeps its state for a pipeline: `.baton/` next to the pipeline file
//! (or `$BATON_DIR`), with the history store, logs and telemetry files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_store::{HistoryStore, SqliteStore};

#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    /// The state directory for a pipeline whose beats run in `pipeline_root`.
    pub fn for_pipeline(pipeline_root: &Path) -> Self {
        let root = std::env::var_os("BATON_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| pipeline_root.join(".baton"));
        Self { root }
    }

    /// The state directory of the pipeline file at `path`.
    pub fn for_pipeline_file(path: &Path) -> Self {
        Self::for_pipeline(&baton_config::pipeline_root(path))
    }

    pub fn history_db(&self) -> PathBuf {
        self.root.join("history.db")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn telemetry(&self) -> PathBuf {
        self.root.join("telemetry")
    }

    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    pub fn open_store(&self) -> Result<Arc<dyn HistoryStore>, baton_store::StoreError> {
        Ok(Arc::new(SqliteStore::open(self.history_db())?))
    }
}
