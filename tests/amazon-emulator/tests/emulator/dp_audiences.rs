//! Data Provider audiences: metadata, and associating uploaded external ids with them.

use amazon_emulator::{DEMO_CLIENT_ID, DEMO_NUMERIC_ID, DEMO_PROFILE_ID};
use serde_json::{Value, json};

use crate::support::{Answer, DIGEST, Emu, start};

const DP_RECORDS_MEDIA: &str = "application/vnd.dpuploadhashedrecordsrequest.v3+json";

/// Classic-API headers with the demo profile as Scope and JSON content.
fn dp_headers<'a>(bearer: &'a str, scope: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("authorization", bearer),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
        ("amazon-advertising-api-scope", scope),
        ("content-type", "application/json"),
    ]
}

fn metadata(advertiser_id: Value) -> Value {
    json!({
        "name": "cart_abandoners",
        "description": "Visitors who added to cart",
        "advertiserId": advertiser_id,
        "metadata": {"type": "DATA_PROVIDER", "externalAudienceId": "cart-v1", "ttl": 2592000, "dataSourceCountry": ["US"]}
    })
}

fn patch(op: &str, user: &str, audiences: &[u64]) -> Value {
    json!({"op": op, "path": format!("/EXTERNAL_USER_ID-{user}/audiences"), "value": audiences})
}

struct Dp {
    emu: Emu,
    bearer: String,
    scope: String,
}

impl Dp {
    async fn start() -> Self {
        let emu = start().await;
        let bearer = format!("Bearer {}", emu.access_token().await);
        Self {
            emu,
            bearer,
            scope: DEMO_PROFILE_ID.to_string(),
        }
    }

    async fn send(&self, method: &str, path: &str, body: &Value) -> Answer {
        let headers = dp_headers(&self.bearer, &self.scope);
        self.emu
            .send(method, path, &headers, body.to_string())
            .await
    }

    async fn create(&self) -> u64 {
        let answer = self
            .send(
                "POST",
                "/v2/dp/audiencemetadata/",
                &metadata(json!(DEMO_NUMERIC_ID)),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        answer.json["audience"]["id"].as_u64().unwrap()
    }

    async fn upload_records(&self, users: &[&str], with_scope: bool) {
        let records: Vec<Value> = users
            .iter()
            .map(|user| json!({"externalId": user, "hashedRecords": [{"email": DIGEST}]}))
            .collect();
        let mut headers = dp_headers(&self.bearer, &self.scope);
        headers.retain(|(name, _)| {
            *name != "content-type" && (with_scope || *name != "amazon-advertising-api-scope")
        });
        headers.push(("content-type", DP_RECORDS_MEDIA));
        let body = json!({ "records": records }).to_string();
        let answer = self
            .emu
            .send("POST", "/dp/records/hashed", &headers, body)
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
    }

    async fn patch(&self, patches: Value) -> Answer {
        self.send("PATCH", "/v2/dp/audience", &json!({ "patches": patches }))
            .await
    }

    async fn audiences(&self) -> Value {
        self.emu
            .send("GET", "/__emulator/audiences", &[], "")
            .await
            .json
    }
}

#[tokio::test]
async fn uploaded_ids_are_added_to_and_removed_from_an_audience() {
    let dp = Dp::start().await;
    dp.upload_records(&["u_1", "u_2"], true).await;
    let audience = dp.create().await;
    let added = dp
        .patch(json!([
            patch("add", "u_1", &[audience]),
            patch("add", "u_2", &[audience])
        ]))
        .await;
    // data-provider.yaml's 200: `{jobId, requestId}`.
    assert_eq!(added.status, 200);
    assert!(added.json["jobId"].is_string() && added.json["requestId"].is_string());
    let audiences = dp.audiences().await;
    assert_eq!(audiences[0]["kind"], "DATA_PROVIDER");
    assert_eq!(audiences[0]["members"], json!(["u_1", "u_2"]));
    assert_eq!(
        audiences[0]["definition"]["metadata"]["externalAudienceId"],
        "cart-v1"
    );
    dp.patch(json!([patch("remove", "u_1", &[audience])])).await;
    assert_eq!(dp.audiences().await[0]["members"], json!(["u_2"]));
    let log = dp.emu.requests().await;
    let endpoints: Vec<&str> = log
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        [
            "token",
            "dpRecords",
            "dpAudienceMetadata",
            "dpAudience",
            "dpAudience"
        ]
    );
    assert_eq!(log[3]["outcomes"][1]["accepted"], true);
}

#[tokio::test]
async fn a_request_is_taken_whole_or_refused_whole() {
    let dp = Dp::start().await;
    dp.upload_records(&["u_1"], true).await;
    let audience = dp.create().await;
    let amc_like = audience + 1_000;
    let answer = dp
        .patch(json!([
            patch("add", "u_1", &[audience]),
            {"op": "add", "path": "/MAID-abc/audiences", "value": [audience]},
            {"op": "add", "path": "/COOKIE-bad id/audiences", "value": [audience]}
        ]))
        .await;
    assert_eq!(answer.status, 400);
    let errors = answer.json["error"]["errors"].as_array().unwrap();
    let located: Vec<&str> = errors
        .iter()
        .map(|e| e["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(located, ["patches[1].path", "patches[2].path"]);
    assert_eq!(answer.json["error"]["httpStatusCode"], "400");
    assert_eq!(dp.audiences().await[0]["members"], json!([]));
    // What the file itself refuses (an `op` outside its enum) is refused before any handler.
    let answer = dp
        .patch(json!([
            patch("add", "u_1", &[audience]),
            patch("replace", "u_1", &[audience])
        ]))
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("/patches/1/op"),
        "{:?}",
        answer.json
    );
    assert_eq!(dp.audiences().await[0]["members"], json!([]));
    // An audience this grant cannot reach: 404, nothing applied.
    let gone = dp
        .patch(json!([
            patch("add", "u_1", &[audience]),
            patch("add", "u_1", &[audience, amc_like])
        ]))
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json["error"]["errors"][0]["fieldName"],
        "patches[1].value[1]"
    );
    assert_eq!(dp.audiences().await[0]["members"], json!([]));
    // An id never uploaded is taken but joins nothing (only matched records do).
    let answer = dp
        .patch(json!([
            patch("add", "u_1", &[audience]),
            patch("add", "u_never", &[audience])
        ]))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(dp.audiences().await[0]["members"], json!(["u_1"]));
    let log = dp.emu.requests().await;
    let outcomes = &log.last().unwrap()["outcomes"];
    assert_eq!(outcomes[0]["accepted"], true);
}

#[tokio::test]
async fn amc_and_data_provider_audiences_stay_apart() {
    let dp = Dp::start().await;
    dp.upload_records(&["u_1"], false).await;
    let audience = dp.create().await;
    let mut headers = dp_headers(&dp.bearer, &dp.scope);
    headers.pop();
    let amc_get = dp
        .emu
        .send(
            "GET",
            &format!("/amc/audiences/metadata/{audience}"),
            &headers,
            "",
        )
        .await;
    assert_eq!(amc_get.status, 404);
    let amc_body = format!(
        r#"{{"name":"a","countryCode":"US","targetResource":{{"advertiserId":{DEMO_NUMERIC_ID}}}}}"#
    );
    headers.push(("content-type", "application/json"));
    let amc = dp
        .emu
        .send("POST", "/amc/audiences/metadata", &headers, amc_body)
        .await;
    let amc_id = amc.json["audienceId"].as_u64().unwrap();
    assert!(amc_id > audience, "one audience id sequence");
    let answer = dp.patch(json!([patch("add", "u_1", &[amc_id])])).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.json["error"]["errors"][0]["fieldName"],
        "patches[0].value[0]"
    );
    // Records uploaded without a Scope count for every account the grant reaches.
    let answer = dp.patch(json!([patch("add", "u_1", &[audience])])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(dp.audiences().await[0]["members"], json!(["u_1"]));
    let kinds: Vec<Value> = dp
        .audiences()
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].clone())
        .collect();
    assert_eq!(kinds, ["DATA_PROVIDER", "AMC"]);
}

#[tokio::test]
async fn audience_metadata_is_validated_and_scoped() {
    let mut dp = Dp::start().await;
    let number = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &metadata(json!(DEMO_NUMERIC_ID)),
        )
        .await;
    // data-provider.yaml's 200: `{requestId, audience: {id, name, …}}`.
    assert_eq!(number.status, 200);
    assert!(number.json["audience"]["id"].is_u64());
    assert!(number.json["requestId"].is_string());
    assert_eq!(number.json["audience"]["advertiserId"], DEMO_NUMERIC_ID);
    assert_eq!(
        number.json["audience"]["metadata"]["externalAudienceId"],
        "cart-v1"
    );
    // advertiserId is an int64: its digits as a string are refused.
    let text = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &metadata(json!(DEMO_NUMERIC_ID.to_string())),
        )
        .await;
    assert_eq!(text.status, 400);
    assert!(
        text.json["message"]
            .as_str()
            .unwrap()
            .contains("/advertiserId"),
        "{:?}",
        text.json
    );
    // What the file allows and the emulator refuses: a country that is not ISO 3166-1.
    let mut invalid = metadata(json!(DEMO_NUMERIC_ID));
    invalid["metadata"]["dataSourceCountry"] = json!(["UK", "US"]);
    let answer = dp.send("POST", "/v2/dp/audiencemetadata/", &invalid).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json["error"]["errors"][0]["fieldName"],
        "metadata.dataSourceCountry[0]"
    );
    // A ttl over 13 months: the file's maximum.
    let mut long = metadata(json!(DEMO_NUMERIC_ID));
    long["metadata"]["ttl"] = json!(34_300_801);
    let answer = dp.send("POST", "/v2/dp/audiencemetadata/", &long).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("/metadata/ttl")
    );
    // ttl is optional in the schema.
    let mut no_ttl = metadata(json!(DEMO_NUMERIC_ID));
    no_ttl["metadata"].as_object_mut().unwrap().remove("ttl");
    assert_eq!(
        dp.send("POST", "/v2/dp/audiencemetadata/", &no_ttl)
            .await
            .status,
        200
    );
    let stranger = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &metadata(json!(583_000_000_000_999u64)),
        )
        .await;
    assert_eq!(stranger.status, 403);
    let mut headers = dp_headers(&dp.bearer, &dp.scope);
    headers.retain(|(name, _)| *name != "content-type");
    headers.push(("content-type", "application/x-www-form-urlencoded"));
    let media = dp
        .emu
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &headers,
            metadata(json!(1)).to_string(),
        )
        .await;
    assert_eq!(media.status, 415);
    headers.retain(|(name, _)| *name != "amazon-advertising-api-scope" && *name != "content-type");
    headers.push(("content-type", "application/json"));
    let no_scope = dp
        .emu
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &headers,
            metadata(json!(1)).to_string(),
        )
        .await;
    assert_eq!(no_scope.status, 400);
    let no_slash = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata",
            &metadata(json!(DEMO_NUMERIC_ID)),
        )
        .await;
    assert_eq!(no_slash.status, 404);
    dp.scope = "999".to_owned();
    let unreachable = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &metadata(json!(DEMO_NUMERIC_ID)),
        )
        .await;
    assert_eq!(unreachable.status, 403);
}

#[tokio::test]
async fn patch_envelopes_are_checked_synchronously() {
    let dp = Dp::start().await;
    let audience = dp.create().await;
    assert_eq!(dp.patch(json!([])).await.status, 400);
    let unknown = dp
        .send(
            "PATCH",
            "/v2/dp/audience",
            &json!({"patches": [], "dryRun": true}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    // "a maximum of 6MB or 2000 records" (data-provider.yaml): 2,000 go, 2,001 do not.
    let many = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| patch("add", &format!("user_{i:08}"), &[audience]))
            .collect()
    };
    assert_eq!(dp.patch(Value::Array(many(2_000))).await.status, 200);
    let too_many = dp.patch(Value::Array(many(2_001))).await;
    assert_eq!(too_many.status, 413);
    assert_eq!(
        too_many.json["error"]["errors"][0]["errorType"],
        "INPUT_TOO_LARGE"
    );
    let long_id = "u".repeat(128);
    let heavy: Vec<Value> = (0..2_000)
        .map(|_| json!({"op": "add", "path": format!("/EXTERNAL_USER_ID-{long_id}/audiences"), "value": vec![audience; 200]}))
        .collect();
    let too_large = dp.patch(Value::Array(heavy)).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(
        too_large.json["error"]["errors"][0]["errorType"],
        "INPUT_TOO_LARGE"
    );
    let mut headers = dp_headers(&dp.bearer, &dp.scope);
    headers.retain(|(name, _)| *name != "amazon-advertising-api-scope");
    let body = json!({"patches": [patch("add", "u_1", &[audience])]}).to_string();
    let no_scope = dp
        .emu
        .send("PATCH", "/v2/dp/audience", &headers, body.clone())
        .await;
    assert_eq!(no_scope.status, 400);
    headers.retain(|(name, _)| *name != "authorization");
    let anonymous = dp
        .emu
        .send("PATCH", "/v2/dp/audience", &headers, body)
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn request_faults_apply_to_data_provider_audiences() {
    let dp = Dp::start().await;
    dp.emu
        .fault(json!({"endpoint": "dpAudience", "kind": "status", "status": 429, "retryAfter": 3}))
        .await;
    let limited = dp.patch(json!([patch("add", "u_1", &[1])])).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "3");
    dp.emu
        .fault(json!({"endpoint": "dpAudienceMetadata", "kind": "expired_token"}))
        .await;
    let expired = dp
        .send(
            "POST",
            "/v2/dp/audiencemetadata/",
            &metadata(json!(DEMO_NUMERIC_ID)),
        )
        .await;
    assert_eq!(expired.status, 401);
    let still = dp.patch(json!([patch("add", "u_1", &[1])])).await;
    assert_eq!(still.status, 401, "the expired token stays expired");
    let log = dp.emu.requests().await;
    assert_eq!(log[1]["fault"], "status");
    assert_eq!(log[2]["fault"], "expired_token");
}
