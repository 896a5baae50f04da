//! Consent policy, in one place: which countries need a consent signal, what counts as
//! consent in a page (TCF and GPP decoded by the page's CMP), and which consent strings
//! the Worker passes on to Amazon. The tag, the Worker and the CLI all ask this module.

use crate::Country;

/// Countries whose data needs a consent signal before Amazon may use it: the EU member
/// states with the outermost regions and territories that have their own ISO code
/// (Åland AX, French Guiana GF, Guadeloupe GP, Martinique MQ, Mayotte YT, Réunion RE,
/// Saint-Martin MF), the other EEA states (IS, LI, NO) and the United Kingdom.
///
/// Source: Amazon's Events API and audience docs require a signal for "EU/UK (EEA)"
/// data (`../shared/spec/amazon-api.md` §A9, §A6: "Mandatory for EEA and UK customer
/// data"). Switzerland is not in the EEA and Amazon does not list it; a site that wants
/// consent there too sets the tag's `consentMode: 'required'`. The emulator keeps its
/// own copy of this list as an independent check, and a test asserts the two agree.
#[rustfmt::skip]
pub const CONSENT_COUNTRIES: &[&str] = &[
    "AT", "AX", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GF", "GP",
    "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MF", "MQ", "MT", "NL", "NO",
    "PL", "PT", "RE", "RO", "SE", "SI", "SK", "YT",
];

/// Amazon Ads' vendor id in the IAB Transparency & Consent Framework's Global Vendor List.
pub const AMAZON_TCF_VENDOR_ID: u16 = 793;

/// TCF purposes that must all have consent, with vendor 793's own consent, before the
/// tag sends an event or stores an identity.
///
/// Source: IAB Europe TCF v2.2 policies, Appendix A: purpose 1 "Store and/or access
/// information on a device" (the tag keeps the hashed identity in first-party storage),
/// 3 "Create profiles for personalised advertising" and 4 "Use profiles to select
/// personalised advertising" (what Amazon does with a matched conversion or audience
/// member). CMPs that derive Amazon Consent Signal from TCF do the same: "the vendor itself
/// and all its purposes" (Didomi's ACS mapping for vendor 793). Change the list here
/// and nowhere else.
pub const TCF_PURPOSES: &[u8] = &[1, 3, 4];

/// Whether data from `country` needs a consent signal.
pub fn requires_consent(country: Country) -> bool {
    CONSENT_COUNTRIES.contains(&country.as_str())
}

/// TCF as decoded by the page's CMP (`__tcfapi` `getTCData`): granted only when vendor
/// 793 has consent and so does every purpose of [`TCF_PURPOSES`].
pub fn tcf_granted(vendor_consent: bool, purpose_consent: impl Fn(u8) -> bool) -> bool {
    vendor_consent && TCF_PURPOSES.iter().all(|&p| purpose_consent(p))
}

/// One applicable GPP section, as the page's CMP reports it (`__gpp` `ping`:
/// `applicableSections` and the parsed section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GppSection {
    /// `tcfeuv2` (section 2): judged as TCF.
    TcfEuV2 {
        /// Vendor 793's consent in the section.
        vendor_consent: bool,
        /// Whether every purpose of [`TCF_PURPOSES`] has consent.
        purposes_consent: bool,
    },
    /// `usnat` (section 7): passes unless the person opted out of sale, sharing or
    /// targeted advertising, and only where consent is not required (a US opt-out
    /// framework is no consent for EEA or UK data).
    UsNat {
        /// Any of `SaleOptOut`, `SharingOptOut`, `TargetedAdvertisingOptOut` is 1 (opted out).
        opted_out: bool,
    },
    /// Any other section: not judged here, so denied.
    Other,
}

/// Whether a page's applicable GPP section grants what the tag needs, for data from a
/// country that does (`consent_required`) or does not need consent.
pub fn gpp_granted(section: GppSection, consent_required: bool) -> bool {
    match section {
        GppSection::TcfEuV2 {
            vendor_consent,
            purposes_consent,
        } => vendor_consent && purposes_consent,
        GppSection::UsNat { opted_out } => !opted_out && !consent_required,
        GppSection::Other => false,
    }
}

/// Longest TCF or GPP string passed on (real ones are a few hundred to a few thousand
/// characters).
pub const MAX_CONSENT_STRING: usize = 8192;

/// Whether `s` has the shape of a TCF string: base64url segments joined by `.`.
pub fn valid_tcf_string(s: &str) -> bool {
    (8..=MAX_CONSENT_STRING).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !s.starts_with('.')
}

/// Whether `s` has the shape of a GPP string: base64url sections joined by `~` (and
/// `.` inside a section).
pub fn valid_gpp_string(s: &str) -> bool {
    (4..=MAX_CONSENT_STRING).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        && s.contains('~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::prelude::rust_2024::*;

    #[test]
    fn consent_countries_are_sorted_valid_and_match_country() {
        let mut sorted = CONSENT_COUNTRIES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, CONSENT_COUNTRIES);
        for code in CONSENT_COUNTRIES {
            let country = Country::parse(code).unwrap();
            assert!(country.requires_consent() && requires_consent(country));
        }
        for code in ["US", "CH", "CA", "JP", "TR"] {
            assert!(!requires_consent(Country::parse(code).unwrap()), "{code}");
        }
        assert!(requires_consent(Country::parse("UK").unwrap()));
    }

    #[test]
    fn tcf_needs_the_vendor_and_every_listed_purpose() {
        assert!(TCF_PURPOSES.contains(&1));
        assert!(tcf_granted(true, |_| true));
        assert!(!tcf_granted(false, |_| true));
        assert!(!tcf_granted(true, |p| p != 1));
        assert!(!tcf_granted(true, |p| p == 1));
    }

    #[test]
    fn gpp_is_judged_by_its_applicable_section() {
        let tcf = |v, p| {
            gpp_granted(
                GppSection::TcfEuV2 {
                    vendor_consent: v,
                    purposes_consent: p,
                },
                true,
            )
        };
        assert!(tcf(true, true) && !tcf(true, false) && !tcf(false, true));
        assert!(gpp_granted(GppSection::UsNat { opted_out: false }, false));
        assert!(!gpp_granted(GppSection::UsNat { opted_out: true }, false));
        // A US opt-out framework says nothing about consent for EEA or UK data.
        assert!(!gpp_granted(GppSection::UsNat { opted_out: false }, true));
        assert!(!gpp_granted(GppSection::Other, false));
    }

    #[test]
    fn consent_strings_are_checked_by_shape() {
        let tcf = "CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA";
        assert!(valid_tcf_string(tcf));
        assert!(valid_tcf_string(&format!("{tcf}.YAAAAAAAAAA")));
        for bad in [
            "",
            "short",
            "jane@example.com",
            "CQHc CQAQHcCQAPoABAENBOFg",
            ".CQHcCQAQHcCQAPoABAEN",
        ] {
            assert!(!valid_tcf_string(bad), "{bad}");
        }
        assert!(valid_gpp_string(
            "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"
        ));
        assert!(!valid_gpp_string("DBABMA"));
        assert!(!valid_gpp_string("DBABMA~jane@example.com"));
        assert!(!valid_gpp_string(&"A~".repeat(MAX_CONSENT_STRING)));
    }
}
