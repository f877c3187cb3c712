//! Which pipeline a reading command reads: the pipeline file's by default,
//! `--pipeline NAME`, or `--all`, in one store shared through `$BATON_DIR`.

mod common;

use common::Project;

fn pipeline(name: &str, id: &str) -> String {
    format!(
        "version: 1\nid: {id}\nname: {name}\nmovements:\n  - name: m\n    beats:\n      - {{ name: only-{name}, run: 'true' }}\n"
    )
}

#[test]
fn latest_follows_the_scope_and_says_why_it_finds_nothing() {
    let store = tempfile::tempdir().expect("tempdir");
    let one = Project::with_pipeline(&pipeline("one", "4b0c8e1a-2d3f-4a5b-8c6d-7e8f9a0b1c2d"));
    let two = Project::with_pipeline(&pipeline("two", "5c1d9f2b-3e4a-4b6c-9d7e-8f9a0b1c2d3e"));
    let baton = |project: &Project, args: &[&str]| {
        let out = project
            .baton(args)
            .env("BATON_DIR", store.path())
            .output()
            .expect("baton");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = baton(&one, &["run", "--output", "quiet"]);
    assert_eq!(code, Some(0), "{stderr}");

    // `two` has no run yet: latest says so and points at the way out.
    for verb in ["show", "report"] {
        let (code, _, stderr) = baton(&two, &[verb, "latest"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("no run of pipeline '5c1d9f2b-3e4a-4b6c-9d7e-8f9a0b1c2d3e' in the history yet (1 run of other pipelines: pass --all or --pipeline NAME)"),
            "{stderr}"
        );
        let (code, stdout, stderr) = baton(&two, &[verb, "latest", "--all"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("only-one"), "{stdout}");
        let (code, stdout, stderr) = baton(&two, &[verb, "--pipeline", "one"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("only-one"), "{stdout}");
    }
    // history agrees: the pipeline file's runs by default, every run with --all.
    let (_, stdout, _) = baton(&two, &["history", "--format", "json"]);
    assert_eq!(stdout.trim(), "[]");
    let (_, stdout, _) = baton(&two, &["history", "--all", "--format", "json"]);
    assert!(stdout.contains("\"pipeline\": \"one\""), "{stdout}");
}
