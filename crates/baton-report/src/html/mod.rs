//! One run as a single self-contained HTML file (`baton report --format html`):
//! inline CSS and inline SVG, no script, no request to any other host (a
//! Content-Security-Policy says so to the browser), readable with scripts off and
//! printable.
//!
//! - [`escape()`]: the one escape function every user-controlled string goes through;
//! - [`waterfall`]: the beats on a time axis, with the critical path;
//! - [`charts`]: each beat's last durations against its SLO.
//!
//! The page shows the run, its waterfall, the beat table with SLIs and verdicts,
//! breaches, anomalies, the regressions and flaky beats the history shows for the
//! run's pipeline, and the shape changes. The caller gathers what the history says
//! ([`HtmlInput`]); this module only renders.

pub mod charts;
pub mod escape;
pub mod waterfall;

use std::collections::HashMap;
use std::fmt::Write as _;

use baton_analysis::flaky::Verdict;
use baton_model::{BeatRecord, BeatStatus, SlaStatus};

use self::charts::DurationPoint;
use self::escape::{Esc, escape, link_url};
use crate::flaky::FlakyDoc;
use crate::format;
use crate::regressions::{self, RegressionsDoc};
use crate::report::RunReport;
use crate::text::cache_cell;

/// The policy of the page: nothing may load or run but its own inline styles.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const STYLE: &str = include_str!("style.css");

/// What the page shows besides the run itself.
#[derive(Debug, Default)]
pub struct HtmlInput<'a> {
    /// The change points of the run's pipeline (`baton regressions`).
    pub regressions: Option<&'a RegressionsDoc>,
    /// The flaky and broken beats of the run's pipeline (`baton flaky`).
    pub flaky: Option<&'a FlakyDoc>,
    /// Each beat's runs up to this one, oldest first, by beat name.
    pub durations: HashMap<String, Vec<DurationPoint>>,
    /// The CI run's web page, when known (a link only when it is http or https).
    pub ci_url: Option<String>,
    /// When set, each beat name links to this prefix followed by the name as a
    /// percent-encoded path segment (the beat pages of `baton serve`).
    pub beat_href: Option<String>,
}

/// The report's stylesheet, for pages that serve it as a file.
pub const STYLESHEET: &str = STYLE;

/// Renders `report` as one HTML document.
pub fn render_html(report: &RunReport, input: &HtmlInput<'_>) -> String {
    let run = &report.run;
    let mut out = String::with_capacity(16 * 1024 + report.beats.len() * 3 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} — {} — baton</title><style>{STYLE}</style></head><body>\n",
        Esc(&run.pipeline_name),
        Esc(&run.label)
    );
    out.push_str(&render_html_body(report, input));
    let _ = writeln!(
        out,
        "<footer>baton {} · one self-contained file: no script, nothing loaded from elsewhere</footer>\
         </body></html>",
        Esc(&run.baton_version)
    );
    out
}

/// The report's content without the document around it (no head, no footer): the
/// run, its waterfall, the beat table and what the history says, for a page that
/// brings its own head and stylesheet.
pub fn render_html_body(report: &RunReport, input: &HtmlInput<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024 + report.beats.len() * 3 * 1024);
    header(&mut out, report, input);
    section_waterfall(&mut out, report);
    beat_table(&mut out, report, input);
    breaches(&mut out, report);
    anomalies(&mut out, report);
    regressions_section(&mut out, report, input);
    flaky_section(&mut out, report, input);
    shapes(&mut out, report);
    out
}

fn header(out: &mut String, report: &RunReport, input: &HtmlInput<'_>) {
    let run = &report.run;
    let s = &report.summary;
    let _ = write!(
        out,
        "<header><h1>{} <span class=\"badge run-{}\">{}</span></h1><dl class=\"facts\">",
        Esc(&run.pipeline_name),
        run.status.as_str(),
        run.status
    );
    let mut fact = |name: &str, value: &str| {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    };
    fact("Run", &format!("<code>{}</code>", Esc(&run.label)));
    fact("Level", &escape(&run.level.to_string()));
    if let Some(git) = &run.git {
        let mut commit = format!(
            "<code title=\"{}\">{}</code>",
            Esc(&git.commit),
            Esc(format::short_hash(&git.commit))
        );
        if let Some(branch) = &git.branch {
            let _ = write!(commit, " on <code>{}</code>", Esc(branch));
        }
        if let Some(author) = &git.author {
            let _ = write!(commit, " by {}", Esc(author));
        }
        fact("Commit", &commit);
    }
    fact("Host", &escape(&run.host));
    if let Some(ci) = &run.ci {
        let mut text = escape(&ci.provider);
        if let Some(id) = &ci.run_id {
            let _ = write!(text, " run {}", Esc(id));
        }
        let value = match input.ci_url.as_deref().and_then(link_url) {
            Some(url) => format!(
                "<a href=\"{}\" rel=\"noopener noreferrer\">{text}</a>",
                Esc(url)
            ),
            None => text,
        };
        fact("CI", &value);
    }
    let mut when = format::timestamp(run.started_at);
    if let Some(end) = run.finished_at {
        let _ = write!(when, " → {} UTC", format::timestamp(end));
    } else {
        when.push_str(" UTC");
    }
    fact("When", &when);
    fact("Duration", &format::duration_ms(s.total_duration_ms));
    fact(
        "Pipeline file",
        &format!("<code>{}</code>", Esc(&run.pipeline_file)),
    );
    out.push_str("</dl>");
    let rate = s
        .success_rate
        .map(format::percent)
        .unwrap_or_else(|| "-".into());
    let cache = s
        .cache_hit_rate
        .map(|r| format!(" · cache hits {}", format::percent(r)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p class=\"summary\">{}: {} succeeded, {} failed, {} cancelled, {} skipped \
         (success {rate}) · SLA: {} compliant, {} warning, {} breach, {} critical{cache} · \
         CPU {} · peak RSS {} · {} · {}</p></header>",
        format::count(s.beats, "beat"),
        s.succeeded,
        s.failed,
        s.cancelled,
        s.skipped,
        s.compliant,
        s.warning,
        s.breach,
        s.critical,
        format::duration_ms(s.cpu_user_ms.saturating_add(s.cpu_sys_ms)),
        format::bytes(s.peak_rss_bytes),
        format::count(s.artifacts_count, "artifact"),
        format::count(s.errors_count, "error"),
    );
}

fn section_waterfall(out: &mut String, report: &RunReport) {
    if report.beats.is_empty() {
        return;
    }
    out.push_str("<section id=\"waterfall\"><h2>Waterfall</h2>");
    let layout = waterfall::layout(report.run.started_at, report.run.finished_at, &report.beats);
    waterfall::render(out, &report.beats, &layout);
    out.push_str("</section>\n");
}

fn sla_class(status: SlaStatus) -> &'static str {
    match status {
        SlaStatus::Compliant => "sla-ok",
        SlaStatus::Warning => "sla-warn",
        SlaStatus::Breach => "sla-breach",
        SlaStatus::Critical => "sla-crit",
    }
}

fn beat_table(out: &mut String, report: &RunReport, input: &HtmlInput<'_>) {
    if report.beats.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"beats\"><h2>Beats</h2><table class=\"beats\"><thead><tr>\
         <th>Movement</th><th>Beat</th><th>Status</th><th class=\"num\">Duration</th>\
         <th class=\"num\">SLO</th><th>SLA</th><th>Cache</th><th class=\"num\">CPU</th>\
         <th class=\"num\">Peak RSS</th><th class=\"num\">Errors</th><th>Shape</th>\
         <th>Last runs vs SLO</th></tr></thead><tbody>",
    );
    for b in &report.beats {
        beat_row(out, b, input);
    }
    out.push_str("</tbody></table></section>\n");
}

fn beat_row(out: &mut String, b: &BeatRecord, input: &HtmlInput<'_>) {
    let judged = b.status.is_judged();
    let slo_ms = u64::try_from(b.slo.duration.as_millis()).unwrap_or(u64::MAX);
    let mut status = escape(&format::status_with_attempts(b));
    if let Some(reason) = &b.reason {
        let _ = write!(status, "<div class=\"note\">{}</div>", Esc(reason));
    }
    if let Some(r) = &b.rollback {
        let _ = write!(
            status,
            "<div class=\"note rb\">↺ rollback {}</div>",
            Esc(&format::rollback(r))
        );
    }
    if !b.metrics.is_empty() {
        let metrics: Vec<String> = b
            .metrics
            .iter()
            .map(|(k, v)| format!("{}={v}", escape(k)))
            .collect();
        let _ = write!(status, "<div class=\"note\">{}</div>", metrics.join(" · "));
    }
    let sla = if judged {
        format!(
            "<span class=\"{}\">{}</span> <span class=\"note\">{}</span>",
            sla_class(b.sla.overall_status),
            b.sla.overall_status,
            Esc(&format::sla_detail(b))
        )
    } else {
        "-".into()
    };
    let mut cache = cache_cell(b.cache_state).to_owned();
    if b.restored {
        cache = match &b.restored_from {
            Some(from) => format!(
                "<span class=\"restored-tag\">restored</span> from {}",
                Esc(from)
            ),
            None => "<span class=\"restored-tag\">restored</span>".into(),
        };
    }
    let chart = input
        .durations
        .get(&b.beat)
        .map(|points| charts::duration_chart(points, slo_ms))
        .unwrap_or_default();
    let name = match &input.beat_href {
        Some(prefix) => format!(
            "<a href=\"{}{}\">{}</a>",
            Esc(prefix),
            escape::path_segment(&b.beat),
            Esc(&b.beat)
        ),
        None => escape(&b.beat),
    };
    let status_class = match b.status {
        BeatStatus::Success => "ok",
        BeatStatus::Failure | BeatStatus::Timeout => "fail",
        BeatStatus::Cancelled | BeatStatus::Skipped => "muted",
    };
    let _ = write!(
        out,
        "<tr><td>{}</td><td class=\"beat\">{name}</td><td class=\"{status_class}\">{status}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{sla}</td><td>{cache}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
         <td class=\"chart\">{chart}</td></tr>",
        Esc(&b.movement),
        format::duration_ms(b.duration_ms),
        format::duration_ms(slo_ms),
        format::cpu(b),
        format::bytes(b.peak_rss_bytes),
        b.errors_count,
        if judged {
            format::shape_change(&b.shape)
        } else {
            "-"
        },
    );
}

fn breaches(out: &mut String, report: &RunReport) {
    if report.breaches.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"breaches\"><h2>SLA breaches</h2><table><thead><tr><th>Beat</th>\
         <th>SLA</th><th class=\"num\">Duration</th><th class=\"num\">SLO</th>\
         <th class=\"num\">Ratio</th><th class=\"num\">Over SLO</th><th class=\"num\">Errors</th>\
         </tr></thead><tbody>",
    );
    for b in &report.breaches {
        let _ = write!(
            out,
            "<tr><td class=\"beat\">{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} / {}</td></tr>",
            Esc(&b.beat),
            sla_class(b.status),
            b.status,
            format::duration_ms(b.actual_ms),
            format::duration_ms(b.slo_ms),
            format::ratio(b.ratio),
            format::signed_percent(b.duration_breach_percent),
            b.errors_count,
            b.errors_slo
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn anomalies(out: &mut String, report: &RunReport) {
    if report.anomalies.is_empty() {
        return;
    }
    out.push_str("<section id=\"anomalies\"><h2>Anomalies</h2><ul>");
    for a in &report.anomalies {
        let _ = write!(
            out,
            "<li><strong>{}</strong> <code>{}</code>: {}</li>",
            Esc(&a.beat),
            Esc(&a.rule.to_string()),
            Esc(&a.message)
        );
    }
    out.push_str("</ul></section>\n");
}

fn regressions_section(out: &mut String, report: &RunReport, input: &HtmlInput<'_>) {
    let Some(doc) = input.regressions else {
        return;
    };
    let found: Vec<_> = doc
        .beats
        .iter()
        .filter(|b| b.pipeline_id == report.run.pipeline_id && !b.change_points.is_empty())
        .collect();
    out.push_str("<section id=\"regressions\"><h2>Regressions</h2>");
    if found.is_empty() {
        out.push_str(
            "<p class=\"muted\">No change point in this pipeline's beat durations.</p></section>\n",
        );
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Beat</th><th>Series</th><th>Now</th><th class=\"num\">Shift</th>\
         <th class=\"num\">Median before → after</th><th>Since</th><th>Commits</th></tr></thead><tbody>",
    );
    for b in found {
        let Some(c) = b.newest() else { continue };
        let direction = match c.direction {
            baton_analysis::changepoint::Direction::Slower => "<span class=\"fail\">slower</span>",
            baton_analysis::changepoint::Direction::Faster => "<span class=\"ok\">faster</span>",
        };
        let this_run = if c.first_run.run_id == report.run.run_id {
            " <strong>(this run)</strong>"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td class=\"beat\">{}</td><td>{}</td><td>{direction}</td><td class=\"num\">{} ({})</td>\
             <td class=\"num\">{} → {}</td><td><code>{}</code>{this_run}</td><td><code>{}</code></td></tr>",
            Esc(&b.beat),
            match b.cache_state {
                regressions::SeriesKind::Miss => "executed runs",
                regressions::SeriesKind::Hit => "cache restores",
            },
            regressions::signed_share(c.shift),
            regressions::plus_minus(c.shift_low, c.shift_high),
            format::duration_ms(c.median_before_ms.max(0.0) as u64),
            format::duration_ms(c.median_after_ms.max(0.0) as u64),
            Esc(&c.first_run.label),
            Esc(c.commit_range.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn flaky_section(out: &mut String, report: &RunReport, input: &HtmlInput<'_>) {
    let Some(doc) = input.flaky else {
        return;
    };
    let found: Vec<_> = doc
        .beats
        .iter()
        .filter(|b| {
            b.pipeline_id == report.run.pipeline_id
                && matches!(b.verdict, Verdict::Flaky | Verdict::Broken)
        })
        .collect();
    let _ = write!(
        out,
        "<section id=\"flaky\"><h2>Flaky and broken beats <span class=\"muted\">(last {} days)</span></h2>",
        doc.window_days
    );
    if found.is_empty() {
        out.push_str("<p class=\"muted\">None found.</p></section>\n");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Beat</th><th>Verdict</th><th class=\"num\">Runs</th>\
         <th class=\"num\">Failures</th><th class=\"num\">Flip rate</th><th>Same inputs, both outcomes</th>\
         </tr></thead><tbody>",
    );
    for b in found {
        let verdict = if b.verdict == Verdict::Broken {
            "<span class=\"fail\">broken</span>"
        } else {
            "<span class=\"sla-warn\">flaky</span>"
        };
        let _ = write!(
            out,
            "<tr><td class=\"beat\">{}</td><td>{verdict}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            Esc(&b.beat),
            b.runs,
            b.failure_rate.count,
            format::percent(b.failure_rate.rate),
            format::percent(b.flip_rate),
            b.flaky_key_count
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn shapes(out: &mut String, report: &RunReport) {
    if report.evolved_shapes.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"shapes\"><h2>Shape changes</h2><table><thead><tr><th>Beat</th>\
         <th>What changed</th><th>Previous</th><th>New</th></tr></thead><tbody>",
    );
    for e in &report.evolved_shapes {
        let what = if e.changes.is_empty() {
            "-".to_owned()
        } else {
            escape(&format::shape_changes(&e.changes))
        };
        let _ = write!(
            out,
            "<tr><td class=\"beat\">{}</td><td>{what}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            Esc(&e.beat),
            Esc(e.previous_hash.as_deref().map_or("-", format::short_hash)),
            Esc(format::short_hash(&e.new_hash))
        );
    }
    out.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use baton_model::{
        BeatRecord, BeatStatus, BeatType, CacheState, Level, RunRecord, RunStatus, Shape,
        SlaStatus, SlaVerdict, SloTarget,
    };
    use uuid::Uuid;

    use super::*;

    pub(crate) fn record() -> BeatRecord {
        BeatRecord {
            run_id: Uuid::nil(),
            movement_index: 0,
            movement: "build".into(),
            beat_index: 0,
            beat: "beat".into(),
            beat_type: BeatType::Build,
            level: Level::Mf,
            started_at: "2025-01-01T00:00:00Z".parse().expect("a timestamp"),
            status: BeatStatus::Success,
            reason: None,
            exit_code: Some(0),
            signal: None,
            attempts: 1,
            duration_ms: 100,
            duration_bucket: "<1s".into(),
            cpu_user_ms: 0,
            cpu_sys_ms: 0,
            peak_rss_bytes: 0,
            artifacts_count: 0,
            artifacts_bytes: 0,
            errors_count: 0,
            cache_state: CacheState::Skip,
            tests: None,
            cost_usd: None,
            metrics: BTreeMap::new(),
            slo: SloTarget {
                duration: Duration::from_secs(1),
                errors: 0,
                cache_hit_rate: None,
                objective: None,
            },
            sla: SlaVerdict {
                overall_status: SlaStatus::Compliant,
                duration_status: SlaStatus::Compliant,
                duration_ratio: 0.1,
                duration_breach_percent: -90.0,
                errors_status: SlaStatus::Compliant,
                cache_status: SlaStatus::Compliant,
                cache_hit_rate: None,
            },
            shape: Shape::default(),
            log_path: None,
            rollback: None,
            attempt_log: Vec::new(),
            input_identity: None,
            restored: false,
            restored_from: None,
        }
    }

    fn run() -> RunRecord {
        RunRecord {
            run_id: Uuid::nil(),
            label: "build-20250101-000000".into(),
            pipeline_id: "p".into(),
            pipeline_name: "<b>pipe</b>".into(),
            pipeline_file: "baton.yaml".into(),
            level: Level::Mf,
            git: None,
            host: "host\"><script>".into(),
            ci: Some(baton_model::CiInfo {
                provider: "github-actions".into(),
                run_id: Some("1".into()),
            }),
            started_at: "2025-01-01T00:00:00Z".parse().expect("a timestamp"),
            finished_at: None,
            heartbeat_at: "2025-01-01T00:00:00Z".parse().expect("a timestamp"),
            status: RunStatus::Success,
            baton_version: "0".into(),
        }
    }

    #[test]
    fn user_strings_are_escaped_and_only_http_links_are_links() {
        let mut b = record();
        b.beat = "<script>alert(1)</script>".into();
        b.reason = Some("\"><img src=x onerror=alert(1)>".into());
        b.metrics.insert("<i>m</i>".into(), 1.0);
        let report = RunReport::new(run(), vec![b], Vec::new());
        let input = HtmlInput {
            ci_url: Some("javascript:alert(1)".into()),
            ..HtmlInput::default()
        };
        let html = render_html(&report, &input);
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<i>"));
        assert!(!html.contains("<b>pipe"));
        assert!(!html.contains("href="));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let input = HtmlInput {
            ci_url: Some("https://ci.example/runs/1?a=1&b=\"2\"".into()),
            ..HtmlInput::default()
        };
        let html = render_html(&report, &input);
        assert!(html.contains("href=\"https://ci.example/runs/1?a=1&amp;b=&quot;2&quot;\""));
        assert!(html.contains(CONTENT_SECURITY_POLICY));
    }

    #[test]
    fn regressions_and_flaky_beats_of_the_pipeline_are_listed() {
        use crate::flaky::FlakyBeat;
        use crate::regressions::{ChangePointDoc, RegressionBeat, RunRef, ScanResult, SeriesKind};
        use baton_analysis::changepoint::Direction;
        use baton_analysis::proportion::Proportion;

        let mut b = record();
        b.beat = "<i>slow</i>".into();
        let report = RunReport::new(run(), vec![b], Vec::new());
        let first_run = RunRef {
            run_id: Uuid::nil(),
            label: "build-1".into(),
            started_at: report.run.started_at,
            commit: None,
        };
        let beat = |pipeline_id: &str| RegressionBeat {
            pipeline_id: pipeline_id.into(),
            pipeline: "pipe".into(),
            beat: "<i>slow</i>".into(),
            cache_state: SeriesKind::Miss,
            runs: 20,
            runs_recorded: 20,
            result: ScanResult::Analyzed,
            runs_needed: 10,
            outliers: 0,
            detectable_shift: None,
            slower_now: true,
            change_points: vec![ChangePointDoc {
                direction: Direction::Slower,
                shift: 0.5,
                shift_low: 0.4,
                shift_high: 0.6,
                runs_before: 10,
                runs_after: 10,
                median_before_ms: 100.0,
                median_after_ms: 150.0,
                p_adjusted: 0.001,
                first_run: first_run.clone(),
                last_run_before: None,
                commit_range: Some("a..b".into()),
            }],
        };
        let regressions = RegressionsDoc {
            format_version: 1,
            max_runs: 1_000,
            beats: vec![beat("p"), beat("another pipeline")],
        };
        let flaky = FlakyDoc {
            format_version: 1,
            window_days: 14,
            beats: vec![FlakyBeat {
                pipeline_id: "p".into(),
                pipeline: "pipe".into(),
                beat: "<u>flaky</u>".into(),
                verdict: Verdict::Flaky,
                runs: 10,
                outages: 0,
                failure_rate: Proportion::wilson(3, 10, 0.95),
                flip_rate: 0.4,
                cleared: false,
                flaky_key_count: 2,
                flaky_keys: Vec::new(),
                broken_key: None,
                rerun_count: 0,
                reruns: Vec::new(),
            }],
        };
        let input = HtmlInput {
            regressions: Some(&regressions),
            flaky: Some(&flaky),
            ..HtmlInput::default()
        };
        let html = render_html(&report, &input);
        let section = |id: &str| {
            let start = html.find(&format!("<section id=\"{id}\"")).expect(id);
            let end = start + html[start..].find("</section>").expect("an end");
            html[start..end].to_owned()
        };
        let regressions = section("regressions");
        assert_eq!(regressions.matches("<tr>").count(), 2, "{regressions}");
        assert!(regressions.contains("&lt;i&gt;slow&lt;/i&gt;"));
        assert!(regressions.contains("+50% (±10%)"));
        assert!(regressions.contains("100ms → 150ms"));
        assert!(regressions.contains("(this run)"));
        let flaky = section("flaky");
        assert!(flaky.contains("&lt;u&gt;flaky&lt;/u&gt;"));
        assert!(flaky.contains("3 (30.0%)"));
        assert!(!html.contains("<i>") && !html.contains("<u>"));
    }
}
