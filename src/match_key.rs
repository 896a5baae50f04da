//! The Amazon match-key form `{"type": "EMAIL", "values": ["<sha256>"]}`.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

use crate::country::Country;
use crate::field::Field;
use crate::normalize::Normalizer;
use crate::reject::Reject;

/// One match key as the Events API takes it: a type and exactly one value, the digest
/// for hashed fields and the normalized id for MAID, RAMP_ID and MATCH_ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchKey {
    /// The match-key type.
    #[serde(rename = "type")]
    pub field: Field,
    /// Exactly one value.
    pub values: [String; 1],
}

impl MatchKey {
    /// The single value.
    pub fn value(&self) -> &str {
        &self.values[0]
    }
}

/// Normalizes, hashes and wraps one value in the Amazon form.
///
/// # Errors
/// As [`crate::normalize()`].
///
/// # Example
/// ```
/// use matchkey::{Country, Field, match_key};
/// let key = match_key(Field::Email, " ABC@example.com", Country::US).unwrap();
/// assert_eq!(
///     serde_json::to_string(&key).unwrap(),
///     r#"{"type":"EMAIL","values":["9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21"]}"#
/// );
/// ```
pub fn match_key(field: Field, input: &str, country: Country) -> Result<MatchKey, Reject> {
    Normalizer::new().match_key(field, input, country)
}

impl Normalizer {
    /// [`match_key`] with this normalizer's buffers.
    ///
    /// # Errors
    /// As [`crate::normalize()`].
    pub fn match_key(
        &mut self,
        field: Field,
        input: &str,
        country: Country,
    ) -> Result<MatchKey, Reject> {
        let out = self.process(field, input, country)?;
        let value = match out.sha256 {
            Some(digest) => digest.as_str().to_owned(),
            None => out.normalized.to_owned(),
        };
        Ok(MatchKey {
            field,
            values: [value],
        })
    }
}

/// Normalizes and hashes many `(field, input, country)` values with one set of buffers,
/// in order, one result per value. A rejected value never affects the others.
pub fn hash_batch<'a>(
    values: impl IntoIterator<Item = (Field, &'a str, Country)>,
) -> Vec<Result<MatchKey, Reject>> {
    let mut normalizer = Normalizer::new();
    values
        .into_iter()
        .map(|(field, input, country)| normalizer.match_key(field, input, country))
        .collect()
}
