//! Human formatting shared by every renderer: durations, bytes, percentages, ratios,
//! timestamps and short hashes. Pure and deterministic (UTC, no locale).

use baton_model::{BeatRecord, BeatStatus, RollbackRecord, Shape, SlaStatus};
use baton_telemetry::Change;
use jiff::Timestamp;

/// What drove a beat's SLA verdict, in words; every view that shows a verdict
/// explains it with this:
/// - `cache 40% < 90%`: the rolling cache hit rate under its target;
/// - `3 errors > 0`: more errors than its SLO allows;
/// - `failed, duration not judged` (or `timed out, ...`): a beat that did not succeed
///   and broke nothing else (its duration is judged only when it succeeds);
/// - `+62.0%`: its duration against its SLO (negative when under it).
pub fn sla_detail(b: &BeatRecord) -> String {
    let sla = &b.sla;
    if sla.overall_status > SlaStatus::Compliant && sla.overall_status != sla.duration_status {
        if sla.errors_status == sla.overall_status {
            return format!("{} > {}", count(b.errors_count, "error"), b.slo.errors);
        }
        if sla.cache_status == sla.overall_status
            && let Some(rate) = sla.cache_hit_rate
        {
            let target = b
                .slo
                .cache_hit_rate
                .map(|t| format!(" < {:.0}%", t * 100.0))
                .unwrap_or_default();
            return format!("cache {:.0}%{target}", rate * 100.0);
        }
    }
    match b.status {
        BeatStatus::Failure if sla.overall_status == SlaStatus::Compliant => {
            "failed, duration not judged".to_owned()
        }
        BeatStatus::Timeout if sla.overall_status == SlaStatus::Compliant => {
            "timed out, duration not judged".to_owned()
        }
        // Recorded before failures were judged by their status alone: as it was.
        _ => signed_percent(sla.duration_breach_percent),
    }
}

/// What changed in an evolved shape, one after the other:
/// `memory 50-100MB → 100-500MB, cache miss → hit` (empty when nothing is known).
pub fn shape_changes(changes: &[Change]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration for humans: `350ms`, `1.23s`, `2m05s` (see
/// [`baton_model::format_duration`], the one formatter).
pub fn duration_ms(ms: u64) -> String {
    baton_model::format_duration_ms(ms)
}

/// A byte count in decimal units (the memory buckets use them too): `512 B`,
/// `12.3 MB`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if n < 1_000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1_000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A fraction (0..1) as a percentage with one decimal: `90.9%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// An already-percent value with its sign: `+62.0%`, `-24.5%`.
pub fn signed_percent(percent: f64) -> String {
    format!("{percent:+.1}%")
}

/// A ratio with two decimals: `1.62x`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}x")
}

/// A timestamp in UTC to the second: `2025-11-26 12:34:56`.
pub fn timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The first 12 characters of a hash (or all of a shorter one).
pub fn short_hash(hash: &str) -> &str {
    match hash.char_indices().nth(12) {
        Some((i, _)) => &hash[..i],
        None => hash,
    }
}

/// How a shape compares with the beat's previous run: `Δ evolved` (changed, for
/// better or worse), `new` (no previous run) or `same`.
pub fn shape_change(shape: &Shape) -> &'static str {
    if shape.evolved {
        "Δ evolved"
    } else if shape.previous_hash.is_none() {
        "new"
    } else {
        "same"
    }
}

/// CPU time of a beat (user + system).
pub fn cpu(record: &BeatRecord) -> String {
    duration_ms(record.cpu_user_ms.saturating_add(record.cpu_sys_ms))
}

/// How a rollback went: `undone in 12ms`, `failure (exit 3) in 5ms`.
pub fn rollback(r: &RollbackRecord) -> String {
    let took = duration_ms(r.duration_ms);
    if r.status == BeatStatus::Success {
        return format!("undone in {took}");
    }
    let why = match (&r.reason, r.exit_code) {
        (Some(reason), _) => reason.clone(),
        (None, Some(code)) => format!("exit {code}"),
        (None, None) => String::new(),
    };
    if why.is_empty() {
        format!("{} in {took}", r.status)
    } else {
        format!("{} ({why}) in {took}", r.status)
    }
}

/// `1 beat`, `3 beats`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A beat's status, with its attempts when it was retried: `success (3 attempts)`.
pub fn status_with_attempts(b: &BeatRecord) -> String {
    if b.attempts > 1 {
        format!("{} ({} attempts)", b.status, b.attempts)
    } else {
        b.status.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1.0 kB");
        assert_eq!(bytes(12_300_000), "12.3 MB");
        assert_eq!(bytes(999_960), "1.0 MB");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn percentages_and_ratios() {
        assert_eq!(percent(0.909_09), "90.9%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(signed_percent(62.0), "+62.0%");
        assert_eq!(signed_percent(-24.5), "-24.5%");
        assert_eq!(ratio(1.6234), "1.62x");
    }

    #[test]
    fn short_hashes() {
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(short_hash(""), "");
        assert_eq!(short_hash("ééééééééééééé"), "éééééééééééé");
    }

    #[test]
    fn timestamps_are_utc() {
        let ts: Timestamp = "2025-11-26T12:34:56.789Z".parse().unwrap();
        assert_eq!(timestamp(ts), "2025-11-26 12:34:56");
    }

    #[test]
    fn shape_changes() {
        let mut shape = Shape::default();
        assert_eq!(shape_change(&shape), "new");
        shape.previous_hash = Some("a".into());
        assert_eq!(shape_change(&shape), "same");
        shape.evolved = true;
        assert_eq!(shape_change(&shape), "Δ evolved");
    }
}
