//! The shape every case shares: sides run alternately, their summaries, the ratios
//! between them, derived metrics and targets with a met/not met verdict.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::measure::{CmdSpec, Sample, measure};
use crate::stats::{Stat, median};

/// How many times to run each side.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Plan {
    pub rounds: usize,
    pub warmup: bool,
    pub quick: bool,
}

impl Plan {
    /// Cheap cases (a few milliseconds per execution) take more rounds for a stable
    /// median; quick mode always runs once.
    pub(crate) fn scaled(self, factor: usize) -> Self {
        if self.quick {
            self
        } else {
            Self {
                rounds: self.rounds * factor,
                ..self
            }
        }
    }
}

/// What every case gets: the binary under test, the workspace, the plan.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub baton: PathBuf,
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub plan: Plan,
    /// `--setup`: install missing baselines (`cargo install just`).
    pub setup: bool,
    /// Runs in the store case's history (30,000 full, 300 quick).
    pub store_runs: usize,
}

impl Ctx {
    /// A baton command with the environment every baton side uses: no progress view,
    /// state next to the pipeline (no inherited `$BATON_DIR`), no CI step summary.
    pub(crate) fn baton(&self, cwd: impl Into<PathBuf>) -> CmdSpec {
        CmdSpec::new(&self.baton, cwd)
            .env("BATON_NO_PROGRESS", "1")
            .env_remove("BATON_DIR")
            .env_remove("GITHUB_STEP_SUMMARY")
    }

    /// Whether this baton build has the verb (`&["shape", "log"]` for a nested one).
    pub(crate) fn has_verb(&self, verb: &[&str]) -> bool {
        Command::new(&self.baton)
            .args(verb)
            .arg("--help")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether `baton VERB --help` mentions `needle` (a flag such as `--no-telemetry`).
    pub(crate) fn help_mentions(&self, verb: &[&str], needle: &str) -> bool {
        Command::new(&self.baton)
            .args(verb)
            .arg("--help")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(needle)
            })
    }
}

/// One side of a case: a named command.
#[derive(Debug, Clone)]
pub(crate) struct Side {
    pub name: String,
    pub spec: CmdSpec,
}

impl Side {
    pub(crate) fn new(name: impl Into<String>, spec: CmdSpec) -> Self {
        Self {
            name: name.into(),
            spec,
        }
    }
}

/// Runs one warm-up of each side (unless the plan says not to), then `rounds` rounds
/// of A B C A B C ..., so slow drifts of the machine hit every side alike.
pub(crate) fn run_alternating(label: &str, sides: &[Side], plan: Plan) -> Result<Vec<SideResult>> {
    run_alternating_within(label, sides, plan, None)
}

/// Fewest rounds a time budget may cut a full run down to.
pub(crate) const MIN_ROUNDS: usize = 3;

/// [`run_alternating`], but starts no new round once `budget` has been spent (counting
/// the warm-up) and at least [`MIN_ROUNDS`] are done: keeps slow cases bounded. The
/// sides' sample counts tell how many rounds ran.
pub(crate) fn run_alternating_within(
    label: &str,
    sides: &[Side],
    plan: Plan,
    budget: Option<Duration>,
) -> Result<Vec<SideResult>> {
    let started = Instant::now();
    if plan.warmup {
        for side in sides {
            measure(&side.spec)?;
        }
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(plan.rounds); sides.len()];
    for round in 0..plan.rounds {
        let spent = budget.is_some_and(|b| started.elapsed() > b);
        if spent && round >= MIN_ROUNDS {
            eprint!(" (time budget spent)");
            break;
        }
        eprint!("\r  {label}: round {}/{}", round + 1, plan.rounds);
        for (side, out) in sides.iter().zip(&mut samples) {
            out.push(measure(&side.spec)?.sample);
        }
    }
    eprintln!();
    sides
        .iter()
        .zip(samples)
        .map(|(side, samples)| SideResult::new(&side.name, side.spec.to_string(), samples))
        .collect()
}

/// A side's samples and their summaries.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SideResult {
    pub name: String,
    pub command: String,
    pub wall_ms: Stat,
    pub cpu_ms: Stat,
    pub peak_rss_bytes: Stat,
    pub samples: Vec<Sample>,
}

impl SideResult {
    pub(crate) fn new(name: &str, command: String, samples: Vec<Sample>) -> Result<Self> {
        let of = |f: fn(&Sample) -> f64| Stat::of(&samples.iter().map(f).collect::<Vec<_>>());
        let (Some(wall_ms), Some(cpu_ms), Some(peak_rss_bytes)) = (
            of(|s| s.wall_ms),
            of(Sample::cpu_ms),
            of(|s| s.peak_rss_bytes as f64),
        ) else {
            bail!("side {name} has no samples");
        };
        Ok(Self {
            name: name.to_owned(),
            command,
            wall_ms,
            cpu_ms,
            peak_rss_bytes,
            samples,
        })
    }
}

/// Ratios of one side (the subject, baton) to one baseline.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    pub subject: String,
    pub baseline: String,
    /// Ratio of the medians: subject / baseline.
    pub wall_ratio: f64,
    pub cpu_ratio: f64,
    pub rss_ratio: f64,
    /// Median of the per-round wall ratios (round i of the subject / round i of the
    /// baseline): the pairs ran next to each other, so this cancels slow drift.
    pub paired_wall_ratio: Option<f64>,
}

impl Comparison {
    pub(crate) fn new(subject: &SideResult, baseline: &SideResult) -> Self {
        let paired: Vec<f64> = subject
            .samples
            .iter()
            .zip(&baseline.samples)
            .map(|(a, b)| a.wall_ms / b.wall_ms)
            .collect();
        Self {
            subject: subject.name.clone(),
            baseline: baseline.name.clone(),
            wall_ratio: subject.wall_ms.median / baseline.wall_ms.median,
            cpu_ratio: subject.cpu_ms.median / baseline.cpu_ms.median,
            rss_ratio: subject.peak_rss_bytes.median / baseline.peak_rss_bytes.median,
            paired_wall_ratio: if subject.samples.len() == baseline.samples.len() {
                median(&paired)
            } else {
                None
            },
        }
    }
}

/// Units of metrics and targets; they decide how a value is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Unit {
    Ms,
    Bytes,
    Ratio,
    Percent,
    PerSecond,
    /// Throughput in megabytes per second (as the measured program counts them).
    #[serde(rename = "mb_per_second")]
    MbPerSecond,
    Count,
    /// A proportion (0.85) shown as a percentage (85.0%).
    Share,
}

impl Unit {
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Self::Ms => format_ms(value),
            Self::Bytes => format!("{:.1} MB", value / 1e6),
            Self::Ratio => format!("{value:.3}"),
            Self::Percent => format!("{value:+.2} %"),
            Self::PerSecond => format!("{value:.0}/s"),
            Self::MbPerSecond => format!("{value:.0} MB/s"),
            Self::Count => format!("{value:.0}"),
            Self::Share => format!("{:.1}%", value * 100.0),
        }
    }
}

/// Milliseconds, as seconds above one second.
pub(crate) fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.3} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// A derived figure of a case (overhead per beat, insert throughput, ...).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
}

/// Whether a target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Met,
    NotMet,
    /// The figure could not be measured (a side was skipped, a verb is missing).
    NotMeasured,
    /// Measured, but not under the target's conditions (quick mode's small store).
    NotApplicable,
}

impl Verdict {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotMet => "not met",
            Self::NotMeasured => "not measured",
            Self::NotApplicable => "n/a",
        }
    }
}

/// A target of a case: `measured <= limit` (or `<`, `>=`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    pub what: String,
    pub measured: Option<f64>,
    pub op: &'static str,
    pub limit: f64,
    pub unit: Unit,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Target {
    pub(crate) fn at_most(
        what: impl Into<String>,
        measured: Option<f64>,
        limit: f64,
        unit: Unit,
    ) -> Self {
        Self::new(
            what.into(),
            measured,
            "<=",
            limit,
            unit,
            measured.map(|m| m <= limit),
        )
    }

    pub(crate) fn at_least(
        what: impl Into<String>,
        measured: Option<f64>,
        limit: f64,
        unit: Unit,
    ) -> Self {
        Self::new(
            what.into(),
            measured,
            ">=",
            limit,
            unit,
            measured.map(|m| m >= limit),
        )
    }

    pub(crate) fn below(
        what: impl Into<String>,
        measured: Option<f64>,
        limit: f64,
        unit: Unit,
    ) -> Self {
        Self::new(
            what.into(),
            measured,
            "<",
            limit,
            unit,
            measured.map(|m| m < limit),
        )
    }

    fn new(
        what: String,
        measured: Option<f64>,
        op: &'static str,
        limit: f64,
        unit: Unit,
        met: Option<bool>,
    ) -> Self {
        let verdict = match met {
            Some(true) => Verdict::Met,
            Some(false) => Verdict::NotMet,
            None => Verdict::NotMeasured,
        };
        Self {
            what,
            measured,
            op,
            limit,
            unit,
            verdict,
            note: None,
        }
    }

    /// A target whose figure could not be obtained because the thing measured failed
    /// (a query that did not finish in its timeout): not met.
    pub(crate) fn failed(
        what: impl Into<String>,
        limit: f64,
        unit: Unit,
        why: impl Into<String>,
    ) -> Self {
        let mut t = Self::new(what.into(), None, "<=", limit, unit, Some(false));
        t.note = Some(why.into());
        t
    }

    /// Marks a measured target as not judged, with the reason.
    pub(crate) fn not_applicable(mut self, why: impl Into<String>) -> Self {
        if self.measured.is_some() {
            self.verdict = Verdict::NotApplicable;
            self.note = Some(why.into());
        }
        self
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Everything a case reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseResult {
    pub name: String,
    pub about: String,
    /// The first side is the subject (baton); the others are its baselines.
    pub sides: Vec<SideResult>,
    pub comparisons: Vec<Comparison>,
    pub metrics: Vec<Metric>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
    /// Tables of figures that are not timings (the signal-quality scores).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Raw figures behind the tables, for results.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    pub error: Option<String>,
    pub elapsed_s: f64,
}

/// A table a case reports beside its measurements (rendered as Markdown).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CaseResult {
    pub(crate) fn new(name: &str, about: &str) -> Self {
        Self {
            name: name.to_owned(),
            about: about.to_owned(),
            sides: Vec::new(),
            comparisons: Vec::new(),
            metrics: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
            tables: Vec::new(),
            details: None,
            error: None,
            elapsed_s: 0.0,
        }
    }

    /// Adds sides and compares the first with each of the others.
    pub(crate) fn with_sides(mut self, sides: Vec<SideResult>) -> Self {
        if let Some((subject, baselines)) = sides.split_first() {
            self.comparisons
                .extend(baselines.iter().map(|b| Comparison::new(subject, b)));
        }
        self.sides.extend(sides);
        self
    }

    pub(crate) fn side(&self, name: &str) -> Option<&SideResult> {
        self.sides.iter().find(|s| s.name == name)
    }

    pub(crate) fn comparison(&self, baseline: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.baseline == baseline)
    }

    pub(crate) fn metric(&mut self, name: impl Into<String>, value: f64, unit: Unit) {
        self.metrics.push(Metric {
            name: name.into(),
            value,
            unit,
        });
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Notes when a time budget cut the rounds short.
    pub(crate) fn note_budget(&mut self, plan: Plan, budget: Duration) {
        let rounds = self
            .sides
            .iter()
            .map(|s| s.samples.len())
            .min()
            .unwrap_or(0);
        if rounds < plan.rounds {
            self.note(format!(
                "{rounds} rounds instead of {}: the case's time budget is {} s",
                plan.rounds,
                budget.as_secs()
            ));
        }
    }
}

/// A benchmark case. Add one by writing a file under `cases/` and listing it in
/// [`crate::cases::all`].
pub(crate) trait Case {
    /// The name `--only` selects it by.
    fn name(&self) -> &'static str;
    /// One line: what it measures against what.
    fn about(&self) -> &'static str;
    /// Prepares fixtures, runs the sides, reports. `earlier` holds the results of the
    /// cases that ran before it in this invocation (a case may derive from them).
    fn run(&self, ctx: &Ctx, earlier: &[CaseResult]) -> Result<CaseResult>;
}
