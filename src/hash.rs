//! SHA-256 as Amazon wants it: 64 lowercase hex characters of the UTF-8 bytes (COMMON-1).

use core::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 digest written as 64 lowercase hex characters. `Copy`, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    /// Hashes `bytes` (COMMON-1: no salt, no trailing newline).
    pub fn digest(bytes: &[u8]) -> Self {
        Self::from_digest(&Sha256::digest(bytes).into())
    }

    /// Writes a raw 32-byte digest as lowercase hex.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        Sha256Hex(out)
    }

    /// Accepts an existing digest in hex, either case, and lower-cases it (COMMON-3).
    /// Returns `None` unless `s` is exactly 64 hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        if !is_sha256_hex(s) {
            return None;
        }
        let mut out = [0u8; 64];
        out.copy_from_slice(s.as_bytes());
        out.make_ascii_lowercase();
        Some(Sha256Hex(out))
    }

    /// The digest as a `&str` of 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        // The buffer only ever holds ASCII hex digits.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hex({})", self.as_str())
    }
}

impl serde::Serialize for Sha256Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `lowercase hex SHA-256` of `s`, the one-call form of [`Sha256Hex::digest`].
pub fn sha256_hex(s: &str) -> Sha256Hex {
    Sha256Hex::digest(s.as_bytes())
}

/// Whether `s` is exactly 64 hex digits, either case (`^[0-9a-fA-F]{64}$`).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` is exactly 64 *lowercase* hex digits, the only form Amazon accepts.
pub fn is_lower_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_doc_example() {
        assert_eq!(
            sha256_hex("abc@example.com").as_str(),
            "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21"
        );
    }

    #[test]
    fn parse_lowercases_and_checks_shape() {
        let upper = "9ECEB13483D7F187EC014FD6D4854D1420CFC634328AF85F51D0323BA8622E21";
        assert_eq!(Sha256Hex::parse(upper), Some(sha256_hex("abc@example.com")));
        assert_eq!(Sha256Hex::parse(&upper[1..]), None);
        assert!(!is_lower_sha256_hex(upper));
    }
}
