//! The `AudienceSync` Durable Object: one audience's pending membership changes (one per
//! person: the last intent), sent as AMC or Data Provider records, and cookies (visitor
//! ids) as Data Provider `/COOKIE-<id>/audiences` patches (no records upload). A thin
//! loop around [`Membership`], kept in memory and written with the changes it concerns in
//! one storage transaction; the alarm never moves earlier than a retry time Amazon asked
//! for. Every Data Provider call waits for its slot from the profile's `Limiter`.
//!
//! A chunk Amazon refuses for good is not deleted: its changes move, in the same storage
//! transaction that takes them out of the pending ones, to `dead:` entries, which are then
//! written to D1's dead letters (kind `audience`, Amazon's status and code) and forgotten
//! only once D1 has them. A too-large answer splits the chunk instead.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use matchkey::Country;
use matchkey::amazon::{self, audience as amazon_audience, cookie as amazon_cookie};

use super::amazon::{Reply, access_token, auth, client_id, send};
use super::limiter::paced;
use super::log::{self, DeadChange, Record};
use super::{
    Held, KEYS_PER_CALL, Machine, alarm_at, entries, iso_now, jitter, now_ms, object_config,
    random_uuid,
};
use crate::audience::read_cookie_change;
use crate::config::{AudienceApi, Config};
use crate::sync::{Chunk, Membership, chunk_size};

const STATE: &str = "meta:sync";
const MEMBER_PREFIX: &str = "m:";
const JOB_PREFIX: &str = "job:";
/// Refused changes on their way to D1's dead letters.
pub(super) const DEAD_PREFIX: &str = "dead:";
/// Staged dead letters written to D1 per batch.
const DEAD_PER_WRITE: usize = 500;
/// How soon to poll running AMC records jobs again.
const JOB_POLL_MS: u64 = 1_000;

impl Machine for Membership {
    fn flush(&mut self) {
        self.acc.force = true;
    }

    fn stats(&self) -> Value {
        super::stats(self.acc.pending, &self.counters, self.balanced())
    }
}

/// Keeps one audience's pending membership changes and sends them.
#[durable_object]
pub struct AudienceSync {
    state: State,
    env: Env,
    sync: Held<Membership>,
}

impl DurableObject for AudienceSync {
    fn new(state: State, env: Env) -> Self {
        AudienceSync {
            sync: Held::new(state.storage(), STATE),
            state,
            env,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Some(config) = object_config(&self.env, &self.state.storage(), Some(&req)).await?
        else {
            return Response::error("configuration_error", 500);
        };
        let storage = self.state.storage();
        self.sync.load(|| upgrade(&storage)).await?;
        match req.path().as_str() {
            "/members" => {
                // `name` and `country` are absent for the removals an erasure sends.
                #[derive(Deserialize)]
                struct Members {
                    name: Option<String>,
                    country: Option<String>,
                    changes: Vec<(String, String)>,
                }
                // Work is taken only for the target of what waits (`crate::target`).
                let pending = self.sync.with(|m| m.acc.pending);
                if let Some(refused) = super::pin_work(&storage, &req, &config, pending).await? {
                    return Ok(refused);
                }
                let body: Members = req.json().await?;
                let accepted = body.changes.len() as u64;
                // One key per person: a later add or remove replaces an earlier one (in
                // this request too), so only people not yet pending add to the backlog.
                let latest: BTreeMap<String, String> = body
                    .changes
                    .into_iter()
                    .map(|(id, record)| (format!("{MEMBER_PREFIX}{id}"), record))
                    .collect();
                let keys: Vec<String> = latest.keys().cloned().collect();
                let mut known = 0;
                for chunk in keys.chunks(KEYS_PER_CALL) {
                    known += storage.get_multiple(chunk.to_vec()).await?.size() as u64;
                }
                let new_people = keys.len() as u64 - known;
                // A pending cap per audience (`MAX_BACKLOG`): members requests beyond it
                // wait (503, Retry-After); an erasure's removals (no name) always pass.
                let pending = self.sync.stats()["pending"].as_u64().unwrap_or(0);
                if body.name.is_some() && pending + new_people > config.max_backlog {
                    let mut r =
                        Response::from_json(&serde_json::json!({ "error": "backlog_full" }))?
                            .with_status(503);
                    r.headers_mut()
                        .set("retry-after", &config.flush_seconds.max(1).to_string())?;
                    return Ok(r);
                }
                let now = now_ms();
                let flush_ms = config.flush_seconds * 1000;
                self.sync
                    .with(|m| m.joined(accepted, new_people, now, flush_ms));
                let mut put: Vec<(String, String)> = latest.into_iter().collect();
                if let Some(name) = body.name {
                    put.push(("meta:name".into(), name));
                }
                if let Some(country) = body.country {
                    put.push(("meta:country".into(), country));
                }
                self.sync.commit(put, Vec::new()).await?;
                self.schedule(&config).await?;
                Response::from_json(&json!({ "pending": self.sync.with(|m| m.acc.pending) }))
            }
            "/flush" => {
                self.sync.flush().await?;
                self.schedule(&config).await?;
                Response::from_json(&json!({ "flushing": true }))
            }
            _ => Response::from_json(&self.sync.stats()),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        if let Some(config) = object_config(&self.env, &storage, None).await? {
            self.sync.load(|| upgrade(&storage)).await?;
            self.sync(&config).await?;
        }
        Response::ok("synced")
    }
}

impl AudienceSync {
    /// The alarm from the shared due rule (never before a retry time), or soon while
    /// AMC jobs run.
    async fn schedule(&self, config: &Config) -> Result<()> {
        let now = now_ms();
        let storage = self.state.storage();
        let mut at = self.sync.with(|m| {
            m.acc
                .next_alarm(now, chunk_of(config, m), config.flush_seconds * 1000)
        });
        if !entries(&storage, JOB_PREFIX, 1).await?.is_empty() {
            let poll = now + JOB_POLL_MS;
            at = Some(at.map_or(poll, |a| a.min(poll)));
        }
        // Dead letters D1 did not take yet: try again in a minute.
        if !entries(&storage, DEAD_PREFIX, 1).await?.is_empty() {
            let again = now + crate::sync::TOKEN_WAIT_MS;
            at = Some(at.map_or(again, |a| a.min(again)));
        }
        match at {
            Some(at) => alarm_at(&storage, at).await,
            None => storage.delete_alarm().await,
        }
    }

    /// A log row's fields of this audience, for `outcome` (counts and status filled in
    /// by whoever writes it).
    fn record(&self, config: &Config, outcome: &str) -> Record {
        Record {
            integration: config.integration_id.clone(),
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            outcome: outcome.to_owned(),
            ..Record::default()
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
    ) {
        let record = Record {
            integration: config.integration_id.clone(),
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
    }

    /// Moves every pending change to the dead letters (`target_changed`), written under
    /// `pinned`, the target that accepted them: none is sent to the integration's new one.
    async fn target_changed(
        &self,
        config: &Config,
        pinned: Option<crate::target::Target>,
    ) -> Result<()> {
        let storage = self.state.storage();
        let audience = storage.get::<String>("meta:name").await.ok().flatten();
        loop {
            let chunk = entries(&storage, MEMBER_PREFIX, DEAD_PER_WRITE).await?;
            if chunk.is_empty() {
                break;
            }
            let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
            let put: Vec<(String, String)> = chunk
                .into_iter()
                .map(|(_, change)| {
                    let dead = DeadChange {
                        id: random_uuid(),
                        kind: "audience".into(),
                        audience: audience.clone(),
                        change,
                        status: 0,
                        code: crate::target::TARGET_CHANGED.into(),
                        target: pinned.clone(),
                    };
                    let value = serde_json::to_string(&dead).unwrap_or_default();
                    (format!("{DEAD_PREFIX}{}", dead.id), value)
                })
                .collect();
            self.sync.with(|m| m.target_changed(keys.len()));
            self.sync.commit(put, keys).await?;
            let mut base = self.record(config, "audience_dead_lettered");
            if let Some(p) = &pinned {
                base.advertiser.clone_from(&p.advertiser_id);
                base.region.clone_from(&p.region);
                base.target = Some(p.key());
            }
            flush_dead(&self.env, &storage, &base).await;
        }
        self.schedule(config).await
    }

    async fn sync(&self, config: &Config) -> Result<()> {
        let unit = config.backoff_base_ms;
        let storage = self.state.storage();
        flush_dead(
            &self.env,
            &storage,
            &self.record(config, "audience_dead_lettered"),
        )
        .await;
        // What waits was accepted for its pinned target: if the integration now points
        // elsewhere, it is dead-lettered under that target, never sent to the new one.
        let pinned = super::pinned_target(&storage).await;
        if !crate::target::deliverable(pinned.as_ref(), config) {
            return self.target_changed(config, pinned).await;
        }
        let token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(_) => {
                self.sync.with(|m| m.token_failed(now_ms()));
                self.sync.commit(Vec::new(), Vec::new()).await?;
                return self.schedule(config).await;
            }
        };
        let client_id = client_id(&self.env);
        self.follow_jobs(config, &auth(config, &token, &client_id))
            .await?;
        while self
            .sync
            .with(|m| m.acc.pending > 0 && m.acc.may_send(now_ms()))
        {
            let size = self.sync.with(|m| chunk_of(config, m));
            let chunk = entries(&storage, MEMBER_PREFIX, size).await?;
            if chunk.is_empty() || !self.sync.with(|m| m.chunk_due(chunk.len(), size, now_ms())) {
                break;
            }
            let Some(audience_id) = self
                .audience_id(config, &auth(config, &token, &client_id))
                .await?
            else {
                self.sync
                    .with(|m| m.create_failed(now_ms(), unit, jitter()));
                break;
            };
            // Cookies and hashed people wait together; each kind goes its own way, and
            // its answer is settled on its own.
            let (cookies, hashed): (Vec<_>, Vec<_>) = chunk.into_iter().partition(|(_, r)| {
                serde_json::from_str::<serde_json::Value>(r)
                    .ok()
                    .is_some_and(|v| read_cookie_change(&v).is_some())
            });
            let mut stop = false;
            for (part, cookie) in [(hashed, false), (cookies, true)] {
                if part.is_empty() {
                    continue;
                }
                let records: Vec<&str> = part.iter().map(|(_, r)| r.as_str()).collect();
                let auth = auth(config, &token, &client_id);
                let (status, retry_after, text) = if cookie {
                    send_cookies(&self.env, config, &auth, audience_id, &records).await
                } else {
                    send_chunk(&self.env, config, &auth, audience_id, &records).await
                };
                let outcome = self.sync.with(|m| {
                    m.answered(
                        records.len(),
                        status,
                        retry_after.as_deref(),
                        &text,
                        now_ms(),
                        unit,
                        jitter(),
                    )
                });
                let n = records.len();
                let (sent, failed, word, code) = match &outcome {
                    Chunk::Sent => (n, 0, "audience_submitted", None),
                    Chunk::DeadLetter { code, .. } => {
                        (0, n, "audience_dead_lettered", Some(code.as_str()))
                    }
                    // Kept, and sent again at once in smaller chunks.
                    Chunk::Split { .. } => (0, 0, "audience_split", Some("INPUT_TOO_LARGE")),
                    // Deleted on Amazon's side, or another environment's: created again on
                    // the next run, the changes kept.
                    Chunk::AudienceGone => (0, 0, "retry", Some("AUDIENCE_NOT_FOUND")),
                    Chunk::Retry { code, .. } => (0, 0, "retry", Some(code.as_str())),
                };
                let word = match (cookie, word) {
                    (true, "audience_submitted") => "audience_cookies_submitted",
                    (true, "audience_dead_lettered") => "audience_cookies_dead_lettered",
                    (_, word) => word,
                };
                // Dead letters get their row when D1 takes them (`flush_dead`).
                if !matches!(outcome, Chunk::DeadLetter { .. }) {
                    self.log(config, &random_uuid(), n, sent, failed, status, word, code)
                        .await;
                }
                let keys: Vec<String> = part.iter().map(|(k, _)| k.clone()).collect();
                match outcome {
                    Chunk::Sent => {
                        let mut put = Vec::new();
                        if config.audience_api == AudienceApi::Amc
                            && let Some(job) = amazon_audience::parse_job_id(&text)
                        {
                            put.push((format!("{JOB_PREFIX}{job}"), n.to_string()));
                        }
                        self.sync.commit(put, keys).await?;
                    }
                    Chunk::DeadLetter { status, code } => {
                        let audience = storage.get::<String>("meta:name").await.ok().flatten();
                        let put: Vec<(String, String)> = part
                            .iter()
                            .map(|(_, change)| {
                                let dead = DeadChange {
                                    id: random_uuid(),
                                    kind: "audience".into(),
                                    audience: audience.clone(),
                                    change: change.clone(),
                                    status,
                                    code: code.clone(),
                                    target: None,
                                };
                                let value = serde_json::to_string(&dead).unwrap_or_default();
                                (format!("{DEAD_PREFIX}{}", dead.id), value)
                            })
                            .collect();
                        self.sync.commit(put, keys).await?;
                        flush_dead(&self.env, &storage, &self.record(config, word)).await;
                    }
                    // The rest of this chunk waits for the next, smaller one.
                    Chunk::Split { .. } => stop = true,
                    Chunk::AudienceGone => stop = true,
                    Chunk::Retry { refresh, .. } => {
                        if refresh {
                            // The next run takes the fresh token from the cache.
                            let _ = access_token(&self.env, config, true).await;
                        }
                        stop = true;
                    }
                }
                if stop {
                    break;
                }
            }
            // A split sends again at once, smaller; anything else that stopped waits.
            if stop
                && !self
                    .sync
                    .with(|m| m.split.is_some() && m.acc.may_send(now_ms()))
            {
                break;
            }
        }
        self.sync
            .with(|m| m.acc.force = m.acc.force && m.acc.pending > 0);
        self.sync.commit(Vec::new(), Vec::new()).await?;
        self.schedule(config).await
    }

    /// The Amazon audience's id, created on first use.
    async fn audience_id(&self, config: &Config, auth: &amazon::Auth<'_>) -> Result<Option<u64>> {
        if let Some(id) = self.sync.with(|m| m.audience_id) {
            return Ok(Some(id));
        }
        let storage = self.state.storage();
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
        let (status, _, text) = match config.dp_profile() {
            Some(profile) => paced(&self.env, config, profile, call).await,
            None => send(call).await,
        };
        match amazon_audience::parse_audience_id(status, &text) {
            Some(id) => {
                self.sync.with(|m| m.audience_id = Some(id));
                self.sync.commit(Vec::new(), Vec::new()).await?;
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
                .await;
                Ok(None)
            }
        }
    }

    /// Polls the AMC records jobs still running; logs each one's end.
    async fn follow_jobs(&self, config: &Config, auth: &amazon::Auth<'_>) -> Result<()> {
        for (key, count) in entries(&self.state.storage(), JOB_PREFIX, 100).await? {
            let job = key.get(JOB_PREFIX.len()..).unwrap_or_default();
            let (status, _, text) = send(amazon_audience::amc_job(auth, job)).await;
            if let Some(amazon_audience::JobState::Done {
                status: done,
                failed,
            }) = amazon_audience::parse_job(status, &text)
            {
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
                .await;
                self.state.storage().delete(&key).await?;
            }
        }
        Ok(())
    }
}

/// The state of an object written by an earlier version (pending changes under `m:`,
/// the audience id under `meta:audience_id`, no counters): counted once, so that an
/// upgrade loses no pending change.
async fn upgrade(storage: &Storage) -> Result<Membership> {
    let mut m = Membership::default();
    let pending = storage
        .list_with_options(ListOptions::new().prefix(MEMBER_PREFIX))
        .await?
        .size() as u64;
    m.joined(pending, pending, now_ms(), 0);
    m.audience_id = storage
        .get::<String>("meta:audience_id")
        .await
        .ok()
        .flatten()
        .and_then(|s| s.parse().ok());
    Ok(m)
}

/// The chunk size for this audience now ([`chunk_size`]).
fn chunk_of(config: &Config, m: &Membership) -> usize {
    chunk_size(
        config.audience_batch,
        config.dp_profile().is_some(),
        m.split,
    )
}

/// Writes the staged dead letters under [`DEAD_PREFIX`] to D1, a batch at a time, each
/// batch with one log row (`base`'s outcome, Amazon's status and code of its first entry,
/// a batch id derived from that entry so a rewrite is a no-op), and forgets each batch
/// once D1 has it. A D1 failure leaves them for the next run.
pub(super) async fn flush_dead(env: &Env, storage: &Storage, base: &Record) {
    loop {
        let staged = match entries(storage, DEAD_PREFIX, DEAD_PER_WRITE).await {
            Ok(staged) if !staged.is_empty() => staged,
            Ok(_) => return,
            Err(e) => {
                console_error!("dead letters: storage read failed: {e}");
                return;
            }
        };
        let dead: Vec<DeadChange> = staged
            .iter()
            .filter_map(|(_, v)| serde_json::from_str(v).ok())
            .collect();
        let first = dead.first().cloned().unwrap_or_default();
        let record = Record {
            batch_id: format!("dead:{}", first.id),
            events: dead.len(),
            failed: dead.len(),
            status: first.status,
            code: Some(first.code.clone()),
            ..base.clone()
        };
        if let Err(e) = log::write_with(env, &record, &dead).await {
            console_error!("dead letters: D1 write failed: {e}");
            return;
        }
        let keys: Vec<String> = staged.into_iter().map(|(k, _)| k).collect();
        if let Err(e) = storage.delete_multiple(keys).await {
            console_error!("dead letters: storage delete failed: {e}");
            return;
        }
    }
}

/// Sends one chunk of serialized records through the configured audience API: the
/// answer of the first call that fails, else of the last one.
async fn send_chunk(
    env: &Env,
    config: &Config,
    auth: &amazon::Auth<'_>,
    audience_id: u64,
    records: &[&str],
) -> Reply {
    let calls = amazon_audience::send_records(config.audience_api(), auth, audience_id, records);
    send_all(env, config, calls).await
}

/// Sends cookie changes as `/COOKIE-<id>/audiences` patches (each body under 1 MB). Without
/// the Data Provider API there is nowhere to send them: refused for good, unsent.
async fn send_cookies(
    env: &Env,
    config: &Config,
    auth: &amazon::Auth<'_>,
    audience_id: u64,
    records: &[&str],
) -> Reply {
    let Some(profile) = config.dp_profile() else {
        return (
            400,
            None,
            r#"{"code":"COOKIE_NEEDS_DATA_PROVIDER_API"}"#.into(),
        );
    };
    let parsed: Vec<serde_json::Value> = records
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect();
    let changes = parsed.iter().filter_map(read_cookie_change);
    let calls = amazon_cookie::cookie_patches(auth, profile, audience_id, changes);
    if calls.is_empty() {
        // Nothing valid to send (ids are checked when taken, so not reached).
        return (400, None, r#"{"code":"INVALID_VISITOR_ID"}"#.into());
    }
    send_all(env, config, calls).await
}

/// Sends `calls` in order, each Data Provider call in its limiter's turn: the answer of
/// the first that fails, else of the last one.
async fn send_all(env: &Env, config: &Config, calls: Vec<amazon::ApiRequest>) -> Reply {
    let mut answer = (0, None, String::new());
    for call in calls {
        answer = match config.dp_profile() {
            Some(profile) => paced(env, config, profile, call).await,
            None => send(call).await,
        };
        if !(200..300).contains(&answer.0) {
            break;
        }
    }
    answer
}
