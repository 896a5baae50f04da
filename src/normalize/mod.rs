//! Normalization and hashing of one value, dispatched by field (the rules of
//! `spec/normalization.md`, one module per group of fields).
//!
//! Every entry point trims (COMMON-2), passes existing digests through (COMMON-3), applies
//! the field's rule, and never hashes an empty string.

use alloc::string::String;
use alloc::vec::Vec;
#[cfg(address_rules)]
mod address;
mod ids;
mod phone;
mod phone_meta;
mod region;
mod text_fields;

use crate::country::Country;
use crate::field::Field;
use crate::hash::{Sha256Hex, is_sha256_hex};
use crate::reject::{Reason, Reject};
use crate::text::trim;

/// A normalized value, ready to hash (or to send as is, for MAID, RAMP_ID and MATCH_ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    field: Field,
    value: String,
    prehashed: bool,
}

impl Normalized {
    /// The field the value belongs to.
    pub fn field(&self) -> Field {
        self.field
    }

    /// The normalized value (for a pre-hashed input, the digest in lowercase).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the input already was a SHA-256 digest and was passed through (COMMON-3).
    pub fn is_prehashed(&self) -> bool {
        self.prehashed
    }

    /// The value to send to Amazon for this field: the digest for hashed fields, `None`
    /// for MAID, RAMP_ID and MATCH_ID, which are sent as [`Normalized::value`].
    pub fn sha256(&self) -> Option<Sha256Hex> {
        hash_value(self.field, &self.value, self.prehashed)
    }
}

/// Normalizes `input` for `field` as Amazon expects for records of `country`.
///
/// # Errors
/// A [`Reject`] naming the field and the reason (see [`Reason`]); never the input.
///
/// # Example
/// ```
/// use matchkey::{Country, Field, normalize};
/// let n = normalize(Field::Phone, "07911 123456", Country::GB).unwrap();
/// assert_eq!(n.value(), "447911123456");
/// ```
pub fn normalize(field: Field, input: &str, country: Country) -> Result<Normalized, Reject> {
    let mut normalizer = Normalizer::new();
    let prehashed = normalizer.normalize_into(field, input, country)?;
    Ok(Normalized {
        field,
        value: normalizer.value,
        prehashed,
    })
}

/// The SHA-256 of a normalized value (`None` for fields sent unhashed).
pub fn hash_normalized(normalized: &Normalized) -> Option<Sha256Hex> {
    normalized.sha256()
}

fn hash_value(field: Field, value: &str, prehashed: bool) -> Option<Sha256Hex> {
    match (field.is_hashed(), prehashed) {
        (false, _) => None,
        (true, true) => Sha256Hex::parse(value),
        (true, false) => Some(Sha256Hex::digest(value.as_bytes())),
    }
}

/// What [`Normalizer::process`] gives back, borrowing the normalizer's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output<'a> {
    /// The normalized value (the lowercase digest for pre-hashed input).
    pub normalized: &'a str,
    /// The digest for hashed fields; `None` for MAID, RAMP_ID and MATCH_ID.
    pub sha256: Option<Sha256Hex>,
}

/// Normalizes and hashes many values, reusing its buffers: after the first few values a
/// call allocates nothing for e-mails, names, cities, states and postal codes.
///
/// ```
/// use matchkey::{Country, Field, Normalizer};
/// let mut normalizer = Normalizer::new();
/// for email in ["A@Example.com", "b@example.com"] {
///     let out = normalizer.process(Field::Email, email, Country::US).unwrap();
///     assert_eq!(out.sha256.unwrap().as_str().len(), 64);
/// }
/// ```
#[derive(Debug, Default)]
pub struct Normalizer {
    value: String,
    /// Scratch space of the phone and address rules.
    tokens: Vec<String>,
    chars: Vec<char>,
    digits: String,
}

impl Normalizer {
    /// A normalizer with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalizes and hashes one value.
    ///
    /// # Errors
    /// As [`normalize`].
    pub fn process(
        &mut self,
        field: Field,
        input: &str,
        country: Country,
    ) -> Result<Output<'_>, Reject> {
        let prehashed = self.normalize_into(field, input, country)?;
        Ok(Output {
            normalized: &self.value,
            sha256: hash_value(field, &self.value, prehashed),
        })
    }

    /// Normalizes one value without hashing it; the result borrows the normalizer.
    ///
    /// # Errors
    /// As [`normalize`].
    pub fn normalize(
        &mut self,
        field: Field,
        input: &str,
        country: Country,
    ) -> Result<&str, Reject> {
        self.normalize_into(field, input, country)?;
        Ok(&self.value)
    }

    /// Normalizes one value without hashing it: the value, and whether the input was an
    /// existing digest (COMMON-3: then the value is that digest, lowercased).
    ///
    /// # Errors
    /// As [`normalize`].
    #[cfg_attr(not(browser_batch), allow(dead_code))]
    pub(crate) fn normalize_flagged(
        &mut self,
        field: Field,
        input: &str,
        country: Country,
    ) -> Result<(&str, bool), Reject> {
        let prehashed = self.normalize_into(field, input, country)?;
        Ok((&self.value, prehashed))
    }

    /// Fills `self.value`; returns whether the input was an existing digest.
    fn normalize_into(
        &mut self,
        field: Field,
        input: &str,
        country: Country,
    ) -> Result<bool, Reject> {
        self.value.clear();
        let reject = |reason| Reject::new(Some(field), reason);
        let input = trim(input);
        if input.is_empty() {
            return Err(reject(Reason::Empty));
        }
        if field.is_hashed() && is_sha256_hex(input) {
            self.value
                .extend(input.chars().map(|c| c.to_ascii_lowercase()));
            return Ok(true);
        }
        let out = &mut self.value;
        let res = match field {
            Field::Email => text_fields::email(input, out),
            Field::Phone => phone::phone(input, country, out, &mut self.chars, &mut self.digits),
            Field::FirstName | Field::LastName => text_fields::name(input, out),
            #[cfg(address_rules)]
            Field::Address => {
                address::address(input, country, out, &mut self.tokens, &mut self.digits)
            }
            Field::City => text_fields::city(input, out),
            #[cfg(address_rules)]
            Field::State => region::state(input, country, out),
            #[cfg(not(address_rules))]
            Field::Address | Field::State => Err(Reason::NotInThisBuild),
            Field::Postal => region::postal(input, country, out),
            Field::Maid => ids::maid(input, out),
            Field::RampId => ids::ramp_id(input, out),
            Field::MatchId => ids::match_id(input, out),
        };
        res.map_err(reject)?;
        debug_assert!(!self.value.is_empty(), "a rule accepted an empty value");
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::prelude::rust_2024::*;

    #[test]
    fn prehashed_passes_through_lowercased_except_for_ids() {
        let digest = "9ECEB13483D7F187EC014FD6D4854D1420CFC634328AF85F51D0323BA8622E21";
        let n = normalize(Field::City, &format!(" {digest} "), Country::US).unwrap();
        assert!(n.is_prehashed());
        assert_eq!(
            n.sha256().map(|h| h.to_string()),
            Some(digest.to_lowercase())
        );
        assert_eq!(
            normalize(Field::Maid, digest, Country::US)
                .unwrap_err()
                .code(),
            "maid_must_not_be_hashed"
        );
    }

    #[test]
    fn empty_is_never_hashed() {
        for field in Field::ALL {
            let reject = normalize(field, " \t", Country::US).unwrap_err();
            assert_eq!((reject.field, reject.code()), (Some(field), "empty"));
        }
    }

    #[test]
    fn reusing_a_normalizer_gives_the_same_answers() {
        let mut normalizer = Normalizer::new();
        let first = normalizer
            .process(Field::Address, "1 Main St", Country::US)
            .unwrap()
            .sha256;
        normalizer
            .process(Field::Email, "x@y.z", Country::US)
            .unwrap();
        let again = normalizer
            .process(Field::Address, "1 Main St", Country::US)
            .unwrap()
            .sha256;
        assert_eq!(first, again);
    }
}
