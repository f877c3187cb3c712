//! W3C trace context handed to beats as `TRACEPARENT`, so that spans a beat makes
//! itself join the run's trace.
//!
//! The trace id is the run id, unless baton itself was given a `TRACEPARENT`
//! (a CI job's trace): then the run joins that trace (see [`parent_trace_id`]). The parent span id is derived from the run id, the
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
    traceparent_in(&trace_id(run_id), span_id)
}

/// `00-<trace id>-<span id>-01` in the trace `trace_id` (32 hex digits).
pub fn traceparent_in(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

/// A W3C `traceparent` value taken apart: (trace id, parent span id, flags),
/// lowercase; None when it is not one (wrong shape, all-zero ids, version ff).
pub fn parse_traceparent(value: &str) -> Option<(String, String, u8)> {
    let value = value.trim().to_ascii_lowercase();
    let parts: Vec<&str> = value.split('-').collect();
    let [version, trace, span, flags, ..] = parts[..] else {
        return None;
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(version, 2) || version == "ff" || (version == "00" && parts.len() != 4) {
        return None;
    }
    if !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace.to_owned(), span.to_owned(), flags))
}

/// The trace id of `TRACEPARENT` in baton's own environment, when it is valid.
pub fn parent_trace_id(traceparent: Option<&str>) -> Option<String> {
    traceparent.and_then(parse_traceparent).map(|(t, _, _)| t)
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

    #[test]
    fn a_traceparent_is_parsed_or_refused() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let (t, s, f) = parse_traceparent(tp).expect("valid");
        assert_eq!(t, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(s, "b7ad6b7169203331");
        assert_eq!(f, 1);
        assert!(
            parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none()
        );
        assert!(
            parse_traceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").is_none()
        );
        assert!(
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01").is_none()
        );
        assert!(parse_traceparent("junk").is_none());
    }
}
