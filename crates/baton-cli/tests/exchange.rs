//! History in and out: `baton export` writes runs as JSON Lines, `baton import`
//! reads them back (idempotent, bad lines reported and skipped whole), and the
//! minimal format of docs/import-format.md imports and shows like any run.

mod common;

use common::Project;
use serde_json::{Value, json};

const PIPELINE: &str = r#"
version: 1
name: exchange
movements:
  - name: check
    beats:
      - { name: fmt, type: validation, run: "true" }
  - name: build
    beats:
      - { name: compile, type: build, run: "echo compiled", inputs: ["src/**"], cache: true }
      - { name: test, type: test, run: "exit 1" }
"#;

const RUN_A: &str = "0190a000-0000-7000-8000-00000000000a";
const RUN_B: &str = "0190a000-0000-7000-8000-00000000000b";
const RUN_C: &str = "0190a000-0000-7000-8000-00000000000c";
const RUN_D: &str = "0190a000-0000-7000-8000-00000000000d";
const RUN_E: &str = "0190a000-0000-7000-8000-00000000000e";

/// A beat of the minimal format: name, status, duration; movement `build`.
fn beat(name: &str, index: u32, status: &str, ms: u64, started_at: &str) -> Value {
    json!({
        "beat": name, "movement": "build", "movement_index": 0, "beat_index": index,
        "status": status, "duration_ms": ms, "started_at": started_at,
    })
}

/// A line of the minimal format.
fn line(run_id: &str, pipeline: &str, started_at: &str, beats: Vec<Value>) -> String {
    json!({
        "format_version": 1,
        "run": {
            "run_id": run_id, "pipeline_id": format!("{pipeline}-id"),
            "pipeline_name": pipeline, "started_at": started_at, "status": "success",
        },
        "beats": beats,
    })
    .to_string()
}

fn run_ok(project: &Project, args: &[&str]) -> String {
    let out = project.baton(args).output().expect("baton");
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The run ids of an export, in order.
fn run_ids(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .map(|l| {
            let doc: Value = serde_json::from_str(l).expect("a JSON line");
            doc["run"]["run_id"].as_str().expect("run id").to_owned()
        })
        .collect()
}

#[test]
fn an_export_imported_into_an_empty_history_exports_the_same_bytes() {
    let project = Project::with_pipeline(PIPELINE).file("src/lib.rs", "fn main() {}\n");
    for _ in 0..2 {
        // The test beat fails: exit 1, the run is recorded all the same.
        project
            .baton(&["run", "--output", "quiet"])
            .assert()
            .code(1);
    }
    let first = run_ok(&project, &["export"]);
    let docs: Vec<Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(docs.len(), 2, "one line per run");
    assert_eq!(docs[0]["format_version"], 1);
    assert_eq!(docs[0]["beats"].as_array().map(Vec::len), Some(3));
    assert!(
        docs[0]["run"]["started_at"].as_str() < docs[1]["run"]["started_at"].as_str(),
        "oldest first"
    );
    assert_eq!(
        docs[1]["beats"][1]["cache_state"], "hit",
        "the second run restored compile from the cache"
    );

    let elsewhere = Project::new().file("runs.jsonl", &first);
    let out = run_ok(&elsewhere, &["import", "runs.jsonl"]);
    assert_eq!(
        out,
        "imported 2 runs (6 beats), 0 already present, 0 rejected\n"
    );
    let second = run_ok(&elsewhere, &["export", "--all"]);
    assert_eq!(second, first, "byte-identical after a round trip");

    // And to a file, the same bytes.
    run_ok(&elsewhere, &["export", "-o", "again.jsonl"]);
    assert_eq!(elsewhere.read("again.jsonl"), first);
}

#[test]
fn importing_twice_finds_every_run_already_present() {
    let lines = [
        line(RUN_A, "alpha", "2026-11-02T10:00:00Z", vec![]),
        line(
            RUN_B,
            "alpha",
            "2026-11-02T11:00:00Z",
            vec![beat("compile", 0, "success", 1200, "2026-11-02T11:00:01Z")],
        ),
    ];
    let project = Project::new().file("runs.jsonl", lines.join("\n") + "\n");
    let first = run_ok(&project, &["import", "runs.jsonl"]);
    assert_eq!(
        first,
        "imported 2 runs (1 beat), 0 already present, 0 rejected\n"
    );
    let again = run_ok(&project, &["import", "runs.jsonl"]);
    assert_eq!(
        again,
        "imported 0 runs (0 beats), 2 already present, 0 rejected\n"
    );
    let exported = run_ok(&project, &["export"]);
    assert_eq!(run_ids(&exported), vec![RUN_A, RUN_B], "nothing doubled");
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_skipped_whole() {
    let at = "2026-11-02T10:00:00Z";
    let good_a = line(
        RUN_A,
        "alpha",
        at,
        vec![
            beat("compile", 0, "success", 1000, at),
            beat("test", 1, "failure", 2000, at),
        ],
    );
    let truncated = line(
        RUN_B,
        "alpha",
        at,
        vec![beat("only-in-b", 0, "success", 5, at)],
    )[..60]
        .to_owned();
    let mut wrong_type: Value = serde_json::from_str(&line(
        RUN_C,
        "alpha",
        at,
        vec![
            beat("only-in-c", 0, "success", 5, at),
            beat("compile", 1, "success", 5, at),
        ],
    ))
    .expect("json");
    wrong_type["beats"][1]["duration_ms"] = json!("fast");
    let mut unknown_version: Value = serde_json::from_str(&line(
        RUN_D,
        "alpha",
        at,
        vec![beat("only-in-d", 0, "success", 5, at)],
    ))
    .expect("json");
    unknown_version["format_version"] = json!(2);
    let duplicate = line(
        RUN_A,
        "alpha",
        "2026-11-03T10:00:00Z",
        vec![beat("only-in-dup", 0, "success", 5, at)],
    );
    let good_e = line(
        RUN_E,
        "alpha",
        "2026-11-04T10:00:00Z",
        vec![beat("compile", 0, "success", 900, "2026-11-04T10:00:00Z")],
    );
    let file = [
        good_a,
        truncated,
        wrong_type.to_string(),
        unknown_version.to_string(),
        duplicate,
        good_e,
    ]
    .join("\n")
        + "\n";
    let project = Project::new().file("runs.jsonl", file);
    let out = project
        .baton(&["import", "runs.jsonl"])
        .output()
        .expect("baton");
    assert_eq!(out.status.code(), Some(1), "some lines were rejected");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "runs.jsonl:2: truncated line: the JSON ends at column 60 before it is complete\n\
             runs.jsonl:3: beats[1].duration_ms: invalid type: string \"fast\", expected u64\n\
             runs.jsonl:4: unknown format_version 2 (this baton reads version 1)\n\
             runs.jsonl:5: run {RUN_A} is already on line 1\n"
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 2 runs (3 beats), 0 already present, 4 rejected\n"
    );

    let exported = run_ok(&project, &["export"]);
    assert_eq!(run_ids(&exported), vec![RUN_A, RUN_E]);
    for absent in ["only-in-b", "only-in-c", "only-in-d", "only-in-dup"] {
        assert!(
            !exported.contains(absent),
            "no beat of a rejected line is kept: {absent}"
        );
    }
    let first: Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["beats"][1]["duration_ms"], 2000,
        "the first line with that id is the one kept"
    );
}

#[test]
fn a_minimal_line_imports_and_shows_in_the_history() {
    let minimal = r#"{"format_version":1,"run":{"run_id":"0190a000-0000-7000-8000-00000000000a","pipeline_id":"p-1","pipeline_name":"minimal","started_at":"2026-11-02T10:00:00Z","status":"failure"},"beats":[{"beat":"compile","movement":"build","movement_index":0,"beat_index":0,"status":"success","duration_ms":61500,"started_at":"2026-11-02T10:00:00Z","cache_state":"miss","input_identity":"inputs:00000000000000ab"},{"beat":"test","movement":"build","movement_index":0,"beat_index":1,"status":"failure","duration_ms":3000,"started_at":"2026-11-02T10:01:01.500Z"}]}"#;
    let project = Project::new().file("minimal.jsonl", format!("{minimal}\n"));
    assert_eq!(
        run_ok(&project, &["import", "minimal.jsonl"]),
        "imported 1 run (2 beats), 0 already present, 0 rejected\n"
    );
    let table = run_ok(&project, &["history", "--all"]);
    let row = table
        .lines()
        .find(|l| l.contains("build-20261102-100000"))
        .unwrap_or_else(|| panic!("the imported run is listed:\n{table}"));
    assert!(row.contains("minimal") && row.contains("failure"), "{row}");
    let rows: Value =
        serde_json::from_str(&run_ok(&project, &["history", "--all", "--format", "json"]))
            .expect("json");
    assert_eq!(rows[0]["run_id"], RUN_A);
    assert_eq!(rows[0]["beats"], 2);
    assert_eq!(rows[0]["failed"], 1);
    assert_eq!(
        rows[0]["duration_ms"], 64_500,
        "it ended when its last beat did"
    );

    // The defaults, as exported.
    let doc: Value = serde_json::from_str(run_ok(&project, &["export"]).trim()).expect("json");
    let compile = &doc["beats"][0];
    assert_eq!(compile["input_identity"], "inputs:00000000000000ab");
    assert_eq!(compile["cache_state"], "miss");
    assert_eq!(compile["type"], "build");
    assert_eq!(compile["duration_bucket"], "30s-2m");
    assert_eq!(
        doc["beats"][1]["cache_state"], "skip",
        "no cache state given"
    );
    assert_eq!(doc["run"]["host"], "");
}

#[test]
fn import_reads_standard_input() {
    let project = Project::new();
    let input = line(
        RUN_A,
        "alpha",
        "2026-11-02T10:00:00Z",
        vec![beat("compile", 0, "success", 10, "2026-11-02T10:00:00Z")],
    ) + "\n{\"format_version\":1}\n";
    let out = project
        .baton(&["import", "-"])
        .write_stdin(input)
        .output()
        .expect("baton");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "<stdin>:2: missing field `run`\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 1 run (1 beat), 0 already present, 1 rejected\n"
    );
    assert_eq!(run_ids(&run_ok(&project, &["export"])), vec![RUN_A]);
}

#[test]
fn export_keeps_to_one_pipeline_and_to_runs_since_a_date_or_an_age() {
    let now = jiff::Timestamp::now();
    let days_ago = |d: i64| (now - jiff::SignedDuration::from_hours(24 * d)).to_string();
    // Written newest first: the export puts them oldest first.
    let lines = [
        line(RUN_E, "beta", &days_ago(1), vec![]),
        line(RUN_D, "alpha", &days_ago(2), vec![]),
        line(RUN_C, "beta", &days_ago(20), vec![]),
        line(RUN_B, "alpha", &days_ago(30), vec![]),
        line(RUN_A, "alpha", "2000-01-01T00:00:00Z", vec![]),
    ];
    let project = Project::new().file("runs.jsonl", lines.join("\n"));
    run_ok(&project, &["import", "runs.jsonl"]);

    let all = run_ok(&project, &["export"]);
    assert_eq!(run_ids(&all), vec![RUN_A, RUN_B, RUN_C, RUN_D, RUN_E]);
    let alpha = run_ok(&project, &["export", "--pipeline", "alpha"]);
    assert_eq!(run_ids(&alpha), vec![RUN_A, RUN_B, RUN_D]);
    let by_id = run_ok(&project, &["export", "--pipeline", "beta-id"]);
    assert_eq!(run_ids(&by_id), vec![RUN_C, RUN_E]);
    let recent = run_ok(&project, &["export", "--all", "--since", "14d"]);
    assert_eq!(run_ids(&recent), vec![RUN_D, RUN_E]);
    let alpha_recent = run_ok(
        &project,
        &["export", "--pipeline", "alpha", "--since", "36h"],
    );
    assert!(run_ids(&alpha_recent).is_empty());
    let since_date = run_ok(&project, &["export", "--since", "2000-01-02"]);
    assert_eq!(run_ids(&since_date), vec![RUN_B, RUN_C, RUN_D, RUN_E]);

    let bad = project
        .baton(&["export", "--since", "lately"])
        .output()
        .expect("baton");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--since: 'lately' is not a date"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    project
        .baton(&["export", "--pipeline", "gamma"])
        .assert()
        .code(2);
}
