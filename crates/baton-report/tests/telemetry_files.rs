//! The telemetry files land where docs/recording.md says, in the documented record
//! format (docs/schemas/), whole and readable, and format 1 still reads.

mod common;

use std::fs;

use baton_report::{RunReport, telemetry_files};

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json")
}

/// `value` follows `docs/schemas/<schema>`.
fn assert_schema(schema: &str, value: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schemas")
        .join(schema);
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

#[test]
fn writes_the_designed_layout() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::report();
    telemetry_files::write(dir.path(), &report, &Default::default()).unwrap();

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

    // The report file reads back as the report it was written from.
    let back =
        telemetry_files::read_report(&run_dir.join("build-sli-slo-sla-report.json")).unwrap();
    assert_eq!(back, report);
    let doc = json(&run_dir.join("build-sli-slo-sla-report.json"));
    assert_eq!(doc["format_version"], 2);
    assert_eq!(doc["buildId"], "build-20251126-123456");
    // The CI provider's run id correlates the run.
    assert_eq!(doc["correlationId"], "123456789");
    assert_eq!(doc["summary"]["totalBeats"], 6);
    assert_eq!(
        doc["breaches"].as_array().map(Vec::len),
        Some(report.breaches.len())
    );
    assert_eq!(doc["baton"]["format_version"], 1);

    let beat = json(&run_dir.join("movement-3/beat-1-compile.json"));
    assert_eq!(beat["format_version"], 2);
    assert_eq!(beat["buildId"], "build-20251126-123456");
    assert_eq!(beat["movement"], 3);
    assert_eq!(beat["beat"], 1);
    assert_eq!(beat["beatName"], "compile");
    assert_eq!(beat["event"], "movement-3:compile:completed");
    assert_eq!(beat["sli"]["duration_ms"], 194_000);
    assert_eq!(
        beat["sli"]["duration_bucket"],
        *report.beats[3].duration_bucket
    );
    assert_eq!(beat["sli"]["status"], "success");
    assert!(beat["sli"]["memory_delta_mb"].is_null());
    assert_eq!(beat["slo"]["targetDuration_ms"], 120_000);
    assert_eq!(beat["sla"]["duration_exceeded"], true);
    assert_eq!(beat["sla"]["overall_status"], "breach");
    assert_eq!(beat["shape"]["currentHash"], report.beats[3].shape.hash);
    assert_eq!(beat["baton"]["pipeline_name"], "build-pipeline-symphony");
    assert_eq!(beat["baton"]["anomalies"][0]["rule"], "slow_duration");
    // The record reads back whole.
    let facts =
        telemetry_files::read_beat(&run_dir.join("movement-3/beat-1-compile.json")).unwrap();
    assert_eq!(facts.record, report.beats[3]);
    assert_eq!(facts.run_label, "build-20251126-123456");
}

#[test]
fn every_file_follows_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::report();
    let allowed = ["unit-tests".to_owned()].into_iter().collect();
    telemetry_files::write(dir.path(), &report, &allowed).unwrap();
    let files = walk(dir.path());
    assert_eq!(files.len(), 7);
    for file in files {
        let schema = if file.ends_with("build-sli-slo-sla-report.json") {
            "telemetry-report.schema.json"
        } else {
            "telemetry-beat.schema.json"
        };
        assert_schema(schema, &json(&file));
    }
}

#[test]
fn a_retried_success_an_allowed_failure_and_a_skipped_beat_are_partial() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = common::report();
    report.beats[0].attempts = 2; // load-build-context: success after a retry
    let allowed = ["unit-tests".to_owned()].into_iter().collect();
    telemetry_files::write(dir.path(), &report, &allowed).unwrap();
    let run_dir = dir.path().join("build-20251126-123456");
    let status = |file: &str| json(&run_dir.join(file))["sli"]["status"].clone();
    let event = |file: &str| json(&run_dir.join(file))["event"].clone();
    assert_eq!(
        status("movement-1/beat-1-load-build-context.json"),
        "partial"
    );
    assert_eq!(status("movement-3/beat-1-compile.json"), "success");
    for (i, b) in report.beats.iter().enumerate() {
        let file = telemetry_files::beat_relative_path(b);
        let file = file.to_str().unwrap();
        match b.status {
            baton_model::BeatStatus::Failure if b.beat == "unit-tests" => {
                assert_eq!(status(file), "partial", "{i}");
                assert_eq!(event(file), "movement-3:unit-tests:failed");
            }
            baton_model::BeatStatus::Failure | baton_model::BeatStatus::Timeout => {
                assert_eq!(status(file), "failure", "{i}")
            }
            baton_model::BeatStatus::Skipped => {
                assert_eq!(status(file), "partial", "{i}");
                assert!(event(file).as_str().unwrap().ends_with(":skipped"));
            }
            _ => {}
        }
    }
}

#[test]
fn format_1_files_still_read() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1");
    let facts = telemetry_files::read_beat(&fixtures.join("beat-2-build-components.json")).unwrap();
    assert_eq!(facts.record.beat, "build-components");
    assert_eq!(facts.record.duration_ms, 883);
    assert_eq!(facts.run_label, "build-20261203-154503");
    let report =
        telemetry_files::read_report(&fixtures.join("build-sli-slo-sla-report.json")).unwrap();
    assert_eq!(report.format_version, 1);
    assert_eq!(report.beats.len(), 2);
    assert_eq!(report.run.label, "build-20261203-154503");
}

#[test]
fn a_broken_or_unknown_file_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    fs::write(&broken, "{\n  \"format_version\": 2,\n  oops\n}").unwrap();
    let err = telemetry_files::read_report(&broken)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("failed to read ") && err.contains("broken.json:3:"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let future = dir.path().join("future.json");
    fs::write(&future, r#"{"format_version": 9}"#).unwrap();
    let err = telemetry_files::read_beat(&future).unwrap_err().to_string();
    assert!(err.contains("unknown format_version 9"), "{err}");
}

#[test]
fn rewriting_replaces_files_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::report();
    telemetry_files::write(dir.path(), &report, &Default::default()).unwrap();
    telemetry_files::write(dir.path(), &report, &Default::default()).unwrap();
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
    telemetry_files::write(dir.path(), &report, &Default::default()).unwrap();
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
    assert!(telemetry_files::write(&blocker, &common::report(), &Default::default()).is_err());
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
