//! Conversions: `POST /adsApi/v1/create/events` (`amazon-ads-v1-all.json`) and the legacy
//! DSP import `POST /accounts/{accountId}/dsp/conversionDefinitions/eventData`
//! (`dsp-conversions.json`), both answering 207 without their empty lists.

use super::*;
use crate::{dsp, events};

/// `POST /adsApi/v1/create/events`: validates every event and answers 207.
pub(super) fn create_events(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Ads)?;
    let Some(account_id) = header(call, "amazon-ads-accountid") else {
        return Err(Reply::bad_request(
            "The Amazon-Ads-AccountId header is required.",
        ));
    };
    let advertiser = advertiser_for(world, &caller, call, account_id)?;
    require_media(call, &[JSON])?;
    let body = parse_object(call, world.config.max_body_bytes, &["events"])?;
    let events = match body.get("events") {
        Some(Value::Array(events)) if (1..=events::MAX_EVENTS).contains(&events.len()) => events,
        Some(Value::Array(_)) => {
            return Err(Reply::bad_request(format!(
                "events must hold 1 to {} items.",
                events::MAX_EVENTS
            )));
        }
        _ => {
            return Err(Reply::bad_request(
                "events is required and must be an array.",
            ));
        }
    };
    let window = world.window();
    let mut answer = MultiStatus::default();
    for (index, event) in events.iter().enumerate() {
        let errors = events::validate_event(event, index, window);
        if errors.is_empty() {
            answer.accepted(index, json!({ "index": index, "event": event }));
            world.accepted_events.push(AcceptedEvent {
                account_id: advertiser.account_id.clone(),
                event: event.clone(),
            });
        } else {
            answer.refused_listing(index, errors);
        }
    }
    Ok(answer.sparse_reply())
}

/// `POST /accounts/{accountId}/dsp/conversionDefinitions/eventData`: the legacy import,
/// 1-based indexes in the 207 answer.
pub(super) fn import_dsp_events(
    world: &mut World,
    call: &Call<'_>,
    account_id: &str,
) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    scoped_advertiser(world, &caller, call, account_id)?;
    if header(call, "amazon-ads-accountid").is_some_and(|header_id| header_id != account_id) {
        return Err(Reply::bad_request(
            "Amazon-Ads-AccountId does not match the account in the path.",
        ));
    }
    require_media(call, &[DSP_IMPORT])?;
    let body = parse_object(call, world.config.max_body_bytes, &["source", "eventData"])?;
    if body.get("source").and_then(Value::as_str) != Some(dsp::SOURCE) {
        return Err(Reply::bad_request("source must be SERVER_TO_SERVER."));
    }
    let events = match body.get("eventData") {
        Some(Value::Array(events)) if (1..=dsp::MAX_EVENTS).contains(&events.len()) => events,
        _ => {
            return Err(Reply::bad_request(format!(
                "eventData must hold 1 to {} items.",
                dsp::MAX_EVENTS
            )));
        }
    };
    let window = world.window();
    let mut answer = MultiStatus::default();
    for (index, event) in events.iter().enumerate() {
        let errors = dsp::validate_event_data(event, window);
        if errors.is_empty() {
            answer.accepted(
                index,
                json!({ "index": index + 1, "message": "Event imported." }),
            );
        } else {
            let details: Vec<Value> = errors
                .iter()
                .map(|e| json!({ "errorType": "INVALID_ARGUMENT", "fieldName": e.field_location, "message": e.message }))
                .collect();
            let entry = json!({ "index": index + 1, "code": "400", "message": "Validation failed.", "errors": details });
            answer.refused(index, entry, errors);
        }
    }
    Ok(answer.sparse_reply())
}
