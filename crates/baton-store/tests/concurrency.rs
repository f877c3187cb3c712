//! Several writers on one store: threads with their own connections, processes,
//! and a process killed mid-run.
//!
//! The process tests re-run this test binary as the child: `child_writer` is an
//! ignored test that they run explicitly (`--ignored --exact child_writer`, its task
//! in `BATON_STORE_CHILD`), so they need no extra binary and it never counts as a
//! passing test of its own.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use baton_model::{BeatStatus, CacheState, RunStatus};
use baton_store::test_records::{beat, run};
use baton_store::{HistoryStore, RunFilter, RunSelector, SqliteStore};
use jiff::{SignedDuration, Timestamp};

const WRITERS: usize = 8;
const BEATS: u32 = 34;

/// One `baton run`'s worth of writes: begin, 34 beats committed one by one with
/// heartbeats, finish. Opens its own store, as a separate process would.
fn write_one_run(path: &Path, writer: usize) {
    let store = SqliteStore::open(path).expect("open");
    let started = Timestamp::now() + SignedDuration::from_millis(writer as i64);
    let mut r = run(
        &format!("pipeline-{}", writer % 2),
        started,
        RunStatus::Running,
    );
    r.heartbeat_at = Timestamp::now();
    store.begin_run(&r).expect("begin");
    for i in 0..BEATS {
        let b = beat(
            &r,
            i / 10,
            i % 10,
            &format!("beat-{i}"),
            BeatStatus::Success,
            5,
            CacheState::Hit,
        );
        store.record_beat(&b).expect("record beat");
        if i % 10 == 0 {
            store
                .heartbeat(r.run_id, Timestamp::now())
                .expect("heartbeat");
        }
    }
    r.status = RunStatus::Success;
    r.finished_at = Some(Timestamp::now());
    store.finish_run(&r).expect("finish");
}

fn assert_all_recorded(path: &Path, runs: usize) {
    let store = SqliteStore::open(path).expect("open");
    let summaries = store.list_runs(&RunFilter::default()).expect("list");
    assert_eq!(summaries.len(), runs);
    for s in &summaries {
        assert_eq!(s.run.status, RunStatus::Success);
        assert_eq!(s.beats.success, BEATS, "run {}", s.run.run_id);
    }
}

#[test]
fn eight_threads_with_their_own_connections_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".baton/history.db");
    let start = Arc::new(Barrier::new(WRITERS));
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (path, start) = (path.clone(), start.clone());
            std::thread::spawn(move || {
                // All open the new file at once: the WAL set-up and migration race.
                start.wait();
                write_one_run(&path, writer);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    assert_all_recorded(&path, WRITERS);
}

/// Runs in a child process: write one run, or (`crash`) record five beats of a run
/// whose heartbeat is old and die without any clean-up, like `kill -9`.
#[test]
#[ignore = "a child process of the process tests, which run it explicitly"]
fn child_writer() {
    let Ok(task) = std::env::var("BATON_STORE_CHILD") else {
        return;
    };
    let (mode, rest) = task.split_once(':').expect("mode:writer:path");
    let (writer, path) = rest.split_once(':').expect("writer:path");
    let writer: usize = writer.parse().expect("writer index");
    match mode {
        "write" => write_one_run(Path::new(path), writer),
        "crash" => {
            let store = SqliteStore::open(path).expect("open");
            let mut r = run("p", Timestamp::now(), RunStatus::Running);
            r.heartbeat_at = Timestamp::now() - SignedDuration::from_secs(60);
            store.begin_run(&r).expect("begin");
            for i in 0..5 {
                let b = beat(
                    &r,
                    0,
                    i,
                    &format!("b{i}"),
                    BeatStatus::Success,
                    1,
                    CacheState::Hit,
                );
                store.record_beat(&b).expect("record");
            }
            std::process::abort();
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn child(mode: &str, writer: usize, path: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "child_writer",
        "--exact",
        "--ignored",
        "--test-threads=1",
        "--quiet",
    ])
    .env(
        "BATON_STORE_CHILD",
        format!("{mode}:{writer}:{}", path.display()),
    );
    cmd
}

#[test]
fn eight_processes_at_once_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".baton/history.db");
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| child("write", writer, &path).output_spawned())
        .collect();
    for (writer, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "writer {writer} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_all_recorded(&path, WRITERS);
}

#[test]
fn a_killed_run_keeps_its_finished_beats_and_reads_as_abandoned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    let status = child("crash", 0, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(!status.success(), "the child aborts");
    let store = SqliteStore::open(&path).expect("open after crash");
    let (r, beats) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run kept");
    assert_eq!(r.status, RunStatus::Abandoned);
    assert_eq!(beats.len(), 5);
}

trait SpawnQuiet {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnQuiet for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child")
    }
}
