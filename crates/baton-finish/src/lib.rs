//! What `baton run` does once the scheduler has returned, apart from the
//! terminal: the run's [`report`] (with the anomalies its consumers found), the
//! files that [`keep`] writes (the report file, `artifacts.json` and the
//! manifest in the history store, the level-ff [`archive`]), and the [`verdict`]
//! the exit code comes from. Nothing here prints or exits: the CLI maps
//! [`Kept`] and [`Verdict`] to its output and its exit code.

pub mod archive;
mod gate;
mod keep;

pub use gate::{Gate, Verdict, verdict};
pub use keep::{Keep, Kept, NotRecorded, keep};

use baton_analysis::Anomaly;
use baton_report::RunReport;
use baton_runner::RunOutcome;

/// The run's report: its records in plan order, its summary, and `anomalies`.
pub fn report(outcome: &RunOutcome, anomalies: Vec<Anomaly>) -> RunReport {
    RunReport::new(outcome.run.clone(), outcome.records.clone(), anomalies)
}
