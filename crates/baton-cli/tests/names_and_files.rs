//! User-chosen names on disk: every beat gets a file of its own (logs, telemetry
//! files), whatever characters its name holds.

mod common;

use std::path::{Path, PathBuf};

use common::Project;

fn pipeline(beats: &str) -> String {
    format!("version: 1\nid: 3e0f6c2a-1b7d-4e59-9c0a-5d2e8f7a1b3c\nname: t\nmovements:\n{beats}")
}

fn files_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found
}

#[test]
fn beats_whose_names_differ_only_in_odd_characters_keep_their_own_logs() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: 'a/b', run: 'echo output-of-slash' }\n      - { name: 'a_b', run: 'echo output-of-underscore' }\n      - { name: 'a b', run: 'echo output-of-space' }\n",
    ));
    project
        .baton(&["run", "--output", "quiet"])
        .env("BATON_BEAT_FILES", "1")
        .assert()
        .success();

    let logs = files_under(&project.join(".baton/logs"), "log");
    assert_eq!(logs.len(), 3, "{logs:?}");
    let telemetry: Vec<PathBuf> = files_under(&project.join(".baton/telemetry"), "json")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("beat-"))
        .collect();
    assert_eq!(telemetry.len(), 3, "{telemetry:?}");

    let report = project.latest_json();
    let beats = report["beats"].as_array().expect("beats");
    assert_eq!(beats.len(), 3);
    for (name, own) in [
        ("a/b", "output-of-slash"),
        ("a_b", "output-of-underscore"),
        ("a b", "output-of-space"),
    ] {
        let beat = beats.iter().find(|b| b["beat"] == name).expect(name);
        let path = beat["log_path"].as_str().expect("a log path");
        let log = std::fs::read_to_string(project.join(path))
            .unwrap_or_else(|e| panic!("{name}: the recorded log {path}: {e}"));
        assert!(
            log.contains(own) && log.lines().count() == 1,
            "{name}: {path}: {log}"
        );
    }
}

#[test]
fn a_control_character_in_a_beat_name_fails_validation_with_its_position() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: \"lint\\0fmt\", run: 'true' }\n      - { name: \"x\\ny\", run: 'true' }\n",
    ));
    let out = project.baton(&["validate"]).output().expect("validate");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(":7:17: beat name 'lint\\u{0}fmt'"),
        "{stdout}"
    );
    assert!(stdout.contains("B108"), "{stdout}");
    // The newline is shown escaped: the report keeps one line per problem.
    assert!(stdout.contains("beat name 'x\\ny'"), "{stdout}");
    assert!(!stdout.contains('\0'), "{stdout}");
    // And `run` refuses it before anything runs.
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .code(2);
}

#[test]
fn a_raw_escape_in_a_warning_is_printed_escaped() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: b, run: \"printf 'metric.x\\\\033[31m=1\\\\n' >> \\\"$BATON_OUTPUT\\\"\" }\n",
    ));
    let out = project
        .baton(&["run", "--output", "quiet"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("metric.x\\u{1b}[31m=1"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
