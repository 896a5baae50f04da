//! Connecting Amazon accounts and installing integrations: the admin API. Every handler
//! here runs after the admin key was checked, except the OAuth callback, which is
//! protected by its single-use `state`. Refresh tokens are sealed before they are
//! stored and never returned; an integration's ingest secret is shown once and kept
//! only as its SHA-256.

use matchkey::amazon::{self, connect};
use matchkey::sha256_hex;
use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use super::amazon::{access_token, auth, client_id, dsp_advertisers, send, token_url};
use super::auth::DEMO_SECRETS;
use super::health::days_until_expiry;
use super::store::{self, hex};
use super::{Answer, RelayError, iso_now, now_ms, random_bytes, secret, var};
use crate::access::{self, Person};
use crate::check::{ConnectionFact, Facts, IntegrationFact, REQUIRED_SECRETS, Secret, checklist};
use crate::config::{ApiKind, AudienceApi, Config};
use crate::integration::{self, Fresh, Integration};
use crate::route::IntegrationAction;
use crate::target::Target;

/// How long a connection being made may wait for its callback.
const STATE_TTL_MS: u64 = 10 * 60_000;

fn bad(code: &'static str) -> RelayError {
    RelayError::Status(400, code)
}

/// A request body as a JSON object (bounded).
async fn json_body(req: &mut Request) -> std::result::Result<Value, RelayError> {
    let v = super::api::json_body(req).await?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(bad("bad_shape"))
    }
}

fn region_of(v: &Value) -> std::result::Result<connect::Region, RelayError> {
    match v.get("region") {
        None | Some(Value::Null) => Ok(connect::Region::Na),
        Some(Value::String(s)) => connect::Region::parse(s).ok_or(bad("invalid_region")),
        Some(_) => Err(bad("invalid_region")),
    }
}

fn label_of(v: &Value) -> std::result::Result<Option<String>, RelayError> {
    match v.get("label") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 100 => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(bad("invalid_label")),
    }
}

/// The security profile's client id and secret.
fn lwa_client(env: &Env) -> std::result::Result<(String, String), RelayError> {
    match (
        secret(env, "LWA_CLIENT_ID"),
        secret(env, "LWA_CLIENT_SECRET"),
    ) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(RelayError::Config(
            "LWA_CLIENT_ID and LWA_CLIENT_SECRET are not set".into(),
        )),
    }
}

fn keys(env: &Env) -> std::result::Result<crate::seal::Keys, RelayError> {
    store::keys(env).map_err(RelayError::Config)
}

/// `POST /v1/connect/start` `{region, label?, audiences?}`: a Login with Amazon
/// authorization URL (state and PKCE kept single-use for 10 minutes).
pub(super) async fn connect_start(req: &mut Request, env: &Env, vars: &Config) -> Answer {
    let v = json_body(req).await?;
    let region = region_of(&v)?;
    let label = label_of(&v)?;
    let audiences = v.get("audiences").and_then(Value::as_bool).unwrap_or(false);
    let client_id = secret(env, "LWA_CLIENT_ID")
        .ok_or_else(|| RelayError::Config("LWA_CLIENT_ID is not set".into()))?;
    let keys = keys(env)?;
    let redirect_uri = match &vars.connect_redirect_uri {
        Some(uri) => uri.clone(),
        None => {
            let url = req.url()?;
            format!("{}/v1/connect/callback", url.origin().ascii_serialization())
        }
    };
    let mut r = [0u8; 32];
    r.copy_from_slice(&random_bytes(32));
    let state = connect::base64url(&random_bytes(32));
    let verifier = connect::pkce_verifier(&r);
    if state.len() < 43 || verifier.len() < 43 {
        return Err(RelayError::Config("no randomness available".into()));
    }
    let db = store::db(env).await?;
    let now = now_ms();
    db.batch(vec![
        db.prepare("DELETE FROM connect_states WHERE created_ms < ?1")
            .bind(&[(now.saturating_sub(STATE_TTL_MS) as f64).into()])?,
        db.prepare(
            "INSERT INTO connect_states (state, verifier, region, redirect_uri, label, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            state.as_str().into(),
            keys.seal(store::nonce(), &state, &verifier).as_str().into(),
            region.code().into(),
            redirect_uri.as_str().into(),
            store::opt(label.as_deref()),
            (now as f64).into(),
        ])?,
    ])
    .await?;
    let mut scopes = vec![connect::SCOPE_CAMPAIGN_MANAGEMENT];
    if audiences {
        scopes.push(connect::SCOPE_AUDIENCES);
    }
    let url = connect::authorization_url(&connect::Authorization {
        auth_url: vars
            .lwa_auth_url
            .as_deref()
            .unwrap_or(region.authorization_url()),
        client_id: &client_id,
        scopes: &scopes,
        redirect_uri: &redirect_uri,
        state: &state,
        code_verifier: &verifier,
    });
    let expires = js_sys::Date::new(&((now + STATE_TTL_MS) as f64).into()).to_iso_string();
    Ok(Response::from_json(&json!({
        "authorization_url": url,
        "redirect_uri": redirect_uri,
        "region": region.code(),
        "expires_at": String::from(expires),
        "note": "Open the URL in a browser signed in to the Amazon Ads account. The redirect URI must be an Allowed Return URL of your Login with Amazon security profile.",
    }))?
    .with_status(201))
}

/// A small page for the browser that came back from Amazon: what happened and what to
/// do (only our own codes and ids appear in it, never what the query carried).
fn page(status: u16, title: &str, lines: &[String]) -> Answer {
    let body: String = lines.iter().map(|l| format!("<p>{l}</p>")).collect();
    let html =
        format!("<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}");
    let mut r = Response::from_html(html)?.with_status(status);
    r.headers_mut().set(
        "content-security-policy",
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    )?;
    r.headers_mut().set("referrer-policy", "no-referrer")?;
    Ok(r)
}

/// `GET /v1/connect/callback?code=&state=`: takes the state (once), exchanges the code
/// with the PKCE verifier, and stores the connection.
pub(super) async fn connect_callback(req: &Request, env: &Env, vars: &Config) -> Answer {
    let url = req.url()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let Some(state) = param("state").filter(|s| (1..=128).contains(&s.len())) else {
        return page(400, "Not connected", &["The link has no state. Start again from the admin API or `matchkey connect --worker`.".into()]);
    };
    #[derive(Deserialize)]
    struct Pending {
        verifier: String,
        region: String,
        redirect_uri: String,
        label: Option<String>,
        created_ms: f64,
    }
    let db = store::db(env).await?;
    // Single use: the row is gone whatever follows.
    let pending: Option<Pending> = db
        .prepare("DELETE FROM connect_states WHERE state = ?1 RETURNING verifier, region, redirect_uri, label, created_ms")
        .bind(&[state.as_str().into()])?
        .first(None)
        .await?;
    let Some(pending) = pending else {
        return page(400, "Not connected", &["This sign-in link is unknown or was used already (code <code>invalid_state</code>). Start a new connection.".into()]);
    };
    if now_ms() as f64 - pending.created_ms > STATE_TTL_MS as f64 {
        return page(400, "Not connected", &["This sign-in link is older than 10 minutes (code <code>state_expired</code>). Start a new connection.".into()]);
    }
    if let Some(error) = param("error") {
        let code = match error.as_str() {
            "access_denied" => "access_denied",
            "invalid_scope" => "invalid_scope",
            "unauthorized_client" => "unauthorized_client",
            _ => "authorization_refused",
        };
        return page(
            400,
            "Not connected",
            &[format!(
                "Amazon did not authorize the connection (code <code>{code}</code>)."
            )],
        );
    }
    let Some(code) = param("code").filter(|c| (1..=512).contains(&c.len())) else {
        return page(
            400,
            "Not connected",
            &["Amazon sent no authorization code (code <code>missing_code</code>).".into()],
        );
    };
    let keys = keys(env)?;
    let verifier = keys
        .open(&state, &pending.verifier)
        .map_err(|e| RelayError::Config(e.code().into()))?;
    let (client_id, client_secret) = lwa_client(env)?;
    let (status, _, text) = send(connect::code_grant(
        &token_url(vars, &pending.region),
        &client_id,
        &client_secret,
        &code,
        &pending.redirect_uri,
        &verifier,
    ))
    .await;
    let grant = match connect::parse_code_grant(status, &text) {
        Ok(grant) => grant,
        Err(e) => {
            let (code, what) = match e {
                connect::GrantError::CodeRejected => (
                    "code_rejected",
                    "The authorization code was refused: it was used already or is older than 5 minutes. Start a new connection.",
                ),
                connect::GrantError::RedirectUriMismatch => (
                    "redirect_uri_mismatch",
                    "Amazon refused the redirect URI: add it, exactly, to the Allowed Return URLs of your security profile.",
                ),
                connect::GrantError::VerifierMismatch => (
                    "pkce_mismatch",
                    "Amazon refused the PKCE verifier. Start a new connection.",
                ),
                connect::GrantError::InvalidClient => (
                    "invalid_client",
                    "Amazon refused the client id or secret: check LWA_CLIENT_ID and LWA_CLIENT_SECRET.",
                ),
                connect::GrantError::Other(_) => (
                    "token_exchange_failed",
                    "Login with Amazon did not answer as expected. Try again later.",
                ),
            };
            return page(
                400,
                "Not connected",
                &[format!("{what} (code <code>{code}</code>)")],
            );
        }
    };
    let id = store::add_connection(
        env,
        &keys,
        &pending.region,
        pending.label.as_deref(),
        &grant.refresh_token,
        &iso_now(),
    )
    .await?;
    store::mark_connection(env, &id, "ok", None).await?;
    let callback = super::console::Operator::callback();
    if let Err(e) =
        super::console::audit(env, &callback, "connection.callback", Some(&id), 200).await
    {
        console_error!("audit log: D1 write failed: {e}");
    }
    // Which accounts the grant reaches, so the person sees what they connected.
    let accounts = connected_accounts(env, vars, &id, &pending.region).await;
    page(
        200,
        "Connected",
        &[
            format!("Amazon Ads account connected: <code>{id}</code> ({}).", pending.region),
            accounts,
            "Next: install an integration with this <code>connection_id</code> (POST /v1/admin/integrations, or <a href=\"/console#integration\">in the console</a>). You can close this page.".into(),
        ],
    )
}

/// Escapes text for an HTML page.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A line naming the accounts a new connection reaches (its profiles' account names and
/// ids, at most 5), or saying they could not be listed.
async fn connected_accounts(env: &Env, vars: &Config, id: &str, region: &str) -> String {
    let mut probe = vars.clone();
    probe.connection_id = Some(id.to_owned());
    if let Some(r) = crate::config::Region::parse(region) {
        probe.region = r;
    }
    let Ok(token) = access_token(env, &probe, false).await else {
        return "The accounts it reaches could not be listed now; the console's Connections view lists them.".into();
    };
    let client_id = client_id(env);
    let (status, _, text) = send(connect::list_profiles(&auth(&probe, &token, &client_id))).await;
    match connect::parse_profiles(&text).filter(|_| status == 200) {
        Some(profiles) if !profiles.is_empty() => {
            let names: Vec<String> = profiles
                .iter()
                .take(5)
                .map(|p| {
                    format!(
                        "{} (<code>{}</code>, {})",
                        escape(&p.account_name),
                        escape(&p.account_id),
                        escape(&p.country_code)
                    )
                })
                .collect();
            let more = profiles.len().saturating_sub(5);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("It reaches: {}{more}.", names.join(", "))
        }
        _ => "The grant reaches no advertising profile in this region.".into(),
    }
}

/// `POST /v1/admin/connections` `{region, refresh_token, granted_at?, label?}` (from
/// `matchkey connect --worker`): checks the token with one refresh, then stores it sealed.
pub(super) async fn add_connection(req: &mut Request, env: &Env, vars: &Config) -> Answer {
    let v = json_body(req).await?;
    let region = region_of(&v)?;
    let label = label_of(&v)?;
    let refresh = v
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| (1..=4096).contains(&t.len()) && !t.chars().any(char::is_whitespace))
        .ok_or(bad("invalid_refresh_token"))?;
    let granted_at = match v.get("granted_at") {
        None | Some(Value::Null) => iso_now(),
        Some(Value::String(s))
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_ok() =>
        {
            s.clone()
        }
        Some(_) => return Err(bad("invalid_granted_at")),
    };
    let keys = keys(env)?;
    let (client_id, client_secret) = lwa_client(env)?;
    let (status, _, text) = send(amazon::lwa_refresh(
        &token_url(vars, region.code()),
        &client_id,
        &client_secret,
        refresh,
    ))
    .await;
    match amazon::parse_token(status, &text) {
        Ok(_) => {}
        Err(amazon::TokenError::Reauthorize) => return Err(bad("invalid_grant")),
        Err(amazon::TokenError::Unavailable(_)) => {
            return Err(RelayError::Status(502, "token_check_failed"));
        }
    }
    let id = store::add_connection(
        env,
        &keys,
        region.code(),
        label.as_deref(),
        refresh,
        &granted_at,
    )
    .await?;
    store::mark_connection(env, &id, "ok", None).await?;
    let stored = store::connection(env, &id).await?;
    Ok(Response::from_json(&stored.map(|c| c.public()))?.with_status(201))
}

/// `GET /v1/admin/connections`.
pub(super) async fn list_connections(env: &Env) -> Answer {
    let list: Vec<Value> = store::connections(env)
        .await?
        .iter()
        .map(store::Connection::public)
        .collect();
    Ok(Response::from_json(&json!({ "connections": list }))?)
}

/// An integration as the admin API shows it (without the secret's digest), with the
/// snippet a site pastes.
fn shown(i: &Integration, env: &Env, origin: &str) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("ingest_secret_sha256");
        o.insert(
            "has_ingest_secret".into(),
            json!(i.ingest_secret_sha256.is_some()),
        );
        o.insert(
            "snippet".into(),
            json!(snippet(env, &i.init_options(origin))),
        );
    }
    v
}

/// The two tags a site pastes in `<head>`: the stub, then `init` with this Worker, the
/// site key and the cookie-sync settings ([`Integration::init_options`]). `TAG_URL` says
/// where the site serves the bundled tag from.
fn snippet(env: &Env, options: &Value) -> String {
    let tag_url = var(env, "TAG_URL").unwrap_or_else(|| "/pkg/tag.js".into());
    let stub: String = include_str!("../../../www/snippet.js")
        .lines()
        .filter(|l| !l.starts_with("/*"))
        .collect();
    // The stub ends with the tag's URL as its last argument: `…(window,document,"URL");`.
    let stub = match stub.rfind(",\"") {
        Some(at) => format!("{},{});", &stub[..at], json!(tag_url)),
        None => stub,
    };
    format!("<script>{stub}</script>\n<script>matchkey('init', {options});</script>")
}

fn origin(req: &Request) -> Result<String> {
    Ok(req.url()?.origin().ascii_serialization())
}

/// Everything `check` needs to know of what exists.
async fn fresh_context(env: &Env) -> Result<(Vec<String>, std::rc::Rc<Vec<Integration>>)> {
    store::invalidate();
    let connections = store::connections(env)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    Ok((connections, store::integrations(env).await?))
}

fn invalid(errors: Vec<integration::FieldError>) -> Answer {
    Ok(
        Response::from_json(&json!({ "error": "invalid_integration", "fields": errors }))?
            .with_status(400),
    )
}

/// A site key no other site uses.
fn key_taken(key: &str, vars: &Config, all: &[Integration], except: &str) -> bool {
    vars.site_keys.iter().any(|k| k == key)
        || all.iter().any(|i| i.site_key == key && i.id != except)
}

/// A new ingest secret: shown once, stored as its digest.
fn new_secret() -> String {
    format!("mk_is_{}", hex(&random_bytes(24)))
}

/// `POST /v1/admin/integrations`: installs one (Datafly's shape); answers it with its
/// site key, snippet and ingest secret (shown this once).
pub(super) async fn install(req: &mut Request, env: &Env, vars: &Config) -> Answer {
    let v = json_body(req).await?;
    let id = format!("int_{}", hex(&random_bytes(8)));
    let site_key = format!("sk_{}", hex(&random_bytes(12)));
    let mut i = match checked(env, vars, &v, &id, &site_key, None).await? {
        Ok(i) => i,
        Err(refused) => return refused,
    };
    let secret = new_secret();
    i.ingest_secret_sha256 = Some(sha256_hex(&secret).as_str().to_owned());
    store::save(env, &i).await?;
    let mut answer = shown(&i, env, &origin(req)?);
    answer["ingest_secret"] = json!(secret);
    Ok(Response::from_json(&answer)?.with_status(201))
}

/// A body checked into an integration with the given id (and site key unless the body
/// names one): field by field, then its site key unique, then as a configuration. The
/// inner error is the refusal to answer.
async fn checked(
    env: &Env,
    vars: &Config,
    v: &Value,
    id: &str,
    site_key: &str,
    previous: Option<&Integration>,
) -> std::result::Result<std::result::Result<Integration, Answer>, RelayError> {
    let (connections, all) = fresh_context(env).await?;
    if previous.is_none() && all.len() >= 500 {
        return Err(RelayError::Status(409, "too_many_integrations"));
    }
    let now = iso_now();
    let fresh = Fresh {
        id,
        site_key,
        now: &now,
        previous,
        local_dev: vars.local_dev,
        connections: &connections,
    };
    let refuse = |field: &str, reason: &'static str| {
        Ok(Err(invalid(vec![integration::FieldError {
            field: field.into(),
            reason,
        }])))
    };
    let i = match integration::check(v, &fresh) {
        Ok(i) => i,
        Err(errors) => return Ok(Err(invalid(errors))),
    };
    if key_taken(&i.site_key, vars, &all, &i.id) {
        return refuse("site_key", "taken");
    }
    if let Err(what) = i.to_config(|n| var(env, n)) {
        console_log!("integration refused by the configuration: {what}");
        return refuse("config", "invalid");
    }
    Ok(Ok(i))
}

/// `GET /v1/admin/integrations`: the stored ones, and the `[vars]` one if it names an
/// advertiser.
pub(super) async fn list_integrations(
    req: &Request,
    env: &Env,
    vars: &Config,
    person: Option<&Person>,
) -> Answer {
    store::invalidate();
    let origin = origin(req)?;
    let sees = |id: &str| person.is_none_or(|p| p.sees(id));
    let list: Vec<Value> = store::integrations(env)
        .await?
        .iter()
        .filter(|i| sees(&i.id))
        .map(|i| shown(i, env, &origin))
        .collect();
    let default = (vars.has_advertiser() && sees(integration::DEFAULT_ID)).then(|| {
        json!({
            "id": integration::DEFAULT_ID,
            "from": "vars",
            "advertiser_id": vars.advertiser_id,
            "region": vars.region.as_str(),
            "site_keys": vars.site_keys,
        })
    });
    Ok(Response::from_json(
        &json!({ "integrations": list, "default": default }),
    )?)
}

async fn stored(env: &Env, id: &str) -> std::result::Result<Integration, RelayError> {
    store::invalidate();
    store::integration(env, id)
        .await?
        .ok_or(RelayError::Status(404, "unknown_integration"))
}

/// `GET /v1/admin/integrations/{id}`.
pub(super) async fn read(req: &Request, env: &Env, id: &str) -> Answer {
    let i = stored(env, id).await?;
    Ok(Response::from_json(&shown(&i, env, &origin(req)?))?)
}

/// `PUT /v1/admin/integrations/{id}`: replaces it (its id, site key unless given, and
/// ingest secret are kept). An edit that changes where its events go (advertiser,
/// region, connection, profiles: [`Target`]) is an admin's, and is refused with 409
/// `pending_work` while anything it accepted still waits: what it took belongs to the
/// account it was accepted for.
pub(super) async fn replace(
    req: &mut Request,
    env: &Env,
    vars: &Config,
    id: &str,
    person: Option<&Person>,
) -> Answer {
    let previous = stored(env, id).await?;
    let v = json_body(req).await?;
    let i = match checked(env, vars, &v, id, &previous.site_key, Some(&previous)).await? {
        Ok(i) => i,
        Err(refused) => return refused,
    };
    let before = previous
        .to_config(|n| var(env, n))
        .map_err(RelayError::Config)?;
    let after = i.to_config(|n| var(env, n)).map_err(RelayError::Config)?;
    if Target::of(&before) != Target::of(&after) {
        if !person.is_none_or(access::may_edit_target) {
            return Err(RelayError::Status(403, "target_needs_admin"));
        }
        let pending = pending_work(env, &before).await?;
        if pending.values().any(|n| *n > 0) {
            return Ok(Response::from_json(&json!({
                "error": "pending_work",
                "pending": pending,
                "note": "What this integration accepted is still waiting for its advertiser. Disable it, flush, and edit once nothing is pending (GET /v1/health shows the backlog).",
            }))?
            .with_status(409));
        }
    }
    store::save(env, &i).await?;
    Ok(Response::from_json(&shown(&i, env, &origin(req)?))?)
}

/// What an integration's objects still hold: events (every shard), audience changes
/// (each audience it names) and erasures.
async fn pending_work(
    env: &Env,
    config: &Config,
) -> std::result::Result<std::collections::BTreeMap<&'static str, u64>, RelayError> {
    let pending = |v: &Value| v["pending"].as_u64().unwrap_or(0);
    let events: Value = super::batcher(env, config, "/stats", None)
        .await?
        .json()
        .await?;
    let mut audiences = 0;
    for name in config.audiences.iter().take(50) {
        let stats: Value = super::audience_sync(env, config, name, "/stats", None)
            .await?
            .json()
            .await
            .unwrap_or(Value::Null);
        audiences += pending(&stats);
    }
    let erasures: Value = super::erasure::stats(env, config)
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    Ok([
        ("events", pending(&events)),
        ("audienceChanges", audiences),
        ("erasures", pending(&erasures)),
    ]
    .into_iter()
    .collect())
}

/// `POST /v1/admin/integrations/{id}/{disable|enable|ingest-secret}`.
pub(super) async fn act(req: &Request, env: &Env, id: &str, action: IntegrationAction) -> Answer {
    let mut i = stored(env, id).await?;
    i.updated_at = iso_now();
    let mut secret = None;
    match action {
        IntegrationAction::Disable => i.disabled = true,
        IntegrationAction::Enable => i.disabled = false,
        IntegrationAction::IngestSecret => {
            let s = new_secret();
            i.ingest_secret_sha256 = Some(sha256_hex(&s).as_str().to_owned());
            secret = Some(s);
        }
    }
    store::save(env, &i).await?;
    let mut answer = shown(&i, env, &origin(req)?);
    if let Some(s) = secret {
        answer["ingest_secret"] = json!(s);
    }
    Ok(Response::from_json(&answer)?)
}

/// Whether the advertiser of `config` answers through its grant: its profile (or the
/// advertiser among the DSP advertisers of the agency profiles) is listed in its region.
async fn advertiser_answers(env: &Env, config: &Config) -> std::result::Result<(), String> {
    let token = access_token(env, config, false)
        .await
        .map_err(|e| match e {
            amazon::TokenError::Reauthorize => "invalid_grant".to_owned(),
            amazon::TokenError::Unavailable(code) => code,
        })?;
    let client_id = client_id(env);
    let auth = auth(config, &token, &client_id);
    let (status, _, text) = send(connect::list_profiles(&auth)).await;
    let profiles = connect::parse_profiles(&text)
        .filter(|_| status == 200)
        .ok_or_else(|| format!("profiles_HTTP_{status}"))?;
    let wanted_profile = match &config.api_kind {
        ApiKind::Dsp { profile_id, .. } => Some(profile_id.clone()),
        ApiKind::Events => match &config.audience_api {
            AudienceApi::Dp { profile_id } => Some(profile_id.clone()),
            AudienceApi::Amc => None,
        },
    };
    if let Some(p) = wanted_profile
        && !profiles.iter().any(|x| x.profile_id.to_string() == p)
    {
        return Err("profile_not_reachable".into());
    }
    if profiles
        .iter()
        .any(|p| p.account_id == config.advertiser_id)
    {
        return Ok(());
    }
    for p in profiles.iter().filter(|p| p.is_agency()).take(5) {
        if dsp_advertisers(&auth, p.profile_id)
            .await
            .is_some_and(|list| list.iter().any(|a| a.advertiser_id == config.advertiser_id))
        {
            return Ok(());
        }
    }
    Err("advertiser_not_reachable".into())
}

/// `GET /v1/admin/check`: the checklist of what a production deployment needs.
pub(super) async fn check(req: &Request, env: &Env, vars: &Config) -> Answer {
    let after = req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned());
    let mut f = Facts {
        local_dev: vars.local_dev,
        alert_webhook: vars.alert_webhook_url.is_some(),
        ..Facts::default()
    };
    for name in REQUIRED_SECRETS
        .iter()
        .chain(&["INGEST_SECRET", "LWA_REFRESH_TOKEN"])
    {
        let value = secret(env, name);
        let demo = DEMO_SECRETS
            .iter()
            .any(|(n, d)| n == name && value.as_deref() == Some(*d));
        let state = match value {
            None => Secret::Missing,
            Some(_) if demo => Secret::Demo,
            Some(_) if *name == "TOKEN_KEYS" && store::keys(env).is_err() => Secret::Missing,
            Some(_) => Secret::Set,
        };
        f.secrets.push((name, state));
    }
    f.urls
        .push(("AMAZON_API_BASE", vars.api_base.starts_with("https://")));
    f.urls
        .push(("LWA_TOKEN_URL", vars.lwa_token_url.starts_with("https://")));
    for (name, url) in [
        ("LWA_AUTH_URL", &vars.lwa_auth_url),
        ("CONNECT_REDIRECT_URI", &vars.connect_redirect_uri),
        ("ALERT_WEBHOOK_URL", &vars.alert_webhook_url),
    ] {
        if let Some(url) = url {
            f.urls.push((name, url.starts_with("https://")));
        }
    }
    f.bindings = vec![
        ("TOKENS", env.kv("TOKENS").is_ok()),
        ("DB", env.d1("DB").is_ok()),
        ("BATCHER", env.durable_object("BATCHER").is_ok()),
        ("AUDIENCES", env.durable_object("AUDIENCES").is_ok()),
        ("GUARD", env.durable_object("GUARD").is_ok()),
        ("LIMITER", env.durable_object("LIMITER").is_ok()),
        ("ERASURES", env.durable_object("ERASURES").is_ok()),
        ("RATE_LIMITER", env.rate_limiter("RATE_LIMITER").is_ok()),
    ];
    f.migrations = match store::db(env).await {
        Ok(db) => store::applied(&db).await.ok(),
        Err(_) => None,
    };
    if f.migrations.is_some() {
        // One token refresh each; bounded like the integrations below.
        for c in store::connections(env)
            .await?
            .into_iter()
            .take(integration::PAGE * 2)
        {
            let mut probe = vars.clone();
            probe.connection_id = Some(c.id.clone());
            let refresh = access_token(env, &probe, true)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    amazon::TokenError::Reauthorize => "invalid_grant".to_owned(),
                    amazon::TokenError::Unavailable(code) => code,
                });
            f.connections.push(ConnectionFact {
                id: c.id.clone(),
                refresh,
                days_left: days_until_expiry(&c.granted_at),
            });
        }
    }
    let mut configs = Vec::new();
    if vars.has_advertiser() {
        configs.push(vars.clone());
    }
    if f.migrations.is_some() {
        store::invalidate();
        for i in store::integrations(env).await?.iter() {
            if let Ok(c) = i.to_config(|n| var(env, n)) {
                configs.push(c);
            }
        }
    }
    // Each integration costs several calls to Amazon: a page of them per request.
    let ids: Vec<String> = configs.iter().map(|c| c.integration_id.clone()).collect();
    let (this_page, next) = integration::page(&ids, after.as_deref());
    configs.retain(|c| this_page.contains(&c.integration_id));
    for config in &configs {
        f.integrations.push(IntegrationFact {
            id: config.integration_id.clone(),
            disabled: config.disabled,
            advertiser: if config.disabled {
                Ok(())
            } else {
                advertiser_answers(env, config).await
            },
        });
    }
    let stranded = super::stranded_default(env, vars).await;
    let mut list =
        serde_json::to_value(checklist(&f)).map_err(|e| RelayError::Config(e.to_string()))?;
    list["nextAfter"] = json!(next);
    if let Some((advertiser, region)) = stranded {
        // The default integration took events and ADVERTISER_ID is now empty: its queue
        // (named by the advertiser) may still hold them, and nothing can send them.
        if let Some(items) = list["items"].as_array_mut() {
            items.push(json!({
                "id": "integration.default",
                "status": "fail",
                "detail": format!("the default integration accepted events for advertiser {advertiser} ({region}) and ADVERTISER_ID is now empty: whatever it still holds waits"),
                "fix": format!("set ADVERTISER_ID={advertiser} and REGION={region} again until GET /v1/health shows queueBacklog 0, then empty them"),
            }));
        }
        list["ok"] = json!(false);
    }
    Ok(Response::from_json(&list)?)
}
