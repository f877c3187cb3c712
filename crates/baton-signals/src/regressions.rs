//! Change points per beat: each beat's successful runs split into executed runs
//! (a cache miss, or a beat without cache) and runs restored from the cache, each
//! scanned on its own with [`baton_analysis::changepoint::detect`] over its newest
//! [`MAX_ANALYZED_RUNS`] runs.

use std::collections::HashMap;

use baton_analysis::changepoint::{self, ChangePointConfig, Detection};
use baton_model::BeatStatus;
use baton_report::regressions::{
    ChangePointDoc, RegressionBeat, RegressionsDoc, SIGNALS_FORMAT_VERSION, ScanResult, SeriesKind,
};
use baton_store::{BeatSeries, HistoryStore, SeriesQuery, SeriesSet};
use uuid::Uuid;

use super::run_ref;

/// Newest successful runs of a series the scan looks at. A change older than that
/// is history; the bound keeps a scan of a beat with years of runs as cheap as one
/// of a few weeks (docs/signals.md has the measurements).
pub const MAX_ANALYZED_RUNS: usize = 1_000;

/// One series of one beat and what the scan found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Index into the set's series.
    pub series: usize,
    pub kind: SeriesKind,
    /// The run of each scanned duration, oldest first.
    pub runs: Vec<u32>,
    /// Successful runs of this kind in the set (before the bound).
    pub recorded: usize,
    pub detection: Detection,
}

impl Scan {
    pub fn change_points(&self) -> &[changepoint::ChangePoint] {
        match &self.detection {
            Detection::Analyzed { change_points, .. } => change_points,
            Detection::Insufficient { .. } => &[],
        }
    }
}

/// The durations of a beat's successful runs of one kind, oldest first, with their
/// runs.
pub fn successful(series: &BeatSeries, kind: SeriesKind) -> Vec<(u32, f64)> {
    series
        .points
        .iter()
        .filter(|p| p.status == BeatStatus::Success && p.restored == (kind == SeriesKind::Hit))
        .map(|p| (p.run, p.duration_ms as f64))
        .collect()
}

/// What the scan reads of a scope (a pipeline, or all; one beat, or all): each
/// beat's newest [`MAX_ANALYZED_RUNS`] records of each outcome, which hold the
/// newest successful runs of both kinds; the store counts the others.
pub fn query(pipeline: Option<String>, beats: Vec<String>) -> SeriesQuery {
    SeriesQuery {
        pipeline,
        beats,
        newest_per_outcome: Some(MAX_ANALYZED_RUNS),
        ..SeriesQuery::default()
    }
}

/// Scans one series of a beat (its newest `max_runs` successful runs of `kind`).
pub fn scan(set: &SeriesSet, series: usize, kind: SeriesKind, max_runs: usize) -> Scan {
    let all = successful(&set.series[series], kind);
    // Of the whole scope: a bounded read keeps only the newest.
    let successes = set.series[series].successes;
    let recorded = match kind {
        SeriesKind::Hit => successes.restored,
        SeriesKind::Miss => successes.executed,
    }
    .max(all.len());
    let newest = &all[all.len().saturating_sub(max_runs)..];
    let durations: Vec<f64> = newest.iter().map(|&(_, ms)| ms).collect();
    Scan {
        series,
        kind,
        runs: newest.iter().map(|&(run, _)| run).collect(),
        recorded,
        detection: changepoint::detect(&durations, &ChangePointConfig::default()),
    }
}

/// Every series of the set (or of one beat): executed runs always, restored runs
/// when the beat has any. Scanned on two threads: the scans are independent.
pub fn scans(set: &SeriesSet, beat: Option<&str>) -> Vec<Scan> {
    let mut todo: Vec<(usize, SeriesKind)> = Vec::new();
    for (i, series) in set.series.iter().enumerate() {
        if beat.is_some_and(|b| b != series.beat) {
            continue;
        }
        todo.push((i, SeriesKind::Miss));
        if series
            .points
            .iter()
            .any(|p| p.restored && p.status == BeatStatus::Success)
        {
            todo.push((i, SeriesKind::Hit));
        }
    }
    let half = todo.len().div_ceil(2);
    let (first, second) = todo.split_at(half);
    let run = |part: &[(usize, SeriesKind)]| -> Vec<Scan> {
        part.iter()
            .map(|&(i, kind)| scan(set, i, kind, MAX_ANALYZED_RUNS))
            .collect()
    };
    std::thread::scope(|s| {
        let other = s.spawn(|| run(second));
        let mut out = run(first);
        match other.join() {
            Ok(rest) => out.extend(rest),
            Err(_) => out.extend(run(second)),
        }
        out
    })
}

/// The document of `baton regressions`, asking the store for the commits of the
/// runs it names.
pub fn document(
    store: &dyn HistoryStore,
    set: &SeriesSet,
    scans: &[Scan],
) -> baton_store::Result<RegressionsDoc> {
    let mut named: Vec<Uuid> = Vec::new();
    for scan in scans {
        for cp in scan.change_points() {
            for i in [cp.index.checked_sub(1), Some(cp.index)]
                .into_iter()
                .flatten()
            {
                if let Some(&run) = scan.runs.get(i) {
                    named.push(set.runs[run as usize].run_id);
                }
            }
        }
    }
    named.sort_unstable();
    named.dedup();
    let commits = if named.is_empty() {
        HashMap::new()
    } else {
        store.run_commits(&named)?
    };
    Ok(RegressionsDoc {
        format_version: SIGNALS_FORMAT_VERSION,
        max_runs: MAX_ANALYZED_RUNS,
        beats: scans.iter().map(|s| beat_doc(set, s, &commits)).collect(),
    })
}

fn beat_doc(set: &SeriesSet, scan: &Scan, commits: &HashMap<Uuid, String>) -> RegressionBeat {
    let series = &set.series[scan.series];
    let pipeline = &set.pipelines[series.pipeline as usize];
    let config = ChangePointConfig::default();
    let needed = config.min_runs.max(2 * config.min_segment);
    let (result, runs, outliers, detectable_shift) = match &scan.detection {
        Detection::Insufficient {
            runs,
            detectable_shift,
            ..
        } => (ScanResult::Insufficient, *runs, 0, *detectable_shift),
        Detection::Analyzed {
            runs,
            outliers,
            detectable_shift,
            ..
        } => (ScanResult::Analyzed, *runs, *outliers, *detectable_shift),
    };
    let change_points: Vec<ChangePointDoc> = scan
        .change_points()
        .iter()
        .filter_map(|cp| {
            let first = *scan.runs.get(cp.index)?;
            let before = cp
                .index
                .checked_sub(1)
                .and_then(|i| scan.runs.get(i))
                .map(|&run| run_ref(set, run, commits));
            let first_run = run_ref(set, first, commits);
            let commit_range = match (
                before.as_ref().and_then(|b| b.commit.as_ref()),
                &first_run.commit,
            ) {
                (Some(from), Some(to)) if from != to => {
                    Some(format!("{}..{}", short(from), short(to)))
                }
                _ => None,
            };
            Some(ChangePointDoc {
                direction: cp.direction,
                shift: finite(cp.shift),
                shift_low: finite(cp.shift_low),
                shift_high: finite(cp.shift_high),
                runs_before: cp.runs_before,
                runs_after: cp.runs_after,
                median_before_ms: finite(cp.median_before_ms),
                median_after_ms: finite(cp.median_after_ms),
                p_adjusted: finite(cp.p_adjusted),
                first_run,
                last_run_before: before,
                commit_range,
            })
        })
        .collect();
    RegressionBeat {
        pipeline_id: pipeline.pipeline_id.clone(),
        pipeline: pipeline.name.clone(),
        beat: series.beat.clone(),
        cache_state: scan.kind,
        runs,
        runs_recorded: scan.recorded,
        result,
        runs_needed: needed,
        outliers,
        detectable_shift: detectable_shift.filter(|x| x.is_finite()),
        slower_now: change_points
            .last()
            .is_some_and(|c| c.direction == changepoint::Direction::Slower),
        change_points,
    }
}

/// The statistics are finite by construction; a 0 keeps JSON valid if one is not.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A commit shortened to 12 characters.
fn short(commit: &str) -> &str {
    baton_report::format::short_hash(commit)
}
