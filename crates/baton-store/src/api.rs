//! The storage interface ([`HistoryStore`]) and the plain types its methods take and
//! return. Nothing here knows SQL: a PostgreSQL store implements the same trait.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::str::FromStr;
use std::time::Duration;

use baton_model::{
    ArtifactManifest, BeatHistory, BeatOutcome, BeatRecord, BeatStatus, RunRecord, RunStatus,
    SlaStatus,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;
use crate::series::{SeriesQuery, SeriesSet};

/// A run still marked `running` whose heartbeat is older than this is reported as
/// [`RunStatus::Abandoned`] by every read.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(30);

/// Where runs and beats are kept. Object safe: the CLI holds a `Box<dyn HistoryStore>`
/// and the runner's store consumer an `Arc<dyn HistoryStore>`.
///
/// Writes are durable when they return: a beat recorded with [`record_beat`] survives
/// a `kill -9` of the process a moment later.
///
/// [`record_beat`]: HistoryStore::record_beat
pub trait HistoryStore: Send + Sync {
    /// Record a run as it starts (or update it when it is already known).
    fn begin_run(&self, run: &RunRecord) -> Result<()>;

    /// Tell readers the run is still alive.
    fn heartbeat(&self, run_id: Uuid, at: Timestamp) -> Result<()>;

    /// Record one finished (or skipped) beat, committed at once. Recording the same
    /// beat of the same run again replaces it.
    fn record_beat(&self, beat: &BeatRecord) -> Result<()>;

    /// Record finished (or skipped) beats in one transaction, in order, each
    /// replacing an earlier record of the same beat of the same run: a run's
    /// recorder commits its beats in batches. On any error nothing of the batch is
    /// kept.
    fn record_beats(&self, beats: &[BeatRecord]) -> Result<()>;

    /// Record the run's final state (status, end time). Inserts it when
    /// [`begin_run`](HistoryStore::begin_run) never reached the store.
    fn finish_run(&self, run: &RunRecord) -> Result<()>;

    /// Insert or update many runs in one transaction (imports, benchmarks).
    fn record_runs_bulk(&self, runs: &[RunRecord]) -> Result<()>;

    /// Insert many beats in one transaction (imports, benchmarks). Their runs must
    /// be recorded already; a beat already recorded for its run is an error. On any
    /// error nothing of the batch is kept.
    fn record_beats_bulk(&self, beats: &[BeatRecord]) -> Result<()>;

    /// What the runner needs to judge each named beat of a pipeline: previous shape,
    /// recent cache states, median duration. Beats never recorded are absent.
    fn beat_history_hints(
        &self,
        pipeline_id: &str,
        beat_names: &[&str],
    ) -> Result<HashMap<String, BeatHistory>>;

    /// Runs newest first with their beat counts, filtered.
    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>>;

    /// One run with all its beats in plan order (movement, then beat index).
    fn load_run(&self, selector: &RunSelector) -> Result<Option<(RunRecord, Vec<BeatRecord>)>>;

    /// The records of one beat across runs, newest first (`shape log`, anomaly rules).
    /// `pipeline_id: None` looks in every pipeline of the store.
    fn beat_runs(
        &self,
        pipeline_id: Option<&str>,
        beat: &str,
        limit: usize,
    ) -> Result<Vec<BeatRecord>>;

    /// [`HistoryStore::beat_runs`] of one pipeline, only what the anomaly rules
    /// read (a `baton run` asks this for every beat as it finishes).
    fn beat_outcomes(
        &self,
        pipeline_id: &str,
        beat: &str,
        limit: usize,
    ) -> Result<Vec<BeatOutcome>>;

    /// The canonical shape string each of `wanted`'s beats evolved from, by beat
    /// name: that of the latest record of the beat in `pipeline_id` that started
    /// before `before` with the hash `previous`, among its `per_beat` latest
    /// records. Beats not found are absent. One walk of the pipeline's runs for all
    /// of them (a run whose every shape evolved asks this for every beat).
    fn previous_shapes(
        &self,
        pipeline_id: &str,
        wanted: &[PreviousShape<'_>],
        per_beat: usize,
    ) -> Result<HashMap<String, String>>;

    /// Record why a beat's shape changed. `target` picks the recorded shape.
    fn annotate_shape(
        &self,
        pipeline_id: Option<&str>,
        beat: &str,
        target: &ShapeTarget,
        reason: &str,
        at: Timestamp,
    ) -> Result<ShapeAnnotation>;

    /// Every evolved shape, oldest first, with its annotation when there is one.
    fn shape_evolutions(&self, pipeline_id: Option<&str>) -> Result<Vec<ShapeEvolution>>;

    /// The evolved shapes of one beat of a pipeline, oldest first.
    fn beat_shape_evolutions(&self, pipeline_id: &str, beat: &str) -> Result<Vec<ShapeEvolution>> {
        Ok(self
            .shape_evolutions(Some(pipeline_id))?
            .into_iter()
            .filter(|e| e.feature == beat)
            .collect())
    }

    /// Remove old runs with their beats and annotations. Returns the removed runs so
    /// the caller can delete their logs and telemetry folders. A live run (running,
    /// fresh heartbeat) is never removed.
    fn gc(&self, policy: &GcPolicy) -> Result<Vec<RunRecord>>;

    /// Pipelines that have runs in the store, most recently run first.
    fn pipelines(&self) -> Result<Vec<PipelineInfo>>;

    /// Keep a run's artifact manifest (replacing an earlier one of the same run).
    fn save_artifacts(&self, manifest: &ArtifactManifest) -> Result<()>;

    /// The artifact manifest saved for a run, if any.
    fn load_artifacts(&self, run_id: Uuid) -> Result<Option<ArtifactManifest>>;

    /// Every beat record of the scope as compact series, for the cross-run
    /// analyses (see [`crate::series`]): a million records in a fraction of a
    /// second and a few tens of megabytes.
    fn beat_series(&self, query: &SeriesQuery) -> Result<SeriesSet>;

    /// The git commit of each of these runs that recorded one (runs unknown or
    /// without git are absent).
    fn run_commits(&self, run_ids: &[Uuid]) -> Result<HashMap<Uuid, String>>;
    /// Up to `limit` runs with their beats, oldest first (start time, then the order
    /// they were stored in), starting after `after` (a previous page's
    /// [`RunPage::next`]) or at the first: `baton export` reads the history in pages.
    fn runs_page(
        &self,
        filter: &RunPageFilter,
        after: Option<RunCursor>,
        limit: usize,
    ) -> Result<RunPage>;

    /// Insert runs with their beats (grouped by run) in one transaction, except the
    /// runs the store already holds, which are left as they are with their beats:
    /// returns their ids. On any error nothing of the batch is kept.
    fn import_runs(&self, runs: &[RunRecord], beats: &[BeatRecord]) -> Result<HashSet<Uuid>>;

    /// Open a run that beats are added to one at a time, by separate processes
    /// (`baton exec`), in one transaction: when `run.run_id` is stored already, that
    /// run with its beats, marked running again with its heartbeat renewed to
    /// `run.heartbeat_at` (its label, start and provenance kept); else `run`
    /// inserted, with no beats. Beats are then added with
    /// [`record_beat`](HistoryStore::record_beat).
    fn join_run(&self, run: &RunRecord) -> Result<(RunRecord, Vec<BeatRecord>)>;

    /// End a run opened with [`join_run`](HistoryStore::join_run), in one
    /// transaction: its status becomes the worst of its beats' (a failed or timed
    /// out beat: failure; else a cancelled one: cancelled; else success) and it
    /// finishes at `at`. Returns the run as stored with its beats; `None` when the
    /// run is unknown.
    fn close_run(
        &self,
        run_id: Uuid,
        at: Timestamp,
    ) -> Result<Option<(RunRecord, Vec<BeatRecord>)>>;
}

/// The status of a run made of these beats: any failed or timed-out beat makes
/// it a failure, else any cancelled one cancelled, else a success.
pub fn worst_status<'a>(beats: impl IntoIterator<Item = &'a BeatRecord>) -> RunStatus {
    let mut worst = RunStatus::Success;
    for beat in beats {
        if beat.status.is_failure() {
            return RunStatus::Failure;
        }
        if beat.status == BeatStatus::Cancelled {
            worst = RunStatus::Cancelled;
        }
    }
    worst
}

/// Which runs [`HistoryStore::runs_page`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunPageFilter {
    /// Pipeline id (history key); `None` for every pipeline.
    pub pipeline: Option<String>,
    /// Only runs started at or after this time.
    pub since: Option<Timestamp>,
}

/// Where a page of runs ended; opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCursor {
    pub(crate) started_at: i64,
    pub(crate) row: i64,
}

/// A page of [`HistoryStore::runs_page`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    pub runs: Vec<(RunRecord, Vec<BeatRecord>)>,
    /// Where the next page starts; `None` when this one was the last.
    pub next: Option<RunCursor>,
}

/// Which runs [`HistoryStore::list_runs`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Pipeline id (history key).
    pub pipeline: Option<String>,
    /// Only runs that recorded this beat.
    pub beat: Option<String>,
    /// Only runs with this status (as reported: a stale `running` run is `abandoned`).
    pub status: Option<RunStatus>,
    /// At most this many runs; `None` for all.
    pub limit: Option<usize>,
    /// Only runs whose git branch is this.
    pub branch: Option<String>,
    /// Only runs recorded on this host.
    pub host: Option<String>,
}

/// One line of `baton history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: RunRecord,
    pub beats: BeatCounts,
    /// Recorded beats by overall SLA status.
    pub sla: SlaCounts,
    /// Wall-clock time from start to finish; `None` while running or abandoned.
    pub duration_ms: Option<u64>,
    /// Sum of the beats' durations (more than the wall time when beats ran in parallel).
    pub beats_duration_ms: u64,
}

/// Recorded beats of a run by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatCounts {
    pub success: u32,
    pub failure: u32,
    pub timeout: u32,
    pub cancelled: u32,
    pub skipped: u32,
}

impl BeatCounts {
    pub fn total(&self) -> u32 {
        self.success + self.failure + self.timeout + self.cancelled + self.skipped
    }

    pub fn add(&mut self, status: BeatStatus, n: u32) {
        let slot = match status {
            BeatStatus::Success => &mut self.success,
            BeatStatus::Failure => &mut self.failure,
            BeatStatus::Timeout => &mut self.timeout,
            BeatStatus::Cancelled => &mut self.cancelled,
            BeatStatus::Skipped => &mut self.skipped,
        };
        *slot += n;
    }
}

impl RunSummary {
    /// How many of the run's beats have an overall SLA status of `status` or worse.
    pub fn sla_at_least(&self, status: SlaStatus) -> u64 {
        let SlaCounts {
            compliant,
            warning,
            breach,
            critical,
        } = self.sla;
        [
            (SlaStatus::Compliant, compliant),
            (SlaStatus::Warning, warning),
            (SlaStatus::Breach, breach),
            (SlaStatus::Critical, critical),
        ]
        .into_iter()
        .filter(|(s, _)| *s >= status)
        .map(|(_, n)| u64::from(n))
        .sum()
    }
}

/// Recorded beats of a run by overall SLA status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaCounts {
    pub compliant: u32,
    pub warning: u32,
    pub breach: u32,
    pub critical: u32,
}

impl SlaCounts {
    pub fn add(&mut self, status: SlaStatus, n: u32) {
        let slot = match status {
            SlaStatus::Compliant => &mut self.compliant,
            SlaStatus::Warning => &mut self.warning,
            SlaStatus::Breach => &mut self.breach,
            SlaStatus::Critical => &mut self.critical,
        };
        *slot += n;
    }
}

/// How a command names a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSelector {
    /// The most recently started run of the store.
    Latest,
    /// The most recently started run of one pipeline (by id).
    LatestOf(String),
    /// A full run id or a unique prefix of one (as printed, with hyphens).
    Id(String),
    /// A run label, `build-YYYYMMDD-HHMMSS`; the newest run wins if two share it.
    Label(String),
}

impl FromStr for RunSelector {
    type Err = Infallible;

    /// `latest`, a label (`build-...`) or an id / id prefix.
    fn from_str(s: &str) -> Result<Self, Infallible> {
        let s = s.trim();
        Ok(if s.eq_ignore_ascii_case("latest") {
            Self::Latest
        } else if s.starts_with("build-") {
            Self::Label(s.to_owned())
        } else {
            Self::Id(s.to_owned())
        })
    }
}

/// Which recorded shape `baton shape annotate` explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeTarget {
    /// The beat's most recent record.
    Latest,
    /// The beat's record in this run.
    Run(RunSelector),
    /// The record where this shape hash (or a prefix of it) appeared most recently.
    Hash(String),
}

/// A stored explanation of a shape change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeAnnotation {
    pub pipeline_id: String,
    pub beat: String,
    pub shape_hash: String,
    pub run_id: Uuid,
    pub reason: String,
    pub annotated_at: Timestamp,
}

/// A beat whose earlier shape is looked for by [`HistoryStore::previous_shapes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousShape<'a> {
    pub beat: &'a str,
    /// The hash of the shape it evolved from.
    pub previous: &'a str,
    /// Only records that started before this count (not the evolved one itself).
    pub before: Timestamp,
}

/// One shape change, as `shape-evolutions.json` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeEvolution {
    /// The beat name.
    pub feature: String,
    pub pipeline_id: String,
    pub previous_hash: Option<String>,
    pub new_hash: String,
    pub run_id: Uuid,
    /// When the beat that changed shape started.
    pub at: Timestamp,
    pub annotated_at: Option<Timestamp>,
    pub reason: Option<String>,
    /// The beat's movement, 0-based, in that run.
    #[serde(default)]
    pub movement_index: u32,
    /// The beat's position in its movement, 0-based, in that run.
    #[serde(default)]
    pub beat_index: u32,
}

/// What `baton gc` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcPolicy {
    /// Keep the newest N runs of each pipeline.
    KeepRuns(usize),
    /// Remove runs started longer ago than this.
    OlderThan(Duration),
    /// Remove runs started before this time (the size cap's choice, by age).
    StartedBefore(Timestamp),
}

/// A pipeline known to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineInfo {
    pub pipeline_id: String,
    /// The name of its most recent run.
    pub name: String,
    pub runs: u64,
    pub last_started_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_at_least_counts_that_status_and_worse() {
        let mut sla = SlaCounts::default();
        sla.add(SlaStatus::Compliant, 5);
        sla.add(SlaStatus::Warning, 3);
        sla.add(SlaStatus::Breach, 2);
        sla.add(SlaStatus::Critical, 1);
        let summary = RunSummary {
            run: crate::test_records::run("p", crate::test_records::at(0), RunStatus::Success),
            beats: BeatCounts::default(),
            sla,
            duration_ms: None,
            beats_duration_ms: 0,
        };
        assert_eq!(summary.sla_at_least(SlaStatus::Compliant), 11);
        assert_eq!(summary.sla_at_least(SlaStatus::Warning), 6);
        assert_eq!(summary.sla_at_least(SlaStatus::Breach), 3);
        assert_eq!(summary.sla_at_least(SlaStatus::Critical), 1);
    }
}
