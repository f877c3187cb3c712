//! GitHub-flavoured Markdown for one run, for `$GITHUB_STEP_SUMMARY` and pull
//! requests: a heading with the run's status emoji, a one-line summary, a table of
//! beats, then breaches, evolved shapes and anomalies (each omitted when empty).

use std::fmt::Write as _;

use baton_model::{BeatStatus, RunStatus, SlaStatus};

use crate::format;
use crate::report::RunReport;
use crate::text::cache_cell;

/// Renders `report` as GitHub-flavoured Markdown.
pub fn render_markdown(report: &RunReport) -> String {
    let run = &report.run;
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} {} — {}\n",
        run_emoji(report),
        inline(&run.pipeline_name),
        run.status
    );

    let mut facts = vec![
        format!("Run `{}`", code(&run.label)),
        format!("level {}", run.level),
    ];
    if let Some(git) = &run.git {
        let commit = format::short_hash(&git.commit);
        match &git.branch {
            Some(branch) => facts.push(format!("`{}` @ `{}`", code(branch), code(commit))),
            None => facts.push(format!("`{}`", code(commit))),
        }
    }
    let mut counts = format!(
        "{}: {} succeeded, {} failed",
        format::count(s.beats, "beat"),
        s.succeeded,
        s.failed
    );
    if s.cancelled > 0 {
        let _ = write!(counts, ", {} cancelled", s.cancelled);
    }
    if s.skipped > 0 {
        let _ = write!(counts, ", {} skipped", s.skipped);
    }
    facts.push(counts);
    if let Some(rate) = s.success_rate {
        facts.push(format!("success rate {}", format::percent(rate)));
    }
    facts.push(format!(
        "SLA {} 🟢 {} 🟡 {} 🟠 {} 🔴",
        s.compliant, s.warning, s.breach, s.critical
    ));
    if let Some(rate) = s.cache_hit_rate {
        facts.push(format!("cache hit rate {}", format::percent(rate)));
    }
    facts.push(format!(
        "total {}",
        format::duration_ms(s.total_duration_ms)
    ));
    let _ = writeln!(out, "{}\n", facts.join(" · "));

    out.push_str("| Movement | Beat | Status | Duration | SLO | SLA | Memory | Cache | Shape |\n");
    out.push_str("| --- | --- | --- | ---: | ---: | --- | ---: | --- | --- |\n");
    for b in &report.beats {
        let ran = b.status != BeatStatus::Skipped;
        let judged = b.status.is_judged();
        let dash = || "-".to_string();
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | {} | {} | {} | {} | {} |",
            cell(&b.movement),
            cell(&b.beat),
            beat_emoji(b.status),
            format::status_with_attempts(b),
            if ran {
                format::duration_ms(b.duration_ms)
            } else {
                dash()
            },
            format::duration_ms(u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX)),
            if judged {
                format!(
                    "{} {} ({})",
                    sla_emoji(b.sla.overall_status),
                    b.sla.overall_status,
                    format::sla_detail(b)
                )
            } else {
                dash()
            },
            if ran {
                format::bytes(b.peak_rss_bytes)
            } else {
                dash()
            },
            cache_cell(b.cache_state),
            if judged {
                format::shape_change(&b.shape).to_string()
            } else {
                dash()
            },
        );
    }

    if !report.breaches.is_empty() {
        out.push_str("\n### SLA breaches\n\n");
        out.push_str("| Beat | SLA | Duration | SLO | Ratio | Over SLO | Errors |\n");
        out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for b in &report.breaches {
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} | {} / {} |",
                cell(&b.beat),
                sla_emoji(b.status),
                b.status,
                format::duration_ms(b.actual_ms),
                format::duration_ms(b.slo_ms),
                format::ratio(b.ratio),
                format::signed_percent(b.duration_breach_percent),
                b.errors_count,
                b.errors_slo,
            );
        }
    }

    if !report.evolved_shapes.is_empty() {
        out.push_str("\n### Evolved shapes\n\n");
        out.push_str("| Beat | What changed | Previous | New |\n| --- | --- | --- | --- |\n");
        for e in &report.evolved_shapes {
            let previous = e
                .previous_hash
                .as_deref()
                .map(|h| format!("`{}`", cell(&code(format::short_hash(h)))))
                .unwrap_or_else(|| "-".into());
            let what = if e.changes.is_empty() {
                "-".to_owned()
            } else {
                cell(&format::shape_changes(&e.changes))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` |",
                cell(&e.beat),
                what,
                previous,
                cell(&code(format::short_hash(&e.new_hash)))
            );
        }
    }

    let rollbacks = report.rollbacks();
    if !rollbacks.is_empty() {
        out.push_str("\n### Rollbacks\n\n");
        for (b, r) in rollbacks {
            let _ = writeln!(
                out,
                "- ↺ **{}**: {}",
                inline(&b.beat),
                inline(&format::rollback(r))
            );
        }
    }

    if !report.anomalies.is_empty() {
        out.push_str("\n### Anomalies\n\n");
        for a in &report.anomalies {
            let _ = writeln!(
                out,
                "- ⚠️ **{}** (`{}`): {}",
                inline(&a.beat),
                a.rule,
                inline(&a.message)
            );
        }
    }
    out
}

/// ✅ success, ⚠️ success with SLA breaches or a run that never finished, ❌ failure,
/// 🚫 cancelled.
fn run_emoji(report: &RunReport) -> &'static str {
    match report.run.status {
        RunStatus::Success if report.breaches.is_empty() => "✅",
        RunStatus::Success | RunStatus::Running | RunStatus::Abandoned => "⚠️",
        RunStatus::Failure => "❌",
        RunStatus::Cancelled => "🚫",
    }
}

fn beat_emoji(status: BeatStatus) -> &'static str {
    match status {
        BeatStatus::Success => "✅",
        BeatStatus::Failure => "❌",
        BeatStatus::Timeout => "⏱️",
        BeatStatus::Cancelled => "🚫",
        BeatStatus::Skipped => "⏭️",
    }
}

fn sla_emoji(status: SlaStatus) -> &'static str {
    match status {
        SlaStatus::Compliant => "🟢",
        SlaStatus::Warning => "🟡",
        SlaStatus::Breach => "🟠",
        SlaStatus::Critical => "🔴",
    }
}

/// Text for a table cell: `|` escaped, line breaks flattened.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// Text on one line.
fn inline(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Text for inside a code span outside tables: no backticks, no line breaks.
fn code(text: &str) -> String {
    inline(text).replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x`y\nz"), "x'y z");
    }
}
