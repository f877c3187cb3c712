//! `baton gc --keep-runs N | --older-than AGE`: old runs go, with their logs and
//! telemetry files, so the history and the folders never disagree.

use baton_store::GcPolicy;

use super::reading;
use crate::cli::GcArgs;
use crate::exit::Exit;

pub(crate) fn run(args: &GcArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let policy = match (args.keep_runs, &args.older_than) {
        (Some(n), _) => GcPolicy::KeepRuns(n),
        (None, Some(age)) => GcPolicy::OlderThan(
            baton_config::parse_duration(age)
                .map_err(|e| crate::exit::ExpectedError::Usage(format!("--older-than: {e}")))?,
        ),
        (None, None) => crate::usage_bail!("give --keep-runs N or --older-than AGE"),
    };
    let removed = history.store.gc(&policy)?;
    // The automatic gc measures the history afresh after this.
    crate::auto_gc::forget(&history.state);
    let mut left_behind = 0;
    for run in &removed {
        for path in history.state.layout().run_dirs(&run.label) {
            if path.exists()
                && let Err(err) = std::fs::remove_dir_all(&path)
            {
                // Keep going: the other runs' folders should still go.
                crate::notice::warning(format!("failed to remove {}: {err}", path.display()));
                left_behind += 1;
            }
        }
    }
    println!(
        "removed {} run(s) with their logs and telemetry files",
        removed.len()
    );
    Ok(if left_behind == 0 {
        Exit::Success
    } else {
        Exit::Internal
    })
}
