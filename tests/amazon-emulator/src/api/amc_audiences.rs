//! AMC audiences (`/amc/audiences/metadata`, `/amc/audiences/records`): Amazon publishes
//! no schema for them; the shapes follow the guide page
//! `guides/amazon-marketing-cloud/audiences/audience-management-service.md`.

use super::*;

/// `POST /amc/audiences/metadata`: creates an audience for a reachable advertiser.
pub(super) fn create_audience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    require_media(call, &[AMC_AUDIENCES, JSON])?;
    let body = parse_json(call, world.config.max_body_bytes)?;
    let errors = audience::validate_metadata(&body);
    if !errors.is_empty() {
        return Err(invalid_fields(&errors));
    }
    let target = &body["targetResource"];
    let advertiser =
        world
            .config
            .advertisers
            .iter()
            .find(|advertiser| match target.get("advertiserId") {
                Some(id) => id.as_u64().is_some() && id.as_u64() == advertiser.amc_id(),
                None => {
                    target.get("connectionId").and_then(Value::as_str)
                        == advertiser.amc_connection_id.as_deref()
                }
            });
    let Some(account_id) = advertiser.map(|advertiser| advertiser.account_id.clone()) else {
        return Err(Reply::forbidden(
            "targetResource is not an advertiser or connection this grant can reach.",
        ));
    };
    let advertiser = advertiser_for(world, &caller, call, &account_id)?;
    let audience_id = world.mint_audience_id();
    let external_id = body
        .pointer("/metadata/externalAudienceId")
        .cloned()
        .unwrap_or(Value::Null);
    world.audiences.insert(
        audience_id,
        Audience {
            audience_id,
            kind: AudienceKind::Amc,
            account_id: advertiser.account_id,
            definition: body,
            members: Default::default(),
            cookie_members: Default::default(),
            received_records: 0,
        },
    );
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "audienceId": audience_id, "externalAudienceId": external_id }),
    ))
}

/// The AMC audience with this id, if the caller may see it (Data Provider audiences are
/// not AMC audiences: 404).
pub(super) fn reachable_audience(
    world: &World,
    caller: &Caller,
    call: &Call<'_>,
    audience_id: u64,
) -> Result<(), Reply> {
    let Some(audience) = world
        .audiences
        .get(&audience_id)
        .filter(|audience| audience.kind == AudienceKind::Amc)
    else {
        return Err(Reply::not_found("No audience with this audienceId."));
    };
    advertiser_for(world, caller, call, &audience.account_id).map(|_| ())
}

/// `GET /amc/audiences/metadata/{audienceId}`
pub(super) fn get_audience(
    world: &mut World,
    call: &Call<'_>,
    audience_id: &str,
) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let audience_id = audience_id
        .parse::<u64>()
        .map_err(|_| Reply::not_found("No audience with this audienceId."))?;
    reachable_audience(world, &caller, call, audience_id)?;
    let audience = &world.audiences[&audience_id];
    let mut body = audience.definition.clone();
    body["audienceId"] = json!(audience_id);
    let size = json!({ "dspAudienceSize": -1, "idResolutionCount": -1, "receivedRecordSize": audience.received_records });
    match body.get_mut("metadata") {
        Some(Value::Object(metadata)) => {
            metadata.insert("audienceSize".to_owned(), size);
        }
        _ => body["metadata"] = json!({ "audienceSize": size }),
    }
    Ok(Reply::json(StatusCode::OK, body))
}

/// `POST /amc/audiences/records`: validates the envelope now, the records "later" (their
/// errors go to the job), and answers 202 with a `jobRequestId`.
pub(super) fn upload_audience_records(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    require_media(call, &[AMC_AUDIENCES, JSON])?;
    let body = parse_object(call, AUDIENCE_MAX_BODY, &["audienceId", "records"])?;
    let Some(audience_id) = body.get("audienceId").and_then(Value::as_u64) else {
        return Err(Reply::bad_request(
            "audienceId is required and must be a JSON integer, not a string.",
        ));
    };
    reachable_audience(world, &caller, call, audience_id)?;
    let records = match body.get("records") {
        Some(Value::Array(records)) if (1..=audience::MAX_AMC_RECORDS).contains(&records.len()) => {
            records
        }
        _ => {
            return Err(Reply::bad_request(format!(
                "records must hold 1 to {} items.",
                audience::MAX_AMC_RECORDS
            )));
        }
    };
    let job_fault = world.take_job_fault("amcRecords");
    let mut outcomes = Vec::new();
    let mut job_errors = Vec::new();
    let mut changes = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let errors = audience::validate_amc_record(record, index);
        if errors.is_empty() {
            let user = record["externalUserId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            changes.push((record["action"] == "CREATE", user));
        }
        job_errors.extend(errors.iter().cloned().map(|error| (index, error)));
        outcomes.push(Outcome {
            index,
            accepted: errors.is_empty(),
            errors,
        });
    }
    let (status, failure_reason) = if job_fault.fail {
        ("FAILED", Some("Emulated job failure (job_failed fault)."))
    } else if changes.is_empty() {
        ("FAILED", Some("No record was valid."))
    } else if changes.len() < records.len() {
        ("PARTIALLYSUCCEEDED", None)
    } else {
        ("SUCCEEDED", None)
    };
    let account_id = world.audiences[&audience_id].account_id.clone();
    if status != "FAILED" {
        let audience = world
            .audiences
            .get_mut(&audience_id)
            .expect("checked above");
        audience.received_records += changes.len() as u64;
        for (create, user) in changes {
            if create {
                audience.members.insert(user);
            } else {
                audience.members.remove(&user);
            }
        }
    }
    let job_request_id = world.mint_uuid();
    world.jobs.insert(
        job_request_id.clone(),
        Job {
            audience_id,
            account_id,
            status,
            pending_polls: job_fault.pending_polls,
            record_count: records.len(),
            errors: job_errors,
            failure_reason,
        },
    );
    let reply = Reply::json(
        StatusCode::ACCEPTED,
        json!({ "jobRequestId": job_request_id }),
    );
    Ok(reply.with_outcomes(outcomes))
}

/// `GET /amc/audiences/records/{jobRequestId}`: `PENDING` while a `job_pending` fault
/// lasts, then the terminal status. Field names other than `status` are emulator choices.
pub(super) fn get_audience_job(
    world: &mut World,
    call: &Call<'_>,
    job_request_id: &str,
) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let Some(job) = world.jobs.get(job_request_id) else {
        return Err(Reply::not_found("No job with this jobRequestId."));
    };
    advertiser_for(world, &caller, call, &job.account_id.clone())?;
    let job = world.jobs.get_mut(job_request_id).expect("checked above");
    let status = if job.pending_polls > 0 {
        job.pending_polls -= 1;
        "PENDING"
    } else {
        job.status
    };
    let failed_records: std::collections::BTreeSet<usize> =
        job.errors.iter().map(|(index, _)| *index).collect();
    let errors: Vec<Value> = job
        .errors
        .iter()
        .take(100)
        .map(|(index, error)| {
            json!({ "index": index, "code": error.code, "fieldLocation": error.field_location, "message": error.message })
        })
        .collect();
    let mut body = json!({
        "jobRequestId": job_request_id,
        "audienceId": job.audience_id,
        "status": status,
        "recordCount": job.record_count,
        "successCount": job.record_count - failed_records.len(),
        "errorCount": failed_records.len(),
        "errors": errors
    });
    if status == "FAILED"
        && let Some(reason) = job.failure_reason
    {
        body["failureReason"] = json!(reason);
    }
    Ok(Reply::json(StatusCode::OK, body))
}
