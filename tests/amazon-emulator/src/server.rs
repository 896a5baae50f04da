//! The HTTP server: accept loop, faults, recording and logging around the handlers.
//!
//! A plain hyper HTTP/1.1 server with our own accept loop, because the `drop` fault must
//! close a connection without answering: each connection task races hyper against a
//! [`Notify`] that a handler fires to abandon the connection.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::api::{self, Call, Route};
use crate::config::{Config, ConfigError, Region};
use crate::contract;
use crate::control;
use crate::fault::Action;
use crate::reply::Reply;
use crate::state::{Exchange, World};

/// Bodies above this size are refused before any handler runs (the handlers' own limits
/// are lower: 1 MiB for the Events API by default, 5 MiB for audience uploads).
const HARD_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Request headers copied into the request log (lowercase).
const RECORDED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "user-agent",
    "amazon-ads-accountid",
    "amazon-ads-clientid",
    "amazon-advertising-api-advertiserid",
    "amazon-advertising-api-clientid",
    "amazon-advertising-api-marketplaceid",
    "amazon-advertising-api-scope",
];

/// Form fields whose values never reach the request log.
const SECRET_FORM_FIELDS: &[&str] = &["client_secret", "refresh_token", "code"];

/// A running emulator's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    quiet: bool,
}

/// An emulator ready to serve: a checked configuration plus logging preference.
#[derive(Debug, Clone)]
pub struct Emulator {
    config: Config,
    quiet: bool,
}

impl Shared {
    /// Locks the world. A panic in a handler must not wedge the emulator, so a poisoned
    /// lock is taken over as is.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Emulator {
    /// An emulator for `config`.
    ///
    /// # Errors
    ///
    /// When the configuration is inconsistent (see [`Config::check`]).
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.check()?;
        Ok(Self {
            config,
            quiet: false,
        })
    }

    /// Stops the one-line-per-request log on stderr.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Serves HTTP/1.1 on `listener` until the task is dropped.
    ///
    /// # Errors
    ///
    /// Only when accepting fails in a way that retrying cannot fix.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(self.config)),
            quiet: self.quiet,
        });
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of descriptors and similar: wait a moment instead of spinning.
                Err(error) if is_transient(&error) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let kill = Arc::new(Notify::new());
                let service = {
                    let kill = Arc::clone(&kill);
                    service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        let kill = Arc::clone(&kill);
                        async move { Ok::<_, Infallible>(dispatch(shared, request, kill).await) }
                    })
                };
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    // Connection errors (a client hanging up mid-request) are the client's
                    // business; there is nothing useful to log.
                    _ = connection => {}
                    () = kill.notified() => {}
                }
            });
        }
    }
}

/// An emulator serving on 127.0.0.1 in the background; stops when dropped.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, the base URL for every region and for LwA.
    pub base_url: String,
    task: JoinHandle<io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves in a background task of the current
    /// Tokio runtime: the one-liner for tests in other crates.
    ///
    /// # Errors
    ///
    /// When no local port can be bound.
    pub async fn spawn(self) -> io::Result<Running> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(self.serve(listener));
        Ok(Running {
            addr,
            base_url: format!("http://{addr}"),
            task,
        })
    }
}

/// Serves `config` on `listener`, logging one line per request to stderr.
///
/// # Errors
///
/// When the configuration is inconsistent, or accepting connections fails for good.
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<()> {
    let emulator = Emulator::new(config)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    emulator.serve(listener).await
}

fn is_transient(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::PermissionDenied
    )
}

/// Handles one request: control endpoints directly, Ads/LwA endpoints through faults,
/// handler and request log.
async fn dispatch(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    kill: Arc<Notify>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, HARD_BODY_LIMIT)
        .collect()
        .await
        .map(|collected| collected.to_bytes());
    let path = parts.uri.path().to_owned();
    if let Some(rest) = path.strip_prefix("/__emulator") {
        let Ok(body) = body else {
            // An S3 object above the limit must not be stored empty.
            return control::too_large(HARD_BODY_LIMIT).into_response();
        };
        return control::handle(&shared, &parts.method, rest, parts.uri.query(), &body)
            .into_response();
    }
    let (region, api_path) = split_region(&path);
    let route = Route::parse(&parts.method, api_path);
    let endpoint = route.endpoint();
    let Ok(body) = body else {
        let reply = Reply::too_large(HARD_BODY_LIMIT);
        record(
            &shared,
            &parts,
            endpoint,
            region,
            Some(&reply),
            None,
            &Bytes::new(),
        );
        return reply.into_response();
    };
    let mut expire_token = false;
    let mut drop_answer = false;
    let mut fault_kind = None;
    if route != Route::Unknown {
        let taken = shared.world().take_fault(endpoint);
        if let Some((kind, action)) = taken {
            fault_kind = Some(kind);
            match action {
                Action::Slow(delay) => tokio::time::sleep(delay.unsigned_abs()).await,
                Action::Drop => {
                    record(&shared, &parts, endpoint, region, None, fault_kind, &body);
                    kill.notify_one();
                    return std::future::pending().await;
                }
                Action::Status { .. } | Action::Html429 => {
                    let reply = match action {
                        Action::Status {
                            status,
                            retry_after,
                        } => Reply::fault(status, retry_after, route.is_lwa()),
                        _ => Reply::gateway_throttle(),
                    };
                    record(
                        &shared,
                        &parts,
                        endpoint,
                        region,
                        Some(&reply),
                        fault_kind,
                        &body,
                    );
                    return reply.into_response();
                }
                Action::ExpiredToken => expire_token = true,
                Action::DropAnswer => drop_answer = true,
            }
        }
    }
    let call = Call {
        route,
        region,
        headers: &parts.headers,
        query: parts.uri.query(),
        body: &body,
        expire_token,
    };
    // Amazon's own API descriptions first, for the operations they document (contract.rs).
    let reply = match contract::check_request(
        &parts.method,
        api_path,
        parts.uri.query(),
        &parts.headers,
        &body,
    ) {
        Some(refusal) => refusal,
        None => api::handle(&mut shared.world(), &call),
    };
    // JSON answers in the media type Amazon's file documents for them.
    let reply = match contract::answer_media_type(
        &parts.method,
        api_path,
        parts.uri.query(),
        reply.status.as_u16(),
    ) {
        Some(media_type) if reply.content_type() == Some("application/json") => {
            reply.with_media_type(media_type)
        }
        _ => reply,
    };
    #[cfg(debug_assertions)]
    let reply = answer_checked(&parts, api_path, reply);
    record(
        &shared,
        &parts,
        endpoint,
        region,
        Some(&reply),
        fault_kind,
        &body,
    );
    if drop_answer {
        kill.notify_one();
        return std::future::pending().await;
    }
    reply.into_response()
}

/// (Debug builds: the tests) the reply, or a 500 naming how it departs from the answer schema
/// of Amazon's file, so that every test that reaches an operation whose answers are checked
/// also checks the emulator's answer.
#[cfg(debug_assertions)]
fn answer_checked(parts: &Parts, api_path: &str, reply: Reply) -> Reply {
    let body = reply.body_bytes();
    match contract::answer_departures(
        &parts.method,
        api_path,
        parts.uri.query(),
        reply.status.as_u16(),
        reply.content_type(),
        &body,
    ) {
        None => reply,
        Some(departure) => {
            eprintln!("amazon-emulator: answer departs from Amazon's file: {departure}");
            Reply::ads_error(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                "EMULATOR_ANSWER_DEPARTS_FROM_SPEC",
                departure,
            )
        }
    }
}

/// `/eu/adsApi/…` → (`EU`, `/adsApi/…`); paths without a region prefix are served as is.
fn split_region(path: &str) -> (Option<Region>, &str) {
    for (prefix, region) in [
        ("/na", Region::Na),
        ("/eu", Region::Eu),
        ("/fe", Region::Fe),
    ] {
        if let Some(rest) = path.strip_prefix(prefix)
            && rest.starts_with('/')
        {
            return (Some(region), rest);
        }
    }
    (None, path)
}

/// Appends the exchange to the request log and writes the log line.
fn record(
    shared: &Shared,
    parts: &Parts,
    endpoint: &'static str,
    region: Option<Region>,
    reply: Option<&Reply>,
    fault: Option<crate::fault::FaultKind>,
    body: &Bytes,
) {
    let status = reply.map(|reply| reply.status.as_u16());
    let outcomes = reply.and_then(|reply| reply.outcomes.clone());
    if !shared.quiet {
        // Only method, path, status and counts: never a header value or a body field.
        let mut line = format!(
            "amazon-emulator: {} {} -> {} ({endpoint}",
            parts.method,
            parts.uri.path(),
            status.map_or_else(|| "dropped".to_owned(), |s| s.to_string()),
        );
        if let Some(outcomes) = &outcomes {
            let accepted = outcomes.iter().filter(|o| o.accepted).count();
            line += &format!(
                ", {accepted} accepted, {} rejected",
                outcomes.len() - accepted
            );
        }
        if let Some(fault) = fault {
            line += &format!(
                ", fault {}",
                crate::reply::to_json(&fault).as_str().unwrap_or("?")
            );
        }
        eprintln!("{line})");
    }
    let mut world = shared.world();
    let exchange = Exchange {
        seq: 0,
        at: world.now_text(),
        endpoint,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        region: region.map(Region::code),
        status,
        fault,
        headers: recorded_headers(&parts.headers),
        body: recorded_body(&parts.headers, body),
        outcomes,
    };
    world.record(exchange);
}

/// The headers worth asserting on, with the access token replaced.
fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut recorded = BTreeMap::new();
    for name in RECORDED_HEADERS {
        let Some(value) = headers.get(*name) else {
            continue;
        };
        let value = if *name == "authorization" {
            let text = value.to_str().unwrap_or("");
            match text.split_once(' ') {
                Some((scheme, _)) => format!("{scheme} [redacted]"),
                None => "[redacted]".to_owned(),
            }
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        recorded.insert((*name).to_owned(), value);
    }
    recorded
}

/// The body as JSON: parsed JSON, or a form with its secrets redacted.
fn recorded_body(headers: &HeaderMap, body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let mut form = Map::new();
        for (key, value) in form_urlencoded::parse(body) {
            let value = if SECRET_FORM_FIELDS.contains(&key.as_ref()) {
                "[redacted]".into()
            } else {
                value
            };
            form.insert(key.into_owned(), Value::String(value.into_owned()));
        }
        return Value::Object(form);
    }
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_prefixes_are_split_off() {
        assert_eq!(
            split_region("/eu/adsApi/v1/create/events"),
            (Some(Region::Eu), "/adsApi/v1/create/events")
        );
        assert_eq!(
            split_region("/adsApi/v1/create/events"),
            (None, "/adsApi/v1/create/events")
        );
        assert_eq!(split_region("/natural"), (None, "/natural"));
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer Atza|secret".parse().unwrap());
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            recorded_headers(&headers)["authorization"],
            "Bearer [redacted]"
        );
        let body = Bytes::from_static(
            b"grant_type=refresh_token&refresh_token=Atzr%7Cx&client_id=c&client_secret=s",
        );
        let recorded = recorded_body(&headers, &body);
        assert_eq!(recorded["grant_type"], "refresh_token");
        assert_eq!(recorded["client_id"], "c");
        assert_eq!(recorded["refresh_token"], "[redacted]");
        assert_eq!(recorded["client_secret"], "[redacted]");
    }
}
