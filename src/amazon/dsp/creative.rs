//! DSP trafficking, write side: third-party creatives (a display tag or a VAST URL), their
//! ad experience, their associations with ad groups, and their moderation. Facts:
//! `spec/amazon-api.md` §F3 (calls, fields, the 20-per-call limit, moderation states).
//!
//! # Shapes (unverified)
//!
//! **Like the read side ([`super`]), these shapes come from a third-party copy of Amazon's
//! DSP v1 spec; the wrapper fields of batch bodies (`adCreatives`,
//! `adCreativeAssociations`), the answer shapes and the error code for an existing
//! association are this project's reading, not checked against Amazon.** The emulator
//! (`tests/amazon-emulator/src/trafficking.rs`) keeps its own copy of every enum and limit
//! here, and `tests/dsp_cli.rs` asserts the two agree.
//!
//! | call | body | answer |
//! |---|---|---|
//! | `POST /dsp/v1/adCreatives` | `{adCreatives[1–20]{name, language, country, adCreativeFormatProperties{adCreativeFormatType:"THIRD_PARTY", creativeSizes[{width,height}], thirdPartyTag{tagSource, tagType, destinationOnAmazon:"OFF_AMAZON"}, trackingUrls[]}}}` | 207 `{success[{index, adCreativeId}], error[{index, code, description}]}` |
//! | `PATCH /dsp/v1/adCreatives` | `{adCreatives[1–20]{adCreativeId, name, adCreativeFormatProperties{…}}}` | 207, as above |
//! | `PUT /dsp/v1/adExperiences` | `{adCreativeId, adExperiences:[THIRD_PARTY_DISPLAY \| THIRD_PARTY_VIDEO]}` (once; permanent) | 200 `{adCreativeId, adExperiences}` |
//! | `POST /dsp/v1/adCreatives/associations/adGroups` | `{adCreativeAssociations[1–20]{adGroupId, adCreativeId, weight 1–999, state}}` | 207 `{success[{index}], error[{index, code, description}]}` |
//! | `GET /dsp/v1/adCreatives/{id}/moderations` | – | 200 `{adCreativeId, moderationStatus, reasons[]}` |
//! | `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list` | `{adCreativeIdFilter[1–100], maxResults, nextToken?}` | 200 `{moderations[{adCreativeId, adGroupId, moderationStatus, reasons[]}], nextToken?}` |
//!
//! Every call carries `Amazon-Ads-ClientId` and `Amazon-Ads-AccountId: <advertiser>`.
//! Moderation starts when a creative is first associated, and starts again when its tag
//! changes.

use serde_json::{Value, json};
use std::prelude::rust_2024::*;

use super::tag::Kind;
use crate::amazon::{ApiRequest, Auth, Method};

/// Most creatives or associations per write call.
pub const MAX_PER_CALL: usize = 20;
/// Most sizes of a display creative.
pub const MAX_SIZES: usize = 20;
/// Most tracking URLs of a creative.
pub const MAX_TRACKERS: usize = 5;
/// Longest creative name, in characters.
pub const MAX_NAME: usize = 255;
/// `thirdPartyTag.tagType` values.
pub const TAG_TYPES: &[&str] = &["DISPLAY", "VAST_VPAID"];
/// `adExperiences` values of third-party creatives.
pub const AD_EXPERIENCES: &[&str] = &["THIRD_PARTY_DISPLAY", "THIRD_PARTY_VIDEO"];
/// `thirdPartyTag.destinationOnAmazon`: a third-party tag lands off Amazon.
pub const DESTINATION: &str = "OFF_AMAZON";
/// Association states.
pub const ASSOCIATION_STATES: &[&str] = &["ENABLED", "PAUSED"];
/// Moderation states, and whether each lets the creative serve.
pub const MODERATION_STATES: &[(&str, bool)] = &[
    ("PENDING", false),
    ("APPROVED", true),
    ("APPROVED_WITH_EXCEPTIONS", true),
    ("NOT_APPROVED", false),
];
/// The error code of an association that already exists (taken as done on a re-run).
pub const ALREADY_ASSOCIATED: &str = "ASSOCIATION_ALREADY_EXISTS";
/// The error code of an association refused because the campaign is not running.
pub const CAMPAIGN_NOT_RUNNING: &str = "CAMPAIGN_NOT_ACTIVE";
/// Weight of a new association (one creative per ad group row: all equal).
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
    /// `language`, e.g. `en_US`.
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
            properties["trackingUrls"] = json!(self.trackers);
        }
        properties
    }

    fn create_json(&self) -> Value {
        json!({
            "name": self.name,
            "language": self.language,
            "country": self.country,
            "adCreativeFormatProperties": self.format_properties(),
        })
    }
}

/// A creative's Amazon name, the same for the same placement and row on every run:
/// `{name} {sizes or "video"} [{ad group id}]`, the row's name shortened so the whole fits
/// [`MAX_NAME`].
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

/// `POST /dsp/v1/adCreatives` for 1 to [`MAX_PER_CALL`] creatives.
pub fn create_creatives(
    auth: &Auth<'_>,
    advertiser_id: &str,
    creatives: &[&ThirdPartyCreative],
) -> ApiRequest {
    let items: Vec<Value> = creatives.iter().map(|c| c.create_json()).collect();
    super::advertiser_request(
        auth,
        Method::Post,
        "/dsp/v1/adCreatives",
        advertiser_id,
        &json!({ "adCreatives": items }),
    )
}

/// `PATCH /dsp/v1/adCreatives` for 1 to [`MAX_PER_CALL`] `(adCreativeId, creative)`: the
/// name and format properties are replaced (language and country stay as created).
pub fn update_creatives(
    auth: &Auth<'_>,
    advertiser_id: &str,
    creatives: &[(&str, &ThirdPartyCreative)],
) -> ApiRequest {
    let items: Vec<Value> = creatives
        .iter()
        .map(|(id, c)| {
            json!({
                "adCreativeId": id,
                "name": c.name,
                "adCreativeFormatProperties": c.format_properties(),
            })
        })
        .collect();
    super::advertiser_request(
        auth,
        Method::Patch,
        "/dsp/v1/adCreatives",
        advertiser_id,
        &json!({ "adCreatives": items }),
    )
}

/// `PUT /dsp/v1/adExperiences`: the creative's one (permanent) ad experience.
pub fn set_ad_experience(
    auth: &Auth<'_>,
    advertiser_id: &str,
    ad_creative_id: &str,
    kind: Kind,
) -> ApiRequest {
    super::advertiser_request(
        auth,
        Method::Put,
        "/dsp/v1/adExperiences",
        advertiser_id,
        &json!({ "adCreativeId": ad_creative_id, "adExperiences": [kind.ad_experience()] }),
    )
}

/// An association to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// `adGroupId`.
    pub ad_group_id: String,
    /// `adCreativeId`.
    pub ad_creative_id: String,
}

/// `POST /dsp/v1/adCreatives/associations/adGroups` for 1 to [`MAX_PER_CALL`]
/// associations, each `ENABLED` with weight [`DEFAULT_WEIGHT`].
pub fn associate(auth: &Auth<'_>, advertiser_id: &str, associations: &[Association]) -> ApiRequest {
    let items: Vec<Value> = associations
        .iter()
        .map(|a| {
            json!({
                "adGroupId": a.ad_group_id,
                "adCreativeId": a.ad_creative_id,
                "weight": DEFAULT_WEIGHT,
                "state": ASSOCIATION_STATES[0],
            })
        })
        .collect();
    super::advertiser_request(
        auth,
        Method::Post,
        "/dsp/v1/adCreatives/associations/adGroups",
        advertiser_id,
        &json!({ "adCreativeAssociations": items }),
    )
}

/// `GET /dsp/v1/adCreatives/{id}/moderations`.
pub fn creative_moderation(
    auth: &Auth<'_>,
    advertiser_id: &str,
    ad_creative_id: &str,
) -> ApiRequest {
    let id = crate::amazon::url_encode(ad_creative_id);
    auth.v1_request(
        Method::Get,
        &format!("/dsp/v1/adCreatives/{id}/moderations"),
    )
    .header("amazon-ads-accountid", advertiser_id)
    .header("accept", "application/json")
}

/// One page of `POST /dsp/v1/adCreatives/associations/adGroups/moderations/list` for 1 to
/// [`super::MAX_PAGE`] creatives.
pub fn list_moderations(
    auth: &Auth<'_>,
    advertiser_id: &str,
    ad_creative_ids: &[&str],
    next_token: Option<&str>,
) -> ApiRequest {
    super::list_request(
        auth,
        "/dsp/v1/adCreatives/associations/adGroups/moderations/list",
        advertiser_id,
        json!({ "adCreativeIdFilter": ad_creative_ids }),
        next_token,
    )
}

/// One item of a 207 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// The item's position in the request.
    pub index: usize,
    /// `Ok(adCreativeId if the answer carries one)` or `Err((code, description))`.
    pub outcome: Result<Option<String>, (String, String)>,
}

/// Reads a 207 answer of a write call; `None` when it is not one, or when an index is
/// outside `0..sent` or named twice. Items the answer does not mention are not returned.
pub fn parse_multi_status(body: &str, sent: usize) -> Option<Vec<ItemResult>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let mut out = Vec::new();
    for item in v["success"].as_array()? {
        out.push(ItemResult {
            index: index(&item["index"], sent)?,
            outcome: Ok(super::id(&item["adCreativeId"])),
        });
    }
    for item in v["error"].as_array()? {
        out.push(ItemResult {
            index: index(&item["index"], sent)?,
            outcome: Err((
                item["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
                item["description"].as_str().unwrap_or_default().to_owned(),
            )),
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
    /// `moderationStatus` (see [`MODERATION_STATES`]).
    pub status: String,
    /// `reasons` (Amazon's words, for a refusal).
    pub reasons: Vec<String>,
}

fn moderation(v: &Value) -> Option<Moderation> {
    Some(Moderation {
        ad_creative_id: super::id(&v["adCreativeId"])?,
        ad_group_id: super::id(&v["adGroupId"]).unwrap_or_default(),
        status: v["moderationStatus"].as_str()?.to_owned(),
        reasons: v["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads the answer of [`creative_moderation`].
pub fn parse_creative_moderation(body: &str) -> Option<Moderation> {
    moderation(&serde_json::from_str(body).ok()?)
}

/// Reads a page of [`list_moderations`].
pub fn parse_moderations(body: &str) -> Option<(Vec<Moderation>, Option<String>)> {
    super::page(body, "moderations", moderation)
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

    fn body(r: &ApiRequest) -> Value {
        serde_json::from_str(r.body.as_deref().unwrap()).unwrap()
    }

    fn display() -> ThirdPartyCreative {
        ThirdPartyCreative {
            name: "Spring 300x250 [g1]".into(),
            language: "en_US".into(),
            country: "US".into(),
            kind: Kind::Display,
            tag: r#"<script src="https://a.example/t.js?cb=${CACHEBUSTER}"></script>"#.into(),
            sizes: vec![(300, 250)],
            trackers: vec!["https://t.example/i".into()],
        }
    }

    #[test]
    fn creatives_carry_the_tag_as_written() {
        let video = ThirdPartyCreative {
            kind: Kind::Video,
            tag: "https://v.example/vast?cb=${CACHEBUSTER}".into(),
            sizes: vec![],
            trackers: vec![],
            ..display()
        };
        let r = create_creatives(&auth(), "583", &[&display(), &video]);
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://e/dsp/v1/adCreatives")
        );
        assert_eq!(r.header_value("amazon-ads-accountid"), Some("583"));
        let b = body(&r);
        let p = &b["adCreatives"][0]["adCreativeFormatProperties"];
        assert_eq!(p["adCreativeFormatType"], "THIRD_PARTY");
        assert_eq!(p["thirdPartyTag"]["tagSource"], display().tag);
        assert_eq!(p["thirdPartyTag"]["tagType"], "DISPLAY");
        assert_eq!(p["thirdPartyTag"]["destinationOnAmazon"], "OFF_AMAZON");
        assert_eq!(p["creativeSizes"], json!([{"width": 300, "height": 250}]));
        assert_eq!(p["trackingUrls"], json!(["https://t.example/i"]));
        assert_eq!(b["adCreatives"][0]["language"], "en_US");
        let v = &b["adCreatives"][1]["adCreativeFormatProperties"];
        assert_eq!(v["thirdPartyTag"]["tagType"], "VAST_VPAID");
        assert!(v.get("creativeSizes").is_none() && v.get("trackingUrls").is_none());

        let r = update_creatives(&auth(), "583", &[("cr1", &display())]);
        assert_eq!(r.method, Method::Patch);
        let b = body(&r);
        assert_eq!(b["adCreatives"][0]["adCreativeId"], "cr1");
        assert!(b["adCreatives"][0].get("language").is_none());

        let r = set_ad_experience(&auth(), "583", "cr1", Kind::Video);
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Put, "http://e/dsp/v1/adExperiences")
        );
        assert_eq!(
            body(&r),
            json!({"adCreativeId": "cr1", "adExperiences": ["THIRD_PARTY_VIDEO"]})
        );
    }

    #[test]
    fn associations_and_moderation_reads() {
        let a = Association {
            ad_group_id: "g1".into(),
            ad_creative_id: "cr1".into(),
        };
        let r = associate(&auth(), "583", &[a]);
        assert_eq!(r.url, "http://e/dsp/v1/adCreatives/associations/adGroups");
        assert_eq!(
            body(&r),
            json!({"adCreativeAssociations": [{"adGroupId": "g1", "adCreativeId": "cr1", "weight": 100, "state": "ENABLED"}]})
        );
        let r = creative_moderation(&auth(), "583", "cr 1");
        assert_eq!(
            (r.method, r.url.as_str()),
            (
                Method::Get,
                "http://e/dsp/v1/adCreatives/cr%201/moderations"
            )
        );
        assert_eq!(r.body, None);
        let r = list_moderations(&auth(), "583", &["cr1"], Some("n"));
        assert_eq!(
            body(&r),
            json!({"adCreativeIdFilter": ["cr1"], "maxResults": 100, "nextToken": "n"})
        );
    }

    #[test]
    fn multi_status_answers_are_read_per_index() {
        let got = parse_multi_status(
            r#"{"success":[{"index":2,"adCreativeId":"cr9"},{"index":0}],"error":[{"index":1,"code":"CAMPAIGN_NOT_ACTIVE","description":"campaign c2 is INACTIVE"}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(got[0].outcome, Ok(None));
        assert_eq!(
            got[1].outcome,
            Err((
                "CAMPAIGN_NOT_ACTIVE".into(),
                "campaign c2 is INACTIVE".into()
            ))
        );
        assert_eq!(got[2].outcome, Ok(Some("cr9".into())));
        assert_eq!(
            parse_multi_status(r#"{"success":[{"index":3}],"error":[]}"#, 3),
            None
        );
        assert_eq!(
            parse_multi_status(r#"{"success":[{"index":0}],"error":[{"index":0}]}"#, 3),
            None
        );
        assert_eq!(parse_multi_status(r#"{"code":"x"}"#, 3), None);
    }

    #[test]
    fn moderation_answers_and_states() {
        let m = parse_creative_moderation(
            r#"{"adCreativeId":"cr1","moderationStatus":"NOT_APPROVED","reasons":["landing page"]}"#,
        )
        .unwrap();
        assert_eq!((m.status.as_str(), m.reasons.len()), ("NOT_APPROVED", 1));
        let (list, next) = parse_moderations(
            r#"{"moderations":[{"adCreativeId":"cr1","adGroupId":"g1","moderationStatus":"PENDING"}],"nextToken":"2"}"#,
        )
        .unwrap();
        assert_eq!(list[0].ad_group_id, "g1");
        assert_eq!(next.as_deref(), Some("2"));
        assert_eq!(serves("APPROVED_WITH_EXCEPTIONS"), Some(true));
        assert_eq!(serves("PENDING"), Some(false));
        assert_eq!(serves("approved"), None);
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
