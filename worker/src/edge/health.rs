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

    /// Writes the KV summary when its status changed or a minute has passed.
    pub(super) async fn summarize(&mut self, env: &Env) {
        let status = if self.degraded() { "degraded" } else { "ok" };
        let now = now_ms();
        if self.summary.as_deref() == Some(status)
            && now.saturating_sub(self.summary_at) < SUMMARY_EVERY_MS
        {
            return;
        }
        if let Ok(kv) = env.kv(KV)
            && let Ok(put) = kv.put("health", json!({ "status": status }).to_string())
            && put.execute().await.is_ok()
        {
            self.summary_at = now;
            self.summary = Some(status.to_owned());
        }
    }
}

/// `GET /healthz`: `ok` or `degraded`, nothing else (anyone can ask).
pub(super) async fn public(env: &Env) -> Answer {
    let status = match env.kv(KV) {
        Ok(kv) => kv
            .get("health")
            .json::<Value>()
            .await
            .ok()
            .flatten()
            .and_then(|v| v["status"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "ok".into()),
        Err(_) => "ok".into(),
    };
    let code = if status == "ok" { 200 } else { 503 };
    Ok(Response::from_json(&json!({ "status": status }))?.with_status(code))
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
