//! [`beat_series`]: every beat record of a scope as compact series, and
//! [`run_commits`], the commits of the few runs a report names.
//!
//! The runs of the scope are read first (by index, newest first, then put oldest
//! first), then their beats, reading only the columns the analyses use (never the
//! `extra` JSON). Beats come either from one pass over the whole beats table in row
//! id order (when the scope holds at least half the runs of the store: a sequential
//! read beats a seek per run) or run by run, each run's beats being one row id range
//! (`run << 20 | series`); a query naming a few beats looks each of them up by row
//! id in each run. Input identities are interned on their stored bytes and
//! turned into text once each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use baton_model::RunStatus;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Transaction};
use uuid::Uuid;

use super::codec::{
    self, SERIES_BITS, beat_status, cache_state, identity_from_sql, sla_status, ts_from_sql,
};
use crate::error::SqlContext;
use crate::series::{
    BeatSeries, OUTCOMES, SeriesPipeline, SeriesPoint, SeriesQuery, SeriesRun, SeriesSet, Successes,
};
use crate::{Result, StoreError};

/// The beat columns read, in this order; the identity last, only when asked for.
/// Status, cache state, the restored flag, the attempts (at most 255), the SLA
/// verdict and whether tests passed on a rerun come packed in one integer (fewer
/// columns to fetch per row: a million rows are read).
const POINT_COLUMNS: &str = "b.id, b.started_at, b.duration_ms, \
     b.status | (b.cache_state << 8) | ((b.restored != 0) << 16) \
     | (min(max(b.attempts, 0), 255) << 17) | ((b.sla_status & 7) << 25) \
     | ((b.tests_flaky > 0) << 28)";

/// A series slot that is not wanted.
const UNWANTED: u32 = u32::MAX;

/// Opens another connection to the same file, for reading half of a big scan on
/// a second thread.
pub(crate) type OpenConnection<'a> = &'a (dyn Fn() -> Result<Connection> + Sync);

/// Scans of at least this many runs are read by two threads when a second
/// connection can be opened.
const PARALLEL_FROM_RUNS: usize = 10_000;

/// Queries naming at most this many beats (series) read them by row id, run by run.
const POINT_LOOKUP_MAX_SERIES: usize = 4;

/// The page cache of the second connection (negative: KiB).
const SCAN_CACHE_KIB: i64 = -4_096;

pub(crate) fn beat_series(
    tx: &Transaction<'_>,
    query: &SeriesQuery,
    second: Option<OpenConnection<'_>>,
) -> Result<SeriesSet> {
    let mut set = SeriesSet::default();
    let (run_rows, total_runs) = read_runs(tx, query, &mut set)?;
    if set.runs.is_empty() {
        return Ok(set);
    }
    let slots = read_series(tx, query, &mut set)?;
    if set.series.is_empty() {
        return Ok(set);
    }
    let run_index: HashMap<i64, u32> = run_rows
        .iter()
        .enumerate()
        .map(|(i, &row)| (row, i as u32))
        .collect();
    let columns = if query.identities {
        format!("{POINT_COLUMNS}, b.input_identity")
    } else {
        POINT_COLUMNS.to_owned()
    };
    let action = || "read the beats of the history".to_owned();
    // At most one record per run: reserving that much up front spares the copies
    // of growing (pages never written are never touched).
    let mut runs_of = vec![0usize; set.pipelines.len()];
    for run in &set.runs {
        runs_of[run.pipeline as usize] += 1;
    }
    let capacity: Vec<usize> = set
        .series
        .iter()
        .map(|s| runs_of[s.pipeline as usize])
        .collect();
    let new_reader =
        |share: usize| PointReader::new(&slots, &run_index, &capacity, share, query.identities);
    let wanted: Vec<i64> = slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| **slot != UNWANTED)
        .map(|(id, _)| id as i64)
        .collect();
    if let Some(n) = query.newest_per_outcome
        && query.since.is_none()
        && query.last_runs.is_none()
        && rows_follow_start_order(&set, &run_rows)
    {
        // Row id order is run order: the newest records of each outcome are the
        // last entries of the outcome index.
        let capacity: Vec<usize> = capacity.iter().map(|&c| c.min(n * 2)).collect();
        let mut reader = PointReader::new(&slots, &run_index, &capacity, 1, query.identities);
        read_newest(tx, &columns, n, &wanted, &mut reader, &mut set)?;
        finish(&mut set, reader, None);
        return Ok(set);
    }
    let reader = if !query.beats.is_empty() && wanted.len() <= POINT_LOOKUP_MAX_SERIES {
        // A few named beats: one row id lookup per run and beat, rather than
        // reading every beat of every run to keep a few.
        let mut reader = new_reader(1);
        let mut stmt = tx
            .prepare(&format!("SELECT {columns} FROM beats b WHERE b.id = ?1"))
            .ctx(action)?;
        for &run in &run_rows {
            for &series in &wanted {
                let mut rows = stmt
                    .query([run.saturating_mul(1 << SERIES_BITS) | series])
                    .ctx(action)?;
                while let Some(row) = rows.next().ctx(action)? {
                    reader.read(row)?;
                }
            }
        }
        reader
    } else if 2 * run_rows.len() as i64 >= total_runs {
        // Most of the table: one pass in row id order, in two halves (by run) on
        // two connections when the scan is big.
        let (low, high) = run_rows
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let sql = format!("SELECT {columns} FROM beats b WHERE b.id >= ?1 AND b.id < ?2");
        let scan =
            |conn: &Connection, from: i64, to: i64, reader: &mut PointReader<'_>| -> Result<()> {
                let mut stmt = conn.prepare(&sql).ctx(action)?;
                let mut rows = stmt.query([from, to]).ctx(action)?;
                while let Some(row) = rows.next().ctx(action)? {
                    reader.read(row)?;
                }
                Ok(())
            };
        let bound = |run: i64| run.saturating_mul(1 << SERIES_BITS);
        match second {
            Some(open) if run_rows.len() >= PARALLEL_FROM_RUNS => {
                let middle = low + (high - low) / 2;
                let (first, other) = std::thread::scope(|threads| {
                    let other = threads.spawn(|| -> Result<PointReader<'_>> {
                        let conn = open()?;
                        // A scan reads each page once: a big cache would only
                        // cost memory.
                        conn.pragma_update(None, "cache_size", SCAN_CACHE_KIB)
                            .ctx(action)?;
                        let mut reader = new_reader(2);
                        scan(&conn, bound(middle), bound(high + 1), &mut reader)?;
                        Ok(reader)
                    });
                    // The first half fills vectors sized for both.
                    let mut reader = new_reader(1);
                    let first = scan(tx, bound(low), bound(middle), &mut reader).map(|()| reader);
                    let other = other
                        .join()
                        .unwrap_or_else(|_| Err(StoreError::corrupt("the second half of a scan")));
                    (first, other)
                });
                let mut reader = first?;
                reader.append(other?);
                reader
            }
            _ => {
                let mut reader = new_reader(1);
                scan(tx, bound(low), bound(high + 1), &mut reader)?;
                reader
            }
        }
    } else {
        let mut reader = new_reader(1);
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {columns} FROM beats b WHERE {}",
                codec::beats_of_run(1)
            ))
            .ctx(action)?;
        for &run in &run_rows {
            let mut rows = stmt.query([run]).ctx(action)?;
            while let Some(row) = rows.next().ctx(action)? {
                reader.read(row)?;
            }
        }
        reader
    };
    finish(&mut set, reader, Some(query.newest_per_outcome));
    Ok(set)
}

/// Moves what `reader` read into `set`, oldest run first. `whole` is `Some` when
/// every record of the scope was read (with the bound to apply, if any): the
/// successes are counted from the points then.
fn finish(set: &mut SeriesSet, mut reader: PointReader<'_>, whole: Option<Option<usize>>) {
    for (series, points) in set.series.iter_mut().zip(&mut reader.points) {
        series.points = std::mem::take(points);
        // Row id order is the order runs were recorded; imports may record them
        // in any order. Mostly sorted already, so the stable sort is near linear.
        series.points.sort_by_key(|p| p.run);
        match whole {
            Some(Some(n)) => series.keep_newest(n),
            Some(None) => series.count_successes(),
            None => {}
        }
    }
    set.set_identities(reader.identities.text, reader.identities.ends);
    set.series.retain(|s| !s.points.is_empty());
}

/// Whether each pipeline's runs, in the set's order (by start time), were
/// recorded in that order too (row ids rising). An import may record older runs
/// after newer ones; then "newest" by row id is not newest by start.
fn rows_follow_start_order(set: &SeriesSet, run_rows: &[i64]) -> bool {
    let mut last = vec![i64::MIN; set.pipelines.len()];
    for (run, &row) in set.runs.iter().zip(run_rows) {
        let Some(previous) = last.get_mut(run.pipeline as usize) else {
            return false;
        };
        if row <= *previous {
            return false;
        }
        *previous = row;
    }
    true
}

/// The newest `n` records of each outcome of each wanted series (by series id),
/// walking the outcome index from its end; the successes of each series are
/// counted on the index (entries only) when there are more than `n`. Every run of
/// the series' pipelines must be in the set (no `since`, no `last_runs`).
fn read_newest(
    tx: &Transaction<'_>,
    columns: &str,
    n: usize,
    wanted: &[i64],
    reader: &mut PointReader<'_>,
    set: &mut SeriesSet,
) -> Result<()> {
    let action = || "read the newest beats of the history".to_owned();
    let mut newest = tx
        .prepare(&format!(
            "SELECT {columns} FROM beats b INDEXED BY beats_by_outcome \
             WHERE b.series = ?1 AND b.status = ?2 AND b.restored = ?3 ORDER BY b.id DESC"
        ))
        .ctx(action)?;
    let mut count = tx
        .prepare(
            "SELECT count(*) FROM beats INDEXED BY beats_by_outcome \
             WHERE series = ?1 AND status = ?2 AND restored = ?3",
        )
        .ctx(action)?;
    let success = codec::beat_status::encode(baton_model::BeatStatus::Success);
    for &series_id in wanted {
        let slot = reader.slots[series_id as usize] as usize;
        let mut complete_from = 0u32;
        for outcome in 0..2 * OUTCOMES as i64 {
            let (status, restored) = (outcome / 2, outcome % 2);
            let mut rows = newest.query((series_id, status, restored)).ctx(action)?;
            let mut read = 0usize;
            let mut more = false;
            while let Some(row) = rows.next().ctx(action)? {
                if read == n {
                    let id: i64 = row.get(0).ctx(action)?;
                    if let Some(&run) = reader.run_index.get(&(id >> SERIES_BITS)) {
                        complete_from = complete_from.max(run.saturating_add(1));
                    }
                    more = true;
                    break;
                }
                reader.read(row)?;
                read += 1;
            }
            drop(rows);
            if status != success {
                continue;
            }
            let total = if more {
                let total: i64 = count
                    .query_row((series_id, status, restored), |row| row.get(0))
                    .ctx(action)?;
                usize::try_from(total).unwrap_or(read)
            } else {
                read
            };
            let successes = &mut set.series[slot].successes;
            if restored == 0 {
                successes.executed = total;
            } else {
                successes.restored = total;
            }
        }
        set.series[slot].complete_from = complete_from;
    }
    Ok(())
}

/// The runs of the scope into `set.runs` (oldest first) and `set.pipelines`;
/// returns their row ids, in the same order, and how many runs the store holds.
///
/// When the scope holds a good share of the store (a quarter or more), the runs
/// table is read in one pass and sorted here: following an index would cost a
/// random seek into the (wide) table per run.
fn read_runs(
    tx: &Transaction<'_>,
    query: &SeriesQuery,
    set: &mut SeriesSet,
) -> Result<(Vec<i64>, i64)> {
    let action = || "read the runs of the history".to_owned();
    let mut values: Vec<Value> = Vec::new();
    // `{}` before a column: `+` to keep SQLite off its index.
    let mut conditions: Vec<String> = Vec::new();
    if let Some(pipeline) = &query.pipeline {
        values.push(Value::Text(pipeline.clone()));
        conditions.push(format!("{{}}pipeline_id = ?{}", values.len()));
    }
    if let Some(since) = query.since {
        values.push(Value::Integer(codec::ts_to_sql(since)?));
        conditions.push(format!("{{}}started_at >= ?{}", values.len()));
    }
    let filter = |plus: &str| -> String {
        let mut sql = " WHERE 1 = 1".to_owned();
        for c in &conditions {
            sql += " AND ";
            sql += &c.replace("{}", plus);
        }
        sql
    };
    let count = |sql: &str| -> Result<i64> {
        tx.query_row(sql, rusqlite::params_from_iter(values.iter()), |row| {
            row.get(0)
        })
        .ctx(action)
    };
    let total: i64 = tx
        .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
        .ctx(action)?;
    let matching = if conditions.is_empty() {
        total
    } else {
        count(&format!("SELECT COUNT(*) FROM runs{}", filter("")))?
    };
    let limit = query.last_runs.map_or(usize::MAX, |n| n);
    let whole_table = 4 * matching.min(limit as i64) >= total;
    let mut sql = format!(
        "SELECT id, run_id, label, pipeline_id, pipeline_name, status, started_at, \
         finished_at FROM runs{}",
        filter(if whole_table { "+" } else { "" })
    );
    if !whole_table {
        sql += " ORDER BY started_at DESC, id DESC";
        if let Some(limit) = query.last_runs {
            values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ?{}", values.len());
        }
    }
    let mut stmt = tx.prepare(&sql).ctx(action)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values.iter()))
        .ctx(action)?;
    // Pipelines as met, each with its newest run's (start, row id) and name.
    let mut pipelines: HashMap<String, u32> = HashMap::new();
    let mut met: Vec<(String, (i64, i64), String)> = Vec::new();
    let mut found: Vec<(i64, SeriesRun)> = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let id: i64 = row.get(0).ctx(action)?;
        let started: i64 = row.get(6).ctx(action)?;
        let pipeline_id = text(row.get_ref(3).ctx(action)?)?;
        let pipeline = match pipelines.get(pipeline_id) {
            Some(&index) => index,
            None => {
                let index = met.len() as u32;
                pipelines.insert(pipeline_id.to_owned(), index);
                met.push((pipeline_id.to_owned(), (i64::MIN, i64::MIN), String::new()));
                index
            }
        };
        let newest = &mut met[pipeline as usize];
        if (started, id) > newest.1 {
            newest.1 = (started, id);
            newest.2 = row.get(4).ctx(action)?;
        }
        let run_id = text(row.get_ref(1).ctx(action)?)?;
        let run_id = Uuid::parse_str(run_id)
            .map_err(|_| StoreError::corrupt(format!("run id '{run_id}'")))?;
        let status = text(row.get_ref(5).ctx(action)?)?;
        let status = status
            .parse::<RunStatus>()
            .map_err(|_| StoreError::corrupt(format!("run status '{status}'")))?;
        let finished_at: Option<i64> = row.get(7).ctx(action)?;
        found.push((
            id,
            SeriesRun {
                run_id,
                label: row.get(2).ctx(action)?,
                pipeline,
                started_at: ts_from_sql(started)?,
                finished_at: finished_at.map(ts_from_sql).transpose()?,
                status,
            },
        ));
    }
    if whole_table {
        found.sort_unstable_by_key(|(id, run)| std::cmp::Reverse((run.started_at, *id)));
        found.truncate(limit);
    }
    // Pipelines in the order of their newest run, newest first.
    let mut order: Vec<u32> = (0..met.len() as u32).collect();
    order.sort_by(|&a, &b| met[b as usize].1.cmp(&met[a as usize].1));
    let mut renumber = vec![u32::MAX; met.len()];
    for &old in &order {
        let present = found.iter().any(|(_, r)| r.pipeline == old);
        if present {
            renumber[old as usize] = set.pipelines.len() as u32;
            let (pipeline_id, _, name) = std::mem::take(&mut met[old as usize]);
            set.pipelines.push(SeriesPipeline { pipeline_id, name });
        }
    }
    let mut row_ids = Vec::with_capacity(found.len());
    set.runs.reserve_exact(found.len());
    for (id, mut run) in found.into_iter().rev() {
        run.pipeline = renumber[run.pipeline as usize];
        set.runs.push(run);
        row_ids.push(id);
    }
    Ok((row_ids, total))
}

/// A text column, borrowed.
fn text(value: ValueRef<'_>) -> Result<&str> {
    value
        .as_str()
        .map_err(|_| StoreError::corrupt("a run column that should be text"))
}

/// The wanted series into `set.series` (by pipeline, then beat name); returns the
/// slot of each series id (its index in `set.series`, or [`UNWANTED`]).
fn read_series(tx: &Transaction<'_>, query: &SeriesQuery, set: &mut SeriesSet) -> Result<Vec<u32>> {
    let action = || "read the beat names of the history".to_owned();
    let pipelines: HashMap<&str, u32> = set
        .pipelines
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pipeline_id.as_str(), i as u32))
        .collect();
    let mut stmt = tx
        .prepare("SELECT id, pipeline_id, beat FROM series")
        .ctx(action)?;
    let mut rows = stmt.query([]).ctx(action)?;
    let mut found: Vec<(i64, BeatSeries)> = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let pipeline_id: String = row.get(1).ctx(action)?;
        let Some(&pipeline) = pipelines.get(pipeline_id.as_str()) else {
            continue;
        };
        let beat: String = row.get(2).ctx(action)?;
        if !query.beats.is_empty() && !query.beats.contains(&beat) {
            continue;
        }
        let id: i64 = row.get(0).ctx(action)?;
        if !(0..1 << SERIES_BITS).contains(&id) {
            return Err(StoreError::corrupt(format!("series id {id}")));
        }
        found.push((
            id,
            BeatSeries {
                pipeline,
                beat,
                points: Vec::new(),
                successes: Successes::default(),
                complete_from: 0,
            },
        ));
    }
    found.sort_by(|a, b| (a.1.pipeline, &a.1.beat).cmp(&(b.1.pipeline, &b.1.beat)));
    let size = found
        .iter()
        .map(|(id, _)| *id as usize + 1)
        .max()
        .unwrap_or(0);
    let mut slots = vec![UNWANTED; size];
    for (slot, (id, series)) in found.into_iter().enumerate() {
        slots[id as usize] = slot as u32;
        set.series.push(series);
    }
    Ok(slots)
}

/// Input identities, interned on their stored bytes (a tag byte, then the blob or
/// the text), kept as text one after the other.
#[derive(Default)]
struct Identities {
    index: HashMap<Box<[u8]>, u32, BuildHasherDefault<FoldHasher>>,
    text: String,
    ends: Vec<u32>,
}

impl Identities {
    /// The index of the identity stored as `key` (tagged bytes) with value `value`.
    fn intern(&mut self, key: &[u8], value: ValueRef<'_>) -> Result<Option<u32>> {
        if let Some(&index) = self.index.get(key) {
            return Ok(Some(index));
        }
        let Some(text) = identity_from_sql(value)? else {
            return Ok(None);
        };
        Ok(Some(self.insert(key, &text)))
    }

    fn insert(&mut self, key: &[u8], text: &str) -> u32 {
        self.text.push_str(text);
        self.ends.push(self.text.len() as u32);
        let index = (self.ends.len() - 1) as u32;
        self.index.insert(key.into(), index);
        index
    }

    fn text_of(&self, index: u32) -> &str {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// Turns beat rows into points of their series.
struct PointReader<'a> {
    slots: &'a [u32],
    /// Run row id to its index in the set.
    run_index: &'a HashMap<i64, u32>,
    /// The run of the previous row (rows come run by run).
    last_run: Option<(i64, Option<u32>)>,
    /// Per wanted series (slot), its points.
    points: Vec<Vec<SeriesPoint>>,
    identities: Identities,
    /// Reused for looking identities up.
    key: Vec<u8>,
    with_identities: bool,
}

impl<'a> PointReader<'a> {
    /// A reader expecting up to `capacity[slot] / share` points per series.
    fn new(
        slots: &'a [u32],
        run_index: &'a HashMap<i64, u32>,
        capacity: &[usize],
        share: usize,
        with_identities: bool,
    ) -> Self {
        Self {
            slots,
            run_index,
            last_run: None,
            points: capacity
                .iter()
                .map(|&n| Vec::with_capacity(n.div_ceil(share.max(1))))
                .collect(),
            identities: Identities::default(),
            key: Vec::new(),
            with_identities,
        }
    }

    fn read(&mut self, row: &rusqlite::Row<'_>) -> Result<()> {
        let action = || "read a beat of the history".to_owned();
        let id: i64 = row.get(0).ctx(action)?;
        let (run_row, series_id) = (id >> SERIES_BITS, id & ((1 << SERIES_BITS) - 1));
        let slot = self
            .slots
            .get(series_id as usize)
            .copied()
            .unwrap_or(UNWANTED);
        if slot == UNWANTED {
            return Ok(());
        }
        let run = match self.last_run {
            Some((row, index)) if row == run_row => index,
            _ => {
                let index = self.run_index.get(&run_row).copied();
                self.last_run = Some((run_row, index));
                index
            }
        };
        let Some(run) = run else {
            return Ok(());
        };
        let duration: i64 = row.get(2).ctx(action)?;
        let identity = if self.with_identities {
            self.identity(row.get_ref(4).ctx(action)?)?
        } else {
            None
        };
        let packed: i64 = row.get(3).ctx(action)?;
        self.points[slot as usize].push(SeriesPoint {
            run,
            started_at: ts_from_sql(row.get(1).ctx(action)?)?,
            duration_ms: u64::try_from(duration)
                .map_err(|_| StoreError::corrupt(format!("a beat's duration {duration}")))?,
            status: beat_status::decode(packed & 0xff)?,
            cache_state: cache_state::decode((packed >> 8) & 0xff)?,
            restored: (packed >> 16) & 1 != 0,
            attempts: u8::try_from((packed >> 17) & 0xff).unwrap_or(1),
            sla: sla_status::decode((packed >> 25) & 7)?,
            tests_flaky: (packed >> 28) & 1 != 0,
            identity,
        });
        Ok(())
    }

    fn identity(&mut self, value: ValueRef<'_>) -> Result<Option<u32>> {
        self.key.clear();
        match value {
            ValueRef::Null => return Ok(None),
            ValueRef::Blob(bytes) => {
                self.key.push(0);
                self.key.extend_from_slice(bytes);
            }
            ValueRef::Text(text) => {
                self.key.push(1);
                self.key.extend_from_slice(text);
            }
            _ => return Err(StoreError::corrupt("an input identity")),
        }
        self.identities.intern(&self.key, value)
    }

    /// Adds what `other` read (a later range of rows), its identities re-interned.
    fn append(&mut self, other: PointReader<'_>) {
        let mut remap = vec![0u32; other.identities.ends.len()];
        for (key, &index) in &other.identities.index {
            remap[index as usize] = match self.identities.index.get(key) {
                Some(&mine) => mine,
                None => self.identities.insert(key, other.identities.text_of(index)),
            };
        }
        for (mine, theirs) in self.points.iter_mut().zip(other.points) {
            mine.extend(theirs.into_iter().map(|mut p| {
                p.identity = p.identity.map(|i| remap[i as usize]);
                p
            }));
        }
    }
}

/// A fast hash for identities, which are mostly hashes already (SipHash's
/// protection against chosen keys buys nothing here and costs a third of the read).
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.mix(u64::from_le_bytes(tail) ^ bytes.len() as u64);
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's finalizer: every input bit reaches every output bit (the
        // table uses the low bits for the slot, and identities made from counters
        // differ only in their last bytes).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl FoldHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) fn run_commits(tx: &Transaction<'_>, run_ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
    let action = || "read the commits of runs".to_owned();
    let mut stmt = tx
        .prepare_cached("SELECT json_extract(record, '$.git.commit') FROM runs WHERE run_id = ?1")
        .ctx(action)?;
    let mut out = HashMap::new();
    for id in run_ids {
        let mut rows = stmt.query([id.hyphenated().to_string()]).ctx(action)?;
        if let Some(row) = rows.next().ctx(action)?
            && let Some(commit) = row.get::<_, Option<String>>(0).ctx(action)?
        {
            out.insert(*id, commit);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState};

    use crate::series::{BeatSeries, SeriesPoint, SeriesQuery, SeriesSet};
    use crate::test_records::{at, beat, run};
    use crate::{HistoryStore, SqliteStore};

    /// Two pipelines; `p` has 4 runs of `build` and `test`, `q` one run of `build`.
    fn store() -> SqliteStore {
        let store = SqliteStore::open_in_memory().expect("open");
        let mut runs = Vec::new();
        let mut beats = Vec::new();
        // Recorded out of time order, as an import may.
        for (i, secs) in [(0, 300), (1, 0), (2, 100), (3, 200)] {
            let r = run("p", at(secs), baton_model::RunStatus::Success);
            let cache = if i == 2 {
                CacheState::Hit
            } else {
                CacheState::Miss
            };
            beats.push(beat(
                &r,
                0,
                0,
                "build",
                BeatStatus::Success,
                1000 + secs as u64,
                cache,
            ));
            let mut test = beat(&r, 1, 0, "test", BeatStatus::Failure, 50, CacheState::Skip);
            test.input_identity = Some(if i % 2 == 0 {
                "commit:0123abcd".to_owned()
            } else {
                "not-hex".to_owned()
            });
            beats.push(test);
            runs.push(r);
        }
        let other = run("q", at(50), baton_model::RunStatus::Failure);
        beats.push(beat(
            &other,
            0,
            0,
            "build",
            BeatStatus::Timeout,
            7,
            CacheState::Miss,
        ));
        runs.push(other);
        store.record_runs_bulk(&runs).expect("runs");
        store.record_beats_bulk(&beats).expect("beats");
        store
    }

    #[test]
    fn reads_every_record_as_points_oldest_first() {
        let store = store();
        let set = store
            .beat_series(&SeriesQuery {
                identities: true,
                ..SeriesQuery::default()
            })
            .expect("series");
        assert_eq!(set.runs.len(), 5);
        assert!(
            set.runs
                .windows(2)
                .all(|w| w[0].started_at <= w[1].started_at)
        );
        assert_eq!(set.records(), 9);
        let names: Vec<(&str, &str)> = set
            .series
            .iter()
            .map(|s| {
                (
                    set.pipelines[s.pipeline as usize].pipeline_id.as_str(),
                    s.beat.as_str(),
                )
            })
            .collect();
        assert_eq!(names, [("p", "build"), ("p", "test"), ("q", "build")]);
        let build = &set.series[0];
        let durations: Vec<u64> = build.points.iter().map(|p| p.duration_ms).collect();
        assert_eq!(durations, [1000, 1100, 1200, 1300]);
        assert!(build.points[1].restored, "the cache hit");
        assert_eq!(build.points[1].cache_state, CacheState::Hit);
        let test = &set.series[1];
        assert_eq!(test.points[0].status, BeatStatus::Failure);
        let texts: Vec<&str> = test
            .points
            .iter()
            .map(|p| set.identity(p.identity.expect("identity")))
            .collect();
        assert_eq!(
            texts,
            ["not-hex", "commit:0123abcd", "not-hex", "commit:0123abcd"]
        );
        assert_eq!(
            set.identity_count(),
            3,
            "interned (build has one of its own)"
        );
        let q = &set.series[2];
        assert_eq!(
            set.runs[q.points[0].run as usize].label,
            "build-20260101-000050"
        );
    }

    #[test]
    fn a_named_beat_reads_the_same_points_as_the_whole_history() {
        let store = store();
        let all = store
            .beat_series(&SeriesQuery {
                identities: true,
                ..SeriesQuery::default()
            })
            .expect("series");
        for (pipeline, beat) in [("p", "build"), ("p", "test"), ("q", "build")] {
            let named = store
                .beat_series(&SeriesQuery {
                    pipeline: Some(pipeline.to_owned()),
                    beats: vec![beat.to_owned()],
                    identities: true,
                    ..SeriesQuery::default()
                })
                .expect("series");
            assert_eq!(named.series.len(), 1, "{pipeline}/{beat}");
            let whole = all
                .series
                .iter()
                .find(|s| {
                    s.beat == beat && all.pipelines[s.pipeline as usize].pipeline_id == pipeline
                })
                .expect("in the whole read");
            let key = |set: &SeriesSet, series: &BeatSeries| -> Vec<(String, u64, BeatStatus)> {
                series
                    .points
                    .iter()
                    .map(|p| {
                        (
                            set.runs[p.run as usize].label.clone(),
                            p.duration_ms,
                            p.status,
                        )
                    })
                    .collect()
            };
            assert_eq!(
                key(&named, &named.series[0]),
                key(&all, whole),
                "{pipeline}/{beat}"
            );
        }
    }

    #[test]
    fn scope_beats_since_and_last_runs_narrow_the_read() {
        let store = store();
        let set = store
            .beat_series(&SeriesQuery {
                pipeline: Some("p".to_owned()),
                beats: vec!["build".to_owned()],
                since: Some(at(100)),
                ..SeriesQuery::default()
            })
            .expect("series");
        assert_eq!(set.pipelines.len(), 1);
        assert_eq!(set.series.len(), 1);
        assert_eq!(set.series[0].points.len(), 3);
        assert!(set.series[0].points.iter().all(|p| p.identity.is_none()));
        let last = store
            .beat_series(&SeriesQuery {
                last_runs: Some(2),
                ..SeriesQuery::default()
            })
            .expect("series");
        assert_eq!(last.runs.len(), 2);
        assert_eq!(last.records(), 4);
        let none = store
            .beat_series(&SeriesQuery {
                pipeline: Some("nope".to_owned()),
                ..SeriesQuery::default()
            })
            .expect("series");
        assert!(none.series.is_empty() && none.runs.is_empty());
    }

    #[test]
    fn a_small_share_of_the_store_is_read_by_index_with_the_same_result() {
        let store = SqliteStore::open_in_memory().expect("open");
        let mut runs = Vec::new();
        let mut beats = Vec::new();
        for i in 0..20 {
            let pipeline = if i % 10 == 3 { "small" } else { "big" };
            let r = run(pipeline, at(i * 60), baton_model::RunStatus::Success);
            beats.push(beat(
                &r,
                0,
                0,
                "build",
                BeatStatus::Success,
                i as u64,
                CacheState::Miss,
            ));
            runs.push(r);
        }
        store.record_runs_bulk(&runs).expect("runs");
        store.record_beats_bulk(&beats).expect("beats");
        for last_runs in [None, Some(1)] {
            let set = store
                .beat_series(&SeriesQuery {
                    pipeline: Some("small".to_owned()),
                    last_runs,
                    ..SeriesQuery::default()
                })
                .expect("series");
            let durations: Vec<u64> = set.series[0].points.iter().map(|p| p.duration_ms).collect();
            let expected: &[u64] = if last_runs.is_some() { &[13] } else { &[3, 13] };
            assert_eq!(durations, expected);
        }
    }

    /// A beat that fails every third run and is restored every fourth, and one
    /// that always succeeds, over 60 runs; recorded in start order, or (as an
    /// import may) newest batch first.
    fn outcomes_store(recorded_out_of_order: bool) -> SqliteStore {
        let store = SqliteStore::open_in_memory().expect("open");
        let mut batches: Vec<(Vec<baton_model::RunRecord>, Vec<baton_model::BeatRecord>)> =
            Vec::new();
        for batch in 0..3 {
            let (mut runs, mut beats) = (Vec::new(), Vec::new());
            for i in batch * 20..batch * 20 + 20 {
                let r = run("p", at(i * 60), baton_model::RunStatus::Success);
                let status = if i % 3 == 0 {
                    BeatStatus::Failure
                } else {
                    BeatStatus::Success
                };
                let cache = if i % 4 == 0 {
                    CacheState::Hit
                } else {
                    CacheState::Miss
                };
                beats.push(beat(&r, 0, 0, "flappy", status, i as u64, cache));
                beats.push(beat(
                    &r,
                    0,
                    1,
                    "steady",
                    BeatStatus::Success,
                    1000 + i as u64,
                    CacheState::Miss,
                ));
                runs.push(r);
            }
            batches.push((runs, beats));
        }
        if recorded_out_of_order {
            batches.reverse();
        }
        for (runs, beats) in &batches {
            store.record_runs_bulk(runs).expect("runs");
            store.record_beats_bulk(beats).expect("beats");
        }
        store
    }

    #[test]
    fn a_bounded_read_keeps_the_newest_of_each_outcome_and_counts_every_success() {
        for out_of_order in [false, true] {
            let store = outcomes_store(out_of_order);
            let full = store.beat_series(&SeriesQuery::default()).expect("full");
            for n in [0, 1, 3, 7, 100] {
                let bounded = store
                    .beat_series(&SeriesQuery {
                        newest_per_outcome: Some(n),
                        ..SeriesQuery::default()
                    })
                    .expect("bounded");
                assert_eq!(bounded.runs, full.runs);
                let expected: Vec<&BeatSeries> = full.series.iter().filter(|_| n > 0).collect();
                assert_eq!(bounded.series.len(), expected.len(), "n = {n}");
                for (got, whole) in bounded.series.iter().zip(expected) {
                    let what = format!("{} with n = {n} (out of order: {out_of_order})", got.beat);
                    assert_eq!(got.beat, whole.beat);
                    let mut newest: Vec<SeriesPoint> = Vec::new();
                    for status in [BeatStatus::Success, BeatStatus::Failure] {
                        for restored in [false, true] {
                            let all: Vec<SeriesPoint> = whole
                                .points
                                .iter()
                                .filter(|p| p.status == status && p.restored == restored)
                                .copied()
                                .collect();
                            newest.extend_from_slice(&all[all.len().saturating_sub(n)..]);
                        }
                    }
                    newest.sort_by_key(|p| p.run);
                    assert_eq!(got.points, newest, "{what}");
                    let successes = |restored: bool| {
                        whole
                            .points
                            .iter()
                            .filter(|p| p.status == BeatStatus::Success && p.restored == restored)
                            .count()
                    };
                    assert_eq!(got.successes.executed, successes(false), "{what}");
                    assert_eq!(got.successes.restored, successes(true), "{what}");
                    assert_eq!(whole.successes, got.successes, "{what}");
                    let from = got.complete_from;
                    let tail: Vec<&SeriesPoint> =
                        whole.points.iter().filter(|p| p.run >= from).collect();
                    assert!(
                        tail.iter().all(|p| got.points.contains(p)),
                        "{what}: every record from run {from} on"
                    );
                    if got.points.len() < whole.points.len() {
                        assert!(from > 0, "{what}: some were left out");
                    }
                }
            }
        }
    }

    #[test]
    fn a_bounded_read_walks_the_outcome_index() {
        let store = outcomes_store(false);
        let plan = store
            .read(|tx, _| {
                let mut stmt = tx
                    .prepare(
                        "EXPLAIN QUERY PLAN SELECT b.id FROM beats b \
                         WHERE b.series = 1 AND b.status = 0 AND b.restored = 0 \
                         ORDER BY b.id DESC",
                    )
                    .expect("explain");
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(3))
                    .expect("plan")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("plan rows");
                Ok(rows.join("; "))
            })
            .expect("plan");
        assert!(plan.contains("beats_by_outcome"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
    }

    #[test]
    fn commits_are_read_for_the_runs_asked() {
        let store = store();
        let set = store.beat_series(&SeriesQuery::default()).expect("series");
        let ids: Vec<uuid::Uuid> = set.runs.iter().take(2).map(|r| r.run_id).collect();
        let commits = store.run_commits(&ids).expect("commits");
        assert_eq!(commits.len(), 2);
        assert!(commits.values().all(|c| c == "0123abc"));
        assert!(
            store
                .run_commits(&[uuid::Uuid::nil()])
                .expect("none")
                .is_empty()
        );
    }
}
