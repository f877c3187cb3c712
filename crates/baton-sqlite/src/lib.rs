//! How baton opens its SQLite files, `.baton/history.db` (baton-store) and
//! `.baton/cache/index.db` (baton-cache): one set of pragmas, documented here, with
//! what deliberately differs between the two passed in as a [`Tuning`].
//!
//! Every connection gets:
//! - `busy_timeout` = [`BUSY_TIMEOUT`]: a writer waits for another process's write
//!   instead of failing at once;
//! - `journal_mode = WAL` (required: [`OpenError::NotWal`] otherwise): readers do not
//!   block the writer, and several baton processes share a file safely;
//! - `synchronous = NORMAL`: a commit is not fsynced; a power cut can lose the last
//!   commits but never corrupts the file (WAL keeps it consistent);
//! - `foreign_keys = ON`, `temp_store = MEMORY` (statement journals and sorts in
//!   memory, not temporary files) and a page cache of up to 32 MiB, grown only as used;
//! - no checkpoint on close (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`): the WAL and `-shm`
//!   stay for the next process instead of being fsynced, copied back and unlinked
//!   at the end of every command (and created again, with a directory fsync, by the
//!   next one's first write). A commit every [`Tuning::wal_autocheckpoint_pages`]
//!   pays for the checkpoint instead; the next open reads whatever the WAL holds to
//!   rebuild its index, which that bound keeps short. Committed rows stay in the WAL,
//!   visible to every reader, whether the process exits or is killed; copy a file
//!   together with its `-wal`;
//! - `journal_size_limit` = [`WAL_KEEP_BYTES`], and [`truncate_big_wal`] on close.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::config::DbConfig;

/// How long a connection waits for another one's lock before giving up, and how
/// long [`retry_while_busy`] retries what escapes that wait.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A WAL bigger than this when a connection closes (left by a bulk insert, a `gc`,
/// a prune) is checkpointed and truncated then by [`truncate_big_wal`], so the next
/// open does not read it all. Also the `journal_size_limit`: the size a WAL that
/// grew past it is cut back to when it is next reused.
pub const WAL_KEEP_BYTES: i64 = 4 << 20;

/// What deliberately differs between baton's databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// WAL frames a commit lets accumulate before it copies them back into the
    /// database (`wal_autocheckpoint`; SQLite's default is 1,000). Small, because
    /// the WAL is left for the next open to read (see the crate documentation).
    pub wal_autocheckpoint_pages: i64,
    /// `page_size` of a new file (an existing file keeps its own); `None`: SQLite's
    /// 4 KiB.
    pub page_size: Option<i64>,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// SQLite refused WAL mode (a file system without shared memory, say).
    #[error("SQLite kept journal mode '{0}' instead of WAL")]
    NotWal(String),
}

/// Opens (creating it if needed) the database at `path` with baton's pragmas.
/// The caller migrates its schema.
pub fn open(path: &Path, tuning: &Tuning) -> Result<Connection, OpenError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if let Some(bytes) = tuning.page_size {
        conn.pragma_update(None, "page_size", bytes)?;
    }
    // Switching to WAL needs a brief exclusive lock; the mode is persistent, so
    // only the first opener of a new file really changes it.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_768)?;
    // Not checkpointing on close is what keeps the WAL (SQLITE_FCNTL_PERSIST_WAL
    // only matters to a close that checkpoints, and alone it would leave
    // already-copied frames for the next open to read).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.pragma_update(None, "wal_autocheckpoint", tuning.wal_autocheckpoint_pages)?;
    conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)?;
    Ok(conn)
}

/// Whether `err` is SQLite saying another connection holds the lock.
pub fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `f` again, with growing sleeps, while it fails with an error `is_busy`
/// accepts, for up to [`BUSY_TIMEOUT`]. For the `SQLITE_BUSY` that escapes the busy
/// handler: the WAL set-up race when several processes open a new file, a lock
/// upgrade, a reader meeting WAL recovery.
pub fn retry_while_busy<T, E>(
    is_busy: impl Fn(&E) -> bool,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut delay = Duration::from_millis(2);
    loop {
        match f() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                // A little jitter keeps processes that collided from colliding again.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos() % 5));
                std::thread::sleep(delay + Duration::from_millis(jitter));
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Checkpoints and truncates the WAL of the database at `path` when it is bigger
/// than [`WAL_KEEP_BYTES`]; for a connection about to close. Gives up at once (the
/// busy timeout is set to zero) if another process is writing or reading an older
/// snapshot: that process's own close will try again.
pub fn truncate_big_wal(conn: &Connection, path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEEP_BYTES.unsigned_abs()) {
        let _ = conn.busy_timeout(Duration::ZERO);
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .expect("pragma")
    }

    #[test]
    fn every_connection_gets_the_documented_pragmas_and_its_tuning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tuning = Tuning {
            wal_autocheckpoint_pages: 64,
            page_size: Some(16_384),
        };
        let conn = open(&dir.path().join("a.db"), &tuning).expect("open");
        assert_eq!(pragma(&conn, "busy_timeout"), "Integer(5000)");
        assert_eq!(pragma(&conn, "journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma(&conn, "synchronous"), "Integer(1)", "NORMAL");
        assert_eq!(pragma(&conn, "foreign_keys"), "Integer(1)");
        assert_eq!(pragma(&conn, "temp_store"), "Integer(2)", "MEMORY");
        assert_eq!(pragma(&conn, "cache_size"), "Integer(-32768)");
        assert_eq!(pragma(&conn, "wal_autocheckpoint"), "Integer(64)");
        assert_eq!(pragma(&conn, "journal_size_limit"), "Integer(4194304)");
        assert_eq!(pragma(&conn, "page_size"), "Integer(16384)");
        assert!(
            conn.db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE)
                .expect("db config"),
            "no checkpoint on close"
        );
        let default_pages = Tuning {
            wal_autocheckpoint_pages: 128,
            page_size: None,
        };
        let conn = open(&dir.path().join("b.db"), &default_pages).expect("open");
        assert_eq!(pragma(&conn, "page_size"), "Integer(4096)");
        assert_eq!(pragma(&conn, "wal_autocheckpoint"), "Integer(128)");
    }

    #[test]
    fn only_busy_errors_are_retried() {
        let mut calls = 0;
        let busy = || rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), None);
        let out: Result<u32, rusqlite::Error> = retry_while_busy(is_busy, || {
            calls += 1;
            if calls < 3 { Err(busy()) } else { Ok(7) }
        });
        assert_eq!(out.expect("third try"), 7);
        let mut calls = 0;
        let out: Result<u32, rusqlite::Error> = retry_while_busy(is_busy, || {
            calls += 1;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }
}
