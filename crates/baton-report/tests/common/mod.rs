//! A fixed run report for snapshot and file tests: fixed timestamps and ids so the
//! snapshots are stable.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use baton_analysis::{Anomaly, AnomalyRule};
use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, CiInfo, GitInfo, Level, RunRecord, RunStatus,
    Shape, SlaStatus, SlaVerdict, SloTarget, TestCounts,
};
use baton_report::RunReport;
use jiff::Timestamp;
use uuid::Uuid;

pub(crate) const RUN_ID: &str = "019abf3c-5e10-7000-8000-000000000001";

pub(crate) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(crate) fn run() -> RunRecord {
    RunRecord {
        run_id: RUN_ID.parse().unwrap(),
        label: "build-20251126-123456".into(),
        pipeline_id: "6f1c2a9e-0000-4000-8000-00000000cafe".into(),
        pipeline_name: "build-pipeline-symphony".into(),
        pipeline_file: "baton.yaml".into(),
        level: Level::Mf,
        git: Some(GitInfo {
            commit: "3f2a9c1d0b7e6f5a4c3b2a1908f7e6d5c4b3a291".into(),
            branch: Some("main".into()),
            author: Some("Ada".into()),
        }),
        host: "ci-runner-7".into(),
        ci: Some(CiInfo {
            provider: "github_actions".into(),
            run_id: Some("123456789".into()),
        }),
        started_at: ts("2025-11-26T12:34:56Z"),
        finished_at: Some(ts("2025-11-26T12:38:21.500Z")),
        heartbeat_at: ts("2025-11-26T12:38:21Z"),
        status: RunStatus::Failure,
        baton_version: "0.1.0".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn beat(
    movement_index: u32,
    movement: &str,
    beat_index: u32,
    name: &str,
    beat_type: BeatType,
    status: BeatStatus,
    duration_ms: u64,
    slo_secs: u64,
    sla: SlaStatus,
) -> BeatRecord {
    let slo_ms = slo_secs * 1000;
    let ratio = duration_ms as f64 / slo_ms as f64;
    let hash = |seed: &str| format!("{:0<64}", seed.repeat(8));
    BeatRecord {
        run_id: RUN_ID.parse().unwrap(),
        movement_index,
        movement: movement.into(),
        beat_index,
        beat: name.into(),
        beat_type,
        level: Level::Mf,
        started_at: ts("2025-11-26T12:35:00Z"),
        status,
        reason: None,
        exit_code: match status {
            BeatStatus::Success => Some(0),
            BeatStatus::Failure => Some(1),
            _ => None,
        },
        signal: None,
        attempts: 1,
        duration_ms,
        duration_bucket: "1-5s".into(),
        cpu_user_ms: duration_ms / 2,
        cpu_sys_ms: duration_ms / 10,
        peak_rss_bytes: 12_300_000,
        artifacts_count: 0,
        artifacts_bytes: 0,
        errors_count: u64::from(status.is_failure()),
        cache_state: CacheState::Skip,
        tests: None,
        cost_usd: None,
        metrics: BTreeMap::new(),
        slo: SloTarget {
            duration: Duration::from_secs(slo_secs),
            errors: 0,
            cache_hit_rate: None,
            objective: None,
        },
        sla: SlaVerdict {
            overall_status: sla,
            duration_status: sla,
            duration_ratio: ratio,
            duration_breach_percent: (ratio - 1.0) * 100.0,
            errors_status: SlaStatus::Compliant,
            cache_status: SlaStatus::Compliant,
            cache_hit_rate: None,
        },
        shape: Shape {
            hash: hash(&format!("{movement_index}{beat_index}a")),
            canonical: format!("m{movement}:b{name}:1-5s:{status}:a0:eclean:mem<50MB:skip"),
            previous_hash: Some(hash(&format!("{movement_index}{beat_index}a"))),
            evolved: false,
        },
        log_path: Some(format!("logs/build-20251126-123456/{movement}/{name}.log")),
        rollback: None,
        attempt_log: Vec::new(),
        input_identity: None,
        restored: false,
        restored_from: None,
    }
}

pub(crate) fn beats() -> Vec<BeatRecord> {
    use BeatStatus::*;
    use BeatType::*;
    let mut load = beat(
        0,
        "validation",
        0,
        "load-build-context",
        Validation,
        Success,
        1234,
        5,
        SlaStatus::Compliant,
    );
    load.shape.previous_hash = None;

    let mut lint = beat(
        0,
        "validation",
        1,
        "lint | fmt",
        Validation,
        Success,
        5600,
        5,
        SlaStatus::Warning,
    );
    lint.peak_rss_bytes = 48_000_000;

    let mut codegen = beat(
        1,
        "generation",
        0,
        "codegen",
        Generation,
        Success,
        800,
        15,
        SlaStatus::Compliant,
    );
    codegen.cache_state = CacheState::Hit;
    codegen.artifacts_count = 12;

    let mut compile = beat(
        2,
        "build",
        0,
        "compile",
        Build,
        Success,
        194_000,
        120,
        SlaStatus::Breach,
    );
    compile.cache_state = CacheState::Miss;
    compile.peak_rss_bytes = 1_534_000_000;
    compile.artifacts_count = 8;
    compile.cost_usd = Some(0.04);
    compile.shape.evolved = true;
    compile.shape.hash = format!("{:0>64}", "b".repeat(64));
    compile.shape.canonical = "m2:b0:2-10m:success:a5-10:eclean:mem0.5-2GB:miss".into();

    let mut unit = beat(
        2,
        "build",
        1,
        "unit-tests",
        Test,
        Failure,
        650_000,
        300,
        SlaStatus::Critical,
    );
    unit.errors_count = 3;
    unit.sla.errors_status = SlaStatus::Breach;
    unit.tests = Some(TestCounts {
        total: 412,
        failures: 3,
        errors: 0,
        skipped: 4,
    });
    unit.cache_state = CacheState::Expired;
    unit.reason = Some("exit code 1".into());

    let mut deploy = beat(
        3,
        "delivery",
        0,
        "deploy",
        Deploy,
        Skipped,
        0,
        600,
        SlaStatus::Compliant,
    );
    deploy.exit_code = None;
    deploy.cpu_user_ms = 0;
    deploy.cpu_sys_ms = 0;
    deploy.peak_rss_bytes = 0;
    deploy.errors_count = 0;
    deploy.reason = Some("an earlier movement failed".into());

    // Deliberately out of plan order: the report sorts them.
    vec![unit, load, compile, lint, codegen, deploy]
}

pub(crate) fn anomalies() -> Vec<Anomaly> {
    vec![
        Anomaly {
            beat: "compile".into(),
            rule: AnomalyRule::SlowDuration,
            message:
                "took 3m14s against a median of 1m20s (2.4x), alert above 2x and +1s (20 runs)"
                    .into(),
            value: 194_000.0,
            threshold: 160_000.0,
            runs: 20,
        },
        Anomaly {
            beat: "unit-tests".into(),
            rule: AnomalyRule::ConsecutiveFailures,
            message: "failed 3 times in a row, alert at 3 (3 runs)".into(),
            value: 3.0,
            threshold: 3.0,
            runs: 3,
        },
    ]
}

/// The canonical shape `compile` evolved from: faster, and a cache hit.
pub(crate) const COMPILE_BEFORE: &str = "m2:b0:30s-2m:success:a5-10:eclean:mem0.5-2GB:hit";

pub(crate) fn report() -> RunReport {
    let mut report = RunReport::new(run(), beats(), anomalies());
    let previous = [("compile".to_owned(), COMPILE_BEFORE.to_owned())].into();
    report.describe_evolutions(&previous);
    report
}

pub(crate) fn uuid_nil() -> Uuid {
    Uuid::nil()
}
