//! Standard Webhooks signatures: `webhook-signature: v1,<base64(HMAC-SHA256(key,
//! "{id}.{timestamp}.{body}"))>`, where the key is the base64 part of a `whsec_` secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A subscription's (or the callbacks') signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// A new key of 32 bytes from the operating system's generator, as its `whsec_` secret.
    pub fn generate() -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random generator works");
        format!("{PREFIX}{}", BASE64.encode(bytes))
    }

    /// Reads a `whsec_` secret: base64 of 24 to 64 bytes.
    pub fn parse(secret: &str) -> Result<SigningKey, String> {
        let encoded = secret
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("a secret starts with `{PREFIX}`"))?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| "the part after `whsec_` is not base64".to_owned())?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!("a key has 24 to 64 bytes, not {}", bytes.len()));
        }
        Ok(SigningKey(bytes))
    }

    /// The `v1,<base64>` signature of one message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its reference libraries' test).
    #[test]
    fn signs_like_the_specification() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked_and_generated_well_formed() {
        assert!(SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningKey::parse("whsec_!!!").is_err());
        assert_eq!(
            SigningKey::parse("whsec_AAAA").unwrap_err(),
            "a key has 24 to 64 bytes, not 3"
        );
        let a = SigningKey::generate();
        let b = SigningKey::generate();
        assert_ne!(a, b);
        assert!(SigningKey::parse(&a).is_ok(), "{a}");
    }
}
