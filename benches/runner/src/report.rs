//! The suite's report: the machine it ran on, every case's sides, ratios, metrics and
//! targets; rendered as Markdown (stdout and `results.md`) and JSON (`results.json`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::Stat;
use crate::suite::{CaseResult, Plan, Unit, Verdict, format_ms};

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub generated_at: String,
    pub mode: &'static str,
    pub plan: Plan,
    pub machine: Machine,
    pub baton: Binary,
    pub cases: Vec<CaseResult>,
    pub elapsed_s: f64,
    /// 1-minute load average when the suite started and when it ended: other work on
    /// the machine shows up here, and in the figures.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

/// The 1-minute load average (Linux).
pub(crate) fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[derive(Debug, Serialize)]
pub(crate) struct Binary {
    pub path: String,
    pub version: Option<String>,
    pub commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    pub cores: usize,
    pub cpu: Option<String>,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| format!("Linux {}", s.trim()));
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            memory_bytes,
            kernel,
        }
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!("{} cores", self.cores);
        if let Some(m) = self.memory_bytes {
            let _ = write!(s, ", {:.1} GiB RAM", m as f64 / (1u64 << 30) as f64);
        }
        if let Some(cpu) = &self.cpu {
            let _ = write!(s, ", {cpu}");
        }
        if let Some(k) = &self.kernel {
            let _ = write!(s, ", {k}");
        }
        s
    }
}

impl Report {
    pub(crate) fn markdown(&self) -> String {
        let mut md = String::new();
        let rounds = if self.plan.quick {
            "quick mode: one run per side, no warm-up (a smoke run: figures are indicative)"
                .to_owned()
        } else {
            format!(
                "{} rounds per side after {} warm-up, sides alternating (A B A B ...)",
                self.plan.rounds,
                if self.plan.warmup { "one" } else { "no" }
            )
        };
        let _ = writeln!(md, "## baton benchmark results\n");
        let _ = writeln!(
            md,
            "- when: {} ({:.0} s)",
            self.generated_at, self.elapsed_s
        );
        let _ = writeln!(md, "- machine: {}", self.machine.describe());
        if let (Some(before), Some(after)) = (self.load_before, self.load_after) {
            let _ = writeln!(
                md,
                "- load average (1 min): {before:.2} at the start, {after:.2} at the end"
            );
        }
        let _ = writeln!(
            md,
            "- baton: {}{}",
            self.baton.version.as_deref().unwrap_or("unknown version"),
            self.baton
                .commit
                .as_deref()
                .map(|c| format!(" (commit {c})"))
                .unwrap_or_default()
        );
        let _ = writeln!(md, "- {rounds}");
        let _ = writeln!(
            md,
            "- wall: monotonic clock around spawn..exit; CPU: user+sys from wait4;"
        );
        let _ = writeln!(
            md,
            "  peak RSS: wait4 ru_maxrss (largest of the process and the children it reaped)\n"
        );

        let _ = writeln!(md, "### Measurements (median, min–max)\n");
        let _ = writeln!(md, "| case | side | wall | CPU | peak RSS | runs |");
        let _ = writeln!(md, "| --- | --- | ---: | ---: | ---: | ---: |");
        for case in &self.cases {
            for side in &case.sides {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} |",
                    case.name,
                    side.name,
                    spread(&side.wall_ms, Unit::Ms),
                    spread(&side.cpu_ms, Unit::Ms),
                    spread(&side.peak_rss_bytes, Unit::Bytes),
                    side.samples.len()
                );
            }
        }

        let comparisons: Vec<_> = self
            .cases
            .iter()
            .flat_map(|c| c.comparisons.iter().map(move |p| (c, p)))
            .collect();
        if !comparisons.is_empty() {
            let _ = writeln!(md, "\n### Ratios (first side / baseline)\n");
            let _ = writeln!(
                md,
                "| case | pair | wall | CPU | peak RSS | wall, per-round pairs |"
            );
            let _ = writeln!(md, "| --- | --- | ---: | ---: | ---: | ---: |");
            for (case, c) in comparisons {
                let _ = writeln!(
                    md,
                    "| {} | {} / {} | {:.3} | {:.3} | {:.3} | {} |",
                    case.name,
                    c.subject,
                    c.baseline,
                    c.wall_ratio,
                    c.cpu_ratio,
                    c.rss_ratio,
                    c.paired_wall_ratio
                        .map_or("–".to_owned(), |r| format!("{r:.3}"))
                );
            }
        }

        let _ = writeln!(md, "\n### Targets\n");
        let _ = writeln!(md, "| case | target | measured | limit | verdict |");
        let _ = writeln!(md, "| --- | --- | ---: | ---: | --- |");
        for case in &self.cases {
            for t in &case.targets {
                let verdict = match (t.verdict, &t.note) {
                    (Verdict::Met, _) => "✅ met".to_owned(),
                    (Verdict::NotMet, _) => "❌ not met".to_owned(),
                    (Verdict::NotApplicable, Some(note)) => format!("n/a ({note})"),
                    (v, _) => v.label().to_owned(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} {} | {} |",
                    case.name,
                    t.what,
                    t.measured.map_or("–".to_owned(), |m| t.unit.format(m)),
                    t.op,
                    t.unit.format(t.limit),
                    verdict
                );
            }
            if let Some(err) = &case.error {
                let _ = writeln!(
                    md,
                    "| {} | (case failed) | – | – | error: {} |",
                    case.name,
                    one_line(err)
                );
            }
        }

        let _ = writeln!(md, "\n### Per case\n");
        for case in &self.cases {
            let _ = writeln!(
                md,
                "**{}** ({:.1} s): {}\n",
                case.name, case.elapsed_s, case.about
            );
            for side in &case.sides {
                let _ = writeln!(md, "- `{}`: `{}`", side.name, side.command);
            }
            for m in &case.metrics {
                let _ = writeln!(md, "- {}: {}", m.name, m.unit.format(m.value));
            }
            for t in &case.targets {
                if let Some(note) = &t.note
                    && t.verdict != Verdict::NotApplicable
                {
                    let _ = writeln!(md, "- {}: {}", t.what, one_line(note));
                }
            }
            for n in &case.notes {
                let _ = writeln!(md, "- note: {}", one_line(n));
            }
            for table in &case.tables {
                let _ = writeln!(md, "\n{}\n", table.title);
                let _ = writeln!(md, "| {} |", table.header.join(" | "));
                let _ = writeln!(md, "|{}", " --- |".repeat(table.header.len()));
                for row in &table.rows {
                    let cells: Vec<String> = row.iter().map(|c| one_line(c)).collect();
                    let _ = writeln!(md, "| {} |", cells.join(" | "));
                }
                if let Some(note) = &table.note {
                    let _ = writeln!(md, "\n{}", one_line(note));
                }
            }
            if !case.tables.is_empty() {
                md.push('\n');
            }
            if let Some(err) = &case.error {
                let _ = writeln!(md, "- **error**: {}", one_line(err));
            }
            md.push('\n');
        }
        md
    }
}

fn spread(s: &Stat, unit: Unit) -> String {
    let f = |v: f64| match unit {
        Unit::Ms => format_ms(v),
        other => other.format(v),
    };
    if s.min == s.max {
        f(s.median)
    } else {
        format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ⏎ ").replace('|', "\\|")
}
