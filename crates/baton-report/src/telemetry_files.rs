//! The telemetry files (docs/recording.md): a file per beat (written as each
//! beat finishes) and the run's report (written at the end):
//!
//! ```text
//! <dir>/<run-label>/movement-<n>/beat-<n>-<name>.json   one per beat (n 1-based)
//! <dir>/<run-label>/build-sli-slo-sla-report.json       the whole RunReport
//! ```
//!
//! Each file is written to a temporary sibling and renamed into place, so a reader
//! never sees a half-written file. Paths come from [`baton_model::layout`]: a beat
//! or label can never escape `<dir>`, and two names never share a file.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use baton_analysis::Anomaly;
use baton_model::{BeatRecord, RECORD_FORMAT_VERSION, RunRecord, layout};
use serde::Serialize;

use crate::report::{REPORT_FILE_NAME, RunReport};

/// What a per-beat file holds: the beat record with its run context and the
/// anomalies found for it.
#[derive(Serialize)]
struct BeatFile<'a> {
    format_version: u32,
    run_label: &'a str,
    pipeline_id: &'a str,
    pipeline_name: &'a str,
    #[serde(flatten)]
    record: &'a BeatRecord,
    anomalies: Vec<&'a Anomaly>,
}

/// Writes every beat's file and the run report under `<dir>/<run-label>/`.
pub fn write(dir: &Path, report: &RunReport) -> io::Result<()> {
    for record in &report.beats {
        let anomalies: Vec<&Anomaly> = report.anomalies_of(&record.beat).collect();
        write_beat(dir, &report.run, record, &anomalies)?;
    }
    write_report(dir, report)
}

/// Writes one beat's file, `<dir>/<run-label>/movement-<n>/beat-<n>-<name>.json`:
/// `baton run` writes each as soon as its beat is done.
pub fn write_beat(
    dir: &Path,
    run: &RunRecord,
    record: &BeatRecord,
    anomalies: &[&Anomaly],
) -> io::Result<()> {
    let file = BeatFile {
        format_version: RECORD_FORMAT_VERSION,
        run_label: &run.label,
        pipeline_id: &run.pipeline_id,
        pipeline_name: &run.pipeline_name,
        record,
        anomalies: anomalies.to_vec(),
    };
    let path = run_dir(dir, &run.label).join(beat_relative_path(record));
    write_json_atomically(&path, &file)
}

/// Writes the run report, `<dir>/<run-label>/build-sli-slo-sla-report.json`.
pub fn write_report(dir: &Path, report: &RunReport) -> io::Result<()> {
    let run_dir = run_dir(dir, &report.run.label);
    write_json_atomically(&run_dir.join(REPORT_FILE_NAME), report)
}

/// `<dir>/<run-label>`, the label encoded as [`baton_model::layout::file_name`] says.
pub fn run_dir(dir: &Path, run_label: &str) -> PathBuf {
    layout::run_dir(dir, run_label)
}

/// `movement-<n>/beat-<n>-<name>.json` relative to the run directory.
pub fn beat_relative_path(record: &BeatRecord) -> PathBuf {
    layout::beat_telemetry_relative(record.movement_index, record.beat_index, &record.beat)
}

fn write_json_atomically<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
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
