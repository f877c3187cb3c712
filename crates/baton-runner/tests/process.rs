//! Real processes through the real spawner and scheduler: measurement from the
//! operating system (peak RSS, wall time, CPU), timeouts, cleanup of background
//! processes, secret masking, command not found and the `$BATON_OUTPUT` channel.
//!
//! Bounds are generous sanity checks, not timings. Children that allocate or burn
//! CPU are this test binary itself, re-run with `BATON_RUNNER_TEST_CHILD` set (see
//! `child_helper`), so no other language is needed.

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baton_model::{BeatRecord, BeatStatus, RunEvent, RunStatus};
use baton_runner::testing::{BeatBuilder, PipelineBuilder, beat, run_record};
use baton_runner::{
    BeatOutput, CancelToken, ProcessSpawner, RunOptions, RunOutcome, Selection, Shell,
    SpawnRequest, Spawner, plan,
};

use common::run_collecting;

const MIB: u64 = 1024 * 1024;

/// Not a test: the child the measurement tests run (they ask for it with
/// `--ignored --exact`). Does nothing unless asked.
#[test]
#[ignore = "a child process of the measurement tests, run only by them"]
fn child_helper() {
    let Ok(task) = std::env::var("BATON_RUNNER_TEST_CHILD") else {
        return;
    };
    match task.split_once(':') {
        Some(("alloc", mib)) => {
            let mib: usize = mib.parse().expect("a number of MiB");
            let mut block = vec![0u8; mib * 1024 * 1024];
            for i in (0..block.len()).step_by(4096) {
                block[i] = 1;
            }
            std::hint::black_box(&block);
        }
        Some(("burn", ms)) => {
            let ms: u64 = ms.parse().expect("a number of ms");
            let mut x = 0u64;
            while cpu_time() < Duration::from_millis(ms) {
                for i in 0..100_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
            }
            std::hint::black_box(x);
        }
        _ => panic!("unknown child task {task}"),
    }
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: rusage is a plain C struct for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A shell command that runs this test binary as the child `task`.
fn child(task: &str) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    format!(
        "BATON_RUNNER_TEST_CHILD={task} '{}' --exact child_helper --ignored --test-threads=1 --quiet >/dev/null",
        exe.display()
    )
}

const LABEL: &str = "build-20260101-000000";

struct Ran {
    outcome: RunOutcome,
    events: Vec<RunEvent>,
    dir: tempfile::TempDir,
}

impl Ran {
    fn record(&self) -> &BeatRecord {
        &self.outcome.records[0]
    }

    fn lines(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::OutputLine { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<&str> {
        common::warnings(&self.events)
    }

    fn log(&self) -> Vec<u8> {
        let path = self.record().log_path.clone().expect("a log path");
        fs::read(path).expect("log file")
    }
}

/// Runs one beat for real in a fresh directory, with a short kill grace.
fn run_one(b: BeatBuilder) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = PipelineBuilder::new("p")
        .root(dir.path())
        .movement("m", false, vec![b])
        .build();
    let plan = plan(&pipeline, &Selection::default()).expect("plans");
    let mut opts = RunOptions::new(run_record(LABEL), dir.path().join(".baton/logs"));
    opts.kill_grace = Duration::from_millis(300);
    let (outcome, events) = run_collecting(
        &pipeline,
        &plan,
        &opts,
        &ProcessSpawner::default(),
        &CancelToken::new(),
    );
    Ran {
        outcome,
        events,
        dir,
    }
}

#[test]
fn peak_rss_of_a_200_mib_allocation_is_measured() {
    let ran = run_one(beat("alloc").run(&child("alloc:200")));
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Success, "{:?}", r.reason);
    assert!(
        (200 * MIB..=260 * MIB).contains(&r.peak_rss_bytes),
        "peak RSS {} MiB",
        r.peak_rss_bytes / MIB
    );
}

#[test]
fn sleeping_takes_wall_time_but_no_cpu() {
    let ran = run_one(beat("sleep").run("sleep 1"));
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Success);
    assert!(
        (900..=1500).contains(&r.duration_ms),
        "wall {} ms",
        r.duration_ms
    );
    assert!(
        r.cpu_user_ms + r.cpu_sys_ms < 100,
        "cpu {} + {} ms",
        r.cpu_user_ms,
        r.cpu_sys_ms
    );
    assert_eq!(r.duration_bucket, "1-5s");
}

#[test]
fn burning_cpu_is_measured_as_user_time() {
    let ran = run_one(beat("burn").run(&child("burn:1000")));
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Success, "{:?}", r.reason);
    assert!(
        r.cpu_user_ms >= 700,
        "user {} ms (sys {} ms)",
        r.cpu_user_ms,
        r.cpu_sys_ms
    );
}

#[test]
fn a_timeout_kills_a_beat_that_ignores_sigterm() {
    let ran = run_one(
        beat("stubborn")
            .run("trap '' TERM; sleep 30")
            .timeout(Duration::from_millis(300)),
    );
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Timeout);
    assert_eq!(
        r.signal,
        Some(libc::SIGKILL),
        "killed after the grace period"
    );
    assert!(r.duration_ms < 5_000, "took {} ms", r.duration_ms);
    assert!(
        r.reason
            .as_deref()
            .is_some_and(|s| s.starts_with("timed out after 300ms")),
        "{:?}",
        r.reason
    );
    assert_eq!(r.errors_count, 1);
    assert_eq!(ran.outcome.status(), RunStatus::Failure);
}

#[test]
fn a_background_grandchild_does_not_outlive_its_beat() {
    let ran = run_one(beat("forks").run("sleep 30 & echo $! > grandchild.pid; echo started"));
    assert_eq!(ran.record().status, BeatStatus::Success);
    let pid: libc::pid_t = fs::read_to_string(ran.dir.path().join("grandchild.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(gone(pid), "the background sleep {pid} is still running");
    assert!(
        ran.record().duration_ms < 5_000,
        "did not wait for the background sleep"
    );
}

/// No such process, or only a zombie waiting for init to reap it.
fn gone(pid: libc::pid_t) -> bool {
    for _ in 0..100 {
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        if !alive || zombie {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn secrets_are_masked_across_split_writes() {
    // PATH is always set: declare it a secret and print it in two writes.
    let path = std::env::var("PATH").expect("PATH is set");
    assert!(path.len() > 4);
    let ran = run_one(beat("leaky").secrets(&["PATH"]).run(
        r#"printf 'path=%s' "${PATH:0:4}"; sleep 0.1; printf '%s;\n' "${PATH:4}"; printf 'end'"#,
    ));
    assert_eq!(ran.record().status, BeatStatus::Success);
    assert_eq!(ran.lines(), ["path=***;", "end"]);
    assert_eq!(ran.log(), b"path=***;\nend");
}

#[test]
fn a_missing_command_is_exit_127_command_not_found() {
    let ran = run_one(beat("typo").run("baton-no-such-command-xyz --flag"));
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Failure);
    assert_eq!(r.exit_code, Some(127));
    assert_eq!(r.reason.as_deref(), Some("command not found"));
    assert!(
        ran.lines().iter().any(|l| l.contains("not found")),
        "the shell said so: {:?}",
        ran.lines()
    );
}

#[test]
fn a_plain_command_sees_what_the_shell_would_have_given_it() {
    // `printenv PWD` runs without the shell (see baton_runner::direct): it still
    // gets the beat's directory as PWD, its own path as `_`, and its words as
    // arguments.
    let ran = run_one(beat("plain").run("printenv PWD BATON_BEAT _"));
    assert_eq!(ran.record().status, BeatStatus::Success);
    let dir = std::path::absolute(ran.dir.path()).expect("absolute");
    let lines = ran.lines();
    assert_eq!(lines[..2], [dir.display().to_string(), "plain".to_owned()]);
    assert!(lines[2].ends_with("/printenv"), "{lines:?}");
}

#[test]
fn a_program_the_kernel_cannot_exec_falls_back_to_the_shell() {
    // An executable text file without `#!` cannot be exec'd (ENOEXEC); the shell
    // runs it as a script, as it would have without the direct start.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("no-shebang");
    fs::write(&script, "echo ran as a script\n").expect("write");
    let mut perms = fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&script, perms).expect("chmod");
    let ran = run_one(beat("legacy").run(&script.display().to_string()));
    assert_eq!(
        ran.record().status,
        BeatStatus::Success,
        "{:?}",
        ran.record().reason
    );
    assert_eq!(ran.lines(), ["ran as a script"]);
}

#[test]
fn baton_output_feeds_the_record_and_a_malformed_line_warns() {
    let ran = run_one(beat("reporter").run(
        r#"echo errors=4 >> "$BATON_OUTPUT"; echo 'metric.tokens=12' >> "$BATON_OUTPUT"; echo 'oops' >> "$BATON_OUTPUT"; echo "$BATON_BEAT $TRACEPARENT""#,
    ));
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Success);
    assert_eq!(r.errors_count, 4);
    assert_eq!(r.metrics.get("tokens"), Some(&12.0));
    let warnings = ran.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("'reporter'") && warnings[0].contains("'oops'"),
        "{warnings:?}"
    );
    let lines = ran.lines();
    assert!(lines[0].starts_with("reporter 00-"), "{lines:?}");
}

#[test]
fn a_beat_closing_stdout_early_is_fine_and_binary_output_is_logged_raw() {
    let ran = run_one(
        beat("closer").run(r#"printf 'a\377b\n'; exec 1>&-; sleep 0.2; echo still here >&2"#),
    );
    assert_eq!(ran.record().status, BeatStatus::Success);
    assert_eq!(ran.lines(), ["a\u{fffd}b", "still here"]);
    assert_eq!(ran.log(), b"a\xffb\nstill here\n");
}

#[test]
fn log_files_follow_the_layout() {
    let ran = run_one(beat("hello").run("echo hi"));
    let log = ran.record().log_path.clone().expect("log path");
    assert!(
        Path::new(&log).ends_with(".baton/logs/build-20260101-000000/m/hello.log"),
        "{log}"
    );
}

/// Runs one beat, cancelling once `ready` exists in its directory: graceful first,
/// then a kill `then_kill_after` later when given.
fn run_cancelled(b: BeatBuilder, then_kill_after: Option<Duration>) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = PipelineBuilder::new("p")
        .root(dir.path())
        .movement("m", false, vec![b, beat("never").run("echo never")])
        .build();
    let plan = plan(&pipeline, &Selection::default()).expect("plans");
    let opts = RunOptions::new(run_record(LABEL), dir.path().join(".baton/logs"));
    let cancel = CancelToken::new();
    let ready = dir.path().join("ready");
    let (outcome, events) = std::thread::scope(|s| {
        let token = cancel.clone();
        s.spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !ready.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            token.cancel();
            if let Some(after) = then_kill_after {
                std::thread::sleep(after);
                token.kill();
            }
        });
        run_collecting(&pipeline, &plan, &opts, &ProcessSpawner::default(), &cancel)
    });
    Ran {
        outcome,
        events,
        dir,
    }
}

#[test]
fn cancelling_interrupts_the_beat_and_leaves_no_process_behind() {
    let ran = run_cancelled(
        beat("long").run("sleep 30 & echo $! > grandchild.pid; touch ready; sleep 30"),
        None,
    );
    assert_eq!(ran.outcome.status(), RunStatus::Cancelled);
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Cancelled);
    assert_eq!(r.signal, Some(libc::SIGINT));
    assert!(r.duration_ms < 10_000, "took {} ms", r.duration_ms);
    let never = &ran.outcome.records[1];
    assert_eq!(
        (never.status, never.reason.as_deref()),
        (BeatStatus::Skipped, Some("the run was cancelled"))
    );
    let pid: libc::pid_t = fs::read_to_string(ran.dir.path().join("grandchild.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(gone(pid), "the grandchild {pid} outlived the cancelled run");
}

#[test]
fn a_second_cancel_kills_a_beat_that_ignores_sigint() {
    let ran = run_cancelled(
        beat("stubborn").run("trap '' INT; touch ready; sleep 30"),
        Some(Duration::from_millis(300)),
    );
    let r = ran.record();
    assert_eq!(r.status, BeatStatus::Cancelled);
    assert_eq!(r.signal, Some(libc::SIGKILL));
    assert!(
        r.reason.as_deref().is_some_and(|s| s.starts_with("killed")),
        "{:?}",
        r.reason
    );
    assert_eq!(ran.outcome.status(), RunStatus::Cancelled);
}

#[test]
fn a_missing_shell_or_directory_is_a_failed_beat_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spawner = ProcessSpawner::default();
    let output = BeatOutput::open("x", None, Default::default(), Arc::new(|_| {}));
    let shell = Shell::parse("/no/such/shell -c").expect("a shell");
    let request = SpawnRequest {
        beat: "x",
        command: "true",
        shell: &shell,
        cwd: dir.path(),
        env: &[],
        timeout: None,
        kill_grace: Duration::from_secs(1),
        on_started: None,
    };
    let result = spawner.run(&request, &output, &CancelToken::new());
    assert!(!result.success());
    let error = result.error.expect("an error");
    assert!(
        error.starts_with("failed to start the shell '/no/such/shell -c'"),
        "{error}"
    );

    let missing = dir.path().join("gone");
    let sh = Shell::sh();
    let request = SpawnRequest {
        cwd: &missing,
        shell: &sh,
        ..request
    };
    let error = spawner
        .run(&request, &output, &CancelToken::new())
        .error
        .expect("an error");
    assert!(
        error.starts_with("failed to enter the directory"),
        "{error}"
    );
}

/// A chain of beats whose ends are finished while the next beat starts: every beat
/// is still told started, then its output, then finished, before the next one
/// starts; each has its own log and record.
#[test]
fn a_chain_of_beats_is_told_in_order_one_beat_after_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = ["a", "b", "c", "d"];
    let pipeline = PipelineBuilder::new("p")
        .root(dir.path())
        .movement(
            "m",
            false,
            names
                .iter()
                .map(|n| beat(n).run(&format!("echo {n}-out")))
                .collect(),
        )
        .movement("last", false, vec![beat("e").run("echo e-out")])
        .build();
    let plan = plan(&pipeline, &Selection::default()).expect("plans");
    let opts = RunOptions::new(run_record(LABEL), dir.path().join(".baton/logs"));
    let (outcome, events) = run_collecting(
        &pipeline,
        &plan,
        &opts,
        &ProcessSpawner::default(),
        &CancelToken::new(),
    );
    assert_eq!(outcome.status(), RunStatus::Success);
    let told: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BeatStarted { beat, .. } => Some(format!("start {beat}")),
            RunEvent::OutputLine { line, .. } => Some(line.clone()),
            RunEvent::BeatFinished { record } => Some(format!("end {}", record.beat)),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .flat_map(|n| [format!("start {n}"), format!("{n}-out"), format!("end {n}")])
        .collect();
    assert_eq!(told, expected);
    for (record, name) in outcome.records.iter().zip(["a", "b", "c", "d", "e"]) {
        assert_eq!(record.beat, name);
        assert_eq!(record.status, BeatStatus::Success);
        let log =
            fs::read_to_string(record.log_path.as_deref().expect("a log path")).expect("its log");
        assert_eq!(log, format!("{name}-out\n"));
    }
    // Each beat started after the one before it ended.
    for pair in outcome.records.windows(2) {
        let ended = pair[0].started_at + Duration::from_millis(pair[0].duration_ms);
        assert!(
            pair[1].started_at >= ended - Duration::from_millis(1),
            "{pair:?}"
        );
    }
}

/// Whether `pid` runs now (not a zombie).
fn running(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists
        && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
}

/// Kills the recorded pids when the test ends, passed or not.
struct KillOnDrop(Vec<libc::pid_t>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_process_in_its_own_session_outlives_its_beat_every_time() {
    // `setsid cmd &` and `setsid -f cmd` as a beat's last command: the process that
    // calls setsid may not have done so yet when the beat's shell exits; it gets
    // to (process::LEAVE_GRACE), every time. Each writes its pid once in its own
    // session.
    const EACH: usize = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon =
        |file: &str| format!("sh -c 'echo $$ > {file}; exec sleep 30' </dev/null >/dev/null 2>&1");
    let mut beats = Vec::new();
    for i in 0..EACH {
        beats.push(
            beat(&format!("bg-{i}")).run(&format!("setsid {} &", daemon(&format!("bg-{i}.pid")))),
        );
        beats.push(
            beat(&format!("fork-{i}"))
                .run(&format!("setsid -f {}", daemon(&format!("fork-{i}.pid")))),
        );
    }
    let pipeline = PipelineBuilder::new("p")
        .root(dir.path())
        .movement("m", true, beats)
        .build();
    let plan = plan(&pipeline, &Selection::default()).expect("plans");
    let opts = RunOptions::new(run_record(LABEL), dir.path().join(".baton/logs"));
    let (outcome, _events) = run_collecting(
        &pipeline,
        &plan,
        &opts,
        &ProcessSpawner::default(),
        &CancelToken::new(),
    );
    let mut survivors = KillOnDrop(Vec::new());
    let mut lost = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for name in (0..EACH).flat_map(|i| [format!("bg-{i}"), format!("fork-{i}")]) {
        let file = dir.path().join(format!("{name}.pid"));
        // A daemon that survived writes its pid, maybe after the run ended.
        let pid = loop {
            let pid = fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse::<libc::pid_t>().ok());
            if pid.is_some() || std::time::Instant::now() > deadline {
                break pid;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match pid {
            Some(pid) => {
                survivors.0.push(pid);
                if !running(pid) {
                    lost.push(name);
                }
            }
            None => lost.push(name),
        }
    }
    assert_eq!(outcome.status(), RunStatus::Success);
    assert!(lost.is_empty(), "killed with their beat: {lost:?}");
}
