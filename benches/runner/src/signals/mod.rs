//! `signals`: how far baton's verdicts can be trusted, and how fast they come.
//!
//! A generator writes labelled synthetic histories (fixed seeds) in baton's import
//! format; `baton import` loads them into a fresh store (`BATON_DIR`), and
//! `baton regressions`, `baton flaky` and `baton trends` (`--all --format json`)
//! answer over it. Their JSON is scored against the labels: recall of slowdowns
//! within 6 and 12 miss runs of the change, false alarms on series with no change
//! and on hard negatives, the delay, flaky/broken/healthy precision and recall. Two
//! baselines, a Perfherder-style t-test and E-divisive means, run in-process on the
//! same miss series ([`baselines`]). Then a larger history (100,000 runs x 10
//! beats) measures the import and the three reads (wall time, peak RSS).
//!
//! It is a case of the suite (`--only signals`), and also runs on its own with
//! `baton-bench signals [--quick] [--seed N] [--keep DIR]`. A baton without the
//! verbs it drives fails the case with a clear message (the baselines are still
//! scored).

mod baselines;
mod dataset;
mod generate;
mod history;
mod rng;
mod score;
mod speed;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde_json::json;

use crate::measure::{CmdSpec, measure};
use crate::suite::{
    Case, CaseResult, Ctx, Plan, Side, SideResult, Table, Target, Unit, run_alternating,
};
use baselines::{Found, e_divisive, t_test};
use generate::{AFTER, BEFORE, HIT_PROBS, HardNegative, SHIFTS, SIGMAS, Series, Sizes};
use score::{Detections, FlakyScore, Rate, RegressionScore, RunIndex};

/// Issue #14's targets.
const RECALL_20_TARGET: f64 = 0.85;
const RECALL_50_TARGET: f64 = 0.95;
const STATIONARY_FA_TARGET: f64 = 0.01;
const HARD_FA_TARGET: f64 = 0.03;
const FLAKY_PRECISION_TARGET: f64 = 0.95;
const FLAKY_RECALL_TARGET: f64 = 0.90;
const IMPORT_TARGET_MS: f64 = 10_000.0;
const READ_TARGET_MS: f64 = 1_000.0;
const READ_RSS_TARGET_BYTES: f64 = 200e6;
/// Noise levels the recall targets are about ("at 5% noise").
const TARGET_SIGMA: f64 = 0.05;
/// The quality history is written with only the fields the import format requires
/// (it has over a million records; the speed history has every field).
const QUALITY_FIELDS: history::Fields = history::Fields::Minimal;
/// The flaky window that holds every generated run.
const WINDOW: &str = "3650d";

const IMPORT_TIMEOUT: Duration = Duration::from_secs(900);
const QUALITY_READ_TIMEOUT: Duration = Duration::from_secs(600);
const SPEED_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The verbs the case drives, as `baton VERB --help` checks them.
const VERBS: [&str; 4] = ["import", "regressions", "flaky", "trends"];

/// The seed of the published figures.
pub(crate) const DEFAULT_SEED: u64 = 1;

/// The case, as `cases::all()` lists it.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    /// Seed of every generated history.
    pub seed: u64,
    /// Runs of the speed history (default 100,000; 2,000 quick).
    pub speed_runs: Option<usize>,
    /// Keep the generated histories and labels here instead of a temporary directory.
    pub keep: Option<PathBuf>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            speed_runs: None,
            keep: None,
        }
    }
}

impl Case for Signals {
    fn name(&self) -> &'static str {
        "signals"
    }

    fn about(&self) -> &'static str {
        "signal quality of `baton regressions` and `baton flaky` on labelled synthetic \
         histories (imported with `baton import`) against a t-test and E-divisive; then \
         import and the reads over 100,000 runs x 10 beats"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        let temp;
        let work = match &self.keep {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
                dir.clone()
            }
            None => {
                temp = tempfile::Builder::new()
                    .prefix("baton-bench-signals-")
                    .tempdir()?;
                temp.path().to_owned()
            }
        };
        let mut result = CaseResult::new(self.name(), self.about());
        let mut missing = Vec::new();
        let mut verbs = Vec::new();
        for verb in VERBS {
            match verb_state(&ctx.baton, verb) {
                VerbState::Present => verbs.push(verb),
                VerbState::Missing(why) => {
                    result.note(format!(
                        "`baton {verb}` does not exist in this build: {why}"
                    ));
                    missing.push(verb);
                }
                VerbState::Broken(why) => {
                    result.note(format!("`baton {verb} --help` failed: {why}"));
                    missing.push(verb);
                }
            }
        }
        let has = |verb: &str| verbs.contains(&verb);

        // A failure of baton (an import that exits non-zero, JSON that does not
        // parse) fails the case but keeps every figure obtained before it.
        let mut errors = Vec::new();
        // The speed history first, while this process is small: on Linux a child's
        // peak RSS (wait4's ru_maxrss) starts at the high-water mark of the process
        // it was forked from, so measuring after the quality scoring (which holds
        // the verbs' JSON) would report this process's peak, not baton's.
        if (has("import") || self.keep.is_some())
            && let Err(err) = self.speed(ctx, &work, &mut result, &has)
        {
            errors.push(format!("on the speed history: {err:#}"));
        }
        speed_targets(ctx, &mut result);
        let (mut quality, history) = Quality::prepare(self, ctx, &work, &mut result)?;
        if has("import") {
            if let Err(err) = quality.drive(ctx, &work, &mut result, &has, &history) {
                errors.push(format!("on the quality history: {err:#}"));
            }
        } else {
            result.note("the quality history was not imported: no `baton import`");
        }
        quality.report(ctx, &mut result);

        if !missing.is_empty() {
            errors.insert(
                0,
                format!(
                    "this baton lacks {}: `{} {} --help` exits 2 with \"unrecognized \
                     subcommand\". The signals benchmark drives `baton import`, `regressions`, \
                     `flaky` and `trends`; build baton from a branch that has them or pass \
                     --baton PATH (the baselines are scored anyway)",
                    missing
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    ctx.baton.display(),
                    missing[0]
                ),
            );
        }
        if !errors.is_empty() {
            result.error = Some(errors.join("; "));
        }
        Ok(result)
    }
}

/// Whether the binary has a verb.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VerbState {
    Present,
    /// `baton VERB --help` exited 2 with "unrecognized subcommand": its stderr line.
    Missing(String),
    /// Anything else (it did not start, it crashed).
    Broken(String),
}

fn verb_state(baton: &Path, verb: &str) -> VerbState {
    let output = Command::new(baton)
        .args([verb, "--help"])
        .stdin(Stdio::null())
        .output();
    match output {
        Err(err) => VerbState::Broken(format!("failed to start {}: {err}", baton.display())),
        Ok(out) if out.status.success() => VerbState::Present,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or_default().trim().to_owned();
            if out.status.code() == Some(2) && stderr.contains("unrecognized subcommand") {
                VerbState::Missing(first)
            } else {
                VerbState::Broken(format!("{} ({first})", out.status))
            }
        }
    }
}

/// A baton command against the store in `state` (through `$BATON_DIR`).
fn baton_at(ctx: &Ctx, work: &Path, state: &Path, args: &[&str], timeout: Duration) -> CmdSpec {
    ctx.baton(work)
        .env("BATON_DIR", state)
        .args(args.iter().copied())
        .timeout(timeout)
}

/// The end of every generated history: the start of today (UTC), so a run of the
/// benchmark on one day writes the same bytes for a seed and every run is in the
/// past.
fn history_end() -> Timestamp {
    let now = Timestamp::now();
    let day = now.as_second().div_euclid(86_400) * 86_400;
    Timestamp::from_second(day).unwrap_or(now)
}

// ---------------------------------------------------------------- signal quality

/// The quality half: the history, what each method said, the scores.
struct Quality {
    sizes: Sizes,
    data: dataset::Quality,
    methods: Vec<RegressionScore>,
    flaky: Option<(FlakyScore, Vec<Option<String>>)>,
    /// Non-healthy flaky verdicts on regression-scenario beats (none ever failed).
    flaky_on_passing: Option<Rate>,
}

/// The written quality history: where it is, its size, where each run id is.
struct Written {
    path: PathBuf,
    beats: usize,
    runs: RunIndex,
}

impl Quality {
    /// Generates and writes the history, and scores the baselines on it.
    fn prepare(
        case: &Signals,
        ctx: &Ctx,
        work: &Path,
        result: &mut CaseResult,
    ) -> Result<(Self, Written)> {
        let sizes = if ctx.plan.quick {
            Sizes::quick()
        } else {
            Sizes::full()
        };
        let t = Instant::now();
        let data = dataset::build(case.seed, &sizes, history_end());
        let path = work.join("signals.jsonl");
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("failed to create {}", path.display()))?,
        );
        let mut rng = rng::Rng::derive(case.seed, 0x2A1D_0000);
        let (run_ids, written) =
            history::write_pipelines(&mut out, &data.pipelines, QUALITY_FIELDS, &mut rng)?;
        out.flush()?;
        drop(out);
        eprintln!(
            "  signals: wrote {} runs, {} beat records ({:.0} MB) in {:.1} s",
            written.runs,
            written.beats,
            written.bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        result.metric("quality history: runs", written.runs as f64, Unit::Count);
        result.metric(
            "quality history: beat records",
            written.beats as f64,
            Unit::Count,
        );
        result.metric("quality history: bytes", written.bytes as f64, Unit::Bytes);
        result.metric(
            "quality history: series (changed, stationary, hard negatives)",
            data.series.len() as f64,
            Unit::Count,
        );
        result.metric(
            "quality history: regression beats (series x cuts)",
            data.regression.len() as f64,
            Unit::Count,
        );
        result.metric(
            "quality history: flaky-scenario beats",
            data.flaky.len() as f64,
            Unit::Count,
        );
        let mut runs = RunIndex::new();
        for (p, ids) in run_ids.iter().enumerate() {
            for (r, id) in ids.iter().enumerate() {
                runs.insert(id.to_string(), (p, r));
            }
        }
        if case.keep.is_some() {
            write_labels(work, case.seed, &sizes, &data)?;
        }

        // The baselines, in-process on the same miss series.
        let mut methods = Vec::new();
        for (name, method) in [("t-test", Method::TTest), ("E-divisive", Method::EDivisive)] {
            let t = Instant::now();
            let detections = baseline(name, method, case.seed, &data);
            result.metric(
                format!("{name}: in-process time over every regression beat"),
                t.elapsed().as_secs_f64() * 1000.0,
                Unit::Ms,
            );
            methods.push(RegressionScore::new(
                &detections,
                &data.series,
                &data.regression,
            ));
        }

        let quality = Self {
            sizes,
            data,
            methods,
            flaky: None,
            flaky_on_passing: None,
        };
        let history = Written {
            path,
            beats: written.beats,
            runs,
        };
        Ok((quality, history))
    }

    /// Imports the history into a fresh store, runs the reads and scores their JSON.
    fn drive(
        &mut self,
        ctx: &Ctx,
        work: &Path,
        result: &mut CaseResult,
        has: &dyn Fn(&str) -> bool,
        history: &Written,
    ) -> Result<()> {
        let quality = self;
        let runs = &history.runs;
        let state = work.join("quality-store");
        std::fs::create_dir_all(&state)?;
        let path_arg = history.path.to_string_lossy().into_owned();
        let import =
            baton_at(ctx, work, &state, &["import", &path_arg], IMPORT_TIMEOUT).capture_stdout();
        eprintln!("  signals: `baton import` of the quality history");
        let outcome = measure(&import)?;
        result.sides.push(SideResult::new(
            &format!("baton import ({} records, quality)", history.beats),
            import.to_string(),
            vec![outcome.sample],
        )?);
        note_import_summary(result, "quality", &outcome.stdout);
        let ids = quality.data.pipeline_ids();
        if has("regressions") {
            let spec = baton_at(
                ctx,
                work,
                &state,
                &["regressions", "--all", "--format", "json"],
                QUALITY_READ_TIMEOUT,
            )
            .capture_stdout();
            eprintln!("  signals: `baton regressions --all`");
            let outcome = measure(&spec)?;
            result.sides.push(SideResult::new(
                "baton regressions --all (quality)",
                spec.to_string(),
                vec![outcome.sample],
            )?);
            let out = score::parse_regressions(&outcome.stdout)?;
            let detections = score::baton_detections(&out, &quality.data.regression, &ids, runs);
            if detections.unmapped > 0 {
                result.note(format!(
                    "{} of baton's change points name a first run that is not a miss of \
                     their beat (counted as no detection)",
                    detections.unmapped
                ));
            }
            let score =
                RegressionScore::new(&detections, &quality.data.series, &quality.data.regression);
            let absent = quality.data.regression.len() - score.reported;
            if absent > 0 {
                result.note(format!(
                    "{absent} regression beats have no `cache_state: \"miss\"` entry in \
                     `baton regressions` (counted as no detection)"
                ));
            }
            quality.methods.insert(0, score);
        }
        if has("flaky") {
            let spec = baton_at(
                ctx,
                work,
                &state,
                &["flaky", "--all", "--format", "json", "--window", WINDOW],
                QUALITY_READ_TIMEOUT,
            )
            .capture_stdout();
            eprintln!("  signals: `baton flaky --all`");
            let outcome = measure(&spec)?;
            result.sides.push(SideResult::new(
                "baton flaky --all (quality)",
                spec.to_string(),
                vec![outcome.sample],
            )?);
            let out = score::parse_flaky(&outcome.stdout)?;
            let verdicts = score::verdict_of(&out, &ids, &quality.data.flaky);
            quality.flaky = Some((score::score_flaky(&quality.data.flaky, &verdicts), verdicts));
            // Regression beats never fail: any verdict but healthy (or too few runs)
            // is a false alarm.
            let passing: Vec<(&str, &str)> = quality
                .data
                .regression
                .iter()
                .map(|l| (ids[l.pipeline].as_str(), l.beat.as_str()))
                .collect();
            let verdicts: std::collections::HashMap<(&str, &str), &str> = out
                .beats
                .iter()
                .map(|b| {
                    (
                        (b.pipeline_id.as_str(), b.beat.as_str()),
                        b.verdict.as_str(),
                    )
                })
                .collect();
            let judged: Vec<&str> = passing
                .iter()
                .filter_map(|k| verdicts.get(k).copied())
                .collect();
            quality.flaky_on_passing = Some(Rate {
                count: judged
                    .iter()
                    .filter(|v| !matches!(**v, "healthy" | "insufficient_data"))
                    .count(),
                of: judged.len(),
            });
        }
        if has("trends") {
            let spec = baton_at(
                ctx,
                work,
                &state,
                &["trends", "--all", "--format", "json"],
                QUALITY_READ_TIMEOUT,
            )
            .capture_stdout();
            eprintln!("  signals: `baton trends --all`");
            let outcome = measure(&spec)?;
            let value: serde_json::Value = serde_json::from_str(&outcome.stdout)
                .context("`baton trends --all --format json` printed something other than JSON")?;
            if value
                .get("format_version")
                .and_then(serde_json::Value::as_u64)
                != Some(1)
            {
                result.note("`baton trends --format json` has no format_version 1");
            }
            result.sides.push(SideResult::new(
                "baton trends --all (quality)",
                spec.to_string(),
                vec![outcome.sample],
            )?);
        }
        Ok(())
    }

    fn report(&self, ctx: &Ctx, result: &mut CaseResult) {
        let series = &self.data.series;
        let methods = &self.methods;
        let low_noise = |s: &Series| s.spec.sigma <= TARGET_SIGMA + 1e-9;
        let and =
            |a: &dyn Fn(&Series) -> bool, b: &dyn Fn(&Series) -> bool, s: &Series| a(s) && b(s);

        // Recall tables: steps, then ramps.
        for (form, title) in [
            (generate::Form::Step, "steps"),
            (generate::Form::Ramp, "ramps (full shift after 5 misses)"),
        ] {
            let mut rows = Vec::new();
            for &shift in &SHIFTS {
                let shape = move |s: &Series| match form {
                    generate::Form::Step => score::is_step(shift)(s),
                    generate::Form::Ramp => score::is_ramp(shift)(s),
                };
                for m in methods {
                    let mut row = vec![format!("+{:.0}%", shift * 100.0), m.method.clone()];
                    for &sigma in &SIGMAS {
                        let f = |s: &Series| shape(s) && s.spec.sigma == sigma;
                        row.push(both(m.recall(series, 6, f), m.recall(series, 12, f)));
                    }
                    let f = |s: &Series| and(&shape, &low_noise, s);
                    row.push(both(m.recall(series, 6, f), m.recall(series, 12, f)));
                    let (delay, n) = m.median_delay(series, shape);
                    row.push(delay.map_or("–".to_owned(), |d| format!("{d:.0} (n={n})")));
                    rows.push(row);
                }
            }
            let mut header = vec!["shift".to_owned(), "method".to_owned()];
            header.extend(SIGMAS.iter().map(|s| format!("σ {s}")));
            header.push(format!("σ ≤ {TARGET_SIGMA}"));
            header.push("median delay".to_owned());
            result.tables.push(Table {
                title: format!(
                    "Recall of slowdowns ({title}): detected within 6 / within 12 miss runs \
                     after the change"
                ),
                header,
                rows,
                note: Some(format!(
                    "A hit is a `slower` change point at most {} miss runs from the true \
                     change, in the beat cut 6 (or 12) misses after it; every before-length \
                     (10, 20, 40 misses) and hit rate (0, 0.5, 0.9) pooled. The delay is the \
                     shortest cut (3, 6, 9, 12 misses after) that was detected, over the \
                     series detected at some cut (n).",
                    generate::HIT_TOLERANCE
                )),
            });
        }

        // False alarms.
        let mut rows = Vec::new();
        for m in methods {
            let mut row = vec![m.method.clone()];
            row.push(cell(m.alarms(series, score::is_stationary)));
            row.push(cell(
                m.alarms(series, |s| score::is_stationary(s) && low_noise(s)),
            ));
            for negative in HardNegative::ALL {
                row.push(cell(m.alarms(series, score::is_hard(Some(negative)))));
            }
            row.push(cell(m.alarms(series, score::is_hard(None))));
            rows.push(row);
        }
        let mut header = vec![
            "method".to_owned(),
            "stationary".to_owned(),
            format!("stationary σ ≤ {TARGET_SIGMA}"),
        ];
        header.extend(HardNegative::ALL.iter().map(|n| n.name().to_owned()));
        header.push("all hard negatives".to_owned());
        result.tables.push(Table {
            title: "False alarms: beats with any change point among beats with no change"
                .to_owned(),
            header,
            rows,
            note: Some(
                "Stationary series (noise, 1-3% outliers of 1.5-4x, a drift of at most 3%) \
                 count every cut; hard negatives are written once, 12 misses after where a \
                 change would be."
                    .to_owned(),
            ),
        });

        // By hit rate and by before-length.
        let mut rows = Vec::new();
        for m in methods {
            for &h in &HIT_PROBS {
                let at = |s: &Series| s.spec.hit_prob == h;
                let step = |shift: f64| {
                    move |s: &Series| score::is_step(shift)(s) && low_noise(s) && at(s)
                };
                rows.push(vec![
                    m.method.clone(),
                    format!("hits {:.0}%", h * 100.0),
                    cell(m.recall(series, 6, step(0.2))),
                    cell(m.recall(series, 6, step(0.5))),
                    cell(m.alarms(series, |s| score::is_stationary(s) && at(s))),
                ]);
            }
            for &before in &BEFORE {
                let at = |s: &Series| s.spec.before == before;
                let step = |shift: f64| {
                    move |s: &Series| score::is_step(shift)(s) && low_noise(s) && at(s)
                };
                rows.push(vec![
                    m.method.clone(),
                    format!("{before} misses before"),
                    cell(m.recall(series, 6, step(0.2))),
                    cell(m.recall(series, 6, step(0.5))),
                    cell(m.alarms(series, |s| score::is_stationary(s) && at(s))),
                ]);
            }
        }
        result.tables.push(Table {
            title: format!(
                "By cache-hit rate and by misses before the change (steps, σ ≤ {TARGET_SIGMA}, \
                 within 6 misses)"
            ),
            header: [
                "method",
                "series",
                "recall +20%",
                "recall +50%",
                "false alarms, stationary",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            note: Some(
                "The baselines see the miss series only, so the hit rate changes nothing for \
                 them but the draws; for baton it checks that hits and misses stay apart."
                    .to_owned(),
            ),
        });

        // Targets, every method side by side; baton's (when measured) also judged below.
        let target_figures = |m: &RegressionScore| {
            let step = |shift: f64| move |s: &Series| score::is_step(shift)(s) && low_noise(s);
            [
                m.recall(series, 6, step(0.2)).value(),
                m.recall(series, 6, step(0.5)).value(),
                m.alarms(series, score::is_stationary).value(),
                m.alarms(series, score::is_hard(None)).value(),
            ]
        };
        let specs: [(&str, &str, f64); 4] = [
            (
                "recall, +20% step, σ ≤ 0.05, within 6 misses",
                ">=",
                RECALL_20_TARGET,
            ),
            (
                "recall, +50% step, σ ≤ 0.05, within 6 misses",
                ">=",
                RECALL_50_TARGET,
            ),
            (
                "false alarms, stationary series",
                "<=",
                STATIONARY_FA_TARGET,
            ),
            ("false alarms, hard negatives", "<=", HARD_FA_TARGET),
        ];
        let figures: Vec<[Option<f64>; 4]> = methods.iter().map(target_figures).collect();
        let mut rows = Vec::new();
        for (k, (what, op, limit)) in specs.iter().enumerate() {
            let mut row = vec![what.to_string(), format!("{op} {:.0}%", limit * 100.0)];
            for f in &figures {
                row.push(match f[k] {
                    Some(v) => {
                        let met = if *op == ">=" {
                            v >= *limit
                        } else {
                            v <= *limit
                        };
                        format!("{:.1}% {}", v * 100.0, if met { "✅" } else { "❌" })
                    }
                    None => "–".to_owned(),
                });
            }
            rows.push(row);
        }
        let mut header = vec!["target".to_owned(), "limit".to_owned()];
        header.extend(methods.iter().map(|m| m.method.clone()));
        result.tables.push(Table {
            title: "Targets, every method".to_owned(),
            header,
            rows,
            note: None,
        });

        let quick = |t: Target| {
            if ctx.plan.quick {
                t.not_applicable(format!(
                    "quick mode: {} changed and {} stationary series per cell",
                    self.sizes.changed, self.sizes.stationary
                ))
            } else {
                t
            }
        };
        let baton = methods.iter().position(|m| m.method == "baton");
        for (k, (what, op, limit)) in specs.iter().enumerate() {
            let measured = baton.and_then(|b| figures[b][k]);
            let t = if *op == ">=" {
                Target::at_least(*what, measured, *limit, Unit::Share)
            } else {
                Target::at_most(*what, measured, *limit, Unit::Share)
            };
            result.targets.push(quick(t));
        }

        // Flaky.
        let labels = &self.data.flaky;
        let flaky_precision;
        let flaky_recall;
        if let Some((score, verdicts)) = &self.flaky {
            let verdict_names = ["flaky", "broken", "healthy", "insufficient_data", "missing"];
            let mut rows = Vec::new();
            for label in generate::FlakyLabel::ALL {
                let counts = score.confusion.get(label.as_str());
                let mut row = vec![label.as_str().to_owned()];
                for v in verdict_names {
                    row.push(
                        counts
                            .and_then(|c| c.get(v))
                            .copied()
                            .unwrap_or(0)
                            .to_string(),
                    );
                }
                let other: usize = counts
                    .map(|c| {
                        c.iter()
                            .filter(|(k, _)| !verdict_names.contains(&k.as_str()))
                            .map(|(_, n)| n)
                            .sum()
                    })
                    .unwrap_or(0);
                row.push(other.to_string());
                let class = &score.classes[label.as_str()];
                row.push(cell(class.precision));
                row.push(cell(class.recall));
                rows.push(row);
            }
            let mut header = vec!["label \\ verdict".to_owned()];
            header.extend(verdict_names.iter().map(|v| (*v).to_owned()));
            header.extend(["other", "precision", "recall"].map(str::to_owned));
            result.tables.push(Table {
                title: "Flaky verdicts against the labels (flaky scenario)".to_owned(),
                header,
                rows,
                note: Some(format!(
                    "Labels: broken when the history ends inside a breakage (its last 3-10 \
                     executed runs are one new key failing every time); else flaky when the \
                     keys fail at random (p > 0) and each key runs at least twice; else \
                     healthy. Outage days (every beat of every run of that day fails) change \
                     no label. Regression-scenario beats (they never fail) judged anything \
                     but healthy or insufficient_data: {}.",
                    self.flaky_on_passing.map_or("–".to_owned(), cell)
                )),
            });
            let mut rows = Vec::new();
            for &p in &generate::FAIL_PROBS[1..] {
                let mut row = vec![format!("p = {:.0}%", p * 100.0)];
                for &r in &generate::REPEATS[1..] {
                    let f = |l: &score::FlakyBeatLabel| {
                        l.spec.fail_prob == p
                            && l.spec.repeats == r
                            && l.spec.breakage == generate::Breakage::None
                    };
                    let recall = score::flaky_recall(labels, verdicts, f);
                    let cellf: Vec<&score::FlakyBeatLabel> =
                        labels.iter().filter(|l| f(l)).collect();
                    let evidence = Rate {
                        count: cellf.iter().filter(|l| l.evidence).count(),
                        of: cellf.len(),
                    };
                    let cleared = Rate {
                        count: cellf
                            .iter()
                            .filter(|l| l.evidence && l.last_five_passed)
                            .count(),
                        of: cellf.len(),
                    };
                    row.push(format!(
                        "{} · {} · {}",
                        recall.percent(),
                        evidence.percent(),
                        cleared.percent()
                    ));
                }
                rows.push(row);
            }
            let mut header = vec!["failure rate".to_owned()];
            header.extend(
                generate::REPEATS[1..]
                    .iter()
                    .map(|r| format!("{r} repeats")),
            );
            result.tables.push(Table {
                title: "Flaky recall by failure rate and repeats per key: recall · share with \
                        evidence · share with evidence whose last 5 runs passed"
                    .to_owned(),
                header,
                rows,
                note: Some(format!(
                    "Evidence: a key both passed and failed among executed runs. A beat whose \
                     last 5 executed runs passed is cleared by the issue's rule, so a beat \
                     failing at rate p can be called flaky at the end of its history with \
                     probability at most 1 - (1 - p)^5 (23% at 5%, 67% at 20%). {} runs per \
                     beat, 1 repeat per key is labelled healthy (not shown).",
                    generate::FLAKY_RUNS
                )),
            });
            flaky_precision = score.classes["flaky"].precision.value();
            flaky_recall = score.target_recall_standing.value();
            result.metric(
                "flaky: recall over every beat labelled flaky with p >= 5%, >= 3 repeats \
                 (cleared ones included)",
                score.target_recall.value().unwrap_or(0.0),
                Unit::Share,
            );
            result.metric(
                "flaky: labelled flaky with p >= 5%, >= 3 repeats, with evidence",
                score.target_evidence.value().unwrap_or(0.0),
                Unit::Share,
            );
            result.metric(
                "flaky: the same, whose last 5 executed runs passed",
                score.target_last_five_passed.value().unwrap_or(0.0),
                Unit::Share,
            );
        } else {
            flaky_precision = None;
            flaky_recall = None;
        }
        result.targets.push(quick(Target::at_least(
            "flaky precision",
            flaky_precision,
            FLAKY_PRECISION_TARGET,
            Unit::Share,
        )));
        result.targets.push(quick(Target::at_least(
            "flaky recall, keys failing >= 5% with >= 3 repeats, not cleared by 5 passes",
            flaky_recall,
            FLAKY_RECALL_TARGET,
            Unit::Share,
        )));

        result.details = Some(self.details());
    }

    /// Every rate behind the tables, per method, for results.json.
    fn details(&self) -> serde_json::Value {
        let series = &self.data.series;
        let methods: Vec<serde_json::Value> = self
            .methods
            .iter()
            .map(|m| {
                let mut recall = Vec::new();
                for form in [generate::Form::Step, generate::Form::Ramp] {
                    for &shift in &SHIFTS {
                        for &sigma in &SIGMAS {
                            for &before in &BEFORE {
                                for &after in &AFTER {
                                    let f = |s: &Series| {
                                        s.spec.kind == generate::Kind::Change { shift, form }
                                            && s.spec.sigma == sigma
                                            && s.spec.before == before
                                    };
                                    recall.push(json!({
                                        "form": form, "shift": shift, "sigma": sigma,
                                        "before": before, "within": after,
                                        "rate": m.recall(series, after, f),
                                    }));
                                }
                            }
                        }
                    }
                }
                let mut alarms = Vec::new();
                for &sigma in &SIGMAS {
                    let f = |s: &Series| score::is_stationary(s) && s.spec.sigma == sigma;
                    alarms.push(json!({"series": "stationary", "sigma": sigma,
                                       "rate": m.alarms(series, f)}));
                    for negative in HardNegative::ALL {
                        let f =
                            |s: &Series| score::is_hard(Some(negative))(s) && s.spec.sigma == sigma;
                        alarms.push(json!({"series": negative, "sigma": sigma,
                                           "rate": m.alarms(series, f)}));
                    }
                }
                json!({
                    "method": m.method,
                    "beats_reported": m.reported,
                    "unmapped_change_points": m.unmapped,
                    "recall": recall,
                    "false_alarms": alarms,
                })
            })
            .collect();
        let flaky_cells: Vec<serde_json::Value> = self
            .flaky
            .iter()
            .flat_map(|(_, verdicts)| {
                let labels = &self.data.flaky;
                generate::FAIL_PROBS.iter().flat_map(move |&p| {
                    generate::REPEATS.iter().map(move |&r| {
                        let f = |l: &score::FlakyBeatLabel| {
                            l.spec.fail_prob == p
                                && l.spec.repeats == r
                                && l.spec.breakage == generate::Breakage::None
                        };
                        let verdict = |name: &str| Rate {
                            count: labels
                                .iter()
                                .zip(verdicts)
                                .filter(|(l, v)| f(l) && v.as_deref() == Some(name))
                                .count(),
                            of: labels.iter().filter(|l| f(l)).count(),
                        };
                        json!({
                            "fail_prob": p, "repeats": r,
                            "flaky": verdict("flaky"), "broken": verdict("broken"),
                            "healthy": verdict("healthy"),
                            "with_evidence": labels.iter().filter(|l| f(l) && l.evidence).count(),
                        })
                    })
                })
            })
            .collect();
        json!({
            "sizes": self.sizes,
            "regressions": methods,
            "flaky": self.flaky.as_ref().map(|(s, _)| s),
            "flaky_by_cell": flaky_cells,
            "flaky_verdicts_on_passing_beats": self.flaky_on_passing,
        })
    }
}

/// Notes the last line `baton import` printed (its summary of imported, already
/// present and rejected lines): a rejected line changes every score.
fn note_import_summary(result: &mut CaseResult, which: &str, stdout: &str) {
    if let Some(last) = stdout.lines().rev().find(|l| !l.trim().is_empty()) {
        let last: String = last.chars().take(300).collect();
        result.note(format!(
            "`baton import` of the {which} history said: {}",
            last.trim()
        ));
    }
}

/// `r6 / r12` as percentages.
fn both(six: Rate, twelve: Rate) -> String {
    format!("{} / {}", six.percent(), twelve.percent())
}

/// A rate with what it rests on.
fn cell(rate: Rate) -> String {
    format!("{} ({}/{})", rate.percent1(), rate.count, rate.of)
}

#[derive(Debug, Clone, Copy)]
enum Method {
    TTest,
    EDivisive,
}

fn baseline(name: &str, method: Method, seed: u64, data: &dataset::Quality) -> Detections {
    let beats = data
        .regression
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let series = &data.series[label.series];
            let misses = generate::miss_durations(series.cut(label.after));
            let found: Vec<Found> = match method {
                Method::TTest => t_test(&misses),
                Method::EDivisive => e_divisive(&misses, seed ^ (i as u64).wrapping_mul(0x9E37)),
            };
            Some(found)
        })
        .collect();
    Detections {
        method: name.to_owned(),
        beats,
        unmapped: 0,
    }
}

/// labels.json beside a kept history: every series and flaky beat with its truth.
fn write_labels(work: &Path, seed: u64, sizes: &Sizes, data: &dataset::Quality) -> Result<()> {
    let series: Vec<&generate::SeriesSpec> = data.series.iter().map(|s| &s.spec).collect();
    let pipelines: Vec<serde_json::Value> = data
        .pipelines
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "runs": p.starts.len()}))
        .collect();
    let labels = json!({
        "seed": seed,
        "sizes": sizes,
        "pipelines": pipelines,
        "series": series,
        "regression_beats": data.regression,
        "flaky_beats": data.flaky,
    });
    let path = work.join("labels.json");
    let file =
        File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
    serde_json::to_writer(BufWriter::new(file), &labels)?;
    Ok(())
}

// ---------------------------------------------------------------- speed

/// The reads measured over the speed history.
const SPEED_READS: [(&str, &[&str]); 3] = [
    (
        "baton regressions --all",
        &["regressions", "--all", "--format", "json"],
    ),
    (
        "baton flaky --all",
        &["flaky", "--all", "--format", "json", "--window", WINDOW],
    ),
    (
        "baton trends --all",
        &["trends", "--all", "--format", "json"],
    ),
];

impl Signals {
    fn speed(
        &self,
        ctx: &Ctx,
        work: &Path,
        result: &mut CaseResult,
        has: &dyn Fn(&str) -> bool,
    ) -> Result<()> {
        let runs = self.speed_runs.unwrap_or(if ctx.plan.quick {
            speed::QUICK_RUNS
        } else {
            speed::FULL_RUNS
        });
        let path = work.join("speed.jsonl");
        let t = Instant::now();
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("failed to create {}", path.display()))?,
        );
        let written = speed::write(&mut out, self.seed, runs, history_end())?;
        out.flush()?;
        drop(out);
        let generate_ms = t.elapsed().as_secs_f64() * 1000.0;
        eprintln!(
            "  signals: wrote the speed history, {} runs x {} beats ({:.0} MB) in {:.1} s",
            written.runs,
            speed::BEATS,
            written.bytes as f64 / 1e6,
            generate_ms / 1000.0
        );
        result.metric(
            "speed history: beat records",
            written.beats as f64,
            Unit::Count,
        );
        result.metric("speed history: bytes", written.bytes as f64, Unit::Bytes);
        result.metric(
            "speed history: generated and written in",
            generate_ms,
            Unit::Ms,
        );
        if !has("import") {
            return Ok(());
        }
        let state = work.join("speed-store");
        std::fs::create_dir_all(&state)?;
        let path_arg = path.to_string_lossy().into_owned();
        let import =
            baton_at(ctx, work, &state, &["import", &path_arg], IMPORT_TIMEOUT).capture_stdout();
        eprintln!("  signals: `baton import` of the speed history");
        let outcome = measure(&import)?;
        note_import_summary(result, "speed", &outcome.stdout);
        let import_name = format!("baton import ({} records)", written.beats);
        result.sides.push(SideResult::new(
            &import_name,
            import.to_string(),
            vec![outcome.sample],
        )?);
        result.metric(
            "import throughput",
            written.beats as f64 / (outcome.sample.wall_ms / 1000.0),
            Unit::PerSecond,
        );
        let mut sides = Vec::new();
        for (name, args) in SPEED_READS {
            if !has(args[0]) {
                continue;
            }
            let spec = baton_at(ctx, work, &state, args, SPEED_READ_TIMEOUT);
            // One run first: a failure is reported with its stderr before the rounds.
            measure(&spec).with_context(|| format!("{name} failed on the speed history"))?;
            sides.push(Side::new(name, spec));
        }
        if !sides.is_empty() {
            let plan = Plan {
                warmup: false,
                ..ctx.plan
            };
            result
                .sides
                .extend(run_alternating("signals", &sides, plan)?);
        }
        Ok(())
    }
}

/// The speed targets from the measured sides (not measured when a side is absent;
/// n/a below 1M records).
fn speed_targets(ctx: &Ctx, result: &mut CaseResult) {
    let records = result
        .metrics
        .iter()
        .find(|m| m.name == "speed history: beat records")
        .map(|m| m.value);
    let small = records.is_none_or(|r| r < 1_000_000.0);
    let judge = |t: Target| {
        if small {
            t.not_applicable(format!(
                "{} records: the target is for 1,000,000{}",
                records.map_or("no".to_owned(), |r| format!("{r:.0}")),
                if ctx.plan.quick { " (quick mode)" } else { "" }
            ))
        } else {
            t
        }
    };
    let import = result
        .sides
        .iter()
        .find(|s| s.name.starts_with("baton import (") && !s.name.ends_with("quality)"))
        .map(|s| s.wall_ms.median);
    let mut targets = vec![judge(Target::at_most(
        "import of 100,000 runs x 10 beats (wall)",
        import,
        IMPORT_TARGET_MS,
        Unit::Ms,
    ))];
    for (name, _) in SPEED_READS {
        let side = result.side(name);
        targets.push(judge(Target::at_most(
            format!("{name} over 1M records (median wall)"),
            side.map(|s| s.wall_ms.median),
            READ_TARGET_MS,
            Unit::Ms,
        )));
        targets.push(judge(Target::at_most(
            format!("{name} over 1M records (peak RSS)"),
            side.map(|s| s.peak_rss_bytes.max),
            READ_RSS_TARGET_BYTES,
            Unit::Bytes,
        )));
    }
    result.targets.extend(targets);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-baton");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_missing_verb_is_told_apart_from_a_broken_binary() {
        let dir = tempfile::tempdir().unwrap();
        let missing = script(
            dir.path(),
            "echo \"baton: error: unrecognized subcommand '$1'\" >&2; exit 2",
        );
        match verb_state(&missing, "import") {
            VerbState::Missing(line) => assert!(line.contains("unrecognized subcommand")),
            other => panic!("{other:?}"),
        }
        let crashing = script(dir.path(), "echo boom >&2; exit 101");
        assert!(matches!(
            verb_state(&crashing, "import"),
            VerbState::Broken(_)
        ));
        let fine = script(dir.path(), "exit 0");
        assert_eq!(verb_state(&fine, "import"), VerbState::Present);
        assert!(matches!(
            verb_state(&dir.path().join("nothing"), "import"),
            VerbState::Broken(_)
        ));
    }

    #[test]
    fn the_history_ends_at_midnight_utc_in_the_past() {
        let end = history_end();
        assert_eq!(end.as_second() % 86_400, 0);
        assert!(end <= Timestamp::now());
    }
}
