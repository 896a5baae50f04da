//! The `/dsp/v1` handlers: campaigns, ad groups and targets lists (`trafficking.rs`), and
//! third-party creatives, ad experiences, associations and moderation (`creatives.rs`).
//!
//! Requests are checked against the samples of Amazon's guide pages (no OpenAPI file exists
//! for `/dsp/v1`): `docs/guides/dsp/developer-guide.md`, `creative-management.md`,
//! `creative-associations.md`, and the `/dsp/v1` migration guides. Answers take the samples'
//! shapes, with empty `success` / `error` arrays left out (the migration guide's "Error
//! model").
//!
//! Headers: Amazon's DSP migration notes list `Amazon-Advertising-API-ClientId`,
//! `Amazon-Ads-AccountId` and `Amazon-Advertising-API-Scope` as required ("likely, not
//! proven": migration notes, not a spec); the emulator requires all three, the scope being
//! the advertiser's profile.

use super::*;

/// The advertiser of a `/dsp/v1` call: authentication with
/// `Amazon-Advertising-API-ClientId`, `Amazon-Ads-AccountId` (an advertiser the grant
/// reaches), `Amazon-Advertising-API-Scope` (that advertiser's profile), JSON media type
/// for calls with a body.
fn dsp_advertiser(world: &mut World, call: &Call<'_>, body: bool) -> Result<Advertiser, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let Some(account_id) = header(call, "amazon-ads-accountid") else {
        return Err(Reply::bad_request(
            "The Amazon-Ads-AccountId header is required.",
        ));
    };
    let advertiser = scoped_advertiser(world, &caller, call, account_id)?;
    if body {
        require_media(call, &[JSON])?;
    }
    Ok(advertiser)
}

/// `POST /dsp/v1/campaigns/list`, `…/adGroups/list` and `…/targets/list`: JSON body with
/// the id filter (the targets' inside `filters`), `maxResults` 1–100 and an issued
/// `nextToken`. Ids in a filter that the advertiser does not have are not an error; they
/// match nothing.
pub(super) fn list_trafficking(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let (filter_field, known, required, targets): (&str, &[&str], bool, bool) = match call.route {
        Route::DspCampaigns => (
            "campaignIdFilter",
            &["campaignIdFilter", "maxResults", "nextToken"],
            false,
            false,
        ),
        Route::DspAdGroups => (
            "campaignIdFilter",
            &["campaignIdFilter", "maxResults", "nextToken"],
            true,
            false,
        ),
        _ => (
            "adGroupIdFilter",
            &["filters", "maxResults", "nextToken"],
            true,
            true,
        ),
    };
    let body = parse_object(call, world.config.max_body_bytes, known)?;
    let list = trafficking::check_list_body(&body, filter_field, required, targets)
        .map_err(Reply::bad_request)?;
    let wanted = |id: &String| list.filter.as_ref().is_none_or(|ids| ids.contains(id));
    let campaigns = world
        .campaigns
        .get(&advertiser.account_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let answer = match call.route {
        Route::DspCampaigns => {
            let items = campaigns
                .iter()
                .filter(|c| wanted(&c.campaign_id))
                .map(trafficking::campaign_json)
                .collect();
            trafficking::page("campaigns", items, &list)
        }
        Route::DspAdGroups => {
            let items = campaigns
                .iter()
                .filter(|c| wanted(&c.campaign_id))
                .flat_map(|c| {
                    c.ad_groups
                        .iter()
                        .map(|g| trafficking::ad_group_json(&c.campaign_id, g))
                })
                .collect();
            trafficking::page("adGroups", items, &list)
        }
        _ => {
            let items = campaigns
                .iter()
                .flat_map(|c| &c.ad_groups)
                .filter(|g| wanted(&g.ad_group_id))
                .flat_map(|g| trafficking::targets_json(g, &list.target_types))
                .collect();
            trafficking::page("targets", items, &list)
        }
    };
    Ok(Reply::json(StatusCode::OK, answer))
}

/// Refuses association `index` in a multi-status answer (`creative-associations.md`:
/// `error` items `{index, code, adCreativeId, description, adGroupId}`; `success` items
/// `{index, adCreativeId, adGroupId}`; an empty array is left out, as `sparse_reply` does).
fn refuse_association(
    answer: &mut MultiStatus,
    index: usize,
    ids: &Value,
    code: &'static str,
    errors: Vec<FieldError>,
) {
    let description = errors
        .iter()
        .map(|e| format!("{}: {}", e.field_location, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    let entry = json!({
        "index": index,
        "code": code,
        "adCreativeId": ids["adCreativeId"],
        "description": description,
        "adGroupId": ids["adGroupId"],
    });
    answer.refused(index, entry, errors);
}

/// A refusal of one item that is not about one field's shape.
fn item_error(field: String, code: &'static str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError {
        code,
        field_location: field,
        message: message.into(),
    }]
}

/// A 400 whose message lists field errors.
fn field_errors(errors: &[FieldError]) -> Reply {
    let message = errors
        .iter()
        .map(|e| format!("{}: {}", e.field_location, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Reply::bad_request(message)
}

/// The whole body of a creative call as one JSON object (fields other than a creative's
/// are refused).
fn body_value(world: &World, call: &Call<'_>) -> Result<Value, Reply> {
    Ok(Value::Object(parse_object(
        call,
        world.config.max_body_bytes,
        creatives::CREATIVE_FIELDS,
    )?))
}

/// `POST /dsp/v1/adCreatives`: one third-party creative (`creative-management.md`, "Step
/// 1"), answered `{"adCreativeId": …}`. A batch wrapper (`adCreatives`) is refused as an
/// unknown field.
pub(super) fn create_creative(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = body_value(world, call)?;
    let new = creatives::check_create(&body, "").map_err(|e| field_errors(&e))?;
    let id = format!("59{:010}", world.next_id());
    world.creatives.insert(
        id.clone(),
        Creative {
            ad_creative_id: id.clone(),
            account_id: advertiser.account_id.clone(),
            name: new.name,
            language: new.language,
            country: new.country,
            format: new.format,
            ad_experience: None,
            moderation_status: None,
            reasons: Vec::new(),
            version: 1,
        },
    );
    Ok(Reply::json(StatusCode::OK, json!({ "adCreativeId": id })))
}

/// `PATCH /dsp/v1/adCreatives/{adCreativeId}`: the given fields of one creative of the
/// advertiser, 204. A changed tag sends an associated creative back to moderation
/// (`PENDING`); the tag type cannot change once the ad experience is set.
pub(super) fn update_creative(
    world: &mut World,
    call: &Call<'_>,
    id: &str,
) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = body_value(world, call)?;
    let change = creatives::check_update(&body).map_err(|e| field_errors(&e))?;
    let Some(creative) = world
        .creatives
        .get_mut(id)
        .filter(|c| c.account_id == advertiser.account_id)
    else {
        return Err(Reply::not_found("No such creative for this advertiser."));
    };
    if let Some(format) = &change.format
        && creative.ad_experience.is_some()
        && format.tag_type != creative.format.tag_type
    {
        return Err(Reply::bad_request(
            "adCreativeFormatProperties.thirdPartyTag.tagType: tagType cannot change: the creative's ad experience is permanent",
        ));
    }
    if let Some(name) = change.name {
        creative.name = name;
    }
    if let Some(language) = change.language {
        creative.language = language;
    }
    if let Some(country) = change.country {
        creative.country = country;
    }
    if let Some(format) = change.format
        && format != creative.format
    {
        creative.format = format;
        if creative.moderation_status.is_some() {
            creative.moderation_status = Some("PENDING".to_owned());
            creative.reasons.clear();
        }
    }
    creative.version += 1;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `POST /dsp/v1/adCreatives/list`: the advertiser's creatives (optionally
/// `adCreativeIdFilter{include}`), paged, in the sample's item shape with the id.
pub(super) fn list_creatives(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(
        call,
        world.config.max_body_bytes,
        &["adCreativeIdFilter", "maxResults", "nextToken"],
    )?;
    let ids = include_filter(&body, "adCreativeIdFilter", trafficking::MAX_PAGE)?;
    let mut paging = body.clone();
    paging.remove("adCreativeIdFilter");
    let list = trafficking::check_list_body(&paging, "adCreativeIdFilter", false, false)
        .map_err(Reply::bad_request)?;
    let items: Vec<Value> = world
        .creatives
        .values()
        .filter(|c| c.account_id == advertiser.account_id)
        .filter(|c| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&c.ad_creative_id))
        })
        .map(|c| {
            let mut properties = json!({
                "adCreativeFormatType": "THIRD_PARTY",
                "thirdPartyTag": {
                    "tagSource": c.format.tag_source,
                    "tagType": c.format.tag_type,
                    "destinationOnAmazon": "OFF_AMAZON",
                },
            });
            if !c.format.creative_sizes.is_empty() {
                let sizes: Vec<Value> = c
                    .format
                    .creative_sizes
                    .iter()
                    .map(|(w, h)| json!({ "width": w, "height": h }))
                    .collect();
                properties["creativeSizes"] = json!(sizes);
            }
            if !c.format.tracking_urls.is_empty() {
                properties["trackingUrls"] = json!(c.format.tracking_urls);
            }
            json!({
                "adCreativeId": c.ad_creative_id,
                "name": c.name,
                "language": c.language,
                "country": c.country,
                "adCreativeFormatProperties": properties,
            })
        })
        .collect();
    let total = items.len();
    let mut answer = trafficking::page("adCreatives", items, &list);
    answer["totalResults"] = json!(total);
    Ok(Reply::json(StatusCode::OK, answer))
}

/// An `{include: [ids]}` filter at `field` (1 to `max` non-empty strings), if present.
fn include_filter(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<Vec<String>>, Reply> {
    let Some(value) = body.get(field) else {
        return Ok(None);
    };
    let bad = || {
        Reply::bad_request(format!(
            "{field} must be {{\"include\": [1 to {max} ids]}}."
        ))
    };
    let filter = value.as_object().ok_or_else(bad)?;
    if filter.keys().any(|k| k != "include") {
        return Err(bad());
    }
    let items = filter
        .get("include")
        .and_then(Value::as_array)
        .filter(|items| (1..=max).contains(&items.len()))
        .ok_or_else(bad)?;
    items
        .iter()
        .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .map(Some)
        .ok_or_else(bad)
}

/// `PUT /dsp/v1/adExperiences`: `{adCreativeId, adExperiences:[one]}`, the one matching the
/// tag type, as an object `{adExperience}` (six of the guide's seven samples) or a string
/// (the seventh). Set once: the same value again is taken, another one refused. 204.
pub(super) fn put_ad_experience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(
        call,
        world.config.max_body_bytes,
        &["adCreativeId", "adExperiences"],
    )?;
    let Some(id) = body.get("adCreativeId").and_then(Value::as_str) else {
        return Err(Reply::bad_request(
            "adCreativeId is required and must be a string.",
        ));
    };
    let named = |v: &Value| -> Option<String> {
        let name = match v {
            Value::String(name) => name.as_str(),
            Value::Object(item) if item.keys().all(|k| k == "adExperience") => {
                item.get("adExperience")?.as_str()?
            }
            _ => return None,
        };
        trafficking::AD_EXPERIENCES
            .contains(&name)
            .then(|| name.to_owned())
    };
    let experience = match body
        .get("adExperiences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        // "only a single Ad Experience can be associated to a given Ad Creative".
        Some([one]) => named(one),
        _ => None,
    }
    .ok_or_else(|| {
        Reply::bad_request(format!(
            "adExperiences must hold exactly one {{\"adExperience\": …}} of {}.",
            trafficking::AD_EXPERIENCES.join(", ")
        ))
    })?;
    let Some(creative) = world
        .creatives
        .get_mut(id)
        .filter(|c| c.account_id == advertiser.account_id)
    else {
        return Err(Reply::not_found("No such creative for this advertiser."));
    };
    if experience != creatives::experience_for(&creative.format.tag_type) {
        return Err(Reply::bad_request(format!(
            "adExperiences: a {} tag takes {}.",
            creative.format.tag_type,
            creatives::experience_for(&creative.format.tag_type)
        )));
    }
    match &creative.ad_experience {
        Some(set) if *set != experience => {
            return Err(Reply::bad_request(
                "Ad Experiences may not be removed from Ad Creatives once associated.",
            ));
        }
        _ => creative.ad_experience = Some(experience),
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `POST /dsp/v1/adCreatives/associations/adGroups`: `{associations[1–20]}`, 207 per
/// index. Refused per item: an unknown creative or ad group, a weight on an ad group of
/// `RANDOM` rotation, a creative without its ad experience, a tag type the ad group's
/// inventory does not take, a campaign that is not running (`CAMPAIGN_NOT_ACTIVE`), an
/// association that exists (`ASSOCIATION_ALREADY_EXISTS`). The first association starts
/// the creative's moderation (`PENDING`).
pub(super) fn associate_creatives(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let account = advertiser.account_id.clone();
    let body = parse_object(call, world.config.max_body_bytes, &["associations"])?;
    let items = creatives::batch(&body, "associations", trafficking::MAX_PER_CALL)
        .map_err(Reply::bad_request)?;
    let mut answer = MultiStatus::default();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("associations[{index}]");
        let new = match creatives::check_association(item, &prefix) {
            Ok(new) => new,
            Err(errors) => {
                refuse_association(&mut answer, index, item, check::BAD_REQUEST, errors);
                continue;
            }
        };
        let group = world.campaigns.get(&account).and_then(|campaigns| {
            campaigns.iter().find_map(|c| {
                c.ad_groups
                    .iter()
                    .find(|g| g.ad_group_id == new.ad_group_id)
                    .map(|g| {
                        (
                            c.campaign_id.clone(),
                            c.state.clone(),
                            g.inventory_type.clone(),
                            g.creative_rotation_type.clone(),
                        )
                    })
            })
        });
        let creative = world
            .creatives
            .get(&new.ad_creative_id)
            .filter(|c| c.account_id == account);
        let refusal: Option<(&'static str, String, String)> = match (&group, creative) {
            (None, _) => Some((
                check::NOT_FOUND,
                "adGroupId".into(),
                "no such ad group for this advertiser".into(),
            )),
            (_, None) => Some((
                check::NOT_FOUND,
                "adCreativeId".into(),
                "no such creative for this advertiser".into(),
            )),
            (Some((_, _, _, rotation)), _)
                if new.weight.is_some() && rotation.as_deref() == Some("RANDOM") =>
            {
                Some((
                    check::BAD_REQUEST,
                    "weight".into(),
                    "weight can't be set if rotationType in adGroup is random".into(),
                ))
            }
            (Some((campaign, state, _, _)), _)
                if !trafficking::RUNNING_STATES.contains(&state.as_str()) =>
            {
                Some((
                    trafficking::CAMPAIGN_NOT_ACTIVE,
                    "adGroupId".into(),
                    format!(
                        "campaign {campaign} is {state}: creatives are taken only while it is running"
                    ),
                ))
            }
            (_, Some(c)) if c.ad_experience.is_none() => Some((
                check::IS_INVALID,
                "adCreativeId".into(),
                "the creative has no ad experience yet (PUT /dsp/v1/adExperiences)".into(),
            )),
            (Some((_, _, inventory, _)), Some(c))
                if !creatives::fits(inventory, &c.format.tag_type) =>
            {
                Some((
                    check::IS_INVALID,
                    "adCreativeId".into(),
                    format!(
                        "a {} tag does not serve on {inventory} inventory",
                        c.format.tag_type
                    ),
                ))
            }
            _ if world.associations.iter().any(|a| {
                a.account_id == account
                    && a.ad_creative_id == new.ad_creative_id
                    && a.ad_group_id == new.ad_group_id
            }) =>
            {
                Some((
                    trafficking::ALREADY_ASSOCIATED,
                    "adCreativeId".into(),
                    "the creative is already associated with this ad group".into(),
                ))
            }
            _ => None,
        };
        if let Some((code, field, message)) = refusal {
            let errors = item_error(format!("{prefix}.{field}"), check::IS_INVALID, message);
            refuse_association(&mut answer, index, item, code, errors);
            continue;
        }
        if let Some(creative) = world.creatives.get_mut(&new.ad_creative_id)
            && creative.moderation_status.is_none()
        {
            creative.moderation_status = Some("PENDING".to_owned());
        }
        answer.accepted(
            index,
            json!({ "index": index, "adCreativeId": new.ad_creative_id, "adGroupId": new.ad_group_id }),
        );
        world.associations.push(Association {
            account_id: account.clone(),
            ad_creative_id: new.ad_creative_id,
            ad_group_id: new.ad_group_id,
            weight: new.weight,
            state: new.state,
        });
    }
    Ok(answer.sparse_reply())
}

/// `GET /dsp/v1/adCreatives/{id}/moderations` (`creative-management.md`, "Step 3"):
/// `adCreativeStatuses[{adCreativeId, adCreativeModerationStatus, adExperiences[…]}]`; 404
/// before its first association (moderation has not started).
pub(super) fn get_moderation(world: &mut World, call: &Call<'_>, id: &str) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, false)?;
    let Some(creative) = world
        .creatives
        .get(id)
        .filter(|c| c.account_id == advertiser.account_id)
    else {
        return Err(Reply::not_found("No such creative for this advertiser."));
    };
    let Some(status) = &creative.moderation_status else {
        return Err(Reply::not_found(
            "Moderation starts when the creative is associated with an ad group.",
        ));
    };
    let experience = creatives::experience_for(&creative.format.tag_type);
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "totalResults": 1,
            "adCreativeStatuses": [{
                "adCreativeId": id,
                "adCreativeModerationStatus": status,
                "adExperiences": [{
                    "adExperience": experience,
                    "reasons": creative.reasons,
                    "moderationStatus": status,
                }],
            }],
        }),
    ))
}

/// `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list`
/// (`creative-associations.md`): `adGroupIdFilter` and/or `adCreativeIdFilter`, each
/// `{include: [1–20 ids]}` (both: associations matching both); one `associationStatuses`
/// line per association, paged as the other lists.
pub(super) fn list_moderations(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(
        call,
        world.config.max_body_bytes,
        &[
            "adGroupIdFilter",
            "adCreativeIdFilter",
            "maxResults",
            "nextToken",
        ],
    )?;
    let groups = include_filter(&body, "adGroupIdFilter", trafficking::MAX_PER_CALL)?;
    let creative_ids = include_filter(&body, "adCreativeIdFilter", trafficking::MAX_PER_CALL)?;
    if groups.is_none() && creative_ids.is_none() {
        return Err(Reply::bad_request(
            "adGroupIdFilter or adCreativeIdFilter is required.",
        ));
    }
    let mut paging = body.clone();
    paging.remove("adGroupIdFilter");
    paging.remove("adCreativeIdFilter");
    let list = trafficking::check_list_body(&paging, "adGroupIdFilter", false, false)
        .map_err(Reply::bad_request)?;
    let items: Vec<Value> = world
        .associations
        .iter()
        .filter(|a| a.account_id == advertiser.account_id)
        .filter(|a| groups.as_ref().is_none_or(|g| g.contains(&a.ad_group_id)))
        .filter(|a| {
            creative_ids
                .as_ref()
                .is_none_or(|c| c.contains(&a.ad_creative_id))
        })
        .filter_map(|a| {
            let creative = world.creatives.get(&a.ad_creative_id)?;
            let status = creative.moderation_status.as_deref().unwrap_or("PENDING");
            let mut experience = json!({
                "adExperience": creative.ad_experience.as_deref()
                    .unwrap_or(creatives::experience_for(&creative.format.tag_type)),
                "associationModerationStatus": status,
            });
            // "When associationModerationStatus is NOT_APPROVED, associationModerationReasons
            // will be present."
            if status == "NOT_APPROVED" {
                experience["associationModerationReasons"] = json!(creative.reasons);
            }
            Some(json!({
                "adCreativeId": a.ad_creative_id,
                "adGroupId": a.ad_group_id,
                "adExperiences": [experience],
            }))
        })
        .collect();
    let total = items.len();
    let mut answer = trafficking::page("associationStatuses", items, &list);
    answer["totalResults"] = json!(total);
    Ok(Reply::json(StatusCode::OK, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_filters_hold_one_to_twenty_ids() {
        let body = |v: Value| v.as_object().unwrap().clone();
        let ok = body(json!({"adGroupIdFilter": {"include": ["g1", "g2"]}}));
        assert_eq!(
            include_filter(&ok, "adGroupIdFilter", 20).ok().unwrap(),
            Some(vec!["g1".to_owned(), "g2".to_owned()])
        );
        let ids: Vec<String> = (0..21).map(|i| format!("g{i}")).collect();
        for bad in [
            json!({"adGroupIdFilter": ["g1"]}),
            json!({"adGroupIdFilter": {"include": []}}),
            json!({"adGroupIdFilter": {"include": ids}}),
            json!({"adGroupIdFilter": {"include": ["g1"], "exclude": ["g2"]}}),
        ] {
            assert!(
                include_filter(&body(bad.clone()), "adGroupIdFilter", 20).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            include_filter(&body(json!({})), "adGroupIdFilter", 20)
                .ok()
                .unwrap(),
            None
        );
    }
}
