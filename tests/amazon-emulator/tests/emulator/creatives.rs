//! DSP trafficking writes over HTTP, in the shapes of Amazon's guide samples
//! (`creative-management.md`, `creative-associations.md`): one creative per create, `PATCH`
//! per creative, ad experiences as objects, `associations` (20 per call, campaign state,
//! no weight on random rotation), moderation moved by the control, paging; the
//! `/adsApi/v1` forms refused.

use amazon_emulator::{
    AdGroup, Campaign, Config, DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_PROFILE_ID,
};
use serde_json::{Value, json};

use crate::support::{Answer, Emu, config, start_with};

fn with_campaigns() -> Config {
    let mut config = config();
    let group =
        |id: &str, kind: &str| AdGroup::new(id, kind, "2026-09-01T00:00:00Z", &["AMAZON"], &[]);
    let mut weighted = group("g5", "DISPLAY");
    weighted.creative_rotation_type = Some("WEIGHTED".to_owned());
    config.advertisers[0].campaigns = vec![
        Campaign::new(
            "c1",
            "ACTIVE",
            vec![
                group("g1", "DISPLAY"),
                group("g2", "ONLINE_VIDEO"),
                weighted,
            ],
        ),
        Campaign::new("c2", "INACTIVE", vec![group("g3", "DISPLAY")]),
        Campaign::new("c3", "ACTIVE", vec![group("g4", "AUDIO")]),
    ];
    config
}

/// A `/dsp/v1` call with the three headers of Amazon's migration notes.
async fn call_with(emu: &Emu, method: &str, path: &str, body: Value, scope: bool) -> Answer {
    let bearer = format!("Bearer {}", emu.access_token().await);
    let profile = DEMO_PROFILE_ID.to_string();
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
        ("amazon-ads-accountid", DEMO_ACCOUNT_ID),
        ("content-type", "application/json"),
    ];
    if scope {
        headers.push(("amazon-advertising-api-scope", profile.as_str()));
    }
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    emu.send(method, path, &headers, body).await
}

async fn call(emu: &Emu, method: &str, path: &str, body: Value) -> Answer {
    call_with(emu, method, path, body, true).await
}

/// `creative-management.md`, "Third party display".
fn display(name: &str) -> Value {
    json!({
        "name": name,
        "language": "en",
        "country": "US",
        "adCreativeFormatProperties": {
            "adCreativeFormatType": "THIRD_PARTY",
            "creativeSizes": [{"width": 300, "height": 250, "responsive": false}],
            "thirdPartyTag": {
                "tagSource": "<script src=\"https://ads.example/t.js?cb=${CACHEBUSTER}\"></script>",
                "tagType": "DISPLAY",
                "destinationOnAmazon": "OFF_AMAZON"
            }
        }
    })
}

/// `creative-management.md`, "Third party video".
fn video(name: &str) -> Value {
    json!({
        "name": name,
        "language": "en",
        "country": "US",
        "adCreativeFormatProperties": {
            "adCreativeFormatType": "THIRD_PARTY",
            "thirdPartyTag": {
                "tagSource": "https://ads.example/vast.xml?cb=${CACHEBUSTER}",
                "tagType": "VAST_VPAID",
                "destinationOnAmazon": "OFF_AMAZON"
            },
            "trackingUrls": [{"type": "IMPRESSION", "url": "https://www.amazon.com/?test", "associatedAdExperience": "THIRD_PARTY_VIDEO"}]
        }
    })
}

async fn create(emu: &Emu, creative: Value) -> Answer {
    call(emu, "POST", "/dsp/v1/adCreatives", creative).await
}

/// Creates each creative, one call each, and answers their ids.
async fn create_all(emu: &Emu, creatives: Vec<Value>) -> Vec<String> {
    let mut ids = Vec::new();
    for creative in creatives {
        let answer = create(emu, creative).await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        ids.push(answer.json["adCreativeId"].as_str().unwrap().to_owned());
    }
    ids
}

async fn experience(emu: &Emu, id: &str, kind: &str) -> Answer {
    call(
        emu,
        "PUT",
        "/dsp/v1/adExperiences",
        json!({ "adCreativeId": id, "adExperiences": [{"adExperience": kind}] }),
    )
    .await
}

async fn associate(emu: &Emu, pairs: &[(&str, &str)]) -> Answer {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(g, c)| json!({"adGroupId": g, "adCreativeId": c, "state": "ACTIVE"}))
        .collect();
    call(
        emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        json!({ "associations": items }),
    )
    .await
}

#[tokio::test]
async fn creatives_are_created_one_per_call_checked_and_patched() {
    let emu = start_with(with_campaigns()).await;
    let created = create(&emu, display("d")).await;
    assert_eq!(created.status, 200, "{:?}", created.json);
    let id = created.json["adCreativeId"].as_str().unwrap().to_owned();
    assert_eq!(
        created.json.as_object().unwrap().len(),
        1,
        "{:?}",
        created.json
    );

    let mut bad = display("insecure");
    bad["adCreativeFormatProperties"]["thirdPartyTag"]["tagSource"] =
        json!("<img src=\"http://ads.example/i.gif\">");
    let refused = create(&emu, bad).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json["message"]
            .as_str()
            .unwrap()
            .contains("adCreativeFormatProperties.thirdPartyTag.tagSource"),
        "{:?}",
        refused.json
    );
    // The `/adsApi/v1` forms: a wrapped batch, a locale, bare tracker URLs.
    let wrapped = create(&emu, json!({ "adCreatives": [display("w")] })).await;
    assert_eq!(wrapped.status, 400);
    let mut locale = display("l");
    locale["language"] = json!("en_US");
    assert_eq!(create(&emu, locale).await.status, 400);
    let mut bare = video("t");
    bare["adCreativeFormatProperties"]["trackingUrls"] = json!(["https://t.example/i"]);
    assert_eq!(create(&emu, bare).await.status, 400);
    // Without the profile header.
    let unscoped = call_with(&emu, "POST", "/dsp/v1/adCreatives", display("s"), false).await;
    assert_eq!(unscoped.status, 400);
    assert_eq!(create(&emu, video("v")).await.status, 200);

    let changed = json!({"name": "d2", "adCreativeFormatProperties": display("x")["adCreativeFormatProperties"]});
    let update = call(
        &emu,
        "PATCH",
        &format!("/dsp/v1/adCreatives/{id}"),
        changed.clone(),
    )
    .await;
    assert_eq!(update.status, 204, "{:?}", update.json);
    let missing = call(&emu, "PATCH", "/dsp/v1/adCreatives/nope", changed.clone()).await;
    assert_eq!(missing.status, 404);
    let batch = call(
        &emu,
        "PATCH",
        "/dsp/v1/adCreatives",
        json!({"adCreatives": [changed]}),
    )
    .await;
    assert_eq!(batch.status, 404, "no batch update path");
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

    // "Listing ad creatives": by name, with ids.
    let list = call(
        &emu,
        "POST",
        "/dsp/v1/adCreatives/list",
        json!({"maxResults": 1, "nextToken": null}),
    )
    .await;
    assert_eq!(list.status, 200, "{:?}", list.json);
    assert_eq!(list.json["adCreatives"][0]["name"], "d2");
    assert_eq!(list.json["adCreatives"][0]["adCreativeId"], id.as_str());
    assert_eq!(list.json["totalResults"], 2);
    assert!(list.json["nextToken"].is_string());
}

#[tokio::test]
async fn ad_experiences_are_set_once_and_must_match_the_tag() {
    let emu = start_with(with_campaigns()).await;
    let ids = create_all(&emu, vec![display("d"), video("v")]).await;
    assert_eq!(
        experience(&emu, &ids[0], "THIRD_PARTY_VIDEO").await.status,
        400
    );
    assert_eq!(
        experience(&emu, &ids[0], "THIRD_PARTY_DISPLAY")
            .await
            .status,
        204
    );
    // The one sample with a string is taken too.
    let string = call(
        &emu,
        "PUT",
        "/dsp/v1/adExperiences",
        json!({ "adCreativeId": ids[0], "adExperiences": ["THIRD_PARTY_DISPLAY"] }),
    )
    .await;
    assert_eq!(string.status, 204, "the same value again is taken");
    assert_eq!(
        experience(&emu, &ids[1], "THIRD_PARTY_AUDIO").await.status,
        400
    );
    assert_eq!(
        experience(&emu, "404", "THIRD_PARTY_VIDEO").await.status,
        404
    );
    // The tag type cannot change once the experience is set.
    let to_video = json!({"adCreativeFormatProperties": video("d")["adCreativeFormatProperties"]});
    let answer = call(
        &emu,
        "PATCH",
        &format!("/dsp/v1/adCreatives/{}", ids[0]),
        to_video,
    )
    .await;
    assert_eq!(answer.status, 400, "{:?}", answer.json);
}

#[tokio::test]
async fn associations_are_batched_checked_and_start_moderation() {
    let emu = start_with(with_campaigns()).await;
    let ids = create_all(
        &emu,
        vec![display("d"), video("v"), display("no experience")],
    )
    .await;
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
    let success: Vec<(u64, &str)> = answer.json["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["index"].as_u64().unwrap(),
                s["adGroupId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(success, [(0, "g1"), (1, "g2")]);
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
    assert_eq!(answer.json["error"][0]["adGroupId"], "g3");
    let pairs: Vec<(&str, &str)> = (0..21).map(|_| ("g1", ids[0].as_str())).collect();
    assert_eq!(associate(&emu, &pairs).await.status, 400, "21 in one call");
    // The `/adsApi/v1` wrapper and states.
    let old = call(
        &emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        json!({"adCreativeAssociations": [{"adGroupId": "g5", "adCreativeId": ids[0], "state": "ACTIVE"}]}),
    )
    .await;
    assert_eq!(old.status, 400);
    let enabled = call(
        &emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        json!({"associations": [{"adGroupId": "g5", "adCreativeId": ids[0], "state": "ENABLED"}]}),
    )
    .await;
    assert_eq!(enabled.json["error"][0]["index"], 0, "{:?}", enabled.json);
    assert!(
        enabled.json.get("success").is_none(),
        "an empty array is left out"
    );
    // Weight: refused on random rotation (g1), taken on weighted (g5).
    let weighted = |group: &str| json!({"associations": [{"adGroupId": group, "adCreativeId": ids[0], "weight": 100}]});
    let random = call(
        &emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        weighted("g1"),
    )
    .await;
    assert!(
        random.json["error"][0]["description"]
            .as_str()
            .unwrap()
            .contains("weight"),
        "{:?}",
        random.json
    );
    let taken = call(
        &emu,
        "POST",
        "/dsp/v1/adCreatives/associations/adGroups",
        weighted("g5"),
    )
    .await;
    assert_eq!(taken.json["success"][0]["index"], 0, "{:?}", taken.json);
    assert!(
        taken.json.get("error").is_none(),
        "an empty array is left out"
    );

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
        first.json["adCreativeStatuses"][0]["adCreativeModerationStatus"], "PENDING",
        "{:?}",
        first.json
    );
    assert_eq!(moderation(ids[2].clone()).await.status, 404);
}

#[tokio::test]
async fn the_control_moves_moderation_and_the_list_pages() {
    let emu = start_with(with_campaigns()).await;
    let ids = create_all(&emu, vec![display("a"), display("b"), display("c")]).await;
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
        async move {
            let mut body = json!({"adGroupIdFilter": {"include": ["g1"]}, "maxResults": 2});
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
    let status = |answer: &Answer, i: usize| {
        answer.json["associationStatuses"][i]["adExperiences"][0]["associationModerationStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let first = list(None).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(status(&first, 0), "APPROVED");
    assert_eq!(status(&first, 1), "NOT_APPROVED");
    assert_eq!(
        first.json["associationStatuses"][1]["adExperiences"][0]["associationModerationReasons"][0],
        "landing page unreachable"
    );
    let next = first.json["nextToken"].as_str().unwrap().to_owned();
    let second = list(Some(next)).await;
    assert_eq!(status(&second, 0), "PENDING");
    assert!(second.json.get("nextToken").is_none());
    // The old filter form, and more than 20 ids, are refused.
    for body in [
        json!({"adCreativeIdFilter": [ids[0]]}),
        json!({"adGroupIdFilter": {"include": (0..21).map(|i| format!("g{i}")).collect::<Vec<_>>()}}),
        json!({}),
    ] {
        let answer = call(
            &emu,
            "POST",
            "/dsp/v1/adCreatives/associations/adGroups/moderations/list",
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, 400, "{body}");
    }

    // A changed tag goes back to moderation.
    let mut changed = display("a")["adCreativeFormatProperties"].clone();
    changed["thirdPartyTag"]["tagSource"] =
        json!("<script src=\"https://ads.example/t2.js\"></script>");
    let patched = call(
        &emu,
        "PATCH",
        &format!("/dsp/v1/adCreatives/{}", ids[0]),
        json!({ "adCreativeFormatProperties": changed }),
    )
    .await;
    assert_eq!(patched.status, 204);
    let again = list(None).await;
    assert_eq!(status(&again, 0), "PENDING");
    let requests = emu.requests().await;
    assert!(requests.iter().any(|r| r["endpoint"] == "dspModerations"));
}
