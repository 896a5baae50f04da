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
const COUNTRIES: &[([u8; 2], u16)] = &[
    (*b"AD", 376), (*b"AE", 971), (*b"AF", 93), (*b"AG", 1), (*b"AI", 1), (*b"AL", 355),
    (*b"AM", 374), (*b"AO", 244), (*b"AQ", 672), (*b"AR", 54), (*b"AS", 1), (*b"AT", 43),
    (*b"AU", 61), (*b"AW", 297), (*b"AX", 358), (*b"AZ", 994), (*b"BA", 387), (*b"BB", 1),
    (*b"BD", 880), (*b"BE", 32), (*b"BF", 226), (*b"BG", 359), (*b"BH", 973), (*b"BI", 257),
    (*b"BJ", 229), (*b"BL", 590), (*b"BM", 1), (*b"BN", 673), (*b"BO", 591), (*b"BQ", 599),
    (*b"BR", 55), (*b"BS", 1), (*b"BT", 975), (*b"BV", 47), (*b"BW", 267), (*b"BY", 375),
    (*b"BZ", 501), (*b"CA", 1), (*b"CC", 61), (*b"CD", 243), (*b"CF", 236), (*b"CG", 242),
    (*b"CH", 41), (*b"CI", 225), (*b"CK", 682), (*b"CL", 56), (*b"CM", 237), (*b"CN", 86),
    (*b"CO", 57), (*b"CR", 506), (*b"CU", 53), (*b"CV", 238), (*b"CW", 599), (*b"CX", 61),
    (*b"CY", 357), (*b"CZ", 420), (*b"DE", 49), (*b"DJ", 253), (*b"DK", 45), (*b"DM", 1),
    (*b"DO", 1), (*b"DZ", 213), (*b"EC", 593), (*b"EE", 372), (*b"EG", 20), (*b"EH", 212),
    (*b"ER", 291), (*b"ES", 34), (*b"ET", 251), (*b"FI", 358), (*b"FJ", 679), (*b"FK", 500),
    (*b"FM", 691), (*b"FO", 298), (*b"FR", 33), (*b"GA", 241), (*b"GB", 44), (*b"GD", 1),
    (*b"GE", 995), (*b"GF", 594), (*b"GG", 44), (*b"GH", 233), (*b"GI", 350), (*b"GL", 299),
    (*b"GM", 220), (*b"GN", 224), (*b"GP", 590), (*b"GQ", 240), (*b"GR", 30), (*b"GS", 500),
    (*b"GT", 502), (*b"GU", 1), (*b"GW", 245), (*b"GY", 592), (*b"HK", 852), (*b"HM", 672),
    (*b"HN", 504), (*b"HR", 385), (*b"HT", 509), (*b"HU", 36), (*b"ID", 62), (*b"IE", 353),
    (*b"IL", 972), (*b"IM", 44), (*b"IN", 91), (*b"IO", 246), (*b"IQ", 964), (*b"IR", 98),
    (*b"IS", 354), (*b"IT", 39), (*b"JE", 44), (*b"JM", 1), (*b"JO", 962), (*b"JP", 81),
    (*b"KE", 254), (*b"KG", 996), (*b"KH", 855), (*b"KI", 686), (*b"KM", 269), (*b"KN", 1),
    (*b"KP", 850), (*b"KR", 82), (*b"KW", 965), (*b"KY", 1), (*b"KZ", 7), (*b"LA", 856),
    (*b"LB", 961), (*b"LC", 1), (*b"LI", 423), (*b"LK", 94), (*b"LR", 231), (*b"LS", 266),
    (*b"LT", 370), (*b"LU", 352), (*b"LV", 371), (*b"LY", 218), (*b"MA", 212), (*b"MC", 377),
    (*b"MD", 373), (*b"ME", 382), (*b"MF", 590), (*b"MG", 261), (*b"MH", 692), (*b"MK", 389),
    (*b"ML", 223), (*b"MM", 95), (*b"MN", 976), (*b"MO", 853), (*b"MP", 1), (*b"MQ", 596),
    (*b"MR", 222), (*b"MS", 1), (*b"MT", 356), (*b"MU", 230), (*b"MV", 960), (*b"MW", 265),
    (*b"MX", 52), (*b"MY", 60), (*b"MZ", 258), (*b"NA", 264), (*b"NC", 687), (*b"NE", 227),
    (*b"NF", 672), (*b"NG", 234), (*b"NI", 505), (*b"NL", 31), (*b"NO", 47), (*b"NP", 977),
    (*b"NR", 674), (*b"NU", 683), (*b"NZ", 64), (*b"OM", 968), (*b"PA", 507), (*b"PE", 51),
    (*b"PF", 689), (*b"PG", 675), (*b"PH", 63), (*b"PK", 92), (*b"PL", 48), (*b"PM", 508),
    (*b"PN", 64), (*b"PR", 1), (*b"PS", 970), (*b"PT", 351), (*b"PW", 680), (*b"PY", 595),
    (*b"QA", 974), (*b"RE", 262), (*b"RO", 40), (*b"RS", 381), (*b"RU", 7), (*b"RW", 250),
    (*b"SA", 966), (*b"SB", 677), (*b"SC", 248), (*b"SD", 249), (*b"SE", 46), (*b"SG", 65),
    (*b"SH", 290), (*b"SI", 386), (*b"SJ", 47), (*b"SK", 421), (*b"SL", 232), (*b"SM", 378),
    (*b"SN", 221), (*b"SO", 252), (*b"SR", 597), (*b"SS", 211), (*b"ST", 239), (*b"SV", 503),
    (*b"SX", 1), (*b"SY", 963), (*b"SZ", 268), (*b"TC", 1), (*b"TD", 235), (*b"TF", 262),
    (*b"TG", 228), (*b"TH", 66), (*b"TJ", 992), (*b"TK", 690), (*b"TL", 670), (*b"TM", 993),
    (*b"TN", 216), (*b"TO", 676), (*b"TR", 90), (*b"TT", 1), (*b"TV", 688), (*b"TW", 886),
    (*b"TZ", 255), (*b"UA", 380), (*b"UG", 256), (*b"UM", 1), (*b"US", 1), (*b"UY", 598),
    (*b"UZ", 998), (*b"VA", 39), (*b"VC", 1), (*b"VE", 58), (*b"VG", 1), (*b"VI", 1), (*b"VN", 84),
    (*b"VU", 678), (*b"WF", 681), (*b"WS", 685), (*b"YE", 967), (*b"YT", 262), (*b"ZA", 27),
    (*b"ZM", 260), (*b"ZW", 263),
];

/// The codes of [`COUNTRIES`] as a bit set: bit `b` of row `a` stands for the code of
/// letters `a` and `b` (0 for A). What `parse` checks, in 104 bytes of the browser build
/// rather than the whole table.
const KNOWN: [u32; 26] = {
    let mut rows = [0; 26];
    let mut i = 0;
    while i < COUNTRIES.len() {
        let [a, b] = COUNTRIES[i].0;
        rows[(a - b'A') as usize] |= 1 << (b - b'A');
        i += 1;
    }
    rows
};

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
        let [a, b] = upper.map(|c| c - b'A');
        if KNOWN[usize::from(a)] & (1 << b) == 0 {
            return Err(invalid());
        }
        Ok(Country(upper))
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
        COUNTRIES.iter().map(|&(code, _)| Country(code))
    }

    fn entry(self) -> Option<([u8; 2], u16)> {
        COUNTRIES
            .binary_search_by_key(&self.0, |&(code, _)| code)
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
