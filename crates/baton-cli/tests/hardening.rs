//! What the hardening of issue 13 promises, through the binary: a FIFO as the
//! pipeline file, a full state directory, secrets in beat-supplied strings.

mod common;

use std::time::Duration;

use common::Project;

fn pipeline(beats: &str) -> String {
    format!("version: 1\nid: 3e0f6c2a-1b7d-4e59-9c0a-5d2e8f7a1b3c\nname: t\nmovements:\n{beats}")
}

#[test]
fn a_fifo_as_the_pipeline_file_is_refused_at_once_with_exit_2() {
    let project = Project::new();
    let fifo = project.join("baton.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for verb in [
        &["validate"][..],
        &["run"],
        &["run", "--dry-run"],
        &["history"],
    ] {
        let out = project
            .baton(verb)
            .timeout(Duration::from_secs(20))
            .output()
            .expect("baton");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{verb:?}: {text}");
        assert!(
            text.contains("baton.yaml: is a FIFO (named pipe), not a regular file"),
            "{verb:?}: {text}"
        );
    }
}
