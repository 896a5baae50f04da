//! ISO 3166-1 alpha-2 countries, as a record's `country` (COMMON-5).
//!
//! The table below also holds each country's telephone calling code, which the phone
//! rules need for every country; the finer phone metadata lives in `normalize::phone`.

use core::fmt;
use core::str::FromStr;

use crate::reject::{Reason, Reject};

/// An ISO 3166-1 alpha-2 country code, upper case (`US`, `GB`, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

/// Every officially assigned ISO 3166-1 alpha-2 code with its ITU calling code,
/// sorted by code (binary search). Territories without numbering of their own carry
/// the calling code used there.
#[rustfmt::skip]
const COUNTRIES: &[(&str, u16)] = &[
    ("AD", 376), ("AE", 971), ("AF", 93), ("AG", 1), ("AI", 1), ("AL", 355), ("AM", 374),
    ("AO", 244), ("AQ", 672), ("AR", 54), ("AS", 1), ("AT", 43), ("AU", 61), ("AW", 297),
    ("AX", 358), ("AZ", 994), ("BA", 387), ("BB", 1), ("BD", 880), ("BE", 32), ("BF", 226),
    ("BG", 359), ("BH", 973), ("BI", 257), ("BJ", 229), ("BL", 590), ("BM", 1), ("BN", 673),
    ("BO", 591), ("BQ", 599), ("BR", 55), ("BS", 1), ("BT", 975), ("BV", 47), ("BW", 267),
    ("BY", 375), ("BZ", 501), ("CA", 1), ("CC", 61), ("CD", 243), ("CF", 236), ("CG", 242),
    ("CH", 41), ("CI", 225), ("CK", 682), ("CL", 56), ("CM", 237), ("CN", 86), ("CO", 57),
    ("CR", 506), ("CU", 53), ("CV", 238), ("CW", 599), ("CX", 61), ("CY", 357), ("CZ", 420),
    ("DE", 49), ("DJ", 253), ("DK", 45), ("DM", 1), ("DO", 1), ("DZ", 213), ("EC", 593),
    ("EE", 372), ("EG", 20), ("EH", 212), ("ER", 291), ("ES", 34), ("ET", 251), ("FI", 358),
    ("FJ", 679), ("FK", 500), ("FM", 691), ("FO", 298), ("FR", 33), ("GA", 241), ("GB", 44),
    ("GD", 1), ("GE", 995), ("GF", 594), ("GG", 44), ("GH", 233), ("GI", 350), ("GL", 299),
    ("GM", 220), ("GN", 224), ("GP", 590), ("GQ", 240), ("GR", 30), ("GS", 500), ("GT", 502),
    ("GU", 1), ("GW", 245), ("GY", 592), ("HK", 852), ("HM", 672), ("HN", 504), ("HR", 385),
    ("HT", 509), ("HU", 36), ("ID", 62), ("IE", 353), ("IL", 972), ("IM", 44), ("IN", 91),
    ("IO", 246), ("IQ", 964), ("IR", 98), ("IS", 354), ("IT", 39), ("JE", 44), ("JM", 1),
    ("JO", 962), ("JP", 81), ("KE", 254), ("KG", 996), ("KH", 855), ("KI", 686), ("KM", 269),
    ("KN", 1), ("KP", 850), ("KR", 82), ("KW", 965), ("KY", 1), ("KZ", 7), ("LA", 856),
    ("LB", 961), ("LC", 1), ("LI", 423), ("LK", 94), ("LR", 231), ("LS", 266), ("LT", 370),
    ("LU", 352), ("LV", 371), ("LY", 218), ("MA", 212), ("MC", 377), ("MD", 373), ("ME", 382),
    ("MF", 590), ("MG", 261), ("MH", 692), ("MK", 389), ("ML", 223), ("MM", 95), ("MN", 976),
    ("MO", 853), ("MP", 1), ("MQ", 596), ("MR", 222), ("MS", 1), ("MT", 356), ("MU", 230),
    ("MV", 960), ("MW", 265), ("MX", 52), ("MY", 60), ("MZ", 258), ("NA", 264), ("NC", 687),
    ("NE", 227), ("NF", 672), ("NG", 234), ("NI", 505), ("NL", 31), ("NO", 47), ("NP", 977),
    ("NR", 674), ("NU", 683), ("NZ", 64), ("OM", 968), ("PA", 507), ("PE", 51), ("PF", 689),
    ("PG", 675), ("PH", 63), ("PK", 92), ("PL", 48), ("PM", 508), ("PN", 64), ("PR", 1),
    ("PS", 970), ("PT", 351), ("PW", 680), ("PY", 595), ("QA", 974), ("RE", 262), ("RO", 40),
    ("RS", 381), ("RU", 7), ("RW", 250), ("SA", 966), ("SB", 677), ("SC", 248), ("SD", 249),
    ("SE", 46), ("SG", 65), ("SH", 290), ("SI", 386), ("SJ", 47), ("SK", 421), ("SL", 232),
    ("SM", 378), ("SN", 221), ("SO", 252), ("SR", 597), ("SS", 211), ("ST", 239), ("SV", 503),
    ("SX", 1), ("SY", 963), ("SZ", 268), ("TC", 1), ("TD", 235), ("TF", 262), ("TG", 228),
    ("TH", 66), ("TJ", 992), ("TK", 690), ("TL", 670), ("TM", 993), ("TN", 216), ("TO", 676),
    ("TR", 90), ("TT", 1), ("TV", 688), ("TW", 886), ("TZ", 255), ("UA", 380), ("UG", 256),
    ("UM", 1), ("US", 1), ("UY", 598), ("UZ", 998), ("VA", 39), ("VC", 1), ("VE", 58),
    ("VG", 1), ("VI", 1), ("VN", 84), ("VU", 678), ("WF", 681), ("WS", 685), ("YE", 967),
    ("YT", 262), ("ZA", 27), ("ZM", 260), ("ZW", 263),
];

impl Country {
    /// United States.
    pub const US: Country = Country(*b"US");
    /// Canada.
    pub const CA: Country = Country(*b"CA");
    /// United Kingdom (ISO `GB`; `UK` is accepted as input).
    pub const GB: Country = Country(*b"GB");
    /// France.
    pub const FR: Country = Country(*b"FR");
    /// Germany.
    pub const DE: Country = Country(*b"DE");
    /// Spain.
    pub const ES: Country = Country(*b"ES");
    /// Italy.
    pub const IT: Country = Country(*b"IT");
    /// Japan.
    pub const JP: Country = Country(*b"JP");
    /// India.
    pub const IN: Country = Country(*b"IN");

    /// Parses a country the way records carry it (COMMON-5): an alpha-2 code in any case
    /// (`us`), a locale (`en-US`, `fr_CA`: the region part), or `UK` for `GB`.
    ///
    /// # Errors
    /// `invalid_country` for anything else, including alpha-3 codes such as `USA`.
    pub fn parse(input: &str) -> Result<Country, Reject> {
        let input = input.trim();
        let code = match input.len() {
            2 => input,
            // A locale: language, `-` or `_`, then the two-letter region.
            4..=6 => match input.rsplit_once(['-', '_']) {
                Some((lang, region)) if (2..=3).contains(&lang.len()) => region,
                _ => input,
            },
            _ => input,
        };
        let bytes = code.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(invalid());
        }
        let mut upper = [bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase()];
        if &upper == b"UK" {
            upper = *b"GB";
        }
        let country = Country(upper);
        match country.entry() {
            Some(_) => Ok(country),
            None => Err(invalid()),
        }
    }

    /// The code as `&str` (`"US"`).
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII letters.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The ITU calling code (`1` for US, `44` for GB).
    pub fn calling_code(self) -> u16 {
        self.entry().map_or(0, |(_, cc)| cc)
    }

    /// Whether Amazon requires a consent signal for data from this country (EEA and UK;
    /// the list is [`crate::consent::CONSENT_COUNTRIES`]).
    pub fn requires_consent(self) -> bool {
        crate::consent::requires_consent(self)
    }

    /// Every country, in code order.
    pub fn all() -> impl Iterator<Item = Country> {
        COUNTRIES.iter().map(|(code, _)| {
            let b = code.as_bytes();
            Country([b[0], b[1]])
        })
    }

    fn entry(self) -> Option<(&'static str, u16)> {
        COUNTRIES
            .binary_search_by(|(code, _)| code.as_bytes().cmp(&self.0[..]))
            .ok()
            .map(|i| COUNTRIES[i])
    }
}

fn invalid() -> Reject {
    Reject::new(None, Reason::InvalidCountry)
}

impl FromStr for Country {
    type Err = Reject;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::parse(s)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl serde::Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Country {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = alloc::borrow::Cow::<str>::deserialize(d)?;
        Country::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn accepts_case_locale_and_uk() {
        for (input, expected) in [
            ("us", "US"),
            ("US", "US"),
            ("en-US", "US"),
            ("fr_CA", "CA"),
            ("UK", "GB"),
            (" gb ", "GB"),
        ] {
            assert_eq!(
                Country::parse(input).map(|c| c.to_string()),
                Ok(expected.into())
            );
        }
    }

    #[test]
    fn rejects_alpha3_unknown_and_garbage() {
        for input in ["USA", "XX", "", "U", "en-USA", "12", "ÜS"] {
            assert_eq!(
                Country::parse(input).unwrap_err().code(),
                "invalid_country",
                "{input}"
            );
        }
    }

    #[test]
    fn calling_codes() {
        assert_eq!(Country::US.calling_code(), 1);
        assert_eq!(Country::IT.calling_code(), 39);
    }
}
