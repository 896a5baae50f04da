//! Who is calling: servers with the ingest secret, the tag of a known site from one of
//! its origins, operators with the admin key. Secrets are compared in constant time and
//! first: a correct one always goes through; failures are counted per kind of secret,
//! integration named and client IP (`crate::access::guard_name`), and past the limit a
//! wrong one is answered 429. Requests are limited per site key and client IP.

use std::cell::RefCell;
use std::collections::HashMap;

use matchkey::sha256_hex;
use serde_json::json;
use subtle::ConstantTimeEq;
use worker::*;

use super::{RelayError, alarm_at, durable, now_ms, secret, store};
use crate::access::{SecretKind, guard_name, locked};
use crate::config::Config;
use crate::ingest::Caller;

/// The demo secrets of `.dev.vars.example`, refused outside local development.
pub(super) const DEMO_SECRETS: [(&str, &str); 6] = [
    (
        "LWA_CLIENT_ID",
        "amzn1.application-oa2-client.matchkey-demo",
    ),
    ("LWA_CLIENT_SECRET", "matchkey-demo-secret"),
    ("LWA_REFRESH_TOKEN", "Atzr|matchkey-demo-refresh"),
    ("INGEST_SECRET", "local-ingest-secret"),
    ("ADMIN_KEY", "local-admin-key"),
    (
        "TOKEN_KEYS",
        "demo:bWF0Y2hrZXktZGVtby1rZXktbm90LWZvci1wcm9kISE=",
    ),
];

const GUARD_WINDOW_MS: u64 = 15 * 60_000;
const GUARD: &str = "GUARD";
const RATE_LIMITER: &str = "RATE_LIMITER";
/// The Retry-After of a `rate_limited` answer: the limits count requests per minute.
pub(super) const RATE_RETRY_SECS: u64 = 60;

/// Constant-time equality of two secrets, whatever their lengths: the digests are
/// compared, so neither the content nor the length leaks through timing.
pub(super) fn secret_eq(given: &str, expected: &str) -> bool {
    let (a, b) = (sha256_hex(given), sha256_hex(expected));
    bool::from(a.as_str().as_bytes().ct_eq(b.as_str().as_bytes()))
}

fn bearer(req: &Request) -> Result<Option<String>> {
    Ok(req
        .headers()
        .get("authorization")?
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned)))
}

fn client_ip(req: &Request) -> String {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "local".into())
}

/// Counts a failed secret of `kind` for the client (and the integration the request
/// names), and answers the refusal: 401 with `code`, or 429 once that guard has seen
/// more than [`crate::access::GUARD_LIMIT`] failures in its window. Secrets are compared before this,
/// so a correct one always goes through: another client's failures, or a failed
/// console sign-in from the same address, never lock a caller out of its own secret.
pub(super) async fn failed(
    req: &Request,
    env: &Env,
    kind: SecretKind,
    integration: Option<&str>,
    code: &'static str,
) -> RelayError {
    let name = guard_name(kind, integration, &client_ip(req));
    let failures = match durable(env, GUARD, &name, "/fail", Some(String::new())).await {
        Ok(mut r) => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["failures"].as_u64())
            .unwrap_or(0),
        Err(e) => {
            console_error!("guard: {e}");
            0
        }
    };
    if locked(u32::try_from(failures).unwrap_or(u32::MAX)) {
        RelayError::Status(429, "too_many_failed_secrets")
    } else {
        RelayError::Status(401, code)
    }
}

/// The admin key, as a bearer token: compared first, a failure counted.
pub(super) async fn admin(req: &Request, env: &Env) -> std::result::Result<(), RelayError> {
    let given = bearer(req)?.ok_or(RelayError::Status(401, "invalid_admin_key"))?;
    if secret(env, "ADMIN_KEY").is_some_and(|expected| secret_eq(&given, &expected)) {
        return Ok(());
    }
    Err(failed(req, env, SecretKind::AdminKey, None, "invalid_admin_key").await)
}

/// Who is calling and for which integration, decided from the headers and the query
/// only (before any body is read): a server with the ingest secret (the Worker's, for
/// the default integration, or an integration's own), or the tag of a known site
/// (`?siteKey=` or `X-Matchkey-Site-Key`) from one of its origins, within its rate
/// limit. A disabled integration takes nothing new.
pub(super) async fn caller(
    req: &Request,
    env: &Env,
    vars: &Config,
) -> std::result::Result<(Caller, Config), RelayError> {
    let (caller, config) = identify(req, env, vars).await?;
    if config.disabled {
        return Err(RelayError::Status(403, "integration_disabled"));
    }
    Ok((caller, config))
}

async fn identify(
    req: &Request,
    env: &Env,
    vars: &Config,
) -> std::result::Result<(Caller, Config), RelayError> {
    if let Some(given) = bearer(req)? {
        if vars.has_advertiser()
            && let Some(expected) = secret(env, "INGEST_SECRET")
            && secret_eq(&given, &expected)
        {
            return Ok((Caller::Server, vars.clone()));
        }
        if let Some(config) = store::by_ingest_secret(env, &given).await? {
            return Ok((Caller::Server, config));
        }
        // Counted apart for the integration the request names, if it names one.
        let named = super::site_key(req).or(super::integration_param(req)?);
        return Err(failed(
            req,
            env,
            SecretKind::Ingest,
            named.as_deref(),
            "invalid_ingest_secret",
        )
        .await);
    }
    let Some(key) = super::site_key(req) else {
        return Err(RelayError::Status(401, "missing_site_key"));
    };
    if key.len() > 64 {
        return Err(RelayError::Status(401, "invalid_site_key"));
    }
    // Site keys are public: a plain lookup, no secret to protect.
    let Some(config) = store::by_site_key(env, vars, &key).await? else {
        return Err(RelayError::Status(401, "invalid_site_key"));
    };
    let origin = req.headers().get("origin")?.unwrap_or_default();
    if !config.origin_allowed(&origin) {
        return Err(RelayError::Status(403, "origin_not_allowed"));
    }
    // Per site key and client IP: one client cannot use up a site's allowance.
    if over_limit(env, &format!("{key}:{}", client_ip(req)), &config).await {
        return Err(RelayError::Status(429, "rate_limited"));
    }
    Ok((Caller::Browser, config))
}

thread_local! {
    /// Requests per key in the current minute, per isolate: the fallback when no Rate
    /// Limiting binding is configured.
    static RATE: RefCell<HashMap<String, (u64, u32)>> = RefCell::new(HashMap::new());
}

async fn over_limit(env: &Env, key: &str, config: &Config) -> bool {
    if let Ok(limiter) = env.rate_limiter(RATE_LIMITER) {
        return limiter
            .limit(key.to_owned())
            .await
            .is_ok_and(|o| !o.success);
    }
    let minute = now_ms() / 60_000;
    RATE.with(|rate| {
        let mut rate = rate.borrow_mut();
        if rate.len() > 10_000 {
            rate.retain(|_, (m, _)| *m == minute);
        }
        let entry = rate.entry(key.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 > config.rate_limit_per_minute
    })
}

/// Failed secrets of one client (named by its IP): a count in a window, kept in a
/// Durable Object so that every isolate sees it.
#[durable_object]
pub struct Guard {
    state: State,
}

impl DurableObject for Guard {
    fn new(state: State, _env: Env) -> Self {
        Guard { state }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let storage = self.state.storage();
        let now = now_ms();
        let (since, failures) = storage
            .get::<(u64, u32)>("failures")
            .await
            .ok()
            .flatten()
            .filter(|(since, _)| now.saturating_sub(*since) < GUARD_WINDOW_MS)
            .unwrap_or((now, 0));
        match req.path().as_str() {
            "/fail" => {
                storage.put("failures", (since, failures + 1)).await?;
                alarm_at(&storage, since + GUARD_WINDOW_MS).await?;
                Response::from_json(&json!({ "failures": failures + 1 }))
            }
            _ if locked(failures) => Response::error("locked", 429),
            _ => Response::ok("ok"),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("cleared")
    }
}
