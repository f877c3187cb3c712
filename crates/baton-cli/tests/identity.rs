//! What a run remembers of each beat through the binary: its input identity (the
//! inputs' key, else the clean commit, else none), whether it was restored from
//! the cache and from which run, and the replay's marker on the terminal and in
//! CI logs.

mod common;

use common::Project;

const ID: &str = "id: 6c2d9e1a-3b4f-4a7e-8c5d-1e2f3a4b5c6d";

/// A cached beat `compile` writing to stdout and stderr, and `other` beside it.
fn cached_project() -> Project {
    Project::with_pipeline(&format!(
        "version: 1\n{ID}\nname: ids\nmovements:\n  - name: build\n    parallel: true\n    beats:\n      \
         - name: compile\n        run: 'mkdir -p out && cat src/*.txt > out/all.txt && echo compiled && echo careful >&2'\n        \
           inputs: ['src/**']\n        outputs: ['out/**']\n        cache: true\n      \
         - {{ name: other, run: 'echo other' }}\n"
    ))
    .file("src/a.txt", "alpha\n")
}

/// The latest run's label and its record of `beat`.
fn latest(project: &Project, beat: &str) -> (String, serde_json::Value) {
    let json = project.latest_json();
    let label = json["run"]["label"].as_str().expect("a label").to_owned();
    let record = json["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .find(|b| b["beat"] == beat)
        .cloned()
        .expect("the beat's record");
    (label, record)
}

fn stdout_of(project: &Project, args: &[&str], github: bool) -> String {
    let mut cmd = project.baton(args);
    if github {
        cmd.env("GITHUB_ACTIONS", "true");
    } else {
        cmd.env_remove("GITHUB_ACTIONS");
    }
    let out = cmd.output().expect("baton runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn a_restored_beat_is_marked_before_its_replay_and_its_record_names_the_run() {
    let project = cached_project();
    let first = stdout_of(&project, &["run", "-j", "2"], false);
    assert!(!first.contains("restored"), "{first}");
    let (first_label, record) = latest(&project, "compile");
    assert_eq!(record["restored"], false, "{record}");
    assert!(record.get("restored_from").is_none(), "{record}");
    let identity = record["input_identity"]
        .as_str()
        .expect("an input identity")
        .to_owned();
    assert!(identity.starts_with("inputs:"), "{identity}");

    // Prefixed (beats run side by side): the marker, then the replay with the
    // stderr line still marked, then a last line that says restored.
    let second = stdout_of(&project, &["run", "-j", "2"], false);
    let marker = format!("↺ compile restored from cache (run {first_label})");
    let at = |needle: &str| {
        second
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{second}"))
    };
    assert!(at(&marker) < at("compile | compiled"), "{second}");
    assert!(at(&marker) < at("compile ! careful"), "{second}");
    assert!(
        at("compile ! careful") < at("✔ compile restored in"),
        "{second}"
    );
    assert!(!second.contains("✔ compile success"), "{second}");
    assert!(second.contains("other   success"), "{second}");
    let (_, record) = latest(&project, "compile");
    assert_eq!(record["restored"], true, "{record}");
    assert_eq!(record["restored_from"], first_label.as_str(), "{record}");
    assert_eq!(record["input_identity"], identity.as_str(), "{record}");
    let (_, other) = latest(&project, "other");
    assert_eq!(other["restored"], false, "{other}");

    // Grouped in GitHub Actions: the block says restored and opens with the marker.
    let grouped = stdout_of(&project, &["run", "--output", "grouped"], true);
    let block = grouped
        .split("::group::compile (restored, ")
        .nth(1)
        .unwrap_or_else(|| panic!("no restored group in:\n{grouped}"));
    let mut lines = block.lines().skip(1);
    assert_eq!(lines.next(), Some(marker.as_str()), "{grouped}");
    assert!(block.contains("compiled\n"), "{grouped}");

    // Plain grouped output, elsewhere.
    let plain = stdout_of(&project, &["run", "--output", "grouped"], false);
    assert!(
        plain.contains("── compile (restored, ") && plain.contains(&marker),
        "{plain}"
    );

    // Quiet shows no output, so no replay to mark.
    let quiet = stdout_of(&project, &["run", "--output", "quiet"], false);
    assert!(!quiet.contains('↺'), "{quiet}");

    // Changed inputs: another identity, and the beat runs.
    let project = project.file("src/a.txt", "alpha, edited\n");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    let (_, record) = latest(&project, "compile");
    assert_eq!(record["restored"], false, "{record}");
    assert!(record.get("restored_from").is_none(), "{record}");
    let changed = record["input_identity"].as_str().expect("an identity");
    assert!(
        changed.starts_with("inputs:") && changed != identity,
        "{record}"
    );
}

#[test]
fn a_beat_with_inputs_that_is_not_cached_is_identified_by_its_inputs() {
    let project = Project::with_pipeline(&format!(
        "version: 1\n{ID}\nname: ids\nmovements:\n  - name: build\n    beats:\n      \
         - {{ name: lint, run: 'cat src/a.txt', inputs: ['src/**'], cache: false }}\n"
    ))
    .file("src/a.txt", "alpha\n");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    let (_, record) = latest(&project, "lint");
    assert_eq!(record["cache_state"], "skip", "{record}");
    let identity = record["input_identity"].as_str().expect("an identity");
    let key = identity.strip_prefix("inputs:").expect("its inputs' key");
    assert_eq!(key.len(), 64, "{identity}");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    assert_eq!(latest(&project, "lint").1["input_identity"], identity);
    let project = project.file("src/a.txt", "edited\n");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    assert_ne!(latest(&project, "lint").1["input_identity"], identity);
}

#[test]
fn a_beat_without_inputs_is_identified_by_a_clean_commit_only() {
    let project = Project::with_pipeline(&format!(
        "version: 1\n{ID}\nname: ids\nmovements:\n  - name: build\n    beats:\n      \
         - {{ name: test, run: 'true' }}\n"
    ))
    .file("notes.txt", "notes\n");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    assert!(
        latest(&project, "test").1.get("input_identity").is_none(),
        "no git, no identity"
    );

    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(project.path())
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "trunk"]);
    git(&["add", "baton.yaml", "notes.txt"]);
    git(&["commit", "-q", "-m", "pipeline"]);
    let head = git(&["rev-parse", "HEAD"]);

    // `.baton/` is there, untracked: the tree is still clean.
    stdout_of(&project, &["run", "--output", "quiet"], false);
    let (_, record) = latest(&project, "test");
    assert_eq!(
        record["input_identity"],
        format!("commit:{head}"),
        "{record}"
    );

    let project = project.file("notes.txt", "notes, edited\n");
    stdout_of(&project, &["run", "--output", "quiet"], false);
    let (_, record) = latest(&project, "test");
    assert!(record.get("input_identity").is_none(), "dirty: {record}");
}
