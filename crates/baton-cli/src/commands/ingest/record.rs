//! What every ingested run has in common: its id derived from where it came from,
//! the type guessed from a step's name, durations from two API times, and the SLA
//! verdict against the type's default SLO.

use baton_model::{BeatStatus, BeatType, CacheState, SlaThresholds, SloTarget};
use jiff::Timestamp;
use serde_json::{Value, json};
use uuid::{Builder, Uuid, Variant, Version};

/// A UUIDv7 for a run from elsewhere: the start time's milliseconds (so it sorts
/// like baton's own ids) and a hash of what identifies it there (`key`, e.g.
/// `github-actions/o/r/123/2`), so the same run always gets the same id.
pub(super) fn run_id(started_at: Timestamp, key: &str) -> Uuid {
    let hash = blake3::hash(key.as_bytes());
    let millis = u64::try_from(started_at.as_millisecond()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&hash.as_bytes()[..10]);
    Builder::from_bytes(bytes)
        .with_version(Version::SortRand)
        .with_variant(Variant::RFC4122)
        .into_uuid()
}

/// The beat type a CI step's name suggests (it decides the default SLO); build
/// when nothing does.
pub(super) fn guess_type(name: &str) -> BeatType {
    let name = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["test", "spec", "pytest", "jest", "nextest", "coverage"]) {
        BeatType::Test
    } else if has(&[
        "lint", "clippy", "fmt", "format", "check", "validate", "audit",
    ]) {
        BeatType::Validation
    } else if has(&["deploy", "publish", "release", "upload", "push"]) {
        BeatType::Deploy
    } else {
        BeatType::Build
    }
}

/// Milliseconds from `start` to `end`, 0 when the end comes first (GitHub ends
/// skipped steps before they start).
pub(super) fn millis_between(start: Timestamp, end: Timestamp) -> u64 {
    u64::try_from(end.duration_since(start).as_millis()).unwrap_or(0)
}

/// The SLO of an ingested beat: its type's duration, no cache target (a CI step
/// knows nothing of baton's cache).
pub(super) fn slo_of(beat_type: BeatType) -> SloTarget {
    SloTarget {
        cache_hit_rate: None,
        objective: None,
        ..beat_type.default_slo()
    }
}

/// The `type`, `slo` and `sla` fields of a beat document: judged as `baton run`
/// judges a beat against its SLO with the default thresholds.
pub(super) fn judged(
    beat_type: BeatType,
    status: BeatStatus,
    duration_ms: u64,
) -> [(&'static str, Value); 3] {
    let slo = slo_of(beat_type);
    let sla = baton_telemetry::evaluate_sla(
        status == BeatStatus::Success,
        duration_ms,
        0,
        &slo,
        &SlaThresholds::default(),
        &[CacheState::Skip],
    );
    [
        ("type", json!(beat_type)),
        ("slo", json!(slo)),
        ("sla", json!(sla)),
    ]
}

/// How a run document is named in an error: its pipeline and CI id.
pub(super) fn describe(doc: &Value) -> String {
    let run = &doc["run"];
    let pipeline = run["pipeline_name"].as_str().unwrap_or("?");
    match run["ci"]["run_id"].as_str() {
        Some(id) => format!("{id} of {pipeline}"),
        None => format!(
            "of {pipeline} at {}",
            run["started_at"].as_str().unwrap_or("?")
        ),
    }
}

/// Gives each name once: a name seen before gets ` #2`, ` #3`, ...
#[derive(Default)]
pub(super) struct UniqueNames(std::collections::HashMap<String, u32>);

impl UniqueNames {
    pub(super) fn name(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut n = 1;
        while self.0.contains_key(&candidate) {
            n += 1;
            candidate = format!("{wanted} #{n}");
        }
        self.0.insert(candidate.clone(), 1);
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_v7_and_differ_by_key() {
        let at: Timestamp = "2026-11-02T10:00:00Z".parse().expect("time");
        let a = run_id(at, "github-actions/o/r/1/1");
        assert_eq!(a, run_id(at, "github-actions/o/r/1/1"));
        assert_ne!(a, run_id(at, "github-actions/o/r/1/2"));
        assert_eq!(a.get_version(), Some(Version::SortRand));
        let later: Timestamp = "2026-11-02T10:00:01Z".parse().expect("time");
        assert!(run_id(later, "x") > a);
    }

    #[test]
    fn negative_durations_are_zero_and_names_unique() {
        let a: Timestamp = "2026-11-02T10:00:05Z".parse().expect("time");
        let b: Timestamp = "2026-11-02T10:00:04Z".parse().expect("time");
        assert_eq!(millis_between(a, b), 0);
        assert_eq!(millis_between(b, a), 1000);
        let mut names = UniqueNames::default();
        assert_eq!(names.name("x"), "x");
        assert_eq!(names.name("x"), "x #2");
        assert_eq!(names.name("x #2"), "x #2 #2");
    }

    #[test]
    fn types_follow_the_step_name() {
        assert_eq!(guess_type("Run cargo nextest run"), BeatType::Test);
        assert_eq!(guess_type("cargo clippy"), BeatType::Validation);
        assert_eq!(guess_type("Deploy to staging"), BeatType::Deploy);
        assert_eq!(guess_type("Set up job"), BeatType::Build);
    }
}
