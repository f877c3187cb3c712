//! Every query. Each runs inside the caller's read transaction (one snapshot) and
//! walks an index: runs by `(pipeline_id, started_at)` or `started_at`; a run's
//! beats by their row id range (`run << 20 | series`); a beat's history by walking
//! its pipeline's runs newest first and probing that row id (so inserts maintain no
//! history index); evolved shapes by a partial index. A query about a beat in
//! "every pipeline" runs once per series (pipeline + beat) and merges.

use std::collections::HashMap;

use baton_model::{BeatHistory, BeatOutcome, BeatRecord, RunRecord};
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Transaction, params, params_from_iter};
use uuid::Uuid;

use super::codec::{
    self, BEAT_COLUMNS, BEAT_FROM, HashSql, RUN_COLUMNS, SERIES_BITS, beat_status, cache_state,
};
use crate::api::{
    BeatCounts, PipelineInfo, PreviousShape, RunFilter, RunSelector, RunSummary, ShapeEvolution,
    ShapeTarget, SlaCounts,
};
use crate::error::{AMBIGUOUS_CANDIDATES_SHOWN, RunCandidate, SqlContext};
use crate::{Result, StoreError};

/// How many of a beat's latest runs the hints look at.
const HINT_RUNS: usize = 20;
/// How many of a pipeline's latest runs the hints search for those.
const HINT_WINDOW: i64 = 500;

/// The series part of a beat's row id.
const SERIES_MASK: i64 = (1 << SERIES_BITS) - 1;

/// A pipeline's latest runs, newest first: `?1` pipeline, `?2` how many.
const HINT_RUNS_SQL: &str =
    "SELECT id FROM runs WHERE pipeline_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2";

/// A series: one beat of one pipeline.
struct Series {
    id: i64,
    pipeline_id: String,
}

/// The series of `beat` in one pipeline, or in every pipeline.
fn series_of(tx: &Transaction<'_>, pipeline_id: Option<&str>, beat: &str) -> Result<Vec<Series>> {
    let action = || format!("look up beat '{beat}'");
    let read = |row: &rusqlite::Row<'_>| {
        Ok(Series {
            id: row.get(0)?,
            pipeline_id: row.get(1)?,
        })
    };
    let found = match pipeline_id {
        Some(p) => tx
            .prepare_cached(
                "SELECT id, pipeline_id FROM series WHERE pipeline_id = ?1 AND beat = ?2",
            )
            .and_then(|mut stmt| stmt.query_map([p, beat], read)?.collect()),
        None => tx
            .prepare_cached("SELECT id, pipeline_id FROM series WHERE beat = ?1")
            .and_then(|mut stmt| stmt.query_map([beat], read)?.collect()),
    };
    found.ctx(action)
}

fn collect_beats(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    action: impl Fn() -> String,
) -> Result<Vec<BeatRecord>> {
    let columns = codec::BeatColumns::of(stmt)?;
    let mut rows = stmt.query(params).ctx(&action)?;
    let mut beats = Vec::new();
    while let Some(row) = rows.next().ctx(&action)? {
        beats.push(codec::beat_from_row(row, &columns)?);
    }
    Ok(beats)
}

/// The series (row id, beat name) of a pipeline.
fn pipeline_series(
    tx: &Transaction<'_>,
    pipeline_id: &str,
    action: impl Fn() -> String + Copy,
) -> Result<Vec<(i64, String)>> {
    let mut series = tx
        .prepare_cached("SELECT id, beat FROM series WHERE pipeline_id = ?1")
        .ctx(action)?;
    let mut rows = series.query([pipeline_id]).ctx(action)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        found.push((row.get(0).ctx(action)?, row.get(1).ctx(action)?));
    }
    Ok(found)
}

pub(crate) fn hints(
    tx: &Transaction<'_>,
    pipeline_id: &str,
    beat_names: &[&str],
) -> Result<HashMap<String, BeatHistory>> {
    let action = || format!("load the history of pipeline '{pipeline_id}'");
    /// What has been gathered for one beat, newest first.
    #[derive(Default)]
    struct Gathered {
        /// The shape of its latest run that ran to an end (only that one is needed).
        previous_shape: Option<Option<String>>,
        caches: Vec<baton_model::CacheState>,
        successes: Vec<i64>,
        outcomes: Vec<BeatOutcome>,
    }
    // The pipeline's series in one query, then its latest runs' beats, newest run
    // first, until every beat has enough.
    let mut wanted: HashMap<i64, (&str, Gathered)> = HashMap::new();
    for (id, name) in pipeline_series(tx, pipeline_id, action)? {
        if let Some(&name) = beat_names.iter().find(|&&n| n == name) {
            wanted.insert(id, (name, Gathered::default()));
        }
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let mut runs = tx.prepare_cached(HINT_RUNS_SQL).ctx(action)?;
    let mut beats = tx
        .prepare_cached(&format!(
            "SELECT b.id & 1048575, b.shape_hash, b.cache_state, b.status, b.duration_ms,
                    b.started_at
                 FROM beats b WHERE {}",
            codec::beats_of_run(1)
        ))
        .ctx(action)?;
    let success = beat_status::encode(baton_model::BeatStatus::Success);
    let mut run_rows = runs.query(params![pipeline_id, HINT_WINDOW]).ctx(action)?;
    let mut unsatisfied = wanted.len();
    while let Some(run) = run_rows.next().ctx(action)? {
        let run: i64 = run.get(0).ctx(action)?;
        let mut rows = beats.query([run]).ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            let series: i64 = row.get(0).ctx(action)?;
            let Some((_, got)) = wanted.get_mut(&series) else {
                continue;
            };
            let was_done = got.caches.len() >= HINT_RUNS && got.successes.len() >= HINT_RUNS;
            if was_done {
                continue;
            }
            let status: i64 = row.get(3).ctx(action)?;
            let decoded = beat_status::decode(status)?;
            let duration: i64 = row.get(4).ctx(action)?;
            got.outcomes.push(BeatOutcome {
                started_at: codec::ts_from_sql(row.get(5).ctx(action)?)?,
                status: decoded,
                duration_ms: u64::try_from(duration)
                    .map_err(|_| StoreError::corrupt("a beat's duration".to_owned()))?,
            });
            // The shape to compare with is that of the latest run the beat ran in.
            if got.previous_shape.is_none() && decoded.is_judged() {
                got.previous_shape = Some(codec::hash_from_sql(row.get_ref(1).ctx(action)?)?);
            }
            if got.caches.len() < HINT_RUNS {
                got.caches
                    .push(cache_state::decode(row.get(2).ctx(action)?)?);
            }
            if got.successes.len() < HINT_RUNS && status == success {
                got.successes.push(duration);
            }
            if got.caches.len() >= HINT_RUNS && got.successes.len() >= HINT_RUNS {
                unsatisfied -= 1;
            }
        }
        if unsatisfied == 0 {
            break;
        }
    }
    let mut out = HashMap::new();
    for (_, (name, mut got)) in wanted {
        if got.outcomes.is_empty() {
            continue;
        }
        // An imported record may have no shape (an empty hash): nothing to compare.
        let previous_shape = got.previous_shape.flatten().filter(|h| !h.is_empty());
        got.caches.reverse();
        let successes: Vec<u64> = got.successes.iter().map(|d| d.unsigned_abs()).collect();
        out.insert(
            name.to_owned(),
            BeatHistory {
                previous_shape,
                recent_cache_states: got.caches,
                // Whole milliseconds: the mean of two middle values rounds down.
                median_duration_ms: baton_analysis::median(&successes).map(|m| m as u64),
                recent_outcomes: got.outcomes,
            },
        );
    }
    Ok(out)
}

/// [`crate::HistoryStore::previous_shapes`]: the pipeline's runs newest first
/// (the walk of [`hints`]), each run's beats read by row id range with only their
/// series, hash and start; a full record is decoded only for the match of each
/// wanted beat.
pub(crate) fn previous_shapes(
    tx: &Transaction<'_>,
    pipeline_id: &str,
    wanted: &[PreviousShape<'_>],
    per_beat: usize,
) -> Result<HashMap<String, String>> {
    let action = || format!("look up the previous shapes of pipeline '{pipeline_id}'");
    /// One wanted beat: what it looks for, how many of its records were seen.
    struct Search<'w> {
        wanted: &'w PreviousShape<'w>,
        previous: HashSql<'w>,
        before: i64,
        seen: usize,
    }
    let mut searches: HashMap<i64, Search<'_>> = HashMap::new();
    for (id, name) in pipeline_series(tx, pipeline_id, action)? {
        if let Some(w) = wanted.iter().find(|w| w.beat == name) {
            searches.insert(
                id,
                Search {
                    wanted: w,
                    previous: HashSql::new(w.previous),
                    before: codec::ts_to_sql(w.before)?,
                    seen: 0,
                },
            );
        }
    }
    if searches.is_empty() || per_beat == 0 {
        return Ok(HashMap::new());
    }
    let mut found_at: Vec<(i64, &str)> = Vec::new();
    let mut runs = tx.prepare_cached(HINT_RUNS_SQL).ctx(action)?;
    let mut beats = tx
        .prepare_cached(&format!(
            "SELECT b.id, b.shape_hash, b.started_at FROM beats b WHERE {}",
            codec::beats_of_run(1)
        ))
        .ctx(action)?;
    let mut run_rows = runs.query(params![pipeline_id, HINT_WINDOW]).ctx(action)?;
    while let Some(run) = run_rows.next().ctx(action)? {
        let run: i64 = run.get(0).ctx(action)?;
        let mut rows = beats.query([run]).ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            let id: i64 = row.get(0).ctx(action)?;
            let Some(search) = searches.get_mut(&(id & SERIES_MASK)) else {
                continue;
            };
            // Records of the evolved run itself and later ones do not count.
            let started: i64 = row.get(2).ctx(action)?;
            if started >= search.before {
                continue;
            }
            search.seen += 1;
            let hash = row.get_ref(1).ctx(action)?;
            let same = match (&search.previous, hash) {
                (HashSql::Blob(want), rusqlite::types::ValueRef::Blob(got)) => want[..] == *got,
                (HashSql::Text(want), rusqlite::types::ValueRef::Text(got)) => {
                    want.as_bytes() == got
                }
                _ => false,
            };
            let beat = search.wanted.beat;
            if same {
                found_at.push((id, beat));
            }
            if same || search.seen >= per_beat {
                searches.remove(&(id & SERIES_MASK));
            }
        }
        if searches.is_empty() {
            break;
        }
    }
    let mut record = tx
        .prepare_cached(&format!(
            "SELECT {BEAT_COLUMNS} {BEAT_FROM} WHERE b.id = ?1"
        ))
        .ctx(action)?;
    let columns = codec::BeatColumns::of(&record)?;
    let mut out = HashMap::new();
    for (id, beat) in found_at {
        let mut rows = record.query([id]).ctx(action)?;
        if let Some(row) = rows.next().ctx(action)? {
            let decoded = codec::beat_from_row(row, &columns)?;
            out.insert(beat.to_owned(), decoded.shape.canonical);
        }
    }
    Ok(out)
}

/// The run query of [`list_runs`] and its parameters.
fn list_runs_sql(filter: &RunFilter, cutoff: i64) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT r.id, {RUN_COLUMNS} FROM runs r WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |v: Value| {
        values.push(v);
        values.len()
    };
    if let Some(p) = &filter.pipeline {
        sql += &format!(" AND r.pipeline_id = ?{}", bind(Value::Text(p.clone())));
    }
    if let Some(b) = &filter.beat {
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM beats b WHERE b.id IN (
                SELECT (r.id << 20) | s.id FROM series s WHERE s.beat = ?{}))",
            bind(Value::Text(b.clone()))
        );
    }
    // Few runs match a branch or host filter: they are read from the run's record
    // as the listing walks its index, which stops at the limit.
    if let Some(branch) = &filter.branch {
        sql += &format!(
            " AND json_extract(r.record, '$.git.branch') = ?{}",
            bind(Value::Text(branch.clone()))
        );
    }
    if let Some(host) = &filter.host {
        sql += &format!(
            " AND json_extract(r.record, '$.host') = ?{}",
            bind(Value::Text(host.clone()))
        );
    }
    if let Some(status) = filter.status {
        let p = bind(Value::Integer(cutoff));
        sql += &format!(" AND {}", codec::status_condition(status, p));
    }
    let limit = filter
        .limit
        .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    sql += &format!(
        " ORDER BY r.started_at DESC, r.id DESC LIMIT ?{}",
        bind(Value::Integer(limit))
    );

    (sql, values)
}

pub(crate) fn list_runs(
    tx: &Transaction<'_>,
    filter: &RunFilter,
    now: Timestamp,
) -> Result<Vec<RunSummary>> {
    let action = || "list runs".to_owned();
    let cutoff = codec::abandoned_cutoff(now)?;
    let (sql, values) = list_runs_sql(filter, cutoff);
    let mut stmt = tx.prepare_cached(&sql).ctx(action)?;
    let mut rows = stmt.query(params_from_iter(values)).ctx(action)?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let pk: i64 = row.get(0).ctx(action)?;
        runs.push((pk, codec::run_from_row(row, cutoff)?));
    }
    drop(rows);

    let mut counts = tx
        .prepare_cached(&format!(
            "SELECT b.status, b.sla_status, COUNT(*), TOTAL(b.duration_ms) FROM beats b
             WHERE {} GROUP BY b.status, b.sla_status",
            codec::beats_of_run(1)
        ))
        .ctx(action)?;
    let mut out = Vec::with_capacity(runs.len());
    for (pk, run) in runs {
        let mut beats = BeatCounts::default();
        let mut sla = SlaCounts::default();
        let mut beats_duration_ms = 0u64;
        let mut rows = counts.query([pk]).ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            let status = beat_status::decode(row.get(0).ctx(action)?)?;
            let sla_status = codec::sla_status::decode(row.get(1).ctx(action)?)?;
            let n: i64 = row.get(2).ctx(action)?;
            let total: f64 = row.get(3).ctx(action)?;
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            beats.add(status, n);
            sla.add(sla_status, n);
            beats_duration_ms = beats_duration_ms.saturating_add(total as u64);
        }
        let duration_ms = run.finished_at.map(|end| {
            (end.as_millisecond() - run.started_at.as_millisecond())
                .max(0)
                .unsigned_abs()
        });
        out.push(RunSummary {
            run,
            beats,
            sla,
            duration_ms,
            beats_duration_ms,
        });
    }
    Ok(out)
}

/// The query of [`find_run`] and its parameters.
fn find_run_sql(selector: &RunSelector) -> (String, Vec<String>) {
    let select = format!("SELECT r.id, {RUN_COLUMNS} FROM runs r");
    let order = "ORDER BY r.started_at DESC, r.id DESC LIMIT 2";
    match selector {
        RunSelector::Latest => (format!("{select} {order}"), vec![]),
        RunSelector::LatestOf(p) => (
            format!("{select} WHERE r.pipeline_id = ?1 {order}"),
            vec![p.clone()],
        ),
        RunSelector::Label(label) => (
            format!("{select} WHERE r.label = ?1 {order}"),
            vec![label.clone()],
        ),
        RunSelector::Id(id) => {
            let id = id.trim().to_ascii_lowercase();
            match Uuid::try_parse(&id) {
                // Unique or ambiguous: no order needed, two rows tell which.
                Ok(uuid) => (
                    format!("{select} WHERE r.run_id = ?1 LIMIT 2"),
                    vec![uuid.hyphenated().to_string()],
                ),
                // A prefix: the ids that start with it sort in [prefix, prefix + DEL).
                Err(_) => (
                    format!("{select} WHERE r.run_id >= ?1 AND r.run_id < ?2 LIMIT 2"),
                    vec![id.clone(), format!("{id}\u{7f}")],
                ),
            }
        }
    }
}

/// The row id and record of the run `selector` names.
pub(crate) fn find_run(
    tx: &Transaction<'_>,
    selector: &RunSelector,
    now: Timestamp,
) -> Result<Option<(i64, RunRecord)>> {
    let cutoff = codec::abandoned_cutoff(now)?;
    let (sql, values) = find_run_sql(selector);
    let action = || "find the run".to_owned();
    let mut stmt = tx.prepare_cached(&sql).ctx(action)?;
    let mut rows = stmt.query(params_from_iter(values.iter())).ctx(action)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let pk: i64 = row.get(0).ctx(action)?;
        found.push((pk, codec::run_from_row(row, cutoff)?));
    }
    drop(rows);
    if let (RunSelector::Id(prefix), [_, _, ..]) = (selector, found.as_slice()) {
        let count: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE run_id >= ?1 AND run_id < ?2",
                params_from_iter(values.iter()),
                |row| row.get(0),
            )
            .ctx(action)?;
        let mut newest = tx
            .prepare_cached(
                "SELECT label, run_id FROM runs WHERE run_id >= ?1 AND run_id < ?2
                 ORDER BY started_at DESC, id DESC LIMIT ?3",
            )
            .ctx(action)?;
        let candidates = newest
            .query_map(
                params![values[0], values[1], AMBIGUOUS_CANDIDATES_SHOWN as i64],
                |row| {
                    Ok(RunCandidate {
                        label: row.get("label")?,
                        run_id: row.get("run_id")?,
                    })
                },
            )
            .ctx(action)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx(action)?;
        return Err(StoreError::AmbiguousRun {
            prefix: prefix.clone(),
            count: usize::try_from(count).unwrap_or(usize::MAX),
            candidates,
        });
    }
    Ok(found.into_iter().next())
}

/// A run's beats in plan order; `?1` is the run's row id.
fn run_beats_sql() -> String {
    format!(
        "SELECT {BEAT_COLUMNS} {BEAT_FROM} WHERE {} ORDER BY b.movement_index, b.beat_index",
        codec::beats_of_run(1)
    )
}

pub(crate) fn load_run(
    tx: &Transaction<'_>,
    selector: &RunSelector,
    now: Timestamp,
) -> Result<Option<(RunRecord, Vec<BeatRecord>)>> {
    let Some((pk, run)) = find_run(tx, selector, now)? else {
        return Ok(None);
    };
    let action = || format!("load the beats of run {}", run.run_id);
    let mut stmt = tx.prepare_cached(&run_beats_sql()).ctx(action)?;
    let beats = collect_beats(&mut stmt, [pk], action)?;
    Ok(Some((run, beats)))
}

/// One series' records newest first: its pipeline's runs newest first, each probed
/// for the beat by row id. `?1` series, `?2` pipeline, `?3` limit.
fn beat_runs_sql() -> String {
    format!(
        "SELECT {BEAT_COLUMNS} FROM runs r
         CROSS JOIN beats b ON b.id = (r.id << 20) | ?1
         JOIN series s ON s.id = ?1
         WHERE r.pipeline_id = ?2
         ORDER BY r.started_at DESC, r.id DESC LIMIT ?3"
    )
}

pub(crate) fn beat_runs(
    tx: &Transaction<'_>,
    pipeline_id: Option<&str>,
    beat: &str,
    limit: usize,
) -> Result<Vec<BeatRecord>> {
    let action = || format!("load the runs of beat '{beat}'");
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    // The pipeline's runs newest first, each probed for the beat by key.
    let mut stmt = tx.prepare_cached(&beat_runs_sql()).ctx(action)?;
    let mut beats = Vec::new();
    for series in series_of(tx, pipeline_id, beat)? {
        beats.extend(collect_beats(
            &mut stmt,
            params![series.id, series.pipeline_id, limit_sql],
            action,
        )?);
    }
    beats.sort_by_key(|b| std::cmp::Reverse(b.started_at));
    beats.truncate(limit);
    Ok(beats)
}

/// [`beat_runs`] of one pipeline, reading only the columns of a [`BeatOutcome`].
pub(crate) fn beat_outcomes(
    tx: &Transaction<'_>,
    pipeline_id: &str,
    beat: &str,
    limit: usize,
) -> Result<Vec<BeatOutcome>> {
    let action = || format!("load the outcomes of beat '{beat}'");
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = tx
        .prepare_cached(
            "SELECT b.started_at, b.status, b.duration_ms FROM runs r
             CROSS JOIN beats b ON b.id = (r.id << 20) | ?1
             WHERE r.pipeline_id = ?2
             ORDER BY r.started_at DESC, r.id DESC LIMIT ?3",
        )
        .ctx(action)?;
    let mut outcomes = Vec::new();
    for series in series_of(tx, Some(pipeline_id), beat)? {
        let mut rows = stmt
            .query(params![series.id, series.pipeline_id, limit_sql])
            .ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            let duration: i64 = row.get(2).ctx(action)?;
            outcomes.push(BeatOutcome {
                started_at: codec::ts_from_sql(row.get(0).ctx(action)?)?,
                status: beat_status::decode(row.get(1).ctx(action)?)?,
                duration_ms: u64::try_from(duration)
                    .map_err(|_| StoreError::corrupt(format!("duration of beat '{beat}'")))?,
            });
        }
    }
    outcomes.sort_by_key(|o| std::cmp::Reverse(o.started_at));
    outcomes.truncate(limit);
    Ok(outcomes)
}

/// The beat record an annotation points at.
pub(crate) struct FoundShape {
    pub run_pk: i64,
    pub run_id: Uuid,
    pub series: i64,
    pub pipeline_id: String,
    pub shape_hash: String,
}

/// One candidate row for [`find_shape`].
struct Candidate {
    run_pk: i64,
    run_id: String,
    series: i64,
    hash: String,
    started_at: i64,
    evolved: bool,
}

pub(crate) fn find_shape(
    tx: &Transaction<'_>,
    pipeline_id: Option<&str>,
    beat: &str,
    target: &ShapeTarget,
    now: Timestamp,
) -> Result<FoundShape> {
    let action = || format!("find the shape of beat '{beat}'");
    let not_found = |detail: String| StoreError::ShapeNotFound {
        beat: beat.to_owned(),
        detail,
    };
    let all_series = series_of(tx, pipeline_id, beat)?;
    let cols = "r.id, r.run_id, b.series, b.shape_hash, b.started_at, b.evolved";
    let sql = match target {
        ShapeTarget::Run(_) => format!(
            "SELECT {cols} FROM runs r JOIN beats b ON b.id = (r.id << 20) | ?1
             WHERE r.id = ?2"
        ),
        ShapeTarget::Latest => format!(
            "SELECT {cols} FROM beats b JOIN runs r ON r.id = b.id >> 20
             WHERE b.series = ?1 AND b.evolved = 1 ORDER BY b.started_at DESC LIMIT 1"
        ),
        ShapeTarget::Hash(_) => format!(
            "SELECT {cols} FROM runs r CROSS JOIN beats b ON b.id = (r.id << 20) | ?1
             WHERE r.pipeline_id = ?2"
        ),
    };
    let run_pk = match target {
        ShapeTarget::Run(selector) => match find_run(tx, selector, now)? {
            Some((pk, _)) => pk,
            None => return Err(StoreError::UnknownRun(format!("{selector:?}"))),
        },
        _ => 0,
    };
    let prefix = match target {
        ShapeTarget::Hash(h) => h.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    let mut stmt = tx.prepare_cached(&sql).ctx(action)?;
    let mut candidates = Vec::new();
    for series in &all_series {
        let mut rows = match target {
            ShapeTarget::Run(_) => stmt.query(params![series.id, run_pk]),
            ShapeTarget::Latest => stmt.query(params![series.id]),
            ShapeTarget::Hash(_) => stmt.query(params![series.id, series.pipeline_id]),
        }
        .ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            let hash = codec::hash_from_sql(row.get_ref(3).ctx(action)?)?.unwrap_or_default();
            if !hash.starts_with(&prefix) {
                continue;
            }
            candidates.push(Candidate {
                run_pk: row.get(0).ctx(action)?,
                run_id: row.get(1).ctx(action)?,
                series: row.get(2).ctx(action)?,
                hash,
                started_at: row.get(4).ctx(action)?,
                evolved: row.get(5).ctx(action)?,
            });
        }
    }
    if let ShapeTarget::Hash(h) = target {
        let mut distinct: Vec<&str> = candidates.iter().map(|c| c.hash.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > 1 {
            return Err(not_found(format!(
                "with hash '{h}': it matches {} shapes, give more of it",
                distinct.len()
            )));
        }
    }
    // Where the shape appeared (evolved) first, then the newest.
    candidates.sort_by_key(|c| std::cmp::Reverse((c.evolved, c.started_at)));
    let Some(found) = candidates.into_iter().next() else {
        return Err(not_found(match target {
            ShapeTarget::Hash(h) => format!("with hash '{h}'"),
            ShapeTarget::Run(selector) => format!("in run {selector:?}"),
            ShapeTarget::Latest => "that changed: its shape never evolved".to_owned(),
        }));
    };
    let pipeline_id = all_series
        .iter()
        .find(|s| s.id == found.series)
        .map(|s| s.pipeline_id.clone())
        .unwrap_or_default();
    let run_id = found
        .run_id
        .parse()
        .map_err(|_| StoreError::corrupt(format!("run id '{}'", found.run_id)))?;
    Ok(FoundShape {
        run_pk: found.run_pk,
        run_id,
        series: found.series,
        pipeline_id,
        shape_hash: found.hash,
    })
}

pub(crate) fn shape_evolutions(
    tx: &Transaction<'_>,
    pipeline_id: Option<&str>,
    beat: Option<&str>,
) -> Result<Vec<ShapeEvolution>> {
    let action = || "list shape evolutions".to_owned();
    // One beat: its series' evolved rows come straight off `beats_evolved`.
    let pipeline_condition = match (pipeline_id, beat) {
        (Some(_), Some(_)) => {
            "AND b.series IN (SELECT id FROM series WHERE pipeline_id = ?1 AND beat = ?2)"
        }
        (Some(_), None) => {
            "AND b.series IN (SELECT id FROM series WHERE pipeline_id = ?1) AND ?2 IS NULL"
        }
        (None, Some(_)) => "AND ?1 IS NULL AND b.series IN (SELECT id FROM series WHERE beat = ?2)",
        (None, None) => "AND ?1 IS NULL AND ?2 IS NULL",
    };
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT s.beat, s.pipeline_id, b.prev_shape_hash, b.shape_hash, r.run_id,
                    b.started_at, a.annotated_at, a.reason, b.movement_index, b.beat_index
             FROM beats b
             JOIN runs r ON r.id = b.id >> 20
             JOIN series s ON s.id = b.series
             LEFT JOIN shape_annotations a ON a.id = (
                 SELECT a2.id FROM shape_annotations a2
                 WHERE a2.run = b.run AND a2.series = b.series
                 ORDER BY a2.annotated_at DESC, a2.id DESC LIMIT 1)
             WHERE b.evolved = 1 {pipeline_condition}
             ORDER BY b.started_at, b.id"
        ))
        .ctx(action)?;
    let mut rows = stmt.query([pipeline_id, beat]).ctx(action)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let run_id: String = row.get(4).ctx(action)?;
        let annotated_at: Option<i64> = row.get(6).ctx(action)?;
        out.push(ShapeEvolution {
            feature: row.get(0).ctx(action)?,
            pipeline_id: row.get(1).ctx(action)?,
            previous_hash: codec::hash_from_sql(row.get_ref(2).ctx(action)?)?,
            new_hash: codec::hash_from_sql(row.get_ref(3).ctx(action)?)?.unwrap_or_default(),
            run_id: run_id
                .parse()
                .map_err(|_| StoreError::corrupt(format!("run id '{run_id}'")))?,
            at: codec::ts_from_sql(row.get(5).ctx(action)?)?,
            annotated_at: annotated_at.map(codec::ts_from_sql).transpose()?,
            reason: row.get(7).ctx(action)?,
            movement_index: row.get(8).ctx(action)?,
            beat_index: row.get(9).ctx(action)?,
        });
    }
    Ok(out)
}

pub(crate) fn pipelines(tx: &Transaction<'_>) -> Result<Vec<PipelineInfo>> {
    let action = || "list pipelines".to_owned();
    let mut stmt = tx
        .prepare_cached(
            "SELECT r.pipeline_id, COUNT(*), MAX(r.started_at),
                    (SELECT r2.pipeline_name FROM runs r2 WHERE r2.pipeline_id = r.pipeline_id
                     ORDER BY r2.started_at DESC LIMIT 1)
             FROM runs r GROUP BY r.pipeline_id ORDER BY MAX(r.started_at) DESC",
        )
        .ctx(action)?;
    let mut rows = stmt.query([]).ctx(action)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let runs: i64 = row.get(1).ctx(action)?;
        out.push(PipelineInfo {
            pipeline_id: row.get(0).ctx(action)?,
            runs: runs.max(0).unsigned_abs(),
            last_started_at: codec::ts_from_sql(row.get(2).ctx(action)?)?,
            name: row.get(3).ctx(action)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    /// The reads the performance targets cover walk indexes: no full scan of runs
    /// or beats, no sort of more than one run's beats. (SQLite 3.54 sorted all runs
    /// for `ORDER BY started_at DESC, id DESC` until the indexes carried `id DESC`.)
    #[test]
    fn hot_queries_walk_indexes() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.lock();
        let filters = [
            RunFilter {
                limit: Some(50),
                ..RunFilter::default()
            },
            RunFilter {
                pipeline: Some("p".into()),
                limit: Some(50),
                ..RunFilter::default()
            },
            RunFilter {
                pipeline: Some("p".into()),
                beat: Some("b".into()),
                status: Some(baton_model::RunStatus::Abandoned),
                limit: Some(50),
                ..RunFilter::default()
            },
            RunFilter {
                branch: Some("main".into()),
                host: Some("ci-1".into()),
                limit: Some(50),
                ..RunFilter::default()
            },
        ];
        let mut queries: Vec<(String, bool)> = filters
            .iter()
            .map(|f| (list_runs_sql(f, 0).0, false))
            .chain(
                [
                    RunSelector::Latest,
                    RunSelector::LatestOf("p".into()),
                    RunSelector::Id("0199".into()),
                    RunSelector::Id("0199ab12-0000-7000-8000-000000000000".into()),
                ]
                .iter()
                .map(|s| (find_run_sql(s).0, false)),
            )
            .collect();
        queries.push((beat_runs_sql(), false));
        queries.push((HINT_RUNS_SQL.to_owned(), false));
        // Sorting one run's 34 beats, or the few runs that share a label, is fine.
        queries.push((run_beats_sql(), true));
        queries.push((find_run_sql(&RunSelector::Label("build-1".into())).0, true));
        for (sql, may_sort) in queries {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .and_then(|mut stmt| {
                    let n = stmt.parameter_count();
                    let params = vec![rusqlite::types::Value::Integer(1); n];
                    stmt.query_map(params_from_iter(params), |row| row.get(3))?
                        .collect()
                })
                .expect("plan");
            let text = plan.join("; ");
            // "SCAN r USING INDEX" is an ordered walk that stops at the limit.
            let full_scan = plan
                .iter()
                .any(|p| p == "SCAN r" || p.starts_with("SCAN b"));
            assert!(!full_scan, "{sql}\n=> {text}");
            if !may_sort {
                assert!(!text.contains("TEMP B-TREE"), "{sql}\n=> {text}");
            }
        }
    }
}
