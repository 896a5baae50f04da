//! Amazon's own OpenAPI files (src/contract.rs): a request they refuse is refused before any
//! handler, and answers carry the media type they document.

use crate::support::*;

#[tokio::test]
async fn a_request_amazons_file_refuses_is_refused_naming_the_place() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let headers = [("authorization", bearer.as_str())];
    let answer = emu.send("GET", "/amc/accounts", &headers, "").await;
    assert_eq!(answer.status, 400, "{:?}", answer.json);
    assert_eq!(answer.json["code"], "BAD_REQUEST");
    let message = answer.json["message"].as_str().unwrap();
    assert!(message.contains("Amazon's API description"), "{message}");
    assert!(
        message.contains("header Amazon-Advertising-API-ClientId"),
        "{message}"
    );
    assert!(!message.contains(&bearer[7..]), "{message}");
}

#[tokio::test]
async fn answers_carry_the_media_type_amazons_file_documents() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let answer = emu
        .send("GET", "/amc/accounts", &advertising_headers(&bearer), "")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(
        answer.headers["content-type"],
        "application/vnd.amcaudiencesconnections.v1+json"
    );
    // An operation no vendored file documents keeps application/json (here its error answer).
    let profiles = emu
        .send("GET", "/v2/profiles", &advertising_headers(&bearer), "")
        .await;
    assert!(profiles.json.is_object(), "{:?}", profiles.json);
    assert_eq!(profiles.headers["content-type"], "application/json");
}
