//! Small building blocks for field-by-field validation of JSON bodies.
//!
//! Every check records a [`FieldError`] (an Amazon `ErrorCode`, the field's location and a
//! message) instead of stopping, so one response lists every problem of an item. Messages
//! name the field and the rule, never the value: values are hashed PII, tokens or worse.

use serde::Serialize;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Amazon `ErrorCode` for a required field that is missing or `null`.
pub(crate) const IS_NULL: &str = "FIELD_VALUE_IS_NULL";
/// Amazon `ErrorCode` for an empty string or array.
pub(crate) const IS_EMPTY: &str = "FIELD_VALUE_IS_EMPTY";
/// Amazon `ErrorCode` for a wrong type, an unknown enum value or an unknown field.
pub(crate) const IS_INVALID: &str = "FIELD_VALUE_IS_INVALID";
/// Amazon `ErrorCode` for characters outside a documented charset or pattern.
pub(crate) const INVALID_CHARACTERS: &str = "FIELD_VALUE_CONTAINS_INVALID_CHARACTERS";
/// Amazon `ErrorCode` for an array or string longer than allowed.
pub(crate) const SIZE_ABOVE_MAXIMUM: &str = "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT";
/// Amazon `ErrorCode` for a number below its minimum.
pub(crate) const VALUE_BELOW_MINIMUM: &str = "FIELD_VALUE_IS_BELOW_MINIMUM_LIMIT";
/// Amazon `ErrorCode` for a number outside its range.
pub(crate) const OUT_OF_RANGE: &str = "FIELD_VALUE_IS_OUT_OF_RANGE";
/// Amazon `ErrorCode` for a referenced resource that does not exist (or is not reachable).
pub(crate) const NOT_FOUND: &str = "NOT_FOUND";
/// Amazon `ErrorCode` for a missing `countryCode`.
pub(crate) const MISSING_COUNTRY_CODE: &str = "MISSING_COUNTRY_CODE";
/// Amazon `ErrorCode` for a malformed request or item (Amazon uses it for bad `eventTime`).
pub(crate) const BAD_REQUEST: &str = "BAD_REQUEST";

/// One problem with one field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// Amazon `ErrorCode`, such as `FIELD_VALUE_IS_INVALID`.
    pub code: &'static str,
    /// Where the field is, such as `events[2].matchKeys[0].values[0]`.
    pub field_location: String,
    /// What is wrong, without the offending value.
    pub message: String,
}

/// Collects [`FieldError`]s for one item, with locations relative to a prefix.
#[derive(Debug)]
pub(crate) struct Checker {
    prefix: String,
    errors: Vec<FieldError>,
}

/// The lowercase hex of a SHA-256 digest: exactly 64 characters of `[0-9a-f]`.
pub(crate) fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses an RFC 3339 date-time such as `2026-09-01T10:15:30Z`.
pub(crate) fn parse_rfc3339(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

/// Number of decimal places a JSON number is written with (`129.9` → 1, `1e-3` → 3).
pub(crate) fn decimal_places(number: &Number) -> u32 {
    if number.is_i64() || number.is_u64() {
        return 0;
    }
    // serde_json prints the shortest representation that round-trips, so this counts
    // the digits the sender meant, not binary noise.
    let text = number.to_string();
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => (text.as_str(), 0),
    };
    let fraction = mantissa
        .split_once('.')
        .map_or("", |(_, fraction)| fraction);
    let digits = fraction.trim_end_matches('0').len() as i64;
    u32::try_from((digits - exponent).max(0)).unwrap_or(u32::MAX)
}

/// Whether every character is a letter, digit or underscore (and there is at least one).
pub(crate) fn is_word(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Checker {
    /// A checker whose locations start with `prefix` (such as `events[3]`; may be empty).
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            errors: Vec::new(),
        }
    }

    /// The errors collected so far.
    pub(crate) fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// The full location of a field given relative to the prefix.
    pub(crate) fn location(&self, field: &str) -> String {
        match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) if field.starts_with('[') => format!("{}{field}", self.prefix),
            (false, false) => format!("{}.{field}", self.prefix),
        }
    }

    /// Records an error at `field`.
    pub(crate) fn push(&mut self, code: &'static str, field: &str, message: impl Into<String>) {
        let field_location = self.location(field);
        self.errors.push(FieldError {
            code,
            field_location,
            message: message.into(),
        });
    }

    /// Requires `value` to be an object and reports fields not in `known`.
    pub(crate) fn object<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &str,
        required: bool,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(IS_NULL, field, format!("{} is required", name(field)));
                }
                None
            }
            Some(Value::Object(map)) => {
                for key in map.keys() {
                    if !known.contains(&key.as_str()) {
                        let location = join(field, key);
                        self.push(
                            IS_INVALID,
                            &location,
                            format!("{location} is not a known field"),
                        );
                    }
                }
                Some(map)
            }
            Some(_) => {
                self.push(
                    IS_INVALID,
                    field,
                    format!("{} must be an object", name(field)),
                );
                None
            }
        }
    }

    /// Requires `value` to be a non-empty string.
    pub(crate) fn string<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &str,
        required: bool,
    ) -> Option<&'v str> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(IS_NULL, field, format!("{} is required", name(field)));
                }
                None
            }
            Some(Value::String(text)) if text.is_empty() => {
                self.push(
                    IS_EMPTY,
                    field,
                    format!("{} must not be empty", name(field)),
                );
                None
            }
            Some(Value::String(text)) => Some(text),
            Some(_) => {
                self.push(
                    IS_INVALID,
                    field,
                    format!("{} must be a string", name(field)),
                );
                None
            }
        }
    }

    /// Requires `value` to be a JSON boolean.
    pub(crate) fn boolean(
        &mut self,
        value: Option<&Value>,
        field: &str,
        required: bool,
    ) -> Option<bool> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(IS_NULL, field, format!("{} is required", name(field)));
                }
                None
            }
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => {
                self.push(
                    IS_INVALID,
                    field,
                    format!("{} must be true or false", name(field)),
                );
                None
            }
        }
    }

    /// Requires `value` to be one of `allowed`.
    pub(crate) fn one_of<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<&'v str> {
        let text = self.string(value, field, required)?;
        if allowed.contains(&text) {
            Some(text)
        } else {
            self.push(
                IS_INVALID,
                field,
                format!("{} is not an allowed value", name(field)),
            );
            None
        }
    }

    /// Requires `value` to be an array with `min..=max` items.
    pub(crate) fn array<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &str,
        required: bool,
        min: usize,
        max: usize,
    ) -> Option<&'v [Value]> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(IS_NULL, field, format!("{} is required", name(field)));
                }
                None
            }
            Some(Value::Array(items)) if items.len() < min => {
                let message = if items.is_empty() {
                    format!("{} must not be empty", name(field))
                } else {
                    format!("{} needs at least {min} items", name(field))
                };
                self.push(IS_EMPTY, field, message);
                None
            }
            Some(Value::Array(items)) if items.len() > max => {
                self.push(
                    SIZE_ABOVE_MAXIMUM,
                    field,
                    format!("{} allows at most {max} items", name(field)),
                );
                None
            }
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.push(
                    IS_INVALID,
                    field,
                    format!("{} must be an array", name(field)),
                );
                None
            }
        }
    }

    /// Requires `value` to be a JSON number.
    pub(crate) fn number<'v>(
        &mut self,
        value: Option<&'v Value>,
        field: &str,
        required: bool,
    ) -> Option<&'v Number> {
        match value {
            None | Some(Value::Null) => {
                if required {
                    self.push(IS_NULL, field, format!("{} is required", name(field)));
                }
                None
            }
            Some(Value::Number(number)) => Some(number),
            Some(_) => {
                self.push(
                    IS_INVALID,
                    field,
                    format!("{} must be a number", name(field)),
                );
                None
            }
        }
    }

    /// Requires `value` to be an integer within `min..=max`.
    pub(crate) fn integer(
        &mut self,
        value: Option<&Value>,
        field: &str,
        required: bool,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let number = self.number(value, field, required)?;
        let Some(integer) = number.as_i64() else {
            self.push(
                IS_INVALID,
                field,
                format!("{} must be an integer", name(field)),
            );
            return None;
        };
        if (min..=max).contains(&integer) {
            Some(integer)
        } else {
            self.push(
                OUT_OF_RANGE,
                field,
                format!("{} must be between {min} and {max}", name(field)),
            );
            None
        }
    }

    /// Requires `value` to be a string holding a lowercase hex SHA-256 digest.
    pub(crate) fn sha256_hex(&mut self, value: Option<&Value>, field: &str) {
        if let Some(text) = self.string(value, field, true)
            && !is_sha256_hex(text)
        {
            // The privacy tripwire: anything but a digest may be raw personal data.
            self.push(
                IS_INVALID,
                field,
                format!(
                    "{} must be a SHA-256 digest in 64 lowercase hex characters",
                    name(field)
                ),
            );
        }
    }
}

/// `parent.child`, or `child` when there is no parent.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// The last path segment of a field, for messages (`a.b[0].c` → `c`).
fn name(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sha256_hex_accepts_lowercase_digest_only() {
        let digest = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";
        assert!(is_sha256_hex(digest));
        assert!(!is_sha256_hex(&digest.to_uppercase()));
        assert!(!is_sha256_hex(&digest[1..]));
        assert!(!is_sha256_hex("jane.doe@example.com"));
    }

    #[test]
    fn decimal_places_counts_written_digits() {
        let places = |value: Value| decimal_places(value.as_number().unwrap());
        assert_eq!(places(json!(129)), 0);
        assert_eq!(places(json!(129.9)), 1);
        assert_eq!(places(json!(129.99)), 2);
        assert_eq!(places(json!(0.125)), 3);
        assert_eq!(places(json!(1.0)), 0);
        assert_eq!(places(json!(1e-7)), 7);
        assert_eq!(places(json!(1.5e22)), 0);
    }

    #[test]
    fn locations_join_prefix_and_field() {
        let checker = Checker::new("events[2]");
        assert_eq!(checker.location("eventTime"), "events[2].eventTime");
        assert_eq!(checker.location(""), "events[2]");
        assert_eq!(Checker::new("").location("events"), "events");
    }

    #[test]
    fn booleans_must_be_json_booleans() {
        let mut checker = Checker::new("");
        assert_eq!(
            checker.boolean(Some(&json!(true)), "nullable", true),
            Some(true)
        );
        assert_eq!(
            checker.boolean(Some(&json!("true")), "nullable", true),
            None
        );
        assert_eq!(checker.boolean(None, "isCountryCode", false), None);
        let errors = checker.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, IS_INVALID);
    }

    #[test]
    fn unknown_fields_are_reported_and_messages_hide_values() {
        let mut checker = Checker::new("events[0]");
        let event = json!({"eventType": "secret@example.com"});
        checker.object(Some(&event), "", true, &["eventDescription"]);
        let errors = checker.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field_location, "events[0].eventType");
        assert!(!errors[0].message.contains("secret"));
    }
}
