//! The change point scan and a run's charts read each beat's newest records of
//! each outcome only (`regressions::query`); what they say must be what they said
//! from the whole history, on a history long enough for the bound to leave records
//! out, with beats that fail and are restored often.

use std::collections::HashMap;

use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord, RunStatus};
use baton_report::RunReport;
use baton_report::html::charts::{CHART_RUNS, DurationPoint};
use baton_signals::regressions::{self, MAX_ANALYZED_RUNS};
use baton_signals::run_view::HtmlContext;
use baton_store::test_records::{at, beat, run};
use baton_store::{HistoryStore, SeriesQuery, SeriesSet, SqliteStore};

/// More runs than the scan's bound, so that both kinds of success of the busy
/// beats are cut.
const RUNS: usize = MAX_ANALYZED_RUNS * 5 / 2;

/// A deterministic jitter of a few percent.
fn jitter(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64 ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x % 40
}

/// Pipeline `p` with a beat that fails every third run and is restored every
/// fifth, one restored three runs in four, one that always runs and a rare one
/// restored once; their durations shift twice (an old step the bound leaves
/// behind and a recent one). Pipeline `q` has a few runs of its own.
fn history() -> (SqliteStore, Vec<(RunRecord, Vec<BeatRecord>)>) {
    let store = SqliteStore::open_in_memory().expect("open");
    let mut runs = Vec::new();
    let mut all = Vec::new();
    for i in 0..RUNS {
        let r = run("p", at(i as i64 * 60), RunStatus::Success);
        let base = |ms: u64| -> u64 {
            let step = if i >= RUNS - 300 {
                ms * 13 / 10
            } else if i >= 400 {
                ms * 11 / 10
            } else {
                ms
            };
            step + jitter(i, ms) * ms / 1000
        };
        let flappy_status = if i % 3 == 0 {
            BeatStatus::Failure
        } else if i % 97 == 0 {
            BeatStatus::Timeout
        } else {
            BeatStatus::Success
        };
        let cache = |hit: bool| {
            if hit {
                CacheState::Hit
            } else {
                CacheState::Miss
            }
        };
        let beats = vec![
            beat(
                &r,
                0,
                0,
                "flappy",
                flappy_status,
                base(1_000),
                cache(i % 5 == 0),
            ),
            beat(
                &r,
                0,
                1,
                "cached",
                BeatStatus::Success,
                base(300),
                cache(i % 4 != 0),
            ),
            beat(
                &r,
                1,
                0,
                "steady",
                BeatStatus::Success,
                base(5_000),
                cache(false),
            ),
            beat(
                &r,
                1,
                1,
                "rare",
                BeatStatus::Success,
                base(50),
                cache(i == 7),
            ),
        ];
        runs.push(r.clone());
        all.push((r, beats));
    }
    for i in 0..30 {
        let r = run("q", at(i * 60 + 30), RunStatus::Failure);
        let status = if i % 2 == 0 {
            BeatStatus::Success
        } else {
            BeatStatus::Failure
        };
        let beats = vec![beat(&r, 0, 0, "flappy", status, 200, CacheState::Miss)];
        runs.push(r.clone());
        all.push((r, beats));
    }
    store.record_runs_bulk(&runs).expect("runs");
    let beats: Vec<BeatRecord> = all.iter().flat_map(|(_, b)| b.clone()).collect();
    store.record_beats_bulk(&beats).expect("beats");
    (store, all)
}

fn whole(pipeline: Option<&str>, beats: Vec<String>) -> SeriesQuery {
    SeriesQuery {
        pipeline: pipeline.map(str::to_owned),
        beats,
        ..SeriesQuery::default()
    }
}

fn regressions_of(store: &SqliteStore, set: &SeriesSet, beat: Option<&str>) -> String {
    let scans = regressions::scans(set, beat);
    format!(
        "{:?}",
        regressions::document(store, set, &scans).expect("document")
    )
}

#[test]
fn the_bounded_read_finds_the_same_regressions_as_the_whole_history() {
    let (store, _) = history();
    let scopes: [(Option<&str>, Option<&str>); 4] = [
        (None, None),
        (Some("p"), None),
        (Some("p"), Some("flappy")),
        (Some("p"), Some("rare")),
    ];
    for (pipeline, beat) in scopes {
        let beats: Vec<String> = beat.iter().map(|b| (*b).to_owned()).collect();
        let full = store
            .beat_series(&whole(pipeline, beats.clone()))
            .expect("whole");
        let bounded = store
            .beat_series(&regressions::query(pipeline.map(str::to_owned), beats))
            .expect("bounded");
        assert!(
            bounded.records() < full.records(),
            "{pipeline:?}/{beat:?}: the bound left records out"
        );
        let expected = regressions_of(&store, &full, beat);
        assert_eq!(
            regressions_of(&store, &bounded, beat),
            expected,
            "{pipeline:?}/{beat:?}"
        );
        // The history says something: the recent step of `steady` is found, and
        // both kinds of success were cut by the scan's bound.
        assert!(expected.contains("Slower"), "{expected}");
        assert!(
            expected.contains(&format!("runs: {MAX_ANALYZED_RUNS}, runs_recorded: "))
                || beat == Some("rare"),
            "{expected}"
        );
    }
}

/// Each beat's last [`CHART_RUNS`] records up to `run`, from the whole history.
fn expected_durations(store: &SqliteStore, run: &RunRecord) -> HashMap<String, Vec<DurationPoint>> {
    let set = store
        .beat_series(&whole(Some(&run.pipeline_id), Vec::new()))
        .expect("whole");
    let current = set
        .runs
        .iter()
        .position(|r| r.run_id == run.run_id)
        .expect("the run");
    set.series
        .iter()
        .map(|s| {
            let points: Vec<DurationPoint> = s
                .points
                .iter()
                .filter(|p| p.run as usize <= current)
                .map(|p| DurationPoint {
                    duration_ms: p.duration_ms,
                    succeeded: p.status == BeatStatus::Success,
                    restored: p.restored,
                    current: p.run as usize == current,
                })
                .collect();
            let from = points.len().saturating_sub(CHART_RUNS);
            (s.beat.clone(), points[from..].to_vec())
        })
        .collect()
}

#[test]
fn a_run_page_draws_the_same_charts_and_regressions_for_new_and_old_runs() {
    let (store, all) = history();
    let full = store
        .beat_series(&whole(Some("p"), Vec::new()))
        .expect("whole");
    let expected_regressions = regressions_of(&store, &full, None);
    // The newest run, one a little older, and one far behind the bound.
    for index in [RUNS - 1, RUNS - 15, 100] {
        let (run, beats) = all[index].clone();
        let report = RunReport::new(run.clone(), beats, Vec::new());
        let context = HtmlContext::read(&store, &report).expect("context");
        assert_eq!(
            context.durations,
            expected_durations(&store, &run),
            "run {index}"
        );
        assert_eq!(
            format!("{:?}", context.regressions),
            expected_regressions,
            "run {index}"
        );
    }
}
