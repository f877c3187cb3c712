//! `baton report [RUN|latest] --format text|json|markdown|html [-o FILE]`.

use std::collections::HashMap;

use anyhow::Context;
use baton_report::RunReport;
use baton_report::html::HtmlInput;
use baton_report::html::charts::{CHART_RUNS, DurationPoint};
use baton_store::SeriesQuery;

use super::reading;
use crate::cli::{ReportArgs, ReportFormat};
use crate::exit::Exit;
use crate::signals::{self, flaky, regressions};

/// The window of the flaky beats the HTML report lists (`baton flaky`'s default).
const FLAKY_WINDOW_DAYS: u64 = 14;

pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let (run, beats) = reading::load_run_in(&history, &args.run, &scope)?;
    let report = reading::report_for(&history, run, beats)?;
    let text = match args.format {
        ReportFormat::Text => baton_report::render_text(&report, false),
        ReportFormat::Json => baton_report::render_json(&report) + "\n",
        ReportFormat::Markdown => baton_report::render_markdown(&report),
        ReportFormat::Html => html(&history, &report)?,
        ReportFormat::Junit => baton_report::render_junit(&report, |beat| {
            let path = beat.log_path.as_deref()?;
            Some(crate::consumers::ci::log_tail(std::path::Path::new(path)))
        }),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("failed to write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    if args.format == ReportFormat::Markdown
        && let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY")
    {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .context("failed to open GITHUB_STEP_SUMMARY")?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .context("failed to append to GITHUB_STEP_SUMMARY")?;
    }
    Ok(Exit::Success)
}

/// The HTML page of a run, with what the history of its pipeline says: each beat's
/// durations up to this run, the change points and the flaky beats (the same
/// documents `baton regressions` and `baton flaky` print).
fn html(history: &reading::History, report: &RunReport) -> anyhow::Result<String> {
    let store = history.store.as_ref();
    let pipeline = report.run.pipeline_id.clone();
    let set = store.beat_series(&SeriesQuery {
        pipeline: Some(pipeline.clone()),
        ..SeriesQuery::default()
    })?;
    let durations = durations(&set, report);
    let scans = regressions::scans(&set, None);
    let regressions = regressions::document(store, &set, &scans)?;
    drop(set);
    let recent = store.beat_series(&SeriesQuery {
        pipeline: Some(pipeline),
        since: Some(signals::window_start(
            jiff::Timestamp::now(),
            FLAKY_WINDOW_DAYS,
        )),
        identities: true,
        ..SeriesQuery::default()
    })?;
    let flaky = flaky::document(&recent, FLAKY_WINDOW_DAYS);
    let input = HtmlInput {
        regressions: Some(&regressions),
        flaky: Some(&flaky),
        durations,
        ci_url: ci_url(&report.run, |k| std::env::var(k).ok()),
    };
    Ok(baton_report::render_html(report, &input))
}

/// Each beat's last [`CHART_RUNS`] records up to and including this run, oldest
/// first.
fn durations(
    set: &baton_store::SeriesSet,
    report: &RunReport,
) -> HashMap<String, Vec<DurationPoint>> {
    let current = set.runs.iter().position(|r| r.run_id == report.run.run_id);
    let last = current.unwrap_or(set.runs.len().saturating_sub(1));
    set.series
        .iter()
        .map(|series| {
            let points: Vec<DurationPoint> = series
                .points
                .iter()
                .filter(|p| p.run as usize <= last)
                .map(|p| DurationPoint {
                    duration_ms: p.duration_ms,
                    succeeded: p.status == baton_model::BeatStatus::Success,
                    restored: p.restored,
                    current: Some(p.run as usize) == current,
                })
                .collect();
            let from = points.len().saturating_sub(CHART_RUNS);
            (series.beat.clone(), points[from..].to_vec())
        })
        .collect()
}

/// The CI run's page, when this process runs in the CI run that recorded the run
/// (its variables name the same provider and run): a report made later elsewhere
/// cannot know it.
fn ci_url(
    run: &baton_model::RunRecord,
    var: impl Fn(&str) -> Option<String> + Copy,
) -> Option<String> {
    let recorded = run.ci.as_ref()?;
    let here = crate::provenance::detect_ci(var)?;
    if here != *recorded || recorded.run_id.is_none() {
        return None;
    }
    baton_export::payload::ci_run_url(&recorded.provider, var)
}
