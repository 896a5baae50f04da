//! Routing, the shared checks (authentication, media type, JSON, advertiser access) and
//! the Ads API handlers not yet in a family file of `api/`: account discovery is in
//! `api/accounts.rs`, the Events API and legacy DSP import in `api/events.rs`, AMC
//! advertiser data uploads in `api/adu.rs`, Data Provider in `api/dp.rs`, AMC audiences
//! in `api/amc_audiences.rs`, `/dsp/v1` in `api/dsp.rs`.
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

// The /dsp/v1 handlers, by API family (routing stays here).
mod amc_audiences;
mod dp;
#[path = "api/dsp.rs"]
mod dsp_v1;

use amc_audiences::{create_audience, get_audience, get_audience_job, upload_audience_records};
use dp::{
    create_dp_audience, erase_dp_users, patch_dp_audiences, require_scope, upload_dp_records,
};
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
    /// `PATCH /dsp/v1/adCreatives/{adCreativeId}`
    DspCreativeUpdate { ad_creative_id: String },
    /// `POST /dsp/v1/adCreatives/list`
    DspCreativesList,
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
            ["dsp", "v1", "adCreatives", "list"] if post => Self::DspCreativesList,
            ["dsp", "v1", "adCreatives", id] if patch && all_set(&[id]) => {
                Self::DspCreativeUpdate {
                    ad_creative_id: owned(id),
                }
            }
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
            Self::DspCreativesCreate | Self::DspCreativeUpdate { .. } => "dspCreatives",
            Self::DspCreativesList => "dspCreativesList",
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
            dsp_v1::list_trafficking(world, call)
        }
        Route::DspCreativesCreate => dsp_v1::create_creative(world, call),
        Route::DspCreativeUpdate { ad_creative_id } => {
            dsp_v1::update_creative(world, call, ad_creative_id)
        }
        Route::DspCreativesList => dsp_v1::list_creatives(world, call),
        Route::DspAdExperiences => dsp_v1::put_ad_experience(world, call),
        Route::DspAssociations => dsp_v1::associate_creatives(world, call),
        Route::DspModeration { ad_creative_id } => {
            dsp_v1::get_moderation(world, call, ad_creative_id)
        }
        Route::DspModerations => dsp_v1::list_moderations(world, call),
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

/// [`advertiser_for`] with `Amazon-Advertising-API-Scope` required and naming that
/// advertiser's profile (the legacy DSP import and every `/dsp/v1` call).
fn scoped_advertiser(
    world: &World,
    caller: &Caller,
    call: &Call<'_>,
    account_id: &str,
) -> Result<Advertiser, Reply> {
    let Some(scope) = header(call, "amazon-advertising-api-scope") else {
        return Err(Reply::bad_request(
            "The Amazon-Advertising-API-Scope header is required.",
        ));
    };
    let advertiser = advertiser_for(world, caller, call, account_id)?;
    if scope != advertiser.profile_id.to_string() {
        return Err(Reply::forbidden(
            "The profile in Amazon-Advertising-API-Scope does not belong to this advertiser.",
        ));
    }
    Ok(advertiser)
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

    /// The 207 answer, empty lists left out, as the conversions APIs and `/dsp/v1` answer:
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
            Route::parse(&Method::PATCH, "/dsp/v1/adCreatives/591"),
            Route::parse(&Method::POST, "/dsp/v1/adCreatives/list"),
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
        // The batch update of the `/adsApi/v1` model is not a `/dsp/v1` path.
        assert_eq!(
            Route::parse(&Method::PATCH, "/dsp/v1/adCreatives"),
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
