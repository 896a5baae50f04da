//! The Amazon side, as pure functions: batching, the Events API request, the 207 answer,
//! the Login with Amazon refresh, and what to do with each kind of answer.

use serde_json::Value;

/// Largest Events API request body the Worker sends.
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

/// The Events API body for serialized events.
pub fn events_body<'a>(events: impl Iterator<Item = &'a str>) -> String {
    let mut body = String::from(r#"{"events":["#);
    for (i, e) in events.enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(e);
    }
    body.push_str("]}");
    body
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
    let mut body = String::from(r#"{"source":"SERVER_TO_SERVER","eventData":["#);
    for (i, e) in events.enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(e);
    }
    body.push_str("]}");
    body
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

/// `application/x-www-form-urlencoded` body of a refresh-token grant.
pub fn lwa_refresh_form(client_id: &str, client_secret: &str, refresh_token: &str) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
        enc(refresh_token),
        enc(client_id),
        enc(client_secret)
    )
}

/// What to do after an Amazon answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// 207: done; log per event.
    Delivered(MultiStatus),
    /// 401: refresh the access token once and send again.
    Refresh,
    /// 429, 5xx or no answer: wait and try again.
    Retry {
        /// How long to wait (`Retry-After` for 429, else backoff).
        after_ms: u64,
        /// Amazon's code or `HTTP_<status>`, for the log.
        code: String,
    },
    /// Any other 4xx: not retried; the batch goes to the dead letters.
    Fail {
        /// Amazon's code or `HTTP_<status>`.
        code: String,
    },
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … capped at 5 minutes; `jitter` in [0, 1).
pub fn backoff_ms(attempt: u32, jitter: f64) -> u64 {
    let base = 1000u64.saturating_mul(1 << attempt.min(16));
    (base as f64 * (0.5 + jitter)).min(300_000.0) as u64
}

/// Decides on an answer: `status` (0 for a network error), its `Retry-After` header and
/// body, the attempt number (0 for the first try) and a jitter in [0, 1).
pub fn next(status: u16, retry_after: Option<&str>, body: &str, attempt: u32, jitter: f64) -> Next {
    next_with(
        status,
        retry_after,
        body,
        attempt,
        jitter,
        parse_multi_status,
    )
}

/// [`next`] for an API whose 207 body `parse` reads (the legacy API's is 1-based).
pub fn next_with(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    attempt: u32,
    jitter: f64,
    parse: fn(&str) -> Option<MultiStatus>,
) -> Next {
    let code = || {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP_{status}"))
    };
    match status {
        207 | 200 => match parse(body) {
            Some(ms) => Next::Delivered(ms),
            None => Next::Retry {
                after_ms: backoff_ms(attempt, jitter),
                code: "BAD_MULTI_STATUS".into(),
            },
        },
        401 => Next::Refresh,
        429 => {
            let after = retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|s| s * 1000);
            Next::Retry {
                after_ms: after.unwrap_or_else(|| backoff_ms(attempt, jitter)),
                code: code(),
            }
        }
        0 => Next::Retry {
            after_ms: backoff_ms(attempt, jitter),
            code: "NETWORK_ERROR".into(),
        },
        500..=599 => Next::Retry {
            after_ms: backoff_ms(attempt, jitter),
            code: code(),
        },
        _ => Next::Fail { code: code() },
    }
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
    fn body_and_form() {
        assert_eq!(
            events_body(["{\"a\":1}", "{}"].into_iter()),
            r#"{"events":[{"a":1},{}]}"#
        );
        assert_eq!(
            lwa_refresh_form("c", "s/+", "Atzr|x"),
            "grant_type=refresh_token&refresh_token=Atzr%7Cx&client_id=c&client_secret=s%2F%2B"
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
    fn answers_decide_what_happens() {
        let ok = r#"{"success":[{"index":0}],"error":[{"index":1,"errors":[{"code":"BAD_REQUEST","fieldLocation":"events[1].eventTime"}]}]}"#;
        let Next::Delivered(ms) = next(207, None, ok, 0, 0.5) else {
            panic!("207 is delivered")
        };
        assert_eq!(ms.success, [0]);
        assert_eq!(
            ms.errors[0].field_location.as_deref(),
            Some("events[1].eventTime")
        );
        assert_eq!(next(401, None, "", 0, 0.5), Next::Refresh);
        assert_eq!(
            next(429, Some("2"), r#"{"code":"TOO_MANY_REQUESTS"}"#, 0, 0.5),
            Next::Retry {
                after_ms: 2000,
                code: "TOO_MANY_REQUESTS".into()
            }
        );
        assert_eq!(
            next(503, None, "", 2, 0.5),
            Next::Retry {
                after_ms: 4000,
                code: "HTTP_503".into()
            }
        );
        assert_eq!(
            next(0, None, "", 0, 0.0),
            Next::Retry {
                after_ms: 500,
                code: "NETWORK_ERROR".into()
            }
        );
        assert_eq!(
            next(400, None, r#"{"code":"BAD_REQUEST"}"#, 0, 0.5),
            Next::Fail {
                code: "BAD_REQUEST".into()
            }
        );
        assert_eq!(backoff_ms(30, 0.999), 300_000);
    }
}
