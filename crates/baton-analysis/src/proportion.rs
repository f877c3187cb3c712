//! A rate with the uncertainty its sample size leaves: `3 failures in 40 runs`
//! is 7.5%, but anything from 2.6% to 19.9% fits it.

use serde::Serialize;

use crate::rank_test::upper_quantile;

/// `count` out of `total` (failures of runs, hits of lookups), with a Wilson
/// score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    pub count: usize,
    pub total: usize,
    /// `count / total`; 0 when the total is 0 (then `low` is 0 and `high` 1:
    /// nothing is known).
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Proportion {
    /// The rate with its Wilson score interval at `confidence` (e.g. 0.95).
    /// Unlike the textbook `p +- z*sqrt(p(1-p)/n)`, it stays inside 0..=1 and
    /// does not collapse to a point at 0 or n successes.
    pub fn wilson(count: usize, total: usize, confidence: f64) -> Self {
        if total == 0 {
            return Self {
                count,
                total,
                rate: 0.0,
                low: 0.0,
                high: 1.0,
            };
        }
        let count = count.min(total);
        let n = total as f64;
        let p = count as f64 / n;
        let z = upper_quantile((1.0 - confidence) / 2.0);
        let z2 = z * z;
        let center = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        // At 0 or `total` the bound is exactly 0 or 1 (rounding would leave 1e-17).
        Self {
            count,
            total,
            rate: p,
            low: if count == 0 {
                0.0
            } else {
                (center - half).clamp(0.0, 1.0)
            },
            high: if count == total {
                1.0
            } else {
                (center + half).clamp(0.0, 1.0)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_worked_example() {
        // 3 of 40 at 95%: 0.0258 to 0.1986.
        let p = Proportion::wilson(3, 40, 0.95);
        assert!((p.rate - 0.075).abs() < 1e-12);
        assert!((p.low - 0.0258).abs() < 5e-4, "{p:?}");
        assert!((p.high - 0.1986).abs() < 5e-4, "{p:?}");
    }

    #[test]
    fn wilson_at_the_edges_is_not_a_point() {
        let none = Proportion::wilson(0, 10, 0.95);
        assert_eq!(none.low, 0.0);
        assert!(none.high > 0.25 && none.high < 0.35, "{none:?}");
        let all = Proportion::wilson(10, 10, 0.95);
        assert_eq!(all.high, 1.0);
        assert!(all.low > 0.65, "{all:?}");
        let nothing = Proportion::wilson(0, 0, 0.95);
        assert_eq!((nothing.rate, nothing.low, nothing.high), (0.0, 0.0, 1.0));
    }
}
