//! The two baselines baton's change-point method is scored against, run in-process
//! on the same miss series that baton imports.
//!
//! - [`t_test`], in the style of Mozilla Perfherder's alerting: at every candidate
//!   split, Welch's t between the 12 runs before it and the 12 from it on (fewer
//!   near the ends, at least 3 a side); an alert where |t| > 7, |t| is at least
//!   that of both neighbouring splits, and the means differ by at least 2%
//!   (Perfherder's default alert threshold). Perfherder waits for 12 runs after a
//!   split and weights the runs before it linearly; this version takes the raw
//!   values unweighted and alerts with 3, so that it can answer "within 6 runs".
//! - [`e_divisive`], E-divisive means (Matteson and James 2014, the method of
//!   Otava/Hunter): the energy statistic with alpha = 1 on the raw durations,
//!   binary segmentation, each new change point kept if a permutation test
//!   (199 shuffles within the current segments, fixed seed) gives p <= 0.05,
//!   segments of at least 3 runs. As in Otava, a split's right end is its
//!   segment's end (the paper also searches it).

use super::rng::Rng;

/// A change point: the series is different from `index` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(super) struct Found {
    pub index: usize,
    pub slower: bool,
}

/// Perfherder's windows and thresholds.
pub(super) const T_WINDOW: usize = 12;
pub(super) const T_MIN_SIDE: usize = 3;
pub(super) const T_THRESHOLD: f64 = 7.0;
pub(super) const T_MIN_CHANGE: f64 = 0.02;

/// The t-test rule over `x` (oldest first).
pub(super) fn t_test(x: &[f64]) -> Vec<Found> {
    let n = x.len();
    if n < 2 * T_MIN_SIDE {
        return Vec::new();
    }
    let mut t = vec![0.0f64; n + 1];
    let mut means = vec![(0.0, 0.0); n + 1];
    for i in T_MIN_SIDE..=n - T_MIN_SIDE {
        let back = &x[i.saturating_sub(T_WINDOW)..i];
        let fore = &x[i..(i + T_WINDOW).min(n)];
        let (m1, v1) = mean_var(back);
        let (m2, v2) = mean_var(fore);
        means[i] = (m1, m2);
        t[i] = welch(m1, v1, back.len(), m2, v2, fore.len()).abs();
    }
    (T_MIN_SIDE..=n - T_MIN_SIDE)
        .filter(|&i| {
            let (m1, m2) = means[i];
            t[i] > T_THRESHOLD
                && t[i] >= t[i - 1]
                && t[i] >= t[i + 1]
                && m1 > 0.0
                && ((m2 - m1) / m1).abs() >= T_MIN_CHANGE
        })
        .map(|i| Found {
            index: i,
            slower: means[i].1 > means[i].0,
        })
        .collect()
}

/// Mean and sample variance (n - 1).
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Welch's t of the second sample against the first (infinite for two different
/// constant samples, 0 for equal means).
fn welch(m1: f64, v1: f64, n1: usize, m2: f64, v2: f64, n2: usize) -> f64 {
    let delta = m2 - m1;
    if delta == 0.0 {
        return 0.0;
    }
    let se = (v1 / n1 as f64 + v2 / n2 as f64).sqrt();
    if se == 0.0 {
        return f64::INFINITY.copysign(delta);
    }
    delta / se
}

/// E-divisive's settings.
pub(super) const E_MIN_SEGMENT: usize = 3;
pub(super) const E_ALPHA: f64 = 0.05;
pub(super) const E_PERMUTATIONS: usize = 199;

/// E-divisive means over `x` (oldest first); `seed` drives the permutations.
pub(super) fn e_divisive(x: &[f64], seed: u64) -> Vec<Found> {
    let n = x.len();
    if n < 2 * E_MIN_SEGMENT {
        return Vec::new();
    }
    let distance: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (x[i] - x[j]).abs())
        .collect();
    let d = |a: usize, b: usize| distance[a * n + b];
    let mut rng = Rng::new(seed);
    let mut bounds = vec![0, n];
    // Give up on the permutations once this many reach the observed statistic.
    let give_up = (E_ALPHA * (E_PERMUTATIONS + 1) as f64).floor() as usize;
    loop {
        let identity: Vec<usize> = (0..n).collect();
        let Some((observed, at)) = best_over(&bounds, &identity, &d) else {
            break;
        };
        let mut reached = 0;
        let mut order = identity.clone();
        for _ in 0..E_PERMUTATIONS {
            for w in bounds.windows(2) {
                rng.shuffle(&mut order[w[0]..w[1]]);
            }
            if best_over(&bounds, &order, &d).is_some_and(|(stat, _)| stat >= observed) {
                reached += 1;
                if reached >= give_up {
                    break;
                }
            }
        }
        let p = (reached + 1) as f64 / (E_PERMUTATIONS + 1) as f64;
        if reached >= give_up || p > E_ALPHA {
            break;
        }
        let slot = bounds.partition_point(|&b| b < at);
        bounds.insert(slot, at);
    }
    bounds
        .windows(3)
        .map(|w| Found {
            index: w[1],
            slower: median(&x[w[1]..w[2]]) > median(&x[w[0]..w[1]]),
        })
        .collect()
}

/// The largest split statistic over every segment between `bounds`, with the
/// points in `order`, and where it splits.
fn best_over(
    bounds: &[usize],
    order: &[usize],
    d: &impl Fn(usize, usize) -> f64,
) -> Option<(f64, usize)> {
    bounds
        .windows(2)
        .filter_map(|w| split(&order[w[0]..w[1]], d).map(|(q, tau)| (q, w[0] + tau)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// The best split of one segment: the energy statistic
/// `Q = (m (s - m) / s) * E`, with
/// `E = 2/(m (s-m)) sum|X-Y| - C(m,2)^-1 sum|X-X'| - C(s-m,2)^-1 sum|Y-Y'|`,
/// over every left size `m` with at least [`E_MIN_SEGMENT`] points a side.
/// O(s^2): the sums are updated as one point at a time crosses the split.
fn split(points: &[usize], d: &impl Fn(usize, usize) -> f64) -> Option<(f64, usize)> {
    let s = points.len();
    if s < 2 * E_MIN_SEGMENT {
        return None;
    }
    let mut within_right: f64 = 0.0;
    for j in 0..s {
        for k in j + 1..s {
            within_right += d(points[j], points[k]);
        }
    }
    let (mut within_left, mut between) = (0.0f64, 0.0f64);
    let mut best: Option<(f64, usize)> = None;
    for m in 1..=s - E_MIN_SEGMENT {
        let p = points[m - 1];
        let to_left: f64 = points[..m - 1].iter().map(|&i| d(i, p)).sum();
        let to_right: f64 = points[m..].iter().map(|&j| d(p, j)).sum();
        within_left += to_left;
        within_right -= to_right;
        between += to_right - to_left;
        if m < E_MIN_SEGMENT {
            continue;
        }
        let (a, b) = (m as f64, (s - m) as f64);
        let energy = 2.0 * between / (a * b)
            - within_left / (a * (a - 1.0) / 2.0)
            - within_right / (b * (b - 1.0) / 2.0);
        let q = a * b / (a + b) * energy;
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, m));
        }
    }
    best
}

fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `base` times a fixed +-4% pattern, `len` runs.
    fn noisy(base: f64, len: usize, phase: usize) -> Vec<f64> {
        const PATTERN: [f64; 7] = [1.0, 1.03, 0.97, 1.01, 0.99, 1.04, 0.96];
        (0..len)
            .map(|i| base * PATTERN[(i + phase) % PATTERN.len()])
            .collect()
    }

    fn step(before: usize, after: usize, ratio: f64) -> Vec<f64> {
        let mut x = noisy(1000.0, before, 0);
        x.extend(noisy(1000.0 * ratio, after, 3));
        x
    }

    #[test]
    fn welch_t_by_hand() {
        // Means 2 and 5, variances 1 and 1, n 3 and 3: t = 3 / sqrt(2/3).
        let t = welch(2.0, 1.0, 3, 5.0, 1.0, 3);
        assert!((t - 3.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(welch(1.0, 0.0, 3, 2.0, 0.0, 3), f64::INFINITY);
        assert_eq!(welch(2.0, 0.0, 3, 1.0, 0.0, 3), f64::NEG_INFINITY);
        assert_eq!(welch(1.0, 4.0, 3, 1.0, 4.0, 3), 0.0);
        let (m, v) = mean_var(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((m, v), (2.5, 5.0 / 3.0));
    }

    #[test]
    fn the_t_test_finds_a_clear_step_where_it_is() {
        let found = t_test(&step(20, 12, 1.5));
        assert_eq!(
            found,
            [Found {
                index: 20,
                slower: true
            }]
        );
        let found = t_test(&step(20, 6, 0.5));
        assert_eq!(
            found,
            [Found {
                index: 20,
                slower: false
            }]
        );
    }

    #[test]
    fn the_t_test_is_quiet_on_noise_and_small_changes() {
        assert!(t_test(&noisy(1000.0, 50, 0)).is_empty());
        // +1.5%: significant on this regular pattern, under the 2% threshold.
        assert!(t_test(&step(20, 12, 1.015)).is_empty());
        assert!(t_test(&[1.0, 2.0, 3.0, 4.0, 5.0]).is_empty());
        assert!(t_test(&[]).is_empty());
    }

    #[test]
    fn the_energy_statistic_by_hand() {
        // Points 0, 0, 0 | 6, 6, 6: between pairs 9 x 6, within 0.
        // E = 2 * 54 / 9 = 12, Q = (3 * 3 / 6) * 12 = 18.
        let x: [f64; 6] = [0.0, 0.0, 0.0, 6.0, 6.0, 6.0];
        let d = |a: usize, b: usize| (x[a] - x[b]).abs();
        let (q, m) = split(&[0, 1, 2, 3, 4, 5], &d).unwrap();
        assert_eq!(m, 3);
        assert!((q - 18.0).abs() < 1e-9, "{q}");
        // Against a direct computation at another split (m = 3 of 0,1,2,3,4,5 values).
        let y: [f64; 6] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let dy = |a: usize, b: usize| (y[a] - y[b]).abs();
        let direct = |m: usize| {
            let (l, r) = y.split_at(m);
            let between: f64 = l
                .iter()
                .flat_map(|a| r.iter().map(move |b: &f64| (a - b).abs()))
                .sum();
            let within = |s: &[f64]| {
                let mut t = 0.0;
                for i in 0..s.len() {
                    for j in i + 1..s.len() {
                        t += (s[i] - s[j]).abs();
                    }
                }
                t / (s.len() * (s.len() - 1) / 2) as f64
            };
            let (a, b) = (l.len() as f64, r.len() as f64);
            a * b / (a + b) * (2.0 * between / (a * b) - within(l) - within(r))
        };
        let (q, m) = split(&[0, 1, 2, 3, 4, 5], &dy).unwrap();
        assert_eq!(m, 3);
        assert!((q - direct(3)).abs() < 1e-9);
    }

    #[test]
    fn e_divisive_finds_one_and_two_steps() {
        let found = e_divisive(&step(20, 12, 1.5), 1);
        assert_eq!(
            found,
            [Found {
                index: 20,
                slower: true
            }]
        );
        let mut x = noisy(1000.0, 15, 0);
        x.extend(noisy(1500.0, 15, 2));
        x.extend(noisy(3000.0, 15, 4));
        let at: Vec<usize> = e_divisive(&x, 1).iter().map(|f| f.index).collect();
        assert_eq!(at, [15, 30]);
    }

    #[test]
    fn e_divisive_is_quiet_on_a_flat_series_and_deterministic() {
        let flat = noisy(1000.0, 40, 0);
        assert!(e_divisive(&flat, 3).is_empty());
        let x = step(10, 6, 1.2);
        assert_eq!(e_divisive(&x, 9), e_divisive(&x, 9));
        assert!(e_divisive(&[1.0; 5], 1).is_empty());
    }
}
