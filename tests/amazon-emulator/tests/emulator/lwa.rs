//! Login with Amazon: refresh and authorization-code grants and their errors.

use amazon_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN};
use serde_json::json;

use crate::support::{NOW, ads_headers, form, page_view, start};

fn refresh_form(refresh_token: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
    ]
}

#[tokio::test]
async fn refresh_grant_issues_a_bearer_token_for_an_hour() {
    let emu = start().await;
    let answer = emu.token_request(&refresh_form(DEMO_REFRESH_TOKEN)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["token_type"], "bearer");
    assert_eq!(answer.json["expires_in"], 3600);
    assert_eq!(answer.json["refresh_token"], DEMO_REFRESH_TOKEN);
    assert!(
        answer.json["access_token"]
            .as_str()
            .unwrap()
            .starts_with("Atza|")
    );
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn unknown_client_or_wrong_secret_is_invalid_client() {
    let emu = start().await;
    let mut fields = refresh_form(DEMO_REFRESH_TOKEN);
    fields[2].1 = "amzn1.application-oa2-client.other";
    let answer = emu.token_request(&fields).await;
    assert_eq!(
        (answer.status, answer.json["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let mut fields = refresh_form(DEMO_REFRESH_TOKEN);
    fields[3].1 = "wrong";
    let answer = emu.token_request(&fields).await;
    assert_eq!(
        answer.json,
        json!({"error": "invalid_client", "error_description": "Client authentication failed"})
    );
}

#[tokio::test]
async fn unknown_or_revoked_refresh_token_is_invalid_grant() {
    let emu = start().await;
    let answer = emu.token_request(&refresh_form("Atzr|unknown")).await;
    assert_eq!(
        (answer.status, answer.json["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let revoke = emu
        .post_json(
            "/__emulator/revoke",
            &[],
            &json!({"refreshToken": DEMO_REFRESH_TOKEN}),
        )
        .await;
    assert_eq!(revoke.json, json!({"revoked": true, "known": true}));
    let answer = emu.token_request(&refresh_form(DEMO_REFRESH_TOKEN)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json["error"], "invalid_grant");
    assert!(
        answer.json["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    emu.send("POST", "/__emulator/reset", &[], "").await;
    assert_eq!(
        emu.token_request(&refresh_form(DEMO_REFRESH_TOKEN))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_token_requests_are_invalid_request() {
    let emu = start().await;
    let body = form(&refresh_form(DEMO_REFRESH_TOKEN));
    let with_auth = emu
        .send(
            "POST",
            "/auth/o2/token",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", "Bearer x"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(with_auth.json["error"], "invalid_request");
    let as_json = emu
        .send(
            "POST",
            "/auth/o2/token",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!(as_json.json["error"], "invalid_request");
    let mut fields = refresh_form(DEMO_REFRESH_TOKEN);
    fields.remove(1);
    let missing = emu.token_request(&fields).await;
    assert_eq!(missing.json["error"], "invalid_request");
    assert!(
        missing.json["error_description"]
            .as_str()
            .unwrap()
            .ends_with(": refresh_token")
    );
    let mut fields = refresh_form(DEMO_REFRESH_TOKEN);
    fields[0].1 = "password";
    assert_eq!(
        emu.token_request(&fields).await.json["error"],
        "unsupported_grant_type"
    );
}

#[tokio::test]
async fn authorization_code_flow_mints_a_working_refresh_token() {
    let emu = start().await;
    let query = form(&[
        ("client_id", DEMO_CLIENT_ID),
        ("scope", "advertising::campaign_management"),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost:8338/callback"),
        ("state", "xyz"),
    ]);
    let consent = emu.send("GET", &format!("/ap/oa?{query}"), &[], "").await;
    assert_eq!(consent.status, 302);
    let location = consent.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://localhost:8338/callback?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz"));
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let exchange = |code: String, redirect: &'static str| {
        let emu = &emu;
        async move {
            emu.token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_CLIENT_SECRET),
            ])
            .await
        }
    };
    let answer = exchange(code.clone(), "http://localhost:8338/callback").await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let refresh = answer.json["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.starts_with("Atzr|") && refresh != DEMO_REFRESH_TOKEN);
    assert_eq!(emu.token_request(&refresh_form(&refresh)).await.status, 200);
    // A code works once.
    assert_eq!(
        exchange(code, "http://localhost:8338/callback").await.json["error"],
        "invalid_grant"
    );

    let consent = emu.send("GET", &format!("/ap/oa?{query}"), &[], "").await;
    let location = consent.headers["location"].to_str().unwrap();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        exchange(code, "https://elsewhere.example/").await.json["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn consent_page_refuses_unknown_clients_and_returns_scope_errors() {
    let emu = start().await;
    let query = |client: &str, scope: &str| {
        form(&[
            ("client_id", client),
            ("scope", scope),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8338/callback"),
        ])
    };
    let unknown = emu
        .send(
            "GET",
            &format!("/ap/oa?{}", query("nobody", "profile")),
            &[],
            "",
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.json["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let bad_scope = emu
        .send(
            "GET",
            &format!("/ap/oa?{}", query(DEMO_CLIENT_ID, "everything")),
            &[],
            "",
        )
        .await;
    // Once the redirect URI is trusted, errors go back to it (OAuth 2.0).
    assert_eq!(bad_scope.status, 302);
    let location = bad_scope.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:8338/callback?error=invalid_scope&"),
        "{location}"
    );
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime() {
    let mut config = crate::support::config();
    config.token_ttl_secs = 60;
    let emu = crate::support::start_with(config).await;
    let token = emu.access_token().await;
    assert_eq!(
        emu.send_events(&token, json!([page_view(NOW)]))
            .await
            .status,
        207
    );
    let moved = emu
        .post_json("/__emulator/clock", &[], &json!({"advanceSecs": 60}))
        .await;
    assert_eq!(moved.json["now"], "2026-09-02T12:01:00Z");
    let bearer = format!("Bearer {token}");
    let answer = emu
        .post_json(
            "/adsApi/v1/create/events",
            &ads_headers(&bearer),
            &json!({"events": [page_view(NOW)]}),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json["code"], "UNAUTHORIZED");
}
