//! DSP trafficking, read side: the advertiser's campaigns and ad groups, and the targets of
//! an ad group that say where it serves (inventory sources) and to whom (audiences); and
//! the rules that turn them into a placement's `supply` and `serving`, and a campaign's
//! state into "running". Facts: `spec/amazon-api.md` §F3 and §A7.
//!
//! # Shapes (unverified)
//!
//! **The request and answer shapes below come from a third-party copy of Amazon's DSP v1
//! spec and from public client code; they cannot be checked against Amazon here.** They
//! are written down once, here; the emulator (`tests/amazon-emulator/src/trafficking.rs`)
//! keeps its own copy of the enums, and `tests/dsp_cli.rs` asserts that the two agree, so a
//! change on one side is noticed. A mistake shared by both is not caught by any test: check
//! these against Amazon's answers on the first real account.
//!
//! Every call is `POST` with `Amazon-Ads-ClientId`, `Amazon-Ads-AccountId: <advertiser>`
//! and a JSON body; lists take `maxResults` (1–100) and `nextToken`, and answer a
//! `nextToken` while more pages remain.
//!
//! | call | body | answer |
//! |---|---|---|
//! | `/dsp/v1/campaigns/list` | `{campaignIdFilter?[≤100], maxResults, nextToken?}` | `{campaigns[{campaignId, name, state, startDateTime?, endDateTime?}], nextToken?}` |
//! | `/dsp/v1/adGroups/list` | `{campaignIdFilter[1–100], maxResults, nextToken?}` | `{adGroups[{adGroupId, campaignId, name, state, inventoryType, startDateTime?, endDateTime?}], nextToken?}` |
//! | `/dsp/v1/targets/list` | `{adGroupIdFilter[1–100], targetTypeFilter[INVENTORY_SOURCE \| AUDIENCE], maxResults, nextToken?}` | `{targets[{targetId, adGroupId, targetType, targetDetails}], nextToken?}` |
//!
//! `targetDetails` is `{inventorySourceTarget{inventorySourceType, inventorySourceId}}` or
//! `{audienceTarget{audienceId, audienceType, groupId, negative}}`. The enums are
//! [`CAMPAIGN_STATES`], [`AD_GROUP_STATES`], [`INVENTORY_TYPES`],
//! [`INVENTORY_SOURCE_SUPPLY`] and [`AUDIENCE_SERVING`].
//!
//! The write side (third-party creatives, ad experiences, associations, moderation) is in
//! [`creative`], with its own table of unverified shapes; the checks of a tag before it is
//! sent are in [`tag`].

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

/// Inventory source types and who owns them: the one table behind [`supply`].
pub const INVENTORY_SOURCE_SUPPLY: &[(&str, Owner)] = &[
    ("AMAZON", Owner::Amazon),
    ("APD", Owner::Amazon),
    ("THIRD_PARTY_EXCHANGE", Owner::ThirdParty),
    ("DEAL", Owner::ThirdParty),
    ("INVENTORY_GROUP", Owner::ThirdParty),
];

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
    /// Every inventory source is Amazon's (`AMAZON`, `APD`).
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
/// else client side (no audience at all included).
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
    /// `endDateTime`, as Amazon wrote it (empty: open-ended).
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
        /// `audienceType`.
        audience_type: String,
        /// `negative`: an exclusion.
        negative: bool,
    },
    /// Any other target type.
    Other,
}

fn list_request(
    auth: &Auth<'_>,
    path: &str,
    advertiser_id: &str,
    mut body: Value,
    next_token: Option<&str>,
) -> ApiRequest {
    body["maxResults"] = json!(MAX_PAGE);
    if let Some(token) = next_token {
        body["nextToken"] = json!(token);
    }
    advertiser_request(auth, Method::Post, path, advertiser_id, &body)
}

/// A `/dsp/v1` call for an advertiser (`Amazon-Ads-AccountId`) with a JSON body: the
/// shape of every read and write of this module.
fn advertiser_request(
    auth: &Auth<'_>,
    method: Method,
    path: &str,
    advertiser_id: &str,
    body: &Value,
) -> ApiRequest {
    auth.v1_request(method, path)
        .header("amazon-ads-accountid", advertiser_id)
        .header("accept", "application/json")
        .body("application/json", body.to_string())
}

/// One page of `POST /dsp/v1/campaigns/list`: all of the advertiser's campaigns, or those
/// of `campaign_ids` (at most [`MAX_PAGE`]).
pub fn list_campaigns(
    auth: &Auth<'_>,
    advertiser_id: &str,
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
        advertiser_id,
        body,
        next_token,
    )
}

/// One page of `POST /dsp/v1/adGroups/list` for 1 to [`MAX_PAGE`] campaigns.
pub fn list_ad_groups(
    auth: &Auth<'_>,
    advertiser_id: &str,
    campaign_ids: &[&str],
    next_token: Option<&str>,
) -> ApiRequest {
    list_request(
        auth,
        "/dsp/v1/adGroups/list",
        advertiser_id,
        json!({ "campaignIdFilter": campaign_ids }),
        next_token,
    )
}

/// One page of `POST /dsp/v1/targets/list`: targets of one type of 1 to [`MAX_PAGE`] ad
/// groups.
pub fn list_targets(
    auth: &Auth<'_>,
    advertiser_id: &str,
    ad_group_ids: &[&str],
    target_type: TargetType,
    next_token: Option<&str>,
) -> ApiRequest {
    list_request(
        auth,
        "/dsp/v1/targets/list",
        advertiser_id,
        json!({ "adGroupIdFilter": ad_group_ids, "targetTypeFilter": [target_type.as_str()] }),
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

/// Reads a page of campaigns.
pub fn parse_campaigns(body: &str) -> Option<(Vec<Campaign>, Option<String>)> {
    page(body, "campaigns", |c| {
        Some(Campaign {
            campaign_id: id(&c["campaignId"])?,
            name: text(&c["name"]),
            state: text(&c["state"]),
            start: text(&c["startDateTime"]),
            end: text(&c["endDateTime"]),
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
        })
    })
}

/// Reads a page of targets.
pub fn parse_targets(body: &str) -> Option<(Vec<Target>, Option<String>)> {
    page(body, "targets", |t| {
        let ad_group_id = id(&t["adGroupId"])?;
        let details = &t["targetDetails"];
        Some(match t["targetType"].as_str() {
            Some("INVENTORY_SOURCE") => {
                let source = &details["inventorySourceTarget"];
                Target::InventorySource {
                    ad_group_id,
                    source_type: source["inventorySourceType"].as_str()?.to_owned(),
                }
            }
            Some("AUDIENCE") => {
                let audience = &details["audienceTarget"];
                Target::Audience {
                    ad_group_id,
                    audience_id: id(&audience["audienceId"])?,
                    audience_type: text(&audience["audienceType"]),
                    negative: audience["negative"].as_bool().unwrap_or(false),
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

    #[test]
    fn list_requests_carry_the_account_filters_and_paging() {
        let r = list_campaigns(&auth(), "583", &[], None);
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://e/dsp/v1/campaigns/list")
        );
        assert_eq!(r.header_value("Amazon-Ads-AccountId"), Some("583"));
        assert_eq!(r.header_value("amazon-ads-clientid"), Some("cid"));
        assert_eq!(r.body.as_deref(), Some(r#"{"maxResults":100}"#));
        let r = list_campaigns(&auth(), "583", &["c1"], Some("p2"));
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"campaignIdFilter": ["c1"], "maxResults": 100, "nextToken": "p2"})
        );
        let r = list_ad_groups(&auth(), "583", &["c1", "c2"], None);
        assert_eq!(r.url, "http://e/dsp/v1/adGroups/list");
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["campaignIdFilter"], json!(["c1", "c2"]));
        let r = list_targets(&auth(), "583", &["g1"], TargetType::Audience, None);
        assert_eq!(r.url, "http://e/dsp/v1/targets/list");
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"adGroupIdFilter": ["g1"], "targetTypeFilter": ["AUDIENCE"], "maxResults": 100})
        );
    }

    #[test]
    fn answers_are_read_with_their_next_token() {
        let (campaigns, next) = parse_campaigns(
            r#"{"campaigns":[{"campaignId":"c1","name":"Spring","state":"ACTIVE","startDateTime":"2026-09-01T00:00:00Z"},{"campaignId":42}],"nextToken":"2"}"#,
        )
        .unwrap();
        assert_eq!(campaigns[0].state, "ACTIVE");
        assert_eq!(campaigns[1].campaign_id, "42");
        assert_eq!(campaigns[1].end, "");
        assert_eq!(next.as_deref(), Some("2"));
        assert_eq!(parse_campaigns(r#"{"campaigns":[{}]}"#), None);
        assert_eq!(parse_campaigns(r#"{"code":"x"}"#), None);

        let (groups, next) = parse_ad_groups(
            r#"{"adGroups":[{"adGroupId":"g1","campaignId":"c1","name":"Video","state":"ACTIVE","inventoryType":"ONLINE_VIDEO"}]}"#,
        )
        .unwrap();
        assert_eq!(groups[0].inventory_type, "ONLINE_VIDEO");
        assert_eq!(next, None);

        let (targets, _) = parse_targets(
            r#"{"targets":[
                {"targetId":"t1","adGroupId":"g1","targetType":"INVENTORY_SOURCE","targetDetails":{"inventorySourceTarget":{"inventorySourceType":"APD","inventorySourceId":"s"}}},
                {"targetId":"t2","adGroupId":"g1","targetType":"AUDIENCE","targetDetails":{"audienceTarget":{"audienceId":7,"audienceType":"AMC","groupId":"1","negative":true}}},
                {"targetId":"t3","adGroupId":"g1","targetType":"DOMAIN","targetDetails":{}}]}"#,
        )
        .unwrap();
        assert_eq!(
            targets,
            [
                Target::InventorySource {
                    ad_group_id: "g1".into(),
                    source_type: "APD".into()
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
    }

    #[test]
    fn supply_rules() {
        assert_eq!(supply(["AMAZON", "APD"]), Supply::AmazonOwned);
        assert_eq!(
            supply(["THIRD_PARTY_EXCHANGE", "DEAL", "INVENTORY_GROUP"]),
            Supply::ThirdParty
        );
        assert_eq!(supply(["AMAZON", "DEAL"]), Supply::Mixed);
        assert_eq!(supply([]), Supply::Unknown);
        assert_eq!(supply(["AMAZON", "SOMETHING_NEW"]), Supply::Unknown);
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
