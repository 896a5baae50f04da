//! D1: the schema (applied from `worker/migrations/`), connections and integrations, and
//! which integration a request or an object serves. Integrations are cached in the
//! isolate for [`CACHE_MS`], so ingest does not read D1 per request; a change made
//! through this isolate takes effect at once, through another within a minute.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use matchkey::sha256_hex;
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::*;

use super::{iso_now, now_ms, random_bytes, secret, var};
use crate::config::Config;
use crate::integration::{DEFAULT_ID, Integration};
use crate::migrations;
use crate::seal::Keys;

const DB: &str = "DB";
/// How long the isolate trusts its copy of the integrations.
pub(super) const CACHE_MS: u64 = 60_000;

static SCHEMA_READY: AtomicBool = AtomicBool::new(false);

/// The database, with every migration applied (once per isolate).
pub(super) async fn db(env: &Env) -> Result<D1Database> {
    let db = env.d1(DB)?;
    if !SCHEMA_READY.load(Ordering::Relaxed) {
        migrate(&db).await?;
        SCHEMA_READY.store(true, Ordering::Relaxed);
    }
    Ok(db)
}

/// The names of the applied migrations.
pub(super) async fn applied(db: &D1Database) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    db.prepare(migrations::TABLE).run().await?;
    let rows: Vec<Row> = db
        .prepare("SELECT name FROM d1_migrations ORDER BY id")
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Applies the missing migrations, each with its record in one batch (a transaction):
/// when another isolate applied it meanwhile, the batch fails whole and the list is
/// read again.
async fn migrate(db: &D1Database) -> Result<()> {
    for attempt in 0..2 {
        let done = applied(db).await?;
        let mut failed = None;
        for (name, sql) in migrations::pending(&done) {
            let mut batch = Vec::new();
            for statement in migrations::statements(sql) {
                batch.push(db.prepare(statement));
            }
            batch.push(
                db.prepare("INSERT INTO d1_migrations (name) VALUES (?1)")
                    .bind(&[name.into()])?,
            );
            if let Err(e) = db.batch(batch).await {
                failed = Some(e);
                break;
            }
        }
        match failed {
            None => return Ok(()),
            Some(e) if attempt == 1 => return Err(e),
            Some(_) => {}
        }
    }
    Ok(())
}

thread_local! {
    /// The integrations and when they were read (ms).
    static CACHE: RefCell<Option<(u64, Rc<Vec<Integration>>)>> = const { RefCell::new(None) };
}

/// Forgets the cached integrations (after a change made here).
pub(super) fn invalidate() {
    CACHE.with(|c| *c.borrow_mut() = None);
}

/// Every stored integration, from the isolate's copy when it is fresh.
pub(super) async fn integrations(env: &Env) -> Result<Rc<Vec<Integration>>> {
    let now = now_ms();
    if let Some(list) = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(at, _)| now.saturating_sub(*at) < CACHE_MS)
            .map(|(_, l)| Rc::clone(l))
    }) {
        return Ok(list);
    }
    #[derive(Deserialize)]
    struct Row {
        body: String,
    }
    let rows: Vec<Row> = db(env)
        .await?
        .prepare("SELECT body FROM integrations ORDER BY created_at, id")
        .all()
        .await?
        .results()?;
    let list: Rc<Vec<Integration>> = Rc::new(
        rows.iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect(),
    );
    CACHE.with(|c| *c.borrow_mut() = Some((now, Rc::clone(&list))));
    Ok(list)
}

/// One stored integration.
pub(super) async fn integration(env: &Env, id: &str) -> Result<Option<Integration>> {
    Ok(integrations(env)
        .await?
        .iter()
        .find(|i| i.id == id)
        .cloned())
}

/// Writes an integration (insert or replace).
pub(super) async fn save(env: &Env, i: &Integration) -> Result<()> {
    let body = serde_json::to_string(i)?;
    db(env)
        .await?
        .prepare(
            "INSERT INTO integrations (id, site_key, connection_id, disabled, ingest_secret_sha256, body, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO UPDATE SET site_key = ?2, connection_id = ?3, disabled = ?4, \
             ingest_secret_sha256 = ?5, body = ?6, updated_at = ?8",
        )
        .bind(&[
            i.id.as_str().into(),
            i.site_key.as_str().into(),
            opt(i.connection_id.as_deref()),
            f64::from(u8::from(i.disabled)).into(),
            opt(i.ingest_secret_sha256.as_deref()),
            body.as_str().into(),
            i.created_at.as_str().into(),
            i.updated_at.as_str().into(),
        ])?
        .run()
        .await?;
    invalidate();
    Ok(())
}

pub(super) fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// The Worker-wide vars (the default integration, when it names an advertiser).
fn base(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |name| var(env, name)
}

/// The configuration of integration `id`.
pub(super) async fn config_for(env: &Env, vars: &Config, id: &str) -> Result<Option<Config>> {
    if id == DEFAULT_ID {
        return Ok(vars.has_advertiser().then(|| vars.clone()));
    }
    Ok(integration(env, id)
        .await?
        .and_then(|i| i.to_config(base(env)).ok()))
}

/// The integration a site key names.
pub(super) async fn by_site_key(env: &Env, vars: &Config, key: &str) -> Result<Option<Config>> {
    if vars.has_advertiser() && vars.site_keys.iter().any(|k| k == key) {
        return Ok(Some(vars.clone()));
    }
    Ok(integrations(env)
        .await?
        .iter()
        .find(|i| i.site_key == key)
        .and_then(|i| i.to_config(base(env)).ok()))
}

/// The integration whose ingest secret is `given` (its SHA-256 is what is stored: a
/// lookup by digest reveals nothing of a secret through timing).
pub(super) async fn by_ingest_secret(env: &Env, given: &str) -> Result<Option<Config>> {
    let digest = sha256_hex(given);
    Ok(integrations(env)
        .await?
        .iter()
        .find(|i| i.ingest_secret_sha256.as_deref() == Some(digest.as_str()))
        .and_then(|i| i.to_config(base(env)).ok()))
}

/// A stored connection, as D1 has it (the refresh token sealed).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Connection {
    pub(super) id: String,
    pub(super) region: String,
    pub(super) label: Option<String>,
    pub(super) refresh_token: String,
    pub(super) granted_at: String,
    pub(super) created_at: String,
    pub(super) token_state: String,
    pub(super) token_checked_at: Option<String>,
    pub(super) last_error: Option<String>,
}

impl Connection {
    /// What the admin API shows: never the token.
    pub(super) fn public(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "region": self.region,
            "label": self.label,
            "granted_at": self.granted_at,
            "created_at": self.created_at,
            "token_state": self.token_state,
            "token_checked_at": self.token_checked_at,
            "last_error": self.last_error,
        })
    }
}

/// Every connection.
pub(super) async fn connections(env: &Env) -> Result<Vec<Connection>> {
    db(env)
        .await?
        .prepare("SELECT * FROM connections ORDER BY created_at, id")
        .all()
        .await?
        .results()
}

/// One connection.
pub(super) async fn connection(env: &Env, id: &str) -> Result<Option<Connection>> {
    db(env)
        .await?
        .prepare("SELECT * FROM connections WHERE id = ?1")
        .bind(&[id.into()])?
        .first(None)
        .await
}

/// The sealing keys (`TOKEN_KEYS`), if set and well formed.
pub(super) fn keys(env: &Env) -> std::result::Result<Keys, String> {
    let text = secret(env, "TOKEN_KEYS").ok_or("TOKEN_KEYS is not set")?;
    Keys::parse(&text)
}

/// 12 random bytes for a nonce.
pub(super) fn nonce() -> [u8; 12] {
    let mut n = [0; 12];
    n.copy_from_slice(&random_bytes(12));
    n
}

/// Stores a new connection with its refresh token sealed (the connection id is the
/// associated data); answers its id.
pub(super) async fn add_connection(
    env: &Env,
    keys: &Keys,
    region: &str,
    label: Option<&str>,
    refresh_token: &str,
    granted_at: &str,
) -> Result<String> {
    let id = format!("conn_{}", hex(&random_bytes(8)));
    let sealed = keys.seal(nonce(), &id, refresh_token);
    db(env)
        .await?
        .prepare(
            "INSERT INTO connections (id, region, label, refresh_token, granted_at, created_at, token_state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'unchecked')",
        )
        .bind(&[
            id.as_str().into(),
            region.into(),
            opt(label),
            sealed.as_str().into(),
            granted_at.into(),
            iso_now().as_str().into(),
        ])?
        .run()
        .await?;
    Ok(id)
}

/// Seals a connection's refresh token again with the current key (key rotation).
pub(super) async fn reseal(env: &Env, keys: &Keys, id: &str, refresh_token: &str) -> Result<()> {
    let sealed = keys.seal(nonce(), id, refresh_token);
    db(env)
        .await?
        .prepare("UPDATE connections SET refresh_token = ?2 WHERE id = ?1")
        .bind(&[id.into(), sealed.as_str().into()])?
        .run()
        .await?;
    Ok(())
}

/// Records a connection's token state (`ok`, `reconnect_needed`, `unavailable`) when it
/// changed, with the error code that changed it.
pub(super) async fn mark_connection(
    env: &Env,
    id: &str,
    state: &str,
    error: Option<&str>,
) -> Result<()> {
    db(env)
        .await?
        .prepare(
            "UPDATE connections SET token_state = ?2, token_checked_at = ?3, last_error = ?4 \
             WHERE id = ?1 AND (token_state != ?2 OR token_checked_at IS NULL)",
        )
        .bind(&[
            id.into(),
            state.into(),
            iso_now().as_str().into(),
            opt(error),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Lower-case hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
