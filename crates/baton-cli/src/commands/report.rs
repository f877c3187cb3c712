//! `baton report [RUN|latest] --format text|json|markdown [-o FILE]`.

use anyhow::Context;

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
