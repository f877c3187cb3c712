//! The terminal summary of one run: a header line, a table with one row per beat,
//! a totals line, then the anomalies and SLA breaches. Colors (owo-colors) only when
//! the caller asks for them; the layout is the same either way.

use std::fmt::Write as _;

use baton_model::{BeatRecord, BeatStatus, CacheState, RunStatus, SlaStatus};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use owo_colors::{OwoColorize, Style};

use crate::format;
use crate::report::{RunReport, Summary};

/// Renders `report` for a terminal. `color` adds ANSI colors to statuses.
pub fn render_text(report: &RunReport, color: bool) -> String {
    let paint = Painter { color };
    let run = &report.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · {} · {} · {}",
        paint.bold(&run.pipeline_name),
        run.label,
        paint.run_status(run.status),
        format::duration_ms(report.summary.total_duration_ms)
    );
    out.push_str(&beats_table(report, paint));
    out.push('\n');
    out.push_str(&totals_line(&report.summary));
    out.push('\n');

    let failed: Vec<_> = report
        .beats
        .iter()
        .filter(|b| b.status.is_failure())
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nFailed ({}):", failed.len());
        for b in failed {
            let how = match (b.exit_code, b.signal) {
                (_, Some(signal)) => format!("killed by signal {signal}"),
                (Some(code), None) => format!("exit {code}"),
                (None, None) => b.status.as_str().to_string(),
            };
            let why = b
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let log = b
                .log_path
                .as_deref()
                .map(|l| format!(" (log: {l})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  ✗ {}: {how}{why}{log}", b.beat);
        }
    }

    if !report.anomalies.is_empty() {
        let _ = writeln!(out, "\nAnomalies ({}):", report.anomalies.len());
        for a in &report.anomalies {
            let _ = writeln!(
                out,
                "  {} {}: {} [{}]",
                paint.warn("!"),
                a.beat,
                a.message,
                a.rule
            );
        }
    }
    if !report.breaches.is_empty() {
        let _ = writeln!(out, "\nSLA breaches ({}):", report.breaches.len());
        for b in &report.breaches {
            let _ = writeln!(
                out,
                "  {} {}: {}, {} against an SLO of {} ({}, {}){}",
                paint.sla_marker(b.status),
                b.beat,
                paint.sla(b.status, b.status.as_str()),
                format::duration_ms(b.actual_ms),
                format::duration_ms(b.slo_ms),
                format::ratio(b.ratio),
                format::signed_percent(b.duration_breach_percent),
                if b.errors_status >= SlaStatus::Breach {
                    format!(", {} errors (SLO {})", b.errors_count, b.errors_slo)
                } else {
                    String::new()
                }
            );
        }
    }
    out
}

fn beats_table(report: &RunReport, paint: Painter) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "Movement", "Beat", "Status", "Duration", "SLO", "SLA", "Memory", "CPU", "Cache",
            "Shape",
        ]);
    let mut previous_movement = None;
    for b in &report.beats {
        let movement = if previous_movement == Some(b.movement_index) {
            String::new()
        } else {
            format!("{} {}", u64::from(b.movement_index) + 1, b.movement)
        };
        previous_movement = Some(b.movement_index);
        let ran = b.status != BeatStatus::Skipped;
        table.add_row(vec![
            movement,
            b.beat.clone(),
            paint.beat_status(b.status),
            if ran {
                format::duration_ms(b.duration_ms)
            } else {
                "-".into()
            },
            format::duration_ms(u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX)),
            if ran {
                paint.sla(b.sla.overall_status, &sla_cell(b))
            } else {
                "-".into()
            },
            if ran {
                format::bytes(b.peak_rss_bytes)
            } else {
                "-".into()
            },
            if ran { format::cpu(b) } else { "-".into() },
            cache_cell(b.cache_state).into(),
            if ran {
                format::shape_change(&b.shape).into()
            } else {
                "-".into()
            },
        ]);
    }
    for column in [3, 4, 6, 7] {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

/// `breach +62.0%`: the overall status with what drove it (see [`format::sla_detail`]).
fn sla_cell(b: &BeatRecord) -> String {
    format!("{} {}", b.sla.overall_status, format::sla_detail(b))
}

pub(crate) fn cache_cell(state: CacheState) -> &'static str {
    match state {
        CacheState::Skip => "-",
        other => other.as_str(),
    }
}

fn totals_line(s: &Summary) -> String {
    let mut parts = vec![format!(
        "{} beats: {} succeeded, {} failed{}{}",
        s.beats,
        s.succeeded,
        s.failed,
        if s.cancelled > 0 {
            format!(", {} cancelled", s.cancelled)
        } else {
            String::new()
        },
        if s.skipped > 0 {
            format!(", {} skipped", s.skipped)
        } else {
            String::new()
        },
    )];
    if let Some(rate) = s.success_rate {
        parts.push(format!("success rate {}", format::percent(rate)));
    }
    parts.push(format!(
        "SLA {} compliant, {} warning, {} breach, {} critical",
        s.compliant, s.warning, s.breach, s.critical
    ));
    if let Some(rate) = s.cache_hit_rate {
        parts.push(format!("cache hit rate {}", format::percent(rate)));
    }
    parts.push(format!(
        "CPU {} user + {} sys",
        format::duration_ms(s.cpu_user_ms),
        format::duration_ms(s.cpu_sys_ms)
    ));
    parts.push(format!("peak memory {}", format::bytes(s.peak_rss_bytes)));
    if let Some(cost) = s.cost_usd {
        parts.push(format!("cost ${cost:.2}"));
    }
    parts.push(format!(
        "total {}",
        format::duration_ms(s.total_duration_ms)
    ));
    parts.join(" · ")
}

/// Applies ANSI styles when color is on, passes text through otherwise.
#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint(text, Style::new().bold())
    }

    fn warn(self, text: &str) -> String {
        self.paint(text, Style::new().yellow().bold())
    }

    fn run_status(self, status: RunStatus) -> String {
        let style = match status {
            RunStatus::Success => Style::new().green().bold(),
            RunStatus::Failure => Style::new().red().bold(),
            RunStatus::Cancelled | RunStatus::Abandoned => Style::new().yellow().bold(),
            RunStatus::Running => Style::new().cyan(),
        };
        self.paint(status.as_str(), style)
    }

    fn beat_status(self, status: BeatStatus) -> String {
        let style = match status {
            BeatStatus::Success => Style::new().green(),
            BeatStatus::Failure | BeatStatus::Timeout => Style::new().red().bold(),
            BeatStatus::Cancelled => Style::new().yellow(),
            BeatStatus::Skipped => Style::new().dimmed(),
        };
        self.paint(status.as_str(), style)
    }

    fn sla(self, status: SlaStatus, text: &str) -> String {
        let style = match status {
            SlaStatus::Compliant => Style::new().green(),
            SlaStatus::Warning => Style::new().yellow(),
            SlaStatus::Breach => Style::new().red(),
            SlaStatus::Critical => Style::new().bright_red().bold(),
        };
        self.paint(text, style)
    }

    fn sla_marker(self, status: SlaStatus) -> String {
        self.sla(status, "✗")
    }
}
