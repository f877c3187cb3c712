//! The everyday commands around a pipeline: `baton list`, shell completions, the
//! man page, `--version` and a misspelt verb.

mod common;

use common::{Project, repo_root};

const PIPELINE: &str = r#"
version: 1
name: listing
movements:
  - name: check
    beats:
      - { name: fmt, type: validation, run: "true", level: p }
  - name: build
    parallel: true
    beats:
      - { name: compile, type: build, run: "true", inputs: ["src/**"], cache: true }
      - { name: docs, type: generation, run: "true" }
      - { name: package, type: build, run: "true", needs: [compile, docs], timeout: 90s, level: f }
"#;

fn stdout_of(project: &Project, args: &[&str]) -> String {
    let out = project.baton(args).output().expect("baton");
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn list_shows_each_beat_under_its_movement_with_what_decides_how_it_runs() {
    let project = Project::with_pipeline(PIPELINE);
    let text = stdout_of(&project, &["list"]);
    assert_eq!(
        text,
        "\
listing: 4 beats in 2 movements
BEAT       TYPE        LEVEL  NEEDS         CACHE  TIMEOUT
check
  fmt      validation  p      -             -      -
build (parallel)
  compile  build       mf     -             yes    -
  docs     generation  mf     -             -      -
  package  build       f      compile,docs  -      1m30s
"
    );
}

#[test]
fn list_as_json_has_stable_field_names() {
    let project = Project::with_pipeline(PIPELINE);
    let json: serde_json::Value = serde_json::from_str(&stdout_of(
        &project,
        &["list", "baton.yaml", "--format", "json"],
    ))
    .expect("json");
    let beats = json.as_array().expect("an array of beats");
    assert_eq!(beats.len(), 4);
    assert_eq!(
        beats[3],
        serde_json::json!({
            "name": "package",
            "movement": "build",
            "parallel": true,
            "type": "build",
            "level": "f",
            "needs": ["compile", "docs"],
            "cache": false,
            "timeout_ms": 90_000,
        })
    );
    assert_eq!(beats[1]["cache"], true);
    assert_eq!(beats[0]["timeout_ms"], serde_json::Value::Null);
}

#[test]
fn list_of_an_invalid_file_says_so_and_exits_2() {
    let project = Project::with_pipeline("version: 1\nname: x\nmovements: []\n");
    let out = project.baton(&["list"]).output().expect("baton");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("baton: error: "), "{stderr}");
    assert!(stderr.contains("baton validate"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn completions_for_every_shell_name_the_verbs() {
    let project = Project::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&project, &["completions", shell]);
        for verb in ["run", "validate", "list", "history", "completions"] {
            assert!(script.contains(verb), "{shell} completion lacks '{verb}'");
        }
    }
    let bash = stdout_of(&project, &["completions", "bash"]);
    assert!(bash.contains("complete -F _baton"), "{bash}");
}

#[test]
fn man_is_a_roff_page_of_baton_with_its_verbs() {
    let page = stdout_of(&Project::new(), &["man"]);
    assert!(
        page.lines().any(|l| l.starts_with(".TH baton 1")),
        "no .TH line:\n{page}"
    );
    assert!(page.contains("validate") && page.contains("run"), "{page}");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let version = stdout_of(&Project::new(), &["--version"]);
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo_root())
        .output();
    let expected = match git {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        // Not a checkout (or no git): the build could not know either.
        _ => "unknown".to_owned(),
    };
    let prefix = format!("baton {} ({expected}", env!("CARGO_PKG_VERSION"));
    assert!(
        version.starts_with(&prefix),
        "{version:?} does not start with {prefix:?}"
    );
    assert!(
        version.trim_end().ends_with(')'),
        "{version:?}: the commit is in parentheses"
    );
}

#[test]
fn a_misspelt_verb_gets_the_verb_it_meant() {
    for (typed, meant) in [("rnu", "run"), ("valdate", "validate"), ("lsit", "list")] {
        let out = Project::new().baton(&[typed]).output().expect("baton");
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("baton: error: unrecognized subcommand '{typed}'")),
            "{stderr}"
        );
        // clap's own tip ("a similar subcommand exists: 'validate'") or ours for
        // swapped letters, which clap misses.
        assert!(
            stderr.contains("similar subcommand") && stderr.contains(&format!("'{meant}'")),
            "{typed}: {stderr}"
        );
    }
}
