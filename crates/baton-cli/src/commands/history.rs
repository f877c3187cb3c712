//! `baton history`: recorded runs, newest first, filterable.

use baton_model::RunStatus;
use baton_store::RunFilter;

use super::reading;
use crate::cli::{HistoryArgs, TextOrJson};
use crate::exit::Exit;

pub(crate) fn run(args: &HistoryArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let status = match &args.status {
        Some(s) => match s.parse::<RunStatus>() {
            Ok(status) => Some(status),
            Err(()) => {
                crate::usage_bail!(
                    "'{s}' is not a run status (success, failure, cancelled, running, abandoned)"
                )
            }
        },
        None => None,
    };
    let scope = reading::scope(&history, &args.scope)?;
    let filter = RunFilter {
        pipeline: scope.pipeline_id().map(str::to_owned),
        beat: args.beat.clone(),
        status,
        limit: Some(args.limit),
        ..RunFilter::default()
    };
    let rows = baton_signals::run_view::history_rows(history.store.as_ref(), &filter)?;
    match args.format {
        TextOrJson::Text if rows.is_empty() && args.beat.is_none() && status.is_none() => {
            // Say why nothing is listed when the history is not empty.
            match scope.pipeline_id() {
                Some(id) => match reading::other_pipelines_hint(&history, id)? {
                    Some(hint) => println!("No runs of pipeline '{id}' recorded yet ({hint})."),
                    None => print!("{}", baton_report::render_history_table(&rows)),
                },
                None => print!("{}", baton_report::render_history_table(&rows)),
            }
        }
        TextOrJson::Text => print!("{}", baton_report::render_history_table(&rows)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(Exit::Success)
}
