//! [`SqliteStore`]: the default [`HistoryStore`], one SQLite file in WAL mode.
//!
//! Each store owns one connection behind a mutex. Every write is one `BEGIN
//! IMMEDIATE` transaction (the write lock is taken up front, so a writer waits on
//! `busy_timeout` instead of failing on a lock upgrade); `SQLITE_BUSY` that escapes
//! the busy handler (the WAL set-up race when many processes open a new file) is
//! retried with backoff until [`LOCK_WAIT`] has passed.

mod checkpoint;
mod codec;
mod read;
mod schema;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use baton_model::{ArtifactManifest, BeatHistory, BeatRecord, RunRecord};
use jiff::Timestamp;
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

/// The SQLite history store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Started by the first bulk insert into a file (see [`checkpoint`]).
    checkpointer: Mutex<Option<checkpoint::Checkpointer>>,
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
        autocheckpoint(1_000);
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
    }

    /// A store left at each earlier schema version (0 is a new, empty file) opens,
    /// migrates to the current version and keeps its data.
    ///
    /// The data of version >= 1 is written with today's write path, which touches
    /// only version-1 tables; a migration that changes those needs a raw fixture here.
    #[test]
    fn migrates_from_every_earlier_version() {
        for from in 0..SCHEMA_VERSION {
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
                schema::migrate_to(&mut conn, from).expect("old schema");
                assert_eq!(schema::current_version(&conn).expect("version"), from);
                if from >= 1 {
                    let tx = conn.transaction().expect("tx");
                    write::upsert_runs(&tx, std::slice::from_ref(&r)).expect("run");
                    write::insert_beats(&tx, std::slice::from_ref(&b), false).expect("beat");
                    tx.commit().expect("commit");
                }
            }
            let store = SqliteStore::open(&path).expect("open and migrate");
            assert_eq!(
                store.schema_version().expect("version"),
                SCHEMA_VERSION,
                "from v{from}"
            );
            let loaded = store.load_run(&RunSelector::Latest).expect("load");
            if from == 0 {
                assert!(loaded.is_none());
                continue;
            }
            assert_eq!(
                loaded,
                Some((r.clone(), vec![b.clone()])),
                "data kept from v{from}"
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
