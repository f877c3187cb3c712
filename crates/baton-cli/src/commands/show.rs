//! `baton show [RUN|latest]`: one run as it was recorded, beat by beat (the judged
//! view of it, with totals, anomalies and breaches, is `baton report`).

use baton_model::{RUN_DOCUMENT_VERSION, RunDocument};

use super::reading;
use crate::cli::{ShowArgs, TextOrJson};
use crate::exit::Exit;

pub(crate) fn run(args: &ShowArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let (run, beats) = reading::load_run_in(&history, &args.run, &scope)?;
    match args.format {
        TextOrJson::Text => {
            let previous =
                reading::previous_shapes(history.store.as_ref(), &run.pipeline_id, &beats)?;
            print!("{}", baton_report::render_run(&run, &beats, &previous));
        }
        TextOrJson::Json => {
            let document = RunDocument {
                format_version: RUN_DOCUMENT_VERSION,
                run,
                beats,
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    Ok(Exit::Success)
}
