//! The Events API over HTTP: headers, status codes, 207 bodies and the request log.

use amazon_emulator::{DEMO_ACCOUNT_ID, DEMO_CLIENT_ID};
use serde_json::{Value, json};

use crate::support::{NOW, ads_headers, config, page_view, start, start_with};

#[tokio::test]
async fn mixed_batch_answers_207_with_zero_based_indexes() {
    let emu = start().await;
    let token = emu.access_token().await;
    let mut bad_time = page_view(NOW);
    bad_time["eventTime"] = json!("2026-08-01T00:00:00Z");
    let mut raw_email = page_view(NOW);
    raw_email["matchKeys"][0]["values"] = json!(["jane@example.com"]);
    let answer = emu
        .send_events(&token, json!([page_view(NOW), bad_time, raw_email]))
        .await;
    assert_eq!(answer.status, 207);
    assert_eq!(answer.json["success"][0]["index"], 0);
    assert_eq!(answer.json["success"][0]["event"], page_view(NOW));
    let errors = answer.json["error"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["errors"][0]["code"], "BAD_REQUEST");
    assert_eq!(
        errors[0]["errors"][0]["fieldLocation"],
        "events[1].eventTime"
    );
    assert_eq!(errors[1]["index"], 2);
    assert_eq!(errors[1]["errors"][0]["code"], "FIELD_VALUE_IS_INVALID");
    assert_eq!(
        errors[1]["errors"][0]["fieldLocation"],
        "events[2].matchKeys[0].values[0]"
    );
    // Error entries name the field, never the value.
    assert!(!answer.json.to_string().contains("jane@example.com"));
}

#[tokio::test]
async fn empty_lists_are_left_out_of_the_207() {
    let emu = start().await;
    let token = emu.access_token().await;
    // EventMultiStatusResponse requires neither list: an all-success batch has no `error`.
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert_eq!(answer.status, 207);
    assert!(answer.json.get("error").is_none(), "{}", answer.json);
    assert_eq!(answer.json["success"][0]["index"], 0);
    let mut old = page_view(NOW);
    old["eventTime"] = json!("2026-08-01T00:00:00Z");
    let answer = emu.send_events(&token, json!([old])).await;
    assert!(answer.json.get("success").is_none(), "{}", answer.json);
    assert_eq!(answer.json["error"][0]["index"], 0);
}

#[tokio::test]
async fn request_log_and_event_list_show_what_amazon_received() {
    let emu = start().await;
    let token = emu.access_token().await;
    let mut rejected = page_view(NOW);
    rejected["countryCode"] = json!("DE");
    emu.send_events(&token, json!([rejected, page_view(NOW)]))
        .await;

    let log = emu.requests().await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["endpoint"], "token");
    assert_eq!(log[0]["body"]["client_secret"], "[redacted]");
    let events = &log[1];
    assert_eq!(events["endpoint"], "events");
    assert_eq!(events["status"], 207);
    assert_eq!(events["headers"]["authorization"], "Bearer [redacted]");
    assert_eq!(events["headers"]["amazon-ads-accountid"], DEMO_ACCOUNT_ID);
    assert_eq!(events["body"]["events"][1], page_view(NOW));
    assert_eq!(events["outcomes"][0]["accepted"], false);
    assert_eq!(
        events["outcomes"][0]["errors"][0]["fieldLocation"],
        "events[0].consent"
    );
    assert_eq!(events["outcomes"][1], json!({"index": 1, "accepted": true}));
    assert!(!log.iter().any(|entry| entry.to_string().contains(&token)));

    let accepted = emu.send("GET", "/__emulator/events", &[], "").await.json;
    assert_eq!(
        accepted,
        json!([{"accountId": DEMO_ACCOUNT_ID, "event": page_view(NOW)}])
    );
    let filtered = emu
        .send("GET", "/__emulator/requests?endpoint=token", &[], "")
        .await
        .json;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401() {
    let emu = start().await;
    let body = json!({"events": [page_view(NOW)]});
    let no_auth = [
        ("amazon-ads-clientid", DEMO_CLIENT_ID),
        ("amazon-ads-accountid", DEMO_ACCOUNT_ID),
    ];
    let answer = emu
        .post_json("/adsApi/v1/create/events", &no_auth, &body)
        .await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let answer = emu
        .post_json(
            "/adsApi/v1/create/events",
            &ads_headers("Bearer Atza|forged"),
            &body,
        )
        .await;
    assert_eq!(answer.status, 401);
    let token = emu.access_token().await;
    let answer = emu
        .post_json(
            "/adsApi/v1/create/events",
            &ads_headers(&format!("Token {token}")),
            &body,
        )
        .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn client_and_account_headers_are_checked() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let body = json!({"events": [page_view(NOW)]});
    let post = |headers: Vec<(&'static str, String)>| {
        let emu = &emu;
        let body = body.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            emu.post_json("/adsApi/v1/create/events", &headers, &body)
                .await
        }
    };
    let auth = ("authorization", bearer.clone());
    let client = ("amazon-ads-clientid", DEMO_CLIENT_ID.to_owned());
    let account = ("amazon-ads-accountid", DEMO_ACCOUNT_ID.to_owned());

    assert_eq!(
        post(vec![auth.clone(), account.clone()]).await.status,
        400,
        "no client id"
    );
    let other_client = (
        "amazon-ads-clientid",
        "amzn1.application-oa2-client.other".to_owned(),
    );
    assert_eq!(
        post(vec![auth.clone(), other_client, account.clone()])
            .await
            .status,
        401
    );
    assert_eq!(
        post(vec![auth.clone(), client.clone()]).await.status,
        400,
        "no account id"
    );
    let unknown_account = ("amazon-ads-accountid", "583000000000999".to_owned());
    let answer = post(vec![auth.clone(), client.clone(), unknown_account]).await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let legacy_client = ("amazon-advertising-api-clientid", DEMO_CLIENT_ID.to_owned());
    assert_eq!(
        post(vec![
            auth.clone(),
            client.clone(),
            account.clone(),
            legacy_client
        ])
        .await
        .status,
        207
    );
    let mismatch = ("amazon-advertising-api-clientid", "other".to_owned());
    assert_eq!(
        post(vec![auth, client, account, mismatch]).await.status,
        401
    );
}

#[tokio::test]
async fn region_prefix_must_match_the_advertiser_region() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let body = json!({"events": [page_view(NOW)]});
    let na = emu
        .post_json("/na/adsApi/v1/create/events", &ads_headers(&bearer), &body)
        .await;
    assert_eq!(na.status, 207);
    let eu = emu
        .post_json("/eu/adsApi/v1/create/events", &ads_headers(&bearer), &body)
        .await;
    assert_eq!(eu.status, 403);
    assert_eq!(emu.requests().await[2]["region"], "EU");
}

#[tokio::test]
async fn body_problems_are_400_415_and_413() {
    let mut small = config();
    small.max_body_bytes = 2_000;
    let emu = start_with(small).await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let mut headers = ads_headers(&bearer);
    let as_text = {
        let mut h = headers.clone();
        h.push(("content-type", "text/plain"));
        emu.send(
            "POST",
            "/adsApi/v1/create/events",
            &h,
            json!({"events": [page_view(NOW)]}).to_string(),
        )
        .await
    };
    assert_eq!(as_text.status, 415);
    headers.push(("content-type", "application/json"));
    let post = |body: String| emu.send("POST", "/adsApi/v1/create/events", &headers, body);
    let not_json = post("{\"events\": [".to_owned()).await;
    assert_eq!(
        (not_json.status, not_json.json["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    assert_eq!(post(json!({"events": []}).to_string()).await.status, 400);
    assert_eq!(post(json!({}).to_string()).await.status, 400);
    assert_eq!(
        post(json!({"events": [page_view(NOW)], "dryRun": true}).to_string())
            .await
            .status,
        400
    );
    let big = Value::Array(vec![page_view(NOW); 20]);
    let too_large = post(json!({ "events": big }).to_string()).await;
    assert_eq!(
        (too_large.status, too_large.json["code"].as_str()),
        (413, Some("CONTENT_TOO_LARGE"))
    );
}

#[tokio::test]
async fn batches_hold_one_to_five_hundred_events() {
    let emu = start().await;
    let token = emu.access_token().await;
    let full = Value::Array(vec![page_view(NOW); 500]);
    let answer = emu.send_events(&token, full).await;
    assert_eq!(answer.status, 207);
    assert_eq!(answer.json["success"].as_array().unwrap().len(), 500);
    assert_eq!(answer.json["success"][499]["index"], 499);
    let over = Value::Array(vec![page_view(NOW); 501]);
    assert_eq!(emu.send_events(&token, over).await.status, 400);
}

#[tokio::test]
async fn unknown_paths_are_404_and_recorded() {
    let emu = start().await;
    let answer = emu.post_json("/events/v1", &[], &json!({})).await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let log = emu.requests().await;
    assert_eq!(log[0]["endpoint"], "unknown");
    assert_eq!(log[0]["path"], "/events/v1");
}
