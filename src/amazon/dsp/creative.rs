//! DSP trafficking, write side: third-party creatives (a display tag or a VAST URL), their
//! ad experience, their associations with ad groups, and their moderation.
//!
//! # The contract
//!
//! No OpenAPI file exists for `/dsp/v1`; the samples of Amazon's guide pages are the
//! contract: `docs/guides/dsp/creative-management.md` ("Step 1: Generate an Ad Creative",
//! "Third party display", "Third party video", "Updating existing ad creatives", "Listing ad
//! creatives") and `docs/guides/dsp/creative-associations.md` (create, moderation list).
//! `tests/contract/dsp.rs` compares each body built here with those samples.
//!
//! | call | body | answer |
//! |---|---|---|
//! | `POST /dsp/v1/adCreatives` | one creative `{name, language:"en", country, adCreativeFormatProperties{adCreativeFormatType:"THIRD_PARTY", creativeSizes[{width,height}], thirdPartyTag{tagSource, tagType, destinationOnAmazon:"OFF_AMAZON"}, trackingUrls[{type, url, associatedAdExperience}]}}` | `{adCreativeId}` |
//! | `PATCH /dsp/v1/adCreatives/{adCreativeId}` | `{name, adCreativeFormatProperties{…}}` (partial; lists whole) | 204 |
//! | `POST /dsp/v1/adCreatives/list` | `{maxResults, nextToken?}` | `{totalResults, nextToken, adCreatives[{adCreativeId, name, …}]}` |
//! | `PUT /dsp/v1/adExperiences` | `{adCreativeId, adExperiences:[{adExperience: THIRD_PARTY_DISPLAY \| THIRD_PARTY_VIDEO}]}` (once; permanent) | 204 |
//! | `POST /dsp/v1/adCreatives/associations/adGroups` | `{associations[1–20]{adCreativeId, adGroupId, state:"ACTIVE", weight? 1–999}}` | `{success?[{index, adCreativeId, adGroupId}], error?[{index, code, adCreativeId, description, adGroupId}]}` |
//! | `GET /dsp/v1/adCreatives/{id}/moderations` | – | `{adCreativeStatuses[{adCreativeId, adCreativeModerationStatus, adExperiences[{adExperience, moderationStatus, reasons}]}]}` |
//! | `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list` | `{adGroupIdFilter{include[1–20]}, maxResults, nextToken?}` | `{totalResults, nextToken, associationStatuses[{adCreativeId, adGroupId, adExperiences[{adExperience, associationModerationStatus, associationModerationReasons?}]}]}` |
//!
//! Where the samples disagree or are silent (said where it matters below): `PUT
//! /dsp/v1/adExperiences` has strings in one sample and objects in six, so objects are sent;
//! the list answer's sample shows no `adCreativeId` on its items (a real list must carry
//! it: read when present); the 0-based `index` of the association samples; the error code of
//! an association that exists already ([`ALREADY_ASSOCIATED`], this project's reading).
//! Empty `success` / `error` arrays are omitted from answers (the migration guide's "Error
//! model"): an omitted array is an empty one. The `/adsApi/v1` words (`ENABLED`, `PAUSED`,
//! `en_US`, wrapped creative batches, `adCreativeAssociations`) are not `/dsp/v1`'s.
//!
//! Every call carries the headers of [`super::Account`]. Moderation starts when a creative
//! is first associated, and starts again when its tag changes.

use serde_json::{Value, json};
use std::prelude::rust_2024::*;

use super::Account;
use super::tag::Kind;
use crate::amazon::{ApiRequest, Auth, Method};

/// Most associations per write call (`creative-associations.md`: "up to 20 associations at
/// a time"), and most ids per moderation filter ("Each filter supports up to 20 items").
pub const MAX_PER_CALL: usize = 20;
/// Most sizes of a display creative.
pub const MAX_SIZES: usize = 20;
/// Most tracking URLs of a creative.
pub const MAX_TRACKERS: usize = 5;
/// Longest creative name, in characters.
pub const MAX_NAME: usize = 255;
/// `thirdPartyTag.tagType` values (the third-party display and video samples).
pub const TAG_TYPES: &[&str] = &["DISPLAY", "VAST_VPAID"];
/// `adExperience` values of third-party creatives.
pub const AD_EXPERIENCES: &[&str] = &["THIRD_PARTY_DISPLAY", "THIRD_PARTY_VIDEO"];
/// `thirdPartyTag.destinationOnAmazon`: a third-party tag lands off Amazon.
pub const DESTINATION: &str = "OFF_AMAZON";
/// `trackingUrls[].type` of the trackers sent (impression trackers; third-party video
/// takes no `CLICK` tracker).
pub const TRACKER_TYPE: &str = "IMPRESSION";
/// `language` of every sample (`en`, not a locale).
pub const DEFAULT_LANGUAGE: &str = "en";
/// Association states (`creative-associations.md`: "Accepted values are ACTIVE or
/// INACTIVE").
pub const ASSOCIATION_STATES: &[&str] = &["ACTIVE", "INACTIVE"];
/// Moderation states, and whether each lets the creative serve.
pub const MODERATION_STATES: &[(&str, bool)] = &[
    ("PENDING", false),
    ("APPROVED", true),
    ("APPROVED_WITH_EXCEPTIONS", true),
    ("NOT_APPROVED", false),
];
/// The error code of an association that already exists (taken as done on a re-run;
/// Amazon's documents name no code for it: this project's reading).
pub const ALREADY_ASSOCIATED: &str = "ASSOCIATION_ALREADY_EXISTS";
/// The error code of an association refused because the campaign is not running.
pub const CAMPAIGN_NOT_RUNNING: &str = "CAMPAIGN_NOT_ACTIVE";
/// Weight of a new association where the ad group takes one (one creative per ad group
/// row: all equal; 1–999).
pub const DEFAULT_WEIGHT: u32 = 100;

impl Kind {
    /// `thirdPartyTag.tagType`.
    pub fn tag_type(self) -> &'static str {
        match self {
            Kind::Display => TAG_TYPES[0],
            Kind::Video => TAG_TYPES[1],
        }
    }

    /// The one ad experience a creative of this kind gets.
    pub fn ad_experience(self) -> &'static str {
        match self {
            Kind::Display => AD_EXPERIENCES[0],
            Kind::Video => AD_EXPERIENCES[1],
        }
    }
}

/// A third-party creative as sent (create or update). The tag is sent exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThirdPartyCreative {
    /// `name` (see [`creative_name`]).
    pub name: String,
    /// `language`, e.g. `en` ([`DEFAULT_LANGUAGE`]).
    pub language: String,
    /// `country`, ISO 3166-1 alpha-2.
    pub country: String,
    /// Display or video.
    pub kind: Kind,
    /// HTML (display) or a VAST URL (video), checked by [`super::tag`].
    pub tag: String,
    /// `creativeSizes` (display; empty for video).
    pub sizes: Vec<(u32, u32)>,
    /// `trackingUrls` (impression trackers).
    pub trackers: Vec<String>,
}

impl ThirdPartyCreative {
    fn format_properties(&self) -> Value {
        let sizes: Vec<Value> = self
            .sizes
            .iter()
            .map(|&(width, height)| json!({ "width": width, "height": height }))
            .collect();
        let mut properties = json!({
            "adCreativeFormatType": "THIRD_PARTY",
            "thirdPartyTag": {
                "tagSource": self.tag,
                "tagType": self.kind.tag_type(),
                "destinationOnAmazon": DESTINATION,
            },
        });
        if !sizes.is_empty() {
            properties["creativeSizes"] = json!(sizes);
        }
        if !self.trackers.is_empty() {
            let trackers: Vec<Value> = self
                .trackers
                .iter()
                .map(|url| {
                    json!({
                        "type": TRACKER_TYPE,
                        "url": url,
                        "associatedAdExperience": self.kind.ad_experience(),
                    })
                })
                .collect();
            properties["trackingUrls"] = json!(trackers);
        }
        properties
    }

    /// The body of [`create_creative`].
    fn create_json(&self) -> Value {
        json!({
            "name": self.name,
            "language": self.language,
            "country": self.country,
            "adCreativeFormatProperties": self.format_properties(),
        })
    }

    /// The body of [`update_creative`]: name and format (language and country stay as
    /// created). `adCreativeFormatType` is in it, as an update of the format needs.
    pub fn update_json(&self) -> Value {
        json!({
            "name": self.name,
            "adCreativeFormatProperties": self.format_properties(),
        })
    }
}

/// A creative's Amazon name, the same for the same placement and row on every run:
/// `{name} {sizes or "video"} [{ad group id}]`, the row's name shortened so the whole fits
/// [`MAX_NAME`]. The publish journal finds a creative by this name after a crash.
pub fn creative_name(name: &str, kind: Kind, sizes: &[(u32, u32)], ad_group_id: &str) -> String {
    let what = match kind {
        Kind::Display if !sizes.is_empty() => sizes
            .iter()
            .map(|(w, h)| format!("{w}x{h}"))
            .collect::<Vec<_>>()
            .join("+"),
        _ => kind.as_str().to_owned(),
    };
    let suffix = format!(" {what} [{ad_group_id}]");
    let room = MAX_NAME.saturating_sub(suffix.chars().count());
    let base: String = name.trim().chars().take(room).collect();
    format!("{base}{suffix}")
}

/// `POST /dsp/v1/adCreatives`: one creative per call.
pub fn create_creative(
    auth: &Auth<'_>,
    account: &Account<'_>,
    creative: &ThirdPartyCreative,
) -> ApiRequest {
    super::advertiser_request(
        auth,
        Method::Post,
        "/dsp/v1/adCreatives",
        account,
        &creative.create_json(),
    )
}

/// Reads the answer of [`create_creative`]: `{"adCreativeId": …}`.
pub fn parse_created(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    super::id(&v["adCreativeId"])
}

/// `PATCH /dsp/v1/adCreatives/{adCreativeId}`: the name and format properties are
/// replaced. Answers 204.
pub fn update_creative(
    auth: &Auth<'_>,
    account: &Account<'_>,
    ad_creative_id: &str,
    creative: &ThirdPartyCreative,
) -> ApiRequest {
    let id = crate::amazon::url_encode(ad_creative_id);
    super::advertiser_request(
        auth,
        Method::Patch,
        &format!("/dsp/v1/adCreatives/{id}"),
        account,
        &creative.update_json(),
    )
}

/// One page of `POST /dsp/v1/adCreatives/list`: the advertiser's creatives (no filter:
/// the sample's only filter is by id, which a creative whose answer was lost has not).
pub fn list_creatives(
    auth: &Auth<'_>,
    account: &Account<'_>,
    next_token: Option<&str>,
) -> ApiRequest {
    super::list_request(
        auth,
        "/dsp/v1/adCreatives/list",
        account,
        json!({}),
        super::MAX_PAGE,
        next_token,
    )
}

/// A creative of [`list_creatives`]: its id (when the answer has one) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// `adCreativeId` (the guide's sample shows none).
    pub ad_creative_id: Option<String>,
    /// `name`.
    pub name: String,
}

/// Reads a page of [`list_creatives`].
pub fn parse_creatives(body: &str) -> Option<(Vec<Listed>, Option<String>)> {
    super::page(body, "adCreatives", |c| {
        Some(Listed {
            ad_creative_id: super::id(&c["adCreativeId"]),
            name: c["name"].as_str()?.to_owned(),
        })
    })
}

/// `PUT /dsp/v1/adExperiences`: the creative's one (permanent) ad experience, as an
/// object (six of the guide's seven samples; one has a bare string).
pub fn set_ad_experience(
    auth: &Auth<'_>,
    account: &Account<'_>,
    ad_creative_id: &str,
    kind: Kind,
) -> ApiRequest {
    super::advertiser_request(
        auth,
        Method::Put,
        "/dsp/v1/adExperiences",
        account,
        &json!({
            "adCreativeId": ad_creative_id,
            "adExperiences": [{ "adExperience": kind.ad_experience() }],
        }),
    )
}

/// An association to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// `adGroupId`.
    pub ad_group_id: String,
    /// `adCreativeId`.
    pub ad_creative_id: String,
    /// `weight`: only for an ad group whose rotation takes one
    /// ([`super::AdGroup::takes_weight`]); Amazon refuses it on `RANDOM` rotation.
    pub weight: Option<u32>,
}

/// `POST /dsp/v1/adCreatives/associations/adGroups` for 1 to [`MAX_PER_CALL`]
/// associations, each `ACTIVE`.
pub fn associate(
    auth: &Auth<'_>,
    account: &Account<'_>,
    associations: &[Association],
) -> ApiRequest {
    let items: Vec<Value> = associations
        .iter()
        .map(|a| {
            let mut item = json!({
                "adCreativeId": a.ad_creative_id,
                "adGroupId": a.ad_group_id,
                "state": ASSOCIATION_STATES[0],
            });
            if let Some(weight) = a.weight {
                item["weight"] = json!(weight);
            }
            item
        })
        .collect();
    super::advertiser_request(
        auth,
        Method::Post,
        "/dsp/v1/adCreatives/associations/adGroups",
        account,
        &json!({ "associations": items }),
    )
}

/// `GET /dsp/v1/adCreatives/{id}/moderations`.
pub fn creative_moderation(
    auth: &Auth<'_>,
    account: &Account<'_>,
    ad_creative_id: &str,
) -> ApiRequest {
    let id = crate::amazon::url_encode(ad_creative_id);
    super::account_request(
        auth,
        Method::Get,
        &format!("/dsp/v1/adCreatives/{id}/moderations"),
        account,
    )
}

/// One page of `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list` for 1 to
/// [`MAX_PER_CALL`] ad groups.
pub fn list_moderations(
    auth: &Auth<'_>,
    account: &Account<'_>,
    ad_group_ids: &[&str],
    next_token: Option<&str>,
) -> ApiRequest {
    super::list_request(
        auth,
        "/dsp/v1/adCreatives/associations/adGroups/moderations/list",
        account,
        json!({ "adGroupIdFilter": { "include": ad_group_ids } }),
        super::MAX_PAGE,
        next_token,
    )
}

/// One item of a multi-status answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// The item's position in the request.
    pub index: usize,
    /// `Ok(())` or `Err((code, description))`.
    pub outcome: Result<(), (String, String)>,
}

/// Reads a multi-status answer of a write call (`{success?, error?}`, either array omitted
/// when empty); `None` when it is not one (not JSON, an array that is not one, neither
/// array), or when an index is outside `0..sent` or named twice. Items the answer does not
/// mention are not returned. Error items carry `code` and `description` (the association
/// samples) or `errorCode` and `errorMessage` (the migration guide's error model).
pub fn parse_multi_status(body: &str, sent: usize) -> Option<Vec<ItemResult>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let list = |field: &str| -> Option<Vec<Value>> {
        match v.get(field) {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => None,
        }
    };
    let (success, error) = (list("success")?, list("error")?);
    if v.get("success").is_none() && v.get("error").is_none() {
        return None;
    }
    let mut out = Vec::new();
    for item in &success {
        out.push(ItemResult {
            index: index(&item["index"], sent)?,
            outcome: Ok(()),
        });
    }
    for item in &error {
        let code = item["code"]
            .as_str()
            .or_else(|| item["errorCode"].as_str())
            .unwrap_or("UNKNOWN");
        let description = item["description"]
            .as_str()
            .or_else(|| item["errorMessage"].as_str())
            .unwrap_or_default();
        out.push(ItemResult {
            index: index(&item["index"], sent)?,
            outcome: Err((code.to_owned(), description.to_owned())),
        });
    }
    out.sort_by_key(|r| r.index);
    if out.windows(2).any(|w| w[0].index == w[1].index) {
        return None;
    }
    Some(out)
}

fn index(v: &Value, sent: usize) -> Option<usize> {
    let i = usize::try_from(v.as_u64()?).ok()?;
    (i < sent).then_some(i)
}

/// A creative's moderation in one ad group (or overall, `ad_group_id` empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderation {
    /// `adCreativeId`.
    pub ad_creative_id: String,
    /// `adGroupId` (empty for the creative's own answer).
    pub ad_group_id: String,
    /// The status (see [`MODERATION_STATES`]).
    pub status: String,
    /// The reasons (Amazon's words, for a refusal).
    pub reasons: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// One status from an item's `adExperiences` (ours carry one): the first that does not
/// serve, else the first; with the reasons of all.
fn experiences_status(
    experiences: &[Value],
    status_field: &str,
    reasons_field: &str,
) -> Option<(String, Vec<String>)> {
    let statuses: Vec<&str> = experiences
        .iter()
        .map(|e| e[status_field].as_str())
        .collect::<Option<_>>()?;
    if statuses.is_empty() {
        // No ad experience moderated yet (the samples always show one): not decided.
        return Some((MODERATION_STATES[0].0.to_owned(), Vec::new()));
    }
    let status = statuses
        .iter()
        .find(|s| serves(s) != Some(true))
        .or(statuses.first())?;
    let reasons = experiences
        .iter()
        .flat_map(|e| strings(&e[reasons_field]))
        .collect();
    Some(((*status).to_owned(), reasons))
}

/// Reads the answer of [`creative_moderation`] (`creative-management.md`, "Step 3: View Ad
/// Creative moderation"): the first status of `adCreativeStatuses`.
pub fn parse_creative_moderation(body: &str) -> Option<Moderation> {
    let v: Value = serde_json::from_str(body).ok()?;
    let item = v["adCreativeStatuses"].as_array()?.first()?;
    let experiences = item["adExperiences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reasons = experiences
        .iter()
        .flat_map(|e| strings(&e["reasons"]))
        .collect();
    Some(Moderation {
        ad_creative_id: super::id(&item["adCreativeId"])?,
        ad_group_id: String::new(),
        status: item["adCreativeModerationStatus"].as_str()?.to_owned(),
        reasons,
    })
}

/// Reads a page of [`list_moderations`] (`creative-associations.md`, "Example response:
/// Review adCreative association moderation results"): one per association.
pub fn parse_moderations(body: &str) -> Option<(Vec<Moderation>, Option<String>)> {
    super::page(body, "associationStatuses", |a| {
        let experiences = a["adExperiences"].as_array()?;
        let (status, reasons) = experiences_status(
            experiences,
            "associationModerationStatus",
            "associationModerationReasons",
        )?;
        Some(Moderation {
            ad_creative_id: super::id(&a["adCreativeId"])?,
            ad_group_id: super::id(&a["adGroupId"])?,
            status,
            reasons,
        })
    })
}

/// Whether a moderation state lets the creative serve; `None` for a state not in
/// [`MODERATION_STATES`].
pub fn serves(status: &str) -> Option<bool> {
    MODERATION_STATES
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, serves)| *serves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth<'static> {
        Auth {
            api_base: "http://e",
            access_token: "Atza|t",
            client_id: "cid",
        }
    }

    const ACCOUNT: Account<'static> = Account {
        advertiser_id: "583",
        profile_id: "3333",
    };

    fn body(r: &ApiRequest) -> Value {
        serde_json::from_str(r.body.as_deref().unwrap()).unwrap()
    }

    fn display() -> ThirdPartyCreative {
        ThirdPartyCreative {
            name: "Third Party Display Test Creative".into(),
            language: DEFAULT_LANGUAGE.into(),
            country: "US".into(),
            kind: Kind::Display,
            tag: "${third_party_tag}".into(),
            sizes: vec![(120, 60)],
            trackers: vec![],
        }
    }

    fn video() -> ThirdPartyCreative {
        ThirdPartyCreative {
            name: "Third party - video Test".into(),
            kind: Kind::Video,
            tag: "https://sample_vast_tag.xml".into(),
            sizes: vec![],
            trackers: vec!["https://www.amazon.com/?test".into()],
            ..display()
        }
    }

    /// `creative-management.md`, "Third party display" (its `responsive: false` is an
    /// optional field not sent) and "Third party video": the samples as written, one
    /// creative per call.
    #[test]
    fn creates_are_the_guides_third_party_samples() {
        let r = create_creative(&auth(), &ACCOUNT, &display());
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://e/dsp/v1/adCreatives")
        );
        assert_eq!(r.header_value("amazon-ads-accountid"), Some("583"));
        assert_eq!(r.header_value("amazon-advertising-api-scope"), Some("3333"));
        assert_eq!(
            r.header_value("amazon-advertising-api-clientid"),
            Some("cid")
        );
        assert_eq!(
            body(&r),
            json!({
                "name": "Third Party Display Test Creative",
                "language": "en",
                "country": "US",
                "adCreativeFormatProperties": {
                    "adCreativeFormatType": "THIRD_PARTY",
                    "creativeSizes": [{"width": 120, "height": 60}],
                    "thirdPartyTag": {
                        "tagSource": "${third_party_tag}",
                        "tagType": "DISPLAY",
                        "destinationOnAmazon": "OFF_AMAZON"
                    }
                }
            })
        );
        assert_eq!(
            body(&create_creative(&auth(), &ACCOUNT, &video())),
            json!({
                "name": "Third party - video Test",
                "language": "en",
                "country": "US",
                "adCreativeFormatProperties": {
                    "adCreativeFormatType": "THIRD_PARTY",
                    "thirdPartyTag": {
                        "tagSource": "https://sample_vast_tag.xml",
                        "tagType": "VAST_VPAID",
                        "destinationOnAmazon": "OFF_AMAZON"
                    },
                    "trackingUrls": [{
                        "type": "IMPRESSION",
                        "url": "https://www.amazon.com/?test",
                        "associatedAdExperience": "THIRD_PARTY_VIDEO"
                    }]
                }
            })
        );
        // "Step 1: Generate an Ad Creative", the answer.
        assert_eq!(
            parse_created(r#"{"adCreativeId": "591"}"#).as_deref(),
            Some("591")
        );
        assert_eq!(parse_created(r#"{"success": []}"#), None);
        assert_eq!(parse_created("<html>429</html>"), None);
    }

    /// "Updating existing ad creatives": `PATCH /dsp/v1/adCreatives/{adCreativeId}`, the
    /// fields to change, `adCreativeFormatType` with the format.
    #[test]
    fn an_update_is_a_patch_of_one_creative() {
        let r = update_creative(&auth(), &ACCOUNT, "cr 1", &display());
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Patch, "http://e/dsp/v1/adCreatives/cr%201")
        );
        let b = body(&r);
        assert_eq!(b["name"], "Third Party Display Test Creative");
        assert_eq!(
            b["adCreativeFormatProperties"]["adCreativeFormatType"],
            "THIRD_PARTY"
        );
        assert!(b.get("adCreatives").is_none() && b.get("language").is_none());
    }

    /// "Third party display" → its `PUT /dsp/v1/adExperiences` sample.
    #[test]
    fn the_ad_experience_is_an_object() {
        let r = set_ad_experience(&auth(), &ACCOUNT, "{{adCreative_id}}", Kind::Display);
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Put, "http://e/dsp/v1/adExperiences")
        );
        assert_eq!(
            body(&r),
            json!({
                "adCreativeId": "{{adCreative_id}}",
                "adExperiences": [{"adExperience": "THIRD_PARTY_DISPLAY"}]
            })
        );
    }

    /// `creative-associations.md`, "Create adCreative association with adGroup" (without the
    /// optional dates), and "Review adCreative association moderation result".
    #[test]
    fn associations_and_moderation_requests_are_the_guides_samples() {
        let random = Association {
            ad_group_id: "g1".into(),
            ad_creative_id: "cr1".into(),
            weight: None,
        };
        let weighted = Association {
            weight: Some(DEFAULT_WEIGHT),
            ..random.clone()
        };
        let r = associate(&auth(), &ACCOUNT, &[random, weighted]);
        assert_eq!(r.url, "http://e/dsp/v1/adCreatives/associations/adGroups");
        assert_eq!(
            body(&r),
            json!({"associations": [
                {"adCreativeId": "cr1", "adGroupId": "g1", "state": "ACTIVE"},
                {"adCreativeId": "cr1", "adGroupId": "g1", "state": "ACTIVE", "weight": 100}
            ]})
        );
        let r = creative_moderation(&auth(), &ACCOUNT, "cr 1");
        assert_eq!(
            (r.method, r.url.as_str()),
            (
                Method::Get,
                "http://e/dsp/v1/adCreatives/cr%201/moderations"
            )
        );
        assert_eq!(r.body, None);
        assert_eq!(r.header_value("amazon-advertising-api-scope"), Some("3333"));
        let r = list_moderations(&auth(), &ACCOUNT, &["g1"], Some("n"));
        assert_eq!(
            r.url,
            "http://e/dsp/v1/adCreatives/associations/adGroups/moderations/list"
        );
        assert_eq!(
            body(&r),
            json!({"adGroupIdFilter": {"include": ["g1"]}, "maxResults": 100, "nextToken": "n"})
        );
        let r = list_creatives(&auth(), &ACCOUNT, None);
        assert_eq!(r.url, "http://e/dsp/v1/adCreatives/list");
        assert_eq!(body(&r), json!({"maxResults": 100}));
    }

    /// The association sample answer (both arrays), and the forms the migration guide's
    /// error model allows: an array left out when empty, `errorCode` / `errorMessage`.
    #[test]
    fn multi_status_answers_are_read_per_index_with_omitted_arrays() {
        let sample = r#"{
          "success": [{"index": 0, "adCreativeId": "cr1", "adGroupId": "g1"}],
          "error": [{"index": 1, "code": "CAMPAIGN_NOT_ACTIVE", "adCreativeId": "cr1",
                     "description": "campaign c2 is INACTIVE", "adGroupId": "g2"}]
        }"#;
        let got = parse_multi_status(sample, 2).unwrap();
        assert_eq!(got[0].outcome, Ok(()));
        assert_eq!(
            got[1].outcome,
            Err((
                "CAMPAIGN_NOT_ACTIVE".into(),
                "campaign c2 is INACTIVE".into()
            ))
        );
        let all_taken = parse_multi_status(r#"{"success":[{"index":0},{"index":1}]}"#, 2).unwrap();
        assert_eq!(all_taken.len(), 2);
        let all_refused = parse_multi_status(
            r#"{"error":[{"index":0,"errorCode":"X","errorMessage":"m"}]}"#,
            1,
        )
        .unwrap();
        assert_eq!(all_refused[0].outcome, Err(("X".into(), "m".into())));
        assert_eq!(parse_multi_status(r#"{"success":[{"index":3}]}"#, 3), None);
        assert_eq!(
            parse_multi_status(r#"{"success":[{"index":0}],"error":[{"index":0}]}"#, 3),
            None
        );
        assert_eq!(parse_multi_status(r#"{"success":{"index":0}}"#, 3), None);
        assert_eq!(parse_multi_status(r#"{"code":"x"}"#, 3), None);
        assert_eq!(parse_multi_status("<html>429</html>", 3), None);
    }

    /// `creative-management.md` "Step 3" answer and `creative-associations.md` "Review
    /// adCreative association moderation results" answer, with the samples' values filled.
    #[test]
    fn moderation_answers_and_states() {
        let m = parse_creative_moderation(
            r#"{"totalResults": 1, "nextToken": null, "adCreativeStatuses": [{
                "adCreativeId": "cr1", "adCreativeModerationStatus": "PENDING",
                "adExperiences": [{"adExperience": "STANDARD_DISPLAY", "reasons": [], "moderationStatus": "PENDING"}]}]}"#,
        )
        .unwrap();
        assert_eq!((m.status.as_str(), m.reasons.len()), ("PENDING", 0));
        let (list, next) = parse_moderations(
            r#"{"totalResults": 2, "nextToken": "2", "associationStatuses": [
                {"adCreativeId": "cr1", "adGroupId": "g1", "adExperiences": [{"adExperience": "THIRD_PARTY_DISPLAY",
                  "associationModerationStatus": "NOT_APPROVED", "associationModerationReasons": ["landing page"]}]},
                {"adCreativeId": "cr2", "adGroupId": "g1", "adExperiences": [{"adExperience": "THIRD_PARTY_VIDEO",
                  "associationModerationStatus": "APPROVED"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            (list[0].ad_group_id.as_str(), list[0].status.as_str()),
            ("g1", "NOT_APPROVED")
        );
        assert_eq!(list[0].reasons, ["landing page"]);
        assert_eq!(list[1].status, "APPROVED");
        assert_eq!(next.as_deref(), Some("2"));
        assert_eq!(parse_moderations("<html></html>"), None);
        assert_eq!(serves("APPROVED_WITH_EXCEPTIONS"), Some(true));
        assert_eq!(serves("PENDING"), Some(false));
        assert_eq!(serves("approved"), None);
    }

    /// "Listing ad creatives": the sample's item (which shows no id) and one with its id.
    #[test]
    fn listed_creatives_are_read_by_name() {
        let (list, next) = parse_creatives(
            r#"{"totalResults": 2, "nextToken": null, "adCreatives": [
                {"name": "updatedName", "language": "en", "country": "US", "adChoicesPosition": "TOP_RIGHT",
                 "adCreativeFormatProperties": {"adCreativeFormatType": "DISPLAY"}},
                {"adCreativeId": "591", "name": "Spring 300x250 [g1]"}]}"#,
        )
        .unwrap();
        assert_eq!(next, None);
        assert_eq!(list[0].ad_creative_id, None);
        assert_eq!(list[1].ad_creative_id.as_deref(), Some("591"));
        assert_eq!(list[1].name, "Spring 300x250 [g1]");
    }

    #[test]
    fn names_are_stable_and_fit() {
        let a = creative_name("Spring", Kind::Display, &[(300, 250), (728, 90)], "g1");
        assert_eq!(a, "Spring 300x250+728x90 [g1]");
        assert_eq!(
            creative_name(" Spring ", Kind::Video, &[], "g2"),
            "Spring video [g2]"
        );
        let long = creative_name(&"é".repeat(400), Kind::Video, &[], "g2");
        assert_eq!(long.chars().count(), MAX_NAME);
        assert!(long.ends_with(" video [g2]"));
    }
}
