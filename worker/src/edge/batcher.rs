//! The `Batcher` Durable Object: one advertiser and region's queue. A thin loop around
//! [`Queue`]: it reads storage, asks the machine, and carries out what it decides. The
//! queue lives in memory (one copy for every request and the alarm, so an enqueue during
//! a delivery is never lost) and is written with each change in one storage
//! transaction, together with the events it concerns: an enqueue writes the request's
//! events as one chunk ([`crate::backlog`]), and delivery deletes or rewrites chunks.

use std::cell::{Cell, RefCell};

use matchkey::amazon::TokenError;
use matchkey::amazon::events;
use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use super::amazon::{self as http, access_token, auth, client_id, events_call, request_body};
use super::health::Health;
use super::live::LiveRing;
use super::log::{self, Record};
use super::{
    Held, Machine, alarm_at, entries, entries_with, iso_now, jitter, now_ms, object_config,
    pin_work, pinned_target, random_uuid,
};
use crate::backlog::{Backlog, CHUNK_PREFIX, EVENT_PREFIX, Slot, chunk_key, encode_chunk};
use crate::config::Config;
use crate::dedupe::{self, Seen, Verdict, Window};
use crate::queue::{Decision, Limits, Queue, TokenFailure};
use crate::shard::{self, Epochs, Observer, Shards, Tuning};
use crate::target::Target;

const QUEUE: &str = "meta:queue";
const HEALTH: &str = "meta:health";
/// Shard 0's epoch record (`SHARDS=auto`).
const EPOCHS: &str = "meta:epochs";
const LOG_PREFIX: &str = "log:";
/// Events read from storage per alarm run.
const READ_LIMIT: usize = 5000;
/// Chunks listed per storage call while reading a run's events.
const CHUNK_PAGE: usize = 256;
/// When D1 is down, try the log again after this long.
const LOG_RETRY_MS: u64 = 10_000;
const PRUNE_EVERY_MS: u64 = 3_600_000;

fn limits(config: &Config) -> Limits {
    Limits {
        batch_size: config.batch_size(),
        flush_ms: config.flush_seconds * 1000,
        retry_budget_ms: config.retry_budget(),
        max_backlog: config.max_backlog,
        backoff_unit_ms: config.backoff_base_ms,
    }
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

impl Machine for Queue {
    fn flush(&mut self) {
        Queue::flush(self);
    }

    fn stats(&self) -> Value {
        super::stats(self.pending(), &self.counters, self.balanced())
    }
}

/// Accumulates one advertiser and region's events and delivers them in full batches.
#[durable_object]
pub struct Batcher {
    state: State,
    env: Env,
    queue: Held<Queue>,
    health: RefCell<Option<Health>>,
    pruned_at: RefCell<u64>,
    live: LiveRing,
    /// The alarm as last set or deleted by this instance (`None`: not known), so that an
    /// enqueue that does not move it costs no storage call.
    alarm: Cell<Option<Option<u64>>>,
    /// Whether log records wait for D1 (`None`: not known yet), so that an enqueue does
    /// not list them.
    logs_waiting: Cell<Option<bool>>,
    /// Shard 0 under `SHARDS=auto`: its own traffic, and the epoch record it keeps.
    observer: RefCell<Observer>,
    epochs: RefCell<Option<Epochs>>,
    /// The ids accepted recently ([`crate::dedupe`]), read once per object lifetime.
    window: RefCell<Option<Window>>,
}

impl DurableObject for Batcher {
    fn new(state: State, env: Env) -> Self {
        Batcher {
            queue: Held::new(state.storage(), QUEUE),
            state,
            env,
            health: RefCell::new(None),
            pruned_at: RefCell::new(0),
            live: LiveRing::default(),
            alarm: Cell::new(None),
            logs_waiting: Cell::new(None),
            observer: RefCell::new(Observer::default()),
            epochs: RefCell::new(None),
            window: RefCell::new(None),
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
                    /// The events of the whole request these are part of (split over
                    /// the shards); absent from older isolates: these alone.
                    #[serde(default)]
                    of: u64,
                }
                // Work is taken only for the target of what waits (`crate::target`).
                let pending = self.queue.with(|q| q.pending());
                if let Some(refused) =
                    pin_work(&self.state.storage(), &req, &config, pending).await?
                {
                    return Ok(refused);
                }
                let body: Enqueue = req.json().await?;
                // Repeats of events accepted before are answered as accepted and not
                // queued again (a replayed dead letter is meant to go again).
                self.load_window(now).await?;
                let seen: Vec<Option<Seen>> = body.events.iter().map(|e| Seen::of(e)).collect();
                let verdicts = if body.replayed {
                    vec![Verdict::New; seen.len()]
                } else {
                    self.window
                        .borrow()
                        .as_ref()
                        .map_or_else(Vec::new, |w| w.judge(&seen))
                };
                let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count() as u64;
                let (repeats, unchecked) = (count(Verdict::Repeat), count(Verdict::Unchecked));
                let (events, queued): (Vec<String>, Vec<Option<Seen>>) = body
                    .events
                    .into_iter()
                    .zip(seen)
                    .zip(verdicts.iter().chain(std::iter::repeat(&Verdict::New)))
                    .filter(|(_, v)| **v != Verdict::Repeat)
                    .map(|(pair, _)| pair)
                    .unzip();
                let n = events.len() as u64;
                if let Err(full) = self.queue.with(|q| q.admit(n, now, &limits)) {
                    let mut r = Response::from_json(&json!({
                        "error": "backlog_full", "retryAfter": full.retry_after_secs
                    }))?
                    .with_status(503);
                    r.headers_mut()
                        .set("retry-after", &full.retry_after_secs.to_string())?;
                    return Ok(r);
                }
                let (seqs, snapshot) = self.queue.with(|q| {
                    let seqs = q.enqueue(n, now, &limits);
                    if body.replayed {
                        q.replayed(n);
                    }
                    q.deduped(repeats, unchecked);
                    (seqs, q.clone())
                });
                // The request's events are one storage value: one write, whatever their
                // number (none: no chunk, which nothing would ever settle). The live ring
                // rides along when its write is due, and so do the window's pages (no
                // other request runs between here and the commit: only storage calls
                // are awaited, and they hold the object's input gate).
                let mut put: Vec<(String, String)> = (!events.is_empty())
                    .then(|| (chunk_key(now, seqs.start), encode_chunk(&events)))
                    .into_iter()
                    .collect();
                let mut delete = Vec::new();
                if let Some(w) = self.window.borrow_mut().as_mut() {
                    let writes = w.insert(queued.iter().flatten().map(|s| s.id), now);
                    put.extend(writes.put);
                    delete = writes.delete;
                }
                let live = self
                    .live
                    .note(&self.state.storage(), now, |r| {
                        r.accepted(events.iter().map(String::as_str), now, body.replayed);
                    })
                    .await?;
                put.extend(live);
                self.queue.commit(put, delete).await?;
                self.schedule(&limits).await?;
                if config.shards == Shards::Auto && shard_param(&req)? == 0 {
                    self.observe(n, body.of, now, &limits, &config.shard_tuning)
                        .await?;
                }
                Response::from_json(&json!({ "pending": snapshot.pending(), "repeats": repeats }))
            }
            "/flush" => {
                let snapshot = self.queue.flush().await?;
                self.schedule(&limits).await?;
                Response::from_json(
                    &json!({ "flushing": true, "notBefore": snapshot.acc.not_before }),
                )
            }
            "/epochs" => Response::from_json(&self.epochs().await?),
            "/resume" => {
                self.queue.with(Queue::resume);
                self.queue.commit(Vec::new(), Vec::new()).await?;
                self.schedule(&limits).await?;
                Response::from_json(&json!({ "resumed": true }))
            }
            "/live" => Response::from_json(&self.live.read(&self.state.storage(), 500).await?),
            _ => {
                let mut stats = self.queue.stats();
                let not_before = self.queue.with(|q| q.acc.not_before);
                stats["notBefore"] = json!((not_before > now).then_some(not_before));
                stats["nextAlarmAt"] = json!(self.state.storage().get_alarm().await?);
                stats["health"] = json!(self.health.borrow().clone().unwrap_or_default());
                Response::from_json(&stats)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // The alarm that fired is gone; whatever this run sets is remembered afresh.
        self.alarm.set(None);
        if let Some(config) = object_config(&self.env, &self.state.storage(), None).await? {
            self.load().await?;
            self.deliver(&config).await?;
        } else {
            // No configuration for what this object holds (the default integration with
            // ADVERTISER_ID emptied, say): say so, keep everything, and look again in
            // an hour, so that the events leave once the setting is back.
            self.load().await?;
            let pending = self.queue.with(|q| q.pending());
            if pending > 0 {
                let pinned = pinned_target(&self.state.storage()).await;
                console_error!(
                    "configuration: {pending} events wait for advertiser {} ({}) whose integration has no configuration now (the default integration needs ADVERTISER_ID and REGION); they are kept",
                    pinned.as_ref().map_or("?", |t| t.advertiser_id.as_str()),
                    pinned.as_ref().map_or("?", |t| t.region.as_str())
                );
                alarm_at(&self.state.storage(), now_ms() + 3_600_000).await?;
            }
        }
        Response::ok("delivered")
    }
}

impl Batcher {
    /// Reads the queue and health from storage once per object lifetime.
    async fn load(&self) -> Result<()> {
        let storage = self.state.storage();
        self.queue.load(|| upgrade(&storage)).await?;
        if self.health.borrow().is_none() {
            let h: Health = storage.get(HEALTH).await.ok().flatten().unwrap_or_default();
            self.health.borrow_mut().get_or_insert(h);
        }
        Ok(())
    }

    /// Reads the window of accepted ids from storage once per object lifetime.
    async fn load_window(&self, now: u64) -> Result<()> {
        if self.window.borrow().is_some() {
            return Ok(());
        }
        let storage = self.state.storage();
        let mut stored: Vec<(String, String)> = Vec::new();
        loop {
            let start = stored.last().map(|(k, _)| format!("{k}\u{0}"));
            let mut options = ListOptions::new().prefix(dedupe::PREFIX).limit(CHUNK_PAGE);
            if let Some(start) = &start {
                options = options.start(start);
            }
            let page = entries_with(&storage, options).await?;
            let full = page.len() == CHUNK_PAGE;
            stored.extend(page);
            if !full {
                break;
            }
        }
        // An object that never accepted an event cannot have accepted one before its window.
        let never = self.queue.with(|q| q.seq == 0 && q.counters.accepted == 0);
        let start = if never { 0 } else { now };
        let window = Window::load(stored, start, dedupe::Bounds::default());
        // A request that interleaved may have loaded it meanwhile: that copy stays.
        self.window.borrow_mut().get_or_insert(window);
        Ok(())
    }

    fn health(&self, f: impl FnOnce(&mut Health)) {
        f(self.health.borrow_mut().get_or_insert_with(Health::default));
    }

    /// Sets the alarm from the queue's one rule (never before a stored retry time), or
    /// sooner for a log record D1 has not taken yet.
    async fn schedule(&self, limits: &Limits) -> Result<()> {
        let now = now_ms();
        let storage = self.state.storage();
        let mut at = self.queue.with(|q| q.next_alarm(now, limits));
        let logs_waiting = match self.logs_waiting.get() {
            Some(known) => known,
            None => {
                let waiting = !entries(&storage, LOG_PREFIX, 1).await?.is_empty();
                self.logs_waiting.set(Some(waiting));
                waiting
            }
        };
        if logs_waiting {
            let log_at = now + LOG_RETRY_MS;
            // An alarm already set sooner than that serves the log too.
            let log_at = match self.alarm.get() {
                Some(Some(set)) if set <= log_at && set > now => set,
                _ => log_at,
            };
            at = Some(at.map_or(log_at, |a| a.min(log_at)));
        }
        if self.alarm.get() == Some(at) {
            return Ok(());
        }
        match at {
            Some(at) => alarm_at(&storage, at).await?,
            None => storage.delete_alarm().await?,
        }
        self.alarm.set(Some(at));
        Ok(())
    }

    /// Writes waiting log records to D1, oldest first; stops at the first failure.
    async fn write_logs(&self, config: &Config) -> Result<()> {
        let storage = self.state.storage();
        let waiting = entries(&storage, LOG_PREFIX, 50).await?;
        let all = waiting.len() < 50;
        for (key, value) in waiting {
            let Ok(record) = serde_json::from_str::<Record>(&value) else {
                storage.delete(&key).await?;
                continue;
            };
            if let Err(e) = log::write(&self.env, &record).await {
                console_error!("delivery log: D1 write failed, kept for the next run: {e}");
                self.logs_waiting.set(Some(true));
                return Ok(());
            }
            storage.delete(&key).await?;
        }
        self.logs_waiting.set(if all { Some(false) } else { None });
        let now = now_ms();
        if now.saturating_sub(*self.pruned_at.borrow()) >= PRUNE_EVERY_MS
            && log::prune(&self.env, config).await.is_ok()
        {
            *self.pruned_at.borrow_mut() = now;
        }
        Ok(())
    }

    async fn save_health(&self, config: &Config) -> Result<()> {
        let mut health = self.health.borrow().clone().unwrap_or_default();
        health.summarize(&self.env, &config.integration_id).await;
        self.state.storage().put(HEALTH, &health).await?;
        *self.health.borrow_mut() = Some(health);
        Ok(())
    }

    /// One alarm run: the log first, then batch after batch while Amazon takes them.
    async fn deliver(&self, config: &Config) -> Result<()> {
        let limits = limits(config);
        self.write_logs(config).await?;
        let now = now_ms();
        if self.queue.with(|q| q.pending() == 0 || !q.may_send(now)) {
            return self.schedule(&limits).await;
        }
        // What waits was accepted for its pinned target: if the integration now points
        // elsewhere, it is dead-lettered under that target, never sent to the new one.
        let pinned = pinned_target(&self.state.storage()).await;
        if !crate::target::deliverable(pinned.as_ref(), config) {
            return self.refuse_all(config, pinned.as_ref(), &limits).await;
        }
        let mut token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(e) => return self.token_failed(config, e, &limits).await,
        };
        self.health(|h| h.token_state = Some("ok".into()));
        let mut backlog = self.read_backlog().await?;
        let parse = http::multi_status_reader(config);
        let client_id = client_id(&self.env);
        for batch in events::batches(backlog.items(READ_LIMIT), limits.batch_size) {
            let oldest = batch.first().map_or(now, |(slot, _)| backlog.stamp(*slot));
            if !self
                .queue
                .with(|q| q.batch_due(batch.len(), oldest, now_ms(), &limits))
            {
                self.queue.with(|q| q.wait_for(oldest, &limits));
                break;
            }
            let body = request_body(config, &batch);
            let mut refreshed = false;
            let (decision, status) = loop {
                let call = events_call(config, &auth(config, &token, &client_id), body.clone());
                let (status, retry_after, text) = http::send(call).await;
                let decision = self.queue.with(|q| {
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
                    Err(e) => return self.token_failed(config, e, &limits).await,
                }
            };
            self.carry_out(config, None, &mut backlog, &batch, &decision, status)
                .await?;
            if decision.stop {
                break;
            }
        }
        self.queue.with(Queue::run_done);
        self.queue.commit(Vec::new(), Vec::new()).await?;
        self.write_logs(config).await?;
        self.save_health(config).await?;
        self.schedule(&limits).await
    }

    /// Dead-letters what waits (up to a run's read) as `target_changed`, logged and
    /// written under the target it was accepted for.
    async fn refuse_all(
        &self,
        config: &Config,
        pinned: Option<&Target>,
        limits: &Limits,
    ) -> Result<()> {
        let mut labels = config.clone();
        if let Some(p) = pinned {
            labels.advertiser_id.clone_from(&p.advertiser_id);
            labels.region = crate::config::Region::parse(&p.region).unwrap_or(labels.region);
            labels.connection_id.clone_from(&p.connection_id);
        }
        let mut backlog = self.read_backlog().await?;
        for batch in events::batches(backlog.items(READ_LIMIT), limits.batch_size) {
            let decision = self
                .queue
                .with(|q| q.refuse(batch.len(), crate::target::TARGET_CHANGED));
            self.carry_out(&labels, pinned, &mut backlog, &batch, &decision, 0)
                .await?;
        }
        self.queue.with(Queue::run_done);
        self.queue.commit(Vec::new(), Vec::new()).await?;
        self.write_logs(config).await?;
        self.schedule(limits).await
    }

    /// Shard 0's epoch record (one epoch of one shard when none was announced).
    async fn epochs(&self) -> Result<Epochs> {
        if let Some(e) = self.epochs.borrow().clone() {
            return Ok(e);
        }
        let e: Epochs = self
            .state
            .storage()
            .get(EPOCHS)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        *self.epochs.borrow_mut() = Some(e.clone());
        Ok(e)
    }

    /// Shard 0 under `auto`: counts an enqueue of `n` events of a request of `of`; when a
    /// window closes, decides the next epoch's shards ([`shard::observe`]) and stores the
    /// record.
    async fn observe(
        &self,
        n: u64,
        of: u64,
        now: u64,
        limits: &Limits,
        tuning: &Tuning,
    ) -> Result<()> {
        let mut e = self.epochs().await?;
        let Some(traffic) =
            self.observer
                .borrow_mut()
                .record(n, of, now, e.n_at(now), tuning.window_ms)
        else {
            return Ok(());
        };
        if shard::observe(
            &mut e,
            traffic,
            now,
            limits.flush_ms,
            limits.batch_size,
            tuning,
        ) {
            self.state.storage().put(EPOCHS, &e).await?;
            console_log!("shards: {:?}", e.epochs.last());
            *self.epochs.borrow_mut() = Some(e);
        }
        Ok(())
    }

    /// About [`READ_LIMIT`] of the oldest waiting events, in both storage forms: the
    /// per-event keys of earlier versions and chunks (listed a page at a time, so a
    /// backlog of large chunks is not read whole).
    async fn read_backlog(&self) -> Result<Backlog> {
        let storage = self.state.storage();
        let legacy = entries(&storage, EVENT_PREFIX, READ_LIMIT).await?;
        let mut events = legacy.len();
        let mut chunks: Vec<(String, String)> = Vec::new();
        while events < READ_LIMIT {
            let start = chunks.last().map(|(k, _)| format!("{k}\u{0}"));
            let mut options = ListOptions::new().prefix(CHUNK_PREFIX).limit(CHUNK_PAGE);
            if let Some(start) = &start {
                options = options.start(start);
            }
            let page = entries_with(&storage, options).await?;
            let full = page.len() == CHUNK_PAGE;
            for (key, value) in page {
                // A cheap count: one comma-separated string per event.
                events += value.matches("\",\"").count() + 1;
                chunks.push((key, value));
            }
            if !full {
                break;
            }
        }
        Ok(Backlog::from_listing(legacy, chunks))
    }

    async fn token_failed(&self, config: &Config, e: TokenError, limits: &Limits) -> Result<()> {
        let now = now_ms();
        let (failure, code) = match e {
            TokenError::Reauthorize => (TokenFailure::Reauthorize, "invalid_grant".to_owned()),
            TokenError::Unavailable(code) => (TokenFailure::Unavailable, code),
        };
        self.queue
            .with(|q| q.token_failed(failure, now, limits, jitter()));
        self.health(|h| {
            if failure == TokenFailure::Reauthorize {
                h.token_state = Some("reauthorization_needed".into());
            }
            h.last_error_code = Some(code);
            h.last_error_at = Some(iso_now());
        });
        self.queue.commit(Vec::new(), Vec::new()).await?;
        self.save_health(config).await?;
        self.schedule(limits).await
    }

    /// Deletes what is settled and records the attempt for the log, in one transaction.
    async fn carry_out(
        &self,
        config: &Config,
        pinned: Option<&Target>,
        backlog: &mut Backlog,
        batch: &[(Slot, String)],
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
        let settled = d
            .delivered
            .iter()
            .chain(d.rejected.iter().map(|e| &e.index))
            .chain(d.dead.iter())
            .filter_map(|&i| batch.get(i).map(|(slot, _)| *slot));
        let writes = backlog.settle(settled);
        let batch_id = random_uuid();
        let record = Record {
            integration: config.integration_id.clone(),
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            target: Some(pinned.map_or_else(|| Target::of(config).key(), Target::key)),
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
        let mut put = writes.put;
        put.extend(
            self.live
                .settle(&self.state.storage(), batch, d, now_ms())
                .await?,
        );
        put.push((key, serde_json::to_string(&record)?));
        self.logs_waiting.set(Some(true));
        self.queue.commit(put, writes.delete).await
    }
}

/// The shard a request names (`?shard=`; 0 without).
fn shard_param(req: &Request) -> Result<u32> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "shard")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0))
}
