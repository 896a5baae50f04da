//! The HTTP side: routes, authentication, fault injection and the request log.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::validate;

/// Largest Events API body accepted (Amazon's limit is unpublished; 413 exists).
const MAX_EVENTS_BODY: usize = 1024 * 1024;
/// Largest Data Provider body (`/dp/records/hashed`: 5 MB).
const MAX_DP_BODY: usize = 5 * 1024 * 1024;
/// Most records per AMC audience records request.
const MAX_AUDIENCE_RECORDS: usize = 10_000;

/// A fault to inject into the next matching requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Which endpoint: `token`, `profiles`, `accounts`, `events`, `legacy`, `audiences`,
    /// `records`, `jobs`, `dp`, or `*` for any.
    #[serde(default = "any")]
    pub endpoint: String,
    /// `status` (answer `status`), `slow` (wait `delayMs`, then answer normally), `drop`
    /// (close the connection without an answer), `expired_token` (401 as for an expired
    /// access token).
    pub kind: String,
    /// For `status`: 429, 500, 503, …
    #[serde(default)]
    pub status: Option<u16>,
    /// For 429: the `Retry-After` header, in seconds.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// For `slow`: the delay.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many requests it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

fn any() -> String {
    "*".into()
}

fn one() -> u32 {
    1
}

/// One request as received, for `GET /__emulator/requests`. Secrets are redacted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    seq: u64,
    endpoint: &'static str,
    method: String,
    path: String,
    status: u16,
    headers: HashMap<String, String>,
    body: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outcomes: Vec<Outcome>,
}

/// What became of one event or record of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    index: usize,
    accepted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<validate::FieldError>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Audience {
    audience_id: u64,
    name: String,
    description: String,
    country_code: String,
    external_audience_id: String,
    ttl: u64,
    advertiser_id: Option<String>,
    members: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    job_request_id: String,
    audience_id: u64,
    status: &'static str,
    received_record_count: usize,
    processed_record_count: usize,
    failed_record_count: usize,
    errors: Vec<Value>,
    #[serde(skip)]
    polls: u32,
    #[serde(skip)]
    terminal: &'static str,
}

#[derive(Default)]
struct Inner {
    /// access token → (client id, expiry).
    tokens: HashMap<String, (String, OffsetDateTime)>,
    revoked: HashSet<String>,
    used_codes: HashSet<String>,
    faults: Vec<Fault>,
    log: Vec<Recorded>,
    seq: u64,
    audiences: Vec<Audience>,
    jobs: HashMap<String, Job>,
    fail_jobs: u32,
    now: Option<OffsetDateTime>,
}

struct Shared {
    config: Config,
    inner: Mutex<Inner>,
}

/// A running emulator's handle (for tests that start it in-process).
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// An emulator with `config`; `now` fixes the clock used for event-time windows.
    pub fn new(config: Config, now: Option<OffsetDateTime>) -> Self {
        let inner = Inner {
            now,
            ..Inner::default()
        };
        Emulator {
            shared: Arc::new(Shared {
                config,
                inner: Mutex::new(inner),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-written in a way
        // that matters to a test double; keep serving.
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> OffsetDateTime {
        self.lock().now.unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/auth/o2/token", post(token))
            .route("/v2/profiles", get(profiles))
            .route(
                "/adsApi/v1/query/advertiserAccounts",
                post(advertiser_accounts),
            )
            .route("/adsApi/v1/create/events", post(events))
            .route(
                "/accounts/{advertiser}/dsp/conversionDefinitions/eventData",
                post(legacy_events),
            )
            .route(
                "/amc/audiences/metadata",
                post(create_audience).get(list_audiences),
            )
            .route("/amc/audiences/metadata/{id}", get(get_audience))
            .route("/amc/audiences/records", post(audience_records))
            .route("/amc/audiences/records/{job}", get(job_status))
            .route("/dp/records/hashed", post(dp_records))
            .route("/__emulator/faults", post(add_faults).get(list_faults))
            .route("/__emulator/revoke", post(revoke))
            .route("/__emulator/requests", get(requests))
            .route("/__emulator/events", get(accepted_events))
            .route("/__emulator/audiences", get(audiences_with_members))
            .route("/__emulator/jobs/fail", post(fail_jobs))
            .route("/__emulator/clock", post(set_clock))
            .route("/__emulator/reset", post(reset))
            .fallback(not_found)
            .with_state(self.clone())
    }
}

/// Serves `config` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, emulator: Emulator) -> std::io::Result<()> {
    axum::serve(listener, emulator.router()).await
}

/// A whole-request refusal, answered in Amazon's `{code, message}` shape.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        amazon_error(self.status, self.code, self.message)
    }
}

/// Amazon's whole-request error shape `{code, message}`.
fn amazon_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Login with Amazon's error shape `{error, error_description}`.
fn lwa_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Headers worth recording (values of secrets redacted).
fn recorded_headers(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n.starts_with("amazon-") || n == "content-type" || n == "authorization"
        })
        .map(|(name, value)| {
            let v = value.to_str().unwrap_or("<non-ascii>");
            let v = if name.as_str() == "authorization" {
                redact_bearer(v)
            } else {
                v.to_owned()
            };
            (name.as_str().to_owned(), v)
        })
        .collect()
}

fn redact_bearer(v: &str) -> String {
    match v.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".into(),
    }
}

impl Emulator {
    /// Applies the first pending fault for `endpoint`, if any: returns a response to send
    /// instead of the real one, or waits (slow), or drops the connection.
    async fn fault(&self, endpoint: &'static str) -> Option<Response> {
        let fault = {
            let mut inner = self.lock();
            let i = inner
                .faults
                .iter()
                .position(|f| f.endpoint == "*" || f.endpoint == endpoint)?;
            let fault = inner.faults[i].clone();
            inner.faults[i].count -= 1;
            if inner.faults[i].count == 0 {
                inner.faults.remove(i);
            }
            fault
        };
        match fault.kind.as_str() {
            "slow" => {
                tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(1000))).await;
                None
            }
            "drop" => {
                // Unwinding out of the handler ends the connection task: the client sees
                // the connection closed with no response. resume_unwind skips the panic hook.
                std::panic::resume_unwind(Box::new("emulator fault: drop"))
            }
            "expired_token" => Some(amazon_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The access token is expired or invalid.",
            )),
            _ => {
                let status = StatusCode::from_u16(fault.status.unwrap_or(500))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let code = match status.as_u16() {
                    429 => "TOO_MANY_REQUESTS",
                    401 => "UNAUTHORIZED",
                    403 => "FORBIDDEN",
                    502..=504 => "SERVICE_UNAVAILABLE",
                    _ => "INTERNAL_ERROR",
                };
                let mut response = amazon_error(status, code, "Injected by the emulator.");
                if let Some(secs) = fault.retry_after {
                    response.headers_mut().insert("retry-after", secs.into());
                }
                Some(response)
            }
        }
    }

    fn record(
        &self,
        endpoint: &'static str,
        (method, uri, headers): (&Method, &Uri, &HeaderMap),
        status: StatusCode,
        body: Value,
        outcomes: Vec<Outcome>,
    ) {
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        inner.log.push(Recorded {
            seq,
            endpoint,
            method: method.to_string(),
            path: uri.path().to_owned(),
            status: status.as_u16(),
            headers: recorded_headers(headers),
            body,
            outcomes,
        });
    }

    /// The client id of a live bearer token, or the 401 to answer.
    fn authorize(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let unauthorized = |message| {
            Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "UNAUTHORIZED",
                message,
            })
        };
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return unauthorized("Authorization: Bearer <access token> is required.");
        };
        let now = self.now();
        let inner = self.lock();
        match inner.tokens.get(token) {
            Some((client, expiry)) if *expiry > now => Ok(client.clone()),
            Some(_) => unauthorized("The access token is expired or invalid."),
            None => unauthorized("The access token is expired or invalid."),
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn is_json(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| {
            let t = t.trim();
            t == "application/json" || (t.starts_with("application/vnd.") && t.ends_with("+json"))
        })
    })
}

/// Parses a form body (`a=b&c=d`, percent-encoded).
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match u8::from_str_radix(
                        std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

async fn token(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let mut redacted: serde_json::Map<String, Value> = form
        .iter()
        .map(|(k, v)| {
            let v = if ["client_secret", "refresh_token", "code"].contains(&k.as_str()) {
                "<redacted>"
            } else {
                v.as_str()
            };
            (k.clone(), json!(v))
        })
        .collect();
    redacted.remove("");
    let response = match emu.fault("token").await {
        Some(r) => r,
        None => token_response(&emu, &headers, &form),
    };
    emu.record(
        "token",
        (&method, &uri, &headers),
        response.status(),
        Value::Object(redacted),
        Vec::new(),
    );
    response
}

fn token_response(emu: &Emulator, headers: &HeaderMap, form: &HashMap<String, String>) -> Response {
    if !header(headers, "content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
    {
        return lwa_error(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        );
    }
    let config = &emu.shared.config;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let client_ok = config
        .clients
        .iter()
        .any(|c| c.id == field("client_id") && c.secret == field("client_secret"));
    if !client_ok {
        return lwa_error("invalid_client", "Client authentication failed");
    }
    let refresh_token = match field("grant_type") {
        "refresh_token" => {
            let known = config
                .refresh_tokens
                .iter()
                .any(|t| t.token == field("refresh_token") && t.client_id == field("client_id"));
            if !known || emu.lock().revoked.contains(field("refresh_token")) {
                return lwa_error(
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token. User may have revoked or didn't grant the permission.",
                );
            }
            field("refresh_token").to_owned()
        }
        "authorization_code" => {
            let code = config
                .auth_codes
                .iter()
                .find(|c| c.code == field("code") && c.client_id == field("client_id"));
            let mut inner = emu.lock();
            match code {
                Some(c) if inner.used_codes.insert(c.code.clone()) => c.refresh_token.clone(),
                _ => {
                    return lwa_error(
                        "invalid_grant",
                        "The request has an invalid grant parameter : code.",
                    );
                }
            }
        }
        "" => {
            return lwa_error(
                "invalid_request",
                "The request is missing a required parameter : grant_type.",
            );
        }
        _ => {
            return lwa_error(
                "unsupported_grant_type",
                "The authorization grant type is not supported.",
            );
        }
    };
    let now = emu.now();
    let ttl = config.token_ttl_secs;
    let mut inner = emu.lock();
    inner.seq += 1;
    let access = format!(
        "Atza|emulator-{}-{}",
        inner.seq,
        now.unix_timestamp_nanos() % 1_000_000_007
    );
    inner.tokens.insert(
        access.clone(),
        (
            field("client_id").to_owned(),
            now + time::Duration::seconds(ttl as i64),
        ),
    );
    Json(json!({"access_token": access, "token_type": "bearer", "expires_in": ttl, "refresh_token": refresh_token})).into_response()
}

/// Checks the Ads API client header against the token's client.
fn check_client(headers: &HeaderMap, client: &str, names: &[&str]) -> Result<(), ApiError> {
    match names.iter().find_map(|n| header(headers, n)) {
        None => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: "The client id header is required.",
        }),
        Some(c) if c != client => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "FORBIDDEN",
            message: "The client id does not match the access token.",
        }),
        Some(_) => Ok(()),
    }
}

async fn profiles(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let response = match emu.fault("profiles").await {
        Some(r) => r,
        None => match emu.authorize(&headers).and_then(|c| check_client(&headers, &c, &["amazon-advertising-api-clientid"])) {
            Err(r) => r.into_response(),
            Ok(()) => Json(
                emu.shared
                    .config
                    .advertisers
                    .iter()
                    .map(|a| {
                        json!({"profileId": a.profile_id.parse::<u64>().unwrap_or(0), "countryCode": a.country_code,
                            "currencyCode": "USD", "timezone": "America/Los_Angeles",
                            "accountInfo": {"marketplaceStringId": "ATVPDKIKX0DER", "id": a.id, "type": "agency", "name": a.name, "validPaymentMethod": true}})
                    })
                    .collect::<Vec<_>>(),
            )
            .into_response(),
        },
    };
    emu.record(
        "profiles",
        (&method, &uri, &headers),
        response.status(),
        Value::Null,
        Vec::new(),
    );
    response
}

async fn advertiser_accounts(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = match emu.fault("accounts").await {
        Some(r) => r,
        None => match emu.authorize(&headers).and_then(|c| check_client(&headers, &c, &["amazon-ads-clientid", "amazon-advertising-api-clientid"])) {
            Err(r) => r.into_response(),
            Ok(()) => Json(json!({"advertiserAccounts": emu.shared.config.advertisers.iter().map(|a| json!({
                "advertiserAccountId": format!("amzn1.ads-account.g.{}", a.profile_id),
                "displayName": a.name, "currencyCode": "USD", "isGlobalAccount": true, "status": "CREATED",
                "businessDetails": [],
                "alternateIds": [{"countryCode": a.country_code, "profileId": a.profile_id, "entityId": format!("ENTITY{}", a.profile_id),
                    "region": a.region, "dspAdvertiserId": a.id}],
            })).collect::<Vec<_>>()}))
            .into_response(),
        },
    };
    emu.record(
        "accounts",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        Vec::new(),
    );
    response
}

async fn events(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (response, outcomes) = match emu.fault("events").await {
        Some(r) => (r, Vec::new()),
        None => events_response(&emu, &headers, &body, &parsed),
    };
    emu.record(
        "events",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        outcomes,
    );
    response
}

fn events_response(
    emu: &Emulator,
    headers: &HeaderMap,
    body: &[u8],
    parsed: &Value,
) -> (Response, Vec<Outcome>) {
    let fail = |r| (r, Vec::new());
    let client = match emu.authorize(headers) {
        Ok(c) => c,
        Err(r) => return fail(r.into_response()),
    };
    if let Err(r) = check_client(headers, &client, &["amazon-ads-clientid"]) {
        return fail(r.into_response());
    }
    match header(headers, "amazon-ads-accountid") {
        None => {
            return fail(amazon_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "Amazon-Ads-AccountId is required.",
            ));
        }
        Some(id) if emu.shared.config.advertiser(id).is_none() => {
            return fail(amazon_error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "No access to this advertiser account.",
            ));
        }
        Some(_) => {}
    }
    if !is_json(headers) {
        return fail(amazon_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be application/json.",
        ));
    }
    if body.len() > MAX_EVENTS_BODY {
        return fail(amazon_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CONTENT_TOO_LARGE",
            "The request body is too large.",
        ));
    }
    let Some(events) = parsed.get("events").and_then(Value::as_array) else {
        return fail(amazon_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "The body must be JSON with an events array.",
        ));
    };
    if events.is_empty() || events.len() > 500 {
        return fail(amazon_error(
            StatusCode::BAD_REQUEST,
            "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT",
            "1 to 500 events are required.",
        ));
    }
    let now = emu.now();
    let mut success = Vec::new();
    let mut error = Vec::new();
    let mut outcomes = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let errors = validate::event(event, index, now);
        if errors.is_empty() {
            success.push(json!({"index": index, "event": event}));
        } else {
            error.push(json!({"index": index, "errors": errors}));
        }
        outcomes.push(Outcome {
            index,
            accepted: errors.is_empty(),
            errors,
        });
    }
    let response = (
        StatusCode::MULTI_STATUS,
        Json(json!({"success": success, "error": error})),
    )
        .into_response();
    (response, outcomes)
}

async fn legacy_events(
    State(emu): State<Emulator>,
    Path(advertiser): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (response, outcomes) = match emu.fault("legacy").await {
        Some(r) => (r, Vec::new()),
        None => legacy_response(&emu, &advertiser, &headers, &parsed),
    };
    emu.record(
        "legacy",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        outcomes,
    );
    response
}

fn legacy_response(
    emu: &Emulator,
    advertiser: &str,
    headers: &HeaderMap,
    parsed: &Value,
) -> (Response, Vec<Outcome>) {
    let fail = |r| (r, Vec::new());
    let client = match emu.authorize(headers) {
        Ok(c) => c,
        Err(r) => return fail(r.into_response()),
    };
    if let Err(r) = check_client(headers, &client, &["amazon-advertising-api-clientid"]) {
        return fail(r.into_response());
    }
    let Some(adv) = emu.shared.config.advertiser(advertiser) else {
        return fail(amazon_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "No access to this advertiser account.",
        ));
    };
    if header(headers, "amazon-advertising-api-scope") != Some(adv.profile_id.as_str()) {
        return fail(amazon_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Amazon-Advertising-API-Scope must be the advertiser's profile id.",
        ));
    }
    if !is_json(headers) {
        return fail(amazon_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be JSON.",
        ));
    }
    if parsed.get("source").and_then(Value::as_str) != Some("SERVER_TO_SERVER") {
        return fail(amazon_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "source must be SERVER_TO_SERVER.",
        ));
    }
    let Some(items) = parsed
        .get("eventData")
        .and_then(Value::as_array)
        .filter(|a| (1..=100).contains(&a.len()))
    else {
        return fail(amazon_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "1 to 100 eventData items are required.",
        ));
    };
    let now = emu.now();
    let mut success = Vec::new();
    let mut error = Vec::new();
    let mut outcomes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let index = i + 1;
        let errors = validate::legacy_event(item, index, now);
        if errors.is_empty() {
            success.push(json!({"index": index, "message": "Event imported."}));
        } else {
            let details: Vec<Value> = errors
                .iter()
                .map(|e| json!({"errorType": "INVALID_ARGUMENT", "fieldName": e.field_location, "message": e.message}))
                .collect();
            error.push(json!({"index": index, "code": "400", "message": "Validation failed.", "errors": details}));
        }
        outcomes.push(Outcome {
            index,
            accepted: errors.is_empty(),
            errors,
        });
    }
    (
        (
            StatusCode::MULTI_STATUS,
            Json(json!({"success": success, "error": error})),
        )
            .into_response(),
        outcomes,
    )
}

async fn create_audience(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = match emu.fault("audiences").await {
        Some(r) => r,
        None => create_audience_response(&emu, &headers, &parsed),
    };
    emu.record(
        "audiences",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        Vec::new(),
    );
    response
}

fn create_audience_response(emu: &Emulator, headers: &HeaderMap, parsed: &Value) -> Response {
    let client = match emu.authorize(headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check_client(headers, &client, &["amazon-advertising-api-clientid"]) {
        return r.into_response();
    }
    if !is_json(headers) {
        return amazon_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be JSON.",
        );
    }
    let bad = |m| amazon_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
    let Some(name) = parsed
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 128)
    else {
        return bad("name is required (1 to 128 characters).");
    };
    let country = parsed
        .get("countryCode")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if matchkey::Country::parse(country).is_err() || country.len() != 2 {
        return bad("countryCode must be an ISO 3166-1 alpha-2 code.");
    }
    let target = parsed.get("targetResource");
    let advertiser = target.and_then(|t| t.get("advertiserId"));
    let connection = target.and_then(|t| t.get("connectionId"));
    let advertiser_id = match (advertiser, connection) {
        (Some(Value::Number(n)), _) => Some(n.to_string()),
        (Some(_), _) => return bad("targetResource.advertiserId must be a number."),
        (None, Some(Value::String(_))) => None,
        _ => return bad("targetResource needs advertiserId or connectionId."),
    };
    if let Some(id) = &advertiser_id
        && emu.shared.config.advertiser(id).is_none()
    {
        return amazon_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "No access to this advertiser.",
        );
    }
    let metadata = parsed.get("metadata");
    let ttl = metadata
        .and_then(|m| m.get("ttl"))
        .map_or(Some(34_300_800), Value::as_u64);
    let Some(ttl) = ttl.filter(|t| *t <= 34_300_800) else {
        return bad("metadata.ttl must be 0 to 34300800 seconds.");
    };
    let external = metadata
        .and_then(|m| m.get("externalAudienceId"))
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    let mut inner = emu.lock();
    if inner.audiences.iter().any(|a| a.name == name) {
        return amazon_error(
            StatusCode::CONFLICT,
            "CONFLICT",
            "An audience with this name exists.",
        );
    }
    let audience_id = 413_642_381_039_213_000 + inner.audiences.len() as u64 + 1;
    inner.audiences.push(Audience {
        audience_id,
        name: name.to_owned(),
        description: parsed
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        country_code: country.to_owned(),
        external_audience_id: external.clone(),
        ttl,
        advertiser_id,
        members: Vec::new(),
    });
    Json(json!({"audienceId": audience_id, "externalAudienceId": external})).into_response()
}

fn audience_json(a: &Audience) -> Value {
    json!({"audienceId": a.audience_id, "name": a.name, "description": a.description, "countryCode": a.country_code,
        "metadata": {"externalAudienceId": a.external_audience_id, "ttl": a.ttl,
            "audienceSize": {"dspAudienceSize": -1, "idResolutionCount": -1, "receivedRecordSize": a.members.len()}}})
}

async fn list_audiences(State(emu): State<Emulator>, headers: HeaderMap) -> Response {
    if let Err(r) = emu.authorize(&headers) {
        return r.into_response();
    }
    let inner = emu.lock();
    Json(json!({"audiences": inner.audiences.iter().map(audience_json).collect::<Vec<_>>()}))
        .into_response()
}

async fn get_audience(
    State(emu): State<Emulator>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.authorize(&headers) {
        return r.into_response();
    }
    let inner = emu.lock();
    match inner.audiences.iter().find(|a| a.audience_id == id) {
        Some(a) => Json(audience_json(a)).into_response(),
        None => amazon_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such audience."),
    }
}

async fn audience_records(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (response, outcomes) = match emu.fault("records").await {
        Some(r) => (r, Vec::new()),
        None => audience_records_response(&emu, &headers, &parsed),
    };
    emu.record(
        "records",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        outcomes,
    );
    response
}

fn audience_records_response(
    emu: &Emulator,
    headers: &HeaderMap,
    parsed: &Value,
) -> (Response, Vec<Outcome>) {
    let fail = |r| (r, Vec::new());
    let client = match emu.authorize(headers) {
        Ok(c) => c,
        Err(r) => return fail(r.into_response()),
    };
    if let Err(r) = check_client(headers, &client, &["amazon-advertising-api-clientid"]) {
        return fail(r.into_response());
    }
    if !is_json(headers) {
        return fail(amazon_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be JSON.",
        ));
    }
    let bad = |m| fail(amazon_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m));
    let Some(audience_id) = parsed.get("audienceId").and_then(Value::as_u64) else {
        return bad("audienceId (a number) is required.");
    };
    let Some(records) = parsed.get("records").and_then(Value::as_array) else {
        return bad("records is required.");
    };
    if records.is_empty() || records.len() > MAX_AUDIENCE_RECORDS {
        return fail(amazon_error(
            StatusCode::BAD_REQUEST,
            "FIELD_SIZE_IS_ABOVE_MAXIMUM_LIMIT",
            "1 to 10000 records per request.",
        ));
    }
    let mut inner = emu.lock();
    let Some(ai) = inner
        .audiences
        .iter()
        .position(|a| a.audience_id == audience_id)
    else {
        return fail(amazon_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "No such audience.",
        ));
    };
    let mut outcomes = Vec::new();
    let mut errors_json = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let errors = validate::audience_record(record, index);
        if errors.is_empty() {
            let id = record["externalUserId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let members = &mut inner.audiences[ai].members;
            match record["action"].as_str() {
                Some("DELETE") => members.retain(|m| *m != id),
                _ if !members.contains(&id) => members.push(id),
                _ => {}
            }
        } else {
            errors_json.push(json!({"index": index, "errors": errors}));
        }
        outcomes.push(Outcome {
            index,
            accepted: errors.is_empty(),
            errors,
        });
    }
    inner.seq += 1;
    let job_request_id = format!("emulator-job-{:08}", inner.seq);
    let failed = errors_json.len();
    let terminal = if inner.fail_jobs > 0 {
        inner.fail_jobs -= 1;
        "FAILED"
    } else if failed == 0 {
        "SUCCEEDED"
    } else if failed == records.len() {
        "FAILED"
    } else {
        "PARTIALLYSUCCEEDED"
    };
    inner.jobs.insert(
        job_request_id.clone(),
        Job {
            job_request_id: job_request_id.clone(),
            audience_id,
            status: "PENDING",
            received_record_count: records.len(),
            processed_record_count: records.len() - failed,
            failed_record_count: failed,
            errors: errors_json,
            polls: 0,
            terminal,
        },
    );
    (
        (
            StatusCode::ACCEPTED,
            Json(json!({"jobRequestId": job_request_id})),
        )
            .into_response(),
        outcomes,
    )
}

async fn job_status(
    State(emu): State<Emulator>,
    Path(job): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let response = match emu.fault("jobs").await {
        Some(r) => r,
        None => match emu.authorize(&headers) {
            Err(r) => r.into_response(),
            Ok(_) => {
                let mut inner = emu.lock();
                match inner.jobs.get_mut(&job) {
                    None => amazon_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such job."),
                    Some(j) => {
                        // The first poll sees the job pending; the next, its outcome.
                        j.polls += 1;
                        if j.polls > 1 {
                            j.status = j.terminal;
                        }
                        Json(serde_json::to_value(&*j).unwrap_or_default()).into_response()
                    }
                }
            }
        },
    };
    emu.record(
        "jobs",
        (&method, &uri, &headers),
        response.status(),
        Value::Null,
        Vec::new(),
    );
    response
}

async fn dp_records(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = match emu.fault("dp").await {
        Some(r) => r,
        None => dp_response(&emu, &headers, body.len(), &parsed),
    };
    emu.record(
        "dp",
        (&method, &uri, &headers),
        response.status(),
        parsed,
        Vec::new(),
    );
    response
}

fn dp_response(emu: &Emulator, headers: &HeaderMap, size: usize, parsed: &Value) -> Response {
    let client = match emu.authorize(headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check_client(headers, &client, &["amazon-advertising-api-clientid"]) {
        return r.into_response();
    }
    if size > MAX_DP_BODY {
        return amazon_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CONTENT_TOO_LARGE",
            "At most 5 MB per request.",
        );
    }
    if !is_json(headers) {
        return amazon_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be JSON.",
        );
    }
    let bad = |m: &str| amazon_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
    let Some(records) = parsed
        .get("records")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return bad("records is required.");
    };
    const DP_KEYS: &[&str] = &[
        "email",
        "phone",
        "firstName",
        "lastName",
        "address",
        "city",
        "state",
        "postalCode",
    ];
    for (i, r) in records.iter().enumerate() {
        let id_ok = r
            .get("externalId")
            .and_then(Value::as_str)
            .is_some_and(|s| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        let pii_ok = r
            .get("hashedRecords")
            .and_then(Value::as_array)
            .is_some_and(|h| {
                !h.is_empty()
                    && h.iter().all(|o| {
                        o.as_object().is_some_and(|o| {
                            !o.is_empty()
                                && o.iter().all(|(k, v)| {
                                    DP_KEYS.contains(&k.as_str())
                                        && v.as_str().is_some_and(validate::is_lower_hex64)
                                })
                        })
                    })
            });
        if !id_ok || !pii_ok {
            return bad(&format!(
                "records[{i}]: externalId [0-9a-zA-Z_-]{{1,128}} and hashedRecords of lowercase SHA-256 digests are required."
            ));
        }
    }
    let mut inner = emu.lock();
    inner.seq += 1;
    let seq = inner.seq;
    (StatusCode::ACCEPTED, Json(json!({"requestId": format!("emulator-request-{seq:08}"), "jobId": format!("emulator-dp-job-{seq:08}")}))).into_response()
}

async fn add_faults(State(emu): State<Emulator>, Json(body): Json<Value>) -> Response {
    let faults: Result<Vec<Fault>, _> = if body.is_array() {
        serde_json::from_value(body)
    } else {
        serde_json::from_value(body).map(|f| vec![f])
    };
    match faults {
        Ok(faults) => {
            let known = ["status", "slow", "drop", "expired_token"];
            if let Some(f) = faults.iter().find(|f| !known.contains(&f.kind.as_str())) {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": format!("unknown fault kind {}", f.kind)})),
                )
                    .into_response();
            }
            let n = faults.len();
            emu.lock().faults.extend(faults);
            Json(json!({"added": n})).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn list_faults(State(emu): State<Emulator>) -> Response {
    Json(json!({"faults": emu.lock().faults})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    refresh_token: String,
}

async fn revoke(State(emu): State<Emulator>, Json(body): Json<RevokeRequest>) -> Response {
    emu.lock().revoked.insert(body.refresh_token);
    Json(json!({"revoked": true})).into_response()
}

async fn requests(State(emu): State<Emulator>) -> Response {
    Json(json!({"requests": emu.lock().log})).into_response()
}

/// Every event Amazon would have accepted, in arrival order, with its request's
/// advertiser.
async fn accepted_events(State(emu): State<Emulator>) -> Response {
    let inner = emu.lock();
    let mut events = Vec::new();
    for r in inner
        .log
        .iter()
        .filter(|r| r.endpoint == "events" && r.status == 207)
    {
        let batch = r.body.get("events").and_then(Value::as_array);
        for o in r.outcomes.iter().filter(|o| o.accepted) {
            if let Some(event) = batch.and_then(|b| b.get(o.index)) {
                events.push(json!({"seq": r.seq, "advertiserId": r.headers.get("amazon-ads-accountid"), "event": event}));
            }
        }
    }
    Json(json!({"events": events})).into_response()
}

async fn audiences_with_members(State(emu): State<Emulator>) -> Response {
    Json(json!({"audiences": emu.lock().audiences})).into_response()
}

#[derive(Deserialize)]
struct Count {
    count: u32,
}

async fn fail_jobs(State(emu): State<Emulator>, Json(body): Json<Count>) -> Response {
    emu.lock().fail_jobs += body.count;
    Json(json!({"failNextJobs": body.count})).into_response()
}

#[derive(Deserialize)]
struct Clock {
    now: Option<String>,
}

async fn set_clock(State(emu): State<Emulator>, Json(body): Json<Clock>) -> Response {
    let now = match body
        .now
        .as_deref()
        .map(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "now must be RFC 3339"})),
            )
                .into_response();
        }
    };
    emu.lock().now = now;
    Json(json!({"fixed": now.is_some()})).into_response()
}

async fn reset(State(emu): State<Emulator>) -> Response {
    let mut inner = emu.lock();
    let now = inner.now;
    *inner = Inner {
        now,
        ..Inner::default()
    };
    Json(json!({"reset": true})).into_response()
}

async fn not_found(uri: Uri) -> Response {
    let _ = uri;
    amazon_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource.")
}
