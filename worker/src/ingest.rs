//! Ingest, as pure functions: the request body into events, each event checked and turned
//! into an Amazon Events API event. One bad event never refuses the others.
//!
//! A browser caller (the public site key) is anyone on the internet: it may send only
//! the keys of [`BROWSER_KEYS`], each checked by charset and length, digests for the hashed
//! match keys (the core's identity rule, [`matchkey::identity`]), consent rebuilt from
//! validated scalars, and custom data only by the names and types the Worker is configured
//! with. `conversionType` and `dataSetName` come from the configuration; the user agent
//! from the request header. Server callers (the ingest secret) are trusted to send raw
//! values, which are normalized and hashed here with the same core the browser runs, so
//! Amazon receives the same bytes either way; their fields are still checked.
//!
//! Every refusal is a stable code and the name of a field, never a value.

use std::net::IpAddr;

use matchkey::amazon::events;
use matchkey::consent::{valid_gpp_string, valid_tcf_string};
use matchkey::identity::{self, Sender, looks_like_contact};
use matchkey::{Country, Field, Normalizer};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{
    CONVERSION_TYPES, Config, CustomType, valid_custom_data_name, valid_data_set_name,
};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events in one request.
pub const MAX_EVENTS: usize = 500;
/// Tolerated clock skew for event times in the future, in seconds.
pub const FUTURE_SKEW_SECS: i64 = 300;

/// Longest user agent passed on, in bytes (Amazon: 512 characters).
pub const MAX_USER_AGENT_BYTES: usize = 512;
/// Largest `value` magnitude accepted (the core's, with the rule in
/// [`matchkey::amazon::events::valid_value`]).
pub use matchkey::amazon::events::MAX_VALUE;
/// Most `customData` items in one event (Amazon's limit).
pub const MAX_CUSTOM_DATA: usize = 13;
/// Most match keys in one event (Amazon's limit).
pub const MAX_MATCH_KEYS: usize = 15;

/// The event keys a browser may send. Anything else refuses the event
/// (`field_not_accepted`), except [`CONFIG_ONLY_KEYS`].
pub const BROWSER_KEYS: [&str; 10] = [
    "name",
    "eventId",
    "eventTime",
    "country",
    "matchKeys",
    "value",
    "currency",
    "units",
    "customData",
    "consent",
];

/// Keys older tags still send, which come from the Worker's configuration only: dropped
/// from a browser's event with the warning `ignored_from_browser`.
pub const CONFIG_ONLY_KEYS: [&str; 2] = ["conversionType", "dataSetName"];

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The site tag, identified by a site key and its page's origin: hashes only.
    Browser,
    /// A server with the ingest secret: raw values are hashed here.
    Server,
}

/// The request around the events: who sent them, and what the edge knows of the client.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Who is calling.
    pub caller: Caller,
    /// The request's `User-Agent` header (a browser's events carry it, not the body's).
    pub user_agent: Option<&'a str>,
    /// The client's IP address (`CF-Connecting-IP`), for `ADD_CLIENT_IP`.
    pub client_ip: Option<&'a str>,
}

impl Context<'static> {
    /// A caller's context for a request that carries no event (members, erasure): no
    /// user agent or client IP is taken from it.
    pub fn bodiless(caller: Caller) -> Self {
        Context {
            caller,
            user_agent: None,
            client_ip: None,
        }
    }
}

impl Context<'_> {
    /// The identity rule's sender for this caller.
    pub fn sender(&self, config: &Config) -> Sender {
        match self.caller {
            Caller::Browser => Sender::Browser(config.browser_ids),
            Caller::Server => Sender::Trusted,
        }
    }
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
    /// The field concerned, when there is one (`matchKeys.EMAIL`, `eventTime`, …). A
    /// field name the caller made up is shown only when it is a plain identifier.
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
    /// Fields dropped from accepted events (a server caller's bad phone number, a
    /// browser's `conversionType`, say).
    pub warnings: Vec<Problem>,
}

/// Checks and converts every event. `now` is the current time; `new_id` makes event ids.
pub fn convert(
    events: &[Value],
    ctx: &Context<'_>,
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
        match convert_one(event, ctx, config, now, new_id, &mut normalizer) {
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
/// A refused event or field: where, and why.
pub(crate) type Refusal = (Option<String>, &'static str);

fn refuse(field: &str, reason: &'static str) -> Refusal {
    (Some(field.to_owned()), reason)
}

/// A caller's key as it may appear in an answer: itself when it is a plain identifier,
/// else a placeholder (a key can carry personal data as well as a value can).
pub(crate) fn label(key: &str) -> &str {
    if (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !looks_like_contact(key)
    {
        key
    } else {
        "(redacted)"
    }
}

/// `[A-Za-z0-9_.:-]{1,max}`: the shape of a browser's names, ids and custom strings.
fn token(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// An `@`, its look-alikes (fullwidth, small, tag) or its URL encoding.
fn has_at(s: &str) -> bool {
    s.contains(['@', '\u{ff20}', '\u{fe6b}', '\u{e0040}']) || s.to_ascii_lowercase().contains("%40")
}

/// A server's free text: 1 to `max` characters, no control character, no `@`.
fn server_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control) && !has_at(s)
}

fn convert_one(
    event: &Value,
    ctx: &Context<'_>,
    config: &Config,
    now: OffsetDateTime,
    new_id: &mut dyn FnMut() -> String,
    normalizer: &mut Normalizer,
) -> Result<Converted, Refusal> {
    let obj = event.as_object().ok_or((None, "event_not_an_object"))?;
    let browser = ctx.caller == Caller::Browser;
    let mut dropped = Dropped::new();
    if browser {
        for key in obj.keys() {
            if CONFIG_ONLY_KEYS.contains(&key.as_str()) {
                dropped.push((key.clone(), "ignored_from_browser"));
            } else if !BROWSER_KEYS.contains(&key.as_str()) {
                return Err(refuse(label(key), "field_not_accepted"));
            }
        }
    }
    let name = match obj.get("name") {
        None | Some(Value::Null) => return Err(refuse("name", "missing_name")),
        Some(Value::String(s)) if browser && token(s, 64) && !looks_like_contact(s) => s.as_str(),
        Some(Value::String(s)) if !browser && server_text(s.trim(), 256) => s.trim(),
        Some(_) => return Err(refuse("name", "invalid_name")),
    };
    let conversion_type = match obj.get("conversionType") {
        Some(t) if !browser && !t.is_null() => match t.as_str() {
            Some(t) if CONVERSION_TYPES.contains(&t) => t,
            _ => return Err(refuse("conversionType", "invalid_conversion_type")),
        },
        _ => config.conversion_type(name),
    };
    let event_id = match obj.get("eventId") {
        None | Some(Value::Null) => new_id(),
        // The same rule as `name`'s: a browser's id may not be a phone number either.
        Some(Value::String(s)) if browser && token(s, 128) && !looks_like_contact(s) => s.clone(),
        Some(Value::String(s)) if !browser && server_text(s, 256) => s.clone(),
        Some(_) => return Err(refuse("eventId", "invalid_event_id")),
    };
    let event_time = match obj.get("eventTime") {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| refuse("eventTime", "invalid_event_time"))?,
        Some(_) => return Err(refuse("eventTime", "invalid_event_time")),
    };
    // The window is the API's: 21 days for the Events API, 7 for the legacy import.
    let api = config.conversions_api();
    if event_time < now - time::Duration::days(api.lookback_days()) {
        return Err(refuse("eventTime", "event_too_old"));
    }
    if event_time > now + time::Duration::seconds(FUTURE_SKEW_SECS) {
        return Err(refuse("eventTime", "event_in_future"));
    }
    let country = match obj.get("country") {
        None | Some(Value::Null) => return Err(refuse("country", "missing_country")),
        Some(Value::String(s)) => {
            Country::parse(s).map_err(|_| refuse("country", "invalid_country"))?
        }
        Some(_) => return Err(refuse("country", "invalid_country")),
    };

    let (match_keys, bad_keys) = match_keys(
        obj.get("matchKeys"),
        ctx.sender(config),
        country,
        normalizer,
    )?;
    dropped.extend(bad_keys);
    if !api.takes_some_match_key(match_keys.iter().filter_map(|k| k["type"].as_str())) {
        return Err(refuse("matchKeys", "no_match_keys"));
    }

    let mut description = json!({
        "name": name,
        "conversionType": conversion_type,
        "eventSource": "WEBSITE",
        "eventIngestionMethod": "SERVER_TO_SERVER",
    });
    let data_set_name = match obj.get("dataSetName") {
        Some(d) if !browser && !d.is_null() => match d.as_str() {
            Some(d) if valid_data_set_name(d) => Some(d),
            _ => return Err(refuse("dataSetName", "invalid_data_set_name")),
        },
        _ => config.data_set_name.as_deref(),
    };
    if let Some(ds) = data_set_name {
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
            let purchase = conversion_type == "OFF_AMAZON_PURCHASES";
            if !events::valid_value(n.as_f64().unwrap_or(f64::NAN), purchase) {
                let reason = if purchase {
                    "invalid_purchase_value"
                } else {
                    "invalid_value"
                };
                return Err(refuse("value", reason));
            }
            out["value"] = Value::Number(n.clone());
        }
        Some(_) => return Err(refuse("value", "invalid_value")),
    }
    if let Some(c) = obj.get("currency").filter(|c| !c.is_null()) {
        // The API's own list of codes (a code another API takes is still refused here,
        // not by Amazon after the event was accepted).
        match c.as_str().map(str::to_ascii_uppercase) {
            Some(c) if c.len() == 3 && api.takes_currency(&c) => out["currencyCode"] = json!(c),
            _ => return Err(refuse("currency", "invalid_currency")),
        }
    }
    if let Some(u) = obj.get("units").filter(|u| !u.is_null()) {
        match u.as_i64() {
            Some(u) if (1..=i64::from(i32::MAX)).contains(&u) => out["unitsSold"] = json!(u),
            _ => return Err(refuse("units", "invalid_units")),
        }
    }
    let mut consent = rebuild_consent(obj.get("consent"), ctx.caller)?;
    if country.requires_consent() && consent.is_empty() {
        return Err(refuse("consent", "consent_required"));
    }
    if browser
        && config.add_client_ip
        && granted(&consent)
        && let Some(ip) = ctx
            .client_ip
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
    {
        consent.insert("geo".into(), json!({ "ipAddress": ip.to_string() }));
    }
    if !consent.is_empty() {
        out["consent"] = Value::Object(consent);
    }
    if let Some(data) = obj.get("customData").filter(|d| !d.is_null()) {
        out["customData"] = custom_data(data, browser, config)?;
    }
    let user_agent = if browser {
        match ctx.user_agent.map(truncate_user_agent).map(str::trim) {
            Some("") | None => None,
            // Real user agents are printable ASCII; anything else is not passed on.
            Some(ua) if ua.bytes().all(|b| (0x20..0x7f).contains(&b)) && ua_text(ua) => Some(ua),
            Some(_) => {
                dropped.push(("userAgent".into(), "invalid_user_agent"));
                None
            }
        }
    } else {
        match obj.get("userAgent") {
            None | Some(Value::Null) => None,
            Some(Value::String(ua))
                if ua.chars().count() <= MAX_USER_AGENT_BYTES && ua_text(ua) =>
            {
                Some(ua.as_str()).filter(|ua| !ua.is_empty())
            }
            Some(_) => return Err(refuse("userAgent", "invalid_user_agent")),
        }
    };
    if let Some(ua) = user_agent {
        out["deviceInfo"] = json!({ "userAgent": ua });
    }
    Ok(((event_id_of(&out), out), dropped))
}

/// The first [`MAX_USER_AGENT_BYTES`] bytes of a user agent, cut on a character boundary.
pub fn truncate_user_agent(ua: &str) -> &str {
    if ua.len() <= MAX_USER_AGENT_BYTES {
        return ua;
    }
    let mut end = MAX_USER_AGENT_BYTES;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

/// A user agent passed on: no control character and no `@`.
fn ua_text(ua: &str) -> bool {
    !ua.chars().any(char::is_control) && !has_at(ua)
}

fn event_id_of(event: &Value) -> String {
    event["eventId"].as_str().unwrap_or_default().to_owned()
}

/// The event's match keys in Amazon's form, and the fields dropped (server callers).
fn match_keys(
    keys: Option<&Value>,
    sender: Sender,
    country: Country,
    normalizer: &mut Normalizer,
) -> Result<(Vec<Value>, Dropped), Refusal> {
    let obj: &Map<String, Value> = match keys {
        Some(Value::Object(o)) => o,
        None | Some(Value::Null) => return Err(refuse("matchKeys", "no_match_keys")),
        Some(_) => return Err(refuse("matchKeys", "invalid_match_keys")),
    };
    let mut out = Vec::new();
    let mut dropped = Vec::new();
    for (name, value) in obj {
        let field: Field = name
            .parse()
            .map_err(|_| (Some(format!("matchKeys.{}", label(name))), "unknown_field"))?;
        let location = format!("matchKeys.{}", field.as_str());
        let Some(value) = value.as_str() else {
            return Err((Some(location), "invalid_match_key_value"));
        };
        match identity::match_key_value(normalizer, sender, field, value, country) {
            Ok(Some(v)) => out.push(json!({ "type": field.as_str(), "values": [v] })),
            Ok(None) => {}
            // A browser's bad key refuses the event; a server's is dropped with a warning.
            Err(reason) if matches!(sender, Sender::Browser(_)) => {
                return Err((Some(location), reason.code()));
            }
            Err(reason) => dropped.push((location, reason.code())),
        }
    }
    if out.is_empty() {
        return Err(refuse("matchKeys", "no_match_keys"));
    }
    if out.len() > MAX_MATCH_KEYS {
        return Err(refuse("matchKeys", "too_many_match_keys"));
    }
    Ok((out, dropped))
}

/// The consent object rebuilt from validated scalars: `amazonConsent` (`amznUserData`
/// required, `amznAdStorage` optional, each `GRANTED` or `DENIED`), `tcf` and `gpp` strings
/// by shape, and (servers only) `geo.ipAddress`. Empty when no signal was sent (absent,
/// `null` or `{}`); the caller decides whether that is allowed for the country.
pub(crate) fn rebuild_consent(
    consent: Option<&Value>,
    caller: Caller,
) -> Result<Map<String, Value>, Refusal> {
    let mut out = Map::new();
    let obj = match consent {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(obj)) => obj,
        Some(_) => return Err(refuse("consent", "invalid_consent")),
    };
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let rebuilt = match key.as_str() {
            "amazonConsent" => amazon_consent(value)?,
            "tcf" => match value.as_str() {
                Some(s) if valid_tcf_string(s) => json!(s),
                _ => return Err(refuse("consent.tcf", "invalid_consent")),
            },
            "gpp" => match value.as_str() {
                Some(s) if valid_gpp_string(s) => json!(s),
                _ => return Err(refuse("consent.gpp", "invalid_consent")),
            },
            "geo" if caller == Caller::Browser => {
                return Err(refuse("consent.geo", "not_accepted_from_browser"));
            }
            "geo" => {
                let ip = value
                    .as_object()
                    .filter(|geo| geo.keys().all(|k| k == "ipAddress"))
                    .and_then(|geo| geo.get("ipAddress"))
                    .and_then(Value::as_str)
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                    .ok_or(refuse("consent.geo", "invalid_consent"))?;
                json!({ "ipAddress": ip.to_string() })
            }
            other => {
                return Err(refuse(
                    &format!("consent.{}", label(other)),
                    "field_not_accepted",
                ));
            }
        };
        out.insert(key.clone(), rebuilt);
    }
    Ok(out)
}

fn amazon_consent(value: &Value) -> Result<Value, Refusal> {
    let obj = value
        .as_object()
        .ok_or(refuse("consent.amazonConsent", "invalid_consent"))?;
    let state = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "GRANTED" => Ok(Some("GRANTED")),
        Some(Value::String(s)) if s == "DENIED" => Ok(Some("DENIED")),
        Some(_) => Err(refuse(
            &format!("consent.amazonConsent.{key}"),
            "invalid_consent",
        )),
    };
    if let Some(other) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "amznUserData" | "amznAdStorage"))
    {
        return Err(refuse(
            &format!("consent.amazonConsent.{}", label(other)),
            "field_not_accepted",
        ));
    }
    let user_data = state("amznUserData")?.ok_or(refuse(
        "consent.amazonConsent.amznUserData",
        "invalid_consent",
    ))?;
    let mut out = json!({ "amznUserData": user_data });
    if let Some(ad_storage) = state("amznAdStorage")? {
        out["amznAdStorage"] = json!(ad_storage);
    }
    Ok(out)
}

/// Whether a rebuilt consent grants use: `amznUserData` GRANTED, or a TCF or GPP string
/// (which Amazon reads itself).
fn granted(consent: &Map<String, Value>) -> bool {
    consent.contains_key("tcf")
        || consent.contains_key("gpp")
        || consent
            .get("amazonConsent")
            .is_some_and(|c| c["amznUserData"] == "GRANTED")
}

/// `customData`: browsers only by the configured names, with values of the configured
/// type; servers any name Amazon takes, with the same value checks.
fn custom_data(data: &Value, browser: bool, config: &Config) -> Result<Value, Refusal> {
    let items = data
        .as_array()
        .filter(|a| a.len() <= MAX_CUSTOM_DATA)
        .ok_or(refuse("customData", "invalid_custom_data"))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("customData[{i}]");
        let invalid = || (Some(field.clone()), "invalid_custom_data");
        let obj = item.as_object().ok_or_else(invalid)?;
        if browser
            && obj
                .keys()
                .any(|k| !matches!(k.as_str(), "name" | "value" | "dataType"))
        {
            return Err((Some(field), "field_not_accepted"));
        }
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let given = match obj.get("dataType") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(CustomType::parse(t).ok_or_else(invalid)?),
            Some(_) => return Err(invalid()),
        };
        let configured = config.custom_data.get(name).copied();
        let kind = if browser {
            let Some(kind) = configured else {
                return Err((Some(field), "field_not_accepted"));
            };
            if given.is_some_and(|g| g != kind) {
                return Err(invalid());
            }
            kind
        } else {
            if !valid_custom_data_name(name) {
                return Err(invalid());
            }
            given.or(configured).unwrap_or(CustomType::String)
        };
        let value = custom_value(obj.get("value"), kind).ok_or_else(invalid)?;
        out.push(json!({ "name": name, "value": value, "dataType": kind.as_str() }));
    }
    Ok(Value::Array(out))
}

/// A custom data value of type `kind`, as Amazon receives it (a string).
fn custom_value(value: Option<&Value>, kind: CustomType) -> Option<String> {
    let value = value?;
    match kind {
        CustomType::String => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            (token(&text, 256) && !looks_like_contact(&text)).then_some(text)
        }
        CustomType::Integer => {
            let n = match value {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.parse::<i64>().ok()?,
                _ => return None,
            };
            i32::try_from(n).ok().map(|n| n.to_string())
        }
        CustomType::Timestamp => {
            let t = OffsetDateTime::parse(value.as_str()?, &Rfc3339).ok()?;
            t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_with;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";
    const TCF: &str = "CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA";
    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0";

    fn config() -> Config {
        config_with(&[(
            "CUSTOM_DATA",
            r#"{"brand":"STRING","qty":"INTEGER","at":"TIMESTAMP"}"#,
        )])
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-09-10T12:00:00Z", &Rfc3339).unwrap()
    }

    fn ctx(caller: Caller) -> Context<'static> {
        Context {
            caller,
            user_agent: Some(UA),
            client_ip: Some("203.0.113.7"),
        }
    }

    fn run_with(events: Value, ctx: &Context<'_>, config: &Config) -> Outcome {
        let mut n = 0;
        let events = events.as_array().unwrap().clone();
        convert(&events, ctx, config, now(), &mut || {
            n += 1;
            format!("gen-{n}")
        })
    }

    fn run(events: Value, caller: Caller) -> Outcome {
        run_with(events, &ctx(caller), &config())
    }

    /// The reason one event (`base` with `change` merged in) is refused, if it is.
    fn reason(base: &Value, change: Value, caller: Caller, config: &Config) -> Option<Problem> {
        let mut event = base.clone();
        for (k, v) in change.as_object().unwrap() {
            event[k] = v.clone();
        }
        run_with(json!([event]), &ctx(caller), config)
            .rejected
            .pop()
    }

    fn browser_event() -> Value {
        json!({"name": "purchase", "country": "US", "matchKeys": {"EMAIL": HASH}})
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
        // Deeply nested JSON is refused by the parser's depth limit, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err(), BodyError::BadJson);
        let deep = format!(r#"{{"name":"x","customData":{}}}"#, "[".repeat(100_000));
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err(), BodyError::BadJson);
    }

    #[test]
    fn a_browser_event_becomes_an_amazon_event() {
        let out = run(
            json!([{"name": "purchase", "country": "us", "value": 12.5, "currency": "usd", "units": 2,
            "eventTime": "2026-09-10T10:00:00+02:00", "matchKeys": {"EMAIL": HASH.to_uppercase(), "MAID": "6D92078A-8246-4BA4-AE5B-76104861E7DC"},
            "customData": [{"name": "brand", "value": "acme"}, {"name": "qty", "value": 3}, {"name": "at", "value": "2026-09-10T10:00:00+02:00"}]}]),
            Caller::Browser,
        );
        assert_eq!(out.rejected, []);
        assert_eq!(out.warnings, []);
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
        assert_eq!(e["deviceInfo"]["userAgent"], UA, "from the request header");
        assert_eq!(
            e["customData"],
            json!([{"name": "brand", "value": "acme", "dataType": "STRING"},
                {"name": "qty", "value": "3", "dataType": "INTEGER"},
                {"name": "at", "value": "2026-09-10T08:00:00Z", "dataType": "TIMESTAMP"}])
        );
        assert!(e.get("consent").is_none());
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
    fn conversion_type_and_data_set_come_from_the_configuration_for_browsers() {
        let config = config_with(&[
            ("EVENT_MAP", r#"{"wishlist":"ADD_TO_SHOPPING_CART"}"#),
            ("DATA_SET_NAME", "web_events"),
        ]);
        let mut event = browser_event();
        event["name"] = json!("wishlist");
        event["conversionType"] = json!("OFF_AMAZON_PURCHASES");
        event["dataSetName"] = json!("jane@example.com");
        let out = run_with(json!([event]), &ctx(Caller::Browser), &config);
        let e = &out.accepted[0].event["eventDescription"];
        assert_eq!(e["conversionType"], "ADD_TO_SHOPPING_CART");
        assert_eq!(e["dataSetName"], "web_events");
        let fields: Vec<_> = out
            .warnings
            .iter()
            .map(|w| (w.field.as_deref().unwrap(), w.reason))
            .collect();
        assert_eq!(
            fields,
            [
                ("conversionType", "ignored_from_browser"),
                ("dataSetName", "ignored_from_browser")
            ]
        );
        // A server's are checked and kept.
        let out = run_with(json!([event]), &ctx(Caller::Server), &config);
        assert_eq!(out.rejected[0].field.as_deref(), Some("dataSetName"));
        assert_eq!(out.rejected[0].reason, "invalid_data_set_name");
        event["dataSetName"] = json!("crm_events");
        let out = run_with(json!([event]), &ctx(Caller::Server), &config);
        let e = &out.accepted[0].event["eventDescription"];
        assert_eq!(
            (e["conversionType"].as_str(), e["dataSetName"].as_str()),
            (Some("OFF_AMAZON_PURCHASES"), Some("crm_events"))
        );
        for bad in [json!("PURCHASE"), json!(3), json!("off_amazon_purchases")] {
            event["conversionType"] = bad;
            let out = run_with(json!([event]), &ctx(Caller::Server), &config);
            assert_eq!(out.rejected[0].reason, "invalid_conversion_type");
        }
    }

    #[test]
    fn browsers_may_send_only_the_listed_keys() {
        let config = config();
        for key in [
            "userAgent",
            "deviceInfo",
            "amazonAdEventKey",
            "partner",
            "eventDescription",
            "siteKey",
            "matchKeys2",
        ] {
            let p = reason(
                &browser_event(),
                json!({ key: "x" }),
                Caller::Browser,
                &config,
            )
            .unwrap();
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some(key), "field_not_accepted")
            );
        }
        // A key that could carry personal data is not echoed.
        for key in ["jane@example.com", "+1 206 555 0100", "ü"] {
            let p = reason(
                &browser_event(),
                json!({ key: 1 }),
                Caller::Browser,
                &config,
            )
            .unwrap();
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some("(redacted)"), "field_not_accepted")
            );
        }
        // Servers may send a user agent and unknown keys (ignored).
        let out = run(
            json!([{"name": "lead", "country": "US", "matchKeys": {"EMAIL": HASH}, "userAgent": "srv", "note": 1}]),
            Caller::Server,
        );
        assert_eq!(out.accepted[0].event["deviceInfo"]["userAgent"], "srv");
        assert!(out.accepted[0].event.get("note").is_none());
    }

    #[test]
    fn names_and_ids_have_a_charset_and_a_length() {
        let config = config();
        let base = browser_event();
        for (change, field, why) in [
            (json!({"name": "x".repeat(65)}), "name", "invalid_name"),
            (json!({"name": "jane@example.com"}), "name", "invalid_name"),
            (json!({"name": "jane＠example"}), "name", "invalid_name"),
            (json!({"name": "a b"}), "name", "invalid_name"),
            (json!({"name": "206-555-0100"}), "name", "invalid_name"),
            (json!({"name": ""}), "name", "invalid_name"),
            (json!({"name": 5}), "name", "invalid_name"),
            (json!({"name": null}), "name", "missing_name"),
            (
                json!({"eventId": "x".repeat(129)}),
                "eventId",
                "invalid_event_id",
            ),
            (json!({"eventId": "a@b"}), "eventId", "invalid_event_id"),
            (json!({"eventId": "a%40b"}), "eventId", "invalid_event_id"),
            (
                json!({"eventId": "415-555-0132"}),
                "eventId",
                "invalid_event_id",
            ),
            (
                json!({"eventId": "4155550132"}),
                "eventId",
                "invalid_event_id",
            ),
            (json!({"eventId": ""}), "eventId", "invalid_event_id"),
            (json!({"eventId": 7}), "eventId", "invalid_event_id"),
        ] {
            let p = reason(&base, change.clone(), Caller::Browser, &config).expect("refused");
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some(field), why),
                "{change}"
            );
        }
        for ok in [
            json!({"name": "checkout:step_2.v1-a"}),
            json!({"eventId": "order_100045:a.b-c"}),
        ] {
            assert_eq!(
                reason(&base, ok.clone(), Caller::Browser, &config),
                None,
                "{ok}"
            );
        }
        // Servers: up to 256 characters, no control characters, no @.
        let server = json!({"name": "purchase", "country": "US", "matchKeys": {"EMAIL": "jane@example.com"}});
        for (change, why) in [
            (json!({"name": "x".repeat(257)}), "invalid_name"),
            (json!({"name": "a\u{7}b"}), "invalid_name"),
            (json!({"name": "mail jane@example.com"}), "invalid_name"),
            (json!({"name": "   "}), "invalid_name"),
            (json!({"eventId": "a\nb"}), "invalid_event_id"),
            (json!({"eventId": "jane＠example.com"}), "invalid_event_id"),
            (json!({"eventId": "x".repeat(257)}), "invalid_event_id"),
        ] {
            assert_eq!(
                reason(&server, change.clone(), Caller::Server, &config).map(|p| p.reason),
                Some(why),
                "{change}"
            );
        }
        let out = run_with(
            json!([{"name": " Newsletter sign-up ", "eventId": "order 1/2", "country": "US", "matchKeys": {"EMAIL": HASH}}]),
            &ctx(Caller::Server),
            &config,
        );
        assert_eq!(
            out.accepted[0].event["eventDescription"]["name"],
            "Newsletter sign-up"
        );
        assert_eq!(out.accepted[0].event["eventId"], "order 1/2");
    }

    #[test]
    fn match_ids_from_browsers_need_browser_ids_and_must_not_look_like_contact_data() {
        let base = browser_event();
        let keys = |field: &str, value: &str| json!({"matchKeys": {"EMAIL": HASH, field: value}});
        let none = config();
        let ids = config_with(&[("BROWSER_IDS", "MATCH_ID, ramp_id")]);
        for field in ["MATCH_ID", "RAMP_ID"] {
            let p = reason(&base, keys(field, "cust_1"), Caller::Browser, &none).unwrap();
            assert_eq!(p.reason, "not_allowed_from_browser");
            assert_eq!(p.field, Some(format!("matchKeys.{field}")));
            assert_eq!(
                reason(&base, keys(field, "cust_1"), Caller::Browser, &ids),
                None
            );
            for smuggled in [
                "jane.doe@example.com",
                "jane＠example.com",
                "jane%40example.com",
                "+44 7911 123456",
                "２０６５５５０１００",
            ] {
                let p = reason(&base, keys(field, smuggled), Caller::Browser, &ids).unwrap();
                assert_eq!(p.reason, "looks_like_personal_data", "{smuggled}");
            }
        }
        // A server's is dropped with a warning; the event goes on with the other keys.
        let out = run(
            json!([{"name": "lead", "country": "US", "matchKeys": {"EMAIL": "abc@example.com", "MATCH_ID": "jane@example.com"}}]),
            Caller::Server,
        );
        assert_eq!(
            out.accepted[0].event["matchKeys"],
            json!([{"type": "EMAIL", "values": [HASH]}])
        );
        assert_eq!(out.warnings[0].reason, "looks_like_personal_data");
        // Unknown and non-string keys.
        let p = reason(
            &base,
            json!({"matchKeys": {"jane@example.com": HASH}}),
            Caller::Browser,
            &none,
        )
        .unwrap();
        assert_eq!(
            (p.field.as_deref(), p.reason),
            (Some("matchKeys.(redacted)"), "unknown_field")
        );
        let p = reason(
            &base,
            json!({"matchKeys": {"EMAIL": ["x"]}}),
            Caller::Browser,
            &none,
        )
        .unwrap();
        assert_eq!(p.reason, "invalid_match_key_value");
        let p = reason(&base, json!({"matchKeys": ["x"]}), Caller::Browser, &none).unwrap();
        assert_eq!(p.reason, "invalid_match_keys");
    }

    #[test]
    fn servers_send_raw_values_hashed_here_like_the_browser_would() {
        let out = run(
            json!([{"name": "lead", "country": "GB", "consent": {"tcf": TCF},
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
    fn consent_is_rebuilt_from_checked_scalars() {
        let config = config();
        let de = json!({"name": "purchase", "country": "DE", "matchKeys": {"EMAIL": HASH}});
        let with = |consent: Value| json!({ "consent": consent });
        for (consent, field, why) in [
            (json!(null), "consent", "consent_required"),
            (json!({}), "consent", "consent_required"),
            (json!({"tcf": null}), "consent", "consent_required"),
            (json!("granted"), "consent", "invalid_consent"),
            (
                json!({"amazonConsent": {"amznUserData": "YES"}}),
                "consent.amazonConsent.amznUserData",
                "invalid_consent",
            ),
            (
                json!({"amazonConsent": {"amznAdStorage": "GRANTED"}}),
                "consent.amazonConsent.amznUserData",
                "invalid_consent",
            ),
            (
                json!({"amazonConsent": {"amznUserData": "GRANTED", "email": "jane@example.com"}}),
                "consent.amazonConsent.email",
                "field_not_accepted",
            ),
            (
                json!({"amazonConsent": "GRANTED"}),
                "consent.amazonConsent",
                "invalid_consent",
            ),
            (
                json!({"tcf": "jane@example.com"}),
                "consent.tcf",
                "invalid_consent",
            ),
            (json!({"tcf": 5}), "consent.tcf", "invalid_consent"),
            (
                json!({"gpp": "DBABMA~jane@example.com"}),
                "consent.gpp",
                "invalid_consent",
            ),
            (
                json!({"geo": {"ipAddress": "1.1.1.1"}}),
                "consent.geo",
                "not_accepted_from_browser",
            ),
            (
                json!({"geo": {"ipAddress": "1.1.1.1", "email": "jane@example.com"}}),
                "consent.geo",
                "not_accepted_from_browser",
            ),
            (
                json!({"tcf": TCF, "jane@example.com": 1}),
                "consent.(redacted)",
                "field_not_accepted",
            ),
        ] {
            let p = reason(&de, with(consent.clone()), Caller::Browser, &config).expect("refused");
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some(field), why),
                "{consent}"
            );
        }
        let out = run_with(json!([de.clone()].into_iter().map(|mut e| { e["consent"] = json!({"amazonConsent": {"amznUserData": "DENIED", "amznAdStorage": "DENIED"}, "tcf": TCF, "gpp": "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}); e }).collect::<Vec<_>>()), &ctx(Caller::Browser), &config);
        let c = &out.accepted[0].event["consent"];
        assert_eq!(
            c["amazonConsent"],
            json!({"amznUserData": "DENIED", "amznAdStorage": "DENIED"})
        );
        assert_eq!(c["tcf"], TCF);
        assert!(c.get("geo").is_none(), "ADD_CLIENT_IP is off by default");
        // Outside consent countries nothing is needed, and {} is no consent.
        let us = json!({"name": "purchase", "country": "US", "matchKeys": {"EMAIL": HASH}, "consent": {}});
        let out = run_with(json!([us]), &ctx(Caller::Browser), &config);
        assert!(out.accepted[0].event.get("consent").is_none());
        // A server may send geo with a valid IP (passed on in canonical form).
        let out = run_with(
            json!([{"name": "lead", "country": "FR", "matchKeys": {"EMAIL": HASH}, "consent": {"geo": {"ipAddress": "2001:DB8::1"}}}]),
            &ctx(Caller::Server),
            &config,
        );
        assert_eq!(
            out.accepted[0].event["consent"],
            json!({"geo": {"ipAddress": "2001:db8::1"}})
        );
        for geo in [
            json!({"ipAddress": "jane@example.com"}),
            json!({"ipAddress": "1.1.1.1", "email": "x"}),
            json!("1.1.1.1"),
        ] {
            let p = reason(
                &de,
                json!({"consent": {"geo": geo}}),
                Caller::Server,
                &config,
            )
            .unwrap();
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some("consent.geo"), "invalid_consent")
            );
        }
    }

    #[test]
    fn the_client_ip_is_added_only_when_configured_and_consent_is_granted() {
        let config = config_with(&[("ADD_CLIENT_IP", "true")]);
        let event = |country: &str, consent: Value| json!({"name": "purchase", "country": country, "matchKeys": {"EMAIL": HASH}, "consent": consent});
        let ip_of = |e: Value, caller: Caller| {
            let out = run_with(json!([e]), &ctx(caller), &config);
            out.accepted[0].event["consent"]["geo"]["ipAddress"]
                .as_str()
                .map(str::to_owned)
        };
        let granted = json!({"amazonConsent": {"amznUserData": "GRANTED"}});
        assert_eq!(
            ip_of(event("DE", granted.clone()), Caller::Browser).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            ip_of(event("DE", json!({"tcf": TCF})), Caller::Browser).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            ip_of(
                event(
                    "DE",
                    json!({"amazonConsent": {"amznUserData": "DENIED", "amznAdStorage": "GRANTED"}})
                ),
                Caller::Browser
            ),
            None
        );
        assert_eq!(ip_of(event("US", json!(null)), Caller::Browser), None);
        assert_eq!(
            ip_of(event("DE", granted.clone()), Caller::Server),
            None,
            "a server's IP is not the visitor's"
        );
        let bad_ip = Context {
            client_ip: Some("not an ip"),
            ..ctx(Caller::Browser)
        };
        let out = run_with(json!([event("DE", granted.clone())]), &bad_ip, &config);
        assert!(out.accepted[0].event["consent"].get("geo").is_none());
        let off = run_with(
            json!([event("DE", granted)]),
            &ctx(Caller::Browser),
            &self::config(),
        );
        assert!(off.accepted[0].event["consent"].get("geo").is_none());
    }

    #[test]
    fn the_user_agent_of_a_browser_is_the_request_header_cut_to_512_bytes() {
        let config = config();
        let long = format!("{}@", "a".repeat(512));
        let agent = |ua: Option<&str>| {
            let c = Context {
                user_agent: ua,
                ..ctx(Caller::Browser)
            };
            let out = run_with(json!([browser_event()]), &c, &config);
            (
                out.accepted[0].event["deviceInfo"]["userAgent"]
                    .as_str()
                    .map(str::to_owned),
                out.warnings,
            )
        };
        assert_eq!(agent(Some(&long)).0.unwrap(), "a".repeat(512));
        assert_eq!(agent(None), (None, vec![]));
        assert_eq!(agent(Some("  ")), (None, vec![]));
        for bad in [
            "Mozilla jane@example.com",
            "Mozilla\u{0}",
            "x%40y",
            "ua＠",
            "ua é",
        ] {
            let (ua, warnings) = agent(Some(bad));
            assert_eq!(ua, None);
            assert_eq!(warnings[0].reason, "invalid_user_agent");
        }
        assert_eq!(truncate_user_agent(&"é".repeat(300)).len(), 512);
        assert_eq!(
            truncate_user_agent(&format!("a{}", "é".repeat(300))).len(),
            511
        );
        // A server's body user agent is checked, not cut.
        let server = json!({"name": "lead", "country": "US", "matchKeys": {"EMAIL": HASH}});
        for bad in [
            json!("x".repeat(513)),
            json!("a@b"),
            json!(5),
            json!("a\tb"),
        ] {
            assert_eq!(
                reason(&server, json!({"userAgent": bad}), Caller::Server, &config)
                    .map(|p| p.reason),
                Some("invalid_user_agent")
            );
        }
    }

    #[test]
    fn custom_data_only_by_configured_names_and_types() {
        let config = config();
        let base = browser_event();
        let with = |items: Value| json!({ "customData": items });
        for (items, field, why) in [
            (
                json!([{"name": "loyalty", "value": "gold"}]),
                "customData[0]",
                "field_not_accepted",
            ),
            (
                json!([{"name": "brand", "value": "acme"}, {"name": "email", "value": "x"}]),
                "customData[1]",
                "field_not_accepted",
            ),
            (
                json!([{"name": "brand", "value": "acme", "extra": 1}]),
                "customData[0]",
                "field_not_accepted",
            ),
            (
                json!([{"name": "brand", "value": "jane@example.com"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": "jane＠example"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": "a b"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": "2065550100"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": "x".repeat(257)}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": ""}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": {"a": 1}}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "brand", "value": "acme", "dataType": "INTEGER"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "qty", "value": "abc"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "qty", "value": 2_147_483_648_i64}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "qty", "value": 1.5}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "at", "value": "yesterday"}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (
                json!([{"name": "at", "value": 1_700_000_000}]),
                "customData[0]",
                "invalid_custom_data",
            ),
            (json!(["brand"]), "customData[0]", "invalid_custom_data"),
            (
                json!({"brand": "acme"}),
                "customData",
                "invalid_custom_data",
            ),
            (
                json!(vec![json!({"name": "brand", "value": "a"}); 14]),
                "customData",
                "invalid_custom_data",
            ),
        ] {
            let p = reason(&base, with(items.clone()), Caller::Browser, &config).expect("refused");
            assert_eq!(
                (p.field.as_deref(), p.reason),
                (Some(field), why),
                "{items}"
            );
        }
        // Nothing configured: no custom data from browsers at all.
        let bare = config_with(&[]);
        let p = reason(
            &base,
            with(json!([{"name": "brand", "value": "acme"}])),
            Caller::Browser,
            &bare,
        )
        .unwrap();
        assert_eq!(p.reason, "field_not_accepted");
        // Servers: any Amazon-shaped name, the same value checks.
        let server = json!({"name": "lead", "country": "US", "matchKeys": {"EMAIL": HASH}});
        let out = run_with(
            json!([{"customData": [{"name": "tier", "value": "gold"}, {"name": "qty", "value": "-7"}, {"name": "n", "value": 4, "dataType": "INTEGER"}], "name": "lead", "country": "US", "matchKeys": {"EMAIL": HASH}}]),
            &ctx(Caller::Server),
            &bare,
        );
        assert_eq!(
            out.accepted[0].event["customData"],
            json!([
            {"name": "tier", "value": "gold", "dataType": "STRING"},
            {"name": "qty", "value": "-7", "dataType": "STRING"},
            {"name": "n", "value": "4", "dataType": "INTEGER"}])
        );
        for items in [
            json!([{"name": "a b", "value": "x"}]),
            json!([{"name": "tier", "value": "jane@example.com"}]),
            json!([{"name": "n", "value": "x", "dataType": "INTEGER"}]),
            json!([{"name": "n", "value": "x", "dataType": "DATE"}]),
        ] {
            assert_eq!(
                reason(&server, with(items.clone()), Caller::Server, &bare).map(|p| p.reason),
                Some("invalid_custom_data"),
                "{items}"
            );
        }
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let base = browser_event();
        let config = config();
        for (change, reason_code) in [
            (json!({"eventTime": "yesterday"}), "invalid_event_time"),
            (json!({"eventTime": 5}), "invalid_event_time"),
            (
                json!({"eventTime": "2026-08-19T11:00:00Z"}),
                "event_too_old",
            ),
            (
                json!({"eventTime": "2026-09-10T12:06:00Z"}),
                "event_in_future",
            ),
            (json!({"country": "USA"}), "invalid_country"),
            (json!({"country": 1}), "invalid_country"),
            (json!({"country": null}), "missing_country"),
            (json!({"value": -1}), "invalid_purchase_value"),
            (json!({"value": 1.005}), "invalid_purchase_value"),
            (json!({"value": 1e10}), "invalid_purchase_value"),
            (json!({"value": "12"}), "invalid_value"),
            (json!({"currency": "US"}), "invalid_currency"),
            (json!({"currency": "U$D"}), "invalid_currency"),
            (json!({"currency": "ＵＳＤ"}), "invalid_currency"),
            (json!({"currency": "XYZ"}), "invalid_currency"),
            (json!({"units": 0}), "invalid_units"),
            (json!({"units": 2_147_483_648_i64}), "invalid_units"),
            (json!({"units": 1.5}), "invalid_units"),
            (json!({"units": "2"}), "invalid_units"),
            (json!({"matchKeys": {}}), "no_match_keys"),
            (json!({"matchKeys": {"EMAIL": " "}}), "no_match_keys"),
            (json!({"matchKeys": null}), "no_match_keys"),
            (json!({"matchKeys": {"NICK": "x"}}), "unknown_field"),
            (json!({"country": "DE"}), "consent_required"),
            (json!({"country": "fr"}), "consent_required"),
        ] {
            assert_eq!(
                reason(&base, change.clone(), Caller::Browser, &config).map(|p| p.reason),
                Some(reason_code),
                "{change}"
            );
        }
        // Values of other conversion types may be negative (`EventCreate.value`: "can be
        // negative, max 2 decimals").
        let mut page = base.clone();
        page["name"] = json!("page_view");
        assert_eq!(
            reason(&page, json!({"value": -12.5}), Caller::Browser, &config),
            None
        );
        for value in [json!(1.005), json!(-1e10)] {
            assert_eq!(
                reason(&page, json!({"value": value}), Caller::Browser, &config).map(|p| p.reason),
                Some("invalid_value")
            );
        }
        // Each API its window and currencies: the legacy import takes 7 days and 18 codes.
        let legacy = config_with(&[
            ("API_KIND", "dsp"),
            ("PROFILE_ID", "333"),
            ("CONVERSION_DEFINITIONS", r#"{"*":"591"}"#),
        ]);
        let eight_days = json!({"eventTime": "2026-09-02T12:00:00Z"});
        let argentina = json!({"currency": "ars"});
        assert_eq!(
            reason(&base, eight_days.clone(), Caller::Browser, &config),
            None
        );
        assert_eq!(
            reason(&base, argentina.clone(), Caller::Browser, &config),
            None
        );
        for (change, code) in [
            (eight_days, "event_too_old"),
            (argentina, "invalid_currency"),
        ] {
            assert_eq!(
                reason(&base, change, Caller::Browser, &legacy).map(|p| p.reason),
                Some(code)
            );
        }
        assert_eq!(
            reason(
                &base,
                json!({"eventTime": "2026-09-04T12:00:00Z", "currency": "nok"}),
                Caller::Browser,
                &legacy
            ),
            None
        );
        let out = run(json!([7, "x"]), Caller::Browser);
        assert!(
            out.rejected
                .iter()
                .all(|p| p.reason == "event_not_an_object" && p.field.is_none())
        );
    }

    #[test]
    fn no_answer_holds_a_value() {
        let secret = "jane.doe@example.com";
        let mut events = Vec::new();
        for key in [
            "name",
            "eventId",
            "eventTime",
            "country",
            "value",
            "currency",
            "units",
            "userAgent",
            secret,
        ] {
            let mut e = browser_event();
            e[key] = json!(secret);
            events.push(e);
        }
        for matchkeys in [
            json!({"EMAIL": secret}),
            json!({"MATCH_ID": secret}),
            json!({ secret: HASH }),
            json!({"PHONE": "+1 206 555 0100"}),
        ] {
            let mut e = browser_event();
            e["matchKeys"] = matchkeys;
            events.push(e);
        }
        for consent in [
            json!({"tcf": secret}),
            json!({"geo": {"ipAddress": secret}}),
            json!({ secret: 1 }),
            json!({"amazonConsent": {"amznUserData": secret}}),
        ] {
            let mut e = browser_event();
            e["consent"] = consent;
            events.push(e);
        }
        let mut e = browser_event();
        e["customData"] = json!([{"name": secret, "value": secret}]);
        events.push(e);
        for caller in [Caller::Browser, Caller::Server] {
            let out = run(Value::Array(events.clone()), caller);
            let text = format!(
                "{:?} {:?} {}",
                out.rejected,
                out.warnings,
                serde_json::to_string(&out.rejected).unwrap()
            );
            assert!(
                !text.contains('@') && !text.contains("jane") && !text.contains("206"),
                "{text}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn config() -> Config {
        Config::from_vars(|k| match k {
            "ADVERTISER_ID" => Some("ENTITY1".into()),
            "BROWSER_IDS" => Some("MATCH_ID,RAMP_ID".into()),
            "CUSTOM_DATA" => Some(r#"{"brand":"STRING","qty":"INTEGER","at":"TIMESTAMP"}"#.into()),
            "ADD_CLIENT_IP" => Some("true".into()),
            _ => None,
        })
        .unwrap()
    }

    /// Strings an attacker would try: e-mail and phone shapes, look-alikes, digests,
    /// consent strings, and anything at all.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("jane.doe@example.com".to_owned()),
            Just("jane＠example.com".to_owned()),
            Just("jane%40example.com".to_owned()),
            Just("jane﹫example.com".to_owned()),
            Just("+1 (206) 555-0100".to_owned()),
            Just("２０６５５５０１００".to_owned()),
            Just("9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21".to_owned()),
            Just("9ECEB13483D7F187EC014FD6D4854D1420CFC634328AF85F51D0323BA8622E21".to_owned()),
            Just("6D92078A-8246-4BA4-AE5B-76104861E7DC".to_owned()),
            Just("CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA".to_owned()),
            Just("DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA".to_owned()),
            Just("GRANTED".to_owned()),
            Just("2026-09-10T11:00:00Z".to_owned()),
            Just("DE".to_owned()),
            Just("US".to_owned()),
            Just("purchase".to_owned()),
            "[a-zA-Z0-9_.:@ -]{0,20}",
            any::<String>(),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "name", "eventId", "eventTime", "country", "matchKeys", "value", "currency",
                "units", "customData", "consent", "conversionType", "dataSetName", "userAgent",
                "EMAIL", "PHONE", "MATCH_ID", "RAMP_ID", "MAID", "FIRST_NAME", "amazonConsent",
                "amznUserData", "amznAdStorage", "tcf", "gpp", "geo", "ipAddress", "dataType",
                "deviceInfo", "externalUserId",
            ]).prop_map(str::to_owned),
            1 => text(),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            (0u32..1000).prop_map(|n| json!(f64::from(n) / 100.0)),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An event that is mostly right, with random fields replaced or added.
    fn event() -> impl Strategy<Value = Value> {
        let base = json!({"name": "purchase", "country": "US", "eventTime": "2026-09-10T11:00:00Z",
            "matchKeys": {"EMAIL": "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21"}});
        prop_oneof![
            json_value(),
            prop::collection::vec((key(), json_value()), 0..6).prop_map(move |changes| {
                let mut e = base.clone();
                for (k, v) in changes {
                    e[k] = v;
                }
                e
            }),
        ]
    }

    const EVENT_KEYS: [&str; 11] = [
        "eventDescription",
        "countryCode",
        "eventTime",
        "eventId",
        "matchKeys",
        "value",
        "currencyCode",
        "unitsSold",
        "consent",
        "customData",
        "deviceInfo",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn browser_events_carry_only_digests_and_safe_scalars(
            events in prop::collection::vec(event(), 1..4),
            ua in prop::option::of(text()),
            ip in prop::option::of(text()),
        ) {
            let config = config();
            let now = OffsetDateTime::parse("2026-09-10T12:00:00Z", &Rfc3339).unwrap();
            let ctx = Context { caller: Caller::Browser, user_agent: ua.as_deref(), client_ip: ip.as_deref() };
            let out = convert(&events, &ctx, &config, now, &mut || "id".to_owned());
            prop_assert_eq!(out.accepted.len() + out.rejected.len(), events.len());
            for a in &out.accepted {
                let text = a.event.to_string();
                prop_assert!(!text.contains('@') && !text.contains('＠') && !text.contains('﹫'));
                prop_assert!(!text.to_ascii_lowercase().contains("%40"));
                let obj = a.event.as_object().unwrap();
                prop_assert!(obj.keys().all(|k| EVENT_KEYS.contains(&k.as_str())), "{}", text);
                let description = a.event["eventDescription"].as_object().unwrap();
                prop_assert!(description.keys().all(|k| ["name", "conversionType", "eventSource", "eventIngestionMethod", "dataSetName"].contains(&k.as_str())));
                prop_assert!(CONVERSION_TYPES.contains(&description["conversionType"].as_str().unwrap()));
                if let Some(consent) = a.event.get("consent") {
                    prop_assert!(consent.as_object().unwrap().keys().all(|k| ["amazonConsent", "tcf", "gpp", "geo"].contains(&k.as_str())));
                }
                if let Some(info) = a.event.get("deviceInfo") {
                    prop_assert!(info["userAgent"].as_str().unwrap().len() <= MAX_USER_AGENT_BYTES);
                }
                for key in a.event["matchKeys"].as_array().unwrap() {
                    let field: Field = key["type"].as_str().unwrap().parse().unwrap();
                    let values = key["values"].as_array().unwrap();
                    prop_assert_eq!(values.len(), 1);
                    let value = values[0].as_str().unwrap();
                    if field.is_hashed() {
                        prop_assert!(matchkey::is_lower_sha256_hex(value), "{}", value);
                    } else {
                        prop_assert!(!looks_like_contact(value), "{}", value);
                    }
                }
            }
            for p in out.rejected.iter().chain(&out.warnings) {
                let field = p.field.as_deref().unwrap_or_default();
                prop_assert!(!has_at(field));
            }
        }

        #[test]
        fn server_events_never_panic(events in prop::collection::vec(event(), 1..4)) {
            let config = config();
            let now = OffsetDateTime::parse("2026-09-10T12:00:00Z", &Rfc3339).unwrap();
            let ctx = Context { caller: Caller::Server, user_agent: None, client_ip: None };
            let out = convert(&events, &ctx, &config, now, &mut || "id".to_owned());
            prop_assert_eq!(out.accepted.len() + out.rejected.len(), events.len());
        }
    }
}
