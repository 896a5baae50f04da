//! What the emulator knows: LwA clients, refresh tokens, authorization codes and
//! advertisers. A built-in default serves the demo with zero setup; a JSON file replaces it.

use serde::{Deserialize, Serialize};

/// The emulator's configuration (`--config file.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// LwA applications.
    pub clients: Vec<Client>,
    /// Refresh tokens and the client each was granted to.
    pub refresh_tokens: Vec<RefreshToken>,
    /// Authorization codes (the connect flow), each usable once.
    #[serde(default)]
    pub auth_codes: Vec<AuthCode>,
    /// Advertisers (DSP advertiser ids) the tokens may act for.
    pub advertisers: Vec<Advertiser>,
    /// Access-token lifetime in seconds.
    #[serde(default = "default_ttl")]
    pub token_ttl_secs: u64,
}

/// An LwA application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Client {
    /// `amzn1.application-oa2-client.…`
    pub id: String,
    /// The client secret.
    pub secret: String,
}

/// A refresh token granted to a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshToken {
    /// `Atzr|…`
    pub token: String,
    /// The client it belongs to.
    pub client_id: String,
}

/// An authorization code that exchanges for a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthCode {
    /// The code.
    pub code: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The refresh token it exchanges for.
    pub refresh_token: String,
}

/// An advertiser: its DSP advertiser id (the Events API's `Amazon-Ads-AccountId` and the
/// legacy API's path id), region, profile and name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Advertiser {
    /// DSP advertiser id.
    pub id: String,
    /// `NA`, `EU` or `FE`.
    pub region: String,
    /// Advertising profile id (the `Amazon-Advertising-API-Scope` header).
    pub profile_id: String,
    /// Marketplace country.
    pub country_code: String,
    /// Display name.
    pub name: String,
}

fn default_ttl() -> u64 {
    3600
}

/// Demo LwA client id.
pub const DEMO_CLIENT_ID: &str = "amzn1.application-oa2-client.matchkey-demo";
/// Demo LwA client secret.
pub const DEMO_CLIENT_SECRET: &str = "matchkey-demo-secret";
/// Demo refresh token.
pub const DEMO_REFRESH_TOKEN: &str = "Atzr|matchkey-demo-refresh";
/// Demo authorization code.
pub const DEMO_AUTH_CODE: &str = "matchkey-demo-code";

impl Default for Config {
    fn default() -> Self {
        let advertiser = |id: &str, region: &str, profile: &str, country: &str| Advertiser {
            id: id.into(),
            region: region.into(),
            profile_id: profile.into(),
            country_code: country.into(),
            name: format!("matchkey demo {region}"),
        };
        Config {
            clients: vec![Client {
                id: DEMO_CLIENT_ID.into(),
                secret: DEMO_CLIENT_SECRET.into(),
            }],
            refresh_tokens: vec![RefreshToken {
                token: DEMO_REFRESH_TOKEN.into(),
                client_id: DEMO_CLIENT_ID.into(),
            }],
            auth_codes: vec![AuthCode {
                code: DEMO_AUTH_CODE.into(),
                client_id: DEMO_CLIENT_ID.into(),
                refresh_token: DEMO_REFRESH_TOKEN.into(),
            }],
            advertisers: vec![
                advertiser("583000000000001", "NA", "3333333333", "US"),
                advertiser("583000000000002", "EU", "4444444444", "DE"),
                // Kept for configurations written before the numeric ids.
                advertiser("ENTITY1MATCHKEYDEMO", "NA", "5555555555", "US"),
            ],
            token_ttl_secs: default_ttl(),
        }
    }
}

impl Config {
    /// The advertiser with DSP advertiser id `id`.
    pub fn advertiser(&self, id: &str) -> Option<&Advertiser> {
        self.advertisers.iter().find(|a| a.id == id)
    }
}
