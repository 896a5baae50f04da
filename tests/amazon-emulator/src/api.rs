//! Routing, the shared checks (authentication, media type, JSON, advertiser access) and
//! the Ads API handlers not yet in a family file of `api/`: account discovery is in
//! `api/accounts.rs`, the Events API and legacy DSP import in `api/events.rs`, AMC
//! advertiser data uploads in `api/adu.rs`.
//!
//! Each handler is a synchronous function of the [`World`] and the request. Checks run in
//! the order a gateway would run them: authentication, client id, advertiser access,
//! media type, size, JSON, then the body field by field.

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::audience;
use crate::check::{self, FieldError};
use crate::config::{Advertiser, ProfileType, Region};
use crate::creatives::{self, Association, Creative};
use crate::lwa;
use crate::reply::Reply;
use crate::state::{
    AcceptedEvent, Audience, AudienceKind, CookieMatch, DataSet, Erasure, Job, Outcome, Upload,
    World,
};
use crate::trafficking;

mod accounts;
mod adu;
mod events;

use accounts::{
    list_amc_accounts, list_amc_instances, list_dsp_advertisers, list_profiles,
    query_advertiser_accounts,
};
use adu::{create_data_set, create_upload, get_data_set, get_upload};
use events::{create_events, import_dsp_events};

/// Largest audience upload (AMC records, Data Provider records): the Data Provider API's
/// documented 5 MB; AMC documents no byte limit, so the same one applies.
const AUDIENCE_MAX_BODY: usize = 5 * 1024 * 1024;
/// Most errors Amazon lists per item (`ErrorsIndex.errors` maxItems).
const MAX_ERRORS_PER_ITEM: usize = 20;

/// JSON media type.
const JSON: &str = "application/json";
/// Media type of the legacy DSP import.
const DSP_IMPORT: &str = "application/vnd.dspconversioneventimport.v1+json";
/// Media type Segment sends to the AMC audience API.
const AMC_AUDIENCES: &str = "application/vnd.amcaudiences.v1+json";
/// Media type of the Data Provider hashed-records upload.
const DP_RECORDS: &str = "application/vnd.dpuploadhashedrecordsrequest.v3+json";

/// The endpoint a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /auth/o2/token`
    Token,
    /// `GET /ap/oa` (the LwA consent page)
    Authorize,
    /// `GET /v2/profiles`
    Profiles,
    /// `POST /adsApi/v1/query/advertiserAccounts`
    AdvertiserAccounts,
    /// `GET /dsp/advertisers`
    DspAdvertisers,
    /// `GET /amc/accounts`
    AmcAccounts,
    /// `GET /amc/instances`
    AmcInstances,
    /// `POST /adsApi/v1/create/events`
    Events,
    /// `POST /accounts/{accountId}/dsp/conversionDefinitions/eventData`
    DspEvents { account_id: String },
    /// `POST /amc/audiences/metadata`
    AmcMetadataCreate,
    /// `GET /amc/audiences/metadata/{audienceId}`
    AmcMetadataGet { audience_id: String },
    /// `POST /amc/audiences/records`
    AmcRecords,
    /// `GET /amc/audiences/records/{jobRequestId}`
    AmcJob { job_request_id: String },
    /// `POST /dp/records/hashed`
    DpRecords,
    /// `POST /amc/advertiserData/{instanceId}/dataSets`
    AmcDataSetCreate { instance_id: String },
    /// `GET /amc/advertiserData/{instanceId}/dataSets/{dataSetId}`
    AmcDataSetGet {
        instance_id: String,
        data_set_id: String,
    },
    /// `POST /amc/advertiserData/{instanceId}/uploads/{dataSetId}`
    AmcUploadCreate {
        instance_id: String,
        data_set_id: String,
    },
    /// `GET /amc/advertiserData/{instanceId}/uploads/{dataSetId}/{uploadId}`
    AmcUploadGet {
        instance_id: String,
        data_set_id: String,
        upload_id: String,
    },
    /// `POST /v2/dp/audiencemetadata/` (with the trailing slash, as documented)
    DpAudienceMetadata,
    /// `PATCH /v2/dp/audience`
    DpAudience,
    /// `PATCH /v2/dp/users`: erasure.
    DpUsers,
    /// `GET /ecm3` (and the EU host's `GET /s/ecm3`, `eu`): cookie matching, from a page.
    CookieMatch { eu: bool },
    /// `POST /dsp/v1/campaigns/list`
    DspCampaigns,
    /// `POST /dsp/v1/adGroups/list`
    DspAdGroups,
    /// `POST /dsp/v1/targets/list`
    DspTargets,
    /// `POST /dsp/v1/adCreatives`
    DspCreativesCreate,
    /// `PATCH /dsp/v1/adCreatives`
    DspCreativesUpdate,
    /// `PUT /dsp/v1/adExperiences`
    DspAdExperiences,
    /// `POST /dsp/v1/adCreatives/associations/adGroups`
    DspAssociations,
    /// `GET /dsp/v1/adCreatives/{adCreativeId}/moderations`
    DspModeration { ad_creative_id: String },
    /// `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list`
    DspModerations,
    /// Anything else.
    Unknown,
}

/// One request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) route: Route,
    pub(crate) region: Option<Region>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) query: Option<&'a str>,
    pub(crate) body: &'a Bytes,
    /// An `expired_token` fault fired: expire the presented token and refuse it.
    pub(crate) expire_token: bool,
}

/// Which header carries the client id: the v1 APIs use `Amazon-Ads-ClientId`, the older
/// ones `Amazon-Advertising-API-ClientId` (doc A0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientHeader {
    Ads,
    Advertising,
}

/// Who is calling, once the access token checked out.
#[derive(Debug, Clone)]
struct Caller {
    advertisers: Option<Vec<String>>,
}

impl Route {
    /// Routes a method and a path (without region prefix).
    pub(crate) fn parse(method: &Method, path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let post = method == Method::POST;
        let get = method == Method::GET;
        let patch = method == Method::PATCH;
        let put = method == Method::PUT;
        let owned = |segment: &&str| (*segment).to_owned();
        let all_set = |segments: &[&str]| segments.iter().all(|segment| !segment.is_empty());
        match segments.as_slice() {
            ["auth", "o2", "token"] if post => Self::Token,
            ["ap", "oa"] if get => Self::Authorize,
            ["v2", "profiles"] if get => Self::Profiles,
            ["adsApi", "v1", "query", "advertiserAccounts"] if post => Self::AdvertiserAccounts,
            ["dsp", "advertisers"] if get => Self::DspAdvertisers,
            ["amc", "accounts"] if get => Self::AmcAccounts,
            ["amc", "instances"] if get => Self::AmcInstances,
            ["adsApi", "v1", "create", "events"] if post => Self::Events,
            [
                "accounts",
                account_id,
                "dsp",
                "conversionDefinitions",
                "eventData",
            ] if post && !account_id.is_empty() => Self::DspEvents {
                account_id: (*account_id).to_owned(),
            },
            ["amc", "audiences", "metadata"] if post => Self::AmcMetadataCreate,
            ["amc", "audiences", "metadata", id] if get && !id.is_empty() => Self::AmcMetadataGet {
                audience_id: (*id).to_owned(),
            },
            ["amc", "audiences", "records"] if post => Self::AmcRecords,
            ["amc", "audiences", "records", id] if get && !id.is_empty() => Self::AmcJob {
                job_request_id: (*id).to_owned(),
            },
            ["dp", "records", "hashed"] if post => Self::DpRecords,
            ["amc", "advertiserData", instance, "dataSets"] if post && all_set(&[instance]) => {
                Self::AmcDataSetCreate {
                    instance_id: owned(instance),
                }
            }
            ["amc", "advertiserData", instance, "dataSets", data_set]
                if get && all_set(&[instance, data_set]) =>
            {
                Self::AmcDataSetGet {
                    instance_id: owned(instance),
                    data_set_id: owned(data_set),
                }
            }
            // `POST …/uploads/list` lists uploads at Amazon; it is not emulated, and must not
            // be taken for an upload to a data set named "list".
            ["amc", "advertiserData", instance, "uploads", data_set]
                if post && all_set(&[instance, data_set]) && *data_set != "list" =>
            {
                Self::AmcUploadCreate {
                    instance_id: owned(instance),
                    data_set_id: owned(data_set),
                }
            }
            [
                "amc",
                "advertiserData",
                instance,
                "uploads",
                data_set,
                upload,
            ] if get && all_set(&[instance, data_set, upload]) => Self::AmcUploadGet {
                instance_id: owned(instance),
                data_set_id: owned(data_set),
                upload_id: owned(upload),
            },
            ["v2", "dp", "audiencemetadata", ""] if post => Self::DpAudienceMetadata,
            ["v2", "dp", "audience"] if patch => Self::DpAudience,
            ["v2", "dp", "users"] if patch => Self::DpUsers,
            ["ecm3"] if get => Self::CookieMatch { eu: false },
            ["s", "ecm3"] if get => Self::CookieMatch { eu: true },
            ["dsp", "v1", "campaigns", "list"] if post => Self::DspCampaigns,
            ["dsp", "v1", "adGroups", "list"] if post => Self::DspAdGroups,
            ["dsp", "v1", "targets", "list"] if post => Self::DspTargets,
            ["dsp", "v1", "adCreatives"] if post => Self::DspCreativesCreate,
            ["dsp", "v1", "adCreatives"] if patch => Self::DspCreativesUpdate,
            ["dsp", "v1", "adExperiences"] if put => Self::DspAdExperiences,
            ["dsp", "v1", "adCreatives", "associations", "adGroups"] if post => {
                Self::DspAssociations
            }
            [
                "dsp",
                "v1",
                "adCreatives",
                "associations",
                "adGroups",
                "moderations",
                "list",
            ] if post => Self::DspModerations,
            ["dsp", "v1", "adCreatives", id, "moderations"] if get && all_set(&[id]) => {
                Self::DspModeration {
                    ad_creative_id: owned(id),
                }
            }
            _ => Self::Unknown,
        }
    }

    /// The endpoint's name in faults and the request log.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Authorize => "authorize",
            Self::Profiles => "profiles",
            Self::AdvertiserAccounts => "advertiserAccounts",
            Self::DspAdvertisers => "dspAdvertisers",
            Self::AmcAccounts => "amcAccounts",
            Self::AmcInstances => "amcInstances",
            Self::Events => "events",
            Self::DspEvents { .. } => "dspEvents",
            Self::AmcMetadataCreate | Self::AmcMetadataGet { .. } => "amcMetadata",
            Self::AmcRecords => "amcRecords",
            Self::AmcJob { .. } => "amcJobs",
            Self::DpRecords => "dpRecords",
            Self::AmcDataSetCreate { .. } | Self::AmcDataSetGet { .. } => "amcDataSets",
            Self::AmcUploadCreate { .. } => "amcUploads",
            Self::AmcUploadGet { .. } => "amcUploadJobs",
            Self::DpAudienceMetadata => "dpAudienceMetadata",
            Self::DpAudience => "dpAudience",
            Self::DpUsers => "dpUsers",
            Self::CookieMatch { .. } => "cookieMatch",
            Self::DspCampaigns => "dspCampaigns",
            Self::DspAdGroups => "dspAdGroups",
            Self::DspTargets => "dspTargets",
            Self::DspCreativesCreate | Self::DspCreativesUpdate => "dspCreatives",
            Self::DspAdExperiences => "dspAdExperiences",
            Self::DspAssociations => "dspAssociations",
            Self::DspModeration { .. } | Self::DspModerations => "dspModerations",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the endpoint is Login with Amazon (its errors have LwA's shape).
    pub(crate) fn is_lwa(&self) -> bool {
        matches!(self, Self::Token | Self::Authorize)
    }
}

/// Answers one request.
pub(crate) fn handle(world: &mut World, call: &Call<'_>) -> Reply {
    let result = match &call.route {
        Route::Token => Ok(lwa::token(world, call)),
        Route::Authorize => Ok(lwa::authorize(world, call)),
        Route::Profiles => list_profiles(world, call),
        Route::AdvertiserAccounts => query_advertiser_accounts(world, call),
        Route::DspAdvertisers => list_dsp_advertisers(world, call),
        Route::AmcAccounts => list_amc_accounts(world, call),
        Route::AmcInstances => list_amc_instances(world, call),
        Route::Events => create_events(world, call),
        Route::DspEvents { account_id } => import_dsp_events(world, call, account_id),
        Route::AmcMetadataCreate => create_audience(world, call),
        Route::AmcMetadataGet { audience_id } => get_audience(world, call, audience_id),
        Route::AmcRecords => upload_audience_records(world, call),
        Route::AmcJob { job_request_id } => get_audience_job(world, call, job_request_id),
        Route::DpRecords => upload_dp_records(world, call),
        Route::AmcDataSetCreate { instance_id } => create_data_set(world, call, instance_id),
        Route::AmcDataSetGet {
            instance_id,
            data_set_id,
        } => get_data_set(world, call, instance_id, data_set_id),
        Route::AmcUploadCreate {
            instance_id,
            data_set_id,
        } => create_upload(world, call, instance_id, data_set_id),
        Route::AmcUploadGet {
            instance_id,
            data_set_id,
            upload_id,
        } => get_upload(world, call, instance_id, data_set_id, upload_id),
        Route::DpAudienceMetadata => create_dp_audience(world, call),
        Route::DpAudience => patch_dp_audiences(world, call),
        Route::DpUsers => erase_dp_users(world, call),
        Route::CookieMatch { eu } => Ok(cookie_match(world, call, *eu)),
        Route::DspCampaigns | Route::DspAdGroups | Route::DspTargets => {
            list_trafficking(world, call)
        }
        Route::DspCreativesCreate => create_creatives(world, call),
        Route::DspCreativesUpdate => update_creatives(world, call),
        Route::DspAdExperiences => put_ad_experience(world, call),
        Route::DspAssociations => associate_creatives(world, call),
        Route::DspModeration { ad_creative_id } => get_moderation(world, call, ad_creative_id),
        Route::DspModerations => list_moderations(world, call),
        Route::Unknown => Err(Reply::not_found(
            "No such endpoint in the Amazon Ads API emulator.",
        )),
    };
    result.unwrap_or_else(|reply| reply)
}

/// A header's value, trimmed; `None` when absent, empty or not text.
pub(crate) fn header<'a>(call: &Call<'a>, name: &str) -> Option<&'a str> {
    let value = call.headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then_some(value)
}

/// The media type of the body, lowercase, without parameters.
pub(crate) fn media_type(call: &Call<'_>) -> Option<String> {
    let value = call.headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn require_media(call: &Call<'_>, allowed: &[&str]) -> Result<(), Reply> {
    match media_type(call) {
        Some(media) if allowed.contains(&media.as_str()) => Ok(()),
        _ => Err(Reply::unsupported_media_type(&allowed.join(" or "))),
    }
}

fn parse_json(call: &Call<'_>, limit: usize) -> Result<Value, Reply> {
    if call.body.len() > limit {
        return Err(Reply::too_large(limit));
    }
    serde_json::from_slice(call.body)
        .map_err(|_| Reply::bad_request("The request body is not valid JSON."))
}

/// The body as an object whose keys are all in `known`.
fn parse_object(
    call: &Call<'_>,
    limit: usize,
    known: &[&str],
) -> Result<Map<String, Value>, Reply> {
    let Value::Object(body) = parse_json(call, limit)? else {
        return Err(Reply::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    if let Some(key) = body.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(Reply::bad_request(format!(
            "Unknown field '{key}' in the request body."
        )));
    }
    Ok(body)
}

/// Checks the bearer token and the client-id header.
fn authenticate(
    world: &mut World,
    call: &Call<'_>,
    client_header: ClientHeader,
) -> Result<Caller, Reply> {
    const EXPIRED: &str = "The access token is expired or invalid.";
    let Some(authorization) = call
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Reply::unauthorized("Missing Authorization header."));
    };
    let token = match authorization.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => {
            return Err(Reply::unauthorized(
                "Authorization must be 'Bearer <access token>'.",
            ));
        }
    };
    let now = world.now();
    if call.expire_token {
        if let Some(entry) = world.access_tokens.get_mut(token) {
            entry.expires_at = now;
        }
        return Err(Reply::unauthorized(EXPIRED));
    }
    let Some(entry) = world.access_tokens.get(token) else {
        return Err(Reply::unauthorized(EXPIRED));
    };
    if entry.expires_at <= now {
        return Err(Reply::unauthorized(EXPIRED));
    }
    let (name, other) = match client_header {
        ClientHeader::Ads => ("Amazon-Ads-ClientId", "Amazon-Advertising-API-ClientId"),
        ClientHeader::Advertising => ("Amazon-Advertising-API-ClientId", "Amazon-Ads-ClientId"),
    };
    let Some(client_id) = header(call, name) else {
        return Err(Reply::bad_request(format!(
            "The {name} header is required."
        )));
    };
    // Amazon's own sample sends both names; when both come they must agree.
    let other_differs = header(call, other).is_some_and(|other_id| other_id != client_id);
    if client_id != entry.client_id || other_differs {
        return Err(Reply::unauthorized(format!(
            "The {name} header does not match the client the access token was issued to."
        )));
    }
    Ok(Caller {
        advertisers: entry.advertisers.clone(),
    })
}

/// Whether the caller's grant covers `advertiser`.
fn can_reach(caller: &Caller, advertiser: &Advertiser) -> bool {
    caller
        .advertisers
        .as_ref()
        .is_none_or(|list| list.contains(&advertiser.account_id))
}

/// The advertiser with `account_id`, if the caller may act for it in this region.
fn advertiser_for(
    world: &World,
    caller: &Caller,
    call: &Call<'_>,
    account_id: &str,
) -> Result<Advertiser, Reply> {
    let advertiser = world
        .config
        .advertiser(account_id)
        .filter(|advertiser| can_reach(caller, advertiser))
        .ok_or_else(|| {
            Reply::forbidden("The access token's grant does not include this advertiser account.")
        })?;
    if let Some(region) = call.region
        && region != advertiser.region
    {
        return Err(Reply::forbidden(format!(
            "This advertiser account lives in region {}; call that region's host.",
            advertiser.region.code()
        )));
    }
    Ok(advertiser.clone())
}

/// `POST /dsp/v1/campaigns/list`, `…/adGroups/list` and `…/targets/list` (doc F3; shapes
/// from a third-party copy of the spec, see `trafficking.rs`): `Amazon-Ads-AccountId`
/// required, JSON body with the id filter, `maxResults` 1–100 and an issued `nextToken`.
/// Ids in a filter that the advertiser does not have are not an error; they match nothing.
fn list_trafficking(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Ads)?;
    let Some(account_id) = header(call, "amazon-ads-accountid") else {
        return Err(Reply::bad_request(
            "The Amazon-Ads-AccountId header is required.",
        ));
    };
    let advertiser = advertiser_for(world, &caller, call, account_id)?;
    require_media(call, &[JSON])?;
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
            &[
                "adGroupIdFilter",
                "targetTypeFilter",
                "maxResults",
                "nextToken",
            ],
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

/// The advertiser of a `/dsp/v1` call: authentication, `Amazon-Ads-AccountId` (an
/// advertiser the grant reaches), JSON media type for calls with a body.
fn dsp_advertiser(world: &mut World, call: &Call<'_>, body: bool) -> Result<Advertiser, Reply> {
    let caller = authenticate(world, call, ClientHeader::Ads)?;
    let Some(account_id) = header(call, "amazon-ads-accountid") else {
        return Err(Reply::bad_request(
            "The Amazon-Ads-AccountId header is required.",
        ));
    };
    let advertiser = advertiser_for(world, &caller, call, account_id)?;
    if body {
        require_media(call, &[JSON])?;
    }
    Ok(advertiser)
}

/// The entry of a refused write item: `{index, code, description}` (doc F3).
fn dsp_error(answer: &mut MultiStatus, index: usize, code: &'static str, errors: Vec<FieldError>) {
    let description = errors
        .iter()
        .map(|e| format!("{}: {}", e.field_location, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    let entry = json!({ "index": index, "code": code, "description": description });
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

/// `POST /dsp/v1/adCreatives`: 1 to 20 third-party creatives, 207 per index.
fn create_creatives(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(call, world.config.max_body_bytes, &["adCreatives"])?;
    let items = creatives::batch(&body, "adCreatives", trafficking::MAX_PER_CALL)
        .map_err(Reply::bad_request)?;
    let mut answer = MultiStatus::default();
    for (index, item) in items.iter().enumerate() {
        match creatives::check_create(item, &format!("adCreatives[{index}]")) {
            Ok(new) => {
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
                answer.accepted(index, json!({ "index": index, "adCreativeId": id }));
            }
            Err(errors) => dsp_error(&mut answer, index, check::BAD_REQUEST, errors),
        }
    }
    Ok(answer.reply())
}

/// `PATCH /dsp/v1/adCreatives`: name and format of 1 to 20 creatives of the advertiser.
/// A changed tag sends an associated creative back to moderation (`PENDING`); the tag
/// type cannot change once the ad experience is set.
fn update_creatives(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(call, world.config.max_body_bytes, &["adCreatives"])?;
    let items = creatives::batch(&body, "adCreatives", trafficking::MAX_PER_CALL)
        .map_err(Reply::bad_request)?;
    let mut answer = MultiStatus::default();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("adCreatives[{index}]");
        let change = match creatives::check_update(item, &prefix) {
            Ok(change) => change,
            Err(errors) => {
                dsp_error(&mut answer, index, check::BAD_REQUEST, errors);
                continue;
            }
        };
        let id_field = format!("{prefix}.adCreativeId");
        let Some(creative) = world
            .creatives
            .get_mut(&change.ad_creative_id)
            .filter(|c| c.account_id == advertiser.account_id)
        else {
            let errors = item_error(
                id_field,
                check::NOT_FOUND,
                "no such creative for this advertiser",
            );
            dsp_error(&mut answer, index, check::NOT_FOUND, errors);
            continue;
        };
        if let Some(format) = &change.format
            && creative.ad_experience.is_some()
            && format.tag_type != creative.format.tag_type
        {
            let errors = item_error(
                format!("{prefix}.adCreativeFormatProperties.thirdPartyTag.tagType"),
                check::IS_INVALID,
                "tagType cannot change: the creative's ad experience is permanent",
            );
            dsp_error(&mut answer, index, check::BAD_REQUEST, errors);
            continue;
        }
        if let Some(name) = change.name {
            creative.name = name;
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
        answer.accepted(
            index,
            json!({ "index": index, "adCreativeId": creative.ad_creative_id }),
        );
    }
    Ok(answer.reply())
}

/// `PUT /dsp/v1/adExperiences`: `{adCreativeId, adExperiences:[one]}`, the one matching
/// the tag type. Set once: the same value again is taken, another one refused.
fn put_ad_experience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
    let experience = match body
        .get("adExperiences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::String(one)]) if trafficking::AD_EXPERIENCES.contains(&one.as_str()) => {
            one.clone()
        }
        _ => {
            return Err(Reply::bad_request(format!(
                "adExperiences must hold exactly one of {}.",
                trafficking::AD_EXPERIENCES.join(", ")
            )));
        }
    };
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
                "The ad experience of a creative is permanent.",
            ));
        }
        _ => creative.ad_experience = Some(experience.clone()),
    }
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "adCreativeId": id, "adExperiences": [experience] }),
    ))
}

/// `POST /dsp/v1/adCreatives/associations/adGroups`: 1 to 20 associations, 207 per index.
/// Refused per item: an unknown creative or ad group, a creative without its ad
/// experience, a tag type the ad group's inventory does not take, a campaign that is not
/// running (`CAMPAIGN_NOT_ACTIVE`), an association that exists (`ASSOCIATION_ALREADY_EXISTS`).
/// The first association starts the creative's moderation (`PENDING`).
fn associate_creatives(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let account = advertiser.account_id.clone();
    let body = parse_object(
        call,
        world.config.max_body_bytes,
        &["adCreativeAssociations"],
    )?;
    let items = creatives::batch(&body, "adCreativeAssociations", trafficking::MAX_PER_CALL)
        .map_err(Reply::bad_request)?;
    let mut answer = MultiStatus::default();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("adCreativeAssociations[{index}]");
        let new = match creatives::check_association(item, &prefix) {
            Ok(new) => new,
            Err(errors) => {
                dsp_error(&mut answer, index, check::BAD_REQUEST, errors);
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
            (Some((campaign, state, _)), _)
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
            (Some((_, _, inventory)), Some(c))
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
            dsp_error(&mut answer, index, code, errors);
            continue;
        }
        if let Some(creative) = world.creatives.get_mut(&new.ad_creative_id)
            && creative.moderation_status.is_none()
        {
            creative.moderation_status = Some("PENDING".to_owned());
        }
        world.associations.push(Association {
            account_id: account.clone(),
            ad_creative_id: new.ad_creative_id,
            ad_group_id: new.ad_group_id,
            weight: new.weight,
            state: new.state,
        });
        answer.accepted(index, json!({ "index": index }));
    }
    Ok(answer.reply())
}

/// `GET /dsp/v1/adCreatives/{id}/moderations`: the creative's moderation; 404 before its
/// first association (moderation has not started).
fn get_moderation(world: &mut World, call: &Call<'_>, id: &str) -> Result<Reply, Reply> {
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
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "adCreativeId": id, "moderationStatus": status, "reasons": creative.reasons }),
    ))
}

/// `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list`: one line per
/// association of the filtered creatives, paged as the other lists.
fn list_moderations(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let advertiser = dsp_advertiser(world, call, true)?;
    let body = parse_object(
        call,
        world.config.max_body_bytes,
        &["adCreativeIdFilter", "maxResults", "nextToken"],
    )?;
    let list = trafficking::check_list_body(&body, "adCreativeIdFilter", true, false)
        .map_err(Reply::bad_request)?;
    let wanted = list.filter.clone().unwrap_or_default();
    let items: Vec<Value> = world
        .associations
        .iter()
        .filter(|a| a.account_id == advertiser.account_id && wanted.contains(&a.ad_creative_id))
        .filter_map(|a| {
            let creative = world.creatives.get(&a.ad_creative_id)?;
            Some(json!({
                "adCreativeId": a.ad_creative_id,
                "adGroupId": a.ad_group_id,
                "moderationStatus": creative.moderation_status.as_deref().unwrap_or("PENDING"),
                "reasons": creative.reasons,
            }))
        })
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        trafficking::page("moderations", items, &list),
    ))
}

/// A 207 answer built item by item, keeping each item's outcome for the request log.
#[derive(Default)]
struct MultiStatus {
    success: Vec<Value>,
    error: Vec<Value>,
    outcomes: Vec<Outcome>,
}

impl MultiStatus {
    /// Item `index` was taken; `entry` is its line in `success`.
    fn accepted(&mut self, index: usize, entry: Value) {
        self.success.push(entry);
        self.outcomes.push(Outcome {
            index,
            accepted: true,
            errors: Vec::new(),
        });
    }

    /// Item `index` was refused for `errors`; `entry` is its line in `error`.
    fn refused(&mut self, index: usize, entry: Value, errors: Vec<FieldError>) {
        self.error.push(entry);
        self.outcomes.push(Outcome {
            index,
            accepted: false,
            errors,
        });
    }

    /// [`MultiStatus::refused`] with the v1 APIs' entry: `{index, errors}`, the errors
    /// cut to [`MAX_ERRORS_PER_ITEM`].
    fn refused_listing(&mut self, index: usize, mut errors: Vec<FieldError>) {
        errors.truncate(MAX_ERRORS_PER_ITEM);
        let entry = json!({ "index": index, "errors": errors });
        self.refused(index, entry, errors);
    }

    fn reply(self) -> Reply {
        let body = json!({ "success": self.success, "error": self.error });
        Reply::json(StatusCode::MULTI_STATUS, body).with_outcomes(self.outcomes)
    }

    /// [`MultiStatus::reply`] without the empty lists, as the conversions APIs answer:
    /// `EventMultiStatusResponse` requires neither list, and the legacy import's
    /// `BatchImportConversionEventDataResponseV1` gives both `minItems: 1`, so an
    /// all-success batch has no `error` (and an all-refused one no `success`).
    fn sparse_reply(self) -> Reply {
        let mut body = Map::new();
        for (name, list) in [("success", self.success), ("error", self.error)] {
            if !list.is_empty() {
                body.insert(name.to_owned(), Value::Array(list));
            }
        }
        Reply::json(StatusCode::MULTI_STATUS, Value::Object(body)).with_outcomes(self.outcomes)
    }
}

/// 400 listing every field error (an emulator extension of `{code, message}`).
fn invalid_fields(errors: &[FieldError]) -> Reply {
    let message = errors
        .iter()
        .map(|e| format!("{}: {}", e.field_location, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    let listed: Vec<&FieldError> = errors.iter().take(MAX_ERRORS_PER_ITEM).collect();
    Reply::json(
        StatusCode::BAD_REQUEST,
        json!({ "code": "BAD_REQUEST", "message": message, "errors": listed }),
    )
}

/// `POST /amc/audiences/metadata`: creates an audience for a reachable advertiser.
fn create_audience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
fn reachable_audience(
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
fn get_audience(world: &mut World, call: &Call<'_>, audience_id: &str) -> Result<Reply, Reply> {
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
fn upload_audience_records(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
fn get_audience_job(
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

/// The advertiser of the `Amazon-Advertising-API-Scope` profile, which the grant must
/// reach; `None` when the header is absent.
fn scope_advertiser(
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
fn require_scope(world: &World, caller: &Caller, call: &Call<'_>) -> Result<Advertiser, Reply> {
    scope_advertiser(world, caller, call)?
        .ok_or_else(|| Reply::bad_request("The Amazon-Advertising-API-Scope header is required."))
}

/// `POST /dp/records/hashed`: every record must be valid (400 otherwise), then 202. The
/// accepted external ids are remembered for the Scope profile's account (without a Scope,
/// for every account the grant reaches), so that `PATCH /v2/dp/audience` can add them.
fn upload_dp_records(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
fn create_dp_audience(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
fn patch_dp_audiences(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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
fn erase_dp_users(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
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

/// `GET /ecm3` and `GET /s/ecm3`: the page's cookie matching request (spec F4). `ex` (the
/// partner code) and `id` (the visitor id, `[0-9a-zA-Z_-]{1,128}`) are required; `gdpr`
/// is `0` or `1` when sent, and `gdpr=1` needs a `gdpr_consent` TCF string. A match
/// answers the pixel; a refusal 400 `{code, message}`. Both are recorded for
/// `GET /__emulator/matches`. No token: a browser makes this request.
fn cookie_match(world: &mut World, call: &Call<'_>, eu: bool) -> Reply {
    let query: Vec<(String, String)> = form_urlencoded::parse(call.query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let value = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (partner_code, visitor_id) = (value("ex"), value("id"));
    let (gdpr, gdpr_consent) = (value("gdpr"), value("gdpr_consent"));
    let refused = if partner_code
        .as_deref()
        .is_none_or(|p| !audience::is_external_user_id(p))
    {
        Some("ex is required: the partner code Amazon assigned")
    } else if visitor_id
        .as_deref()
        .is_none_or(|id| !audience::is_external_user_id(id))
    {
        Some("id is required and must match [0-9a-zA-Z_-]{1,128}")
    } else if gdpr.as_deref().is_some_and(|g| g != "0" && g != "1") {
        Some("gdpr must be 0 or 1")
    } else if gdpr.as_deref() == Some("1") && gdpr_consent.as_deref().is_none_or(str::is_empty) {
        Some("gdpr=1 needs gdpr_consent, the TCF consent string")
    } else {
        None
    };
    world.matches.push(CookieMatch {
        at: world.now_text(),
        path: if eu { "/s/ecm3" } else { "/ecm3" }.to_owned(),
        partner_code,
        visitor_id,
        gdpr,
        gdpr_consent,
        accepted: refused.is_none(),
        refused,
    });
    match refused {
        None => Reply::pixel(),
        Some(message) => Reply::bad_request(message),
    }
}

/// The caller of an AMC request and the AMC account it names, once the token and the AMC
/// headers (`Amazon-Advertising-API-AdvertiserId`, a known `…-MarketplaceId`) check out.
fn amc_caller<'c>(world: &mut World, call: &Call<'c>) -> Result<(Caller, &'c str), Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let Some(entity) = header(call, "amazon-advertising-api-advertiserid") else {
        return Err(Reply::bad_request(
            "The Amazon-Advertising-API-AdvertiserId header is required.",
        ));
    };
    let Some(marketplace) = header(call, "amazon-advertising-api-marketplaceid") else {
        return Err(Reply::bad_request(
            "The Amazon-Advertising-API-MarketplaceId header is required.",
        ));
    };
    if !MARKETPLACES.iter().any(|(_, id)| *id == marketplace) {
        return Err(Reply::bad_request(
            "Amazon-Advertising-API-MarketplaceId is not a known marketplace id.",
        ));
    }
    Ok((caller, entity))
}

/// Marketplace ids by country (the common ones).
const MARKETPLACES: &[(&str, &str)] = &[
    ("US", "ATVPDKIKX0DER"),
    ("CA", "A2EUQ1WTGCTBG2"),
    ("MX", "A1AM78C64UM0Y8"),
    ("BR", "A2Q3Y263D00KWC"),
    ("GB", "A1F83G8C2ARO7P"),
    ("DE", "A1PA6795UKMFR9"),
    ("FR", "A13V1IB3VIYZZH"),
    ("IT", "APJ6JRA9NG5V4"),
    ("ES", "A1RKKUPIHCS9HS"),
    ("NL", "A1805IZSGTT6HS"),
    ("SE", "A2NODRKZP88ZB9"),
    ("PL", "A1C3SOZRARQ6R3"),
    ("JP", "A1VC38T7YXB528"),
    ("AU", "A39IBJ37TRP1C6"),
    ("SG", "A19VAU5U5O7RUS"),
    ("IN", "A21TJRUUN4KGV"),
    ("AE", "A2VIGQ35RCS4UG"),
];

/// The marketplace id of a profile's country (the common ones; others get a placeholder).
fn marketplace_id(country: &str) -> &'static str {
    MARKETPLACES
        .iter()
        .find(|(code, _)| *code == country)
        .map_or("EMULATED", |(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEMO_ACCOUNT_ID, DEMO_AMC_INSTANCE_ID, DEMO_CLIENT_ID};
    use crate::state::AccessToken;

    /// A demo world with one valid access token, `token`.
    fn world_with_token() -> World {
        let mut world = World::new(Config::demo());
        let expires_at = world.now() + time::Duration::hours(1);
        world.access_tokens.insert(
            "token".to_owned(),
            AccessToken {
                client_id: DEMO_CLIENT_ID.to_owned(),
                expires_at,
                advertisers: None,
            },
        );
        world
    }

    /// The demo account's AMC headers.
    fn amc_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer token"),
            ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
            ("amazon-advertising-api-advertiserid", DEMO_ACCOUNT_ID),
            ("amazon-advertising-api-marketplaceid", "ATVPDKIKX0DER"),
            ("content-type", "application/json"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn an_instance_holds_at_most_five_thousand_data_sets() {
        let mut world = world_with_token();
        let data_set = |id: &str| json!({"dataSet": {"dataSetId": id, "columns": [{"name": "c", "dataType": "STRING", "columnType": "DIMENSION"}]}});
        for n in 0..crate::adu::MAX_DATA_SETS - 1 {
            let id = format!("set_{n}");
            world.data_sets.insert(
                (DEMO_AMC_INSTANCE_ID.to_owned(), id.clone()),
                DataSet {
                    instance_id: DEMO_AMC_INSTANCE_ID.to_owned(),
                    account_id: DEMO_ACCOUNT_ID.to_owned(),
                    created_at: String::new(),
                    data_set: data_set(&id)["dataSet"].clone(),
                },
            );
        }
        let headers = amc_headers();
        let create = |world: &mut World, id: &str| {
            let body = Bytes::from(data_set(id).to_string());
            let call = Call {
                route: Route::parse(
                    &Method::POST,
                    &format!("/amc/advertiserData/{DEMO_AMC_INSTANCE_ID}/dataSets"),
                ),
                region: None,
                headers: &headers,
                query: None,
                body: &body,
                expire_token: false,
            };
            handle(world, &call)
        };
        assert_eq!(create(&mut world, "last_one").status, StatusCode::OK);
        assert_eq!(create(&mut world, "set_0").status, StatusCode::CONFLICT);
        assert_eq!(
            create(&mut world, "one_too_many").status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(world.data_sets.len(), crate::adu::MAX_DATA_SETS);
    }

    #[test]
    fn routes_match_exact_paths_and_methods() {
        assert_eq!(
            Route::parse(&Method::POST, "/adsApi/v1/create/events"),
            Route::Events
        );
        assert_eq!(
            Route::parse(&Method::GET, "/adsApi/v1/create/events"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(&Method::POST, "/adsApi/v1/create/events/"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(
                &Method::POST,
                "/accounts/583/dsp/conversionDefinitions/eventData"
            ),
            Route::DspEvents {
                account_id: "583".to_owned()
            }
        );
        assert_eq!(
            Route::parse(&Method::GET, "/amc/audiences/records/abc"),
            Route::AmcJob {
                job_request_id: "abc".to_owned()
            }
        );
        assert_eq!(
            Route::parse(&Method::POST, "/auth/o2/token").endpoint(),
            "token"
        );
    }

    #[test]
    fn advertiser_data_routes_take_instance_data_set_and_upload_ids() {
        let route = |method: &Method, path: &str| Route::parse(method, path);
        assert_eq!(
            route(&Method::POST, "/amc/advertiserData/amc1/dataSets"),
            Route::AmcDataSetCreate {
                instance_id: "amc1".to_owned()
            }
        );
        assert_eq!(
            route(&Method::GET, "/amc/advertiserData/amc1/dataSets/crm_v1"),
            Route::AmcDataSetGet {
                instance_id: "amc1".to_owned(),
                data_set_id: "crm_v1".to_owned()
            }
        );
        assert_eq!(
            route(&Method::POST, "/amc/advertiserData/amc1/uploads/crm_v1").endpoint(),
            "amcUploads"
        );
        assert_eq!(
            route(&Method::GET, "/amc/advertiserData/amc1/uploads/crm_v1/u-1"),
            Route::AmcUploadGet {
                instance_id: "amc1".to_owned(),
                data_set_id: "crm_v1".to_owned(),
                upload_id: "u-1".to_owned()
            }
        );
        for (method, path) in [
            (Method::GET, "/amc/advertiserData/amc1/dataSets"),
            (Method::POST, "/amc/advertiserData/amc1/uploads/list"),
            (Method::POST, "/amc/advertiserData//dataSets"),
            (Method::GET, "/amc/advertiserData/amc1/uploads/crm_v1/"),
        ] {
            assert_eq!(route(&method, path), Route::Unknown, "{method} {path}");
        }
    }

    #[test]
    fn data_provider_audience_routes_use_the_documented_paths() {
        assert_eq!(
            Route::parse(&Method::POST, "/v2/dp/audiencemetadata/"),
            Route::DpAudienceMetadata
        );
        assert_eq!(
            Route::parse(&Method::POST, "/v2/dp/audiencemetadata"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(&Method::PATCH, "/v2/dp/audience").endpoint(),
            "dpAudience"
        );
        assert_eq!(
            Route::parse(&Method::POST, "/v2/dp/audience"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(&Method::POST, "/v2/dp/audiencemetadata/").endpoint(),
            "dpAudienceMetadata"
        );
    }

    #[test]
    fn every_endpoint_name_can_be_faulted() {
        let routes = [
            Route::parse(&Method::POST, "/amc/advertiserData/a/dataSets"),
            Route::parse(&Method::POST, "/amc/advertiserData/a/uploads/d"),
            Route::parse(&Method::GET, "/amc/advertiserData/a/uploads/d/u"),
            Route::DpAudienceMetadata,
            Route::DpAudience,
            Route::DpRecords,
            Route::parse(&Method::POST, "/dsp/v1/campaigns/list"),
            Route::parse(&Method::POST, "/dsp/v1/adGroups/list"),
            Route::parse(&Method::POST, "/dsp/v1/targets/list"),
            Route::parse(&Method::POST, "/dsp/v1/adCreatives"),
            Route::parse(&Method::PATCH, "/dsp/v1/adCreatives"),
            Route::parse(&Method::PUT, "/dsp/v1/adExperiences"),
            Route::parse(&Method::POST, "/dsp/v1/adCreatives/associations/adGroups"),
            Route::parse(&Method::GET, "/dsp/v1/adCreatives/591/moderations"),
            Route::parse(
                &Method::POST,
                "/dsp/v1/adCreatives/associations/adGroups/moderations/list",
            ),
        ];
        assert_eq!(
            Route::parse(&Method::GET, "/dsp/v1/adCreatives"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(&Method::GET, "/dsp/v1/campaigns/list"),
            Route::Unknown
        );
        for route in routes {
            assert!(
                crate::fault::ENDPOINTS.contains(&route.endpoint()),
                "{route:?}"
            );
        }
        assert_eq!(marketplace_id("US"), "ATVPDKIKX0DER");
        assert_eq!(marketplace_id("CH"), "EMULATED");
    }
}
