//! The legacy DSP conversion import over HTTP.

use amazon_emulator::{DEMO_ACCOUNT_ID, DEMO_PROFILE_ID};
use serde_json::{Value, json};

use crate::support::{DIGEST, advertising_headers, start};

const PATH: &str = "/accounts/ENTITY1MATCHKEYDEMO/dsp/conversionDefinitions/eventData";
const MEDIA: &str = "application/vnd.dspconversioneventimport.v1+json";

fn event(timestamp: &str) -> Value {
    json!({
        "conversionDefinitionId": "591234567890123456",
        "name": "Website purchase",
        "countryCode": "US",
        "timestamp": timestamp,
        "matchKeys": [{"type": "EMAIL", "values": [DIGEST]}],
        "value": 49.99,
        "currencyCode": "USD",
        "unitsSold": 1,
        "clientDedupeId": "order_100045"
    })
}

#[tokio::test]
async fn import_answers_207_with_one_based_indexes() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let profile = DEMO_PROFILE_ID.to_string();
    let mut headers = advertising_headers(&bearer);
    headers.extend([
        ("amazon-advertising-api-scope", profile.as_str()),
        ("content-type", MEDIA),
    ]);
    let body = json!({"source": "SERVER_TO_SERVER", "eventData": [event("2026-09-01T10:15:30Z"), event("2026-08-01T10:15:30Z")]});
    let answer = emu.send("POST", PATH, &headers, body.to_string()).await;
    assert_eq!(answer.status, 207, "{:?}", answer.json);
    assert_eq!(
        answer.json["success"],
        json!([{"index": 1, "message": "Event imported."}])
    );
    let error = &answer.json["error"][0];
    assert_eq!(error["index"], 2);
    assert_eq!(error["code"], "400");
    assert_eq!(error["errors"][0]["errorType"], "INVALID_ARGUMENT");
    assert_eq!(error["errors"][0]["fieldName"], "timestamp");
    // `minItems: 1` on both lists: an all-success import has no `error` at all.
    let one = json!({"source": "SERVER_TO_SERVER", "eventData": [event("2026-09-01T10:15:30Z")]});
    let answer = emu.send("POST", PATH, &headers, one.to_string()).await;
    assert_eq!(answer.status, 207);
    assert_eq!(
        answer.json,
        json!({"success": [{"index": 1, "message": "Event imported."}]})
    );
    let log = emu.requests().await;
    assert_eq!(log[1]["endpoint"], "dspEvents");
    assert_eq!(
        log[1]["outcomes"][1]["index"], 1,
        "the log uses 0-based positions everywhere"
    );
}

#[tokio::test]
async fn import_checks_scope_account_media_and_batch_size() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let profile = DEMO_PROFILE_ID.to_string();
    let body = json!({"source": "SERVER_TO_SERVER", "eventData": [event("2026-09-01T10:15:30Z")]})
        .to_string();
    let send = |path: &'static str, extra: Vec<(&'static str, String)>, body: String| {
        let emu = &emu;
        let bearer = bearer.clone();
        async move {
            let mut headers = advertising_headers(&bearer);
            headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
            emu.send("POST", path, &headers, body).await.status
        }
    };
    let scope = ("amazon-advertising-api-scope", profile.clone());
    let media = ("content-type", MEDIA.to_owned());
    assert_eq!(
        send(PATH, vec![media.clone()], body.clone()).await,
        400,
        "no scope"
    );
    let wrong_scope = ("amazon-advertising-api-scope", "999".to_owned());
    assert_eq!(
        send(PATH, vec![wrong_scope, media.clone()], body.clone()).await,
        403
    );
    let other = "/accounts/583000000000999/dsp/conversionDefinitions/eventData";
    assert_eq!(
        send(other, vec![scope.clone(), media.clone()], body.clone()).await,
        403
    );
    let json_media = ("content-type", "application/json".to_owned());
    assert_eq!(
        send(PATH, vec![scope.clone(), json_media], body.clone()).await,
        415
    );
    let header_account = ("amazon-ads-accountid", "583000000000999".to_owned());
    assert_eq!(
        send(
            PATH,
            vec![scope.clone(), media.clone(), header_account],
            body.clone()
        )
        .await,
        400
    );
    let same_account = ("amazon-ads-accountid", DEMO_ACCOUNT_ID.to_owned());
    assert_eq!(
        send(PATH, vec![scope.clone(), media.clone(), same_account], body).await,
        207
    );
    let too_many = json!({"source": "SERVER_TO_SERVER", "eventData": vec![event("2026-09-01T10:15:30Z"); 101]});
    assert_eq!(
        send(
            PATH,
            vec![scope.clone(), media.clone()],
            too_many.to_string()
        )
        .await,
        400
    );
    let wrong_source =
        json!({"source": "AMAZON_AD_TAG", "eventData": [event("2026-09-01T10:15:30Z")]});
    assert_eq!(
        send(PATH, vec![scope, media], wrong_source.to_string()).await,
        400
    );
}
