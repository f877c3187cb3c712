//! The run history of baton: what every run and beat left behind, kept so that the
//! runner can learn (ETAs, previous shapes, cache hit rates) and the reading commands
//! (`history`, `show`, `report`, `shape log`, anomaly rules) can look back.
//!
//! [`HistoryStore`] is the interface every consumer codes against; [`SqliteStore`]
//! is the default implementation, `.baton/history.db` in WAL mode, safe for several
//! baton processes writing at once.
//!
//! ```no_run
//! use baton_store::{HistoryStore, RunFilter, SqliteStore};
//!
//! let store = SqliteStore::open(".baton/history.db")?;
//! for summary in store.list_runs(&RunFilter { limit: Some(10), ..RunFilter::default() })? {
//!     println!("{} {}", summary.run.label, summary.run.status);
//! }
//! # Ok::<(), baton_store::StoreError>(())
//! ```
//!
//! Sized for a million beat records (30,000 runs of a 34-beat pipeline): bulk
//! inserts at about 3 µs a beat, and the reads above in milliseconds. Measure with
//! `cargo run --release -p baton-store --example fill_store -- DIR/history.db 30000`.

mod api;
mod error;
pub mod series;
mod sqlite;
#[cfg(any(test, feature = "test-util"))]
#[doc(hidden)]
pub mod test_records;

pub use api::{
    ABANDONED_AFTER, BeatCounts, GcPolicy, HistoryStore, PipelineInfo, PreviousShape, RunFilter,
    RunSelector, RunSummary, ShapeAnnotation, ShapeEvolution, ShapeTarget, SlaCounts,
};
pub use api::{RunCursor, RunPage, RunPageFilter, worst_status};
pub use error::{AMBIGUOUS_CANDIDATES_SHOWN, RunCandidate, StoreError};
pub use series::{
    BeatSeries, SeriesPipeline, SeriesPoint, SeriesQuery, SeriesRun, SeriesSet, Successes,
};
pub use sqlite::{LOCK_WAIT, SCHEMA_VERSION, SqliteStore};

/// Result of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
