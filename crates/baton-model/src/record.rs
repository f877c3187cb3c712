//! What a run leaves behind: the run record and one beat record per beat.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::artifact::ArtifactEntry;
use crate::pipeline::{BeatType, Level, SloTarget};

/// One execution of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// UUIDv7: sortable by start time.
    pub run_id: Uuid,
    /// `build-YYYYMMDD-HHMMSS`, unique enough for humans and folder names.
    pub label: String,
    pub pipeline_id: String,
    pub pipeline_name: String,
    pub pipeline_file: String,
    pub level: Level,
    pub git: Option<GitInfo>,
    pub host: String,
    pub ci: Option<CiInfo>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub heartbeat_at: Timestamp,
    pub status: RunStatus,
    pub baton_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: String,
    pub branch: Option<String>,
    pub author: Option<String>,
}

/// The CI system a run happened in, with its own run id (the correlation id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiInfo {
    pub provider: String,
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Failure,
    Cancelled,
    /// Still marked running, but its heartbeat stopped (the process died).
    Abandoned,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Cancelled => "cancelled",
            Self::Abandoned => "abandoned",
        }
    }
}

impl FromStr for RunStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Self::Running,
            Self::Success,
            Self::Failure,
            Self::Cancelled,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or(())
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the history's rules (anomalies) need of an earlier run of a beat: far less
/// to read back than a whole [`BeatRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatOutcome {
    pub started_at: Timestamp,
    pub status: BeatStatus,
    pub duration_ms: u64,
}

impl From<&BeatRecord> for BeatOutcome {
    fn from(r: &BeatRecord) -> Self {
        Self {
            started_at: r.started_at,
            status: r.status,
            duration_ms: r.duration_ms,
        }
    }
}

/// Everything measured and judged about one beat in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatRecord {
    pub run_id: Uuid,
    pub movement_index: u32,
    pub movement: String,
    pub beat_index: u32,
    pub beat: String,
    #[serde(rename = "type")]
    pub beat_type: BeatType,
    pub level: Level,
    pub started_at: Timestamp,
    // --- SLIs
    pub status: BeatStatus,
    /// Why it ended the way it did when that is not obvious (command not found, ...).
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub attempts: u32,
    pub duration_ms: u64,
    pub duration_bucket: String,
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    pub peak_rss_bytes: u64,
    pub artifacts_count: u64,
    pub artifacts_bytes: u64,
    pub errors_count: u64,
    pub cache_state: CacheState,
    pub tests: Option<TestCounts>,
    pub cost_usd: Option<f64>,
    pub metrics: BTreeMap<String, f64>,
    // --- judgement
    pub slo: SloTarget,
    pub sla: SlaVerdict,
    pub shape: Shape,
    pub log_path: Option<String>,
    /// The beat's `rollback` command, when it ran because its movement failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackRecord>,
    /// Each attempt in order, when the beat was retried (ran more than once);
    /// empty when it ran once, since the record itself then describes that one
    /// attempt (and in records written before attempts were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<AttemptRecord>,
    // --- what it ran on
    /// What the beat's inputs were, so runs on the same inputs can be compared (flaky
    /// detection): `inputs:<hex>` (the cache key of its declared `inputs`), else
    /// `commit:<sha>` (the git commit of a clean work tree), else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_identity: Option<String>,
    /// Restored from the step cache rather than executed.
    #[serde(default)]
    pub restored: bool,
    /// The label of the run whose cache entry was restored, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
}

/// What `baton show RUN --format json` prints and `baton export` writes one per line:
/// a run with its beats in plan order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDocument {
    /// [`RUN_DOCUMENT_VERSION`] when written by this baton.
    pub format_version: u32,
    pub run: RunRecord,
    pub beats: Vec<BeatRecord>,
}

/// The `format_version` of a [`RunDocument`].
pub const RUN_DOCUMENT_VERSION: u32 = 1;

/// One run of a beat's `rollback` command (after a later beat of its movement failed
/// for good).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRecord {
    pub started_at: Timestamp,
    /// `success`, `failure`, `timeout` or `cancelled` (killed by a second Ctrl-C).
    pub status: BeatStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// Why it did not succeed.
    pub reason: Option<String>,
}

/// One attempt of a retried beat: when it ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1-based.
    pub attempt: u32,
    pub started_at: Timestamp,
    /// Wall time of this attempt alone (the backoff before the next is not in it).
    pub duration_ms: u64,
    /// `success`, `failure`, `timeout` or `cancelled`.
    pub status: BeatStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Why it did not succeed, when the status alone does not say it.
    pub reason: Option<String>,
}

/// What the step cache and the artifact collection found for one beat, beside its
/// [`BeatRecord`] (the runner returns one per record, in the same order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatDetails {
    pub beat: String,
    /// The cache key (BLAKE3, hex) the beat was looked up under; `None` when its
    /// cache state is skip or the key could not be computed.
    #[serde(default)]
    pub cache_key: Option<String>,
    /// One line saying why the beat missed when an earlier entry of it existed
    /// (`2 input files changed (src/a.rs, src/b.rs), env CC changed`).
    #[serde(default)]
    pub cache_miss_reason: Option<String>,
    /// The files its `outputs` matched after it ended (restored ones on a hit).
    #[serde(default)]
    pub artifacts: Vec<ArtifactEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeatStatus {
    Success,
    Failure,
    Timeout,
    Cancelled,
    Skipped,
}

impl BeatStatus {
    /// Whether the beat ran to an end of its own (success, failure or timeout):
    /// only then is it judged against its SLO, its shape compared, and its run
    /// counted in statistics and anomaly rules (success rates, streaks). A
    /// cancelled beat was cut short and a skipped one never ran. The one test of
    /// this kind: use it rather than matching statuses.
    pub fn is_judged(self) -> bool {
        matches!(self, Self::Success | Self::Failure | Self::Timeout)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failure | Self::Timeout)
    }
}

impl FromStr for BeatStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Self::Success,
            Self::Failure,
            Self::Timeout,
            Self::Cancelled,
            Self::Skipped,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or(())
    }
}

impl fmt::Display for BeatStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheState {
    Hit,
    Miss,
    #[default]
    Skip,
    Expired,
}

impl CacheState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Skip => "skip",
            Self::Expired => "expired",
        }
    }
}

impl FromStr for CacheState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Hit, Self::Miss, Self::Skip, Self::Expired]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for CacheState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    pub total: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
}

/// SLA verdict, ordered from best to worst so `max` gives the overall status.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SlaStatus {
    #[default]
    Compliant,
    Warning,
    Breach,
    Critical,
}

impl SlaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::Warning => "warning",
            Self::Breach => "breach",
            Self::Critical => "critical",
        }
    }
}

impl FromStr for SlaStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Compliant, Self::Warning, Self::Breach, Self::Critical]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for SlaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaVerdict {
    /// Worst of the duration, error and cache verdicts.
    pub overall_status: SlaStatus,
    pub duration_status: SlaStatus,
    /// actual / SLO duration.
    pub duration_ratio: f64,
    /// (ratio - 1) * 100; negative when under the SLO.
    pub duration_breach_percent: f64,
    pub errors_status: SlaStatus,
    pub cache_status: SlaStatus,
    /// Rolling cache hit rate over the beat's last runs, when its SLO has a target.
    pub cache_hit_rate: Option<f64>,
}

/// The fingerprint of how a beat behaved, compared with its previous run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// SHA-256 (hex) of `canonical`.
    pub hash: String,
    /// The string that was hashed, kept so a change can be explained.
    pub canonical: String,
    pub previous_hash: Option<String>,
    pub evolved: bool,
}

/// What the runner needs to know about a beat's past to judge it now: loaded from
/// the history store before a run starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeatHistory {
    /// Shape hash of the beat's most recent recorded run.
    pub previous_shape: Option<String>,
    /// Latest cache states, oldest first (at most 20).
    pub recent_cache_states: Vec<CacheState>,
    /// Median duration of its recent successful runs, for ETAs.
    pub median_duration_ms: Option<u64>,
    /// Its latest outcomes, newest first: at least as many as the hints read (its
    /// latest 20 runs, and on until 20 successes), for the anomaly rules.
    #[serde(default)]
    pub recent_outcomes: Vec<BeatOutcome>,
}
