//! Validation of Events API events (`POST /adsApi/v1/create/events`), field by field.
//!
//! Pure functions: an event and "now" in, a list of [`FieldError`]s out (empty = accepted).
//! The rules follow `EventCreate` of Amazon's v1 OpenAPI and section A1 of
//! `../shared/spec/amazon-api.md`. Where Amazon's documents are silent the emulator picks the
//! stricter reading, so that an event it accepts is one Amazon accepts; each such choice is
//! marked "emulator choice" below.

use std::net::IpAddr;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::check::{self, Checker, FieldError};
use crate::codes;

/// Most events one request may carry.
pub(crate) const MAX_EVENTS: usize = 500;
/// Most match keys one event may carry.
pub(crate) const MAX_MATCH_KEYS: usize = 15;
/// Most `customData` items one event may carry.
pub(crate) const MAX_CUSTOM_DATA: usize = 13;
/// Longest `deviceInfo.userAgent`, in characters.
pub(crate) const MAX_USER_AGENT: usize = 512;
/// How far back `eventTime` may lie: 21 days (Amazon GTM docs).
pub(crate) const LOOKBACK: Duration = Duration::days(21);

/// Time-dependent limits of one validation run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The emulator's "now".
    pub now: OffsetDateTime,
    /// How far in the future `eventTime` may lie (clock skew). Amazon does not document
    /// this (doc section D12); the emulator allows a small skew only.
    pub future_skew: Duration,
}

const EVENT_FIELDS: &[&str] = &[
    "eventDescription",
    "countryCode",
    "eventTime",
    "matchKeys",
    "value",
    "currencyCode",
    "unitsSold",
    "eventId",
    "consent",
    "dataProcessingOptions",
    "customData",
    "deviceInfo",
    "amazonAdEventKey",
    "arefMeasurementTokens",
    "partner",
];
const DESCRIPTION_FIELDS: &[&str] = &[
    "name",
    "conversionType",
    "eventSource",
    "eventIngestionMethod",
    "dataSetName",
];
const CONSENT_FIELDS: &[&str] = &["geo", "amazonConsent", "tcf", "gpp"];

/// Validates the event at `index` of a request; an empty result means Amazon accepts it.
///
/// Locations are absolute (`events[3].eventTime`) as in Amazon's 207 `fieldLocation`.
pub fn validate_event(event: &Value, index: usize, window: Window) -> Vec<FieldError> {
    let mut checker = Checker::new(format!("events[{index}]"));
    // Emulator choice: unknown fields are rejected. Amazon's schema is silent, but this
    // catches the old beta's field names (`eventType`, `timestamp`, `clientDedupeId`).
    let Some(event) = checker.object(Some(event), "", true, EVENT_FIELDS) else {
        return checker.into_errors();
    };
    let conversion_type = check_description(&mut checker, event);
    let country = check_country(&mut checker, event.get("countryCode"));
    check_event_time(&mut checker, event.get("eventTime"), window);
    check_match_keys(&mut checker, event.get("matchKeys"));
    check_value(&mut checker, event, conversion_type);
    checker.string(event.get("eventId"), "eventId", false);
    let has_consent = check_consent(&mut checker, event.get("consent"));
    if let Some(country) = country
        && codes::contains(codes::CONSENT_COUNTRIES, country)
        && !has_consent
    {
        // Emulator choice of code: Amazon's ErrorCode enum has no consent-specific value.
        checker.push(
            check::IS_NULL,
            "consent",
            "consent (geo, amazonConsent, tcf or gpp) is required for events from the EEA or the UK",
        );
    }
    check_processing_options(&mut checker, event.get("dataProcessingOptions"));
    check_custom_data(&mut checker, event.get("customData"));
    if let Some(info) = checker.object(event.get("deviceInfo"), "deviceInfo", false, &["userAgent"])
        && let Some(agent) = checker.string(info.get("userAgent"), "deviceInfo.userAgent", false)
        && agent.chars().count() > MAX_USER_AGENT
    {
        checker.push(
            check::SIZE_ABOVE_MAXIMUM,
            "deviceInfo.userAgent",
            format!("userAgent allows at most {MAX_USER_AGENT} characters"),
        );
    }
    checker.string(event.get("amazonAdEventKey"), "amazonAdEventKey", false);
    if let Some(tokens) = checker.string(
        event.get("arefMeasurementTokens"),
        "arefMeasurementTokens",
        false,
    ) && !tokens.split('|').all(is_aref_pair)
    {
        checker.push(
            check::IS_INVALID,
            "arefMeasurementTokens",
            "arefMeasurementTokens must be '|'-separated <10 alphanumerics>.<13-digit epoch ms> pairs",
        );
    }
    checker.string(event.get("partner"), "partner", false);
    checker.into_errors()
}

/// Checks `eventDescription` and returns the conversion type when it is valid.
fn check_description<'v>(checker: &mut Checker, event: &'v Map<String, Value>) -> Option<&'v str> {
    let description = checker.object(
        event.get("eventDescription"),
        "eventDescription",
        true,
        DESCRIPTION_FIELDS,
    )?;
    checker.string(description.get("name"), "eventDescription.name", true);
    let conversion_type = checker.one_of(
        description.get("conversionType"),
        "eventDescription.conversionType",
        true,
        codes::CONVERSION_TYPES,
    );
    checker.one_of(
        description.get("eventSource"),
        "eventDescription.eventSource",
        true,
        codes::EVENT_SOURCES,
    );
    checker.one_of(
        description.get("eventIngestionMethod"),
        "eventDescription.eventIngestionMethod",
        true,
        codes::INGESTION_METHODS,
    );
    if let Some(name) = checker.string(
        description.get("dataSetName"),
        "eventDescription.dataSetName",
        false,
    ) && !is_data_set_name(name)
    {
        checker.push(
            check::INVALID_CHARACTERS,
            "eventDescription.dataSetName",
            "dataSetName must match [A-Za-z][A-Za-z0-9_-]*",
        );
    }
    conversion_type
}

/// Checks `countryCode` (required) and returns it when it is valid.
fn check_country<'v>(checker: &mut Checker, value: Option<&'v Value>) -> Option<&'v str> {
    if matches!(value, None | Some(Value::Null)) {
        checker.push(
            check::MISSING_COUNTRY_CODE,
            "countryCode",
            "countryCode is required",
        );
        return None;
    }
    checker.one_of(value, "countryCode", true, codes::COUNTRY_CODES)
}

/// Checks `eventTime`: RFC 3339, at most 21 days old, not in the future beyond the skew.
fn check_event_time(checker: &mut Checker, value: Option<&Value>, window: Window) {
    let Some(text) = checker.string(value, "eventTime", true) else {
        return;
    };
    // Amazon answers a malformed or out-of-window eventTime with a per-event BAD_REQUEST
    // (GTM troubleshooting docs and the 207 example in amazon-api.md).
    let Some(time) = check::parse_rfc3339(text) else {
        checker.push(
            check::BAD_REQUEST,
            "eventTime",
            "eventTime is not an RFC 3339 date-time",
        );
        return;
    };
    if time < window.now - LOOKBACK {
        checker.push(
            check::BAD_REQUEST,
            "eventTime",
            "eventTime is older than the allowed lookback window",
        );
    } else if time > window.now + window.future_skew {
        checker.push(
            check::BAD_REQUEST,
            "eventTime",
            "eventTime is in the future",
        );
    }
}

/// Checks `matchKeys`: 1–15 keys, each a known type with exactly one value; hashed types
/// need a SHA-256 hex digest.
fn check_match_keys(checker: &mut Checker, value: Option<&Value>) {
    let Some(keys) = checker.array(value, "matchKeys", true, 1, MAX_MATCH_KEYS) else {
        return;
    };
    for (position, key) in keys.iter().enumerate() {
        let field = format!("matchKeys[{position}]");
        let Some(key) = checker.object(Some(key), &field, true, &["type", "values"]) else {
            continue;
        };
        let key_type = checker.one_of(
            key.get("type"),
            &format!("{field}.type"),
            true,
            &[codes::HASHED_MATCH_KEYS, codes::RAW_MATCH_KEYS].concat(),
        );
        let values_field = format!("{field}.values");
        let Some(values) = checker.array(key.get("values"), &values_field, true, 1, 1) else {
            continue;
        };
        let value_field = format!("{values_field}[0]");
        match key_type {
            Some(key_type) if codes::contains(codes::HASHED_MATCH_KEYS, key_type) => {
                checker.sha256_hex(values.first(), &value_field);
            }
            Some(key_type) => check_raw_match_key(checker, key_type, values.first(), &value_field),
            None => {}
        }
    }
}

/// Checks a raw (unhashed) match-key value.
fn check_raw_match_key(checker: &mut Checker, key_type: &str, value: Option<&Value>, field: &str) {
    let Some(text) = checker.string(value, field, true) else {
        return;
    };
    if key_type == "FIP" {
        if text.parse::<IpAddr>().is_err() {
            checker.push(
                check::IS_INVALID,
                field,
                "FIP must be a full IPv4 or IPv6 address",
            );
        }
    } else if text.contains('@') {
        // Emulator-only privacy tripwire: an identifier with '@' is most likely a raw email
        // put in the wrong key. Amazon might accept it; this project must never send it.
        checker.push(
            check::IS_INVALID,
            field,
            "raw identifier looks like an email address (emulator privacy tripwire)",
        );
    }
}

/// Checks `value`, `currencyCode` and `unitsSold`.
fn check_value(checker: &mut Checker, event: &Map<String, Value>, conversion_type: Option<&str>) {
    let is_purchase = conversion_type == Some(codes::PURCHASE);
    if let Some(number) = checker.number(event.get("value"), "value", false) {
        if check::decimal_places(number) > 2 {
            checker.push(
                check::IS_INVALID,
                "value",
                "value allows at most 2 decimal places",
            );
        }
        if is_purchase && number.as_f64().is_some_and(|amount| amount < 0.0) {
            checker.push(
                check::VALUE_BELOW_MINIMUM,
                "value",
                "value of an OFF_AMAZON_PURCHASES event must not be negative",
            );
        }
    }
    checker.one_of(
        event.get("currencyCode"),
        "currencyCode",
        false,
        codes::CURRENCY_CODES,
    );
    // Emulator choice: int32 per the spec, and at least 1 (a purchase of no units is
    // meaningless; the spec gives no minimum). Amazon ignores it for other types.
    checker.integer(
        event.get("unitsSold"),
        "unitsSold",
        false,
        1,
        i64::from(i32::MAX),
    );
}

/// Checks the `consent` object and returns whether it carries a usable consent signal.
fn check_consent(checker: &mut Checker, value: Option<&Value>) -> bool {
    let Some(consent) = checker.object(value, "consent", false, CONSENT_FIELDS) else {
        return false;
    };
    let mut has_signal = false;
    if let Some(geo) = checker.object(consent.get("geo"), "consent.geo", false, &["ipAddress"])
        && let Some(ip) = checker.string(geo.get("ipAddress"), "consent.geo.ipAddress", true)
    {
        if ip.parse::<IpAddr>().is_ok() {
            has_signal = true;
        } else {
            checker.push(
                check::IS_INVALID,
                "consent.geo.ipAddress",
                "ipAddress must be an IP address",
            );
        }
    }
    if let Some(amazon) = checker.object(
        consent.get("amazonConsent"),
        "consent.amazonConsent",
        false,
        &["amznUserData", "amznAdStorage"],
    ) {
        let user_data = checker.one_of(
            amazon.get("amznUserData"),
            "consent.amazonConsent.amznUserData",
            true,
            codes::CONSENT_STATUSES,
        );
        checker.one_of(
            amazon.get("amznAdStorage"),
            "consent.amazonConsent.amznAdStorage",
            false,
            codes::CONSENT_STATUSES,
        );
        has_signal |= user_data.is_some();
    }
    has_signal |= checker
        .string(consent.get("tcf"), "consent.tcf", false)
        .is_some();
    has_signal |= checker
        .string(consent.get("gpp"), "consent.gpp", false)
        .is_some();
    has_signal
}

/// Checks `dataProcessingOptions`: an object `{options: "LIMITED_DATA_USE"}` in the v1 spec
/// (the beta's array form is rejected).
fn check_processing_options(checker: &mut Checker, value: Option<&Value>) {
    if let Some(options) = checker.object(value, "dataProcessingOptions", false, &["options"]) {
        checker.one_of(
            options.get("options"),
            "dataProcessingOptions.options",
            false,
            &["LIMITED_DATA_USE"],
        );
    }
}

/// Checks `customData`: at most 13 items; name and value only letters, digits and `_`.
fn check_custom_data(checker: &mut Checker, value: Option<&Value>) {
    let Some(items) = checker.array(value, "customData", false, 0, MAX_CUSTOM_DATA) else {
        return;
    };
    for (position, item) in items.iter().enumerate() {
        let field = format!("customData[{position}]");
        let Some(item) = checker.object(Some(item), &field, true, &["name", "value", "dataType"])
        else {
            continue;
        };
        for part in ["name", "value"] {
            let part_field = format!("{field}.{part}");
            if let Some(text) = checker.string(item.get(part), &part_field, true)
                && !check::is_word(text)
            {
                checker.push(
                    check::INVALID_CHARACTERS,
                    &part_field,
                    format!("customData {part} allows only letters, digits and '_'"),
                );
            }
        }
        let data_type = checker.one_of(
            item.get("dataType"),
            &format!("{field}.dataType"),
            false,
            codes::CUSTOM_DATA_TYPES,
        );
        if data_type == Some("INTEGER")
            && let Some(Value::String(text)) = item.get("value")
            && check::is_word(text)
            && text.parse::<i32>().is_err()
        {
            checker.push(
                check::IS_INVALID,
                &format!("{field}.value"),
                "an INTEGER customData value must be a 32-bit integer",
            );
        }
    }
}

/// `[A-Za-z][A-Za-z0-9_-]*`
fn is_data_set_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `<10 alphanumerics>.<13 digits>`
fn is_aref_pair(pair: &str) -> bool {
    pair.split_once('.').is_some_and(|(token, millis)| {
        token.len() == 10
            && token.bytes().all(|b| b.is_ascii_alphanumeric())
            && millis.len() == 13
            && millis.bytes().all(|b| b.is_ascii_digit())
    })
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

    /// A minimal valid US page view.
    fn page_view() -> Value {
        json!({
            "eventDescription": {
                "name": "page_view",
                "conversionType": "PAGE_VIEW",
                "eventSource": "WEBSITE",
                "eventIngestionMethod": "SERVER_TO_SERVER"
            },
            "countryCode": "US",
            "eventTime": "2026-09-01T10:15:30Z",
            "matchKeys": [{"type": "EMAIL", "values": [DIGEST]}]
        })
    }

    /// A full valid EU purchase, the doc's example.
    fn purchase() -> Value {
        json!({
            "eventDescription": {
                "name": "purchase",
                "conversionType": "OFF_AMAZON_PURCHASES",
                "eventSource": "WEBSITE",
                "eventIngestionMethod": "SERVER_TO_SERVER",
                "dataSetName": "web_conversions"
            },
            "countryCode": "DE",
            "eventTime": "2026-09-01T10:15:30Z",
            "eventId": "order_100045",
            "value": 129.9,
            "currencyCode": "EUR",
            "unitsSold": 3,
            "matchKeys": [
                {"type": "EMAIL", "values": [DIGEST]},
                {"type": "MATCH_ID", "values": ["cust_000123"]},
                {"type": "FIP", "values": ["2001:db8::1"]}
            ],
            "consent": {"amazonConsent": {"amznUserData": "GRANTED", "amznAdStorage": "GRANTED"}},
            "customData": [
                {"name": "brand", "dataType": "STRING", "value": "acme"},
                {"name": "quantity", "dataType": "INTEGER", "value": "3"}
            ],
            "deviceInfo": {"userAgent": "Mozilla/5.0"},
            "dataProcessingOptions": {"options": "LIMITED_DATA_USE"},
            "amazonAdEventKey": "key",
            "arefMeasurementTokens": "AbCdE12345.1756720530000|ZZZZZ00000.1756720531000",
            "partner": "matchkey"
        })
    }

    /// The error codes and locations of `event` after applying `edit`.
    fn errors_after(
        mut event: Value,
        edit: impl FnOnce(&mut Value),
    ) -> Vec<(&'static str, String)> {
        edit(&mut event);
        validate_event(&event, 0, window())
            .into_iter()
            .map(|error| (error.code, error.field_location))
            .collect()
    }

    fn rejects(event: Value, edit: impl FnOnce(&mut Value), code: &str, location: &str) {
        let errors = errors_after(event, edit);
        assert!(
            errors.iter().any(|(c, l)| *c == code && l == location),
            "expected {code} at {location}, got {errors:?}"
        );
    }

    fn accepts(event: Value, edit: impl FnOnce(&mut Value)) {
        let errors = errors_after(event, edit);
        assert!(errors.is_empty(), "expected no errors, got {errors:?}");
    }

    #[test]
    fn minimal_and_full_events_are_accepted() {
        accepts(page_view(), |_| {});
        accepts(purchase(), |_| {});
    }

    #[test]
    fn event_must_be_an_object() {
        rejects(json!([1]), |_| {}, check::IS_INVALID, "events[0]");
    }

    #[test]
    fn unknown_and_beta_field_names_are_rejected() {
        rejects(
            page_view(),
            |e| e["clientDedupeId"] = json!("x"),
            check::IS_INVALID,
            "events[0].clientDedupeId",
        );
        rejects(
            page_view(),
            |e| e["eventDescription"]["eventType"] = json!("PAGE_VIEW"),
            check::IS_INVALID,
            "events[0].eventDescription.eventType",
        );
    }

    #[test]
    fn description_fields_are_required() {
        for field in [
            "name",
            "conversionType",
            "eventSource",
            "eventIngestionMethod",
        ] {
            let location = format!("events[0].eventDescription.{field}");
            rejects(
                page_view(),
                |e| {
                    e["eventDescription"].as_object_mut().unwrap().remove(field);
                },
                check::IS_NULL,
                &location,
            );
        }
        rejects(
            page_view(),
            |e| {
                e.as_object_mut().unwrap().remove("eventDescription");
            },
            check::IS_NULL,
            "events[0].eventDescription",
        );
        rejects(
            page_view(),
            |e| e["eventDescription"]["name"] = json!(""),
            check::IS_EMPTY,
            "events[0].eventDescription.name",
        );
    }

    #[test]
    fn enums_accept_spec_values_and_reject_others() {
        let cases = [
            ("conversionType", "SIGN_UP", "SIGNUP"),
            (
                "eventSource",
                "MEASUREMENT_ATTRIBUTION_PARTNER",
                "MEASUREMENT_PARTNER",
            ),
            ("eventIngestionMethod", "SERVER_TO_SERVER", "BROWSER"),
        ];
        for (field, good, bad) in cases {
            accepts(page_view(), |e| e["eventDescription"][field] = json!(good));
            rejects(
                page_view(),
                |e| e["eventDescription"][field] = json!(bad),
                check::IS_INVALID,
                &format!("events[0].eventDescription.{field}"),
            );
        }
        accepts(page_view(), |e| e["countryCode"] = json!("OTHER"));
        rejects(
            page_view(),
            |e| e["countryCode"] = json!("us"),
            check::IS_INVALID,
            "events[0].countryCode",
        );
        rejects(
            page_view(),
            |e| e["countryCode"] = json!("UK"),
            check::IS_INVALID,
            "events[0].countryCode",
        );
        accepts(page_view(), |e| e["currencyCode"] = json!("JPY"));
        rejects(
            page_view(),
            |e| e["currencyCode"] = json!("XXX"),
            check::IS_INVALID,
            "events[0].currencyCode",
        );
    }

    #[test]
    fn missing_country_code_has_its_own_code() {
        rejects(
            page_view(),
            |e| {
                e.as_object_mut().unwrap().remove("countryCode");
            },
            check::MISSING_COUNTRY_CODE,
            "events[0].countryCode",
        );
    }

    #[test]
    fn data_set_name_follows_the_pattern() {
        accepts(page_view(), |e| {
            e["eventDescription"]["dataSetName"] = json!("Web-events_2")
        });
        rejects(
            page_view(),
            |e| e["eventDescription"]["dataSetName"] = json!("2web events"),
            check::INVALID_CHARACTERS,
            "events[0].eventDescription.dataSetName",
        );
    }

    #[test]
    fn event_time_must_be_rfc3339() {
        accepts(page_view(), |e| {
            e["eventTime"] = json!("2026-09-01T12:15:30.123+02:00")
        });
        rejects(
            page_view(),
            |e| e["eventTime"] = json!("2026-09-01 10:15:30"),
            check::BAD_REQUEST,
            "events[0].eventTime",
        );
        rejects(
            page_view(),
            |e| e["eventTime"] = json!(1756720530),
            check::IS_INVALID,
            "events[0].eventTime",
        );
        rejects(
            page_view(),
            |e| {
                e.as_object_mut().unwrap().remove("eventTime");
            },
            check::IS_NULL,
            "events[0].eventTime",
        );
    }

    #[test]
    fn event_time_must_be_within_21_days() {
        accepts(page_view(), |e| {
            e["eventTime"] = json!("2026-08-12T12:00:00Z")
        });
        rejects(
            page_view(),
            |e| e["eventTime"] = json!("2026-08-12T11:59:59Z"),
            check::BAD_REQUEST,
            "events[0].eventTime",
        );
    }

    #[test]
    fn event_time_must_not_be_in_the_future_beyond_the_skew() {
        accepts(page_view(), |e| {
            e["eventTime"] = json!("2026-09-02T12:05:00Z")
        });
        rejects(
            page_view(),
            |e| e["eventTime"] = json!("2026-09-02T12:05:01Z"),
            check::BAD_REQUEST,
            "events[0].eventTime",
        );
    }

    #[test]
    fn match_keys_need_one_to_fifteen_items() {
        let key = json!({"type": "EMAIL", "values": [DIGEST]});
        accepts(page_view(), |e| {
            e["matchKeys"] = json!(vec![key.clone(); 15])
        });
        rejects(
            page_view(),
            |e| e["matchKeys"] = json!(vec![key.clone(); 16]),
            check::SIZE_ABOVE_MAXIMUM,
            "events[0].matchKeys",
        );
        rejects(
            page_view(),
            |e| e["matchKeys"] = json!([]),
            check::IS_EMPTY,
            "events[0].matchKeys",
        );
    }

    #[test]
    fn match_keys_need_exactly_one_value() {
        rejects(
            page_view(),
            |e| e["matchKeys"][0]["values"] = json!([DIGEST, DIGEST]),
            check::SIZE_ABOVE_MAXIMUM,
            "events[0].matchKeys[0].values",
        );
        rejects(
            page_view(),
            |e| e["matchKeys"][0]["values"] = json!([]),
            check::IS_EMPTY,
            "events[0].matchKeys[0].values",
        );
    }

    #[test]
    fn match_key_type_must_be_known() {
        accepts(page_view(), |e| {
            e["matchKeys"][0] = json!({"type": "RAMP_ID", "values": ["XY1234"]})
        });
        rejects(
            page_view(),
            |e| e["matchKeys"][0]["type"] = json!("email"),
            check::IS_INVALID,
            "events[0].matchKeys[0].type",
        );
    }

    #[test]
    fn hashed_match_keys_must_be_lowercase_sha256_hex() {
        for bad in [
            "jane.doe@example.com",
            &DIGEST.to_uppercase(),
            &DIGEST[..63],
            "+15551234567",
        ] {
            rejects(
                page_view(),
                |e| e["matchKeys"][0]["values"] = json!([bad]),
                check::IS_INVALID,
                "events[0].matchKeys[0].values[0]",
            );
        }
        for key_type in codes::HASHED_MATCH_KEYS {
            accepts(page_view(), |e| {
                e["matchKeys"][0] = json!({"type": key_type, "values": [DIGEST]})
            });
        }
    }

    #[test]
    fn raw_match_keys_are_checked_for_obvious_mistakes() {
        accepts(page_view(), |e| {
            e["matchKeys"][0] = json!({"type": "FIP", "values": ["203.0.113.7"]})
        });
        rejects(
            page_view(),
            |e| e["matchKeys"][0] = json!({"type": "FIP", "values": ["203.0.113"]}),
            check::IS_INVALID,
            "events[0].matchKeys[0].values[0]",
        );
        rejects(
            page_view(),
            |e| e["matchKeys"][0] = json!({"type": "MATCH_ID", "values": ["jane@example.com"]}),
            check::IS_INVALID,
            "events[0].matchKeys[0].values[0]",
        );
    }

    #[test]
    fn error_messages_never_echo_values() {
        let event = json!({"matchKeys": [{"type": "EMAIL", "values": ["jane@example.com"]}]});
        let errors = validate_event(&event, 0, window());
        assert!(!errors.is_empty());
        assert!(errors.iter().all(|error| !error.message.contains("jane")));
    }

    #[test]
    fn purchase_value_is_money() {
        accepts(purchase(), |e| e["value"] = json!(0));
        accepts(purchase(), |e| e["value"] = json!(19.99));
        rejects(
            purchase(),
            |e| e["value"] = json!(-1),
            check::VALUE_BELOW_MINIMUM,
            "events[0].value",
        );
        rejects(
            purchase(),
            |e| e["value"] = json!(19.999),
            check::IS_INVALID,
            "events[0].value",
        );
        rejects(
            purchase(),
            |e| e["value"] = json!("19.99"),
            check::IS_INVALID,
            "events[0].value",
        );
    }

    #[test]
    fn other_values_may_be_negative_but_have_two_decimals() {
        accepts(page_view(), |e| e["value"] = json!(-2.5));
        rejects(
            page_view(),
            |e| e["value"] = json!(0.125),
            check::IS_INVALID,
            "events[0].value",
        );
    }

    #[test]
    fn units_sold_is_a_positive_int32() {
        accepts(purchase(), |e| e["unitsSold"] = json!(1));
        rejects(
            purchase(),
            |e| e["unitsSold"] = json!(0),
            check::OUT_OF_RANGE,
            "events[0].unitsSold",
        );
        rejects(
            purchase(),
            |e| e["unitsSold"] = json!(1.5),
            check::IS_INVALID,
            "events[0].unitsSold",
        );
        rejects(
            purchase(),
            |e| e["unitsSold"] = json!(3_000_000_000u64),
            check::OUT_OF_RANGE,
            "events[0].unitsSold",
        );
    }

    #[test]
    fn custom_data_has_at_most_thirteen_items() {
        let item = json!({"name": "brand", "value": "acme"});
        accepts(page_view(), |e| {
            e["customData"] = json!(vec![item.clone(); 13])
        });
        rejects(
            page_view(),
            |e| e["customData"] = json!(vec![item.clone(); 14]),
            check::SIZE_ABOVE_MAXIMUM,
            "events[0].customData",
        );
    }

    #[test]
    fn custom_data_uses_the_documented_charset() {
        rejects(
            page_view(),
            |e| e["customData"] = json!([{"name": "price", "value": "49.99"}]),
            check::INVALID_CHARACTERS,
            "events[0].customData[0].value",
        );
        rejects(
            page_view(),
            |e| e["customData"] = json!([{"name": "product id", "value": "x"}]),
            check::INVALID_CHARACTERS,
            "events[0].customData[0].name",
        );
        rejects(
            page_view(),
            |e| e["customData"] = json!([{"name": "n", "value": "x", "dataType": "FLOAT"}]),
            check::IS_INVALID,
            "events[0].customData[0].dataType",
        );
        rejects(
            page_view(),
            |e| e["customData"] = json!([{"name": "n", "value": "abc", "dataType": "INTEGER"}]),
            check::IS_INVALID,
            "events[0].customData[0].value",
        );
        rejects(
            page_view(),
            |e| e["customData"] = json!([{"name": "n"}]),
            check::IS_NULL,
            "events[0].customData[0].value",
        );
    }

    #[test]
    fn eea_and_uk_events_need_consent() {
        for country in ["DE", "FR", "GB", "NO", "OTHER_EEA"] {
            rejects(
                page_view(),
                |e| e["countryCode"] = json!(country),
                check::IS_NULL,
                "events[0].consent",
            );
        }
        let signals = [
            json!({"geo": {"ipAddress": "203.0.113.7"}}),
            json!({"amazonConsent": {"amznUserData": "DENIED"}}),
            json!({"tcf": "CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA"}),
            json!({"gpp": "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}),
        ];
        for consent in signals {
            accepts(page_view(), |e| {
                e["countryCode"] = json!("DE");
                e["consent"] = consent;
            });
        }
        accepts(page_view(), |e| e["countryCode"] = json!("CH"));
    }

    #[test]
    fn consent_objects_are_validated() {
        rejects(
            page_view(),
            |e| e["consent"] = json!({"amazonConsent": {"amznAdStorage": "GRANTED"}}),
            check::IS_NULL,
            "events[0].consent.amazonConsent.amznUserData",
        );
        rejects(
            page_view(),
            |e| e["consent"] = json!({"amazonConsent": {"amznUserData": "YES"}}),
            check::IS_INVALID,
            "events[0].consent.amazonConsent.amznUserData",
        );
        rejects(
            page_view(),
            |e| e["consent"] = json!({"geo": {"ipAddress": "not-an-ip"}}),
            check::IS_INVALID,
            "events[0].consent.geo.ipAddress",
        );
        // A broken signal does not count: a DE event with only a bad IP still lacks consent.
        rejects(
            page_view(),
            |e| {
                e["countryCode"] = json!("DE");
                e["consent"] = json!({"geo": {"ipAddress": "not-an-ip"}});
            },
            check::IS_NULL,
            "events[0].consent",
        );
    }

    #[test]
    fn data_processing_options_is_the_v1_object() {
        rejects(
            page_view(),
            |e| e["dataProcessingOptions"] = json!(["LIMITED_DATA_USE"]),
            check::IS_INVALID,
            "events[0].dataProcessingOptions",
        );
        rejects(
            page_view(),
            |e| e["dataProcessingOptions"] = json!({"options": "MEASUREMENT_ONLY"}),
            check::IS_INVALID,
            "events[0].dataProcessingOptions.options",
        );
    }

    #[test]
    fn user_agent_has_at_most_512_characters() {
        accepts(page_view(), |e| {
            e["deviceInfo"] = json!({"userAgent": "a".repeat(512)})
        });
        rejects(
            page_view(),
            |e| e["deviceInfo"] = json!({"userAgent": "a".repeat(513)}),
            check::SIZE_ABOVE_MAXIMUM,
            "events[0].deviceInfo.userAgent",
        );
    }

    #[test]
    fn aref_tokens_follow_the_documented_format() {
        rejects(
            page_view(),
            |e| e["arefMeasurementTokens"] = json!("AbCdE12345.17567205"),
            check::IS_INVALID,
            "events[0].arefMeasurementTokens",
        );
    }

    #[test]
    fn locations_use_the_request_index() {
        let errors = validate_event(&json!({}), 7, window());
        assert!(
            errors
                .iter()
                .all(|error| error.field_location.starts_with("events[7]"))
        );
        assert!(errors.len() >= 4);
    }
}
