//! `baton budget`: each beat's SLO error budget over a window (30 days by
//! default), its objectives read from the folder's pipeline file when the history
//! is that pipeline's. A report: it exits 0 whatever it finds.

use baton_store::SeriesQuery;

use super::reading;
use crate::cli::{BudgetArgs, TextOrJson};
use crate::exit::Exit;
use crate::signals::{self, budgets};

pub(crate) fn run(args: &BudgetArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let set = history.store.beat_series(&SeriesQuery {
        pipeline: scope.pipeline_id().map(str::to_owned),
        since: Some(signals::window_start(jiff::Timestamp::now(), args.days)),
        ..SeriesQuery::default()
    })?;
    let objectives = history.objectives();
    let doc = budgets::document(&set, args.days, objectives.as_ref());
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::budget::render_budget(&doc)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    Ok(Exit::Success)
}
