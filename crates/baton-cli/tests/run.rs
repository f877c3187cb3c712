//! `baton run` through the binary: exit codes, skipping after a failure, dry runs,
//! SLA gates, interruption, crashes and the shadow principle.

mod common;

use std::time::{Duration, Instant};

use common::Project;
use predicates::str::contains;

fn pipeline(beats: &str) -> String {
    format!("version: 1\nid: 3e0f6c2a-1b7d-4e59-9c0a-5d2e8f7a1b3c\nname: t\nmovements:\n{beats}")
}

fn history_json(project: &Project) -> serde_json::Value {
    let out = project
        .baton(&["history", "--format", "json"])
        .output()
        .expect("history");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_failing_beat_exits_1_and_skips_later_movements() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n      - { name: broken, run: 'exit 3' }\n  - name: b\n    beats:\n      - { name: never, run: 'touch never-ran' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .code(1)
        .stdout(contains("broken"));
    assert!(!project.join("never-ran").exists());
    let report = project.latest_json();
    let beats = report["beats"].as_array().expect("beats");
    let status = |name: &str| {
        beats
            .iter()
            .find(|b| b["beat"] == name)
            .map(|b| b["status"].clone())
    };
    assert_eq!(status("broken"), Some("failure".into()));
    assert_eq!(status("never"), Some("skipped".into()));
    assert_eq!(report["run"]["status"], "failure");
}

#[test]
fn command_not_found_is_exit_127_with_the_reason() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: nope, run: 'no-such-command-xyz' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .code(1);
    let report = project.latest_json();
    assert_eq!(report["beats"][0]["exit_code"], 127);
    assert!(
        report["beats"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not found")
    );
}

#[test]
fn baton_output_works_after_the_beat_changes_directory() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: report, run: 'mkdir -p sub && cd sub && echo errors=2 >> \"$BATON_OUTPUT\"' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .code(0);
    let report = project.latest_json();
    assert_eq!(report["beats"][0]["errors_count"], 2, "{report}");
}

#[test]
fn an_invalid_pipeline_exits_2_with_a_located_error() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: x, run: 'true', neds: [y] }\n",
    ));
    project
        .baton(&["run"])
        .assert()
        .code(2)
        .stderr(contains("baton.yaml:7:"));
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    parallel: true\n    beats:\n      - { name: one, run: 'touch ran' }\n      - { name: two, run: 'touch ran' }\n      - { name: loud, run: 'touch ran', level: ff }\n",
    ));
    project
        .baton(&["run", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("one"))
        .stdout(contains("can start together"))
        .stdout(contains("level ff is above the run level mf"));
    assert!(!project.join("ran").exists());
    assert!(!project.join(".baton/history.db").exists());
}

#[test]
fn sla_gate_exits_3() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: slow, run: 'sleep 0.3', slo: { duration: 100ms } }\n",
    ));
    project
        .baton(&["run", "--output", "quiet", "--fail-on", "critical"])
        .assert()
        .code(3);
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
}

#[test]
fn level_f_turns_validation_warnings_into_errors() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: c, run: 'true', cache: true }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["run", "--output", "quiet", "--level", "f"])
        .assert()
        .code(2)
        .stderr(contains("B301"));
}

#[test]
fn level_ff_archives_logs_report_and_artifacts() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: make, run: 'mkdir -p dist && echo hi > dist/app.txt && echo built', outputs: ['dist/**'] }\n",
    ));
    project
        .baton(&["run", "--output", "quiet", "--level", "ff"])
        .assert()
        .success();
    let archive = project.join(".baton/archive");
    let run_dir = std::fs::read_dir(&archive)
        .expect("archive")
        .next()
        .expect("one run")
        .expect("entry")
        .path();
    assert!(run_dir.join("artifacts/dist/app.txt").is_file());
    assert!(
        run_dir
            .join("telemetry/build-sli-slo-sla-report.json")
            .is_file()
    );
    let log = walk(&run_dir.join("logs"))
        .into_iter()
        .find(|p| p.ends_with("make.log"))
        .expect("log archived");
    assert!(std::fs::read_to_string(log).expect("log").contains("built"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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

#[test]
fn telemetry_files_follow_the_design_layout() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: first\n    beats:\n      - { name: hello, run: 'echo hi' }\n  - name: second\n    beats:\n      - { name: bye, run: 'echo bye' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .env("BATON_BEAT_FILES", "1")
        .assert()
        .success();
    let files = walk(&project.join(".baton/telemetry"));
    let names: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(project.join(".baton/telemetry"))
                .expect("prefix")
                .display()
                .to_string()
        })
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("movement-1/beat-1-hello.json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("movement-2/beat-1-bye.json")),
        "{names:?}"
    );
    let report = files
        .iter()
        .find(|p| p.ends_with("build-sli-slo-sla-report.json"))
        .expect("report");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).expect("read")).expect("json");
    assert_eq!(json["summary"]["totalBeats"], 2);
    assert_eq!(json["baton"]["summary"]["beats"], 2);
}

#[test]
fn the_store_cannot_be_written_the_run_still_passes_and_strict_exits_4() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'touch did-run' }\n",
    ));
    // A file where the state directory should be: nothing can be recorded.
    let project = project.file(".baton", "not a directory");
    let out = project
        .baton(&["run", "--output", "quiet"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(project.join("did-run").exists());
    // One warning, with the cause, however many parts could not record.
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot create ./.baton: File exists"),
        "{stderr}"
    );
    project
        .baton(&["run", "--output", "quiet", "--strict"])
        .assert()
        .code(4)
        .stderr(contains("--strict: not recorded: the state folder: "))
        .stderr(contains("; history: "));
}

#[test]
fn no_telemetry_records_nothing() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet", "--no-telemetry"])
        .assert()
        .success();
    assert!(!project.join(".baton/history.db").exists());
    assert!(!project.join(".baton/telemetry").exists());
}

#[test]
fn markdown_goes_to_the_github_step_summary() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n",
    ));
    let summary = project.join("summary.md");
    project
        .baton(&["run", "--output", "quiet"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success();
    let text = std::fs::read_to_string(&summary).expect("summary written");
    assert!(text.contains("| ") && text.contains("ok"), "{text}");
}

#[test]
fn grouped_output_uses_github_groups() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    parallel: true\n    beats:\n      - { name: x, run: 'echo from-x' }\n      - { name: y, run: 'echo from-y' }\n",
    ));
    project
        .baton(&["run", "--output", "grouped"])
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .success()
        .stdout(contains("::group::x"))
        .stdout(contains("from-x\n::endgroup::"));
}

#[test]
fn parallel_output_is_prefixed_with_the_beat_name() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    parallel: true\n    beats:\n      - { name: left, run: 'echo L' }\n      - { name: right, run: 'echo R' }\n",
    ));
    project
        .baton(&["run", "-j", "2"])
        .assert()
        .success()
        .stdout(contains("left  | L"))
        .stdout(contains("right | R"));
}

#[test]
fn secrets_are_masked_in_logs_and_output() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: leak, run: 'echo token is $API_TOKEN', secrets: [API_TOKEN] }\n",
    ));
    project
        .baton(&["run"])
        .env("API_TOKEN", "s3cr3t-value-123")
        .assert()
        .success()
        .stdout(contains("token is ***"))
        .stdout(contains("s3cr3t").not());
    let log = walk(&project.join(".baton/logs"))
        .into_iter()
        .find(|p| p.ends_with("leak.log"))
        .expect("log");
    assert!(
        !std::fs::read_to_string(log)
            .expect("log")
            .contains("s3cr3t")
    );
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn kill_9_keeps_every_finished_beat_and_shows_abandoned_later() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: first, run: 'true' }\n      - { name: second, run: 'true' }\n      - { name: hang, run: 'touch hanging; sleep 300' }\n",
    ));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .args(["run", "--output", "quiet"])
        .env("BATON_BEAT_FILES", "1")
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !project.join("hanging").exists() {
        assert!(Instant::now() < deadline, "the hanging beat never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill -9");
    let _ = child.wait();
    let report = project.latest_json();
    let names: Vec<&str> = report["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .filter_map(|b| b["beat"].as_str())
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(
        report["run"]["status"], "running",
        "fresh heartbeat: not abandoned yet"
    );
    // Each beat's telemetry file is written when it finishes, not at the end.
    let runs: Vec<_> = std::fs::read_dir(project.join(".baton/telemetry"))
        .expect("telemetry folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    for file in ["beat-1-first.json", "beat-2-second.json"] {
        assert!(runs[0].join("movement-1").join(file).is_file(), "{file}");
    }
}

#[test]
fn eight_concurrent_runs_lose_nothing() {
    let beats: String = (0..10)
        .map(|i| format!("      - {{ name: b{i}, run: 'true' }}\n"))
        .collect();
    let project = Project::with_pipeline(&pipeline(&format!(
        "  - name: a\n    parallel: true\n    beats:\n{beats}"
    )));
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
                .current_dir(project.path())
                .args(["run", "--output", "quiet"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains("locked") && !stderr.contains("warning"),
            "{stderr}"
        );
    }
    let runs = history_json(&project);
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 8);
    for run in runs {
        assert_eq!(run["beats"], 10, "{run}");
        assert_eq!(run["status"], "success");
    }
    let labels: std::collections::HashSet<&str> =
        runs.iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(labels.len(), 8, "labels must stay unique: {labels:?}");
}

#[test]
fn a_closed_stdout_does_not_crash_the_run_or_lose_it() {
    use std::io::{BufRead, BufReader};
    let beats: String = (0..5)
        .map(|i| format!("      - {{ name: b{i}, run: 'echo line {i}; sleep 0.1' }}\n"))
        .collect();
    let project = Project::with_pipeline(&pipeline(&format!("  - name: a\n    beats:\n{beats}")));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .args(["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    // The reader is gone: every later write to stdout fails with EPIPE.
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        project.latest_json()["beats"].as_array().map(Vec::len),
        Some(5)
    );
}

#[test]
fn gc_removes_old_runs_with_their_logs_and_telemetry() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'echo hi' }\n",
    ));
    for _ in 0..3 {
        project
            .baton(&["run", "--output", "quiet"])
            .assert()
            .success();
    }
    let dirs = |sub: &str| {
        std::fs::read_dir(project.join(sub))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!((dirs(".baton/logs"), dirs(".baton/telemetry")), (3, 3));
    project
        .baton(&["gc", "--keep-runs", "1"])
        .assert()
        .success()
        .stdout(contains("removed 2 run(s)"));
    assert_eq!((dirs(".baton/logs"), dirs(".baton/telemetry")), (1, 1));
    assert_eq!(history_json(&project).as_array().map(Vec::len), Some(1));
    project
        .baton(&["gc", "--older-than", "soon"])
        .assert()
        .code(2)
        .stderr(contains("--older-than"));
}

#[test]
fn shape_log_annotate_and_export_work_together() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: flip, run: 'test -f fail-now && exit 1 || true', allow_failure: true }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let project = project.file("fail-now", "");
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["shape", "log", "flip"])
        .assert()
        .success()
        .stdout(contains("Δ status success → failure"));
    project
        .baton(&[
            "shape",
            "annotate",
            "flip",
            "--reason",
            "feature flag turned on",
        ])
        .assert()
        .success();
    project
        .baton(&["shape", "export", "-o", "evolutions.json"])
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&project.read("evolutions.json")).expect("json");
    let entry = &json["evolutions"][0];
    assert_eq!(entry["baton"]["beat"], "flip");
    assert!(
        entry["feature"]
            .as_str()
            .is_some_and(|f| f.starts_with("movement-1-beat-"))
    );
    assert_eq!(entry["reason"], "feature flag turned on");
    assert!(entry["previousHash"].is_string() && entry["newHash"].is_string());
}

#[test]
fn reading_a_run_that_does_not_exist_is_a_usage_error() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n",
    ));
    project
        .baton(&["show"])
        .assert()
        .code(2)
        .stderr(contains("run `baton run` first"));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["show", "build-19990101-000000"])
        .assert()
        .code(2)
        .stderr(contains("failed to find run"));
    project
        .baton(&["history", "--status", "great"])
        .assert()
        .code(2);
}

/// Run ids are UUIDv7: two runs a moment apart share a long prefix, which then
/// names neither. That is a usage error that lists the runs it could mean.
#[test]
fn an_ambiguous_run_id_is_a_usage_error_listing_the_candidates() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n",
    ));
    for _ in 0..2 {
        project
            .baton(&["run", "--output", "quiet"])
            .assert()
            .success();
    }
    let runs = history_json(&project);
    let field = |i: usize, key: &str| runs[i][key].as_str().expect(key).to_owned();
    let (newest_id, oldest_id) = (field(0, "run_id"), field(1, "run_id"));
    let (newest_label, oldest_label) = (field(0, "label"), field(1, "label"));
    let shared = newest_id
        .chars()
        .zip(oldest_id.chars())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        shared >= 4,
        "v7 ids of one moment share a prefix: {newest_id} {oldest_id}"
    );
    let out = project
        .baton(&["show", &newest_id[..shared]])
        .output()
        .expect("show");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("matches 2 runs"), "{stderr}");
    let line_of = |id: &str, label: &str| {
        stderr
            .lines()
            .position(|l| l.contains(id) && l.contains(label))
            .unwrap_or_else(|| panic!("{label} {id} listed:\n{stderr}"))
    };
    assert!(
        line_of(&newest_id, &newest_label) < line_of(&oldest_id, &oldest_label),
        "newest first:\n{stderr}"
    );
}

#[test]
fn logs_that_cannot_be_written_warn_once_and_strict_exits_4() {
    let beats: String = (0..4)
        .map(|i| format!("      - {{ name: b{i}, run: 'echo {i}' }}\n"))
        .collect();
    let project = Project::with_pipeline(&pipeline(&format!("  - name: a\n    beats:\n{beats}")));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    std::fs::remove_dir_all(project.join(".baton/logs")).expect("rm logs");
    std::fs::write(
        project.join(".baton/logs"),
        "a file where the logs should go",
    )
    .expect("block logs");
    let out = project
        .baton(&["run", "--output", "quiet"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("logs not recorded").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    project
        .baton(&["run", "--output", "quiet", "--strict"])
        .assert()
        .code(4);
}

#[test]
fn a_run_that_selects_nothing_is_an_error_not_a_green_build() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: only-at-f, run: 'true', level: f }\n",
    ));
    project
        .baton(&["run"])
        .assert()
        .code(2)
        .stderr(contains("nothing to run"));
    project
        .baton(&["run", "--level", "f", "--output", "quiet"])
        .assert()
        .success();
}

#[test]
fn the_summary_says_why_a_beat_failed() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    parallel: true\n    beats:\n      - { name: boom, run: 'exit 3' }\n      - { name: loud, run: 'echo about to fail; exit 4' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .code(1)
        .stdout(contains("✗ boom: exit 3 (no output)"))
        .stdout(contains("✗ loud: exit 4"))
        .stdout(contains("loud.log"));
}

#[test]
fn a_beat_that_prints_nothing_leaves_no_log_file() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: quiet, run: 'true' }\n      - { name: chatty, run: 'echo hello' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let beats = project.latest_json()["beats"].clone();
    let log_of = |name: &str| {
        beats
            .as_array()
            .and_then(|b| b.iter().find(|b| b["beat"] == name))
            .map(|b| b["log_path"].clone())
            .expect("beat recorded")
    };
    assert!(log_of("quiet").is_null(), "{beats}");
    let chatty = log_of("chatty");
    // Relative to the project, where baton ran (an absolute path stays as it is).
    let chatty = project
        .path()
        .join(chatty.as_str().expect("chatty has a log"));
    assert_eq!(
        std::fs::read_to_string(&chatty).expect("log exists"),
        "hello\n"
    );
    let movement_logs = std::fs::read_dir(chatty.parent().expect("folder"))
        .expect("log folder")
        .count();
    assert_eq!(movement_logs, 1, "only the beat that wrote has a log file");
}

#[test]
fn a_third_failure_in_a_row_is_reported_as_an_anomaly_of_the_run() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n      - { name: broken, run: 'exit 1' }\n",
    ));
    for _ in 0..3 {
        project
            .baton(&["run", "--output", "quiet"])
            .assert()
            .code(1);
    }
    // The newest run's report file, as `baton run` wrote it.
    let reports: Vec<serde_json::Value> = std::fs::read_dir(project.join(".baton/telemetry"))
        .expect("telemetry dir")
        .map(|entry| {
            entry
                .expect("entry")
                .path()
                .join("build-sli-slo-sla-report.json")
        })
        .filter(|path| path.exists())
        .map(|path| {
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
        })
        .collect();
    assert_eq!(reports.len(), 3);
    let newest = reports
        .iter()
        .max_by_key(|r| {
            r["baton"]["run"]["started_at"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("a report");
    let anomalies = newest["baton"]["anomalies"].as_array().expect("anomalies");
    let rules: Vec<(&str, &str)> = anomalies
        .iter()
        .map(|a| {
            (
                a["beat"].as_str().unwrap_or(""),
                a["rule"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // Three failures in three runs: a streak of three, but three runs are too few
    // for a success rate (it waits for 10); `ok` is fine.
    assert_eq!(
        rules,
        vec![("broken", "consecutive_failures")],
        "{anomalies:?}"
    );
    assert_eq!(anomalies[0]["value"], 3.0);
    assert_eq!(anomalies[0]["runs"], 3);
    assert_eq!(
        anomalies[0]["message"],
        "failed 3 times in a row, alert at 3 (3 runs)"
    );
}

#[test]
fn a_run_in_a_git_repository_records_its_commit_branch_and_author() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: one, run: 'true' }\n",
    ));
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(project.path())
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "trunk"]);
    git(&["add", "baton.yaml"]);
    git(&["commit", "-q", "-m", "pipeline"]);
    let commit = git(&["rev-parse", "HEAD"]);

    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let run = &project.latest_json()["run"];
    assert_eq!(run["git"]["commit"], commit.as_str(), "{run}");
    assert_eq!(run["git"]["branch"], "trunk");
    assert_eq!(run["git"]["author"], "Ada <ada@example.com>");
}
