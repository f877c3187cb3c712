//! baton's import format, written from the generator's histories: JSON Lines, one
//! run per line, `{"format_version":1,"run":{...},"beats":[...]}`, where `run` is a
//! serialized [`RunRecord`] and each beat a serialized [`BeatRecord`] (the real
//! types, so the format cannot drift from baton's own); each beat's `input_identity`
//! (`"inputs:<hex>"`) names its key and `restored` says it was a cache hit.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, Level, RunRecord, RunStatus, SlaThresholds,
    SloTarget,
};
use baton_telemetry::buckets::duration_bucket;
use baton_telemetry::shape::{ShapeInput, shape_of};
use baton_telemetry::sla::evaluate_sla;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
#[cfg(test)]
use serde_json::Value;
use uuid::Uuid;

use super::generate::Outcome;
use super::rng::Rng;

/// The import format's version.
pub(super) const FORMAT_VERSION: u32 = 1;
/// The one movement of every generated pipeline (its beats run side by side).
pub(super) const MOVEMENT: &str = "signals";

/// One beat in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Event {
    pub duration_ms: u64,
    pub outcome: Outcome,
    /// Restored from the step cache.
    pub hit: bool,
    /// The input identity, written as `inputs:<16 hex digits>`.
    pub key: u64,
}

/// A beat of a generated pipeline: its events cover the pipeline's first
/// `events.len()` runs (a beat may stop before the pipeline does).
#[derive(Debug, Clone)]
pub(super) struct Track {
    pub name: String,
    pub beat_type: BeatType,
    pub events: Vec<Event>,
}

/// A generated pipeline: its identity, the start of each run, its beats.
#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub id: String,
    pub name: String,
    pub starts: Vec<Timestamp>,
    pub tracks: Vec<Track>,
}

impl Pipeline {
    /// Run ids, one per start: UUIDv7 of the start time, the random bits from `rng`.
    pub(super) fn run_ids(&self, rng: &mut Rng) -> Vec<Uuid> {
        self.starts.iter().map(|t| run_id(*t, rng)).collect()
    }
}

/// A UUIDv7 for a run started at `at`.
pub(super) fn run_id(at: Timestamp, rng: &mut Rng) -> Uuid {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes()[..2]);
    let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// A pipeline id: a random (v4-style) UUID from `rng`.
pub(super) fn pipeline_id(rng: &mut Rng) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Start times of `runs` runs ending before `end`, `min_s..max_s` seconds apart.
pub(super) fn spaced_starts(
    end: Timestamp,
    runs: usize,
    min_s: i64,
    max_s: i64,
    rng: &mut Rng,
) -> Vec<Timestamp> {
    let gaps: Vec<i64> = (0..runs)
        .map(|_| rng.int(min_s as usize, max_s as usize) as i64)
        .collect();
    let total: i64 = gaps.iter().sum();
    let mut at = end - SignedDuration::from_secs(total + max_s);
    gaps.iter()
        .map(|g| {
            at += SignedDuration::from_secs(*g);
            at
        })
        .collect()
}

/// `build-YYYYMMDD-HHMMSS`.
pub(super) fn run_label(at: Timestamp) -> String {
    at.strftime("build-%Y%m%d-%H%M%S").to_string()
}

/// A run record: everything optional left out, the status from its beats.
pub(super) fn run_record(
    run_id: Uuid,
    pipeline_id: &str,
    pipeline_name: &str,
    started_at: Timestamp,
    longest_ms: u64,
    failed: bool,
) -> RunRecord {
    let finished_at = started_at + SignedDuration::from_millis(longest_ms as i64 + 250);
    RunRecord {
        run_id,
        label: run_label(started_at),
        pipeline_id: pipeline_id.to_owned(),
        pipeline_name: pipeline_name.to_owned(),
        pipeline_file: "baton.yaml".to_owned(),
        level: Level::Mf,
        git: None,
        host: "baton-bench".to_owned(),
        ci: None,
        started_at,
        finished_at: Some(finished_at),
        heartbeat_at: finished_at,
        status: if failed {
            RunStatus::Failure
        } else {
            RunStatus::Success
        },
        baton_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// A beat record as a run of baton would write it (buckets, SLA and shape computed
/// by baton's own functions; no artifacts, tests or metrics). With
/// [`Fields::Minimal`] the SLA and shape, which are not written, stay at their
/// defaults.
pub(super) fn beat_record(
    run_id: Uuid,
    beat_index: u32,
    beat: &str,
    beat_type: BeatType,
    started_at: Timestamp,
    event: &Event,
    fields: Fields,
) -> BeatRecord {
    let status = match event.outcome {
        Outcome::Passed => BeatStatus::Success,
        Outcome::Failed => BeatStatus::Failure,
        Outcome::TimedOut => BeatStatus::Timeout,
    };
    let (exit_code, signal) = match event.outcome {
        Outcome::Passed => (Some(0), None),
        Outcome::Failed => (Some(1), None),
        Outcome::TimedOut => (None, Some(9)),
    };
    let cache_state = if event.hit {
        CacheState::Hit
    } else {
        CacheState::Miss
    };
    let errors_count = u64::from(status != BeatStatus::Success);
    let peak_rss_bytes = 40_000_000 + (event.key % 64) * 1_000_000;
    let slo = SloTarget {
        duration: Duration::from_secs(300),
        errors: 0,
        cache_hit_rate: None,
        objective: None,
    };
    let (sla, shape) = match fields {
        Fields::Minimal => Default::default(),
        Fields::Full => (
            evaluate_sla(
                status == BeatStatus::Success,
                event.duration_ms,
                errors_count,
                &slo,
                &SlaThresholds::default(),
                &[cache_state],
            ),
            shape_of(&ShapeInput {
                movement_index: 0,
                beat_index,
                duration_ms: event.duration_ms,
                status,
                artifacts_count: 0,
                errors_count,
                peak_rss_bytes,
                cache_state,
                previous_hash: None,
            }),
        ),
    };
    let cpu = if event.hit {
        5
    } else {
        event.duration_ms * 3 / 4
    };
    BeatRecord {
        run_id,
        movement_index: 0,
        movement: MOVEMENT.to_owned(),
        beat_index,
        beat: beat.to_owned(),
        beat_type,
        level: Level::Mf,
        started_at,
        status,
        reason: (event.outcome == Outcome::TimedOut).then(|| "timed out".to_owned()),
        exit_code,
        signal,
        attempts: 1,
        duration_ms: event.duration_ms,
        duration_bucket: duration_bucket(event.duration_ms).to_owned(),
        cpu_user_ms: cpu,
        cpu_sys_ms: cpu / 10,
        peak_rss_bytes,
        artifacts_count: 0,
        artifacts_bytes: 0,
        errors_count,
        cache_state,
        tests: None,
        cost_usd: None,
        metrics: Default::default(),
        slo,
        sla,
        shape,
        log_path: None,
        rollback: None,
        attempt_log: Vec::new(),
        input_identity: Some(input_identity(event.key)),
        restored: event.hit,
        restored_from: None,
    }
}

/// Which fields a written record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Fields {
    /// Everything baton's records hold (what `baton export` writes).
    Full,
    /// The import format's minimum: run_id, pipeline_id, pipeline_name, started_at
    /// and status of the run; beat, movement, movement_index, beat_index, status,
    /// duration_ms, started_at and cache_state of each beat, with `input_identity`
    /// and `restored`; about a quarter of the bytes.
    Minimal,
}

/// The minimal beat object: the required fields, borrowed from a real record (a
/// test checks their names and values against the record's own serialization).
#[derive(Serialize)]
struct MinimalBeat<'a> {
    beat: &'a str,
    movement: &'a str,
    movement_index: u32,
    beat_index: u32,
    status: BeatStatus,
    duration_ms: u64,
    started_at: Timestamp,
    cache_state: CacheState,
    input_identity: Option<&'a str>,
    restored: bool,
}

impl<'a> From<&'a BeatRecord> for MinimalBeat<'a> {
    fn from(r: &'a BeatRecord) -> Self {
        Self {
            beat: &r.beat,
            movement: &r.movement,
            movement_index: r.movement_index,
            beat_index: r.beat_index,
            status: r.status,
            duration_ms: r.duration_ms,
            started_at: r.started_at,
            cache_state: r.cache_state,
            input_identity: r.input_identity.as_deref(),
            restored: r.restored,
        }
    }
}

/// The minimal run object, likewise.
#[derive(Serialize)]
struct MinimalRun<'a> {
    run_id: Uuid,
    pipeline_id: &'a str,
    pipeline_name: &'a str,
    started_at: Timestamp,
    status: RunStatus,
}

impl<'a> From<&'a RunRecord> for MinimalRun<'a> {
    fn from(r: &'a RunRecord) -> Self {
        Self {
            run_id: r.run_id,
            pipeline_id: &r.pipeline_id,
            pipeline_name: &r.pipeline_name,
            started_at: r.started_at,
            status: r.status,
        }
    }
}

/// The input identity of a key.
pub(super) fn input_identity(key: u64) -> String {
    format!("inputs:{key:016x}")
}

/// Appends a beat record to `out` as an object of the import format (all its
/// fields, or the minimal ones).
pub(super) fn push_beat(out: &mut String, record: &BeatRecord, fields: Fields) -> Result<()> {
    let json = match fields {
        Fields::Full => serde_json::to_string(record),
        Fields::Minimal => serde_json::to_string(&MinimalBeat::from(record)),
    }
    .context("failed to serialize a beat record")?;
    out.push_str(&json);
    Ok(())
}

/// One line of the import format (without its newline): `beats` is the objects
/// [`push_beat`] wrote, comma-separated.
pub(super) fn run_line(run: &RunRecord, beats: &str, fields: Fields) -> Result<String> {
    let run = match fields {
        Fields::Full => serde_json::to_string(run),
        Fields::Minimal => serde_json::to_string(&MinimalRun::from(run)),
    }
    .context("failed to serialize a run record")?;
    Ok(format!(
        "{{\"format_version\":{FORMAT_VERSION},\"run\":{run},\"beats\":[{beats}]}}"
    ))
}

/// What writing a history produced.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub(super) struct Written {
    pub runs: usize,
    pub beats: usize,
    pub bytes: u64,
}

impl Written {
    pub(super) fn add(&mut self, line: &str, beats: usize) {
        self.runs += 1;
        self.beats += beats;
        self.bytes += line.len() as u64 + 1;
    }
}

/// Writes `pipelines` as JSON Lines, run by run; returns every run's id (per
/// pipeline, per run) and the totals.
pub(super) fn write_pipelines(
    out: &mut impl Write,
    pipelines: &[Pipeline],
    fields: Fields,
    rng: &mut Rng,
) -> Result<(Vec<Vec<Uuid>>, Written)> {
    let mut written = Written::default();
    let mut all_ids = Vec::with_capacity(pipelines.len());
    for pipeline in pipelines {
        let ids = pipeline.run_ids(rng);
        for (run, (&run_id, &started_at)) in ids.iter().zip(&pipeline.starts).enumerate() {
            let mut beats = String::new();
            let mut count = 0;
            let (mut longest, mut failed) = (0, false);
            for (index, track) in pipeline.tracks.iter().enumerate() {
                let Some(event) = track.events.get(run) else {
                    continue;
                };
                longest = longest.max(event.duration_ms);
                failed |= event.outcome != Outcome::Passed;
                let index = u32::try_from(index).context("too many beats")?;
                let record = beat_record(
                    run_id,
                    index,
                    &track.name,
                    track.beat_type,
                    started_at,
                    event,
                    fields,
                );
                if count > 0 {
                    beats.push(',');
                }
                push_beat(&mut beats, &record, fields)?;
                count += 1;
            }
            if count == 0 {
                continue;
            }
            let record = run_record(
                run_id,
                &pipeline.id,
                &pipeline.name,
                started_at,
                longest,
                failed,
            );
            let line = run_line(&record, &beats, fields)?;
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            written.add(&line, count);
        }
        all_ids.push(ids);
    }
    Ok((all_ids, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a run needs in the import format.
    const MINIMAL_RUN_FIELDS: [&str; 5] = [
        "run_id",
        "pipeline_id",
        "pipeline_name",
        "started_at",
        "status",
    ];
    /// What a beat needs in the import format, with its cache state (known here).
    const MINIMAL_BEAT_FIELDS: [&str; 8] = [
        "beat",
        "movement",
        "movement_index",
        "beat_index",
        "status",
        "duration_ms",
        "started_at",
        "cache_state",
    ];

    fn event(outcome: Outcome, hit: bool) -> Event {
        Event {
            duration_ms: 61_234,
            outcome,
            hit,
            key: 0xabc,
        }
    }

    fn pipeline() -> Pipeline {
        let start: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        Pipeline {
            id: "p-1".to_owned(),
            name: "signals-test".to_owned(),
            starts: vec![start, start + SignedDuration::from_mins(5)],
            tracks: vec![
                Track {
                    name: "compile".to_owned(),
                    beat_type: BeatType::Build,
                    events: vec![event(Outcome::Passed, false), event(Outcome::Passed, true)],
                },
                Track {
                    name: "test".to_owned(),
                    beat_type: BeatType::Test,
                    events: vec![event(Outcome::TimedOut, false)],
                },
            ],
        }
    }

    #[test]
    fn lines_hold_the_required_fields_and_round_trip() {
        let mut out = Vec::new();
        let (ids, written) =
            write_pipelines(&mut out, &[pipeline()], Fields::Full, &mut Rng::new(1)).unwrap();
        assert_eq!((written.runs, written.beats), (2, 3));
        assert_eq!(written.bytes, out.len() as u64);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["format_version"], 1);
        let run = &first["run"];
        for field in [
            "run_id",
            "pipeline_id",
            "pipeline_name",
            "started_at",
            "status",
        ] {
            assert!(!run[field].is_null(), "run.{field}");
        }
        assert_eq!(run["run_id"], ids[0][0].to_string());
        assert_eq!(run["status"], "failure", "the timed-out beat fails the run");
        assert_eq!(run["label"], "build-20261130-080000");
        let beats = first["beats"].as_array().unwrap();
        assert_eq!(beats.len(), 2);
        let beat = &beats[1];
        for field in [
            "beat",
            "movement",
            "movement_index",
            "beat_index",
            "status",
            "duration_ms",
            "started_at",
        ] {
            assert!(!beat[field].is_null(), "beat.{field}");
        }
        assert_eq!(beat["status"], "timeout");
        assert_eq!(beat["input_identity"], "inputs:0000000000000abc");
        assert_eq!(beat["restored"], false);
        assert_eq!(beat["cache_state"], "miss");
        let hit = &lines[1]["beats"][0];
        assert_eq!(
            (hit["cache_state"].as_str(), hit["restored"].as_bool()),
            (Some("hit"), Some(true))
        );
        assert_eq!(
            lines[1]["beats"].as_array().unwrap().len(),
            1,
            "test stopped"
        );
        // The records read back as baton's own types.
        let record: RunRecord = serde_json::from_value(run.clone()).unwrap();
        assert_eq!(record.pipeline_id, "p-1");
        let beat: BeatRecord = serde_json::from_value(beat.clone()).unwrap();
        assert_eq!(beat.duration_ms, 61_234);
        assert_eq!(beat.run_id, ids[0][0]);
    }

    #[test]
    fn minimal_lines_keep_the_required_fields_under_their_record_names() {
        let (mut full, mut minimal) = (Vec::new(), Vec::new());
        write_pipelines(&mut full, &[pipeline()], Fields::Full, &mut Rng::new(1)).unwrap();
        write_pipelines(
            &mut minimal,
            &[pipeline()],
            Fields::Minimal,
            &mut Rng::new(1),
        )
        .unwrap();
        assert!(minimal.len() * 2 < full.len());
        let full: Value =
            serde_json::from_slice(full.split(|b| *b == b'\n').next().unwrap()).unwrap();
        let line: Value =
            serde_json::from_slice(minimal.split(|b| *b == b'\n').next().unwrap()).unwrap();
        // Every kept field exists in the full record (a renamed field fails here) and
        // has the same value.
        let run = line["run"].as_object().unwrap();
        assert_eq!(run.len(), MINIMAL_RUN_FIELDS.len());
        for field in MINIMAL_RUN_FIELDS {
            assert_eq!(run[field], full["run"][field], "run.{field}");
        }
        let beat = line["beats"][1].as_object().unwrap();
        assert_eq!(beat.len(), MINIMAL_BEAT_FIELDS.len() + 2);
        for field in MINIMAL_BEAT_FIELDS {
            assert!(!full["beats"][1][field].is_null(), "beat.{field}");
            assert_eq!(beat[field], full["beats"][1][field], "beat.{field}");
        }
        assert_eq!(beat["input_identity"], "inputs:0000000000000abc");
        assert_eq!(beat["restored"], false);
    }

    #[test]
    fn run_ids_are_v7_from_the_start_time() {
        let at: Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let id = run_id(at, &mut Rng::new(3));
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64, at.as_second());
        assert_ne!(id, run_id(at, &mut Rng::new(4)));
    }

    #[test]
    fn starts_are_spaced_and_end_before_the_end() {
        let end: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let starts = spaced_starts(end, 50, 180, 420, &mut Rng::new(5));
        assert_eq!(starts.len(), 50);
        for w in starts.windows(2) {
            let gap = (w[1] - w[0]).get_seconds();
            assert!((180..=420).contains(&gap), "{gap}");
        }
        assert!(starts[49] < end);
    }
}
