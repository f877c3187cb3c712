//! `baton flaky`: flaky and broken beats over a window (14 days by default). A
//! report: it exits 0 whatever it finds.

use baton_store::SeriesQuery;

use super::reading;
use crate::cli::{FlakyArgs, TextOrJson};
use crate::exit::Exit;
use crate::signals::{self, flaky};

pub(crate) fn run(args: &FlakyArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let set = history.store.beat_series(&SeriesQuery {
        pipeline: scope.pipeline_id().map(str::to_owned),
        since: Some(signals::window_start(jiff::Timestamp::now(), args.window)),
        identities: true,
        ..SeriesQuery::default()
    })?;
    let doc = flaky::document(&set, args.window);
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::flaky::render_flaky(&doc)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    Ok(Exit::Success)
}
