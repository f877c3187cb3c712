//! `baton-bench`: runs baton side by side with what users would use instead (a shell
//! script, make, just, xargs) and reports wall time, CPU time and peak RSS of each
//! side, the ratios between them, and whether each case's targets are met.
//!
//! ```text
//! cargo build --release -p baton-cli
//! cargo run --release -p baton-bench                 # the full suite (< 10 min)
//! cargo run --release -p baton-bench -- --quick      # every case once (CI smoke run)
//! cargo run --release -p baton-bench -- --only overhead-34 --rounds 20
//! cargo run --release -p baton-bench -- signals [--quick] [--seed N]   # signal quality
//! ```
//!
//! Prints a Markdown table and writes `target/bench/results.{json,md}` (`signals`:
//! `target/bench/signals.{json,md}`). Exits 1 when a case could not run; it never
//! judges speed by exit code.

mod cases;
mod fixtures;
mod measure;
mod report;
mod signals;
mod stats;
mod suite;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::report::{Binary, Machine, Report};
use crate::suite::{Case, CaseResult, Ctx, Plan};

#[derive(Debug, Parser)]
#[command(
    name = "baton-bench",
    about = "Benchmark baton against what users would use instead.",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// The baton binary [default: target/release/baton, built or brought up to date].
    #[arg(long, value_name = "PATH")]
    baton: Option<PathBuf>,
    /// Rounds per side (after one warm-up run of each side).
    #[arg(long, default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Run every case once without warm-up: checks the suite works (CI), asserts nothing.
    #[arg(long)]
    quick: bool,
    /// Run only these cases (repeat or separate with commas); see --list.
    #[arg(long, value_name = "CASE", value_delimiter = ',')]
    only: Vec<String>,
    /// Directory for results.json and results.md [default: target/bench].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Install missing baselines first (`cargo install just`); ignored with --quick.
    #[arg(long)]
    setup: bool,
    /// Runs in the store case's history [default: 30000; 300 with --quick].
    #[arg(long, value_name = "N")]
    store_runs: Option<usize>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Signal quality of `baton regressions` and `baton flaky` on labelled synthetic
    /// histories against two baselines, then the speed of `baton import` and of the
    /// reads over 100,000 runs x 10 beats (not part of the default suite yet).
    Signals(SignalsArgs),
}

#[derive(Debug, clap::Args)]
struct SignalsArgs {
    /// The baton binary [default: target/release/baton, built or brought up to date].
    #[arg(long, value_name = "PATH")]
    baton: Option<PathBuf>,
    /// Small histories (one series per cell, 2,000 speed runs) and one round of each
    /// read: checks the benchmark works, its figures are indicative.
    #[arg(long)]
    quick: bool,
    /// Seed of every generated history.
    #[arg(long, default_value_t = signals::DEFAULT_SEED, value_name = "N")]
    seed: u64,
    /// Rounds of each read over the speed history (after one unmeasured run).
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Runs of the speed history, 10 beats each [default: 100000; 2000 with --quick].
    #[arg(long, value_name = "N")]
    speed_runs: Option<usize>,
    /// Keep the generated histories (signals.jsonl, speed.jsonl, labels.json) and the
    /// stores in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Directory for signals.json and signals.md [default: target/bench].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("baton-bench: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the suite; `Ok(false)` when a case failed.
fn run(args: Args) -> Result<bool> {
    if let Some(BenchCommand::Signals(signals)) = args.command {
        return run_signals(signals);
    }
    let all = cases::all();
    if args.list {
        for case in &all {
            println!("{:<20} {}", case.name(), case.about());
        }
        let signals = signals::Signals::default();
        println!(
            "{:<20} {} (not in the suite yet: `baton-bench signals`)",
            signals.name(),
            signals.about()
        );
        return Ok(true);
    }
    for name in &args.only {
        if !all.iter().any(|c| c.name() == name) {
            let names: Vec<_> = all.iter().map(|c| c.name()).collect();
            bail!("unknown case `{name}` (cases: {})", names.join(", "));
        }
    }

    let root = workspace_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |t| root.join(t));
    let baton = find_baton(args.baton, &root, &target_dir)?;
    let plan = if args.quick {
        Plan {
            rounds: 1,
            warmup: false,
            quick: true,
        }
    } else {
        Plan {
            rounds: args.rounds as usize,
            warmup: true,
            quick: false,
        }
    };
    let store_runs = args.store_runs.unwrap_or(if args.quick {
        cases::STORE_QUICK_RUNS
    } else {
        cases::STORE_FULL_RUNS
    });
    let ctx = Ctx {
        baton,
        root,
        target_dir,
        plan,
        setup: args.setup,
        store_runs,
    };
    let selected: Vec<Box<dyn Case>> = all
        .into_iter()
        .filter(|c| args.only.is_empty() || args.only.iter().any(|o| o == c.name()))
        .collect();
    execute(&selected, &ctx, args.out, "results")
}

/// `baton-bench signals`: the one case, with its own options and output files.
fn run_signals(args: SignalsArgs) -> Result<bool> {
    let root = workspace_root();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |t| root.join(t));
    let baton = find_baton(args.baton, &root, &target_dir)?;
    let plan = Plan {
        rounds: if args.quick { 1 } else { args.rounds as usize },
        warmup: false,
        quick: args.quick,
    };
    let ctx = Ctx {
        baton,
        root,
        target_dir,
        plan,
        setup: false,
        store_runs: 0,
    };
    let case = signals::Signals {
        seed: args.seed,
        speed_runs: args.speed_runs,
        keep: args.keep,
    };
    execute(&[Box::new(case)], &ctx, args.out, "signals")
}

/// Runs `cases` in order, prints the report and writes `<stem>.json` and `<stem>.md`
/// to `out` (default `target/bench`); `Ok(false)` when a case failed.
fn execute(cases: &[Box<dyn Case>], ctx: &Ctx, out: Option<PathBuf>, stem: &str) -> Result<bool> {
    let plan = ctx.plan;
    let started = Instant::now();
    let load_before = report::load_average();
    let mut results: Vec<CaseResult> = Vec::new();
    for case in cases {
        eprintln!("case {} ...", case.name());
        let t = Instant::now();
        let mut result = case.run(ctx, &results).unwrap_or_else(|err| {
            eprintln!("  {} failed: {err:#}", case.name());
            let mut r = CaseResult::new(case.name(), case.about());
            r.error = Some(format!("{err:#}"));
            r
        });
        result.elapsed_s = t.elapsed().as_secs_f64();
        results.push(result);
    }

    let ok = results.iter().all(|r| r.error.is_none());
    let report = Report {
        generated_at: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        mode: if plan.quick { "quick" } else { "full" },
        plan,
        machine: Machine::detect(),
        baton: Binary {
            path: ctx.baton.display().to_string(),
            version: tools::version_of(&ctx.baton),
            commit: git_commit(&ctx.root),
        },
        cases: results,
        elapsed_s: started.elapsed().as_secs_f64(),
        load_before,
        load_after: report::load_average(),
    };
    let markdown = report.markdown();
    print!("{markdown}");

    let out = out.unwrap_or_else(|| ctx.target_dir.join("bench"));
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    let json = serde_json::to_string_pretty(&report)?;
    for (name, text) in [
        (format!("{stem}.json"), json.as_str()),
        (format!("{stem}.md"), markdown.as_str()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    eprintln!(
        "wrote {} and {stem}.md ({:.0} s)",
        out.join(format!("{stem}.json")).display(),
        report.elapsed_s
    );
    Ok(ok)
}

/// The workspace this program was built from, else the current directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `--baton PATH` as given; otherwise `target/release/baton`, brought up to date with
/// `cargo build --release -p baton-cli` first (a no-op when it is), so that baton and
/// the store example are built from the same sources. When that build fails (another
/// crate half-written) an existing binary is used with a warning.
fn find_baton(given: Option<PathBuf>, root: &Path, target_dir: &Path) -> Result<PathBuf> {
    if let Some(path) = given {
        if !path.is_file() {
            bail!("--baton {}: no such file", path.display());
        }
        return path
            .canonicalize()
            .with_context(|| format!("failed to resolve {}", path.display()));
    }
    let path = target_dir.join("release/baton");
    if let Err(err) = tools::cargo(root, &["build", "--release", "-p", "baton-cli"]) {
        if !path.is_file() {
            return Err(err);
        }
        eprintln!("warning: {err:#}; using the existing {}", path.display());
    }
    Ok(path)
}

fn git_commit(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
