//! The identity rule: which match keys a caller may send, in which form, and what Amazon
//! receives for each. One rule for every path: the browser binding refuses what the
//! Worker would refuse, the Worker's event and audience ingest apply it per caller, and
//! the CLI applies it to files.
//!
//! A browser is untrusted: whatever it sends may come from anyone holding the public site
//! key. It may send digests for the hashed fields, a checked MAID, and MATCH_ID or
//! RAMP_ID only where the site enables them, and never one that looks like an email
//! address or a phone number (a raw value smuggled through an unhashed field). A trusted
//! caller (a server with the ingest secret, the CLI) sends raw values, normalized and
//! hashed here.

use crate::{Field, Normalizer, Reason, Sha256Hex};
use alloc::borrow::ToOwned;
use alloc::string::String;

/// Who sends an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A page, through the public site key: digests and a few checked identifiers.
    Browser(BrowserIds),
    /// A server with the ingest secret, or the CLI on the operator's machine: raw values.
    Trusted,
}

/// The unhashed identifiers a site accepts from browsers (both off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BrowserIds {
    /// MATCH_ID, the advertiser's own customer id.
    pub match_id: bool,
    /// RAMP_ID, LiveRamp's id.
    pub ramp_id: bool,
}

impl BrowserIds {
    /// Whether `field` may come from a browser at all.
    pub const fn allows(self, field: Field) -> bool {
        match field {
            Field::MatchId => self.match_id,
            Field::RampId => self.ramp_id,
            _ => true,
        }
    }
}

/// The value Amazon receives for one match key, or why it is refused. `Ok(None)` is an
/// empty value, which is skipped, not an error.
///
/// # Errors
/// The core's [`Reason`]s for a bad value, plus [`Reason::RawPiiNotAccepted`],
/// [`Reason::NotAllowedFromBrowser`] and [`Reason::LooksLikePersonalData`] for browsers.
pub fn match_key_value(
    normalizer: &mut Normalizer,
    sender: Sender,
    field: Field,
    input: &str,
    country: crate::Country,
) -> Result<Option<String>, Reason> {
    if let Sender::Browser(ids) = sender {
        if !ids.allows(field) {
            return Err(Reason::NotAllowedFromBrowser);
        }
        if field.is_hashed() {
            let trimmed = input.trim();
            if trimmed.is_empty() {
                return Ok(None);
            }
            return Sha256Hex::parse(trimmed)
                .map(|d| Some(d.as_str().to_owned()))
                .ok_or(Reason::RawPiiNotAccepted);
        }
    }
    check_identifier(field, input)?;
    match normalizer.match_key(field, input, country) {
        Ok(key) => Ok(Some(key.value().to_owned())),
        Err(reject) if reject.reason == Reason::Empty => Ok(None),
        Err(reject) => Err(reject.reason),
    }
}

/// Refuses an unhashed identifier (MATCH_ID, RAMP_ID) that looks like contact data:
/// Amazon would receive it as is. Every other field passes.
///
/// # Errors
/// [`Reason::LooksLikePersonalData`].
pub fn check_identifier(field: Field, input: &str) -> Result<(), Reason> {
    if matches!(field, Field::MatchId | Field::RampId) && looks_like_contact(input) {
        Err(Reason::LooksLikePersonalData)
    } else {
        Ok(())
    }
}

/// Whether a value looks like an email address (an `@`, its look-alikes or its URL
/// encoding anywhere) or a phone number (7 to 15 digits once spaces and the usual
/// separators `+ - . ( ) /` are removed, and nothing else). The digits are those the
/// PHONE rule reads (decimal digits of the scripts libphonenumber reads): other numerals
/// (`²`, `½`, `Ⅻ`) make no phone number Amazon could match.
pub fn looks_like_contact(value: &str) -> bool {
    // `%40` by bytes: a `str` search would link `core`'s string searcher into the browser build.
    let escaped_at = |w: &[u8]| w.eq_ignore_ascii_case(b"%40");
    if value.contains(['@', '\u{ff20}', '\u{fe6b}']) || value.as_bytes().windows(3).any(escaped_at)
    {
        return true;
    }
    let mut digits = 0;
    for c in value.chars() {
        if crate::text::decimal_digit(c).is_some() {
            digits += 1;
        } else if !(c.is_whitespace() || matches!(c, '+' | '-' | '.' | '(' | ')' | '/')) {
            return false;
        }
    }
    (7..=15).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Country;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn value(sender: Sender, field: Field, input: &str) -> Result<Option<String>, Reason> {
        match_key_value(&mut Normalizer::new(), sender, field, input, Country::US)
    }

    const BROWSER: Sender = Sender::Browser(BrowserIds {
        match_id: false,
        ramp_id: false,
    });
    const IDS: Sender = Sender::Browser(BrowserIds {
        match_id: true,
        ramp_id: true,
    });

    #[test]
    fn browsers_send_digests_for_hashed_fields() {
        let upper = HASH.to_ascii_uppercase();
        assert_eq!(
            value(BROWSER, Field::Email, &upper),
            Ok(Some(HASH.to_owned()))
        );
        for raw in ["abc@example.com", "Jane", "+1 206 555 0100", "9eceb1"] {
            assert_eq!(
                value(BROWSER, Field::Email, raw),
                Err(Reason::RawPiiNotAccepted)
            );
        }
        assert_eq!(value(BROWSER, Field::Phone, "  "), Ok(None));
        assert_eq!(
            value(Sender::Trusted, Field::Email, "abc@example.com"),
            Ok(Some(HASH.to_owned()))
        );
    }

    #[test]
    fn identifiers_from_browsers_need_the_site_and_must_not_be_contact_data() {
        assert_eq!(
            value(BROWSER, Field::MatchId, "cust-1"),
            Err(Reason::NotAllowedFromBrowser)
        );
        assert_eq!(
            value(IDS, Field::MatchId, "cust-1"),
            Ok(Some("cust-1".into()))
        );
        for smuggled in [
            "jane.doe@example.com",
            "jane＠example.com",
            "jane%40example.com",
            "+44 7911 123456",
            "(206) 555-0100",
            "２０６５５５０１００",
            "\u{664}\u{664} \u{667}\u{669}\u{661}\u{661} \u{661}\u{662}\u{663}\u{664}\u{665}\u{666}",
        ] {
            assert_eq!(
                value(IDS, Field::MatchId, smuggled),
                Err(Reason::LooksLikePersonalData),
                "{smuggled}"
            );
            assert_eq!(
                value(Sender::Trusted, Field::RampId, smuggled),
                Err(Reason::LooksLikePersonalData)
            );
        }
        // Ids with digits that are not phone-shaped pass.
        for id in [
            "550e8400-e29b-41d4-a716-446655440000",
            "123456",
            "order 2026 11 27 x",
            // Numerals the PHONE rule does not read as digits.
            "²⁰⁶⁵⁵⁵⁰¹⁰⁰",
            "ⅫⅫⅫⅫⅫⅫⅫⅫ",
        ] {
            assert!(!looks_like_contact(id), "{id}");
        }
        let maid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
        assert_eq!(value(BROWSER, Field::Maid, maid), Ok(Some(maid.into())));
        assert_eq!(
            value(BROWSER, Field::Maid, HASH),
            Err(Reason::MaidMustNotBeHashed)
        );
    }
}
