//! What every request passes before a handler sees it: the token (when one is set:
//! always beyond loopback), the Host header on loopback, and the headers every
//! answer carries (a Content-Security-Policy that runs no script but the server's
//! own files, no framing, no sniffing, no referrer).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::AppState;

/// The pages' policy: scripts, styles and images only from this server's own files,
/// requests only to it, no inline script or handler, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The token and the address the server listens on.
#[derive(Debug)]
pub struct Guard {
    token: Option<Vec<u8>>,
    loopback: bool,
}

impl Guard {
    pub fn new(token: Option<String>, bind: SocketAddr) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(String::into_bytes),
            loopback: bind.ip().is_loopback(),
        }
    }

    /// Whether the request carries the token (always, when none is set): as
    /// `Authorization: Bearer TOKEN`, or as the password of Basic authentication
    /// (what a browser asks for), compared in constant time.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let given: Vec<u8> = if let Some(bearer) = strip_scheme(value, "Bearer") {
            bearer.trim().as_bytes().to_vec()
        } else if let Some(basic) = strip_scheme(value, "Basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
                return false;
            };
            match decoded.iter().position(|&b| b == b':') {
                Some(colon) => decoded[colon + 1..].to_vec(),
                None => return false,
            }
        } else {
            return false;
        };
        bool::from(given.ct_eq(token))
    }

    /// On loopback, only a loopback name may be the Host: a page of another site
    /// whose name was made to resolve to 127.0.0.1 (DNS rebinding) gets nothing.
    pub fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if !self.loopback {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// The middleware: refuses what the guard refuses, then adds the security headers.
pub async fn check(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let mut response = if !state.guard.host_allowed(request.headers()) {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "failed: this server answers to loopback names only\n",
        )
            .into_response()
    } else if !state.guard.authorized(request.headers()) {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "failed: a valid token is required\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"baton\", charset=\"UTF-8\""),
        );
        response
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(auth).expect("header"),
        );
        h
    }

    #[test]
    fn the_token_comes_as_bearer_or_as_the_basic_password() {
        let bind: SocketAddr = "0.0.0.0:1".parse().expect("addr");
        let guard = Guard::new(Some("s3cret".into()), bind);
        assert!(guard.authorized(&headers("Bearer s3cret")));
        assert!(guard.authorized(&headers("bearer s3cret")));
        // "any:s3cret"
        assert!(guard.authorized(&headers("Basic YW55OnMzY3JldA==")));
        assert!(!guard.authorized(&headers("Bearer s3cre")));
        assert!(!guard.authorized(&headers("Bearer s3cret2")));
        assert!(!guard.authorized(&headers("Basic !!!")));
        assert!(!guard.authorized(&HeaderMap::new()));
        let open = Guard::new(None, "127.0.0.1:1".parse().expect("addr"));
        assert!(open.authorized(&HeaderMap::new()));
    }

    #[test]
    fn loopback_answers_loopback_names_only() {
        let guard = Guard::new(None, "127.0.0.1:8710".parse().expect("addr"));
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(h).expect("header"));
            guard.host_allowed(&m)
        };
        assert!(host("127.0.0.1:8710"));
        assert!(host("localhost:8710"));
        assert!(host("[::1]:8710"));
        assert!(!host("evil.example:8710"));
        assert!(!host("evil.example"));
    }
}
