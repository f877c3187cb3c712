//! `store`: the history store at scale. The store's `fill_store` example (built with
//! cargo, then run and measured like any side) inserts N runs x 34 beats (30,000 runs,
//! about 1M beat records; 300 in quick mode) and prints its insert and in-process
//! query times. Then the read verbs of the CLI run against that store through
//! `BATON_DIR`, alternately: each verb in [`QUERIES`] is measured when this baton build
//! has it and listed as not measured otherwise; enabling a new one is a line there.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::measure::{CmdSpec, TimedOut, measure};
use crate::suite::{
    Case, CaseResult, Ctx, Plan, Side, SideResult, Target, Unit, Verdict, run_alternating_within,
};
use crate::tools::release_example;

/// Runs of the full store: about 1M beat records of a 34-beat pipeline.
pub(crate) const FULL_RUNS: usize = 30_000;
/// Runs of quick mode's store: enough to check the case works.
pub(crate) const QUICK_RUNS: usize = 300;
const BEATS_PER_RUN: usize = 34;
/// A beat of fill_store's synthetic pipeline.
const BEAT: &str = "build-step-3";

/// The CLI reads: (side name, verb as `--help` checks it, arguments).
const QUERIES: &[(&str, &[&str], &[&str])] = &[
    (
        "baton history --limit 50",
        &["history"],
        &["history", "--limit", "50"],
    ),
    ("baton report latest", &["report"], &["report", "latest"]),
    (
        "baton shape log build-step-3",
        &["shape", "log"],
        &["shape", "log", BEAT],
    ),
];

/// Issue #4's targets.
const INSERT_TARGET_MS: f64 = 3000.0;
const QUERY_TARGET_MS: f64 = 300.0;
const RSS_TARGET_BYTES: f64 = 150e6;
const TARGET_RECORDS: usize = 1_000_000;
/// A read is given 100 times its target before it counts as not finishing.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time for the alternating rounds of the reads (at least 3 rounds).
const QUERY_BUDGET: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub(super) struct Store;

impl Case for Store {
    fn name(&self) -> &'static str {
        "store"
    }

    fn about(&self) -> &'static str {
        "history store: insert 30,000 runs x 34 beats (~1M records), then `baton history`, \
         `baton report` and `baton shape log` on that store"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        let fill_store = release_example(&ctx.root, &ctx.target_dir, "baton-store", "fill_store")?;
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-store-")
            .tempdir()?;
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state)?;
        let mut result = CaseResult::new(self.name(), self.about());
        let small = ctx.store_runs * BEATS_PER_RUN < TARGET_RECORDS;

        // The fill: once, measured like a side.
        let runs = ctx.store_runs.to_string();
        let fill = CmdSpec::new(&fill_store, dir.path())
            .arg(state.join("history.db"))
            .arg(&runs)
            .capture_stdout()
            .timeout(Duration::from_secs(600));
        eprintln!("  store: filling {runs} runs x {BEATS_PER_RUN} beats");
        let outcome = measure(&fill)?;
        let fill_side = SideResult::new(
            &format!("fill_store {runs} runs"),
            fill.to_string(),
            vec![outcome.sample],
        )?;
        let report = FillReport::parse(&outcome.stdout)
            .with_context(|| format!("unexpected fill_store output:\n{}", outcome.stdout))?;
        let beats = report.beats as f64;
        result.metric("beat records inserted", beats, Unit::Count);
        result.metric("insert runs (record_runs_bulk)", report.runs_ms, Unit::Ms);
        result.metric(
            "insert beats (record_beats_bulk), wall",
            report.beats_ms,
            Unit::Ms,
        );
        if let Some(cpu) = report.beats_cpu_ms {
            result.metric("insert beats (record_beats_bulk), CPU", cpu, Unit::Ms);
        }
        result.metric(
            "insert beats throughput",
            beats / (report.beats_ms / 1000.0),
            Unit::PerSecond,
        );
        for (what, ms) in &report.queries {
            result.metric(format!("in-process {what}"), *ms, Unit::Ms);
        }
        let insert = Target::at_most(
            format!("insert {} beat records (record_beats_bulk)", report.beats),
            Some(report.beats_ms),
            INSERT_TARGET_MS,
            Unit::Ms,
        )
        .with_note("wall time of record_beats_bulk as fill_store prints it; target is for 1M");
        result.targets.push(if small {
            insert.not_applicable(quick_note(ctx))
        } else {
            insert
        });

        // The CLI reads: one warm-up each, bounded by a timeout (a read that does not
        // finish is a target not met, not a failed case), then alternately.
        let mut sides = Vec::new();
        let mut unmeasured = Vec::new();
        let mut failed = Vec::new();
        let mut broken = Vec::new();
        for (name, verb, args) in QUERIES {
            if !ctx.has_verb(verb) {
                unmeasured.push(*name);
                result.note(format!(
                    "`baton {}` does not exist in this build: not measured",
                    verb.join(" ")
                ));
                continue;
            }
            let spec = ctx
                .baton(dir.path())
                .env("BATON_DIR", &state)
                .args(args.iter().copied())
                .timeout(QUERY_TIMEOUT);
            eprintln!("  store: warm-up of `{name}`");
            match measure(&spec) {
                Ok(_) => sides.push(Side::new(*name, spec)),
                Err(err) if err.is::<TimedOut>() => {
                    unmeasured.push(*name);
                    failed.push((*name, format!("{err:#}")));
                }
                // Not slowness but breakage (a schema the binary does not know, a
                // crash): the case fails, keeping the figures it has.
                Err(err) => {
                    unmeasured.push(*name);
                    result.note(format!("{name} failed: {err:#}"));
                    broken.push(*name);
                }
            }
        }
        let plan = Plan {
            warmup: false,
            ..ctx.plan
        };
        let measured = if sides.is_empty() {
            Vec::new()
        } else {
            run_alternating_within(self.name(), &sides, plan, Some(QUERY_BUDGET))?
        };
        for (name, _, _) in QUERIES {
            let what = format!("{name} (median wall)");
            if let Some((_, err)) = failed.iter().find(|(n, _)| n == name) {
                result
                    .targets
                    .push(Target::failed(what, QUERY_TARGET_MS, Unit::Ms, err.clone()));
                continue;
            }
            let median = measured
                .iter()
                .find(|s| s.name == *name)
                .map(|s| s.wall_ms.median);
            let target = Target::at_most(what, median, QUERY_TARGET_MS, Unit::Ms);
            result.targets.push(if small {
                target.not_applicable(quick_note(ctx))
            } else {
                target
            });
        }
        let rss = measured
            .iter()
            .map(|s| s.peak_rss_bytes.max)
            .reduce(f64::max);
        let mut rss_target = Target::at_most(
            "baton peak RSS over the reads",
            rss,
            RSS_TARGET_BYTES,
            Unit::Bytes,
        );
        if small {
            rss_target = rss_target.not_applicable(quick_note(ctx));
        } else if !unmeasured.is_empty() && rss_target.verdict == Verdict::Met {
            rss_target = rss_target.with_note(format!("without {}", unmeasured.join(", ")));
        }
        result.targets.push(rss_target);

        if !broken.is_empty() {
            result.error = Some(format!("{} failed (see the notes)", broken.join(", ")));
        }
        // No baseline here: every side is a figure on its own.
        result.sides = measured;
        if !sides.is_empty() {
            result.note_budget(plan, QUERY_BUDGET);
        }
        result.sides.insert(0, fill_side);
        Ok(result)
    }
}

fn quick_note(ctx: &Ctx) -> String {
    format!(
        "store of {} runs ({} records): the target is for ~1M",
        ctx.store_runs,
        ctx.store_runs * BEATS_PER_RUN
    )
}

/// What fill_store prints: its insert times and its in-process query times.
#[derive(Debug, PartialEq)]
struct FillReport {
    runs_ms: f64,
    beats: u64,
    beats_ms: f64,
    /// CPU time of the beat inserts, when fill_store prints it (`..., N ms CPU`).
    beats_cpu_ms: Option<f64>,
    queries: Vec<(String, f64)>,
}

impl FillReport {
    /// Parses `LABEL: N ms ...` lines (or `; `-separated parts of one) such as
    /// `insert 300 runs (record_runs_bulk): 2 ms`,
    /// `insert 10200 beats (record_beats_bulk): 36 ms wall, 36 ms CPU (281627 beats/s)`
    /// and `list_runs limit 50: 1.0 ms (50 rows)`; `open:` and `peak RSS:` are skipped.
    fn parse(stdout: &str) -> Result<Self> {
        let (mut runs_ms, mut beats) = (None, None);
        let mut queries = Vec::new();
        for part in stdout.lines().flat_map(|l| l.split("; ")) {
            let Some((what, rest)) = part.split_once(": ") else {
                continue;
            };
            let Some(ms) = leading_ms(rest) else { continue };
            let what = what.trim();
            let insert = what.starts_with("insert");
            if insert && what.contains(" beats") {
                let count = what
                    .split_whitespace()
                    .find_map(|w| w.parse::<u64>().ok())
                    .with_context(|| format!("no beat count in {part:?}"))?;
                let cpu = rest.split_once(", ").and_then(|(_, r)| leading_ms(r));
                beats = Some((count, ms, cpu));
            } else if insert && what.contains(" runs") {
                runs_ms = Some(ms);
            } else if what != "open" {
                queries.push((what.to_owned(), ms));
            }
        }
        let (Some(runs_ms), Some((beats, beats_ms, beats_cpu_ms))) = (runs_ms, beats) else {
            bail!("no insert lines for runs and beats (was RUNS 0?)");
        };
        Ok(Self {
            runs_ms,
            beats,
            beats_ms,
            beats_cpu_ms,
            queries,
        })
    }
}

/// The number at the start of `s` when ` ms` follows it.
fn leading_ms(s: &str) -> Option<f64> {
    let (number, _) = s.trim_start().split_once(" ms")?;
    number.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fill_store_output() {
        let out = "open: 3.4 ms\n\
            insert 300 runs (record_runs_bulk): 2 ms\n\
            insert 10200 beats (record_beats_bulk): 36 ms wall, 35 ms CPU (281627 beats/s)\n\
            list_runs limit 50: 1.0 ms (50 rows)\n\
            beat_history_hints 34 beats: 0.4 ms (34 rows)\n\
            peak RSS: 17580 kB\n";
        let r = FillReport::parse(out).unwrap();
        assert_eq!((r.runs_ms, r.beats, r.beats_ms), (2.0, 10200, 36.0));
        assert_eq!(r.beats_cpu_ms, Some(35.0));
        assert_eq!(
            r.queries,
            vec![
                ("list_runs limit 50".to_owned(), 1.0),
                ("beat_history_hints 34 beats".to_owned(), 0.4)
            ]
        );
    }

    #[test]
    fn output_without_an_insert_line_is_an_error() {
        assert!(FillReport::parse("open: 1.0 ms\n").is_err());
    }
}
