//! Everything that changes the store. Each function runs inside the caller's
//! `BEGIN IMMEDIATE` transaction and uses cached prepared statements.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use baton_model::{ArtifactManifest, BeatRecord, RunRecord};
use jiff::Timestamp;
use rusqlite::{OptionalExtension, Statement, Transaction, params, params_from_iter};
use uuid::Uuid;

use super::codec::{self, HashSql, SERIES_BITS};
use super::read;
use crate::api::{GcPolicy, ShapeAnnotation, ShapeTarget};
use crate::error::SqlContext;
use crate::{Result, StoreError};

/// Insert the runs, or update those already stored.
pub(crate) fn upsert_runs(tx: &Transaction<'_>, runs: &[RunRecord]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(codec::UPSERT_RUN)
        .ctx(|| "prepare the run upsert".into())?;
    for run in runs {
        stmt.execute(params_from_iter(codec::run_params(run)?))
            .ctx(|| format!("record run {}", run.run_id))?;
    }
    Ok(())
}

pub(crate) fn heartbeat(tx: &Transaction<'_>, run_id: Uuid, at: Timestamp) -> Result<()> {
    let at = codec::ts_to_sql(at)?;
    let changed = tx
        .prepare_cached("UPDATE runs SET heartbeat_at = max(heartbeat_at, ?2) WHERE run_id = ?1")
        .and_then(|mut stmt| stmt.execute(params![run_id.hyphenated().to_string(), at]))
        .ctx(|| format!("record the heartbeat of run {run_id}"))?;
    if changed == 0 {
        return Err(StoreError::UnknownRun(run_id.to_string()));
    }
    Ok(())
}

/// Row ids of runs and series met so far in one transaction. Resolving a beat
/// allocates nothing once its run and series are known.
#[derive(Default)]
struct Keys {
    /// run id -> its row
    runs: HashMap<Uuid, RunSlot>,
    labels: Vec<String>,
    /// pipeline id -> index in `pipelines` and `series`
    pipeline_index: HashMap<String, usize>,
    pipelines: Vec<String>,
    /// per pipeline: beat name -> series id
    series: Vec<HashMap<String, i64>>,
    /// The run of the previous beat (beats come grouped by run).
    last: Option<(Uuid, RunSlot)>,
}

/// What a batch needs to know about one run.
#[derive(Clone, Copy)]
struct RunSlot {
    row_id: i64,
    label: usize,
    pipeline: usize,
}

impl Keys {
    /// Where `beat` goes: its row id (from its run, which must exist, and its
    /// series, created on first use) and the index of its run's label.
    fn resolve(
        &mut self,
        tx: &Transaction<'_>,
        find_run: &mut Statement<'_>,
        beat: &BeatRecord,
    ) -> Result<(i64, usize)> {
        let slot = match self.last {
            Some((id, slot)) if id == beat.run_id => slot,
            _ => {
                let slot = self.run_slot(find_run, beat.run_id)?;
                self.last = Some((beat.run_id, slot));
                slot
            }
        };
        let series = match self.series[slot.pipeline].get(&beat.beat) {
            Some(id) => *id,
            None => {
                let id = series_id(tx, &self.pipelines[slot.pipeline], &beat.beat)?;
                self.series[slot.pipeline].insert(beat.beat.clone(), id);
                id
            }
        };
        Ok((codec::beat_row_id(slot.row_id, series), slot.label))
    }

    fn run_slot(&mut self, find_run: &mut Statement<'_>, run_id: Uuid) -> Result<RunSlot> {
        if let Some(slot) = self.runs.get(&run_id) {
            return Ok(*slot);
        }
        let (row_id, pipeline_id, label): (i64, String, String) = find_run
            .query_row([run_id.hyphenated().to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
            .ctx(|| format!("look up run {run_id}"))?
            .ok_or_else(|| StoreError::UnknownRun(run_id.to_string()))?;
        let pipeline = match self.pipeline_index.entry(pipeline_id) {
            Entry::Occupied(known) => *known.get(),
            Entry::Vacant(new) => {
                self.pipelines.push(new.key().clone());
                self.series.push(HashMap::new());
                *new.insert(self.pipelines.len() - 1)
            }
        };
        self.labels.push(label);
        let slot = RunSlot {
            row_id,
            label: self.labels.len() - 1,
            pipeline,
        };
        self.runs.insert(run_id, slot);
        Ok(slot)
    }
}

/// Records per chunk handed from the encoding thread to the inserting one.
const CHUNK: usize = 4_096;

/// Insert beat records; their runs must be stored already. With `replace`, a record
/// of the same beat in the same run is replaced; without, it is an error.
///
/// Big batches are encoded (JSON, hashes) on a second thread while this one binds
/// and steps SQLite, which only the connection's thread may do.
pub(crate) fn insert_beats(
    tx: &Transaction<'_>,
    beats: &[BeatRecord],
    replace: bool,
) -> Result<()> {
    let action = || "prepare the beat insert".to_owned();
    let mut find_run = tx
        .prepare_cached("SELECT id, pipeline_id, label FROM runs WHERE run_id = ?1")
        .ctx(action)?;
    let mut insert = tx.prepare_cached(codec::INSERT_BEAT).ctx(action)?;
    let mut keys = Keys::default();
    let placed = beats
        .iter()
        .map(|beat| keys.resolve(tx, &mut find_run, beat))
        .collect::<Result<Vec<_>>>()?;
    let labels = keys.labels.as_slice();
    let mut store = |encoded: EncodedChunk<'_>, places: &[(i64, usize)]| -> Result<()> {
        for (row, &(id, _)) in encoded.rows.iter().zip(places) {
            if replace {
                tx.prepare_cached("DELETE FROM beats WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute([id]))
                    .ctx(|| "replace a beat".to_owned())?;
            }
            codec::insert_encoded(&mut insert, id, row, &encoded.json)?;
        }
        Ok(())
    };
    if beats.len() <= CHUNK {
        return store(encode_chunk(beats, &placed, labels)?, &placed);
    }
    let chunks = beats.chunks(CHUNK).zip(placed.chunks(CHUNK));
    let expected = chunks.len();
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel(2);
        let encoder = std::thread::Builder::new()
            .name("baton-store-encode".to_owned())
            .spawn_scoped(scope, move || {
                for (chunk, places) in chunks {
                    let encoded = encode_chunk(chunk, places, labels);
                    let failed = encoded.is_err();
                    // A closed channel means the inserting side stopped on an error.
                    if send.send(encoded).is_err() || failed {
                        break;
                    }
                }
            });
        if encoder.is_err() {
            // No second thread to be had: encode here.
            for (chunk, places) in beats.chunks(CHUNK).zip(placed.chunks(CHUNK)) {
                store(encode_chunk(chunk, places, labels)?, places)?;
            }
            return Ok(());
        }
        let mut stored = 0;
        for (encoded, places) in receive.into_iter().zip(placed.chunks(CHUNK)) {
            store(encoded?, places)?;
            stored += 1;
        }
        if stored < expected {
            // The encoding thread died; its panic resurfaces when the scope ends.
            return Err(StoreError::Encode {
                what: "a bulk insert".to_owned(),
                source: None,
            });
        }
        Ok(())
    })
}

/// Encoded records of one chunk and the buffer holding their JSON.
struct EncodedChunk<'a> {
    json: Vec<u8>,
    rows: Vec<codec::EncodedBeat<'a>>,
}

/// Encode `chunk`, placed at `places` (row id, label index into `labels`).
fn encode_chunk<'a>(
    chunk: &'a [BeatRecord],
    places: &[(i64, usize)],
    labels: &[String],
) -> Result<EncodedChunk<'a>> {
    let mut json = Vec::with_capacity(chunk.len() * 160);
    let rows = chunk
        .iter()
        .zip(places)
        .map(|(beat, &(_, label))| {
            let label = labels.get(label).map_or("", String::as_str);
            codec::encode_beat(beat, label, &mut json)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EncodedChunk { json, rows })
}

/// The series of a pipeline's beat, created on first use.
fn series_id(tx: &Transaction<'_>, pipeline_id: &str, beat: &str) -> Result<i64> {
    let action = || format!("record the series of beat '{beat}'");
    let mut find = tx
        .prepare_cached("SELECT id FROM series WHERE pipeline_id = ?1 AND beat = ?2")
        .ctx(action)?;
    if let Some(id) = find
        .query_row([pipeline_id, beat], |row| row.get(0))
        .optional()
        .ctx(action)?
    {
        return Ok(id);
    }
    let id = tx
        .prepare_cached("INSERT INTO series (pipeline_id, beat) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.insert([pipeline_id, beat]))
        .ctx(action)?;
    // A beat's row id keeps the series in its low bits.
    if id >= 1 << SERIES_BITS {
        return Err(StoreError::Encode {
            what: format!("beat '{beat}': the store holds 2^{SERIES_BITS} beat series already"),
            source: None,
        });
    }
    Ok(id)
}

/// Store why a shape changed, against the beat record `target` picks.
pub(crate) fn annotate_shape(
    tx: &Transaction<'_>,
    pipeline_id: Option<&str>,
    beat: &str,
    target: &ShapeTarget,
    reason: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<ShapeAnnotation> {
    let found = read::find_shape(tx, pipeline_id, beat, target, now)?;
    let at_ns = codec::ts_to_sql(at)?;
    tx.prepare_cached(
        "INSERT INTO shape_annotations (run, series, shape_hash, reason, annotated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            found.run_pk,
            found.series,
            HashSql::new(&found.shape_hash),
            reason,
            at_ns
        ])
    })
    .ctx(|| format!("record the annotation of beat '{beat}'"))?;
    Ok(ShapeAnnotation {
        pipeline_id: found.pipeline_id,
        beat: beat.to_owned(),
        shape_hash: found.shape_hash,
        run_id: found.run_id,
        reason: reason.to_owned(),
        annotated_at: at,
    })
}

/// Remove the runs `policy` selects (never a live one) and return them. Their beats
/// and annotations go with them (foreign keys cascade).
pub(crate) fn gc(
    tx: &Transaction<'_>,
    policy: &GcPolicy,
    now: Timestamp,
) -> Result<Vec<RunRecord>> {
    let cutoff = codec::abandoned_cutoff(now)?;
    let cols = codec::RUN_COLUMNS;
    let not_live = "NOT (r.status = 'running' AND r.heartbeat_at >= ?1)";
    let (sql, bound) = match *policy {
        GcPolicy::KeepRuns(keep) => (
            format!(
                "SELECT r.id, {cols} FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY pipeline_id ORDER BY started_at DESC, id DESC) AS rank
                    FROM runs) r
                 WHERE r.rank > ?2 AND {not_live}"
            ),
            i64::try_from(keep).unwrap_or(i64::MAX),
        ),
        GcPolicy::OlderThan(age) => (
            format!("SELECT r.id, {cols} FROM runs r WHERE r.started_at < ?2 AND {not_live}"),
            codec::ts_to_sql(now)?
                .saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)),
        ),
        GcPolicy::StartedBefore(time) => (
            format!("SELECT r.id, {cols} FROM runs r WHERE r.started_at < ?2 AND {not_live}"),
            codec::ts_to_sql(time)?,
        ),
    };
    let action = || "select the runs to remove".to_owned();
    let mut select = tx.prepare(&sql).ctx(action)?;
    let mut rows = select.query(params![cutoff, bound]).ctx(action)?;
    let mut doomed = Vec::new();
    while let Some(row) = rows.next().ctx(action)? {
        let pk: i64 = row.get(0).ctx(action)?;
        doomed.push((pk, codec::run_from_row(row, cutoff)?));
    }
    drop(rows);
    // Beats have no foreign key (one lookup less per insert): delete them first.
    let mut delete_beats = tx
        .prepare_cached(&format!(
            "DELETE FROM beats AS b WHERE {}",
            codec::beats_of_run(1)
        ))
        .ctx(|| "prepare the beat removal".into())?;
    let mut delete = tx
        .prepare_cached("DELETE FROM runs WHERE id = ?1")
        .ctx(|| "prepare the run removal".into())?;
    let mut delete_manifest = tx
        .prepare_cached("DELETE FROM artifact_manifests WHERE run = ?1")
        .ctx(|| "prepare the manifest removal".into())?;
    for (pk, run) in &doomed {
        delete_manifest
            .execute([pk])
            .ctx(|| format!("remove the artifact manifest of run {}", run.run_id))?;
        delete_beats
            .execute([pk])
            .ctx(|| format!("remove the beats of run {}", run.run_id))?;
        delete
            .execute([pk])
            .ctx(|| format!("remove run {}", run.run_id))?;
    }
    Ok(doomed.into_iter().map(|(_, run)| run).collect())
}

/// Keep (or replace) the artifact manifest of a recorded run.
pub(crate) fn save_artifacts(tx: &Transaction<'_>, manifest: &ArtifactManifest) -> Result<()> {
    let action = || format!("save the artifact manifest of run {}", manifest.run_id);
    let json = serde_json::to_string(manifest).map_err(|e| StoreError::Encode {
        what: "an artifact manifest".into(),
        source: Some(e),
    })?;
    let pk: Option<i64> = tx
        .query_row(
            "SELECT id FROM runs WHERE run_id = ?1",
            [manifest.run_id.to_string()],
            |row| row.get(0),
        )
        .optional()
        .ctx(action)?;
    let Some(pk) = pk else {
        return Err(StoreError::UnknownRun(manifest.run_id.to_string()));
    };
    tx.execute(
        "INSERT INTO artifact_manifests (run, manifest) VALUES (?1, ?2)
         ON CONFLICT (run) DO UPDATE SET manifest = excluded.manifest",
        params![pk, json],
    )
    .ctx(action)?;
    Ok(())
}

/// The artifact manifest of a run, if one was saved.
pub(crate) fn load_artifacts(
    tx: &Transaction<'_>,
    run_id: Uuid,
) -> Result<Option<ArtifactManifest>> {
    let action = || format!("load the artifact manifest of run {run_id}");
    let json: Option<String> = tx
        .query_row(
            "SELECT m.manifest FROM artifact_manifests m JOIN runs r ON r.id = m.run
             WHERE r.run_id = ?1",
            [run_id.to_string()],
            |row| row.get(0),
        )
        .optional()
        .ctx(action)?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| StoreError::Corrupt {
            what: format!("the artifact manifest of run {run_id}"),
            source: Some(Box::new(e)),
        })
    })
    .transpose()
}
