//! Secrets the Worker keeps itself (connections' refresh tokens, cached access tokens),
//! sealed with AES-256-GCM. The keys come from the `TOKEN_KEYS` Worker secret, a list
//! of `id:key` (key: 32 bytes, base64); the first seals, any of them opens, so a key is
//! rotated by putting a new one first and dropping the old one once nothing sealed with
//! it is left. The associated data binds a sealed value to what it belongs to (the
//! connection id), so a value copied to another row does not open.
//!
//! A sealed value is `v1.<key id>.<nonce>.<ciphertext>` (base64url, no padding). The
//! nonce (12 random bytes) is given by the caller: the Worker draws it from the
//! platform's `crypto.getRandomValues`, and this module stays pure and tested natively.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The sealing keys, current first.
pub struct Keys {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keys").field("ids", &ids).finish()
    }
}

/// Why a sealed value could not be opened (never what it held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Not `v1.<id>.<nonce>.<ciphertext>`.
    Malformed,
    /// Sealed with a key id `TOKEN_KEYS` no longer has.
    UnknownKey,
    /// The key or the associated data do not match, or the value was changed.
    Refused,
}

impl OpenError {
    /// A stable code for logs and the admin API.
    pub fn code(self) -> &'static str {
        match self {
            OpenError::Malformed => "sealed_value_malformed",
            OpenError::UnknownKey => "sealing_key_unknown",
            OpenError::Refused => "sealed_value_refused",
        }
    }
}

impl Keys {
    /// Parses `TOKEN_KEYS`: `id:base64key[,id:base64key…]`.
    ///
    /// # Errors
    /// What is wrong, naming the entry by its position, never the key.
    pub fn parse(text: &str) -> Result<Keys, String> {
        let mut keys = Vec::new();
        for (i, entry) in text.split(',').map(str::trim).enumerate() {
            let n = i + 1;
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| format!("TOKEN_KEYS entry {n} must be id:base64key"))?;
            if id.is_empty()
                || id.len() > 32
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "TOKEN_KEYS entry {n}: the key id must be 1 to 32 of [A-Za-z0-9_-]"
                ));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(key.trim()))
                .map_err(|_| format!("TOKEN_KEYS entry {n}: the key is not base64"))?;
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| format!("TOKEN_KEYS entry {n}: the key must be 32 bytes"))?;
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("TOKEN_KEYS entry {n}: key id used twice"));
            }
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err("TOKEN_KEYS is empty".into());
        }
        Ok(Keys { keys })
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plain` for `aad` with the current key and `nonce` (never used twice).
    pub fn seal(&self, nonce: [u8; 12], aad: &str, plain: &str) -> String {
        let (id, cipher) = &self.keys[0];
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // AES-GCM encryption fails only past 2^36 bytes.
            .unwrap_or_default();
        format!(
            "v1.{id}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// Opens a value sealed for `aad` with any of the keys.
    ///
    /// # Errors
    /// [`OpenError`]: malformed, an unknown key id, or refused by the cipher.
    pub fn open(&self, aad: &str, sealed: &str) -> Result<String, OpenError> {
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(id), Some(nonce), Some(body), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(OpenError::Malformed);
        };
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or(OpenError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or(OpenError::UnknownKey)?;
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Refused)?;
        String::from_utf8(plain).map_err(|_| OpenError::Refused)
    }

    /// Whether `sealed` was sealed with a key other than the current one (to re-seal).
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    #[test]
    fn seals_and_opens_with_its_associated_data_only() {
        let keys = Keys::parse(&format!("k1:{K1}")).unwrap();
        let sealed = keys.seal([7; 12], "conn_a", "Atzr|refresh");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("Atzr"));
        assert_eq!(keys.open("conn_a", &sealed).unwrap(), "Atzr|refresh");
        // Copied to another connection's row, it does not open.
        assert_eq!(keys.open("conn_b", &sealed), Err(OpenError::Refused));
        // Nor once changed.
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(keys.open("conn_a", &tampered), Err(OpenError::Refused));
        // Two nonces, two different sealed values.
        assert_ne!(keys.seal([8; 12], "conn_a", "Atzr|refresh"), sealed);
    }

    #[test]
    fn rotation_new_key_first_old_still_opens() {
        let old = Keys::parse(&format!("k1:{K1}")).unwrap();
        let sealed = old.seal([1; 12], "c", "secret");
        let rotated = Keys::parse(&format!("k2:{K2}, k1:{K1}")).unwrap();
        assert_eq!(rotated.open("c", &sealed).unwrap(), "secret");
        assert!(rotated.is_stale(&sealed));
        let resealed = rotated.seal([2; 12], "c", "secret");
        assert!(!rotated.is_stale(&resealed));
        // The old key dropped: the old value names an unknown key.
        let only_new = Keys::parse(&format!("k2:{K2}")).unwrap();
        assert_eq!(only_new.open("c", &sealed), Err(OpenError::UnknownKey));
    }

    #[test]
    fn bad_keys_and_values_are_named_not_shown() {
        for (text, fragment) in [
            ("", "entry 1 must be"),
            ("k1", "entry 1 must be"),
            ("k 1:AAAA", "key id"),
            ("k1:!!!", "not base64"),
            ("k1:AAAA", "32 bytes"),
        ] {
            let e = Keys::parse(text).unwrap_err();
            assert!(e.contains(fragment), "{text}: {e}");
            assert!(!e.contains("AAAA") && !e.contains("!!!"));
        }
        let dup = Keys::parse(&format!("a:{K1},a:{K2}")).unwrap_err();
        assert!(dup.contains("twice"));
        let keys = Keys::parse(&format!("k1:{K1}")).unwrap();
        for bad in [
            "",
            "v1.k1",
            "v2.k1.AAAA.AAAA",
            "v1.k1.AAAA.AAAA",
            "v1.k1.!!.AA.x",
        ] {
            assert_eq!(keys.open("c", bad), Err(OpenError::Malformed), "{bad}");
        }
        assert!(!format!("{keys:?}").contains(K1));
    }
}
