//! Snapshots of what users read most: `baton --help`, a run's summary and a
//! validation report. Review a change with `cargo insta review`.

mod common;

use common::{Project, repo_root};

fn output(mut command: assert_cmd::Command) -> (Option<i32>, String) {
    let out = command.env("COLUMNS", "100").output().expect("baton");
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("utf-8"),
    )
}

#[test]
fn help() {
    let (code, help) = output(Project::new().baton(&["--help"]));
    assert_eq!(code, Some(0));
    insta::assert_snapshot!(help);
}

/// A run whose outcome does not depend on timing: a success, a failure that is
/// allowed, a beat that reports a metric, a beat above the run's level.
const RUN: &str = r#"
version: 1
name: snapshot
movements:
  - name: check
    parallel: true
    beats:
      - { name: lint, type: validation, run: "true" }
      - name: flaky
        type: test
        allow_failure: true
        run: "echo 'one failing test' >&2; exit 3"
  - name: build
    beats:
      - name: compile
        type: build
        run: |
          echo "metric.objects=12" >> "$BATON_OUTPUT"
          echo compiled
      - { name: publish, type: deploy, run: "true", level: f }
"#;

#[test]
fn run_summary() {
    let project = Project::with_pipeline(RUN);
    let (code, summary) = output(project.baton(&["run", "-j", "2", "--output", "quiet"]));
    assert_eq!(code, Some(0), "{summary}");
    // What a run measures differs each time; the shape of the summary does not.
    // The columns' widths follow the values, so the filters also squeeze runs of
    // spaces and rules.
    insta::with_settings!({filters => vec![
        (r"build-\d{8}-\d{6}(-\d+)?", "[label]"),
        (r"\(log: [^)]*\)", "(log: [path])"),
        (r"\b\d+(\.\d+)?(ms|s)\b", "[time]"),
        (r"\d+(\.\d+)? (B|KB|MB|GB)\b", "[size]"),
        (r"-?\d+\.\d+x", "[ratio]"),
        (r"-?\d+\.\d%", "[percent]"),
        (r" {2,}", " "),
        (r"─+", "─"),
        (r"═+", "═"),
    ]}, {
        insta::assert_snapshot!(summary);
    });
}

#[test]
fn validation_report() {
    let project = Project::new().file(
        "many-problems.yaml",
        std::fs::read(repo_root().join("tests/fixtures/validate/many-problems.yaml"))
            .expect("fixture"),
    );
    let (code, report) = output(project.baton(&["validate", "many-problems.yaml"]));
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(report);
}
