//! Small statistics over beat histories: median and success rate.

use baton_model::{BeatRecord, BeatStatus};

/// Median of `values`, `None` when empty. With an even count it is the mean of the
/// two middle values. The input need not be sorted.
pub fn median(values: &[u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        Some(sorted[mid] as f64)
    } else {
        Some((sorted[mid - 1] as f64 + sorted[mid] as f64) / 2.0)
    }
}

/// Fraction (0.0..=1.0) of judged records that succeeded; `None` when none of
/// them is judged (see [`BeatStatus::is_judged`]).
pub fn success_rate(records: &[BeatRecord]) -> Option<f64> {
    let (runs, successes) = records
        .iter()
        .filter(|r| r.status.is_judged())
        .fold((0usize, 0usize), |(runs, ok), r| {
            (runs + 1, ok + usize::from(r.status == BeatStatus::Success))
        });
    (runs > 0).then(|| successes as f64 / runs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::tests::record;

    #[test]
    fn median_of_empty_is_none() {
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[7]), Some(7.0));
        assert_eq!(median(&[9, 1, 5]), Some(5.0));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&[u64::MAX, u64::MAX]), Some(u64::MAX as f64));
    }

    #[test]
    fn success_rate_ignores_skipped_and_cancelled() {
        let records = [
            record(BeatStatus::Success, 10),
            record(BeatStatus::Skipped, 0),
            record(BeatStatus::Failure, 10),
            record(BeatStatus::Cancelled, 10),
            record(BeatStatus::Timeout, 10),
            record(BeatStatus::Success, 10),
        ];
        assert_eq!(success_rate(&records), Some(0.5));
    }

    #[test]
    fn success_rate_of_nothing_judged_is_none() {
        assert_eq!(success_rate(&[]), None);
        assert_eq!(success_rate(&[record(BeatStatus::Skipped, 0)]), None);
    }
}
