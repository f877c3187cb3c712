//! `baton trends`: per pipeline and per beat, durations by cache state, success,
//! cache hit and flaky rates and time lost, per day (the last 14 days) or ISO week
//! (the last 12 weeks).

use baton_analysis::trends::Period;
use baton_store::SeriesQuery;

use super::reading;
use crate::cli::{PeriodArg, TextOrJson, TrendsArgs};
use crate::exit::Exit;
use crate::signals::{self, trends};

pub(crate) fn run(args: &TrendsArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let (period, default_days) = match args.period {
        PeriodArg::Day => (Period::Day, 14),
        PeriodArg::Week => (Period::IsoWeek, 84),
    };
    let days = args.days.unwrap_or(default_days);
    let clock = trends::Clock::now();
    let set = history.store.beat_series(&SeriesQuery {
        pipeline: scope.pipeline_id().map(str::to_owned),
        since: Some(signals::window_start(clock.now, days)),
        identities: true,
        ..SeriesQuery::default()
    })?;
    let doc = trends::trends(&set, period, days, &clock);
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::trends::render_trends(&doc)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    Ok(Exit::Success)
}
