//! [`RunReport`]: everything known about one finished (or interrupted) run, in the
//! shape of `build-sli-slo-sla-report.json` (docs/recording.md). Every renderer reads it.

use std::collections::HashMap;

use baton_analysis::Anomaly;
use baton_model::{
    BeatRecord, BeatStatus, CacheState, RECORD_FORMAT_VERSION, RollbackRecord, RunRecord, SlaStatus,
};
use baton_telemetry::{Change, describe_change};
use serde::{Deserialize, Serialize};

/// File name of the run report inside `telemetry/<run-label>/`.
pub use baton_model::layout::REPORT_FILE_NAME;

/// One run with its beats, judged: the content of `build-sli-slo-sla-report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub format_version: u32,
    pub run: RunRecord,
    pub summary: Summary,
    /// In plan order: by movement, then by position in the movement.
    pub beats: Vec<BeatRecord>,
    /// Beats whose overall SLA status is breach or critical, in plan order.
    pub breaches: Vec<Breach>,
    /// Beats whose shape differs from their previous run's, in plan order.
    pub evolved_shapes: Vec<EvolvedShape>,
    pub anomalies: Vec<Anomaly>,
}

/// The run in numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub beats: u64,
    pub succeeded: u64,
    /// Failed or timed out.
    pub failed: u64,
    pub cancelled: u64,
    pub skipped: u64,
    /// succeeded / beats that ran (not skipped), 0..1; null when none ran.
    pub success_rate: Option<f64>,
    /// SLA counts by overall status, over the beats that ran.
    pub compliant: u64,
    pub warning: u64,
    pub breach: u64,
    pub critical: u64,
    /// hits / (hits + misses + expired) over this run's beats; null when no beat
    /// used the cache.
    pub cache_hit_rate: Option<f64>,
    /// Run wall time (finished - started), or the sum of beat durations while the
    /// run has no end.
    pub total_duration_ms: u64,
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    /// The largest peak RSS of any beat.
    pub peak_rss_bytes: u64,
    pub artifacts_count: u64,
    pub errors_count: u64,
    /// Sum of the beats' reported costs; null when none reported one.
    pub cost_usd: Option<f64>,
}

/// A beat that broke its SLA (overall status breach or critical).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    pub beat: String,
    pub movement: String,
    /// The overall SLA status: breach or critical.
    pub status: SlaStatus,
    pub duration_status: SlaStatus,
    pub errors_status: SlaStatus,
    /// actual / SLO duration.
    pub ratio: f64,
    pub duration_breach_percent: f64,
    pub slo_ms: u64,
    pub actual_ms: u64,
    pub errors_count: u64,
    pub errors_slo: u32,
}

/// A beat whose shape changed since its previous run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvolvedShape {
    pub beat: String,
    pub movement: String,
    pub previous_hash: Option<String>,
    pub new_hash: String,
    /// What changed (`memory 50-100MB → 100-500MB`), in the order of the canonical
    /// shape string; empty when the previous shape is no longer in the history.
    #[serde(default)]
    pub changes: Vec<Change>,
}

impl RunReport {
    /// Builds the report: sorts `beats` into plan order and derives the summary,
    /// breaches and evolved shapes from them. `anomalies` are kept as given.
    pub fn new(run: RunRecord, mut beats: Vec<BeatRecord>, anomalies: Vec<Anomaly>) -> Self {
        beats.sort_by_key(|b| (b.movement_index, b.beat_index));
        let summary = Summary::of(&run, &beats);
        let breaches = beats
            .iter()
            .filter(|b| b.status.is_judged() && b.sla.overall_status >= SlaStatus::Breach)
            .map(Breach::of)
            .collect();
        let evolved_shapes = beats
            .iter()
            .filter(|b| b.shape.evolved)
            .map(|b| EvolvedShape {
                beat: b.beat.clone(),
                movement: b.movement.clone(),
                previous_hash: b.shape.previous_hash.clone(),
                new_hash: b.shape.hash.clone(),
                changes: Vec::new(),
            })
            .collect();
        Self {
            format_version: RECORD_FORMAT_VERSION,
            run,
            summary,
            beats,
            breaches,
            evolved_shapes,
            anomalies,
        }
    }

    /// The beats whose rollback ran, with it, in the order they ran.
    pub fn rollbacks(&self) -> Vec<(&BeatRecord, &RollbackRecord)> {
        let mut rollbacks: Vec<_> = self
            .beats
            .iter()
            .filter_map(|b| Some((b, b.rollback.as_ref()?)))
            .collect();
        rollbacks.sort_by_key(|(_, r)| r.started_at);
        rollbacks
    }

    /// Says what changed in each evolved shape, given the canonical shape string
    /// each beat evolved from, by beat name (a beat not in it keeps no changes).
    pub fn describe_evolutions(&mut self, previous_canonical: &HashMap<String, String>) {
        for evolved in &mut self.evolved_shapes {
            let current = self.beats.iter().find(|b| b.beat == evolved.beat);
            if let (Some(previous), Some(current)) =
                (previous_canonical.get(&evolved.beat), current)
            {
                evolved.changes = describe_change(previous, &current.shape.canonical);
            }
        }
    }

    /// What changed in a beat's shape, when it evolved and that is known.
    pub fn changes_of(&self, beat: &str) -> &[Change] {
        self.evolved_shapes
            .iter()
            .find(|e| e.beat == beat)
            .map_or(&[], |e| e.changes.as_slice())
    }

    /// The anomalies found for one beat.
    pub fn anomalies_of<'a>(&'a self, beat: &'a str) -> impl Iterator<Item = &'a Anomaly> + 'a {
        self.anomalies.iter().filter(move |a| a.beat == beat)
    }
}

impl Summary {
    fn of(run: &RunRecord, beats: &[BeatRecord]) -> Self {
        let mut s = Summary {
            beats: beats.len() as u64,
            ..Summary::default()
        };
        let (mut hits, mut cache_uses) = (0u64, 0u64);
        let mut cost: Option<f64> = None;
        for b in beats {
            match b.status {
                BeatStatus::Success => s.succeeded += 1,
                BeatStatus::Failure | BeatStatus::Timeout => s.failed += 1,
                BeatStatus::Cancelled => s.cancelled += 1,
                BeatStatus::Skipped => s.skipped += 1,
            }
            if b.status.is_judged() {
                match b.sla.overall_status {
                    SlaStatus::Compliant => s.compliant += 1,
                    SlaStatus::Warning => s.warning += 1,
                    SlaStatus::Breach => s.breach += 1,
                    SlaStatus::Critical => s.critical += 1,
                }
            }
            match b.cache_state {
                CacheState::Hit => {
                    hits += 1;
                    cache_uses += 1;
                }
                CacheState::Miss | CacheState::Expired => cache_uses += 1,
                CacheState::Skip => {}
            }
            s.cpu_user_ms = s.cpu_user_ms.saturating_add(b.cpu_user_ms);
            s.cpu_sys_ms = s.cpu_sys_ms.saturating_add(b.cpu_sys_ms);
            s.peak_rss_bytes = s.peak_rss_bytes.max(b.peak_rss_bytes);
            s.artifacts_count = s.artifacts_count.saturating_add(b.artifacts_count);
            s.errors_count = s.errors_count.saturating_add(b.errors_count);
            if let Some(c) = b.cost_usd {
                cost = Some(cost.unwrap_or(0.0) + c);
            }
        }
        let ran = s.beats - s.skipped;
        s.success_rate = (ran > 0).then(|| s.succeeded as f64 / ran as f64);
        s.cache_hit_rate = (cache_uses > 0).then(|| hits as f64 / cache_uses as f64);
        s.cost_usd = cost;
        let wall = run
            .finished_at
            .map(|end| {
                end.as_millisecond()
                    .saturating_sub(run.started_at.as_millisecond())
            })
            .and_then(|ms| u64::try_from(ms).ok());
        s.total_duration_ms = wall.unwrap_or_else(|| {
            beats
                .iter()
                .fold(0u64, |acc, b| acc.saturating_add(b.duration_ms))
        });
        s
    }
}

impl Breach {
    fn of(b: &BeatRecord) -> Self {
        Self {
            beat: b.beat.clone(),
            movement: b.movement.clone(),
            status: b.sla.overall_status,
            duration_status: b.sla.duration_status,
            errors_status: b.sla.errors_status,
            ratio: b.sla.duration_ratio,
            duration_breach_percent: b.sla.duration_breach_percent,
            slo_ms: u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX),
            actual_ms: b.duration_ms,
            errors_count: b.errors_count,
            errors_slo: b.slo.errors,
        }
    }
}
