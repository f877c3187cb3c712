//! `baton report [RUN|latest] --format text|json|markdown|html [-o FILE]`.

use anyhow::Context;
use baton_report::RunReport;
use baton_signals::run_view::HtmlContext;

use super::reading;
use crate::cli::{ReportArgs, ReportFormat};
use crate::exit::Exit;

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

/// The HTML page of a run, with what the history of its pipeline says (see
/// [`baton_signals::run_view::HtmlContext`]).
fn html(history: &reading::History, report: &RunReport) -> anyhow::Result<String> {
    let context = HtmlContext::read(history.store.as_ref(), report)?;
    let ci_url = ci_url(&report.run, |k| std::env::var(k).ok());
    Ok(baton_report::render_html(report, &context.input(ci_url)))
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
