//! `POST /v1/erasure` and the `Erasure` Durable Object (one per integration): people to
//! erase at Amazon (a cookie, or the external user id of a hashed identity) wait one per
//! person ([`Erasures`]) and go in batches as `PATCH /v2/dp/users`, each call in the
//! profile's `Limiter` turn (one call a second, Amazon's documented rate), with the retry
//! rules of the audience path. The delivery log gets counts and Amazon's status only, never
//! an id. An erasure has legal weight, so none is ever dropped: a refusal (a 4xx other than
//! 413 and 429) moves it to D1's dead letters (kind `erasure`, with Amazon's status and
//! code; the row holds the person's pseudonymous id, for sending it again), a too-large
//! answer splits the call, 429 and 5xx retry.

use serde::Deserialize;
use serde_json::{Value, json};
use worker::*;

use matchkey::amazon::cookie::{self as amazon_cookie, ErasedUser};

use super::amazon::{access_token, auth, client_id};
use super::api::json_body;
use super::audience::{DEAD_PREFIX, flush_dead};
use super::limiter::paced;
use super::log::{self, DeadChange, Record};
use super::{
    Answer, Held, KEYS_PER_CALL, Machine, RelayError, alarm_at, audience_sync, auth as caller_auth,
    durable, entries, iso_now, jitter, now_ms, object_config, object_name, random_uuid,
};
use crate::audience::{COOKIE_KEY, cookie_change};
use crate::config::Config;
use crate::erasure;
use crate::ingest::{self, Problem};
use crate::sync::{Chunk, Erasures};
use matchkey::amazon::audience::Action;

const ERASURES: &str = "ERASURES";
const STATE: &str = "meta:erasures";
const PREFIX: &str = "e:";

/// `POST /v1/erasure`: a server's visitor ids and identities, or a browser's own visitor id.
pub(super) async fn erase(req: &mut Request, env: &Env, vars: &Config) -> Answer {
    let (caller, config) = caller_auth::caller(req, env, vars).await?;
    let body = json_body(req).await?;
    let ctx = ingest::Context::bodiless(caller);
    let (people, rejected): (Vec<ErasedUser>, Vec<Problem>) =
        erasure::erasures(&body, &ctx, &config)
            .map_err(|code| RelayError::Status(erasure::status(code), code))?;
    if !people.is_empty() {
        let keys: Vec<String> = people.iter().map(ErasedUser::key).collect();
        let answer = object(
            env,
            &config,
            "/erase",
            Some(json!({ "users": keys }).to_string()),
        )
        .await?;
        // Its 503 (the integration changed, or what waits is for another target) is
        // ours, with its Retry-After: the caller asks again.
        super::enqueue_answer(&answer)?;
        withdraw(env, &config, &people).await?;
    }
    let answer = json!({ "accepted": people.len(), "rejected": rejected });
    Ok(Response::from_json(&answer)?.with_status(202))
}

/// An erased cookie's last intent in every cookie audience of `BROWSER_AUDIENCES` becomes
/// a removal, so that an add still waiting there cannot put the visitor back after the
/// erasure. (Audiences only servers fill are not known here: their servers remove.)
async fn withdraw(
    env: &Env,
    config: &Config,
    people: &[ErasedUser],
) -> std::result::Result<(), RelayError> {
    let changes: Vec<Value> = people
        .iter()
        .filter_map(|p| match p {
            ErasedUser::Cookie(id) => Some(json!([
                format!("{COOKIE_KEY}{id}"),
                cookie_change(id, Action::Remove).to_string()
            ])),
            ErasedUser::External(_) => None,
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let body = json!({ "changes": changes }).to_string();
    for name in &config.audiences {
        if config.match_method(name).cookies() {
            let answer = audience_sync(env, config, name, "/members", Some(body.clone())).await?;
            super::enqueue_answer(&answer)?;
        }
    }
    Ok(())
}

/// `GET /v1/erasure` (admin): the integration's erasure accounting.
pub(super) async fn stats(env: &Env, config: &Config) -> Answer {
    let stats: Value = object(env, config, "/stats", None).await?.json().await?;
    Ok(Response::from_json(&stats)?)
}

/// `POST /v1/flush` (admin): the integration's pending erasures go now.
pub(super) async fn flush(env: &Env, config: &Config) -> Result<()> {
    object(env, config, "/flush", Some(String::new())).await?;
    Ok(())
}

async fn object(env: &Env, config: &Config, path: &str, body: Option<String>) -> Result<Response> {
    let path = format!(
        "{path}?integration={}&target={}",
        config.integration_id,
        crate::target::Target::of(config).key()
    );
    durable(env, ERASURES, &object_name(config, "erasure"), &path, body).await
}

impl Machine for Erasures {
    fn flush(&mut self) {
        self.acc.force = true;
    }

    fn stats(&self) -> Value {
        super::stats(self.acc.pending, &self.counters, self.balanced())
    }
}

/// Keeps one integration's pending erasures and sends them.
#[durable_object]
pub struct Erasure {
    state: State,
    env: Env,
    erasures: Held<Erasures>,
}

impl DurableObject for Erasure {
    fn new(state: State, env: Env) -> Self {
        Erasure {
            erasures: Held::new(state.storage(), STATE),
            state,
            env,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Some(config) = object_config(&self.env, &self.state.storage(), Some(&req)).await?
        else {
            return Response::error("configuration_error", 500);
        };
        self.load().await?;
        match req.path().as_str() {
            "/erase" => {
                #[derive(Deserialize)]
                struct Erase {
                    users: Vec<String>,
                }
                // Work is taken only for the target of what waits (`crate::target`).
                let pending = self.erasures.with(|e| e.acc.pending);
                if let Some(refused) =
                    super::pin_work(&self.state.storage(), &req, &config, pending).await?
                {
                    return Ok(refused);
                }
                let body: Erase = req.json().await?;
                let accepted = body.users.len() as u64;
                let mut keys: Vec<String> = body
                    .users
                    .iter()
                    .filter(|k| ErasedUser::from_key(k).is_some())
                    .map(|k| format!("{PREFIX}{k}"))
                    .collect();
                keys.sort();
                keys.dedup();
                let mut known = 0;
                for chunk in keys.chunks(KEYS_PER_CALL) {
                    known += self
                        .state
                        .storage()
                        .get_multiple(chunk.to_vec())
                        .await?
                        .size() as u64;
                }
                let new_people = keys.len() as u64 - known;
                let flush_ms = config.flush_seconds * 1000;
                self.erasures
                    .with(|e| e.joined(accepted, new_people, now_ms(), flush_ms));
                // The value is when the person asked (the erasure's `consentTime`).
                let asked = now_ms().to_string();
                let put = keys.into_iter().map(|k| (k, asked.clone())).collect();
                self.erasures.commit(put, Vec::new()).await?;
                self.schedule(&config).await?;
                Response::from_json(&json!({ "pending": self.erasures.with(|e| e.acc.pending) }))
            }
            "/flush" => {
                self.erasures.flush().await?;
                self.schedule(&config).await?;
                Response::from_json(&json!({ "flushing": true }))
            }
            _ => Response::from_json(&self.erasures.stats()),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Some(config) = object_config(&self.env, &self.state.storage(), None).await? {
            self.load().await?;
            self.sync(&config).await?;
        }
        Response::ok("erased")
    }
}

impl Erasure {
    /// Reads the erasures once per object lifetime (none yet: an empty state).
    async fn load(&self) -> Result<()> {
        self.erasures
            .load(|| async { Ok(Erasures::default()) })
            .await
    }

    async fn schedule(&self, config: &Config) -> Result<()> {
        let storage = self.state.storage();
        let now = now_ms();
        let mut at = self.erasures.with(|e| {
            e.acc
                .next_alarm(now, e.chunk_size(), config.flush_seconds * 1000)
        });
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

    /// One row of the delivery log: counts and Amazon's status, never an id.
    #[allow(clippy::too_many_arguments)] // One row of the log, column by column.
    async fn log(
        &self,
        config: &Config,
        people: usize,
        sent: u64,
        rejected: u64,
        status: u16,
        outcome: &str,
        code: Option<&str>,
    ) {
        let record = Record {
            integration: config.integration_id.clone(),
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            batch_id: random_uuid(),
            events: people,
            accepted: sent as usize,
            failed: rejected as usize,
            status,
            outcome: outcome.to_owned(),
            code: code.map(str::to_owned),
            ..Record::default()
        };
        if let Err(e) = log::write(&self.env, &record).await {
            console_error!("delivery log: D1 write failed: {e}");
        }
    }

    async fn sync(&self, config: &Config) -> Result<()> {
        let unit = config.backoff_base_ms;
        let storage = self.state.storage();
        let base = Record {
            integration: config.integration_id.clone(),
            at: iso_now(),
            advertiser: config.advertiser_id.clone(),
            region: config.region.as_str().to_owned(),
            outcome: "erasure_dead_lettered".into(),
            ..Record::default()
        };
        flush_dead(&self.env, &storage, &base).await;
        // What waits was accepted for its pinned target: if the integration now points
        // elsewhere, it is dead-lettered under that target, never sent to the new one.
        let pinned = super::pinned_target(&storage).await;
        if !crate::target::deliverable(pinned.as_ref(), config) {
            loop {
                let chunk = entries(&storage, PREFIX, DEAD_PER_RUN).await?;
                if chunk.is_empty() {
                    break;
                }
                let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
                let put = chunk
                    .iter()
                    .map(|(k, asked)| {
                        dead_erasure(k, asked, 0, crate::target::TARGET_CHANGED, pinned.clone())
                    })
                    .collect();
                self.erasures.with(|e| e.target_changed(keys.len()));
                self.erasures.commit(put, keys).await?;
                let mut base = base.clone();
                if let Some(p) = &pinned {
                    base.advertiser.clone_from(&p.advertiser_id);
                    base.region.clone_from(&p.region);
                    base.target = Some(p.key());
                }
                flush_dead(&self.env, &storage, &base).await;
            }
            return self.schedule(config).await;
        }
        let (Some(profile), Some(advertiser)) = (config.dp_profile(), config.amc_advertiser_id)
        else {
            // The integration lost its Data Provider settings: keep the erasures, hold.
            self.erasures
                .with(|e| e.acc.hold_until(now_ms() + crate::sync::TOKEN_WAIT_MS));
            self.erasures.commit(Vec::new(), Vec::new()).await?;
            return self.schedule(config).await;
        };
        let token = match access_token(&self.env, config, false).await {
            Ok(t) => t,
            Err(_) => {
                self.erasures
                    .with(|e| e.acc.hold_until(now_ms() + crate::sync::TOKEN_WAIT_MS));
                self.erasures.commit(Vec::new(), Vec::new()).await?;
                return self.schedule(config).await;
            }
        };
        let client_id = client_id(&self.env);
        while self
            .erasures
            .with(|e| e.acc.pending > 0 && e.acc.may_send(now_ms()))
        {
            let size = self.erasures.with(|e| e.chunk_size());
            let chunk = entries(&storage, PREFIX, size).await?;
            if chunk.is_empty() || !self.erasures.with(|e| e.chunk_due(chunk.len(), now_ms())) {
                break;
            }
            let now = now_ms();
            let users: Vec<(ErasedUser, u64)> = chunk
                .iter()
                .filter_map(|(k, asked)| {
                    let user = ErasedUser::from_key(k.get(PREFIX.len()..)?)?;
                    // Erasures queued before this version hold "1": asked now, then.
                    let asked = asked.parse::<u64>().ok().filter(|&t| t > 1).unwrap_or(now);
                    Some((user, asked))
                })
                .collect();
            let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
            let n = keys.len();
            let auth = auth(config, &token, &client_id);
            // One call: the chunk is within the core's limits (1,000 users, 1 MB).
            let mut answer = (202, None, "{}".to_owned());
            for call in amazon_cookie::erasures(
                &auth,
                profile,
                advertiser,
                users.iter().map(|(u, t)| (u, *t)),
            ) {
                answer = paced(&self.env, config, profile, call).await;
                if !(200..300).contains(&answer.0) {
                    break;
                }
            }
            let (status, retry_after, text) = answer;
            let outcome = self.erasures.with(|e| {
                e.answered(
                    n,
                    status,
                    retry_after.as_deref(),
                    &text,
                    now_ms(),
                    unit,
                    jitter(),
                )
            });
            match outcome {
                Chunk::Sent => {
                    self.log(config, n, n as u64, 0, status, "erasure_submitted", None)
                        .await;
                    self.erasures.commit(Vec::new(), keys).await?;
                }
                Chunk::DeadLetter { status, code } => {
                    let put: Vec<(String, String)> = chunk
                        .iter()
                        .map(|(k, asked)| dead_erasure(k, asked, status, &code, None))
                        .collect();
                    self.erasures.commit(put, keys).await?;
                    flush_dead(&self.env, &storage, &base).await;
                }
                Chunk::Split { .. } => {
                    self.log(
                        config,
                        n,
                        0,
                        0,
                        status,
                        "erasure_split",
                        Some("INPUT_TOO_LARGE"),
                    )
                    .await;
                }
                Chunk::AudienceGone => break,
                Chunk::Retry { code, refresh } => {
                    self.log(config, n, 0, 0, status, "retry", Some(&code))
                        .await;
                    if refresh {
                        let _ = access_token(&self.env, config, true).await;
                    }
                    break;
                }
            }
        }
        self.erasures
            .with(|e| e.acc.force = e.acc.force && e.acc.pending > 0);
        self.erasures.commit(Vec::new(), Vec::new()).await?;
        self.schedule(config).await
    }
}

/// Erasures moved to the dead letters per storage transaction when their target changed.
const DEAD_PER_RUN: usize = 500;

/// The staged dead letter (key and value under [`DEAD_PREFIX`]) of the pending erasure
/// `key` (asked at `asked`), refused with `status` and `code`; `target` when it is kept
/// under the target that accepted it rather than the integration's present one.
fn dead_erasure(
    key: &str,
    asked: &str,
    status: u16,
    code: &str,
    target: Option<crate::target::Target>,
) -> (String, String) {
    let dead = DeadChange {
        id: random_uuid(),
        kind: "erasure".into(),
        audience: None,
        change: json!({
            "user": key.get(PREFIX.len()..).unwrap_or_default(),
            "askedAt": asked,
        })
        .to_string(),
        status,
        code: code.to_owned(),
        target,
    };
    let value = serde_json::to_string(&dead).unwrap_or_default();
    (format!("{DEAD_PREFIX}{}", dead.id), value)
}
