//! DSP trafficking reads (`/dsp/v1/campaigns/list`, `…/adGroups/list`, `…/targets/list`)
//! over HTTP, with campaigns set through the config and the control; the targets list in
//! the shape of `developer-guide.md`'s sample.

use amazon_emulator::{
    AdGroup, Campaign, Config, DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_PROFILE_ID,
};
use serde_json::{Value, json};

use crate::support::{Emu, config, start_with};

/// The three headers of Amazon's `/dsp/v1` migration notes.
fn dsp_headers<'a>(bearer: &'a str, profile: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("authorization", bearer),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
        ("amazon-ads-accountid", DEMO_ACCOUNT_ID),
        ("amazon-advertising-api-scope", profile),
    ]
}

fn group(id: &str, sources: &[&str], audiences: &[(&str, bool)]) -> AdGroup {
    AdGroup::new(id, "DISPLAY", "2026-09-01T00:00:00Z", sources, audiences)
}

fn campaign(id: &str, state: &str, groups: Vec<AdGroup>) -> Campaign {
    Campaign::new(id, state, groups)
}

fn with_campaigns() -> Config {
    let mut config = config();
    config.advertisers[0].campaigns = vec![
        campaign(
            "c1",
            "ACTIVE",
            vec![
                group(
                    "g1",
                    &["AMAZON", "AMAZON_PUBLISHER_DIRECT"],
                    &[("AMAZON", false)],
                ),
                group("g2", &["DEAL"], &[("ADVERTISER", false), ("AMC", true)]),
            ],
        ),
        campaign("c2", "INACTIVE", vec![group("g3", &[], &[])]),
    ];
    config
}

async fn list(emu: &Emu, what: &str, body: Value) -> crate::support::Answer {
    let bearer = format!("Bearer {}", emu.access_token().await);
    let profile = DEMO_PROFILE_ID.to_string();
    emu.post_json(
        &format!("/dsp/v1/{what}/list"),
        &dsp_headers(&bearer, &profile),
        &body,
    )
    .await
}

#[tokio::test]
async fn campaigns_page_with_a_next_token() {
    let emu = start_with(with_campaigns()).await;
    let first = list(&emu, "campaigns", json!({"maxResults": 1})).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(first.json["campaigns"][0]["campaignId"], "c1");
    assert_eq!(first.json["campaigns"][0]["state"], "ACTIVE");
    assert_eq!(
        first.json["campaigns"][0]["flights"]["flights"][0]["endDateTime"],
        "2026-12-31T23:59:59Z"
    );
    let token = first.json["nextToken"].as_str().unwrap().to_owned();
    let second = list(
        &emu,
        "campaigns",
        json!({"maxResults": 1, "nextToken": token}),
    )
    .await;
    assert_eq!(second.json["campaigns"][0]["campaignId"], "c2");
    assert_eq!(second.json["campaigns"][0]["state"], "INACTIVE");
    assert!(second.json.get("nextToken").is_none());
    let filtered = list(
        &emu,
        "campaigns",
        json!({"campaignIdFilter": ["c2", "nope"]}),
    )
    .await;
    assert_eq!(filtered.json["campaigns"].as_array().unwrap().len(), 1);
    assert_eq!(emu.requests().await[1]["endpoint"], "dspCampaigns");
}

#[tokio::test]
async fn ad_groups_and_targets_of_campaigns() {
    let emu = start_with(with_campaigns()).await;
    let groups = list(&emu, "adGroups", json!({"campaignIdFilter": ["c1"]})).await;
    assert_eq!(groups.status, 200, "{:?}", groups.json);
    let ids: Vec<&str> = groups.json["adGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["adGroupId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["g1", "g2"]);
    assert_eq!(groups.json["adGroups"][0]["campaignId"], "c1");
    assert_eq!(groups.json["adGroups"][0]["inventoryType"], "DISPLAY");
    assert_eq!(groups.json["adGroups"][0]["creativeRotationType"], "RANDOM");

    let sources = list(
        &emu,
        "targets",
        json!({"filters": {"adGroupIdFilter": ["g1", "g2", "g3"], "targetTypeFilter": ["INVENTORY_SOURCE"]}}),
    )
    .await;
    let targets = sources.json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    assert_eq!(
        targets[1]["targetDetails"]["inventorySourceTarget"]["inventorySourceType"],
        "AMAZON_PUBLISHER_DIRECT"
    );
    assert_eq!(
        targets[2]["targetDetails"]["inventorySourceTarget"]["inventorySourceType"],
        "DEAL"
    );
    let audiences = list(
        &emu,
        "targets",
        json!({"filters": {"targetTypeFilter": ["AUDIENCE"], "adGroupIdFilter": ["g2"]}}),
    )
    .await;
    // The developer guide's answer: `negative` on the target, `targetType` inside the
    // details, no audience type.
    let targets = audiences.json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["negative"], false);
    assert_eq!(targets[1]["negative"], true);
    assert_eq!(targets[1]["adProduct"], "AMAZON_DSP");
    let details = &targets[1]["targetDetails"]["audienceTarget"];
    assert_eq!(details["targetType"], "AUDIENCE");
    assert_eq!(details["inGroupOperator"], "ALL");
    assert!(details.get("audienceType").is_none() && targets[1].get("targetType").is_none());
}

#[tokio::test]
async fn lists_are_strict() {
    let emu = start_with(with_campaigns()).await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let profile = DEMO_PROFILE_ID.to_string();
    // Each of the three headers missing; the v1 client header instead of the older one.
    for missing in 1..4 {
        let mut headers = dsp_headers(&bearer, &profile);
        headers.remove(missing);
        let answer = emu
            .post_json("/dsp/v1/campaigns/list", &headers, &json!({}))
            .await;
        assert_eq!(
            answer.status,
            400,
            "without {}",
            dsp_headers(&bearer, &profile)[missing].0
        );
    }
    let mut v1 = dsp_headers(&bearer, &profile);
    v1[1] = ("amazon-ads-clientid", DEMO_CLIENT_ID);
    let answer = emu
        .post_json("/dsp/v1/campaigns/list", &v1, &json!({}))
        .await;
    assert_eq!(answer.status, 400);
    // A profile that is not the advertiser's; an advertiser the grant does not reach.
    let mut other = dsp_headers(&bearer, "1");
    let answer = emu
        .post_json("/dsp/v1/campaigns/list", &other, &json!({}))
        .await;
    assert_eq!(answer.status, 403);
    other = dsp_headers(&bearer, &profile);
    other[2] = ("amazon-ads-accountid", "583999");
    let answer = emu
        .post_json("/dsp/v1/campaigns/list", &other, &json!({}))
        .await;
    assert_eq!(answer.status, 403);
    for (what, body) in [
        ("campaigns", json!({"maxResults": 101})),
        ("campaigns", json!({"nextToken": "12"})),
        ("campaigns", json!({"advertiserId": DEMO_ACCOUNT_ID})),
        ("adGroups", json!({})),
        ("adGroups", json!({"campaignIdFilter": []})),
        ("targets", json!({"filters": {"adGroupIdFilter": ["g1"]}})),
        (
            "targets",
            json!({"filters": {"adGroupIdFilter": ["g1"], "targetTypeFilter": ["DOMAIN"]}}),
        ),
        // The old top-level filters.
        (
            "targets",
            json!({"adGroupIdFilter": ["g1"], "targetTypeFilter": ["AUDIENCE"]}),
        ),
    ] {
        let answer = list(&emu, what, body.clone()).await;
        assert_eq!(answer.status, 400, "{what} {body}");
        assert_eq!(answer.json["code"], "BAD_REQUEST");
    }
    let answer = emu
        .send(
            "POST",
            "/dsp/v1/campaigns/list",
            &dsp_headers(&bearer, &profile),
            "{}",
        )
        .await;
    assert_eq!(answer.status, 415, "JSON only");
}

#[tokio::test]
async fn the_control_replaces_campaigns_until_reset() {
    let emu = start_with(with_campaigns()).await;
    let path = format!("/__emulator/dsp/{DEMO_ACCOUNT_ID}");
    let body = json!({"campaigns": [{"campaignId": "c9", "state": "PAUSED", "adGroups": [
        {"adGroupId": "g9", "state": "ACTIVE", "inventoryType": "STREAMING_TV",
         "inventorySources": ["THIRD_PARTY_EXCHANGE"], "audiences": [{"audienceId": "1", "audienceType": "AMC"}]}
    ]}]});
    let answer = emu.send("PUT", &path, &[], body.to_string()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let campaigns = list(&emu, "campaigns", json!({})).await;
    assert_eq!(
        campaigns.json["campaigns"],
        json!([{"campaignId": "c9", "name": "", "state": "PAUSED"}])
    );
    let shown = emu.send("GET", &path, &[], "").await;
    assert_eq!(shown.json["campaigns"][0]["adGroups"][0]["adGroupId"], "g9");

    for bad in [
        json!({"campaigns": [{"campaignId": "c", "state": "RUNNING"}]}),
        json!({"campaigns": [{"campaignId": "c", "state": "ACTIVE", "adGroups": [
            {"adGroupId": "g", "state": "ACTIVE", "inventoryType": "STANDARD_DISPLAY"}]}]}),
        json!({"campaigns": [{"campaignId": "c", "state": "ACTIVE", "adGroups": [
            {"adGroupId": "g", "state": "ACTIVE", "inventoryType": "DISPLAY", "inventorySources": ["OPEN_WEB"]}]}]}),
    ] {
        let answer = emu.send("PUT", &path, &[], bad.to_string()).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
    let answer = emu
        .send(
            "PUT",
            "/__emulator/dsp/nobody",
            &[],
            json!({"campaigns": []}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 404);

    emu.send("POST", "/__emulator/reset", &[], "").await;
    let campaigns = list(&emu, "campaigns", json!({})).await;
    assert_eq!(campaigns.json["campaigns"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_config_with_a_bad_campaign_is_refused() {
    let mut config = with_campaigns();
    config.advertisers[0].campaigns[0].ad_groups[0].inventory_type = "VIDEO".to_owned();
    assert!(amazon_emulator::Emulator::new(config).is_err());
}
