//! Test controls under `/__emulator/`: faults, revocation, the consent page's answer and
//! authorization codes, clock, request log, reset, and
//! the emulated S3 that AMC advertiser data uploads read.
//!
//! These are not Amazon endpoints: they are never recorded, never faulted, and answer
//! errors as `{"error": "…"}`.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;

use crate::adu;
use crate::check;
use crate::fault::FaultSpec;
use crate::reply::{Reply, to_json};
use crate::server::Shared;
use crate::trafficking::{self, Campaign};

/// Body of `POST /__emulator/revoke`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Revoke {
    refresh_token: String,
}

/// Body of `POST /__emulator/authorize`: what the user does on the consent page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsentChange {
    approve: bool,
    /// Account ids (advertisers) the grant reaches; absent: all.
    #[serde(default)]
    accounts: Option<Vec<String>>,
}

/// Body of `POST /__emulator/clock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockChange {
    /// Fix the clock here (RFC 3339), or `null` for the system clock.
    #[serde(default, deserialize_with = "present")]
    now: Option<Option<String>>,
    /// Then move it by this many seconds.
    #[serde(default)]
    advance_secs: Option<i64>,
}

/// Distinguishes `"now": null` (present, null) from a missing `now`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    Reply::json(status, json!({ "error": message.into() }))
}

/// 413 for a control body above the server's hard limit.
pub(crate) fn too_large(limit: usize) -> Reply {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body exceeds {limit} bytes"),
    )
    .with_cors()
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

/// The value of `name` in a query string.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Answers a control request; `path` is what follows `/__emulator`.
pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Reply {
    let result = match (method.as_str(), path) {
        ("POST", "/faults") => add_fault(shared, body),
        ("GET", "/faults") => Ok(Reply::json(StatusCode::OK, to_json(&shared.world().faults))),
        ("DELETE", "/faults") => {
            shared.world().faults.clear();
            Ok(Reply::json(StatusCode::OK, json!({ "cleared": true })))
        }
        ("POST", "/revoke") => revoke(shared, body),
        ("GET", "/authorize") => Ok(Reply::json(
            StatusCode::OK,
            to_json(&shared.world().consent),
        )),
        ("POST", "/authorize") => set_consent(shared, body),
        ("POST", "/codes/expire") => {
            let mut world = shared.world();
            let now = world.now();
            let count = world.codes.len();
            for code in world.codes.values_mut() {
                code.expires_at = now;
            }
            Ok(Reply::json(StatusCode::OK, json!({ "expired": count })))
        }
        ("GET", "/requests") => {
            let filter = query_value(query, "endpoint");
            let world = shared.world();
            let list: Vec<Value> = world
                .exchanges
                .iter()
                .filter(|exchange| {
                    filter
                        .as_deref()
                        .is_none_or(|name| exchange.endpoint == name)
                })
                .map(to_json)
                .collect();
            Ok(Reply::json(StatusCode::OK, Value::Array(list)))
        }
        ("GET", "/events") => {
            let filter = query_value(query, "accountId");
            let world = shared.world();
            let list: Vec<Value> = world
                .accepted_events
                .iter()
                .filter(|accepted| filter.as_deref().is_none_or(|id| accepted.account_id == id))
                .map(to_json)
                .collect();
            Ok(Reply::json(StatusCode::OK, Value::Array(list)))
        }
        ("GET", "/audiences") => {
            let world = shared.world();
            Ok(Reply::json(
                StatusCode::OK,
                to_json(&world.audiences.values().collect::<Vec<_>>()),
            ))
        }
        ("GET", "/matches") => {
            let world = shared.world();
            Ok(Reply::json(StatusCode::OK, to_json(&world.matches)))
        }
        ("GET", "/erasures") => {
            let world = shared.world();
            Ok(Reply::json(StatusCode::OK, to_json(&world.erasures)))
        }
        ("GET", "/uploads") => {
            let world = shared.world();
            Ok(Reply::json(
                StatusCode::OK,
                json!({
                    "dataSets": to_json(&world.data_sets.values().collect::<Vec<_>>()),
                    "uploads": to_json(&world.uploads.values().collect::<Vec<_>>()),
                }),
            ))
        }
        ("GET", "/s3") => {
            let world = shared.world();
            let list: Vec<Value> = world
                .s3_objects
                .iter()
                .map(|((bucket, key), bytes)| {
                    json!({ "bucket": bucket, "key": key, "size": bytes.len() })
                })
                .collect();
            Ok(Reply::json(StatusCode::OK, Value::Array(list)))
        }
        ("PUT", object) if object.starts_with("/s3/") => put_object(shared, object, body),
        ("POST", "/reset") => {
            shared.world().reset();
            Ok(Reply::json(StatusCode::OK, json!({ "reset": true })))
        }
        ("GET", "/clock") => Ok(clock_reply(shared)),
        ("POST", "/clock") => change_clock(shared, body),
        ("GET", path) if path.starts_with("/dsp/") && path.ends_with("/creatives") => {
            let id = path
                .trim_start_matches("/dsp/")
                .trim_end_matches("/creatives");
            let world = shared.world();
            let creatives: Vec<Value> = world
                .creatives
                .values()
                .filter(|c| c.account_id == id)
                .map(to_json)
                .collect();
            let associations: Vec<Value> = world
                .associations
                .iter()
                .filter(|a| a.account_id == id)
                .map(to_json)
                .collect();
            Ok(Reply::json(
                StatusCode::OK,
                json!({ "creatives": creatives, "associations": associations }),
            ))
        }
        ("POST", path) if path.starts_with("/dsp/") && path.ends_with("/moderation") => {
            moderate(shared, path, body)
        }
        ("PUT", account) if account.starts_with("/dsp/") => put_campaigns(shared, account, body),
        ("GET", account) if account.starts_with("/dsp/") => {
            let world = shared.world();
            let id = account.trim_start_matches("/dsp/");
            match world.campaigns.get(id) {
                Some(campaigns) => Ok(Reply::json(
                    StatusCode::OK,
                    json!({ "campaigns": to_json(campaigns) }),
                )),
                None => Err(error(StatusCode::NOT_FOUND, "no such advertiser")),
            }
        }
        ("OPTIONS", _) => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        _ => Err(error(
            StatusCode::NOT_FOUND,
            "no such control; see the amazon-emulator README",
        )),
    };
    // A demo page may show what "Amazon" received, so controls are readable cross-origin.
    result.unwrap_or_else(|reply| reply).with_cors()
}

/// Body of `PUT /__emulator/dsp/{accountId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CampaignsChange {
    campaigns: Vec<Campaign>,
}

/// `PUT /__emulator/dsp/{accountId}`: replaces the advertiser's DSP campaigns (with their
/// ad groups and targets), checked as the config's are.
fn put_campaigns(shared: &Shared, path: &str, body: &Bytes) -> Result<Reply, Reply> {
    let id = path.trim_start_matches("/dsp/");
    let CampaignsChange { campaigns } = parse(body)?;
    trafficking::check_campaigns(&campaigns)
        .map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
    let mut world = shared.world();
    if world.config.advertiser(id).is_none() {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("{id} is not a configured advertiser"),
        ));
    }
    let count = campaigns.len();
    world.campaigns.insert(id.to_owned(), campaigns);
    Ok(Reply::json(StatusCode::OK, json!({ "campaigns": count })))
}

/// Body of `POST /__emulator/dsp/{accountId}/moderation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ModerationChange {
    /// The creatives to move; absent: every creative of the advertiser under moderation.
    #[serde(default)]
    ad_creative_ids: Option<Vec<String>>,
    /// The new `moderationStatus`.
    status: String,
    /// Amazon's reasons (for `NOT_APPROVED`, `APPROVED_WITH_EXCEPTIONS`).
    #[serde(default)]
    reasons: Vec<String>,
}

/// `POST /__emulator/dsp/{accountId}/moderation`: moves creatives' moderation (Amazon's
/// reviewers). Only creatives whose moderation has started (associated) can move.
fn moderate(shared: &Shared, path: &str, body: &Bytes) -> Result<Reply, Reply> {
    let id = path
        .trim_start_matches("/dsp/")
        .trim_end_matches("/moderation");
    let change: ModerationChange = parse(body)?;
    if !trafficking::MODERATION_STATES.contains(&change.status.as_str()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "status must be one of {}",
                trafficking::MODERATION_STATES.join(", ")
            ),
        ));
    }
    let mut world = shared.world();
    let ids: Vec<String> = match change.ad_creative_ids {
        Some(ids) => ids,
        None => world
            .creatives
            .values()
            .filter(|c| c.account_id == id && c.moderation_status.is_some())
            .map(|c| c.ad_creative_id.clone())
            .collect(),
    };
    for creative_id in &ids {
        match world.creatives.get(creative_id) {
            Some(c) if c.account_id == id && c.moderation_status.is_some() => {}
            Some(c) if c.account_id == id => {
                return Err(error(
                    StatusCode::CONFLICT,
                    format!("{creative_id} is not associated: its moderation has not started"),
                ));
            }
            _ => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!("{creative_id} is not a creative of {id}"),
                ));
            }
        }
    }
    for creative_id in &ids {
        if let Some(c) = world.creatives.get_mut(creative_id) {
            c.moderation_status = Some(change.status.clone());
            c.reasons.clone_from(&change.reasons);
        }
    }
    Ok(Reply::json(StatusCode::OK, json!({ "moved": ids.len() })))
}

fn add_fault(shared: &Shared, body: &Bytes) -> Result<Reply, Reply> {
    let spec: FaultSpec = parse(body)?;
    spec.check()
        .map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
    let fault = shared.world().add_fault(spec);
    Ok(Reply::json(StatusCode::CREATED, to_json(&fault)))
}

/// `PUT /__emulator/s3/{bucket}/{key…}`: stores the body as that object, replacing any.
fn put_object(shared: &Shared, path: &str, body: &Bytes) -> Result<Reply, Reply> {
    let rest = path.strip_prefix("/s3/").unwrap_or_default();
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bad = |message: &str| error(StatusCode::BAD_REQUEST, message);
    let bucket = percent_decode(bucket).ok_or_else(|| bad("the bucket is not valid UTF-8"))?;
    let key = percent_decode(key).ok_or_else(|| bad("the key is not valid UTF-8"))?;
    if !adu::is_bucket_name(&bucket) {
        return Err(bad(
            "the bucket must be an S3 bucket name (3-63 of [a-z0-9.-])",
        ));
    }
    if key.is_empty() || key.len() > adu::MAX_S3_KEY {
        return Err(bad("the key must have 1 to 1024 bytes"));
    }
    let size = body.len();
    let answer = json!({ "bucket": bucket, "key": key, "size": size });
    shared
        .world()
        .s3_objects
        .insert((bucket, key), body.to_vec());
    Ok(Reply::json(StatusCode::OK, answer))
}

/// Decodes `%XX` escapes of a path (`+` stays `+`, as in paths); `None` when the result
/// is not UTF-8 or an escape is malformed.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] == b'%' {
            let hex = text.get(position + 1..position + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            position += 3;
        } else {
            decoded.push(bytes[position]);
            position += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn set_consent(shared: &Shared, body: &Bytes) -> Result<Reply, Reply> {
    let ConsentChange { approve, accounts } = parse(body)?;
    let mut world = shared.world();
    if let Some(unknown) = accounts
        .iter()
        .flatten()
        .find(|id| world.config.advertiser(id).is_none())
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("accounts: {unknown} is not a configured advertiser"),
        ));
    }
    world.consent = crate::state::Consent { approve, accounts };
    Ok(Reply::json(StatusCode::OK, to_json(&world.consent)))
}

fn revoke(shared: &Shared, body: &Bytes) -> Result<Reply, Reply> {
    let Revoke { refresh_token } = parse(body)?;
    let mut world = shared.world();
    let known = world.grants.contains_key(&refresh_token);
    world.revoked.insert(refresh_token);
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "revoked": true, "known": known }),
    ))
}

fn clock_reply(shared: &Shared) -> Reply {
    Reply::json(StatusCode::OK, json!({ "now": shared.world().now_text() }))
}

fn change_clock(shared: &Shared, body: &Bytes) -> Result<Reply, Reply> {
    let change: ClockChange = parse(body)?;
    let fixed = match change.now {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => match check::parse_rfc3339(&text) {
            Some(instant) => Some(Some(instant)),
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "now must be an RFC 3339 date-time or null",
                ));
            }
        },
    };
    {
        let mut world = shared.world();
        if let Some(fixed) = fixed {
            world.clock.set(fixed);
        }
        if let Some(seconds) = change.advance_secs {
            world.clock.advance(Duration::seconds(seconds));
        }
    }
    Ok(clock_reply(shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_are_percent_decoded() {
        assert_eq!(
            percent_decode("daily/2026%2009%2F01.csv").as_deref(),
            Some("daily/2026 09/01.csv")
        );
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
