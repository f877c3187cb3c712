//! Record builders for tests (this crate's and its users', with the `test-util`
//! feature): a run and fully populated beats, deterministic, with shape hashes
//! derived from the canonical string so that equal shapes hash equal.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, Level, RunRecord, RunStatus, Shape, SlaStatus,
    SlaVerdict, SloTarget,
};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

/// 2026-01-01T00:00:00Z plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_767_225_600 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A finished run of `pipeline_id` that started at `started_at`.
pub fn run(pipeline_id: &str, started_at: Timestamp, status: RunStatus) -> RunRecord {
    let secs = started_at.as_second().unsigned_abs();
    let nanos = started_at.subsec_nanosecond().unsigned_abs();
    let ctx = uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos);
    // v7 ids of one millisecond differ in their random bits only: mix the pipeline in.
    let mut id = *Uuid::new_v7(ctx).as_bytes();
    id[8..].copy_from_slice(&fake_hash64(&(pipeline_id, secs, nanos)).to_be_bytes());
    id[8] = (id[8] & 0x3f) | 0x80;
    let finished = started_at + SignedDuration::from_secs(60);
    RunRecord {
        run_id: Uuid::from_bytes(id),
        label: format!("build-{}", started_at.strftime("%Y%m%d-%H%M%S")),
        pipeline_id: pipeline_id.to_owned(),
        pipeline_name: format!("{pipeline_id}-name"),
        pipeline_file: "baton.yaml".to_owned(),
        level: Level::Mf,
        git: Some(baton_model::GitInfo {
            commit: "0123abc".to_owned(),
            branch: Some("main".to_owned()),
            author: Some("Ada".to_owned()),
        }),
        host: "test-host".to_owned(),
        ci: None,
        started_at,
        finished_at: (status != RunStatus::Running).then_some(finished),
        heartbeat_at: if status == RunStatus::Running {
            started_at
        } else {
            finished
        },
        status,
        baton_version: "0.1.0".to_owned(),
    }
}

/// Beat `name` (movement `m`, index `b`) of `run`, with a shape made of its status,
/// cache state and duration bucket.
pub fn beat(
    run: &RunRecord,
    m: u32,
    b: u32,
    name: &str,
    status: BeatStatus,
    duration_ms: u64,
    cache_state: CacheState,
) -> BeatRecord {
    let bucket = if duration_ms < 1_000 { "<1s" } else { "1-5s" };
    let canonical = format!(
        "m{m}:b{b}:{bucket}:{}:a1-4:eclean:mem<50MB:{}",
        status.as_str(),
        cache_state
    );
    let started_at = run.started_at + SignedDuration::from_millis(i64::from(m * 100 + b));
    BeatRecord {
        run_id: run.run_id,
        movement_index: m,
        movement: format!("movement-{m}"),
        beat_index: b,
        beat: name.to_owned(),
        beat_type: BeatType::Build,
        level: Level::Mf,
        started_at,
        status,
        reason: None,
        exit_code: Some(i32::from(status.is_failure())),
        signal: None,
        attempts: 1,
        duration_ms,
        duration_bucket: bucket.to_owned(),
        cpu_user_ms: duration_ms / 2,
        cpu_sys_ms: duration_ms / 10,
        peak_rss_bytes: 10_000_000,
        artifacts_count: 2,
        artifacts_bytes: 2048,
        errors_count: u64::from(status.is_failure()),
        cache_state,
        tests: None,
        cost_usd: None,
        metrics: BTreeMap::new(),
        slo: SloTarget {
            duration: Duration::from_secs(120),
            errors: 0,
            cache_hit_rate: Some(0.9),
            objective: None,
        },
        sla: SlaVerdict {
            overall_status: SlaStatus::Compliant,
            duration_status: SlaStatus::Compliant,
            duration_ratio: duration_ms as f64 / 120_000.0,
            duration_breach_percent: (duration_ms as f64 / 120_000.0 - 1.0) * 100.0,
            errors_status: SlaStatus::Compliant,
            cache_status: SlaStatus::Compliant,
            cache_hit_rate: None,
        },
        shape: Shape {
            hash: fake_sha256(&canonical),
            canonical,
            previous_hash: None,
            evolved: false,
        },
        log_path: Some(format!("logs/{}/movement-{m}/{name}.log", run.label)),
        rollback: None,
        attempt_log: Vec::new(),
        input_identity: Some(format!("inputs:{}", fake_sha256(name))),
        restored: cache_state == CacheState::Hit,
        restored_from: None,
    }
}

/// Chain `beats` (one beat's records, oldest first) as the runner would: each
/// record's previous hash is the one before it, `evolved` when they differ.
pub fn chain_shapes(beats: &mut [BeatRecord]) {
    let mut previous: Option<String> = None;
    for beat in beats {
        beat.shape.evolved = previous.as_ref().is_some_and(|p| *p != beat.shape.hash);
        beat.shape.previous_hash = previous.replace(beat.shape.hash.clone());
    }
}

/// 64 lowercase hex digits derived from `text` (not SHA-256: tests need only a
/// stable, well-formed hash).
pub fn fake_sha256(text: &str) -> String {
    (0..4u8)
        .map(|i| format!("{:016x}", fake_hash64(&(text, i))))
        .collect()
}

fn fake_hash64(value: &impl Hash) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    value.hash(&mut h);
    h.finish()
}
