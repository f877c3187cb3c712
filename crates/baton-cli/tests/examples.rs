//! The quickstart example does what its README promises: parallel beats, a cache hit
//! on the second run, an SLA warning and artifacts.

mod common;

use std::path::Path;

use common::repo_root;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read example") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == ".baton" || name == "dist" || name == "build" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn quickstart_shows_parallel_beats_a_cache_hit_an_sla_warning_and_artifacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo_root().join("examples/quickstart"), dir.path());
    let run = || {
        let out = assert_cmd::Command::cargo_bin("baton")
            .expect("baton")
            .current_dir(dir.path())
            .args(["run", "-j", "2", "--output", "quiet"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let show = assert_cmd::Command::cargo_bin("baton")
            .expect("baton")
            .current_dir(dir.path())
            .args(["show", "--format", "json"])
            .output()
            .expect("show");
        serde_json::from_slice::<serde_json::Value>(&show.stdout).expect("json")
    };
    let first = run();
    let second = run();
    let beats =
        |report: &serde_json::Value| report["beats"].as_array().cloned().unwrap_or_default();
    assert!(beats(&first).iter().any(|b| b["cache_state"] == "miss"));
    assert!(
        beats(&second).iter().any(|b| b["cache_state"] == "hit"),
        "no cache hit on the second run"
    );
    assert!(
        beats(&second)
            .iter()
            .any(|b| b["sla"]["duration_status"] == "warning"),
        "no SLA warning"
    );
    assert!(
        second["summary"]["artifacts_count"].as_u64().unwrap_or(0) > 0,
        "no artifacts"
    );
    let build_movement: Vec<_> = beats(&first)
        .into_iter()
        .filter(|b| b["movement_index"] == 1)
        .collect();
    assert!(
        build_movement.len() >= 2,
        "the parallel movement has several beats"
    );
}
