//! [`SqliteStore`]: the default [`HistoryStore`], one SQLite file in WAL mode.
//!
//! Each store owns one connection behind a mutex. Every write is one `BEGIN
//! IMMEDIATE` transaction (the write lock is taken up front, so a writer waits on
//! `busy_timeout` instead of failing on a lock upgrade); `SQLITE_BUSY` that escapes
//! the busy handler (the WAL set-up race when many processes open a new file) is
//! retried with backoff until [`LOCK_WAIT`] has passed.
//!
//! The WAL outlives the process: a store does not checkpoint when it closes (see
//! [`WAL_AUTOCHECKPOINT_PAGES`]).

mod checkpoint;
mod codec;
mod read;
mod schema;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use baton_model::{ArtifactManifest, BeatHistory, BeatOutcome, BeatRecord, RunRecord};
use jiff::Timestamp;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use uuid::Uuid;

pub use schema::SCHEMA_VERSION;

use crate::api::{
    GcPolicy, HistoryStore, PipelineInfo, RunFilter, RunSelector, RunSummary, ShapeAnnotation,
    ShapeEvolution, ShapeTarget,
};
use crate::error::SqlContext;
use crate::{Result, StoreError};

/// How long a writer waits for another one before giving up ("locked beyond 5 s").
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How many WAL frames a commit lets accumulate before it copies them back into the
/// database (SQLite's `wal_autocheckpoint`, 1,000 by default): 2 MiB at 16 KiB pages,
/// about three `baton run`s of 34 beats.
///
/// Why so few: a store does not checkpoint on close (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`),
/// so the WAL, and the `-shm` file, stay behind for the next process. Closing used to
/// cost a `baton run` 2-3 ms (fsync of the WAL and of the database, unlink of `-wal`
/// and `-shm`) and its first write another ~1 ms (a new WAL: header fsync and a
/// directory fsync); now neither happens on most runs, and one commit in every few
/// runs pays for the checkpoint. The price is at open: the first connection rebuilds
/// the WAL index by reading every frame (~0.35 ms per MiB here), which this bound keeps
/// to ~1 ms at worst. Net (examples/open_close.rs, ext4): open + 34 beats + close
/// 5.2-6.1 -> 3.2-3.9 ms median. Committed rows are as safe as before: they are in
/// the WAL, which every reader and the next checkpoint see, whether the process exits
/// or is killed (synchronous = NORMAL: a power cut can lose the last commits, as it
/// always could mid-run, now also just after a run; the database stays consistent).
/// `history.db` alone, without its `-wal`, may lack the latest runs: copy both.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 128;

/// A WAL bigger than this when a store closes (left by a bulk insert, a `gc` or a
/// migration) is checkpointed and truncated then, if no other connection is busy
/// with it, so the next open does not read it all. Also the `journal_size_limit`:
/// the size a WAL that grew past it is cut back to when it is next reused.
const WAL_KEEP_BYTES: i64 = 4 << 20;

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
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEEP_BYTES.unsigned_abs()) {
            let conn = self.lock();
            // Without a busy handler the checkpoint gives up at once (it stays
            // PASSIVE or leaves the WAL alone) if another process is writing or
            // reading an older snapshot; that process's own close will try again.
            let _ = conn.busy_timeout(Duration::ZERO);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
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

    fn connect(path: &Path) -> Result<Connection> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(LOCK_WAIT).map_err(open_err)?;
        // 16 KiB pages for a new file (ignored for an existing one): a third fewer
        // page splits and WAL frames per bulk insert than 4 KiB.
        conn.pragma_update(None, "page_size", 16_384)
            .map_err(open_err)?;
        // Switching to WAL needs a brief exclusive lock; the mode is persistent, so
        // only the first opener of a new file really changes it.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal {
                path: path.to_owned(),
                mode,
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        // Statement journals and sorts in memory, not in temporary files; a page
        // cache (grown only as used) that holds a bulk insert's working set.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(32);
        // Leave the WAL for the next process instead of checkpointing (and deleting
        // it) on close: see WAL_AUTOCHECKPOINT_PAGES. Not checkpointing is what keeps
        // the file (SQLITE_FCNTL_PERSIST_WAL only matters to a close that checkpoints,
        // and alone it would leave already-copied frames for the next open to read).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)
            .map_err(open_err)?;
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

/// Retry `f` while it fails with BUSY/LOCKED, with growing sleeps, for [`LOCK_WAIT`].
fn retry_busy<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut delay = Duration::from_millis(2);
    loop {
        match f() {
            Err(e) if e.is_busy() && Instant::now() < deadline => {
                // A little jitter keeps processes that collided from colliding again.
                let jitter = u64::from(Timestamp::now().subsec_nanosecond().unsigned_abs() % 5);
                std::thread::sleep(delay + Duration::from_millis(jitter));
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
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

    fn finish_run(&self, run: &RunRecord) -> Result<()> {
        self.write(|tx| write::upsert_runs(tx, std::slice::from_ref(run)))
    }

    fn record_runs_bulk(&self, runs: &[RunRecord]) -> Result<()> {
        self.write(|tx| write::upsert_runs(tx, runs))
    }

    fn record_beats_bulk(&self, beats: &[BeatRecord]) -> Result<()> {
        let mut checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if checkpointer.is_none() && self.path != Path::new(":memory:") {
            *checkpointer = checkpoint::Checkpointer::start(&self.path);
        }
        let Some(background) = checkpointer.as_ref() else {
            return self.write(|tx| write::insert_beats(tx, beats, false));
        };
        // The writer does not stop to checkpoint during the insert; the background
        // thread copies the WAL back while the next batch is inserted.
        let autocheckpoint = |pages: i64| {
            let _ = self.lock().pragma_update(None, "wal_autocheckpoint", pages);
        };
        autocheckpoint(0);
        let result = self.write(|tx| write::insert_beats(tx, beats, false));
        autocheckpoint(WAL_AUTOCHECKPOINT_PAGES);
        background.request();
        result
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
        self.read(|tx, _| read::shape_evolutions(tx, pipeline_id))
    }

    fn gc(&self, policy: &GcPolicy) -> Result<Vec<RunRecord>> {
        let now = Timestamp::now();
        self.write(|tx| write::gc(tx, policy, now))
    }

    fn pipelines(&self) -> Result<Vec<PipelineInfo>> {
        self.read(|tx, _| read::pipelines(tx))
    }
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState, RunStatus};

    use super::*;
    use crate::test_records::{at, beat, run};

    fn is_send_sync<T: Send + Sync>() {}

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
    /// The data of version >= 1 is written with today's write path, which touches
    /// only version-1 tables; a migration that changes those needs a raw fixture here.
    ///
    /// Each version is tried twice: with the old data checkpointed into the database
    /// file, and with it still in a WAL left behind (as a store leaves it).
    #[test]
    fn migrates_from_every_earlier_version() {
        for (from, left_in_wal) in (0..SCHEMA_VERSION).flat_map(|v| [(v, false), (v, true)]) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("history.db");
            let r = run("p", at(0), RunStatus::Success);
            let b = beat(
                &r,
                0,
                0,
                "build",
                BeatStatus::Success,
                1_500,
                CacheState::Hit,
            );
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
                    let tx = conn.transaction().expect("tx");
                    write::upsert_runs(&tx, std::slice::from_ref(&r)).expect("run");
                    write::insert_beats(&tx, std::slice::from_ref(&b), false).expect("beat");
                    tx.commit().expect("commit");
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
            assert_eq!(
                loaded,
                Some((r.clone(), vec![b.clone()])),
                "data kept from v{from} (left in the WAL: {left_in_wal})"
            );
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
