//! `baton exec`: a command run as a measured beat, a drop-in for the bare command
//! (its stdin, stdout, stderr and exit status), and the calls of one CI job
//! joined into one run that `--finish` ends.

mod common;

use common::Project;

/// CI variables the test machine may have, which would join runs or write
/// workflow commands.
const CI_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_JOB",
    "GITHUB_OUTPUT",
    "GITHUB_WORKFLOW",
    "GITHUB_WORKSPACE",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "JENKINS_HOME",
    "TF_BUILD",
    "BATON_RUN_ID",
    "BATON_PIPELINE",
    "BATON_DIR",
    "BATON_TELEMETRY_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

fn exec(project: &Project, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = project.baton(&["exec"]);
    cmd.args(args);
    for var in CI_VARS {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn a_wrapped_command_keeps_its_stdin_stdout_stderr_and_exit_status() {
    let project = Project::new();
    let out = exec(
        &project,
        &[
            "--name",
            "echo",
            "--",
            "sh",
            "-c",
            "read line; echo \"out: $line\"; printf 'partial'; echo ' err' >&2; exit 3",
        ],
    )
    .write_stdin("hello\n")
    .output()
    .expect("exec");
    assert_eq!(out.status.code(), Some(3));
    // Untouched: no prefix, nothing added by baton.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out: hello\npartial");
    assert_eq!(String::from_utf8_lossy(&out.stderr), " err\n");

    let run = project.latest_json();
    let beat = &run["beats"][0];
    assert_eq!(beat["beat"], "echo");
    assert_eq!(beat["status"], "failure");
    assert_eq!(beat["exit_code"], 3);
    assert_eq!(run["run"]["status"], "failure");
    let log = std::fs::read_to_string(beat["log_path"].as_str().expect("log path")).expect("log");
    assert!(log.contains("out: hello") && log.contains(" err"), "{log}");
}

#[test]
fn a_command_killed_by_a_signal_exits_as_a_shell_reports_it() {
    let project = Project::new();
    exec(&project, &["--", "sh", "-c", "kill -KILL $$"])
        .assert()
        .code(137);
    let run = project.latest_json();
    assert_eq!(run["beats"][0]["signal"], 9);
    exec(&project, &["--", "baton-no-such-command"])
        .assert()
        .code(127);
}

#[test]
fn secrets_are_masked_in_the_log_but_pass_through_untouched() {
    let project = Project::new();
    exec(
        &project,
        &["--secret", "TOKEN", "--", "sh", "-c", "echo token=$TOKEN"],
    )
    .env("TOKEN", "s3cr3t-value")
    .assert()
    .success()
    .stdout("token=s3cr3t-value\n");
    let run = project.latest_json();
    let log =
        std::fs::read_to_string(run["beats"][0]["log_path"].as_str().expect("log")).expect("log");
    assert_eq!(log, "token=***\n");
}

#[test]
fn when_nothing_can_be_recorded_the_command_still_runs_with_its_status() {
    let project = Project::new().file("not-a-dir", "x");
    exec(&project, &["--", "sh", "-c", "echo ran; exit 5"])
        .env("BATON_DIR", project.join("not-a-dir/state"))
        .assert()
        .code(5)
        .stdout("ran\n");
    exec(&project, &["--", "sh", "-c", "exit 4"])
        .env("BATON_DIR", project.join("not-a-dir/state"))
        .env("BATON_RUN_ID", "job-x")
        .assert()
        .code(4);
}

#[test]
fn the_calls_of_one_job_join_one_run_in_order_and_finish_ends_it() {
    let project = Project::new();
    let call = |args: &[&str]| {
        let mut cmd = exec(&project, args);
        cmd.env("BATON_RUN_ID", "job-42");
        cmd
    };
    call(&["--name", "lint", "--", "true"]).assert().success();
    call(&[
        "--name", "test", "--type", "test", "--", "sh", "-c", "exit 1",
    ])
    .assert()
    .code(1);
    call(&["--name", "test", "--", "true"]).assert().success();
    let open = project.latest_json();
    assert_eq!(open["run"]["status"], "running");
    call(&["--finish"]).assert().success();

    let run = project.latest_json();
    assert_eq!(run["run"]["status"], "failure");
    let beats: Vec<(&str, &str)> = run["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .map(|b| {
            (
                b["beat"].as_str().unwrap_or_default(),
                b["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        beats,
        vec![
            ("lint", "success"),
            ("test", "failure"),
            ("test-2", "success")
        ]
    );
    let history = project
        .baton(&["history", "--format", "json"])
        .output()
        .expect("history");
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "one run: {runs}");

    // Without a joined run there is nothing to finish: a usage error.
    exec(&project, &["--finish"]).assert().code(2);
}

#[test]
fn github_actions_gets_escaped_annotations_outputs_and_one_summary_per_run() {
    let project = Project::new();
    let outputs = project.join("outputs.txt");
    let summary = project.join("summary.md");
    let call = |args: &[&str]| {
        let mut cmd = exec(&project, args);
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_RUN_ID", "7")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_JOB", "build")
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_STEP_SUMMARY", &summary);
        cmd
    };
    let out = call(&[
        "--name",
        "evil,name::x%",
        "--",
        "sh",
        "-c",
        "echo '100% broken'; echo '::warning::forged' >&2; exit 2",
    ])
    .output()
    .expect("exec");
    assert_eq!(out.status.code(), Some(2));
    // stdout is the command's alone; the annotation is on stderr, one line.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "100% broken\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let annotation = stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation: {stderr}"));
    assert_eq!(
        annotation,
        "::error title=beat 'evil%2Cname%3A%3Ax%25' failed::exit code 2%0A100%25 broken%0A::warning::forged"
    );
    let written = std::fs::read_to_string(&outputs).expect("outputs");
    assert!(written.contains("status=failure\n"), "{written}");
    assert!(written.contains("run-label=build-"), "{written}");
    // A call of a run that goes on leaves the summary to --finish.
    assert!(!summary.exists());

    call(&["--finish"]).assert().success();
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(text.contains("### Failing beats"), "{text}");
    assert!(text.contains("exit code 2"), "{text}");
    assert!(text.contains("100% broken"), "{text}");
}

#[test]
fn gitlab_folds_the_command_output_into_a_section_on_stderr() {
    let project = Project::new();
    let out = exec(&project, &["--name", "unit tests", "--", "echo", "hi"])
        .env("GITLAB_CI", "true")
        .output()
        .expect("exec");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("section_start:") && stderr.contains("unit tests"),
        "{stderr}"
    );
    assert!(stderr.contains("section_end:"), "{stderr}");
}

#[test]
fn a_run_reports_as_junit_with_each_beat_a_test_case() {
    let project = Project::new();
    let call = |args: &[&str]| {
        let mut cmd = exec(&project, args);
        cmd.env("BATON_RUN_ID", "junit-run");
        cmd
    };
    call(&["--name", "build", "--", "true"]).assert().success();
    call(&[
        "--name",
        "unit <&> tests",
        "--",
        "sh",
        "-c",
        "echo 'boom & <bust>'; exit 3",
    ])
    .assert()
    .code(3);
    call(&["--finish"]).assert().success();
    let out = project
        .baton(&["report", "latest", "--format", "junit"])
        .output()
        .expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(r#"tests="2""#) && xml.contains(r#"failures="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="build" classname="exec""#),
        "{xml}"
    );
    assert!(xml.contains(r#"name="unit &lt;&amp;&gt; tests""#), "{xml}");
    assert!(xml.contains(r#"message="exit code 3""#), "{xml}");
    assert!(xml.contains("boom &amp; &lt;bust&gt;"), "{xml}");
}
