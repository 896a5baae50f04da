//! Conversions: batching, the Events API request, the legacy DSP import, and their 207
//! answers.

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

/// Match-key types the legacy DSP conversions API takes.
const LEGACY_TYPES: [&str; 10] = [
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
pub fn parse_multi_status(body: &str) -> Option<MultiStatus> {
    parse_207(body, 0, "code", "fieldLocation")
}

/// A 207 body whose indexes start at `first` and whose per-event errors name their code
/// and location with `code_key` and `location_key`.
fn parse_207(body: &str, first: usize, code_key: &str, location_key: &str) -> Option<MultiStatus> {
    let v: Value = serde_json::from_str(body).ok()?;
    let index = |item: &Value| {
        item.get("index")
            .and_then(Value::as_u64)
            .and_then(|i| (i as usize).checked_sub(first))
    };
    let success = v
        .get("success")?
        .as_array()?
        .iter()
        .filter_map(index)
        .collect();
    let errors = v
        .get("error")?
        .as_array()?
        .iter()
        .filter_map(|item| {
            let first_error = item.get("errors").and_then(|e| e.get(0));
            let text = |key| first_error.and_then(|e| e.get(key)).and_then(Value::as_str);
            Some(EventError {
                index: index(item)?,
                code: text(code_key).unwrap_or("UNKNOWN").to_owned(),
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
}
