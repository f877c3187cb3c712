//! [`beat_series`]: every beat record of a scope as compact series, and
//! [`run_commits`], the commits of the few runs a report names.
//!
//! The runs of the scope are read first (by index, newest first, then put oldest
//! first), then their beats, reading only the columns the analyses use (never the
//! `extra` JSON). Beats come either from one pass over the whole beats table in row
//! id order (when the scope holds at least half the runs of the store: a sequential
//! read beats a seek per run) or run by run, each run's beats being one row id range
//! (`run << 20 | series`). Input identities are interned on their stored bytes and
//! turned into text once each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use baton_model::RunStatus;
use rusqlite::Transaction;
use rusqlite::types::{Value, ValueRef};
use uuid::Uuid;

use super::codec::{self, SERIES_BITS, beat_status, cache_state, identity_from_sql, ts_from_sql};
use crate::error::SqlContext;
use crate::series::{BeatSeries, SeriesPipeline, SeriesPoint, SeriesQuery, SeriesRun, SeriesSet};
use crate::{Result, StoreError};

/// The beat columns read, in this order; the identity last, only when asked for.
/// Status, cache state and the restored flag come packed in one integer (fewer
/// columns to fetch per row: a million rows are read).
const POINT_COLUMNS: &str = "b.id, b.started_at, b.duration_ms, \
     b.status | (b.cache_state << 8) | ((b.restored != 0) << 16)";

/// A series slot that is not wanted.
const UNWANTED: u32 = u32::MAX;

pub(crate) fn beat_series(tx: &Transaction<'_>, query: &SeriesQuery) -> Result<SeriesSet> {
    let mut set = SeriesSet::default();
    let run_rows = read_runs(tx, query, &mut set)?;
    if set.runs.is_empty() {
        return Ok(set);
    }
    let slots = read_series(tx, query, &mut set)?;
    if set.series.is_empty() {
        return Ok(set);
    }
    // At most one record per run: reserving that much up front spares the copies
    // of growing (pages never written are never touched).
    let mut runs_of = vec![0usize; set.pipelines.len()];
    for run in &set.runs {
        runs_of[run.pipeline as usize] += 1;
    }
    for series in &mut set.series {
        series
            .points
            .reserve_exact(runs_of[series.pipeline as usize]);
    }
    let mut reader = PointReader {
        slots: &slots,
        run_index: run_rows
            .iter()
            .enumerate()
            .map(|(i, &row)| (row, i as u32))
            .collect(),
        last_run: None,
        identities: HashMap::default(),
        key: Vec::new(),
        with_identities: query.identities,
    };
    let columns = if query.identities {
        format!("{POINT_COLUMNS}, b.input_identity")
    } else {
        POINT_COLUMNS.to_owned()
    };
    let action = || "read the beats of the history".to_owned();
    let total_runs: i64 = tx
        .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
        .ctx(action)?;
    if 2 * run_rows.len() as i64 >= total_runs {
        let mut stmt = tx
            .prepare(&format!("SELECT {columns} FROM beats b"))
            .ctx(action)?;
        let mut rows = stmt.query([]).ctx(action)?;
        while let Some(row) = rows.next().ctx(action)? {
            reader.read(row, &mut set)?;
        }
    } else {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {columns} FROM beats b WHERE {}",
                codec::beats_of_run(1)
            ))
            .ctx(action)?;
        for &run in &run_rows {
            let mut rows = stmt.query([run]).ctx(action)?;
            while let Some(row) = rows.next().ctx(action)? {
                reader.read(row, &mut set)?;
            }
        }
    }
    // Row id order is the order runs were recorded; imports may record them in any
    // order. Mostly sorted already, so the stable sort is close to linear.
    for series in &mut set.series {
        series.points.sort_by_key(|p| p.run);
    }
    set.series.retain(|s| !s.points.is_empty());
    Ok(set)
}

/// The runs of the scope into `set.runs` (oldest first) and `set.pipelines`;
/// returns their row ids, in the same order.
fn read_runs(tx: &Transaction<'_>, query: &SeriesQuery, set: &mut SeriesSet) -> Result<Vec<i64>> {
    let action = || "read the runs of the history".to_owned();
    let mut sql = "SELECT id, run_id, label, pipeline_id, pipeline_name, status, started_at, \
                   finished_at FROM runs WHERE 1 = 1"
        .to_owned();
    let mut values: Vec<Value> = Vec::new();
    if let Some(pipeline) = &query.pipeline {
        values.push(Value::Text(pipeline.clone()));
        sql += &format!(" AND pipeline_id = ?{}", values.len());
    }
    if let Some(since) = query.since {
        values.push(Value::Integer(codec::ts_to_sql(since)?));
        sql += &format!(" AND started_at >= ?{}", values.len());
    }
    sql += " ORDER BY started_at DESC, id DESC";
    if let Some(limit) = query.last_runs {
        values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql += &format!(" LIMIT ?{}", values.len());
    }
    let mut stmt = tx.prepare(&sql).ctx(action)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values)).ctx(action)?;
    let mut pipelines: HashMap<String, u32> = HashMap::new();
    let mut row_ids = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let pipeline_id: String = row.get(3).ctx(action)?;
        let pipeline = match pipelines.get(&pipeline_id) {
            Some(&index) => index,
            None => {
                // Newest first: the first run seen names the pipeline.
                let index = set.pipelines.len() as u32;
                set.pipelines.push(SeriesPipeline {
                    pipeline_id: pipeline_id.clone(),
                    name: row.get(4).ctx(action)?,
                });
                pipelines.insert(pipeline_id, index);
                index
            }
        };
        let run_id: String = row.get(1).ctx(action)?;
        let status: String = row.get(5).ctx(action)?;
        let finished_at: Option<i64> = row.get(7).ctx(action)?;
        set.runs.push(SeriesRun {
            run_id: Uuid::parse_str(&run_id)
                .map_err(|_| StoreError::corrupt(format!("run id '{run_id}'")))?,
            label: row.get(2).ctx(action)?,
            pipeline,
            started_at: ts_from_sql(row.get(6).ctx(action)?)?,
            finished_at: finished_at.map(ts_from_sql).transpose()?,
            status: status
                .parse::<RunStatus>()
                .map_err(|_| StoreError::corrupt(format!("run status '{status}'")))?,
        });
        row_ids.push(row.get(0).ctx(action)?);
    }
    set.runs.reverse();
    row_ids.reverse();
    Ok(row_ids)
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

/// Turns beat rows into points of their series.
struct PointReader<'a> {
    slots: &'a [u32],
    /// Run row id to its index in the set.
    run_index: HashMap<i64, u32>,
    /// The run of the previous row (rows come run by run).
    last_run: Option<(i64, Option<u32>)>,
    /// Stored identity bytes (a tag byte, then the blob or text) to their index.
    identities: HashMap<Box<[u8]>, u32, BuildHasherDefault<FoldHasher>>,
    /// Reused for looking identities up.
    key: Vec<u8>,
    with_identities: bool,
}

impl PointReader<'_> {
    fn read(&mut self, row: &rusqlite::Row<'_>, set: &mut SeriesSet) -> Result<()> {
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
            self.identity(row.get_ref(4).ctx(action)?, set)?
        } else {
            None
        };
        let packed: i64 = row.get(3).ctx(action)?;
        set.series[slot as usize].points.push(SeriesPoint {
            run,
            started_at: ts_from_sql(row.get(1).ctx(action)?)?,
            duration_ms: u64::try_from(duration)
                .map_err(|_| StoreError::corrupt(format!("a beat's duration {duration}")))?,
            status: beat_status::decode(packed & 0xff)?,
            cache_state: cache_state::decode((packed >> 8) & 0xff)?,
            restored: packed >> 16 != 0,
            identity,
        });
        Ok(())
    }

    fn identity(&mut self, value: ValueRef<'_>, set: &mut SeriesSet) -> Result<Option<u32>> {
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
        if let Some(&index) = self.identities.get(self.key.as_slice()) {
            return Ok(Some(index));
        }
        let Some(text) = identity_from_sql(value)? else {
            return Ok(None);
        };
        let index = set.push_identity(&text);
        self.identities
            .insert(self.key.clone().into_boxed_slice(), index);
        Ok(Some(index))
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

    use crate::series::SeriesQuery;
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
