//! The effectful half of the Worker (wasm32 only): it carries out what the pure modules
//! decide. It never logs a request body, a match-key value, a token or a secret.
//!
//! - `mod.rs`: the entry point, errors, CORS and the dispatch of [`crate::route`]'s routes;
//! - `api`: the ingest and audience-members handlers;
//! - `auth`: site keys, secrets (constant-time), rate limits and the failed-secret guard;
//! - `amazon`: sending described Amazon calls, the access-token cache;
//! - `log`: the D1 delivery log, dead letters, replay, retention;
//! - `health`: health kept in the batching object, a KV summary, `/healthz`;
//! - `store`: the D1 schema, connections and integrations, and which integration a
//!   request or an object serves;
//! - `admin`: connecting Amazon accounts, the integrations API, `/v1/admin/check`;
//! - `console`: the console's files, sessions, people, audit log and views' reads;
//! - `live`: the live events ring a `Batcher` keeps;
//! - `alerts`: the cron trigger's webhook (connections to reconnect, dead letters);
//! - `batcher` and `audience`: the two Durable Objects, thin loops around
//!   [`crate::queue::Queue`] and the audience accumulator;
//! - `erasure`: `POST /v1/erasure` and its Durable Object (`PATCH /v2/dp/users`);
//! - `limiter`: the Durable Object pacing Data Provider calls per profile.

mod admin;
mod alerts;
mod amazon;
mod api;
mod audience;
mod auth;
mod batcher;
mod console;
mod erasure;
mod health;
mod limiter;
mod live;
mod log;
mod store;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::OffsetDateTime;
use worker::*;

use crate::config::Config;
use crate::integration::DEFAULT_ID;
use crate::route::{self, Route};
use crate::shard::{self, Epochs, Shards};
use crate::target::Target;

const BATCHER: &str = "BATCHER";
const AUDIENCES: &str = "AUDIENCES";

/// Why a request failed as a whole; turned into a response in one place.
#[derive(Debug)]
enum RelayError {
    Status(u16, &'static str),
    /// 503 with a Retry-After in seconds.
    Busy(&'static str, u64),
    Config(String),
    Platform(Error),
}

impl From<Error> for RelayError {
    fn from(e: Error) -> Self {
        RelayError::Platform(e)
    }
}

type Answer = std::result::Result<Response, RelayError>;

impl RelayError {
    fn into_response(self) -> Result<Response> {
        let mut retry_after = None;
        let (status, code) = match self {
            RelayError::Status(429, "rate_limited") => {
                // Counted per minute: the caller may try again within one (the tag keeps
                // the events until then, across pages).
                retry_after = Some(auth::RATE_RETRY_SECS);
                (429, "rate_limited")
            }
            RelayError::Status(status, code) => (status, code),
            RelayError::Busy(code, secs) => {
                retry_after = Some(secs);
                (503, code)
            }
            RelayError::Config(what) => {
                console_error!("configuration: {what}");
                (500, "configuration_error")
            }
            RelayError::Platform(e) => {
                console_error!("platform error: {e}");
                (500, "internal_error")
            }
        };
        let mut response = Response::from_json(&json!({ "error": code }))?.with_status(status);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .set("retry-after", &secs.to_string())?;
        }
        Ok(response)
    }
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// A secret, when set and not empty.
fn secret(env: &Env, name: &str) -> Option<String> {
    var(env, name).filter(|s| !s.is_empty())
}

/// The configuration, with the secrets checked: outside local development the demo
/// secrets of `.dev.vars.example` are refused.
fn config(env: &Env) -> std::result::Result<Config, String> {
    let config = Config::from_vars(|name| var(env, name))?;
    if !config.local_dev {
        for (name, demo) in auth::DEMO_SECRETS {
            if secret(env, name).as_deref() == Some(demo) {
                return Err(format!("{name} is the demo value; set a real secret"));
            }
        }
    }
    Ok(config)
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

fn now() -> OffsetDateTime {
    let ms = now_ms() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn iso_now() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

fn random_uuid() -> String {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).ok();
    crypto
        .and_then(|c| {
            let f = js_sys::Reflect::get(&c, &"randomUUID".into()).ok()?;
            js_sys::Function::from(f).call0(&c).ok()?.as_string()
        })
        .unwrap_or_else(|| format!("mk-{}-{}", now_ms(), js_sys::Math::random()))
}

/// `n` random bytes from the platform's `crypto.getRandomValues`.
fn random_bytes(n: usize) -> Vec<u8> {
    let array = js_sys::Uint8Array::new_with_length(n as u32);
    let filled = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| {
            let f = js_sys::Reflect::get(&c, &"getRandomValues".into()).ok()?;
            js_sys::Function::from(f).call1(&c, &array).ok()
        })
        .is_some();
    let mut out = array.to_vec();
    if !filled {
        // Never reached in workerd, which always has Web Crypto; refuse to go on with
        // predictable bytes rather than guess.
        out.clear();
    }
    out
}

fn jitter() -> f64 {
    js_sys::Math::random()
}

/// Adds CORS headers for an allowed page origin.
fn with_cors(
    mut response: Response,
    origin: Option<&str>,
    config: Option<&Config>,
) -> Result<Response> {
    let headers = response.headers_mut();
    headers.set("cache-control", "no-store")?;
    headers.set("x-content-type-options", "nosniff")?;
    if let (Some(origin), Some(config)) = (origin, config)
        && config.origin_allowed(origin)
    {
        headers.set("access-control-allow-origin", origin)?;
        headers.set("access-control-expose-headers", "retry-after")?;
        headers.set("vary", "Origin")?;
    }
    Ok(response)
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = req.headers().get("origin").ok().flatten();
    let config = config(&env);
    let result = match &config {
        Ok(config) => dispatch(&mut req, &env, config).await,
        Err(what) => Err(RelayError::Config(what.clone())),
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => e.into_response()?,
    };
    // The origins allowed are those of the integration the site key names.
    let site = match (&origin, &config) {
        (Some(_), Ok(vars)) => site_config(&req, &env, vars).await,
        _ => None,
    };
    with_cors(response, origin.as_deref(), site.as_ref())
}

/// The site key a browser's request names (`X-Matchkey-Site-Key` or `?siteKey=`).
fn site_key(req: &Request) -> Option<String> {
    req.headers()
        .get("x-matchkey-site-key")
        .ok()
        .flatten()
        .or_else(|| {
            req.url()
                .ok()?
                .query_pairs()
                .find_map(|(k, v)| (k == "siteKey").then(|| v.into_owned()))
        })
}

/// The configuration of the integration the request's site key names; the vars' when
/// it names none (their origins, for the default site).
async fn site_config(req: &Request, env: &Env, vars: &Config) -> Option<Config> {
    match site_key(req) {
        Some(key) if key.len() <= 64 => store::by_site_key(env, vars, &key).await.ok().flatten(),
        Some(_) => None,
        None => Some(vars.clone()),
    }
}

async fn dispatch(req: &mut Request, env: &Env, config: &Config) -> Answer {
    let url = req.url()?;
    if !config.host_allowed(url.host_str().unwrap_or_default()) {
        return Err(RelayError::Status(403, "local_only"));
    }
    let method = req.method().to_string().to_ascii_uppercase();
    let route = route::route(&method, url.path());
    // Every admin route and console file that shows data: the admin key or a session
    // (with its CSRF token for a change).
    let who = if route.needs_operator() {
        match console::operator(req, env, &method).await {
            Ok(who) => Some(who),
            Err(RelayError::Status(401, _)) if route == Route::Asset("index.html") => {
                return console::to_sign_in();
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    // What the person may do: one decision for every admin route and console view.
    let query = integration_param(req)?;
    let access = match &who {
        Some(who) => crate::access::allowed(&who.person, &route, query.as_deref()),
        None => crate::access::Access::Allow,
    };
    let mut answer = match access {
        crate::access::Access::Deny(code) => Err(RelayError::Status(403, code)),
        _ => serve(req, env, config, route.clone(), who.as_ref()).await,
    };
    if let (Some(who), Some((action, target))) = (&who, crate::console::action(&route)) {
        let (status, created) = match &mut answer {
            Ok(r) => (r.status_code(), created_id(r).await),
            Err(RelayError::Status(status, _)) => (*status, None),
            Err(_) => (500, None),
        };
        let target = target.or(created).or(query);
        if let Err(e) = console::audit(env, who, action, target.as_deref(), status).await {
            console_error!("audit log: D1 write failed: {e}");
        }
    }
    answer
}

/// The `id` a create answered (for the audit log).
async fn created_id(r: &mut Response) -> Option<String> {
    if r.status_code() != 201 {
        return None;
    }
    let v: Value = r.cloned().ok()?.json().await.ok()?;
    v["id"].as_str().map(str::to_owned)
}

async fn serve(
    req: &mut Request,
    env: &Env,
    config: &Config,
    route: Route,
    who: Option<&console::Operator>,
) -> Answer {
    match route {
        Route::Preflight => preflight(req, env, config).await,
        Route::Ingest => api::ingest(req, env, config, false).await,
        Route::Validate => api::ingest(req, env, config, true).await,
        Route::Members(name) => api::members(req, env, config, &name).await,
        Route::Erasure => erasure::erase(req, env, config).await,
        Route::ErasureStats => {
            let config = &chosen(req, env, config).await?;
            erasure::stats(env, config).await
        }
        Route::Healthz => health::public(env).await,
        Route::Health => {
            let config = &chosen(req, env, config).await?;
            health::details(env, config).await
        }
        Route::AudienceFlush(name) => {
            let config = &chosen(req, env, config).await?;
            let stats: Value = audience_sync(env, config, &name, "/flush", Some(String::new()))
                .await?
                .json()
                .await?;
            Ok(Response::from_json(&stats)?)
        }
        Route::Deliveries => {
            let chosen = match integration_param(req)? {
                Some(_) => Some(chosen(req, env, config).await?),
                None => None,
            };
            log::deliveries(req, env, config, chosen.as_ref(), who.map(|w| &w.person)).await
        }
        Route::Replay => {
            let config = &chosen(req, env, config).await?;
            log::replay(env, config).await
        }
        Route::Flush => {
            let config = &chosen(req, env, config).await?;
            // The Durable Object's answer has immutable headers: answer afresh.
            let stats: Value = batcher(env, config, "/flush", None).await?.json().await?;
            // The integration's pending erasures go now too (they have no flush of their
            // own); the answer stays the events' accounting.
            if config.dp_profile().is_some() {
                erasure::flush(env, config).await?;
            }
            Ok(Response::from_json(&stats)?)
        }
        Route::ConnectStart => admin::connect_start(req, env, config).await,
        Route::ConnectCallback => admin::connect_callback(req, env, config).await,
        Route::Connections { create } => {
            if create {
                admin::add_connection(req, env, config).await
            } else {
                admin::list_connections(env).await
            }
        }
        Route::Integrations { create } => {
            if create {
                admin::install(req, env, config).await
            } else {
                admin::list_integrations(req, env, config, who.map(|w| &w.person)).await
            }
        }
        Route::Integration { id, replace } => {
            if replace {
                admin::replace(req, env, config, &id, who.map(|w| &w.person)).await
            } else {
                admin::read(req, env, &id).await
            }
        }
        Route::IntegrationAction { id, action } => admin::act(req, env, &id, action).await,
        Route::Check => admin::check(req, env, config).await,
        Route::Asset(name) => match crate::console::asset(name) {
            Some(a) => console::asset(a),
            None => Err(RelayError::Status(404, "not_found")),
        },
        Route::Console(c) => match who {
            Some(who) => console::handle(req, env, config, who, c).await,
            None => console::sign_in(req, env).await,
        },
        Route::MethodNotAllowed(allow) => {
            let mut r = RelayError::Status(405, "method_not_allowed").into_response()?;
            r.headers_mut().set("allow", allow)?;
            Ok(r)
        }
        Route::InvalidAudienceName => Err(RelayError::Status(400, "invalid_audience_name")),
        Route::NotFound => Err(RelayError::Status(404, "not_found")),
    }
}

async fn preflight(req: &Request, env: &Env, vars: &Config) -> Answer {
    let origin = req.headers().get("origin")?.unwrap_or_default();
    // A preflight of the header form carries no site key: any site's origin may ask
    // (the request itself is then checked against its own site).
    let allowed = match site_key(req) {
        Some(_) => site_config(req, env, vars)
            .await
            .is_some_and(|c| c.origin_allowed(&origin)),
        None => {
            vars.origin_allowed(&origin)
                || store::integrations(env)
                    .await?
                    .iter()
                    .any(|i| i.allowed_origins.contains(&origin))
        }
    };
    if !allowed {
        return Err(RelayError::Status(403, "origin_not_allowed"));
    }
    let mut response = Response::empty()?.with_status(204);
    let headers = response.headers_mut();
    headers.set("access-control-allow-methods", "POST, OPTIONS")?;
    headers.set(
        "access-control-allow-headers",
        "content-type, x-matchkey-site-key",
    )?;
    headers.set("access-control-max-age", "86400")?;
    Ok(response)
}

/// `?integration=` of an admin request.
fn integration_param(req: &Request) -> Result<Option<String>> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "integration")
        .map(|(_, v)| v.into_owned()))
}

/// The integration an admin request names with `?integration=` (the default one without).
async fn chosen(
    req: &Request,
    env: &Env,
    vars: &Config,
) -> std::result::Result<Config, RelayError> {
    let id = integration_param(req)?.unwrap_or_else(|| DEFAULT_ID.to_owned());
    if !crate::integration::valid_id(&id) {
        return Err(RelayError::Status(400, "invalid_integration"));
    }
    if id == DEFAULT_ID && !vars.has_advertiser() {
        // Not "unknown": its queue may still hold events (see /v1/admin/check).
        return Err(RelayError::Status(
            409,
            "default_integration_not_configured",
        ));
    }
    store::config_for(env, vars, &id)
        .await?
        .ok_or(RelayError::Status(404, "unknown_integration"))
}

/// A Durable Object's name for an integration: the default integration keeps the name
/// it had before integrations existed, so an upgrade finds its queue.
fn object_name(config: &Config, what: &str) -> String {
    if config.integration_id == DEFAULT_ID {
        format!("{}:{what}", config.advertiser_id)
    } else {
        format!("i:{}:{what}", config.integration_id)
    }
}

/// The name of shard `k` of an integration's batching object: shard 0 keeps the name
/// of the unsharded object, so that switching sharding on orphans nothing.
fn shard_name(config: &Config, k: u32) -> String {
    let base = object_name(config, config.region.as_str());
    if k == 0 {
        base
    } else {
        format!("{base}:shard:{k}")
    }
}

/// Calls shard `k` of the integration's batching Durable Object.
async fn batcher_shard(
    env: &Env,
    config: &Config,
    k: u32,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    let path = format!(
        "{path}?integration={}&shard={k}&target={}",
        config.integration_id,
        Target::of(config).key()
    );
    durable(env, BATCHER, &shard_name(config, k), &path, body).await
}

/// KV key naming the advertiser and region the default integration last accepted work
/// for: `/v1/admin/check` fails while `ADVERTISER_ID` is empty and this says its queue
/// may still hold events.
const DEFAULT_TARGET: &str = "default:target";

thread_local! {
    /// The default integration's target this isolate already wrote to KV.
    static NOTED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Remembers (once per isolate and target) where the default integration's work goes.
async fn note_default_target(env: &Env, config: &Config) {
    let value =
        json!({ "advertiser": config.advertiser_id, "region": config.region.as_str() }).to_string();
    if NOTED.with(|n| n.borrow().as_deref() == Some(value.as_str())) {
        return;
    }
    if let Ok(kv) = env.kv("TOKENS")
        && let Ok(put) = kv.put(DEFAULT_TARGET, value.clone())
        && put.execute().await.is_ok()
    {
        NOTED.with(|n| *n.borrow_mut() = Some(value));
    }
}

/// What the default integration last accepted work for, when `ADVERTISER_ID` no longer
/// names it: `(advertiser, region)`.
async fn stranded_default(env: &Env, vars: &Config) -> Option<(String, String)> {
    if vars.has_advertiser() {
        return None;
    }
    let v: Value = env
        .kv("TOKENS")
        .ok()?
        .get(DEFAULT_TARGET)
        .json()
        .await
        .ok()
        .flatten()?;
    Some((
        v["advertiser"].as_str()?.to_owned(),
        v["region"].as_str()?.to_owned(),
    ))
}

/// Where a queue object keeps the target of the work it holds ([`crate::target`]).
const TARGET: &str = "meta:target";

/// The target the work a queue object holds was accepted for (`None`: an object of an
/// earlier version, or one that never took any).
async fn pinned_target(storage: &Storage) -> Option<Target> {
    storage.get(TARGET).await.ok().flatten()
}

/// Before a queue object takes work: the caller's view of the integration (`?target=`)
/// must be the object's (else both read it afresh and the caller tries again), and the
/// object takes work only for the target of what it already holds
/// ([`crate::target::pin`]). `Some` is the refusal to answer, with a Retry-After.
async fn pin_work(
    storage: &Storage,
    req: &Request,
    config: &Config,
    pending: u64,
) -> Result<Option<Response>> {
    let offered = Target::of(config);
    let named = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "target")
        .map(|(_, v)| v.into_owned());
    let busy = |code: &str, secs: u64| -> Result<Option<Response>> {
        let mut r = Response::from_json(&json!({ "error": code }))?.with_status(503);
        r.headers_mut().set("retry-after", &secs.to_string())?;
        r.headers_mut().set("x-matchkey-refusal", code)?;
        Ok(Some(r))
    };
    if named.is_some_and(|k| k != offered.key()) {
        // The integration changed and one of us has the older copy.
        store::invalidate();
        return busy("integration_changed", 2);
    }
    let pinned = pinned_target(storage).await;
    match crate::target::pin(pinned.as_ref(), &offered, pending) {
        crate::target::Pin::Wait => busy("target_draining", config.flush_seconds.max(1)),
        crate::target::Pin::Take => {
            if pinned.as_ref() != Some(&offered) {
                storage.put(TARGET, &offered).await?;
            }
            Ok(None)
        }
    }
}

thread_local! {
    /// Each integration's epoch record as this isolate last read it from shard 0, and when.
    static EPOCHS: RefCell<std::collections::HashMap<String, (u64, Epochs)>> =
        RefCell::new(std::collections::HashMap::new());
}

/// The integration's epoch record: fixed for `SHARDS=N`; under `auto`, shard 0's,
/// read at most every [`shard::CACHE_MS`] per isolate (epochs are announced
/// [`shard::LEAD_MS`] ahead, so a copy that old still names the right N; both as the
/// configuration's [`shard::Tuning`] scales them).
async fn epochs(env: &Env, config: &Config) -> Result<Epochs> {
    if let Shards::Fixed(n) = config.shards {
        return Ok(Epochs::fixed(n));
    }
    let now = now_ms();
    let cached = EPOCHS.with(|c| {
        c.borrow()
            .get(&config.integration_id)
            .filter(|(at, _)| now.saturating_sub(*at) < config.shard_tuning.cache_ms)
            .map(|(_, e)| e.clone())
    });
    if let Some(e) = cached {
        return Ok(e);
    }
    let mut answer = batcher_shard(env, config, 0, "/epochs", None).await?;
    let e: Epochs = answer.json().await.unwrap_or_default();
    EPOCHS.with(|c| {
        c.borrow_mut()
            .insert(config.integration_id.clone(), (now, e.clone()));
    });
    Ok(e)
}

/// Calls the integration's batching objects: `/stats`, `/flush` and `/resume` go to
/// every shard that may hold events and the answers are merged into one of the same
/// shape (a single object answers as it always did).
async fn batcher(env: &Env, config: &Config, path: &str, body: Option<String>) -> Result<Response> {
    let shards = epochs(env, config).await?.max_n();
    if shards <= 1 {
        return batcher_shard(env, config, 0, path, body).await;
    }
    let calls = (0..shards).map(|k| {
        let body = body.clone();
        async move {
            let mut r = batcher_shard(env, config, k, path, body).await?;
            r.json::<Value>().await
        }
    });
    let answers: Vec<Value> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    Response::from_json(&merge_answers(&answers))
}

/// One answer for many shards: sums of `pending` and the counters (and each shard's
/// `pending`, in shard order), the latest `notBefore`, the earliest `nextAlarmAt`,
/// balanced only if every shard is, and shard 0's health with the latest error of any
/// shard.
fn merge_answers(answers: &[Value]) -> Value {
    let mut merged = answers.first().cloned().unwrap_or(Value::Null);
    let Some(out) = merged.as_object_mut() else {
        return merged;
    };
    let sum = |f: &dyn Fn(&Value) -> &Value| -> u64 {
        answers.iter().filter_map(|a| f(a).as_u64()).sum()
    };
    if out.contains_key("pending") {
        out.insert("pending".into(), json!(sum(&|a| &a["pending"])));
    }
    if let Some(counters) = out.get("counters").and_then(Value::as_object).cloned() {
        let mut total = serde_json::Map::new();
        for key in counters.keys() {
            total.insert(key.clone(), json!(sum(&|a| &a["counters"][key.as_str()])));
        }
        out.insert("counters".into(), Value::Object(total));
    }
    if out.contains_key("balanced") {
        let all = answers
            .iter()
            .all(|a| a["balanced"].as_bool().unwrap_or(false));
        out.insert("balanced".into(), json!(all));
    }
    if out.contains_key("notBefore") {
        let latest = answers.iter().filter_map(|a| a["notBefore"].as_u64()).max();
        out.insert("notBefore".into(), json!(latest));
    }
    if out.contains_key("nextAlarmAt") {
        let earliest = answers
            .iter()
            .filter_map(|a| a["nextAlarmAt"].as_f64())
            .reduce(f64::min);
        out.insert("nextAlarmAt".into(), json!(earliest));
    }
    if let Some(latest) = answers
        .iter()
        .filter(|a| a["health"]["lastErrorAt"].is_string())
        .max_by_key(|a| {
            a["health"]["lastErrorAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        && let Some(health) = out.get_mut("health").and_then(Value::as_object_mut)
    {
        for key in ["lastErrorAt", "lastErrorCode"] {
            health.insert(key.into(), latest["health"][key].clone());
        }
    }
    out.insert("shards".into(), json!(answers.len()));
    if out.contains_key("pending") {
        let each: Vec<&Value> = answers.iter().map(|a| &a["pending"]).collect();
        out.insert("pendingByShard".into(), json!(each));
    }
    merged
}

/// Why some events could not be queued: their indexes (in the list given to
/// [`enqueue`]) and the error to answer for them.
struct Refused {
    indexes: Vec<usize>,
    error: RelayError,
}

/// What a batching object's answer to `/enqueue` means: its 503 (backlog full) becomes
/// ours, with its Retry-After, so that the tag keeps the events.
fn enqueue_answer(answer: &Response) -> std::result::Result<(), RelayError> {
    match answer.status_code() {
        200 => Ok(()),
        503 => {
            let secs = answer
                .headers()
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|s| s.parse().ok())
                .unwrap_or(60);
            // The object says which: its backlog is full, or the integration changed
            // (this isolate reads it afresh), or what it holds is for another target.
            let code = match answer.headers().get("x-matchkey-refusal").ok().flatten() {
                Some(c) if c == "integration_changed" => {
                    store::invalidate();
                    "integration_changed"
                }
                Some(c) if c == "target_draining" => "target_draining",
                _ => "backlog_full",
            };
            Err(RelayError::Busy(code, secs))
        }
        _ => Err(RelayError::Busy("queue_unavailable", 10)),
    }
}

/// Queues `events` (event id, Events API event as JSON) in the integration's batching
/// objects: all in one with one shard, else each in the shard its id hashes to under
/// the epoch in force now (the shards are called at once). Returns what a shard refused.
async fn enqueue(
    env: &Env,
    config: &Config,
    events: Vec<(String, String)>,
    replayed: bool,
) -> Result<Option<Refused>> {
    if config.integration_id == DEFAULT_ID {
        note_default_target(env, config).await;
    }
    let n = epochs(env, config).await?.n_at(now_ms());
    // Shard 0 weighs what it sees by the whole request's size (`shard::Observer`).
    let of = events.len();
    let mut groups: Vec<(Vec<usize>, Vec<String>)> = vec![(Vec::new(), Vec::new()); n as usize];
    for (i, (id, event)) in events.into_iter().enumerate() {
        let k = if n == 1 { 0 } else { shard::shard_of(&id, n) };
        let group = &mut groups[k as usize];
        group.0.push(i);
        group.1.push(event);
    }
    let calls = groups
        .into_iter()
        .enumerate()
        .filter(|(_, (indexes, _))| !indexes.is_empty())
        .map(|(k, (indexes, events))| async move {
            let body = json!({ "events": events, "replayed": replayed, "of": of }).to_string();
            let answer = batcher_shard(env, config, k as u32, "/enqueue", Some(body)).await;
            (indexes, answer)
        });
    let mut refused: Option<Refused> = None;
    for (indexes, answer) in futures_util::future::join_all(calls).await {
        let error = match answer {
            Ok(answer) => match enqueue_answer(&answer) {
                Ok(()) => continue,
                Err(e) => e,
            },
            Err(e) => {
                console_error!("enqueue: {e}");
                RelayError::Busy("queue_unavailable", 10)
            }
        };
        match &mut refused {
            Some(r) => r.indexes.extend(indexes),
            None => refused = Some(Refused { indexes, error }),
        }
    }
    if let Some(r) = &mut refused {
        r.indexes.sort_unstable();
    }
    Ok(refused)
}

/// The configuration of the integration a Durable Object serves: named by the request
/// that reaches it (and remembered), or remembered (for its alarm).
async fn object_config(
    env: &Env,
    storage: &Storage,
    req: Option<&Request>,
) -> Result<Option<Config>> {
    const KEY: &str = "meta:integration";
    let named = match req {
        Some(req) => req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "integration")
            .map(|(_, v)| v.into_owned()),
        None => None,
    };
    let remembered: Option<String> = storage.get(KEY).await.ok().flatten();
    let id = match (named, remembered) {
        (Some(named), remembered) => {
            if remembered.as_deref() != Some(named.as_str()) {
                storage.put(KEY, &named).await?;
            }
            named
        }
        (None, Some(remembered)) => remembered,
        (None, None) => DEFAULT_ID.to_owned(),
    };
    let Ok(vars) = config(env) else {
        return Ok(None);
    };
    store::config_for(env, &vars, &id).await
}

/// Calls the audience's Durable Object.
async fn audience_sync(
    env: &Env,
    config: &Config,
    audience: &str,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    let path = format!(
        "{path}?integration={}&target={}",
        config.integration_id,
        Target::of(config).key()
    );
    durable(env, AUDIENCES, &object_name(config, audience), &path, body).await
}

/// POSTs `body` (or GETs, without one) to `path` of the object `name` in `binding`.
async fn durable(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    let stub = env
        .durable_object(binding)?
        .id_from_name(name)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(if body.is_some() {
        Method::Post
    } else {
        Method::Get
    });
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    stub.fetch_with_request(Request::new_with_init(
        &format!("https://object{path}"),
        &init,
    )?)
    .await
}

/// Keys per storage call (the platform's limit for multi-key reads and deletes).
const KEYS_PER_CALL: usize = 128;

/// A Durable Object's sans-I/O machine (the `Batcher`'s queue, an audience's membership,
/// the erasures), as the [`Held`] holder needs it.
trait Machine: Serialize + DeserializeOwned + Clone + Default + 'static {
    /// `/flush`: partial batches go on the next run.
    fn flush(&mut self);
    /// The stats answer: at least `pending`, `counters` and `balanced` ([`stats`]).
    fn stats(&self) -> Value;
}

/// The stats every machine answers: what waits, the accounting, and whether it balances.
fn stats(pending: u64, counters: &impl Serialize, balanced: bool) -> Value {
    json!({ "pending": pending, "counters": counters, "balanced": balanced })
}

/// Holds a Durable Object's machine: read from storage once per object lifetime, kept in
/// memory (one copy for every request and the alarm, so a change made during a delivery
/// is never lost) and written under its key together with the keys a change concerns, in
/// one storage transaction.
struct Held<T> {
    storage: Storage,
    key: &'static str,
    /// Shared with the storage transactions, which write it as it is when they run.
    state: Rc<RefCell<Option<T>>>,
}

impl<T: Machine> Held<T> {
    fn new(storage: Storage, key: &'static str) -> Self {
        Held {
            storage,
            key,
            state: Rc::new(RefCell::new(None)),
        }
    }

    /// Reads the machine once per object lifetime: as stored, or what `missing` makes
    /// of an object that never stored one (an earlier version's storage, or a new object).
    async fn load<F>(&self, missing: impl FnOnce() -> F) -> Result<()>
    where
        F: Future<Output = Result<T>>,
    {
        if self.state.borrow().is_none() {
            let stored = match self.storage.get::<T>(self.key).await.ok().flatten() {
                Some(stored) => stored,
                None => missing().await?,
            };
            // A request that interleaved may have loaded it meanwhile: that copy stays.
            self.state.borrow_mut().get_or_insert(stored);
        }
        Ok(())
    }

    /// Runs `f` on the machine in memory.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(self.state.borrow_mut().get_or_insert_with(T::default))
    }

    /// Writes `put`, deletes `delete` and stores the machine, all in one storage
    /// transaction. The machine is serialized when the transaction runs, so a change made
    /// by a request that interleaved meanwhile is never overwritten by an older copy.
    async fn commit(&self, put: Vec<(String, String)>, delete: Vec<String>) -> Result<()> {
        let state = Rc::clone(&self.state);
        let key = self.key;
        self.storage
            .transaction(move |txn| async move {
                for (key, value) in &put {
                    txn.put(key, value).await?;
                }
                for chunk in delete.chunks(KEYS_PER_CALL) {
                    txn.delete_multiple(chunk.to_vec()).await?;
                }
                let snapshot = state.borrow().clone().unwrap_or_default();
                txn.put(key, snapshot).await?;
                Ok(())
            })
            .await
    }

    /// `/flush`: marks partial batches to go on the next run and stores that; the machine
    /// as it was then (the caller sets its alarm and answers).
    async fn flush(&self) -> Result<T> {
        let snapshot = self.with(|m| {
            m.flush();
            m.clone()
        });
        self.commit(Vec::new(), Vec::new()).await?;
        Ok(snapshot)
    }

    /// The stats answer of the machine as it is.
    fn stats(&self) -> Value {
        self.with(|m| m.stats())
    }
}

/// Sets a Durable Object's alarm at the absolute time `at` (ms since the epoch); the
/// platform takes an offset from now.
async fn alarm_at(storage: &Storage, at: u64) -> Result<()> {
    storage.set_alarm(at.saturating_sub(now_ms()) as i64).await
}

/// Up to `limit` entries under `prefix`, in key order, with their values as text.
async fn entries(storage: &Storage, prefix: &str, limit: usize) -> Result<Vec<(String, String)>> {
    entries_with(storage, ListOptions::new().prefix(prefix).limit(limit)).await
}

/// The entries a listing with `options` finds, with their values as text.
async fn entries_with(
    storage: &Storage,
    options: ListOptions<'_>,
) -> Result<Vec<(String, String)>> {
    let list = storage.list_with_options(options).await?;
    let mut out = Vec::new();
    for entry in list.entries() {
        let pair = js_sys::Array::from(&entry?);
        if let Some(key) = pair.get(0).as_string() {
            let value = pair.get(1);
            let value = value
                .as_string()
                .or_else(|| value.as_f64().map(|n| n.to_string()))
                .unwrap_or_default();
            out.push((key, value));
        }
    }
    Ok(out)
}
