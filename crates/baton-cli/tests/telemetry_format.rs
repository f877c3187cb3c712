//! The files `baton run` writes speak the source document's record format
//! (docs/telemetry-format.md), each valid against its schema in docs/schemas/; the
//! per-beat files come at level ff or on request; the shape registry next to the
//! history follows every run and annotation; past its size cap the history
//! sheds its oldest runs by itself.

mod common;

use std::path::{Path, PathBuf};

use common::Project;

fn pipeline(beats: &str) -> String {
    format!("version: 1\nid: 5b0e7d1c-2a3f-4c6d-8e9f-0a1b2c3d4e5f\nname: t\nmovements:\n{beats}")
}

/// Two movements: a passing beat, a failure that is allowed, a beat that
/// succeeds at its second attempt (the marker file makes the first one fail).
fn project() -> Project {
    Project::with_pipeline(&pipeline(
        "  - name: first\n    beats:\n      - { name: hello, run: 'echo hi' }\n      - { name: lenient, run: 'exit 3', allow_failure: true }\n  - name: second\n    beats:\n      - name: again\n        run: 'test -f tried || { touch tried; exit 1; }'\n        retry: { attempts: 2, backoff: 0s }\n",
    ))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn assert_schema(schema: &str, value: &serde_json::Value) {
    let path = common::repo_root().join("docs/schemas").join(schema);
    let schema: serde_json::Value = json(&path);
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

fn telemetry_files(project: &Project) -> Vec<PathBuf> {
    walk(&project.join(".baton/telemetry"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.ends_with("artifacts.json"))
        .collect()
}

#[test]
fn every_file_a_run_writes_follows_its_schema() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .env("BATON_BEAT_FILES", "1")
        .assert()
        .success();
    let files = telemetry_files(&project);
    assert_eq!(files.len(), 4, "{files:?}");
    for file in &files {
        let doc = json(file);
        if file.ends_with("build-sli-slo-sla-report.json") {
            assert_schema("telemetry-report.schema.json", &doc);
            assert_eq!(doc["summary"]["totalBeats"], 3);
            assert_eq!(doc["summary"]["partialBeats"], 2);
            assert_eq!(doc["summary"]["successfulBeats"], 1);
        } else {
            assert_schema("telemetry-beat.schema.json", &doc);
        }
    }
    let beat = |path: &str| {
        let file = files
            .iter()
            .find(|p| p.ends_with(path))
            .unwrap_or_else(|| panic!("{path} in {files:?}"));
        json(file)
    };
    let hello = beat("movement-1/beat-1-hello.json");
    assert_eq!(hello["event"], "movement-1:hello:completed");
    assert_eq!(hello["sli"]["status"], "success");
    // Without a CI provider the run id correlates the records.
    assert_eq!(hello["correlationId"], hello["baton"]["run_id"]);
    let lenient = beat("movement-1/beat-2-lenient.json");
    assert_eq!(lenient["event"], "movement-1:lenient:failed");
    assert_eq!(lenient["sli"]["status"], "partial");
    assert_eq!(lenient["baton"]["exit_code"], 3);
    let again = beat("movement-2/beat-1-again.json");
    assert_eq!(again["sli"]["status"], "partial");
    assert_eq!(again["baton"]["attempts"], 2);
    let tries = again["baton"]["attempt_log"]
        .as_array()
        .expect("attempts kept");
    assert_eq!(tries.len(), 2);
    assert_eq!(
        (&tries[0]["status"], &tries[0]["exit_code"]),
        (&serde_json::json!("failure"), &serde_json::json!(1))
    );
    assert_eq!(tries[1]["status"], "success");
    assert!(hello["baton"].get("attempt_log").is_none(), "ran once");

    let registry = json(&project.join(".baton/shape-evolutions.json"));
    assert_schema("shape-evolutions.schema.json", &registry);
}

#[test]
fn beat_files_only_at_ff_or_on_request_and_the_report_always() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let files = telemetry_files(&project);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("build-sli-slo-sla-report.json"));
    // Everything a beat file would hold is in the report.
    assert_eq!(
        json(&files[0])["baton"]["beats"].as_array().map(Vec::len),
        Some(3)
    );

    std::fs::remove_dir_all(project.join(".baton/telemetry")).expect("rm");
    project
        .baton(&["run", "--output", "quiet", "--level", "ff"])
        .assert()
        .success();
    assert_eq!(telemetry_files(&project).len(), 4);

    std::fs::remove_dir_all(project.join(".baton/telemetry")).expect("rm");
    project
        .baton(&["run", "--output", "quiet", "--level", "ff"])
        .env("BATON_BEAT_FILES", "0")
        .assert()
        .success();
    assert_eq!(telemetry_files(&project).len(), 1);
}

#[test]
fn the_registry_follows_runs_and_annotations() {
    // The duration bucket moves from <1s to 1-5s: the shape evolves.
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: a, run: 'echo a' }\n      - { name: b, run: 'if [ -f slow ]; then sleep 1.1; fi' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let registry = json(&project.join(".baton/shape-evolutions.json"));
    assert_eq!(registry["evolutions"], serde_json::json!([]));
    std::fs::write(project.join("slow"), "").expect("write");
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let registry = json(&project.join(".baton/shape-evolutions.json"));
    assert_schema("shape-evolutions.schema.json", &registry);
    let entries = registry["evolutions"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{registry:#}");
    assert_eq!(entries[0]["feature"], "movement-1-beat-2");
    assert_eq!(entries[0]["baton"]["beat"], "b");
    assert!(entries[0]["reason"].is_null());

    project
        .baton(&["shape", "annotate", "b", "--reason", "slower on purpose"])
        .assert()
        .success();
    let registry = json(&project.join(".baton/shape-evolutions.json"));
    assert_schema("shape-evolutions.schema.json", &registry);
    assert_eq!(registry["evolutions"][0]["reason"], "slower on purpose");
    assert!(registry["evolutions"][0]["annotatedAt"].is_string());

    // `shape export` writes the same format on demand.
    project
        .baton(&["shape", "export", "-o", "out.json"])
        .assert()
        .success();
    assert_eq!(json(&project.join("out.json")), registry);
}

#[test]
fn past_the_cap_the_oldest_runs_go_never_the_new_one_and_the_run_passes() {
    let project = project();
    for _ in 0..3 {
        project
            .baton(&["run", "--output", "quiet"])
            .env("BATON_GC_MAX_SIZE", "off")
            .assert()
            .success();
    }
    let out = project
        .baton(&["run", "--output", "quiet"])
        .env("BATON_GC_MAX_SIZE", "1kB")
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("gc:")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("removed the 3 oldest run(s)"), "{stderr}");
    // The run just made stays, with its folders; the others are gone.
    let history = project
        .baton(&["history", "--format", "json"])
        .output()
        .expect("history");
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let label = runs[0]["label"].as_str().expect("label");
    let folders: Vec<String> = std::fs::read_dir(project.join(".baton/telemetry"))
        .expect("telemetry")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders, [label]);
}

#[test]
fn a_bad_cap_is_one_warning_and_the_default_applies() {
    let project = project();
    let out = project
        .baton(&["run", "--output", "quiet"])
        .env("BATON_GC_MAX_SIZE", "lots")
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("BATON_GC_MAX_SIZE"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("'lots'"), "{stderr}");
}
