//! Reset, clock and unknown controls.

use serde_json::json;

use crate::support::{NOW, page_view, start};

#[tokio::test]
async fn reset_clears_state_but_keeps_config_and_tokens() {
    let emu = start().await;
    let token = emu.access_token().await;
    emu.send_events(&token, json!([page_view(NOW)])).await;
    emu.fault(json!({"endpoint": "events", "kind": "drop"}))
        .await;
    emu.post_json("/__emulator/clock", &[], &json!({"advanceSecs": 10}))
        .await;
    let reset = emu.send("POST", "/__emulator/reset", &[], "").await;
    assert_eq!(reset.json, json!({"reset": true}));
    assert_eq!(emu.requests().await, Vec::<serde_json::Value>::new());
    assert_eq!(
        emu.send("GET", "/__emulator/events", &[], "").await.json,
        json!([])
    );
    assert_eq!(
        emu.send("GET", "/__emulator/faults", &[], "").await.json,
        json!([])
    );
    assert_eq!(
        emu.send("GET", "/__emulator/clock", &[], "").await.json["now"],
        NOW
    );
    assert_eq!(
        emu.send_events(&token, json!([page_view(NOW)]))
            .await
            .status,
        207
    );
}

#[tokio::test]
async fn clock_can_be_fixed_moved_and_released() {
    let emu = start().await;
    let set = emu
        .post_json(
            "/__emulator/clock",
            &[],
            &json!({"now": "2026-10-01T00:00:00Z", "advanceSecs": 30}),
        )
        .await;
    assert_eq!(set.json["now"], "2026-10-01T00:00:30Z");
    let token = emu.access_token().await;
    // NOW is now 29 days ago: outside the 21-day window.
    let answer = emu.send_events(&token, json!([page_view(NOW)])).await;
    assert_eq!(answer.json["error"][0]["errors"][0]["code"], "BAD_REQUEST");
    let bad = emu
        .post_json("/__emulator/clock", &[], &json!({"now": "soon"}))
        .await;
    assert_eq!(bad.status, 400);
    let released = emu
        .post_json("/__emulator/clock", &[], &json!({"now": null}))
        .await;
    assert!(released.json["now"].as_str().unwrap() > "2026-10-01");
}

#[tokio::test]
async fn controls_are_readable_cross_origin_but_amazon_endpoints_are_not() {
    let emu = start().await;
    let origin = [("origin", "http://localhost:8080")];
    let preflight = emu
        .send("OPTIONS", "/__emulator/requests", &origin, "")
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    let events = emu.send("GET", "/__emulator/events", &origin, "").await;
    assert_eq!(events.headers["access-control-allow-origin"], "*");
    let token = emu.send("POST", "/auth/o2/token", &origin, "").await;
    assert!(token.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn unknown_controls_are_404() {
    let emu = start().await;
    let answer = emu.send("GET", "/__emulator/nothing", &[], "").await;
    assert_eq!(answer.status, 404);
    assert!(answer.json["error"].is_string());
    assert_eq!(emu.requests().await.len(), 0, "controls are not recorded");
}

#[tokio::test]
async fn concurrent_clients_are_all_served_and_recorded() {
    let emu = start().await;
    let token = emu.access_token().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (emu, token) = (emu.clone(), token.clone());
        tasks.spawn(async move {
            emu.send_events(&token, json!([page_view(NOW)]))
                .await
                .status
        });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(statuses, vec![207; 20]);
    let seqs: Vec<u64> = emu
        .requests()
        .await
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<_>>());
    assert_eq!(
        emu.send("GET", "/__emulator/events", &[], "")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
