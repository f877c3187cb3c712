//! The runner's overhead, run on demand (`cargo bench -p baton-runner`), never as a
//! timed test. Prints:
//!
//! - 34 no-op beats with full telemetry (records, logs, `$BATON_OUTPUT`) against
//!   34 `sh -c true` run one after the other: the wall ratio (target <= 1.3);
//! - 16 beats sleeping 0.5 s with `-j 4`: the wall time against the ideal 2.0 s
//!   (target within 3%);
//! - this process's peak RSS afterwards.
//!
//! `BATON_BENCH_ROUNDS` (default 5) sets how many rounds the best of is taken.

use std::process::Command;
use std::time::{Duration, Instant};

use baton_model::{RunRecord, RunStatus};
use baton_runner::testing::{self, PipelineBuilder, beat, peak_rss};
use baton_runner::{CancelToken, ProcessSpawner, RunOptions, Selection, Shell, plan, run_plan};

fn main() {
    let rounds: usize = std::env::var("BATON_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");

    let noop = PipelineBuilder::new("noop")
        .root(dir.path())
        .movement(
            "all",
            false,
            (0..34)
                .map(|i| beat(&format!("noop-{i:02}")).run("true"))
                .collect(),
        )
        .build();
    let baseline = best(rounds, || {
        for _ in 0..34 {
            let status = Command::new("sh")
                .args(["-c", "true"])
                .status()
                .expect("sh runs");
            assert!(status.success());
        }
    });
    println!(
        "34 x sh -c true, one after the other: {:>8.1} ms",
        ms(baseline)
    );
    for (label, shell) in [("sh -c", Shell::sh()), ("detected shell", Shell::detect())] {
        let took = best(rounds, || run(&noop, dir.path(), shell.clone(), 1));
        println!(
            "34 no-op beats, -j 1, {label:<14}:   {:>8.1} ms   ratio {:.2} (target <= 1.3)",
            ms(took),
            took.as_secs_f64() / baseline.as_secs_f64()
        );
    }

    let sleepy = PipelineBuilder::new("sleepy")
        .root(dir.path())
        .movement(
            "all",
            true,
            (0..16)
                .map(|i| beat(&format!("sleep-{i:02}")).run("sleep 0.5"))
                .collect(),
        )
        .build();
    let took = best(rounds.min(3), || {
        run(&sleepy, dir.path(), Shell::detect(), 4)
    });
    println!(
        "16 x sleep 0.5, -j 4:                      {:>8.1} ms   {:+.1}% of the ideal 2000 ms (target within 3%)",
        ms(took),
        (took.as_secs_f64() / 2.0 - 1.0) * 100.0
    );
    println!(
        "peak RSS of this process: {:.1} MiB",
        peak_rss() as f64 / 1024.0 / 1024.0
    );
}

fn run(pipeline: &baton_model::Pipeline, root: &std::path::Path, shell: Shell, jobs: usize) {
    let plan = plan(pipeline, &Selection::default()).expect("plans");
    let mut opts = RunOptions::new(run_record(), root.join("logs"));
    opts.shell = shell;
    opts.jobs = jobs;
    let outcome = run_plan(
        pipeline,
        &plan,
        &opts,
        &ProcessSpawner::default(),
        &baton_runner::HistoryHints::default(),
        &mut |_| {},
        &CancelToken::new(),
    );
    assert_eq!(outcome.status(), RunStatus::Success);
}

fn best(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_record() -> RunRecord {
    let record = testing::run_record("");
    RunRecord {
        label: format!("bench-{}", record.started_at.as_millisecond()),
        pipeline_id: "bench".into(),
        pipeline_name: "bench".into(),
        host: "bench".into(),
        ..record
    }
}
