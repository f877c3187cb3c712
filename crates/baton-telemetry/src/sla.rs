//! SLO/SLA evaluation: r = duration / SLO duration against the pipeline's thresholds
//! (for a beat that succeeded: a failure is judged by its status and errors, not
//! by how fast it failed); errors above target are a breach; a rolling cache hit
//! rate below target is a warning once there are [`CACHE_MIN_RUNS`] runs that used
//! the cache to rest it on (a cold cache is not a warning).

use baton_model::{CacheState, SlaStatus, SlaThresholds, SlaVerdict, SloTarget};

/// How many of a beat's most recent cache states the rolling hit rate looks at.
pub const CACHE_WINDOW: usize = 20;

/// Fewest runs that used the cache (hit, miss or expired) in the window before the
/// hit rate is judged against its target.
pub const CACHE_MIN_RUNS: usize = 10;

/// Judge one beat. `recent_cache_states` are the beat's latest states, newest
/// included, at most [`CACHE_WINDOW`] of them are used. The duration verdict
/// applies only when the beat `succeeded`; otherwise it is compliant (not judged).
pub fn evaluate_sla(
    succeeded: bool,
    duration_ms: u64,
    errors_count: u64,
    slo: &SloTarget,
    thresholds: &SlaThresholds,
    recent_cache_states: &[CacheState],
) -> SlaVerdict {
    let slo_ms = slo.duration.as_millis() as f64;
    let ratio = if slo_ms > 0.0 {
        duration_ms as f64 / slo_ms
    } else {
        0.0
    };
    let duration_status = if !succeeded || ratio <= thresholds.warning {
        SlaStatus::Compliant
    } else if ratio <= thresholds.breach {
        SlaStatus::Warning
    } else if ratio <= thresholds.critical {
        SlaStatus::Breach
    } else {
        SlaStatus::Critical
    };
    let errors_status = if errors_count > u64::from(slo.errors) {
        SlaStatus::Breach
    } else {
        SlaStatus::Compliant
    };
    let cache_hit_rate = slo
        .cache_hit_rate
        .and_then(|_| rolling_cache_hit_rate(recent_cache_states));
    let cache_runs = cache_runs(recent_cache_states);
    let cache_status = match (slo.cache_hit_rate, cache_hit_rate) {
        (Some(target), Some(rate)) if rate < target && cache_runs >= CACHE_MIN_RUNS => {
            SlaStatus::Warning
        }
        _ => SlaStatus::Compliant,
    };
    SlaVerdict {
        overall_status: duration_status.max(errors_status).max(cache_status),
        duration_status,
        duration_ratio: round4(ratio),
        duration_breach_percent: round4((ratio - 1.0) * 100.0),
        errors_status,
        cache_status,
        cache_hit_rate,
    }
}

/// Hits / (hits + misses + expired) over the last [`CACHE_WINDOW`] states; `None`
/// when none of them used the cache (all `skip`).
pub fn rolling_cache_hit_rate(states: &[CacheState]) -> Option<f64> {
    let window = &states[states.len().saturating_sub(CACHE_WINDOW)..];
    let used: Vec<_> = window.iter().filter(|s| **s != CacheState::Skip).collect();
    if used.is_empty() {
        return None;
    }
    let hits = used.iter().filter(|s| ***s == CacheState::Hit).count();
    Some(round4(hits as f64 / used.len() as f64))
}

/// Runs in the window that used the cache (anything but `skip`).
pub fn cache_runs(states: &[CacheState]) -> usize {
    let window = &states[states.len().saturating_sub(CACHE_WINDOW)..];
    window.iter().filter(|s| **s != CacheState::Skip).count()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn slo(secs: u64) -> SloTarget {
        SloTarget {
            duration: Duration::from_secs(secs),
            errors: 0,
            cache_hit_rate: None,
            objective: None,
        }
    }

    fn status(duration_ms: u64) -> SlaStatus {
        evaluate_sla(
            true,
            duration_ms,
            0,
            &slo(10),
            &SlaThresholds::default(),
            &[],
        )
        .overall_status
    }

    #[test]
    fn duration_ratio_maps_to_the_four_verdicts() {
        assert_eq!(status(10_000), SlaStatus::Compliant);
        assert_eq!(status(10_001), SlaStatus::Warning);
        assert_eq!(status(15_000), SlaStatus::Warning);
        assert_eq!(status(15_001), SlaStatus::Breach);
        assert_eq!(status(20_000), SlaStatus::Breach);
        assert_eq!(status(20_001), SlaStatus::Critical);
    }

    #[test]
    fn breach_percent_is_relative_to_the_slo() {
        let v = evaluate_sla(true, 13_000, 0, &slo(10), &SlaThresholds::default(), &[]);
        assert_eq!(v.duration_breach_percent, 30.0);
        assert_eq!(v.duration_ratio, 1.3);
    }

    #[test]
    fn errors_above_target_are_a_breach() {
        let v = evaluate_sla(true, 1, 2, &slo(10), &SlaThresholds::default(), &[]);
        assert_eq!(v.errors_status, SlaStatus::Breach);
        assert_eq!(v.overall_status, SlaStatus::Breach);
    }

    #[test]
    fn low_rolling_cache_hit_rate_is_a_warning() {
        let target = SloTarget {
            cache_hit_rate: Some(0.9),
            objective: None,
            ..slo(10)
        };
        let mut states = vec![CacheState::Skip];
        for _ in 0..5 {
            states.extend([CacheState::Hit, CacheState::Miss]);
        }
        let v = evaluate_sla(true, 1, 0, &target, &SlaThresholds::default(), &states);
        assert_eq!(v.cache_hit_rate, Some(0.5));
        assert_eq!(v.cache_status, SlaStatus::Warning);
        assert_eq!(v.overall_status, SlaStatus::Warning);
    }

    #[test]
    fn a_cold_cache_is_not_a_warning() {
        let target = SloTarget {
            cache_hit_rate: Some(0.9),
            objective: None,
            ..slo(10)
        };
        // Nine runs that used the cache, the first a miss: too few to judge.
        let mut states = vec![CacheState::Miss];
        states.extend([CacheState::Hit; 8]);
        let v = evaluate_sla(true, 1, 0, &target, &SlaThresholds::default(), &states);
        assert_eq!(v.cache_hit_rate, Some(0.8889));
        assert_eq!(v.cache_status, SlaStatus::Compliant);
        states.push(CacheState::Miss);
        let v = evaluate_sla(true, 1, 0, &target, &SlaThresholds::default(), &states);
        assert_eq!(v.cache_status, SlaStatus::Warning, "ten runs, 80% < 90%");
    }

    #[test]
    fn a_failed_beat_is_not_a_duration_breach() {
        let v = evaluate_sla(false, 1_340, 1, &slo(180), &SlaThresholds::default(), &[]);
        assert_eq!(v.duration_status, SlaStatus::Compliant);
        assert_eq!(v.overall_status, SlaStatus::Breach, "its error is");
        let v = evaluate_sla(false, 999_000, 0, &slo(10), &SlaThresholds::default(), &[]);
        assert_eq!(
            v.duration_status,
            SlaStatus::Compliant,
            "a slow failure either"
        );
    }

    #[test]
    fn cache_window_keeps_only_the_latest_twenty() {
        let mut states = vec![CacheState::Miss; 30];
        states.extend([CacheState::Hit; 20]);
        assert_eq!(rolling_cache_hit_rate(&states), Some(1.0));
        assert_eq!(rolling_cache_hit_rate(&[CacheState::Skip]), None);
    }
}
