//! One line of the import format: a [`RunDocument`] in which only what identifies
//! and measures a run and its beats is required (docs/import-format.md). Read into
//! lenient types (everything else optional), checked, then completed with the
//! documented defaults into baton's own records. A line `baton export` wrote has
//! every field and comes back exactly as it was.
//!
//! [`RunDocument`]: baton_model::RunDocument

use std::collections::{BTreeMap, HashMap};

use baton_model::{
    AttemptRecord, BeatRecord, BeatStatus, BeatType, CacheState, CiInfo, GitInfo, Level,
    RUN_DOCUMENT_VERSION, RollbackRecord, RunRecord, RunStatus, Shape, SlaVerdict, SloTarget,
    TestCounts,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use uuid::Uuid;

/// A line as read: the document's envelope.
#[derive(Deserialize)]
struct Document {
    format_version: u32,
    run: Run,
    beats: Vec<Beat>,
}

/// [`RunRecord`] with everything but its identity, start and status optional.
#[derive(Deserialize)]
struct Run {
    run_id: Uuid,
    #[serde(default)]
    label: Option<String>,
    pipeline_id: String,
    pipeline_name: String,
    #[serde(default)]
    pipeline_file: Option<String>,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    git: Option<GitInfo>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    ci: Option<CiInfo>,
    started_at: Timestamp,
    /// Absent (`None`) is not the same as `null` (`Some(None)`: still running).
    #[serde(default, deserialize_with = "present")]
    finished_at: Option<Option<Timestamp>>,
    #[serde(default)]
    heartbeat_at: Option<Timestamp>,
    status: RunStatus,
    #[serde(default)]
    baton_version: Option<String>,
}

/// [`BeatRecord`] with everything but what identifies and measures it optional.
#[derive(Deserialize)]
struct Beat {
    #[serde(default)]
    run_id: Option<Uuid>,
    movement_index: u32,
    movement: String,
    beat_index: u32,
    beat: String,
    #[serde(default, rename = "type")]
    beat_type: Option<BeatType>,
    #[serde(default)]
    level: Option<Level>,
    started_at: Timestamp,
    status: BeatStatus,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    signal: Option<i32>,
    #[serde(default)]
    attempts: Option<u32>,
    duration_ms: u64,
    #[serde(default)]
    duration_bucket: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    cpu_user_ms: u64,
    #[serde(default, deserialize_with = "or_default")]
    cpu_sys_ms: u64,
    #[serde(default, deserialize_with = "or_default")]
    peak_rss_bytes: u64,
    #[serde(default, deserialize_with = "or_default")]
    artifacts_count: u64,
    #[serde(default, deserialize_with = "or_default")]
    artifacts_bytes: u64,
    #[serde(default, deserialize_with = "or_default")]
    errors_count: u64,
    #[serde(default)]
    cache_state: Option<CacheState>,
    #[serde(default)]
    tests: Option<TestCounts>,
    #[serde(default)]
    cost_usd: Option<f64>,
    #[serde(default, deserialize_with = "or_default")]
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    slo: Option<SloTarget>,
    #[serde(default)]
    sla: Option<SlaVerdict>,
    #[serde(default)]
    shape: Option<Shape>,
    #[serde(default)]
    log_path: Option<String>,
    #[serde(default)]
    rollback: Option<RollbackRecord>,
    #[serde(default)]
    attempt_log: Vec<AttemptRecord>,
    #[serde(default)]
    input_identity: Option<String>,
    #[serde(default)]
    restored: Option<bool>,
    #[serde(default)]
    restored_from: Option<String>,
}

/// A field that may be `null`: `Some(None)` when it is, `None` (by `default`) when
/// it is absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A field whose `null` means its default, like its absence.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A line read into baton's records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub run: RunRecord,
    pub beats: Vec<BeatRecord>,
}

/// Reads one line (without its newline): the run and its beats, or what is wrong
/// with it, in one line of text.
pub(crate) fn parse(line: &[u8]) -> Result<Parsed, String> {
    let doc: Document = match serde_json::from_slice(line) {
        Ok(doc) => doc,
        Err(err) => return Err(explain(line, &err)),
    };
    check_version(doc.format_version)?;
    complete(doc.run, doc.beats)
}

fn check_version(version: u32) -> Result<(), String> {
    if version == RUN_DOCUMENT_VERSION {
        Ok(())
    } else {
        Err(format!(
            "unknown format_version {version} (this baton reads version {RUN_DOCUMENT_VERSION})"
        ))
    }
}

/// Why a line did not read: a line that is not JSON at all (cut short, say) with
/// the column; one that is, with the field that is wrong.
fn explain(line: &[u8], err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Eof => format!(
            "truncated line: the JSON ends at column {} before it is complete",
            err.column()
        ),
        Category::Syntax | Category::Io => {
            format!("invalid JSON at column {}: {}", err.column(), bare(err))
        }
        Category::Data => match serde_json::from_slice::<Value>(line) {
            Ok(value) => {
                locate(&value).unwrap_or_else(|| format!("{} (column {})", bare(err), err.column()))
            }
            Err(_) => format!("{} (column {})", bare(err), err.column()),
        },
    }
}

/// serde_json's message without its " at line L column C".
fn bare(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The first wrong part of a line that is valid JSON, in the order a reader should
/// fix them: the envelope and its version, the run, then each beat.
fn locate(value: &Value) -> Option<String> {
    let Some(doc) = value.as_object() else {
        return Some("a line must be a JSON object (format_version, run, beats)".to_owned());
    };
    match doc.get("format_version") {
        None => return Some("missing field `format_version`".to_owned()),
        Some(v) => match v.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(version) => {
                if let Err(err) = check_version(version) {
                    return Some(err);
                }
            }
            None => return Some(format!("format_version: {v} is not a version number")),
        },
    }
    let Some(run) = doc.get("run") else {
        return Some("missing field `run`".to_owned());
    };
    if let Some(err) = field_error("run", run, |v| Run::deserialize(v).map(drop)) {
        return Some(err);
    }
    match doc.get("beats") {
        None => Some("missing field `beats`".to_owned()),
        Some(Value::Array(beats)) => beats.iter().enumerate().find_map(|(i, beat)| {
            field_error(&format!("beats[{i}]"), beat, |v| {
                Beat::deserialize(v).map(drop)
            })
        }),
        Some(other) => Some(format!("beats: {} is not an array", kind(other))),
    }
}

/// What is wrong with `value` as read by `read`, under `path` and narrowed to the
/// field at fault when it is an object; `None` when it reads.
fn field_error(
    path: &str,
    value: &Value,
    read: impl Fn(&Value) -> Result<(), serde_json::Error>,
) -> Option<String> {
    let err = read(value).err()?;
    let message = err.to_string();
    let Value::Object(map) = value else {
        return Some(format!("{path}: {message}"));
    };
    if message.starts_with("missing field") {
        return Some(format!("{path}: {message}"));
    }
    // The field at fault is the one whose absence changes the error.
    let culprit = map.keys().find(|key| {
        let mut without = map.clone();
        without.remove(*key);
        match read(&Value::Object(without)) {
            Ok(()) => true,
            Err(other) => other.to_string() != message,
        }
    });
    Some(match culprit {
        Some(key) => format!("{path}.{key}: {message}"),
        None => format!("{path}: {message}"),
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The first time the history store cannot hold (it keeps nanoseconds since the
/// epoch in 64 bits: 1677-09-21 to 2262-04-11).
fn storable(what: &str, at: Timestamp) -> Result<Timestamp, String> {
    if i64::try_from(at.as_nanosecond()).is_ok() {
        Ok(at)
    } else {
        Err(format!("{what}: {at} is outside the years 1678-2261"))
    }
}

/// A count the history store keeps as a signed 64-bit integer.
fn count(what: &str, v: u64) -> Result<u64, String> {
    if i64::try_from(v).is_ok() {
        Ok(v)
    } else {
        Err(format!("{what}: {v} is too large"))
    }
}

/// `build-YYYYMMDD-HHMMSS` of the start, in UTC (baton's own labels use the local
/// time of the machine that ran it; an importer does not know it).
fn label_of(started_at: Timestamp) -> String {
    format!("build-{}", started_at.strftime("%Y%m%d-%H%M%S"))
}

/// Checks the records and fills what the line left out (docs/import-format.md).
fn complete(run: Run, beats: Vec<Beat>) -> Result<Parsed, String> {
    let Run {
        run_id,
        label,
        pipeline_id,
        pipeline_name,
        pipeline_file,
        level,
        git,
        host,
        ci,
        started_at,
        finished_at,
        heartbeat_at,
        status,
        baton_version,
    } = run;
    if pipeline_id.is_empty() {
        return Err("run.pipeline_id is empty".to_owned());
    }
    let started_at = storable("run.started_at", started_at)?;
    let level = level.unwrap_or_default();
    let mut names: HashMap<&str, usize> = HashMap::with_capacity(beats.len());
    let mut last_end = started_at;
    for (i, beat) in beats.iter().enumerate() {
        if beat.beat.is_empty() {
            return Err(format!("beats[{i}].beat is empty"));
        }
        if let Some(first) = names.insert(&beat.beat, i) {
            return Err(format!(
                "beats[{i}]: beat '{}' is already beats[{first}] (a run has each beat once)",
                beat.beat
            ));
        }
        if let Some(other) = beat.run_id.filter(|id| *id != run_id) {
            return Err(format!(
                "beats[{i}].run_id: {other} is not the run's id {run_id}"
            ));
        }
        let at = storable(&format!("beats[{i}].started_at"), beat.started_at)?;
        for (field, v) in [
            ("duration_ms", beat.duration_ms),
            ("cpu_user_ms", beat.cpu_user_ms),
            ("cpu_sys_ms", beat.cpu_sys_ms),
            ("peak_rss_bytes", beat.peak_rss_bytes),
        ] {
            count(&format!("beats[{i}].{field}"), v)?;
        }
        if let Some(slo) = &beat.slo
            && u64::try_from(slo.duration.as_nanos()).is_err()
        {
            return Err(format!("beats[{i}].slo.duration_ms is too large"));
        }
        let end = i64::try_from(beat.duration_ms)
            .ok()
            .and_then(|ms| at.checked_add(SignedDuration::from_millis(ms)).ok())
            .ok_or_else(|| format!("beats[{i}]: it ends after the year 9999"))?;
        last_end = last_end.max(end);
    }
    let finished_at = match finished_at {
        Some(given) => given,
        None if status == RunStatus::Running => None,
        None => Some(last_end),
    };
    let finished_at = finished_at
        .map(|t| storable("run.finished_at", t))
        .transpose()?;
    let heartbeat_at = storable(
        "run.heartbeat_at",
        heartbeat_at.or(finished_at).unwrap_or(last_end),
    )?;
    let run = RunRecord {
        run_id,
        label: label.unwrap_or_else(|| label_of(started_at)),
        pipeline_id,
        pipeline_name,
        pipeline_file: pipeline_file.unwrap_or_default(),
        level,
        git,
        host: host.unwrap_or_default(),
        ci,
        started_at,
        finished_at,
        heartbeat_at,
        status,
        baton_version: baton_version.unwrap_or_default(),
    };
    let beats = beats
        .into_iter()
        .map(|beat| beat_record(run_id, level, beat))
        .collect();
    Ok(Parsed { run, beats })
}

/// A beat with the defaults of what its line left out.
fn beat_record(run_id: Uuid, run_level: Level, beat: Beat) -> BeatRecord {
    let Beat {
        run_id: _,
        movement_index,
        movement,
        beat_index,
        beat,
        beat_type,
        level,
        started_at,
        status,
        reason,
        exit_code,
        signal,
        attempts,
        duration_ms,
        duration_bucket,
        cpu_user_ms,
        cpu_sys_ms,
        peak_rss_bytes,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state,
        tests,
        cost_usd,
        metrics,
        slo,
        sla,
        shape,
        log_path,
        rollback,
        attempt_log,
        input_identity,
        restored,
        restored_from,
    } = beat;
    // A pipeline file's beat without a `type` is a build beat.
    let beat_type = beat_type.unwrap_or(BeatType::Build);
    let cache_state = cache_state.unwrap_or(CacheState::Skip);
    BeatRecord {
        run_id,
        movement_index,
        movement,
        beat_index,
        beat,
        beat_type,
        level: level.unwrap_or(run_level),
        started_at,
        status,
        reason,
        exit_code,
        signal,
        attempts: attempts.unwrap_or(u32::from(status != BeatStatus::Skipped)),
        duration_ms,
        duration_bucket: duration_bucket
            .unwrap_or_else(|| baton_telemetry::buckets::duration_bucket(duration_ms).to_owned()),
        cpu_user_ms,
        cpu_sys_ms,
        peak_rss_bytes,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state,
        tests,
        cost_usd,
        metrics,
        slo: slo.unwrap_or_else(|| beat_type.default_slo()),
        // Not judged: import keeps verdicts, it never makes them up.
        sla: sla.unwrap_or_default(),
        shape: shape.unwrap_or_default(),
        log_path,
        rollback,
        attempt_log,
        input_identity,
        // In baton a cache hit is a restore.
        restored: restored.unwrap_or(cache_state == CacheState::Hit),
        restored_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN_ID: &str = "0190a000-0000-7000-8000-000000000001";

    fn minimal(beats: &str) -> String {
        format!(
            r#"{{"format_version":1,"run":{{"run_id":"{RUN_ID}","pipeline_id":"p","pipeline_name":"demo","started_at":"2026-11-02T10:00:00Z","status":"success"}},"beats":[{beats}]}}"#
        )
    }

    const BEAT: &str = r#"{"beat":"compile","movement":"build","movement_index":0,"beat_index":0,"status":"success","duration_ms":61500,"started_at":"2026-11-02T10:00:01Z"}"#;

    #[test]
    fn a_minimal_line_gets_the_documented_defaults() {
        let parsed = parse(minimal(BEAT).as_bytes()).expect("parses");
        let run = &parsed.run;
        assert_eq!(run.label, "build-20261102-100000");
        assert_eq!(run.level, Level::Mf);
        assert_eq!((run.host.as_str(), run.pipeline_file.as_str()), ("", ""));
        let end: Timestamp = "2026-11-02T10:01:02.5Z".parse().unwrap();
        assert_eq!((run.finished_at, run.heartbeat_at), (Some(end), end));
        let beat = &parsed.beats[0];
        assert_eq!(beat.run_id, run.run_id);
        assert_eq!(beat.beat_type, BeatType::Build);
        assert_eq!(beat.cache_state, CacheState::Skip);
        assert_eq!(beat.duration_bucket, "30s-2m");
        assert_eq!(beat.attempts, 1);
        assert!(!beat.restored);
        assert_eq!(beat.sla, SlaVerdict::default());
        assert_eq!(beat.shape, Shape::default());
        assert_eq!(beat.slo, BeatType::Build.default_slo());
    }

    #[test]
    fn a_hit_without_restored_was_restored_and_a_running_run_has_no_end() {
        let hit = BEAT.replace("\"status\"", "\"cache_state\":\"hit\",\"status\"");
        let line = minimal(&hit).replace("\"success\"}", "\"running\"}");
        let parsed = parse(line.as_bytes()).expect("parses");
        assert!(parsed.beats[0].restored);
        assert_eq!(parsed.run.status, RunStatus::Running);
        assert_eq!(parsed.run.finished_at, None);
    }

    #[test]
    fn null_means_the_default_except_for_finished_at() {
        let beat = BEAT.replace(
            "{",
            r#"{"cpu_user_ms":null,"metrics":null,"cache_state":null,"sla":null,"#,
        );
        let line = minimal(&beat).replace(
            "\"status\":\"success\"}",
            "\"status\":\"success\",\"finished_at\":null,\"host\":null}",
        );
        let parsed = parse(line.as_bytes()).expect("parses");
        assert_eq!(parsed.run.finished_at, None, "null: not finished");
        assert_eq!(parsed.run.host, "");
        let beat = &parsed.beats[0];
        assert_eq!((beat.cpu_user_ms, beat.metrics.len()), (0, 0));
        assert_eq!(beat.cache_state, CacheState::Skip);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let wrong = minimal(&BEAT.replace("61500", "\"61500\""));
        assert_eq!(
            parse(wrong.as_bytes()).unwrap_err(),
            "beats[0].duration_ms: invalid type: string \"61500\", expected u64"
        );
        let missing = minimal(&BEAT.replace("\"movement\":\"build\",", ""));
        assert_eq!(
            parse(missing.as_bytes()).unwrap_err(),
            "beats[0]: missing field `movement`"
        );
        let status = minimal("").replace("\"success\"", "\"fine\"");
        assert!(
            parse(status.as_bytes())
                .unwrap_err()
                .starts_with("run.status: unknown variant `fine`"),
        );
        let version = minimal(BEAT).replace("\"format_version\":1", "\"format_version\":7");
        assert_eq!(
            parse(version.as_bytes()).unwrap_err(),
            "unknown format_version 7 (this baton reads version 1)"
        );
        let cut = minimal(BEAT);
        assert_eq!(
            parse(&cut.as_bytes()[..40]).unwrap_err(),
            "truncated line: the JSON ends at column 40 before it is complete"
        );
        assert_eq!(
            parse(b"[1]").unwrap_err(),
            "a line must be a JSON object (format_version, run, beats)"
        );
    }

    #[test]
    fn a_run_has_each_beat_once_and_only_its_own() {
        let twice = minimal(&format!("{BEAT},{BEAT}"));
        assert_eq!(
            parse(twice.as_bytes()).unwrap_err(),
            "beats[1]: beat 'compile' is already beats[0] (a run has each beat once)"
        );
        let other =
            minimal(&BEAT.replace("{", "{\"run_id\":\"0190a000-0000-7000-8000-000000000002\","));
        assert!(
            parse(other.as_bytes())
                .unwrap_err()
                .starts_with("beats[0].run_id: 0190a000-0000-7000-8000-000000000002 is not")
        );
    }

    #[test]
    fn times_and_counts_the_store_cannot_hold_are_rejected() {
        let late = minimal(BEAT).replace("2026-11-02T10:00:01Z", "2999-01-01T00:00:00Z");
        assert_eq!(
            parse(late.as_bytes()).unwrap_err(),
            "beats[0].started_at: 2999-01-01T00:00:00Z is outside the years 1678-2261"
        );
        let huge = minimal(&BEAT.replace("61500", "18446744073709551615"));
        assert_eq!(
            parse(huge.as_bytes()).unwrap_err(),
            "beats[0].duration_ms: 18446744073709551615 is too large"
        );
    }
}
