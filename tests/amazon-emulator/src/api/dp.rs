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

/// `POST /dp/records/hashed`: every record must be valid (400 otherwise), then 200. The
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
        // hashed-records.json's 400: `{"errorMessage"}` (naming fields, never values).
        let message = all_errors
            .iter()
            .take(MAX_ERRORS_PER_ITEM)
            .map(|e| format!("{}: {}", e.field_location, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let reply = Reply::json(StatusCode::BAD_REQUEST, json!({ "errorMessage": message }));
        return Err(reply.with_outcomes(outcomes));
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
    // hashed-records.json's 200: `{"requestId"}`.
    let reply = Reply::json(StatusCode::OK, json!({ "requestId": world.mint_uuid() }));
    Ok(reply.with_outcomes(outcomes))
}

/// Amazon's Data Provider error answer (`data-provider.yaml`, every error status):
/// `{requestId, error: {httpStatusCode, description, errors: [{errorType, message,
/// fieldName?}]}}`. Messages name fields, never values.
fn dp_error(
    world: &mut World,
    status: StatusCode,
    error_type: &str,
    errors: &[FieldError],
    message: &str,
) -> Reply {
    let description = status.canonical_reason().unwrap_or("Error");
    let mut listed: Vec<Value> = errors
        .iter()
        .take(MAX_ERRORS_PER_ITEM)
        .map(|e| json!({ "errorType": error_type, "message": e.message, "fieldName": e.field_location }))
        .collect();
    if listed.is_empty() {
        listed.push(json!({ "errorType": error_type, "message": message }));
    }
    Reply::json(
        status,
        json!({
            "requestId": world.mint_uuid(),
            "error": {
                "httpStatusCode": status.as_u16().to_string(),
                "description": description,
                "errors": listed,
            }
        }),
    )
}

/// The body's list `field`: 1 to `max` items (413 `INPUT_TOO_LARGE` beyond, 400 when
/// absent or empty), refused in Amazon's Data Provider form.
fn dp_list<'b>(
    world: &mut World,
    body: &'b Map<String, Value>,
    field: &str,
    max: usize,
    unit: &str,
) -> Result<&'b Vec<Value>, Reply> {
    match body.get(field) {
        Some(Value::Array(list)) if list.len() > max => {
            let message = format!("The input exceeds {max} {unit}.");
            Err(dp_error(
                world,
                StatusCode::PAYLOAD_TOO_LARGE,
                "INPUT_TOO_LARGE",
                &[],
                &message,
            ))
        }
        Some(Value::Array(list)) if !list.is_empty() => Ok(list),
        _ => {
            let message = format!("{field} is required and must be a non-empty array.");
            Err(dp_error(
                world,
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                &[],
                &message,
            ))
        }
    }
}

/// The body as a JSON object of `known` keys, within `limit` bytes (413 `INPUT_TOO_LARGE`
/// beyond), refused in Amazon's Data Provider form.
fn dp_body(
    world: &mut World,
    call: &Call<'_>,
    limit: usize,
    known: &[&str],
) -> Result<Map<String, Value>, Reply> {
    if call.body.len() > limit {
        let message = format!("The input payload exceeds {} MB limit.", limit >> 20);
        return Err(dp_error(
            world,
            StatusCode::PAYLOAD_TOO_LARGE,
            "INPUT_TOO_LARGE",
            &[],
            &message,
        ));
    }
    let refuse = |world: &mut World, message: String| {
        dp_error(
            world,
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            &[],
            &message,
        )
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(call.body) else {
        return Err(refuse(
            world,
            "The request body is not a JSON object.".into(),
        ));
    };
    if let Some(key) = body.keys().find(|key| !known.contains(&key.as_str())) {
        let message = format!("Unknown field '{key}' in the request body.");
        return Err(refuse(world, message));
    }
    Ok(body)
}

/// `POST /v2/dp/audiencemetadata/`: creates a Data Provider audience for a reachable
/// advertiser, and answers the schema's 200: `{requestId, audience: {id, name,
/// description, advertiserId, metadata}}`.
pub(super) fn create_dp_audience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = parse_json(call, world.config.max_body_bytes)?;
    let errors = audience::validate_dp_metadata(&body);
    if !errors.is_empty() {
        return Err(dp_error(
            world,
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            &errors,
            "",
        ));
    }
    let advertiser_id = body["advertiserId"].as_u64();
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
    let mut created = body.clone();
    created["id"] = json!(audience_id);
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
        json!({ "requestId": world.mint_uuid(), "audience": created }),
    ))
}

/// `PATCH /v2/dp/audience`: adds external ids or cookies to Data Provider audiences or
/// removes them. As `data-provider.yaml` has it: at most 2,000 patches and 6 MB (413
/// `INPUT_TOO_LARGE` beyond), the request taken whole (200 `{jobId, requestId}`) or refused
/// whole (400 naming each field; 404 when an audience of `value` is not one this grant
/// reaches). "Only the matched customer records will be associated with the audience"
/// (the guide): an external id never uploaded through `/dp/records/hashed` for the Scope
/// profile's account is taken but joins nothing (the emulator's stand-in for a match),
/// for `add` and `remove` alike; a cookie (`/COOKIE-<id>/audiences`) needs no upload and
/// is kept apart from the external ids.
pub(super) fn patch_dp_audiences(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let scope = require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = dp_body(world, call, audience::DP_PATCH_MAX_BODY, &["patches"])?;
    let patches = dp_list(world, &body, "patches", audience::DP_PATCHES_MAX, "records")?;
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    let mut outcomes = Vec::new();
    for (index, patch) in patches.iter().enumerate() {
        let found = audience::validate_dp_patch(patch, index);
        let mut unknown = Vec::new();
        if found.is_empty() {
            for (position, audience_id) in
                patch["value"].as_array().into_iter().flatten().enumerate()
            {
                let reachable = audience_id
                    .as_u64()
                    .and_then(|id| world.audiences.get(&id))
                    .filter(|audience| audience.kind == AudienceKind::DataProvider)
                    .is_some_and(|audience| {
                        advertiser_for(world, &caller, call, &audience.account_id).is_ok()
                    });
                if !reachable {
                    unknown.push(FieldError {
                        code: check::NOT_FOUND,
                        field_location: format!("patches[{index}].value[{position}]"),
                        message:
                            "no Data Provider audience with this id is reachable with this grant"
                                .to_owned(),
                    });
                }
            }
        }
        outcomes.push(Outcome {
            index,
            accepted: found.is_empty() && unknown.is_empty(),
            errors: found.iter().chain(&unknown).cloned().collect(),
        });
        errors.extend(found);
        missing.extend(unknown);
    }
    if !errors.is_empty() {
        let reply = dp_error(world, StatusCode::BAD_REQUEST, "INVALID_INPUT", &errors, "");
        return Err(reply.with_outcomes(outcomes));
    }
    if !missing.is_empty() {
        let reply = dp_error(world, StatusCode::NOT_FOUND, "NOT_FOUND", &missing, "");
        return Err(reply.with_outcomes(outcomes));
    }
    for patch in patches {
        let add = patch["op"] == "add";
        let member = patch["path"].as_str().and_then(audience::dp_patch_member);
        let (cookie, id) = match member {
            Some(audience::DpMember::Cookie(id)) => (true, id),
            Some(audience::DpMember::External(id)) => (false, id),
            None => continue,
        };
        let matched = cookie
            || world
                .dp_external_ids
                .get(&scope.account_id)
                .is_some_and(|known| known.contains(id));
        for audience_id in patch["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
        {
            let audience = world
                .audiences
                .get_mut(&audience_id)
                .expect("checked above");
            audience.received_records += 1;
            if !matched {
                continue;
            }
            let members = if cookie {
                &mut audience.cookie_members
            } else {
                &mut audience.members
            };
            if add {
                members.insert(id.to_owned());
            } else {
                members.remove(id);
            }
        }
    }
    let answer = json!({ "jobId": world.mint_uuid(), "requestId": world.mint_uuid() });
    Ok(Reply::json(StatusCode::OK, answer).with_outcomes(outcomes))
}

/// `PATCH /v2/dp/users`: erases users for the Scope profile's account, in either of
/// Amazon's documented forms (see [`audience::validate_dp_user`]); `operation`, when sent,
/// is `DELETE`. At most 1,000 users and 1 MB (413 `INPUT_TOO_LARGE` beyond); the request
/// taken whole (202 `{requestId}`) or refused whole (400 naming each field). An
/// `advertiserId`, when given, must be an advertiser of the Scope profile's account. Each
/// erased external id or cookie leaves every audience of that account (and an erased
/// external id must be uploaded again before it can join one).
pub(super) fn erase_dp_users(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let scope = require_scope(world, &caller, call)?;
    require_media(call, &[JSON])?;
    let body = dp_body(
        world,
        call,
        audience::DP_USERS_MAX_BODY,
        &["users", "operation"],
    )?;
    let users = dp_list(world, &body, "users", audience::DP_USERS_MAX, "users")?;
    let mut errors = Vec::new();
    if body.get("operation").is_some_and(|op| op != "DELETE") {
        errors.push(FieldError {
            code: check::IS_INVALID,
            field_location: "operation".into(),
            message: "operation must be DELETE".into(),
        });
    }
    for (index, user) in users.iter().enumerate() {
        let mut found = audience::validate_dp_user(user, index);
        if found.is_empty()
            && let Some(id) = user.get("advertiserId")
        {
            let advertiser_id = audience::dp_advertiser_id(id);
            let reachable = world.config.advertisers.iter().any(|advertiser| {
                advertiser.amc_id() == advertiser_id
                    && advertiser.account_id == scope.account_id
                    && can_reach(&caller, advertiser)
            });
            if !reachable {
                found.push(FieldError {
                    code: check::NOT_FOUND,
                    field_location: format!("users[{index}].advertiserId"),
                    message: "advertiserId is not the Scope profile's advertiser".to_owned(),
                });
            }
        }
        errors.extend(found);
    }
    if !errors.is_empty() {
        return Err(dp_error(
            world,
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            &errors,
            "",
        ));
    }
    let at = world.now_text();
    for user in users {
        let advertiser_id = audience::dp_advertiser_id(&user["advertiserId"]);
        let (form, ids) = audience::dp_user_ids(user);
        for (kind, text) in ids {
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
                advertiser_id,
                kind,
                id: text,
                consent_time: user["consentTime"].as_u64(),
                form: form.as_str(),
            });
        }
    }
    Ok(Reply::json(
        StatusCode::ACCEPTED,
        json!({ "requestId": world.mint_uuid() }),
    ))
}
