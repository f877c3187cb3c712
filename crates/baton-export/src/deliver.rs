//! One HTTP delivery: POST the body (gzip above 1 KiB), signed and authorised,
//! with a 10 s timeout, and what its answer means for the outbox.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::config::{Secret, strip_credentials};
use crate::sign;

/// How long one delivery may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies larger than this are sent gzip-compressed.
pub const GZIP_ABOVE: usize = 1024;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Where deliveries go, and how they are authorised and signed.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub key: Option<Secret>,
    pub secret: Option<Secret>,
    pub timeout: Duration,
}

/// What an answer (or its absence) means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: remove it from the outbox.
    Delivered,
    /// A network error, a timeout, 408, 429 or 5xx: keep it, retry later (not
    /// before `retry_after`, when the endpoint said).
    Keep { retry_after: Option<Duration> },
    /// Another 4xx (or an unexpected status): drop it, and say why.
    Drop,
    /// 410: the webhook is off until its URL changes.
    Gone,
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub round_trip: Duration,
    pub outcome: Outcome,
    /// The answer, or the error, in a few words (no key, secret or credential).
    pub detail: String,
}

/// Sends `body` (JSON) with `webhook-id: id`.
pub fn send(endpoint: &Endpoint, id: &str, body: &[u8]) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(endpoint.timeout))
        .http_status_as_error(false)
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .max_redirects(3)
        .build()
        .into();
    let timestamp = jiff::Timestamp::now().as_second();
    let mut request = agent
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("baton/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(key) = &endpoint.key {
        request = request.header("authorization", format!("Bearer {}", key.expose()));
    }
    if let Some(secret) = &endpoint.secret {
        request = request.header(
            "webhook-signature",
            sign::signature(secret, id, timestamp, body),
        );
    }
    let compressed;
    let sent: &[u8] = if body.len() > GZIP_ABOVE {
        request = request.header("content-encoding", "gzip");
        compressed = crate::payload::gzip(body);
        &compressed
    } else {
        body
    };
    let started = Instant::now();
    let result = request.send(sent);
    let round_trip = started.elapsed();
    match result {
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
                .take(300)
                .read_to_string(&mut text);
            let text: String = text.trim().chars().take(200).collect();
            let outcome = classify(status, retry_after);
            let detail = if text.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {text}")
            };
            Attempt {
                status: Some(status),
                round_trip,
                outcome,
                detail,
            }
        }
        Err(err) => Attempt {
            status: None,
            round_trip,
            outcome: Outcome::Keep { retry_after: None },
            detail: describe_error(&err, &endpoint.url),
        },
    }
}

/// What a status means for the delivery.
pub fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        410 => Outcome::Gone,
        408 | 429 | 500..=599 => Outcome::Keep { retry_after },
        _ => Outcome::Drop,
    }
}

/// `Retry-After`: seconds, or an HTTP date; at most an hour.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(value)
            .ok()?;
        let secs = at.as_second() - jiff::Timestamp::now().as_second();
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

fn describe_error(err: &ureq::Error, url: &str) -> String {
    let text = match err {
        ureq::Error::Timeout(_) => "no answer in time".to_owned(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        other => other.to_string(),
    };
    // An error may quote the URL: never with its credentials.
    text.replace(url, &strip_credentials(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        assert_eq!(classify(204, None), Outcome::Delivered);
        assert_eq!(classify(410, None), Outcome::Gone);
        assert_eq!(classify(400, None), Outcome::Drop);
        assert_eq!(
            classify(503, Some(Duration::from_secs(3))),
            Outcome::Keep {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(classify(408, None), Outcome::Keep { retry_after: None });
        assert_eq!(classify(429, None), Outcome::Keep { retry_after: None });
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
