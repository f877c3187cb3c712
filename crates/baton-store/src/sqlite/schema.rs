//! The versioned schema of `history.db`: an ordered list of migrations, each applied
//! in its own `BEGIN IMMEDIATE` transaction, the version kept in `PRAGMA user_version`.
//!
//! Never edit a released migration: append a new one. Times are integer nanoseconds
//! since the Unix epoch (UTC); enums are their snake_case names in `runs` and small
//! integer codes in `beats` (codec.rs; the `beat_records` view spells them out).

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;
use crate::error::SqlContext;

/// One step of the schema: `version` is what `user_version` becomes after `sql`.
pub(crate) struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// Every migration, oldest first. The last one's version is [`SCHEMA_VERSION`].
pub(crate) const MIGRATIONS: &[Migration] = &[
    // v1: runs, beat series and beats.
    //
    // A run keeps its whole record as JSON beside the columns it is filtered by (few
    // rows). Beats are many (a million is a normal store), so a beat row is compact
    // and cheap to insert: the pipeline and beat name live once in `series`, what is
    // queried or filtered is a column (enums as small integer codes, see codec.rs;
    // shape hashes as 32-byte blobs when they are lowercase SHA-256 hex), the rest of
    // the record is short-keyed JSON in `extra`.
    //
    // A beat's row id is `run << 20 | series`: a run's beats are one rowid range,
    // inserts append to the table b-tree (SQLite's cheapest insert), and "beat B of
    // run R" is a rowid lookup, so the history of a beat is read by walking its
    // pipeline's runs newest first and probing it, and no secondary index is updated
    // per insert. `run` and `series` are virtual columns for readers. For the same
    // reason beats have no foreign keys (each would cost a lookup per insert): the
    // write path resolves run and series first, and gc deletes a run's beats itself.
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    run_id        TEXT    NOT NULL UNIQUE,
    label         TEXT    NOT NULL,
    pipeline_id   TEXT    NOT NULL,
    pipeline_name TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    heartbeat_at  INTEGER NOT NULL,
    record        TEXT    NOT NULL
);
-- Newest first, ties broken by row id: every run listing walks one of these
-- without sorting.
CREATE INDEX runs_by_pipeline ON runs (pipeline_id, started_at DESC, id DESC);
CREATE INDEX runs_by_start ON runs (started_at DESC, id DESC);

CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    pipeline_id TEXT NOT NULL,
    beat        TEXT NOT NULL,
    UNIQUE (pipeline_id, beat)
);
CREATE INDEX series_by_beat ON series (beat);

CREATE TABLE beats (
    id              INTEGER PRIMARY KEY,
    run             INTEGER GENERATED ALWAYS AS (id >> 20) VIRTUAL,
    series          INTEGER GENERATED ALWAYS AS (id & 1048575) VIRTUAL,
    movement_index  INTEGER NOT NULL,
    movement        TEXT    NOT NULL,
    beat_index      INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    cpu_user_ms     INTEGER NOT NULL,
    cpu_sys_ms      INTEGER NOT NULL,
    peak_rss_bytes  INTEGER NOT NULL,
    cache_state     INTEGER NOT NULL,
    sla_status      INTEGER NOT NULL,
    shape_hash      BLOB    NOT NULL,
    prev_shape_hash BLOB,
    evolved         INTEGER NOT NULL,
    extra           TEXT    NOT NULL
);

CREATE VIEW beat_records AS
SELECT r.run_id, r.label, s.pipeline_id, b.movement_index, b.movement, b.beat_index,
       s.beat,
       CASE b.status WHEN 0 THEN 'success' WHEN 1 THEN 'failure' WHEN 2 THEN 'timeout'
                     WHEN 3 THEN 'cancelled' ELSE 'skipped' END AS status,
       b.started_at / 1000000000 AS started_unix, b.duration_ms,
       b.cpu_user_ms, b.cpu_sys_ms, b.peak_rss_bytes,
       CASE b.cache_state WHEN 0 THEN 'hit' WHEN 1 THEN 'miss' WHEN 2 THEN 'skip'
                          ELSE 'expired' END AS cache_state,
       CASE b.sla_status WHEN 0 THEN 'compliant' WHEN 1 THEN 'warning' WHEN 2 THEN 'breach'
                         ELSE 'critical' END AS sla_status,
       CASE typeof(b.shape_hash) WHEN 'blob' THEN lower(hex(b.shape_hash))
                                 ELSE b.shape_hash END AS shape_hash,
       b.evolved, b.extra
FROM beats b JOIN runs r ON r.id = b.run JOIN series s ON s.id = b.series;
"#,
    },
    // v2: why shapes changed, labels as run selectors, and an index of evolutions.
    Migration {
        version: 2,
        sql: r#"
CREATE TABLE shape_annotations (
    id           INTEGER PRIMARY KEY,
    run          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    series       INTEGER NOT NULL REFERENCES series (id),
    shape_hash   BLOB    NOT NULL,
    reason       TEXT    NOT NULL,
    annotated_at INTEGER NOT NULL
);
CREATE INDEX shape_annotations_by_run ON shape_annotations (run, series);
-- Covering for `shape export` and `annotate` (only evolved beats are in it).
CREATE INDEX beats_evolved ON beats (series, started_at, shape_hash, prev_shape_hash)
    WHERE evolved = 1;
CREATE INDEX runs_by_label ON runs (label);
"#,
    },
    // v3: the artifact manifest of each run (paths, sizes, SHA-256), so that
    // `baton artifacts verify` can re-check a run's files long after it ended.
    Migration {
        version: 3,
        sql: r#"
CREATE TABLE artifact_manifests (
    run      INTEGER PRIMARY KEY REFERENCES runs (id),
    manifest TEXT    NOT NULL
);
"#,
    },
    // v4: what each beat ran on (its input identity, compact: see codec/values.rs)
    // and whether it was restored from the step cache. Every earlier cache hit was a
    // restore.
    Migration {
        version: 4,
        sql: r#"
ALTER TABLE beats ADD COLUMN input_identity BLOB;
ALTER TABLE beats ADD COLUMN restored INTEGER NOT NULL DEFAULT 0;
UPDATE beats SET restored = 1 WHERE cache_state = 0;
DROP VIEW beat_records;
CREATE VIEW beat_records AS
SELECT r.run_id, r.label, s.pipeline_id, b.movement_index, b.movement, b.beat_index,
       s.beat,
       CASE b.status WHEN 0 THEN 'success' WHEN 1 THEN 'failure' WHEN 2 THEN 'timeout'
                     WHEN 3 THEN 'cancelled' ELSE 'skipped' END AS status,
       b.started_at / 1000000000 AS started_unix, b.duration_ms,
       b.cpu_user_ms, b.cpu_sys_ms, b.peak_rss_bytes,
       CASE b.cache_state WHEN 0 THEN 'hit' WHEN 1 THEN 'miss' WHEN 2 THEN 'skip'
                          ELSE 'expired' END AS cache_state,
       CASE b.sla_status WHEN 0 THEN 'compliant' WHEN 1 THEN 'warning' WHEN 2 THEN 'breach'
                         ELSE 'critical' END AS sla_status,
       CASE typeof(b.shape_hash) WHEN 'blob' THEN lower(hex(b.shape_hash))
                                 ELSE b.shape_hash END AS shape_hash,
       b.evolved,
       CASE typeof(b.input_identity)
           WHEN 'blob' THEN CASE substr(b.input_identity, 1, 1)
                                WHEN x'01' THEN 'inputs:' ELSE 'commit:' END
                            || lower(hex(substr(b.input_identity, 2)))
           ELSE b.input_identity END AS input_identity,
       b.restored, b.extra
FROM beats b JOIN runs r ON r.id = b.run JOIN series s ON s.id = b.series;
"#,
    },
    // v5: the attempts of each beat as a column (it was only in `extra`), so that
    // the cross-run analyses read it with the other columns (`baton trends` counts
    // the time retries lost).
    Migration {
        version: 5,
        sql: r#"
ALTER TABLE beats ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
UPDATE beats SET attempts = coalesce(json_extract(extra, '$.a'), 1)
    WHERE instr(extra, '"a":') > 0;
"#,
    },
    // v6: the tests that failed and passed on a rerun inside the beat (JUnit's
    // `flakyFailure`, `flakyError`: the `tests_flaky` metric) as a column, so that
    // `baton flaky` counts them as evidence with the other columns it reads.
    Migration {
        version: 6,
        sql: r#"
ALTER TABLE beats ADD COLUMN tests_flaky INTEGER NOT NULL DEFAULT 0;
UPDATE beats SET tests_flaky = coalesce(CAST(json_extract(extra, '$.m.tests_flaky') AS INTEGER), 0)
    WHERE instr(extra, '"tests_flaky":') > 0;
"#,
    },
    // v7: beats by outcome, so that the change point scan and a run's charts read
    // each beat's newest records of each outcome (a success executed or restored,
    // a failure, ...) from the end of one index range instead of the whole history.
    // Entries are small (three integers and the row id); row ids are in run order.
    Migration {
        version: 7,
        sql: r#"
CREATE INDEX beats_by_outcome ON beats (series, status, restored);
"#,
    },
];

/// The schema version this baton writes.
pub const SCHEMA_VERSION: u32 = 7;

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// The `user_version` of the open database.
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Bring the schema up to `target` (normally [`SCHEMA_VERSION`]). Safe when several
/// processes do it at once: each step re-reads the version under the write lock.
pub(crate) fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    let found = current_version(conn).ctx(|| "read the schema version".into())?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let version = migration.version;
        let fail = |source| StoreError::Migrate { version, source };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Another process may have applied it while we waited for the lock.
        let now = current_version(&tx).map_err(fail)?;
        if now > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: now,
                known: SCHEMA_VERSION,
            });
        }
        if now < version {
            tx.execute_batch(migration.sql).map_err(fail)?;
            tx.pragma_update(None, "user_version", version)
                .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_contiguous() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
    }

    #[test]
    fn each_step_applies_on_its_own() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        for m in MIGRATIONS {
            migrate_to(&mut conn, m.version).expect("migrate");
            assert_eq!(current_version(&conn).expect("version"), m.version);
        }
        // Applying again is a no-op.
        migrate_to(&mut conn, SCHEMA_VERSION).expect("migrate again");
    }
}
