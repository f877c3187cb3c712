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
        // The per-beat files too: the secret must be in none of them.
        .env("BATON_BEAT_FILES", "1")
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

/// A pipeline whose first beat appends to `$BATON_OUTPUT` under `set -e` (the
/// README's pattern) and whose second prints and fails, allowed to.
const REPORTS_AND_FAILS: &str = "  - name: m\n    beats:\n      - name: report\n        run: |\n          set -e\n          echo hello\n          echo 'metric.x=1' >> \"$BATON_OUTPUT\"\n          echo done\n      - name: boom\n        allow_failure: true\n        run: 'echo some output; exit 3'\n";

/// How this machine lets a test mount a small tmpfs in a private mount namespace
/// (gone with the process, whatever happens): `unshare -m` as root, `unshare -rm`
/// with user namespaces; `None` when neither may mount.
fn private_mount_namespace(dir: &std::path::Path) -> Option<[&'static str; 2]> {
    let probe = "mount -t tmpfs -o size=64k tmpfs \"$1\" && umount \"$1\"";
    [["unshare", "-m"], ["unshare", "-rm"]]
        .into_iter()
        .find(|prefix| {
            std::process::Command::new(prefix[0])
                .args(&prefix[1..])
                .args(["sh", "-c", probe, "sh"])
                .arg(dir)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

#[test]
fn a_full_state_directory_changes_neither_the_exit_code_nor_points_at_missing_logs() {
    let healthy = Project::with_pipeline(&pipeline(REPORTS_AND_FAILS));
    let healthy_out = healthy
        .baton(&["run", "--output", "quiet"])
        .output()
        .expect("run");
    assert_eq!(healthy_out.status.code(), Some(0));

    let project = Project::with_pipeline(&pipeline(REPORTS_AND_FAILS));
    let state = project.join(".baton");
    std::fs::create_dir(&state).expect("mkdir .baton");
    let Some(unshare) = private_mount_namespace(&state) else {
        eprintln!("skipped: this machine does not let the test mount a tmpfs (unshare -m / -rm)");
        return;
    };
    // A 64 KiB tmpfs on .baton, filled to the last byte, then the run.
    let script = "mount -t tmpfs -o size=64k tmpfs .baton || exit 97\n\
                  dd if=/dev/zero of=.baton/fill bs=4k 2>/dev/null\n\
                  exec \"$0\" run --output quiet";
    let out = std::process::Command::new(unshare[0])
        .args(&unshare[1..])
        .args(["sh", "-c", script])
        .arg(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("baton under unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(97), "{stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "not full? {stderr}"
    );
    assert_eq!(
        out.status.code(),
        healthy_out.status.code(),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("✗ boom: exit 3"), "{stdout}");
    // Its log could not be written: the summary points at none.
    assert!(!stdout.contains("(log: "), "{stdout}");
}
