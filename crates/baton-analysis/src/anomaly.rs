//! The anomaly rules (docs/recording.md), evaluated per beat at the end of a run.
//!
//! - [`AnomalyRule::LowSuccessRate`]: success rate under 80% over the beat's last
//!   10 runs (the current one included), once it has at least 3 runs.
//! - [`AnomalyRule::SlowDuration`]: duration above 2x the median of the beat's last
//!   20 successful runs (the current one excluded), once it has at least 3 of them.
//! - [`AnomalyRule::ConsecutiveFailures`]: 3 or more failures in a row, the current
//!   run included.
//!
//! Only judged runs count (see [`BeatStatus::is_judged`]): a skipped or cancelled run
//! neither counts as a run nor breaks a streak, and a skipped or cancelled current
//! run raises no anomaly at all.

use std::fmt;

use baton_model::{BeatOutcome, BeatRecord, BeatStatus};
use serde::{Deserialize, Serialize};

use crate::stats::median;

/// Runs (current included) the success rate is computed over.
pub const SUCCESS_RATE_WINDOW: usize = 10;
/// Runs needed before the success rate is judged.
pub const SUCCESS_RATE_MIN_RUNS: usize = 3;
/// Success rate below which a beat is anomalous.
pub const SUCCESS_RATE_THRESHOLD: f64 = 0.8;
/// Earlier successful runs whose median duration is the baseline.
pub const DURATION_WINDOW: usize = 20;
/// Earlier successful runs needed before durations are judged.
pub const DURATION_MIN_SUCCESSES: usize = 3;
/// How many medians a run may take before it is slow.
pub const DURATION_FACTOR: f64 = 2.0;
/// Noise floor: a run is only slow when it is also at least this much longer than
/// the median, so a 3 ms `echo` against a 1 ms median is not an anomaly.
pub const DURATION_MIN_EXCESS_MS: f64 = 100.0;
/// Failures in a row (current included) that make a streak anomalous.
pub const CONSECUTIVE_FAILURES_THRESHOLD: usize = 3;

/// Which rule an anomaly comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyRule {
    LowSuccessRate,
    SlowDuration,
    ConsecutiveFailures,
}

impl AnomalyRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LowSuccessRate => "low_success_rate",
            Self::SlowDuration => "slow_duration",
            Self::ConsecutiveFailures => "consecutive_failures",
        }
    }
}

impl fmt::Display for AnomalyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that fired for one beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub beat: String,
    pub rule: AnomalyRule,
    /// One readable line with the numbers, without the beat name.
    pub message: String,
    /// What was measured: a rate (0..1), a duration in ms, or a count of failures.
    pub value: f64,
    /// The limit `value` crossed, in the same unit.
    pub threshold: f64,
}

/// Evaluates every rule for `current` against `history`: the same beat's previous
/// runs, newest first, `current` not included. Returns the anomalies in rule order.
pub fn detect(current: &BeatRecord, history: &[BeatRecord]) -> Vec<Anomaly> {
    let outcomes: Vec<BeatOutcome> = history.iter().map(BeatOutcome::from).collect();
    detect_outcomes(current, &outcomes)
}

/// How many of a beat's earlier runs the rules read: the longest of their windows.
pub const HISTORY_WINDOW: usize = if DURATION_WINDOW > SUCCESS_RATE_WINDOW {
    DURATION_WINDOW
} else {
    SUCCESS_RATE_WINDOW
};

/// [`detect_outcomes`] over the latest [`HISTORY_WINDOW`] of a beat's outcomes
/// (given newest first) that started before `current`: a history read after it
/// started may hold it, or later runs.
pub fn detect_before(current: &BeatRecord, newest_first: &[BeatOutcome]) -> Vec<Anomaly> {
    let earlier: Vec<BeatOutcome> = newest_first
        .iter()
        .filter(|o| o.started_at < current.started_at)
        .take(HISTORY_WINDOW)
        .copied()
        .collect();
    detect_outcomes(current, &earlier)
}

/// [`detect`] over the outcomes of the earlier runs (all the rules read).
pub fn detect_outcomes(current: &BeatRecord, history: &[BeatOutcome]) -> Vec<Anomaly> {
    if !current.status.is_judged() {
        return Vec::new();
    }
    [
        low_success_rate(current, history),
        slow_duration(current, history),
        consecutive_failures(current, history),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn low_success_rate(current: &BeatRecord, history: &[BeatOutcome]) -> Option<Anomaly> {
    let window: Vec<BeatStatus> = std::iter::once(current.status)
        .chain(history.iter().map(|r| r.status).filter(|s| s.is_judged()))
        .take(SUCCESS_RATE_WINDOW)
        .collect();
    if window.len() < SUCCESS_RATE_MIN_RUNS {
        return None;
    }
    let succeeded = window.iter().filter(|&&s| s == BeatStatus::Success).count();
    let rate = succeeded as f64 / window.len() as f64;
    if rate >= SUCCESS_RATE_THRESHOLD {
        return None;
    }
    Some(Anomaly {
        beat: current.beat.clone(),
        rule: AnomalyRule::LowSuccessRate,
        message: format!(
            "success rate {:.0}% over its last {} runs ({succeeded} succeeded), below {:.0}%",
            rate * 100.0,
            window.len(),
            SUCCESS_RATE_THRESHOLD * 100.0
        ),
        value: rate,
        threshold: SUCCESS_RATE_THRESHOLD,
    })
}

fn slow_duration(current: &BeatRecord, history: &[BeatOutcome]) -> Option<Anomaly> {
    let durations: Vec<u64> = history
        .iter()
        .filter(|r| r.status == BeatStatus::Success)
        .take(DURATION_WINDOW)
        .map(|r| r.duration_ms)
        .collect();
    if durations.len() < DURATION_MIN_SUCCESSES {
        return None;
    }
    let median = median(&durations)?;
    let threshold = median * DURATION_FACTOR;
    let actual = current.duration_ms as f64;
    if actual <= threshold || actual - median < DURATION_MIN_EXCESS_MS {
        return None;
    }
    Some(Anomaly {
        beat: current.beat.clone(),
        rule: AnomalyRule::SlowDuration,
        message: format!(
            "took {}, over {:.0}x the median {} of its last {} successful runs{}",
            seconds(actual),
            DURATION_FACTOR,
            seconds(median),
            durations.len(),
            if median > 0.0 {
                format!(" ({:.1}x)", actual / median)
            } else {
                String::new()
            }
        ),
        value: actual,
        threshold,
    })
}

fn consecutive_failures(current: &BeatRecord, history: &[BeatOutcome]) -> Option<Anomaly> {
    if !current.status.is_failure() {
        return None;
    }
    let earlier = history
        .iter()
        .filter(|r| r.status.is_judged())
        .take_while(|r| r.status.is_failure())
        .count();
    let streak = 1 + earlier;
    if streak < CONSECUTIVE_FAILURES_THRESHOLD {
        return None;
    }
    Some(Anomaly {
        beat: current.beat.clone(),
        rule: AnomalyRule::ConsecutiveFailures,
        message: format!(
            "failed {streak} times in a row (alert at {CONSECUTIVE_FAILURES_THRESHOLD})"
        ),
        value: streak as f64,
        threshold: CONSECUTIVE_FAILURES_THRESHOLD as f64,
    })
}

/// Milliseconds as every duration reads (see [`baton_model::format_duration`]).
fn seconds(ms: f64) -> String {
    baton_model::format_duration_ms(ms.round() as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use baton_model::{BeatType, CacheState, Level, Shape, SlaVerdict, SloTarget};
    use uuid::Uuid;

    use super::*;

    pub(crate) fn record(status: BeatStatus, duration_ms: u64) -> BeatRecord {
        BeatRecord {
            run_id: Uuid::nil(),
            movement_index: 0,
            movement: "build".into(),
            beat_index: 0,
            beat: "compile".into(),
            beat_type: BeatType::Build,
            level: Level::Mf,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            status,
            reason: None,
            exit_code: None,
            signal: None,
            attempts: 1,
            duration_ms,
            duration_bucket: "1-5s".into(),
            cpu_user_ms: 0,
            cpu_sys_ms: 0,
            peak_rss_bytes: 0,
            artifacts_count: 0,
            artifacts_bytes: 0,
            errors_count: 0,
            cache_state: CacheState::Skip,
            tests: None,
            cost_usd: None,
            metrics: BTreeMap::new(),
            slo: SloTarget {
                duration: Duration::from_secs(120),
                errors: 0,
                cache_hit_rate: None,
            },
            sla: SlaVerdict::default(),
            shape: Shape::default(),
            log_path: None,
            rollback: None,
            input_identity: None,
            restored: false,
            restored_from: None,
        }
    }

    fn records(statuses: &[BeatStatus]) -> Vec<BeatRecord> {
        statuses.iter().map(|s| record(*s, 1000)).collect()
    }

    fn rules(anomalies: &[Anomaly]) -> Vec<AnomalyRule> {
        anomalies.iter().map(|a| a.rule).collect()
    }

    use BeatStatus::{Cancelled, Failure, Skipped, Success, Timeout};

    #[test]
    fn a_healthy_beat_has_no_anomalies() {
        let history = records(&[Success; 15]);
        assert!(detect(&record(Success, 1000), &history).is_empty());
    }

    #[test]
    fn a_first_run_has_no_anomalies() {
        assert!(detect(&record(Failure, 999_999), &[]).is_empty());
    }

    // --- success rate

    #[test]
    fn success_rate_needs_three_runs() {
        // 1 of 2 succeeded (50%) but only two runs: not judged yet.
        let found = detect(&record(Success, 1000), &records(&[Failure]));
        assert!(found.is_empty(), "{found:?}");
        // 1 of 3 (33%): judged.
        let found = detect(&record(Failure, 1000), &records(&[Failure, Success]));
        let low = found
            .iter()
            .find(|a| a.rule == AnomalyRule::LowSuccessRate)
            .unwrap();
        assert!((low.value - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(low.threshold, 0.8);
        assert!(low.message.contains("33%"), "{}", low.message);
        assert!(low.message.contains("last 3 runs"), "{}", low.message);
    }

    #[test]
    fn success_rate_of_exactly_80_percent_is_not_anomalous() {
        // current failure + 1 failure + 8 successes = 8/10.
        let mut history = records(&[Failure]);
        history.extend(records(&[Success; 8]));
        let found = detect(&record(Failure, 1000), &history);
        assert!(!rules(&found).contains(&AnomalyRule::LowSuccessRate));
    }

    #[test]
    fn success_rate_just_under_80_percent_is_anomalous() {
        // current success + 3 failures + 6 successes... = 7/10.
        let mut history = records(&[Failure, Failure, Failure]);
        history.extend(records(&[Success; 6]));
        let found = detect(&record(Success, 1000), &history);
        let low = found
            .iter()
            .find(|a| a.rule == AnomalyRule::LowSuccessRate)
            .unwrap();
        assert!((low.value - 0.7).abs() < 1e-9);
        assert!(low.message.contains("70%"), "{}", low.message);
        assert!(low.message.contains("7 succeeded"), "{}", low.message);
    }

    #[test]
    fn success_rate_looks_at_the_last_ten_runs_only() {
        // Failures older than the window do not count.
        let mut history = records(&[Success; 9]);
        history.extend(records(&[Failure; 10]));
        let found = detect(&record(Success, 1000), &history);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn skipped_and_cancelled_runs_are_not_counted() {
        // Decisive: current failure, failure, success => 1/3; the skips do not
        // push the old successes out of the window nor count as runs.
        let history = records(&[Skipped, Failure, Cancelled, Success]);
        let found = detect(&record(Failure, 1000), &history);
        let low = found
            .iter()
            .find(|a| a.rule == AnomalyRule::LowSuccessRate)
            .unwrap();
        assert!(low.message.contains("last 3 runs"), "{}", low.message);
    }

    #[test]
    fn a_skipped_or_cancelled_current_run_raises_nothing() {
        let history = records(&[Failure; 5]);
        assert!(detect(&record(Skipped, 0), &history).is_empty());
        assert!(detect(&record(Cancelled, 50_000), &history).is_empty());
    }

    // --- slow duration

    fn successes(durations: &[u64]) -> Vec<BeatRecord> {
        durations.iter().map(|d| record(Success, *d)).collect()
    }

    #[test]
    fn slow_duration_needs_three_earlier_successes() {
        let history = successes(&[1000, 1000]);
        assert!(detect(&record(Success, 10_000), &history).is_empty());
        let history = successes(&[1000, 1000, 1000]);
        let found = detect(&record(Success, 10_000), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        let slow = &found[0];
        assert_eq!(slow.value, 10_000.0);
        assert_eq!(slow.threshold, 2000.0);
        assert_eq!(
            slow.message,
            "took 10s, over 2x the median 1s of its last 3 successful runs (10.0x)"
        );
    }

    #[test]
    fn exactly_twice_the_median_is_not_slow() {
        let history = successes(&[1000, 3000, 1000, 900, 2000]);
        assert!(detect(&record(Success, 2000), &history).is_empty());
        let found = detect(&record(Success, 2001), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
    }

    #[test]
    fn slow_duration_excludes_failures_and_the_current_run() {
        // Failed runs were quick; they must not drag the median down.
        let mut history = records(&[Failure]);
        history[0].duration_ms = 1;
        history.extend(successes(&[5000, 5000, 5000]));
        assert!(
            detect(&record(Success, 9000), &history)
                .iter()
                .all(|a| a.rule != AnomalyRule::SlowDuration)
        );
    }

    #[test]
    fn slow_duration_uses_the_last_twenty_successes() {
        // 20 recent successes at 1s, then older ones at 100s: the median is 1s.
        let mut history = successes(&[1000; 20]);
        history.extend(successes(&[100_000; 30]));
        let found = detect(&record(Success, 2500), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        assert!(found[0].message.contains("last 20 successful runs"));
    }

    #[test]
    fn slow_duration_ignores_sub_noise_floor_excess() {
        let history = successes(&[10, 10, 10]);
        assert!(detect(&record(Success, 90), &history).is_empty());
        let history = successes(&[0, 0, 0]);
        let found = detect(&record(Success, 150), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        assert!(
            found[0].message.ends_with("successful runs"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_slow_failure_is_flagged_too() {
        let history = successes(&[1000, 1000, 1000]);
        let found = detect(&record(Timeout, 30_000), &history);
        assert!(rules(&found).contains(&AnomalyRule::SlowDuration));
    }

    // --- consecutive failures

    #[test]
    fn two_failures_in_a_row_are_not_a_streak() {
        let history = records(&[Failure, Success, Success, Success, Success]);
        let found = detect(&record(Failure, 1000), &history);
        assert!(!rules(&found).contains(&AnomalyRule::ConsecutiveFailures));
    }

    #[test]
    fn three_failures_in_a_row_counting_the_current_are_a_streak() {
        let history = records(&[Timeout, Failure, Success]);
        let found = detect(&record(Failure, 1000), &history);
        let streak = found
            .iter()
            .find(|a| a.rule == AnomalyRule::ConsecutiveFailures)
            .unwrap();
        assert_eq!(streak.value, 3.0);
        assert_eq!(streak.threshold, 3.0);
        assert_eq!(streak.message, "failed 3 times in a row (alert at 3)");
    }

    #[test]
    fn a_success_now_ends_the_streak() {
        let history = records(&[Failure; 6]);
        let found = detect(&record(Success, 1000), &history);
        assert!(!rules(&found).contains(&AnomalyRule::ConsecutiveFailures));
    }

    #[test]
    fn skipped_runs_do_not_break_a_streak() {
        let history = records(&[Skipped, Failure, Cancelled, Failure, Failure, Success]);
        let found = detect(&record(Failure, 1000), &history);
        let streak = found
            .iter()
            .find(|a| a.rule == AnomalyRule::ConsecutiveFailures)
            .unwrap();
        assert_eq!(streak.value, 4.0);
    }

    #[test]
    fn rules_serialize_in_snake_case() {
        let anomaly = Anomaly {
            beat: "compile".into(),
            rule: AnomalyRule::LowSuccessRate,
            message: "m".into(),
            value: 0.5,
            threshold: 0.8,
        };
        let json = serde_json::to_value(&anomaly).unwrap();
        assert_eq!(json["rule"], "low_success_rate");
        assert_eq!(
            serde_json::to_value(AnomalyRule::SlowDuration).unwrap(),
            "slow_duration"
        );
        assert_eq!(
            serde_json::to_value(AnomalyRule::ConsecutiveFailures).unwrap(),
            "consecutive_failures"
        );
        let back: Anomaly = serde_json::from_value(json).unwrap();
        assert_eq!(back, anomaly);
    }
}
