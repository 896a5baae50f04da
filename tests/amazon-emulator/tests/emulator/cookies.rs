//! Cookie matching (`GET /ecm3`, `GET /s/ecm3`), cookie members of Data Provider audiences
//! (`/COOKIE-<id>/audiences`) and erasure (`PATCH /v2/dp/users`).

use amazon_emulator::{DEMO_CLIENT_ID, DEMO_NUMERIC_ID, DEMO_PROFILE_ID};
use serde_json::{Value, json};

use crate::support::{Answer, DIGEST, Emu, start};

const VID: &str = "0123456789abcdef0123456789abcdef";
const VID2: &str = "3b241101-e2bb-4255-8caf-4136c566a962";

struct Dp {
    emu: Emu,
    bearer: String,
}

impl Dp {
    async fn start() -> Self {
        let emu = start().await;
        let bearer = format!("Bearer {}", emu.access_token().await);
        Self { emu, bearer }
    }

    async fn send(&self, method: &str, path: &str, content_type: &str, body: &Value) -> Answer {
        let scope = DEMO_PROFILE_ID.to_string();
        let headers = [
            ("authorization", self.bearer.as_str()),
            ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
            ("amazon-advertising-api-scope", scope.as_str()),
            ("content-type", content_type),
        ];
        self.emu
            .send(method, path, &headers, body.to_string())
            .await
    }

    async fn create(&self) -> u64 {
        let body = json!({
            "name": "visitors", "description": "d", "advertiserId": DEMO_NUMERIC_ID,
            "metadata": {"type": "DATA_PROVIDER", "externalAudienceId": "v1", "ttl": 2592000, "dataSourceCountry": ["US"]}
        });
        let answer = self
            .send(
                "POST",
                "/v2/dp/audiencemetadata/",
                "application/json",
                &body,
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        answer.json["audience"]["id"].as_u64().unwrap()
    }

    async fn patch(&self, patches: Value) -> Answer {
        self.send(
            "PATCH",
            "/v2/dp/audience",
            "application/json",
            &json!({ "patches": patches }),
        )
        .await
    }

    async fn erase(&self, users: Value) -> Answer {
        self.send(
            "PATCH",
            "/v2/dp/users",
            "application/json",
            &json!({ "users": users, "operation": "DELETE" }),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        self.emu.send("GET", path, &[], "").await.json
    }
}

fn cookie(op: &str, id: &str, audience: u64) -> Value {
    json!({"op": op, "path": format!("/COOKIE-{id}/audiences"), "value": [audience]})
}

#[tokio::test]
async fn matching_requests_are_recorded_and_need_consent_where_gdpr_applies() {
    let dp = Dp::start().await;
    let ok = dp
        .emu
        .send("GET", &format!("/ecm3?ex=partner1&id={VID}"), &[], "")
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["content-type"], "image/gif");
    let eu = dp
        .emu
        .send(
            "GET",
            &format!("/s/ecm3?ex=partner1&id={VID2}&gdpr=1&gdpr_consent=CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"),
            &[],
            "",
        )
        .await;
    assert_eq!(eu.status, 200);
    for query in [
        format!("ex=partner1&id={VID}&gdpr=1"),
        format!("ex=partner1&id={VID}&gdpr=1&gdpr_consent="),
        format!("ex=partner1&id={VID}&gdpr=yes&gdpr_consent=CP"),
        format!("id={VID}"),
        "ex=partner1".to_owned(),
        "ex=partner1&id=jane%40example.com".to_owned(),
    ] {
        let refused = dp.emu.send("GET", &format!("/ecm3?{query}"), &[], "").await;
        assert_eq!(refused.status, 400, "{query}");
    }
    let matches = dp.get("/__emulator/matches").await;
    let matches = matches.as_array().unwrap();
    assert_eq!(matches.len(), 8);
    assert_eq!(matches[0]["accepted"], true);
    assert_eq!(matches[0]["partnerCode"], "partner1");
    assert_eq!(matches[0]["visitorId"], VID);
    assert_eq!(matches[0]["path"], "/ecm3");
    assert_eq!(matches[1]["path"], "/s/ecm3");
    assert_eq!(matches[1]["gdpr"], "1");
    assert!(
        matches[2..]
            .iter()
            .all(|m| m["accepted"] == false && m["refused"].is_string())
    );
    let log = dp.emu.requests().await;
    assert!(log.iter().any(|r| r["endpoint"] == "cookieMatch"));
}

#[tokio::test]
async fn cookies_join_and_leave_data_provider_audiences_apart_from_external_ids() {
    let dp = Dp::start().await;
    let audience = dp.create().await;
    // A request is taken whole or refused whole (data-provider.yaml: 200 or 400).
    let refused = dp
        .patch(json!([
            cookie("add", VID, audience),
            cookie("add", "bad id", audience),
            {"op": "add", "path": "/MAID-abc/audiences", "value": [audience]},
        ]))
        .await;
    assert_eq!(refused.status, 400);
    let located: Vec<&str> = refused.json["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(located, ["patches[1].path", "patches[2].path"]);
    assert_eq!(
        refused.json["error"]["errors"][0]["errorType"],
        "INVALID_INPUT"
    );
    assert_eq!(
        dp.get("/__emulator/audiences").await[0]["cookieMembers"],
        json!([])
    );
    let answer = dp
        .patch(json!([
            cookie("add", VID, audience),
            cookie("add", VID2, audience),
        ]))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.json["jobId"].is_string() && answer.json["requestId"].is_string());
    let audiences = dp.get("/__emulator/audiences").await;
    assert_eq!(audiences[0]["cookieMembers"], json!([VID, VID2]));
    assert_eq!(audiences[0]["members"], json!([]));
    dp.patch(json!([cookie("remove", VID, audience)])).await;
    let audiences = dp.get("/__emulator/audiences").await;
    assert_eq!(audiences[0]["cookieMembers"], json!([VID2]));
}

#[tokio::test]
async fn erased_users_are_recorded_and_leave_every_audience() {
    let dp = Dp::start().await;
    let records =
        json!({"records": [{"externalId": "mk_1", "hashedRecords": [{"email": DIGEST}]}]});
    let uploaded = dp
        .send(
            "POST",
            "/dp/records/hashed",
            "application/vnd.dpuploadhashedrecordsrequest.v3+json",
            &records,
        )
        .await;
    // hashed-records.json: 200 `{requestId}`.
    assert_eq!(uploaded.status, 200);
    assert!(uploaded.json["requestId"].is_string());
    let (a, b) = (dp.create().await, dp.create().await);
    let ext =
        |aud| json!({"op": "add", "path": "/EXTERNAL_USER_ID-mk_1/audiences", "value": [aud]});
    dp.patch(json!([
        cookie("add", VID, a),
        cookie("add", VID, b),
        cookie("add", VID2, a),
        ext(a),
        ext(b)
    ]))
    .await;
    let advertiser = DEMO_NUMERIC_ID.to_string();
    // Refused whole: a type the schema does not list, an advertiser of another account.
    let refused = dp
        .erase(json!([
            {"userId": {"type": "COOKIE", "value": VID}, "advertiserId": advertiser},
            {"userId": {"type": "EMAIL", "value": "x"}, "advertiserId": advertiser},
            {"userId": [{"type": "COOKIE", "id": VID2}], "advertiserId": "999"},
        ]))
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.json);
    let located: Vec<&str> = refused.json["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(located, ["users[1].userId.type", "users[2].advertiserId"]);
    assert_eq!(dp.get("/__emulator/erasures").await, json!([]));
    // Both documented forms: the OpenAPI schema's and the guide page's.
    let answer = dp
        .erase(json!([
            {"userId": {"type": "COOKIE", "value": VID}, "advertiserId": advertiser, "consentTime": 1_581_557_890_000u64},
            {"userId": [{"type": "EXTERNAL_USER_ID", "id": "mk_1"}], "advertiserId": DEMO_NUMERIC_ID, "consentTime": 1000},
        ]))
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.json);
    assert!(answer.json["requestId"].is_string());
    let audiences = dp.get("/__emulator/audiences").await;
    assert_eq!(audiences[0]["cookieMembers"], json!([VID2]));
    assert_eq!(audiences[0]["members"], json!([]));
    assert_eq!(audiences[1]["cookieMembers"], json!([]));
    assert_eq!(audiences[1]["members"], json!([]));
    let erasures = dp.get("/__emulator/erasures").await;
    let erased: Vec<(&str, &str)> = erasures
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(erased, [("COOKIE", VID), ("EXTERNAL_USER_ID", "mk_1")]);
    let forms: Vec<&str> = erasures
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["form"].as_str().unwrap())
        .collect();
    assert_eq!(forms, ["openapi", "guide"]);
    assert_eq!(erasures[0]["consentTime"], 1_581_557_890_000u64);
    // An erased external id must be uploaded again before it joins an audience: taken,
    // but not matched.
    let again = dp.patch(json!([ext(a)])).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        dp.get("/__emulator/audiences").await[0]["members"],
        json!([])
    );
    // The limits: 1,000 users (413 INPUT_TOO_LARGE), and operation is DELETE.
    let many: Vec<Value> = (0..1_001)
        .map(|i| json!({"userId": {"type": "COOKIE", "value": format!("{i:032x}")}}))
        .collect();
    let too_many = dp.erase(Value::Array(many)).await;
    assert_eq!(too_many.status, 413);
    assert_eq!(
        too_many.json["error"]["errors"][0]["errorType"],
        "INPUT_TOO_LARGE"
    );
    let wrong_op = dp
        .send(
            "PATCH",
            "/v2/dp/users",
            "application/json",
            &json!({"users": [{"userId": {"type": "COOKIE", "value": VID}}], "operation": "UPDATE"}),
        )
        .await;
    assert_eq!(wrong_op.status, 400);
    // Strict shape: no users, unknown fields, the wrong media type.
    assert_eq!(dp.erase(json!([])).await.status, 400);
    let extra = dp
        .send(
            "PATCH",
            "/v2/dp/users",
            "application/json",
            &json!({"users": [], "x": 1}),
        )
        .await;
    assert_eq!(extra.status, 400);
    let media = dp
        .send("PATCH", "/v2/dp/users", "text/plain", &json!({"users": []}))
        .await;
    assert_eq!(media.status, 415);
}
