//! Standard Webhooks signing: `webhook-signature` is `v1,` and the base64 of the
//! HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the
//! secret (the base64 after `whsec_`; a secret without that prefix, or that is
//! not base64, is used as its bytes). The body signed is the JSON as sent before
//! any `Content-Encoding`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// The key bytes of a secret.
pub fn key_bytes(secret: &Secret) -> Vec<u8> {
    let s = secret.expose();
    match s.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|_| s.as_bytes().to_vec()),
        None => s.as_bytes().to_vec(),
    }
}

/// The `webhook-signature` header's value.
pub fn signature(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = key_bytes(secret);
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference example (its libraries' test vector).
    #[test]
    fn matches_the_standard_webhooks_example() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
