//! A beat record to its row: the filtered-on fields as columns, the rest as the
//! [`Extra`] JSON, with the log path and the canonical shape string compacted.
//!
//! The record is destructured without `..`: a field added to the model stops the
//! build here until it has a place (a key in `extra` needs no migration; a column
//! does).

use std::borrow::Cow;

use baton_model::{BeatRecord, Shape, SlaVerdict, SloTarget};
use rusqlite::{Statement, params};

use super::canonical::canonical_suffix;
use super::codes::{beat_status, cache_state, sla_status};
use super::extra::Extra;
use super::log_path::log_dir;
use super::values::{HashSql, identity_to_sql, int, ts_to_sql};
use crate::error::SqlContext;
use crate::{Result, StoreError};

/// `INSERT INTO beats`, in the order [`insert_encoded`] binds.
pub(crate) const INSERT_BEAT: &str = "INSERT INTO beats (
    id, movement_index, movement, beat_index, started_at, status, duration_ms, cpu_user_ms,
    cpu_sys_ms, peak_rss_bytes, cache_state, sla_status, shape_hash, prev_shape_hash,
    evolved, extra, input_identity, restored, attempts, tests_flaky
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";

/// A beat record turned into column values, ready to bind: the work that needs no
/// database, so a bulk insert can do it on another thread.
pub(crate) struct EncodedBeat<'a> {
    name: &'a str,
    movement_index: u32,
    movement: &'a str,
    beat_index: u32,
    started_at: i64,
    status: i64,
    duration_ms: i64,
    cpu_user_ms: i64,
    cpu_sys_ms: i64,
    peak_rss_bytes: i64,
    cache_state: i64,
    sla_status: i64,
    hash: HashSql<'a>,
    prev_hash: Option<HashSql<'a>>,
    evolved: bool,
    input_identity: Option<rusqlite::types::Value>,
    restored: bool,
    attempts: u32,
    /// Tests that failed and then passed on a rerun (the `tests_flaky` metric).
    tests_flaky: i64,
    /// Where its `extra` JSON sits in the buffer given to [`encode_beat`].
    extra: std::ops::Range<usize>,
}

/// Encode `beat` (of the run labelled `label`), appending its `extra` JSON to `json`.
pub(crate) fn encode_beat<'a>(
    beat: &'a BeatRecord,
    label: &str,
    json: &mut Vec<u8>,
) -> Result<EncodedBeat<'a>> {
    let BeatRecord {
        run_id: _,
        movement_index,
        movement,
        beat_index,
        beat: name,
        beat_type,
        level,
        started_at,
        status,
        reason,
        exit_code,
        signal,
        attempts,
        duration_ms,
        duration_bucket,
        cpu_user_ms,
        cpu_sys_ms,
        peak_rss_bytes,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state,
        tests,
        cost_usd,
        metrics,
        slo,
        sla,
        shape,
        log_path,
        rollback,
        attempt_log,
        input_identity,
        restored,
        restored_from,
    } = beat;
    let SloTarget {
        duration: slo_duration,
        errors: slo_errors,
        cache_hit_rate: slo_cache_rate,
        objective: slo_objective,
    } = slo;
    let SlaVerdict {
        overall_status,
        duration_status,
        duration_ratio,
        duration_breach_percent,
        errors_status,
        cache_status,
        cache_hit_rate,
    } = sla;
    let Shape {
        hash,
        canonical,
        previous_hash,
        evolved,
    } = shape;
    let encode_err = |source| StoreError::Encode {
        what: format!("beat '{name}'"),
        source,
    };
    let canonical_suffix = canonical_suffix(
        canonical,
        *movement_index,
        *beat_index,
        duration_bucket,
        *status,
    );
    let dir = log_path
        .as_deref()
        .and_then(|p| log_dir(p, label, movement, name));
    let extra = Extra {
        beat_type: *beat_type,
        level: *level,
        reason: reason.as_deref().map(Cow::Borrowed),
        exit_code: *exit_code,
        signal: *signal,
        attempts: *attempts,
        duration_bucket: Cow::Borrowed(duration_bucket),
        artifacts_count: *artifacts_count,
        artifacts_bytes: *artifacts_bytes,
        errors_count: *errors_count,
        tests: *tests,
        cost_usd: *cost_usd,
        metrics: Cow::Borrowed(metrics),
        slo_duration_ns: u64::try_from(slo_duration.as_nanos()).map_err(|_| encode_err(None))?,
        slo_errors: *slo_errors,
        slo_cache_hit_rate: *slo_cache_rate,
        slo_objective: *slo_objective,
        sla_duration: *duration_status,
        sla_ratio: *duration_ratio,
        sla_breach_percent: *duration_breach_percent,
        sla_errors: *errors_status,
        sla_cache: *cache_status,
        sla_cache_hit_rate: *cache_hit_rate,
        canonical: canonical_suffix
            .is_none()
            .then_some(Cow::Borrowed(canonical.as_str())),
        canonical_suffix: canonical_suffix.map(Cow::Borrowed),
        log_path: dir
            .is_none()
            .then_some(log_path.as_deref().map(Cow::Borrowed))
            .flatten(),
        log_dir: dir.map(Cow::Borrowed),
        rollback: rollback.clone(),
        attempt_log: Cow::Borrowed(attempt_log),
        restored_from: restored_from.as_deref().map(Cow::Borrowed),
    };
    let start = json.len();
    serde_json::to_writer(&mut *json, &extra).map_err(|e| encode_err(Some(e)))?;
    Ok(EncodedBeat {
        name,
        movement_index: *movement_index,
        movement,
        beat_index: *beat_index,
        started_at: ts_to_sql(*started_at)?,
        status: beat_status::encode(*status),
        duration_ms: int(*duration_ms, "duration_ms")?,
        cpu_user_ms: int(*cpu_user_ms, "cpu_user_ms")?,
        cpu_sys_ms: int(*cpu_sys_ms, "cpu_sys_ms")?,
        peak_rss_bytes: int(*peak_rss_bytes, "peak_rss_bytes")?,
        cache_state: cache_state::encode(*cache_state),
        sla_status: sla_status::encode(*overall_status),
        hash: HashSql::new(hash),
        prev_hash: previous_hash.as_deref().map(HashSql::new),
        evolved: *evolved,
        input_identity: input_identity.as_deref().map(identity_to_sql),
        restored: *restored,
        attempts: *attempts,
        tests_flaky: tests_flaky(metrics),
        extra: start..json.len(),
    })
}

/// The `tests_flaky` metric as a count (0 when absent or not a count).
fn tests_flaky(metrics: &std::collections::BTreeMap<String, f64>) -> i64 {
    metrics
        .get("tests_flaky")
        .filter(|n| n.is_finite() && **n > 0.0)
        .map_or(0, |n| n.min(i64::MAX as f64) as i64)
}

/// Bind an encoded beat to [`INSERT_BEAT`] as row `id` and run it. `json` is the
/// buffer [`encode_beat`] wrote into.
pub(crate) fn insert_encoded(
    stmt: &mut Statement<'_>,
    id: i64,
    beat: &EncodedBeat<'_>,
    json: &[u8],
) -> Result<()> {
    let fail = || format!("record beat '{}'", beat.name);
    // serde_json writes UTF-8; bound as text so that SQL's json functions read it.
    let extra = json
        .get(beat.extra.clone())
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or_else(|| StoreError::Encode {
            what: fail(),
            source: None,
        })?;
    stmt.execute(params![
        id,
        beat.movement_index,
        beat.movement,
        beat.beat_index,
        beat.started_at,
        beat.status,
        beat.duration_ms,
        beat.cpu_user_ms,
        beat.cpu_sys_ms,
        beat.peak_rss_bytes,
        beat.cache_state,
        beat.sla_status,
        beat.hash,
        beat.prev_hash,
        beat.evolved,
        extra,
        beat.input_identity,
        beat.restored,
        beat.attempts,
        beat.tests_flaky,
    ])
    .ctx(fail)?;
    Ok(())
}
