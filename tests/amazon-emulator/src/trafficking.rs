//! DSP trafficking, read side (`/dsp/v1`): an advertiser's campaigns, ad groups and the ad
//! groups' inventory-source and audience targets, configured per advertiser (`campaigns` in
//! the config, or `PUT /__emulator/dsp/{accountId}`), and the three list endpoints over them.
//!
//! **The shapes are the samples of Amazon's guide pages** (no OpenAPI file exists for
//! `/dsp/v1`): `docs/guides/dsp/developer-guide.md` (the targets list: `{filters:
//! {targetTypeFilter, adGroupIdFilter}}`, answered `targets[]` with `negative` on the target
//! and `targetType` inside its details, and no audience type; the campaign and ad group
//! create samples give the fields a list answers: a campaign's dates in `flights`, an ad
//! group's `creativeRotationType`) and the migration guide's `inventorySourceType` values.
//! The campaign and ad group list bodies have no sample: `campaignIdFilter` and the paging
//! fields are this project's reading. The audience types of the configuration are the
//! emulator's own classification of its audiences: Amazon's targets answer does not carry
//! them, so neither does this one. This is the emulator's own copy of the enums; the
//! client's is in `src/amazon/dsp.rs`, and `tests/dsp_cli.rs` asserts they agree.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Campaign (and ad group) states. Campaigns and ad groups are created `INACTIVE` (F3).
pub const CAMPAIGN_STATES: &[&str] = &["ACTIVE", "INACTIVE", "PAUSED", "ENDED", "ARCHIVED"];
/// Ad group inventory types since 2025-06-30 (the older `STANDARD_DISPLAY`, `VIDEO`,
/// `AMAZON_MOBILE_DISPLAY`, `AAP_MOBILE_APP` are refused).
pub const INVENTORY_TYPES: &[&str] = &["DISPLAY", "ONLINE_VIDEO", "STREAMING_TV", "AUDIO"];
/// Inventory source types (`adsp-campaign-management.md`, `inventorySourceType`; `APD` is
/// the `/adsApi/v1` spelling and is refused).
pub const INVENTORY_SOURCE_TYPES: &[&str] = &[
    "AMAZON",
    "AMAZON_PUBLISHER_DIRECT",
    "THIRD_PARTY_EXCHANGE",
    "DEAL",
    "INVENTORY_GROUP",
];
/// Audience types of an audience target (emulator choice: Amazon's classification of
/// audiences is not in the doc; these five are the client's table).
pub const AUDIENCE_TYPES: &[&str] = &["AMAZON", "THIRD_PARTY", "ADVERTISER", "AMC", "LOOKALIKE"];
/// Target types the emulator lists (others exist at Amazon: domains, geography …).
pub(crate) const TARGET_TYPES: &[&str] = &["INVENTORY_SOURCE", "AUDIENCE"];
/// Creative rotation types of an ad group (the developer guide's sample has `RANDOM`).
pub const ROTATION_TYPES: &[&str] = &["RANDOM", "WEIGHTED"];
/// Most items per page and ids per filter.
pub const MAX_PAGE: usize = 100;

// The write side, served by `creatives.rs` (`creative-management.md`,
// `creative-associations.md`); the client's copy is in `src/amazon/dsp/creative.rs`.

/// Most associations per write call, and most ids per moderation filter
/// (`creative-associations.md`: "up to 20"; "Each filter supports up to 20 items").
pub const MAX_PER_CALL: usize = 20;
/// Most `creativeSizes` of a creative.
pub const MAX_SIZES: usize = 20;
/// Most `trackingUrls` of a creative (emulator choice, after the unified API's 5).
pub const MAX_TRACKERS: usize = 5;
/// Longest creative `name`, in characters (emulator choice).
pub const MAX_NAME: usize = 255;
/// `thirdPartyTag.tagType`.
pub const TAG_TYPES: &[&str] = &["DISPLAY", "VAST_VPAID"];
/// `adExperiences` of third-party creatives, in the order of [`TAG_TYPES`].
pub const AD_EXPERIENCES: &[&str] = &["THIRD_PARTY_DISPLAY", "THIRD_PARTY_VIDEO"];
/// `thirdPartyTag.destinationOnAmazon` the emulator takes for a third-party tag.
pub const DESTINATIONS: &[&str] = &["OFF_AMAZON"];
/// `trackingUrls[].type`.
pub const TRACKER_TYPES: &[&str] = &["IMPRESSION", "CLICK"];
/// Association `state` ("Accepted values are ACTIVE or INACTIVE"; `ACTIVE` by default).
pub const ASSOCIATION_STATES: &[&str] = &["ACTIVE", "INACTIVE"];
/// `moderationStatus`.
pub const MODERATION_STATES: &[&str] = &[
    "PENDING",
    "APPROVED",
    "APPROVED_WITH_EXCEPTIONS",
    "NOT_APPROVED",
];
/// Campaign states in which Amazon takes associations (campaigns are created `INACTIVE`).
pub const RUNNING_STATES: &[&str] = &["ACTIVE"];
/// Error code of an association that exists already.
pub const ALREADY_ASSOCIATED: &str = "ASSOCIATION_ALREADY_EXISTS";
/// Error code of an association to an ad group whose campaign is not running.
pub const CAMPAIGN_NOT_ACTIVE: &str = "CAMPAIGN_NOT_ACTIVE";

/// A DSP campaign of an advertiser, with its ad groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Campaign {
    /// `campaignId`.
    pub campaign_id: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `state`, one of [`CAMPAIGN_STATES`].
    pub state: String,
    /// `startDateTime` (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    /// `endDateTime` (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    /// The campaign's ad groups.
    #[serde(default)]
    pub ad_groups: Vec<AdGroup>,
}

/// A DSP ad group with what it targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdGroup {
    /// `adGroupId`.
    pub ad_group_id: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `state`, one of [`CAMPAIGN_STATES`].
    pub state: String,
    /// `inventoryType`, one of [`INVENTORY_TYPES`].
    pub inventory_type: String,
    /// `startDateTime`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    /// `endDateTime`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    /// `creativeRotationType` ([`ROTATION_TYPES`]); an association's weight is refused on
    /// `RANDOM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creative_rotation_type: Option<String>,
    /// Inventory source types targeted ([`INVENTORY_SOURCE_TYPES`]); none: Amazon's default
    /// (all eligible sources), listed as no target.
    #[serde(default)]
    pub inventory_sources: Vec<String>,
    /// Audiences targeted.
    #[serde(default)]
    pub audiences: Vec<AudienceTarget>,
}

/// An audience target of an ad group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudienceTarget {
    /// `audienceId`.
    pub audience_id: String,
    /// `audienceType`, one of [`AUDIENCE_TYPES`].
    pub audience_type: String,
    /// An exclusion.
    #[serde(default)]
    pub negative: bool,
}

impl Campaign {
    /// A campaign named after its id, running from 2026-09-01 to the end of 2026.
    pub fn new(id: &str, state: &str, ad_groups: Vec<AdGroup>) -> Campaign {
        Campaign {
            campaign_id: id.to_owned(),
            name: format!("Campaign {id}"),
            state: state.to_owned(),
            start_date_time: Some("2026-09-01T00:00:00Z".to_owned()),
            end_date_time: Some("2026-12-31T23:59:59Z".to_owned()),
            ad_groups,
        }
    }
}

impl AdGroup {
    /// An active ad group named after its id, starting `start`, targeting the inventory
    /// `sources` and the `audiences` (type, exclusion), numbered `{id}-a{i}`.
    pub fn new(
        id: &str,
        inventory_type: &str,
        start: &str,
        sources: &[&str],
        audiences: &[(&str, bool)],
    ) -> AdGroup {
        AdGroup {
            ad_group_id: id.to_owned(),
            name: format!("Group {id}"),
            state: "ACTIVE".to_owned(),
            inventory_type: inventory_type.to_owned(),
            start_date_time: Some(start.to_owned()),
            end_date_time: None,
            creative_rotation_type: Some(ROTATION_TYPES[0].to_owned()),
            inventory_sources: sources.iter().map(|&s| s.to_owned()).collect(),
            audiences: audiences
                .iter()
                .enumerate()
                .map(|(i, &(kind, negative))| AudienceTarget {
                    audience_id: format!("{id}-a{i}"),
                    audience_type: kind.to_owned(),
                    negative,
                })
                .collect(),
        }
    }
}

/// Checks an advertiser's campaigns: enums, ids unique within the advertiser.
pub(crate) fn check_campaigns(campaigns: &[Campaign]) -> Result<(), String> {
    let mut campaign_ids = std::collections::BTreeSet::new();
    let mut ad_group_ids = std::collections::BTreeSet::new();
    let one_of = |what: &str, value: &str, allowed: &[&str]| {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "{what} {value} is not one of {}",
                allowed.join(", ")
            ))
        }
    };
    for campaign in campaigns {
        if campaign.campaign_id.is_empty() || !campaign_ids.insert(&campaign.campaign_id) {
            return Err(format!(
                "campaignId '{}' is empty or repeated",
                campaign.campaign_id
            ));
        }
        one_of("campaign state", &campaign.state, CAMPAIGN_STATES)?;
        for group in &campaign.ad_groups {
            if group.ad_group_id.is_empty() || !ad_group_ids.insert(&group.ad_group_id) {
                return Err(format!(
                    "adGroupId '{}' is empty or repeated",
                    group.ad_group_id
                ));
            }
            one_of("ad group state", &group.state, CAMPAIGN_STATES)?;
            one_of("inventoryType", &group.inventory_type, INVENTORY_TYPES)?;
            if let Some(rotation) = &group.creative_rotation_type {
                one_of("creativeRotationType", rotation, ROTATION_TYPES)?;
            }
            for source in &group.inventory_sources {
                one_of("inventory source", source, INVENTORY_SOURCE_TYPES)?;
            }
            for audience in &group.audiences {
                one_of("audienceType", &audience.audience_type, AUDIENCE_TYPES)?;
            }
        }
    }
    Ok(())
}

/// A list request's body, checked: filters, `maxResults`, `nextToken` (an offset this
/// emulator issued).
#[derive(Debug)]
pub(crate) struct ListBody {
    pub(crate) filter: Option<Vec<String>>,
    pub(crate) target_types: Vec<String>,
    pub(crate) max_results: usize,
    pub(crate) start: usize,
}

/// Checks a list body. `filter_field` is the id filter (`campaignIdFilter` at the top
/// level; for `targets`, `adGroupIdFilter` inside `filters`, with `targetTypeFilter`, as the
/// developer guide's sample has them), required when `filter_required`.
pub(crate) fn check_list_body(
    body: &Map<String, Value>,
    filter_field: &str,
    filter_required: bool,
    targets: bool,
) -> Result<ListBody, String> {
    let empty = Map::new();
    let filters = if targets {
        match body.get("filters") {
            Some(Value::Object(filters)) => {
                if let Some(key) = filters
                    .keys()
                    .find(|k| !["targetTypeFilter", "adGroupIdFilter"].contains(&k.as_str()))
                {
                    return Err(format!(
                        "Unknown field 'filters.{key}' in the request body."
                    ));
                }
                filters
            }
            _ => return Err("filters is required and must be an object.".to_owned()),
        }
    } else {
        &empty
    };
    let source = if targets { filters } else { body };
    let ids = |field: &str, allowed: Option<&[&str]>| -> Result<Option<Vec<String>>, String> {
        let Some(value) = source.get(field) else {
            return Ok(None);
        };
        let list = value
            .as_array()
            .filter(|items| (1..=MAX_PAGE).contains(&items.len()))
            .ok_or_else(|| format!("{field} must hold 1 to {MAX_PAGE} strings."))?;
        let mut out = Vec::new();
        for item in list {
            let Some(text) = item.as_str().filter(|s| !s.is_empty()) else {
                return Err(format!("{field} must hold 1 to {MAX_PAGE} strings."));
            };
            if let Some(allowed) = allowed
                && !allowed.contains(&text)
            {
                return Err(format!(
                    "{field}: {text} is not one of {}.",
                    allowed.join(", ")
                ));
            }
            out.push(text.to_owned());
        }
        Ok(Some(out))
    };
    let filter = ids(filter_field, None)?;
    if filter_required && filter.is_none() {
        return Err(format!("{filter_field} is required."));
    }
    let target_types = if targets {
        ids("targetTypeFilter", Some(TARGET_TYPES))?
            .ok_or_else(|| "targetTypeFilter is required.".to_owned())?
    } else {
        Vec::new()
    };
    let max_results = match body.get("maxResults") {
        None => MAX_PAGE,
        Some(value) => match value.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => return Err("maxResults must be an integer between 1 and 100.".to_owned()),
        },
    };
    let start = match body.get("nextToken") {
        None | Some(Value::Null) => 0,
        Some(token) => token
            .as_str()
            .and_then(|t| t.strip_prefix("dsp-"))
            .and_then(|t| t.parse::<usize>().ok())
            .ok_or_else(|| "nextToken is not a token this API issued.".to_owned())?,
    };
    Ok(ListBody {
        filter,
        target_types,
        max_results,
        start,
    })
}

/// One page of `items` under `field`, with `nextToken` while more remain.
pub(crate) fn page(field: &str, items: Vec<Value>, list: &ListBody) -> Value {
    let end = list.start.saturating_add(list.max_results);
    let slice: Vec<Value> = items
        .iter()
        .skip(list.start)
        .take(list.max_results)
        .cloned()
        .collect();
    let mut answer = json!({ field: slice });
    if end < items.len() {
        answer["nextToken"] = json!(format!("dsp-{end}"));
    }
    answer
}

/// A campaign as `/dsp/v1/campaigns/list` shows it: its dates in one flight (the create
/// sample's `flights.flights[]`).
pub(crate) fn campaign_json(campaign: &Campaign) -> Value {
    let mut v = json!({
        "campaignId": campaign.campaign_id,
        "name": campaign.name,
        "state": campaign.state,
    });
    let mut flight = json!({});
    if let Some(start) = &campaign.start_date_time {
        flight["startDateTime"] = json!(start);
    }
    if let Some(end) = &campaign.end_date_time {
        flight["endDateTime"] = json!(end);
    }
    if flight.as_object().is_some_and(|f| !f.is_empty()) {
        v["flights"] = json!({ "flights": [flight] });
    }
    v
}

/// An ad group as `/dsp/v1/adGroups/list` shows it.
pub(crate) fn ad_group_json(campaign_id: &str, group: &AdGroup) -> Value {
    let mut v = json!({
        "adGroupId": group.ad_group_id,
        "campaignId": campaign_id,
        "name": group.name,
        "state": group.state,
        "inventoryType": group.inventory_type,
    });
    if let Some(rotation) = &group.creative_rotation_type {
        v["creativeRotationType"] = json!(rotation);
    }
    if let Some(start) = &group.start_date_time {
        v["startDateTime"] = json!(start);
    }
    if let Some(end) = &group.end_date_time {
        v["endDateTime"] = json!(end);
    }
    v
}

/// The targets of an ad group of the given types, as `/dsp/v1/targets/list` shows them.
pub(crate) fn targets_json(group: &AdGroup, types: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    if types.iter().any(|t| t == "INVENTORY_SOURCE") {
        for (i, source) in group.inventory_sources.iter().enumerate() {
            // No sample shows an inventory source target: the audience sample's envelope,
            // with the details' fields this project reads.
            out.push(json!({
                "adGroupId": group.ad_group_id,
                "adProduct": "AMAZON_DSP",
                "negative": false,
                "state": "ENABLED",
                "targetDetails": {"inventorySourceTarget": {
                    "inventorySourceId": format!("{}-{i}", source.to_ascii_lowercase()),
                    "inventorySourceType": source,
                    "targetType": "INVENTORY_SOURCE",
                }}
            }));
        }
    }
    if types.iter().any(|t| t == "AUDIENCE") {
        for audience in &group.audiences {
            // The developer guide's answer: inclusions in group "1" (ANY), the exclusion
            // group "11" (ALL); no audience type.
            let (group_id, in_group) = if audience.negative {
                ("11", "ALL")
            } else {
                ("1", "ANY")
            };
            out.push(json!({
                "adGroupId": group.ad_group_id,
                "adProduct": "AMAZON_DSP",
                "negative": audience.negative,
                "state": "ENABLED",
                "targetDetails": {"audienceTarget": {
                    "acrossGroupOperator": "ALL",
                    "audienceId": audience.audience_id,
                    "groupId": group_id,
                    "inGroupOperator": in_group,
                    "targetType": "AUDIENCE",
                }}
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn list_bodies_are_checked() {
        let ok = check_list_body(
            &body(json!({"campaignIdFilter": ["c1"], "maxResults": 2, "nextToken": "dsp-2"})),
            "campaignIdFilter",
            true,
            false,
        )
        .unwrap();
        assert_eq!((ok.max_results, ok.start), (2, 2));
        for bad in [
            json!({}),
            json!({"campaignIdFilter": []}),
            json!({"campaignIdFilter": [1]}),
            json!({"campaignIdFilter": ["c"], "maxResults": 101}),
            json!({"campaignIdFilter": ["c"], "nextToken": "7"}),
        ] {
            assert!(
                check_list_body(&body(bad.clone()), "campaignIdFilter", true, false).is_err(),
                "{bad}"
            );
        }
        // The developer guide's sample is taken; the old top-level filters are not.
        let sample = json!({"filters": {"targetTypeFilter": ["AUDIENCE"], "adGroupIdFilter": ["579602514554384269"]}});
        let taken = check_list_body(&body(sample), "adGroupIdFilter", true, true).unwrap();
        assert_eq!(taken.target_types, ["AUDIENCE"]);
        for bad in [
            json!({"adGroupIdFilter": ["g"], "targetTypeFilter": ["AUDIENCE"]}),
            json!({"filters": {"adGroupIdFilter": ["g"], "targetTypeFilter": ["DOMAIN"]}}),
            json!({"filters": {"adGroupIdFilter": ["g"]}}),
            json!({"filters": {"adGroupIdFilter": ["g"], "targetTypeFilter": ["AUDIENCE"], "x": 1}}),
        ] {
            assert!(
                check_list_body(&body(bad.clone()), "adGroupIdFilter", true, true).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn campaigns_are_checked() {
        let group = |id: &str| AdGroup {
            ad_group_id: id.into(),
            name: String::new(),
            state: "ACTIVE".into(),
            inventory_type: "DISPLAY".into(),
            start_date_time: None,
            end_date_time: None,
            creative_rotation_type: None,
            inventory_sources: vec!["AMAZON_PUBLISHER_DIRECT".into()],
            audiences: vec![],
        };
        let campaign = Campaign {
            campaign_id: "c1".into(),
            name: String::new(),
            state: "INACTIVE".into(),
            start_date_time: None,
            end_date_time: None,
            ad_groups: vec![group("g1")],
        };
        assert!(check_campaigns(std::slice::from_ref(&campaign)).is_ok());
        let mut twice = campaign.clone();
        twice.ad_groups.push(group("g1"));
        assert!(check_campaigns(&[twice]).is_err());
        let mut old = campaign.clone();
        old.ad_groups[0].inventory_type = "STANDARD_DISPLAY".into();
        assert!(check_campaigns(&[old]).is_err());
        let mut apd = campaign.clone();
        apd.ad_groups[0].inventory_sources = vec!["APD".into()];
        assert!(check_campaigns(&[apd]).is_err());
        let mut state = campaign;
        state.state = "RUNNING".into();
        assert!(check_campaigns(&[state]).is_err());
    }
}
