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
        let report = assert_cmd::Command::cargo_bin("baton")
            .expect("baton")
            .current_dir(dir.path())
            .args(["report", "latest", "--format", "json"])
            .output()
            .expect("report");
        serde_json::from_slice::<serde_json::Value>(&report.stdout).expect("json")
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
    // Parallel means the recorded intervals overlap: `render-docs` started before
    // `compile` ended and the other way round (first run: the second hits the cache).
    let interval = |name: &str| {
        let beat = beats(&first)
            .into_iter()
            .find(|b| b["beat"] == name)
            .unwrap_or_else(|| panic!("no beat {name} in the first run"));
        let start: jiff::Timestamp = beat["started_at"]
            .as_str()
            .expect("started_at")
            .parse()
            .expect("a timestamp");
        let duration =
            jiff::SignedDuration::from_millis(beat["duration_ms"].as_i64().expect("duration_ms"));
        (start, start + duration)
    };
    let (compile_start, compile_end) = interval("compile");
    let (docs_start, docs_end) = interval("render-docs");
    assert!(
        compile_start < docs_end && docs_start < compile_end,
        "compile ran {compile_start}..{compile_end}, render-docs {docs_start}..{docs_end}: no overlap"
    );
}
