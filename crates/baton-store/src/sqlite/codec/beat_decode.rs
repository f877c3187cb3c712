//! A beat row back to its record, reading columns by name.

use std::borrow::Cow;
use std::time::Duration;

use baton_model::{BeatRecord, Shape, SlaVerdict, SloTarget};
use rusqlite::types::ValueRef;
use rusqlite::{Row, Statement};
use uuid::Uuid;

use super::canonical::canonical_prefix;
use super::codes::{beat_status, cache_state, sla_status};
use super::extra::Extra;
use super::log_path::conventional_log_path;
use super::values::{hash_from_sql, identity_from_sql, ts_from_sql, uint};
use crate::{Result, StoreError};

/// Columns [`beat_from_row`] reads (by these names), for [`BEAT_FROM`].
pub(crate) const BEAT_COLUMNS: &str = "r.run_id AS run_id, s.beat AS beat,
    b.movement_index AS movement_index, b.movement AS movement, b.beat_index AS beat_index,
    b.started_at AS started_at, b.status AS status, b.duration_ms AS duration_ms,
    b.cpu_user_ms AS cpu_user_ms, b.cpu_sys_ms AS cpu_sys_ms,
    b.peak_rss_bytes AS peak_rss_bytes, b.cache_state AS cache_state,
    b.sla_status AS sla_status, b.shape_hash AS shape_hash,
    b.prev_shape_hash AS prev_shape_hash, b.evolved AS evolved, b.extra AS extra,
    b.input_identity AS input_identity, b.restored AS restored, r.label AS label";

/// The joins [`BEAT_COLUMNS`] needs.
pub(crate) const BEAT_FROM: &str =
    "FROM beats b JOIN runs r ON r.id = b.id >> 20 JOIN series s ON s.id = b.id & 1048575";

/// Where each column [`beat_from_row`] reads sits in one statement's result,
/// looked up by name once per statement rather than once per row.
macro_rules! beat_columns {
    ($($column:ident),* $(,)?) => {
        pub(crate) struct BeatColumns {
            $($column: usize,)*
        }

        impl BeatColumns {
            /// The columns of `stmt`, which selects [`BEAT_COLUMNS`].
            pub(crate) fn of(stmt: &Statement<'_>) -> Result<Self> {
                let index = |name: &str| {
                    stmt.column_index(name).map_err(|source| StoreError::Sqlite {
                        action: "find the columns of a beat record".into(),
                        source,
                    })
                };
                Ok(Self {
                    $($column: index(stringify!($column))?,)*
                })
            }
        }
    };
}

beat_columns!(
    run_id,
    beat,
    movement_index,
    movement,
    beat_index,
    started_at,
    status,
    duration_ms,
    cpu_user_ms,
    cpu_sys_ms,
    peak_rss_bytes,
    cache_state,
    sla_status,
    shape_hash,
    prev_shape_hash,
    evolved,
    extra,
    input_identity,
    restored,
    label,
);

/// A beat record from a row selected with [`BEAT_COLUMNS`], its columns found by
/// [`BeatColumns::of`].
pub(crate) fn beat_from_row(row: &Row<'_>, col: &BeatColumns) -> Result<BeatRecord> {
    let sql = |e| StoreError::Sqlite {
        action: "read a beat record".into(),
        source: e,
    };
    let get_i64 = |column: usize| -> Result<i64> { row.get::<_, i64>(column).map_err(sql) };
    let get_u64 = |column: usize, what: &str| -> Result<u64> { uint(get_i64(column)?, what) };
    let run_id: String = row.get(col.run_id).map_err(sql)?;
    let beat: String = row.get(col.beat).map_err(sql)?;
    let json = match row.get_ref(col.extra).map_err(sql)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => t,
        _ => {
            return Err(StoreError::corrupt(format!(
                "beat '{beat}' of run {run_id}"
            )));
        }
    };
    let extra: Extra<'_> = serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
        what: format!("beat '{beat}' of run {run_id}"),
        source: Some(Box::new(e)),
    })?;
    let Extra {
        beat_type,
        level,
        reason,
        exit_code,
        signal,
        attempts,
        duration_bucket,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        tests,
        cost_usd,
        metrics,
        slo_duration_ns,
        slo_errors,
        slo_cache_hit_rate,
        slo_objective,
        sla_duration,
        sla_ratio,
        sla_breach_percent,
        sla_errors,
        sla_cache,
        sla_cache_hit_rate,
        canonical,
        canonical_suffix,
        log_path,
        log_dir,
        rollback,
        attempt_log,
        restored_from,
    } = extra;
    let hash_of = |column: usize| -> Result<Option<String>> {
        hash_from_sql(row.get_ref(column).map_err(sql)?)
    };

    let movement_index = uint(get_i64(col.movement_index)?, "movement index")?;
    let movement: String = row.get(col.movement).map_err(sql)?;
    let beat_index = uint(get_i64(col.beat_index)?, "beat index")?;
    let status = beat_status::decode(get_i64(col.status)?)?;
    let canonical = match (canonical, canonical_suffix) {
        (Some(full), _) => full.into_owned(),
        (None, suffix) => {
            canonical_prefix(movement_index, beat_index, &duration_bucket, status)
                + suffix.as_deref().unwrap_or_default()
        }
    };
    let log_path = match (log_path, log_dir) {
        (Some(path), _) => Some(path.into_owned()),
        (None, Some(dir)) => {
            let label: String = row.get(col.label).map_err(sql)?;
            Some(conventional_log_path(&dir, &label, &movement, &beat))
        }
        (None, None) => None,
    };
    Ok(BeatRecord {
        run_id: run_id
            .parse::<Uuid>()
            .map_err(|_| StoreError::corrupt(format!("run id '{run_id}'")))?,
        movement_index,
        movement,
        beat_index,
        beat,
        beat_type,
        level,
        started_at: ts_from_sql(get_i64(col.started_at)?)?,
        status,
        reason: reason.map(Cow::into_owned),
        exit_code,
        signal,
        attempts,
        duration_ms: get_u64(col.duration_ms, "duration_ms")?,
        duration_bucket: duration_bucket.into_owned(),
        cpu_user_ms: get_u64(col.cpu_user_ms, "cpu_user_ms")?,
        cpu_sys_ms: get_u64(col.cpu_sys_ms, "cpu_sys_ms")?,
        peak_rss_bytes: get_u64(col.peak_rss_bytes, "peak_rss_bytes")?,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state: cache_state::decode(get_i64(col.cache_state)?)?,
        tests,
        cost_usd,
        metrics: metrics.into_owned(),
        slo: SloTarget {
            duration: Duration::from_nanos(slo_duration_ns),
            errors: slo_errors,
            cache_hit_rate: slo_cache_hit_rate,
            objective: slo_objective,
        },
        sla: SlaVerdict {
            overall_status: sla_status::decode(get_i64(col.sla_status)?)?,
            duration_status: sla_duration,
            duration_ratio: sla_ratio,
            duration_breach_percent: sla_breach_percent,
            errors_status: sla_errors,
            cache_status: sla_cache,
            cache_hit_rate: sla_cache_hit_rate,
        },
        shape: Shape {
            hash: hash_of(col.shape_hash)?
                .ok_or_else(|| StoreError::corrupt("a missing shape hash"))?,
            canonical,
            previous_hash: hash_of(col.prev_shape_hash)?,
            evolved: row.get(col.evolved).map_err(sql)?,
        },
        log_path,
        rollback,
        attempt_log: attempt_log.into_owned(),
        input_identity: identity_from_sql(row.get_ref(col.input_identity).map_err(sql)?)?,
        restored: row.get(col.restored).map_err(sql)?,
        restored_from: restored_from.map(Cow::into_owned),
    })
}
