//! `.baton/cache/index.db`: the cache's own small SQLite database.
//!
//! Opened like every baton database ([`baton_sqlite`]: WAL mode, a busy timeout,
//! the WAL left for the next process) with this index's `TUNING`; with
//! `BEGIN IMMEDIATE` writes that makes it safe for several baton processes at once. The schema is versioned by `PRAGMA user_version` and
//! migrated in order, inside one immediate transaction, by whoever opens it first;
//! a database newer than this baton is refused (the caller runs without cache).
//!
//! Tables:
//! - `stat`: the stat cache (absolute path -> stat and BLAKE3).
//! - `entries`: one row per stored entry (key, beat, pipeline, created, size, last
//!   used), for `ls`, `prune` and "the beat's previous entry". The entry
//!   directories themselves are the truth; a missing row is added back on a hit.
//! - `keys`: the components of every key computed, by key, so a miss can be
//!   explained against any earlier key.
//! - `run_keys`: which key each beat of each run was looked up under.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::{CacheError, Result};
use crate::stat_cache::{FileStat, StatRecord};

/// The schema version this baton writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The index's settings beside baton's common pragmas: a WAL of at most 64 frames,
/// 256 KiB at the default 4 KiB pages (a cached beat writes a few), before a commit
/// copies them back. Leaving the WAL for the next process instead of checkpointing
/// on close took an open, four writes and a close from 2.4 to 0.65 ms median; this
/// bound keeps a run that only reads the index (no cacheable beat) opening it as
/// fast as before (a larger one cost such runs ~0.15 ms more).
const TUNING: baton_sqlite::Tuning = baton_sqlite::Tuning {
    wal_autocheckpoint_pages: 64,
    page_size: None,
};

/// How many runs per beat keep their key (for `explain --run`) after a prune.
pub const RUN_KEYS_KEPT: usize = 200;

const MIGRATIONS: &[&str] = &[
    // 1
    "CREATE TABLE stat (
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        dev INTEGER NOT NULL,
        hash BLOB NOT NULL,
        hashed_at_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE entries (
        key TEXT PRIMARY KEY,
        pipeline_id TEXT NOT NULL,
        beat TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        size INTEGER NOT NULL,
        last_used_ms INTEGER NOT NULL
    );
    CREATE INDEX entries_by_beat ON entries (pipeline_id, beat, created_at_ms);
    CREATE TABLE keys (
        key TEXT PRIMARY KEY,
        pipeline_id TEXT NOT NULL,
        beat TEXT NOT NULL,
        components TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE run_keys (
        run_id TEXT NOT NULL,
        beat TEXT NOT NULL,
        pipeline_id TEXT NOT NULL,
        key TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (run_id, beat)
    );
    CREATE INDEX run_keys_by_beat ON run_keys (pipeline_id, beat, at_ms);",
];

/// One stored entry, as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub key: String,
    pub pipeline_id: String,
    pub beat: String,
    pub created_at_ms: i64,
    pub size: u64,
    pub last_used_ms: i64,
}

/// An open `index.db`.
#[derive(Debug)]
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

impl Index {
    /// Opens (creating and migrating) the index at `path`. `SQLITE_BUSY` that
    /// escapes the busy handler (several processes setting up a new file at once)
    /// is retried for up to the busy timeout.
    pub fn open(path: &Path) -> Result<Self> {
        baton_sqlite::retry_while_busy(is_busy, || Self::try_open(path))
    }

    fn try_open(path: &Path) -> Result<Self> {
        let mut conn = baton_sqlite::open(path, &TUNING).map_err(|e| match e {
            baton_sqlite::OpenError::Sqlite(source) => CacheError::Open {
                path: path.to_owned(),
                source,
            },
            baton_sqlite::OpenError::NotWal(mode) => CacheError::NotWal {
                path: path.to_owned(),
                mode,
            },
        })?;
        migrate(&mut conn, path)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole stat cache, in one query.
    pub fn load_stat(&self) -> Result<Vec<(PathBuf, StatRecord)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, ctime_ns, ino, dev, hash, hashed_at_ns FROM stat",
            )
            .map_err(CacheError::index("read the stat cache"))?;
        let rows = stmt
            .query_map([], |row| {
                let path: Vec<u8> = row.get(0)?;
                let hash: Vec<u8> = row.get(6)?;
                Ok((
                    path,
                    FileStat {
                        size: from_sql_u64(row.get(1)?),
                        mtime_ns: row.get(2)?,
                        ctime_ns: row.get(3)?,
                        ino: from_sql_u64(row.get(4)?),
                        dev: from_sql_u64(row.get(5)?),
                    },
                    hash,
                    row.get::<_, i64>(7)?,
                ))
            })
            .map_err(CacheError::index("read the stat cache"))?;
        let mut out = Vec::new();
        for row in rows {
            let (path, stat, hash, hashed_at_ns) =
                row.map_err(CacheError::index("read the stat cache"))?;
            // A row that is not a 32-byte hash is ignored (and rewritten later).
            let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
                continue;
            };
            out.push((
                path_from_bytes(path),
                StatRecord {
                    stat,
                    hash,
                    hashed_at_ns,
                },
            ));
        }
        Ok(out)
    }

    /// Writes stat records back, in one transaction.
    pub fn save_stat(&mut self, rows: &[(PathBuf, StatRecord)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write("write the stat cache", |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO stat
                 (path, size, mtime_ns, ctime_ns, ino, dev, hash, hashed_at_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (path, r) in rows {
                stmt.execute(params![
                    path_bytes(path),
                    to_sql_u64(r.stat.size),
                    r.stat.mtime_ns,
                    r.stat.ctime_ns,
                    to_sql_u64(r.stat.ino),
                    to_sql_u64(r.stat.dev),
                    &r.hash[..],
                    r.hashed_at_ns,
                ])?;
            }
            Ok(())
        })
    }

    /// Every path in the stat cache.
    pub fn stat_paths(&self) -> Result<Vec<PathBuf>> {
        let what = "read the stat cache";
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM stat")
            .map_err(CacheError::index(what))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .map_err(CacheError::index(what))?;
        rows.map(|r| r.map(path_from_bytes).map_err(CacheError::index(what)))
            .collect()
    }

    pub fn delete_stat(&mut self, paths: &[PathBuf]) -> Result<()> {
        self.write("prune the stat cache", |tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM stat WHERE path = ?1")?;
            for path in paths {
                stmt.execute([path_bytes(path)])?;
            }
            Ok(())
        })
    }

    pub fn upsert_entry(&self, row: &EntryRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO entries (key, pipeline_id, beat, created_at_ms, size, last_used_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (key) DO UPDATE SET pipeline_id = ?2, beat = ?3,
                   created_at_ms = ?4, size = ?5, last_used_ms = ?6",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    row.key,
                    row.pipeline_id,
                    row.beat,
                    row.created_at_ms,
                    to_sql_u64(row.size),
                    row.last_used_ms
                ])
            })
            .map(drop)
            .map_err(CacheError::index("record a cache entry"))
    }

    pub fn delete_entry(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM entries WHERE key = ?1")
            .and_then(|mut stmt| stmt.execute([key]))
            .map(drop)
            .map_err(CacheError::index("forget a cache entry"))
    }

    /// Every entry, least recently used first.
    pub fn entries(&self) -> Result<Vec<EntryRow>> {
        self.query_entries(
            "SELECT key, pipeline_id, beat, created_at_ms, size, last_used_ms
             FROM entries ORDER BY last_used_ms, key",
            params![],
        )
    }

    /// The newest entry of `beat`.
    pub fn latest_entry(&self, pipeline_id: &str, beat: &str) -> Result<Option<EntryRow>> {
        Ok(self
            .query_entries(
                "SELECT key, pipeline_id, beat, created_at_ms, size, last_used_ms
                 FROM entries WHERE pipeline_id = ?1 AND beat = ?2
                 ORDER BY created_at_ms DESC LIMIT 1",
                params![pipeline_id, beat],
            )?
            .pop())
    }

    fn query_entries(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<EntryRow>> {
        let what = "list cache entries";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(CacheError::index(what))?;
        let rows = stmt
            .query_map(args, |row| {
                Ok(EntryRow {
                    key: row.get(0)?,
                    pipeline_id: row.get(1)?,
                    beat: row.get(2)?,
                    created_at_ms: row.get(3)?,
                    size: from_sql_u64(row.get(4)?),
                    last_used_ms: row.get(5)?,
                })
            })
            .map_err(CacheError::index(what))?;
        rows.map(|r| r.map_err(CacheError::index(what))).collect()
    }

    pub fn has_entry(&self, key: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM entries WHERE key = ?1")
            .and_then(|mut stmt| stmt.exists([key]))
            .map_err(CacheError::index("look up an entry"))
    }

    pub fn has_key(&self, key: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM keys WHERE key = ?1")
            .and_then(|mut stmt| stmt.exists([key]))
            .map_err(CacheError::index("look up a key"))
    }

    pub fn save_key(
        &self,
        key: &str,
        pipeline_id: &str,
        beat: &str,
        components_json: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO keys (key, pipeline_id, beat, components, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![key, pipeline_id, beat, components_json, now_ms])
            })
            .map(drop)
            .map_err(CacheError::index("record a key"))
    }

    /// The components (JSON) of `key`.
    pub fn components(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT components FROM keys WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(CacheError::index("read a key's components"))
    }

    pub fn save_run_key(
        &self,
        run_id: &str,
        pipeline_id: &str,
        beat: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO run_keys (run_id, beat, pipeline_id, key, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, beat, pipeline_id, key, now_ms]))
            .map(drop)
            .map_err(CacheError::index("record a run's key"))
    }

    pub fn run_key(&self, run_id: &str, beat: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT key FROM run_keys WHERE run_id = ?1 AND beat = ?2")
            .and_then(|mut stmt| stmt.query_row([run_id, beat], |row| row.get(0)).optional())
            .map_err(CacheError::index("read a run's key"))
    }

    /// Drops run keys beyond the newest [`RUN_KEYS_KEPT`] per beat, then the
    /// components no entry or run key refers to.
    pub fn prune_keys(&self) -> Result<()> {
        let kept = i64::try_from(RUN_KEYS_KEPT).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "DELETE FROM run_keys WHERE rowid IN (
                   SELECT rowid FROM (
                     SELECT rowid, ROW_NUMBER() OVER (
                       PARTITION BY pipeline_id, beat ORDER BY at_ms DESC) AS n
                     FROM run_keys)
                   WHERE n > ?1)",
                [kept],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM keys WHERE key NOT IN (SELECT key FROM entries)
                       AND key NOT IN (SELECT key FROM run_keys)",
                    [],
                )
            })
            .map(drop)
            .map_err(CacheError::index("prune old keys"))
    }

    /// Forgets everything.
    pub fn clear(&mut self) -> Result<()> {
        self.write("clear the cache index", |tx| {
            tx.execute_batch(
                "DELETE FROM entries; DELETE FROM keys; DELETE FROM run_keys; DELETE FROM stat;",
            )
        })
    }

    /// Runs `f` in one immediate transaction and commits it; any failure is an
    /// index error saying it could not `what`.
    fn write(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(CacheError::index(what))?;
        f(&tx).map_err(CacheError::index(what))?;
        tx.commit().map_err(CacheError::index(what))
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        baton_sqlite::truncate_big_wal(&self.conn, &self.path);
    }
}

/// Whether `err` is SQLite saying another connection holds the lock.
fn is_busy(err: &CacheError) -> bool {
    let source = match err {
        CacheError::Open { source, .. } | CacheError::Index { source, .. } => source,
        _ => return false,
    };
    baton_sqlite::is_busy(source)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let supported = SCHEMA_VERSION;
    let version = |conn: &Connection| -> Result<i64> {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(CacheError::index("read the schema version"))
    };
    if version(conn)? == supported {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(CacheError::index("migrate the schema"))?;
    let found = version(&tx)?;
    if found > supported {
        return Err(CacheError::NewerSchema {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if target > found {
            tx.execute_batch(sql)
                .map_err(CacheError::index("migrate the schema"))?;
        }
    }
    tx.pragma_update(None, "user_version", supported)
        .map_err(CacheError::index("migrate the schema"))?;
    tx.commit().map_err(CacheError::index("migrate the schema"))
}

/// u64 stored bit for bit in SQLite's i64.
fn to_sql_u64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

fn from_sql_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.db");
        let index = Index::open(&path).expect("opens");
        index.save_key("k", "p", "b", "{}", 1).expect("saves a key");
        drop(index);
        let index = Index::open(&path).expect("opens again");
        assert_eq!(index.components("k").expect("reads").as_deref(), Some("{}"));
        index
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(index);
        let err = Index::open(&path).expect_err("newer schema");
        assert!(matches!(err, CacheError::NewerSchema { .. }), "{err}");
    }

    /// The index does not checkpoint on close: a small WAL stays for the next open,
    /// which reads it back; a big one (a first run's stat cache) is truncated.
    #[test]
    fn a_wal_left_behind_is_read_back_and_a_big_one_truncated_on_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.db");
        let wal_len = || std::fs::metadata(dir.path().join("index.db-wal")).map_or(0, |m| m.len());
        let record = |i: u64| StatRecord {
            stat: FileStat {
                size: i,
                mtime_ns: 1,
                ctime_ns: 2,
                ino: i,
                dev: 3,
            },
            hash: [7; 32],
            hashed_at_ns: 4,
        };
        let rows: Vec<_> = (0..60_000)
            .map(|i| {
                (
                    PathBuf::from(format!("/project/src/file-{i}.rs")),
                    record(i),
                )
            })
            .collect();
        let mut index = Index::open(&path).expect("opens");
        index.save_stat(&rows).expect("saves");
        assert!(
            wal_len() > baton_sqlite::WAL_KEEP_BYTES.unsigned_abs(),
            "a big WAL"
        );
        drop(index);
        assert_eq!(wal_len(), 0, "truncated on close");

        let index = Index::open(&path).expect("opens again");
        index.save_key("k", "p", "b", "{}", 1).expect("saves a key");
        drop(index);
        assert!(wal_len() > 0, "a small WAL stays");
        let index = Index::open(&path).expect("opens over the WAL");
        assert_eq!(index.components("k").expect("reads").as_deref(), Some("{}"));
        assert_eq!(index.load_stat().expect("loads").len(), rows.len());
    }

    #[test]
    fn stat_rows_round_trip_with_large_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut index = Index::open(&dir.path().join("index.db")).expect("opens");
        let record = StatRecord {
            stat: FileStat {
                size: 5,
                mtime_ns: -3,
                ctime_ns: 4,
                ino: u64::MAX,
                dev: 1 << 63,
            },
            hash: [9; 32],
            hashed_at_ns: 42,
        };
        index
            .save_stat(&[(PathBuf::from("/a/b"), record)])
            .expect("saves");
        assert_eq!(
            index.load_stat().expect("loads"),
            vec![(PathBuf::from("/a/b"), record)]
        );
    }
}
