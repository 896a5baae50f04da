//! The `Batcher` Durable Object: one advertiser and region's queue. A thin loop around
//! [`Queue`]: it reads storage, asks the machine, and carries out what it decides. The
//! queue lives in memory (one copy for every request and the alarm, so an enqueue during
//! a delivery is never lost) and is written with each change in one storage
//! transaction, together with the events it concerns.

use std::cell::RefCell;
use std::rc::Rc;

use matchkey::amazon::TokenError;
use matchkey::amazon::events;
use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use super::amazon::{self as http, access_token, auth, client_id, events_call, request_body};
use super::health::Health;
use super::live::LiveRing;
use super::log::{self, Record};
use super::{alarm_at, commit, entries, iso_now, jitter, now_ms, object_config, random_uuid};
use crate::config::Config;
use crate::queue::{Decision, Limits, Queue, TokenFailure};

const QUEUE: &str = "meta:queue";
const HEALTH: &str = "meta:health";
const EVENT_PREFIX: &str = "ev:";
const LOG_PREFIX: &str = "log:";
/// Events read from storage per alarm run.
const READ_LIMIT: usize = 5000;
/// When D1 is down, try the log again after this long.
const LOG_RETRY_MS: u64 = 10_000;
const PRUNE_EVERY_MS: u64 = 3_600_000;

fn limits(config: &Config) -> Limits {
    Limits {
        batch_size: config.batch_size(),
        flush_ms: config.flush_seconds * 1000,
        retry_budget_ms: config.retry_budget_ms,
        max_backlog: config.max_backlog,
        backoff_unit_ms: config.backoff_base_ms,
    }
}

/// An event's storage key: its enqueue time first, so that a listing starts with the oldest.
fn event_key(stamp: u64, seq: u64) -> String {
    format!("{EVENT_PREFIX}{stamp:013}:{seq:012}")
}

/// The enqueue time (ms) written into an event's storage key.
fn stamp_of(key: &str) -> u64 {
    key.get(EVENT_PREFIX.len()..EVENT_PREFIX.len() + 13)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The queue of an object written by an earlier version (events under `ev:`, no
/// counters): counted once, so that an upgrade loses no waiting event.
async fn upgrade(storage: &Storage) -> Result<Queue> {
    let waiting = storage
        .list_with_options(ListOptions::new().prefix(EVENT_PREFIX))
        .await?
        .size() as u64;
    let mut q = Queue::default();
    q.acc.add(waiting, now_ms(), 0);
    q.counters.accepted = waiting;
    Ok(q)
}

/// Accumulates one advertiser and region's events and delivers them in full batches.
#[durable_object]
pub struct Batcher {
    state: State,
    env: Env,
    /// Shared with the storage transactions, which write it as it is when they run.
    queue: Rc<RefCell<Option<Queue>>>,
    health: RefCell<Option<Health>>,
    pruned_at: RefCell<u64>,
    live: LiveRing,
}

impl DurableObject for Batcher {
    fn new(state: State, env: Env) -> Self {
        Batcher {
            state,
            env,
            queue: Rc::new(RefCell::new(None)),
            health: RefCell::new(None),
            pruned_at: RefCell::new(0),
            live: LiveRing::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Some(config) = object_config(&self.env, &self.state.storage(), Some(&req)).await?
        else {
            return Response::error("configuration_error", 500);
        };
        let limits = limits(&config);
        self.load().await?;
        let now = now_ms();
        match req.path().as_str() {
            "/enqueue" => {
                #[derive(Deserialize)]
                struct Enqueue {
                    events: Vec<String>,
                    #[serde(default)]
                    replayed: bool,
                }
                let body: Enqueue = req.json().await?;
                let n = body.events.len() as u64;
                if let Err(full) = self.with(|q| q.admit(n, now, &limits)) {
                    let mut r = Response::from_json(&json!({
                        "error": "backlog_full", "retryAfter": full.retry_after_secs
                    }))?
                    .with_status(503);
                    r.headers_mut()
                        .set("retry-after", &full.retry_after_secs.to_string())?;
                    return Ok(r);
                }
                let (seqs, snapshot) = self.with(|q| {
                    let seqs = q.enqueue(n, now, &limits);
                    if body.replayed {
                        q.replayed(n);
                    }
                    (seqs, q.clone())
                });
                let mut events: Vec<(String, String)> = seqs
                    .zip(body.events)
                    .map(|(seq, event)| (event_key(now, seq), event))
                    .collect();
                let list = events.iter().map(|(_, e)| e.as_str());
                let live = self
                    .live
                    .note(&self.state.storage(), |r| {
                        r.accepted(list, now, body.replayed)
                    })
                    .await?;
                events.extend(live);
                self.commit(events, Vec::new()).await?;
                self.schedule(&limits).await?;
                Response::from_json(&json!({ "pending": snapshot.pending() }))
            }
            "/flush" => {
                let snapshot = self.with(|q| {
                    q.flush();
                    q.clone()
                });
                self.commit(Vec::new(), Vec::new()).await?;
                self.schedule(&limits).await?;
                Response::from_json(
                    &json!({ "flushing": true, "notBefore": snapshot.acc.not_before }),
                )
            }
            "/resume" => {
                self.with(Queue::resume);
                self.commit(Vec::new(), Vec::new()).await?;
                self.schedule(&limits).await?;
                Response::from_json(&json!({ "resumed": true }))
            }
            "/live" => Response::from_json(&self.live.read(&self.state.storage(), 500).await?),
            _ => {
                let q = self.with(|q| q.clone());
                let health = self.health.borrow().clone().unwrap_or_default();
                Response::from_json(&json!({
                    "pending": q.pending(),
                    "notBefore": (q.acc.not_before > now).then_some(q.acc.not_before),
                    "nextAlarmAt": self.state.storage().get_alarm().await?,
                    "counters": q.counters,
                    "balanced": q.balanced(),
                    "health": health,
                }))
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Some(config) = object_config(&self.env, &self.state.storage(), None).await? {
            self.load().await?;
            self.deliver(&config).await?;
        }
        Response::ok("delivered")
    }
}

impl Batcher {
    /// Reads the queue and health from storage once per object lifetime.
    async fn load(&self) -> Result<()> {
        if self.queue.borrow().is_none() {
            let storage = self.state.storage();
            let q: Queue = match storage.get(QUEUE).await.ok().flatten() {
                Some(q) => q,
                None => upgrade(&storage).await?,
            };
            let h: Health = storage.get(HEALTH).await.ok().flatten().unwrap_or_default();
            let mut slot = self.queue.borrow_mut();
            if slot.is_none() {
                *slot = Some(q);
                *self.health.borrow_mut() = Some(h);
            }
        }
        Ok(())
    }

    fn with<R>(&self, f: impl FnOnce(&mut Queue) -> R) -> R {
        f(self.queue.borrow_mut().get_or_insert_with(Queue::default))
    }

    fn health(&self, f: impl FnOnce(&mut Health)) {
        f(self.health.borrow_mut().get_or_insert_with(Health::default));
    }

    /// Writes the queue with new events and the keys to delete, in one transaction.
    async fn commit(&self, put: Vec<(String, String)>, delete: Vec<String>) -> Result<()> {
        commit(&self.state.storage(), QUEUE, &self.queue, put, delete).await
    }

    /// Sets the alarm from the queue's one rule (never before a stored retry time), or
    /// sooner for a log record D1 has not taken yet.
    async fn schedule(&self, limits: &Limits) -> Result<()> {
        let now = now_ms();
        let storage = self.state.storage();
        let mut at = self.with(|q| q.next_alarm(now, limits));
        if !entries(&storage, LOG_PREFIX, 1).await?.is_empty() {
            let log_at = now + LOG_RETRY_MS;
            at = Some(at.map_or(log_at, |a| a.min(log_at)));
        }
        match at {
            Some(at) => alarm_at(&storage, at).await,
            None => storage.delete_alarm().await,
        }
    }

    /// Writes waiting log records to D1, oldest first; stops at the first failure.
    async fn write_logs(&self, config: &Config) -> Result<()> {
        let storage = self.state.storage();
        for (key, value) in entries(&storage, LOG_PREFIX, 50).await? {
            let Ok(record) = serde_json::from_str::<Record>(&value) else {
                storage.delete(&key).await?;
                continue;
            };
            if let Err(e) = log::write(&self.env, &record).await {
                console_error!("delivery log: D1 write failed, kept for the next run: {e}");
                return Ok(());
            }
            storage.delete(&key).await?;
        }
        let now = now_ms();
        if now.saturating_sub(*self.pruned_at.borrow()) >= PRUNE_EVERY_MS
            && log::prune(&self.env, config).await.is_ok()
        {
            *self.pruned_at.borrow_mut() = now;
        }
        Ok(())
    }

    async fn save_health(&self) -> Result<()> {
        let mut health = self.health.borrow().clone().unwrap_or_default();
        health.summarize(&self.env).await;
        self.state.storage().put(HEALTH, &health).await?;
        *self.health.borrow_mut() = Some(health);
        Ok(())
    }

    /// One alarm run: the log first, then batch after batch while Amazon takes them.
    async fn deliver(&self, config: &Config) -> Result<()> {
        let limits = limits(config);
        self.write_logs(config).await?;
        let now = now_ms();
        if self.with(|q| q.pending() == 0 || !q.may_send(now)) {
            return self.schedule(&limits).await;
        }
        let mut token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(e) => return self.token_failed(e, &limits).await,
        };
        self.health(|h| h.token_state = Some("ok".into()));
        let storage = self.state.storage();
        let items = entries(&storage, EVENT_PREFIX, READ_LIMIT).await?;
        let parse = http::multi_status_reader(config);
        let client_id = client_id(&self.env);
        for batch in events::batches(items, limits.batch_size) {
            let oldest = batch.first().map_or(now, |(k, _)| stamp_of(k));
            if !self.with(|q| q.batch_due(batch.len(), oldest, now_ms(), &limits)) {
                self.with(|q| q.wait_for(oldest, &limits));
                break;
            }
            let body = request_body(config, &batch);
            let mut refreshed = false;
            let (decision, status) = loop {
                let call = events_call(config, &auth(config, &token, &client_id), body.clone());
                let (status, retry_after, text) = http::send(call).await;
                let decision = self.with(|q| {
                    q.answered(
                        batch.len(),
                        status,
                        retry_after.as_deref(),
                        &text,
                        parse,
                        refreshed,
                        now_ms(),
                        &limits,
                        jitter(),
                    )
                });
                if !decision.refresh {
                    break (decision, status);
                }
                refreshed = true;
                match access_token(&self.env, config, true).await {
                    Ok(t) => token = t,
                    Err(e) => return self.token_failed(e, &limits).await,
                }
            };
            self.carry_out(config, &batch, &decision, status).await?;
            if decision.stop {
                break;
            }
        }
        self.with(Queue::run_done);
        self.commit(Vec::new(), Vec::new()).await?;
        self.write_logs(config).await?;
        self.save_health().await?;
        self.schedule(&limits).await
    }

    async fn token_failed(&self, e: TokenError, limits: &Limits) -> Result<()> {
        let now = now_ms();
        let (failure, code) = match e {
            TokenError::Reauthorize => (TokenFailure::Reauthorize, "invalid_grant".to_owned()),
            TokenError::Unavailable(code) => (TokenFailure::Unavailable, code),
        };
        self.with(|q| q.token_failed(failure, now, limits, jitter()));
        self.health(|h| {
            if failure == TokenFailure::Reauthorize {
                h.token_state = Some("reauthorization_needed".into());
            }
            h.last_error_code = Some(code);
            h.last_error_at = Some(iso_now());
        });
        self.commit(Vec::new(), Vec::new()).await?;
        self.save_health().await?;
        self.schedule(limits).await
    }

    /// Deletes what is settled and records the attempt for the log, in one transaction.
    async fn carry_out(
        &self,
        config: &Config,
        batch: &[(String, String)],
        d: &Decision,
        status: u16,
    ) -> Result<()> {
        let event_id = |i: usize| {
            batch
                .get(i)
                .and_then(|(_, e)| serde_json::from_str::<Value>(e).ok())
                .and_then(|e| e["eventId"].as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let mut delete: Vec<String> = Vec::new();
        let mut take = |i: usize| {
            if let Some((key, _)) = batch.get(i) {
                delete.push(key.clone());
            }
        };
        d.delivered.iter().for_each(|&i| take(i));
        d.rejected.iter().for_each(|e| take(e.index));
        d.dead.iter().for_each(|&i| take(i));
        let batch_id = random_uuid();
        let record = Record {
            integration: config.integration_id.clone(),
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            batch_id: batch_id.clone(),
            events: batch.len(),
            accepted: d.delivered.len(),
            failed: d.rejected.len() + d.dead.len(),
            status,
            outcome: d.outcome.to_owned(),
            code: d.code.clone(),
            rejected: d
                .rejected
                .iter()
                .map(|e| (event_id(e.index), e.code.clone(), e.field_location.clone()))
                .collect(),
            dead: d
                .dead
                .iter()
                .filter_map(|&i| batch.get(i).map(|(_, e)| e.clone()))
                .collect(),
        };
        self.health(|h| {
            if d.delivered.is_empty() && d.rejected.is_empty() {
                h.last_error_code.clone_from(&d.code);
                h.last_error_at = Some(iso_now());
            } else {
                h.last_success_at = Some(iso_now());
            }
        });
        let key = format!("{LOG_PREFIX}{:013}:{batch_id}", now_ms());
        let mut put = self
            .live
            .settle(&self.state.storage(), batch, d, now_ms())
            .await?;
        put.push((key, serde_json::to_string(&record)?));
        self.commit(put, delete).await
    }
}
