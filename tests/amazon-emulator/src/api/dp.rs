//! The Data Provider API (`/dp/records/hashed`, `/v2/dp/audiencemetadata/`,
//! `PATCH /v2/dp/audience`, `PATCH /v2/dp/users`), as Amazon's OpenAPI files describe it
//! (`data-provider.yaml`, `hashed-records.json`): their answer shapes, their limits (413
//! beyond them) and the error body `{requestId, error: {httpStatusCode, description,
//! errors: [{errorType, message, fieldName}]}}`.

use super::*;

/// The advertiser of the `Amazon-Advertising-API-Scope` profile, which the grant must
/// reach; `None` when the header is absent.
pub(super) fn scope_advertiser(
    world: &World,
    caller: &Caller,
    call: &Call<'_>,
) -> Result<Option<Advertiser>, Reply> {
    let Some(scope) = header(call, "amazon-advertising-api-scope") else {
        return Ok(None);
    };
    world
        .config
        .advertisers
        .iter()
        .find(|advertiser| {
            advertiser.profile_id.to_string() == scope && can_reach(caller, advertiser)
        })
        .cloned()
        .map(Some)
        .ok_or_else(|| {
            Reply::forbidden(
                "The profile in Amazon-Advertising-API-Scope is not reachable with this grant.",
            )
        })
}

/// As [`scope_advertiser`], with the header required.
pub(super) fn require_scope(
    world: &World,
    caller: &Caller,
    call: &Call<'_>,
) -> Result<Advertiser, Reply> {
    scope_advertiser(world, caller, call)?
        .ok_or_else(|| Reply::bad_request("The Amazon-Advertising-API-Scope header is required."))
}

/// `POST /dp/records/hashed`: every record must be valid (400 otherwise), then 202. The
/// accepted external ids are remembered for the Scope profile's account (without a Scope,
/// for every account the grant reaches), so that `PATCH /v2/dp/audience` can add them.
pub(super) fn upload_dp_records(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let scope = scope_advertiser(world, &caller, call)?;
    require_media(call, &[DP_RECORDS])?;
    let body = parse_object(call, AUDIENCE_MAX_BODY, &["records"])?;
    let Some(Value::Array(records)) = body
        .get("records")
        .filter(|r| r.as_array().is_some_and(|r| !r.is_empty()))
    else {
        return Err(Reply::bad_request(
            "records is required and must be a non-empty array.",
        ));
    };
    let mut outcomes = Vec::new();
    let mut all_errors = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let errors = audience::validate_dp_record(record, index);
        all_errors.extend(errors.iter().cloned());
        outcomes.push(Outcome {
            index,
            accepted: errors.is_empty(),
            errors,
        });
    }
    if !all_errors.is_empty() {
        return Err(invalid_fields(&all_errors).with_outcomes(outcomes));
    }
    let accounts: Vec<String> = match scope {
        Some(advertiser) => vec![advertiser.account_id],
        None => world
            .config
            .advertisers
            .iter()
            .filter(|advertiser| can_reach(&caller, advertiser))
            .map(|advertiser| advertiser.account_id.clone())
            .collect(),
    };
    let external_ids: Vec<&str> = records
        .iter()
        .filter_map(|record| record["externalId"].as_str())
        .collect();
    for account in accounts {
        let known = world.dp_external_ids.entry(account).or_default();
        known.extend(external_ids.iter().map(|id| (*id).to_owned()));
    }
    let request_id = world.mint_uuid();
    let job_id = world.mint_uuid();
    let reply = Reply::json(
        StatusCode::ACCEPTED,
        json!({ "requestId": request_id, "jobId": job_id }),
    );
    Ok(reply.with_outcomes(outcomes))
}

/// `POST /v2/dp/audiencemetadata/`: creates a Data Provider audience for a reachable
/// advertiser. `Content-Type: application/json` is an emulator choice (the spec names none).
pub(super) fn create_dp_audience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = parse_json(call, world.config.max_body_bytes)?;
    let errors = audience::validate_dp_metadata(&body);
    if !errors.is_empty() {
        return Err(invalid_fields(&errors));
    }
    let advertiser_id = audience::dp_advertiser_id(&body["advertiserId"]);
    let account_id = world
        .config
        .advertisers
        .iter()
        .find(|advertiser| advertiser_id.is_some() && advertiser.amc_id() == advertiser_id)
        .map(|advertiser| advertiser.account_id.clone())
        .ok_or_else(|| {
            Reply::forbidden("advertiserId is not an advertiser this grant can reach.")
        })?;
    let advertiser = advertiser_for(world, &caller, call, &account_id)?;
    let audience_id = world.mint_audience_id();
    world.audiences.insert(
        audience_id,
        Audience {
            audience_id,
            kind: AudienceKind::DataProvider,
            account_id: advertiser.account_id,
            definition: body,
            members: Default::default(),
            cookie_members: Default::default(),
            received_records: 0,
        },
    );
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "audienceId": audience_id }),
    ))
}

/// `PATCH /v2/dp/audience`: adds external ids or cookies to Data Provider audiences or
/// removes them, patch by patch. Emulator choices: the answer is 207 `{success[{index}],
/// error[{index, errors[]}]}` with 0-based indexes, like the Events API; a patch applies in
/// full or not at all; an external id must have been uploaded through `/dp/records/hashed`
/// for the Scope profile's account (the Data Provider flow is upload, then associate), for
/// `add` and `remove` alike; a cookie (`/COOKIE-<id>/audiences`) needs no upload (whether
/// Amazon ever matched it is its own business, as at Amazon) and is kept apart from the
/// external ids.
pub(super) fn patch_dp_audiences(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let scope = require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = parse_object(call, audience::DP_PATCH_MAX_BODY, &["patches"])?;
    let patches = match body.get("patches") {
        Some(Value::Array(patches)) if !patches.is_empty() => patches,
        _ => {
            return Err(Reply::bad_request(
                "patches is required and must be a non-empty array.",
            ));
        }
    };
    let mut answer = MultiStatus::default();
    for (index, patch) in patches.iter().enumerate() {
        let mut errors = audience::validate_dp_patch(patch, index);
        let audience_ids: Vec<u64> = patch["value"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let member = patch["path"].as_str().and_then(audience::dp_patch_member);
        let (cookie, external_id) = match member {
            Some(audience::DpMember::Cookie(id)) => (true, id),
            Some(audience::DpMember::External(id)) => (false, id),
            None => (false, ""),
        };
        if errors.is_empty() {
            let uploaded = cookie
                || world
                    .dp_external_ids
                    .get(&scope.account_id)
                    .is_some_and(|known| known.contains(external_id));
            if !uploaded {
                errors.push(FieldError {
                    code: check::NOT_FOUND,
                    field_location: format!("patches[{index}].path"),
                    message: "the externalId was never uploaded through /dp/records/hashed for this account".to_owned(),
                });
            }
            for (position, audience_id) in audience_ids.iter().enumerate() {
                let reachable = world
                    .audiences
                    .get(audience_id)
                    .filter(|audience| audience.kind == AudienceKind::DataProvider)
                    .is_some_and(|audience| {
                        advertiser_for(world, &caller, call, &audience.account_id).is_ok()
                    });
                if !reachable {
                    errors.push(FieldError {
                        code: check::NOT_FOUND,
                        field_location: format!("patches[{index}].value[{position}]"),
                        message:
                            "no Data Provider audience with this id is reachable with this grant"
                                .to_owned(),
                    });
                }
            }
        }
        if errors.is_empty() {
            let add = patch["op"] == "add";
            for audience_id in &audience_ids {
                let audience = world.audiences.get_mut(audience_id).expect("checked above");
                audience.received_records += 1;
                let members = if cookie {
                    &mut audience.cookie_members
                } else {
                    &mut audience.members
                };
                if add {
                    members.insert(external_id.to_owned());
                } else {
                    members.remove(external_id);
                }
            }
            answer.accepted(index, json!({ "index": index }));
        } else {
            answer.refused_listing(index, errors);
        }
    }
    Ok(answer.reply())
}

/// `PATCH /v2/dp/users`: erases users (`{users: [{userId: [{type, id}], advertiserId}]}`)
/// for an advertiser the Scope profile's grant reaches. Each erased external id or cookie
/// leaves every audience of that account (and an erased external id must be uploaded
/// again before it can join one). Emulator choices: the 207 answer of the audience
/// patches, user by user; a user applies in full or not at all.
pub(super) fn erase_dp_users(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let scope = require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = parse_object(call, audience::DP_USERS_MAX_BODY, &["users"])?;
    let users = match body.get("users") {
        Some(Value::Array(users)) if !users.is_empty() => users,
        _ => {
            return Err(Reply::bad_request(
                "users is required and must be a non-empty array.",
            ));
        }
    };
    let mut answer = MultiStatus::default();
    for (index, user) in users.iter().enumerate() {
        let mut errors = audience::validate_dp_user(user, index);
        let advertiser_id = audience::dp_advertiser_id(&user["advertiserId"]);
        if errors.is_empty() {
            let reachable = world.config.advertisers.iter().any(|advertiser| {
                advertiser.amc_id() == advertiser_id
                    && advertiser.account_id == scope.account_id
                    && can_reach(&caller, advertiser)
            });
            if !reachable {
                errors.push(FieldError {
                    code: check::NOT_FOUND,
                    field_location: format!("users[{index}].advertiserId"),
                    message: "advertiserId is not the Scope profile's advertiser".to_owned(),
                });
            }
        }
        if !errors.is_empty() {
            answer.refused_listing(index, errors);
            continue;
        }
        let at = world.now_text();
        for id in user["userId"].as_array().into_iter().flatten() {
            let kind = id["type"].as_str().unwrap_or_default().to_owned();
            let text = id["id"].as_str().unwrap_or_default().to_owned();
            for audience in world
                .audiences
                .values_mut()
                .filter(|a| a.account_id == scope.account_id)
            {
                match kind.as_str() {
                    "COOKIE" => audience.cookie_members.remove(&text),
                    "EXTERNAL_USER_ID" => audience.members.remove(&text),
                    _ => false,
                };
            }
            if kind == "EXTERNAL_USER_ID"
                && let Some(known) = world.dp_external_ids.get_mut(&scope.account_id)
            {
                known.remove(&text);
            }
            world.erasures.push(Erasure {
                at: at.clone(),
                account_id: scope.account_id.clone(),
                advertiser_id: advertiser_id.unwrap_or_default(),
                kind,
                id: text,
            });
        }
        answer.accepted(index, json!({ "index": index }));
    }
    Ok(answer.reply())
}
