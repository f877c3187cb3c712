//! What a run is asked to do ([`RunOptions`]) and how it ended ([`RunOutcome`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use baton_cache::{Cache, CacheMode};
use baton_model::{
    ARTIFACT_MANIFEST_VERSION, ArtifactManifest, BeatArtifacts, BeatDetails, BeatRecord,
    CacheState, RunRecord, RunStatus,
};

use crate::identity::CleanCommit;
use crate::spawner::Shell;

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run being made, with status running; finished by [`crate::run_plan`].
    pub run: RunRecord,
    /// At most this many beats at once (`-j`; at least 1).
    pub jobs: usize,
    /// Logs go to `<logs_dir>/<run label>/<movement>/<beat>.log`.
    pub logs_dir: PathBuf,
    pub shell: Shell,
    /// Between SIGTERM and SIGKILL when a beat times out.
    pub kill_grace: Duration,
    /// The step cache; `None` runs every beat (cache state skip).
    pub cache: Option<Arc<Cache>>,
    /// `--no-cache` / `--cache-only`.
    pub cache_mode: CacheMode,
    /// The run's commit if its work tree is clean: the input identity of the
    /// beats without `inputs` (see [`crate::identity`]). Default: none.
    pub clean_commit: CleanCommit,
    /// The trace the run joins: the trace id of a valid `TRACEPARENT` in baton's
    /// own environment (see [`crate::trace::parent_trace_id`]); none: the run's
    /// own trace, whose id is the run id.
    pub parent_trace_id: Option<String>,
}

impl RunOptions {
    /// The run's trace id: the joined trace's, else the run id.
    pub fn trace_id(&self) -> String {
        self.parent_trace_id
            .clone()
            .unwrap_or_else(|| crate::trace::trace_id(&self.run.run_id))
    }

    /// Defaults: as many jobs as cores, the detected shell, a 5 s kill grace.
    pub fn new(run: RunRecord, logs_dir: impl Into<PathBuf>) -> Self {
        Self {
            run,
            jobs: default_jobs(),
            logs_dir: logs_dir.into(),
            shell: Shell::detect(),
            kill_grace: Duration::from_secs(5),
            cache: None,
            cache_mode: CacheMode::Normal,
            clean_commit: CleanCommit::default(),
            parent_trace_id: None,
        }
    }
}

/// The number of cores, the default for `-j`.
pub fn default_jobs() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// How a run ended: the finished run record and one record per planned beat, in
/// plan order, each with its details (cache key, miss reason, artifacts) at the
/// same index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run: RunRecord,
    pub records: Vec<BeatRecord>,
    pub details: Vec<BeatDetails>,
}

impl RunOutcome {
    pub fn status(&self) -> RunStatus {
        self.run.status
    }

    /// The run's artifacts: the content of `artifacts.json`. Beats without
    /// artifacts are left out.
    pub fn artifact_manifest(&self) -> ArtifactManifest {
        ArtifactManifest {
            format_version: ARTIFACT_MANIFEST_VERSION,
            run_id: self.run.run_id,
            run_label: self.run.label.clone(),
            pipeline_id: self.run.pipeline_id.clone(),
            beats: self
                .records
                .iter()
                .zip(&self.details)
                .filter(|(_, d)| !d.artifacts.is_empty())
                .map(|(r, d)| BeatArtifacts {
                    movement: r.movement.clone(),
                    beat: r.beat.clone(),
                    files: d.artifacts.clone(),
                })
                .collect(),
        }
    }

    /// `(beat, reason)` for each cache miss that had an earlier entry: one line
    /// each for the run summary.
    pub fn cache_miss_reasons(&self) -> Vec<(&str, &str)> {
        self.records
            .iter()
            .zip(&self.details)
            .filter(|(r, _)| matches!(r.cache_state, CacheState::Miss))
            .filter_map(|(r, d)| Some((r.beat.as_str(), d.cache_miss_reason.as_deref()?)))
            .collect()
    }
}
