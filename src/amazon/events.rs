//! Conversions: batching, the Events API request, the legacy DSP import, and their 207
//! answers.

use serde::Deserialize;
use serde_json::Value;
use std::prelude::rust_2024::*;

use super::{ApiRequest, Auth, Method, json_list};

/// Largest Events API request body sent.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Splits `events` (already serialized) into batches of at most `max_events` events and
/// [`MAX_BATCH_BYTES`] bytes of request body, in order.
pub fn batches<T>(events: Vec<(T, String)>, max_events: usize) -> Vec<Vec<(T, String)>> {
    const ENVELOPE: usize = r#"{"events":[]}"#.len();
    let mut out: Vec<Vec<(T, String)>> = Vec::new();
    let mut size = ENVELOPE;
    for (key, json) in events {
        let add = json.len() + 1;
        let full = out
            .last()
            .is_none_or(|b| b.len() >= max_events || size + add > MAX_BATCH_BYTES);
        if full {
            out.push(Vec::new());
            size = ENVELOPE;
        }
        size += add;
        if let Some(batch) = out.last_mut() {
            batch.push((key, json));
        }
    }
    out
}

/// Amazon's `eventDescription.conversionType` values (spec §A1): the only ones a server
/// or the Worker's `EVENT_MAP` may name. The emulator keeps its own copy as an
/// independent check, and a test asserts the two agree.
pub const CONVERSION_TYPES: [&str; 12] = [
    "ADD_TO_SHOPPING_CART",
    "APPLICATION",
    "CHECKOUT",
    "CONTACT",
    "LEAD",
    "MOBILE_APP_FIRST_START",
    "OFF_AMAZON_PURCHASES",
    "OTHER",
    "PAGE_VIEW",
    "SEARCH",
    "SIGN_UP",
    "SUBSCRIBE",
];

/// The Events API's `CurrencyCode` enum (`openapi/amazon-ads-v1-all.json`), the only
/// `currencyCode` values an event may carry. The legacy import's
/// `ConversionDefinitionCurrencyCodeV1` is its own list ([`LEGACY_CURRENCY_CODES`]).
pub const CURRENCY_CODES: [&str; 81] = [
    "AED", "ARS", "AUD", "AZN", "BBD", "BGN", "BHD", "BMD", "BND", "BOB", "BRL", "BSD", "CAD",
    "CHF", "CLP", "CNY", "COP", "CRC", "CZK", "DKK", "DOP", "DZD", "EGP", "EUR", "GBP", "GHS",
    "GTQ", "HKD", "HNL", "HRK", "HUF", "IDR", "ILS", "INR", "JMD", "JOD", "JPY", "KES", "KRW",
    "KWD", "KYD", "KZT", "LBP", "LKR", "MAD", "MUR", "MXN", "MXP", "MYR", "NAD", "NGN", "NOK",
    "NZD", "PAB", "PEN", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "SAR", "SEK",
    "SGD", "THB", "TND", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "VND", "XAF", "XCD",
    "XOF", "XPF", "ZAR",
];

/// Which conversions API an event goes to, for the rules that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionsApi {
    /// `POST /adsApi/v1/create/events`.
    Events,
    /// The legacy DSP import (`…/dsp/conversionDefinitions/eventData`).
    Legacy,
}

impl ConversionsApi {
    /// How old an event's time may be when Amazon receives it, in days: the Events API
    /// takes 21 days (Amazon's Events API guide; the v1 spec states no limit), the legacy
    /// import 7 ("must be no more than 7 days old at the time of import",
    /// `dsp-conversions.json`, `ConversionEventDataV1.timestamp`).
    pub const fn lookback_days(self) -> i64 {
        match self {
            Self::Events => 21,
            Self::Legacy => 7,
        }
    }

    /// Whether an event with match keys of these types has one this API takes: the legacy
    /// import knows only [`LEGACY_TYPES`] (a MATCH_ID-only event would reach it with none,
    /// which its `minItems: 1` refuses).
    pub fn takes_some_match_key<'a>(self, mut types: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Self::Events => true,
            Self::Legacy => types.any(|t| LEGACY_TYPES.contains(&t)),
        }
    }

    /// Whether `code` is a `currencyCode` this API takes.
    pub fn takes_currency(self, code: &str) -> bool {
        match self {
            Self::Events => CURRENCY_CODES.contains(&code),
            Self::Legacy => LEGACY_CURRENCY_CODES.contains(&code),
        }
    }
}

/// The legacy import's `ConversionDefinitionCurrencyCodeV1` enum (`dsp-conversions.json`).
pub const LEGACY_CURRENCY_CODES: [&str; 18] = [
    "AED", "AUD", "BRL", "CAD", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "MXN", "NOK", "NZD",
    "SAR", "SEK", "SGD", "TRY", "USD",
];

/// Largest `value` magnitude sent (the project's bound; the legacy spec allows
/// ±9,999,999,999,999.99, the Events API states none).
pub const MAX_VALUE: f64 = 1e9;

/// Whether `value` is an event value Amazon takes: both specs say at most 2 decimals; a
/// purchase (`OFF_AMAZON_PURCHASES`, a monetary value) is at least 0, any other
/// conversion type "can be negative" (`EventCreate.value`, `ConversionEventDataV1.value`).
pub fn valid_value(value: f64, purchase: bool) -> bool {
    let min = if purchase { 0.0 } else { -MAX_VALUE };
    let cents = value * 100.0;
    value.is_finite() && (min..=MAX_VALUE).contains(&value) && (cents.round() - cents).abs() <= 1e-6
}

/// The Events API body for serialized events.
pub fn events_body<'a>(events: impl Iterator<Item = &'a str>) -> String {
    json_list(r#"{"events":["#, events, "]}")
}

/// `POST /adsApi/v1/create/events` of an [`events_body`] for the advertiser account
/// `account_id` (`Amazon-Ads-AccountId`).
pub fn create_events(auth: &Auth<'_>, account_id: &str, body: String) -> ApiRequest {
    auth.v1_request(Method::Post, "/adsApi/v1/create/events")
        .header("amazon-ads-accountid", account_id)
        .body("application/json", body)
}

/// `POST /accounts/{accountId}/dsp/conversionDefinitions/eventData` of a [`legacy_body`],
/// scoped to `profile_id`.
pub fn import_legacy(
    auth: &Auth<'_>,
    account_id: &str,
    profile_id: &str,
    body: String,
) -> ApiRequest {
    auth.request(
        Method::Post,
        &format!("/accounts/{account_id}/dsp/conversionDefinitions/eventData"),
    )
    .header("amazon-advertising-api-scope", profile_id)
    .body("application/vnd.dspconversioneventimport.v1+json", body)
}

/// Match-key types the legacy DSP conversions API takes (`ConversionMatchKeyTypeV1`,
/// `dsp-conversions.json`).
pub const LEGACY_TYPES: [&str; 10] = [
    "EMAIL",
    "PHONE",
    "FIRST_NAME",
    "LAST_NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "POSTAL",
    "MAID",
    "RAMP_ID",
];

/// Most events per legacy DSP import request.
pub const LEGACY_MAX_EVENTS: usize = 100;

/// An Events API event in the legacy DSP `eventData` form (`API_KIND = dsp`): the event
/// references a pre-created conversion definition; consent, custom data and device info
/// have no place there and are left out, as are match-key types the API does not know.
pub fn to_legacy(event: &Value, conversion_definition_id: &str) -> Value {
    let mut out = serde_json::json!({
        "conversionDefinitionId": conversion_definition_id,
        "name": event["eventDescription"]["name"],
        "countryCode": event["countryCode"],
        "timestamp": event["eventTime"],
        "matchKeys": event["matchKeys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| k["type"].as_str().is_some_and(|t| LEGACY_TYPES.contains(&t)))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    });
    for (from, to) in [
        ("value", "value"),
        ("currencyCode", "currencyCode"),
        ("unitsSold", "unitsSold"),
        ("eventId", "clientDedupeId"),
    ] {
        if let Some(v) = event.get(from).filter(|v| !v.is_null()) {
            out[to] = v.clone();
        }
    }
    out
}

/// The legacy import body for serialized (legacy-form) events.
pub fn legacy_body<'a>(events: impl Iterator<Item = &'a str>) -> String {
    json_list(
        r#"{"source":"SERVER_TO_SERVER","eventData":["#,
        events,
        "]}",
    )
}

/// Parses a legacy 207 (1-based indexes) into the Events API's 0-based form.
///
/// `dsp-conversions.json` (`BatchImportConversionEventDataResponseV1`) requires neither
/// `success` nor `error` and gives both `minItems: 1`, so Amazon leaves an empty list out:
/// an all-success answer has no `error`, an all-refused one no `success`. A per-event
/// error names its kind in `errors[].errorType`, else in the entry's own `code`.
pub fn parse_legacy_multi_status(body: &str) -> Option<MultiStatus> {
    parse_207(body, 1, "errorType", "fieldName")
}

/// One failed event of a 207 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// 0-based index in the batch.
    pub index: usize,
    /// Amazon's error code.
    pub code: String,
    /// Where, when Amazon says.
    pub field_location: Option<String>,
}

/// A parsed 207 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiStatus {
    /// Indexes of accepted events.
    pub success: Vec<usize>,
    /// Failed events (first error of each).
    pub errors: Vec<EventError>,
}

/// Parses an Events API 207 body.
///
/// `EventMultiStatusResponse` (`openapi/amazon-ads-v1-all.json`) requires neither array,
/// so either may be missing; an event neither list names is not accounted for (the
/// caller keeps it). The spec's `ErrorsIndex.index` says `maximum: 0`, which cannot be
/// meant (a batch holds up to 500 events): any index is read.
pub fn parse_multi_status(body: &str) -> Option<MultiStatus> {
    parse_207(body, 0, "code", "fieldLocation")
}

/// A 207 answer as both APIs shape it: two optional lists of indexed entries.
#[derive(Deserialize)]
struct Answer207 {
    #[serde(default)]
    success: Option<Vec<Value>>,
    #[serde(default)]
    error: Option<Vec<Value>>,
}

/// One entry of `success` or `error`: its index and, for errors, what went wrong. Every
/// field is read leniently (a malformed entry is skipped, not the whole answer).
#[derive(Deserialize)]
struct Indexed {
    #[serde(default)]
    index: Value,
    #[serde(default)]
    code: Value,
    #[serde(default)]
    errors: Vec<Value>,
}

/// A 207 body whose indexes start at `first` and whose per-event errors name their code
/// and location with `code_key` and `location_key`. `None` when the body is not a JSON
/// object or a list is present but not an array.
fn parse_207(body: &str, first: usize, code_key: &str, location_key: &str) -> Option<MultiStatus> {
    let answer = match serde_json::from_str::<Value>(body).ok()? {
        object @ Value::Object(_) => Answer207::deserialize(object).ok()?,
        _ => return None,
    };
    let entries = |list: Option<Vec<Value>>| -> Vec<Indexed> {
        list.unwrap_or_default()
            .into_iter()
            .filter_map(|entry| Indexed::deserialize(entry).ok())
            .collect()
    };
    let index = |item: &Indexed| {
        item.index
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| i.checked_sub(first))
    };
    let success = entries(answer.success).iter().filter_map(index).collect();
    let errors = entries(answer.error)
        .iter()
        .filter_map(|item| {
            let first_error = item.errors.first();
            let text = |key| first_error.and_then(|e| e.get(key)).and_then(Value::as_str);
            Some(EventError {
                index: index(item)?,
                code: text(code_key)
                    .or(item.code.as_str())
                    .unwrap_or("UNKNOWN")
                    .to_owned(),
                field_location: text(location_key).map(str::to_owned),
            })
        })
        .collect();
    Some(MultiStatus { success, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_500_events_and_1_mb() {
        let small: Vec<(usize, String)> = (0..1200).map(|i| (i, "{}".to_owned())).collect();
        let sizes: Vec<_> = batches(small, 500).iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 200]);
        let big: Vec<(usize, String)> = (0..5).map(|i| (i, "x".repeat(300_000))).collect();
        let sizes: Vec<_> = batches(big, 500).iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 2]);
    }

    #[test]
    fn events_body_wraps_serialized_events() {
        assert_eq!(
            events_body(["{\"a\":1}", "{}"].into_iter()),
            r#"{"events":[{"a":1},{}]}"#
        );
    }

    #[test]
    fn legacy_form_and_answers() {
        let event = serde_json::json!({"eventDescription": {"name": "purchase", "conversionType": "OFF_AMAZON_PURCHASES"},
            "countryCode": "US", "eventTime": "2026-09-10T10:00:00Z", "eventId": "o1", "value": 5, "currencyCode": "USD",
            "matchKeys": [{"type": "EMAIL", "values": ["h"]}, {"type": "MATCH_ID", "values": ["c1"]}],
            "consent": {"tcf": "x"}});
        let legacy = to_legacy(&event, "591");
        assert_eq!(
            legacy,
            serde_json::json!({"conversionDefinitionId": "591", "name": "purchase", "countryCode": "US",
            "timestamp": "2026-09-10T10:00:00Z", "matchKeys": [{"type": "EMAIL", "values": ["h"]}], "value": 5,
            "currencyCode": "USD", "clientDedupeId": "o1"})
        );
        assert_eq!(
            legacy_body(["{}"].into_iter()),
            r#"{"source":"SERVER_TO_SERVER","eventData":[{}]}"#
        );
        let ms = parse_legacy_multi_status(r#"{"success":[{"index":1}],"error":[{"index":2,"code":"400","errors":[{"errorType":"INVALID_ARGUMENT","fieldName":"timestamp"}]}]}"#).unwrap();
        assert_eq!(ms.success, [0]);
        assert_eq!(
            (ms.errors[0].index, ms.errors[0].code.as_str()),
            (1, "INVALID_ARGUMENT")
        );
    }

    #[test]
    fn answers_may_leave_out_either_list() {
        // The smallest valid answers of both schemas (neither list is required).
        assert_eq!(parse_multi_status("{}"), Some(MultiStatus::default()));
        assert_eq!(
            parse_legacy_multi_status("{}"),
            Some(MultiStatus::default())
        );
        // All accepted: no `error` (the legacy schema's `minItems: 1` forbids `[]`).
        let all =
            parse_legacy_multi_status(r#"{"success":[{"index":1},{"index":2,"message":"ok"}]}"#)
                .unwrap();
        assert_eq!((all.success, all.errors), (vec![0, 1], vec![]));
        let all = parse_multi_status(r#"{"success":[{"index":0,"event":{}}]}"#).unwrap();
        assert_eq!(all.success, [0]);
        // All refused: no `success`; the legacy entry's own code when it lists no error.
        let refused = parse_legacy_multi_status(
            r#"{"error":[{"index":1,"code":"INVALID_ARGUMENT","message":"m"}]}"#,
        )
        .unwrap();
        assert_eq!(refused.errors[0].code, "INVALID_ARGUMENT");
        assert!(refused.success.is_empty());
        let refused = parse_multi_status(r#"{"error":[{"index":0,"errors":[{"code":"FIELD_VALUE_IS_INVALID","fieldLocation":"value","message":"m"}]}]}"#).unwrap();
        assert_eq!(refused.errors[0].field_location.as_deref(), Some("value"));
        // A malformed entry is skipped, not the answer; a list that is not one, or a body
        // that is not an object, is no answer.
        assert_eq!(
            parse_multi_status(r#"{"success":[7,{"index":1}]}"#)
                .unwrap()
                .success,
            [1]
        );
        assert_eq!(parse_multi_status(r#"{"success":{}}"#), None);
        assert_eq!(
            parse_multi_status("<html>429 Too Many Requests</html>"),
            None
        );
        assert_eq!(parse_multi_status("[]"), None);
        assert_eq!(
            parse_multi_status(r#"{"success":null}"#),
            Some(MultiStatus::default())
        );
    }

    #[test]
    fn value_currency_and_window_per_api() {
        assert!(valid_value(-12.5, false) && !valid_value(-12.5, true));
        assert!(valid_value(0.0, true) && valid_value(19.99, true));
        assert!(!valid_value(1.005, false) && !valid_value(f64::NAN, false));
        assert!(!valid_value(MAX_VALUE * 2.0, false) && !valid_value(-MAX_VALUE * 2.0, false));
        assert!(ConversionsApi::Events.takes_currency("ARS"));
        assert!(!ConversionsApi::Legacy.takes_currency("ARS"));
        assert!(ConversionsApi::Legacy.takes_currency("NOK"));
        assert!(!ConversionsApi::Events.takes_currency("usd"));
        assert!(
            LEGACY_CURRENCY_CODES
                .iter()
                .all(|c| CURRENCY_CODES.contains(c))
        );
        assert!(CURRENCY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            (
                ConversionsApi::Events.lookback_days(),
                ConversionsApi::Legacy.lookback_days()
            ),
            (21, 7)
        );
    }
}
