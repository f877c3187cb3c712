//! The scheduler with the step cache, against a fake spawner that writes its beat's
//! outputs: miss then hit (outputs restored, log replayed), miss reasons, ttl,
//! `--no-cache`, `--cache-only`, failures and retries, a corrupted entry, beats the
//! cache skips, and the artifact lists.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_model::{BeatStatus, CacheState, Pipeline, RunEvent, RunStatus};
use baton_runner::testing::{BeatBuilder, PipelineBuilder, beat, run_record};
use baton_runner::{
    BeatOutput, Cache, CacheMode, CancelToken, RunOptions, RunOutcome, Selection, SpawnRequest,
    SpawnResult, Spawner, plan,
};

use common::run_collecting;

/// Runs commands "make X": prints `building X`, writes `dist/X.out` holding the
/// content of `src/X.rs`. Commands listed in `fail_first` fail their first call.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    fail_first: Vec<&'static str>,
    /// Also print `warned X` on stderr.
    stderr: bool,
}

impl Fake {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl Spawner for Fake {
    fn run(&self, req: &SpawnRequest<'_>, output: &BeatOutput, _: &CancelToken) -> SpawnResult {
        let calls = {
            let mut calls = self.calls.lock().expect("not poisoned");
            calls.push(req.command.to_owned());
            calls.iter().filter(|c| *c == req.command).count()
        };
        let name = req.command.trim_start_matches("make ");
        let mut out = output.stream(baton_model::OutputStream::Stdout);
        out.write(format!("building {name}\n").as_bytes());
        out.finish();
        if self.stderr {
            let mut err = output.stream(baton_model::OutputStream::Stderr);
            err.write(format!("warned {name}\n").as_bytes());
            err.finish();
        }
        if calls == 1 && self.fail_first.contains(&req.command) {
            return SpawnResult {
                exit_code: Some(1),
                ..SpawnResult::default()
            };
        }
        let source = fs::read(req.cwd.join(format!("src/{name}.rs"))).unwrap_or_default();
        fs::create_dir_all(req.cwd.join("dist")).expect("mkdir dist");
        fs::write(req.cwd.join(format!("dist/{name}.out")), source).expect("write output");
        SpawnResult {
            exit_code: Some(0),
            duration: Duration::from_millis(1),
            ..SpawnResult::default()
        }
    }
}

/// The cached beat "app": `make app`, from `src/app.rs` to `dist/app.out`.
fn app(ttl: Option<Duration>) -> BeatBuilder {
    beat("app")
        .run("make app")
        .inputs(&["src/app.rs"])
        .outputs(&["dist/app.out"])
        .cached(ttl)
}

struct Project {
    dir: tempfile::TempDir,
    cache: Arc<Cache>,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Arc::new(Cache::open(&dir.path().join(".baton")).expect("cache opens"));
        let project = Self { dir, cache };
        project.write("src/app.rs", "fn main() {}");
        project.write("src/lib.rs", "pub fn lib() {}");
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, content).expect("write");
    }

    fn pipeline(&self, ttl: Option<Duration>) -> Pipeline {
        PipelineBuilder::new("p")
            .root(self.root())
            .movement(
                "build",
                true,
                vec![
                    app(ttl),
                    beat("lib")
                        .run("make lib")
                        .inputs(&["src/lib.rs"])
                        .outputs(&["dist/lib.out"])
                        .cached(ttl)
                        .retry(2, Duration::from_millis(1), &[]),
                    // Outputs but no inputs: never cached, artifacts still listed.
                    beat("plain").run("make plain").outputs(&["dist/plain.out"]),
                ],
            )
            .build()
    }

    fn run(&self, pipeline: &Pipeline, fake: &Fake, mode: CacheMode) -> Ran {
        self.run_with(pipeline, fake, |opts| opts.cache_mode = mode)
    }

    /// A run with the cache, its options set by `set`.
    fn run_with(&self, pipeline: &Pipeline, fake: &Fake, set: impl FnOnce(&mut RunOptions)) -> Ran {
        let plan = plan(pipeline, &Selection::default()).expect("plans");
        // A label of its own: the runs of a test share one log directory.
        let label = format!("build-{}", uuid::Uuid::now_v7());
        let mut opts = RunOptions::new(run_record(&label), self.root().join(".baton/logs"));
        opts.cache = Some(Arc::clone(&self.cache));
        set(&mut opts);
        let (outcome, events) = run_collecting(pipeline, &plan, &opts, fake, &CancelToken::new());
        Ran { outcome, events }
    }
}

struct Ran {
    outcome: RunOutcome,
    events: Vec<RunEvent>,
}

impl Ran {
    fn index(&self, beat: &str) -> usize {
        self.outcome
            .records
            .iter()
            .position(|r| r.beat == beat)
            .expect("beat has a record")
    }

    fn record(&self, beat: &str) -> &baton_model::BeatRecord {
        &self.outcome.records[self.index(beat)]
    }

    fn details(&self, beat: &str) -> &baton_model::BeatDetails {
        &self.outcome.details[self.index(beat)]
    }

    fn states(&self) -> Vec<(&str, CacheState)> {
        self.outcome
            .records
            .iter()
            .map(|r| (r.beat.as_str(), r.cache_state))
            .collect()
    }

    fn lines(&self, beat: &str) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::OutputLine { beat: b, line, .. } if b == beat => Some(line.as_str()),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<&str> {
        common::warnings(&self.events)
    }

    fn log(&self, beat: &str) -> String {
        let path = self.record(beat).log_path.clone().expect("a log");
        fs::read_to_string(PathBuf::from(path)).expect("log readable")
    }
}

#[test]
fn a_miss_runs_and_stores_then_a_hit_restores_and_replays() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    let fake = Fake::default();
    let first = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(first.outcome.status(), RunStatus::Success);
    assert_eq!(
        first.states(),
        [
            ("app", CacheState::Miss),
            ("lib", CacheState::Miss),
            ("plain", CacheState::Skip)
        ]
    );
    let app_key = first.details("app").cache_key.clone().expect("a key");
    assert_eq!(app_key.len(), 64);
    assert_eq!(first.details("plain").cache_key, None);
    assert_eq!(
        first.details("app").cache_miss_reason,
        None,
        "no earlier entry"
    );
    assert_eq!(first.details("app").artifacts.len(), 1);
    assert_eq!(first.details("app").artifacts[0].path, "dist/app.out");
    assert_eq!(first.record("app").artifacts_count, 1);
    assert_eq!(first.record("app").artifacts_bytes, 12);
    assert_eq!(
        first.details("plain").artifacts.len(),
        1,
        "listed though not cached"
    );

    fs::remove_dir_all(p.root().join("dist")).expect("rm outputs");
    let fake = Fake::default();
    let second = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(fake.calls(), ["make plain"], "only the uncached beat ran");
    assert_eq!(second.outcome.status(), RunStatus::Success);
    let app = second.record("app");
    assert_eq!(app.cache_state, CacheState::Hit);
    assert_eq!(app.status, BeatStatus::Success);
    assert_eq!(app.exit_code, Some(0));
    assert_eq!(app.attempts, 1);
    assert_eq!((app.cpu_user_ms, app.peak_rss_bytes), (0, 0));
    assert_eq!(app.artifacts_count, 1);
    assert_eq!(
        second.details("app").cache_key.as_deref(),
        Some(app_key.as_str())
    );
    assert_eq!(
        second.details("app").artifacts,
        first.details("app").artifacts
    );
    assert_eq!(
        fs::read_to_string(p.root().join("dist/app.out")).expect("restored"),
        "fn main() {}"
    );
    assert_eq!(
        second.lines("app"),
        ["building app"],
        "log replayed as output"
    );
    let log = second.log("app");
    assert!(log.contains("building app\n"), "{log}");
    assert!(log.contains("[baton] restored from the cache"), "{log}");
    assert!(second.warnings().is_empty(), "{:?}", second.warnings());

    // The manifest for artifacts.json.
    let manifest = second.outcome.artifact_manifest();
    let beats: Vec<&str> = manifest.beats.iter().map(|b| b.beat.as_str()).collect();
    assert_eq!(beats, ["app", "lib", "plain"]);
    assert_eq!(manifest.count(), 3);
}

#[test]
fn a_hit_is_told_before_its_replay_names_the_run_that_stored_it_and_keeps_stderr() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    let fake = Fake {
        stderr: true,
        ..Fake::default()
    };
    let first = p.run(&pipeline, &fake, CacheMode::Normal);
    let app_key = first.details("app").cache_key.clone().expect("a key");
    let app = first.record("app");
    assert_eq!(app.input_identity, Some(format!("inputs:{app_key}")));
    assert!(!app.restored);
    assert_eq!(app.restored_from, None);
    assert!(
        !first
            .events
            .iter()
            .any(|e| matches!(e, RunEvent::BeatRestored { .. })),
        "nothing restored in the first run"
    );

    let second = p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    let app = second.record("app");
    assert!(app.restored);
    assert_eq!(
        app.restored_from.as_deref(),
        Some(first.outcome.run.label.as_str())
    );
    assert_eq!(app.input_identity, Some(format!("inputs:{app_key}")));
    let told: Vec<String> = second
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BeatRestored {
                beat,
                from_label,
                from_run_id,
            } if beat == "app" => Some(format!(
                "restored from {} ({})",
                from_label.as_deref().unwrap_or("?"),
                from_run_id.as_deref().unwrap_or("?")
            )),
            RunEvent::OutputLine {
                beat, stream, line, ..
            } if beat == "app" => Some(format!("{stream:?} {line}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        told,
        [
            format!(
                "restored from {} ({})",
                first.outcome.run.label, first.outcome.run.run_id
            ),
            "Stdout building app".to_owned(),
            "Stderr warned app".to_owned(),
        ],
        "told first, then the replay on the streams it was written to"
    );
    // Not restored: executed, with no run to name.
    let plain = second.record("plain");
    assert!(!plain.restored);
    assert_eq!(plain.restored_from, None);
}

#[test]
fn a_beat_with_inputs_that_is_not_cached_is_identified_by_its_key_and_others_by_the_commit() {
    let p = Project::new();
    let pipeline = PipelineBuilder::new("p")
        .root(p.root())
        .movement(
            "build",
            false,
            vec![
                beat("uncached").run("make lib").inputs(&["src/lib.rs"]),
                beat("plain").run("make plain"),
            ],
        )
        .build();
    let fake = Fake::default();
    let clean = |commit: Option<&str>| {
        let commit = baton_runner::CleanCommit::known(commit.map(str::to_owned));
        move |opts: &mut RunOptions| opts.clean_commit = commit
    };
    let first = p.run_with(&pipeline, &fake, clean(Some("0123abcd")));
    let uncached = first.record("uncached");
    assert_eq!(uncached.cache_state, CacheState::Skip);
    assert_eq!(first.details("uncached").cache_key, None, "not cached");
    let identity = uncached.input_identity.clone().expect("an identity");
    let key = identity.strip_prefix("inputs:").expect("its inputs' key");
    assert_eq!(key.len(), 64, "{identity}");
    assert_eq!(
        first.record("plain").input_identity.as_deref(),
        Some("commit:0123abcd")
    );
    assert_eq!(
        fs::read_dir(p.root().join(".baton/cache/entries"))
            .expect("entries")
            .count(),
        0,
        "nothing stored"
    );

    // Same inputs, same identity; a dirty tree gives the others none.
    let again = p.run_with(&pipeline, &fake, clean(None));
    assert_eq!(
        again.record("uncached").input_identity.as_deref(),
        Some(identity.as_str())
    );
    assert_eq!(again.record("plain").input_identity, None);
    p.write("src/lib.rs", "pub fn lib() { changed() }");
    let changed = p.run_with(&pipeline, &fake, clean(None));
    let now = changed.record("uncached").input_identity.clone();
    assert!(
        now.as_deref()
            .is_some_and(|id| id.starts_with("inputs:") && id != identity)
    );
}

#[test]
fn a_changed_input_misses_with_its_reason_and_the_key_is_explainable() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    let first = p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    p.write("src/app.rs", "fn main() { changed() }");
    let fake = Fake::default();
    let second = p.run(&pipeline, &fake, CacheMode::Normal);
    // The two beats may run at the same time: compare without their order.
    let mut calls = fake.calls();
    calls.sort();
    assert_eq!(calls, ["make app", "make plain"]);
    assert_eq!(second.record("app").cache_state, CacheState::Miss);
    assert_eq!(second.record("lib").cache_state, CacheState::Hit);
    assert_eq!(
        second.details("app").cache_miss_reason.as_deref(),
        Some("1 input file changed (src/app.rs)")
    );
    assert_eq!(
        second.outcome.cache_miss_reasons(),
        [("app", "1 input file changed (src/app.rs)")]
    );
    assert!(
        second
            .log("app")
            .contains("[baton] cache miss: 1 input file changed")
    );

    // `baton cache explain app --run A --vs B`.
    let explanation = p
        .cache
        .explain_runs(
            "app",
            &first.outcome.run.run_id.to_string(),
            &second.outcome.run.run_id.to_string(),
        )
        .expect("explains");
    assert_eq!(explanation.inputs.changed, ["src/app.rs"]);
    // `baton cache explain app`: the current key is the newest entry's.
    let (_, spec) = pipeline.beat("app").expect("beat");
    let shell = baton_runner::Shell::detect();
    let now = p
        .cache
        .explain_current(&baton_runner::cache_key_spec(&pipeline, spec, &shell))
        .expect("explains");
    assert!(now.would_hit);
}

#[test]
fn cache_only_fails_what_would_run_and_passes_what_hits() {
    let p = Project::new();
    let pipeline = PipelineBuilder::new("p")
        .root(p.root())
        .movement("build", true, vec![app(None)])
        .build();
    let fake = Fake::default();
    let refused = p.run(&pipeline, &fake, CacheMode::CacheOnly);
    assert!(fake.calls().is_empty(), "nothing ran");
    assert_eq!(refused.outcome.status(), RunStatus::Failure);
    let app = refused.record("app");
    assert_eq!(app.status, BeatStatus::Failure);
    assert_eq!(app.reason.as_deref(), Some("not in cache (--cache-only)"));
    assert_eq!(app.cache_state, CacheState::Miss);

    p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    let fake = Fake::default();
    let cached = p.run(&pipeline, &fake, CacheMode::CacheOnly);
    assert!(fake.calls().is_empty());
    assert_eq!(cached.outcome.status(), RunStatus::Success);
    assert_eq!(cached.record("app").cache_state, CacheState::Hit);

    // A beat the cache skips would have to run: it fails too.
    let uncached = PipelineBuilder::new("p")
        .root(p.root())
        .movement("m", false, vec![beat("plain").run("make plain")])
        .build();
    let fake = Fake::default();
    let refused = p.run(&uncached, &fake, CacheMode::CacheOnly);
    assert!(fake.calls().is_empty());
    let plain = refused.record("plain");
    assert_eq!(plain.status, BeatStatus::Failure);
    assert!(
        plain
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("not cacheable")),
        "{:?}",
        plain.reason
    );
}

#[test]
fn no_cache_forces_a_run_and_stores_again() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    let fake = Fake::default();
    let forced = p.run(&pipeline, &fake, CacheMode::NoCache);
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(forced.record("app").cache_state, CacheState::Miss);
    assert_eq!(forced.details("app").cache_miss_reason, None);
    let fake = Fake::default();
    let after = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(after.record("app").cache_state, CacheState::Hit);
    assert_eq!(
        p.cache.ls().expect("ls").len(),
        2,
        "replaced, not duplicated"
    );
}

#[test]
fn expired_entries_run_and_are_replaced() {
    let p = Project::new();
    let pipeline = p.pipeline(Some(Duration::from_millis(1)));
    p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    std::thread::sleep(Duration::from_millis(5));
    let fake = Fake::default();
    let second = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(second.record("app").cache_state, CacheState::Expired);
    let long = p.pipeline(Some(Duration::from_secs(3600)));
    let third = p.run(&long, &Fake::default(), CacheMode::Normal);
    assert_eq!(third.record("app").cache_state, CacheState::Hit);
}

#[test]
fn failures_are_not_stored_and_retried_successes_are() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    let fake = Fake {
        fail_first: vec!["make app", "make lib"],
        ..Fake::default()
    };
    let first = p.run(&pipeline, &fake, CacheMode::Normal);
    // app has no retries: it failed; lib succeeded on its second attempt.
    assert_eq!(first.record("app").status, BeatStatus::Failure);
    assert_eq!(first.record("lib").status, BeatStatus::Success);
    assert_eq!(first.record("lib").attempts, 2);
    let fake = Fake::default();
    let second = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(second.record("app").cache_state, CacheState::Miss);
    assert_eq!(second.record("lib").cache_state, CacheState::Hit);
    assert!(fake.calls().contains(&"make app".to_owned()));
    assert!(!fake.calls().contains(&"make lib".to_owned()));
}

#[test]
fn a_corrupted_entry_warns_runs_the_beat_and_is_stored_afresh() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    let first = p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    let key = first.details("app").cache_key.clone().expect("a key");
    // The entry keeps its outputs as one zstd stream: cut it short.
    let stored = p
        .root()
        .join(".baton/cache/entries")
        .join(&key)
        .join("files.zst");
    let bytes = fs::read(&stored).expect("read the stream");
    fs::write(&stored, &bytes[..bytes.len() / 2]).expect("truncate");
    fs::remove_file(p.root().join("dist/app.out")).expect("rm output");

    let fake = Fake::default();
    let second = p.run(&pipeline, &fake, CacheMode::Normal);
    assert!(fake.calls().contains(&"make app".to_owned()), "it ran");
    assert_eq!(second.outcome.status(), RunStatus::Success);
    assert_eq!(second.record("app").cache_state, CacheState::Miss);
    assert_eq!(
        second.details("app").cache_miss_reason.as_deref(),
        Some("its cache entry was corrupt")
    );
    assert!(
        second
            .warnings()
            .iter()
            .any(|w| w.starts_with("beat 'app': failed to restore it from the cache")),
        "{:?}",
        second.warnings()
    );
    let third = p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    assert_eq!(third.record("app").cache_state, CacheState::Hit);
}

#[test]
fn an_unusable_cache_directory_only_warns() {
    let p = Project::new();
    let pipeline = p.pipeline(None);
    p.run(&pipeline, &Fake::default(), CacheMode::Normal);
    // Entries can no longer be stored or read: a file where the directory was.
    let entries = p.root().join(".baton/cache/entries");
    fs::remove_dir_all(&entries).expect("rm");
    fs::write(&entries, "not a directory").expect("write");
    p.write("src/app.rs", "changed");
    let fake = Fake::default();
    let ran = p.run(&pipeline, &fake, CacheMode::Normal);
    assert_eq!(ran.outcome.status(), RunStatus::Success);
    assert_eq!(fake.calls().len(), 3);
    assert!(
        ran.warnings()
            .iter()
            .any(|w| w.contains("failed to store it in the cache")),
        "{:?}",
        ran.warnings()
    );
}
