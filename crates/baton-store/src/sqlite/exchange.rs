//! History in and out: whole runs read oldest first in pages (`baton export`) and
//! runs imported with their beats, skipping those already stored (`baton import`).

use std::collections::HashSet;

use baton_model::{BeatRecord, RunRecord};
use rusqlite::types::Value;
use rusqlite::{Transaction, params_from_iter};
use uuid::Uuid;

use super::codec::{self, BEAT_COLUMNS, BEAT_FROM, RUN_COLUMNS};
use super::write;
use crate::Result;
use crate::api::{RunCursor, RunPage, RunPageFilter};
use crate::error::SqlContext;

/// Up to `limit` runs after `after` (or from the first), oldest first (start time,
/// then insertion order), each with its beats in plan order.
pub(crate) fn runs_page(
    tx: &Transaction<'_>,
    filter: &RunPageFilter,
    after: Option<RunCursor>,
    limit: usize,
    now: jiff::Timestamp,
) -> Result<RunPage> {
    let action = || "read a page of runs".to_owned();
    let cutoff = codec::abandoned_cutoff(now)?;
    let mut sql = format!("SELECT r.id, r.started_at, {RUN_COLUMNS} FROM runs r WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |v: Value| {
        values.push(v);
        values.len()
    };
    if let Some(p) = &filter.pipeline {
        sql += &format!(" AND r.pipeline_id = ?{}", bind(Value::Text(p.clone())));
    }
    if let Some(since) = filter.since {
        let since = codec::ts_to_sql(since).unwrap_or(i64::MIN);
        sql += &format!(" AND r.started_at >= ?{}", bind(Value::Integer(since)));
    }
    if let Some(after) = after {
        let started = bind(Value::Integer(after.started_at));
        let row = bind(Value::Integer(after.row));
        sql += &format!(" AND (r.started_at, r.id) > (?{started}, ?{row})");
    }
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    sql += &format!(
        " ORDER BY r.started_at, r.id LIMIT ?{}",
        bind(Value::Integer(limit_sql))
    );
    let mut stmt = tx.prepare_cached(&sql).ctx(action)?;
    let mut rows = stmt.query(params_from_iter(values)).ctx(action)?;
    let mut found = Vec::new();
    let mut last = None;
    while let Some(row) = rows.next().ctx(action)? {
        let pk: i64 = row.get(0).ctx(action)?;
        let started_at: i64 = row.get(1).ctx(action)?;
        last = Some(RunCursor {
            started_at,
            row: pk,
        });
        found.push((pk, codec::run_from_row(row, cutoff)?));
    }
    drop(rows);
    let mut beats_stmt = tx
        .prepare_cached(&format!(
            "SELECT {BEAT_COLUMNS} {BEAT_FROM} WHERE {} ORDER BY b.movement_index, b.beat_index",
            codec::beats_of_run(1)
        ))
        .ctx(action)?;
    let columns = codec::BeatColumns::of(&beats_stmt)?;
    let mut runs = Vec::with_capacity(found.len());
    for (pk, run) in found {
        let mut rows = beats_stmt.query([pk]).ctx(action)?;
        let mut beats = Vec::new();
        while let Some(row) = rows.next().ctx(action)? {
            beats.push(codec::beat_from_row(row, &columns)?);
        }
        runs.push((run, beats));
    }
    let next = if runs.len() < limit { None } else { last };
    Ok(RunPage { runs, next })
}

/// Which of `ids` the store holds.
fn known_runs(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
    let action = || "look up the runs to import".to_owned();
    let mut stmt = tx
        .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")
        .ctx(action)?;
    let mut known = HashSet::new();
    for id in ids {
        if stmt.exists([id.hyphenated().to_string()]).ctx(action)? {
            known.insert(*id);
        }
    }
    Ok(known)
}

/// Insert the runs the store does not hold yet with their beats (the beats of a
/// run already stored are left out); returns the ids of those already stored.
pub(crate) fn import_runs(
    tx: &Transaction<'_>,
    runs: &[RunRecord],
    beats: &[BeatRecord],
) -> Result<HashSet<Uuid>> {
    let ids: Vec<Uuid> = runs.iter().map(|r| r.run_id).collect();
    let known = known_runs(tx, &ids)?;
    if known.is_empty() {
        write::upsert_runs(tx, runs)?;
        write::insert_beats(tx, beats, false)?;
        return Ok(known);
    }
    let new_runs: Vec<RunRecord> = runs
        .iter()
        .filter(|r| !known.contains(&r.run_id))
        .cloned()
        .collect();
    let new_beats: Vec<BeatRecord> = beats
        .iter()
        .filter(|b| !known.contains(&b.run_id))
        .cloned()
        .collect();
    write::upsert_runs(tx, &new_runs)?;
    write::insert_beats(tx, &new_beats, false)?;
    Ok(known)
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState, RunStatus};

    use crate::api::HistoryStore;
    use crate::test_records::{at, beat, run};
    use crate::{RunPageFilter, SqliteStore};

    #[test]
    fn pages_walk_every_run_oldest_first_with_its_beats() {
        let store = SqliteStore::open_in_memory().expect("open");
        let runs: Vec<_> = (0..5)
            .map(|i| {
                run(
                    if i % 2 == 0 { "a" } else { "b" },
                    at(i),
                    RunStatus::Success,
                )
            })
            .collect();
        let beats: Vec<_> = runs
            .iter()
            .map(|r| beat(r, 0, 0, "x", BeatStatus::Success, 10, CacheState::Miss))
            .collect();
        assert!(store.import_runs(&runs, &beats).expect("import").is_empty());
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .runs_page(&RunPageFilter::default(), after, 2)
                .expect("page");
            for (r, b) in &page.runs {
                assert_eq!(b.len(), 1);
                seen.push(r.run_id);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, runs.iter().map(|r| r.run_id).collect::<Vec<_>>());
        let only_a = store
            .runs_page(
                &RunPageFilter {
                    pipeline: Some("a".into()),
                    since: Some(at(1)),
                },
                None,
                10,
            )
            .expect("page");
        let ids: Vec<_> = only_a.runs.iter().map(|(r, _)| r.run_id).collect();
        assert_eq!(ids, vec![runs[2].run_id, runs[4].run_id]);
        assert!(only_a.next.is_none());
    }

    #[test]
    fn importing_skips_runs_already_stored_and_keeps_their_beats() {
        let store = SqliteStore::open_in_memory().expect("open");
        let first = run("p", at(0), RunStatus::Success);
        let second = run("p", at(1), RunStatus::Failure);
        let b1 = beat(&first, 0, 0, "x", BeatStatus::Success, 10, CacheState::Miss);
        let b2 = beat(
            &second,
            0,
            0,
            "x",
            BeatStatus::Failure,
            20,
            CacheState::Miss,
        );
        store
            .import_runs(std::slice::from_ref(&first), std::slice::from_ref(&b1))
            .expect("first");
        let mut changed = b1.clone();
        changed.duration_ms = 999;
        let known = store
            .import_runs(&[first.clone(), second.clone()], &[changed, b2.clone()])
            .expect("second");
        assert_eq!(known.into_iter().collect::<Vec<_>>(), vec![first.run_id]);
        let page = store
            .runs_page(&RunPageFilter::default(), None, 10)
            .expect("page");
        assert_eq!(page.runs, vec![(first, vec![b1]), (second, vec![b2])]);
    }
}
