//! The cases, one file each. To add one, write a file here with a type implementing
//! [`crate::suite::Case`] and list it in [`all`]; the runner, the report and `--only`
//! pick it up from there.

use anyhow::{Result, bail};

use crate::suite::{Case, Ctx};

mod big_pipeline;
mod busy;
mod cache_cold;
mod cache_footprint;
mod cache_hit;
mod exec_overhead;
mod export;
mod overhead;
mod parallel;
mod peak_rss;
mod serve;
mod startup;
mod store;
mod telemetry;

pub(crate) use store::{FULL_RUNS as STORE_FULL_RUNS, QUICK_RUNS as STORE_QUICK_RUNS};

/// Every case, in the order the suite runs them. `peak-rss-34` follows
/// `overhead-34` because it reads that case's measurements.
pub(crate) fn all() -> Vec<Box<dyn Case>> {
    vec![
        Box::new(overhead::Overhead),
        Box::new(peak_rss::PeakRss),
        Box::new(parallel::Parallel),
        Box::new(telemetry::Telemetry),
        Box::new(startup::Startup),
        Box::new(store::Store),
        Box::new(cache_hit::CacheHit),
        Box::new(cache_cold::CacheCold),
        Box::new(cache_footprint::CacheFootprint),
        Box::new(big_pipeline::BigPipeline),
        Box::new(busy::Busy),
        Box::new(export::Export),
        Box::new(crate::signals::Signals::default()),
        Box::new(serve::Serve),
        Box::new(exec_overhead::ExecOverhead),
    ]
}

/// Fails unless this baton build has `baton run` (it is being written as the suite
/// is): the cases that need it report that instead of numbers.
fn require_run(ctx: &Ctx) -> Result<()> {
    if !ctx.has_verb(&["run"]) {
        bail!("`{} run` does not exist in this build", ctx.baton.display());
    }
    Ok(())
}
