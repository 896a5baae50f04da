//! AMC audiences (metadata, records, jobs) and Data Provider records over HTTP.

use amazon_emulator::DEMO_NUMERIC_ID;
use serde_json::{Value, json};

use crate::support::{DIGEST, Emu, advertising_headers, start};

const AMC_MEDIA: &str = "application/vnd.amcaudiences.v1+json";
const DP_MEDIA: &str = "application/vnd.dpuploadhashedrecordsrequest.v3+json";

/// Audience metadata targeting the demo advertiser. The id must go out as a JSON number,
/// so the body is written as text.
fn metadata_body(advertiser_id: &str) -> String {
    format!(
        r#"{{"name":"cart_abandoners","countryCode":"US","targetResource":{{"advertiserId":{advertiser_id}}},"metadata":{{"externalAudienceId":"cart-v1","ttl":2592000}}}}"#
    )
}

fn record(user: &str, action: &str) -> Value {
    json!({"externalUserId": user, "countryCode": "US", "action": action, "hashedPII": [{"email": DIGEST}]})
}

async fn amc(
    emu: &Emu,
    bearer: &str,
    method: &str,
    path: &str,
    body: String,
) -> crate::support::Answer {
    let mut headers = advertising_headers(bearer);
    headers.push(("content-type", AMC_MEDIA));
    emu.send(method, path, &headers, body).await
}

async fn create_audience(emu: &Emu, bearer: &str) -> u64 {
    let answer = amc(
        emu,
        bearer,
        "POST",
        "/amc/audiences/metadata",
        metadata_body(&DEMO_NUMERIC_ID.to_string()),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(answer.json["externalAudienceId"], "cart-v1");
    answer.json["audienceId"].as_u64().unwrap()
}

async fn upload(
    emu: &Emu,
    bearer: &str,
    audience_id: u64,
    records: Value,
) -> crate::support::Answer {
    let body = format!(r#"{{"audienceId":{audience_id},"records":{records}}}"#);
    amc(emu, bearer, "POST", "/amc/audiences/records", body).await
}

#[tokio::test]
async fn audience_upload_succeeds_and_the_job_terminates() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let audience_id = create_audience(&emu, &bearer).await;
    let answer = upload(
        &emu,
        &bearer,
        audience_id,
        json!([record("u_1", "CREATE"), record("u_2", "CREATE")]),
    )
    .await;
    assert_eq!(answer.status, 202);
    let job = answer.json["jobRequestId"].as_str().unwrap().to_owned();
    let status = amc(
        &emu,
        &bearer,
        "GET",
        &format!("/amc/audiences/records/{job}"),
        String::new(),
    )
    .await;
    assert_eq!(status.status, 200);
    assert_eq!(status.json["status"], "SUCCEEDED");
    assert_eq!(status.json["audienceId"], audience_id);

    upload(&emu, &bearer, audience_id, json!([record("u_1", "DELETE")])).await;
    let audiences = emu.send("GET", "/__emulator/audiences", &[], "").await.json;
    assert_eq!(audiences[0]["members"], json!(["u_2"]));
    let metadata = amc(
        &emu,
        &bearer,
        "GET",
        &format!("/amc/audiences/metadata/{audience_id}"),
        String::new(),
    )
    .await;
    assert_eq!(
        metadata.json["metadata"]["audienceSize"]["receivedRecordSize"],
        3
    );
    assert_eq!(metadata.json["name"], "cart_abandoners");
}

#[tokio::test]
async fn invalid_records_make_the_job_partial_or_failed() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let audience_id = create_audience(&emu, &bearer).await;
    let mut raw = record("u_3", "CREATE");
    raw["hashedPII"][0]["email"] = json!("jane@example.com");
    let answer = upload(
        &emu,
        &bearer,
        audience_id,
        json!([record("u_1", "CREATE"), raw.clone()]),
    )
    .await;
    let job = answer.json["jobRequestId"].as_str().unwrap().to_owned();
    let status = amc(
        &emu,
        &bearer,
        "GET",
        &format!("/amc/audiences/records/{job}"),
        String::new(),
    )
    .await;
    assert_eq!(status.json["status"], "PARTIALLYSUCCEEDED");
    assert_eq!(status.json["errorCount"], 1);
    assert_eq!(
        status.json["errors"][0]["fieldLocation"],
        "records[1].hashedPII[0].email"
    );
    assert!(!status.json.to_string().contains("jane"));
    let log = emu.requests().await;
    assert_eq!(log.last().unwrap()["endpoint"], "amcJobs");
    assert_eq!(log[log.len() - 2]["outcomes"][1]["accepted"], false);

    let answer = upload(&emu, &bearer, audience_id, json!([raw])).await;
    let job = answer.json["jobRequestId"].as_str().unwrap().to_owned();
    let status = amc(
        &emu,
        &bearer,
        "GET",
        &format!("/amc/audiences/records/{job}"),
        String::new(),
    )
    .await;
    assert_eq!(status.json["status"], "FAILED");
}

#[tokio::test]
async fn job_faults_fail_or_delay_the_next_job() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let audience_id = create_audience(&emu, &bearer).await;
    emu.fault(json!({"endpoint": "amcRecords", "kind": "job_pending", "polls": 2}))
        .await;
    emu.fault(json!({"endpoint": "amcRecords", "kind": "job_failed"}))
        .await;
    let poll = |job: String| {
        let (emu, bearer) = (&emu, bearer.clone());
        async move {
            amc(
                emu,
                &bearer,
                "GET",
                &format!("/amc/audiences/records/{job}"),
                String::new(),
            )
            .await
            .json["status"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = upload(&emu, &bearer, audience_id, json!([record("u_1", "CREATE")])).await;
    let first = first.json["jobRequestId"].as_str().unwrap().to_owned();
    assert_eq!(poll(first.clone()).await, "PENDING");
    assert_eq!(poll(first.clone()).await, "PENDING");
    assert_eq!(poll(first).await, "SUCCEEDED");
    let second = upload(&emu, &bearer, audience_id, json!([record("u_2", "CREATE")])).await;
    let second = second.json["jobRequestId"].as_str().unwrap().to_owned();
    assert_eq!(poll(second.clone()).await, "FAILED");
    let audiences = emu.send("GET", "/__emulator/audiences", &[], "").await.json;
    assert_eq!(
        audiences[0]["members"],
        json!(["u_1"]),
        "a failed job changes nothing"
    );
    let third = upload(&emu, &bearer, audience_id, json!([record("u_3", "CREATE")])).await;
    assert_eq!(
        poll(third.json["jobRequestId"].as_str().unwrap().to_owned()).await,
        "SUCCEEDED"
    );
}

#[tokio::test]
async fn audience_envelopes_are_checked_synchronously() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let quoted = amc(
        &emu,
        &bearer,
        "POST",
        "/amc/audiences/metadata",
        metadata_body("\"583000000000001\""),
    )
    .await;
    assert_eq!(quoted.status, 400);
    assert_eq!(
        quoted.json["errors"][0]["fieldLocation"],
        "targetResource.advertiserId"
    );
    let unknown = amc(
        &emu,
        &bearer,
        "POST",
        "/amc/audiences/metadata",
        metadata_body("583000000000999"),
    )
    .await;
    assert_eq!(unknown.status, 403);
    let audience_id = create_audience(&emu, &bearer).await;
    let quoted_id = format!(
        r#"{{"audienceId":"{audience_id}","records":[{}]}}"#,
        record("u", "CREATE")
    );
    assert_eq!(
        amc(&emu, &bearer, "POST", "/amc/audiences/records", quoted_id)
            .await
            .status,
        400
    );
    assert_eq!(
        upload(&emu, &bearer, 1, json!([record("u", "CREATE")]))
            .await
            .status,
        404
    );
    assert_eq!(
        upload(&emu, &bearer, audience_id, json!([])).await.status,
        400
    );
    let missing_job = amc(
        &emu,
        &bearer,
        "GET",
        "/amc/audiences/records/nope",
        String::new(),
    )
    .await;
    assert_eq!(missing_job.status, 404);
}

#[tokio::test]
async fn data_provider_records_must_be_hashed() {
    let emu = start().await;
    let bearer = format!("Bearer {}", emu.access_token().await);
    let mut headers = advertising_headers(&bearer);
    headers.push(("content-type", DP_MEDIA));
    let good = json!({"records": [{"externalId": "u_1", "hashedRecords": [{"email": DIGEST, "postalCode": DIGEST}]}]});
    let answer = emu
        .send("POST", "/dp/records/hashed", &headers, good.to_string())
        .await;
    // hashed-records.json's 200: `{requestId}`.
    assert_eq!(answer.status, 200);
    assert!(answer.json["requestId"].is_string());
    let raw = json!({"records": [{"externalId": "u_1", "hashedRecords": [{"email": "jane@example.com"}]}]});
    let answer = emu
        .send("POST", "/dp/records/hashed", &headers, raw.to_string())
        .await;
    // Refused (hashed-records.json's `Sha256String` pattern): the message names the field,
    // never the value.
    assert_eq!(answer.status, 400);
    let text = answer.json.to_string();
    assert!(text.contains("/records/0/hashedRecords/0/email"), "{text}");
    assert!(!answer.json.to_string().contains("jane"));
    headers.pop();
    headers.push(("content-type", "application/json"));
    assert_eq!(
        emu.send("POST", "/dp/records/hashed", &headers, good.to_string())
            .await
            .status,
        415
    );
}
