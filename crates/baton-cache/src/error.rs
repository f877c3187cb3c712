//! The cache's one error type. Every message reads "failed to ..." and names the
//! file or key concerned; the underlying error is the `source`.
//!
//! The cache is an optimisation: the runner turns any of these into a warning and
//! runs the beat.

use std::io;
use std::path::PathBuf;

/// Anything that went wrong computing a key, reading or writing an entry, or
/// querying the index.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("failed to open the cache index {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite refused WAL mode (a file system without shared memory, say).
    #[error("failed to put the cache index {} in WAL mode (SQLite kept journal mode '{mode}')", path.display())]
    NotWal { path: PathBuf, mode: String },
    #[error(
        "failed to use the cache index {}: its schema version {found} is newer than this baton's {supported}",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("failed to {what} in the cache index")]
    Index {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read the glob '{glob}'")]
    Glob {
        glob: String,
        #[source]
        source: globset::Error,
    },
    #[error("failed to read the cache manifest {}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to serialize {what}")]
    Serialize {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// Something asked for is not known (a run without a key for the beat, ...).
    #[error("failed to find {what}")]
    NotFound { what: String },
    /// The entry does not hold what its manifest says (a truncated or changed
    /// file, a path escaping the root). It has been dropped.
    #[error("failed to verify the cache entry {key}: {problem}")]
    Corrupt { key: String, problem: String },
}

impl CacheError {
    pub(crate) fn index(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Index { what, source }
    }

    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Read { path, source }
    }

    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Write { path, source }
    }

    /// Whether the entry was found corrupt (and dropped).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }
}

pub type Result<T, E = CacheError> = std::result::Result<T, E>;
