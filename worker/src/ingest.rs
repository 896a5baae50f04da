//! Ingest, as pure functions: the request body into events, each event checked and turned
//! into an Amazon Events API event. One bad event never refuses the others.
//!
//! Browser callers (a site key) must send hashed match keys: a raw value is refused with
//! `raw_pii_not_accepted`. Server callers (the ingest secret) may send raw values, which
//! are normalized and hashed here with the same core the browser runs, so Amazon receives
//! the same bytes either way.

use matchkey::{Country, Field, Normalizer, Sha256Hex};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events in one request.
pub const MAX_EVENTS: usize = 500;
/// Oldest event Amazon accepts, in days.
pub const LOOKBACK_DAYS: i64 = 21;
/// Tolerated clock skew for event times in the future, in seconds.
pub const FUTURE_SKEW_SECS: i64 = 300;

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The site tag, identified by a site key and its page's origin: hashes only.
    Browser,
    /// A server with the ingest secret: raw values are hashed here.
    Server,
}

/// Why a whole request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON.
    BadJson,
    /// JSON, but neither an event object nor `{"events": [...]}`.
    BadShape,
    /// More than [`MAX_EVENTS`] events, or no event.
    EventCount,
}

/// A parsed request: the site key it names (if any) and its events.
#[derive(Debug)]
pub struct Body {
    /// `siteKey` from the body.
    pub site_key: Option<String>,
    /// The events, as sent.
    pub events: Vec<Value>,
}

/// Parses one event or `{"events": [...]}` (with an optional `siteKey`).
///
/// # Errors
/// See [`BodyError`].
pub fn parse_body(bytes: &[u8]) -> Result<Body, BodyError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| BodyError::BadJson)?;
    let Value::Object(mut obj) = value else {
        return Err(BodyError::BadShape);
    };
    let site_key = obj
        .get("siteKey")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let events = match obj.remove("events") {
        Some(Value::Array(events)) => events,
        Some(_) => return Err(BodyError::BadShape),
        None if obj.contains_key("name") => {
            obj.remove("siteKey");
            vec![Value::Object(obj)]
        }
        None => return Err(BodyError::BadShape),
    };
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(BodyError::EventCount);
    }
    Ok(Body { site_key, events })
}

/// One problem with one event (or one of its fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The event's index in the request.
    pub index: usize,
    /// The field concerned, when there is one (`matchKeys.EMAIL`, `eventTime`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A stable reason code.
    pub reason: &'static str,
}

/// An accepted event, ready for Amazon.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The event's index in the request.
    pub index: usize,
    /// Its id (given or generated).
    pub event_id: String,
    /// The Events API event.
    pub event: Value,
}

/// What became of a request's events.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Events to deliver.
    pub accepted: Vec<Accepted>,
    /// Events refused, with why.
    pub rejected: Vec<Problem>,
    /// Fields dropped from accepted events (a server caller's bad phone number, say).
    pub warnings: Vec<Problem>,
}

/// Checks and converts every event. `now` is the current time; `new_id` makes event ids.
pub fn convert(
    events: &[Value],
    caller: Caller,
    config: &Config,
    now: OffsetDateTime,
    new_id: &mut dyn FnMut() -> String,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut normalizer = Normalizer::new();
    for (index, event) in events.iter().enumerate() {
        let problem = |field: Option<&str>, reason| Problem {
            index,
            field: field.map(str::to_owned),
            reason,
        };
        match convert_one(event, caller, config, now, new_id, &mut normalizer) {
            Ok((accepted, dropped)) => {
                outcome
                    .warnings
                    .extend(dropped.into_iter().map(|(f, r)| problem(Some(&f), r)));
                outcome.accepted.push(Accepted {
                    index,
                    event_id: accepted.0,
                    event: accepted.1,
                });
            }
            Err((field, reason)) => outcome.rejected.push(problem(field.as_deref(), reason)),
        }
    }
    outcome
}

/// Fields dropped from an event, with why.
type Dropped = Vec<(String, &'static str)>;
type Converted = ((String, Value), Dropped);
type Refusal = (Option<String>, &'static str);

fn refuse(field: &str, reason: &'static str) -> Refusal {
    (Some(field.to_owned()), reason)
}

fn convert_one(
    event: &Value,
    caller: Caller,
    config: &Config,
    now: OffsetDateTime,
    new_id: &mut dyn FnMut() -> String,
    normalizer: &mut Normalizer,
) -> Result<Converted, Refusal> {
    let obj = event.as_object().ok_or((None, "event_not_an_object"))?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => s.trim(),
        Some(_) => return Err(refuse("name", "invalid_name")),
        None => return Err(refuse("name", "missing_name")),
    };
    let conversion_type = match obj.get("conversionType").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None => config.conversion_type(name).to_owned(),
    };
    let event_id = match obj.get("eventId") {
        None | Some(Value::Null) => new_id(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s.clone(),
        Some(_) => return Err(refuse("eventId", "invalid_event_id")),
    };
    let event_time = match obj.get("eventTime") {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| refuse("eventTime", "invalid_event_time"))?,
        Some(_) => return Err(refuse("eventTime", "invalid_event_time")),
    };
    if event_time < now - time::Duration::days(LOOKBACK_DAYS) {
        return Err(refuse("eventTime", "event_too_old"));
    }
    if event_time > now + time::Duration::seconds(FUTURE_SKEW_SECS) {
        return Err(refuse("eventTime", "event_in_future"));
    }
    let country_text = obj
        .get("country")
        .and_then(Value::as_str)
        .ok_or(refuse("country", "missing_country"))?;
    let country = Country::parse(country_text).map_err(|_| refuse("country", "invalid_country"))?;

    let (match_keys, dropped) = match_keys(obj.get("matchKeys"), caller, country, normalizer)?;

    let mut description = json!({
        "name": name,
        "conversionType": conversion_type,
        "eventSource": "WEBSITE",
        "eventIngestionMethod": "SERVER_TO_SERVER",
    });
    if let Some(ds) = obj
        .get("dataSetName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| config.data_set_name.clone())
    {
        description["dataSetName"] = json!(ds);
    }
    let mut out = json!({
        "eventDescription": description,
        "countryCode": country.as_str(),
        "eventTime": event_time.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default(),
        "eventId": event_id,
        "matchKeys": match_keys,
    });
    match obj.get("value") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if conversion_type == "OFF_AMAZON_PURCHASES"
                && (v < 0.0 || ((v * 100.0).round() - v * 100.0).abs() > 1e-6)
            {
                return Err(refuse("value", "invalid_purchase_value"));
            }
            out["value"] = Value::Number(n.clone());
        }
        Some(_) => return Err(refuse("value", "invalid_value")),
    }
    if let Some(c) = obj.get("currency").filter(|c| !c.is_null()) {
        match c.as_str() {
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                out["currencyCode"] = json!(c.to_ascii_uppercase())
            }
            _ => return Err(refuse("currency", "invalid_currency")),
        }
    }
    if let Some(u) = obj.get("units").filter(|u| !u.is_null()) {
        match u.as_i64() {
            Some(u) if (1..=i64::from(i32::MAX)).contains(&u) => out["unitsSold"] = json!(u),
            _ => return Err(refuse("units", "invalid_units")),
        }
    }
    match obj.get("consent") {
        None | Some(Value::Null) if country.requires_consent() => {
            return Err(refuse("consent", "consent_required"));
        }
        None | Some(Value::Null) => {}
        Some(consent) => out["consent"] = check_consent(consent)?,
    }
    if let Some(data) = obj.get("customData").filter(|d| !d.is_null()) {
        out["customData"] = check_custom_data(data)?;
    }
    if let Some(ua) = obj.get("userAgent").filter(|u| !u.is_null()) {
        match ua.as_str() {
            Some(ua) if ua.len() <= 512 => out["deviceInfo"] = json!({ "userAgent": ua }),
            _ => return Err(refuse("userAgent", "invalid_user_agent")),
        }
    }
    Ok(((event_id_of(&out), out), dropped))
}

fn event_id_of(event: &Value) -> String {
    event["eventId"].as_str().unwrap_or_default().to_owned()
}

/// The event's match keys in Amazon's form, and the fields dropped (server callers).
fn match_keys(
    keys: Option<&Value>,
    caller: Caller,
    country: Country,
    normalizer: &mut Normalizer,
) -> Result<(Vec<Value>, Dropped), Refusal> {
    let obj: &Map<String, Value> = match keys {
        Some(Value::Object(o)) => o,
        Some(_) => return Err(refuse("matchKeys", "invalid_match_keys")),
        None => return Err(refuse("matchKeys", "no_match_keys")),
    };
    let mut out = Vec::new();
    let mut dropped = Vec::new();
    for (name, value) in obj {
        let location = format!("matchKeys.{name}");
        let field: Field = name
            .parse()
            .map_err(|_| (Some(location.clone()), "unknown_field"))?;
        let Some(value) = value.as_str() else {
            return Err((Some(location), "invalid_match_key_value"));
        };
        let key = match caller {
            // The tag hashes in the page: a hashed field must already be a digest.
            Caller::Browser if field.is_hashed() => match Sha256Hex::parse(value.trim()) {
                Some(digest) => Ok(digest.as_str().to_owned()),
                None => return Err((Some(location), "raw_pii_not_accepted")),
            },
            _ => normalizer
                .match_key(field, value, country)
                .map(|k| k.value().to_owned())
                .map_err(|r| r.code()),
        };
        match key {
            Ok(v) => out.push(json!({ "type": field.as_str(), "values": [v] })),
            Err("empty") => {}
            // A browser's MAID is checked like a server's; a bad one refuses the event.
            Err(reason) if caller == Caller::Browser => return Err((Some(location), reason)),
            Err(reason) => dropped.push((location, reason)),
        }
    }
    if out.is_empty() {
        return Err(refuse("matchKeys", "no_match_keys"));
    }
    if out.len() > 15 {
        return Err(refuse("matchKeys", "too_many_match_keys"));
    }
    Ok((out, dropped))
}

fn check_consent(consent: &Value) -> Result<Value, Refusal> {
    let obj = consent
        .as_object()
        .ok_or(refuse("consent", "invalid_consent"))?;
    let mut out = Map::new();
    for (key, value) in obj {
        let ok = match key.as_str() {
            "amazonConsent" => {
                let state = |k: &str| value.get(k).and_then(Value::as_str);
                matches!(state("amznUserData"), Some("GRANTED" | "DENIED"))
                    && matches!(state("amznAdStorage"), None | Some("GRANTED" | "DENIED"))
            }
            "tcf" | "gpp" => value.as_str().is_some_and(|s| !s.is_empty()),
            "geo" => value
                .get("ipAddress")
                .and_then(Value::as_str)
                .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
            _ => false,
        };
        if !ok {
            return Err(refuse(&format!("consent.{key}"), "invalid_consent"));
        }
        out.insert(key.clone(), value.clone());
    }
    if out.is_empty() {
        return Err(refuse("consent", "invalid_consent"));
    }
    Ok(Value::Object(out))
}

fn check_custom_data(data: &Value) -> Result<Value, Refusal> {
    let items = data
        .as_array()
        .filter(|a| a.len() <= 13)
        .ok_or(refuse("customData", "invalid_custom_data"))?;
    let charset =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| charset(s));
        let value = match item.get("value") {
            Some(Value::String(s)) if charset(s) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let data_type = item
            .get("dataType")
            .and_then(Value::as_str)
            .unwrap_or("STRING");
        match (name, value) {
            (Some(name), Some(value))
                if matches!(data_type, "STRING" | "INTEGER" | "TIMESTAMP") =>
            {
                out.push(json!({ "name": name, "value": value, "dataType": data_type }));
            }
            _ => return Err(refuse(&format!("customData[{i}]"), "invalid_custom_data")),
        }
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn config() -> Config {
        Config::from_vars(|k| (k == "ADVERTISER_ID").then(|| "ENTITY1".to_owned())).unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-09-10T12:00:00Z", &Rfc3339).unwrap()
    }

    fn run(events: Value, caller: Caller) -> Outcome {
        let mut n = 0;
        let events = events.as_array().unwrap().clone();
        convert(&events, caller, &config(), now(), &mut || {
            n += 1;
            format!("gen-{n}")
        })
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b"{").unwrap_err(), BodyError::BadJson);
        assert_eq!(parse_body(b"[1]").unwrap_err(), BodyError::BadShape);
        assert_eq!(
            parse_body(br#"{"events":[]}"#).unwrap_err(),
            BodyError::EventCount
        );
        let one = parse_body(br#"{"name":"purchase","siteKey":"s"}"#).unwrap();
        assert_eq!((one.site_key.as_deref(), one.events.len()), (Some("s"), 1));
        assert!(one.events[0].get("siteKey").is_none());
        let many = serde_json::to_vec(&json!({"events": vec![json!({"name": "x"}); 501]})).unwrap();
        assert_eq!(parse_body(&many).unwrap_err(), BodyError::EventCount);
    }

    #[test]
    fn a_browser_event_becomes_an_amazon_event() {
        let out = run(
            json!([{"name": "purchase", "country": "us", "value": 12.5, "currency": "usd", "units": 2,
            "eventTime": "2026-09-10T10:00:00+02:00", "matchKeys": {"EMAIL": HASH.to_uppercase(), "MAID": "6D92078A-8246-4BA4-AE5B-76104861E7DC"},
            "customData": [{"name": "brand", "value": "acme"}], "userAgent": "UA"}]),
            Caller::Browser,
        );
        assert_eq!(out.rejected, []);
        let e = &out.accepted[0].event;
        assert_eq!(
            e["eventDescription"]["conversionType"],
            "OFF_AMAZON_PURCHASES"
        );
        assert_eq!(e["eventTime"], "2026-09-10T08:00:00Z");
        assert_eq!(e["countryCode"], "US");
        assert_eq!(e["eventId"], "gen-1");
        assert_eq!(e["currencyCode"], "USD");
        assert_eq!(e["unitsSold"], 2);
        assert_eq!(
            e["matchKeys"][0],
            json!({"type": "EMAIL", "values": [HASH]})
        );
        assert_eq!(
            e["matchKeys"][1]["values"][0],
            "6d92078a-8246-4ba4-ae5b-76104861e7dc"
        );
        assert_eq!(e["deviceInfo"]["userAgent"], "UA");
        assert_eq!(e["customData"][0]["dataType"], "STRING");
    }

    #[test]
    fn browsers_may_not_send_raw_pii_and_one_bad_event_spares_the_others() {
        let out = run(
            json!([
                {"name": "purchase", "country": "US", "matchKeys": {"EMAIL": "jane@example.com"}},
                {"name": "page_view", "country": "US", "matchKeys": {"EMAIL": HASH}},
            ]),
            Caller::Browser,
        );
        assert_eq!(
            out.rejected,
            [Problem {
                index: 0,
                field: Some("matchKeys.EMAIL".into()),
                reason: "raw_pii_not_accepted"
            }]
        );
        assert_eq!(out.accepted.len(), 1);
        assert_eq!(out.accepted[0].index, 1);
    }

    #[test]
    fn servers_send_raw_values_hashed_here_like_the_browser_would() {
        let out = run(
            json!([{"name": "lead", "country": "GB", "consent": {"tcf": "CQ"},
            "matchKeys": {"EMAIL": " ABC@example.com", "PHONE": "call me"}}]),
            Caller::Server,
        );
        let e = &out.accepted[0].event;
        assert_eq!(e["matchKeys"], json!([{"type": "EMAIL", "values": [HASH]}]));
        assert_eq!(
            out.warnings,
            [Problem {
                index: 0,
                field: Some("matchKeys.PHONE".into()),
                reason: "unparseable_phone"
            }]
        );
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let base = json!({"name": "purchase", "country": "US", "matchKeys": {"EMAIL": HASH}});
        for (change, reason) in [
            (json!({"name": ""}), "invalid_name"),
            (json!({"eventTime": "yesterday"}), "invalid_event_time"),
            (
                json!({"eventTime": "2026-08-19T11:00:00Z"}),
                "event_too_old",
            ),
            (
                json!({"eventTime": "2026-09-10T12:06:00Z"}),
                "event_in_future",
            ),
            (json!({"country": "USA"}), "invalid_country"),
            (json!({"value": -1}), "invalid_purchase_value"),
            (json!({"value": 1.005}), "invalid_purchase_value"),
            (json!({"currency": "US"}), "invalid_currency"),
            (json!({"units": 0}), "invalid_units"),
            (json!({"matchKeys": {}}), "no_match_keys"),
            (json!({"matchKeys": {"NICK": "x"}}), "unknown_field"),
            (json!({"country": "DE"}), "consent_required"),
            (
                json!({"consent": {"amazonConsent": {"amznUserData": "YES"}}}),
                "invalid_consent",
            ),
            (
                json!({"customData": [{"name": "a b", "value": "x"}]}),
                "invalid_custom_data",
            ),
            (json!({"userAgent": "x".repeat(513)}), "invalid_user_agent"),
        ] {
            let mut event = base.clone();
            for (k, v) in change.as_object().unwrap() {
                event[k] = v.clone();
            }
            let out = run(json!([event]), Caller::Browser);
            assert_eq!(
                out.rejected.first().map(|p| p.reason),
                Some(reason),
                "{change}"
            );
        }
    }
}
