//! Health: kept in the batching object (which sees every delivery), summarized to KV at
//! most once a minute (KV's free plan allows 1,000 writes a day and one per second per
//! key). `/healthz` is public and says only `ok` or `degraded`; the details are behind
//! the admin key.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use worker::*;

use super::{Answer, batcher, batcher_shard, now, now_ms};
use crate::config::Config;
use crate::shard::{Epochs, Shards};

const KV: &str = "TOKENS";
const SUMMARY_EVERY_MS: u64 = 60_000;

/// What the batching object knows of its health.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Health {
    pub(super) token_state: Option<String>,
    pub(super) last_success_at: Option<String>,
    pub(super) last_error_code: Option<String>,
    pub(super) last_error_at: Option<String>,
    /// When the KV summary was last written (ms).
    pub(super) summary_at: u64,
    /// The status the summary last said.
    pub(super) summary: Option<String>,
}

impl Health {
    pub(super) fn degraded(&self) -> bool {
        self.token_state.as_deref() == Some("reauthorization_needed")
    }

    /// Writes the integration's KV summary (`health:{integration}`, the status also in
    /// the key's metadata, so `/healthz` reads every integration with one listing) when
    /// its status changed or a minute has passed.
    pub(super) async fn summarize(&mut self, env: &Env, integration: &str) {
        let status = if self.degraded() { "degraded" } else { "ok" };
        let now = now_ms();
        if self.summary.as_deref() == Some(status)
            && now.saturating_sub(self.summary_at) < SUMMARY_EVERY_MS
        {
            return;
        }
        if let Ok(kv) = env.kv(KV)
            && let Ok(put) = kv.put(
                &format!("{HEALTH_PREFIX}{integration}"),
                json!({ "status": status }).to_string(),
            )
            && let Ok(put) = put.metadata(json!({ "status": status }))
            && put.execute().await.is_ok()
        {
            self.summary_at = now;
            self.summary = Some(status.to_owned());
        }
    }
}

/// Each integration's summary is under this prefix, by its id.
const HEALTH_PREFIX: &str = "health:";
/// Pages of 1,000 keys `/healthz` reads at most (bounded work for a public route).
const HEALTH_PAGES: usize = 5;

/// `GET /healthz`: `ok`, or `degraded` when any integration is (re-authorization
/// needed); nothing else, not even which (anyone can ask).
pub(super) async fn public(env: &Env) -> Answer {
    let mut statuses = Vec::new();
    if let Ok(kv) = env.kv(KV) {
        let mut cursor: Option<String> = None;
        for _ in 0..HEALTH_PAGES {
            let mut list = kv.list().prefix(HEALTH_PREFIX.to_owned());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let Ok(page) = list.execute().await else {
                break;
            };
            statuses.extend(page.keys.into_iter().map(|k| {
                k.metadata
                    .and_then(|m| m["status"].as_str().map(str::to_owned))
                    .unwrap_or_default()
            }));
            if page.list_complete {
                break;
            }
            cursor = page.cursor;
        }
    }
    let status = overall(statuses.iter().map(String::as_str));
    let code = if status == "ok" { 200 } else { 503 };
    Ok(Response::from_json(&json!({ "status": status }))?.with_status(code))
}

/// The Worker's public status: `degraded` when any integration's is.
fn overall<'a>(mut each: impl Iterator<Item = &'a str>) -> &'static str {
    if each.any(|s| s == "degraded") {
        "degraded"
    } else {
        "ok"
    }
}

/// The integration's sharding as the admin sees it: the setting, the shards in force
/// now, the most any kept epoch used (those the admin routes reach), the epochs (under
/// `auto` read afresh from shard 0, not from this isolate's copy) and the events each
/// shard holds (from `stats`, the merged answer of those shards).
async fn shards(env: &Env, config: &Config, stats: &Value) -> Result<Value> {
    let (setting, record) = match config.shards {
        Shards::Fixed(n) => (json!(n), Epochs::fixed(n)),
        Shards::Auto => {
            let mut answer = batcher_shard(env, config, 0, "/epochs", None).await?;
            (json!("auto"), answer.json().await.unwrap_or_default())
        }
    };
    Ok(json!({
        "setting": setting,
        "now": record.n_at(now_ms()),
        "widest": record.max_n(),
        "epochs": record.epochs,
        "pendingByShard": match &stats["pendingByShard"] {
            Value::Null => json!([stats["pending"]]),
            each => each.clone(),
        },
    }))
}

/// `GET /v1/health` (admin): token state, backlog, last success and error, the
/// accounting, the sharding, and warnings (re-authorization, the refresh token's 365-day
/// expiry).
pub(super) async fn details(env: &Env, config: &Config) -> Answer {
    let stats: Value = batcher(env, config, "/stats", None)
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    let health: Health = serde_json::from_value(stats["health"].clone()).unwrap_or_default();
    let mut warnings = Vec::new();
    // The grant date: the connection's, or REFRESH_TOKEN_GRANTED_AT for the Worker's own.
    let granted = match &config.connection_id {
        Some(id) => super::store::connection(env, id)
            .await?
            .map(|c| c.granted_at),
        None => config.refresh_token_granted_at.clone(),
    };
    if let Some(left) = granted.as_deref().and_then(days_until_expiry)
        && left <= 30
    {
        warnings.push(json!({ "code": "refresh_token_expiring", "daysLeft": left }));
    }
    if health.degraded() {
        warnings.push(json!({ "code": "reauthorization_needed" }));
    }
    let answer = json!({
        "integration": config.integration_id,
        "connection": config.connection_id,
        "status": if health.degraded() { "degraded" } else { "ok" },
        "tokenState": health.token_state.unwrap_or_else(|| "unknown".into()),
        "queueBacklog": stats["pending"],
        "notBefore": stats["notBefore"],
        "counters": stats["counters"],
        "lastSuccessAt": health.last_success_at,
        "lastErrorCode": health.last_error_code,
        "lastErrorAt": health.last_error_at,
        "shards": shards(env, config, &stats).await?,
        "warnings": warnings,
    });
    Ok(Response::from_json(&answer)?)
}

/// Days left of a refresh token granted at `granted` (RFC 3339 or a date): Amazon's
/// refresh tokens expire 365 days after the advertiser's consent.
pub(super) fn days_until_expiry(granted: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let granted = OffsetDateTime::parse(granted, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{granted}T00:00:00Z"), &Rfc3339))
        .ok()?;
    Some((granted + time::Duration::days(365) - now()).whole_days())
}
