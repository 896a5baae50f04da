//! The `AudienceSync` Durable Object: one audience's pending membership changes (one per
//! person: the last intent), sent as AMC or Data Provider records. The backlog is a
//! counter, not a listing, and the alarm never moves earlier than a retry time Amazon
//! asked for.

use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use matchkey::Country;
use matchkey::amazon::retry::{self, Next};
use matchkey::amazon::{self, audience as amazon_audience};

use super::amazon::{access_token, auth, client_id, send};
use super::log::{self, Record};
use super::{alarm_at, config, entries, iso_now, jitter, now_ms, random_uuid};
use crate::config::{AudienceApi, Config};

const PENDING: &str = "meta:pending";
const NOT_BEFORE: &str = "meta:not_before";

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
                // One key per person: a later add or remove replaces an earlier one, so
                // only people not yet pending add to the count.
                let keys: Vec<String> = body
                    .changes
                    .iter()
                    .map(|(id, _)| format!("m:{id}"))
                    .collect();
                let mut known = 0;
                for chunk in keys.chunks(128) {
                    known += storage.get_multiple(chunk.to_vec()).await?.size() as usize;
                }
                for (key, (_, record)) in keys.iter().zip(body.changes) {
                    storage.put(key, record).await?;
                }
                let pending = self.pending().await + keys.len() - known;
                storage.put(PENDING, pending as u64).await?;
                if storage
                    .get::<u64>("meta:first_at")
                    .await
                    .ok()
                    .flatten()
                    .is_none()
                {
                    storage.put("meta:first_at", now_ms()).await?;
                }
                self.schedule(pending >= config.audience_batch, &config)
                    .await?;
                Response::from_json(&json!({ "pending": pending }))
            }
            "/flush" => {
                storage.put("meta:force", true).await?;
                self.set_alarm_at(now_ms()).await?;
                Response::from_json(&json!({ "flushing": true }))
            }
            _ => Response::from_json(&json!({ "pending": self.pending().await })),
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
    async fn pending(&self) -> usize {
        self.state
            .storage()
            .get::<u64>(PENDING)
            .await
            .ok()
            .flatten()
            .unwrap_or(0) as usize
    }

    /// Sets the alarm at `at`, but never before a retry time Amazon asked for.
    async fn set_alarm_at(&self, at: u64) -> Result<()> {
        let storage = self.state.storage();
        let not_before = storage
            .get::<u64>(NOT_BEFORE)
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        alarm_at(&storage, at.max(not_before)).await
    }

    /// Waits `ms` before the next request to Amazon.
    async fn retry_in(&self, ms: u64) -> Result<()> {
        let at = now_ms() + ms;
        self.state.storage().put(NOT_BEFORE, at).await?;
        self.set_alarm_at(at).await
    }

    /// After new work arrives: at once when a full chunk waits, else keep the flush
    /// timer (set it when there is none).
    async fn schedule(&self, full: bool, config: &Config) -> Result<()> {
        if full {
            self.set_alarm_at(now_ms()).await
        } else if self.state.storage().get_alarm().await?.is_none() {
            self.set_alarm_at(now_ms() + config.flush_seconds * 1000)
                .await
        } else {
            Ok(())
        }
    }

    #[allow(clippy::too_many_arguments)] // One row of the log, column by column.
    async fn log(
        &self,
        config: &Config,
        id: &str,
        events: usize,
        sent: usize,
        failed: usize,
        status: u16,
        outcome: &str,
        code: Option<&str>,
    ) -> Result<()> {
        let record = Record {
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            batch_id: id.to_owned(),
            events,
            accepted: sent,
            failed,
            status,
            outcome: outcome.to_owned(),
            code: code.map(str::to_owned),
            ..Record::default()
        };
        if let Err(e) = log::write(&self.env, &record).await {
            console_error!("delivery log: D1 write failed: {e}");
        }
        Ok(())
    }

    async fn sync(&self, config: &Config) -> Result<()> {
        if now_ms()
            < self
                .state
                .storage()
                .get::<u64>(NOT_BEFORE)
                .await
                .ok()
                .flatten()
                .unwrap_or(0)
        {
            return self.set_alarm_at(now_ms()).await;
        }
        let storage = self.state.storage();
        let token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(_) => return self.retry_in(60_000).await,
        };
        let client_id = client_id(&self.env);
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
        let due = force || now_ms().saturating_sub(first_at) >= config.flush_seconds * 1000;
        loop {
            let chunk = entries(&storage, "m:", config.audience_batch).await?;
            if chunk.is_empty() || (chunk.len() < config.audience_batch && !due) {
                if !chunk.is_empty() {
                    let wait = (first_at + config.flush_seconds * 1000).saturating_sub(now_ms());
                    return self.set_alarm_at(now_ms() + wait.max(1)).await;
                }
                break;
            }
            let audience_id = match self.audience_id(config, &auth).await? {
                Some(id) => id,
                None => return self.retry_in(retry::backoff_ms(1, jitter())).await,
            };
            let records: Vec<&str> = chunk.iter().map(|(_, r)| r.as_str()).collect();
            let (status, retry_after, text) =
                send_chunk(config, &auth, audience_id, &records).await;
            let batch_id = random_uuid();
            let log = |sent, failed, outcome, code| {
                self.log(
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
                    return self.set_alarm_at(now_ms() + 1000).await;
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
                    return self.retry_in(after).await;
                }
                _ => {
                    let code = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["code"].as_str().map(str::to_owned));
                    log(0, records.len(), "audience_rejected", code.as_deref()).await?;
                }
            }
            let keys: Vec<String> = chunk.into_iter().map(|(k, _)| k).collect();
            let done = keys.len();
            for part in keys.chunks(128) {
                storage.delete_multiple(part.to_vec()).await?;
            }
            let pending = self.pending().await.saturating_sub(done);
            storage.put(PENDING, pending as u64).await?;
        }
        storage.delete("meta:force").await?;
        storage.delete("meta:first_at").await?;
        if again {
            self.set_alarm_at(now_ms() + 1000).await?;
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
            now_unix: now_ms() / 1000,
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
                self.log(
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
                    self.log(
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
