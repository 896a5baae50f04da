//! Amazon over HTTP: the calls `matchkey::amazon` describes, sent with `fetch`, and the
//! Login with Amazon access token, cached in memory and KV until a minute before expiry.

use std::cell::RefCell;
use std::collections::HashMap;

use matchkey::amazon::{self, TokenError, events};
use serde_json::{Value, json};
use worker::*;

use super::{now_ms, secret, store};
use crate::config::{ApiKind, Config};

const KV: &str = "TOKENS";

thread_local! {
    /// Access tokens and when they expire (ms), per connection, per isolate.
    static TOKENS: RefCell<HashMap<String, (String, u64)>> = RefCell::new(HashMap::new());
}

/// The name a connection's access token is cached under (the Worker's own secrets are
/// the connection `env`).
fn cache_key(config: &Config) -> String {
    format!(
        "lwa:access:{}",
        config.connection_id.as_deref().unwrap_or("env")
    )
}

/// The Ads API credentials of one call.
pub(super) fn auth<'a>(config: &'a Config, token: &'a str, client_id: &'a str) -> amazon::Auth<'a> {
    amazon::Auth {
        api_base: &config.api_base,
        access_token: token,
        client_id,
    }
}

/// The LwA client id (the `Amazon-Advertising-API-ClientId` header).
pub(super) fn client_id(env: &Env) -> String {
    secret(env, "LWA_CLIENT_ID").unwrap_or_default()
}

/// An answer: `(status, Retry-After, body)`, status 0 when there was none.
pub(super) type Reply = (u16, Option<String>, String);

/// Most `GET /dsp/advertisers` pages read for one agency profile in one request: 1,000
/// advertisers, so a console view or a check stays within Workers' subrequest limit.
pub(super) const DSP_ADVERTISER_PAGES: usize = 10;

/// The DSP advertisers of an agency profile, page after page as the spec pages them
/// (`startIndex`, `count`, `totalResults`), at most [`DSP_ADVERTISER_PAGES`] pages; `None`
/// when the first page is refused or unreadable (a later page that fails ends the list).
pub(super) async fn dsp_advertisers(
    auth: &amazon::Auth<'_>,
    profile_id: u64,
) -> Option<Vec<amazon::connect::DspAdvertiser>> {
    use amazon::connect::{
        list_dsp_advertisers_page, next_dsp_advertisers_start, parse_dsp_advertisers_page,
    };
    let mut all = Vec::new();
    let mut start = 0;
    for page in 0..DSP_ADVERTISER_PAGES {
        let (status, _, text) = send(list_dsp_advertisers_page(auth, profile_id, start)).await;
        let Some((list, total)) = parse_dsp_advertisers_page(&text).filter(|_| status == 200)
        else {
            return (page > 0).then_some(all);
        };
        let got = list.len();
        all.extend(list);
        match next_dsp_advertisers_start(start, got, total) {
            Some(next) => start = next,
            None => break,
        }
    }
    Some(all)
}

/// Sends a described Amazon call.
pub(super) async fn send(call: amazon::ApiRequest) -> Reply {
    let headers = Headers::new();
    for (name, value) in &call.headers {
        if headers.set(name, value).is_err() {
            return (0, None, String::new());
        }
    }
    let method = match call.method {
        amazon::Method::Get => Method::Get,
        amazon::Method::Post => Method::Post,
        amazon::Method::Patch => Method::Patch,
        amazon::Method::Put => Method::Put,
    };
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = call.body {
        init.with_body(Some(body.into()));
    }
    let Ok(request) = Request::new_with_init(&call.url, &init) else {
        return (0, None, String::new());
    };
    match Fetch::Request(request).send().await {
        Ok(mut response) => {
            let status = response.status_code();
            let retry_after = response.headers().get("retry-after").ok().flatten();
            (
                status,
                retry_after,
                response.text().await.unwrap_or_default(),
            )
        }
        Err(_) => (0, None, String::new()),
    }
}

/// An access token for the integration's connection: cached (in memory, and in KV
/// sealed with `TOKEN_KEYS` when they are set), or refreshed with its refresh token
/// (`force` skips the cache). A stored connection whose grant Amazon refuses is marked
/// `reconnect_needed`, which stops only the integrations that use it.
pub(super) async fn access_token(
    env: &Env,
    config: &Config,
    force: bool,
) -> std::result::Result<String, TokenError> {
    let now = now_ms();
    let key = cache_key(config);
    let keys = store::keys(env).ok();
    if !force {
        if let Some((token, _)) = TOKENS
            .with(|t| t.borrow().get(&key).cloned())
            .filter(|(_, exp)| *exp > now + 60_000)
        {
            return Ok(token);
        }
        if let (Some(keys), Ok(kv)) = (&keys, env.kv(KV))
            && let Ok(Some(cached)) = kv.get(&key).json::<(String, u64)>().await
            && cached.1 > now + 60_000
            && let Ok(token) = keys.open(&key, &cached.0)
        {
            TOKENS.with(|t| {
                t.borrow_mut()
                    .insert(key.clone(), (token.clone(), cached.1))
            });
            return Ok(token);
        }
    }
    let (Some(client_id), Some(client_secret)) = (
        secret(env, "LWA_CLIENT_ID"),
        secret(env, "LWA_CLIENT_SECRET"),
    ) else {
        return Err(TokenError::Unavailable("lwa_secrets_missing".into()));
    };
    let (refresh, token_url) = match &config.connection_id {
        None => (
            secret(env, "LWA_REFRESH_TOKEN")
                .ok_or_else(|| TokenError::Unavailable("lwa_secrets_missing".into()))?,
            config.lwa_token_url.clone(),
        ),
        Some(id) => {
            let connection = store::connection(env, id)
                .await
                .map_err(|_| TokenError::Unavailable("d1_unavailable".into()))?
                .ok_or_else(|| TokenError::Unavailable("connection_missing".into()))?;
            let keys = keys
                .as_ref()
                .ok_or_else(|| TokenError::Unavailable("token_keys_missing".into()))?;
            let refresh = keys
                .open(id, &connection.refresh_token)
                .map_err(|e| TokenError::Unavailable(e.code().into()))?;
            // Sealed with a key being rotated out: sealed again with the current one.
            if keys.is_stale(&connection.refresh_token) {
                let _ = store::reseal(env, keys, id, &refresh).await;
            }
            (refresh, token_url(config, &connection.region))
        }
    };
    let (status, _, body) = send(amazon::lwa_refresh(
        &token_url,
        &client_id,
        &client_secret,
        &refresh,
    ))
    .await;
    let token = match amazon::parse_token(status, &body) {
        Ok(token) => token,
        Err(e) => {
            if let (Some(id), TokenError::Reauthorize) = (&config.connection_id, &e) {
                let _ = store::mark_connection(env, id, "reconnect_needed", Some("invalid_grant"))
                    .await;
            }
            return Err(e);
        }
    };
    if let Some(id) = &config.connection_id {
        let _ = store::mark_connection(env, id, "ok", None).await;
    }
    let expires = now + token.expires_in * 1000;
    let token = token.access_token;
    TOKENS.with(|t| t.borrow_mut().insert(key.clone(), (token.clone(), expires)));
    if let (Some(keys), Ok(kv)) = (&keys, env.kv(KV)) {
        let sealed = keys.seal(store::nonce(), &key, &token);
        if let Ok(put) = kv.put(&key, json!([sealed, expires]).to_string()) {
            let ttl = (expires - now) / 1000;
            let _ = put.expiration_ttl(ttl.max(120) - 60).execute().await;
        }
    }
    Ok(token)
}

/// Login with Amazon's token URL for a connection of `region`: `LWA_TOKEN_URL` when set
/// (tests, the demo), else the region's.
pub(super) fn token_url(config: &Config, region: &str) -> String {
    if config.lwa_token_url_set {
        return config.lwa_token_url.clone();
    }
    matchkey::amazon::connect::Region::parse(region).map_or_else(
        || config.lwa_token_url.clone(),
        |r| r.token_url().to_owned(),
    )
}

/// The request body of a batch for the configured API.
pub(super) fn request_body<K>(config: &Config, batch: &[(K, String)]) -> String {
    match &config.api_kind {
        ApiKind::Events => events::events_body(batch.iter().map(|(_, e)| e.as_str())),
        ApiKind::Dsp { definitions, .. } => {
            let legacy: Vec<String> = batch
                .iter()
                .map(|(_, e)| {
                    let event: Value = serde_json::from_str(e).unwrap_or(Value::Null);
                    let name = event["eventDescription"]["name"]
                        .as_str()
                        .unwrap_or_default();
                    let id = definitions
                        .get(name)
                        .or_else(|| definitions.get("*"))
                        .map_or("", String::as_str);
                    events::to_legacy(&event, id).to_string()
                })
                .collect();
            events::legacy_body(legacy.iter().map(String::as_str))
        }
    }
}

/// The configured API's call for a batch body: what delivery sends and what
/// `/v1/validate` shows.
pub(super) fn events_call(
    config: &Config,
    auth: &amazon::Auth<'_>,
    body: String,
) -> amazon::ApiRequest {
    match &config.api_kind {
        ApiKind::Events => events::create_events(auth, &config.advertiser_id, body),
        ApiKind::Dsp { profile_id, .. } => {
            events::import_legacy(auth, &config.advertiser_id, profile_id, body)
        }
    }
}

/// The configured API's 207 reader.
pub(super) fn multi_status_reader(config: &Config) -> fn(&str) -> Option<events::MultiStatus> {
    match config.api_kind {
        ApiKind::Events => events::parse_multi_status,
        ApiKind::Dsp { .. } => events::parse_legacy_multi_status,
    }
}
