//! The `Limiter` Durable Object: one per Data Provider profile and operation, it hands out
//! send slots ([`Pacer`]) so that every `AudienceSync` and `Erasure` object together stays
//! under the operation's documented rate (the core's `RATES`: 100 a second for patches, 1
//! for audience creation and for erasures), and under `DP_REQUESTS_PER_SECOND`. Its state is only the next free slot,
//! kept in memory: an object evicted after a second of quiet has nothing to remember.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::json;
use worker::*;

use super::amazon::{Reply, send};
use super::{durable, now_ms};
use crate::config::Config;
use crate::sync::{MAX_SLOT_WAIT_MS, Pacer, pace};
use matchkey::amazon::audience::DpOperation;

const LIMITER: &str = "LIMITER";

/// Hands out one profile's Data Provider send slots.
#[durable_object]
pub struct Limiter {
    pacer: RefCell<Pacer>,
}

impl DurableObject for Limiter {
    fn new(_state: State, _env: Env) -> Self {
        Limiter {
            pacer: RefCell::new(Pacer::default()),
        }
    }

    /// `POST /take?rate=R`: `{"waitMs", "spacingMs"}` for the next slot.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let rate = req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "rate")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(90);
        let (wait, spacing) = self.pacer.borrow_mut().take(now_ms(), 1, rate);
        Response::from_json(&json!({ "waitMs": wait, "spacingMs": spacing }))
    }
}

/// Sends a Data Provider call of `profile_id` in its turn: waits for a slot from the
/// profile's limiter, then sends. A slot further off than [`MAX_SLOT_WAIT_MS`] is not
/// waited for: the answer is then a local 429 with a Retry-After of a second
/// (`{"code":"PACED"}`), which the caller's retry rule turns into a hold.
pub(super) async fn paced(
    env: &Env,
    config: &Config,
    profile_id: &str,
    call: matchkey::amazon::ApiRequest,
) -> Reply {
    // Calls of no documented rate (none today) go at the patches' pace.
    let operation = DpOperation::of(&call).unwrap_or(DpOperation::Membership);
    let path = format!(
        "/take?rate={}",
        pace(operation, config.dp_requests_per_second)
    );
    // The patches keep the limiter name of earlier versions.
    let name = match operation {
        DpOperation::Membership => format!("dp:{profile_id}"),
        other => format!("dp:{profile_id}:{}", other.name()),
    };
    let wait = match durable(env, LIMITER, &name, &path, Some(String::new())).await {
        Ok(mut answer) => answer
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["waitMs"].as_u64()),
        Err(e) => {
            console_error!("limiter: {e}");
            None
        }
    };
    match wait {
        Some(0) => {}
        Some(ms) if ms <= MAX_SLOT_WAIT_MS => Delay::from(Duration::from_millis(ms)).await,
        // Too far off, or no limiter: hold rather than risk Amazon's limit.
        _ => return (429, Some("1".into()), r#"{"code":"PACED"}"#.into()),
    }
    send(call).await
}
