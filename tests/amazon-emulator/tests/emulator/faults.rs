//! Each fault kind behaves as documented.

use std::time::{Duration, Instant};

use amazon_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN};
use serde_json::json;

use crate::support::{NOW, page_view, start};

#[tokio::test]
async fn status_fault_answers_429_with_retry_after_then_recovers() {
    let emu = start().await;
    let token = emu.access_token().await;
    emu.fault(
        json!({"endpoint": "events", "kind": "status", "status": 429, "retryAfter": 2, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
        assert_eq!(answer.status, 429);
        assert_eq!(answer.headers["retry-after"], "2");
        assert_eq!(answer.json["code"], "TOO_MANY_REQUESTS");
    }
    assert_eq!(
        emu.send_events(&token, json!([page_view(NOW)]))
            .await
            .status,
        207
    );
    let log = emu.requests().await;
    assert_eq!(log[1]["fault"], "status");
    assert_eq!(log[1]["status"], 429);
    assert!(log[3].get("fault").is_none());
    assert_eq!(
        emu.send("GET", "/__emulator/events", &[], "")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn server_errors_use_each_api_shape() {
    let emu = start().await;
    let token = emu.access_token().await;
    emu.fault(json!({"endpoint": "token", "kind": "status", "status": 503}))
        .await;
    let answer = emu
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", DEMO_REFRESH_TOKEN),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (answer.status, answer.json["error"].as_str()),
        (503, Some("server_error"))
    );
    assert!(answer.headers.get("retry-after").is_none());
    emu.fault(json!({"endpoint": "*", "kind": "status", "status": 500}))
        .await;
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert_eq!(
        (answer.status, answer.json["code"].as_str()),
        (500, Some("INTERNAL_ERROR"))
    );
    emu.fault(json!({"endpoint": "events", "kind": "status", "status": 503, "retryAfter": 5}))
        .await;
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.headers["retry-after"], "5");
}

#[tokio::test]
async fn slow_fault_delays_then_answers_normally() {
    let emu = start().await;
    let token = emu.access_token().await;
    emu.fault(json!({"endpoint": "events", "kind": "slow", "delayMs": 300}))
        .await;
    let started = Instant::now();
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status, 207);
    // Consumed after one use (checked on the fault list, not by timing, to stay robust
    // on a loaded machine).
    let faults = emu.send("GET", "/__emulator/faults", &[], "").await;
    assert_eq!(faults.json, json!([]));
    assert_eq!(emu.requests().await[1]["fault"], "slow");
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_an_answer() {
    let emu = start().await;
    emu.fault(json!({"endpoint": "token", "kind": "drop"}))
        .await;
    let form = crate::support::form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", DEMO_REFRESH_TOKEN),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
    ]);
    let dropped = emu
        .try_send(
            "POST",
            "/auth/o2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await;
    let error = dropped.expect_err("the connection must break");
    assert_ne!(error, "timed out");
    let log = emu.requests().await;
    assert_eq!(log[0]["status"], serde_json::Value::Null);
    assert_eq!(log[0]["fault"], "drop");
    emu.access_token().await;
}

#[tokio::test]
async fn expired_token_fault_expires_the_presented_token() {
    let emu = start().await;
    let token = emu.access_token().await;
    emu.fault(json!({"endpoint": "events", "kind": "expired_token"}))
        .await;
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.json["message"],
        "The access token is expired or invalid."
    );
    assert_eq!(
        emu.send_events(&token, json!([page_view(NOW)]))
            .await
            .status,
        401,
        "the token stays expired"
    );
    let fresh = emu.access_token().await;
    assert_eq!(
        emu.send_events(&fresh, json!([page_view(NOW)]))
            .await
            .status,
        207
    );
}

#[tokio::test]
async fn faults_can_be_listed_cleared_and_are_validated() {
    let emu = start().await;
    let bad = emu
        .post_json(
            "/__emulator/faults",
            &[],
            &json!({"endpoint": "events", "kind": "status"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.json["error"].as_str().unwrap().contains("status"));
    let typo = emu
        .post_json(
            "/__emulator/faults",
            &[],
            &json!({"endpoint": "event", "kind": "drop"}),
        )
        .await;
    assert_eq!(typo.status, 400);
    emu.fault(json!({"endpoint": "*", "kind": "drop", "count": 3}))
        .await;
    let listed = emu.send("GET", "/__emulator/faults", &[], "").await.json;
    assert_eq!(listed[0]["remaining"], 3);
    assert_eq!(listed[0]["kind"], "drop");
    emu.send("DELETE", "/__emulator/faults", &[], "").await;
    assert_eq!(
        emu.send("GET", "/__emulator/faults", &[], "").await.json,
        json!([])
    );
    emu.access_token().await;
}
