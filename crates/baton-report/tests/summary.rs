//! What `RunReport::new` derives: order, summary, breaches, evolved shapes.

mod common;

use baton_model::{CacheState, SlaStatus};
use baton_report::RunReport;

#[test]
fn beats_are_sorted_into_plan_order() {
    let report = common::report();
    let order: Vec<_> = report.beats.iter().map(|b| b.beat.as_str()).collect();
    assert_eq!(
        order,
        [
            "load-build-context",
            "lint | fmt",
            "codegen",
            "compile",
            "unit-tests",
            "deploy"
        ]
    );
}

#[test]
fn summary_counts() {
    let s = common::report().summary;
    assert_eq!(
        (s.beats, s.succeeded, s.failed, s.cancelled, s.skipped),
        (6, 4, 1, 0, 1)
    );
    assert_eq!(s.success_rate, Some(0.8));
    // The skipped beat is not judged.
    assert_eq!((s.compliant, s.warning, s.breach, s.critical), (2, 1, 1, 1));
    // hit, miss, expired: one hit in three uses.
    assert_eq!(s.cache_hit_rate, Some(1.0 / 3.0));
    assert_eq!(s.total_duration_ms, 205_500);
    assert_eq!(s.peak_rss_bytes, 1_534_000_000);
    assert_eq!(s.errors_count, 3);
    assert_eq!(s.artifacts_count, 20);
    assert_eq!(s.cost_usd, Some(0.04));
}

#[test]
fn an_unfinished_run_sums_beat_durations_and_no_cache_means_null() {
    let mut run = common::run();
    run.finished_at = None;
    let beats: Vec<_> = common::beats()
        .into_iter()
        .map(|mut b| {
            b.cache_state = CacheState::Skip;
            b
        })
        .collect();
    let expected: u64 = beats.iter().map(|b| b.duration_ms).sum();
    let s = RunReport::new(run, beats, vec![]).summary;
    assert_eq!(s.total_duration_ms, expected);
    assert_eq!(s.cache_hit_rate, None);
}

#[test]
fn an_empty_run_has_no_rates() {
    let s = RunReport::new(common::run(), vec![], vec![]).summary;
    assert_eq!(s.beats, 0);
    assert_eq!(s.success_rate, None);
    assert_eq!(s.cache_hit_rate, None);
    assert_eq!(s.cost_usd, None);
}

#[test]
fn breaches_are_breach_and_critical_beats() {
    let report = common::report();
    let breaches: Vec<_> = report
        .breaches
        .iter()
        .map(|b| (b.beat.as_str(), b.status))
        .collect();
    assert_eq!(
        breaches,
        [
            ("compile", SlaStatus::Breach),
            ("unit-tests", SlaStatus::Critical)
        ]
    );
    let compile = &report.breaches[0];
    assert_eq!((compile.slo_ms, compile.actual_ms), (120_000, 194_000));
    assert!((compile.duration_breach_percent - 61.666).abs() < 0.01);
}

#[test]
fn evolved_shapes_list_previous_and_new_hashes() {
    let report = common::report();
    assert_eq!(report.evolved_shapes.len(), 1);
    let e = &report.evolved_shapes[0];
    assert_eq!(e.beat, "compile");
    assert_ne!(e.previous_hash.as_deref(), Some(e.new_hash.as_str()));
}
