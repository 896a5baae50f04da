//! The cron trigger (`[triggers] crons` in wrangler.toml): what an operator must act on
//! reaches them without polling. Connections whose grant Amazon refused and dead
//! letters since the last run are posted to `ALERT_WEBHOOK_URL` (Slack-compatible:
//! a `text` line, plus the `alerts` list), with `Authorization: Bearer
//! ALERT_WEBHOOK_SECRET` when that secret is set. Never a value of an event.

use serde::Deserialize;
use serde_json::json;
use worker::*;

use super::amazon::send;
use super::{config, secret, store};
use crate::check::alert;

const KV: &str = "TOKENS";
const SEEN: &str = "alerts:seen";

#[derive(Debug, Default, serde::Serialize, Deserialize)]
struct Seen {
    /// The highest dead letter id told about.
    dead_id: f64,
    /// Connections told about while they still need reconnecting.
    reconnect: Vec<String>,
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = run(&env).await {
        console_error!("alerts: {e}");
    }
}

/// One run: reads what is new, posts it, and remembers it only once posted.
pub(super) async fn run(env: &Env) -> Result<()> {
    let Ok(vars) = config(env) else {
        return Ok(());
    };
    let Some(url) = vars.alert_webhook_url.clone() else {
        return Ok(());
    };
    let kv = env.kv(KV)?;
    let seen: Seen = kv.get(SEEN).json().await.ok().flatten().unwrap_or_default();
    let db = store::db(env).await?;
    #[derive(Deserialize)]
    struct Dead {
        integration: String,
        n: f64,
        max_id: f64,
    }
    let dead: Vec<Dead> = db
        .prepare("SELECT integration, COUNT(*) AS n, MAX(id) AS max_id FROM dead_letters WHERE id > ?1 GROUP BY integration ORDER BY integration")
        .bind(&[seen.dead_id.into()])?
        .all()
        .await?
        .results()?;
    let reconnect: Vec<String> = store::connections(env)
        .await?
        .into_iter()
        .filter(|c| c.token_state == "reconnect_needed")
        .map(|c| c.id)
        .collect();
    let counts: Vec<(String, u64)> = dead
        .iter()
        .map(|d| (d.integration.clone(), d.n as u64))
        .collect();
    let next = Seen {
        dead_id: dead.iter().map(|d| d.max_id).fold(seen.dead_id, f64::max),
        reconnect: reconnect.clone(),
    };
    if let Some(body) = alert(&reconnect, &seen.reconnect, &counts) {
        let mut call = matchkey::amazon::ApiRequest::new(matchkey::amazon::Method::Post, &url)
            .body("application/json", body.to_string());
        if let Some(token) = secret(env, "ALERT_WEBHOOK_SECRET") {
            call = call.header("authorization", format!("Bearer {token}"));
        }
        let (status, _, _) = send(call).await;
        if !(200..300).contains(&status) {
            console_error!("alerts: the webhook answered {status}; told again next run");
            return Ok(());
        }
        console_log!(
            "alerts: posted {} alert(s)",
            body["alerts"].as_array().map_or(0, Vec::len)
        );
    }
    kv.put(SEEN, json!(next).to_string())?.execute().await?;
    Ok(())
}
