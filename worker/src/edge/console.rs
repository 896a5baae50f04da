//! The console: its files, sign-in with a key for a session cookie, the people who may
//! sign in, sessions, the audit log, and the reads its views need that the admin API
//! lacked (an account's advertisers, live events, audience counts, the dry run). The
//! rules are `crate::console`; keys and session tokens are stored only as their
//! SHA-256, and the audit log names actions and ids, never a value.

use matchkey::amazon::connect;
use matchkey::sha256_hex;
use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use super::amazon::{access_token, auth as api_auth, client_id, dsp_advertisers, send};
use super::store::{self, hex};
use super::{Answer, RelayError, api, audience_sync, batcher, iso_now, now_ms, random_bytes, var};
use crate::access::{Person, Role};
use crate::config::Config;
use crate::console::{self as rules, Asset};
use crate::ingest::Caller;
use crate::route::ConsoleRoute;

/// Who made a request: the admin key, or a person signed in to the console.
#[derive(Debug, Clone)]
pub(super) struct Operator {
    pub(super) id: String,
    pub(super) name: String,
    /// The session's id and CSRF token, when signed in with a cookie.
    pub(super) session: Option<(String, String)>,
    /// Their role and integrations (the admin key: an admin of everything).
    pub(super) person: Person,
}

/// The id the admin key acts under.
const ADMIN_ID: &str = "admin";

fn admin_key_operator() -> Operator {
    Operator {
        id: ADMIN_ID.into(),
        name: "admin key".into(),
        session: None,
        person: Person::admin(),
    }
}

impl Operator {
    /// The consent callback, for the audit log: it makes connections with no operator
    /// (protected by its single-use state instead).
    pub(super) fn callback() -> Operator {
        Operator {
            id: "callback".into(),
            name: "consent callback".into(),
            session: None,
            person: Person::new(Role::Viewer, Vec::new()),
        }
    }
}

/// The fingerprint of the `ADMIN_KEY` set now (`None` when unset).
fn admin_fp(env: &Env) -> Option<String> {
    super::secret(env, "ADMIN_KEY").map(|k| rules::admin_fingerprint(&k))
}

/// A person's role and integrations as D1 keeps them.
fn person_of(role: &str, integrations: &str) -> Person {
    // An unknown role (a row edited by hand) is the least.
    let role = Role::parse(role).unwrap_or(Role::Viewer);
    let ids: Vec<String> = serde_json::from_str(integrations).unwrap_or_default();
    Person::new(role, ids)
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn own_origin(req: &Request) -> Result<String> {
    Ok(req.url()?.origin().ascii_serialization())
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    user_id: String,
    user_name: String,
    csrf: String,
    created_ms: f64,
    last_ms: f64,
    revoked_at: Option<String>,
    user_revoked: Option<String>,
    role: Option<String>,
    integrations: Option<String>,
    admin_fp: Option<String>,
}

/// The operator of an admin request: the bearer admin key (as before the console), or
/// a live session cookie; a change made with a session needs this origin and the
/// session's CSRF token.
pub(super) async fn operator(
    req: &Request,
    env: &Env,
    method: &str,
) -> std::result::Result<Operator, RelayError> {
    let token = header(req, "cookie")
        .as_deref()
        .and_then(rules::session_token)
        .map(str::to_owned);
    let token = match token {
        Some(t) if header(req, "authorization").is_none() => t,
        _ => {
            super::auth::admin(req, env).await?;
            return Ok(admin_key_operator());
        }
    };
    let db = store::db(env).await?;
    let row: Option<SessionRow> = db
        .prepare(
            "SELECT s.id, s.user_id, s.user_name, s.csrf, s.created_ms, s.last_ms, s.revoked_at, \
             s.admin_fp, u.revoked_at AS user_revoked, u.role, u.integrations FROM console_sessions s \
             LEFT JOIN console_users u ON u.id = s.user_id WHERE s.token_sha256 = ?1",
        )
        .bind(&[sha256_hex(&token).as_str().into()])?
        .first(None)
        .await?;
    let now = now_ms();
    let current_fp = admin_fp(env);
    let Some(row) = row.filter(|r| {
        // A session of the admin key lives only as long as that key.
        let key_gone = r.user_id == ADMIN_ID
            && !rules::admin_session_alive(r.admin_fp.as_deref(), current_fp.as_deref());
        rules::alive(
            r.created_ms as u64,
            r.last_ms as u64,
            r.revoked_at.is_some() || r.user_revoked.is_some() || key_gone,
            now,
        )
    }) else {
        return Err(RelayError::Status(401, "session_expired"));
    };
    if rules::is_change(method) {
        rules::csrf(
            header(req, "origin").as_deref(),
            &own_origin(req)?,
            header(req, "x-csrf-token").as_deref(),
            &row.csrf,
        )
        .map_err(|code| RelayError::Status(403, code))?;
    }
    if rules::needs_touch(row.last_ms as u64, now) {
        db.prepare("UPDATE console_sessions SET last_ms = ?2 WHERE id = ?1")
            .bind(&[row.id.as_str().into(), (now as f64).into()])?
            .run()
            .await?;
    }
    let person = if row.user_id == ADMIN_ID {
        Person::admin()
    } else {
        person_of(
            row.role.as_deref().unwrap_or_default(),
            row.integrations.as_deref().unwrap_or("[]"),
        )
    };
    Ok(Operator {
        id: row.user_id,
        name: row.user_name,
        session: Some((row.id, row.csrf)),
        person,
    })
}

/// Writes one audit row: who, what, which id, the answer's status; never a value.
pub(super) async fn audit(
    env: &Env,
    who: &Operator,
    action: &str,
    target: Option<&str>,
    status: u16,
) -> Result<()> {
    store::db(env)
        .await?
        .prepare(
            "INSERT INTO audit_log (at, actor_id, actor_name, action, target, status, via) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&[
            iso_now().as_str().into(),
            who.id.as_str().into(),
            who.name.as_str().into(),
            action.into(),
            store::opt(target),
            f64::from(status).into(),
            if who.session.is_some() { "session" } else { "key" }.into(),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Sets the headers every console page and file carries.
fn page_headers(r: &mut Response) -> Result<()> {
    headers_with(r, rules::CSP)
}

fn headers_with(r: &mut Response, csp: &str) -> Result<()> {
    let h = r.headers_mut();
    h.set("content-security-policy", csp)?;
    h.set("x-frame-options", "DENY")?;
    h.set("referrer-policy", "no-referrer")?;
    h.set("cross-origin-opener-policy", "same-origin")?;
    h.set("x-content-type-options", "nosniff")?;
    h.set("cache-control", "no-store")?;
    Ok(())
}

/// Serves one console file.
pub(super) fn asset(a: &Asset) -> Answer {
    let mut r = Response::from_bytes(a.body.to_vec())?;
    r.headers_mut().set("content-type", a.content_type)?;
    headers_with(&mut r, a.csp)?;
    Ok(r)
}

/// `/console` without a session: to the sign-in page.
pub(super) fn to_sign_in() -> Answer {
    let mut r = Response::empty()?.with_status(303);
    r.headers_mut().set("location", "/console/sign-in")?;
    page_headers(&mut r)?;
    Ok(r)
}

async fn json_body(req: &mut Request) -> std::result::Result<Value, RelayError> {
    let bytes = api::body(req).await?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| RelayError::Status(400, "bad_json"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(RelayError::Status(400, "bad_shape"))
    }
}

/// `POST /v1/admin/session` `{key}`: the admin key or a person's sign-in key (after
/// the failed-secret guard, compared in constant time or looked up by digest) for a
/// session cookie. A browser's request must come from this origin.
pub(super) async fn sign_in(req: &mut Request, env: &Env) -> Answer {
    if let Some(origin) = header(req, "origin")
        && origin != own_origin(req)?
    {
        return Err(RelayError::Status(403, "csrf_origin_mismatch"));
    }
    let v = json_body(req).await?;
    let key = v["key"]
        .as_str()
        .filter(|k| (1..=256).contains(&k.len()))
        .ok_or(RelayError::Status(400, "missing_key"))?;
    let db = store::db(env).await?;
    let admin = super::secret(env, "ADMIN_KEY").is_some_and(|k| super::auth::secret_eq(key, &k));
    let who = if admin {
        Some(admin_key_operator())
    } else {
        #[derive(Deserialize)]
        struct User {
            id: String,
            name: String,
            role: String,
            integrations: String,
        }
        let user: Option<User> = db
            .prepare(
                "SELECT id, name, role, integrations FROM console_users WHERE key_sha256 = ?1 AND revoked_at IS NULL",
            )
            .bind(&[sha256_hex(key).as_str().into()])?
            .first(None)
            .await?;
        user.map(|u| Operator {
            person: person_of(&u.role, &u.integrations),
            id: u.id,
            name: u.name,
            session: None,
        })
    };
    let Some(mut who) = who else {
        let refusal = super::auth::failed(
            req,
            env,
            crate::access::SecretKind::SignIn,
            None,
            "invalid_sign_in_key",
        )
        .await;
        // Every attempt is in the audit log: a failed one by nobody (never the key).
        let status = match &refusal {
            RelayError::Status(status, _) => *status,
            _ => 500,
        };
        let nobody = Operator {
            id: "unknown".into(),
            name: "failed sign-in".into(),
            session: None,
            person: Person::new(Role::Viewer, Vec::new()),
        };
        if let Err(e) = audit(env, &nobody, "session.sign_in", None, status).await {
            console_error!("audit log: D1 write failed: {e}");
        }
        return Err(refusal);
    };
    let token = hex(&random_bytes(32));
    let csrf = hex(&random_bytes(24));
    if token.len() != 64 || csrf.len() != 48 {
        return Err(RelayError::Config("no randomness available".into()));
    }
    let id = format!("ses_{}", hex(&random_bytes(8)));
    let now = now_ms() as f64;
    // Sessions ended more than a week ago are forgotten (they can never come back).
    let forget = now - (rules::SESSION_MAX_MS + 7 * 86_400_000) as f64;
    db.prepare("DELETE FROM console_sessions WHERE created_ms < ?1")
        .bind(&[forget.into()])?
        .run()
        .await?;
    let fp = if admin { admin_fp(env) } else { None };
    db.prepare(
        "INSERT INTO console_sessions (id, token_sha256, user_id, user_name, csrf, created_ms, last_ms, admin_fp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
    )
    .bind(&[
        id.as_str().into(),
        sha256_hex(&token).as_str().into(),
        who.id.as_str().into(),
        who.name.as_str().into(),
        csrf.as_str().into(),
        now.into(),
        store::opt(fp.as_deref()),
    ])?
    .run()
    .await?;
    who.session = Some((id, csrf));
    audit(env, &who, "session.sign_in", None, 201).await?;
    let mut r = Response::from_json(&whoami_body(&who))?.with_status(201);
    r.headers_mut()
        .set("set-cookie", &rules::set_cookie(&token))?;
    Ok(r)
}

fn whoami_body(who: &Operator) -> Value {
    json!({
        "user": { "id": who.id, "name": who.name, "role": who.person.role.as_str(),
                  "integrations": match &who.person.scope {
                      crate::access::Scope::All => Value::Null,
                      crate::access::Scope::Only(ids) => json!(ids),
                  } },
        "session": who.session.as_ref().map(|(id, _)| id),
        "csrf": who.session.as_ref().map(|(_, csrf)| csrf),
        "idleMinutes": rules::IDLE_MS / 60_000,
        "maxHours": rules::SESSION_MAX_MS / 3_600_000,
        // What the install form starts from: the Worker's event map and Amazon's types.
        "defaults": {
            "eventMap": crate::config::DEFAULT_EVENT_MAP.iter().map(|(n, t)| json!([n, t])).collect::<Vec<_>>(),
            "conversionTypes": crate::config::CONVERSION_TYPES,
        },
    })
}

/// `DELETE /v1/admin/session`: ends this session on the server and in the browser.
pub(super) async fn sign_out(env: &Env, who: &Operator) -> Answer {
    let Some((id, _)) = &who.session else {
        return Err(RelayError::Status(400, "no_session"));
    };
    revoke_sessions(env, "id", id).await?;
    let mut r = Response::from_json(&json!({ "signedOut": true }))?;
    r.headers_mut().set("set-cookie", &rules::clear_cookie())?;
    Ok(r)
}

async fn revoke_sessions(env: &Env, column: &'static str, value: &str) -> Result<()> {
    store::db(env)
        .await?
        .prepare(format!(
            "UPDATE console_sessions SET revoked_at = ?2 WHERE {column} = ?1 AND revoked_at IS NULL"
        ))
        .bind(&[value.into(), iso_now().as_str().into()])?
        .run()
        .await?;
    Ok(())
}

async fn rows(env: &Env, sql: &str, binds: &[wasm_bindgen::JsValue]) -> Result<Vec<Value>> {
    store::db(env)
        .await?
        .prepare(sql)
        .bind(binds)?
        .all()
        .await?
        .results()
}

fn limit_param(req: &Request, default: u32, max: u32) -> Result<u32> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, max))
}

/// The console's routes (all but sign-in, which has no operator yet).
pub(super) async fn handle(
    req: &mut Request,
    env: &Env,
    vars: &Config,
    who: &Operator,
    route: ConsoleRoute,
) -> Answer {
    match route {
        ConsoleRoute::Whoami => Ok(Response::from_json(&whoami_body(who))?),
        ConsoleRoute::SignIn => sign_in(req, env).await,
        ConsoleRoute::SignOut => sign_out(env, who).await,
        ConsoleRoute::Sessions => {
            let list = rows(
                env,
                "SELECT id, user_id, user_name, created_ms, last_ms, revoked_at FROM console_sessions ORDER BY created_ms DESC LIMIT 200",
                &[],
            )
            .await?;
            let now = now_ms();
            let current = who.session.as_ref().map(|(id, _)| id.as_str());
            let list: Vec<Value> = list
                .into_iter()
                .map(|mut s| {
                    let (c, l) = (
                        s["created_ms"].as_f64().unwrap_or(0.0),
                        s["last_ms"].as_f64().unwrap_or(0.0),
                    );
                    s["alive"] = json!(rules::alive(
                        c as u64,
                        l as u64,
                        !s["revoked_at"].is_null(),
                        now
                    ));
                    s["current"] = json!(s["id"].as_str() == current);
                    s
                })
                .collect();
            Ok(Response::from_json(&json!({ "sessions": list }))?)
        }
        ConsoleRoute::RevokeSession(id) => {
            if rows(
                env,
                "SELECT id FROM console_sessions WHERE id = ?1",
                &[id.as_str().into()],
            )
            .await?
            .is_empty()
            {
                return Err(RelayError::Status(404, "unknown_session"));
            }
            revoke_sessions(env, "id", &id).await?;
            Ok(Response::from_json(&json!({ "revoked": id }))?)
        }
        ConsoleRoute::RevokeAll => {
            // Everyone, the caller too: after a leaked key or person, start afresh.
            store::db(env)
                .await?
                .prepare("UPDATE console_sessions SET revoked_at = ?1 WHERE revoked_at IS NULL")
                .bind(&[iso_now().as_str().into()])?
                .run()
                .await?;
            let mut r = Response::from_json(&json!({ "revokedAll": true }))?;
            if who.session.is_some() {
                r.headers_mut().set("set-cookie", &rules::clear_cookie())?;
            }
            Ok(r)
        }
        ConsoleRoute::Users => {
            let list = rows(
                env,
                "SELECT id, name, role, integrations, invited_by, created_at, revoked_at FROM console_users ORDER BY created_at, id",
                &[],
            )
            .await?;
            let list: Vec<Value> = list
                .into_iter()
                .map(|mut u| {
                    let ids: Value = u["integrations"]
                        .as_str()
                        .and_then(|t| serde_json::from_str(t).ok())
                        .unwrap_or_else(|| json!([]));
                    u["integrations"] = ids;
                    u
                })
                .collect();
            Ok(Response::from_json(&json!({ "users": list }))?)
        }
        ConsoleRoute::Invite => {
            if !crate::access::may_invite(&who.person) {
                return Err(RelayError::Status(403, "role_not_allowed"));
            }
            let v = json_body(req).await?;
            let mut known: Vec<String> = store::integrations(env)
                .await?
                .iter()
                .map(|i| i.id.clone())
                .collect();
            if vars.has_advertiser() {
                known.push(crate::integration::DEFAULT_ID.to_owned());
            }
            let invited = match rules::invitation(&v, &known) {
                Ok(i) => i,
                Err(errors) => {
                    let fields: Vec<Value> = errors
                        .iter()
                        .map(|(field, reason)| json!({ "field": field, "reason": reason }))
                        .collect();
                    return Ok(Response::from_json(
                        &json!({ "error": "invalid_user", "fields": fields }),
                    )?
                    .with_status(400));
                }
            };
            let name = invited.name.clone();
            let role = invited.role.as_str();
            let integrations = json!(invited.integrations).to_string();
            let key = format!("mk_ck_{}", hex(&random_bytes(24)));
            let id = format!("usr_{}", hex(&random_bytes(8)));
            if key.len() != 54 {
                return Err(RelayError::Config("no randomness available".into()));
            }
            let created = iso_now();
            store::db(env)
                .await?
                .prepare("INSERT INTO console_users (id, name, key_sha256, invited_by, created_at, role, integrations) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind(&[
                    id.as_str().into(),
                    name.as_str().into(),
                    sha256_hex(&key).as_str().into(),
                    who.id.as_str().into(),
                    created.as_str().into(),
                    role.into(),
                    integrations.as_str().into(),
                ])?
                .run()
                .await?;
            Ok(Response::from_json(&json!({
                "id": id, "name": name, "invited_by": who.id, "created_at": created,
                "role": role, "integrations": invited.integrations,
                "sign_in_key": key,
                "note": "The sign-in key is shown this once; hand it over privately.",
            }))?
            .with_status(201))
        }
        ConsoleRoute::RevokeUser(id) => {
            let found = rows(
                env,
                "SELECT id FROM console_users WHERE id = ?1",
                &[id.as_str().into()],
            )
            .await?;
            if found.is_empty() {
                return Err(RelayError::Status(404, "unknown_user"));
            }
            // The person and everyone they invited, and theirs in turn: an invitation
            // never outlives whoever made it.
            const DOWN: &str = "WITH RECURSIVE down(id) AS (SELECT ?1 UNION \
                 SELECT u.id FROM console_users u JOIN down ON u.invited_by = down.id)";
            let now = iso_now();
            let db = store::db(env).await?;
            let revoked: Vec<Value> = rows(
                env,
                &format!("{DOWN} SELECT id FROM down"),
                &[id.as_str().into()],
            )
            .await?;
            db.batch(vec![
                db.prepare(format!(
                    "{DOWN} UPDATE console_users SET revoked_at = ?2 \
                     WHERE id IN (SELECT id FROM down) AND revoked_at IS NULL"
                ))
                .bind(&[id.as_str().into(), now.as_str().into()])?,
                db.prepare(format!(
                    "{DOWN} UPDATE console_sessions SET revoked_at = ?2 \
                     WHERE user_id IN (SELECT id FROM down) AND revoked_at IS NULL"
                ))
                .bind(&[id.as_str().into(), now.as_str().into()])?,
            ])
            .await?;
            let with: Vec<&str> = revoked
                .iter()
                .filter_map(|r| r["id"].as_str())
                .filter(|r| *r != id)
                .collect();
            Ok(Response::from_json(
                &json!({ "revoked": id, "revokedWithThem": with }),
            )?)
        }
        ConsoleRoute::Audit => {
            let limit = limit_param(req, 200, 1000)?;
            let list = rows(
                env,
                "SELECT id, at, actor_id, actor_name, via, action, target, status FROM audit_log ORDER BY id DESC LIMIT ?1",
                &[limit.into()],
            )
            .await?;
            Ok(Response::from_json(&json!({ "audit": list }))?)
        }
        ConsoleRoute::Accounts(id) => accounts(env, &id).await,
        ConsoleRoute::Live(id) => {
            let config = integration(env, vars, &id).await?;
            let events: Value = batcher(env, &config, "/live", None).await?.json().await?;
            Ok(Response::from_json(
                &json!({ "integration": id, "events": events }),
            )?)
        }
        ConsoleRoute::Audiences(id) => {
            let config = integration(env, vars, &id).await?;
            let mut names: Vec<String> = config.audiences.clone();
            if let Some(i) = store::integration(env, &id).await? {
                for a in i.audiences {
                    if !names.contains(&a.name) {
                        names.push(a.name);
                    }
                }
            }
            let mut list = Vec::new();
            for name in names.iter().take(50) {
                let stats: Value = audience_sync(env, &config, name, "/stats", None)
                    .await?
                    .json()
                    .await
                    .unwrap_or(Value::Null);
                let sent = stats["counters"]["sent"].as_u64().unwrap_or(0);
                list.push(json!({
                    "name": name,
                    "pending": stats["pending"],
                    "counters": stats["counters"],
                    "activationThreshold": ACTIVATION_THRESHOLD,
                    "belowThreshold": sent < ACTIVATION_THRESHOLD,
                }));
            }
            Ok(Response::from_json(
                &json!({ "integration": id, "audiences": list }),
            )?)
        }
        ConsoleRoute::TryIt(id) => {
            let config = integration(env, vars, &id).await?;
            api::run(req, env, &config, Caller::Browser, true).await
        }
    }
}

/// Amazon activates an audience for targeting from about this many matched members.
const ACTIVATION_THRESHOLD: u64 = 2000;

async fn integration(
    env: &Env,
    vars: &Config,
    id: &str,
) -> std::result::Result<Config, RelayError> {
    store::invalidate();
    store::config_for(env, vars, id)
        .await?
        .ok_or(RelayError::Status(404, "unknown_integration"))
}

/// `GET /v1/admin/connections/{id}/accounts`: the profiles the connection reaches in
/// its region, and the DSP advertisers of its agency profiles (to pick an advertiser).
async fn accounts(env: &Env, id: &str) -> Answer {
    let conn = store::connection(env, id)
        .await?
        .ok_or(RelayError::Status(404, "unknown_connection"))?;
    let region = conn.region.clone();
    let mut probe = Config::from_vars(|name| {
        if name == "REGION" {
            Some(region.clone())
        } else {
            var(env, name)
        }
    })
    .map_err(RelayError::Config)?;
    probe.connection_id = Some(conn.id.clone());
    let token = match access_token(env, &probe, false).await {
        Ok(t) => t,
        Err(matchkey::amazon::TokenError::Reauthorize) => {
            return Err(RelayError::Status(409, "reconnect_needed"));
        }
        Err(matchkey::amazon::TokenError::Unavailable(_)) => {
            return Err(RelayError::Status(502, "token_unavailable"));
        }
    };
    let client_id = client_id(env);
    let auth = api_auth(&probe, &token, &client_id);
    let (status, _, text) = send(connect::list_profiles(&auth)).await;
    let Some(profiles) = connect::parse_profiles(&text).filter(|_| status == 200) else {
        return Err(RelayError::Status(502, "profiles_unavailable"));
    };
    let mut advertisers = Vec::new();
    for p in profiles.iter().filter(|p| p.is_agency()).take(5) {
        if let Some(list) = dsp_advertisers(&auth, p.profile_id).await {
            for a in list {
                advertisers.push(json!({
                    "advertiserId": a.advertiser_id, "name": a.name, "country": a.country,
                    "profileId": p.profile_id.to_string(),
                }));
            }
        }
    }
    let profiles: Vec<Value> = profiles
        .iter()
        .map(|p| {
            json!({
                "profileId": p.profile_id.to_string(), "accountId": p.account_id,
                "accountName": p.account_name, "accountType": p.account_type,
                "countryCode": p.country_code,
            })
        })
        .collect();
    Ok(Response::from_json(&json!({
        "connection": conn.id, "region": conn.region, "profiles": profiles, "advertisers": advertisers,
    }))?)
}
