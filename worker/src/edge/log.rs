//! The D1 delivery log: one row per attempt, one per event Amazon refused, and the dead
//! letters kept for replay. No transaction spans Durable Object storage and D1, so the
//! batching object first records its decision in its own storage (a [`Record`]), then
//! writes it here with statements that are idempotent for the record's batch id, then
//! forgets it: a D1 failure leaves the record for the next run and re-sends nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wasm_bindgen::JsValue;
use worker::*;

use super::{Answer, RelayError, batcher, iso_now, now_ms};
use crate::access::{Person, Scope};
use crate::config::Config;
use crate::target::Target;

/// Dead letters claimed and re-sent per `/v1/replay`.
const REPLAY_LIMIT: u32 = 500;

/// One delivery decision, as the log and the dead letters will show it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Record {
    /// The integration (records kept from before integrations are the default's).
    #[serde(default = "default_integration")]
    pub(super) integration: String,
    pub(super) at: String,
    pub(super) advertiser: String,
    pub(super) region: String,
    /// The target's key (`crate::target::Target::key`): dead letters are replayed only
    /// to the same one. Absent from records of earlier versions.
    #[serde(default)]
    pub(super) target: Option<String>,
    pub(super) batch_id: String,
    pub(super) events: usize,
    pub(super) accepted: usize,
    pub(super) failed: usize,
    pub(super) status: u16,
    pub(super) outcome: String,
    pub(super) code: Option<String>,
    /// Events Amazon refused: `(eventId, code, fieldLocation)`.
    pub(super) rejected: Vec<(String, String, Option<String>)>,
    /// Dead-lettered events, as sent (hashes only).
    pub(super) dead: Vec<String>,
}

/// An audience change or an erasure Amazon refused for good, for the dead letters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeadChange {
    /// A random id of this dead letter (never the person's id), so a rewrite is a no-op.
    pub(super) id: String,
    /// `audience` or `erasure`.
    pub(super) kind: String,
    /// The audience's name, for an audience change.
    pub(super) audience: Option<String>,
    /// The change as it was queued (hashes and pseudonymous ids only).
    pub(super) change: String,
    /// Amazon's HTTP status.
    pub(super) status: u16,
    /// Amazon's code.
    pub(super) code: String,
    /// The target that accepted the change, when it is dead-lettered because the
    /// integration now points elsewhere (`target_changed`): its row is written under
    /// that target, not the integration's present one.
    #[serde(default)]
    pub(super) target: Option<Target>,
}

pub(super) use super::store::db;

fn default_integration() -> String {
    crate::integration::DEFAULT_ID.to_owned()
}

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// Writes one record in one D1 batch; running it twice changes nothing.
pub(super) async fn write(env: &Env, r: &Record) -> Result<()> {
    write_with(env, r, &[]).await
}

/// [`write`], with audience changes or erasures Amazon refused for good as dead letters
/// of their own kind (which event replay leaves alone), in the same D1 batch.
pub(super) async fn write_with(env: &Env, r: &Record, dead_changes: &[DeadChange]) -> Result<()> {
    let db = db(env).await?;
    let mut statements = vec![
        db.prepare(
            "INSERT INTO deliveries (at, advertiser, region, batch_id, events, accepted, failed, http_status, status, amazon_code, integration) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
             WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE batch_id = ?4 AND status = ?9)",
        )
        .bind(&[
            r.at.as_str().into(),
            r.advertiser.as_str().into(),
            r.region.as_str().into(),
            r.batch_id.as_str().into(),
            (r.events as f64).into(),
            (r.accepted as f64).into(),
            (r.failed as f64).into(),
            f64::from(r.status).into(),
            r.outcome.as_str().into(),
            opt(r.code.as_deref()),
            r.integration.as_str().into(),
        ])?,
    ];
    for (event_id, code, field) in &r.rejected {
        statements.push(
            db.prepare(
                "INSERT INTO failed_events (at, advertiser, batch_id, event_id, status, amazon_code, field_location, integration) \
                 SELECT ?1, ?2, ?3, ?4, 'rejected', ?5, ?6, ?7 \
                 WHERE NOT EXISTS (SELECT 1 FROM failed_events WHERE batch_id = ?3 AND event_id = ?4)",
            )
            .bind(&[
                r.at.as_str().into(),
                r.advertiser.as_str().into(),
                r.batch_id.as_str().into(),
                event_id.as_str().into(),
                code.as_str().into(),
                opt(field.as_deref()),
                r.integration.as_str().into(),
            ])?,
        );
    }
    for event in &r.dead {
        let parsed: Value = serde_json::from_str(event).unwrap_or(Value::Null);
        let event_id = parsed["eventId"].as_str().unwrap_or_default();
        let event_time = parsed["eventTime"].as_str().unwrap_or_default();
        statements.push(
            db.prepare(
                "INSERT INTO dead_letters (at, advertiser, region, event_id, event_time, event_time_ms, event, reason, integration, target) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
                 WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE integration = ?9 AND advertiser = ?2 AND event_id = ?4 AND replayed_at IS NULL)",
            )
            .bind(&[
                r.at.as_str().into(),
                r.advertiser.as_str().into(),
                r.region.as_str().into(),
                event_id.into(),
                event_time.into(),
                js_sys::Date::parse(event_time).into(),
                event.as_str().into(),
                r.code.as_deref().unwrap_or("UNKNOWN").into(),
                r.integration.as_str().into(),
                opt(r.target.as_deref()),
            ])?,
        );
    }
    for d in dead_changes {
        statements.push(
            db.prepare(
                "INSERT INTO dead_letters (at, advertiser, region, event_id, event_time, event_time_ms, event, reason, integration, kind, http_status, audience, target) \
                 SELECT ?1, ?2, ?3, ?4, ?1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
                 WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE integration = ?8 AND event_id = ?4 AND kind = ?9)",
            )
            .bind(&[
                r.at.as_str().into(),
                d.target
                    .as_ref()
                    .map_or(r.advertiser.as_str(), |t| t.advertiser_id.as_str())
                    .into(),
                d.target
                    .as_ref()
                    .map_or(r.region.as_str(), |t| t.region.as_str())
                    .into(),
                d.id.as_str().into(),
                js_sys::Date::parse(&r.at).into(),
                d.change.as_str().into(),
                d.code.as_str().into(),
                r.integration.as_str().into(),
                d.kind.as_str().into(),
                f64::from(d.status).into(),
                opt(d.audience.as_deref()),
                opt(d.target.as_ref().map(Target::key).as_deref().or(r.target.as_deref())),
            ])?,
        );
    }
    db.batch(statements).await?;
    Ok(())
}

/// Deletes log rows and dead letters past their retention.
pub(super) async fn prune(env: &Env, config: &Config) -> Result<()> {
    let db = db(env).await?;
    let iso = |days: u64| -> String {
        let ms = now_ms().saturating_sub(days * 86_400_000) as f64;
        js_sys::Date::new(&ms.into()).to_iso_string().into()
    };
    let (log, dead) = (iso(config.log_days), iso(config.dead_letter_days));
    db.batch(vec![
        db.prepare("DELETE FROM deliveries WHERE at < ?1")
            .bind(&[log.as_str().into()])?,
        db.prepare("DELETE FROM failed_events WHERE at < ?1")
            .bind(&[log.as_str().into()])?,
        db.prepare("DELETE FROM dead_letters WHERE at < ?1")
            .bind(&[dead.as_str().into()])?,
    ])
    .await?;
    Ok(())
}

/// `GET /v1/deliveries?limit=&integration=&status=&since=&until=` (admin): batches,
/// refused events, dead letters (of one integration, or all; `status` filters the
/// batches, `since` and `until` every list), and the accounting of each integration.
pub(super) async fn deliveries(
    req: &Request,
    env: &Env,
    vars: &Config,
    chosen: Option<&Config>,
    person: Option<&Person>,
) -> Answer {
    let url = req.url()?;
    let limit: u32 = url
        .query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    // Times as the log writes them (ISO 8601 in UTC), so that text order is time order.
    let time =
        |name: &str, code: &'static str| -> std::result::Result<Option<String>, RelayError> {
            match param(name) {
                None => Ok(None),
                Some(v) => {
                    let ms = js_sys::Date::parse(&v);
                    if ms.is_nan() {
                        return Err(RelayError::Status(400, code));
                    }
                    Ok(Some(js_sys::Date::new(&ms.into()).to_iso_string().into()))
                }
            }
        };
    let since = time("since", "invalid_since")?;
    let until = time("until", "invalid_until")?;
    let status = param("status");
    if status
        .as_deref()
        .is_some_and(|s| !matches!(s, "delivered" | "retry" | "dead_lettered" | "rejected"))
    {
        return Err(RelayError::Status(400, "invalid_status"));
    }
    let db = db(env).await?;
    let filter = chosen.map(|c| c.integration_id.clone());
    // Without `?integration=`, a person given some integrations sees only theirs.
    let scope: Option<Vec<String>> = match (chosen, person.map(|p| &p.scope)) {
        (None, Some(Scope::Only(ids))) => Some(ids.clone()),
        _ => None,
    };
    let scope_json = scope.as_ref().map(|ids| json!(ids).to_string());
    let newest = |columns: &'static str, table: &'static str, by_status: bool| {
        let db = &db;
        let mut conditions: Vec<(&'static str, JsValue)> = Vec::new();
        if let Some(id) = &filter {
            conditions.push(("integration =", id.as_str().into()));
        }
        if let Some(ids) = &scope_json {
            conditions.push((
                "integration IN (SELECT value FROM json_each(?))",
                ids.as_str().into(),
            ));
        }
        if let Some(s) = &since {
            conditions.push(("at >=", s.as_str().into()));
        }
        if let Some(u) = &until {
            conditions.push(("at <", u.as_str().into()));
        }
        if by_status && let Some(s) = &status {
            conditions.push(("status =", s.as_str().into()));
        }
        async move {
            let mut sql = format!("SELECT {columns} FROM {table}");
            let mut binds: Vec<JsValue> = vec![limit.into()];
            for (i, (condition, value)) in conditions.into_iter().enumerate() {
                sql.push_str(if i == 0 { " WHERE " } else { " AND " });
                match condition.strip_suffix("(?))") {
                    // A condition with its parameter inside.
                    Some(head) => sql.push_str(&format!("{head}(?{}))", i + 2)),
                    None => sql.push_str(&format!("{condition} ?{}", i + 2)),
                }
                binds.push(value);
            }
            sql.push_str(" ORDER BY id DESC LIMIT ?1");
            db.prepare(sql)
                .bind(&binds)?
                .all()
                .await?
                .results::<Value>()
        }
    };
    let batches = newest("*", "deliveries", true).await?;
    let failed = newest("*", "failed_events", status.as_deref() == Some("rejected")).await?;
    let dead = newest(
        "id, at, integration, advertiser, region, event_id, event_time, reason, replayed_at, kind, http_status, audience",
        "dead_letters",
        false,
    )
    .await?;
    let mut configs = Vec::new();
    match chosen {
        Some(c) => configs.push(c.clone()),
        None => {
            if vars.has_advertiser() {
                configs.push(vars.clone());
            }
            for i in super::store::integrations(env).await?.iter() {
                if let Ok(c) = i.to_config(|n| super::var(env, n)) {
                    configs.push(c);
                }
            }
        }
    }
    if let Some(ids) = &scope {
        configs.retain(|c| ids.contains(&c.integration_id));
    }
    // Each integration costs a call per shard: a page of them per request (`?after=`).
    let ids: Vec<String> = configs.iter().map(|c| c.integration_id.clone()).collect();
    let (this_page, next) = crate::integration::page(&ids, param("after").as_deref());
    configs.retain(|c| this_page.contains(&c.integration_id));
    let mut accounting = serde_json::Map::new();
    for config in &configs {
        let stats: Value = batcher(env, config, "/stats", None)
            .await?
            .json()
            .await
            .unwrap_or(Value::Null);
        let mut counts = stats["counters"].clone();
        counts["pending"] = stats["pending"].clone();
        counts["advertiser"] = json!(config.advertiser_id);
        counts["region"] = json!(config.region.as_str());
        accounting.insert(config.integration_id.clone(), counts);
    }
    Ok(Response::from_json(&json!({
        "accounting": accounting,
        "nextAfter": next,
        "deliveries": batches,
        "failedEvents": failed,
        "deadLetters": dead,
    }))?)
}

/// `POST /v1/replay` (admin): claims dead letters still inside Amazon's window (an
/// atomic UPDATE … RETURNING, so two replays never take the same row) that were
/// accepted for the integration's target now (`crate::target`: its advertiser, region,
/// grant and profiles; rows from before targets were kept by advertiser and region),
/// queues them again, and resumes delivery after a re-authorization. A refused or
/// failed enqueue releases the claim of what was not queued.
pub(super) async fn replay(env: &Env, config: &Config) -> Answer {
    let db = db(env).await?;
    let oldest = now_ms() as f64 - (config.conversions_api().lookback_days() as f64) * 86_400_000.0;
    let claim = format!("{}#{}", iso_now(), super::random_uuid());
    #[derive(Deserialize)]
    struct Dead {
        id: f64,
        event: String,
    }
    let rows: Vec<Dead> = db
        .prepare(
            "UPDATE dead_letters SET replayed_at = ?1 WHERE id IN (\
               SELECT id FROM dead_letters WHERE replayed_at IS NULL AND kind = 'event' AND event_time_ms >= ?2 AND integration = ?3 \
               AND (target = ?5 OR (target IS NULL AND advertiser = ?6 AND region = ?7)) ORDER BY id LIMIT ?4\
             ) RETURNING id, event",
        )
        .bind(&[
            claim.as_str().into(),
            oldest.into(),
            config.integration_id.as_str().into(),
            REPLAY_LIMIT.into(),
            Target::of(config).key().into(),
            config.advertiser_id.as_str().into(),
            config.region.as_str().into(),
        ])?
        .all()
        .await?
        .results()?;
    if !rows.is_empty() {
        let events: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let id = serde_json::from_str::<Value>(&r.event)
                    .ok()
                    .and_then(|e| e["eventId"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                (id, r.event.clone())
            })
            .collect();
        let release = |ids: Vec<f64>| {
            let db = &db;
            let claim = claim.as_str();
            async move {
                let ids = json!(ids).to_string();
                db.prepare(
                    "UPDATE dead_letters SET replayed_at = NULL WHERE replayed_at = ?2 \
                     AND id IN (SELECT value FROM json_each(?1))",
                )
                .bind(&[ids.as_str().into(), claim.into()])?
                .run()
                .await
                .map(|_| ())
            }
        };
        match super::enqueue(env, config, events, true).await {
            Ok(None) => {}
            Ok(Some(refused)) => {
                // Release the claim of exactly the rows no shard took: the others are
                // queued and a later replay must not send them again.
                release(refused.indexes.iter().map(|&i| rows[i].id).collect()).await?;
                return Err(refused.error);
            }
            Err(e) => {
                // Nothing is known to be queued (the enqueue failed before any shard
                // answered): every claim is released, so a later replay takes them.
                release(rows.iter().map(|r| r.id).collect()).await?;
                return Err(e.into());
            }
        }
    }
    // Whatever waits goes now too (after a re-authorization, say).
    batcher(env, config, "/resume", Some(String::new())).await?;
    Ok(Response::from_json(&json!({
        "replayed": rows.len(),
        "more": rows.len() as u32 == REPLAY_LIMIT,
    }))?
    .with_status(202))
}
