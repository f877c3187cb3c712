//! Quiet, explained verdicts, from the binary: the anomaly rules' noise floor and
//! minimum runs, anomalies naming their runs, evolved shapes saying what changed,
//! `shape log` naming what drove a verdict, `cache explain --format json`, and
//! `show` (the run as recorded) apart from `report` (the judged run).

mod common;

use common::Project;
use serde_json::Value;

fn stdout(project: &Project, args: &[&str]) -> String {
    let out = project.baton(args).output().expect("baton");
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(project: &Project, args: &[&str]) -> Value {
    let text = stdout(project, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("baton {args:?}: {e}\n{text}"))
}

/// The anomalies of the latest run, as `(beat, rule)`.
fn anomalies(project: &Project) -> Vec<Value> {
    json(project, &["report", "latest", "--format", "json"])["anomalies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A pipeline of one beat that sleeps as long as the file `seconds` says.
fn sleeper(anomalies: &str) -> String {
    format!(
        "version: 1\nid: 3f6c1d2e-8a4b-4c5d-9e7f-0a1b2c3d4e5f\nname: verdicts\n{anomalies}movements:\n  - name: m\n    beats:\n      - {{ name: lint, type: validation, run: 'sleep $(cat seconds)' }}\n"
    )
}

fn run_for(project: Project, seconds: &str) -> (Project, String) {
    let project = project.file("seconds", seconds);
    let out = stdout(&project, &["run"]);
    (project, out)
}

#[test]
fn a_step_from_0_4_s_to_1_2_s_is_under_the_noise_floor_unless_it_is_configured_lower() {
    let mut project = Project::with_pipeline(&sleeper(""));
    for _ in 0..5 {
        (project, _) = run_for(project, "0.4");
    }
    let (project, summary) = run_for(project, "1.2");
    // 3x its median, but only 0.8 s longer: not an anomaly.
    assert!(!summary.contains("Anomalies"), "{summary}");
    assert_eq!(anomalies(&project), Vec::<Value>::new());

    // The same history, judged with a floor of 300 ms: `report` reads the setting.
    let project = project.file(
        "baton.yaml",
        sleeper("anomalies: { min_slowdown: 300ms }\n"),
    );
    let found = anomalies(&project);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule"], "slow_duration");
    assert_eq!(found[0]["runs"], 5);
    let message = found[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("alert above 2x and +300ms (5 runs)"),
        "{message}"
    );
    // And so does `run`.
    let (_, summary) = run_for(project, "1.2");
    assert!(summary.contains("Anomalies (1):"), "{summary}");
    assert!(summary.contains("[slow_duration]"), "{summary}");
}

#[test]
fn a_low_success_rate_waits_for_ten_runs_and_then_names_them() {
    let project = Project::with_pipeline(
        "version: 1\nid: 6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d\nname: flaky\nmovements:\n  - name: m\n    beats:\n      - { name: check, type: test, allow_failure: true, run: 'test -f pass' }\n",
    );
    // Never three failures in a row: only the success rate could fire.
    let passes = [
        false, true, false, false, true, false, false, true, false, false,
    ];
    let mut project = project;
    for (i, pass) in passes.into_iter().enumerate() {
        let pass_file = project.join("pass");
        if pass {
            project = project.file("pass", "");
        } else if pass_file.exists() {
            std::fs::remove_file(&pass_file).expect("rm pass");
        }
        let summary = stdout(&project, &["run"]);
        match i + 1 {
            // 1 of 4 succeeded: far under 80%, but four runs say little.
            4 => {
                assert_eq!(anomalies(&project), Vec::<Value>::new());
                assert!(!summary.contains("Anomalies"), "{summary}");
            }
            10 => {
                let found = anomalies(&project);
                assert_eq!(found.len(), 1, "{found:?}");
                assert_eq!(found[0]["rule"], "low_success_rate");
                assert_eq!(found[0]["runs"], 10);
                let line =
                    "check: success rate 30% < 80%, 3 succeeded (10 runs) [low_success_rate]";
                assert!(summary.contains(line), "{summary}");
                let report = stdout(&project, &["report", "latest"]);
                assert!(report.contains(line), "{report}");
            }
            _ => {}
        }
    }
}

#[test]
fn an_evolved_shape_says_what_changed_in_every_view() {
    // `grow` takes a second and 60 MB once `big` exists; `copy` hits its cache the
    // second time.
    let project = Project::with_pipeline(
        "version: 1\nid: 1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f\nname: shapes\nmovements:\n  - name: m\n    beats:\n      - { name: grow, type: test, run: 'if [ -f big ]; then dd if=/dev/zero of=/dev/null bs=60M count=1 2>/dev/null; sleep 1; fi' }\n      - { name: copy, inputs: [in.txt], outputs: [out.txt], cache: true, run: 'cp in.txt out.txt' }\n",
    )
    .file("in.txt", "a\n");
    stdout(&project, &["run"]);
    let project = project.file("big", "");
    let summary = stdout(&project, &["run"]);
    let grow = "duration <1s → 1-5s, memory <50MB → 50-100MB";
    let copy = "cache miss → hit";
    assert!(summary.contains(&format!("Δ grow: {grow}")), "{summary}");
    assert!(summary.contains(&format!("Δ copy: {copy}")), "{summary}");

    let report = stdout(&project, &["report", "latest"]);
    assert!(report.contains(&format!("Δ grow: {grow}")), "{report}");
    let markdown = stdout(&project, &["report", "latest", "--format", "markdown"]);
    assert!(
        markdown.contains(&format!("| grow | {grow} |")),
        "{markdown}"
    );
    let shown = stdout(&project, &["show", "latest"]);
    assert!(shown.contains(&format!("shape     Δ {grow}")), "{shown}");
    assert!(shown.contains(&format!("shape     Δ {copy}")), "{shown}");
    let log = stdout(&project, &["shape", "log", "grow"]);
    assert!(log.contains(&format!("Δ {grow}")), "{log}");

    let evolved =
        json(&project, &["report", "latest", "--format", "json"])["evolved_shapes"].clone();
    let changes_of = |beat: &str| -> Vec<(String, String, String)> {
        evolved
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["beat"] == beat)
            .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (s("component"), s("from"), s("to"))
            })
            .collect()
    };
    let owned = |c: &str, f: &str, t: &str| (c.to_owned(), f.to_owned(), t.to_owned());
    assert_eq!(
        changes_of("grow"),
        [
            owned("duration", "<1s", "1-5s"),
            owned("memory", "<50MB", "50-100MB")
        ]
    );
    assert_eq!(changes_of("copy"), [owned("cache", "miss", "hit")]);
}

#[test]
fn shape_log_names_a_cache_rate_warning_not_a_duration() {
    // Every run changes the input: ten misses against a 90% target.
    let mut project = Project::with_pipeline(
        "version: 1\nid: 2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a\nname: cold\nmovements:\n  - name: m\n    beats:\n      - { name: gen, type: generation, inputs: [stamp], cache: true, slo: { cache_hit_rate: 0.9 }, run: 'true' }\n",
    );
    for i in 0..10 {
        project = project.file("stamp", i.to_string());
        stdout(&project, &["run", "--output", "quiet"]);
    }
    let log = stdout(&project, &["shape", "log", "gen"]);
    let newest = log.lines().nth(4).unwrap_or_default();
    assert!(newest.contains("warning cache 0% < 90%"), "{log}");
    assert!(!log.contains("warning -"), "{log}");
}

#[test]
fn cache_explain_prints_json_for_every_question() {
    let project = Project::with_pipeline(
        "version: 1\nid: 4f5a6b7c-8d9e-4f0a-8b1c-2d3e4f5a6b7c\nname: explain\nmovements:\n  - name: m\n    beats:\n      - { name: plain, run: 'true' }\n      - { name: copy, inputs: [in.txt], outputs: [out.txt], cache: true, run: 'cp in.txt out.txt' }\n",
    )
    .file("in.txt", "a\n");
    let explain = |args: &[&str]| -> Value {
        let mut all = vec!["cache", "explain"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let value = json(&project, &all);
        assert_eq!(value["format_version"], 1, "{value}");
        value
    };
    let plain = explain(&["plain"]);
    assert_eq!(plain["cacheable"], false, "{plain}");
    assert_eq!(plain["mode"], "current");
    let before = explain(&["copy"]);
    assert_eq!(before["cacheable"], true, "{before}");
    assert_eq!(before["would_hit"], false);
    assert!(before["previous"].is_null());

    stdout(&project, &["run", "--output", "quiet"]);
    let first = json(&project, &["show", "latest", "--format", "json"])["run"]["label"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    std::fs::write(project.join("in.txt"), "b\n").expect("write");
    let now = explain(&["copy"]);
    assert_eq!(now["would_hit"], false, "{now}");
    assert_eq!(
        now["explanation"]["inputs"]["changed"][0], "in.txt",
        "{now}"
    );
    assert_eq!(now["summary"], "1 input file changed (in.txt)", "{now}");

    stdout(&project, &["run", "--output", "quiet"]);
    let runs = explain(&["copy", "--run", &first, "--vs", "latest"]);
    assert_eq!(runs["mode"], "runs", "{runs}");
    assert_eq!(runs["runs"][0]["label"], first.as_str());
    assert_eq!(runs["explanation"]["inputs"]["changed"][0], "in.txt");
}

#[test]
fn show_is_the_run_as_recorded_and_report_the_judged_run() {
    let project = Project::with_pipeline(
        "version: 1\nid: 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d\nname: shown\nmovements:\n  - name: m\n    beats:\n      - { name: say, run: 'echo hello' }\n      - { name: copy, inputs: [in.txt], outputs: [out.txt], cache: true, run: 'cp in.txt out.txt' }\n      - { name: broken, allow_failure: true, run: 'exit 3' }\n",
    )
    .file("in.txt", "a\n");
    stdout(&project, &["run", "--output", "quiet"]);
    stdout(&project, &["run", "--output", "quiet"]);

    let shown = stdout(&project, &["show", "latest"]);
    let report = stdout(&project, &["report", "latest"]);
    assert_ne!(shown, report);
    for expected in [
        "shown · build-",
        "  pipeline  shown (5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d)",
        "  host      ",
        "m / say: success in ",
        "  cache     not cached",
        "m / copy: success in ",
        "  cache     hit, restored",
        "m / broken: failure (exit 3) in ",
        "  log       ",
    ] {
        assert!(shown.contains(expected), "no {expected:?} in\n{shown}");
    }
    // The judged view is the report's alone.
    assert!(!shown.contains("SLA breaches") && !shown.contains("succeeded, "));
    assert!(
        report.contains("3 beats: 2 succeeded, 1 failed"),
        "{report}"
    );

    // `show --format json` is exactly the run document.
    let text = stdout(&project, &["show", "latest", "--format", "json"]);
    let document: baton_model::RunDocument = serde_json::from_str(&text).expect("run document");
    assert_eq!(document.format_version, baton_model::RUN_DOCUMENT_VERSION);
    assert_eq!(document.beats.len(), 3);
    let value: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        serde_json::to_value(&document).expect("serialize"),
        value,
        "show's JSON holds nothing but the run document"
    );
    let judged = json(&project, &["report", "latest", "--format", "json"]);
    assert!(judged.get("summary").is_some() && value.get("summary").is_none());
}
