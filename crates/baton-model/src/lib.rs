//! Plain serde types shared by every baton crate.
//!
//! Nothing here does I/O. [`pipeline`] is the resolved pipeline that `baton-config`
//! produces and the runner consumes; [`record`] holds what a run leaves behind
//! (run and beat records with their SLIs, SLO, SLA verdict and shape); [`event`] is
//! the typed stream the scheduler emits and every consumer reads; [`artifact`] is
//! the per-run artifact manifest (`artifacts.json`); [`layout`] owns every path
//! under the state directory and the encoding of names into file names; [`escape`]
//! makes user strings safe to print; [`plan`] is a planned run
//! (what runs, in which order, what is skipped and why).

pub mod artifact;
pub mod duration;
pub mod escape;
pub mod event;
pub mod layout;
pub mod pipeline;
pub mod plan;
pub mod record;

pub use artifact::{ARTIFACT_MANIFEST_VERSION, ArtifactEntry, ArtifactManifest, BeatArtifacts};
pub use duration::{format_duration, format_duration_ms};
pub use event::{OutputStream, Recording, RunEvent};
pub use pipeline::{
    AnomalySettings, BeatSpec, BeatType, CacheSpec, Level, MovementSpec, Pipeline, RetryOn,
    RetryPolicy, SlaThresholds, SloTarget,
};
pub use plan::{Plan, PlannedBeat, SkipReason, SkippedBeat};
pub use record::{
    AttemptRecord, BeatDetails, BeatHistory, BeatOutcome, BeatRecord, BeatStatus, CacheState,
    CiInfo, GitInfo, RUN_DOCUMENT_VERSION, RollbackRecord, RunDocument, RunRecord, RunStatus,
    Shape, SlaStatus, SlaVerdict, TestCounts,
};

/// Version of the JSON records baton writes (telemetry files, `--format json`).
pub const RECORD_FORMAT_VERSION: u32 = 1;
