//! Amazon over HTTP: the calls `matchkey::amazon` describes, sent with `fetch`, and the
//! Login with Amazon access token, cached in memory and KV until a minute before expiry.

use std::cell::RefCell;

use matchkey::amazon::{self, TokenError, events};
use serde_json::{Value, json};
use worker::*;

use super::{now_ms, secret};
use crate::config::{ApiKind, Config};

const KV: &str = "TOKENS";

thread_local! {
    /// The access token and when it expires (ms), per isolate.
    static TOKEN: RefCell<Option<(String, u64)>> = const { RefCell::new(None) };
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

/// An access token: cached, or refreshed with the LwA secrets (`force` skips the cache).
pub(super) async fn access_token(
    env: &Env,
    config: &Config,
    force: bool,
) -> std::result::Result<String, TokenError> {
    let now = now_ms();
    if !force {
        if let Some((token, _)) = TOKEN
            .with(|t| t.borrow().clone())
            .filter(|(_, exp)| *exp > now + 60_000)
        {
            return Ok(token);
        }
        if let Ok(kv) = env.kv(KV)
            && let Ok(Some(cached)) = kv.get("lwa:access").json::<(String, u64)>().await
            && cached.1 > now + 60_000
        {
            TOKEN.with(|t| *t.borrow_mut() = Some(cached.clone()));
            return Ok(cached.0);
        }
    }
    let (Some(client_id), Some(client_secret), Some(refresh)) = (
        secret(env, "LWA_CLIENT_ID"),
        secret(env, "LWA_CLIENT_SECRET"),
        secret(env, "LWA_REFRESH_TOKEN"),
    ) else {
        return Err(TokenError::Unavailable("lwa_secrets_missing".into()));
    };
    let (status, _, body) = send(amazon::lwa_refresh(
        &config.lwa_token_url,
        &client_id,
        &client_secret,
        &refresh,
    ))
    .await;
    let token = amazon::parse_token(status, &body)?;
    let expires = now + token.expires_in * 1000;
    let token = token.access_token;
    TOKEN.with(|t| *t.borrow_mut() = Some((token.clone(), expires)));
    if let Ok(kv) = env.kv(KV)
        && let Ok(put) = kv.put("lwa:access", json!([token, expires]).to_string())
    {
        let ttl = (expires - now) / 1000;
        let _ = put.expiration_ttl(ttl.max(120) - 60).execute().await;
    }
    Ok(token)
}

/// The request body of a batch for the configured API.
pub(super) fn request_body(config: &Config, batch: &[(String, String)]) -> String {
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
