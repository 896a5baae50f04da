//! The match-key fields Amazon accepts, and which of them are hashed.

use core::fmt;
use core::str::FromStr;

use crate::reject::{Reason, Reject};

/// One kind of match key, spelled as Amazon spells it (`EMAIL`, `FIRST_NAME`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// E-mail address (`EMAIL-*` rules).
    Email,
    /// Phone number, sent as E.164 digits without `+` (`PHONE-*`).
    Phone,
    /// Given name (`NAME-1`).
    FirstName,
    /// Family name (`NAME-1`).
    LastName,
    /// Street line of a postal address (`ADDRESS-*`).
    Address,
    /// City (`CITY-1`).
    City,
    /// State, province or region (`STATE-1`).
    State,
    /// Postal or ZIP code (`POSTAL-*`).
    Postal,
    /// Mobile advertising id (IDFA, GAID, Fire ADID); sent unhashed (`MAID-1`).
    Maid,
    /// LiveRamp RampID; sent unhashed (`RAMP_ID-1`).
    RampId,
    /// The advertiser's own opaque user id; sent unhashed.
    MatchId,
}

impl Field {
    /// Every field, in Amazon's documentation order.
    pub const ALL: [Field; 11] = [
        Field::Email,
        Field::Phone,
        Field::FirstName,
        Field::LastName,
        Field::Address,
        Field::City,
        Field::State,
        Field::Postal,
        Field::Maid,
        Field::RampId,
        Field::MatchId,
    ];

    /// The name Amazon uses for this match-key type (`"FIRST_NAME"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Email => "EMAIL",
            Field::Phone => "PHONE",
            Field::FirstName => "FIRST_NAME",
            Field::LastName => "LAST_NAME",
            Field::Address => "ADDRESS",
            Field::City => "CITY",
            Field::State => "STATE",
            Field::Postal => "POSTAL",
            Field::Maid => "MAID",
            Field::RampId => "RAMP_ID",
            Field::MatchId => "MATCH_ID",
        }
    }

    /// Whether Amazon expects this field as a SHA-256 digest. MAID, RAMP_ID and MATCH_ID
    /// are sent normalized but never hashed.
    pub const fn is_hashed(self) -> bool {
        !matches!(self, Field::Maid | Field::RampId | Field::MatchId)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Field {
    type Err = Reject;

    /// Parses Amazon's name case-insensitively; `ZIP` (the AMC column name) and
    /// `POSTAL_CODE` are accepted for `POSTAL`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Uppercased into a buffer as long as the longest name, then one `match`: a search
        // of `ALL` compiles to eleven unrolled comparisons, 2 KB of the browser's first
        // download.
        let s = s.trim().as_bytes();
        let mut upper = [0u8; "POSTAL_CODE".len()];
        if s.len() > upper.len() {
            return Err(Reject::new(None, Reason::UnknownField));
        }
        for (u, b) in upper.iter_mut().zip(s) {
            *u = b.to_ascii_uppercase();
        }
        Ok(match upper.get(..s.len()).unwrap_or_default() {
            b"EMAIL" => Field::Email,
            b"PHONE" => Field::Phone,
            b"FIRST_NAME" => Field::FirstName,
            b"LAST_NAME" => Field::LastName,
            b"ADDRESS" => Field::Address,
            b"CITY" => Field::City,
            b"STATE" => Field::State,
            b"POSTAL" | b"ZIP" | b"POSTAL_CODE" => Field::Postal,
            b"MAID" => Field::Maid,
            b"RAMP_ID" => Field::RampId,
            b"MATCH_ID" => Field::MatchId,
            _ => return Err(Reject::new(None, Reason::UnknownField)),
        })
    }
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = alloc::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for field in Field::ALL {
            assert_eq!(field.as_str().parse::<Field>(), Ok(field));
            assert_eq!(field.as_str().to_lowercase().parse::<Field>(), Ok(field));
        }
        assert_eq!("zip".parse::<Field>(), Ok(Field::Postal));
        assert_eq!(" Postal_Code ".parse::<Field>(), Ok(Field::Postal));
        for unknown in ["", "POSTAL_CODES", "E-MAIL", "EMAİL"] {
            assert_eq!(
                unknown.parse::<Field>().unwrap_err().code(),
                "unknown_field"
            );
        }
        assert_eq!(
            "NICKNAME".parse::<Field>().unwrap_err().code(),
            "unknown_field"
        );
    }

    #[test]
    fn only_identifiers_are_unhashed() {
        let unhashed: Vec<_> = Field::ALL.into_iter().filter(|f| !f.is_hashed()).collect();
        assert_eq!(unhashed, [Field::Maid, Field::RampId, Field::MatchId]);
    }
}
