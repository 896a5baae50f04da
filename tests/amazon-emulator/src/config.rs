//! The emulator's configuration: LwA clients, refresh tokens, advertisers and limits.
//!
//! Read once at start from a JSON or TOML file (camelCase keys, unknown keys rejected), or
//! taken from [`Config::demo`] when no file is given. See the crate README for the format.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::trafficking::{self, Campaign};

/// Client id of the built-in demo configuration.
pub const DEMO_CLIENT_ID: &str = "amzn1.application-oa2-client.matchkey-demo";
/// Client secret of the built-in demo configuration.
pub const DEMO_CLIENT_SECRET: &str = "matchkey-demo-secret";
/// Refresh token of the built-in demo configuration.
pub const DEMO_REFRESH_TOKEN: &str = "Atzr|matchkey-demo-refresh";
/// Advertiser (account) id of the built-in demo configuration.
pub const DEMO_ACCOUNT_ID: &str = "ENTITY1MATCHKEYDEMO";
/// Profile id of the demo advertiser.
pub const DEMO_PROFILE_ID: u64 = 1_234_567_890;
/// Numeric DSP advertiser id of the demo advertiser (AMC `targetResource.advertiserId`).
pub const DEMO_NUMERIC_ID: u64 = 583_000_000_000_001;
/// AMC instance id of the demo advertiser (`/amc/advertiserData/{instanceId}/…`).
pub const DEMO_AMC_INSTANCE_ID: &str = "amcmatchkeydemo";

/// Allowed return URLs of the demo client: `matchkey connect`'s default redirect URI, and
/// the same on any loopback port (for tests that bind a free one).
pub const DEMO_RETURN_URLS: &[&str] = &[
    "http://localhost:8338/callback",
    "http://localhost:*/callback",
    "http://127.0.0.1:*/callback",
];

/// Everything the emulator knows before the first request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Lifetime of issued access tokens, in seconds (Amazon: 3600).
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    /// A fixed "now" (RFC 3339) instead of the system clock, for deterministic windows.
    #[serde(default)]
    pub now: Option<String>,
    /// How far in the future an event time may lie, in seconds.
    #[serde(default = "default_future_skew")]
    pub future_skew_secs: u64,
    /// Largest body the Ads API endpoints accept before answering 413, in bytes. Amazon
    /// does not publish the Events API limit; 1 MiB is Tealium's safe cap.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// LwA applications allowed to get tokens.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Refresh tokens that exist (each granted to one client).
    #[serde(default)]
    pub refresh_tokens: Vec<RefreshToken>,
    /// Advertisers (DSP advertiser accounts) the grants can reach.
    #[serde(default)]
    pub advertisers: Vec<Advertiser>,
}

/// A Login with Amazon application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Client {
    /// `client_id`, such as `amzn1.application-oa2-client.…`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// The security profile's "Allowed Return URLs": the consent page redirects only to
    /// one of these, exactly. Emulator choice: an entry whose host is `localhost` or
    /// `127.0.0.1` may give its port as `*` (any port), for tests that bind a free port;
    /// whether Login with Amazon ignores the port of a loopback URL is unconfirmed, so a
    /// real security profile lists the exact URL.
    #[serde(default)]
    pub allowed_return_urls: Vec<String>,
}

/// A refresh token granted by a user to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshToken {
    /// The token (`Atzr|…`).
    pub token: String,
    /// The client it was granted to; other clients get `invalid_grant`.
    pub client_id: String,
    /// Account ids this grant may act for; all advertisers when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertisers: Option<Vec<String>>,
}

/// The Ads API region an advertiser lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Region {
    /// North America (`advertising-api.amazon.com`).
    #[serde(rename = "NA")]
    Na,
    /// Europe (`advertising-api-eu.amazon.com`).
    #[serde(rename = "EU")]
    Eu,
    /// Far East (`advertising-api-fe.amazon.com`).
    #[serde(rename = "FE")]
    Fe,
}

/// `accountInfo.type` of a profile: DSP profiles are always `agency` (doc F2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileType {
    /// An agency (DSP) profile: `GET /dsp/advertisers` lists its advertisers.
    #[default]
    Agency,
    /// A vendor profile (sponsored ads).
    Vendor,
    /// A seller profile (sponsored ads).
    Seller,
}

/// One advertiser: a DSP advertiser account with its profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Advertiser {
    /// The id sent as `Amazon-Ads-AccountId` and in `/accounts/{accountId}/dsp/…` (the DSP
    /// advertiser id; `alternateIds[].dspAdvertiserId` in the account lookup).
    pub account_id: String,
    /// Region whose host serves this advertiser.
    pub region: Region,
    /// Profile id (`/v2/profiles`, `Amazon-Advertising-API-Scope`).
    pub profile_id: u64,
    /// The profile's `accountInfo.type`; `agency` when absent.
    #[serde(default, skip_serializing_if = "is_agency")]
    pub profile_type: ProfileType,
    /// Numeric DSP advertiser id for AMC `targetResource.advertiserId`; defaults to
    /// `accountId` when that is numeric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_id: Option<u64>,
    /// AMC connection id that targets this advertiser, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amc_connection_id: Option<String>,
    /// The AMC instance this advertiser owns, for advertiser data uploads
    /// (`/amc/advertiserData/{instanceId}/…`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amc_instance_id: Option<String>,
    /// Display name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Marketplace country of the profile.
    #[serde(default = "default_country")]
    pub country_code: String,
    /// Currency of the profile.
    #[serde(default = "default_currency")]
    pub currency_code: String,
    /// Time zone of the profile.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Entity id shown in profiles and the account lookup; defaults to `accountId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// DSP campaigns with their ad groups and targets (`/dsp/v1/…/list`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<Campaign>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Advertiser {
    /// The numeric id AMC uses for this advertiser, if it has one.
    pub fn amc_id(&self) -> Option<u64> {
        self.numeric_id.or_else(|| self.account_id.parse().ok())
    }

    /// The entity id shown for this advertiser.
    pub fn entity(&self) -> &str {
        self.entity_id.as_deref().unwrap_or(&self.account_id)
    }
}

impl Config {
    /// [`Config::demo`] and two more advertisers, for discovery across regions: an EU
    /// agency with an AMC instance and an FE seller without one.
    pub fn three_regions() -> Self {
        let mut config = Self::demo();
        let demo = config.advertisers[0].clone();
        config.advertisers.push(Advertiser {
            account_id: "583000000000002".to_owned(),
            region: Region::Eu,
            profile_id: 3_333_333_333,
            country_code: "DE".to_owned(),
            currency_code: "EUR".to_owned(),
            name: "Acme EU".to_owned(),
            amc_instance_id: Some("amceu".to_owned()),
            entity_id: Some("ENTITY2EU".to_owned()),
            numeric_id: None,
            ..demo.clone()
        });
        config.advertisers.push(Advertiser {
            account_id: "ENTITY3FE".to_owned(),
            region: Region::Fe,
            profile_id: 4_444_444_444,
            profile_type: ProfileType::Seller,
            country_code: "JP".to_owned(),
            currency_code: "JPY".to_owned(),
            amc_instance_id: None,
            numeric_id: None,
            ..demo
        });
        config
    }

    /// [`Config::demo`] plus `dsp` DSP advertisers under one agency entity
    /// (`ENTITYAGENCY`, profile ids from 7,000,000,000) and `amc` advertisers with an AMC
    /// account and instance each (`ENTITYAMC<n>`, `amcpage<n>`): lists long enough to be
    /// paged (`/dsp/advertisers` 100, `/amc/accounts` 100 a page).
    pub fn paged(dsp: usize, amc: usize) -> Self {
        let mut config = Self::demo();
        let demo = config.advertisers[0].clone();
        for n in 0..dsp {
            config.advertisers.push(Advertiser {
                account_id: format!("59{n:013}"),
                profile_id: 7_000_000_000 + n as u64,
                name: format!("Agency client {n}"),
                amc_instance_id: None,
                amc_connection_id: None,
                entity_id: Some("ENTITYAGENCY".to_owned()),
                numeric_id: None,
                ..demo.clone()
            });
        }
        for n in 0..amc {
            config.advertisers.push(Advertiser {
                account_id: format!("58{n:013}"),
                profile_id: 8_000_000_000 + n as u64,
                name: format!("AMC advertiser {n}"),
                amc_instance_id: Some(format!("amcpage{n}")),
                amc_connection_id: None,
                entity_id: Some(format!("ENTITYAMC{n}")),
                numeric_id: None,
                ..demo.clone()
            });
        }
        config
    }

    /// The built-in configuration: one demo client, refresh token and NA advertiser.
    pub fn demo() -> Self {
        Self {
            token_ttl_secs: default_token_ttl(),
            now: None,
            future_skew_secs: default_future_skew(),
            max_body_bytes: default_max_body(),
            clients: vec![Client {
                client_id: DEMO_CLIENT_ID.to_owned(),
                client_secret: DEMO_CLIENT_SECRET.to_owned(),
                allowed_return_urls: DEMO_RETURN_URLS.iter().map(|&u| u.to_owned()).collect(),
            }],
            refresh_tokens: vec![RefreshToken {
                token: DEMO_REFRESH_TOKEN.to_owned(),
                client_id: DEMO_CLIENT_ID.to_owned(),
                advertisers: None,
            }],
            advertisers: vec![Advertiser {
                account_id: DEMO_ACCOUNT_ID.to_owned(),
                region: Region::Na,
                profile_id: DEMO_PROFILE_ID,
                profile_type: ProfileType::Agency,
                numeric_id: Some(DEMO_NUMERIC_ID),
                amc_connection_id: None,
                amc_instance_id: Some(DEMO_AMC_INSTANCE_ID.to_owned()),
                name: default_name(),
                country_code: default_country(),
                currency_code: default_currency(),
                timezone: default_timezone(),
                entity_id: None,
                campaigns: Vec::new(),
            }],
        }
    }

    /// Reads a configuration file: TOML when the name ends in `.toml`, JSON otherwise.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or parsed, or fails [`Config::check`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
        let is_toml = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
        let config: Self = if is_toml {
            // toml's Display quotes the offending line, which may hold a secret: report the
            // message and the line number only.
            toml::from_str(&text).map_err(|error| {
                let line = error
                    .span()
                    .map_or(0, |span| text[..span.start].lines().count().max(1));
                ConfigError(format!(
                    "{} line {line}: {}",
                    path.display(),
                    error.message().trim_end()
                ))
            })?
        } else {
            serde_json::from_str(&text)
                .map_err(|error| ConfigError(format!("{}: {error}", path.display())))?
        };
        config.check()?;
        Ok(config)
    }

    /// Checks cross-references: unique ids, tokens of known clients, valid `now`.
    ///
    /// # Errors
    ///
    /// On the first inconsistency found.
    pub fn check(&self) -> Result<(), ConfigError> {
        let fail = |message: String| Err(ConfigError(message));
        if let Some(now) = &self.now
            && check::parse_rfc3339(now).is_none()
        {
            return fail("now must be an RFC 3339 date-time".to_owned());
        }
        if self.token_ttl_secs == 0 {
            return fail("tokenTtlSecs must be at least 1".to_owned());
        }
        for (position, client) in self.clients.iter().enumerate() {
            if self.clients[..position]
                .iter()
                .any(|c| c.client_id == client.client_id)
            {
                return fail(format!("client {} is listed twice", client.client_id));
            }
        }
        for client in &self.clients {
            for url in &client.allowed_return_urls {
                if !return_url_is_valid(url) {
                    return fail(format!(
                        "client {}: allowed return URL {url} must be an http(s) URL without a fragment; only localhost and 127.0.0.1 may have port *",
                        client.client_id
                    ));
                }
            }
        }
        for (position, advertiser) in self.advertisers.iter().enumerate() {
            let earlier = &self.advertisers[..position];
            if earlier
                .iter()
                .any(|a| a.account_id == advertiser.account_id)
            {
                return fail(format!(
                    "advertiser {} is listed twice",
                    advertiser.account_id
                ));
            }
            if earlier
                .iter()
                .any(|a| a.profile_id == advertiser.profile_id)
            {
                return fail(format!(
                    "profile id {} is listed twice",
                    advertiser.profile_id
                ));
            }
            if let Err(message) = trafficking::check_campaigns(&advertiser.campaigns) {
                return fail(format!("advertiser {}: {message}", advertiser.account_id));
            }
            if let Some(instance) = &advertiser.amc_instance_id {
                // The id goes into URL paths as one segment.
                let path_safe = instance
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if instance.is_empty() || instance.len() > 64 || !path_safe {
                    return fail(format!(
                        "advertiser {}: amcInstanceId must match [A-Za-z0-9_-]{{1,64}}",
                        advertiser.account_id
                    ));
                }
                if earlier
                    .iter()
                    .any(|a| a.amc_instance_id.as_ref() == Some(instance))
                {
                    return fail(format!("AMC instance {instance} is listed twice"));
                }
            }
        }
        for (position, token) in self.refresh_tokens.iter().enumerate() {
            // Never print a token, not even a configured one: say which entry it is.
            if self.refresh_tokens[..position]
                .iter()
                .any(|t| t.token == token.token)
            {
                return fail(format!(
                    "refreshTokens[{position}] repeats an earlier token"
                ));
            }
            if !self.clients.iter().any(|c| c.client_id == token.client_id) {
                return fail(format!("refreshTokens[{position}] names an unknown client"));
            }
            for account in token.advertisers.iter().flatten() {
                if self.advertiser(account).is_none() {
                    return fail(format!(
                        "refreshTokens[{position}] names unknown advertiser {account}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The advertiser with this account id.
    pub fn advertiser(&self, account_id: &str) -> Option<&Advertiser> {
        self.advertisers.iter().find(|a| a.account_id == account_id)
    }

    /// The advertiser whose entity id (the AMC account, `Amazon-Advertising-API-AdvertiserId`)
    /// is `entity_id`.
    pub fn advertiser_by_entity(&self, entity_id: &str) -> Option<&Advertiser> {
        self.advertisers.iter().find(|a| a.entity() == entity_id)
    }

    /// The client with this id.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

impl Client {
    /// Whether the consent page may redirect to `uri`: one of the allowed return URLs,
    /// exactly, or a loopback entry with port `*` and the same path.
    pub fn allows_return_url(&self, uri: &str) -> bool {
        self.allowed_return_urls.iter().any(|allowed| {
            if allowed == uri {
                return true;
            }
            let Some((head, tail)) = allowed.split_once(":*") else {
                return false;
            };
            let Some(rest) = uri.strip_prefix(head).and_then(|r| r.strip_prefix(':')) else {
                return false;
            };
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            (1..=5).contains(&digits) && rest[digits..] == *tail
        })
    }
}

/// An allowed return URL's shape: `http(s)://host[:port]/…` without a fragment; a port of
/// `*` only on `http://localhost` or `http://127.0.0.1`.
fn return_url_is_valid(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || url.contains('#') || url.contains(char::is_whitespace) {
        return false;
    }
    match url.find(":*") {
        None => true,
        Some(_) => {
            (url.starts_with("http://localhost:*/") || url.starts_with("http://127.0.0.1:*/"))
                && url.matches('*').count() == 1
        }
    }
}

impl Region {
    /// The region's code as Amazon writes it (`NA`, `EU`, `FE`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Na => "NA",
            Self::Eu => "EU",
            Self::Fe => "FE",
        }
    }
}

fn is_agency(kind: &ProfileType) -> bool {
    *kind == ProfileType::Agency
}

fn default_token_ttl() -> u64 {
    3600
}

fn default_future_skew() -> u64 {
    300
}

fn default_max_body() -> usize {
    1024 * 1024
}

fn default_name() -> String {
    "matchkey demo advertiser".to_owned()
}

fn default_country() -> String {
    "US".to_owned()
}

fn default_currency() -> String {
    "USD".to_owned()
}

fn default_timezone() -> String {
    "America/Los_Angeles".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_consistent() {
        assert_eq!(Config::demo().check(), Ok(()));
        assert_eq!(
            Config::demo().advertisers[0].amc_id(),
            Some(DEMO_NUMERIC_ID)
        );
    }

    #[test]
    fn toml_and_json_read_the_same_shape() {
        let toml_text = r#"
            tokenTtlSecs = 60
            [[clients]]
            clientId = "c"
            clientSecret = "s"
            [[refreshTokens]]
            token = "Atzr|t"
            clientId = "c"
            advertisers = ["583000000000001"]
            [[advertisers]]
            accountId = "583000000000001"
            region = "EU"
            profileId = 3333333333
            countryCode = "DE"
        "#;
        let from_toml: Config = toml::from_str(toml_text).unwrap();
        let from_json: Config = serde_json::from_str(
            r#"{"tokenTtlSecs": 60,
                "clients": [{"clientId": "c", "clientSecret": "s"}],
                "refreshTokens": [{"token": "Atzr|t", "clientId": "c", "advertisers": ["583000000000001"]}],
                "advertisers": [{"accountId": "583000000000001", "region": "EU", "profileId": 3333333333, "countryCode": "DE"}]}"#,
        )
        .unwrap();
        assert_eq!(from_toml, from_json);
        assert_eq!(from_toml.check(), Ok(()));
        assert_eq!(from_toml.advertisers[0].amc_id(), Some(583_000_000_000_001));
    }

    #[test]
    fn toml_errors_do_not_quote_the_file() {
        let path = std::env::temp_dir().join(format!(
            "amazon-emulator-config-{}.toml",
            std::process::id()
        ));
        std::fs::write(
            &path,
            "[[clients]]\nclientId = \"c\"\nclientSecret = \"hunter2\" oops\n",
        )
        .unwrap();
        let error = Config::from_file(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains("line 3"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn unknown_keys_and_dangling_references_are_refused() {
        assert!(serde_json::from_str::<Config>(r#"{"tokenTTL": 5}"#).is_err());
        let mut config = Config::demo();
        config.refresh_tokens[0].client_id = "nobody".to_owned();
        assert!(config.check().is_err());
        let mut config = Config::demo();
        config.now = Some("tomorrow".to_owned());
        assert!(config.check().is_err());
    }

    #[test]
    fn return_urls_match_exactly_or_on_any_loopback_port() {
        let client = &Config::demo().clients[0];
        assert!(client.allows_return_url("http://localhost:8338/callback"));
        assert!(client.allows_return_url("http://localhost:41234/callback"));
        assert!(client.allows_return_url("http://127.0.0.1:5/callback"));
        assert!(!client.allows_return_url("http://localhost:41234/callback/x"));
        assert!(!client.allows_return_url("http://localhost:/callback"));
        assert!(!client.allows_return_url("http://localhost:41234/callback?x=1"));
        assert!(!client.allows_return_url("https://localhost:8338/callback"));
        assert!(!client.allows_return_url("http://evil.example:8338/callback"));
        assert!(!client.allows_return_url("http://localhost.evil.example/callback"));
        let mut config = Config::demo();
        config.clients[0].allowed_return_urls = vec!["http://app.example:*/cb".to_owned()];
        assert!(config.check().is_err());
        config.clients[0].allowed_return_urls = vec!["https://app.example/cb#x".to_owned()];
        assert!(config.check().is_err());
        config.clients[0].allowed_return_urls = vec!["https://app.example/cb".to_owned()];
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn amc_instance_ids_are_path_safe_and_unique() {
        let demo = Config::demo();
        assert_eq!(
            demo.advertisers[0].amc_instance_id.as_deref(),
            Some(DEMO_AMC_INSTANCE_ID)
        );
        let mut config = Config::demo();
        config.advertisers[0].amc_instance_id = Some("amc/1".to_owned());
        assert!(config.check().is_err());
        let mut config = Config::demo();
        let mut second = config.advertisers[0].clone();
        second.account_id = "583000000000002".to_owned();
        second.profile_id = 2;
        config.advertisers.push(second);
        assert!(config.check().unwrap_err().to_string().contains("twice"));
        config.advertisers[1].amc_instance_id = None;
        assert_eq!(config.check(), Ok(()));
        let parsed: Advertiser = serde_json::from_str(
            r#"{"accountId": "a", "region": "NA", "profileId": 1, "amcInstanceId": "amc12345678"}"#,
        )
        .unwrap();
        assert_eq!(parsed.amc_instance_id.as_deref(), Some("amc12345678"));
    }
}
