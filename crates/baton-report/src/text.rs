//! The terminal summary of one run: a header line, a table with one row per beat,
//! a totals line, then the failures, rollbacks, anomalies, SLA breaches and what
//! changed in the evolved shapes. Colors only when the caller
//! asks for them; the layout is the same either way. Lines are painted with
//! owo-colors; table cells with comfy-table's own styling, which it applies after
//! laying the table out (measuring ANSI-coloured text instead, its
//! `custom_styling` feature, made the summary of 34 beats cost 0.2 ms).

use baton_model::escape::escape_control;
use std::fmt::Write as _;

use baton_model::{BeatRecord, BeatStatus, CacheState, RunStatus, SlaStatus};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
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
            let how = match (b.exit_code, b.signal, &b.reason) {
                // The reason already names the signal.
                (_, Some(_), Some(reason)) => reason.clone(),
                (_, Some(signal), None) => format!("killed by signal {signal}"),
                (Some(code), None, _) => format!("exit {code}"),
                (None, None, _) => b.status.as_str().to_string(),
            };
            let why = b
                .reason
                .as_deref()
                .filter(|_| b.signal.is_none())
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            // A beat that wrote nothing has no log to point at.
            let log = b
                .log_path
                .as_deref()
                .map_or_else(|| " (no output)".to_owned(), |l| format!(" (log: {l})"));
            let line = format!("  ✗ {}: {how}{why}{log}", b.beat);
            let _ = writeln!(out, "{}", escape_control(&line));
        }
    }

    let rolled_back = report.rollbacks();
    if !rolled_back.is_empty() {
        let _ = writeln!(
            out,
            "\nRollbacks ({}, in the order they ran):",
            rolled_back.len()
        );
        for (b, r) in rolled_back {
            let line = format!("  ↺ {}: {}", b.beat, format::rollback(r));
            let _ = writeln!(out, "{}", escape_control(&line));
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
            // A failed beat's duration is not judged: only what it is judged by.
            let duration = (b.duration_status > SlaStatus::Compliant).then(|| {
                format!(
                    "{} against an SLO of {} ({}, {})",
                    format::duration_ms(b.actual_ms),
                    format::duration_ms(b.slo_ms),
                    format::ratio(b.ratio),
                    format::signed_percent(b.duration_breach_percent),
                )
            });
            let errors = (b.errors_status >= SlaStatus::Breach).then(|| {
                format!(
                    "{} (SLO {})",
                    format::count(b.errors_count, "error"),
                    b.errors_slo
                )
            });
            let because: Vec<String> = duration.into_iter().chain(errors).collect();
            let _ = writeln!(
                out,
                "  {} {}: {}, {}",
                paint.sla_marker(b.status),
                b.beat,
                paint.paint(b.status.as_str(), sla_tone(b.status)),
                because.join(", ")
            );
        }
    }
    if !report.evolved_shapes.is_empty() {
        let _ = writeln!(out, "\nEvolved shapes ({}):", report.evolved_shapes.len());
        for e in &report.evolved_shapes {
            let what = if e.changes.is_empty() {
                match &e.previous_hash {
                    Some(previous) => format!(
                        "shape {} → {}",
                        format::short_hash(previous),
                        format::short_hash(&e.new_hash)
                    ),
                    None => format!("shape {}", format::short_hash(&e.new_hash)),
                }
            } else {
                format::shape_changes(&e.changes)
            };
            let line = format!("  Δ {}: {what}", e.beat);
            let _ = writeln!(out, "{}", escape_control(&line));
        }
    }
    out
}

fn beats_table(report: &RunReport, paint: Painter) -> String {
    let mut table = Table::new();
    if paint.color {
        table.enforce_styling().style_text_only();
    } else {
        table.force_no_tty();
    }
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
        let judged = b.status.is_judged();
        let dash = || Cell::new("-");
        table.add_row(vec![
            Cell::new(movement),
            Cell::new(&b.beat),
            paint.cell(&format::status_with_attempts(b), beat_tone(b.status)),
            if ran {
                Cell::new(format::duration_ms(b.duration_ms))
            } else {
                dash()
            },
            Cell::new(format::duration_ms(
                u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX),
            )),
            if judged {
                paint.cell(&sla_cell(b), sla_tone(b.sla.overall_status))
            } else {
                dash()
            },
            if ran {
                Cell::new(format::bytes(b.peak_rss_bytes))
            } else {
                dash()
            },
            if ran {
                Cell::new(format::cpu(b))
            } else {
                dash()
            },
            Cell::new(cache_cell(b.cache_state)),
            if judged {
                Cell::new(format::shape_change(&b.shape))
            } else {
                dash()
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
        "{}: {} succeeded, {} failed{}{}",
        format::count(s.beats, "beat"),
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

/// A color and weight, for lines (owo-colors) and table cells (comfy-table) alike.
#[derive(Clone, Copy)]
enum Tone {
    Green,
    GreenBold,
    Yellow,
    YellowBold,
    Red,
    RedBold,
    BrightRedBold,
    Cyan,
    Dim,
    Bold,
}

impl Tone {
    fn style(self) -> Style {
        match self {
            Tone::Green => Style::new().green(),
            Tone::GreenBold => Style::new().green().bold(),
            Tone::Yellow => Style::new().yellow(),
            Tone::YellowBold => Style::new().yellow().bold(),
            Tone::Red => Style::new().red(),
            Tone::RedBold => Style::new().red().bold(),
            Tone::BrightRedBold => Style::new().bright_red().bold(),
            Tone::Cyan => Style::new().cyan(),
            Tone::Dim => Style::new().dimmed(),
            Tone::Bold => Style::new().bold(),
        }
    }

    fn cell(self, text: &str) -> Cell {
        let cell = Cell::new(text);
        let (color, bold) = match self {
            Tone::Green => (Some(Color::DarkGreen), false),
            Tone::GreenBold => (Some(Color::DarkGreen), true),
            Tone::Yellow => (Some(Color::DarkYellow), false),
            Tone::YellowBold => (Some(Color::DarkYellow), true),
            Tone::Red => (Some(Color::DarkRed), false),
            Tone::RedBold => (Some(Color::DarkRed), true),
            Tone::BrightRedBold => (Some(Color::Red), true),
            Tone::Cyan => (Some(Color::DarkCyan), false),
            Tone::Dim => return cell.add_attribute(Attribute::Dim),
            Tone::Bold => (None, true),
        };
        let cell = match color {
            Some(color) => cell.fg(color),
            None => cell,
        };
        if bold {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }
}

fn beat_tone(status: BeatStatus) -> Tone {
    match status {
        BeatStatus::Success => Tone::Green,
        BeatStatus::Failure | BeatStatus::Timeout => Tone::RedBold,
        BeatStatus::Cancelled => Tone::Yellow,
        BeatStatus::Skipped => Tone::Dim,
    }
}

fn sla_tone(status: SlaStatus) -> Tone {
    match status {
        SlaStatus::Compliant => Tone::Green,
        SlaStatus::Warning => Tone::Yellow,
        SlaStatus::Breach => Tone::Red,
        SlaStatus::Critical => Tone::BrightRedBold,
    }
}

/// Applies ANSI styles when color is on, passes text through otherwise.
#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(self, text: &str, tone: Tone) -> String {
        if self.color {
            text.style(tone.style()).to_string()
        } else {
            text.to_string()
        }
    }

    /// A table cell; comfy-table styles it only when the table enforces styling.
    fn cell(self, text: &str, tone: Tone) -> Cell {
        if self.color {
            tone.cell(text)
        } else {
            Cell::new(text)
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint(text, Tone::Bold)
    }

    fn warn(self, text: &str) -> String {
        self.paint(text, Tone::YellowBold)
    }

    fn run_status(self, status: RunStatus) -> String {
        let tone = match status {
            RunStatus::Success => Tone::GreenBold,
            RunStatus::Failure => Tone::RedBold,
            RunStatus::Cancelled | RunStatus::Abandoned => Tone::YellowBold,
            RunStatus::Running => Tone::Cyan,
        };
        self.paint(status.as_str(), tone)
    }

    fn sla_marker(self, status: SlaStatus) -> String {
        self.paint("✗", sla_tone(status))
    }
}
