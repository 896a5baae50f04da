//! DSP trafficking writes over HTTP: third-party creatives, ad experiences, associations
//! (20 per call, campaign state), moderation moved by the control, paging.

use amazon_emulator::{AdGroup, Campaign, Config, DEMO_ACCOUNT_ID};
use serde_json::{Value, json};

use crate::support::{Answer, Emu, ads_headers, config, start_with};

fn with_campaigns() -> Config {
    let mut config = config();
    let group =
        |id: &str, kind: &str| AdGroup::new(id, kind, "2026-09-01T00:00:00Z", &["AMAZON"], &[]);
    config.advertisers[0].campaigns = vec![
        Campaign::new(
            "c1",
            "ACTIVE",
            vec![group("g1", "DISPLAY"), group("g2", "ONLINE_VIDEO")],
        ),
        Campaign::new("c2", "INACTIVE", vec![group("g3", "DISPLAY")]),
        Campaign::new("c3", "ACTIVE", vec![group("g4", "AUDIO")]),
    ];
    config
}

async fn call(emu: &Emu, method: &str, path: &str, body: Value) -> Answer {
    let bearer = format!("Bearer {}", emu.access_token().await);
    let mut headers = ads_headers(&bearer);
    headers.push(("content-type", "application/json"));
    emu.send(method, path, &headers, body.to_string()).await
}

fn display(name: &str) -> Value {
    json!({
        "name": name,
        "language": "en_US",
        "country": "US",
        "adCreativeFormatProperties": {
            "adCreativeFormatType": "THIRD_PARTY",
            "creativeSizes": [{"width": 300, "height": 250}],
            "thirdPartyTag": {
                "tagSource": "<script src=\"https://ads.example/t.js?cb=${CACHEBUSTER}\"></script>",
                "tagType": "DISPLAY",
                "destinationOnAmazon": "OFF_AMAZON"
            }
        }
    })
}

fn video(name: &str) -> Value {
    json!({
        "name": name,
        "language": "en_US",
        "country": "US",
        "adCreativeFormatProperties": {
            "adCreativeFormatType": "THIRD_PARTY",
            "thirdPartyTag": {
                "tagSource": "https://ads.example/vast.xml?cb=${CACHEBUSTER}",
                "tagType": "VAST_VPAID",
                "destinationOnAmazon": "OFF_AMAZON"
            }
        }
    })
}

async fn create(emu: &Emu, items: Vec<Value>) -> Answer {
    call(
        emu,
        "POST",
        "/dsp/v1/adCreatives",
        json!({ "adCreatives": items }),
    )
    .await
}

async fn experience(emu: &Emu, id: &str, kind: &str) -> Answer {
    call(
        emu,
        "PUT",
        "/dsp/v1/adExperiences",
        json!({ "adCreativeId": id, "adExperiences": [kind] }),
    )
    .await
}

async fn associate(emu: &Emu, pairs: &[(&str, &str)]) -> Answer {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(g, c)| json!({"adGroupId": g, "adCreativeId": c, "weight": 100, "state": "ENABLED"}))
        .collect();
    call(
        emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        json!({ "adCreativeAssociations": items }),
    )
    .await
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.json["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["adCreativeId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn creatives_are_created_checked_and_updated() {
    let emu = start_with(with_campaigns()).await;
    let mut bad = display("insecure");
    bad["adCreativeFormatProperties"]["thirdPartyTag"]["tagSource"] =
        json!("<img src=\"http://ads.example/i.gif\">");
    let answer = create(&emu, vec![display("d"), bad, video("v")]).await;
    assert_eq!(answer.status, 207, "{:?}", answer.json);
    assert_eq!(answer.json["success"].as_array().unwrap().len(), 2);
    assert_eq!(answer.json["error"][0]["index"], 1);
    assert_eq!(answer.json["error"][0]["code"], "BAD_REQUEST");
    assert!(
        answer.json["error"][0]["description"]
            .as_str()
            .unwrap()
            .contains("adCreatives[1].adCreativeFormatProperties.thirdPartyTag.tagSource")
    );
    let too_many: Vec<Value> = (0..21).map(|i| display(&format!("d{i}"))).collect();
    assert_eq!(create(&emu, too_many).await.status, 400);

    let id = ids(&answer)[0].clone();
    let mut changed = display("d2");
    changed["adCreativeId"] = json!(id);
    changed.as_object_mut().unwrap().remove("language");
    changed.as_object_mut().unwrap().remove("country");
    let update = call(
        &emu,
        "PATCH",
        "/dsp/v1/adCreatives",
        json!({"adCreatives": [changed, {"adCreativeId": "nope", "name": "x"}]}),
    )
    .await;
    assert_eq!(update.status, 207, "{:?}", update.json);
    assert_eq!(update.json["error"][0]["code"], "NOT_FOUND");
    let state = emu
        .send(
            "GET",
            &format!("/__emulator/dsp/{DEMO_ACCOUNT_ID}/creatives"),
            &[],
            "",
        )
        .await;
    let stored = &state.json["creatives"];
    assert_eq!(stored.as_array().unwrap().len(), 2);
    assert_eq!(stored[0]["name"], "d2");
    assert_eq!(stored[0]["version"], 2);
    assert!(
        stored[0]["tagSource"]
            .as_str()
            .unwrap()
            .contains("${CACHEBUSTER}")
    );
}

#[tokio::test]
async fn ad_experiences_are_set_once_and_must_match_the_tag() {
    let emu = start_with(with_campaigns()).await;
    let created = create(&emu, vec![display("d"), video("v")]).await;
    let ids = ids(&created);
    assert_eq!(
        experience(&emu, &ids[0], "THIRD_PARTY_VIDEO").await.status,
        400
    );
    assert_eq!(
        experience(&emu, &ids[0], "THIRD_PARTY_DISPLAY")
            .await
            .status,
        200
    );
    assert_eq!(
        experience(&emu, &ids[0], "THIRD_PARTY_DISPLAY")
            .await
            .status,
        200,
        "the same value again is taken"
    );
    assert_eq!(
        experience(&emu, &ids[1], "THIRD_PARTY_AUDIO").await.status,
        400
    );
    assert_eq!(
        experience(&emu, "404", "THIRD_PARTY_VIDEO").await.status,
        404
    );
    // The tag type cannot change once the experience is set.
    let mut to_video = video("d");
    to_video["adCreativeId"] = json!(ids[0]);
    for field in ["language", "country"] {
        to_video.as_object_mut().unwrap().remove(field);
    }
    let answer = call(
        &emu,
        "PATCH",
        "/dsp/v1/adCreatives",
        json!({"adCreatives": [to_video]}),
    )
    .await;
    assert_eq!(answer.json["error"][0]["index"], 0, "{:?}", answer.json);
}

#[tokio::test]
async fn associations_are_batched_checked_and_start_moderation() {
    let emu = start_with(with_campaigns()).await;
    let created = create(
        &emu,
        vec![display("d"), video("v"), display("no experience")],
    )
    .await;
    let ids = ids(&created);
    experience(&emu, &ids[0], "THIRD_PARTY_DISPLAY").await;
    experience(&emu, &ids[1], "THIRD_PARTY_VIDEO").await;
    let answer = associate(
        &emu,
        &[
            ("g1", &ids[0]),
            ("g2", &ids[1]),
            ("g3", &ids[0]),
            ("g2", &ids[0]),
            ("g1", &ids[2]),
            ("g9", &ids[0]),
            ("g4", &ids[1]),
            ("g1", &ids[0]),
        ],
    )
    .await;
    assert_eq!(answer.status, 207, "{:?}", answer.json);
    let success: Vec<u64> = answer.json["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(success, [0, 1]);
    let codes: Vec<(u64, &str)> = answer.json["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (2, "CAMPAIGN_NOT_ACTIVE"),
            (3, "FIELD_VALUE_IS_INVALID"),
            (4, "FIELD_VALUE_IS_INVALID"),
            (5, "NOT_FOUND"),
            (6, "FIELD_VALUE_IS_INVALID"),
            (7, "ASSOCIATION_ALREADY_EXISTS"),
        ]
    );
    assert!(
        answer.json["error"][0]["description"]
            .as_str()
            .unwrap()
            .contains("campaign c2 is INACTIVE")
    );
    let pairs: Vec<(&str, &str)> = (0..21).map(|_| ("g1", ids[0].as_str())).collect();
    assert_eq!(associate(&emu, &pairs).await.status, 400, "21 in one call");

    // Moderation: PENDING after the first association; 404 before.
    let moderation = |id: String| {
        let emu = emu.clone();
        async move {
            call(
                &emu,
                "GET",
                &format!("/dsp/v1/adCreatives/{id}/moderations"),
                Value::Null,
            )
            .await
        }
    };
    let first = moderation(ids[0].clone()).await;
    assert_eq!(
        first.json["moderationStatus"], "PENDING",
        "{:?}",
        first.json
    );
    assert_eq!(moderation(ids[2].clone()).await.status, 404);
}

#[tokio::test]
async fn the_control_moves_moderation_and_the_list_pages() {
    let emu = start_with(with_campaigns()).await;
    let created = create(&emu, vec![display("a"), display("b"), display("c")]).await;
    let ids = ids(&created);
    for id in &ids {
        experience(&emu, id, "THIRD_PARTY_DISPLAY").await;
    }
    let pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("g1", id.as_str())).collect();
    associate(&emu, &pairs).await;
    let control = format!("/__emulator/dsp/{DEMO_ACCOUNT_ID}/moderation");
    let moved = emu
        .post_json(
            &control,
            &[],
            &json!({"adCreativeIds": [ids[1]], "status": "NOT_APPROVED", "reasons": ["landing page unreachable"]}),
        )
        .await;
    assert_eq!(moved.json["moved"], 1, "{:?}", moved.json);
    let moved = emu
        .post_json(
            &control,
            &[],
            &json!({"adCreativeIds": [ids[0]], "status": "APPROVED"}),
        )
        .await;
    assert_eq!(moved.status, 200);
    let bad = emu
        .post_json(&control, &[], &json!({"status": "REJECTED"}))
        .await;
    assert_eq!(bad.status, 400);

    let list = |next: Option<String>| {
        let emu = emu.clone();
        let ids = ids.clone();
        async move {
            let mut body = json!({"adCreativeIdFilter": ids, "maxResults": 2});
            if let Some(next) = next {
                body["nextToken"] = json!(next);
            }
            call(
                &emu,
                "POST",
                "/dsp/v1/adCreatives/associations/adGroups/moderations/list",
                body,
            )
            .await
        }
    };
    let first = list(None).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(first.json["moderations"][0]["moderationStatus"], "APPROVED");
    assert_eq!(
        first.json["moderations"][1]["moderationStatus"],
        "NOT_APPROVED"
    );
    assert_eq!(
        first.json["moderations"][1]["reasons"][0],
        "landing page unreachable"
    );
    let next = first.json["nextToken"].as_str().unwrap().to_owned();
    let second = list(Some(next)).await;
    assert_eq!(second.json["moderations"][0]["moderationStatus"], "PENDING");
    assert!(second.json.get("nextToken").is_none());

    // A changed tag goes back to moderation.
    let mut changed = display("a");
    changed["adCreativeId"] = json!(ids[0]);
    changed["adCreativeFormatProperties"]["thirdPartyTag"]["tagSource"] =
        json!("<script src=\"https://ads.example/t2.js\"></script>");
    for field in ["language", "country"] {
        changed.as_object_mut().unwrap().remove(field);
    }
    call(
        &emu,
        "PATCH",
        "/dsp/v1/adCreatives",
        json!({"adCreatives": [changed]}),
    )
    .await;
    let again = list(None).await;
    assert_eq!(again.json["moderations"][0]["moderationStatus"], "PENDING");
    let requests = emu.requests().await;
    assert!(requests.iter().any(|r| r["endpoint"] == "dspModerations"));
}
