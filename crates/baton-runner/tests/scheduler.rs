//! The scheduler against a fake spawner: ordering, the -j bound, retries and their
//! `on:` filters, allow_failure, rollback order, skipping after a failure,
//! cancellation and the `$BATON_OUTPUT` channel. No real process runs here.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use baton_model::{
    BeatStatus, CacheState, Level, OutputStream, Pipeline, RetryOn, RunEvent, RunStatus,
};
use baton_runner::testing::{PipelineBuilder, beat, run_record};
use baton_runner::{
    BeatOutput, CancelToken, RunOptions, RunOutcome, Selection, SpawnRequest, SpawnResult, Spawner,
    plan,
};

use common::run_collecting;

/// What one attempt of a fake command does.
#[derive(Debug, Clone, Default)]
struct Outcome {
    exit: i32,
    timed_out: bool,
    lines: Vec<&'static str>,
    /// Written to `$BATON_OUTPUT`.
    report: &'static str,
    /// Cancels the run while "running" (a Ctrl-C arriving).
    cancel: bool,
}

fn exit(code: i32) -> Outcome {
    Outcome {
        exit: code,
        ..Outcome::default()
    }
}

#[derive(Default)]
struct Fake {
    /// Command -> outcome of attempt 1, 2, ... (the last one repeats). Unknown: exit 0.
    script: HashMap<String, Vec<Outcome>>,
    /// "start X" / "end X" in the order they happened.
    log: Mutex<Vec<String>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Each attempt waits (up to 2 s) until this many ran at once, so that
    /// concurrency shows without relying on timing.
    wait_for_concurrency: usize,
    /// The commands that wait so (empty: all).
    waiting: Vec<&'static str>,
    /// How long each attempt "runs".
    hold: Duration,
    /// Environment of each attempt, by command.
    envs: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl Fake {
    fn with(mut self, command: &str, outcomes: Vec<Outcome>) -> Self {
        self.script.insert(command.to_owned(), outcomes);
        self
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("not poisoned").clone()
    }

    fn starts(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter_map(|l| l.strip_prefix("start ").map(str::to_owned))
            .collect()
    }
}

impl Spawner for Fake {
    fn run(
        &self,
        req: &SpawnRequest<'_>,
        output: &BeatOutput,
        cancel: &CancelToken,
    ) -> SpawnResult {
        assert!(req.command != "panic", "the fake spawner was told to panic");
        if let Some(started) = req.on_started {
            started();
        }
        let attempt = {
            let mut log = self.log.lock().expect("not poisoned");
            log.push(format!("start {}", req.command));
            log.iter()
                .filter(|l| **l == format!("start {}", req.command))
                .count()
        };
        self.envs
            .lock()
            .expect("not poisoned")
            .insert(req.command.to_owned(), req.env.to_vec());
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let outcome = self
            .script
            .get(req.command)
            .and_then(|v| v.get(attempt - 1).or(v.last()))
            .cloned()
            .unwrap_or_default();

        let mut stdout = output.stream(OutputStream::Stdout);
        for line in &outcome.lines {
            stdout.write(line.as_bytes());
            stdout.write(b"\n");
        }
        stdout.finish();
        if let Some((_, path)) = req.env.iter().find(|(k, _)| k == "BATON_OUTPUT") {
            std::fs::write(path, outcome.report).expect("BATON_OUTPUT is writable");
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let waits = self.waiting.is_empty() || self.waiting.contains(&req.command);
        while waits
            && self.max_running.load(Ordering::SeqCst) < self.wait_for_concurrency
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(self.hold);
        if outcome.cancel {
            cancel.cancel();
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.log
            .lock()
            .expect("not poisoned")
            .push(format!("end {}", req.command));
        SpawnResult {
            exit_code: (!outcome.timed_out && !outcome.cancel).then_some(outcome.exit),
            signal: outcome.timed_out.then_some(libc_sigkill()),
            timed_out: outcome.timed_out,
            cancelled: outcome.cancel,
            duration: Duration::from_millis(3),
            cpu_user: Duration::from_millis(2),
            cpu_sys: Duration::from_millis(1),
            peak_rss_bytes: 1_000_000,
            ..SpawnResult::default()
        }
    }
}

fn libc_sigkill() -> i32 {
    9
}

struct Ran {
    outcome: RunOutcome,
    events: Vec<RunEvent>,
    _logs: tempfile::TempDir,
}

impl Ran {
    fn record(&self, beat: &str) -> &baton_model::BeatRecord {
        self.outcome
            .records
            .iter()
            .find(|r| r.beat == beat)
            .expect("beat has a record")
    }

    fn warnings(&self) -> Vec<&str> {
        common::warnings(&self.events)
    }

    fn rollbacks(&self) -> Vec<(&str, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::RollbackFinished { record } => {
                    let rollback = record.rollback.as_ref().expect("a rollback's record");
                    Some((record.beat.as_str(), rollback.status == BeatStatus::Success))
                }
                _ => None,
            })
            .collect()
    }
}

fn run_with(
    pipeline: &Pipeline,
    sel: &Selection,
    fake: &Fake,
    jobs: usize,
    cancel: &CancelToken,
) -> Ran {
    let logs = tempfile::tempdir().expect("tempdir");
    let plan = plan(pipeline, sel).expect("plans");
    let mut opts = RunOptions::new(run_record("build-20260101-000000"), logs.path());
    opts.jobs = jobs;
    let (outcome, events) = run_collecting(pipeline, &plan, &opts, fake, cancel);
    Ran {
        outcome,
        events,
        _logs: logs,
    }
}

/// The plan of all of `pipeline` and run options logging into a temporary folder
/// (kept while the returned guard lives).
fn planned(pipeline: &Pipeline) -> (tempfile::TempDir, baton_runner::Plan, RunOptions) {
    let logs = tempfile::tempdir().expect("tempdir");
    let plan = plan(pipeline, &Selection::default()).expect("plans");
    let opts = RunOptions::new(run_record("build-20260101-000000"), logs.path());
    (logs, plan, opts)
}

fn run(pipeline: &Pipeline, fake: &Fake) -> Ran {
    run_with(
        pipeline,
        &Selection::default(),
        fake,
        4,
        &CancelToken::new(),
    )
}

#[test]
fn beats_follow_listed_order_and_the_barrier() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "one",
            false,
            vec![beat("a").run("a"), beat("b").run("b"), beat("c").run("c")],
        )
        .movement("two", true, vec![beat("d").run("d"), beat("e").run("e")])
        .movement("three", false, vec![beat("f").run("f")])
        .build();
    let fake = Fake {
        wait_for_concurrency: 2,
        waiting: vec!["d", "e"],
        ..Fake::default()
    }
    .with(
        "a",
        vec![Outcome {
            lines: vec!["a says hi"],
            ..Outcome::default()
        }],
    );
    let ran = run(&pipeline, &fake);
    let log = fake.log();
    assert_eq!(
        &log[..6],
        ["start a", "end a", "start b", "end b", "start c", "end c"]
    );
    let mut middle = log[6..10].to_vec();
    middle.sort();
    assert_eq!(middle, ["end d", "end e", "start d", "start e"]);
    assert!(
        log[6].starts_with("start") && log[7].starts_with("start"),
        "d and e ran together: {log:?}"
    );
    assert_eq!(&log[10..], ["start f", "end f"]);

    assert_eq!(ran.outcome.status(), RunStatus::Success);
    let names: Vec<&str> = ran
        .outcome
        .records
        .iter()
        .map(|r| r.beat.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d", "e", "f"]);
    assert!(
        matches!(ran.events.first(), Some(RunEvent::RunStarted { planned_beats, .. }) if planned_beats.len() == 6)
    );
    assert!(
        matches!(ran.events.last(), Some(RunEvent::RunFinished { run }) if run.status == RunStatus::Success && run.finished_at.is_some())
    );
    let finished = ran
        .events
        .iter()
        .filter(|e| matches!(e, RunEvent::BeatFinished { .. }))
        .count();
    assert_eq!(finished, 6);
    let record = ran.record("a");
    assert_eq!(
        (record.attempts, record.cpu_user_ms, record.cpu_sys_ms),
        (1, 2, 1)
    );
    assert_eq!(record.peak_rss_bytes, 1_000_000);
    assert!(
        record
            .log_path
            .as_deref()
            .is_some_and(|p| p.ends_with("build-20260101-000000/one/a.log"))
    );
    assert_eq!(ran.record("b").log_path, None, "b wrote nothing: no log");
}

#[test]
fn at_most_jobs_beats_run_at_once() {
    let beats = (0..8)
        .map(|i| beat(&format!("b{i}")).run(&format!("b{i}")))
        .collect();
    let pipeline = PipelineBuilder::new("p")
        .movement("wide", true, beats)
        .build();
    let fake = Fake {
        wait_for_concurrency: 3,
        ..Fake::default()
    };
    let ran = run_with(
        &pipeline,
        &Selection::default(),
        &fake,
        3,
        &CancelToken::new(),
    );
    assert_eq!(ran.outcome.status(), RunStatus::Success);
    assert_eq!(fake.max_running.load(Ordering::SeqCst), 3);

    let fake = Fake {
        hold: Duration::from_millis(5),
        ..Fake::default()
    };
    run_with(
        &pipeline,
        &Selection::default(),
        &fake,
        1,
        &CancelToken::new(),
    );
    assert_eq!(
        fake.max_running.load(Ordering::SeqCst),
        1,
        "-j 1 runs one beat at a time"
    );
}

#[test]
fn retries_follow_their_on_filters() {
    let ms = Duration::from_millis(1);
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            true,
            vec![
                beat("flaky").run("flaky").retry(3, ms, &[]),
                beat("wrong-code")
                    .run("wrong-code")
                    .retry(3, ms, &[RetryOn::Exit(137)])
                    .allow_failure(),
                beat("right-code")
                    .run("right-code")
                    .retry(3, ms, &[RetryOn::Exit(137)]),
                beat("slow")
                    .run("slow")
                    .retry(2, ms, &[RetryOn::Timeout])
                    .allow_failure(),
                beat("always")
                    .run("always")
                    .retry(2, ms, &[RetryOn::Any])
                    .allow_failure(),
            ],
        )
        .build();
    let fake = Fake::default()
        .with("flaky", vec![exit(1), exit(1), exit(0)])
        .with("wrong-code", vec![exit(1), exit(0)])
        .with("right-code", vec![exit(137), exit(0)])
        .with(
            "slow",
            vec![Outcome {
                timed_out: true,
                ..Outcome::default()
            }],
        )
        .with("always", vec![exit(2)]);
    let ran = run(&pipeline, &fake);
    let flaky = ran.record("flaky");
    assert_eq!((flaky.status, flaky.attempts), (BeatStatus::Success, 3));
    let wrong = ran.record("wrong-code");
    assert_eq!(
        (wrong.status, wrong.attempts, wrong.exit_code),
        (BeatStatus::Failure, 1, Some(1))
    );
    assert_eq!(ran.record("right-code").attempts, 2);
    let slow = ran.record("slow");
    assert_eq!((slow.status, slow.attempts), (BeatStatus::Timeout, 2));
    assert!(
        slow.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("timed out")),
        "{:?}",
        slow.reason
    );
    assert_eq!(ran.record("always").attempts, 2);
    let started: Vec<u32> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BeatStarted { beat, attempt, .. } if beat == "flaky" => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(started, [1, 2, 3]);
    assert_eq!(
        ran.outcome.status(),
        RunStatus::Success,
        "every failure was allowed"
    );
}

#[test]
fn allowed_failures_do_not_fail_the_run() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![
                beat("lint").run("lint").allow_failure(),
                beat("build").run("build"),
            ],
        )
        .movement("n", false, vec![beat("test").run("test")])
        .build();
    let fake = Fake::default().with("lint", vec![exit(3)]);
    let ran = run(&pipeline, &fake);
    assert_eq!(ran.outcome.status(), RunStatus::Success);
    let lint = ran.record("lint");
    assert_eq!(
        (lint.status, lint.exit_code, lint.errors_count),
        (BeatStatus::Failure, Some(3), 1)
    );
    assert_eq!(lint.reason.as_deref(), Some("allowed to fail"));
    assert_eq!(fake.starts(), ["lint", "build", "test"]);
}

#[test]
fn a_failure_rolls_back_the_movement_in_reverse_and_skips_the_rest() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "prepare",
            false,
            vec![beat("setup").run("setup").rollback("undo-setup")],
        )
        .movement(
            "deploy",
            false,
            vec![
                beat("db").run("db").rollback("undo-db"),
                beat("no-undo").run("no-undo"),
                beat("app").run("app").rollback("undo-app"),
                beat("smoke").run("smoke").rollback("undo-smoke"),
                beat("notify").run("notify"),
            ],
        )
        .movement("after", false, vec![beat("report").run("report")])
        .build();
    let fake = Fake::default()
        .with("smoke", vec![exit(1)])
        .with("undo-db", vec![exit(1)]);
    let ran = run(&pipeline, &fake);
    assert_eq!(ran.outcome.status(), RunStatus::Failure);
    assert_eq!(
        fake.starts(),
        [
            "setup", "db", "no-undo", "app", "smoke", "undo-app", "undo-db"
        ],
        "only the failed movement's completed beats are rolled back, newest first"
    );
    assert_eq!(ran.rollbacks(), [("app", true), ("db", false)]);
    for skipped in ["notify", "report"] {
        let r = ran.record(skipped);
        assert_eq!(r.status, BeatStatus::Skipped);
        assert_eq!(r.reason.as_deref(), Some("an earlier beat failed"));
        assert_eq!((r.duration_ms, r.attempts), (0, 0));
    }
    assert_eq!(ran.outcome.records.len(), 7);
    // Events: rollbacks come before the skipped records, the run's end is last.
    let position =
        |pred: &dyn Fn(&RunEvent) -> bool| ran.events.iter().position(pred).expect("event");
    let rollback = position(&|e| matches!(e, RunEvent::RollbackFinished { .. }));
    let skip = position(
        &|e| matches!(e, RunEvent::BeatFinished { record } if record.status == BeatStatus::Skipped),
    );
    assert!(rollback < skip);
}

#[test]
fn plan_skipped_beats_get_no_record() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![beat("a").run("a"), beat("b").run("b").level(Level::Ff)],
        )
        .build();
    let ran = run(&pipeline, &Fake::default());
    let names: Vec<&str> = ran
        .outcome
        .records
        .iter()
        .map(|r| r.beat.as_str())
        .collect();
    assert_eq!(names, ["a"]);
}

#[test]
fn cancellation_stops_new_beats_and_marks_the_run_cancelled() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![beat("a").run("a"), beat("b").run("b"), beat("c").run("c")],
        )
        .build();
    let fake = Fake::default().with(
        "b",
        vec![Outcome {
            cancel: true,
            ..Outcome::default()
        }],
    );
    let cancel = CancelToken::new();
    let ran = run_with(&pipeline, &Selection::default(), &fake, 2, &cancel);
    assert_eq!(ran.outcome.status(), RunStatus::Cancelled);
    assert_eq!(fake.starts(), ["a", "b"]);
    assert_eq!(ran.record("a").status, BeatStatus::Success);
    assert_eq!(ran.record("b").status, BeatStatus::Cancelled);
    let c = ran.record("c");
    assert_eq!(
        (c.status, c.reason.as_deref()),
        (BeatStatus::Skipped, Some("the run was cancelled"))
    );
    assert!(ran.rollbacks().is_empty());
}

#[test]
fn baton_output_is_parsed_and_malformed_lines_warn_once_each() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![beat("gen").run("gen"), beat("quiet").run("quiet")],
        )
        .build();
    let report = "cache=hit\nerrors=2\nartifacts=5\nmetric.tokens_in=1200\ncost_usd=0.04\nthis is not a pair\nerrors=lots\n";
    let fake = Fake::default().with(
        "gen",
        vec![Outcome {
            report,
            lines: vec!["hello", "world"],
            ..Outcome::default()
        }],
    );
    let ran = run(&pipeline, &fake);
    let gen_ = ran.record("gen");
    assert_eq!(
        gen_.status,
        BeatStatus::Success,
        "a malformed line never fails the beat"
    );
    assert_eq!(
        (gen_.cache_state, gen_.errors_count, gen_.artifacts_count),
        (CacheState::Hit, 2, 5)
    );
    assert_eq!(gen_.metrics.get("tokens_in"), Some(&1200.0));
    assert_eq!(gen_.cost_usd, Some(0.04));
    let warnings = ran.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("beat 'gen'") && warnings[0].contains("'this is not a pair'"),
        "{warnings:?}"
    );
    assert!(warnings[1].contains("'errors=lots'"), "{warnings:?}");
    let lines: Vec<&str> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::OutputLine { beat, line, .. } if beat == "gen" => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(lines, ["hello", "world"]);
    let quiet = ran.record("quiet");
    assert_eq!(
        (quiet.cache_state, quiet.errors_count),
        (CacheState::Skip, 0)
    );
}

#[test]
fn beats_get_the_baton_environment() {
    let pipeline = PipelineBuilder::new("p")
        .movement("m", false, vec![beat("a").run("a").env("MODE", "release")])
        .build();
    let fake = Fake::default();
    let ran = run(&pipeline, &fake);
    let envs = fake.envs.lock().expect("not poisoned");
    let env: HashMap<&str, &str> = envs["a"]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env["MODE"], "release");
    assert_eq!(env["BATON_BEAT"], "a");
    assert_eq!(env["BATON_RUN_ID"], ran.outcome.run.run_id.to_string());
    assert!(env.contains_key("BATON_OUTPUT"));
    let tp: Vec<&str> = env["TRACEPARENT"].split('-').collect();
    assert_eq!(tp.len(), 4);
    assert_eq!((tp[0], tp[3]), ("00", "01"));
    assert_eq!(tp[1], ran.outcome.run.run_id.simple().to_string());
    assert_eq!(
        tp[2],
        baton_runner::trace::beat_span_id(&ran.outcome.run.run_id, "a", 1)
    );
}

#[test]
fn only_runs_what_is_needed() {
    let pipeline = PipelineBuilder::new("p")
        .movement("one", true, vec![beat("a").run("a"), beat("b").run("b")])
        .movement("two", false, vec![beat("c").run("c").needs(&["b"])])
        .build();
    let fake = Fake::default();
    let sel = Selection {
        only: vec!["c".into()],
        ..Selection::default()
    };
    let ran = run_with(&pipeline, &sel, &fake, 2, &CancelToken::new());
    assert_eq!(fake.starts(), ["b", "c"]);
    assert_eq!(ran.outcome.records.len(), 2);
}

#[test]
fn a_panicking_spawner_fails_its_beat_not_the_run_loop() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![
                beat("ok").run("ok"),
                beat("bad").run("panic"),
                beat("after").run("after"),
            ],
        )
        .build();
    let ran = run(&pipeline, &Fake::default());
    assert_eq!(ran.outcome.status(), RunStatus::Failure);
    let bad = ran.record("bad");
    assert_eq!(bad.status, BeatStatus::Failure);
    assert!(
        bad.reason
            .as_deref()
            .is_some_and(|r| r.contains("told to panic")),
        "{:?}",
        bad.reason
    );
    assert_eq!(ran.record("after").status, BeatStatus::Skipped);
    // Each beat is told finished before the next is told started, the panic too.
    let told: Vec<String> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BeatStarted { beat, .. } => Some(format!("start {beat}")),
            RunEvent::BeatFinished { record } => Some(format!("end {}", record.beat)),
            _ => None,
        })
        .collect();
    assert_eq!(
        told,
        ["start ok", "end ok", "start bad", "end bad", "end after"]
    );
}

#[test]
fn a_panicking_consumer_stops_the_run_from_starting_more_beats() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![beat("a").run("a"), beat("b").run("b"), beat("c").run("c")],
        )
        .build();
    let fake = Fake {
        hold: Duration::from_millis(200),
        ..Fake::default()
    };
    let (_logs, plan, opts) = planned(&pipeline);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        baton_runner::run_plan(
            &pipeline,
            &plan,
            &opts,
            &fake,
            &baton_runner::HistoryHints::default(),
            &mut |event| {
                if matches!(event, RunEvent::BeatFinished { .. }) {
                    // Not panic!: the panic hook (a backtrace) could outlast the
                    // running beat's hold before the consumer's queue is dropped.
                    std::panic::resume_unwind(Box::new("a consumer failed"));
                }
            },
            &CancelToken::new(),
        )
    }));
    assert!(panicked.is_err(), "the consumer's panic reaches the caller");
    let starts = fake.starts();
    assert!(!starts.contains(&"c".to_owned()), "{starts:?}");
}

#[test]
fn beats_do_not_wait_for_the_history_and_their_records_are_judged_against_it() {
    let pipeline = PipelineBuilder::new("p")
        .movement(
            "m",
            false,
            vec![beat("a").run("a"), beat("b").run("b"), beat("c").run("c")],
        )
        .build();
    let fake = Fake::default();
    let (_logs, plan, opts) = planned(&pipeline);
    // The history store is slow to open: its hints arrive only once every beat
    // has started (or after 5 s, when the beats wait for them).
    let (hints, loader) = baton_runner::HistoryHints::loading();
    let mut earlier = HashMap::new();
    earlier.insert(
        "a".to_owned(),
        baton_model::BeatHistory {
            previous_shape: Some("0".repeat(64)),
            ..Default::default()
        },
    );
    let mut events = Vec::new();
    let (outcome, all_started_first) = thread::scope(|scope| {
        let fake = &fake;
        let loading = scope.spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(5);
            while fake.starts().len() < 3 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
            let all_started = fake.starts().len() == 3;
            loader.set(earlier);
            all_started
        });
        let outcome = baton_runner::run_plan(
            &pipeline,
            &plan,
            &opts,
            fake,
            &hints,
            &mut |e| events.push(e),
            &CancelToken::new(),
        );
        (outcome, loading.join().expect("loader"))
    });
    assert!(
        all_started_first,
        "the beats waited for the history: {:?}",
        fake.starts()
    );
    let told: Vec<&baton_model::BeatRecord> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BeatFinished { record } => Some(&**record),
            _ => None,
        })
        .collect();
    for records in [told, outcome.records.iter().collect()] {
        let a = records.iter().find(|r| r.beat == "a").expect("a");
        assert_eq!(
            a.shape.previous_hash.as_deref(),
            Some("0".repeat(64).as_str())
        );
        assert!(a.shape.evolved, "a is judged against its previous shape");
        let c = records.iter().find(|r| r.beat == "c").expect("c");
        assert_eq!(c.shape.previous_hash, None);
        assert!(!c.shape.evolved);
    }
}
