//! The telemetry files (docs/recording.md), in the record format of the source
//! document ([`crate::documented`], format 2):
//!
//! ```text
//! <dir>/<run-label>/movement-<n>/beat-<n>-<name>.json   one per beat (n 1-based), on request
//! <dir>/<run-label>/build-sli-slo-sla-report.json       the run report, always
//! ```
//!
//! Each file is written to a temporary sibling and renamed into place, so a reader
//! never sees a half-written file. Paths come from [`baton_model::layout`]: a beat
//! or label can never escape `<dir>`, and two names never share a file. The
//! readers take format 1 (the flat record, the bare report) and format 2 alike.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use baton_analysis::Anomaly;
use baton_model::{BeatRecord, RunRecord, layout};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::documented::{AllowedFailures, BeatDocument, BeatFacts, ReportDocument};
use crate::report::{REPORT_FILE_NAME, RunReport};

/// Writes every beat's file and the run report under `<dir>/<run-label>/`.
pub fn write(dir: &Path, report: &RunReport, allowed: &AllowedFailures) -> io::Result<()> {
    for record in &report.beats {
        let anomalies: Vec<&Anomaly> = report.anomalies_of(&record.beat).collect();
        write_beat(
            dir,
            &report.run,
            record,
            &anomalies,
            allowed.contains(&record.beat),
        )?;
    }
    write_report(dir, report, allowed)
}

/// Writes one beat's file, `<dir>/<run-label>/movement-<n>/beat-<n>-<name>.json`:
/// `baton run` writes each as soon as its beat is done, when asked to.
pub fn write_beat(
    dir: &Path,
    run: &RunRecord,
    record: &BeatRecord,
    anomalies: &[&Anomaly],
    failure_allowed: bool,
) -> io::Result<()> {
    let file = BeatDocument::new(run, record, anomalies, failure_allowed);
    let path = run_dir(dir, &run.label).join(beat_relative_path(record));
    write_json_atomically(&path, &file)
}

/// Writes the run report, `<dir>/<run-label>/build-sli-slo-sla-report.json`.
pub fn write_report(dir: &Path, report: &RunReport, allowed: &AllowedFailures) -> io::Result<()> {
    let run_dir = run_dir(dir, &report.run.label);
    write_json_atomically(
        &run_dir.join(REPORT_FILE_NAME),
        &ReportDocument::new(report, allowed),
    )
}

/// The content of a run's report file, for a program that wants it without
/// writing it (the webhook's copy of the file).
pub fn report_json(report: &RunReport, allowed: &AllowedFailures) -> String {
    let mut text = serde_json::to_string_pretty(&ReportDocument::new(report, allowed))
        .unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}

/// Reads a run's report file back, in format 1 or 2.
pub fn read_report(path: &Path) -> io::Result<RunReport> {
    read_versioned(path, |doc: ReportDocument| doc.baton)
}

/// Reads a beat's file back, in format 1 or 2: the record with its run context
/// and anomalies.
pub fn read_beat(path: &Path) -> io::Result<BeatFacts> {
    read_versioned(path, |doc: BeatDocument| doc.baton)
}

/// Format 2 puts format 1's content under `baton`; format 1 is that content.
fn read_versioned<V2: DeserializeOwned, V1: DeserializeOwned>(
    path: &Path,
    from_v2: impl FnOnce(V2) -> V1,
) -> io::Result<V1> {
    let bytes = fs::read(path)?;
    let invalid = |err: serde_json::Error| {
        let at = if err.line() > 0 {
            format!(":{}:{}", err.line(), err.column())
        } else {
            String::new()
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("failed to read {}{at}: {err}", path.display()),
        )
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(1) => serde_json::from_value(value).map_err(invalid),
        Some(2) => serde_json::from_value(value).map(from_v2).map_err(invalid),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "failed to read {}: unknown format_version {}",
                path.display(),
                other.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            ),
        )),
    }
}

/// `<dir>/<run-label>`, the label encoded as [`baton_model::layout::file_name`] says.
pub fn run_dir(dir: &Path, run_label: &str) -> PathBuf {
    layout::run_dir(dir, run_label)
}

/// `movement-<n>/beat-<n>-<name>.json` relative to the run directory.
pub fn beat_relative_path(record: &BeatRecord) -> PathBuf {
    layout::beat_telemetry_relative(record.movement_index, record.beat_index, &record.beat)
}

pub(crate) fn write_json_atomically<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("telemetry.json");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        // Serialized in memory first: one write per file instead of one per token.
        let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        // The folder is made only when it is missing (once per movement), not
        // asked about for every file.
        let file = match fs::File::create(&tmp) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                fs::File::create(&tmp)
            }
            created => created,
        };
        file?.write_all(&bytes)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
