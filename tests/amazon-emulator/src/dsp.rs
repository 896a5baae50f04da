//! Validation of the legacy DSP conversion import
//! (`POST /accounts/{accountId}/dsp/conversionDefinitions/eventData`, section A2).
//!
//! Pure functions, like [`crate::events`]. Locations are relative to the event
//! (`timestamp`, `matchKeys[0].values[0]`), as the legacy API's `fieldName` is.

use serde_json::Value;
use time::Duration;

use crate::check::{self, Checker, FieldError};
use crate::codes;
use crate::events::Window;

/// Most events one import may carry.
pub(crate) const MAX_EVENTS: usize = 100;
/// How far back `timestamp` may lie: 7 days.
pub(crate) const LOOKBACK: Duration = Duration::days(7);
/// The only `source` the import takes from a server.
pub(crate) const SOURCE: &str = "SERVER_TO_SERVER";
/// Longest event `name` (a conversion definition name is 1–256 characters).
const MAX_NAME: usize = 256;
/// Emulator choice: one key per legacy match-key type at most.
const MAX_MATCH_KEYS: usize = 10;

const FIELDS: &[&str] = &[
    "conversionDefinitionId",
    "name",
    "countryCode",
    "timestamp",
    "matchKeys",
    "value",
    "currencyCode",
    "unitsSold",
    "clientDedupeId",
    "dataProcessingOptions",
];

/// Validates one `eventData` item; an empty result means Amazon imports it.
pub fn validate_event_data(event: &Value, window: Window) -> Vec<FieldError> {
    let mut checker = Checker::new("");
    let Some(event) = checker.object(Some(event), "", true, FIELDS) else {
        return checker.into_errors();
    };
    if let Some(id) = checker.string(
        event.get("conversionDefinitionId"),
        "conversionDefinitionId",
        true,
    ) && !id.bytes().all(|b| b.is_ascii_digit())
    {
        // Emulator choice: definition ids are numeric strings in every Amazon example.
        checker.push(
            check::IS_INVALID,
            "conversionDefinitionId",
            "conversionDefinitionId must be a numeric string",
        );
    }
    if let Some(name) = checker.string(event.get("name"), "name", true)
        && name.chars().count() > MAX_NAME
    {
        checker.push(
            check::SIZE_ABOVE_MAXIMUM,
            "name",
            "name allows at most 256 characters",
        );
    }
    if let Some(country) = checker.string(event.get("countryCode"), "countryCode", true)
        && (country.len() != 2
            || country == "ZZ"
            || !codes::contains(codes::COUNTRY_CODES, country))
    {
        checker.push(
            check::IS_INVALID,
            "countryCode",
            "countryCode must be an ISO 3166-1 alpha-2 code",
        );
    }
    if let Some(text) = checker.string(event.get("timestamp"), "timestamp", true) {
        match check::parse_rfc3339(text) {
            None => checker.push(
                check::IS_INVALID,
                "timestamp",
                "timestamp is not an RFC 3339 date-time",
            ),
            Some(time) if time < window.now - LOOKBACK => {
                checker.push(
                    check::IS_INVALID,
                    "timestamp",
                    "timestamp must be no more than 7 days old",
                );
            }
            Some(time) if time > window.now + window.future_skew => {
                checker.push(check::IS_INVALID, "timestamp", "timestamp is in the future");
            }
            Some(_) => {}
        }
    }
    if let Some(keys) = checker.array(event.get("matchKeys"), "matchKeys", true, 1, MAX_MATCH_KEYS)
    {
        for (position, key) in keys.iter().enumerate() {
            let field = format!("matchKeys[{position}]");
            let Some(key) = checker.object(Some(key), &field, true, &["type", "values"]) else {
                continue;
            };
            let key_type = checker.one_of(
                key.get("type"),
                &format!("{field}.type"),
                true,
                codes::LEGACY_MATCH_KEYS,
            );
            let values_field = format!("{field}.values");
            if let Some(values) = checker.array(key.get("values"), &values_field, true, 1, 1) {
                let value_field = format!("{values_field}[0]");
                if key_type.is_some_and(|t| codes::contains(codes::HASHED_MATCH_KEYS, t)) {
                    checker.sha256_hex(values.first(), &value_field);
                } else {
                    checker.string(values.first(), &value_field, true);
                }
            }
        }
    }
    if let Some(number) = checker.number(event.get("value"), "value", false)
        && (number.as_f64().is_some_and(|v| v < 0.0) || check::decimal_places(number) > 2)
    {
        checker.push(
            check::IS_INVALID,
            "value",
            "value must be a non-negative amount with at most 2 decimals",
        );
    }
    checker.one_of(
        event.get("currencyCode"),
        "currencyCode",
        false,
        codes::LEGACY_CURRENCY_CODES,
    );
    checker.integer(
        event.get("unitsSold"),
        "unitsSold",
        false,
        1,
        i64::from(i32::MAX),
    );
    checker.string(event.get("clientDedupeId"), "clientDedupeId", false);
    checker.one_of(
        event.get("dataProcessingOptions"),
        "dataProcessingOptions",
        false,
        &["LIMITED_DATA_USE"],
    );
    checker.into_errors()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";

    fn window() -> Window {
        Window {
            now: check::parse_rfc3339("2026-09-02T12:00:00Z").unwrap(),
            future_skew: Duration::minutes(5),
        }
    }

    fn event() -> Value {
        json!({
            "conversionDefinitionId": "591234567890123456",
            "name": "Website purchase",
            "countryCode": "US",
            "timestamp": "2026-09-01T10:15:30Z",
            "matchKeys": [{"type": "EMAIL", "values": [DIGEST]}, {"type": "MAID", "values": ["ea7583cd-a667-48bc-b806-42ecb2b48606"]}],
            "value": 49.99,
            "currencyCode": "USD",
            "unitsSold": 1,
            "clientDedupeId": "order_100045"
        })
    }

    fn fields_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut value = event();
        edit(&mut value);
        validate_event_data(&value, window())
            .into_iter()
            .map(|e| e.field_location)
            .collect()
    }

    #[test]
    fn documented_event_is_accepted() {
        assert_eq!(fields_after(|_| {}), Vec::<String>::new());
    }

    #[test]
    fn required_fields_are_required() {
        for field in [
            "conversionDefinitionId",
            "name",
            "countryCode",
            "timestamp",
            "matchKeys",
        ] {
            assert_eq!(
                fields_after(|e| {
                    e.as_object_mut().unwrap().remove(field);
                }),
                [field]
            );
        }
    }

    #[test]
    fn timestamp_window_is_seven_days() {
        assert!(fields_after(|e| e["timestamp"] = json!("2026-08-26T12:00:00Z")).is_empty());
        assert_eq!(
            fields_after(|e| e["timestamp"] = json!("2026-08-26T11:59:59Z")),
            ["timestamp"]
        );
        assert_eq!(
            fields_after(|e| e["timestamp"] = json!("2026-09-03T00:00:00Z")),
            ["timestamp"]
        );
        assert_eq!(
            fields_after(|e| e["timestamp"] = json!("yesterday")),
            ["timestamp"]
        );
    }

    #[test]
    fn match_keys_are_legacy_types_and_hashed() {
        assert_eq!(
            fields_after(|e| e["matchKeys"] = json!([{"type": "FIP", "values": ["203.0.113.7"]}])),
            ["matchKeys[0].type"]
        );
        assert_eq!(
            fields_after(|e| e["matchKeys"][0]["values"] = json!(["jane@example.com"])),
            ["matchKeys[0].values[0]"]
        );
        assert_eq!(fields_after(|e| e["matchKeys"] = json!([])), ["matchKeys"]);
    }

    #[test]
    fn value_currency_and_units_are_checked() {
        assert_eq!(fields_after(|e| e["value"] = json!(-1)), ["value"]);
        assert_eq!(
            fields_after(|e| e["currencyCode"] = json!("CHF")),
            ["currencyCode"]
        );
        assert!(fields_after(|e| e["currencyCode"] = json!("EUR")).is_empty());
        assert_eq!(fields_after(|e| e["unitsSold"] = json!(0)), ["unitsSold"]);
    }

    #[test]
    fn v1_field_names_and_bad_ids_are_rejected() {
        assert_eq!(
            fields_after(|e| e["eventTime"] = json!("2026-09-01T10:15:30Z")),
            ["eventTime"]
        );
        assert_eq!(
            fields_after(|e| e["conversionDefinitionId"] = json!("abc")),
            ["conversionDefinitionId"]
        );
        assert_eq!(
            fields_after(|e| e["countryCode"] = json!("OTHER")),
            ["countryCode"]
        );
        assert!(fields_after(|e| e["name"] = json!("n".repeat(256))).is_empty());
        assert_eq!(
            fields_after(|e| e["name"] = json!("n".repeat(257))),
            ["name"]
        );
        assert_eq!(
            fields_after(|e| e["dataProcessingOptions"] = json!("LIMITED_DATA_USE")),
            Vec::<String>::new()
        );
    }
}
