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

/// Every file under `dir`, with its text.
fn texts_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(texts_under(&path));
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            found.push((path, text));
        }
    }
    found
}

#[test]
fn a_secret_in_a_metric_name_or_an_artifact_file_name_is_kept_nowhere() {
    let secret = "tok3n5ecret";
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - name: leak\n        secrets: [API_TOKEN]\n        outputs: ['dist/**']\n        run: |\n          mkdir -p dist\n          echo x > \"dist/$API_TOKEN.txt\"\n          echo \"metric.$API_TOKEN=1\" >> \"$BATON_OUTPUT\"\n          echo \"metric.plain=2\" >> \"$BATON_OUTPUT\"\n",
    ));
    let out = project
        .baton(&["run", "--output", "quiet"])
        .env("API_TOKEN", secret)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(secret));
    }

    let shown = project
        .baton(&["show", "latest", "--format", "json"])
        .output()
        .expect("show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("\"plain\""), "{shown}");
    assert!(!shown.contains(secret), "{shown}");

    let telemetry = texts_under(&project.join(".baton/telemetry"));
    assert!(
        telemetry
            .iter()
            .any(|(p, _)| p.file_name().is_some_and(|n| n == "artifacts.json")),
        "{telemetry:?}"
    );
    for (path, text) in &telemetry {
        assert!(!text.contains(secret), "{}: {text}", path.display());
    }
    let artifacts = project
        .baton(&["artifacts", "latest", "--format", "json"])
        .output()
        .expect("artifacts");
    assert!(!String::from_utf8_lossy(&artifacts.stdout).contains(secret));
    // No file of the state directory (history.db and its journal included)
    // holds a copy of it either.
    let mut files = Vec::new();
    collect_files(&project.join(".baton"), &mut files);
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{}",
            file.display()
        );
    }
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        assert!(
            !path.to_string_lossy().contains("tok3n5ecret"),
            "{}",
            path.display()
        );
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
