//! A run record to its row and back: the whole [`RunRecord`] as JSON beside the
//! columns runs are filtered by, and the SQL for the status readers see.

use baton_model::{RunRecord, RunStatus};
use rusqlite::Row;
use rusqlite::types::Value;
use serde::Deserialize;

use super::values::{ts_from_sql, ts_to_sql};
use crate::{Result, StoreError};

/// The run columns every run query selects, for `FROM runs r`; [`run_from_row`]
/// reads them by these names.
pub(crate) const RUN_COLUMNS: &str =
    "r.record AS record, r.status AS status, r.heartbeat_at AS heartbeat_at";

/// A run record from a row selected with [`RUN_COLUMNS`], with the stored
/// heartbeat and the status readers see (abandoned when a running run's heartbeat
/// is older than `cutoff`).
pub(crate) fn run_from_row(row: &Row<'_>, cutoff: i64) -> Result<RunRecord> {
    let sql = |e| StoreError::Sqlite {
        action: "read a run record".into(),
        source: e,
    };
    let json: String = row.get("record").map_err(sql)?;
    let status: String = row.get("status").map_err(sql)?;
    let heartbeat: i64 = row.get("heartbeat_at").map_err(sql)?;
    let mut run =
        RunRecord::deserialize(&mut serde_json::Deserializer::from_str(&json)).map_err(|e| {
            StoreError::Corrupt {
                what: "a run record".into(),
                source: Some(Box::new(e)),
            }
        })?;
    run.status = status
        .parse()
        .map_err(|_| StoreError::corrupt(format!("run status '{status}'")))?;
    run.heartbeat_at = ts_from_sql(heartbeat)?;
    if run.status == RunStatus::Running && heartbeat < cutoff {
        run.status = RunStatus::Abandoned;
    }
    Ok(run)
}

/// Column values of a run row, in the order of [`UPSERT_RUN`].
pub(crate) fn run_params(run: &RunRecord) -> Result<[Value; 9]> {
    let record = serde_json::to_string(run).map_err(|e| StoreError::Encode {
        what: format!("run {}", run.run_id),
        source: Some(e),
    })?;
    Ok([
        Value::Text(run.run_id.hyphenated().to_string()),
        Value::Text(run.label.clone()),
        Value::Text(run.pipeline_id.clone()),
        Value::Text(run.pipeline_name.clone()),
        Value::Text(run.status.as_str().to_owned()),
        Value::Integer(ts_to_sql(run.started_at)?),
        match run.finished_at {
            Some(t) => Value::Integer(ts_to_sql(t)?),
            None => Value::Null,
        },
        Value::Integer(ts_to_sql(run.heartbeat_at)?),
        Value::Text(record),
    ])
}

/// Insert a run, or update it when its id is already stored. An upsert keeps the
/// row id, so its beats stay attached; the heartbeat never goes backwards.
pub(crate) const UPSERT_RUN: &str = "INSERT INTO runs
    (run_id, label, pipeline_id, pipeline_name, status, started_at, finished_at,
     heartbeat_at, record)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (run_id) DO UPDATE SET
        label = excluded.label, pipeline_id = excluded.pipeline_id,
        pipeline_name = excluded.pipeline_name, status = excluded.status,
        started_at = excluded.started_at, finished_at = excluded.finished_at,
        heartbeat_at = max(heartbeat_at, excluded.heartbeat_at), record = excluded.record";

/// SQL for "the status readers see" over `runs r`, the cutoff bound as `?N`.
pub(crate) fn status_condition(status: RunStatus, cutoff_param: usize) -> String {
    let p = cutoff_param;
    match status {
        RunStatus::Running => format!("(r.status = 'running' AND r.heartbeat_at >= ?{p})"),
        RunStatus::Abandoned => {
            format!("(r.status = 'abandoned' OR (r.status = 'running' AND r.heartbeat_at < ?{p}))")
        }
        other => format!("r.status = '{}'", other.as_str()),
    }
}
