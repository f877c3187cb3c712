//! [`SqliteStore`]: the default [`HistoryStore`], one SQLite file in WAL mode.
//!
//! Each store owns one connection behind a mutex. Every write is one `BEGIN
//! IMMEDIATE` transaction (the write lock is taken up front, so a writer waits on
//! `busy_timeout` instead of failing on a lock upgrade); `SQLITE_BUSY` that escapes
//! the busy handler (the WAL set-up race when many processes open a new file) is
//! retried with backoff until [`LOCK_WAIT`] has passed.
//!
//! The connection's pragmas are baton's common ones ([`baton_sqlite`]) with this
//! store's [`TUNING`]. The WAL outlives the process: a store does not checkpoint when
//! it closes (see [`WAL_AUTOCHECKPOINT_PAGES`]).

mod checkpoint;
mod codec;
mod exchange;
mod read;
mod schema;
mod series;
mod write;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use baton_model::{ArtifactManifest, BeatHistory, BeatOutcome, BeatRecord, RunRecord, RunStatus};
use jiff::Timestamp;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use uuid::Uuid;

pub use schema::SCHEMA_VERSION;

use crate::api::{
    GcPolicy, HistoryStore, PipelineInfo, PreviousShape, RunCursor, RunFilter, RunPage,
    RunPageFilter, RunSelector, RunSummary, ShapeAnnotation, ShapeEvolution, ShapeTarget,
};
use crate::error::SqlContext;
use crate::series::{SeriesQuery, SeriesSet};
use crate::{Result, StoreError};

/// How long a writer waits for another one before giving up ("locked beyond 5 s"):
/// [`baton_sqlite::BUSY_TIMEOUT`], the same for every baton database.
pub const LOCK_WAIT: Duration = baton_sqlite::BUSY_TIMEOUT;

/// How many WAL frames a commit lets accumulate before it copies them back into the
/// database: 2 MiB at 16 KiB pages, about three `baton run`s of 34 beats (why so
/// few: see [`baton_sqlite`], which leaves the WAL for the next process).
///
/// Measured (examples/open_close.rs, ext4): not checkpointing on close took open +
/// 34 beats + close from 5.2-6.1 to 3.2-3.9 ms median; one commit in every few runs
/// pays for the checkpoint, and this bound keeps the next open's reading of the WAL
/// (~0.35 ms per MiB) to ~1 ms at worst. `history.db` alone, without its `-wal`, may
/// lack the latest runs: copy both.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 128;

/// The history store's settings beside baton's common pragmas: 16 KiB pages for a
/// new file (a third fewer page splits and WAL frames per bulk insert than 4 KiB).
const TUNING: baton_sqlite::Tuning = baton_sqlite::Tuning {
    wal_autocheckpoint_pages: WAL_AUTOCHECKPOINT_PAGES,
    page_size: Some(16_384),
};

/// The SQLite history store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Started by the first bulk insert into a file (see [`checkpoint`]).
    checkpointer: Mutex<Option<checkpoint::Checkpointer>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.path == Path::new(":memory:") {
            return;
        }
        // The background checkpointer finishes first, so that it does not hold the
        // WAL while it is truncated.
        drop(
            self.checkpointer
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        baton_sqlite::truncate_big_wal(&self.lock(), &self.path);
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating it and its directory if needed) the store at `path`, normally
    /// `.baton/history.db`, and bring its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = retry_busy(|| Self::connect(path))?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            checkpointer: Mutex::new(None),
        })
    }

    /// A private store in memory, for tests of the crates that use one.
    pub fn open_in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        schema::migrate_to(&mut conn, SCHEMA_VERSION)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
            checkpointer: Mutex::new(None),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (after opening: [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<u32> {
        schema::current_version(&self.lock()).ctx(|| "read the schema version".into())
    }

    /// SQLite's `PRAGMA quick_check`: empty when the file is sound, else what is
    /// wrong (at most 20 lines), for `baton doctor`.
    pub fn quick_check(&self) -> Result<Vec<String>> {
        let action = || "check the history's integrity".to_owned();
        let conn = self.lock();
        let mut stmt = conn.prepare("PRAGMA quick_check(20)").ctx(action)?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .ctx(action)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .ctx(action)?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    fn connect(path: &Path) -> Result<Connection> {
        let mut conn = baton_sqlite::open(path, &TUNING).map_err(|e| match e {
            baton_sqlite::OpenError::Sqlite(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            baton_sqlite::OpenError::NotWal(mode) => StoreError::NotWal {
                path: path.to_owned(),
                mode,
            },
        })?;
        conn.set_prepared_statement_cache_capacity(32);
        schema::migrate_to(&mut conn, SCHEMA_VERSION)?;
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction (rolled back): the
        // connection itself is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction, retried as a whole on BUSY.
    fn write<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        retry_busy(|| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| "start a write transaction".into())?;
            let out = f(&tx)?;
            tx.commit().ctx(|| "commit to the history store".into())?;
            Ok(out)
        })
    }

    /// [`SqliteStore::write`] for a bulk insert: the writer does not stop to
    /// checkpoint during it; a background thread copies the WAL back while the next
    /// batch is inserted.
    fn write_bulk<T>(&self, f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if checkpointer.is_none() && self.path != Path::new(":memory:") {
            *checkpointer = checkpoint::Checkpointer::start(&self.path);
        }
        let Some(background) = checkpointer.as_ref() else {
            return self.write(f);
        };
        let autocheckpoint = |pages: i64| {
            let _ = self.lock().pragma_update(None, "wal_autocheckpoint", pages);
        };
        autocheckpoint(0);
        let result = self.write(f);
        autocheckpoint(WAL_AUTOCHECKPOINT_PAGES);
        background.request();
        result
    }

    /// Run `f` in one read transaction (one consistent snapshot for all its
    /// queries), retried on BUSY like writes (a reader can meet WAL recovery).
    fn read<T>(&self, mut f: impl FnMut(&Transaction<'_>, Timestamp) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        retry_busy(|| {
            let tx = conn
                .transaction()
                .ctx(|| "start a read transaction".into())?;
            // Nothing to commit: dropping the transaction ends it.
            f(&tx, Timestamp::now())
        })
    }
}

/// Retry `f` while it fails with BUSY/LOCKED, for [`LOCK_WAIT`].
fn retry_busy<T>(f: impl FnMut() -> Result<T>) -> Result<T> {
    baton_sqlite::retry_while_busy(StoreError::is_busy, f)
}

impl HistoryStore for SqliteStore {
    fn save_artifacts(&self, manifest: &ArtifactManifest) -> Result<()> {
        self.write(|tx| write::save_artifacts(tx, manifest))
    }

    fn load_artifacts(&self, run_id: Uuid) -> Result<Option<ArtifactManifest>> {
        self.read(|tx, _| write::load_artifacts(tx, run_id))
    }

    fn begin_run(&self, run: &RunRecord) -> Result<()> {
        self.write(|tx| write::upsert_runs(tx, std::slice::from_ref(run)))
    }

    fn heartbeat(&self, run_id: Uuid, at: Timestamp) -> Result<()> {
        self.write(|tx| write::heartbeat(tx, run_id, at))
    }

    fn record_beat(&self, beat: &BeatRecord) -> Result<()> {
        self.write(|tx| write::insert_beats(tx, std::slice::from_ref(beat), true))
    }

    fn record_beats(&self, beats: &[BeatRecord]) -> Result<()> {
        self.write(|tx| write::insert_beats(tx, beats, true))
    }

    fn finish_run(&self, run: &RunRecord) -> Result<()> {
        self.write(|tx| write::upsert_runs(tx, std::slice::from_ref(run)))
    }

    fn record_runs_bulk(&self, runs: &[RunRecord]) -> Result<()> {
        self.write(|tx| write::upsert_runs(tx, runs))
    }

    fn record_beats_bulk(&self, beats: &[BeatRecord]) -> Result<()> {
        self.write_bulk(|tx| write::insert_beats(tx, beats, false))
    }

    fn beat_history_hints(
        &self,
        pipeline_id: &str,
        beat_names: &[&str],
    ) -> Result<HashMap<String, BeatHistory>> {
        self.read(|tx, _| read::hints(tx, pipeline_id, beat_names))
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        self.read(|tx, now| read::list_runs(tx, filter, now))
    }

    fn load_run(&self, selector: &RunSelector) -> Result<Option<(RunRecord, Vec<BeatRecord>)>> {
        self.read(|tx, now| read::load_run(tx, selector, now))
    }

    fn beat_runs(
        &self,
        pipeline_id: Option<&str>,
        beat: &str,
        limit: usize,
    ) -> Result<Vec<BeatRecord>> {
        self.read(|tx, _| read::beat_runs(tx, pipeline_id, beat, limit))
    }

    fn beat_outcomes(
        &self,
        pipeline_id: &str,
        beat: &str,
        limit: usize,
    ) -> Result<Vec<BeatOutcome>> {
        self.read(|tx, _| read::beat_outcomes(tx, pipeline_id, beat, limit))
    }

    fn previous_shapes(
        &self,
        pipeline_id: &str,
        wanted: &[PreviousShape<'_>],
        per_beat: usize,
    ) -> Result<HashMap<String, String>> {
        self.read(|tx, _| read::previous_shapes(tx, pipeline_id, wanted, per_beat))
    }

    fn annotate_shape(
        &self,
        pipeline_id: Option<&str>,
        beat: &str,
        target: &ShapeTarget,
        reason: &str,
        at: Timestamp,
    ) -> Result<ShapeAnnotation> {
        let now = Timestamp::now();
        self.write(|tx| write::annotate_shape(tx, pipeline_id, beat, target, reason, at, now))
    }

    fn shape_evolutions(&self, pipeline_id: Option<&str>) -> Result<Vec<ShapeEvolution>> {
        self.read(|tx, _| read::shape_evolutions(tx, pipeline_id, None))
    }

    fn beat_shape_evolutions(&self, pipeline_id: &str, beat: &str) -> Result<Vec<ShapeEvolution>> {
        self.read(|tx, _| read::shape_evolutions(tx, Some(pipeline_id), Some(beat)))
    }

    fn gc(&self, policy: &GcPolicy) -> Result<Vec<RunRecord>> {
        let now = Timestamp::now();
        self.write(|tx| write::gc(tx, policy, now))
    }

    fn pipelines(&self) -> Result<Vec<PipelineInfo>> {
        self.read(|tx, _| read::pipelines(tx))
    }

    fn beat_series(&self, query: &SeriesQuery) -> Result<SeriesSet> {
        // A big scan reads half of its rows on a connection of its own.
        let open = || Self::connect(&self.path);
        let second: Option<series::OpenConnection<'_>> =
            (self.path != Path::new(":memory:")).then_some(&open);
        self.read(|tx, _| series::beat_series(tx, query, second))
    }

    fn run_commits(&self, run_ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
        self.read(|tx, _| series::run_commits(tx, run_ids))
    }

    fn runs_page(
        &self,
        filter: &RunPageFilter,
        after: Option<RunCursor>,
        limit: usize,
    ) -> Result<RunPage> {
        self.read(|tx, now| exchange::runs_page(tx, filter, after, limit, now))
    }

    fn import_runs(&self, runs: &[RunRecord], beats: &[BeatRecord]) -> Result<HashSet<Uuid>> {
        self.write_bulk(|tx| exchange::import_runs(tx, runs, beats))
    }

    fn join_run(&self, run: &RunRecord) -> Result<(RunRecord, Vec<BeatRecord>)> {
        self.write(|tx| {
            let selector = RunSelector::Id(run.run_id.hyphenated().to_string());
            let (stored, beats) = match read::load_run(tx, &selector, run.heartbeat_at)? {
                // An id prefix may name another run: only the same id joins.
                Some((mut stored, beats)) if stored.run_id == run.run_id => {
                    stored.status = RunStatus::Running;
                    stored.finished_at = None;
                    stored.heartbeat_at = run.heartbeat_at.max(stored.heartbeat_at);
                    (stored, beats)
                }
                _ => (run.clone(), Vec::new()),
            };
            write::upsert_runs(tx, std::slice::from_ref(&stored))?;
            Ok((stored, beats))
        })
    }

    fn close_run(
        &self,
        run_id: Uuid,
        at: Timestamp,
    ) -> Result<Option<(RunRecord, Vec<BeatRecord>)>> {
        self.write(|tx| {
            let selector = RunSelector::Id(run_id.hyphenated().to_string());
            let Some((mut run, beats)) =
                read::load_run(tx, &selector, at)?.filter(|(stored, _)| stored.run_id == run_id)
            else {
                return Ok(None);
            };
            run.status = crate::api::worst_status(&beats);
            run.finished_at = Some(at);
            run.heartbeat_at = at.max(run.heartbeat_at);
            write::upsert_runs(tx, std::slice::from_ref(&run))?;
            Ok(Some((run, beats)))
        })
    }
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState, RunStatus};
    use rusqlite::config::DbConfig;

    use super::*;
    use crate::test_records::{at, beat, run};

    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_sound_store_passes_its_quick_check() {
        let store = SqliteStore::open_in_memory().expect("open");
        assert!(store.quick_check().expect("check").is_empty());
    }

    #[test]
    fn the_store_is_shareable_and_the_trait_object_safe() {
        is_send_sync::<SqliteStore>();
        let store: Box<dyn HistoryStore> = Box::new(SqliteStore::open_in_memory().expect("open"));
        assert!(store.pipelines().expect("pipelines").is_empty());
    }

    #[test]
    fn opens_in_wal_mode_with_the_documented_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("h.db")).expect("open");
        let conn = store.lock();
        let get = |pragma: &str| -> String {
            conn.query_row(&format!("PRAGMA {pragma}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .expect("pragma")
        };
        assert_eq!(get("journal_mode"), "Text(\"wal\")");
        assert_eq!(get("synchronous"), "Integer(1)", "NORMAL");
        assert_eq!(get("foreign_keys"), "Integer(1)");
        assert_eq!(get("busy_timeout"), "Integer(5000)");
        assert_eq!(get("wal_autocheckpoint"), "Integer(128)");
        assert_eq!(get("journal_size_limit"), "Integer(4194304)");
        assert!(
            conn.db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE)
                .expect("db config"),
            "no checkpoint on close"
        );
    }

    /// A store left at each earlier schema version (0 is a new, empty file) opens,
    /// migrates to the current version and keeps its data.
    ///
    /// The data of version >= 1 is written with today's write path into a current
    /// database, then copied into the old one column by column, leaving out the
    /// columns later versions added (v4: a beat's input identity and restored flag,
    /// which read back as none and as "restored when it was a cache hit"; v5: its
    /// attempts, and v6: its tests that passed on a rerun, both backfilled from the
    /// record; v7 adds an index only).
    ///
    /// Each version is tried twice: with the old data checkpointed into the database
    /// file, and with it still in a WAL left behind (as a store leaves it).
    #[test]
    fn migrates_from_every_earlier_version() {
        for (from, left_in_wal) in (0..SCHEMA_VERSION).flat_map(|v| [(v, false), (v, true)]) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("history.db");
            let r = run("p", at(0), RunStatus::Success);
            let mut b = BeatRecord {
                attempts: 3,
                ..beat(
                    &r,
                    0,
                    0,
                    "build",
                    BeatStatus::Success,
                    1_500,
                    CacheState::Hit,
                )
            };
            b.metrics.insert("tests_flaky".to_owned(), 2.0);
            {
                let mut conn = Connection::open(&path).expect("raw open");
                if left_in_wal {
                    conn.pragma_update(None, "journal_mode", "WAL")
                        .expect("wal");
                    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                        .expect("no checkpoint on close");
                }
                schema::migrate_to(&mut conn, from).expect("old schema");
                assert_eq!(schema::current_version(&conn).expect("version"), from);
                if from >= 1 {
                    let scratch = dir.path().join("scratch.db");
                    let mut current = Connection::open(&scratch).expect("scratch");
                    schema::migrate_to(&mut current, SCHEMA_VERSION).expect("schema");
                    let tx = current.transaction().expect("tx");
                    write::upsert_runs(&tx, std::slice::from_ref(&r)).expect("run");
                    write::insert_beats(&tx, std::slice::from_ref(&b), false).expect("beat");
                    tx.commit().expect("commit");
                    drop(current);
                    let mut beat_columns = "id, movement_index, movement, beat_index, \
                        started_at, status, duration_ms, cpu_user_ms, cpu_sys_ms, \
                        peak_rss_bytes, cache_state, sla_status, shape_hash, prev_shape_hash, \
                        evolved, extra"
                        .to_owned();
                    if from >= 4 {
                        beat_columns.push_str(", input_identity, restored");
                    }
                    if from >= 5 {
                        beat_columns.push_str(", attempts");
                    }
                    if from >= 6 {
                        beat_columns.push_str(", tests_flaky");
                    }
                    conn.execute_batch(&format!(
                        "ATTACH '{}' AS scratch;
                         INSERT INTO runs SELECT * FROM scratch.runs;
                         INSERT INTO series SELECT * FROM scratch.series;
                         INSERT INTO beats ({beat_columns})
                             SELECT {beat_columns} FROM scratch.beats;
                         DETACH scratch;",
                        scratch.display()
                    ))
                    .expect("copy into the old schema");
                }
            }
            let wal = dir.path().join("history.db-wal");
            assert_eq!(
                std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
                left_in_wal && from >= 1,
                "v{from}: WAL left behind (version 0 writes nothing)"
            );
            let store = SqliteStore::open(&path).expect("open and migrate");
            assert_eq!(
                store.schema_version().expect("version"),
                SCHEMA_VERSION,
                "from v{from} (left in the WAL: {left_in_wal})"
            );
            let loaded = store.load_run(&RunSelector::Latest).expect("load");
            if from == 0 {
                assert!(loaded.is_none());
                continue;
            }
            let expected = if from >= 4 {
                b.clone()
            } else {
                BeatRecord {
                    input_identity: None,
                    restored: b.cache_state == CacheState::Hit,
                    ..b.clone()
                }
            };
            assert_eq!(
                loaded,
                Some((r.clone(), vec![expected])),
                "data kept from v{from} (left in the WAL: {left_in_wal})"
            );
            // The attempts column (v5) holds what the record says.
            let series = store
                .beat_series(&crate::SeriesQuery::default())
                .expect("series");
            assert_eq!(series.series[0].points[0].attempts, 3, "from v{from}");
            // So does the tests_flaky column (v6).
            assert!(series.series[0].points[0].tests_flaky, "from v{from}");
            // The outcome index (v7) serves a bounded read, with the same point.
            let newest = store
                .beat_series(&crate::SeriesQuery {
                    newest_per_outcome: Some(1),
                    ..crate::SeriesQuery::default()
                })
                .expect("bounded series");
            assert_eq!(newest.series, series.series, "from v{from}");
            // Tables of later versions work.
            store
                .annotate_shape(
                    None,
                    "build",
                    &ShapeTarget::Hash(b.shape.hash.clone()),
                    "x",
                    at(9),
                )
                .expect("annotate after migrating");
        }
    }
}
