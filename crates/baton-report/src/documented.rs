//! The telemetry files' content in the record format of the source document
//! (format 2, docs/telemetry-format.md): a beat's `sli`/`shape`/`slo`/`sla` under
//! the document's names, the run report's `summary` and `breaches`, and the
//! `shape-evolutions.json` registry. What baton knows beyond the document sits
//! under one `baton` object: for a beat, its format-1 file; for the report, the
//! whole [`RunReport`].

use std::collections::HashSet;

use baton_analysis::Anomaly;
use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord, SlaStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::report::RunReport;

/// The version of the telemetry files this baton writes. Format 1 was the flat
/// beat record and the bare [`RunReport`]; both are still read.
pub const TELEMETRY_FORMAT_VERSION: u32 = 2;

/// The names of the beats whose failure the pipeline allows (`allow_failure`):
/// such a failure is `partial`, not `failure`.
pub type AllowedFailures = HashSet<String>;

/// The beats of `pipeline` with `allow_failure: true`.
pub fn allowed_failures(pipeline: &baton_model::Pipeline) -> AllowedFailures {
    pipeline
        .movements
        .iter()
        .flat_map(|m| &m.beats)
        .filter(|b| b.allow_failure)
        .map(|b| b.name.clone())
        .collect()
}

/// Everything baton knows of a beat, as format 1 wrote it: the record with its
/// run context and its anomalies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatFacts {
    pub run_label: String,
    pub pipeline_id: String,
    pub pipeline_name: String,
    #[serde(flatten)]
    pub record: BeatRecord,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
}

/// One beat's file, `movement-<n>/beat-<n>-<name>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeatDocument {
    #[serde(rename = "format_version")]
    pub format_version: u32,
    /// When the beat ended.
    pub timestamp: Timestamp,
    /// The CI provider's run id, else baton's run id.
    pub correlation_id: String,
    /// The run label (`build-YYYYMMDD-HHMMSS`).
    pub build_id: String,
    /// 1-based.
    pub movement: u32,
    /// 1-based, inside its movement.
    pub beat: u32,
    pub beat_name: String,
    /// `movement-<n>:<beat name>:completed|failed|skipped`.
    pub event: String,
    pub sli: Sli,
    pub shape: ShapeFields,
    pub slo: SloFields,
    pub sla: SlaFields,
    pub baton: BeatFacts,
}

/// The document's SLIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sli {
    pub duration_ms: u64,
    pub duration_bucket: String,
    /// `success`, `failure` or `partial`.
    pub status: DocumentStatus,
    pub artifacts_count: u64,
    pub errors_count: u64,
    /// The document's heap change: a child process's heap cannot be observed
    /// from outside, so it is always null. See `peak_rss_mb`.
    pub memory_delta_mb: Option<f64>,
    /// What baton measures instead: the child's peak resident set, in MB (10^6
    /// bytes), to one decimal.
    pub peak_rss_mb: f64,
    pub cache_state: CacheState,
}

/// A beat's status in the document's three words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Succeeded at the first attempt.
    Success,
    /// Failed, timed out or was cancelled, and its failure was not allowed.
    Failure,
    /// Succeeded after a retry, failed with `allow_failure`, or was skipped.
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeFields {
    pub current_hash: String,
    pub previous_hash: Option<String>,
    pub evolved: bool,
    /// Why the shape changed, once `baton shape annotate` said so.
    pub evolution_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloFields {
    #[serde(rename = "targetDuration_ms")]
    pub target_duration_ms: u64,
    /// baton's error target is a count per run (`errors: 0`): this is that
    /// count, the errors one run may have.
    #[serde(rename = "targetErrorRate")]
    pub target_error_rate: f64,
    #[serde(rename = "targetCacheHitRate")]
    pub target_cache_hit_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaFields {
    pub duration_exceeded: bool,
    pub duration_breach_percent: f64,
    pub duration_status: SlaStatus,
    pub error_limit_exceeded: bool,
    pub cache_hit_shortfall: bool,
    pub overall_status: SlaStatus,
}

impl DocumentStatus {
    pub fn of(record: &BeatRecord, failure_allowed: bool) -> Self {
        match record.status {
            BeatStatus::Success if record.attempts > 1 => Self::Partial,
            BeatStatus::Success => Self::Success,
            BeatStatus::Skipped => Self::Partial,
            BeatStatus::Failure | BeatStatus::Timeout if failure_allowed => Self::Partial,
            BeatStatus::Failure | BeatStatus::Timeout | BeatStatus::Cancelled => Self::Failure,
        }
    }
}

/// `movement-<n>:<beat>:completed|failed|skipped`.
pub fn event(record: &BeatRecord) -> String {
    let outcome = match record.status {
        BeatStatus::Success => "completed",
        BeatStatus::Skipped => "skipped",
        BeatStatus::Failure | BeatStatus::Timeout | BeatStatus::Cancelled => "failed",
    };
    format!(
        "movement-{}:{}:{outcome}",
        record.movement_index + 1,
        record.beat
    )
}

/// The CI provider's run id when the run has one, else baton's run id.
pub fn correlation_id(run: &RunRecord) -> String {
    run.ci
        .as_ref()
        .and_then(|ci| ci.run_id.clone())
        .unwrap_or_else(|| run.run_id.to_string())
}

impl BeatDocument {
    pub fn new(
        run: &RunRecord,
        record: &BeatRecord,
        anomalies: &[&Anomaly],
        failure_allowed: bool,
    ) -> Self {
        let ended = record
            .started_at
            .checked_add(jiff::SignedDuration::from_millis(
                i64::try_from(record.duration_ms).unwrap_or(i64::MAX),
            ))
            .unwrap_or(record.started_at);
        let target_ms = u64::try_from(record.slo.duration.as_millis()).unwrap_or(u64::MAX);
        Self {
            format_version: TELEMETRY_FORMAT_VERSION,
            timestamp: ended,
            correlation_id: correlation_id(run),
            build_id: run.label.clone(),
            movement: record.movement_index + 1,
            beat: record.beat_index + 1,
            beat_name: record.beat.clone(),
            event: event(record),
            sli: Sli {
                duration_ms: record.duration_ms,
                duration_bucket: record.duration_bucket.clone(),
                status: DocumentStatus::of(record, failure_allowed),
                artifacts_count: record.artifacts_count,
                errors_count: record.errors_count,
                memory_delta_mb: None,
                peak_rss_mb: (record.peak_rss_bytes as f64 / 100_000.0).round() / 10.0,
                cache_state: record.cache_state,
            },
            shape: ShapeFields {
                current_hash: record.shape.hash.clone(),
                previous_hash: record.shape.previous_hash.clone(),
                evolved: record.shape.evolved,
                evolution_reason: None,
            },
            slo: SloFields {
                target_duration_ms: target_ms,
                target_error_rate: f64::from(record.slo.errors),
                target_cache_hit_rate: record.slo.cache_hit_rate.filter(|r| r.is_finite()),
            },
            sla: SlaFields {
                duration_exceeded: record.duration_ms > target_ms,
                duration_breach_percent: finite(record.sla.duration_breach_percent),
                duration_status: record.sla.duration_status,
                error_limit_exceeded: record.errors_count > u64::from(record.slo.errors),
                cache_hit_shortfall: record.sla.cache_status != SlaStatus::Compliant,
                overall_status: record.sla.overall_status,
            },
            baton: BeatFacts {
                run_label: run.label.clone(),
                pipeline_id: run.pipeline_id.clone(),
                pipeline_name: run.pipeline_name.clone(),
                record: record.clone(),
                anomalies: anomalies.iter().map(|a| (*a).clone()).collect(),
            },
        }
    }
}

/// `build-sli-slo-sla-report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument {
    #[serde(rename = "format_version")]
    pub format_version: u32,
    /// When the run ended (its last heartbeat while it has no end).
    pub timestamp: Timestamp,
    pub correlation_id: String,
    pub build_id: String,
    pub summary: ReportSummary,
    /// Beats whose overall SLA status is breach or critical, in plan order.
    pub breaches: Vec<BreachEntry>,
    /// Everything baton reports of the run: format 1's whole report.
    pub baton: RunReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSummary {
    pub total_beats: u64,
    /// Beats by their `sli.status`, and the skipped ones (counted as partial too).
    pub successful_beats: u64,
    pub failed_beats: u64,
    pub partial_beats: u64,
    pub skipped_beats: u64,
    /// Succeeded / ran (skipped beats left out), in percent, two decimals; null
    /// when no beat ran.
    pub success_rate: Option<f64>,
    #[serde(rename = "totalDuration_ms")]
    pub total_duration_ms: u64,
    pub breach_count: u64,
    pub warning_count: u64,
    pub evolved_shapes: u64,
    /// Hits / cache uses over the run, 0..1; null when no beat used the cache.
    pub cache_hit_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreachEntry {
    pub movement: u32,
    pub beat: u32,
    pub beat_name: String,
    pub event: String,
    #[serde(rename = "duration_ms")]
    pub duration_ms: u64,
    #[serde(rename = "targetDuration_ms")]
    pub target_duration_ms: u64,
    #[serde(rename = "duration_breach_percent")]
    pub duration_breach_percent: f64,
    #[serde(rename = "duration_status")]
    pub duration_status: SlaStatus,
    #[serde(rename = "errors_count")]
    pub errors_count: u64,
    #[serde(rename = "error_limit_exceeded")]
    pub error_limit_exceeded: bool,
    #[serde(rename = "overall_status")]
    pub overall_status: SlaStatus,
}

impl ReportDocument {
    pub fn new(report: &RunReport, allowed: &AllowedFailures) -> Self {
        let run = &report.run;
        let mut summary = ReportSummary {
            total_beats: report.summary.beats,
            successful_beats: 0,
            failed_beats: 0,
            partial_beats: 0,
            skipped_beats: report.summary.skipped,
            success_rate: report
                .summary
                .success_rate
                .filter(|r| r.is_finite())
                .map(|r| (r * 10_000.0).round() / 100.0),
            total_duration_ms: report.summary.total_duration_ms,
            breach_count: report.breaches.len() as u64,
            warning_count: report.summary.warning,
            evolved_shapes: report.evolved_shapes.len() as u64,
            cache_hit_rate: report.summary.cache_hit_rate.filter(|r| r.is_finite()),
        };
        for b in &report.beats {
            match DocumentStatus::of(b, allowed.contains(&b.beat)) {
                DocumentStatus::Success => summary.successful_beats += 1,
                DocumentStatus::Failure => summary.failed_beats += 1,
                DocumentStatus::Partial => summary.partial_beats += 1,
            }
        }
        let breaches = report
            .beats
            .iter()
            .filter(|b| b.status.is_judged() && b.sla.overall_status >= SlaStatus::Breach)
            .map(|b| BreachEntry {
                movement: b.movement_index + 1,
                beat: b.beat_index + 1,
                beat_name: b.beat.clone(),
                event: event(b),
                duration_ms: b.duration_ms,
                target_duration_ms: u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX),
                duration_breach_percent: finite(b.sla.duration_breach_percent),
                duration_status: b.sla.duration_status,
                errors_count: b.errors_count,
                error_limit_exceeded: b.errors_count > u64::from(b.slo.errors),
                overall_status: b.sla.overall_status,
            })
            .collect();
        Self {
            format_version: TELEMETRY_FORMAT_VERSION,
            timestamp: run.finished_at.unwrap_or(run.heartbeat_at),
            correlation_id: correlation_id(run),
            build_id: run.label.clone(),
            summary,
            breaches,
            baton: report.clone(),
        }
    }
}

/// One entry of `shape-evolutions.json`: a beat whose shape changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    /// `movement-<n>-beat-<n>`, 1-based.
    pub feature: String,
    pub previous_hash: Option<String>,
    pub new_hash: String,
    /// When it was annotated; null until `baton shape annotate` says why.
    pub annotated_at: Option<Timestamp>,
    pub reason: Option<String>,
    pub baton: RegistryFacts,
}

/// What the registry's entries carry beyond the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RegistryFacts {
    pub beat: String,
    pub pipeline_id: String,
    pub run_id: uuid::Uuid,
    /// When the beat that changed shape started.
    pub at: Timestamp,
}

/// `shape-evolutions.json`: every shape change, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub format_version: u32,
    pub evolutions: Vec<RegistryEntry>,
}

/// `movement-<n>-beat-<n>` from 0-based positions.
pub fn feature(movement_index: u32, beat_index: u32) -> String {
    format!("movement-{}-beat-{}", movement_index + 1, beat_index + 1)
}

/// NaN and infinities have no JSON form: they are written as 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}
