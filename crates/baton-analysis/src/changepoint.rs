//! Change points in a beat's durations: where did it get slower (or faster), by how
//! much, and how sure are we.
//!
//! The method, chosen for few false alarms on noisy CI timings:
//! 1. Durations are compared on a log scale (a shift is a ratio: +20%), and only
//!    within one series: the caller passes successful, executed runs of one cache
//!    state, oldest first (mixing hits and misses hides a slowdown in the mix).
//! 2. Every split of the series that leaves at least `min_segment` runs on each
//!    side is scored with the Mann-Whitney rank test; the best-scoring split is
//!    kept if the medians on its two sides differ by at least `min_shift` and the
//!    scan as a whole is significant at `alpha`: its p-value times the number of
//!    splits tried (Bonferroni) is below `alpha`, or, when that is too strict,
//!    fewer than `alpha` of 1,999 random reorderings of the series (seeded from
//!    the data) reach the same maximum. Ranks make a single wild run count for
//!    little.
//! 3. The two halves are searched again the same way (binary segmentation), so a
//!    series can show several change points. The split's exact place is then
//!    settled among its neighbours by least absolute deviation from each side's
//!    median (the rank statistic alone leans towards balanced splits).
//! 4. Each is reported with its Hodges-Lehmann shift (the median of all
//!    after/before ratios) and a distribution-free confidence interval.
//!
//! Lone outliers (far from the runs on both sides of them) are left out first and
//! counted. Below `min_runs` the answer is [`Detection::Insufficient`], with the smallest
//! shift the series' noise would let the scan find once it has enough runs.

use serde::Serialize;

use crate::rank_test::{hodges_lehmann, mann_whitney_p, mid_ranks, upper_quantile};

/// The knobs of the scan; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePointConfig {
    /// Family-wise false-alarm rate of one scan (after the Bonferroni correction).
    pub alpha: f64,
    /// Smallest relative change of the median worth reporting (0.05 = 5%).
    pub min_shift: f64,
    /// Fewest runs on either side of a change point.
    pub min_segment: usize,
    /// Fewest runs in a series before anything is said about it.
    pub min_runs: usize,
    /// Confidence of the reported shift's interval.
    pub confidence: f64,
}

impl Default for ChangePointConfig {
    fn default() -> Self {
        Self {
            alpha: 0.01,
            min_shift: 0.05,
            min_segment: 3,
            min_runs: 10,
            confidence: 0.95,
        }
    }
}

/// Which way a beat moved at a change point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Slower,
    Faster,
}

/// One change point: the series is different from `index` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    /// Position (in the series passed in) of the first run after the change.
    pub index: usize,
    pub direction: Direction,
    /// Relative change (0.23 = 23% slower), the Hodges-Lehmann estimate.
    pub shift: f64,
    /// The shift's confidence interval (`confidence` of the config).
    pub shift_low: f64,
    pub shift_high: f64,
    /// Runs on each side that the test compared (outliers left out).
    pub runs_before: usize,
    pub runs_after: usize,
    pub median_before_ms: f64,
    pub median_after_ms: f64,
    /// The test's p-value after the correction for the splits tried.
    pub p_adjusted: f64,
}

/// What a scan found, always saying how many runs it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Detection {
    /// Too few runs to say anything.
    Insufficient {
        runs: usize,
        needed: usize,
        /// The smallest relative shift the scan could detect (80% power, six
        /// runs after the change) at this series' noise, once it has `needed` runs;
        /// `None` with fewer than three runs to estimate the noise from.
        detectable_shift: Option<f64>,
    },
    /// The scan ran; `change_points` is oldest first and may be empty.
    Analyzed {
        runs: usize,
        /// Lone outliers left out of the scan (counted in `runs`).
        outliers: usize,
        change_points: Vec<ChangePoint>,
        /// As for `Insufficient`, at the series' current length.
        detectable_shift: Option<f64>,
    },
}

/// Scans `durations_ms` (oldest first) for change points.
pub fn detect(durations_ms: &[f64], config: &ChangePointConfig) -> Detection {
    let runs = durations_ms.len();
    let logs: Vec<f64> = durations_ms.iter().map(|&ms| to_log(ms)).collect();
    if runs < config.min_runs.max(2 * config.min_segment) {
        return Detection::Insufficient {
            runs,
            needed: config.min_runs.max(2 * config.min_segment),
            detectable_shift: detectable_shift(&logs, config.min_runs, config),
        };
    }
    // Lone outliers (a run on a loaded machine) are set aside before the scan:
    // in a short baseline one of them is enough to hide a real step.
    let outlier = lone_outliers(&logs);
    let kept: Vec<usize> = (0..runs).filter(|&i| !outlier[i]).collect();
    let kept_ms: Vec<f64> = kept.iter().map(|&i| durations_ms[i]).collect();
    let kept_logs: Vec<f64> = kept.iter().map(|&i| logs[i]).collect();
    let mut found = Vec::new();
    let mut segments = vec![(0, kept.len())];
    while let Some((start, end)) = segments.pop() {
        let Some(point) = best_split(&kept_ms, &kept_logs, start, end, config) else {
            continue;
        };
        segments.push((start, point.index));
        segments.push((point.index, end));
        found.push(point);
    }
    for point in &mut found {
        point.index = kept[point.index];
    }
    found.sort_by_key(|p| p.index);
    Detection::Analyzed {
        runs,
        outliers: runs - kept.len(),
        change_points: found,
        detectable_shift: detectable_shift(&kept_logs, kept.len(), config),
    }
}

/// Runs far from both the three before them and the three after them (more
/// than five times the series' run-to-run noise, and at least 30%): a level
/// shift agrees with one side, a lone outlier with neither. Two outliers in a
/// row are a level for a while, and are kept.
fn lone_outliers(logs: &[f64]) -> Vec<bool> {
    const SIDE: usize = 3;
    let steps: Vec<f64> = logs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    // Successive differences see the noise and not the level shifts.
    let noise = 1.4826 * median(&steps) / std::f64::consts::SQRT_2;
    let limit = (5.0 * noise).max(1.3f64.ln());
    (0..logs.len())
        .map(|i| {
            let before = &logs[i.saturating_sub(SIDE)..i];
            let after = &logs[(i + 1).min(logs.len())..(i + 1 + SIDE).min(logs.len())];
            let far = |side: &[f64]| side.is_empty() || (logs[i] - median(side)).abs() > limit;
            !(before.is_empty() && after.is_empty()) && far(before) && far(after)
        })
        .collect()
}

/// Durations of 0 ms (a no-op) are taken as 1 ms so the log stays finite; ranks,
/// and so the test, do not change.
fn to_log(ms: f64) -> f64 {
    if ms.is_finite() {
        ms.max(1.0).ln()
    } else {
        0.0
    }
}

/// The most significant split of `start..end`, if it passes both thresholds.
fn best_split(
    durations_ms: &[f64],
    logs: &[f64],
    start: usize,
    end: usize,
    config: &ChangePointConfig,
) -> Option<ChangePoint> {
    let len = end - start;
    let min = config.min_segment.max(1);
    if len < 2 * min {
        return None;
    }
    let segment = &logs[start..end];
    let (ranks, ties) = mid_ranks(segment);
    let n = len as f64;
    let tie_factor = (n + 1.0) - ties / (n * (n - 1.0));
    let (best_split, best_z) = scan(&ranks, min, tie_factor)?;
    let split = refine(segment, best_split, min);
    let median_before_ms = median(&durations_ms[start..start + split]);
    let median_after_ms = median(&durations_ms[start + split..end]);
    let median_change = median_after_ms.max(1.0) / median_before_ms.max(1.0) - 1.0;
    if median_change.abs() < config.min_shift {
        return None;
    }
    let u = ranks[..split].iter().sum::<f64>() - (split * (split + 1)) as f64 / 2.0;
    let p = mann_whitney_p(u, split, len - split, ties);
    let splits_tried = (len - 2 * min + 1) as f64;
    let mut p_adjusted = (p * splits_tried).min(1.0);
    if p_adjusted >= config.alpha && p < config.alpha {
        // Bonferroni treats overlapping splits as independent tests and so is
        // too strict for short series; the permutation distribution of the scan's
        // own maximum is exact. Seeded from the data: same series, same answer.
        p_adjusted = p_adjusted.min(permutation_p(&ranks, min, tie_factor, best_z, config.alpha));
    }
    if p_adjusted >= config.alpha {
        return None;
    }
    let shift = hodges_lehmann(&segment[..split], &segment[split..], config.confidence)?;
    Some(ChangePoint {
        index: start + split,
        direction: if median_change > 0.0 {
            Direction::Slower
        } else {
            Direction::Faster
        },
        shift: shift.estimate.exp_m1(),
        shift_low: shift.low.exp_m1(),
        shift_high: shift.high.exp_m1(),
        runs_before: split,
        runs_after: len - split,
        median_before_ms,
        median_after_ms,
        p_adjusted,
    })
}

/// The split with the largest standardized Mann-Whitney statistic, and that
/// statistic; `None` when every value is tied.
fn scan(ranks: &[f64], min: usize, tie_factor: f64) -> Option<(usize, f64)> {
    let len = ranks.len();
    let mut rank_sum = ranks[..min - 1].iter().sum::<f64>();
    let mut best: Option<(usize, f64)> = None;
    for split in min..=len - min {
        rank_sum += ranks[split - 1];
        let (n1, n2) = (split as f64, (len - split) as f64);
        let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
        let variance = n1 * n2 / 12.0 * tie_factor;
        if variance <= 0.0 {
            return None;
        }
        let z = (u - n1 * n2 / 2.0).abs() / variance.sqrt();
        if best.is_none_or(|(_, best_z)| z > best_z) {
            best = Some((split, z));
        }
    }
    best
}

/// Most permutations drawn for one scan's p-value.
const PERMUTATIONS: usize = 1999;

/// The share of random reorderings of `ranks` whose scan maximum reaches
/// `observed`: the p-value of the whole scan under "no change at all". Stops as
/// soon as the answer is sure to be above `alpha`.
fn permutation_p(ranks: &[f64], min: usize, tie_factor: f64, observed: f64, alpha: f64) -> f64 {
    let mut state = ranks.iter().fold(0x9E37_79B9_7F4A_7C15_u64, |h, r| {
        (h ^ r.to_bits()).wrapping_mul(0x0100_0000_01B3)
    }) | 1;
    let mut next = move || {
        // xorshift64*: plenty for shuffling, and no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let give_up = (alpha * (PERMUTATIONS + 1) as f64).ceil() as usize;
    let mut shuffled = ranks.to_vec();
    let mut reached = 0;
    for _ in 0..PERMUTATIONS {
        for i in (1..shuffled.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        if scan(&shuffled, min, tie_factor).is_some_and(|(_, z)| z >= observed - 1e-9) {
            reached += 1;
            if reached >= give_up {
                return 1.0;
            }
        }
    }
    (reached + 1) as f64 / (PERMUTATIONS + 1) as f64
}

/// Where exactly the change is, near the split the rank test liked best.
///
/// The rank statistic favours balanced splits: a high run just before a step
/// slowdown pulls it a run or two off. Among the splits within `min` runs of it,
/// the one whose neighbourhoods sit tightest around their own medians (least
/// total absolute deviation, which one wild run does not sway) is the change.
/// Only `2 * min` runs beyond the candidates count on either side, so another
/// change point further away does not pull this one towards it.
fn refine(segment: &[f64], split: usize, min: usize) -> usize {
    let len = segment.len();
    let low = split.saturating_sub(min).max(min);
    let high = (split + min).min(len - min);
    let from = low.saturating_sub(2 * min);
    let to = (high + 2 * min).min(len);
    let cost = |at: usize| -> f64 {
        [&segment[from..at], &segment[at..to]]
            .iter()
            .map(|side| {
                let center = median(side);
                side.iter().map(|x| (x - center).abs()).sum::<f64>()
            })
            .sum()
    };
    (low..=high)
        .map(|at| (at, cost(at)))
        .min_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(a.0.abs_diff(split).cmp(&b.0.abs_diff(split)))
        })
        .map_or(split, |(at, _)| at)
}

/// The smallest relative shift the scan would find with 80% power in a series of
/// `runs` runs, six of them after the change, at the noise of `logs` (its median
/// absolute deviation). A normal-theory approximation, inflated by the rank
/// test's asymptotic efficiency (3/pi); never below the `min_shift` floor.
fn detectable_shift(logs: &[f64], runs: usize, config: &ChangePointConfig) -> Option<f64> {
    if logs.len() < 3 {
        return None;
    }
    let center = median(logs);
    let deviations: Vec<f64> = logs.iter().map(|x| (x - center).abs()).collect();
    let sigma = 1.4826 * median(&deviations);
    let min = config.min_segment.max(1);
    let runs = runs.max(2 * min);
    let after = 6.min(runs / 2).max(min);
    let before = runs - after;
    let splits = (runs + 1).saturating_sub(2 * min).max(1) as f64;
    let z = upper_quantile(config.alpha / (2.0 * splits)) + upper_quantile(0.2);
    let efficiency = (std::f64::consts::PI / 3.0).sqrt();
    let delta = z * sigma * (1.0 / before as f64 + 1.0 / after as f64).sqrt() * efficiency;
    Some(delta.exp_m1().max(config.min_shift))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic "noisy" series: `base` times a fixed pattern of factors
    /// within +-4%.
    fn noisy(base: f64, len: usize, phase: usize) -> Vec<f64> {
        const PATTERN: [f64; 7] = [1.0, 1.03, 0.97, 1.01, 0.99, 1.04, 0.96];
        (0..len)
            .map(|i| base * PATTERN[(i + phase) % PATTERN.len()])
            .collect()
    }

    fn points(detection: &Detection) -> &[ChangePoint] {
        match detection {
            Detection::Analyzed { change_points, .. } => change_points,
            Detection::Insufficient { .. } => panic!("expected an analysis: {detection:?}"),
        }
    }

    #[test]
    fn a_step_of_twenty_percent_is_found_where_it_is() {
        let mut series = noisy(1000.0, 20, 0);
        series.extend(noisy(1200.0, 6, 3));
        let detection = detect(&series, &ChangePointConfig::default());
        let found = points(&detection);
        assert_eq!(found.len(), 1, "{found:?}");
        let point = &found[0];
        assert_eq!(point.index, 20);
        assert_eq!(point.direction, Direction::Slower);
        assert!((point.shift - 0.2).abs() < 0.05, "{point:?}");
        assert!(point.shift_low <= point.shift && point.shift <= point.shift_high);
        assert!(point.shift_low > 0.1, "{point:?}");
        assert_eq!((point.runs_before, point.runs_after), (20, 6));
    }

    #[test]
    fn improvements_are_change_points_too() {
        let mut series = noisy(2000.0, 15, 1);
        series.extend(noisy(1000.0, 8, 2));
        let found = points(&detect(&series, &ChangePointConfig::default())).to_vec();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].direction, Direction::Faster);
        assert!((found[0].shift + 0.5).abs() < 0.05, "{:?}", found[0]);
    }

    #[test]
    fn two_steps_are_two_change_points() {
        let mut series = noisy(1000.0, 15, 0);
        series.extend(noisy(1500.0, 15, 2));
        series.extend(noisy(3000.0, 15, 4));
        let found = points(&detect(&series, &ChangePointConfig::default())).to_vec();
        let at: Vec<usize> = found.iter().map(|p| p.index).collect();
        assert_eq!(at, [15, 30]);
    }

    #[test]
    fn a_stationary_series_is_quiet() {
        let series = noisy(1000.0, 60, 0);
        assert!(points(&detect(&series, &ChangePointConfig::default())).is_empty());
    }

    #[test]
    fn single_outliers_are_not_change_points() {
        let mut series = noisy(1000.0, 30, 0);
        series[10] = 4000.0;
        series[29] = 3500.0;
        let detection = detect(&series, &ChangePointConfig::default());
        assert!(points(&detection).is_empty());
        assert!(matches!(detection, Detection::Analyzed { outliers: 2, .. }));
    }

    #[test]
    fn an_outlier_in_a_short_baseline_does_not_hide_a_step() {
        let mut series = noisy(1000.0, 10, 0);
        series[7] = 3300.0;
        series.extend(noisy(1500.0, 6, 2));
        let found = points(&detect(&series, &ChangePointConfig::default())).to_vec();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 10);
        assert_eq!((found[0].runs_before, found[0].runs_after), (9, 6));
    }

    #[test]
    fn a_shift_below_the_floor_is_not_reported() {
        // A clean +3% step is significant but under the 5% floor.
        let mut series = vec![1000.0; 20];
        series.extend(vec![1030.0; 20]);
        assert!(points(&detect(&series, &ChangePointConfig::default())).is_empty());
        let config = ChangePointConfig {
            min_shift: 0.02,
            ..ChangePointConfig::default()
        };
        assert_eq!(points(&detect(&series, &config)).len(), 1);
    }

    #[test]
    fn too_few_runs_is_insufficient_data_with_what_could_be_seen() {
        match detect(&noisy(1000.0, 5, 0), &ChangePointConfig::default()) {
            Detection::Insufficient {
                runs,
                needed,
                detectable_shift,
            } => {
                assert_eq!((runs, needed), (5, 10));
                let shift = detectable_shift.expect("noise estimated from 5 runs");
                assert!((0.05..1.0).contains(&shift), "{shift}");
            }
            other => panic!("{other:?}"),
        }
        for series in [&[][..], &[5.0][..], &[5.0, 6.0][..]] {
            assert!(matches!(
                detect(series, &ChangePointConfig::default()),
                Detection::Insufficient {
                    detectable_shift: None,
                    ..
                }
            ));
        }
    }

    #[test]
    fn degenerate_series_give_no_nan() {
        for series in [vec![0.0; 30], vec![1234.0; 30], {
            let mut v = vec![0.0; 15];
            v.extend(vec![5.0; 15]);
            v
        }] {
            let detection = detect(&series, &ChangePointConfig::default());
            let Detection::Analyzed {
                change_points,
                detectable_shift,
                ..
            } = &detection
            else {
                panic!("{detection:?}");
            };
            assert!(
                detectable_shift.is_some_and(f64::is_finite),
                "{detection:?}"
            );
            for p in change_points {
                let numbers = [p.shift, p.shift_low, p.shift_high, p.p_adjusted];
                assert!(numbers.iter().all(|x| x.is_finite()), "{p:?}");
            }
        }
    }
}
