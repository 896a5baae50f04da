//! Why a value was rejected: stable reason codes, documented in one place.
//!
//! A reject is a value, never a panic. Its message names the field and the reason and
//! never contains the input, which is personal data.

use alloc::string::String;
use core::fmt;

use crate::field::Field;

/// The stable reason a value was not turned into a match key.
///
/// [`Reason::code`] is the snake_case code that the CLI, the npm package and the Worker
/// print; codes never change meaning once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// `empty`: the input was empty or only white space (COMMON-2). Such a field is
    /// simply absent.
    Empty,
    /// `empty_after_normalization`: nothing was left after normalization, e.g. a name
    /// made only of punctuation or of letters the rules drop (COMMON-2).
    EmptyAfterNormalization,
    /// `invalid_email`: not exactly one `@` with text on both sides (EMAIL-2).
    InvalidEmail,
    /// `unparseable_phone`: no phone number could be read, or its country calling code
    /// does not exist (PHONE-2).
    UnparseablePhone,
    /// `impossible_phone_length`: the number has a length no number of its country has,
    /// including 7-digit North American local numbers (PHONE-1, PHONE-2).
    ImpossiblePhoneLength,
    /// `invalid_postal_for_country`: the postal code does not have its country's shape
    /// (POSTAL-1).
    InvalidPostalForCountry,
    /// `zeroed_maid`: the all-zero advertising id sent by devices with tracking off (MAID-1).
    ZeroedMaid,
    /// `maid_must_not_be_hashed`: a SHA-256 digest was given as MAID; Amazon wants the id
    /// itself (MAID-1).
    MaidMustNotBeHashed,
    /// `invalid_maid`: not a UUID-shaped advertising id (MAID-1).
    InvalidMaid,
    /// `invalid_ramp_id`: a RampID cannot contain white space (RAMP_ID-1).
    InvalidRampId,
    /// `invalid_country`: not an ISO 3166-1 alpha-2 code (or `UK`, or a locale such as
    /// `en-US`) (COMMON-5).
    InvalidCountry,
    /// `unknown_field`: not one of Amazon's match-key types.
    UnknownField,
    /// `raw_pii_not_accepted`: a browser sent a hashed field that is not a SHA-256 digest.
    RawPiiNotAccepted,
    /// `not_allowed_from_browser`: a field this site does not take from browsers
    /// (MATCH_ID and RAMP_ID unless enabled).
    NotAllowedFromBrowser,
    /// `looks_like_personal_data`: an unhashed identifier (MATCH_ID, RAMP_ID) that looks
    /// like an email address or a phone number.
    LooksLikePersonalData,
    /// `not_in_this_build`: the browser's lite build leaves this field's rules out
    /// (ADDRESS, STATE); the npm package loads the full build for it.
    NotInThisBuild,
}

impl Reason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [Reason; 16] = [
        Reason::Empty,
        Reason::EmptyAfterNormalization,
        Reason::InvalidEmail,
        Reason::UnparseablePhone,
        Reason::ImpossiblePhoneLength,
        Reason::InvalidPostalForCountry,
        Reason::ZeroedMaid,
        Reason::MaidMustNotBeHashed,
        Reason::InvalidMaid,
        Reason::InvalidRampId,
        Reason::InvalidCountry,
        Reason::UnknownField,
        Reason::RawPiiNotAccepted,
        Reason::NotAllowedFromBrowser,
        Reason::LooksLikePersonalData,
        Reason::NotInThisBuild,
    ];

    /// The stable snake_case code (`"invalid_email"`).
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::EmptyAfterNormalization => "empty_after_normalization",
            Reason::InvalidEmail => "invalid_email",
            Reason::UnparseablePhone => "unparseable_phone",
            Reason::ImpossiblePhoneLength => "impossible_phone_length",
            Reason::InvalidPostalForCountry => "invalid_postal_for_country",
            Reason::ZeroedMaid => "zeroed_maid",
            Reason::MaidMustNotBeHashed => "maid_must_not_be_hashed",
            Reason::InvalidMaid => "invalid_maid",
            Reason::InvalidRampId => "invalid_ramp_id",
            Reason::InvalidCountry => "invalid_country",
            Reason::UnknownField => "unknown_field",
            Reason::RawPiiNotAccepted => "raw_pii_not_accepted",
            Reason::NotAllowedFromBrowser => "not_allowed_from_browser",
            Reason::LooksLikePersonalData => "looks_like_personal_data",
            Reason::NotInThisBuild => "not_in_this_build",
        }
    }

    /// A short human explanation, lowercase, without the input.
    pub const fn message(self) -> &'static str {
        match self {
            Reason::Empty => "value is empty",
            Reason::EmptyAfterNormalization => "nothing is left after normalization",
            Reason::InvalidEmail => "not an email address with one @ and text on both sides",
            Reason::UnparseablePhone => "no phone number with a valid country code found",
            Reason::ImpossiblePhoneLength => {
                "phone number has an impossible length for its country"
            }
            Reason::InvalidPostalForCountry => {
                "postal code does not have the shape used in its country"
            }
            Reason::ZeroedMaid => "advertising id is all zeros",
            Reason::MaidMustNotBeHashed => "advertising id must be sent as is, not hashed",
            Reason::InvalidMaid => "advertising id is not a UUID",
            Reason::InvalidRampId => "RampID contains white space",
            Reason::InvalidCountry => "not an ISO 3166-1 alpha-2 country code",
            Reason::UnknownField => "not an Amazon match-key type",
            Reason::RawPiiNotAccepted => "a browser must send this field as a SHA-256 digest",
            Reason::NotAllowedFromBrowser => "this site does not accept this field from browsers",
            Reason::LooksLikePersonalData => {
                "an identifier that looks like an email address or phone number"
            }
            Reason::NotInThisBuild => "this build leaves the field's rules out",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejected value: which field (when known) and why. Never holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reject {
    /// The field the value was given for; `None` when the field itself was unknown.
    pub field: Option<Field>,
    /// Why it was rejected.
    pub reason: Reason,
}

impl Reject {
    /// A reject of `field` for `reason`.
    pub const fn new(field: Option<Field>, reason: Reason) -> Self {
        Reject { field, reason }
    }

    /// The stable reason code (`"invalid_email"`).
    pub const fn code(&self) -> &'static str {
        self.reason.code()
    }

    /// `email: not an email address … (invalid_email)`: the field, what is wrong and the
    /// code, never the value. Also the [`Display`](fmt::Display) form; built without the
    /// formatting machinery, which the browser's lite build leaves out.
    pub fn message(&self) -> String {
        let mut message = String::new();
        if let Some(field) = self.field {
            message.push_str(field.as_str());
            message.push_str(": ");
        }
        message.push_str(self.reason.message());
        message.push_str(" (");
        message.push_str(self.code());
        message.push(')');
        message
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for Reject {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
    }

    #[test]
    fn message_names_field_and_reason() {
        let reject = Reject::new(Some(Field::Email), Reason::InvalidEmail);
        assert_eq!(
            reject.to_string(),
            "EMAIL: not an email address with one @ and text on both sides (invalid_email)"
        );
    }
}
