//! Building a [`BeatRecord`]: what the attempts measured, what the beat reported
//! on `$BATON_OUTPUT`, what it left on disk (artifacts, JUnit reports), as an
//! [`UnjudgedRecord`] (on the beat's worker); then judged against its SLO (SLA
//! verdict) and fingerprinted (shape) by [`UnjudgedRecord::judge`] (on the
//! consumers' thread, once the history is loaded).
//!
//! Across retries: `duration_ms` is the wall time from the first attempt's start to
//! the last one's end (backoff included: what the pipeline paid), CPU times are
//! summed, peak RSS is the largest of any attempt, and what the beat reported is
//! taken from the last attempt. Each attempt's own start, duration and end are
//! kept in `attempt_log` when there was more than one.
//!
//! `artifacts_count`/`artifacts_bytes` come from the artifact list the runner
//! collected (or restored from the cache), unless the beat reported `artifacts=`.
//! `cache_state` is the step cache's verdict; for a beat the cache skips, the
//! beat's own `cache=` report. `restored` is the step cache's hit alone (a beat
//! that reported `cache=hit` ran), with the run that stored the entry
//! (`restored_from`); `input_identity` is the inputs' key when it was computed,
//! the commit being added when the record is judged ([`crate::identity`]).
//!
//! `errors_count` is `$BATON_OUTPUT errors=` when given, else failures + errors of
//! the JUnit reports when `junit` is set and one was read, else 0 on success and 1
//! on failure or timeout.

use std::time::Duration;

use baton_model::{
    ArtifactEntry, AttemptRecord, BeatHistory, BeatRecord, BeatStatus, CacheState, Pipeline,
    SlaVerdict,
};
use baton_telemetry::{ShapeInput, duration_bucket, evaluate_sla, shape_of};
use jiff::Timestamp;
use uuid::Uuid;

use crate::baton_output::BeatReport;
use crate::junit;

/// What one beat's attempts measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub started_at: Timestamp,
    pub status: BeatStatus,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub attempts: u32,
    /// Each attempt that ran, in order (kept in the record when there was more
    /// than one).
    pub attempt_log: Vec<AttemptRecord>,
    pub duration: Duration,
    pub cpu_user: Duration,
    pub cpu_sys: Duration,
    pub peak_rss_bytes: u64,
    /// What the last attempt wrote to `$BATON_OUTPUT`.
    pub report: BeatReport,
    /// The step cache's verdict; `None` or skip lets the beat's own `cache=`
    /// report decide.
    pub cache_state: Option<CacheState>,
    /// The beat's outputs as collected (or restored) by the runner; `None` has
    /// [`build_unjudged`] count them itself.
    pub artifacts: Option<Vec<ArtifactEntry>>,
    /// `inputs:<key>` when the beat's inputs' cache key was computed (see
    /// [`crate::identity`]); the commit identity is added when the record is
    /// judged.
    pub input_identity: Option<String>,
    /// The label of the run whose cache entry was restored, when the entry says.
    pub restored_from: Option<String>,
}

impl Measured {
    /// Nothing measured yet (a beat that never ran).
    pub fn new(started_at: Timestamp, status: BeatStatus) -> Self {
        Self {
            started_at,
            status,
            reason: None,
            exit_code: None,
            signal: None,
            attempts: 0,
            attempt_log: Vec::new(),
            duration: Duration::ZERO,
            cpu_user: Duration::ZERO,
            cpu_sys: Duration::ZERO,
            peak_rss_bytes: 0,
            report: BeatReport::default(),
            cache_state: None,
            artifacts: None,
            input_identity: None,
            restored_from: None,
        }
    }
}

/// Where a beat sits.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    pub run_id: Uuid,
    pub pipeline: &'a Pipeline,
    pub movement_index: usize,
    pub beat_index: usize,
    pub log_path: Option<&'a str>,
}

/// A beat's record as its worker builds it: complete but for the two parts that
/// depend on earlier runs, the SLA verdict and the shape. The only way to a
/// [`BeatRecord`] is [`UnjudgedRecord::judge`], which takes the beat's history
/// as a required argument: a worker never waits for the history to load, and
/// no record reaches a consumer unjudged.
#[derive(Debug, Clone, PartialEq)]
pub struct UnjudgedRecord(BeatRecord);

impl UnjudgedRecord {
    pub fn beat(&self) -> &str {
        &self.0.beat
    }

    pub fn status(&self) -> BeatStatus {
        self.0.status
    }

    /// The record, judged against the beat's `history` (`None`: no earlier run):
    /// its SLA verdict (the rolling cache hit rate) and its shape (`evolved`).
    pub fn judge(self, pipeline: &Pipeline, history: Option<&BeatHistory>) -> BeatRecord {
        let mut record = self.0;
        judge(pipeline, history, &mut record);
        record
    }

    /// The record's fields for the runner to complete (a rollback, its log);
    /// never its verdict nor its shape, which only [`UnjudgedRecord::judge`] sets.
    pub(crate) fn fields_mut(&mut self) -> &mut BeatRecord {
        &mut self.0
    }
}

/// The record of a beat that ran, to be judged, and problems worth a warning
/// (bad globs, unreadable JUnit reports, ...). Artifacts and reports are looked
/// for under the pipeline root.
pub fn build_unjudged(
    ctx: &RecordContext<'_>,
    measured: &Measured,
) -> (UnjudgedRecord, Vec<String>) {
    let movement = &ctx.pipeline.movements[ctx.movement_index];
    let beat = &movement.beats[ctx.beat_index];
    let mut problems = Vec::new();

    let tests = match &beat.junit {
        Some(glob) => {
            let (counts, junit_problems) = junit::collect(&ctx.pipeline.root, glob);
            // A beat that failed early often wrote no report: only say so on success.
            if measured.status == BeatStatus::Success || counts.is_some() {
                problems.extend(junit_problems);
            }
            counts
        }
        None => None,
    };
    let errors_count = measured.report.errors.unwrap_or_else(|| match tests {
        Some(t) => t.failures + t.errors,
        None => u64::from(measured.status.is_failure()),
    });

    let (mut artifacts_count, artifacts_bytes) = if let Some(artifacts) = &measured.artifacts {
        (
            artifacts.len() as u64,
            artifacts.iter().map(|a| a.bytes).sum(),
        )
    } else if beat.outputs.is_empty() {
        (0, 0)
    } else {
        let found = baton_cache::inputs::find(&ctx.pipeline.root, &beat.outputs);
        problems.extend(found.problems);
        let bytes = found
            .files
            .values()
            .filter_map(|f| f.stat.map(|s| s.size))
            .sum();
        (found.files.len() as u64, bytes)
    };
    if let Some(count) = measured.report.artifacts {
        artifacts_count = count;
    }

    let cache_state = measured
        .cache_state
        .filter(|s| *s != CacheState::Skip)
        .or(measured.report.cache)
        .unwrap_or(CacheState::Skip);
    let mut record = base_record(ctx, measured, cache_state);
    record.errors_count = errors_count;
    record.artifacts_count = artifacts_count;
    record.artifacts_bytes = artifacts_bytes;
    record.tests = tests;
    (UnjudgedRecord(record), problems)
}

/// The record of a beat that did not run: status skipped, zeros, duration 0.
/// Judged like any other (a skipped beat's verdict is the default, and its shape
/// is not compared).
pub fn skipped_record(ctx: &RecordContext<'_>, reason: &str, at: Timestamp) -> UnjudgedRecord {
    let mut measured = Measured::new(at, BeatStatus::Skipped);
    measured.reason = Some(reason.to_owned());
    UnjudgedRecord(base_record(ctx, &measured, CacheState::Skip))
}

fn base_record(ctx: &RecordContext<'_>, m: &Measured, cache_state: CacheState) -> BeatRecord {
    let movement = &ctx.pipeline.movements[ctx.movement_index];
    let beat = &movement.beats[ctx.beat_index];
    let duration_ms = u64::try_from(m.duration.as_millis()).unwrap_or(u64::MAX);
    BeatRecord {
        run_id: ctx.run_id,
        movement_index: index_u32(ctx.movement_index),
        movement: movement.name.clone(),
        beat_index: index_u32(ctx.beat_index),
        beat: beat.name.clone(),
        beat_type: beat.beat_type,
        level: beat.level,
        started_at: m.started_at,
        status: m.status,
        reason: m.reason.clone(),
        exit_code: m.exit_code,
        signal: m.signal,
        attempts: m.attempts,
        duration_ms,
        duration_bucket: duration_bucket(duration_ms).to_owned(),
        cpu_user_ms: u64::try_from(m.cpu_user.as_millis()).unwrap_or(u64::MAX),
        cpu_sys_ms: u64::try_from(m.cpu_sys.as_millis()).unwrap_or(u64::MAX),
        peak_rss_bytes: m.peak_rss_bytes,
        artifacts_count: 0,
        artifacts_bytes: 0,
        errors_count: 0,
        cache_state,
        tests: None,
        cost_usd: m.report.cost_usd,
        metrics: m.report.metrics.clone(),
        slo: beat.slo.clone(),
        sla: SlaVerdict::default(),
        shape: Default::default(),
        log_path: ctx.log_path.map(str::to_owned),
        rollback: None,
        // One attempt is the record itself.
        attempt_log: if m.attempt_log.len() > 1 {
            m.attempt_log.clone()
        } else {
            Vec::new()
        },
        input_identity: m.input_identity.clone(),
        // The step cache's hit only: a beat reporting `cache=hit` of its own
        // (a tool's cache) still ran.
        restored: m.cache_state == Some(CacheState::Hit),
        restored_from: m.restored_from.clone(),
    }
}

/// Fills the SLA verdict and the shape of `record` (of `pipeline`) from its SLIs
/// and the beat's `history`.
fn judge(pipeline: &Pipeline, history: Option<&BeatHistory>, record: &mut BeatRecord) {
    let mut states: Vec<CacheState> = history
        .map(|h| h.recent_cache_states.clone())
        .unwrap_or_default();
    states.push(record.cache_state);
    record.sla = evaluate_sla(
        record.status == BeatStatus::Success,
        record.duration_ms,
        record.errors_count,
        &record.slo,
        &pipeline.sla,
        &states,
    );
    record.shape = shape_of(&ShapeInput {
        movement_index: record.movement_index,
        beat_index: record.beat_index,
        duration_ms: record.duration_ms,
        status: record.status,
        artifacts_count: record.artifacts_count,
        errors_count: record.errors_count,
        peak_rss_bytes: record.peak_rss_bytes,
        cache_state: record.cache_state,
        // A beat cut short or never run is not compared (see `BeatStatus::is_judged`).
        previous_hash: history
            .filter(|_| record.status.is_judged())
            .and_then(|h| h.previous_shape.as_deref()),
    });
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use baton_model::{BeatType, SlaStatus, SloTarget};

    use super::*;
    use crate::baton_output;
    use crate::testing::{PipelineBuilder, beat};

    fn pipeline(root: &std::path::Path) -> Pipeline {
        PipelineBuilder::new("p")
            .root(root)
            .movement(
                "m",
                false,
                vec![
                    beat("plain"),
                    beat("tested").junit("reports/*.xml").outputs(&["dist/**"]),
                    beat("cached").beat_type(BeatType::Generation),
                ],
            )
            .build()
    }

    fn ctx(p: &Pipeline, beat_index: usize) -> RecordContext<'_> {
        RecordContext {
            run_id: Uuid::nil(),
            pipeline: p,
            movement_index: 0,
            beat_index,
            log_path: Some("logs/x.log"),
        }
    }

    /// Built and judged, as the scheduler does.
    fn build_record(
        ctx: &RecordContext<'_>,
        history: Option<&BeatHistory>,
        measured: &Measured,
    ) -> (BeatRecord, Vec<String>) {
        let (unjudged, problems) = build_unjudged(ctx, measured);
        (unjudged.judge(ctx.pipeline, history), problems)
    }

    fn measured(status: BeatStatus, ms: u64) -> Measured {
        let mut m = Measured::new(Timestamp::UNIX_EPOCH, status);
        m.duration = Duration::from_millis(ms);
        m.attempts = 1;
        m
    }

    #[test]
    fn errors_default_to_the_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = pipeline(dir.path());
        let (ok, problems) = build_record(&ctx(&p, 0), None, &measured(BeatStatus::Success, 1200));
        assert!(problems.is_empty());
        assert_eq!(ok.errors_count, 0);
        assert_eq!(ok.duration_bucket, "1-5s");
        assert_eq!(ok.cache_state, CacheState::Skip);
        assert_eq!(ok.log_path.as_deref(), Some("logs/x.log"));
        assert_eq!(
            ok.shape.canonical,
            "m0:b0:1-5s:success:a0:eclean:mem<50MB:skip"
        );
        let (failed, _) = build_record(&ctx(&p, 0), None, &measured(BeatStatus::Timeout, 10));
        assert_eq!(failed.errors_count, 1);
        assert_eq!(failed.sla.errors_status, SlaStatus::Breach);
    }

    #[test]
    fn junit_and_outputs_fill_tests_errors_and_artifacts_unless_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("reports")).expect("mkdir");
        fs::create_dir_all(root.join("dist/js")).expect("mkdir");
        fs::write(
            root.join("reports/r.xml"),
            r#"<testsuite tests="9" failures="2" errors="1" skipped="3"/>"#,
        )
        .expect("write");
        fs::write(root.join("dist/a"), "12345").expect("write");
        fs::write(root.join("dist/js/b"), "678").expect("write");
        let p = pipeline(root);
        let (record, problems) =
            build_record(&ctx(&p, 1), None, &measured(BeatStatus::Failure, 10));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(record.errors_count, 3);
        assert_eq!(record.tests.map(|t| (t.total, t.skipped)), Some((9, 3)));
        assert_eq!((record.artifacts_count, record.artifacts_bytes), (2, 8));

        let mut m = measured(BeatStatus::Success, 10);
        m.report =
            baton_output::parse("errors=0\nartifacts=7\ncache=hit\nmetric.x=1.5\ncost_usd=0.25").0;
        let (record, _) = build_record(&ctx(&p, 1), None, &m);
        assert_eq!(record.errors_count, 0);
        assert_eq!((record.artifacts_count, record.artifacts_bytes), (7, 8));
        assert_eq!(record.cache_state, CacheState::Hit);
        assert!(!record.restored, "a tool's own cache hit: the beat ran");
        assert_eq!(record.metrics.get("x"), Some(&1.5));
        assert_eq!(record.cost_usd, Some(0.25));
    }

    #[test]
    fn sla_uses_history_cache_states_and_shape_compares_with_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = pipeline(dir.path());
        let history = BeatHistory {
            previous_shape: Some("abc".into()),
            recent_cache_states: [CacheState::Miss, CacheState::Miss, CacheState::Hit].repeat(3),
            median_duration_ms: None,
            recent_outcomes: Vec::new(),
        };
        let mut m = measured(BeatStatus::Success, 100);
        m.report.cache = Some(CacheState::Hit);
        let (record, _) = build_record(&ctx(&p, 2), Some(&history), &m);
        // Generation: cache target 0.80; 4 hits out of 10 is below it, and ten
        // runs are enough to say so.
        assert_eq!(record.sla.cache_hit_rate, Some(0.4));
        assert_eq!(record.sla.cache_status, SlaStatus::Warning);
        assert_eq!(
            record.slo,
            SloTarget {
                duration: Duration::from_secs(15),
                errors: 0,
                cache_hit_rate: Some(0.8),
                objective: None,
            }
        );
        assert_eq!(record.shape.previous_hash.as_deref(), Some("abc"));
        assert!(record.shape.evolved);
    }

    #[test]
    fn skipped_records_are_zeroed() {
        let p = pipeline(std::path::Path::new("."));
        let record = skipped_record(&ctx(&p, 1), "an earlier beat failed", Timestamp::UNIX_EPOCH)
            .judge(&p, None);
        assert_eq!(record.status, BeatStatus::Skipped);
        assert_eq!(record.reason.as_deref(), Some("an earlier beat failed"));
        assert_eq!(
            (record.duration_ms, record.attempts, record.errors_count),
            (0, 0, 0)
        );
        assert_eq!(record.sla.overall_status, SlaStatus::Compliant);
        assert_eq!(record.beat, "tested");
    }
}
