//! `baton exec --finish`: ends the run that this job's `exec` calls joined. Its
//! status becomes the worst of its beats; its report file is written, the CI
//! page gets its summary and outputs, and the exporters are handed the run.
//! Without a joined run (no `BATON_RUN_ID`, no CI job) there is nothing to end.

use std::path::PathBuf;

use baton_model::BeatDetails;
use baton_runner::RunOutcome;

use super::join::{self, RunIdentity};
use crate::exit::Exit;
use crate::state::StateDir;

pub(super) fn run(identity: RunIdentity) -> anyhow::Result<Exit> {
    let RunIdentity::Joined { run_id, key } = identity else {
        crate::usage_bail!(
            "failed to finish: no run to end (set BATON_RUN_ID, or run inside a CI job)"
        );
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let state = StateDir::for_pipeline(&cwd);
    let store = match state.open_store() {
        Ok(store) => store,
        Err(err) => {
            // Shadow principle: the job's outcome is not baton's to change.
            crate::notice::warning(format!(
                "failed to finish run {key}: {}",
                baton_cache::error_chain(&err)
            ));
            return Ok(Exit::Success);
        }
    };
    let Some((run, beats)) = store.close_run(run_id, jiff::Timestamp::now())? else {
        crate::notice::warning(format!(
            "failed to finish run {key}: no `baton exec` call recorded it"
        ));
        return Ok(Exit::Success);
    };
    let details = beats
        .iter()
        .map(|b| BeatDetails {
            beat: b.beat.clone(),
            ..BeatDetails::default()
        })
        .collect();
    let outcome = RunOutcome {
        run,
        records: beats,
        details,
    };
    let report = baton_finish::report(&outcome, Vec::new());
    if let Err(err) = baton_report::telemetry_files::write_report(
        &state.telemetry(),
        &report,
        &baton_report::documented::AllowedFailures::new(),
    ) {
        crate::notice::warning(format!(
            "failed to write the report of run {}: {err}",
            outcome.run.label
        ));
    }
    let env = |k: &str| std::env::var(k).ok();
    let pipeline = super::pipeline_shell(join::pipeline_name(env, &cwd), &cwd);
    let mut page = crate::consumers::ci::CiPage::for_exec(&pipeline);
    page.finish(&report, Some(&*store));
    if let Some(export) = crate::commands::run::webhook::Export::start(&pipeline) {
        export.finish(&outcome, &report);
    }
    crate::notice::note(format!(
        "run {} ({} beats): {}",
        outcome.run.label,
        outcome.records.len(),
        outcome.run.status
    ));
    Ok(Exit::Success)
}
