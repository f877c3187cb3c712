//! `baton validate`, `baton schema` and `baton init` driven through the binary.

mod common;

use std::path::PathBuf;

use common::{Project, repo_root};
use predicates::str::contains;

const GOOD: &str = "version: 1\nid: 1f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f\nname: good\nmovements:\n  - name: m\n    beats:\n      - { name: a, run: 'true' }\n";

#[test]
fn a_clean_file_passes_with_a_perfect_score() {
    Project::with_pipeline(GOOD)
        .baton(&["validate"])
        .assert()
        .success()
        .stdout(contains("conformity 1.00 (excellent)"));
}

#[test]
fn minor_problems_fail_only_with_strict() {
    let yaml = GOOD.replace("run: 'true' }", "run: 'true', cache: true }");
    let project = Project::with_pipeline(&yaml);
    project
        .baton(&["validate"])
        .assert()
        .success()
        .stdout(contains("B301"));
    project.baton(&["validate", "--strict"]).assert().code(2);
}

#[test]
fn an_input_glob_under_a_missing_directory_nobody_writes_is_reported() {
    let yaml = "version: 1\nid: 1f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f\nname: good\nmovements:\n  - name: m\n    beats:\n      - name: make\n        run: 'true'\n        outputs: ['dist/**']\n      - name: test\n        run: 'true'\n        cache: true\n        inputs: ['gen/**', 'dist/**', 'src/**']\n";
    let project = Project::with_pipeline(yaml).file("src/a", "a");
    let out = project.baton(&["validate"]).output().expect("validate");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("baton.yaml:13:17: input 'gen/**' of beat 'test' matches no file: 'gen/' does not exist and no beat's outputs write it [minor B306 inputs-match-nothing]"),
        "{text}"
    );
    // dist/ is written by `make`, src/ exists: one finding only.
    assert_eq!(text.matches("B306").count(), 1, "{text}");
}

#[test]
fn json_output_lists_every_diagnostic() {
    let project = Project::with_pipeline(
        "version: 1\nname: t\nmovements:\n  - name: m\n    beats:\n      - { name: a, run: x, level: loud }\n      - { name: a, run: y }\n",
    );
    let out = project
        .baton(&["validate", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let codes: Vec<&str> = json["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"B105") && codes.contains(&"B201"),
        "{codes:?}"
    );
    assert_eq!(json["valid"], false);
    assert!(json["score"].as_f64().expect("score") < 0.65);
}

fn example_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples/") {
        let dir = entry.expect("entry").path();
        for name in ["baton.yaml", "baton.json"] {
            if dir.join(name).is_file() {
                files.push(dir.join(name));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_example_conforms_to_the_schema_and_validates() {
    let out = Project::new().baton(&["schema"]).output().expect("run");
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let files = example_files();
    assert!(
        files.len() >= 5,
        "expected the five examples, found {files:?}"
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read example");
        let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("example parses");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        let project = Project::new();
        project
            .baton(&["validate", "--strict", file.to_str().expect("utf-8 path")])
            .assert()
            .success();
    }
}

#[test]
fn the_committed_schema_file_is_current() {
    let committed =
        std::fs::read_to_string(repo_root().join("baton.schema.json")).expect("baton.schema.json");
    let out = Project::new().baton(&["schema"]).output().expect("run");
    assert_eq!(
        committed,
        String::from_utf8_lossy(&out.stdout),
        "run `baton schema > baton.schema.json`"
    );
}

#[test]
fn init_proposes_beats_and_is_idempotent() {
    let project = Project::new()
        .file("Cargo.toml", "[package]\nname = \"demo\"\n")
        .file(
            "package.json",
            r#"{"scripts": {"lint": "eslint .", "test": "jest"}}"#,
        )
        .file("Makefile", "build:\n\tcc main.c\n.PHONY: build\n")
        .file(".gitignore", "target/\n.env\n");
    project.baton(&["init"]).assert().success();
    let pipeline = project.read("baton.yaml");
    for expected in ["cargo test", "npm run lint", "make build", "id: "] {
        assert!(
            pipeline.contains(expected),
            "{expected} missing from\n{pipeline}"
        );
    }
    project.baton(&["validate", "--strict"]).assert().success();
    let gitignore = project.read(".gitignore");
    assert_eq!(gitignore.matches(".env").count(), 1, "{gitignore}");
    assert!(gitignore.contains(".baton/"));
    assert!(project.read(".env").contains("BATON_TELEMETRY_URL"));

    let snapshot = |p: &Project| ["baton.yaml", ".env", ".gitignore"].map(|f| p.read(f));
    let before = snapshot(&project);
    project
        .baton(&["init"])
        .assert()
        .success()
        .stdout(contains("--force"));
    assert_eq!(
        before,
        snapshot(&project),
        "a second init must change nothing"
    );

    project.baton(&["init", "--force"]).assert().success();
    assert_ne!(
        before[0],
        project.read("baton.yaml"),
        "--force writes a new pipeline with a new id"
    );
}

#[test]
fn init_in_an_empty_directory_writes_a_runnable_template() {
    let project = Project::new();
    project.baton(&["init"]).assert().success();
    project.baton(&["validate", "--strict"]).assert().success();
}
