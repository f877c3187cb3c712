//! `baton regressions`: where each beat got slower or faster. A report, not a
//! gate: it exits 0 whatever it finds (a CI step that wants to fail on a slowdown
//! reads `slower_now` from `--format json`).

use super::reading;
use crate::cli::{RegressionsArgs, TextOrJson};
use crate::exit::Exit;
use crate::signals::regressions;

pub(crate) fn run(args: &RegressionsArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let set = history.store.beat_series(&regressions::query(
        scope.pipeline_id().map(str::to_owned),
        args.beat.iter().cloned().collect(),
    ))?;
    if let Some(beat) = &args.beat
        && set.series.is_empty()
    {
        crate::usage_bail!("no beat named '{beat}' in the history");
    }
    let scans = regressions::scans(&set, args.beat.as_deref());
    let doc = regressions::document(history.store.as_ref(), &set, &scans)?;
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::regressions::render_regressions(&doc)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
    }
    Ok(Exit::Success)
}
