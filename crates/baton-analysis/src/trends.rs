//! Trends: a beat's (or a pipeline's) runs per day or ISO week, with duration
//! percentiles kept apart by cache state, rates with their sample sizes, and the
//! time lost to failures and retries.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::proportion::Proportion;

/// Fewest durations for a p95: below it the bucket shows its maximum instead.
pub const P95_MIN_SAMPLES: usize = 20;

/// One run of a beat as trends see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendPoint {
    pub at: Timestamp,
    pub duration_ms: u64,
    /// Restored from the step cache instead of executed.
    pub restored: bool,
    /// `Some(true)` passed, `Some(false)` failed or timed out, `None` for a run
    /// that says nothing (cancelled, skipped).
    pub passed: Option<bool>,
    /// A failure that the same inputs also passed (see [`crate::flaky`]), or a
    /// pass that needed a retry.
    pub flaky: bool,
    /// Time that bought nothing: the whole run when it failed, the attempts
    /// before the last when it was retried.
    pub lost_ms: u64,
}

/// How points are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    IsoWeek,
}

/// Durations of one cache state in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Durations {
    pub n: usize,
    pub p50_ms: f64,
    /// Only with at least [`P95_MIN_SAMPLES`] durations.
    pub p95_ms: Option<f64>,
    pub max_ms: f64,
}

impl Durations {
    /// `None` for no durations.
    pub fn of(values: &[u64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            n: sorted.len(),
            p50_ms: quantile(&sorted, 0.5),
            p95_ms: (sorted.len() >= P95_MIN_SAMPLES).then(|| quantile(&sorted, 0.95)),
            max_ms: sorted[sorted.len() - 1],
        })
    }
}

/// One day or week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// `2026-12-03` or `2026-W49`.
    pub period: String,
    pub runs: usize,
    /// Executed runs (cache misses and uncached beats) that passed.
    pub executed: Option<Durations>,
    /// Runs restored from the cache.
    pub restored: Option<Durations>,
    /// Passes among runs that passed or failed.
    pub success_rate: Proportion,
    /// Restored among runs that passed.
    pub cache_hit_rate: Proportion,
    /// Flaky outcomes among runs that passed or failed.
    pub flaky_rate: Proportion,
    pub lost_ms: u64,
}

/// Groups `points` by day or ISO week in `tz`, oldest bucket first. Empty
/// periods are left out.
pub fn buckets(points: &[TrendPoint], period: Period, tz: &TimeZone) -> Vec<Bucket> {
    let mut groups: BTreeMap<(i16, i16), Vec<&TrendPoint>> = BTreeMap::new();
    for point in points {
        let date = point.at.to_zoned(tz.clone()).date();
        let key = match period {
            Period::Day => (date.year(), date.day_of_year()),
            Period::IsoWeek => {
                let week = date.iso_week_date();
                (week.year(), i16::from(week.week()))
            }
        };
        groups.entry(key).or_default().push(point);
    }
    groups
        .into_iter()
        .map(|((year, index), group)| {
            let label = match period {
                Period::Day => group[0].at.to_zoned(tz.clone()).date().to_string(),
                Period::IsoWeek => format!("{year:04}-W{index:02}"),
            };
            summarize(label, &group)
        })
        .collect()
}

/// All of `points` as one bucket named `label` (a whole window, say).
pub fn summary(label: String, points: &[TrendPoint]) -> Bucket {
    let group: Vec<&TrendPoint> = points.iter().collect();
    summarize(label, &group)
}

fn summarize(period: String, group: &[&TrendPoint]) -> Bucket {
    let passed = |p: &&&TrendPoint| p.passed == Some(true);
    let executed: Vec<u64> = group
        .iter()
        .filter(|p| passed(p) && !p.restored)
        .map(|p| p.duration_ms)
        .collect();
    let restored: Vec<u64> = group
        .iter()
        .filter(|p| passed(p) && p.restored)
        .map(|p| p.duration_ms)
        .collect();
    let decisive = group.iter().filter(|p| p.passed.is_some()).count();
    let passes = group.iter().filter(passed).count();
    let flaky = group
        .iter()
        .filter(|p| p.passed.is_some() && p.flaky)
        .count();
    Bucket {
        period,
        runs: group.len(),
        executed: Durations::of(&executed),
        restored: Durations::of(&restored),
        success_rate: Proportion::wilson(passes, decisive, 0.95),
        cache_hit_rate: Proportion::wilson(restored.len(), passes, 0.95),
        flaky_rate: Proportion::wilson(flaky, decisive, 0.95),
        lost_ms: group.iter().map(|p| p.lost_ms).sum(),
    }
}

/// The `q` quantile of sorted values, interpolated between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// A one-line chart of `values` (`None`: a gap), scaled between their minimum
/// and maximum: `▁▂▅█ ▃`.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    values
        .iter()
        .map(|value| match value {
            Some(v) if v.is_finite() => {
                if high > low {
                    let level = ((v - low) / (high - low) * 7.0).round() as usize;
                    BARS[level.min(7)]
                } else {
                    BARS[3]
                }
            }
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: &str, duration_ms: u64, restored: bool, passed: Option<bool>) -> TrendPoint {
        TrendPoint {
            at: format!("{day}T12:00:00Z").parse().expect("timestamp"),
            duration_ms,
            restored,
            passed,
            flaky: false,
            lost_ms: if passed == Some(false) {
                duration_ms
            } else {
                0
            },
        }
    }

    #[test]
    fn days_keep_cache_states_apart() {
        let points = [
            point("2026-12-01", 1000, false, Some(true)),
            point("2026-12-01", 3000, false, Some(true)),
            point("2026-12-01", 50, true, Some(true)),
            point("2026-12-01", 900, false, Some(false)),
            point("2026-12-02", 2000, false, Some(true)),
            point("2026-12-02", 10, false, None),
        ];
        let days = buckets(&points, Period::Day, &TimeZone::UTC);
        assert_eq!(days.len(), 2);
        let first = &days[0];
        assert_eq!(first.period, "2026-12-01");
        assert_eq!(first.runs, 4);
        let executed = first.executed.expect("executed runs");
        assert_eq!(
            (executed.n, executed.p50_ms, executed.max_ms),
            (2, 2000.0, 3000.0)
        );
        assert_eq!(executed.p95_ms, None, "two runs are too few for a p95");
        assert_eq!(first.restored.expect("restored").p50_ms, 50.0);
        assert_eq!((first.success_rate.count, first.success_rate.total), (3, 4));
        assert_eq!(
            (first.cache_hit_rate.count, first.cache_hit_rate.total),
            (1, 3)
        );
        assert_eq!(first.lost_ms, 900);
        assert_eq!(
            days[1].success_rate.total, 1,
            "a cancelled run says nothing"
        );
    }

    #[test]
    fn p95_needs_twenty_samples() {
        let values: Vec<u64> = (1..=20).collect();
        let durations = Durations::of(&values).expect("values");
        assert_eq!(durations.p50_ms, 10.5);
        assert!((durations.p95_ms.expect("20 samples") - 19.05).abs() < 1e-9);
        assert_eq!(Durations::of(&[]), None);
    }

    #[test]
    fn iso_weeks_cross_the_year() {
        let points = [
            point("2026-12-31", 1, false, Some(true)),
            point("2027-01-01", 1, false, Some(true)),
            point("2027-01-04", 1, false, Some(true)),
        ];
        let weeks = buckets(&points, Period::IsoWeek, &TimeZone::UTC);
        let labels: Vec<&str> = weeks.iter().map(|b| b.period.as_str()).collect();
        assert_eq!(labels, ["2026-W53", "2027-W01"]);
        assert_eq!(weeks[0].runs, 2);
    }

    #[test]
    fn sparklines_scale_and_show_gaps() {
        assert_eq!(sparkline(&[Some(1.0), Some(8.0), None, Some(4.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(3.0), Some(3.0)]), "▄▄");
        assert_eq!(sparkline(&[None, Some(f64::NAN)]), "  ");
    }
}
