//! Conversions: the Events API (`POST /adsApi/v1/create/events`, `amazon-ads-v1-all.json`) and
//! the legacy DSP import (`.../dsp/conversionDefinitions/eventData`, `dsp-conversions.json`).
//!
//! Requests: generated events (every conversion type, match-key type, currency of the core's
//! tables, values the core's rule takes) through the core's builders, checked against both
//! files. Answers: the smallest valid 207 (neither list is required) and a fully populated one,
//! both checked against the file and read by the parsers.

use matchkey::amazon::events::{
    self, CONVERSION_TYPES, CURRENCY_CODES, ConversionsApi, LEGACY_CURRENCY_CODES,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const DIGEST: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";
const ACCOUNT: &str = "583000000000001";
const LEGACY_MEDIA: &str = "application/vnd.dspconversioneventimport.v1+json";

/// Match-key types the Worker sends: hashed ones as digests, ids as they are.
fn match_key() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "EMAIL",
            "PHONE",
            "FIRST_NAME",
            "LAST_NAME",
            "ADDRESS",
            "CITY",
            "STATE",
            "POSTAL"
        ])
        .prop_map(|t| json!({"type": t, "values": [DIGEST]})),
        Just(json!({"type": "MAID", "values": ["6d92078a-8246-4ba4-ae5b-76104861e7dc"]})),
        Just(
            json!({"type": "RAMP_ID", "values": ["XY1005wXyWPB1SgpMUKIpzA0I3UaLEz-2lg0wFAr1PWK7FMhs"]})
        ),
        Just(json!({"type": "MATCH_ID", "values": ["crm-42"]})),
    ]
}

/// An Events API event as the Worker's ingest builds it.
fn event() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(CONVERSION_TYPES.to_vec()),
        prop::collection::vec(match_key(), 1..5),
        prop::option::of(-100_000_000i64..100_000_000),
        prop::option::of(prop::sample::select(CURRENCY_CODES.to_vec())),
        prop::option::of(1i64..1000),
        any::<bool>(),
    )
        .prop_map(|(kind, keys, cents, currency, units, consent)| {
            let mut e = json!({
                "eventDescription": {"name": "purchase", "conversionType": kind,
                    "eventSource": "WEBSITE", "eventIngestionMethod": "SERVER_TO_SERVER"},
                "countryCode": "US",
                "eventTime": "2026-09-10T10:00:00Z",
                "eventId": "order-1",
                "matchKeys": keys,
            });
            if let Some(cents) = cents {
                let value = cents as f64 / 100.0;
                let value = if kind == "OFF_AMAZON_PURCHASES" { value.abs() } else { value };
                if events::valid_value(value, kind == "OFF_AMAZON_PURCHASES") {
                    e["value"] = json!(value);
                }
            }
            if let Some(currency) = currency {
                e["currencyCode"] = json!(currency);
            }
            if let Some(units) = units {
                e["unitsSold"] = json!(units);
            }
            if consent {
                e["consent"] = json!({"amazonConsent": {"amznUserData": "GRANTED", "amznAdStorage": "DENIED"}});
            }
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_events_conform_to_both_apis(events in prop::collection::vec(event(), 1..20)) {
        let serialized: Vec<String> = events.iter().map(Value::to_string).collect();
        let body = events::events_body(serialized.iter().map(String::as_str));
        let request = events::create_events(&auth(), ACCOUNT, body);
        let op = assert_conforms(&request);
        prop_assert_eq!(op.operation_id.as_deref(), Some("CreateEvent"));

        // The same events as the legacy import takes them.
        // An event whose only match keys are of types the legacy API does not know
        // (MATCH_ID) would have none left there, which `minItems: 1` refuses: the Worker
        // refuses it at ingest (`no_match_keys`) by the same rule, so it is left out here.
        let legacy: Vec<String> = events
            .iter()
            .filter(|e| {
                let types = e["matchKeys"].as_array().into_iter().flatten().filter_map(|k| k["type"].as_str());
                ConversionsApi::Legacy.takes_some_match_key(types)
            })
            .map(|e| {
                let mut l = events::to_legacy(e, "591234567890123456");
                // The legacy API's own currency list (the Worker refuses others for it).
                if l["currencyCode"].as_str().is_some_and(|c| !ConversionsApi::Legacy.takes_currency(c)) {
                    l.as_object_mut().unwrap().remove("currencyCode");
                }
                l.to_string()
            })
            .collect();
        if !legacy.is_empty() {
            let body = events::legacy_body(legacy.iter().map(String::as_str));
            let request = events::import_legacy(&auth(), ACCOUNT, "3333333333", body);
            assert_conforms(&request);
        }
    }
}

#[test]
fn the_core_tables_are_the_specs_enums() {
    let contract = amazon_contract::Contract::amazon();
    for code in CURRENCY_CODES {
        assert_eq!(
            contract.check_schema("amazon-ads-v1-all.json", "CurrencyCode", &json!(code)),
            [],
            "{code}"
        );
    }
    for code in LEGACY_CURRENCY_CODES {
        let v = contract.check_schema(
            "dsp-conversions.json",
            "ConversionDefinitionCurrencyCodeV1",
            &json!(code),
        );
        assert_eq!(v, [], "{code}");
    }
    for kind in CONVERSION_TYPES {
        let v = contract.check_schema("amazon-ads-v1-all.json", "ConversionType", &json!(kind));
        assert_eq!(v, [], "{kind}");
    }
    // And nothing outside them.
    assert!(
        !contract
            .check_schema("amazon-ads-v1-all.json", "CurrencyCode", &json!("XYZ"))
            .is_empty()
    );
}

#[test]
fn events_answers_smallest_and_fully_populated() {
    let request = events::create_events(&auth(), ACCOUNT, r#"{"events":[]}"#.into());
    // EventMultiStatusResponse requires neither list.
    assert_answer_conforms(&request, 207, "application/json", "{}");
    assert_eq!(
        events::parse_multi_status("{}"),
        Some(events::MultiStatus::default())
    );
    let full = json!({
        "success": [{"index": 0, "event": {
            "eventDescription": {"name": "purchase", "conversionType": "OFF_AMAZON_PURCHASES",
                "eventSource": "WEBSITE", "eventIngestionMethod": "SERVER_TO_SERVER", "dataSetName": "web"},
            "countryCode": "US", "eventTime": "2026-09-10T10:00:00Z", "eventId": "o1",
            "matchKeys": [{"type": "EMAIL", "values": [DIGEST]}], "value": 19.99,
            "currencyCode": "USD", "unitsSold": 2}}],
        "error": [{"index": 1, "errors": [{"code": "FIELD_VALUE_IS_INVALID", "fieldLocation": "value", "message": "m"}]}]
    })
    .to_string();
    assert_answer_conforms(&request, 207, "application/json", &full);
    let ms = events::parse_multi_status(&full).unwrap();
    assert_eq!(ms.success, [0]);
    assert_eq!(
        (
            ms.errors[0].index,
            ms.errors[0].code.as_str(),
            ms.errors[0].field_location.as_deref()
        ),
        (1, "FIELD_VALUE_IS_INVALID", Some("value"))
    );
}

#[test]
fn legacy_answers_smallest_and_fully_populated() {
    let request = events::import_legacy(
        &auth(),
        ACCOUNT,
        "3333333333",
        r#"{"source":"SERVER_TO_SERVER","eventData":[]}"#.into(),
    );
    assert_answer_conforms(&request, 207, LEGACY_MEDIA, "{}");
    assert_eq!(
        events::parse_legacy_multi_status("{}"),
        Some(events::MultiStatus::default())
    );
    // All accepted: `error` left out (its minItems is 1).
    let all = r#"{"success":[{"index":1,"message":"Event imported."}]}"#;
    assert_answer_conforms(&request, 207, LEGACY_MEDIA, all);
    assert_eq!(events::parse_legacy_multi_status(all).unwrap().success, [0]);
    let full = r#"{"success":[{"index":1,"message":"ok"}],"error":[{"index":2,"code":"INVALID_ARGUMENT","message":"m","errors":[{"errorType":"INVALID_ARGUMENT","fieldName":"timestamp","message":"too old"}]}]}"#;
    assert_answer_conforms(&request, 207, LEGACY_MEDIA, full);
    let ms = events::parse_legacy_multi_status(full).unwrap();
    assert_eq!(
        (ms.errors[0].index, ms.errors[0].field_location.as_deref()),
        (1, Some("timestamp"))
    );
}

#[test]
fn a_gateway_html_429_is_read_without_failing() {
    // Not JSON, no Retry-After: retried with backoff under Amazon's status code.
    let next = matchkey::amazon::retry::next(
        429,
        None,
        "<html><body>429 Too Many Requests</body></html>",
        0,
        0.0,
    );
    assert!(
        matches!(next, matchkey::amazon::retry::Next::Retry { ref code, .. } if code == "HTTP_429"),
        "{next:?}"
    );
}
