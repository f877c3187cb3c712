//! The regression a `baton run` reveals, for its summary: `regression compile:
//! +23% (±8%) since build-… (20 runs before, 4 after)`.
//!
//! After the run is recorded, each beat that this run executed and that passed is
//! scanned as `baton regressions` scans it (its executed runs, over the newest
//! [`MAX_ANALYZED_RUNS`] runs of the pipeline). A line is printed when the newest
//! change point is a slowdown, this run is among the runs after it, and those are
//! at most [`RECENT_RUNS`]: the change is news (the scan needs three runs after a
//! change to see it, so a slowdown is named by its third to sixth run, then
//! `baton regressions` keeps reporting it). Only the run's beats are read.

use baton_analysis::changepoint::Direction;
use baton_model::{BeatRecord, BeatStatus, RunRecord};
use baton_report::regressions::{plus_minus, signed_share};
use baton_store::{HistoryStore, SeriesQuery};

use super::regressions::{MAX_ANALYZED_RUNS, scan};
use baton_report::regressions::SeriesKind;

/// Most runs after a change point for a run to still name it.
pub const RECENT_RUNS: usize = 6;

/// The lines to print, one per beat that got slower by this run.
pub fn regression_lines(
    store: &dyn HistoryStore,
    run: &RunRecord,
    records: &[BeatRecord],
) -> baton_store::Result<Vec<String>> {
    let beats: Vec<String> = records
        .iter()
        .filter(|r| r.status == BeatStatus::Success && !r.restored)
        .map(|r| r.beat.clone())
        .collect();
    if beats.is_empty() {
        return Ok(Vec::new());
    }
    let set = store.beat_series(&SeriesQuery {
        pipeline: Some(run.pipeline_id.clone()),
        beats,
        last_runs: Some(MAX_ANALYZED_RUNS),
        ..SeriesQuery::default()
    })?;
    let Some(this_run) = set.runs.iter().position(|r| r.run_id == run.run_id) else {
        return Ok(Vec::new());
    };
    let mut lines = Vec::new();
    for (i, series) in set.series.iter().enumerate() {
        let scan = scan(&set, i, SeriesKind::Miss, MAX_ANALYZED_RUNS);
        let Some(cp) = scan.change_points().last() else {
            continue;
        };
        let ours = scan.runs.last().is_some_and(|&r| r as usize == this_run);
        if cp.direction != Direction::Slower || !ours || cp.runs_after > RECENT_RUNS {
            continue;
        }
        let Some(first) = scan.runs.get(cp.index) else {
            continue;
        };
        lines.push(format!(
            "regression {}: {} ({}) since {} ({} runs before, {} after)",
            series.beat,
            signed_share(cp.shift),
            plus_minus(cp.shift_low, cp.shift_high),
            set.runs[*first as usize].label,
            cp.runs_before,
            cp.runs_after
        ));
    }
    Ok(lines)
}
