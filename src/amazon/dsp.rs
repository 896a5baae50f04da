//! DSP trafficking, read side: the advertiser's campaigns and ad groups, and the targets of
//! an ad group that say where it serves (inventory sources) and to whom (audiences); and
//! the rules that turn them into a placement's `supply` and `serving`, and a campaign's
//! state into "running".
//!
//! # The contract
//!
//! Amazon publishes no OpenAPI file for `/dsp/v1`: the request and answer samples of its
//! guide pages are the contract (`docs/guides/dsp/developer-guide.md`, "Using audience
//! targeting" → "List audience targets on an ad group"; the `/dsp/v1` migration guides in
//! `docs/reference/migration-guides/`). `tests/contract/dsp.rs` compares every builder's body
//! with those samples and feeds every parser the guide's answers.
//!
//! **Headers.** Amazon's DSP migration notes (amzn/ads-advanced-tools-docs,
//! `unified-dsp-cm-migration`) list `Amazon-Advertising-API-ClientId`,
//! `Amazon-Ads-AccountId` (the DSP advertiser) and `Amazon-Advertising-API-Scope` (the
//! profile id) as required on every `/dsp/v1` call. That is migration notes, not a spec:
//! likely, not proven. Every call here sends all three (see [`Account`]).
//!
//! | call | body | answer |
//! |---|---|---|
//! | `/dsp/v1/campaigns/list` | `{campaignIdFilter?[≤100], maxResults, nextToken?}` | `{campaigns[{campaignId, name, state, flights{flights[{startDateTime, endDateTime}]}}], nextToken?}` |
//! | `/dsp/v1/adGroups/list` | `{campaignIdFilter[1–100], maxResults, nextToken?}` | `{adGroups[{adGroupId, campaignId, name, state, inventoryType, creativeRotationType, startDateTime, endDateTime}], nextToken?}` |
//! | `/dsp/v1/targets/list` | `{filters{targetTypeFilter[…], adGroupIdFilter[…]}, maxResults, nextToken?}` | `{targets[{adGroupId, adProduct, negative, state, targetDetails{<kind>Target{targetType, …}}}], nextToken?}` |
//!
//! The guide shows no sample of the campaign and ad group list bodies (only their create
//! bodies, whose fields the answers are read by: a campaign's dates are its `flights`, an
//! ad group's are its own); their `campaignIdFilter` and the paging fields (`maxResults`,
//! `nextToken`, as on every other `/dsp/v1` list) are unverified. The targets sample shows
//! `filters` alone; paging is sent beside it, as on the other lists.
//!
//! A target's `negative` (an exclusion) is on the target; its `targetType` is inside its
//! details (`targetDetails.audienceTarget.targetType`). An older reading had both at the
//! top level: both places are accepted. The targets sample carries no audience type (an
//! audience target is `{audienceId, groupId, targetType}` and the read-only operators):
//! an `audienceType` is read where an answer has one, and an audience without one counts
//! as [`AudienceSide`] unknown, so its placement's `serving` is `unknown` for a person to
//! decide instead of a guess. The enums are [`CAMPAIGN_STATES`], [`AD_GROUP_STATES`],
//! [`INVENTORY_TYPES`], [`INVENTORY_SOURCE_SUPPLY`] (the migration guide's
//! `inventorySourceType` values) and [`AUDIENCE_SERVING`].
//!
//! Every parser answers `None` for a body that is not the expected JSON (Amazon's gateway
//! answers a 429 with an HTML page); callers look at the status first.
//!
//! The write side (third-party creatives, ad experiences, associations, moderation) is in
//! [`creative`]; the checks of a tag before it is sent are in [`tag`].

use std::prelude::rust_2024::*;

pub mod creative;
pub mod tag;

use serde_json::{Value, json};

use super::request::{ApiRequest, Auth, Method};

/// Most items per page and ids per filter.
pub const MAX_PAGE: usize = 100;

/// Campaign states, and whether each counts as running (Amazon takes creatives only for a
/// running campaign; campaigns are created `INACTIVE`). The one table of "running".
pub const CAMPAIGN_STATES: &[(&str, bool)] = &[
    ("ACTIVE", true),
    ("INACTIVE", false),
    ("PAUSED", false),
    ("ENDED", false),
    ("ARCHIVED", false),
];

/// Ad group states (the same words as campaigns).
pub const AD_GROUP_STATES: &[&str] = &["ACTIVE", "INACTIVE", "PAUSED", "ENDED", "ARCHIVED"];

/// Ad group inventory types since 2025-06-30 (`STANDARD_DISPLAY`, `VIDEO` … are gone).
/// `AUDIO` is listed so that an audio ad group is read, and marked, not refused.
pub const INVENTORY_TYPES: &[&str] = &["DISPLAY", "ONLINE_VIDEO", "STREAMING_TV", "AUDIO"];

/// Who owns the supply behind an inventory source type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Amazon's own sites and apps, or Amazon Publisher Direct.
    Amazon,
    /// Exchanges, deals, inventory groups.
    ThirdParty,
}

/// Inventory source types and who owns them: the one table behind [`supply`]. The
/// `/dsp/v1` names (`docs/reference/migration-guides/adsp-campaign-management.md`, the
/// `supplySourceType` → `inventorySourceType` table; `AMAZON_PUBLISHER_DIRECT` also in the
/// developer guide's exchanges sample); `APD` is the `/adsApi/v1` spelling and is not one.
pub const INVENTORY_SOURCE_SUPPLY: &[(&str, Owner)] = &[
    ("AMAZON", Owner::Amazon),
    ("AMAZON_PUBLISHER_DIRECT", Owner::Amazon),
    ("THIRD_PARTY_EXCHANGE", Owner::ThirdParty),
    ("DEAL", Owner::ThirdParty),
    ("INVENTORY_GROUP", Owner::ThirdParty),
];

/// Creative rotation types of an ad group (the developer guide's ad group sample has
/// `RANDOM`; the other is this project's reading). An association's `weight` cannot be set
/// on a `RANDOM` ad group (`creative-associations.md`, "Rules of createCreativeAssociationsV1").
pub const ROTATION_TYPES: &[&str] = &["RANDOM", "WEIGHTED"];

/// What an audience means for serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceSide {
    /// Built or sold inside Amazon DSP (Amazon's in-market, lifestyle … audiences, and
    /// third-party data bought in DSP): Amazon decides membership, the client-side tag serves.
    Amazon,
    /// The advertiser's own (uploaded records, pixel) or custom (AMC) audience: the
    /// server-to-server instance serves.
    Custom,
    /// Derived from the advertiser's data by Amazon (lookalikes): a person decides.
    Ask,
}

/// Audience types and their side: the one table behind [`serving`].
pub const AUDIENCE_SERVING: &[(&str, AudienceSide)] = &[
    ("AMAZON", AudienceSide::Amazon),
    ("THIRD_PARTY", AudienceSide::Amazon),
    ("ADVERTISER", AudienceSide::Custom),
    ("AMC", AudienceSide::Custom),
    ("LOOKALIKE", AudienceSide::Ask),
];

/// Whether a campaign state counts as running; `None` for a state not in
/// [`CAMPAIGN_STATES`].
pub fn is_running(state: &str) -> Option<bool> {
    CAMPAIGN_STATES
        .iter()
        .find(|(name, _)| *name == state)
        .map(|(_, running)| *running)
}

/// Whose inventory an ad group buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supply {
    /// Every inventory source is Amazon's (`AMAZON`, `AMAZON_PUBLISHER_DIRECT`).
    AmazonOwned,
    /// Every inventory source is third-party.
    ThirdParty,
    /// Both.
    Mixed,
    /// Amazon did not say: no inventory-source target (Amazon's default is "all eligible
    /// sources", which it does not enumerate), a type not in the table, or no answer.
    Unknown,
}

impl Supply {
    /// The word in the placements file.
    pub fn as_str(self) -> &'static str {
        match self {
            Supply::AmazonOwned => "amazon_owned",
            Supply::ThirdParty => "third_party",
            Supply::Mixed => "mixed",
            Supply::Unknown => "unknown",
        }
    }
}

/// [`Supply`] from an ad group's inventory source types.
pub fn supply<'a>(source_types: impl IntoIterator<Item = &'a str>) -> Supply {
    let (mut amazon, mut third, mut any) = (false, false, false);
    for source in source_types {
        any = true;
        match INVENTORY_SOURCE_SUPPLY.iter().find(|(t, _)| *t == source) {
            Some((_, Owner::Amazon)) => amazon = true,
            Some((_, Owner::ThirdParty)) => third = true,
            None => return Supply::Unknown,
        }
    }
    match (any, amazon, third) {
        (false, _, _) => Supply::Unknown,
        (_, true, true) => Supply::Mixed,
        (_, true, false) => Supply::AmazonOwned,
        _ => Supply::ThirdParty,
    }
}

/// Which instance of the ad server serves an ad group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// The server-to-server instance: the ad group targets an advertiser or custom audience.
    ServerSide,
    /// The client-side tag: only Amazon audiences, or none.
    ClientSide,
    /// A person decides: lookalikes, or custom audiences only as exclusions.
    Mixed,
    /// Amazon did not say (an audience type not in the table, or no answer).
    Unknown,
}

impl Serving {
    /// The word in the placements file.
    pub fn as_str(self) -> &'static str {
        match self {
            Serving::ServerSide => "server_side",
            Serving::ClientSide => "client_side",
            Serving::Mixed => "mixed",
            Serving::Unknown => "unknown",
        }
    }
}

/// [`Serving`] from an ad group's audiences (`(audienceType, negative)`): any included
/// custom audience → server side; else any lookalike, or a custom audience excluded → mixed;
/// else client side (no audience at all included). An audience type not in
/// [`AUDIENCE_SERVING`] (or none: `""`, the targets sample gives none) makes it unknown.
pub fn serving<'a>(audiences: impl IntoIterator<Item = (&'a str, bool)>) -> Serving {
    let mut ask = false;
    let mut custom = false;
    for (kind, negative) in audiences {
        match AUDIENCE_SERVING.iter().find(|(t, _)| *t == kind) {
            None => return Serving::Unknown,
            Some((_, AudienceSide::Custom)) if !negative => custom = true,
            Some((_, AudienceSide::Custom | AudienceSide::Ask)) => ask = true,
            Some((_, AudienceSide::Amazon)) => {}
        }
    }
    if custom {
        Serving::ServerSide
    } else if ask {
        Serving::Mixed
    } else {
        Serving::ClientSide
    }
}

/// A placement's stable id: the same advertiser and ad group give the same id on every run
/// and every machine.
pub fn placement_id(advertiser_id: &str, ad_group_id: &str) -> String {
    format!("amzdsp-{advertiser_id}-{ad_group_id}")
}

/// A campaign from `/dsp/v1/campaigns/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// `campaignId` (the legacy order id).
    pub campaign_id: String,
    /// `name`.
    pub name: String,
    /// `state` (see [`CAMPAIGN_STATES`]).
    pub state: String,
    /// `startDateTime`, as Amazon wrote it.
    pub start: String,
    /// `endDateTime`, as Amazon wrote it (empty: open-ended). From the last flight.
    pub end: String,
}

/// An ad group from `/dsp/v1/adGroups/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdGroup {
    /// `adGroupId` (the legacy line item id).
    pub ad_group_id: String,
    /// `campaignId`.
    pub campaign_id: String,
    /// `name`.
    pub name: String,
    /// `state`.
    pub state: String,
    /// `inventoryType` (see [`INVENTORY_TYPES`]).
    pub inventory_type: String,
    /// `startDateTime`.
    pub start: String,
    /// `endDateTime`.
    pub end: String,
    /// `creativeRotationType` (see [`ROTATION_TYPES`]; empty when not given).
    pub rotation: String,
}

impl AdGroup {
    /// Whether an association with this ad group may carry a `weight` (not on `RANDOM`
    /// rotation, nor when the answer did not say).
    pub fn takes_weight(&self) -> bool {
        !self.rotation.is_empty() && self.rotation != "RANDOM"
    }
}

/// The advertiser a `/dsp/v1` call is for, and the profile it is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    /// The DSP advertiser id (`Amazon-Ads-AccountId`).
    pub advertiser_id: &'a str,
    /// The profile id (`Amazon-Advertising-API-Scope`).
    pub profile_id: &'a str,
}

/// Which targets to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    /// `INVENTORY_SOURCE`
    InventorySource,
    /// `AUDIENCE`
    Audience,
}

impl TargetType {
    /// Amazon's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::InventorySource => "INVENTORY_SOURCE",
            TargetType::Audience => "AUDIENCE",
        }
    }
}

/// A target of an ad group, as far as trafficking needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `inventorySourceTarget`
    InventorySource {
        /// The ad group.
        ad_group_id: String,
        /// `inventorySourceType`.
        source_type: String,
    },
    /// `audienceTarget`
    Audience {
        /// The ad group.
        ad_group_id: String,
        /// `audienceId`.
        audience_id: String,
        /// `audienceType` where the answer has one (the guide's sample has none): empty.
        audience_type: String,
        /// `negative` (on the target): an exclusion.
        negative: bool,
    },
    /// Any other target type.
    Other,
}

fn list_request(
    auth: &Auth<'_>,
    path: &str,
    account: &Account<'_>,
    mut body: Value,
    max_results: usize,
    next_token: Option<&str>,
) -> ApiRequest {
    body["maxResults"] = json!(max_results);
    if let Some(token) = next_token {
        body["nextToken"] = json!(token);
    }
    advertiser_request(auth, Method::Post, path, account, &body)
}

/// A `/dsp/v1` call without a body, with the headers of every call (see the module's
/// "Headers").
fn account_request(
    auth: &Auth<'_>,
    method: Method,
    path: &str,
    account: &Account<'_>,
) -> ApiRequest {
    auth.request(method, path)
        .header("amazon-ads-accountid", account.advertiser_id)
        .header("amazon-advertising-api-scope", account.profile_id)
        .header("accept", "application/json")
}

/// A `/dsp/v1` call with a JSON body: the shape of every read and write of this module.
fn advertiser_request(
    auth: &Auth<'_>,
    method: Method,
    path: &str,
    account: &Account<'_>,
    body: &Value,
) -> ApiRequest {
    account_request(auth, method, path, account).body("application/json", body.to_string())
}

/// One page of `POST /dsp/v1/campaigns/list`: all of the advertiser's campaigns, or those
/// of `campaign_ids` (at most [`MAX_PAGE`]).
pub fn list_campaigns(
    auth: &Auth<'_>,
    account: &Account<'_>,
    campaign_ids: &[&str],
    next_token: Option<&str>,
) -> ApiRequest {
    let body = if campaign_ids.is_empty() {
        json!({})
    } else {
        json!({ "campaignIdFilter": campaign_ids })
    };
    list_request(
        auth,
        "/dsp/v1/campaigns/list",
        account,
        body,
        MAX_PAGE,
        next_token,
    )
}

/// One page of `POST /dsp/v1/adGroups/list` for 1 to [`MAX_PAGE`] campaigns.
pub fn list_ad_groups(
    auth: &Auth<'_>,
    account: &Account<'_>,
    campaign_ids: &[&str],
    next_token: Option<&str>,
) -> ApiRequest {
    list_request(
        auth,
        "/dsp/v1/adGroups/list",
        account,
        json!({ "campaignIdFilter": campaign_ids }),
        MAX_PAGE,
        next_token,
    )
}

/// One page of `POST /dsp/v1/targets/list`: targets of one type of 1 to [`MAX_PAGE`] ad
/// groups, the filters inside `filters` as the developer guide's sample has them.
pub fn list_targets(
    auth: &Auth<'_>,
    account: &Account<'_>,
    ad_group_ids: &[&str],
    target_type: TargetType,
    next_token: Option<&str>,
) -> ApiRequest {
    list_request(
        auth,
        "/dsp/v1/targets/list",
        account,
        json!({ "filters": {
            "targetTypeFilter": [target_type.as_str()],
            "adGroupIdFilter": ad_group_ids,
        } }),
        MAX_PAGE,
        next_token,
    )
}

/// An id Amazon may send as a string or a number.
fn id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The items under `field` and the next page's token; `None` when the answer has no such
/// list or an item does not parse.
fn page<T>(
    body: &str,
    field: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Option<(Vec<T>, Option<String>)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let items = v[field]
        .as_array()?
        .iter()
        .map(item)
        .collect::<Option<_>>()?;
    let next = v["nextToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some((items, next))
}

/// A campaign's first start and last end: from its `flights.flights[]` (the create
/// sample's shape, which the list answers), else top-level `startDateTime` /
/// `endDateTime` (an older reading, accepted). RFC 3339 times in UTC compare as text.
fn campaign_dates(c: &Value) -> (String, String) {
    let flights = c["flights"]["flights"]
        .as_array()
        .or_else(|| c["flights"].as_array());
    let Some(flights) = flights.filter(|f| !f.is_empty()) else {
        return (text(&c["startDateTime"]), text(&c["endDateTime"]));
    };
    let starts = flights.iter().filter_map(|f| f["startDateTime"].as_str());
    let ends = flights.iter().filter_map(|f| f["endDateTime"].as_str());
    (
        starts.min().unwrap_or_default().to_owned(),
        ends.max().unwrap_or_default().to_owned(),
    )
}

/// Reads a page of campaigns.
pub fn parse_campaigns(body: &str) -> Option<(Vec<Campaign>, Option<String>)> {
    page(body, "campaigns", |c| {
        let (start, end) = campaign_dates(c);
        Some(Campaign {
            campaign_id: id(&c["campaignId"])?,
            name: text(&c["name"]),
            state: text(&c["state"]),
            start,
            end,
        })
    })
}

/// Reads a page of ad groups.
pub fn parse_ad_groups(body: &str) -> Option<(Vec<AdGroup>, Option<String>)> {
    page(body, "adGroups", |g| {
        Some(AdGroup {
            ad_group_id: id(&g["adGroupId"])?,
            campaign_id: id(&g["campaignId"])?,
            name: text(&g["name"]),
            state: text(&g["state"]),
            inventory_type: text(&g["inventoryType"]),
            start: text(&g["startDateTime"]),
            end: text(&g["endDateTime"]),
            rotation: text(&g["creativeRotationType"]),
        })
    })
}

/// A target's type: `targetDetails.<kind>.targetType` (the sample's place), else the
/// target's own `targetType` (an older reading), else which details object it has.
fn target_type(t: &Value) -> Option<&str> {
    let details = t["targetDetails"].as_object();
    details
        .and_then(|d| d.values().find_map(|v| v["targetType"].as_str()))
        .or_else(|| t["targetType"].as_str())
        .or_else(|| {
            let d = details?;
            if d.contains_key("audienceTarget") {
                Some("AUDIENCE")
            } else if d.contains_key("inventorySourceTarget") {
                Some("INVENTORY_SOURCE")
            } else {
                None
            }
        })
}

/// Reads a page of targets (the developer guide's "List audience targets on an ad group"
/// answer). `negative` is read on the target, else inside the details (older reading);
/// missing, it is `false` (an inclusion), as Amazon's default.
pub fn parse_targets(body: &str) -> Option<(Vec<Target>, Option<String>)> {
    page(body, "targets", |t| {
        let ad_group_id = id(&t["adGroupId"])?;
        let details = &t["targetDetails"];
        Some(match target_type(t) {
            Some("INVENTORY_SOURCE") => {
                let source = &details["inventorySourceTarget"];
                Target::InventorySource {
                    ad_group_id,
                    source_type: source["inventorySourceType"].as_str()?.to_owned(),
                }
            }
            Some("AUDIENCE") => {
                let audience = &details["audienceTarget"];
                let negative = t["negative"]
                    .as_bool()
                    .or_else(|| audience["negative"].as_bool())
                    .unwrap_or(false);
                let audience_type = audience["audienceType"]
                    .as_str()
                    .or_else(|| t["audienceType"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                Target::Audience {
                    ad_group_id,
                    audience_id: id(&audience["audienceId"])?,
                    audience_type,
                    negative,
                }
            }
            _ => Target::Other,
        })
    })
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

    #[test]
    fn list_requests_carry_the_three_headers_the_filters_and_paging() {
        let r = list_campaigns(&auth(), &ACCOUNT, &[], None);
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://e/dsp/v1/campaigns/list")
        );
        assert_eq!(r.header_value("Amazon-Ads-AccountId"), Some("583"));
        assert_eq!(
            r.header_value("Amazon-Advertising-API-ClientId"),
            Some("cid")
        );
        assert_eq!(r.header_value("Amazon-Advertising-API-Scope"), Some("3333"));
        assert_eq!(r.header_value("Amazon-Ads-ClientId"), None);
        assert_eq!(r.body.as_deref(), Some(r#"{"maxResults":100}"#));
        let r = list_campaigns(&auth(), &ACCOUNT, &["c1"], Some("p2"));
        assert_eq!(
            body(&r),
            json!({"campaignIdFilter": ["c1"], "maxResults": 100, "nextToken": "p2"})
        );
        let r = list_ad_groups(&auth(), &ACCOUNT, &["c1", "c2"], None);
        assert_eq!(r.url, "http://e/dsp/v1/adGroups/list");
        assert_eq!(body(&r)["campaignIdFilter"], json!(["c1", "c2"]));
    }

    /// `docs/guides/dsp/developer-guide.md`, "Using audience targeting" → "List audience
    /// targets on an ad group": the request, plus the paging of every list.
    #[test]
    fn the_targets_body_is_the_guides_sample() {
        let r = list_targets(
            &auth(),
            &ACCOUNT,
            &["579602514554384269"],
            TargetType::Audience,
            None,
        );
        assert_eq!(r.url, "http://e/dsp/v1/targets/list");
        assert_eq!(
            body(&r),
            json!({
                "filters": {
                    "targetTypeFilter": ["AUDIENCE"],
                    "adGroupIdFilter": ["579602514554384269"]
                },
                "maxResults": 100
            })
        );
    }

    /// The answer of the same sample (two of its six targets: an inclusion and an
    /// exclusion, as the guide writes them).
    const TARGETS_SAMPLE: &str = r#"{
      "targets": [
        {"adGroupId": "579602514554384269", "adProduct": "AMAZON_DSP", "negative": false, "state": "ENABLED",
         "targetDetails": {"audienceTarget": {"acrossGroupOperator": "ALL", "audienceId": "365849257058325086",
           "groupId": "1", "inGroupOperator": "ANY", "targetType": "AUDIENCE"}}},
        {"adGroupId": "579602514554384269", "adProduct": "AMAZON_DSP", "negative": true, "state": "ENABLED",
         "targetDetails": {"audienceTarget": {"acrossGroupOperator": "ALL", "audienceId": "378970165887759667",
           "groupId": "3", "inGroupOperator": "ALL", "targetType": "AUDIENCE"}}}
      ]
    }"#;

    #[test]
    fn the_guides_targets_answer_reads_exclusions_as_exclusions() {
        let (targets, next) = parse_targets(TARGETS_SAMPLE).unwrap();
        assert_eq!(next, None);
        assert_eq!(
            targets,
            [
                Target::Audience {
                    ad_group_id: "579602514554384269".into(),
                    audience_id: "365849257058325086".into(),
                    audience_type: String::new(),
                    negative: false
                },
                Target::Audience {
                    ad_group_id: "579602514554384269".into(),
                    audience_id: "378970165887759667".into(),
                    audience_type: String::new(),
                    negative: true
                },
            ]
        );
        // No audience type in Amazon's answer: serving is for a person to decide.
        let audiences = targets.iter().filter_map(|t| match t {
            Target::Audience {
                audience_type,
                negative,
                ..
            } => Some((audience_type.as_str(), *negative)),
            _ => None,
        });
        assert_eq!(serving(audiences), Serving::Unknown);
    }

    #[test]
    fn targets_in_other_forms_are_read_too() {
        let (targets, next) = parse_targets(
            r#"{"targets":[
                {"adGroupId":"g1","negative":false,"targetDetails":{"inventorySourceTarget":{"targetType":"INVENTORY_SOURCE","inventorySourceType":"AMAZON_PUBLISHER_DIRECT","inventorySourceId":"s"}}},
                {"adGroupId":"g1","targetType":"AUDIENCE","targetDetails":{"audienceTarget":{"audienceId":7,"audienceType":"AMC","groupId":"1","negative":true}}},
                {"adGroupId":"g1","negative":true,"targetDetails":{"domainTarget":{"targetType":"DOMAIN","domainTargetDetails":{}}}}],
              "nextToken":"n2"}"#,
        )
        .unwrap();
        assert_eq!(
            targets,
            [
                Target::InventorySource {
                    ad_group_id: "g1".into(),
                    source_type: "AMAZON_PUBLISHER_DIRECT".into()
                },
                Target::Audience {
                    ad_group_id: "g1".into(),
                    audience_id: "7".into(),
                    audience_type: "AMC".into(),
                    negative: true
                },
                Target::Other
            ]
        );
        assert_eq!(next.as_deref(), Some("n2"));
    }

    /// The list answers as the create samples of `developer-guide.md` ("Create a campaign",
    /// "Create an ad group") give their fields, with the ids and states a list adds.
    #[test]
    fn campaigns_and_ad_groups_are_read_in_the_samples_shape() {
        let (campaigns, next) = parse_campaigns(
            r#"{"campaigns":[{"campaignId":"587673741928966411","name":"My Q1 Test Campaign","state":"INACTIVE",
                "advertiserId":"520724305968518499",
                "flights":{"flights":[{"startDateTime":"2024-01-01T00:00:00Z","budgetAmount":1,"endDateTime":"2024-03-31T11:59:59Z"},
                                      {"startDateTime":"2024-04-01T00:00:00Z","budgetAmount":1,"endDateTime":"2024-06-30T23:59:59Z"}]}},
                {"campaignId":42,"startDateTime":"2026-09-01T00:00:00Z"}],"nextToken":"2"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                campaigns[0].state.as_str(),
                campaigns[0].start.as_str(),
                campaigns[0].end.as_str()
            ),
            ("INACTIVE", "2024-01-01T00:00:00Z", "2024-06-30T23:59:59Z")
        );
        assert_eq!(campaigns[1].campaign_id, "42");
        assert_eq!(campaigns[1].start, "2026-09-01T00:00:00Z");
        assert_eq!(campaigns[1].end, "");
        assert_eq!(next.as_deref(), Some("2"));
        assert_eq!(parse_campaigns(r#"{"campaigns":[{}]}"#), None);
        assert_eq!(parse_campaigns(r#"{"code":"x"}"#), None);

        let (groups, next) = parse_ad_groups(
            r#"{"adGroups":[{"adGroupId":"579602514554384269","inventoryType":"DISPLAY","campaignId":"587673741928966411",
                "creativeRotationType":"RANDOM","name":"Test Display Ad Group","state":"INACTIVE",
                "startDateTime":"2024-01-01T00:00:00Z","budgetAmount":1,"endDateTime":"2024-01-31T11:59:59Z"}]}"#,
        )
        .unwrap();
        assert_eq!(groups[0].inventory_type, "DISPLAY");
        assert_eq!(groups[0].rotation, "RANDOM");
        assert!(!groups[0].takes_weight());
        assert_eq!(next, None);
    }

    #[test]
    fn an_html_body_is_no_answer_not_a_panic() {
        let html = "<html><body><h1>429 Too Many Requests</h1></body></html>";
        assert_eq!(parse_campaigns(html), None);
        assert_eq!(parse_ad_groups(html), None);
        assert_eq!(parse_targets(html), None);
        assert_eq!(parse_targets(""), None);
    }

    #[test]
    fn supply_rules() {
        assert_eq!(
            supply(["AMAZON", "AMAZON_PUBLISHER_DIRECT"]),
            Supply::AmazonOwned
        );
        assert_eq!(
            supply(["THIRD_PARTY_EXCHANGE", "DEAL", "INVENTORY_GROUP"]),
            Supply::ThirdParty
        );
        assert_eq!(supply(["AMAZON", "DEAL"]), Supply::Mixed);
        assert_eq!(supply([]), Supply::Unknown);
        assert_eq!(supply(["AMAZON", "SOMETHING_NEW"]), Supply::Unknown);
        // The `/adsApi/v1` spelling is not a `/dsp/v1` source type.
        assert_eq!(supply(["APD"]), Supply::Unknown);
        assert_eq!(Supply::AmazonOwned.as_str(), "amazon_owned");
    }

    #[test]
    fn serving_rules() {
        assert_eq!(serving([]), Serving::ClientSide);
        assert_eq!(
            serving([("AMAZON", false), ("THIRD_PARTY", true)]),
            Serving::ClientSide
        );
        assert_eq!(
            serving([("AMAZON", false), ("ADVERTISER", false)]),
            Serving::ServerSide
        );
        assert_eq!(serving([("AMC", false)]), Serving::ServerSide);
        assert_eq!(serving([("LOOKALIKE", false)]), Serving::Mixed);
        assert_eq!(
            serving([("AMAZON", false), ("ADVERTISER", true)]),
            Serving::Mixed
        );
        assert_eq!(
            serving([("LOOKALIKE", false), ("AMC", false)]),
            Serving::ServerSide
        );
        assert_eq!(serving([("NEW_KIND", false)]), Serving::Unknown);
        assert_eq!(serving([("", true)]), Serving::Unknown);
        assert_eq!(Serving::ServerSide.as_str(), "server_side");
    }

    #[test]
    fn running_states_and_placement_ids() {
        assert_eq!(is_running("ACTIVE"), Some(true));
        assert_eq!(is_running("INACTIVE"), Some(false));
        assert_eq!(is_running("active"), None);
        assert_eq!(placement_id("583", "g1"), placement_id("583", "g1"));
        assert_ne!(placement_id("583", "g1"), placement_id("584", "g1"));
    }
}
