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

    /// A run id prefix that matches several runs: the user's mistake, not the store's
    /// (see [`StoreError::is_usage`]).
    #[error(
        "failed to pick a run: '{prefix}' matches {count} runs, give more of the id:{}",
        list_candidates(candidates, *count)
    )]
    AmbiguousRun {
        prefix: String,
        /// How many runs match.
        count: usize,
        /// The newest of them, newest first, at most [`AMBIGUOUS_CANDIDATES_SHOWN`].
        candidates: Vec<RunCandidate>,
    },

    #[error("failed to find a recorded shape of beat '{beat}' {detail}")]
    ShapeNotFound { beat: String, detail: String },
}

/// How many of the runs an ambiguous id matches [`StoreError::AmbiguousRun`] names.
pub const AMBIGUOUS_CANDIDATES_SHOWN: usize = 10;

/// A run an ambiguous id could mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCandidate {
    pub label: String,
    pub run_id: String,
}

/// One indented `label  id` line per candidate, and how many more match.
fn list_candidates(candidates: &[RunCandidate], count: usize) -> String {
    let width = candidates.iter().map(|c| c.label.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in candidates {
        out += &format!("\n  {:<width$}  {}", c.label, c.run_id);
    }
    if let Some(more) = count.checked_sub(candidates.len()).filter(|&n| n > 0) {
        out += &format!("\n  and {more} more");
    }
    out
}

impl StoreError {
    /// Whether the failure is in what the caller asked for (an unknown run, an
    /// ambiguous run id, a shape that is not there),
    /// so that a command line reports it as a usage error.
    pub fn is_usage(&self) -> bool {
        match self {
            Self::UnknownRun(_) | Self::AmbiguousRun { .. } | Self::ShapeNotFound { .. } => true,
            Self::CreateDir { .. }
            | Self::Open { .. }
            | Self::NotWal { .. }
            | Self::SchemaTooNew { .. }
            | Self::Migrate { .. }
            | Self::Sqlite { .. }
            | Self::Encode { .. }
            | Self::Corrupt { .. } => false,
        }
    }

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
        baton_sqlite::is_busy(source)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ambiguous_id_lists_at_most_the_shown_candidates_and_counts_the_rest() {
        let candidates: Vec<_> = (0..AMBIGUOUS_CANDIDATES_SHOWN)
            .map(|i| RunCandidate {
                label: format!("build-{i}"),
                run_id: format!("01a2-{i}"),
            })
            .collect();
        let err = StoreError::AmbiguousRun {
            prefix: "01a2".into(),
            count: 13,
            candidates,
        };
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("'01a2' matches 13 runs, give more of the id:"));
        assert_eq!(lines[1], "  build-0  01a2-0");
        assert_eq!(lines.len(), 1 + AMBIGUOUS_CANDIDATES_SHOWN + 1, "{text}");
        assert_eq!(lines[lines.len() - 1], "  and 3 more");
        assert!(err.is_usage());
    }
}
