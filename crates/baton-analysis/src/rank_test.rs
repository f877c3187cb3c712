//! The Mann-Whitney rank test and the Hodges-Lehmann shift, the two pieces the
//! change-point scan is built from.
//!
//! Both work on ranks, so they do not care how durations are distributed (build
//! times are skewed and have outliers), and a single wild run moves them little.

use statrs::distribution::{ContinuousCDF, Normal};

/// Mid-ranks (1-based) of `values`: tied values share the mean of their ranks.
/// Also returns the tie correction term `sum(t^3 - t)` over groups of `t` ties.
pub fn mid_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold equal values: ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        let t = (end - start) as f64;
        ties += t * t * t - t;
        start = end;
    }
    (ranks, ties)
}

/// Two-sided p-value of a Mann-Whitney U statistic `u` for samples of `n1` and
/// `n2` values whose combined ranks had the tie term `ties` (see [`mid_ranks`]).
///
/// Small samples without ties get the exact distribution, counted by dynamic
/// programming up to the observed tail (the normal approximation is far too
/// generous there: for 10 values against 6 with no overlap it says 0.0014 where
/// the truth is 0.00025). Otherwise the normal approximation with tie and
/// continuity corrections. Always a number in `0.0..=1.0`.
pub fn mann_whitney_p(u: f64, n1: usize, n2: usize, ties: f64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let product = (n1 * n2) as f64;
    let tail_u = u.min(product - u);
    if ties == 0.0
        && let Some(p) = exact_two_sided(tail_u, n1, n2)
    {
        return p;
    }
    let n = (n1 + n2) as f64;
    let variance = product / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        // Every value tied: nothing tells the two samples apart.
        return 1.0;
    }
    let z = ((product / 2.0 - tail_u) - 0.5).max(0.0) / variance.sqrt();
    (2.0 * upper_tail(z)).min(1.0)
}

/// `P(Z > z)` for a standard normal `Z`.
pub fn upper_tail(z: f64) -> f64 {
    standard_normal().sf(z)
}

/// The `z` with `P(Z > z) = p`, for `p` in `(0, 1)`.
pub fn upper_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(1.0 - p.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON))
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// Largest table the exact count may fill (cells of `u` times the smaller sample).
const EXACT_WORK_LIMIT: usize = 4_000_000;

/// Exact two-sided p for the lower-tail statistic `tail_u`, or `None` when the
/// count would cost more than [`EXACT_WORK_LIMIT`].
fn exact_two_sided(tail_u: f64, n1: usize, n2: usize) -> Option<f64> {
    let (small, large) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let limit = tail_u.floor() as usize;
    if small > 30 || (limit + 1) * small * (large + 1) > EXACT_WORK_LIMIT {
        return None;
    }
    // An arrangement is fixed by how many large-sample values precede each
    // small-sample value (a non-decreasing list of m numbers in 0..=L), and U is
    // their sum. ways[k][s] counts such lists of length k summing to s, built by
    // allowing the height j = 0, 1, ..., L in turn (any number of times each);
    // sums above the observed tail are never needed.
    let mut ways = vec![vec![0.0f64; limit + 1]; small + 1];
    ways[0][0] = 1.0;
    for j in 0..=large {
        for k in 1..=small {
            for s in j..=limit {
                let add = ways[k - 1][s - j];
                ways[k][s] += add;
            }
        }
    }
    let below: f64 = ways[small].iter().sum();
    let total = binomial(n1 + n2, small);
    Some((2.0 * below / total).min(1.0))
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The Hodges-Lehmann estimate of how much `after` is shifted from `before`
/// (the median of all pairwise differences `after[j] - before[i]`) with a
/// distribution-free confidence interval at `confidence` (e.g. 0.95).
pub fn hodges_lehmann(before: &[f64], after: &[f64], confidence: f64) -> Option<Shift> {
    if before.is_empty() || after.is_empty() {
        return None;
    }
    let mut diffs: Vec<f64> = Vec::with_capacity(before.len() * after.len());
    for a in after {
        for b in before {
            diffs.push(a - b);
        }
    }
    diffs.sort_by(f64::total_cmp);
    let m = diffs.len();
    let estimate = if m % 2 == 1 {
        diffs[m / 2]
    } else {
        (diffs[m / 2 - 1] + diffs[m / 2]) / 2.0
    };
    let (n1, n2) = (before.len() as f64, after.len() as f64);
    let z = upper_quantile((1.0 - confidence) / 2.0);
    let k = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    let k = if k < 0.0 { 0 } else { k as usize };
    let low = diffs[k.min(m - 1)];
    let high = diffs[(m - 1).saturating_sub(k)];
    Some(Shift {
        estimate,
        low: low.min(estimate),
        high: high.max(estimate),
    })
}

/// A location shift with its confidence interval, in the units of the values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_ranks_share_ties() {
        let (ranks, ties) = mid_ranks(&[10.0, 20.0, 10.0, 30.0]);
        assert_eq!(ranks, [1.5, 3.0, 1.5, 4.0]);
        assert_eq!(ties, 6.0);
    }

    #[test]
    fn exact_p_of_complete_separation() {
        // 10 before, 6 after, no overlap: one arrangement in C(16, 6) = 8008 per tail.
        let p = mann_whitney_p(0.0, 10, 6, 0.0);
        assert!((p - 2.0 / 8008.0).abs() < 1e-12, "{p}");
        // Symmetric in which tail the statistic sits.
        assert_eq!(p, mann_whitney_p(60.0, 10, 6, 0.0));
    }

    #[test]
    fn exact_p_matches_a_table_value() {
        // n1 = n2 = 4: P(U <= 1) = 2 / 70 (U = 0 once, U = 1 once).
        let p = mann_whitney_p(1.0, 4, 4, 0.0);
        assert!((p - 4.0 / 70.0).abs() < 1e-12, "{p}");
        // U at its mean is no evidence at all.
        assert_eq!(mann_whitney_p(8.0, 4, 4, 0.0), 1.0);
    }

    #[test]
    fn normal_approximation_for_large_samples() {
        // 200 against 200 with U at its mean: p is 1; far below it, tiny.
        assert!(mann_whitney_p(20_000.0, 200, 200, 0.0) > 0.99);
        let p = mann_whitney_p(12_000.0, 200, 200, 0.0);
        assert!(p > 0.0 && p < 1e-10, "{p}");
    }

    #[test]
    fn all_ties_is_no_evidence() {
        let (_, ties) = mid_ranks(&[5.0; 8]);
        assert_eq!(mann_whitney_p(8.0, 4, 4, ties), 1.0);
    }

    #[test]
    fn hodges_lehmann_of_a_pure_shift() {
        let before = [1.0, 2.0, 3.0, 4.0, 5.0];
        let after = [11.0, 12.0, 13.0, 14.0, 15.0];
        let shift = hodges_lehmann(&before, &after, 0.95).expect("samples");
        assert_eq!(shift.estimate, 10.0);
        assert!(shift.low <= 10.0 && shift.high >= 10.0);
        assert!(shift.low > 5.0 && shift.high < 15.0, "{shift:?}");
    }

    #[test]
    fn quantiles_round_trip() {
        assert!((upper_quantile(0.025) - 1.959_964).abs() < 1e-5);
        assert!((upper_tail(1.959_964) - 0.025).abs() < 1e-6);
    }
}
