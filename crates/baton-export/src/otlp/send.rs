//! One OTLP/HTTP export: POST the protobuf (gzip unless compression is `none`)
//! with the configured headers and timeout. Retried later (kept in the outbox):
//! a network error, 429, 502, 503, 504, as the OTLP specification says, not
//! before the time a `Retry-After` names; any other status drops the export and
//! says why.

use std::io::Read;
use std::time::Instant;

use super::config::SignalEndpoint;
use crate::config::strip_credentials;
use crate::deliver::{Attempt, Outcome, parse_retry_after};

pub fn send(endpoint: &SignalEndpoint, protobuf: &[u8]) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(endpoint.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let compressed = endpoint.gzip.then(|| crate::payload::gzip(protobuf));
    let body: &[u8] = compressed.as_deref().unwrap_or(protobuf);
    let mut request = agent
        .post(&endpoint.url.value)
        .header("content-type", "application/x-protobuf")
        .header("user-agent", concat!("baton/", env!("CARGO_PKG_VERSION")));
    if compressed.is_some() {
        request = request.header("content-encoding", "gzip");
    }
    for (k, v) in &endpoint.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let started = Instant::now();
    let result = request.send(body);
    let round_trip = started.elapsed();
    match result {
        Err(err) => Attempt {
            status: None,
            round_trip,
            outcome: Outcome::Keep { retry_after: None },
            detail: format!(
                "{}: {}",
                strip_credentials(&endpoint.url.value),
                describe(&err)
            ),
        },
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let mut text = String::new();
            let _ = response
                .body_mut()
                .as_reader()
                .take(512)
                .read_to_string(&mut text);
            let outcome = match status {
                200..=299 => Outcome::Delivered,
                429 | 502 | 503 | 504 => Outcome::Keep { retry_after },
                _ => Outcome::Drop,
            };
            let detail = match outcome {
                Outcome::Delivered => format!("HTTP {status}"),
                _ => format!(
                    "HTTP {status} from {}{}",
                    strip_credentials(&endpoint.url.value),
                    if text.trim().is_empty() || !text.is_ascii() {
                        String::new()
                    } else {
                        format!(": {}", text.trim())
                    }
                ),
            };
            Attempt {
                status: Some(status),
                round_trip,
                outcome,
                detail,
            }
        }
    }
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(e) => format!("{}", e.kind()),
        other => other.to_string(),
    }
}
