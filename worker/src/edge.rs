//! The effectful half of the Worker: HTTP routing, authentication, the Durable Object
//! that accumulates events per advertiser and region, Login with Amazon, delivery, the D1
//! delivery log and dead letters. Decisions are made by the pure modules; this one moves
//! bytes. It never logs a request body, a match-key value, a token or a secret.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use worker::*;

use crate::audience;
use crate::config::{ApiKind, AudienceApi, Config};
use crate::ingest::{self, BodyError, Caller, MAX_BODY_BYTES};
use matchkey::Country;
use matchkey::amazon::retry::{self, Next};
use matchkey::amazon::{self, TokenError, audience as amazon_audience, events};

const BATCHER: &str = "BATCHER";
const AUDIENCES: &str = "AUDIENCES";
const DB: &str = "DB";
const KV: &str = "TOKENS";
const EVENT_PREFIX: &str = "ev:";
/// Events read from storage per alarm run.
const READ_LIMIT: usize = 5000;

/// Why a request failed as a whole; turned into a response in one place.
#[derive(Debug)]
enum RelayError {
    Status(u16, &'static str),
    Config(String),
    Platform(Error),
}

impl From<Error> for RelayError {
    fn from(e: Error) -> Self {
        RelayError::Platform(e)
    }
}

impl RelayError {
    fn into_response(self) -> Result<Response> {
        let (status, code) = match self {
            RelayError::Status(status, code) => (status, code),
            RelayError::Config(what) => {
                console_error!("configuration: {what}");
                (500, "configuration_error")
            }
            RelayError::Platform(e) => {
                console_error!("platform error: {e}");
                (500, "internal_error")
            }
        };
        Ok(Response::from_json(&json!({ "error": code }))?.with_status(status))
    }
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn config(env: &Env) -> std::result::Result<Config, String> {
    Config::from_vars(|name| var(env, name))
}

fn now() -> OffsetDateTime {
    let ms = Date::now().as_millis() as i128;
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
        .unwrap_or_else(|| format!("mk-{}", Date::now().as_millis()))
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
    if let (Some(origin), Some(config)) = (origin, config)
        && config.origin_allowed(origin)
    {
        headers.set("access-control-allow-origin", origin)?;
        headers.set("vary", "Origin")?;
    }
    Ok(response)
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let config = config(&env);
    let result = match &config {
        Ok(config) => route(&mut req, &env, config).await,
        Err(what) => Err(RelayError::Config(what.clone())),
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => e.into_response()?,
    };
    with_cors(response, origin.as_deref(), config.as_ref().ok())
}

async fn route(
    req: &mut Request,
    env: &Env,
    config: &Config,
) -> std::result::Result<Response, RelayError> {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Options, _) => preflight(req, config),
        (Method::Post, "/v1/events") => ingest(req, env, config, false).await,
        (Method::Post, "/v1/validate") => ingest(req, env, config, true).await,
        (Method::Get, "/healthz") => health(env, config).await,
        (Method::Post, p) if p.starts_with("/v1/audiences/") && p.ends_with("/flush") => {
            admin(req, env)?;
            let name = &p["/v1/audiences/".len()..p.len() - "/flush".len()];
            let stats: Value = audience_sync(env, config, name, "/flush", Some(String::new()))
                .await?
                .json()
                .await?;
            Ok(Response::from_json(&stats)?)
        }
        (Method::Post, p) if p.starts_with("/v1/audiences/") && p.ends_with("/members") => {
            let name = &p["/v1/audiences/".len()..p.len() - "/members".len()];
            members(req, env, config, name).await
        }
        (Method::Get, "/v1/deliveries") => {
            admin(req, env)?;
            deliveries(req, env).await
        }
        (Method::Post, "/v1/replay") => {
            admin(req, env)?;
            replay(env, config).await
        }
        (Method::Post, "/v1/flush") => {
            admin(req, env)?;
            // The Durable Object's answer has immutable headers: answer afresh.
            let stats: Value = batcher(env, config, "/flush", None).await?.json().await?;
            Ok(Response::from_json(&stats)?)
        }
        _ => Err(RelayError::Status(404, "not_found")),
    }
}

fn preflight(req: &Request, config: &Config) -> std::result::Result<Response, RelayError> {
    let origin = req.headers().get("origin")?.unwrap_or_default();
    if !config.origin_allowed(&origin) {
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

fn admin(req: &Request, env: &Env) -> std::result::Result<(), RelayError> {
    let key = var(env, "ADMIN_KEY")
        .filter(|k| !k.is_empty())
        .ok_or(RelayError::Status(401, "admin_key_not_configured"))?;
    match bearer(req)? {
        Some(given) if given == key => Ok(()),
        _ => Err(RelayError::Status(401, "invalid_admin_key")),
    }
}

fn bearer(req: &Request) -> Result<Option<String>> {
    Ok(req
        .headers()
        .get("authorization")?
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned)))
}

thread_local! {
    /// Requests per key in the current minute, per isolate.
    static RATE: RefCell<HashMap<String, (u64, u32)>> = RefCell::new(HashMap::new());
    /// The access token and when it expires (ms), per isolate.
    static TOKEN: RefCell<Option<(String, u64)>> = const { RefCell::new(None) };
}

fn over_limit(key: &str, limit: u32) -> bool {
    let minute = Date::now().as_millis() / 60_000;
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
        entry.1 > limit
    })
}

/// Who is calling: a server with the ingest secret, or the tag of a known site from one of
/// its origins; both within their rate limits.
fn caller(
    req: &Request,
    env: &Env,
    config: &Config,
    site_key: Option<String>,
) -> std::result::Result<Caller, RelayError> {
    let caller = match bearer(req)? {
        Some(secret) => {
            let expected = var(env, "INGEST_SECRET").filter(|s| !s.is_empty());
            if expected.as_deref() != Some(secret.as_str()) {
                return Err(RelayError::Status(401, "invalid_ingest_secret"));
            }
            Caller::Server
        }
        None => {
            let url = req.url()?;
            let key = site_key
                .or(req.headers().get("x-matchkey-site-key")?)
                .or_else(|| {
                    url.query_pairs()
                        .find(|(k, _)| k == "siteKey")
                        .map(|(_, v)| v.into_owned())
                });
            let Some(key) = key.filter(|k| config.site_keys.contains(k)) else {
                return Err(RelayError::Status(401, "invalid_site_key"));
            };
            let origin = req.headers().get("origin")?.unwrap_or_default();
            if !config.origin_allowed(&origin) {
                return Err(RelayError::Status(403, "origin_not_allowed"));
            }
            if over_limit(&format!("site:{key}"), config.rate_limit_per_minute) {
                return Err(RelayError::Status(429, "rate_limited"));
            }
            Caller::Browser
        }
    };
    if let Some(ip) = req.headers().get("cf-connecting-ip")?
        && over_limit(&format!("ip:{ip}"), config.rate_limit_per_minute)
    {
        return Err(RelayError::Status(429, "rate_limited"));
    }
    Ok(caller)
}

async fn ingest(
    req: &mut Request,
    env: &Env,
    config: &Config,
    dry_run: bool,
) -> std::result::Result<Response, RelayError> {
    if req
        .headers()
        .get("content-length")?
        .and_then(|l| l.parse::<usize>().ok())
        .is_some_and(|l| l > MAX_BODY_BYTES)
    {
        return Err(RelayError::Status(413, "body_too_large"));
    }
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(RelayError::Status(413, "body_too_large"));
    }
    let body = ingest::parse_body(&bytes).map_err(|e| match e {
        BodyError::BadJson => RelayError::Status(400, "bad_json"),
        BodyError::BadShape => RelayError::Status(400, "bad_shape"),
        BodyError::EventCount => RelayError::Status(400, "event_count_out_of_range"),
    })?;
    let caller = caller(req, env, config, body.site_key.clone())?;
    let user_agent = req.headers().get("user-agent")?;
    let client_ip = req.headers().get("cf-connecting-ip")?;
    let ctx = ingest::Context {
        caller,
        user_agent: user_agent.as_deref(),
        client_ip: client_ip.as_deref(),
    };
    let outcome = ingest::convert(&body.events, &ctx, config, now(), &mut random_uuid);
    let accepted: Vec<Value> = outcome
        .accepted
        .iter()
        .map(|a| json!({ "index": a.index, "eventId": a.event_id }))
        .collect();
    if dry_run {
        // The call a delivery would make, with placeholders for the credentials.
        let batch: Vec<(String, String)> = outcome
            .accepted
            .iter()
            .map(|a| (String::new(), a.event.to_string()))
            .collect();
        let placeholders = auth(
            config,
            "<Login with Amazon access token>",
            "<LWA_CLIENT_ID>",
        );
        let call = events_call(config, &placeholders, request_body(config, &batch));
        let headers: serde_json::Map<String, Value> = call
            .headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), json!(value)))
            .collect();
        let request = json!({
            "method": call.method.as_str(),
            "url": call.url,
            "headers": headers,
            "body": call.body.as_deref().and_then(|b| serde_json::from_str::<Value>(b).ok()),
        });
        let answer = json!({ "request": request, "accepted": accepted, "rejected": outcome.rejected, "warnings": outcome.warnings });
        return Ok(Response::from_json(&answer)?);
    }
    if !outcome.accepted.is_empty() {
        let events: Vec<String> = outcome
            .accepted
            .iter()
            .map(|a| a.event.to_string())
            .collect();
        let response = batcher(
            env,
            config,
            "/enqueue",
            Some(json!({ "events": events }).to_string()),
        )
        .await?;
        if response.status_code() != 200 {
            return Err(RelayError::Status(503, "queue_unavailable"));
        }
    }
    let answer =
        json!({ "accepted": accepted, "rejected": outcome.rejected, "warnings": outcome.warnings });
    Ok(Response::from_json(&answer)?.with_status(202))
}

/// Calls the advertiser and region's batching Durable Object.
async fn batcher(env: &Env, config: &Config, path: &str, body: Option<String>) -> Result<Response> {
    let name = format!("{}:{}", config.advertiser_id, config.region.as_str());
    durable(env, BATCHER, &name, path, body).await
}

/// Calls the audience's Durable Object.
async fn audience_sync(
    env: &Env,
    config: &Config,
    audience: &str,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    durable(
        env,
        AUDIENCES,
        &format!("{}:{audience}", config.advertiser_id),
        path,
        body,
    )
    .await
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

/// `POST /v1/audiences/{name}/members`: adds and removes, queued in the audience's
/// Durable Object, which flushes them as AMC audience records.
async fn members(
    req: &mut Request,
    env: &Env,
    config: &Config,
    name: &str,
) -> std::result::Result<Response, RelayError> {
    if !audience::valid_name(name) {
        return Err(RelayError::Status(400, "invalid_audience_name"));
    }
    if config.amc_advertiser_id.is_none() {
        return Err(RelayError::Config("AMC_ADVERTISER_ID is not set".into()));
    }
    // Without the ingest secret the caller can only be a browser: only the audiences
    // in BROWSER_AUDIENCES, decided before the body is read.
    if bearer(req)?.is_none() && !audience::browser_may_join(name, config) {
        return Err(RelayError::Status(403, "audience_not_allowed"));
    }
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(RelayError::Status(413, "body_too_large"));
    }
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|_| RelayError::Status(400, "bad_json"))?;
    let site_key = body
        .get("siteKey")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let caller = caller(req, env, config, site_key)?;
    let ctx = ingest::Context {
        caller,
        user_agent: None,
        client_ip: None,
    };
    let (country, changes, rejected) = audience::changes(&body, &ctx, config)
        .map_err(|code| RelayError::Status(audience::status(code), code))?;
    if !changes.is_empty() {
        let items: Vec<Value> = changes
            .iter()
            .map(|c| json!([c.external_user_id, c.record.to_string()]))
            .collect();
        let body =
            json!({ "name": name, "country": country.as_str(), "changes": items }).to_string();
        let response = audience_sync(env, config, name, "/members", Some(body)).await?;
        if response.status_code() != 200 {
            return Err(RelayError::Status(503, "queue_unavailable"));
        }
    }
    let answer = json!({ "accepted": changes.len(), "rejected": rejected });
    Ok(Response::from_json(&answer)?.with_status(202))
}

/// Keeps one audience's pending membership changes (one per person: the last intent) and
/// sends them as AMC records, creating the Amazon audience on first use and following
/// each records job to its end.
#[durable_object]
pub struct AudienceSync {
    state: State,
    env: Env,
}

impl DurableObject for AudienceSync {
    fn new(state: State, env: Env) -> Self {
        AudienceSync { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Ok(config) = config(&self.env) else {
            return Response::error("configuration_error", 500);
        };
        let storage = self.state.storage();
        match req.path().as_str() {
            "/members" => {
                #[derive(Deserialize)]
                struct Members {
                    name: String,
                    country: String,
                    changes: Vec<(String, String)>,
                }
                let body: Members = req.json().await?;
                storage.put("meta:name", body.name).await?;
                storage.put("meta:country", body.country).await?;
                for (id, record) in body.changes {
                    // One key per person: a later add or remove replaces an earlier one.
                    storage.put(&format!("m:{id}"), record).await?;
                }
                if storage
                    .get::<u64>("meta:first_at")
                    .await
                    .ok()
                    .flatten()
                    .is_none()
                {
                    storage
                        .put("meta:first_at", Date::now().as_millis())
                        .await?;
                }
                let pending = count(&self.state.storage(), "m:").await?;
                schedule(&storage, pending >= config.audience_batch, &config).await?;
                Response::from_json(&json!({ "pending": pending }))
            }
            "/flush" => force_flush(&storage).await,
            _ => Response::from_json(
                &json!({ "pending": count(&self.state.storage(), "m:").await?, "jobs": count(&self.state.storage(), "job:").await? }),
            ),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Ok(config) = config(&self.env) {
            self.sync(&config).await?;
        }
        Response::ok("synced")
    }
}

impl AudienceSync {
    async fn sync(&self, config: &Config) -> Result<()> {
        let storage = self.state.storage();
        let token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(_) => {
                storage.set_alarm(60_000).await?;
                return Ok(());
            }
        };
        let client_id = var(&self.env, "LWA_CLIENT_ID").unwrap_or_default();
        let auth = auth(config, &token, &client_id);
        let mut again = self.follow_jobs(config, &auth).await?;
        let force = storage
            .get::<bool>("meta:force")
            .await
            .ok()
            .flatten()
            .unwrap_or(false);
        let first_at = storage
            .get::<u64>("meta:first_at")
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        let due = force
            || Date::now().as_millis().saturating_sub(first_at) >= config.flush_seconds * 1000;
        loop {
            let chunk = entries(&storage, "m:", config.audience_batch).await?;
            if chunk.is_empty() || (chunk.len() < config.audience_batch && !due) {
                if !chunk.is_empty() {
                    let wait = (first_at + config.flush_seconds * 1000)
                        .saturating_sub(Date::now().as_millis());
                    storage.set_alarm(wait.max(1) as i64).await?;
                    return Ok(());
                }
                break;
            }
            let audience_id = match self.audience_id(config, &auth).await? {
                Some(id) => id,
                None => {
                    storage
                        .set_alarm(retry::backoff_ms(1, jitter()) as i64)
                        .await?;
                    return Ok(());
                }
            };
            let records: Vec<&str> = chunk.iter().map(|(_, r)| r.as_str()).collect();
            let (status, retry_after, text) =
                send_chunk(config, &auth, audience_id, &records).await;
            let batch_id = random_uuid();
            let log = |sent, failed, outcome, code| {
                log_batch(
                    &self.env,
                    config,
                    &batch_id,
                    records.len(),
                    sent,
                    failed,
                    status,
                    outcome,
                    code,
                )
            };
            match status {
                200..=299 => {
                    if let Some(job) = amazon_audience::parse_job_id(&text)
                        && config.audience_api == AudienceApi::Amc
                    {
                        storage
                            .put(&format!("job:{job}"), records.len() as u64)
                            .await?;
                        again = true;
                    }
                    log(records.len(), 0, "audience_submitted", None).await?;
                }
                404 => {
                    // The audience is gone on Amazon's side (deleted, or another
                    // environment): forget its id, create it again, keep the changes.
                    storage.delete("meta:audience_id").await?;
                    log(0, 0, "retry", Some("AUDIENCE_NOT_FOUND")).await?;
                    storage.set_alarm(1000).await?;
                    return Ok(());
                }
                429 | 500..=599 | 0 | 401 => {
                    let after =
                        match retry::next(status, retry_after.as_deref(), &text, 1, jitter()) {
                            Next::Retry { after_ms, .. } => after_ms,
                            _ => retry::backoff_ms(1, jitter()),
                        };
                    if status == 401 {
                        let _ = access_token(&self.env, config, true).await;
                    }
                    log(0, 0, "retry", Some("AUDIENCE_RECORDS")).await?;
                    storage.set_alarm(after as i64).await?;
                    return Ok(());
                }
                _ => {
                    let code = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["code"].as_str().map(str::to_owned));
                    log(0, records.len(), "audience_rejected", code.as_deref()).await?;
                }
            }
            let keys: Vec<String> = chunk.into_iter().map(|(k, _)| k).collect();
            storage.delete_multiple(keys).await?;
        }
        storage.delete("meta:force").await?;
        storage.delete("meta:first_at").await?;
        if again {
            storage.set_alarm(1000).await?;
        }
        Ok(())
    }

    /// The Amazon audience's id, created on first use.
    async fn audience_id(&self, config: &Config, auth: &amazon::Auth<'_>) -> Result<Option<u64>> {
        let storage = self.state.storage();
        if let Some(id) = storage
            .get::<String>("meta:audience_id")
            .await
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok())
        {
            return Ok(Some(id));
        }
        let meta = async |key| storage.get::<String>(key).await.ok().flatten();
        let name = meta("meta:name").await.unwrap_or_else(|| "audience".into());
        let country = meta("meta:country")
            .await
            .and_then(|c| Country::parse(&c).ok())
            .unwrap_or(Country::US);
        let spec = amazon_audience::AudienceSpec {
            name: &name,
            country,
            ttl_seconds: config.audience_ttl_seconds,
            now_unix: Date::now().as_millis() / 1000,
            source: "matchkey Worker",
        };
        let advertiser = config.amc_advertiser_id.unwrap_or_default();
        let call = amazon_audience::create_audience(config.audience_api(), auth, &spec, advertiser);
        let (status, _, text) = send(call).await;
        match amazon_audience::parse_audience_id(status, &text) {
            Some(id) => {
                storage.put("meta:audience_id", id.to_string()).await?;
                Ok(Some(id))
            }
            None => {
                log_batch(
                    &self.env,
                    config,
                    &random_uuid(),
                    0,
                    0,
                    0,
                    status,
                    "audience_create_failed",
                    None,
                )
                .await?;
                Ok(None)
            }
        }
    }

    /// Polls the AMC records jobs still running; logs each one's end. Whether to poll again.
    async fn follow_jobs(&self, config: &Config, auth: &amazon::Auth<'_>) -> Result<bool> {
        let mut running = false;
        for (key, count) in entries(&self.state.storage(), "job:", 100).await? {
            let job = &key["job:".len()..];
            let (status, _, text) = send(amazon_audience::amc_job(auth, job)).await;
            match amazon_audience::parse_job(status, &text) {
                Some(amazon_audience::JobState::Done {
                    status: done,
                    failed,
                }) => {
                    let count: usize = count.parse::<f64>().map_or(0, |n| n as usize);
                    let outcome = format!("audience_job_{}", done.to_ascii_lowercase());
                    let failed = match (done.as_str(), failed) {
                        ("SUCCEEDED", _) => 0,
                        ("PARTIALLYSUCCEEDED", Some(n)) => (n as usize).min(count),
                        _ => count,
                    };
                    log_batch(
                        &self.env,
                        config,
                        job,
                        count,
                        count - failed,
                        failed,
                        status,
                        &outcome,
                        None,
                    )
                    .await?;
                    self.state.storage().delete(&key).await?;
                }
                _ => running = true,
            }
        }
        Ok(running)
    }
}

/// Sends one chunk of serialized AMC records through the configured audience API: the
/// answer of the first call that fails, else of the last one.
async fn send_chunk(
    config: &Config,
    auth: &amazon::Auth<'_>,
    audience_id: u64,
    records: &[&str],
) -> (u16, Option<String>, String) {
    let mut answer = (0, None, String::new());
    for call in amazon_audience::send_records(config.audience_api(), auth, audience_id, records) {
        answer = send(call).await;
        if !(200..300).contains(&answer.0) {
            break;
        }
    }
    answer
}

/// The Ads API credentials of one call.
fn auth<'a>(config: &'a Config, token: &'a str, client_id: &'a str) -> amazon::Auth<'a> {
    amazon::Auth {
        api_base: &config.api_base,
        access_token: token,
        client_id,
    }
}

/// Sends a described Amazon call; `(status, Retry-After, body)`, status 0 when there is
/// no answer.
async fn send(call: amazon::ApiRequest) -> (u16, Option<String>, String) {
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

/// The health record kept in KV.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    token_state: Option<String>,
    last_success_at: Option<String>,
    last_error_code: Option<String>,
    last_error_at: Option<String>,
}

async fn read_health(env: &Env) -> Health {
    match env.kv(KV) {
        Ok(kv) => kv
            .get("health")
            .json::<Health>()
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        Err(_) => Health::default(),
    }
}

async fn update_health(env: &Env, change: impl FnOnce(&mut Health)) {
    let mut health = read_health(env).await;
    change(&mut health);
    if let Ok(kv) = env.kv(KV)
        && let Ok(put) = kv.put("health", serde_json::to_string(&health).unwrap_or_default())
    {
        let _ = put.execute().await;
    }
}

async fn health(env: &Env, config: &Config) -> std::result::Result<Response, RelayError> {
    let health = read_health(env).await;
    let mut stats: Value = batcher(env, config, "/stats", None)
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    let token_state = health
        .token_state
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let mut warnings = Vec::new();
    if let Some(granted) = &config.refresh_token_granted_at {
        let granted =
            OffsetDateTime::parse(granted, &time::format_description::well_known::Rfc3339).or_else(
                |_| {
                    OffsetDateTime::parse(
                        &format!("{granted}T00:00:00Z"),
                        &time::format_description::well_known::Rfc3339,
                    )
                },
            );
        if let Ok(granted) = granted {
            let expires = granted + time::Duration::days(365);
            let left = (expires - now()).whole_days();
            if left <= 30 {
                warnings.push(json!({ "code": "refresh_token_expiring", "daysLeft": left }));
            }
        }
    }
    let degraded = token_state == "reauthorization_needed";
    if degraded {
        warnings.push(json!({ "code": "reauthorization_needed" }));
    }
    let backlog = stats
        .get_mut("pending")
        .map(Value::take)
        .unwrap_or(json!(0));
    let answer = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "tokenState": token_state,
        "queueBacklog": backlog,
        "lastSuccessAt": health.last_success_at,
        "lastErrorCode": health.last_error_code,
        "lastErrorAt": health.last_error_at,
        "warnings": warnings,
    });
    Ok(Response::from_json(&answer)?.with_status(if degraded { 503 } else { 200 }))
}

static SCHEMA_READY: AtomicBool = AtomicBool::new(false);

/// The delivery log's tables (also in `migrations/`); created on first use so that
/// `wrangler dev` and Miniflare need no separate migration step.
async fn db(env: &Env) -> Result<D1Database> {
    let db = env.d1(DB)?;
    if !SCHEMA_READY.load(Ordering::Relaxed) {
        for statement in include_str!("../migrations/0001_delivery_log.sql").split(';') {
            let statement = statement.trim();
            if !statement.is_empty() {
                db.prepare(statement).run().await?;
            }
        }
        SCHEMA_READY.store(true, Ordering::Relaxed);
    }
    Ok(db)
}

async fn deliveries(req: &Request, env: &Env) -> std::result::Result<Response, RelayError> {
    let url = req.url()?;
    let limit: u32 = url
        .query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(100)
        .min(1000);
    let db = db(env).await?;
    let newest = |sql: &'static str| {
        let db = &db;
        async move {
            db.prepare(sql)
                .bind(&[limit.into()])?
                .all()
                .await?
                .results::<Value>()
        }
    };
    let batches = newest("SELECT * FROM deliveries ORDER BY id DESC LIMIT ?1").await?;
    let failed = newest("SELECT * FROM failed_events ORDER BY id DESC LIMIT ?1").await?;
    let dead = newest(
        "SELECT id, at, advertiser, region, event_id, event_time, reason, replayed_at FROM dead_letters ORDER BY id DESC LIMIT ?1",
    )
    .await?;
    Ok(Response::from_json(
        &json!({ "deliveries": batches, "failedEvents": failed, "deadLetters": dead }),
    )?)
}

async fn replay(env: &Env, config: &Config) -> std::result::Result<Response, RelayError> {
    let db = db(env).await?;
    let oldest = Date::now().as_millis() as f64 - (ingest::LOOKBACK_DAYS as f64) * 86_400_000.0;
    #[derive(Deserialize)]
    struct Dead {
        id: f64,
        event: String,
    }
    let rows: Vec<Dead> = db
        .prepare("SELECT id, event FROM dead_letters WHERE replayed_at IS NULL AND event_time_ms >= ?1 AND advertiser = ?2 ORDER BY id LIMIT 5000")
        .bind(&[oldest.into(), config.advertiser_id.clone().into()])?
        .all()
        .await?
        .results()?;
    if !rows.is_empty() {
        let events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
        batcher(
            env,
            config,
            "/enqueue",
            Some(json!({ "events": events }).to_string()),
        )
        .await?;
        let at = iso_now();
        for row in &rows {
            db.prepare("UPDATE dead_letters SET replayed_at = ?1 WHERE id = ?2")
                .bind(&[at.clone().into(), row.id.into()])?
                .run()
                .await?;
        }
    }
    // Whatever waits in the accumulator goes now too (after a token fix, say).
    batcher(env, config, "/flush", None).await?;
    Ok(Response::from_json(&json!({ "replayed": rows.len() }))?.with_status(202))
}

/// How many keys start with `prefix`.
async fn count(storage: &Storage, prefix: &str) -> Result<usize> {
    Ok(storage
        .list_with_options(ListOptions::new().prefix(prefix))
        .await?
        .size() as usize)
}

/// Up to `limit` entries under `prefix`, in key order, with their values as text.
async fn entries(storage: &Storage, prefix: &str, limit: usize) -> Result<Vec<(String, String)>> {
    let list = storage
        .list_with_options(ListOptions::new().prefix(prefix).limit(limit))
        .await?;
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

/// After new work arrives: send at once when a full batch waits, else make sure the
/// flush timer runs.
async fn schedule(storage: &Storage, full: bool, config: &Config) -> Result<()> {
    if full {
        storage.set_alarm(0).await
    } else if storage.get_alarm().await?.is_none() {
        storage
            .set_alarm((config.flush_seconds * 1000) as i64)
            .await
    } else {
        Ok(())
    }
}

/// Sends everything now: partial batches go too on this run, whatever their age.
async fn force_flush(storage: &Storage) -> Result<Response> {
    storage.put("meta:force", true).await?;
    storage.set_alarm(0).await?;
    Response::from_json(&json!({ "flushing": true }))
}

/// The enqueue time (ms) written into an event's storage key.
fn stamp_of(key: &str) -> u64 {
    key.get(EVENT_PREFIX.len()..EVENT_PREFIX.len() + 13)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn access_token(
    env: &Env,
    config: &Config,
    force: bool,
) -> std::result::Result<String, TokenError> {
    let now_ms = Date::now().as_millis();
    if !force {
        if let Some((token, _)) = TOKEN
            .with(|t| t.borrow().clone())
            .filter(|(_, exp)| *exp > now_ms + 60_000)
        {
            return Ok(token);
        }
        if let Ok(kv) = env.kv(KV)
            && let Ok(Some(cached)) = kv.get("lwa:access").json::<(String, u64)>().await
            && cached.1 > now_ms + 60_000
        {
            TOKEN.with(|t| *t.borrow_mut() = Some(cached.clone()));
            return Ok(cached.0);
        }
    }
    let secret = |name| var(env, name).filter(|s| !s.is_empty());
    let (Some(client_id), Some(client_secret), Some(refresh)) = (
        secret("LWA_CLIENT_ID"),
        secret("LWA_CLIENT_SECRET"),
        secret("LWA_REFRESH_TOKEN"),
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
    match amazon::parse_token(status, &body) {
        Ok(token) => {
            let expires = now_ms + token.expires_in * 1000;
            let token = token.access_token;
            TOKEN.with(|t| *t.borrow_mut() = Some((token.clone(), expires)));
            if let Ok(kv) = env.kv(KV)
                && let Ok(put) = kv.put("lwa:access", json!([token, expires]).to_string())
            {
                let ttl = (expires - now_ms) / 1000;
                let _ = put.expiration_ttl(ttl.max(120) - 60).execute().await;
            }
            update_health(env, |h| h.token_state = Some("ok".into())).await;
            Ok(token)
        }
        Err(TokenError::Reauthorize) => {
            update_health(env, |h| {
                h.token_state = Some("reauthorization_needed".into());
                h.last_error_code = Some("invalid_grant".into());
                h.last_error_at = Some(iso_now());
            })
            .await;
            Err(TokenError::Reauthorize)
        }
        Err(other) => Err(other),
    }
}

/// Accumulates one advertiser and region's events and delivers them in full batches.
#[durable_object]
pub struct Batcher {
    state: State,
    env: Env,
    seq: RefCell<u64>,
}

impl DurableObject for Batcher {
    fn new(state: State, env: Env) -> Self {
        Batcher {
            state,
            env,
            seq: RefCell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let config = match config(&self.env) {
            Ok(c) => c,
            Err(_) => return Response::error("configuration_error", 500),
        };
        let storage = self.state.storage();
        match req.path().as_str() {
            "/enqueue" => {
                #[derive(Deserialize)]
                struct Enqueue {
                    events: Vec<String>,
                }
                let body: Enqueue = req.json().await?;
                let stamp = Date::now().as_millis();
                for event in body.events {
                    let n = {
                        let mut seq = self.seq.borrow_mut();
                        *seq += 1;
                        *seq
                    };
                    storage
                        .put(&format!("{EVENT_PREFIX}{stamp:013}:{n:08}"), event)
                        .await?;
                }
                let pending = count(&storage, EVENT_PREFIX).await?;
                schedule(&storage, pending >= config.batch_size(), &config).await?;
                Response::from_json(&json!({ "pending": pending }))
            }
            "/flush" => force_flush(&storage).await,
            _ => {
                let alarm = storage.get_alarm().await?;
                Response::from_json(
                    &json!({ "pending": count(&storage, EVENT_PREFIX).await?, "nextFlushAt": alarm }),
                )
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Ok(config) = config(&self.env) {
            self.deliver(&config).await?;
        }
        Response::ok("delivered")
    }
}

impl Batcher {
    async fn attempt(&self) -> u32 {
        self.state
            .storage()
            .get::<u32>("meta:attempt")
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Sends what is pending, batch by batch, and schedules what is left.
    async fn deliver(&self, config: &Config) -> Result<()> {
        let storage = self.state.storage();
        let items = entries(&storage, EVENT_PREFIX, READ_LIMIT).await?;
        if items.is_empty() {
            return Ok(());
        }
        let more = items.len() >= READ_LIMIT;
        let mut token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(TokenError::Reauthorize) => {
                // Keep every event; check again in a while (replay also flushes).
                storage.set_alarm(300_000).await?;
                return Ok(());
            }
            Err(TokenError::Unavailable(code)) => {
                let attempt = self.attempt().await;
                storage.put("meta:attempt", attempt + 1).await?;
                self.record_error(&code).await;
                storage
                    .set_alarm(retry::backoff_ms(attempt, jitter()) as i64)
                    .await?;
                return Ok(());
            }
        };
        let force = storage
            .get::<bool>("meta:force")
            .await
            .ok()
            .flatten()
            .unwrap_or(false);
        if force {
            storage.delete("meta:force").await?;
        }
        let flush_ms = config.flush_seconds * 1000;
        let now_ms = Date::now().as_millis();
        for batch in events::batches(items, config.batch_size()) {
            // A partial batch waits until its oldest event has waited FLUSH_SECONDS, so
            // single-event ingests still reach Amazon in full batches.
            let oldest = batch.first().map_or(now_ms, |(k, _)| stamp_of(k));
            let waited = now_ms.saturating_sub(oldest);
            if !force && batch.len() < config.batch_size() && waited < flush_ms {
                storage.set_alarm((flush_ms - waited) as i64).await?;
                return Ok(());
            }
            let batch_id = random_uuid();
            let body = request_body(config, &batch);
            let mut refreshed = false;
            loop {
                let attempt = self.attempt().await;
                let (status, retry_after, text) =
                    send_events(&self.env, config, &token, &body).await;
                let parse = match config.api_kind {
                    ApiKind::Events => events::parse_multi_status,
                    ApiKind::Dsp { .. } => events::parse_legacy_multi_status,
                };
                match retry::next_with(
                    status,
                    retry_after.as_deref(),
                    &text,
                    attempt,
                    jitter(),
                    parse,
                ) {
                    Next::Delivered(ms) => {
                        self.log_delivered(config, &batch_id, &batch, &ms, status)
                            .await?;
                        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
                        storage.delete_multiple(keys).await?;
                        storage.put("meta:attempt", 0u32).await?;
                        update_health(&self.env, |h| h.last_success_at = Some(iso_now())).await;
                        break;
                    }
                    Next::Refresh if !refreshed => {
                        refreshed = true;
                        match access_token(&self.env, config, true).await {
                            Ok(t) => token = t,
                            Err(_) => {
                                storage.set_alarm(300_000).await?;
                                return Ok(());
                            }
                        }
                    }
                    Next::Refresh => {
                        return self
                            .retry_later(
                                config,
                                &batch_id,
                                &batch,
                                status,
                                "UNAUTHORIZED",
                                retry::backoff_ms(attempt, jitter()),
                            )
                            .await;
                    }
                    Next::Retry { after_ms, code } => {
                        return self
                            .retry_later(config, &batch_id, &batch, status, &code, after_ms)
                            .await;
                    }
                    Next::Fail { code } => {
                        self.dead_letter(config, &batch_id, &batch, status, &code)
                            .await?;
                        break;
                    }
                }
            }
        }
        if more {
            storage.set_alarm(0).await?;
        }
        Ok(())
    }

    async fn retry_later(
        &self,
        config: &Config,
        batch_id: &str,
        batch: &[(String, String)],
        status: u16,
        code: &str,
        after_ms: u64,
    ) -> Result<()> {
        let storage = self.state.storage();
        let attempt = self.attempt().await + 1;
        self.record_error(code).await;
        if attempt >= config.max_attempts {
            self.dead_letter(config, batch_id, batch, status, code)
                .await?;
            storage.put("meta:attempt", 0u32).await?;
            storage.set_alarm(0).await?;
            return Ok(());
        }
        storage.put("meta:attempt", attempt).await?;
        log_batch(
            &self.env,
            config,
            batch_id,
            batch.len(),
            0,
            0,
            status,
            "retry",
            Some(code),
        )
        .await?;
        storage.set_alarm(after_ms as i64).await?;
        Ok(())
    }

    async fn record_error(&self, code: &str) {
        update_health(&self.env, |h| {
            h.last_error_code = Some(code.to_owned());
            h.last_error_at = Some(iso_now());
        })
        .await;
    }

    async fn log_delivered(
        &self,
        config: &Config,
        batch_id: &str,
        batch: &[(String, String)],
        ms: &events::MultiStatus,
        status: u16,
    ) -> Result<()> {
        let db = db(&self.env).await?;
        for error in &ms.errors {
            let event_id = batch
                .get(error.index)
                .and_then(|(_, e)| serde_json::from_str::<Value>(e).ok())
                .and_then(|e| e["eventId"].as_str().map(str::to_owned));
            db.prepare("INSERT INTO failed_events (at, advertiser, batch_id, event_id, status, amazon_code, field_location) VALUES (?1, ?2, ?3, ?4, 'rejected', ?5, ?6)")
                .bind(&[
                    iso_now().into(),
                    config.advertiser_id.clone().into(),
                    batch_id.into(),
                    event_id.map_or(wasm_bindgen::JsValue::NULL, Into::into),
                    error.code.clone().into(),
                    error.field_location.clone().map_or(wasm_bindgen::JsValue::NULL, Into::into),
                ])?
                .run()
                .await?;
        }
        log_batch(
            &self.env,
            config,
            batch_id,
            batch.len(),
            ms.success.len(),
            ms.errors.len(),
            status,
            "delivered",
            None,
        )
        .await
    }

    async fn dead_letter(
        &self,
        config: &Config,
        batch_id: &str,
        batch: &[(String, String)],
        status: u16,
        code: &str,
    ) -> Result<()> {
        let db = db(&self.env).await?;
        for (_, event) in batch {
            let parsed: Value = serde_json::from_str(event).unwrap_or(Value::Null);
            let event_time = parsed["eventTime"].as_str().unwrap_or_default().to_owned();
            let event_time_ms = js_sys::Date::parse(&event_time);
            db.prepare("INSERT INTO dead_letters (at, advertiser, region, event_id, event_time, event_time_ms, event, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .bind(&[
                    iso_now().into(),
                    config.advertiser_id.clone().into(),
                    config.region.as_str().into(),
                    parsed["eventId"].as_str().unwrap_or_default().into(),
                    event_time.into(),
                    event_time_ms.into(),
                    event.clone().into(),
                    code.into(),
                ])?
                .run()
                .await?;
        }
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        self.state.storage().delete_multiple(keys).await?;
        log_batch(
            &self.env,
            config,
            batch_id,
            batch.len(),
            0,
            batch.len(),
            status,
            "dead_lettered",
            Some(code),
        )
        .await
    }
}

#[allow(clippy::too_many_arguments)] // One row of the log, column by column.
async fn log_batch(
    env: &Env,
    config: &Config,
    batch_id: &str,
    events: usize,
    accepted: usize,
    failed: usize,
    status: u16,
    outcome: &str,
    code: Option<&str>,
) -> Result<()> {
    db(env)
        .await?
        .prepare("INSERT INTO deliveries (at, advertiser, region, batch_id, events, accepted, failed, http_status, status, amazon_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .bind(&[
            iso_now().into(),
            config.advertiser_id.clone().into(),
            config.region.as_str().into(),
            batch_id.into(),
            (events as f64).into(),
            (accepted as f64).into(),
            (failed as f64).into(),
            f64::from(status).into(),
            outcome.into(),
            code.map_or(wasm_bindgen::JsValue::NULL, Into::into),
        ])?
        .run()
        .await?;
    Ok(())
}

/// The request body of a batch for the configured API.
fn request_body(config: &Config, batch: &[(String, String)]) -> String {
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

/// The configured API's call for a batch body: what `send_events` sends and what
/// `/v1/validate` shows.
fn events_call(config: &Config, auth: &amazon::Auth<'_>, body: String) -> amazon::ApiRequest {
    match &config.api_kind {
        ApiKind::Events => events::create_events(auth, &config.advertiser_id, body),
        ApiKind::Dsp { profile_id, .. } => {
            events::import_legacy(auth, &config.advertiser_id, profile_id, body)
        }
    }
}

/// POSTs one batch to the configured API; `(status, Retry-After, body)`, status 0 when no answer.
async fn send_events(
    env: &Env,
    config: &Config,
    token: &str,
    body: &str,
) -> (u16, Option<String>, String) {
    let client_id = var(env, "LWA_CLIENT_ID").unwrap_or_default();
    send(events_call(
        config,
        &auth(config, token, &client_id),
        body.to_owned(),
    ))
    .await
}
