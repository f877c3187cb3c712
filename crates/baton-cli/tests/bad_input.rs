//! Bad pipeline files: each gets one clear line naming the file (and line:col where
//! there is one) and exit code 2. Never a panic, a stack overflow or a hang.

mod common;

use common::Project;

/// Runs `baton validate` on the project's baton.yaml and returns the first line.
fn first_line_of_validate(project: &Project) -> String {
    let out = project
        .baton(&["validate", "baton.yaml"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    stdout.lines().next().unwrap_or_default().to_string()
}

#[test]
fn missing_file() {
    let line = first_line_of_validate(&Project::new());
    assert!(line.starts_with("baton.yaml: no such file"), "{line}");
}

#[test]
fn empty_file() {
    let line = first_line_of_validate(&Project::with_pipeline("  \n\n"));
    assert!(line.starts_with("baton.yaml: file is empty"), "{line}");
}

#[test]
fn binary_file() {
    let project = Project::new().file("baton.yaml", [0x7f, b'E', b'L', b'F', 0, 0, 1, 2]);
    let line = first_line_of_validate(&project);
    assert!(line.starts_with("baton.yaml:1:5: file is binary"), "{line}");
}

#[test]
fn fifty_megabyte_file() {
    let big = "# padding\n".repeat(5_000_000);
    let line = first_line_of_validate(&Project::with_pipeline(&big));
    assert!(line.starts_with("baton.yaml: file is 50.0 MB"), "{line}");
}

#[test]
fn ten_thousand_levels_deep() {
    let deep = format!(
        "name: deep\nmovements: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let line = first_line_of_validate(&Project::with_pipeline(&deep));
    assert!(line.starts_with("baton.yaml:2:"), "{line}");
    assert!(line.contains("nests deeper than"), "{line}");
}

#[test]
fn tab_indentation() {
    let line = first_line_of_validate(&Project::with_pipeline(
        "version: 1\nmovements:\n\t- name: a\n",
    ));
    assert!(line.starts_with("baton.yaml:3:"), "{line}");
}

#[test]
fn duplicate_keys() {
    let line = first_line_of_validate(&Project::with_pipeline(
        "version: 1\nname: a\nname: b\nmovements: []\n",
    ));
    assert!(line.starts_with("baton.yaml:3:1:"), "{line}");
    assert!(line.contains("duplicate"), "{line}");
}

#[test]
fn byte_order_mark() {
    let project = Project::new().file("baton.yaml", b"\xEF\xBB\xBFversion: 1\nmovements: []\n");
    let line = first_line_of_validate(&project);
    assert!(
        line.starts_with("baton.yaml:1:1: file starts with a UTF-8 byte-order mark"),
        "{line}"
    );
}

#[test]
fn invalid_utf8() {
    let project = Project::new().file("baton.yaml", b"version: 1\nname: caf\xE9\n");
    let line = first_line_of_validate(&project);
    assert!(line.starts_with("baton.yaml:2:10: invalid UTF-8"), "{line}");
}

#[test]
fn unknown_field_suggests_the_right_one() {
    let yaml = "version: 1\nid: x\nname: t\nmovements:\n  - name: m\n    beats:\n      - name: a\n        run: 'true'\n        neds: [b]\n";
    let line = first_line_of_validate(&Project::with_pipeline(yaml));
    assert!(
        line.starts_with("baton.yaml:9:9: unknown field 'neds' in a beat (did you mean 'needs'?)"),
        "{line}"
    );
}

#[test]
fn absurd_retry_values_are_rejected_where_they_are_written() {
    let yaml = "version: 1\nid: x\nname: t\nmovements:\n  - name: m\n    beats:\n      - name: a\n        run: 'false'\n        retry: { attempts: 3, backoff: 1ms, factor: 1e300, on: ['exit:999'] }\n";
    let line = first_line_of_validate(&Project::with_pipeline(yaml));
    assert!(
        line.starts_with("baton.yaml:9:53: retry.factor must be between 1 and 10"),
        "{line}"
    );
}
