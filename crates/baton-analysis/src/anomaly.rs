//! The anomaly rules (docs/recording.md), evaluated per beat at the end of a run.
//!
//! - [`AnomalyRule::LowSuccessRate`]: success rate under 80% over the beat's last
//!   10 runs (the current one included), judged only once those 10 runs exist: a
//!   rate over 4 runs moves by 25 points with one failure.
//! - [`AnomalyRule::SlowDuration`]: duration above 2x the median of the beat's last
//!   20 successful runs (the current one excluded), once it has at least 5 of them,
//!   and at least the noise floor (`anomalies.min_slowdown`, 1 s by default) above
//!   that median, so that a 0.4 s step taking 1.2 s is not an alarm.
//! - [`AnomalyRule::ConsecutiveFailures`]: 3 or more failures in a row, the current
//!   run included (the streak is its own minimum).
//!
//! Only judged runs count (see [`BeatStatus::is_judged`]): a skipped or cancelled run
//! neither counts as a run nor breaks a streak, and a skipped or cancelled current
//! run raises no anomaly at all. Every anomaly says how many runs it rests on
//! ([`Anomaly::runs`], and `(N runs)` at the end of its message).

use std::fmt;

use baton_model::{AnomalySettings, BeatOutcome, BeatRecord, BeatStatus};
use serde::{Deserialize, Serialize};

use crate::stats::median;

/// Runs (current included) the success rate is computed over.
pub const SUCCESS_RATE_WINDOW: usize = 10;
/// Runs needed before the success rate is judged: the whole window.
pub const SUCCESS_RATE_MIN_RUNS: usize = SUCCESS_RATE_WINDOW;
/// Success rate below which a beat is anomalous.
pub const SUCCESS_RATE_THRESHOLD: f64 = 0.8;
/// Earlier successful runs whose median duration is the baseline.
pub const DURATION_WINDOW: usize = 20;
/// Earlier successful runs needed before durations are judged: a median of 5
/// stands when 2 of them were outliers (a cold first run, a busy machine).
pub const DURATION_MIN_SUCCESSES: usize = 5;
/// How many medians a run may take before it is slow.
pub const DURATION_FACTOR: f64 = 2.0;
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
    /// How many runs the verdict rests on: the judged runs of the success-rate
    /// window (current included), the earlier successful runs the median duration
    /// comes from, or the failures of the streak.
    #[serde(default)]
    pub runs: usize,
}

/// Evaluates every rule for `current` against `history`: the same beat's previous
/// runs, newest first, `current` not included. Returns the anomalies in rule order.
pub fn detect(
    current: &BeatRecord,
    history: &[BeatRecord],
    settings: &AnomalySettings,
) -> Vec<Anomaly> {
    let outcomes: Vec<BeatOutcome> = history.iter().map(BeatOutcome::from).collect();
    detect_outcomes(current, &outcomes, settings)
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
pub fn detect_before(
    current: &BeatRecord,
    newest_first: &[BeatOutcome],
    settings: &AnomalySettings,
) -> Vec<Anomaly> {
    let earlier: Vec<BeatOutcome> = newest_first
        .iter()
        .filter(|o| o.started_at < current.started_at)
        .take(HISTORY_WINDOW)
        .copied()
        .collect();
    detect_outcomes(current, &earlier, settings)
}

/// [`detect`] over the outcomes of the earlier runs (all the rules read).
pub fn detect_outcomes(
    current: &BeatRecord,
    history: &[BeatOutcome],
    settings: &AnomalySettings,
) -> Vec<Anomaly> {
    if !current.status.is_judged() {
        return Vec::new();
    }
    [
        low_success_rate(current, history),
        slow_duration(current, history, settings),
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
            "success rate {:.0}% < {:.0}%, {succeeded} succeeded ({})",
            rate * 100.0,
            SUCCESS_RATE_THRESHOLD * 100.0,
            runs(window.len())
        ),
        value: rate,
        threshold: SUCCESS_RATE_THRESHOLD,
        runs: window.len(),
    })
}

fn slow_duration(
    current: &BeatRecord,
    history: &[BeatOutcome],
    settings: &AnomalySettings,
) -> Option<Anomaly> {
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
    let floor = settings.min_slowdown.as_millis() as f64;
    let actual = current.duration_ms as f64;
    if actual <= median * DURATION_FACTOR || actual - median < floor {
        return None;
    }
    // The lowest duration that is slow by both tests.
    let threshold = (median * DURATION_FACTOR).max(median + floor);
    let ratio = if median > 0.0 {
        format!(" ({:.1}x)", actual / median)
    } else {
        String::new()
    };
    Some(Anomaly {
        beat: current.beat.clone(),
        rule: AnomalyRule::SlowDuration,
        message: format!(
            "took {} against a median of {}{ratio}, alert above {:.0}x and +{} ({})",
            seconds(actual),
            seconds(median),
            DURATION_FACTOR,
            seconds(floor),
            runs(durations.len())
        ),
        value: actual,
        threshold,
        runs: durations.len(),
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
            "failed {streak} times in a row, alert at {CONSECUTIVE_FAILURES_THRESHOLD} ({})",
            runs(streak)
        ),
        value: streak as f64,
        threshold: CONSECUTIVE_FAILURES_THRESHOLD as f64,
        runs: streak,
    })
}

/// `(1 run)`, `(10 runs)`: what a verdict rests on, at the end of its message.
fn runs(n: usize) -> String {
    if n == 1 {
        "1 run".to_owned()
    } else {
        format!("{n} runs")
    }
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
                objective: None,
            },
            sla: SlaVerdict::default(),
            shape: Shape::default(),
            log_path: None,
            rollback: None,
            attempt_log: Vec::new(),
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

    /// The rules with the default settings (a noise floor of 1 s).
    fn detect(current: &BeatRecord, history: &[BeatRecord]) -> Vec<Anomaly> {
        super::detect(current, history, &AnomalySettings::default())
    }

    fn with_floor(ms: u64) -> AnomalySettings {
        AnomalySettings {
            min_slowdown: Duration::from_millis(ms),
        }
    }

    fn find(found: &[Anomaly], rule: AnomalyRule) -> &Anomaly {
        found
            .iter()
            .find(|a| a.rule == rule)
            .unwrap_or_else(|| panic!("no {rule} in {found:?}"))
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
    fn success_rate_waits_for_a_full_window_of_ten_runs() {
        // 2 of 4 succeeded (50%): far below 80%, but 4 runs say little.
        let history = records(&[Failure, Success, Success]);
        let found = detect(&record(Failure, 1000), &history);
        assert!(!rules(&found).contains(&AnomalyRule::LowSuccessRate));
        // 1 of 9 (11%): still not a full window.
        let mut history = records(&[Failure; 7]);
        history.extend(records(&[Success]));
        let found = detect(&record(Failure, 1000), &history);
        assert!(!rules(&found).contains(&AnomalyRule::LowSuccessRate));
        // 7 of 10: judged.
        let mut history = records(&[Failure, Failure, Failure]);
        history.extend(records(&[Success; 6]));
        let found = detect(&record(Success, 1000), &history);
        let low = find(&found, AnomalyRule::LowSuccessRate);
        assert_eq!(low.runs, 10);
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
        // current success + 3 failures + 6 successes = 7/10.
        let mut history = records(&[Failure, Failure, Failure]);
        history.extend(records(&[Success; 6]));
        let found = detect(&record(Success, 1000), &history);
        let low = find(&found, AnomalyRule::LowSuccessRate);
        assert!((low.value - 0.7).abs() < 1e-9);
        assert_eq!(low.threshold, 0.8);
        assert_eq!(low.runs, 10);
        assert_eq!(low.message, "success rate 70% < 80%, 7 succeeded (10 runs)");
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
        // Judged: current failure, failure, failure, 7 successes => 7/10. Counting
        // the skips as runs would give 5 of 10.
        let mut history = records(&[Skipped, Failure, Cancelled, Failure]);
        history.extend(records(&[Success; 7]));
        history.extend(records(&[Failure; 5]));
        let found = detect(&record(Failure, 1000), &history);
        let low = find(&found, AnomalyRule::LowSuccessRate);
        assert_eq!(low.message, "success rate 70% < 80%, 7 succeeded (10 runs)");
    }

    #[test]
    fn a_skipped_or_cancelled_current_run_raises_nothing() {
        let history = records(&[Failure; 12]);
        assert!(detect(&record(Skipped, 0), &history).is_empty());
        assert!(detect(&record(Cancelled, 50_000), &history).is_empty());
    }

    // --- slow duration

    fn successes(durations: &[u64]) -> Vec<BeatRecord> {
        durations.iter().map(|d| record(Success, *d)).collect()
    }

    #[test]
    fn slow_duration_needs_five_earlier_successes() {
        let history = successes(&[1000; 4]);
        assert!(detect(&record(Success, 10_000), &history).is_empty());
        let history = successes(&[1000; 5]);
        let found = detect(&record(Success, 10_000), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        let slow = &found[0];
        assert_eq!(slow.value, 10_000.0);
        assert_eq!(slow.threshold, 2000.0);
        assert_eq!(slow.runs, 5);
        assert_eq!(
            slow.message,
            "took 10s against a median of 1s (10.0x), alert above 2x and +1s (5 runs)"
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
        history.extend(successes(&[5000; 5]));
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
        assert_eq!(found[0].runs, 20);
        assert!(
            found[0].message.ends_with("(20 runs)"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_slowdown_under_the_one_second_floor_is_not_an_anomaly() {
        // What a user saw: clippy at 1.18 s against a median of 0.39 s (3x).
        let history = successes(&[390; 5]);
        assert!(detect(&record(Success, 1180), &history).is_empty());
        // 0.4 s to 1.2 s: 3x, 0.8 s longer.
        let history = successes(&[400; 5]);
        assert!(detect(&record(Success, 1200), &history).is_empty());
        // At least 1 s longer (and over 2x) is slow; just under is not.
        let history = successes(&[500; 5]);
        assert!(detect(&record(Success, 1499), &history).is_empty());
        let found = detect(&record(Success, 1500), &history);
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        assert_eq!(found[0].threshold, 1500.0);
    }

    #[test]
    fn a_configured_floor_replaces_the_default() {
        let history = successes(&[400; 5]);
        let current = record(Success, 1200);
        let found = super::detect(&current, &history, &with_floor(300));
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
        assert_eq!(found[0].threshold, 800.0);
        assert_eq!(
            found[0].message,
            "took 1.20s against a median of 400ms (3.0x), alert above 2x and +300ms (5 runs)"
        );
        // No floor at all: 2x is enough, however small.
        let history = successes(&[10; 5]);
        assert!(super::detect(&record(Success, 20), &history, &with_floor(0)).is_empty());
        let found = super::detect(&record(Success, 21), &history, &with_floor(0));
        assert_eq!(rules(&found), vec![AnomalyRule::SlowDuration]);
    }

    #[test]
    fn a_median_of_zero_gives_no_ratio() {
        let history = successes(&[0; 5]);
        assert!(detect(&record(Success, 999), &history).is_empty());
        let found = detect(&record(Success, 1500), &history);
        assert_eq!(
            found[0].message,
            "took 1.50s against a median of 0ms, alert above 2x and +1s (5 runs)"
        );
    }

    #[test]
    fn a_slow_failure_is_flagged_too() {
        let history = successes(&[1000; 5]);
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
        let streak = find(&found, AnomalyRule::ConsecutiveFailures);
        assert_eq!(streak.value, 3.0);
        assert_eq!(streak.threshold, 3.0);
        assert_eq!(streak.runs, 3);
        assert_eq!(
            streak.message,
            "failed 3 times in a row, alert at 3 (3 runs)"
        );
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
        let streak = find(&found, AnomalyRule::ConsecutiveFailures);
        assert_eq!(streak.value, 4.0);
        assert_eq!(streak.runs, 4);
    }

    #[test]
    fn rules_serialize_in_snake_case() {
        let anomaly = Anomaly {
            beat: "compile".into(),
            rule: AnomalyRule::LowSuccessRate,
            message: "m".into(),
            value: 0.5,
            threshold: 0.8,
            runs: 10,
        };
        let json = serde_json::to_value(&anomaly).unwrap();
        assert_eq!(json["rule"], "low_success_rate");
        assert_eq!(json["runs"], 10);
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
        // Report files written before `runs` existed still read.
        let old = serde_json::json!({
            "beat": "b", "rule": "slow_duration", "message": "m", "value": 1.0, "threshold": 2.0
        });
        assert_eq!(serde_json::from_value::<Anomaly>(old).unwrap().runs, 0);
    }
}
