//! `baton budget`: each beat's SLO error budget over a history filled through the
//! store API, with objectives from the folder's pipeline file; and the budget state
//! a real `baton run` puts in the GitHub job summary.

mod common;

use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord, RunStatus, SlaStatus};
use baton_store::test_records::{beat, run};
use baton_store::{HistoryStore, SqliteStore};
use common::Project;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const PIPELINE_ID: &str = "4c6f3a1e-2b7d-4e8f-9a0b-1c2d3e4f5a6b";

/// A pipeline file whose `deploy` beat asks for 80% and the rest for the default.
fn project() -> Project {
    Project::with_pipeline(&format!(
        "version: 1\nid: {PIPELINE_ID}\nname: ci\nmovements:\n  - name: m\n    beats:\n      \
         - {{ name: compile, type: build, run: 'true' }}\n      \
         - {{ name: unit-tests, type: test, run: 'true' }}\n      \
         - {{ name: deploy, type: deploy, run: 'true', slo: {{ objective: 0.8 }} }}\n      \
         - {{ name: lint, type: validation, run: 'true' }}\n"
    ))
}

/// 40 runs an hour apart: `compile` over its SLO in 1, `unit-tests` failing in 6,
/// `deploy` over its SLO in 6 (80% allows 8), `lint` in the last 12 only, and a
/// skipped `unit-tests` in one more run that says nothing.
fn fill(project: &Project) {
    let store = SqliteStore::open(project.join(".baton/history.db")).expect("store");
    let now = Timestamp::now();
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut beats: Vec<BeatRecord> = Vec::new();
    let total = 41;
    for i in 0..total {
        let started = now - SignedDuration::from_hours((total - i) as i64);
        let mut r = run(PIPELINE_ID, started, RunStatus::Success);
        let mut add = |b: u32, name: &str, status: BeatStatus, sla: SlaStatus| {
            let mut record = beat(&r, 0, b, name, status, 1000, CacheState::Skip);
            record.sla.overall_status = sla;
            beats.push(record);
        };
        let slow = |yes: bool| {
            if yes {
                SlaStatus::Breach
            } else {
                SlaStatus::Compliant
            }
        };
        add(0, "compile", BeatStatus::Success, slow(i == 7));
        let tests = match i {
            40 => BeatStatus::Skipped,
            _ if i % 7 == 3 => BeatStatus::Failure,
            _ => BeatStatus::Success,
        };
        let tests_sla = if tests == BeatStatus::Failure {
            SlaStatus::Critical
        } else {
            SlaStatus::Compliant
        };
        add(1, "unit-tests", tests, tests_sla);
        add(2, "deploy", BeatStatus::Success, slow(i % 6 == 1 && i < 36));
        if i >= 28 {
            add(3, "lint", BeatStatus::Success, SlaStatus::Compliant);
        }
        if tests == BeatStatus::Failure {
            r.status = RunStatus::Failure;
        }
        runs.push(r);
    }
    store.record_runs_bulk(&runs).expect("runs");
    store.record_beats_bulk(&beats).expect("beats");
}

fn budget_json(project: &Project, args: &[&str]) -> Value {
    let mut all = vec!["budget", "--format", "json"];
    all.extend_from_slice(args);
    let out = project.baton(&all).output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn beat_of<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["pipelines"][0]["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .find(|b| b["beat"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn each_beat_spends_its_budget_on_failures_and_slow_successes() {
    let project = project();
    fill(&project);
    let doc = budget_json(&project, &[]);
    assert_eq!(doc["days"], 30);
    assert_eq!(doc["pipelines"][0]["objectives_from"], "pipeline_file");

    // 41 runs at 95% allow 2.05 misses: one slow run leaves about half.
    let compile = beat_of(&doc, "compile");
    assert_eq!(compile["runs"], 41);
    assert_eq!(compile["missed"], 1);
    assert_eq!(compile["state"], "healthy");
    let left = compile["remaining"].as_f64().expect("remaining");
    assert!((left - (1.0 - 1.0 / 2.05)).abs() < 1e-9, "{left}");

    // Six failures where 40 decided runs allow two; the skipped run says nothing.
    let tests = beat_of(&doc, "unit-tests");
    assert_eq!(tests["runs"], 40);
    assert_eq!(tests["missed"], 6);
    assert_eq!(tests["state"], "exhausted");
    assert!(tests["remaining"].as_f64().expect("remaining") < 0.0);

    // The pipeline file's 80% allows 8.2 misses in 41 runs: 6 leave a quarter.
    let deploy = beat_of(&doc, "deploy");
    assert_eq!(deploy["objective"], 0.8);
    assert_eq!(deploy["missed"], 6);
    assert_eq!(deploy["state"], "healthy");

    // 13 runs cannot support a verdict at 95% (20 needed).
    let lint = beat_of(&doc, "lint");
    assert_eq!(lint["runs"], 13);
    assert_eq!(lint["state"], "insufficient_data");
    assert_eq!(lint["remaining"], Value::Null);
    assert_eq!(lint["min_runs"], 20);

    let text = project.baton(&["budget"]).output().expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("-name: SLO budgets over 30 days (objectives from the pipeline file): 1 exhausted, 2 healthy, 1 with too few runs"),
        "{text}"
    );
    assert!(
        text.contains("exhausted: 6 missed where 40 runs allow 2"),
        "{text}"
    );
    assert!(text.contains("too few runs (13 of 20)"), "{text}");
}

#[test]
fn a_shorter_window_counts_only_its_runs() {
    let project = project();
    fill(&project);
    // Runs an hour apart ending an hour ago: a day holds the last 23.
    let doc = budget_json(&project, &["--days", "1"]);
    assert_eq!(doc["days"], 1);
    let compile = beat_of(&doc, "compile");
    assert!(compile["runs"].as_u64().expect("runs") <= 24);
    assert_eq!(compile["missed"], 0, "the slow run is older than a day");
}

#[test]
fn without_the_pipeline_file_every_beat_is_judged_at_the_default() {
    let project = project();
    fill(&project);
    let doc = budget_json(&project, &["--all"]);
    // With --all the folder's file still names the objectives of its pipeline.
    assert_eq!(beat_of(&doc, "deploy")["objective"], 0.8);
    std::fs::remove_file(project.join("baton.yaml")).expect("rm");
    let doc = budget_json(&project, &["--all"]);
    assert_eq!(doc["pipelines"][0]["objectives_from"], "default");
    let deploy = beat_of(&doc, "deploy");
    assert_eq!(deploy["objective"], 0.95);
    assert_eq!(deploy["state"], "exhausted");
}

#[test]
fn a_run_on_github_puts_the_budget_state_in_the_job_summary() {
    let project = project();
    fill(&project);
    let summary = project.join("summary.md");
    let out = project
        .baton(&["run", "--output", "quiet"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&summary).expect("summary");
    let section = text
        .split("### SLO budget")
        .nth(1)
        .unwrap_or_else(|| panic!("no budget section in {text}"));
    // The run just recorded counts: 41 decided runs of `unit-tests` allow 2.05.
    assert!(
        section.contains("Over 30 days: 1 exhausted, 2 healthy, 1 with too few runs"),
        "{section}"
    );
    assert!(
        section.contains("`unit-tests`: exhausted: 6 missed where 41 runs allow 2.05"),
        "{section}"
    );
}
