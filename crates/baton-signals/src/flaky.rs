//! Flaky and broken beats over a window: each beat's executed runs that passed or
//! failed (timeouts are failures; cancelled and skipped runs, and runs restored
//! from the cache, say nothing), judged by [`baton_analysis::flaky::classify`] on
//! their input identities and the runs it passed only on a rerun. A run in which every beat that ran failed (at least
//! two of them) is an outage and is no evidence against any one beat.

use std::collections::HashMap;

use baton_analysis::flaky::{self, Attempt};
use baton_model::BeatStatus;
use baton_report::flaky::{FlakyBeat, FlakyDoc, KeyEvidence, RunName};
use baton_report::regressions::SIGNALS_FORMAT_VERSION;
use baton_store::{SeriesPoint, SeriesSet};

/// Input identities a beat's evidence lists (the most recent).
pub const EVIDENCE_KEYS: usize = 10;

/// Runs passed on a rerun a beat's evidence lists (the most recent).
pub const EVIDENCE_RUNS: usize = 10;

/// Beats that must have run (and all failed) for a run to count as an outage.
pub const OUTAGE_MIN_BEATS: usize = 2;

/// Whether a record passed (`Some(true)`), failed or timed out (`Some(false)`), or
/// says nothing (cancelled, skipped).
pub fn outcome(p: &SeriesPoint) -> Option<bool> {
    match p.status {
        BeatStatus::Success => Some(true),
        BeatStatus::Failure | BeatStatus::Timeout => Some(false),
        BeatStatus::Cancelled | BeatStatus::Skipped => None,
    }
}

/// Whether a record passed only after failing in its run: the beat was retried, or
/// its JUnit report has tests that failed and then passed.
pub fn passed_on_rerun(p: &SeriesPoint) -> bool {
    p.status == BeatStatus::Success && (p.attempts > 1 || p.tests_flaky)
}

/// Per run of the set: every beat that passed or failed, failed (and there were
/// at least [`OUTAGE_MIN_BEATS`]).
pub fn outages(set: &SeriesSet) -> Vec<bool> {
    let mut decided = vec![0usize; set.runs.len()];
    let mut failed = vec![0usize; set.runs.len()];
    for series in &set.series {
        for p in &series.points {
            if let Some(passed) = outcome(p) {
                decided[p.run as usize] += 1;
                failed[p.run as usize] += usize::from(!passed);
            }
        }
    }
    decided
        .iter()
        .zip(&failed)
        .map(|(&d, &f)| d >= OUTAGE_MIN_BEATS && f == d)
        .collect()
}

/// The document of `baton flaky` over every beat of `set` (read for the window).
pub fn document(set: &SeriesSet, window_days: u64) -> FlakyDoc {
    let outage = outages(set);
    let run_ids: Vec<String> = set.runs.iter().map(|r| r.run_id.to_string()).collect();
    let mut by_id: Option<HashMap<&str, usize>> = None;
    let mut beats = Vec::with_capacity(set.series.len());
    for series in &set.series {
        let attempts: Vec<Attempt<'_>> = series
            .points
            .iter()
            .filter(|p| !p.restored)
            .filter_map(|p| {
                Some(Attempt {
                    run_id: &run_ids[p.run as usize],
                    key: p.identity.map(|i| set.identity(i)),
                    passed: outcome(p)?,
                    rerun: passed_on_rerun(p),
                    outage: outage[p.run as usize],
                })
            })
            .collect();
        let report = flaky::classify(&attempts);
        let mut name_runs = |ids: &[String]| -> Vec<RunName> {
            let index = by_id.get_or_insert_with(|| {
                run_ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (id.as_str(), i))
                    .collect()
            });
            ids.iter()
                .map(|id| RunName {
                    run_id: id.clone(),
                    label: index
                        .get(id.as_str())
                        .map(|&i| set.runs[i].label.clone())
                        .unwrap_or_default(),
                })
                .collect()
        };
        let mut evidence = |k: &flaky::KeyEvidence| KeyEvidence {
            key: k.key.clone(),
            passed: name_runs(&k.passed),
            failed: name_runs(&k.failed),
        };
        let flaky_keys = report
            .flaky_keys
            .iter()
            .take(EVIDENCE_KEYS)
            .map(&mut evidence)
            .collect();
        let broken_key = report.broken_key.as_ref().map(&mut evidence);
        let newest = report.reruns.len().saturating_sub(EVIDENCE_RUNS);
        let reruns = name_runs(&report.reruns[newest..]);
        let pipeline = &set.pipelines[series.pipeline as usize];
        beats.push(FlakyBeat {
            pipeline_id: pipeline.pipeline_id.clone(),
            pipeline: pipeline.name.clone(),
            beat: series.beat.clone(),
            verdict: report.verdict,
            runs: report.runs,
            outages: report.outages,
            failure_rate: report.failure_rate,
            flip_rate: report.flip_rate,
            cleared: report.cleared,
            flaky_key_count: report.flaky_keys.len(),
            flaky_keys,
            broken_key,
            rerun_count: report.reruns.len(),
            reruns,
        });
    }
    FlakyDoc {
        format_version: SIGNALS_FORMAT_VERSION,
        window_days,
        beats,
    }
}
