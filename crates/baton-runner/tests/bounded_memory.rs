//! A beat writing a lot of output does not grow baton's memory: output is streamed
//! to the log and through a bounded channel. Its own test binary, so that this
//! process's peak RSS is this test's alone.

use std::time::Duration;

use baton_model::{BeatStatus, RunEvent};
use baton_runner::testing::{PipelineBuilder, beat, peak_rss, run_record};
use baton_runner::{CancelToken, ProcessSpawner, RunOptions, Selection, plan, run_plan};

const MIB: u64 = 1024 * 1024;

#[test]
fn a_flood_of_output_keeps_baton_small() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = PipelineBuilder::new("p")
        .root(dir.path())
        .movement(
            "m",
            true,
            vec![
                // One endless line of binary zeros, and many short lines.
                beat("binary").run("head -c 1073741824 /dev/zero"),
                beat("lines").run("{ yes 'a line of output' || true; } | head -c 33554432"),
            ],
        )
        .build();
    let plan = plan(&pipeline, &Selection::default()).expect("plans");
    let mut opts = RunOptions::new(run_record("build-x"), dir.path().join("logs"));
    opts.kill_grace = Duration::from_millis(300);
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let outcome = run_plan(
        &pipeline,
        &plan,
        &opts,
        &ProcessSpawner::default(),
        &baton_runner::HistoryHints::default(),
        &mut |e| {
            if let RunEvent::OutputLine { line, .. } = e {
                bytes += line.len() as u64;
                lines += 1;
            }
        },
        &CancelToken::new(),
    );
    for r in &outcome.records {
        assert_eq!(r.status, BeatStatus::Success, "{}: {:?}", r.beat, r.reason);
    }
    // "a line of output\n" is 17 bytes; newlines are not part of a line.
    assert_eq!(
        bytes,
        1024 * MIB + 32 * MIB - 32 * MIB / 17,
        "every byte but the newlines"
    );
    assert_eq!(
        lines,
        32 * MIB / 17 + 1 + 1024 * MIB / (64 * 1024),
        "chunks of the long line count as lines"
    );
    let log = |name: &str| {
        std::fs::metadata(dir.path().join(format!("logs/build-x/m/{name}.log"))).map(|m| m.len())
    };
    assert_eq!(log("binary").ok(), Some(1024 * MIB));
    assert_eq!(log("lines").ok(), Some(32 * MIB));
    let peak = peak_rss();
    assert!(
        peak < 100 * MIB,
        "baton's peak RSS grew to {} MiB",
        peak / MIB
    );
}
