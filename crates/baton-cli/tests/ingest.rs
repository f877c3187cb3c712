//! `baton ingest`: GitHub Actions runs, GitLab pipelines and JUnit reports from
//! the fixtures in tests/fixtures/ingest/ go into the history and feed `flaky`,
//! `trends` and `show`; bad input is reported per file and nothing is kept.

mod common;

use std::io::Write;

use common::{Project, repo_root};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Every fixture is dated 2026-11-02; tests move it to yesterday so that the
/// default windows of the reading verbs cover it.
const FIXTURE_DAY: &str = "2026-11-02T";

/// A fixture with its day moved to yesterday, written into the project.
fn fixture(project: Project, dir: &str, name: &str) -> Project {
    let path = repo_root()
        .join("tests/fixtures/ingest")
        .join(dir)
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    let yesterday = (Timestamp::now() - SignedDuration::from_hours(24)).strftime("%Y-%m-%dT");
    let moved = text.replace(FIXTURE_DAY, &yesterday.to_string());
    project.file(name, moved)
}

fn github_project() -> Project {
    let mut p = Project::new();
    for name in [
        "run-1001-attempt-1.json",
        "jobs-1001-attempt-1.json",
        "run-1001-attempt-2.json",
        "jobs-1001-attempt-2.json",
        "run-1002.json",
        "jobs-1002.json",
        "run-1003-in-progress.json",
        "jobs-1003-in-progress.json",
    ] {
        p = fixture(p, "github", name);
    }
    p
}

fn ok(project: &Project, args: &[&str]) -> String {
    let out = project.baton(args).output().expect("baton");
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(project: &Project, args: &[&str]) -> Value {
    serde_json::from_str(&ok(project, args)).expect("json")
}

/// Every run of the history (newest first) with its beats.
fn runs(project: &Project) -> Vec<Value> {
    let history = json(project, &["history", "--all", "--format", "json"]);
    history
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let id = r["run_id"].as_str().expect("id");
            json(project, &["show", id, "--format", "json"])
        })
        .collect()
}

fn beat<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .find(|b| b["beat"] == name)
        .unwrap_or_else(|| panic!("no beat {name} in {doc}"))
}

const GITHUB_RUNS: [&str; 6] = [
    "run-1001-attempt-1.json",
    "jobs-1001-attempt-1.json",
    "run-1001-attempt-2.json",
    "jobs-1001-attempt-2.json",
    "run-1002.json",
    "jobs-1002.json",
];

#[test]
fn github_actions_runs_become_runs_that_flaky_and_trends_read() {
    let p = github_project();
    let mut args = vec!["ingest", "github-actions"];
    args.extend(GITHUB_RUNS);
    let out = ok(&p, &args);
    assert_eq!(out.trim(), "ingested 3 runs (36 beats), 0 already present");
    // Idempotent by provider, run id and attempt.
    let again = ok(&p, &args);
    assert_eq!(again.trim(), "ingested 0 runs (0 beats), 3 already present");

    let docs = runs(&p);
    assert_eq!(docs.len(), 3);
    let ci: Vec<&str> = docs
        .iter()
        .map(|d| d["run"]["ci"]["run_id"].as_str().expect("ci id"))
        .collect();
    assert_eq!(
        ci,
        ["1002-1", "1001-2", "1001-1"],
        "the re-run is its own run"
    );
    let first = &docs[2];
    assert_eq!(first["run"]["status"], "failure");
    assert_eq!(first["run"]["pipeline_name"], "CI");
    assert_eq!(first["run"]["pipeline_file"], ".github/workflows/ci.yml");
    assert_eq!(
        first["run"]["git"]["commit"],
        "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    );
    assert!(
        first["run"]["host"]
            .as_str()
            .expect("host")
            .contains("GitHub Actions 7 [ubuntu-latest]"),
        "runner name and labels are kept"
    );
    let tests = beat(first, "test (ubuntu-latest) / Run cargo nextest run");
    assert_eq!(tests["status"], "failure");
    assert_eq!(tests["movement"], "test (ubuntu-latest)");
    assert_eq!(tests["type"], "test");
    // A skipped step ends a second before it starts: 0, not negative.
    let skipped = beat(first, "test (ubuntu-latest) / Upload coverage");
    assert_eq!(
        (skipped["status"].as_str(), skipped["duration_ms"].as_u64()),
        (Some("skipped"), Some(0))
    );
    let untimed = beat(first, "test (ubuntu-latest) / Post Run actions/checkout@v4");
    assert_eq!(untimed["duration_ms"], 0);
    assert_eq!(untimed["reason"], "the API gave no start or end time");
    // The queue time (created -> started) is on the job's first step.
    assert_eq!(
        beat(first, "build / Set up job")["metrics"]["queue_ms"],
        8000.0
    );

    let latest = &docs[0];
    assert_eq!(beat(latest, "lint / Run cargo clippy")["status"], "timeout");
    assert_eq!(
        beat(latest, "deploy")["status"],
        "skipped",
        "a job without steps is one beat"
    );

    // The re-run on the same commit passed where the first attempt failed: flaky.
    let flaky = json(&p, &["flaky", "--all", "--format", "json"]);
    let verdicts: Vec<(&str, &str)> = flaky["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .filter(|b| b["verdict"] == "flaky")
        .map(|b| {
            (
                b["beat"].as_str().unwrap_or(""),
                b["verdict"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [("test (ubuntu-latest) / Run cargo nextest run", "flaky")]
    );
    let trends = json(&p, &["trends", "--all", "--format", "json"]);
    let text = trends.to_string();
    assert!(
        text.contains("\"runs\":3"),
        "trends count the three runs: {text}"
    );
}

#[test]
fn an_unfinished_run_or_a_stray_jobs_file_is_refused_and_nothing_is_kept() {
    let p = github_project()
        .file("cut.json", r#"{"id": 1001, "head_sha": "#)
        .file("html.json", "<html>rate limited</html>");
    let cases: [(&[&str], &str); 4] = [
        (
            &["run-1003-in-progress.json", "jobs-1003-in-progress.json"],
            "run-1003-in-progress.json: run 1003 attempt 1 is in_progress: ingest it once it has completed",
        ),
        (
            &[
                "run-1002.json",
                "jobs-1002.json",
                "jobs-1001-attempt-1.json",
            ],
            "jobs-1001-attempt-1.json: job 1001111 ('build') belongs to run 1001, which is not among the runs given",
        ),
        (&["run-1002.json", "cut.json"], "cut.json: truncated"),
        (&["html.json", "run-1002.json"], "html.json:1:1: not JSON"),
    ];
    for (files, expected) in cases {
        let mut args = vec!["ingest", "github-actions"];
        args.extend(files);
        let out = p.baton(&args).output().expect("baton");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
        assert!(stderr.contains("nothing was stored"), "{stderr}");
    }
    assert!(
        !p.join(".baton/history.db").exists(),
        "no history is even created"
    );
}

#[test]
fn gitlab_pipelines_map_stages_jobs_retries_and_failure_reasons() {
    let mut p = Project::new();
    for name in [
        "pipeline-5001.json",
        "jobs-5001.json",
        "pipeline-5002-running.json",
        "jobs-5002-running.json",
    ] {
        p = fixture(p, "gitlab", name);
    }
    // From stdin as well as from a file.
    let jobs = p.read("jobs-5001.json");
    let out = p
        .baton(&["ingest", "gitlab", "pipeline-5001.json", "-"])
        .write_stdin(jobs)
        .output()
        .expect("baton");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = p.latest_json();
    assert_eq!(doc["run"]["pipeline_name"], "acme/shop");
    assert_eq!(doc["run"]["status"], "failure");
    assert_eq!(doc["run"]["ci"]["run_id"], "5001");
    let movements: Vec<(&str, &str)> = doc["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .map(|b| {
            (
                b["movement"].as_str().unwrap_or(""),
                b["beat"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        movements,
        [
            ("build", "assets"),
            ("build", "compile"),
            ("test", "rspec"),
            ("test", "integration"),
            ("test", "eslint"),
            ("deploy", "deploy:production"),
        ]
    );
    let rspec = beat(&doc, "rspec");
    assert_eq!(
        (rspec["status"].as_str(), rspec["attempts"].as_u64()),
        (Some("success"), Some(2))
    );
    assert_eq!(rspec["duration_ms"], 306_330);
    assert_eq!(rspec["metrics"]["queue_ms"], 3900.0);
    assert_eq!(beat(&doc, "integration")["status"], "timeout");
    assert_eq!(
        beat(&doc, "eslint")["reason"],
        "script_failure (allowed to fail)"
    );
    assert_eq!(beat(&doc, "deploy:production")["status"], "skipped");

    let out = p
        .baton(&[
            "ingest",
            "gitlab",
            "pipeline-5002-running.json",
            "jobs-5002-running.json",
        ])
        .output()
        .expect("baton");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("pipeline 5002 is running: ingest it once it has finished")
    );
}

fn junit_project() -> Project {
    let mut p = Project::new();
    for name in [
        "surefire-TEST-com.acme.CartTest.xml",
        "pytest.xml",
        "jest-junit.xml",
        "nextest-junit.xml",
    ] {
        p = fixture(p, "junit", name);
    }
    p
}

#[test]
fn junit_reports_make_a_run_with_a_beat_per_suite() {
    let p = junit_project();
    let files = [
        "surefire-TEST-com.acme.CartTest.xml",
        "pytest.xml",
        "jest-junit.xml",
        "nextest-junit.xml",
    ];
    let mut args = vec!["ingest", "junit", "--pipeline", "shop-tests"];
    args.extend(files);
    assert_eq!(
        ok(&p, &args).trim(),
        "ingested 1 run (6 beats), 0 already present"
    );
    assert_eq!(
        ok(&p, &args).trim(),
        "ingested 0 runs (0 beats), 1 already present"
    );
    let doc = p.latest_json();
    assert_eq!(doc["run"]["pipeline_name"], "shop-tests");
    assert_eq!(doc["run"]["status"], "failure");
    let cart = beat(&doc, "com.acme.CartTest");
    assert_eq!(
        cart["tests"],
        serde_json::json!({"total": 5, "failures": 1, "errors": 1, "skipped": 1})
    );
    assert_eq!(
        cart["reason"],
        "tests: 2 failed (com.acme.CartTest.appliesDiscount, com.acme.CartTest.loadsPrices); 1 flaky (com.acme.CartTest.syncsStock)"
    );
    assert_eq!(cart["attempts"], 3, "two reruns of appliesDiscount");
    assert_eq!(cart["metrics"]["tests_flaky"], 1.0);
    assert_eq!(beat(&doc, "pytest")["tests"]["skipped"], 1);
    assert_eq!(beat(&doc, "Cart")["status"], "success");
    let core = beat(&doc, "shop-core");
    assert_eq!(core["status"], "failure");
    assert_eq!(core["metrics"]["tests_flaky"], 1.0);
}

#[test]
fn junit_results_attach_to_a_beat_of_a_recorded_run() {
    let p = github_project();
    let mut args = vec!["ingest", "github-actions"];
    args.extend(&GITHUB_RUNS[..2]);
    ok(&p, &args);
    let p = fixture(p, "junit", "nextest-junit.xml");
    let beat_name = "test (ubuntu-latest) / Run cargo nextest run";
    let attach = [
        "ingest",
        "junit",
        "--run",
        "latest",
        "--beat",
        beat_name,
        "nextest-junit.xml",
    ];
    let out = ok(&p, &attach);
    assert!(
        out.contains("attached 4 tests (1 failed, 1 flaky)"),
        "{out}"
    );
    ok(&p, &attach);
    let doc = p.latest_json();
    let b = beat(&doc, beat_name);
    assert_eq!(
        b["tests"],
        serde_json::json!({"total": 4, "failures": 1, "errors": 0, "skipped": 0})
    );
    assert_eq!(
        b["reason"],
        "tests: 1 failed (shop-core.pay::tests::refund); 1 flaky (shop-core.stock::tests::sync)",
        "attaching twice replaces, it does not repeat"
    );
    let out = p
        .baton(&[
            "ingest",
            "junit",
            "--run",
            "latest",
            "--beat",
            "nope",
            "nextest-junit.xml",
        ])
        .output()
        .expect("baton");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no beat 'nope'"));
}

#[test]
fn bad_reports_are_named_one_line_each_and_nothing_is_kept() {
    let huge = format!(
        r#"<testsuite name="big"><testcase name="x" classname="{}"/></testsuite>"#,
        "a".repeat(17 << 20)
    );
    let p = junit_project()
        .file(
            "cut.xml",
            r#"<testsuites><testsuite name="a"><testcase name="b">"#,
        )
        .file("html.xml", "<html><body>502</body></html>")
        .file("huge.xml", huge);
    for (file, expected) in [
        ("cut.xml", "cut.xml: truncated"),
        ("html.xml", "html.xml: the root element is <html>"),
        (
            "huge.xml",
            "huge.xml: an element or a text longer than 16 MiB",
        ),
    ] {
        let out = p
            .baton(&["ingest", "junit", "pytest.xml", file])
            .output()
            .expect("baton");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(
        !p.join(".baton/history.db").exists(),
        "nothing partial kept"
    );
}

/// Waits for `child` alone and returns whether it exited 0 and its own peak resident
/// memory. (`RUSAGE_CHILDREN` would mix in the children of the tests that run beside
/// this one in the same process under `cargo test`.)
fn wait_with_peak_rss(child: std::process::Child) -> (bool, u64) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: wait4 only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not waited for yet; valid pointers.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024)
}

#[test]
fn a_hundred_thousand_test_cases_stream_in_bounded_memory() {
    let p = Project::new();
    let path = p.join("big.xml");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(
        out,
        r#"<testsuites><testsuite name="big" timestamp="2026-11-02T09:00:00">"#
    )
    .expect("write");
    // Long enough that a parser holding the report would stand out: ~110 MB.
    let log = "x".repeat(1000);
    for i in 0..100_000 {
        if i % 1000 == 0 {
            writeln!(out, r#"<testcase name="t{i}" classname="big" time="0.001"><failure message="no"/><system-out>{log}</system-out></testcase>"#).expect("write");
        } else {
            writeln!(out, r#"<testcase name="t{i}" classname="big" time="0.001"><system-out>{log}</system-out></testcase>"#).expect("write");
        }
    }
    writeln!(out, "</testsuite></testsuites>").expect("write");
    drop(out);
    let size = std::fs::metadata(&path).expect("size").len();
    // Straight from the file (assert_cmd would buffer it in this process).
    let stderr = p.join("stderr.txt");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(p.path())
        .args(["ingest", "junit", "-"])
        .stdin(std::fs::File::open(&path).expect("open"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("baton");
    let (ok, peak) = wait_with_peak_rss(child);
    assert!(
        ok,
        "{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    let doc = p.latest_json();
    let big = beat(&doc, "big");
    assert_eq!(big["tests"]["total"], 100_000);
    assert_eq!(big["tests"]["failures"], 100);
    assert!(
        big["reason"]
            .as_str()
            .expect("reason")
            .contains("and 80 more"),
        "only the first names are kept"
    );
    assert!(
        peak < size / 2,
        "peak RSS {peak} bytes should stay well under the report's {size} bytes"
    );
}

#[test]
fn tests_passed_on_a_rerun_and_retried_beats_are_flaky_evidence() {
    let p = Project::with_pipeline(
        "version: 1\nid: 8e0c1f2a-3b4d-4c5e-8f6a-7b8c9d0e1f2a\nname: shop\nmovements:\n  - name: m\n    beats:\n      \
         - { name: unit-tests, type: test, run: 'true' }\n      \
         - { name: e2e, type: test, retry: { attempts: 2 }, run: 'test -f .tried || { touch .tried; exit 1; }' }\n",
    )
    .file(
        "rerun.xml",
        r#"<testsuite name="unit" tests="2" failures="0" errors="0">
  <testcase classname="shop.Cart" name="adds"/>
  <testcase classname="shop.Cart" name="syncs"><flakyFailure message="timed out"/></testcase>
</testsuite>"#,
    );
    for i in 0..4 {
        ok(&p, &["run", "--output", "quiet"]);
        if i == 1 {
            let out = ok(
                &p,
                &[
                    "ingest",
                    "junit",
                    "--run",
                    "latest",
                    "--beat",
                    "unit-tests",
                    "rerun.xml",
                ],
            );
            assert!(out.contains("1 flaky"), "{out}");
        }
    }
    let out = ok(&p, &["flaky", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    let verdict = |name: &str| {
        doc["beats"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["beat"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {doc}"))
    };
    let unit = verdict("unit-tests");
    assert_eq!(unit["verdict"], "flaky", "{unit}");
    assert_eq!(unit["rerun_count"], 1);
    assert_eq!(unit["failure_rate"]["count"], 0, "it passed in the end");
    let e2e = verdict("e2e");
    assert_eq!(e2e["verdict"], "flaky", "{e2e}");
    assert_eq!(e2e["rerun_count"], 1);
    let text = ok(&p, &["flaky"]);
    assert!(text.contains("passed only on a rerun in 1 run: "), "{text}");
    assert!(text.contains("2 flaky, 0 broken"), "{text}");
}
