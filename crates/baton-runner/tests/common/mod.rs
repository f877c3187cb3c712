//! Helpers shared by this crate's integration tests (`mod common;` in each).

// Each test binary uses only its share of these.
#![allow(dead_code)]

use baton_model::{Pipeline, RunEvent};
use baton_runner::{CancelToken, Plan, RunOptions, RunOutcome, Spawner, run_plan};

/// Runs `plan` through `spawner` without history, keeping every event.
pub(crate) fn run_collecting(
    pipeline: &Pipeline,
    plan: &Plan,
    opts: &RunOptions,
    spawner: &dyn Spawner,
    cancel: &CancelToken,
) -> (RunOutcome, Vec<RunEvent>) {
    let mut events = Vec::new();
    let outcome = run_plan(
        pipeline,
        plan,
        opts,
        spawner,
        &baton_runner::HistoryHints::default(),
        &mut |e| events.push(e),
        cancel,
    );
    (outcome, events)
}

/// The messages of the warning events, in order.
pub(crate) fn warnings(events: &[RunEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}
