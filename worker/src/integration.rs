//! Integrations, as pure functions: one advertiser's delivery from one Worker that serves
//! many. An integration is what Datafly's install call carries (`name`, `variant`,
//! `connection_id`, `config {advertiser_id, profile_id, region, …}`, `delivery_mode`) plus
//! the site it serves (its site key, allowed origins, event map and the audiences a
//! browser may join). It is checked here field by field, and turned into the same
//! [`Config`] the single-advertiser `[vars]` give, so ingest, batching and delivery
//! have one configuration type whichever way a deployment is set up.
//!
//! The `[vars]` configuration is the integration [`DEFAULT_ID`]; stored integrations
//! override exactly the settings in [`PER_INTEGRATION`] and inherit the Worker-wide ones
//! (Amazon's hosts, timings, limits) from the vars.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use crate::config::MatchMethod;
use crate::config::{CONVERSION_TYPES, Config, valid_custom_data_name, valid_data_set_name};

/// The id of the integration the `[vars]` describe.
pub const DEFAULT_ID: &str = "default";

/// The vars an integration sets for itself; every other var is the Worker's.
pub const PER_INTEGRATION: [&str; 15] = [
    "ADVERTISER_ID",
    "REGION",
    "SITE_KEYS",
    "ALLOWED_ORIGINS",
    "DATA_SET_NAME",
    "EVENT_MAP",
    "API_KIND",
    "PROFILE_ID",
    "CONVERSION_DEFINITIONS",
    "AMC_ADVERTISER_ID",
    "AUDIENCE_API",
    "BROWSER_AUDIENCES",
    "BROWSER_IDS",
    "CUSTOM_DATA",
    "COOKIE_SYNC",
];

/// An integration's variant: which Amazon API its events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The Events API (the default).
    Events,
    /// The legacy DSP conversions import (needs `profile_id` and conversion definitions).
    LegacyDsp,
    /// Audiences only: events are refused.
    Audiences,
}

impl Variant {
    fn parse(s: &str) -> Option<Variant> {
        match s {
            "events" => Some(Variant::Events),
            "legacy_dsp" => Some(Variant::LegacyDsp),
            "audiences" => Some(Variant::Audiences),
            _ => None,
        }
    }
}

/// An audience browsers may join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceSetting {
    /// The audience's name (Amazon's rule: `[0-9A-Za-z_-]`, at most 64).
    pub name: String,
    /// How members are matched.
    pub match_method: MatchMethod,
}

/// A stored integration: what the admin API takes and answers (never a secret: the
/// ingest secret is kept only as its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// `int_…`, or [`DEFAULT_ID`].
    pub id: String,
    /// A person's name for it.
    pub name: String,
    /// Which API events go to.
    pub variant: Variant,
    /// The connection whose Amazon grant it uses; `None`: the Worker's own
    /// `LWA_REFRESH_TOKEN` secret.
    pub connection_id: Option<String>,
    /// `advertiser_id`, `region`, `profile_id`, … (see [`CONFIG_KEYS`]).
    pub config: BTreeMap<String, Value>,
    /// `server_side`, the only mode: the Worker delivers.
    pub delivery_mode: String,
    /// The public key the site's tag sends.
    pub site_key: String,
    /// Origins the site's pages are served from.
    pub allowed_origins: Vec<String>,
    /// Event name → Amazon conversion type, over the Worker's defaults.
    pub event_map: BTreeMap<String, String>,
    /// The audiences a browser may join.
    pub audiences: Vec<AudienceSetting>,
    /// A disabled integration refuses new events and still delivers what it accepted.
    pub disabled: bool,
    /// SHA-256 (hex) of the integration's ingest secret, for servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_secret_sha256: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The keys of `config`, and the var each sets.
pub const CONFIG_KEYS: [(&str, &str); 10] = [
    ("advertiser_id", "ADVERTISER_ID"),
    ("region", "REGION"),
    ("profile_id", "PROFILE_ID"),
    ("data_set_name", "DATA_SET_NAME"),
    ("amc_advertiser_id", "AMC_ADVERTISER_ID"),
    ("audience_api", "AUDIENCE_API"),
    ("conversion_definitions", "CONVERSION_DEFINITIONS"),
    ("custom_data", "CUSTOM_DATA"),
    ("browser_ids", "BROWSER_IDS"),
    ("cookie_sync", "COOKIE_SYNC"),
];

/// Longest cookie-matching period: a year.
pub const MAX_PERIOD_HOURS: u64 = 8_760;

/// A field the admin API refused, by its path and a stable reason code (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// `config.advertiser_id`, `allowed_origins[1]`, …
    pub field: String,
    /// `required`, `invalid`, `unknown_field`, `too_long`, …
    pub reason: &'static str,
}

fn err(field: impl Into<String>, reason: &'static str) -> FieldError {
    FieldError {
        field: field.into(),
        reason,
    }
}

/// Whether `s` is a site key: 8 to 64 of `[A-Za-z0-9_-]`.
pub fn valid_site_key(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is an id this module made (`int_`/`conn_` and hex), safe in a Durable
/// Object name, a KV key or a URL path.
pub fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a page origin: `https://host[:port]` with nothing after it (`http://`
/// only for loopback in local development).
pub fn valid_origin(s: &str, local_dev: bool) -> bool {
    let rest = if let Some(rest) = s.strip_prefix("https://") {
        rest
    } else if let Some(rest) = s.strip_prefix("http://") {
        let host = rest.split(':').next().unwrap_or_default();
        if !(local_dev && matches!(host, "127.0.0.1" | "localhost")) {
            return false;
        }
        rest
    } else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// What [`check`] needs besides the request: the ids and time the edge makes.
pub struct Fresh<'a> {
    /// The integration's id (kept when updating).
    pub id: &'a str,
    /// A site key to use when the request names none.
    pub site_key: &'a str,
    /// Now, RFC 3339.
    pub now: &'a str,
    /// The stored integration being replaced, if any.
    pub previous: Option<&'a Integration>,
    /// Whether the Worker runs in local development.
    pub local_dev: bool,
    /// Connections that exist.
    pub connections: &'a [String],
}

fn text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(err(key, "must_be_text"));
            None
        }
    }
}

/// Checks an admin API body (create or replace) and makes the integration, or every
/// field that is wrong.
///
/// # Errors
/// Each refused field with its reason, never its value.
pub fn check(body: &Value, fresh: &Fresh<'_>) -> Result<Integration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![err("", "must_be_object")]);
    };
    const TOP: [&str; 10] = [
        "name",
        "variant",
        "connection_id",
        "config",
        "delivery_mode",
        "site_key",
        "allowed_origins",
        "event_map",
        "audiences",
        "disabled",
    ];
    for key in obj.keys() {
        if !TOP.contains(&key.as_str()) {
            errors.push(err(
                key.chars().take(64).collect::<String>(),
                "unknown_field",
            ));
        }
    }
    let name = text(obj, "name", &mut errors)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if name.is_empty() {
        errors.push(err("name", "required"));
    } else if name.chars().count() > 100 {
        errors.push(err("name", "too_long"));
    }
    let variant = match text(obj, "variant", &mut errors) {
        None => Variant::Events,
        Some(v) => Variant::parse(v).unwrap_or_else(|| {
            errors.push(err("variant", "unknown_variant"));
            Variant::Events
        }),
    };
    let connection_id = text(obj, "connection_id", &mut errors).map(str::to_owned);
    if let Some(c) = &connection_id
        && !fresh.connections.contains(c)
    {
        errors.push(err("connection_id", "unknown_connection"));
    }
    let delivery_mode = text(obj, "delivery_mode", &mut errors).unwrap_or("server_side");
    if delivery_mode != "server_side" {
        errors.push(err("delivery_mode", "unsupported"));
    }
    let site_key = text(obj, "site_key", &mut errors)
        .or(fresh.previous.map(|p| p.site_key.as_str()))
        .unwrap_or(fresh.site_key)
        .to_owned();
    if !valid_site_key(&site_key) {
        errors.push(err("site_key", "invalid"));
    }

    let mut config = BTreeMap::new();
    match obj.get("config") {
        Some(Value::Object(c)) => {
            for (key, value) in c {
                if CONFIG_KEYS.iter().any(|(k, _)| k == key) {
                    if !value.is_null() {
                        config.insert(key.clone(), value.clone());
                    }
                } else {
                    let key: String = key.chars().take(64).collect();
                    errors.push(err(format!("config.{key}"), "unknown_field"));
                }
            }
        }
        None => {}
        Some(_) => errors.push(err("config", "must_be_object")),
    }
    check_config(&config, variant, fresh.local_dev, &mut errors);

    let mut allowed_origins = Vec::new();
    match obj.get("allowed_origins") {
        None => {}
        Some(Value::Array(list)) if list.len() <= 50 => {
            for (i, o) in list.iter().enumerate() {
                match o.as_str() {
                    Some(o) if valid_origin(o, fresh.local_dev) => {
                        allowed_origins.push(o.to_owned());
                    }
                    _ => errors.push(err(format!("allowed_origins[{i}]"), "invalid_origin")),
                }
            }
        }
        Some(_) => errors.push(err("allowed_origins", "must_be_list_of_origins")),
    }

    let mut event_map = BTreeMap::new();
    match obj.get("event_map") {
        None => {}
        Some(Value::Object(m)) if m.len() <= 100 => {
            for (event, kind) in m {
                let field = || format!("event_map.{}", event.chars().take(64).collect::<String>());
                if !valid_event_name(event) {
                    errors.push(err(field(), "invalid_event_name"));
                } else if let Some(kind) = kind.as_str().filter(|k| CONVERSION_TYPES.contains(k)) {
                    event_map.insert(event.clone(), kind.to_owned());
                } else {
                    errors.push(err(field(), "unknown_conversion_type"));
                }
            }
        }
        Some(_) => errors.push(err("event_map", "must_be_object")),
    }

    let mut audiences = Vec::new();
    match obj.get("audiences") {
        None => {}
        Some(Value::Array(list)) if list.len() <= 100 => {
            for (i, a) in list.iter().enumerate() {
                let (name, method) = match a {
                    Value::String(name) => (Some(name.as_str()), Some("hashed")),
                    Value::Object(a) => (
                        a.get("name").and_then(Value::as_str),
                        a.get("match_method").map_or(Some("hashed"), Value::as_str),
                    ),
                    _ => (None, None),
                };
                match (name, method) {
                    (Some(name), _) if !matchkey::amazon::audience::valid_name(name) => {
                        errors.push(err(format!("audiences[{i}].name"), "invalid_audience_name"));
                    }
                    (Some(name), Some(method)) if MatchMethod::parse(method).is_some() => {
                        let match_method =
                            MatchMethod::parse(method).unwrap_or(MatchMethod::Hashed);
                        // COOKIE ids exist only in the Data Provider API.
                        if match_method.cookies()
                            && config.get("audience_api").and_then(Value::as_str) != Some("dp")
                        {
                            errors.push(err(
                                format!("audiences[{i}].match_method"),
                                "cookie_matching_needs_audience_api_dp",
                            ));
                        }
                        audiences.push(AudienceSetting {
                            name: name.to_owned(),
                            match_method,
                        });
                    }
                    (Some(_), _) => {
                        errors.push(err(format!("audiences[{i}].match_method"), "invalid"));
                    }
                    (None, _) => errors.push(err(format!("audiences[{i}].name"), "required")),
                }
            }
        }
        Some(_) => errors.push(err("audiences", "must_be_list")),
    }
    if !audiences.is_empty() && !config.contains_key("amc_advertiser_id") {
        errors.push(err("config.amc_advertiser_id", "required_for_audiences"));
    }
    let disabled = match obj.get("disabled") {
        None | Some(Value::Null) => fresh.previous.is_some_and(|p| p.disabled),
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(err("disabled", "must_be_true_or_false"));
            false
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Integration {
        id: fresh.id.to_owned(),
        name,
        variant,
        connection_id,
        config,
        delivery_mode: delivery_mode.to_owned(),
        site_key,
        allowed_origins,
        event_map,
        audiences,
        disabled,
        ingest_secret_sha256: fresh.previous.and_then(|p| p.ingest_secret_sha256.clone()),
        created_at: fresh
            .previous
            .map_or_else(|| fresh.now.to_owned(), |p| p.created_at.clone()),
        updated_at: fresh.now.to_owned(),
    })
}

/// Whether `s` is an event name a site may map: `[A-Za-z0-9_.-]`, 1 to 64.
pub fn valid_event_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_config(
    c: &BTreeMap<String, Value>,
    variant: Variant,
    local_dev: bool,
    errors: &mut Vec<FieldError>,
) {
    let field = |k: &str| format!("config.{k}");
    let get = |k: &str| c.get(k).and_then(Value::as_str);
    let typed = |k: &str, ok: bool, errors: &mut Vec<FieldError>| {
        if c.contains_key(k) && !ok {
            errors.push(err(field(k), "invalid"));
        }
    };
    match get("advertiser_id") {
        Some(a)
            if (1..=64).contains(&a.len())
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => {}
        Some(_) => errors.push(err(field("advertiser_id"), "invalid")),
        None if c.contains_key("advertiser_id") => {
            errors.push(err(field("advertiser_id"), "must_be_text"));
        }
        None => errors.push(err(field("advertiser_id"), "required")),
    }
    match get("region") {
        Some("NA" | "EU" | "FE") => {}
        None if !c.contains_key("region") => errors.push(err(field("region"), "required")),
        _ => errors.push(err(field("region"), "must_be_NA_EU_or_FE")),
    }
    let digits = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    typed("profile_id", get("profile_id").is_some_and(digits), errors);
    typed(
        "amc_advertiser_id",
        get("amc_advertiser_id").is_some_and(digits),
        errors,
    );
    typed(
        "data_set_name",
        get("data_set_name").is_some_and(valid_data_set_name),
        errors,
    );
    typed(
        "audience_api",
        matches!(get("audience_api"), Some("amc" | "dp")),
        errors,
    );
    if get("audience_api") == Some("dp") && !c.contains_key("profile_id") {
        errors.push(err(field("profile_id"), "required_for_audience_api_dp"));
    }
    typed(
        "conversion_definitions",
        c.get("conversion_definitions")
            .and_then(Value::as_object)
            .is_some_and(|m| m.len() <= 100 && m.values().all(|v| v.as_str().is_some_and(digits))),
        errors,
    );
    if variant == Variant::LegacyDsp {
        for k in ["profile_id", "conversion_definitions"] {
            if !c.contains_key(k) {
                errors.push(err(field(k), "required_for_legacy_dsp"));
            }
        }
    }
    typed(
        "custom_data",
        c.get("custom_data")
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.len() <= 50
                    && m.iter().all(|(k, v)| {
                        valid_custom_data_name(k)
                            && matches!(v.as_str(), Some("STRING" | "INTEGER" | "TIMESTAMP"))
                    })
            }),
        errors,
    );
    if let Some(sync) = c.get("cookie_sync") {
        check_cookie_sync(sync, local_dev, errors);
    }
    typed(
        "browser_ids",
        c.get("browser_ids")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.iter()
                    .all(|v| matches!(v.as_str(), Some("MATCH_ID" | "RAMP_ID")))
            }),
        errors,
    );
}

/// `config.cookie_sync`: `{partner_code, period_hours?, match_url?}`. The partner code is
/// Amazon's (`[A-Za-z0-9_-]`, 1 to 64); the period 1 to [`MAX_PERIOD_HOURS`] (24 when not
/// given); `match_url` replaces the region's matching host (tests point it at the emulator):
/// an `https://` URL, or `http://` on loopback in local development.
fn check_cookie_sync(sync: &Value, local_dev: bool, errors: &mut Vec<FieldError>) {
    let Some(obj) = sync.as_object() else {
        errors.push(err("config.cookie_sync", "must_be_object"));
        return;
    };
    for key in obj.keys() {
        if !["partner_code", "period_hours", "match_url"].contains(&key.as_str()) {
            let key: String = key.chars().take(64).collect();
            errors.push(err(format!("config.cookie_sync.{key}"), "unknown_field"));
        }
    }
    match obj.get("partner_code").and_then(Value::as_str) {
        Some(p) if crate::integration::valid_id(p) => {}
        Some(_) => errors.push(err("config.cookie_sync.partner_code", "invalid")),
        None => errors.push(err("config.cookie_sync.partner_code", "required")),
    }
    if let Some(h) = obj.get("period_hours")
        && !h
            .as_u64()
            .is_some_and(|h| (1..=MAX_PERIOD_HOURS).contains(&h))
    {
        errors.push(err("config.cookie_sync.period_hours", "must_be_1_to_8760"));
    }
    if let Some(url) = obj.get("match_url") {
        let ok = url.as_str().is_some_and(|u| {
            u.len() <= 200
                && (valid_origin(u.trim_end_matches('/'), local_dev)
                    || u.strip_prefix("https://").is_some_and(|rest| {
                        !rest.is_empty()
                            && rest
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-._/:".contains(&b))
                    }))
        });
        if !ok {
            errors.push(err("config.cookie_sync.match_url", "invalid_url"));
        }
    }
}

impl Integration {
    /// The options of the site's `matchkey('init', …)`: the Worker's origin, the site key
    /// and, when cookie matching is set up, `cookieSync: {partnerCode, periodHours,
    /// matchUrl?}` (the tag's matching request; `matchUrl` only when overridden).
    pub fn init_options(&self, endpoint: &str) -> Value {
        let mut options = json!({ "endpoint": endpoint, "siteKey": self.site_key });
        if let Some(sync) = self.config.get("cookie_sync").and_then(Value::as_object) {
            let mut c = json!({
                "partnerCode": sync.get("partner_code"),
                "periodHours": sync.get("period_hours").and_then(Value::as_u64).unwrap_or(24),
            });
            // The whole endpoint, so the page adds only the query: the region's Amazon
            // host (EU for an EU advertiser), or the configured one.
            let eu = self.config.get("region").and_then(Value::as_str) == Some("EU");
            let base = sync
                .get("match_url")
                .and_then(Value::as_str)
                .unwrap_or(if eu {
                    matchkey::amazon::cookie::MATCH_BASE_EU
                } else {
                    matchkey::amazon::cookie::MATCH_BASE_NA
                });
            c["matchUrl"] = json!(matchkey::amazon::cookie::matching_endpoint(base, eu));
            options["cookieSync"] = c;
        }
        options
    }

    /// The var an integration sets, as [`Config::from_vars`] reads it.
    pub fn var(&self, name: &str) -> Option<String> {
        let config_text = |key: &str| {
            self.config.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            })
        };
        match name {
            "SITE_KEYS" => Some(self.site_key.clone()),
            "ALLOWED_ORIGINS" => Some(self.allowed_origins.join(",")),
            "EVENT_MAP" => Some(json!(self.event_map).to_string()),
            "BROWSER_AUDIENCES" => Some(
                self.audiences
                    .iter()
                    .map(|a| format!("{}:{}", a.name, a.match_method.as_str()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "API_KIND" => Some(
                if self.variant == Variant::LegacyDsp {
                    "dsp"
                } else {
                    "events"
                }
                .into(),
            ),
            _ => CONFIG_KEYS
                .iter()
                .find(|(_, var)| *var == name)
                .and_then(|(key, _)| config_text(key)),
        }
    }

    /// The integration's configuration: its own settings over the Worker's `base` vars
    /// (only those outside [`PER_INTEGRATION`]).
    ///
    /// # Errors
    /// What [`Config::from_vars`] refuses.
    pub fn to_config(&self, base: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut config = Config::from_vars(|name| {
            if PER_INTEGRATION.contains(&name) {
                self.var(name)
            } else {
                base(name)
            }
        })?;
        config.integration_id.clone_from(&self.id);
        config.connection_id.clone_from(&self.connection_id);
        config.disabled = self.disabled;
        config.events_enabled = self.variant != Variant::Audiences;
        Ok(config)
    }
}

/// Integrations an admin route that reaches each of them (their objects, their grants)
/// handles per request: Workers allow 1,000 subrequests a request, and one integration
/// may take a call per shard and a few more to Amazon.
pub const PAGE: usize = 20;

/// One page of `ids` (in their order): those after `after` (all when `None` or not
/// found: a stale cursor starts again), at most [`PAGE`], and the cursor of the next
/// page when more remain.
pub fn page<'a>(ids: &'a [String], after: Option<&str>) -> (&'a [String], Option<String>) {
    let start = after
        .and_then(|a| ids.iter().position(|i| i == a))
        .map_or(0, |i| i + 1);
    let end = (start + PAGE).min(ids.len());
    let next = (end < ids.len()).then(|| ids[end - 1].clone());
    (&ids[start..end], next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_is_paged() {
        let ids: Vec<String> = (0..45).map(|i| format!("int_{i:02}")).collect();
        let (first, next) = page(&ids, None);
        assert_eq!((first.len(), next.as_deref()), (PAGE, Some("int_19")));
        let (second, next) = page(&ids, next.as_deref());
        assert_eq!(
            (second[0].as_str(), next.as_deref()),
            ("int_20", Some("int_39"))
        );
        let (third, next) = page(&ids, next.as_deref());
        assert_eq!((third.len(), next), (5, None));
        assert_eq!(page(&ids, Some("int_gone")).0[0], "int_00");
        assert_eq!(page(&[], None), (&[][..], None));
        assert_eq!(
            page(&ids[..20], None).1,
            None,
            "exactly one page: no cursor"
        );
    }

    fn fresh<'a>(connections: &'a [String]) -> Fresh<'a> {
        Fresh {
            id: "int_1",
            site_key: "generated-key-1",
            now: "2026-11-27T00:00:00Z",
            previous: None,
            local_dev: false,
            connections,
        }
    }

    fn base(name: &str) -> Option<String> {
        match name {
            "ADVERTISER_ID" => Some("DEFAULTADV".into()),
            "SITE_KEYS" => Some("default-site".into()),
            "FLUSH_SECONDS" => Some("7".into()),
            _ => None,
        }
    }

    #[test]
    fn a_full_install_becomes_its_own_configuration() {
        let conns = vec!["conn_a".to_owned()];
        let body = json!({
            "name": "Shop EU", "variant": "events", "connection_id": "conn_a",
            "config": {"advertiser_id": "ENTITY2", "region": "EU", "data_set_name": "shop_eu", "amc_advertiser_id": "42"},
            "delivery_mode": "server_side",
            "allowed_origins": ["https://shop.example", "https://www.shop.example:8443"],
            "event_map": {"order_done": "OFF_AMAZON_PURCHASES"},
            "audiences": ["newsletter", {"name": "buyers", "match_method": "hashed"}],
        });
        let i = check(&body, &fresh(&conns)).unwrap();
        assert_eq!(i.site_key, "generated-key-1");
        let c = i.to_config(base).unwrap();
        assert_eq!(c.advertiser_id, "ENTITY2");
        assert_eq!(c.region.as_str(), "EU");
        assert_eq!(c.site_keys, vec!["generated-key-1"]);
        assert_eq!(c.audiences, vec!["newsletter", "buyers"]);
        assert_eq!(c.conversion_type("order_done"), "OFF_AMAZON_PURCHASES");
        // The Worker's defaults still map, and the Worker-wide settings are inherited.
        assert_eq!(c.conversion_type("purchase"), "OFF_AMAZON_PURCHASES");
        assert_eq!(c.flush_seconds, 7);
        assert_eq!(c.amc_advertiser_id, Some(42));
        assert_eq!(c.integration_id, "int_1");
        assert_eq!(c.connection_id.as_deref(), Some("conn_a"));
        assert!(c.origin_allowed("https://www.shop.example:8443"));
        assert!(!c.origin_allowed("https://evil.example"));
    }

    #[test]
    fn nothing_of_the_default_leaks_into_an_integration() {
        let body = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA"}});
        let c = check(&body, &fresh(&[])).unwrap().to_config(|n| match n {
            "BROWSER_AUDIENCES" => Some("newsletter".into()),
            "ALLOWED_ORIGINS" => Some("*".into()),
            "CUSTOM_DATA" => Some(r#"{"tier":"STRING"}"#.into()),
            other => base(other),
        });
        let c = c.unwrap();
        assert!(c.audiences.is_empty());
        assert!(!c.origin_allowed("https://any.example"));
        assert!(c.custom_data.is_empty());
        assert_eq!(c.advertiser_id, "A");
    }

    #[test]
    fn every_wrong_field_is_named_with_a_reason_and_never_its_value() {
        let body = json!({
            "name": "", "variant": "fax", "connection_id": "conn_missing", "delivery_mode": "pigeon",
            "site_key": "short", "config": {"advertiser_id": "bad id!", "region": "MARS", "profile_id": "12a", "secret": 1},
            "allowed_origins": ["http://shop.example", "https://shop.example/path", "*"],
            "event_map": {"purchase": "BUY", "bad name": "PAGE_VIEW"},
            "audiences": [{"name": "bad name"}, {"name": "ok", "match_method": "cookie"}],
            "extra": true,
        });
        let errors = check(&body, &fresh(&[])).unwrap_err();
        let got: Vec<(String, &str)> = errors.iter().map(|e| (e.field.clone(), e.reason)).collect();
        for expected in [
            ("extra", "unknown_field"),
            ("name", "required"),
            ("variant", "unknown_variant"),
            ("connection_id", "unknown_connection"),
            ("delivery_mode", "unsupported"),
            ("site_key", "invalid"),
            ("config.secret", "unknown_field"),
            ("config.advertiser_id", "invalid"),
            ("config.region", "must_be_NA_EU_or_FE"),
            ("config.profile_id", "invalid"),
            ("allowed_origins[0]", "invalid_origin"),
            ("allowed_origins[1]", "invalid_origin"),
            ("allowed_origins[2]", "invalid_origin"),
            ("event_map.purchase", "unknown_conversion_type"),
            ("event_map.bad name", "invalid_event_name"),
            ("audiences[0].name", "invalid_audience_name"),
            (
                "audiences[1].match_method",
                "cookie_matching_needs_audience_api_dp",
            ),
        ] {
            assert!(
                got.contains(&(expected.0.to_owned(), expected.1)),
                "{expected:?} missing from {got:?}"
            );
        }
        let text = serde_json::to_string(&errors).unwrap();
        for value in ["bad id!", "MARS", "pigeon", "BUY", "conn_missing"] {
            assert!(!text.contains(value), "{value} leaked");
        }
    }

    #[test]
    fn browser_audiences_need_the_advertiser_they_target() {
        let body = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA"}, "audiences": ["newsletter"]});
        let errors = check(&body, &fresh(&[])).unwrap_err();
        assert_eq!(errors[0].field, "config.amc_advertiser_id");
        assert_eq!(errors[0].reason, "required_for_audiences");
    }

    #[test]
    fn legacy_dsp_and_dp_audiences_need_their_ids() {
        let body = json!({"name": "x", "variant": "legacy_dsp", "config": {"advertiser_id": "A", "region": "NA", "audience_api": "dp"}});
        let errors = check(&body, &fresh(&[])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"config.profile_id"));
        assert!(fields.contains(&"config.conversion_definitions"));
        let body = json!({"name": "x", "variant": "legacy_dsp", "config": {"advertiser_id": "A", "region": "NA", "profile_id": "7", "conversion_definitions": {"*": "99"}}});
        let c = check(&body, &fresh(&[])).unwrap().to_config(base).unwrap();
        assert_eq!(c.batch_size(), 100);
    }

    #[test]
    fn an_update_keeps_identity_site_key_and_secret() {
        let body = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA"}, "site_key": "chosen-key"});
        let mut first = check(&body, &fresh(&[])).unwrap();
        first.ingest_secret_sha256 = Some("ab".repeat(32));
        let update = json!({"name": "y", "config": {"advertiser_id": "B", "region": "NA"}});
        let mut f = fresh(&[]);
        f.previous = Some(&first);
        f.now = "2026-11-28T00:00:00Z";
        let second = check(&update, &f).unwrap();
        assert_eq!(second.site_key, "chosen-key");
        assert_eq!(second.created_at, first.created_at);
        assert_eq!(second.updated_at, "2026-11-28T00:00:00Z");
        assert_eq!(second.ingest_secret_sha256, first.ingest_secret_sha256);
    }

    #[test]
    fn cookie_audiences_need_the_data_provider_api_and_sync_settings_reach_the_snippet() {
        let body = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA", "amc_advertiser_id": "42",
            "audience_api": "dp", "profile_id": "7",
            "cookie_sync": {"partner_code": "mk_partner", "match_url": "https://match.example"}},
            "audiences": [{"name": "seen", "match_method": "cookie"}, {"name": "all", "match_method": "both"}, "news"]});
        let i = check(&body, &fresh(&[])).unwrap();
        let c = i.to_config(base).unwrap();
        assert_eq!(c.match_method("seen"), MatchMethod::Cookie);
        assert_eq!(c.match_method("all"), MatchMethod::Both);
        assert_eq!(c.match_method("news"), MatchMethod::Hashed);
        assert_eq!(c.audiences, ["seen", "all", "news"]);
        assert_eq!(
            i.init_options("https://w.example"),
            json!({"endpoint": "https://w.example", "siteKey": "generated-key-1",
                "cookieSync": {"partnerCode": "mk_partner", "periodHours": 24, "matchUrl": "https://match.example/ecm3"}})
        );
        let plain = check(
            &json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA"}}),
            &fresh(&[]),
        )
        .unwrap();
        assert_eq!(
            plain.init_options("e"),
            json!({"endpoint": "e", "siteKey": "generated-key-1"})
        );
        let amc = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA", "amc_advertiser_id": "42",
            "cookie_sync": {"period_hours": 0, "match_url": "javascript:x", "x": 1}},
            "audiences": [{"name": "seen", "match_method": "both"}]});
        let errors = check(&amc, &fresh(&[])).unwrap_err();
        let got: Vec<(String, &str)> = errors.iter().map(|e| (e.field.clone(), e.reason)).collect();
        for expected in [
            (
                "audiences[0].match_method",
                "cookie_matching_needs_audience_api_dp",
            ),
            ("config.cookie_sync.partner_code", "required"),
            ("config.cookie_sync.period_hours", "must_be_1_to_8760"),
            ("config.cookie_sync.match_url", "invalid_url"),
            ("config.cookie_sync.x", "unknown_field"),
        ] {
            assert!(
                got.contains(&(expected.0.to_owned(), expected.1)),
                "{expected:?} missing from {got:?}"
            );
        }
    }

    #[test]
    fn a_plain_http_matching_url_only_in_local_development() {
        let body = json!({"name": "x", "config": {"advertiser_id": "A", "region": "NA",
            "cookie_sync": {"partner_code": "p", "match_url": "http://127.0.0.1:9797"}}});
        let errors = check(&body, &fresh(&[])).unwrap_err();
        assert_eq!(errors[0].field, "config.cookie_sync.match_url");
        let mut local = fresh(&[]);
        local.local_dev = true;
        assert!(check(&body, &local).is_ok());
    }

    #[test]
    fn origins() {
        assert!(valid_origin("https://shop.example", false));
        assert!(valid_origin("https://shop.example:443", false));
        assert!(!valid_origin("http://shop.example", false));
        assert!(valid_origin("http://127.0.0.1:8000", true));
        assert!(!valid_origin("http://127.0.0.1:8000", false));
        for bad in [
            "https://",
            "https://a/b",
            "https://a:b",
            "https://a b",
            "https://.a",
            "javascript:x",
            "*",
        ] {
            assert!(!valid_origin(bad, true), "{bad}");
        }
    }
}
