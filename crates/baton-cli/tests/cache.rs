//! The step cache and artifact manifests through the binary.

mod common;

use common::Project;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

const PIPELINE: &str = "version: 1\nid: 5b1e9d7c-2a4f-4c8e-9d3b-7f6a1e2c4d5b\nname: cached\nmovements:\n  - name: build\n    beats:\n      - name: compile\n        run: 'mkdir -p out && cat src/*.txt > out/all.txt && echo compiled'\n        inputs: ['src/**']\n        outputs: ['out/**']\n        cache: true\n";

fn project() -> Project {
    Project::with_pipeline(PIPELINE)
        .file("src/a.txt", "alpha\n")
        .file("src/b.txt", "beta\n")
}

fn cache_state(project: &Project) -> String {
    let out = project
        .baton(&["show", "--format", "json"])
        .output()
        .expect("show");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    json["beats"][0]["cache_state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_second_run_hits_restores_outputs_and_replays_the_log() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    assert_eq!(cache_state(&project), "miss");
    std::fs::remove_dir_all(project.join("out")).expect("rm out");
    project
        .baton(&["run"])
        .assert()
        .success()
        .stdout(contains("compiled"));
    assert_eq!(cache_state(&project), "hit");
    assert_eq!(project.read("out/all.txt"), "alpha\nbeta\n");
}

#[test]
fn a_miss_after_a_hit_says_why_in_the_summary_and_in_explain() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let project = project
        .file("src/b.txt", "beta, edited\n")
        .file("src/c.txt", "new\n");
    project
        .baton(&["cache", "explain", "compile"])
        .assert()
        .success()
        .stdout(contains("src/b.txt"))
        .stdout(contains("src/c.txt"));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success()
        .stdout(contains("cache miss compile:").and(contains("src/b.txt")));
    assert_eq!(cache_state(&project), "miss");
}

#[test]
fn cache_only_fails_a_beat_that_would_run_and_no_cache_forces_a_run() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet", "--cache-only"])
        .assert()
        .code(1);
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["run", "--output", "quiet", "--cache-only"])
        .assert()
        .success();
    project
        .baton(&["run", "--output", "quiet", "--no-cache"])
        .assert()
        .success();
    assert_eq!(cache_state(&project), "miss");
}

#[test]
fn ls_prune_and_clear_manage_the_entries() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["cache", "ls"])
        .assert()
        .success()
        .stdout(contains("compile"));
    project
        .baton(&["cache", "prune", "--max-size", "0B"])
        .assert()
        .success()
        .stdout(contains("removed 1"));
    project
        .baton(&["cache", "ls"])
        .assert()
        .success()
        .stdout(contains("the cache is empty"));
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["cache", "clear"])
        .assert()
        .success()
        .stdout(contains("removed 1"));
}

/// The telemetry folder of the project's one run.
fn only_run_dir(project: &Project) -> std::path::PathBuf {
    std::fs::read_dir(project.join(".baton/telemetry"))
        .expect("telemetry")
        .next()
        .expect("run")
        .expect("entry")
        .path()
}

#[test]
fn a_run_without_artifacts_saves_no_manifest_and_verifies_clean() {
    let project = Project::with_pipeline(
        "version: 1\nname: t\nmovements:\n  - name: a\n    beats:\n      - { name: noop, run: 'true' }\n",
    );
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let run_dir = only_run_dir(&project);
    assert!(!run_dir.join("artifacts.json").exists());
    project
        .baton(&["artifacts", "verify"])
        .assert()
        .success()
        .stdout(contains("0 artifact(s), 0 changed or missing"));
}

#[test]
fn a_run_whose_beat_reports_artifacts_keeps_its_manifest() {
    let project = Project::with_pipeline(
        "version: 1\nname: t\nmovements:\n  - name: a\n    beats:\n      - { name: counted, run: 'echo artifacts=3 >> \"$BATON_OUTPUT\"' }\n",
    );
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["artifacts", "verify"])
        .assert()
        .success()
        .stdout(contains("0 changed or missing"));
}

#[test]
fn artifacts_verify_reports_changed_and_missing_files() {
    let project = project();
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    let run_dir = only_run_dir(&project);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("artifacts.json")).expect("artifacts.json"),
    )
    .expect("json");
    assert_eq!(manifest["beats"][0]["files"][0]["path"], "out/all.txt");
    project
        .baton(&["artifacts", "verify"])
        .assert()
        .success()
        .stdout(contains("0 changed or missing"));
    std::fs::write(project.join("out/all.txt"), "tampered").expect("write");
    project
        .baton(&["artifacts", "verify"])
        .assert()
        .code(1)
        .stdout(contains("changed  out/all.txt"));
    std::fs::remove_file(project.join("out/all.txt")).expect("rm");
    project
        .baton(&["artifacts", "verify"])
        .assert()
        .code(1)
        .stdout(contains("missing  out/all.txt"));
}

#[test]
fn a_dry_run_says_which_beats_the_cache_would_restore() {
    let project = project();
    project
        .baton(&["run", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("compile  miss: no cache yet"));
    assert!(!project.join(".baton").exists(), "a dry run makes nothing");
    project
        .baton(&["run", "--output", "quiet"])
        .assert()
        .success();
    project
        .baton(&["run", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("compile  hit: restored, not run"));
    let project = project.file("src/b.txt", "beta, edited\n");
    project
        .baton(&["run", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("compile  miss: ").and(contains("src/b.txt")));
}

/// Issue 18's reproducer: `dist/` is git-ignored, `build` copies `src/a` to
/// `dist/a`, and a cached `test` reads `dist/**`. A change to `src/a` must reach
/// `test`'s key (it is keyed on what `dist/` holds when it starts).
const STALE: &str = "version: 1\nid: 0c6f6a9e-64a4-4a43-9a57-2f1e0d7b8c11\nname: stale\nmovements:\n  - name: build\n    beats:\n      - name: build\n        run: 'mkdir -p dist && cp src/a dist/a'\n        outputs: ['dist/**']\n  - name: test\n    beats:\n      - name: test\n        run: 'cat dist/a'\n        inputs: ['dist/**']\n        cache: true\n";

fn test_state(project: &Project) -> String {
    let json = project.latest_json();
    let test = json["beats"]
        .as_array()
        .and_then(|beats| beats.iter().find(|b| b["beat"] == "test"))
        .cloned()
        .unwrap_or_default();
    test["cache_state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn an_input_glob_into_an_ignored_directory_sees_its_files() {
    let project = Project::with_pipeline(STALE)
        .file(".git/HEAD", "ref: refs/heads/main\n")
        .file(".gitignore", "dist/\n")
        .file("src/a", "one\n");
    let run = |project: &Project| {
        project
            .baton(&["run", "--output", "quiet"])
            .assert()
            .success();
    };
    run(&project);
    assert_eq!(test_state(&project), "miss");
    run(&project);
    assert_eq!(test_state(&project), "hit", "nothing changed");
    let project = project.file("src/a", "two\n");
    project
        .baton(&["run"])
        .assert()
        .success()
        .stdout(contains("two"));
    assert_eq!(test_state(&project), "miss", "dist/a changed through build");
}

#[test]
fn a_cached_beat_whose_inputs_match_nothing_runs_and_says_so() {
    let pipeline = "version: 1\nid: 8d7e2b1a-5c4f-4e3d-9b2a-1f0e9d8c7b6a\nname: empty\nmovements:\n  - name: test\n    beats:\n      - name: test\n        run: 'echo ran'\n        inputs: ['missing/**']\n        cache: true\n";
    let project = Project::with_pipeline(pipeline);
    for _ in 0..2 {
        project
            .baton(&["run"])
            .assert()
            .success()
            .stdout(contains("ran"))
            .stderr(contains(
                "beat 'test': its inputs (missing/**) match no file; running it instead of using the cache",
            ));
        assert_eq!(test_state(&project), "miss");
    }
}
