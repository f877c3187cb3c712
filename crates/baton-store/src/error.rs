//! The one error type of the store. Messages are lowercase "failed to ..." sentences;
//! the CLI prints the whole chain.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to create the history directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to open the history store {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// SQLite refused WAL mode (a file system without shared memory, say).
    #[error("failed to put {} in WAL mode (SQLite kept journal mode '{mode}')", path.display())]
    NotWal { path: PathBuf, mode: String },

    /// The file was written by a newer baton: refuse rather than guess.
    #[error("history.db is schema version {found}, this baton knows up to {known}")]
    SchemaTooNew { found: u32, known: u32 },

    #[error("failed to migrate the history schema to version {version}")]
    Migrate {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },

    /// A database operation failed; `action` says which ("record beat 'lint'").
    #[error("failed to {action}")]
    Sqlite {
        action: String,
        #[source]
        source: rusqlite::Error,
    },

    /// A record could not be turned into columns (a timestamp out of range, ...).
    #[error("failed to encode {what} for the history store")]
    Encode {
        what: String,
        #[source]
        source: Option<serde_json::Error>,
    },

    /// A stored value could not be read back: the file was edited or damaged.
    #[error("failed to decode {what} stored in the history")]
    Corrupt {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("failed to find run '{0}' in the history")]
    UnknownRun(String),

    #[error("failed to pick a run: '{prefix}' matches {count} runs, give more of the id")]
    AmbiguousRun { prefix: String, count: usize },

    #[error("failed to find a recorded shape of beat '{beat}' {detail}")]
    ShapeNotFound { beat: String, detail: String },
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    /// Whether the failure is SQLite saying another connection holds the lock
    /// (after `busy_timeout` ran out). Callers may retry or warn.
    pub fn is_busy(&self) -> bool {
        let source = match self {
            Self::Open { source, .. }
            | Self::Migrate { source, .. }
            | Self::Sqlite { source, .. } => source,
            _ => return false,
        };
        is_busy(source)
    }
}

pub(crate) fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Attach "failed to ..." context to a rusqlite result.
pub(crate) trait SqlContext<T> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite {
            action: action(),
            source,
        })
    }
}
