//! The two routes a browser may call, `POST /v1/events` (and its dry run
//! `/v1/validate`) and `POST /v1/audiences/{name}/members`: authenticate from the
//! headers and the query, read a bounded body, let the pure modules decide, queue what
//! they accepted.

use futures_util::StreamExt;
use serde_json::{Value, json};
use worker::*;

use super::amazon::{auth as api_auth, events_call, request_body};
use super::{Answer, RelayError, audience_sync, auth, enqueue, enqueue_answer, now, random_uuid};
use crate::audience;
use crate::config::Config;
use crate::ingest::{self, BodyError, Caller, MAX_BODY_BYTES};

/// The body, at most [`MAX_BODY_BYTES`]: a declared longer one is refused before a byte
/// is read, and reading stops as soon as the limit is passed.
pub(super) async fn body(req: &mut Request) -> std::result::Result<Vec<u8>, RelayError> {
    let too_large = RelayError::Status(413, "body_too_large");
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|l| l.trim().parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(too_large);
    }
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
        if bytes.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
    }
    Ok(bytes)
}

/// The body as JSON (bounded, as [`body`] reads it).
pub(super) async fn json_body(req: &mut Request) -> std::result::Result<Value, RelayError> {
    let bytes = body(req).await?;
    serde_json::from_slice(&bytes).map_err(|_| RelayError::Status(400, "bad_json"))
}

/// Hands accepted work to a Durable Object; its 503 (backlog full) becomes ours, with
/// its Retry-After, so that the tag keeps the events.
async fn queued(answer: Response) -> std::result::Result<(), RelayError> {
    enqueue_answer(&answer)
}

/// `POST /v1/events` and `POST /v1/validate`.
pub(super) async fn ingest(req: &mut Request, env: &Env, vars: &Config, dry_run: bool) -> Answer {
    let (caller, config) = auth::caller(req, env, vars).await?;
    run(req, env, &config, caller, dry_run).await
}

/// Ingest (or its dry run) for a caller already identified, of integration `config`.
pub(super) async fn run(
    req: &mut Request,
    env: &Env,
    config: &Config,
    caller: Caller,
    dry_run: bool,
) -> Answer {
    if !config.events_enabled {
        return Err(RelayError::Status(403, "events_not_enabled"));
    }
    let bytes = body(req).await?;
    let body = ingest::parse_body(&bytes).map_err(|e| match e {
        BodyError::BadJson => RelayError::Status(400, "bad_json"),
        BodyError::BadShape => RelayError::Status(400, "bad_shape"),
        BodyError::EventCount => RelayError::Status(400, "event_count_out_of_range"),
    })?;
    let user_agent = req.headers().get("user-agent")?;
    let client_ip = req.headers().get("cf-connecting-ip")?;
    let ctx = ingest::Context {
        caller,
        user_agent: user_agent.as_deref(),
        client_ip: client_ip.as_deref(),
    };
    let mut outcome = ingest::convert(&body.events, &ctx, config, now(), &mut random_uuid);
    if dry_run {
        let accepted: Vec<Value> = outcome
            .accepted
            .iter()
            .map(|a| json!({ "index": a.index, "eventId": a.event_id }))
            .collect();
        // The call a delivery would make, with placeholders for the credentials.
        let batch: Vec<(String, String)> = outcome
            .accepted
            .iter()
            .map(|a| (String::new(), a.event.to_string()))
            .collect();
        let placeholders = api_auth(
            config,
            "<Login with Amazon access token>",
            "<LWA_CLIENT_ID>",
        );
        let call = events_call(config, &placeholders, request_body(config, &batch));
        let headers: serde_json::Map<String, Value> = call
            .headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), json!(value)))
            .collect();
        let request = json!({
            "method": call.method.as_str(),
            "url": call.url,
            "headers": headers,
            "body": call.body.as_deref().and_then(|b| serde_json::from_str::<Value>(b).ok()),
        });
        let answer = json!({ "request": request, "accepted": accepted, "rejected": outcome.rejected, "warnings": outcome.warnings });
        return Ok(Response::from_json(&answer)?);
    }
    let mut retry_after = None;
    if !outcome.accepted.is_empty() {
        let events: Vec<(String, String)> = outcome
            .accepted
            .iter()
            .map(|a| (a.event_id.clone(), a.event.to_string()))
            .collect();
        if let Some(refused) = enqueue(env, config, events, false).await? {
            // Nothing queued: the whole request is refused and the tag keeps it. Some
            // shards took theirs: those are accepted (sending them again would send them
            // twice), the others are refused one by one with the shard's reason.
            if refused.indexes.len() == outcome.accepted.len() {
                return Err(refused.error);
            }
            let (code, secs) = match refused.error {
                RelayError::Busy(code, secs) => (code, secs),
                _ => ("queue_unavailable", 10),
            };
            retry_after = Some(secs);
            for &i in refused.indexes.iter().rev() {
                let a = outcome.accepted.remove(i);
                outcome.rejected.push(ingest::Problem {
                    index: a.index,
                    field: None,
                    reason: code,
                });
            }
            outcome.rejected.sort_by_key(|p| p.index);
        }
    }
    let accepted: Vec<Value> = outcome
        .accepted
        .iter()
        .map(|a| json!({ "index": a.index, "eventId": a.event_id }))
        .collect();
    let answer =
        json!({ "accepted": accepted, "rejected": outcome.rejected, "warnings": outcome.warnings });
    let mut response = Response::from_json(&answer)?.with_status(202);
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .set("retry-after", &secs.to_string())?;
    }
    Ok(response)
}

/// `POST /v1/audiences/{name}/members`: adds and removes, queued in the audience's
/// Durable Object.
pub(super) async fn members(req: &mut Request, env: &Env, vars: &Config, name: &str) -> Answer {
    let (caller, config) = auth::caller(req, env, vars).await?;
    let config = &config;

    // A browser may join only the audiences of BROWSER_AUDIENCES: decided before the
    // body is read.
    if caller == Caller::Browser && !audience::browser_may_join(name, config) {
        return Err(RelayError::Status(403, "audience_not_allowed"));
    }
    // Audiences need the numeric advertiser id they target: a setting of the integration.
    if config.amc_advertiser_id.is_none() {
        return Err(RelayError::Status(409, "audiences_not_configured"));
    }
    let body = json_body(req).await?;
    let ctx = ingest::Context::bodiless(caller);
    let (country, changes, rejected) = audience::changes(&body, &ctx, config, name)
        .map_err(|code| RelayError::Status(audience::status(code), code))?;
    if !changes.is_empty() {
        let items: Vec<Value> = changes
            .iter()
            .map(|c| json!([c.key, c.record.to_string()]))
            .collect();
        let body =
            json!({ "name": name, "country": country.as_str(), "changes": items }).to_string();
        queued(audience_sync(env, config, name, "/members", Some(body)).await?).await?;
    }
    let answer = json!({ "accepted": changes.len(), "rejected": rejected });
    Ok(Response::from_json(&answer)?.with_status(202))
}
