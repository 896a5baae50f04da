//! The Worker's configuration, read once from `[vars]` (wrangler.toml, `--var`) into a
//! typed struct. Secrets are read where they are used and never stored here.

use std::collections::{BTreeMap, HashMap};

use matchkey::identity::BrowserIds;

/// Amazon Ads API regions and their hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// North America.
    Na,
    /// Europe.
    Eu,
    /// Far East.
    Fe,
}

impl Region {
    /// Parses `NA`, `EU` or `FE` (any case).
    pub fn parse(s: &str) -> Option<Region> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NA" => Some(Region::Na),
            "EU" => Some(Region::Eu),
            "FE" => Some(Region::Fe),
            _ => None,
        }
    }

    /// `NA`, `EU` or `FE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Na => "NA",
            Region::Eu => "EU",
            Region::Fe => "FE",
        }
    }

    /// The region's Ads API host.
    pub fn api_host(self) -> &'static str {
        match self {
            Region::Na => "https://advertising-api.amazon.com",
            Region::Eu => "https://advertising-api-eu.amazon.com",
            Region::Fe => "https://advertising-api-fe.amazon.com",
        }
    }
}

/// Which Amazon API events go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKind {
    /// The Events API (`/adsApi/v1/create/events`), the default.
    Events,
    /// The legacy DSP conversions import, for advertisers still on it: events reference a
    /// conversion definition and go 100 at a time.
    Dsp {
        /// `PROFILE_ID`: the `Amazon-Advertising-API-Scope` header.
        profile_id: String,
        /// `CONVERSION_DEFINITIONS`: JSON object, event name → definition id; `*` is the fallback.
        definitions: HashMap<String, String>,
    },
}

/// Which Amazon API audience members go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudienceApi {
    /// AMC audiences (`/amc/audiences/records`), the default: one call per chunk, then
    /// the job is followed to its end.
    Amc,
    /// The Data Provider API: hashed records (`/dp/records/hashed`), then membership
    /// patches (`PATCH /v2/dp/audience`).
    Dp {
        /// `PROFILE_ID`: the `Amazon-Advertising-API-Scope` header.
        profile_id: String,
    },
}

/// Everything the Worker reads from its vars.
#[derive(Debug, Clone)]
pub struct Config {
    /// DSP advertiser id (`ADVERTISER_ID`): the Events API's `Amazon-Ads-AccountId`.
    pub advertiser_id: String,
    /// `REGION`.
    pub region: Region,
    /// `AMAZON_API_BASE` when set (tests, the demo), else the region's host.
    pub api_base: String,
    /// `LWA_TOKEN_URL` (default: the region's Login with Amazon token URL).
    pub lwa_token_url: String,
    /// Whether `LWA_TOKEN_URL` was set (then it serves every region: tests, the demo).
    pub lwa_token_url_set: bool,
    /// `LWA_AUTH_URL`: Login with Amazon's consent page for every region (tests, the
    /// demo); default the region's.
    pub lwa_auth_url: Option<String>,
    /// `CONNECT_REDIRECT_URI`: where Login with Amazon returns after consent (default:
    /// this Worker's `/v1/connect/callback`); must be an Allowed Return URL of the
    /// security profile.
    pub connect_redirect_uri: Option<String>,
    /// `ALERT_WEBHOOK_URL`: where the cron trigger posts what an operator must act on.
    pub alert_webhook_url: Option<String>,
    /// `FLUSH_SECONDS` (default 60): a batch waits at most this long.
    pub flush_seconds: u64,
    /// `SITE_KEYS`: comma-separated keys of the sites whose tag may post.
    pub site_keys: Vec<String>,
    /// `ALLOWED_ORIGINS`: comma-separated origins those pages are served from (`*` for any).
    pub allowed_origins: Vec<String>,
    /// `DATA_SET_NAME`: the Events API `dataSetName` (optional).
    pub data_set_name: Option<String>,
    /// `EVENT_MAP`: JSON object of event name → conversionType, over the defaults.
    pub event_map: HashMap<String, String>,
    /// `BATCH_MAX_EVENTS` (default and maximum 500).
    pub batch_max_events: usize,
    /// `RETRY_HOURS` (default 72, at most 480 = 20 days, inside Amazon's 21-day window):
    /// how long delivery may keep failing before a batch is dead-lettered, in ms; read it
    /// through [`Config::retry_budget`], which also keeps it inside the legacy window.
    pub retry_budget_ms: u64,
    /// `MAX_BACKLOG` (default 200,000): events kept waiting per advertiser and region;
    /// beyond it ingest answers 503 with Retry-After and the tag keeps its events.
    pub max_backlog: u64,
    /// `DEAD_LETTER_DAYS` (default 21): how long dead letters are kept.
    pub dead_letter_days: u64,
    /// `LOG_DAYS` (default 30): how long the delivery log is kept.
    pub log_days: u64,
    /// `BACKOFF_BASE_MS` (default 1,000): the first backoff step after a failed delivery.
    pub backoff_base_ms: u64,
    /// `LOCAL_DEV` (`true` only in the top-level, local configuration): allows `http://`
    /// Amazon hosts and the demo secrets, and answers only on loopback and test hosts.
    pub local_dev: bool,
    /// `RATE_LIMIT_PER_MINUTE` (default 600) per site key and per client IP.
    pub rate_limit_per_minute: u32,
    /// `SHARDS` (default 1): batching objects per integration, a number up to 64 or
    /// `auto` (see [`crate::shard`]).
    pub shards: crate::shard::Shards,
    /// `SHARD_TIMING_SCALE` and `SHARD_TARGET_REQUESTS` (defaults: the times and target of
    /// [`crate::shard`]): a testing and tuning knob for `SHARDS=auto`.
    pub shard_tuning: crate::shard::Tuning,
    /// `REFRESH_TOKEN_GRANTED_AT` (RFC 3339 date), to warn before the 365-day expiry.
    pub refresh_token_granted_at: Option<String>,
    /// `API_KIND`: `events` (default) or `dsp`.
    pub api_kind: ApiKind,
    /// `AMC_ADVERTISER_ID`: the numeric DSP advertiser id audiences target (needed only
    /// for audience sync).
    pub amc_advertiser_id: Option<u64>,
    /// `AUDIENCE_BATCH` (default 6,000, at most 10,000): records per request.
    pub audience_batch: usize,
    /// `AUDIENCE_TTL_SECONDS` (default 34,300,800, Amazon's 13 months).
    pub audience_ttl_seconds: u64,
    /// `AUDIENCE_API`: `amc` (default) or `dp`.
    pub audience_api: AudienceApi,
    /// `BROWSER_IDS`: the unhashed identifiers (`MATCH_ID`, `RAMP_ID`) browsers may send
    /// (default none).
    pub browser_ids: BrowserIds,
    /// `CUSTOM_DATA`: JSON object, custom data name → type; the only names browsers may
    /// send, and the type their values must have.
    pub custom_data: BTreeMap<String, CustomType>,
    /// `BROWSER_AUDIENCES`: the audiences browsers may join (default none), each
    /// `name` or `name:method` (`hashed`, `cookie` or `both`; `hashed` when not given).
    pub audiences: Vec<String>,
    /// The match method of each audience in `BROWSER_AUDIENCES`.
    pub audience_methods: BTreeMap<String, MatchMethod>,
    /// `DP_REQUESTS_PER_SECOND` (default 90, at most 100): the most Data Provider calls
    /// per second and operation per profile, shared by every object (Amazon allows 100
    /// patches a second; the operations documented slower go at their own rate, the core's
    /// `audience::RATES`).
    pub dp_requests_per_second: u64,
    /// `ADD_CLIENT_IP` (default off): add the client IP as `consent.geo.ipAddress` to a
    /// browser's event whose consent is granted.
    pub add_client_ip: bool,
    /// The integration this configuration is ([`crate::integration::DEFAULT_ID`] for
    /// the vars).
    pub integration_id: String,
    /// The connection whose grant delivery uses; `None`: the `LWA_REFRESH_TOKEN` secret.
    pub connection_id: Option<String>,
    /// A disabled integration refuses new events and still delivers what it accepted.
    pub disabled: bool,
    /// Whether events are taken (an audiences-only integration refuses them).
    pub events_enabled: bool,
}

/// The type of a custom data value (Amazon's `dataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomType {
    /// `STRING`: `[A-Za-z0-9_.:-]{1,256}`.
    String,
    /// `INTEGER`: a 32-bit signed integer.
    Integer,
    /// `TIMESTAMP`: an RFC 3339 date-time.
    Timestamp,
}

impl CustomType {
    /// Parses Amazon's name (`STRING`, `INTEGER`, `TIMESTAMP`).
    pub fn parse(s: &str) -> Option<CustomType> {
        match s {
            "STRING" => Some(CustomType::String),
            "INTEGER" => Some(CustomType::Integer),
            "TIMESTAMP" => Some(CustomType::Timestamp),
            _ => None,
        }
    }

    /// Amazon's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomType::String => "STRING",
            CustomType::Integer => "INTEGER",
            CustomType::Timestamp => "TIMESTAMP",
        }
    }
}

pub use matchkey::amazon::events::CONVERSION_TYPES;
use matchkey::amazon::events::ConversionsApi;

/// Whether `s` is an Events API `dataSetName` (`[A-Za-z][A-Za-z0-9_-]*`, at most 100).
pub fn valid_data_set_name(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a custom data name Amazon takes (letters, digits, `_`; at most 64).
pub fn valid_custom_data_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Default event name → Amazon conversionType (the browser tag uses the same map).
pub const DEFAULT_EVENT_MAP: [(&str, &str); 10] = [
    ("purchase", "OFF_AMAZON_PURCHASES"),
    ("add_to_cart", "ADD_TO_SHOPPING_CART"),
    ("page_view", "PAGE_VIEW"),
    ("sign_up", "SIGN_UP"),
    ("subscribe", "SUBSCRIBE"),
    ("lead", "LEAD"),
    ("search", "SEARCH"),
    ("checkout", "CHECKOUT"),
    ("contact", "CONTACT"),
    ("application", "APPLICATION"),
];

/// How an audience's members are matched (Lytics lets each audience choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// Hashed match keys (records uploaded, then the external user id).
    Hashed,
    /// The site's visitor id, matched to Amazon's cookie by the tag (`COOKIE-<id>`).
    Cookie,
    /// Both: a visitor id and hashes, each where given.
    Both,
}

impl MatchMethod {
    /// `hashed`, `cookie` or `both`.
    pub fn parse(s: &str) -> Option<MatchMethod> {
        match s {
            "hashed" => Some(MatchMethod::Hashed),
            "cookie" => Some(MatchMethod::Cookie),
            "both" => Some(MatchMethod::Both),
            _ => None,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMethod::Hashed => "hashed",
            MatchMethod::Cookie => "cookie",
            MatchMethod::Both => "both",
        }
    }

    /// Whether visitor ids (cookies) are used.
    pub fn cookies(self) -> bool {
        self != MatchMethod::Hashed
    }

    /// Whether hashes are used.
    pub fn hashes(self) -> bool {
        self != MatchMethod::Cookie
    }
}

fn list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default()
        .split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

impl Config {
    /// Reads the configuration through `var` (a lookup of `[vars]`).
    ///
    /// # Errors
    /// The name of a missing or malformed variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        // Empty: the vars describe no advertiser, only stored integrations serve.
        let advertiser_id = var("ADVERTISER_ID").unwrap_or_default().trim().to_owned();
        let region = Region::parse(&var("REGION").unwrap_or_else(|| "NA".into()))
            .ok_or("REGION must be NA, EU or FE")?;
        let api_base = var("AMAZON_API_BASE")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| region.api_host().to_owned())
            .trim_end_matches('/')
            .to_owned();
        let local_dev = var("LOCAL_DEV").is_some_and(|v| v.trim() == "true");
        let set = |name: &str| {
            var(name)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let lwa_token_url_set = set("LWA_TOKEN_URL").is_some();
        let lwa_token_url = set("LWA_TOKEN_URL").unwrap_or_else(|| {
            matchkey::amazon::connect::Region::parse(region.as_str())
                .unwrap_or(matchkey::amazon::connect::Region::Na)
                .token_url()
                .to_owned()
        });
        let lwa_auth_url = set("LWA_AUTH_URL");
        let connect_redirect_uri = set("CONNECT_REDIRECT_URI");
        let alert_webhook_url = set("ALERT_WEBHOOK_URL");
        if !local_dev {
            for (name, url) in [
                ("AMAZON_API_BASE", Some(&api_base)),
                ("LWA_TOKEN_URL", Some(&lwa_token_url)),
                ("LWA_AUTH_URL", lwa_auth_url.as_ref()),
                ("CONNECT_REDIRECT_URI", connect_redirect_uri.as_ref()),
                ("ALERT_WEBHOOK_URL", alert_webhook_url.as_ref()),
            ] {
                let Some(url) = url else { continue };
                if !url.starts_with("https://") {
                    return Err(format!(
                        "{name} must be an https:// URL outside local development"
                    ));
                }
            }
        }
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match var(name).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number")),
            }
        };
        let mut event_map: HashMap<String, String> = DEFAULT_EVENT_MAP
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some(json) = var("EVENT_MAP").filter(|s| !s.is_empty()) {
            let extra: HashMap<String, String> = serde_json::from_str(&json)
                .map_err(|_| "EVENT_MAP must be a JSON object of strings")?;
            event_map.extend(extra);
        }
        if event_map
            .values()
            .any(|t| !CONVERSION_TYPES.contains(&t.as_str()))
        {
            return Err("EVENT_MAP values must be Amazon conversion types".into());
        }
        let data_set_name = var("DATA_SET_NAME").filter(|s| !s.is_empty());
        if data_set_name
            .as_deref()
            .is_some_and(|s| !valid_data_set_name(s))
        {
            return Err("DATA_SET_NAME must match [A-Za-z][A-Za-z0-9_-]* (at most 100)".into());
        }
        let mut browser_ids = BrowserIds::default();
        for id in list(var("BROWSER_IDS")) {
            match id.to_ascii_uppercase().as_str() {
                "MATCH_ID" => browser_ids.match_id = true,
                "RAMP_ID" => browser_ids.ramp_id = true,
                _ => return Err("BROWSER_IDS may list only MATCH_ID and RAMP_ID".into()),
            }
        }
        let mut custom_data = BTreeMap::new();
        if let Some(json) = var("CUSTOM_DATA").filter(|s| !s.trim().is_empty()) {
            let bad =
                || "CUSTOM_DATA must be a JSON object of name to STRING, INTEGER or TIMESTAMP";
            let map: HashMap<String, String> = serde_json::from_str(&json).map_err(|_| bad())?;
            for (name, kind) in map {
                let kind = CustomType::parse(&kind).ok_or_else(bad)?;
                if !valid_custom_data_name(&name) {
                    return Err("CUSTOM_DATA names allow only letters, digits and _".into());
                }
                custom_data.insert(name, kind);
            }
        }
        let mut audiences = Vec::new();
        let mut audience_methods = BTreeMap::new();
        for entry in list(var("BROWSER_AUDIENCES")) {
            let (name, method) = match entry.split_once(':') {
                Some((name, method)) => (name.trim(), MatchMethod::parse(method.trim())),
                None => (entry.as_str(), Some(MatchMethod::Hashed)),
            };
            let Some(method) = method.filter(|_| matchkey::amazon::audience::valid_name(name))
            else {
                return Err("BROWSER_AUDIENCES must list audience names ([0-9A-Za-z_-], at most 64), each optionally :hashed, :cookie or :both".into());
            };
            audiences.push(name.to_owned());
            audience_methods.insert(name.to_owned(), method);
        }
        let add_client_ip = match var("ADD_CLIENT_IP")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "false" | "0" | "off" | "no" => false,
            "true" | "1" | "on" | "yes" => true,
            _ => return Err("ADD_CLIENT_IP must be true or false".into()),
        };
        let audience_api = match var("AUDIENCE_API").unwrap_or_default().trim() {
            "" | "amc" => AudienceApi::Amc,
            "dp" => AudienceApi::Dp {
                profile_id: var("PROFILE_ID")
                    .filter(|s| !s.is_empty())
                    .ok_or("AUDIENCE_API=dp needs PROFILE_ID")?,
            },
            _ => return Err("AUDIENCE_API must be amc or dp".into()),
        };
        if audience_api == AudienceApi::Amc && audience_methods.values().any(|m| m.cookies()) {
            return Err("BROWSER_AUDIENCES: cookie and both need AUDIENCE_API=dp (COOKIE ids exist only in the Data Provider API)".into());
        }
        Ok(Config {
            advertiser_id,
            region,
            api_base,
            lwa_token_url,
            lwa_token_url_set,
            lwa_auth_url,
            connect_redirect_uri,
            alert_webhook_url,
            flush_seconds: number("FLUSH_SECONDS", 60)?.max(1),
            site_keys: list(var("SITE_KEYS")),
            allowed_origins: list(var("ALLOWED_ORIGINS")),
            data_set_name,
            event_map,
            batch_max_events: (number("BATCH_MAX_EVENTS", 500)? as usize).clamp(1, 500),
            retry_budget_ms: number("RETRY_HOURS", 72)?.clamp(1, 480) * 3_600_000,
            max_backlog: number("MAX_BACKLOG", 200_000)?.max(1),
            dead_letter_days: number("DEAD_LETTER_DAYS", 21)?.max(1),
            log_days: number("LOG_DAYS", 30)?.max(1),
            backoff_base_ms: number("BACKOFF_BASE_MS", 1000)?.clamp(10, 60_000),
            local_dev,
            rate_limit_per_minute: number("RATE_LIMIT_PER_MINUTE", 600)? as u32,
            shards: crate::shard::Shards::parse(var("SHARDS").as_deref())?,
            shard_tuning: crate::shard::Tuning::parse(
                var("SHARD_TIMING_SCALE").as_deref(),
                var("SHARD_TARGET_REQUESTS").as_deref(),
            )?,
            refresh_token_granted_at: var("REFRESH_TOKEN_GRANTED_AT").filter(|s| !s.is_empty()),
            amc_advertiser_id: match var("AMC_ADVERTISER_ID").filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(s.trim().parse().map_err(|_| "AMC_ADVERTISER_ID must be a number")?),
            },
            audience_batch: (number("AUDIENCE_BATCH", 6000)? as usize).clamp(1, 10_000),
            audience_ttl_seconds: number("AUDIENCE_TTL_SECONDS", 34_300_800)?.min(34_300_800),
            audience_api,
            api_kind: match var("API_KIND").unwrap_or_default().trim() {
                "" | "events" => ApiKind::Events,
                "dsp" => ApiKind::Dsp {
                    profile_id: var("PROFILE_ID").filter(|s| !s.is_empty()).ok_or("API_KIND=dsp needs PROFILE_ID")?,
                    definitions: serde_json::from_str(&var("CONVERSION_DEFINITIONS").unwrap_or_default())
                        .map_err(|_| "API_KIND=dsp needs CONVERSION_DEFINITIONS, a JSON object of event name to definition id")?,
                },
                _ => return Err("API_KIND must be events or dsp".into()),
            },
            browser_ids,
            custom_data,
            audiences,
            audience_methods,
            dp_requests_per_second: number("DP_REQUESTS_PER_SECOND", 90)?.clamp(1, 100),
            add_client_ip,
            integration_id: crate::integration::DEFAULT_ID.to_owned(),
            connection_id: None,
            disabled: false,
            events_enabled: true,
        })
    }

    /// Whether the vars describe an advertiser (the default integration).
    pub fn has_advertiser(&self) -> bool {
        !self.advertiser_id.is_empty()
    }

    /// The audience API, as the shared Amazon calls take it.
    pub fn audience_api(&self) -> matchkey::amazon::audience::Api<'_> {
        match &self.audience_api {
            AudienceApi::Amc => matchkey::amazon::audience::Api::Amc,
            AudienceApi::Dp { profile_id } => matchkey::amazon::audience::Api::Dp { profile_id },
        }
    }

    /// The Data Provider profile, when audiences go through the Data Provider API.
    pub fn dp_profile(&self) -> Option<&str> {
        match &self.audience_api {
            AudienceApi::Dp { profile_id } => Some(profile_id),
            AudienceApi::Amc => None,
        }
    }

    /// How members of audience `name` are matched: its `BROWSER_AUDIENCES` method, else
    /// (an audience only servers fill) both when the Data Provider API keeps audiences,
    /// hashed otherwise.
    pub fn match_method(&self, name: &str) -> MatchMethod {
        match self.audience_methods.get(name) {
            Some(m) => *m,
            None if self.dp_profile().is_some() => MatchMethod::Both,
            None => MatchMethod::Hashed,
        }
    }

    /// The conversions API events go to, for the rules that differ per API (the event
    /// window, currencies): one table, in the core's [`ConversionsApi`].
    pub fn conversions_api(&self) -> ConversionsApi {
        match self.api_kind {
            ApiKind::Events => ConversionsApi::Events,
            ApiKind::Dsp { .. } => ConversionsApi::Legacy,
        }
    }

    /// How long delivery may keep failing before a batch is dead-lettered, in ms:
    /// `RETRY_HOURS`, but always a day inside the API's event window (7 days for the
    /// legacy import), so a retried event is never older than Amazon takes.
    pub fn retry_budget(&self) -> u64 {
        let window_hours = (self.conversions_api().lookback_days() as u64 - 1) * 24;
        self.retry_budget_ms.min(window_hours * 3_600_000)
    }

    /// Events per Amazon request for the configured API.
    pub fn batch_size(&self) -> usize {
        match self.api_kind {
            ApiKind::Events => self.batch_max_events,
            ApiKind::Dsp { .. } => self.batch_max_events.min(100),
        }
    }

    /// Whether a request's host may be served: anything in production; only loopback
    /// and test hosts for the local configuration, so that a top-level (demo) deploy to
    /// Cloudflare answers nothing.
    pub fn host_allowed(&self, host: &str) -> bool {
        !self.local_dev
            || matches!(host, "127.0.0.1" | "localhost" | "[::1]")
            || host.ends_with(".test")
    }

    /// Whether a page served from `origin` may post for its site.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == "*" || o == origin)
    }

    /// The Amazon conversionType for an event name (`OTHER` when unmapped).
    pub fn conversion_type(&self, name: &str) -> &str {
        self.event_map.get(name).map_or("OTHER", String::as_str)
    }
}

/// A configuration for tests: advertiser `ENTITY1` and `vars`.
#[cfg(test)]
pub(crate) fn config_with(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(|k| {
        if k == "ADVERTISER_ID" {
            return Some("ENTITY1".to_owned());
        }
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn browser_audiences_carry_their_match_method() {
        let base = [
            ("ADVERTISER_ID", "583"),
            ("BROWSER_AUDIENCES", "news, seen:cookie, all:both"),
        ];
        let amc = Config::from_vars(vars(&base));
        assert!(amc.unwrap_err().contains("AUDIENCE_API=dp"));
        let mut dp = base.to_vec();
        dp.extend([("AUDIENCE_API", "dp"), ("PROFILE_ID", "9")]);
        let c = Config::from_vars(vars(&dp)).unwrap();
        assert_eq!(c.audiences, ["news", "seen", "all"]);
        assert_eq!(c.match_method("news"), MatchMethod::Hashed);
        assert_eq!(c.match_method("seen"), MatchMethod::Cookie);
        assert_eq!(c.match_method("all"), MatchMethod::Both);
        // An audience only servers fill: both under the Data Provider API.
        assert_eq!(c.match_method("crm"), MatchMethod::Both);
        assert_eq!(c.dp_profile(), Some("9"));
        assert_eq!(c.dp_requests_per_second, 90);
        let plain = Config::from_vars(vars(&[("BROWSER_AUDIENCES", "news")])).unwrap();
        assert_eq!(plain.match_method("crm"), MatchMethod::Hashed);
        for bad in ["news:fax", "bad name:cookie", ":cookie"] {
            assert!(
                Config::from_vars(vars(&[("BROWSER_AUDIENCES", bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_vars_with_defaults_and_overrides() {
        let c = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("REGION", "eu"),
            ("SITE_KEYS", "a, b"),
            ("ALLOWED_ORIGINS", "https://shop.example"),
            ("EVENT_MAP", r#"{"refund":"OTHER","purchase":"CHECKOUT"}"#),
        ]))
        .unwrap();
        assert_eq!(c.region, Region::Eu);
        assert_eq!(c.api_base, "https://advertising-api-eu.amazon.com");
        assert_eq!(c.site_keys, ["a", "b"]);
        assert_eq!(c.flush_seconds, 60);
        assert_eq!(c.conversion_type("purchase"), "CHECKOUT");
        assert_eq!(c.conversion_type("page_view"), "PAGE_VIEW");
        assert_eq!(c.conversion_type("wishlist"), "OTHER");
        assert!(
            c.origin_allowed("https://shop.example") && !c.origin_allowed("https://evil.example")
        );
        let local = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("AMAZON_API_BASE", "http://127.0.0.1:9/"),
            ("LOCAL_DEV", "true"),
        ]))
        .unwrap();
        assert_eq!(local.api_base, "http://127.0.0.1:9");
        assert!(
            local.host_allowed("127.0.0.1") && !local.host_allowed("matchkey.example.workers.dev")
        );
        assert!(c.host_allowed("matchkey.example.workers.dev"));
        assert_eq!(c.retry_budget_ms, 72 * 3_600_000);
        let e = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("AMAZON_API_BASE", "http://127.0.0.1:9/"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            "AMAZON_API_BASE must be an https:// URL outside local development"
        );
        let e = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("LWA_TOKEN_URL", "http://api.amazon.com/auth/o2/token"),
        ]))
        .unwrap_err();
        assert!(e.starts_with("LWA_TOKEN_URL must be"));
    }

    #[test]
    fn legacy_api_needs_its_ids() {
        let c = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("API_KIND", "dsp"),
            ("PROFILE_ID", "333"),
            ("CONVERSION_DEFINITIONS", r#"{"*":"591"}"#),
        ]))
        .unwrap();
        assert_eq!(c.batch_size(), 100);
        assert!(matches!(c.api_kind, ApiKind::Dsp { ref profile_id, .. } if profile_id == "333"));
        // The legacy import takes events of the last 7 days: retries stop a day before.
        assert_eq!(c.conversions_api(), ConversionsApi::Legacy);
        assert_eq!(c.retry_budget(), 72 * 3_600_000);
        let long = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("API_KIND", "dsp"),
            ("PROFILE_ID", "333"),
            ("CONVERSION_DEFINITIONS", r#"{"*":"591"}"#),
            ("RETRY_HOURS", "400"),
        ]))
        .unwrap();
        assert_eq!(long.retry_budget(), 6 * 24 * 3_600_000);
        let events =
            Config::from_vars(vars(&[("ADVERTISER_ID", "583"), ("RETRY_HOURS", "400")])).unwrap();
        assert_eq!(events.retry_budget(), 400 * 3_600_000);
        let e =
            Config::from_vars(vars(&[("ADVERTISER_ID", "583"), ("API_KIND", "dsp")])).unwrap_err();
        assert_eq!(e, "API_KIND=dsp needs PROFILE_ID");
    }

    #[test]
    fn audience_api_is_amc_unless_dp_with_a_profile() {
        let base = [("ADVERTISER_ID", "583")];
        assert_eq!(
            Config::from_vars(vars(&base)).unwrap().audience_api,
            AudienceApi::Amc
        );
        let dp = Config::from_vars(vars(&[
            base[0],
            ("AUDIENCE_API", "dp"),
            ("PROFILE_ID", "333"),
        ]));
        assert_eq!(
            dp.unwrap().audience_api,
            AudienceApi::Dp {
                profile_id: "333".into()
            }
        );
        let e = Config::from_vars(vars(&[base[0], ("AUDIENCE_API", "dp")])).unwrap_err();
        assert_eq!(e, "AUDIENCE_API=dp needs PROFILE_ID");
        let e = Config::from_vars(vars(&[base[0], ("AUDIENCE_API", "x")])).unwrap_err();
        assert_eq!(e, "AUDIENCE_API must be amc or dp");
    }

    #[test]
    fn browser_settings_default_to_nothing_and_are_checked() {
        let base = Config::from_vars(vars(&[("ADVERTISER_ID", "583")])).unwrap();
        assert_eq!(base.browser_ids, BrowserIds::default());
        assert!(base.custom_data.is_empty() && base.audiences.is_empty() && !base.add_client_ip);
        let c = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "583"),
            ("BROWSER_IDS", "ramp_id"),
            ("CUSTOM_DATA", r#"{"brand":"STRING","qty":"INTEGER"}"#),
            ("BROWSER_AUDIENCES", "newsletter, buyers_30d"),
            ("ADD_CLIENT_IP", "true"),
        ]))
        .unwrap();
        assert!(c.browser_ids.ramp_id && !c.browser_ids.match_id);
        assert_eq!(c.custom_data.get("qty"), Some(&CustomType::Integer));
        assert_eq!(c.audiences, ["newsletter", "buyers_30d"]);
        assert!(c.add_client_ip);
        for (name, value, error) in [
            (
                "BROWSER_IDS",
                "EMAIL",
                "BROWSER_IDS may list only MATCH_ID and RAMP_ID",
            ),
            (
                "CUSTOM_DATA",
                r#"{"brand":"TEXT"}"#,
                "CUSTOM_DATA must be a JSON object of name to STRING, INTEGER or TIMESTAMP",
            ),
            (
                "CUSTOM_DATA",
                "[]",
                "CUSTOM_DATA must be a JSON object of name to STRING, INTEGER or TIMESTAMP",
            ),
            (
                "CUSTOM_DATA",
                r#"{"a b":"STRING"}"#,
                "CUSTOM_DATA names allow only letters, digits and _",
            ),
            (
                "BROWSER_AUDIENCES",
                "ok,not ok",
                "BROWSER_AUDIENCES must list audience names ([0-9A-Za-z_-], at most 64), each optionally :hashed, :cookie or :both",
            ),
            (
                "ADD_CLIENT_IP",
                "maybe",
                "ADD_CLIENT_IP must be true or false",
            ),
            (
                "EVENT_MAP",
                r#"{"x":"BUY"}"#,
                "EVENT_MAP values must be Amazon conversion types",
            ),
            (
                "DATA_SET_NAME",
                "1web",
                "DATA_SET_NAME must match [A-Za-z][A-Za-z0-9_-]* (at most 100)",
            ),
        ] {
            let e =
                Config::from_vars(vars(&[("ADVERTISER_ID", "583"), (name, value)])).unwrap_err();
            assert_eq!(e, error, "{name}={value}");
        }
    }

    #[test]
    fn names_what_is_wrong() {
        // No advertiser: a Worker serving stored integrations only.
        assert!(!Config::from_vars(vars(&[])).unwrap().has_advertiser());
        let e = Config::from_vars(vars(&[("ADVERTISER_ID", "1"), ("FLUSH_SECONDS", "soon")]))
            .unwrap_err();
        assert_eq!(e, "FLUSH_SECONDS must be a whole number");
    }

    #[test]
    fn the_shard_tuning_is_read_and_checked_by_name() {
        let d = Config::from_vars(vars(&[("ADVERTISER_ID", "1")])).unwrap();
        assert_eq!(d.shard_tuning, crate::shard::Tuning::default());
        let t = Config::from_vars(vars(&[
            ("ADVERTISER_ID", "1"),
            ("SHARDS", "auto"),
            ("SHARD_TIMING_SCALE", "10"),
            ("SHARD_TARGET_REQUESTS", "10"),
        ]))
        .unwrap();
        assert_eq!(
            (t.shard_tuning.lead_ms, t.shard_tuning.cache_ms),
            (4_500, 3_000)
        );
        assert_eq!(t.shard_tuning.target_requests_per_shard, 10);
        for (name, value) in [
            ("SHARD_TIMING_SCALE", "100"),
            ("SHARD_TARGET_REQUESTS", "0"),
        ] {
            let e = Config::from_vars(vars(&[("ADVERTISER_ID", "1"), (name, value)])).unwrap_err();
            assert!(e.starts_with(name), "{e}");
        }
    }
}
