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

/// Where deliveries go, and how they are authorised and signed. Its `Debug`
/// shows the URL without credentials and the key and secret masked.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub key: Option<Secret>,
    pub secret: Option<Secret>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &strip_credentials(&self.url))
            .field("key", &self.key)
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .finish()
    }
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

/// Redirects followed (307 and 308 only: they keep the method and the body).
const MAX_REDIRECTS: usize = 3;

/// Sends `body` (JSON) with `webhook-id: id`. A 307 or 308 is followed (at most
/// 3 times, within the one timeout); the key goes along only to
/// the same scheme, host and port.
pub fn send(endpoint: &Endpoint, id: &str, body: &[u8]) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(endpoint.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = endpoint
        .secret
        .as_ref()
        .map(|secret| sign::signature(secret, id, timestamp, body));
    let compressed = (body.len() > GZIP_ABOVE).then(|| crate::payload::gzip(body));
    let sent: &[u8] = compressed.as_deref().unwrap_or(body);
    let home = origin(&endpoint.url);
    let mut url = endpoint.url.clone();
    let started = Instant::now();
    let mut hops = 0;
    loop {
        let mut request = agent
            .post(&url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("baton/", env!("CARGO_PKG_VERSION")))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string());
        if compressed.is_some() {
            request = request.header("content-encoding", "gzip");
        }
        if let Some(key) = &endpoint.key
            && origin(&url) == home
        {
            request = request.header("authorization", format!("Bearer {}", key.expose()));
        }
        if let Some(signature) = &signature {
            request = request.header("webhook-signature", signature);
        }
        let result = request.send(sent);
        let round_trip = started.elapsed();
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                return Attempt {
                    status: None,
                    round_trip,
                    outcome: Outcome::Keep { retry_after: None },
                    detail: describe_error(&err, &url),
                };
            }
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if matches!(status, 307 | 308)
            && hops < MAX_REDIRECTS
            && let Some(next) = header("location").and_then(|l| resolve(&url, &l))
        {
            hops += 1;
            url = next;
            continue;
        }
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(300)
            .read_to_string(&mut text);
        let text: String = text.trim().chars().take(200).collect();
        let detail = if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {text}")
        };
        return Attempt {
            status: Some(status),
            round_trip,
            outcome: classify(status, retry_after),
            detail,
        };
    }
}

/// `scheme://host:port` of a URL, lower-case, without credentials.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(format!("{}://{}", scheme, host).to_ascii_lowercase())
}

/// A `Location` against the URL that answered it: absolute, or a path.
fn resolve(base: &str, location: &str) -> Option<String> {
    if location.contains("://") {
        return Some(location.to_owned());
    }
    let base_origin = {
        let (scheme, rest) = base.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        format!("{scheme}://{authority}")
    };
    location
        .starts_with('/')
        .then(|| format!("{base_origin}{location}"))
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
    fn redirects_resolve_and_origins_compare() {
        assert_eq!(
            resolve("http://a:1/x", "/y").as_deref(),
            Some("http://a:1/y")
        );
        assert_eq!(
            resolve("http://a/x", "https://b/z").as_deref(),
            Some("https://b/z")
        );
        assert_eq!(
            origin("https://u:p@Host:8/x"),
            Some("https://host:8".into())
        );
        assert_ne!(origin("http://127.0.0.1:9/"), origin("http://localhost:9/"));
    }

    #[test]
    fn debug_output_never_holds_a_key_a_secret_or_credentials() {
        let endpoint = Endpoint {
            url: "https://user:pw@h/x".into(),
            key: Some(Secret::new("sk-abcdefgh1234")),
            secret: Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
            timeout: TIMEOUT,
        };
        let text = format!("{endpoint:?}");
        assert!(
            text.contains("sk-****1234") && text.contains("https://h/x"),
            "{text}"
        );
        assert!(!text.contains("abcdefgh") && !text.contains("MfKQ") && !text.contains("pw"));
    }

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
