//! The telemetry files land where docs/recording.md says, whole and readable.

mod common;

use std::fs;

use baton_report::{RunReport, telemetry_files};

#[test]
fn writes_the_designed_layout() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::report();
    telemetry_files::write(dir.path(), &report).unwrap();

    let run_dir = dir.path().join("build-20251126-123456");
    let mut files: Vec<String> = walk(&run_dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(&run_dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "build-sli-slo-sla-report.json",
            "movement-1/beat-1-load-build-context.json",
            "movement-1/beat-2-lint%20%7C%20fmt.json",
            "movement-2/beat-1-codegen.json",
            "movement-3/beat-1-compile.json",
            "movement-3/beat-2-unit-tests.json",
            "movement-4/beat-1-deploy.json",
        ]
    );

    let text = fs::read_to_string(run_dir.join("build-sli-slo-sla-report.json")).unwrap();
    let back: RunReport = serde_json::from_str(&text).unwrap();
    assert_eq!(format!("{}\n", baton_report::render_json(&back)), text);

    let beat: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(run_dir.join("movement-3/beat-1-compile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(beat["format_version"], 1);
    assert_eq!(beat["run_label"], "build-20251126-123456");
    assert_eq!(beat["pipeline_name"], "build-pipeline-symphony");
    assert_eq!(beat["beat"], "compile");
    assert_eq!(beat["duration_ms"], 194_000);
    assert_eq!(beat["sla"]["overall_status"], "breach");
    assert_eq!(beat["anomalies"][0]["rule"], "slow_duration");
    // The flattened record reads back as a BeatRecord.
    let record: baton_model::BeatRecord = serde_json::from_value(beat).unwrap();
    assert_eq!(record.beat, report.beats[3].beat);
    assert_eq!(record.shape, report.beats[3].shape);
}

#[test]
fn rewriting_replaces_files_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::report();
    telemetry_files::write(dir.path(), &report).unwrap();
    telemetry_files::write(dir.path(), &report).unwrap();
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn hostile_names_stay_inside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = common::run();
    run.label = "../../escape".into();
    let mut beats = common::beats();
    beats[0].beat = "../../../etc/passwd".into();
    let report = RunReport::new(run, beats, vec![]);
    telemetry_files::write(dir.path(), &report).unwrap();
    let files = walk(dir.path());
    assert!(files.iter().all(|p| p.starts_with(dir.path())));
    assert!(
        dir.path()
            .join("%2E.%2F..%2Fescape/movement-3/beat-2-%2E.%2F..%2F..%2Fetc%2Fpasswd.json")
            .is_file()
    );
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, "not a directory").unwrap();
    assert!(telemetry_files::write(&blocker, &common::report()).is_err());
}

#[allow(clippy::unwrap_used)]
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
