//! `baton slowest`: the beats with the slowest median executed run, and those
//! that took the most time, over a window (14 days by default), each with its
//! sparkline and newest change point.

use baton_store::SeriesQuery;

use super::reading;
use crate::cli::{SlowestArgs, TextOrJson};
use crate::exit::Exit;
use crate::signals::{self, trends};

pub(crate) fn run(args: &SlowestArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let clock = trends::Clock::now();
    let set = history.store.beat_series(&SeriesQuery {
        pipeline: scope.pipeline_id().map(str::to_owned),
        since: Some(signals::window_start(clock.now, args.days)),
        ..SeriesQuery::default()
    })?;
    let doc = trends::slowest(&set, args.days, args.limit, &clock);
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::trends::render_slowest(&doc)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    Ok(Exit::Success)
}
