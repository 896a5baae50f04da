//! Profiles and the advertiser-account lookup.

use amazon_emulator::{DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_PROFILE_ID};
use serde_json::json;

use crate::support::{advertising_headers, start};

#[tokio::test]
async fn profiles_list_the_demo_advertiser() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let mut headers = advertising_headers(&bearer);
    headers.push(("content-type", "application/json"));
    let answer = emu.send("GET", "/v2/profiles", &headers, "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json[0]["profileId"], DEMO_PROFILE_ID);
    assert_eq!(answer.json[0]["accountInfo"]["id"], DEMO_ACCOUNT_ID);
    assert_eq!(answer.json[0]["countryCode"], "US");
    // Region prefixes select one region's host: the NA advertiser is not in the EU.
    assert_eq!(
        emu.send("GET", "/na/v2/profiles", &headers, "")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        emu.send("GET", "/eu/v2/profiles", &headers, "").await.json,
        json!([])
    );
}

#[tokio::test]
async fn profiles_need_client_id_and_json_content_type() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let without_type = emu
        .send("GET", "/v2/profiles", &advertising_headers(&bearer), "")
        .await;
    assert_eq!(without_type.status, 415);
    let answer = emu
        .send(
            "GET",
            "/v2/profiles",
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            "",
        )
        .await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    let wrong_client = emu
        .send(
            "GET",
            "/v2/profiles",
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
                (
                    "amazon-advertising-api-clientid",
                    "amzn1.application-oa2-client.other",
                ),
            ],
            "",
        )
        .await;
    assert_eq!(wrong_client.status, 401);
}

#[tokio::test]
async fn advertiser_accounts_show_the_dsp_advertiser_id() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let headers = [
        ("authorization", bearer.as_str()),
        ("amazon-ads-clientid", DEMO_CLIENT_ID),
    ];
    let body = json!({"isGlobalAccountFilter": {"include": [true]}, "maxResults": 100});
    let answer = emu
        .post_json("/adsApi/v1/query/advertiserAccounts", &headers, &body)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let account = &answer.json["advertiserAccounts"][0];
    assert_eq!(
        account["alternateIds"][0]["dspAdvertiserId"],
        DEMO_ACCOUNT_ID
    );
    assert_eq!(account["alternateIds"][0]["region"], "NA");
    assert_eq!(
        account["alternateIds"][0]["profileId"],
        DEMO_PROFILE_ID.to_string()
    );
    assert_eq!(account["status"]["statusCode"], "APPROVED");
    assert!(answer.json.get("nextToken").is_none());
}

#[tokio::test]
async fn advertiser_accounts_check_the_query() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let headers = [
        ("authorization", bearer.as_str()),
        ("amazon-ads-clientid", DEMO_CLIENT_ID),
    ];
    let too_small = emu
        .post_json(
            "/adsApi/v1/query/advertiserAccounts",
            &headers,
            &json!({"maxResults": 5}),
        )
        .await;
    assert_eq!(too_small.status, 400);
    let unknown = emu
        .post_json(
            "/adsApi/v1/query/advertiserAccounts",
            &headers,
            &json!({"pageSize": 10}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let legacy_header = [
        ("authorization", bearer.as_str()),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
    ];
    let answer = emu
        .post_json(
            "/adsApi/v1/query/advertiserAccounts",
            &legacy_header,
            &json!({}),
        )
        .await;
    assert_eq!(answer.status, 400, "the v1 API needs Amazon-Ads-ClientId");
}
