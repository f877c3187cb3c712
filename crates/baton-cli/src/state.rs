//! Where baton keeps its state for a pipeline: `.baton/` next to the pipeline file
//! (or `$BATON_DIR`). Every path under it comes from [`baton_model::layout`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_model::layout::{self, StateLayout};
use baton_store::{HistoryStore, SqliteStore};

#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    /// The state directory for a pipeline whose beats run in `pipeline_root`.
    pub(crate) fn for_pipeline(pipeline_root: &Path) -> Self {
        let env = std::env::var_os(layout::STATE_DIR_ENV);
        Self {
            root: layout::state_dir(pipeline_root, env.as_deref()),
        }
    }

    /// The state directory of the pipeline file at `path`.
    pub(crate) fn for_pipeline_file(path: &Path) -> Self {
        Self::for_pipeline(&baton_config::pipeline_root(path))
    }

    /// The paths under this state directory.
    pub(crate) fn layout(&self) -> StateLayout {
        StateLayout::new(&self.root)
    }

    pub(crate) fn history_db(&self) -> PathBuf {
        self.layout().history_db()
    }

    pub(crate) fn logs(&self) -> PathBuf {
        self.layout().logs()
    }

    pub(crate) fn telemetry(&self) -> PathBuf {
        self.layout().telemetry()
    }

    pub(crate) fn open_store(&self) -> Result<Arc<dyn HistoryStore>, baton_store::StoreError> {
        Ok(Arc::new(SqliteStore::open(self.history_db())?))
    }
}
