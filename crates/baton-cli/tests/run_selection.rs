//! What `baton run` says about the beats it is asked to run: `-j`, `--only`,
//! `--from` and levels. Each mistake is one line on stderr and exit code 2.

mod common;

use common::Project;

const PIPELINE: &str = "version: 1
id: 0c6a1f3e-7b2d-4e8a-9f51-3d7c2b9e4a60
name: selection
movements:
  - name: build
    parallel: true
    beats:
      - { name: a, run: 'true' }
      - { name: b, run: 'true' }
      - { name: f, run: 'true', level: f }
      - { name: g, run: 'true', needs: [f] }
";

fn stderr_of(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Project::with_pipeline(PIPELINE)
        .baton(args)
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn zero_jobs_is_one_line_and_exit_2() {
    for args in [&["run", "-j", "0"][..], &["run", "--jobs=0"]] {
        let (code, _, stderr) = stderr_of(args);
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("baton: error: ")
                && stderr.contains("-j/--jobs must be at least 1 (got 0)"),
            "{stderr}"
        );
    }
    let (code, _, stderr) = stderr_of(&["run", "-j", "many"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn only_names_around_commas_are_trimmed() {
    let (code, stdout, stderr) = stderr_of(&["run", "--dry-run", "--only", "a, b"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("build/a") && stdout.contains("build/b"),
        "{stdout}"
    );
    let (code, _, stderr) = stderr_of(&["run", "--dry-run", "--only", "a,"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "baton: error: failed to select beats: --only has an empty name (a stray comma?)\n"
    );
}

#[test]
fn unknown_names_get_a_suggestion() {
    let (code, _, stderr) = stderr_of(&["run", "--only", "gg"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("(did you mean 'g'?)"), "{stderr}");
    let (code, _, stderr) = stderr_of(&["run", "--from", "biuld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("(did you mean 'build'?)"), "{stderr}");
}

#[test]
fn only_a_beat_above_the_level_says_which_level_runs_it() {
    let (code, _, stderr) = stderr_of(&["run", "--only", "f"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "baton: error: failed to select beat 'f': it is at level f, above the run level mf (--level f would include it)\n"
    );
    let (code, _, stderr) = stderr_of(&["run", "--dry-run", "--only", "f", "--level", "f"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_need_left_out_by_the_level_is_a_warning_naming_the_level() {
    let (code, stdout, stderr) = stderr_of(&["run", "--dry-run", "--only", "g"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("build/g"), "{stdout}");
    assert_eq!(
        stderr,
        "baton: warning: beat 'g' needs 'f', which does not run (level f is above the run level mf; --level f would include it); it runs without it\n"
    );
}

#[test]
fn any_bad_command_line_is_one_line_and_exit_2() {
    for args in [
        &["run", "--bogus"][..],
        &["frobnicate"],
        &["run", "--output", "loud"],
    ] {
        let (code, _, stderr) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("baton: error: "), "{stderr}");
    }
}

#[test]
fn a_beat_named_by_only_that_the_level_leaves_out_is_said_not_dropped() {
    let (code, _, stderr) = stderr_of(&["run", "--output", "quiet", "--only", "a,f"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("beat 'f', named by --only, does not run (level f is above"),
        "{stderr}"
    );
}

#[test]
fn a_dry_run_says_how_jobs_bound_the_widest_wave() {
    let (code, stdout, stderr) = stderr_of(&["run", "--dry-run", "-j", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("-j 1: at most 1 at a time (the widest wave has "),
        "{stdout}"
    );
    let (_, stdout, _) = stderr_of(&["run", "--dry-run", "-j", "8"]);
    assert!(
        !stdout.contains("-j 8"),
        "no note when -j is no bound: {stdout}"
    );
}
