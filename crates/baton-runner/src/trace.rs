//! W3C trace context handed to beats as `TRACEPARENT`, so that spans a beat makes
//! itself join the run's trace.
//!
//! The trace id is the run id. The parent span id is derived from the run id, the
//! beat and the attempt (the first 8 bytes of a SHA-256), not drawn at random:
//! unique per attempt all the same, and an exporter can compute it again to give
//! the beat's own span that id, so the beat's spans hang under it.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// 32 hex digits: the run id (never all zero, which W3C forbids).
pub fn trace_id(run_id: &Uuid) -> String {
    let mut id = run_id.simple().to_string();
    if id.bytes().all(|b| b == b'0') {
        id.replace_range(31.., "1");
    }
    id
}

/// 16 hex digits for attempt `attempt` (1-based) of `beat` in run `run_id`.
pub fn beat_span_id(run_id: &Uuid, beat: &str, attempt: u32) -> String {
    span_id(&format!("{run_id}/{beat}/{attempt}"))
}

/// 16 hex digits for the rollback of `beat` in run `run_id`.
pub fn rollback_span_id(run_id: &Uuid, beat: &str) -> String {
    span_id(&format!("{run_id}/{beat}/rollback"))
}

fn span_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    if id.bytes().all(|b| b == b'0') {
        id.replace_range(15.., "1");
    }
    id
}

/// `00-<trace id>-<span id>-01` (version 0, sampled).
pub fn traceparent(run_id: &Uuid, span_id: &str) -> String {
    format!("00-{}-{span_id}-01", trace_id(run_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_w3c_shaped_and_stable_per_attempt() {
        let run = Uuid::now_v7();
        let first = traceparent(&run, &beat_span_id(&run, "build", 1));
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[0], parts[3]), ("00", "01"));
        assert_eq!(parts[1], run.simple().to_string());
        assert_eq!(parts[2].len(), 16);
        assert!(parts[2].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(first, traceparent(&run, &beat_span_id(&run, "build", 1)));
        assert_ne!(
            beat_span_id(&run, "build", 1),
            beat_span_id(&run, "build", 2)
        );
        assert_ne!(
            beat_span_id(&run, "build", 1),
            rollback_span_id(&run, "build")
        );
        assert_eq!(trace_id(&Uuid::nil()), "00000000000000000000000000000001");
    }
}
