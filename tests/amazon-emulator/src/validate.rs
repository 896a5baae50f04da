//! Field-by-field validation of what the emulated APIs receive, as pure functions over
//! parsed JSON: Events API events, legacy DSP event data, AMC audience records. Each rule
//! has an accepted and a rejected case in the tests below. Messages never echo a value.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One problem with one field, in Amazon's per-event error shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// Amazon `ErrorCode` (`FIELD_VALUE_IS_INVALID`, …).
    pub code: &'static str,
    /// Where, e.g. `events[3].matchKeys[0].values[0]`.
    pub field_location: String,
    /// What is wrong, without the value.
    pub message: String,
}

/// The Events API accepts events at most this old.
pub const EVENTS_LOOKBACK_DAYS: i64 = 21;
/// The legacy DSP API accepts events at most this old.
pub const LEGACY_LOOKBACK_DAYS: i64 = 7;
/// Clock skew tolerated for event times in the future, in seconds.
pub const FUTURE_SKEW_SECS: i64 = 300;

/// `conversionType` values of the Events API.
pub const CONVERSION_TYPES: &[&str] = &[
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
const EVENT_SOURCES: &[&str] = &[
    "WEBSITE",
    "ANDROID",
    "IOS",
    "FIRE_TV",
    "OFFLINE",
    "MEASUREMENT_ATTRIBUTION_PARTNER",
];
/// Match-key types whose value must be a SHA-256 digest.
pub const HASHED_TYPES: &[&str] = &[
    "EMAIL",
    "PHONE",
    "FIRST_NAME",
    "LAST_NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "POSTAL",
];
const RAW_TYPES: &[&str] = &[
    "MAID",
    "RAMP_ID",
    "MATCH_ID",
    "REAL_ID",
    "MERKLE_ID",
    "KANTAR_ID",
    "FIP",
];
/// ISO 4217 codes the Events API takes (a subset of its enum; every code a test uses).
const CURRENCIES: &[&str] = &[
    "AED", "ARS", "AUD", "BGN", "BHD", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK",
    "EGP", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JOD", "JPY", "KES", "KRW",
    "KWD", "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "OMR", "PEN", "PHP", "PKR", "PLN", "QAR",
    "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "VND", "ZAR",
];
/// Countries where Amazon requires a consent signal (EEA, UK, CH).
pub const CONSENT_COUNTRIES: &[&str] = &[
    "AT",
    "BE",
    "BG",
    "CH",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GB",
    "GR",
    "HR",
    "HU",
    "IE",
    "IS",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "NO",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
    "OTHER_EEA",
];
const EVENT_KEYS: &[&str] = &[
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

/// Collects errors under a location prefix.
struct Errors<'a> {
    prefix: &'a str,
    list: Vec<FieldError>,
}

impl Errors<'_> {
    fn add(&mut self, code: &'static str, field: &str, message: impl Into<String>) {
        self.list.push(FieldError {
            code,
            field_location: format!("{}.{field}", self.prefix),
            message: message.into(),
        });
    }

    /// A required string field; `None` (and an error) when absent or not a non-empty string.
    fn string<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        field: &str,
        loc: &str,
    ) -> Option<&'v str> {
        match obj.get(field) {
            None | Some(Value::Null) => {
                self.add("FIELD_VALUE_IS_NULL", loc, format!("{field} is required"));
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                self.add(
                    "FIELD_VALUE_IS_EMPTY",
                    loc,
                    format!("{field} must not be empty"),
                );
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.add(
                    "FIELD_VALUE_IS_INVALID",
                    loc,
                    format!("{field} must be a string"),
                );
                None
            }
        }
    }

    fn one_of(&mut self, value: Option<&str>, allowed: &[&str], loc: &str) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.add(
                "FIELD_VALUE_IS_INVALID",
                loc,
                "not one of the allowed values",
            );
        }
    }
}

/// Whether `s` is 64 lowercase hex digits (the only form Amazon takes for hashed keys).
pub fn is_lower_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_country(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && matchkey::Country::parse(code).is_ok()
}

fn check_time(
    errors: &mut Errors<'_>,
    value: Option<&str>,
    loc: &str,
    now: OffsetDateTime,
    days: i64,
) {
    let Some(value) = value else { return };
    match OffsetDateTime::parse(value, &Rfc3339) {
        Err(_) => errors.add("FIELD_VALUE_IS_INVALID", loc, "not an RFC 3339 date-time"),
        Ok(t) if t < now - time::Duration::days(days) => errors.add(
            "FIELD_VALUE_IS_OUT_OF_RANGE",
            loc,
            format!("older than the allowed lookback window of {days} days"),
        ),
        Ok(t) if t > now + time::Duration::seconds(FUTURE_SKEW_SECS) => {
            errors.add("FIELD_VALUE_IS_OUT_OF_RANGE", loc, "in the future")
        }
        Ok(_) => {}
    }
}

fn check_match_keys(errors: &mut Errors<'_>, keys: Option<&Value>, allowed_raw: &[&str]) {
    let Some(Value::Array(keys)) = keys else {
        errors.add("FIELD_VALUE_IS_NULL", "matchKeys", "matchKeys is required");
        return;
    };
    if keys.is_empty() || keys.len() > 15 {
        errors.add(
            "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT",
            "matchKeys",
            "1 to 15 match keys are required",
        );
    }
    for (i, key) in keys.iter().enumerate() {
        let loc = format!("matchKeys[{i}]");
        let Some(obj) = key.as_object() else {
            errors.add("FIELD_VALUE_IS_INVALID", &loc, "a match key is an object");
            continue;
        };
        let kind = errors.string(obj, "type", &format!("{loc}.type"));
        if let Some(kind) = kind
            && !HASHED_TYPES.contains(&kind)
            && !allowed_raw.contains(&kind)
        {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                &format!("{loc}.type"),
                "unknown match-key type",
            );
        }
        let values = match obj.get("values") {
            Some(Value::Array(v)) if v.len() == 1 => v,
            _ => {
                errors.add(
                    "FIELD_VALUE_IS_INVALID",
                    &format!("{loc}.values"),
                    "exactly one value is required",
                );
                continue;
            }
        };
        let vloc = format!("{loc}.values[0]");
        match (&values[0], kind) {
            (Value::String(v), Some(kind))
                if HASHED_TYPES.contains(&kind) && !is_lower_hex64(v) =>
            {
                errors.add(
                    "FIELD_VALUE_IS_INVALID",
                    &vloc,
                    "hashed match keys must be lowercase SHA-256 hex digests",
                )
            }
            (Value::String(v), Some(_)) if is_lower_hex64(v) && kind == Some("MAID") => {
                errors.add("FIELD_VALUE_IS_INVALID", &vloc, "MAID must not be hashed")
            }
            (Value::String(v), _) if v.is_empty() => {
                errors.add("FIELD_VALUE_IS_EMPTY", &vloc, "empty value")
            }
            (Value::String(_), _) => {}
            _ => errors.add("FIELD_VALUE_IS_INVALID", &vloc, "a value is a string"),
        }
    }
}

fn check_consent(errors: &mut Errors<'_>, country: Option<&str>, consent: Option<&Value>) {
    let needs = country.is_some_and(|c| CONSENT_COUNTRIES.contains(&c));
    let Some(consent) = consent else {
        if needs {
            errors.add(
                "FIELD_VALUE_IS_NULL",
                "consent",
                "events from the EEA, UK and CH need a consent signal",
            );
        }
        return;
    };
    let Some(obj) = consent.as_object() else {
        errors.add("FIELD_VALUE_IS_INVALID", "consent", "consent is an object");
        return;
    };
    for key in obj.keys() {
        if !["geo", "amazonConsent", "tcf", "gpp"].contains(&key.as_str()) {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                &format!("consent.{key}"),
                "unknown consent field",
            );
        }
    }
    if let Some(ac) = obj.get("amazonConsent") {
        let granted =
            |v: Option<&Value>| matches!(v.and_then(Value::as_str), Some("GRANTED" | "DENIED"));
        if !granted(ac.get("amznUserData")) {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                "consent.amazonConsent.amznUserData",
                "GRANTED or DENIED is required",
            );
        }
        if ac.get("amznAdStorage").is_some() && !granted(ac.get("amznAdStorage")) {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                "consent.amazonConsent.amznAdStorage",
                "GRANTED or DENIED",
            );
        }
    }
    for key in ["tcf", "gpp"] {
        if obj
            .get(key)
            .is_some_and(|v| v.as_str().is_none_or(str::is_empty))
        {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                &format!("consent.{key}"),
                "a non-empty string",
            );
        }
    }
    if needs
        && !["geo", "amazonConsent", "tcf", "gpp"]
            .iter()
            .any(|k| obj.contains_key(*k))
    {
        errors.add(
            "FIELD_VALUE_IS_NULL",
            "consent",
            "events from the EEA, UK and CH need a consent signal",
        );
    }
}

fn is_name_charset(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Validates one Events API event (`events[index]`) at time `now`.
pub fn event(value: &Value, index: usize, now: OffsetDateTime) -> Vec<FieldError> {
    let prefix = format!("events[{index}]");
    let mut errors = Errors {
        prefix: &prefix,
        list: Vec::new(),
    };
    let Some(obj) = value.as_object() else {
        errors.add("BAD_REQUEST", "", "an event is an object");
        return errors.list;
    };
    for key in obj.keys() {
        if !EVENT_KEYS.contains(&key.as_str()) {
            errors.add("FIELD_VALUE_IS_INVALID", key, "unknown field");
        }
    }
    let conversion_type = match obj.get("eventDescription").and_then(Value::as_object) {
        None => {
            errors.add(
                "FIELD_VALUE_IS_NULL",
                "eventDescription",
                "eventDescription is required",
            );
            None
        }
        Some(desc) => {
            errors.string(desc, "name", "eventDescription.name");
            let ct = errors.string(desc, "conversionType", "eventDescription.conversionType");
            errors.one_of(ct, CONVERSION_TYPES, "eventDescription.conversionType");
            let source = errors.string(desc, "eventSource", "eventDescription.eventSource");
            errors.one_of(source, EVENT_SOURCES, "eventDescription.eventSource");
            let method = errors.string(
                desc,
                "eventIngestionMethod",
                "eventDescription.eventIngestionMethod",
            );
            errors.one_of(
                method,
                &["SERVER_TO_SERVER"],
                "eventDescription.eventIngestionMethod",
            );
            if let Some(ds) = desc.get("dataSetName") {
                let ok = ds.as_str().is_some_and(|s| {
                    s.starts_with(|c: char| c.is_ascii_alphabetic())
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if !ok {
                    errors.add(
                        "FIELD_VALUE_CONTAINS_INVALID_CHARACTERS",
                        "eventDescription.dataSetName",
                        "[A-Za-z][A-Za-z0-9_-]*",
                    );
                }
            }
            ct
        }
    };
    let country = match obj.get("countryCode") {
        None | Some(Value::Null) => {
            errors.add(
                "MISSING_COUNTRY_CODE",
                "countryCode",
                "countryCode is required",
            );
            None
        }
        Some(Value::String(c)) if is_country(c) || c == "OTHER" || c == "OTHER_EEA" => {
            Some(c.as_str())
        }
        Some(_) => {
            errors.add(
                "FIELD_VALUE_IS_INVALID",
                "countryCode",
                "not an ISO 3166-1 alpha-2 code",
            );
            None
        }
    };
    let time = errors.string(obj, "eventTime", "eventTime");
    check_time(&mut errors, time, "eventTime", now, EVENTS_LOOKBACK_DAYS);
    check_match_keys(&mut errors, obj.get("matchKeys"), RAW_TYPES);
    match obj.get("value") {
        None => {}
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if conversion_type == Some("OFF_AMAZON_PURCHASES") {
                let cents = v * 100.0;
                if v < 0.0 || (cents - cents.round()).abs() > 1e-6 {
                    errors.add(
                        "FIELD_VALUE_IS_OUT_OF_RANGE",
                        "value",
                        "a purchase value is >= 0 with at most 2 decimals",
                    );
                }
            }
        }
        Some(_) => errors.add("FIELD_VALUE_IS_INVALID", "value", "value is a number"),
    }
    if let Some(c) = obj.get("currencyCode")
        && !c.as_str().is_some_and(|c| CURRENCIES.contains(&c))
    {
        errors.add(
            "FIELD_VALUE_IS_INVALID",
            "currencyCode",
            "not a supported ISO 4217 code",
        );
    }
    if let Some(u) = obj.get("unitsSold")
        && !u
            .as_i64()
            .is_some_and(|u| (0..=i64::from(i32::MAX)).contains(&u))
    {
        errors.add(
            "FIELD_VALUE_IS_INVALID",
            "unitsSold",
            "a non-negative 32-bit integer",
        );
    }
    if let Some(id) = obj.get("eventId")
        && !id.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 256)
    {
        errors.add(
            "FIELD_VALUE_IS_INVALID",
            "eventId",
            "a string of 1 to 256 characters",
        );
    }
    check_consent(&mut errors, country, obj.get("consent"));
    if let Some(data) = obj.get("customData") {
        match data.as_array() {
            Some(items) if items.len() <= 13 => {
                for (i, item) in items.iter().enumerate() {
                    let ok = item
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(is_name_charset)
                        && item
                            .get("value")
                            .and_then(Value::as_str)
                            .is_some_and(is_name_charset)
                        && matches!(
                            item.get("dataType").and_then(Value::as_str),
                            Some("STRING" | "INTEGER" | "TIMESTAMP")
                        );
                    if !ok {
                        errors.add(
                            "FIELD_VALUE_CONTAINS_INVALID_CHARACTERS",
                            &format!("customData[{i}]"),
                            "name and value use letters, digits and underscore; dataType STRING, INTEGER or TIMESTAMP",
                        );
                    }
                }
            }
            _ => errors.add(
                "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT",
                "customData",
                "at most 13 items",
            ),
        }
    }
    if let Some(ua) = obj.get("deviceInfo").and_then(|d| d.get("userAgent"))
        && ua.as_str().is_none_or(|s| s.len() > 512)
    {
        errors.add(
            "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT",
            "deviceInfo.userAgent",
            "at most 512 characters",
        );
    }
    errors.list
}

/// Validates one legacy DSP `eventData` item (1-based `index` in responses).
pub fn legacy_event(value: &Value, index: usize, now: OffsetDateTime) -> Vec<FieldError> {
    let prefix = format!("eventData[{index}]");
    let mut errors = Errors {
        prefix: &prefix,
        list: Vec::new(),
    };
    let Some(obj) = value.as_object() else {
        errors.add("BAD_REQUEST", "", "an event is an object");
        return errors.list;
    };
    errors.string(obj, "conversionDefinitionId", "conversionDefinitionId");
    errors.string(obj, "name", "name");
    let country = errors.string(obj, "countryCode", "countryCode");
    if country.is_some_and(|c| !is_country(c)) {
        errors.add(
            "FIELD_VALUE_IS_INVALID",
            "countryCode",
            "not an ISO 3166-1 alpha-2 code",
        );
    }
    let time = errors.string(obj, "timestamp", "timestamp");
    check_time(&mut errors, time, "timestamp", now, LEGACY_LOOKBACK_DAYS);
    check_match_keys(&mut errors, obj.get("matchKeys"), &["MAID", "RAMP_ID"]);
    errors.list
}

/// AMC audience `hashedPII` keys.
pub const AMC_PII_KEYS: &[&str] = &[
    "email",
    "phone",
    "firstname",
    "lastname",
    "address",
    "city",
    "state",
    "postal",
];

/// Validates one AMC audience record.
pub fn audience_record(value: &Value, index: usize) -> Vec<FieldError> {
    let prefix = format!("records[{index}]");
    let mut errors = Errors {
        prefix: &prefix,
        list: Vec::new(),
    };
    let Some(obj) = value.as_object() else {
        errors.add("BAD_REQUEST", "", "a record is an object");
        return errors.list;
    };
    if let Some(id) = errors.string(obj, "externalUserId", "externalUserId") {
        let ok = id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            errors.add(
                "FIELD_VALUE_CONTAINS_INVALID_CHARACTERS",
                "externalUserId",
                "[0-9a-zA-Z_-]{1,128}",
            );
        }
    }
    let country = errors.string(obj, "countryCode", "countryCode");
    if country.is_some_and(|c| !is_country(c)) {
        errors.add(
            "FIELD_VALUE_IS_INVALID",
            "countryCode",
            "not an ISO 3166-1 alpha-2 code",
        );
    }
    let action = errors.string(obj, "action", "action");
    errors.one_of(action, &["CREATE", "DELETE"], "action");
    match obj.get("hashedPII").and_then(Value::as_array) {
        Some(items) if !items.is_empty() && items.len() <= 100 => {
            for (i, item) in items.iter().enumerate() {
                let Some(pii) = item.as_object().filter(|o| !o.is_empty()) else {
                    errors.add(
                        "FIELD_VALUE_IS_INVALID",
                        &format!("hashedPII[{i}]"),
                        "a non-empty object",
                    );
                    continue;
                };
                for (key, v) in pii {
                    let loc = format!("hashedPII[{i}].{key}");
                    if !AMC_PII_KEYS.contains(&key.as_str()) {
                        errors.add("FIELD_VALUE_IS_INVALID", &loc, "unknown hashed PII key");
                    } else if !v.as_str().is_some_and(is_lower_hex64) {
                        errors.add(
                            "FIELD_VALUE_IS_INVALID",
                            &loc,
                            "must be a lowercase SHA-256 hex digest",
                        );
                    }
                }
            }
        }
        _ => errors.add(
            "FIELD_VALUE_IS_INVALID",
            "hashedPII",
            "1 to 100 hashed PII objects",
        ),
    }
    let needs_consent = country.is_some_and(|c| CONSENT_COUNTRIES.contains(&c));
    let consent = obj.get("userConsent").and_then(|u| u.get("consent"));
    let has_signal =
        consent.is_some_and(|c| ["amzn", "tcf", "gpp"].iter().any(|k| c.get(*k).is_some()));
    if needs_consent && !has_signal {
        errors.add(
            "FIELD_VALUE_IS_NULL",
            "userConsent",
            "records from the EEA, UK and CH need amzn, tcf or gpp consent",
        );
    }
    errors.list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-09-10T12:00:00Z", &Rfc3339).unwrap()
    }

    fn good() -> Value {
        json!({
            "eventDescription": {"name": "purchase", "conversionType": "OFF_AMAZON_PURCHASES",
                "eventSource": "WEBSITE", "eventIngestionMethod": "SERVER_TO_SERVER", "dataSetName": "web_events"},
            "countryCode": "US",
            "eventTime": "2026-09-09T10:15:30Z",
            "eventId": "order_1",
            "value": 12.5, "currencyCode": "USD", "unitsSold": 2,
            "matchKeys": [{"type": "EMAIL", "values": [HASH]}, {"type": "MAID", "values": ["6d92078a-8246-4ba4-ae5b-76104861e7dc"]}],
            "customData": [{"name": "brand", "value": "acme", "dataType": "STRING"}],
            "deviceInfo": {"userAgent": "Mozilla/5.0"}
        })
    }

    /// An edit of a good event that should break one rule.
    type Change = Box<dyn FnOnce(&mut Value)>;

    /// Applies `change` to a good event and returns the error codes and locations.
    fn errors_after(change: impl FnOnce(&mut Value)) -> Vec<(&'static str, String)> {
        let mut e = good();
        change(&mut e);
        event(&e, 0, now())
            .into_iter()
            .map(|e| (e.code, e.field_location))
            .collect()
    }

    #[test]
    fn a_complete_event_is_accepted() {
        assert_eq!(errors_after(|_| {}), []);
    }

    #[test]
    fn each_rule_rejects() {
        let cases: Vec<(&str, Change, &str)> = vec![
            (
                "required name",
                Box::new(|e| {
                    e["eventDescription"]
                        .as_object_mut()
                        .unwrap()
                        .remove("name");
                }),
                "events[0].eventDescription.name",
            ),
            (
                "conversionType enum",
                Box::new(|e| e["eventDescription"]["conversionType"] = json!("BUY")),
                "events[0].eventDescription.conversionType",
            ),
            (
                "eventSource enum",
                Box::new(|e| e["eventDescription"]["eventSource"] = json!("WEB")),
                "events[0].eventDescription.eventSource",
            ),
            (
                "ingestion enum",
                Box::new(|e| e["eventDescription"]["eventIngestionMethod"] = json!("BROWSER")),
                "events[0].eventDescription.eventIngestionMethod",
            ),
            (
                "dataSetName charset",
                Box::new(|e| e["eventDescription"]["dataSetName"] = json!("1 bad")),
                "events[0].eventDescription.dataSetName",
            ),
            (
                "country enum",
                Box::new(|e| e["countryCode"] = json!("USA")),
                "events[0].countryCode",
            ),
            (
                "country required",
                Box::new(|e| {
                    e.as_object_mut().unwrap().remove("countryCode");
                }),
                "events[0].countryCode",
            ),
            (
                "RFC 3339",
                Box::new(|e| e["eventTime"] = json!("2026-09-09 10:15")),
                "events[0].eventTime",
            ),
            (
                "21 days",
                Box::new(|e| e["eventTime"] = json!("2026-08-19T11:59:00Z")),
                "events[0].eventTime",
            ),
            (
                "future",
                Box::new(|e| e["eventTime"] = json!("2026-09-10T12:10:00Z")),
                "events[0].eventTime",
            ),
            (
                "no match keys",
                Box::new(|e| e["matchKeys"] = json!([])),
                "events[0].matchKeys",
            ),
            (
                "16 match keys",
                Box::new(|e| {
                    e["matchKeys"] = json!(vec![json!({"type": "EMAIL", "values": [HASH]}); 16])
                }),
                "events[0].matchKeys",
            ),
            (
                "one value",
                Box::new(|e| e["matchKeys"][0]["values"] = json!([HASH, HASH])),
                "events[0].matchKeys[0].values",
            ),
            (
                "raw email (tripwire)",
                Box::new(|e| e["matchKeys"][0]["values"] = json!(["abc@example.com"])),
                "events[0].matchKeys[0].values[0]",
            ),
            (
                "upper-case digest",
                Box::new(|e| e["matchKeys"][0]["values"] = json!([HASH.to_uppercase()])),
                "events[0].matchKeys[0].values[0]",
            ),
            (
                "hashed MAID",
                Box::new(|e| e["matchKeys"][1]["values"] = json!([HASH])),
                "events[0].matchKeys[1].values[0]",
            ),
            (
                "match-key type",
                Box::new(|e| e["matchKeys"][0]["type"] = json!("NICKNAME")),
                "events[0].matchKeys[0].type",
            ),
            (
                "purchase cents",
                Box::new(|e| e["value"] = json!(1.005)),
                "events[0].value",
            ),
            (
                "negative purchase",
                Box::new(|e| e["value"] = json!(-1)),
                "events[0].value",
            ),
            (
                "currency enum",
                Box::new(|e| e["currencyCode"] = json!("XXX")),
                "events[0].currencyCode",
            ),
            (
                "units integer",
                Box::new(|e| e["unitsSold"] = json!(1.5)),
                "events[0].unitsSold",
            ),
            (
                "customData size",
                Box::new(|e| {
                    e["customData"] = json!(vec![
                        json!({"name": "a", "value": "b", "dataType": "STRING"});
                        14
                    ])
                }),
                "events[0].customData",
            ),
            (
                "customData charset",
                Box::new(|e| e["customData"][0]["value"] = json!("a b")),
                "events[0].customData[0]",
            ),
            (
                "user agent size",
                Box::new(|e| e["deviceInfo"]["userAgent"] = json!("x".repeat(513))),
                "events[0].deviceInfo.userAgent",
            ),
            (
                "unknown field",
                Box::new(|e| e["timestamp"] = json!("2026-09-09T10:15:30Z")),
                "events[0].timestamp",
            ),
            (
                "EEA consent",
                Box::new(|e| {
                    e["countryCode"] = json!("DE");
                    e["currencyCode"] = json!("EUR");
                }),
                "events[0].consent",
            ),
            (
                "amznUserData",
                Box::new(|e| e["consent"] = json!({"amazonConsent": {"amznAdStorage": "GRANTED"}})),
                "events[0].consent.amazonConsent.amznUserData",
            ),
        ];
        for (name, change, location) in cases {
            let errors = errors_after(change);
            assert!(
                errors.iter().any(|(_, loc)| loc == location),
                "{name}: {errors:?}"
            );
        }
    }

    #[test]
    fn eea_events_with_a_signal_and_other_values_are_accepted() {
        assert_eq!(
            errors_after(|e| {
                e["countryCode"] = json!("DE");
                e["consent"] = json!({"tcf": "CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA"});
            }),
            []
        );
        assert_eq!(
            errors_after(|e| {
                e["eventDescription"]["conversionType"] = json!("OTHER");
                e["value"] = json!(-2.125);
                e["countryCode"] = json!("OTHER");
            }),
            []
        );
    }

    #[test]
    fn legacy_events_have_a_seven_day_window() {
        let item = |ts: &str| {
            json!({"conversionDefinitionId": "591", "name": "p", "countryCode": "US", "timestamp": ts,
            "matchKeys": [{"type": "EMAIL", "values": [HASH]}]})
        };
        assert_eq!(legacy_event(&item("2026-09-04T12:00:00Z"), 1, now()), []);
        let errors = legacy_event(&item("2026-09-02T12:00:00Z"), 1, now());
        assert_eq!(errors[0].field_location, "eventData[1].timestamp");
    }

    #[test]
    fn audience_records() {
        let record = json!({"externalUserId": "u_1", "countryCode": "US", "action": "CREATE", "hashedPII": [{"email": HASH}]});
        assert_eq!(audience_record(&record, 0), []);
        let mut raw = record.clone();
        raw["hashedPII"][0]["email"] = json!("abc@example.com");
        assert_eq!(
            audience_record(&raw, 0)[0].field_location,
            "records[0].hashedPII[0].email"
        );
        let mut eu = record.clone();
        eu["countryCode"] = json!("FR");
        assert_eq!(
            audience_record(&eu, 0)[0].field_location,
            "records[0].userConsent"
        );
        let mut bad_id = record;
        bad_id["externalUserId"] = json!("user 1");
        assert_eq!(
            audience_record(&bad_id, 0)[0].field_location,
            "records[0].externalUserId"
        );
    }
}
