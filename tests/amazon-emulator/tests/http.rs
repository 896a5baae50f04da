//! The emulator over real HTTP on 127.0.0.1: authentication, every endpoint's accepted
//! and rejected requests, each fault kind, and the controls.

use std::time::{Duration, Instant};

use amazon_emulator::{Config, Emulator, serve};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";
const CLIENT: &str = amazon_emulator::config::DEMO_CLIENT_ID;
const ADVERTISER: &str = "583000000000001";

struct Running {
    base: String,
    http: Client,
}

async fn start() -> Running {
    start_with(Config::default()).await
}

async fn start_with(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let now = time::OffsetDateTime::parse(
        "2026-09-10T12:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    tokio::spawn(serve(listener, Emulator::new(config, Some(now))));
    Running {
        base,
        http: Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token_with(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/auth/o2/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn token(&self) -> String {
        let (status, body) = self
            .token_with(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", amazon_emulator::config::DEMO_REFRESH_TOKEN),
                ("client_id", CLIENT),
                ("client_secret", amazon_emulator::config::DEMO_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn post_events(&self, token: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/adsApi/v1/create/events"))
            .bearer_auth(token)
            .header("Amazon-Ads-ClientId", CLIENT)
            .header("Amazon-Ads-AccountId", ADVERTISER)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
        r.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn event(email_hash: &str) -> Value {
    json!({
        "eventDescription": {"name": "purchase", "conversionType": "OFF_AMAZON_PURCHASES",
            "eventSource": "WEBSITE", "eventIngestionMethod": "SERVER_TO_SERVER"},
        "countryCode": "US", "eventTime": "2026-09-10T11:00:00Z", "eventId": "o1",
        "value": 10.5, "currencyCode": "USD", "unitsSold": 1,
        "matchKeys": [{"type": "EMAIL", "values": [email_hash]}]
    })
}

#[tokio::test]
async fn lwa_issues_tokens_and_refuses_like_lwa() {
    let emu = start().await;
    let token = emu.token().await;
    assert!(token.starts_with("Atza|"));
    let secret = amazon_emulator::config::DEMO_CLIENT_SECRET;
    let refresh = amazon_emulator::config::DEMO_REFRESH_TOKEN;
    let (status, body) = emu
        .token_with(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", CLIENT),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    let (status, body) = emu
        .token_with(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "Atzr|nope"),
            ("client_id", CLIENT),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    emu.control("/__emulator/revoke", json!({"refreshToken": refresh}))
        .await;
    let (_, body) = emu
        .token_with(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", CLIENT),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(body["error"], "invalid_grant");
    // The authorization code works once.
    let code = [
        ("grant_type", "authorization_code"),
        ("code", "matchkey-demo-code"),
        ("client_id", CLIENT),
        ("client_secret", secret),
    ];
    assert_eq!(emu.token_with(&code).await.0, StatusCode::OK);
    assert_eq!(emu.token_with(&code).await.1["error"], "invalid_grant");
    // Secrets never reach the request log.
    let log = emu.get("/__emulator/requests").await.to_string();
    assert!(!log.contains(secret) && !log.contains(refresh) && !log.contains(&token));
}

#[tokio::test]
async fn events_answer_207_per_event_with_zero_based_indexes() {
    let emu = start().await;
    let token = emu.token().await;
    let body = json!({"events": [event(HASH), event("abc@example.com"), event(HASH)]});
    let (status, answer) = emu.post_events(&token, &body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let ok: Vec<_> = answer["success"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(ok, [0, 2]);
    assert_eq!(answer["error"][0]["index"], 1);
    assert_eq!(
        answer["error"][0]["errors"][0]["fieldLocation"],
        "events[1].matchKeys[0].values[0]"
    );
    assert!(
        !answer.to_string().contains("abc@example.com")
            || answer["error"][0]["errors"]
                .to_string()
                .find("abc")
                .is_none()
    );
    let accepted = emu.get("/__emulator/events").await;
    assert_eq!(accepted["events"].as_array().unwrap().len(), 2);
    assert_eq!(accepted["events"][0]["advertiserId"], ADVERTISER);
    let log = emu.get("/__emulator/requests").await;
    let outcomes = &log["requests"].as_array().unwrap().last().unwrap()["outcomes"];
    assert_eq!(outcomes[1]["accepted"], false);
}

#[tokio::test]
async fn events_check_headers_size_and_count() {
    let emu = start().await;
    let token = emu.token().await;
    let one = json!({"events": [event(HASH)]});
    let send = |auth: Option<&str>,
                client: Option<&str>,
                account: Option<&str>,
                ctype: &str,
                body: String| {
        let mut r = emu
            .http
            .post(emu.url("/adsApi/v1/create/events"))
            .header("content-type", ctype)
            .body(body);
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        if let Some(c) = client {
            r = r.header("Amazon-Ads-ClientId", c);
        }
        if let Some(a) = account {
            r = r.header("Amazon-Ads-AccountId", a);
        }
        async move { r.send().await.unwrap().status() }
    };
    let j = "application/json";
    assert_eq!(
        send(None, Some(CLIENT), Some(ADVERTISER), j, one.to_string()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(
            Some("Atza|forged"),
            Some(CLIENT),
            Some(ADVERTISER),
            j,
            one.to_string()
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(Some(&token), None, Some(ADVERTISER), j, one.to_string()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            Some(&token),
            Some("other"),
            Some(ADVERTISER),
            j,
            one.to_string()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(Some(&token), Some(CLIENT), Some("999"), j, one.to_string()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(Some(&token), Some(CLIENT), None, j, one.to_string()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            Some(&token),
            Some(CLIENT),
            Some(ADVERTISER),
            "text/plain",
            one.to_string()
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send(Some(&token), Some(CLIENT), Some(ADVERTISER), j, "{".into()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            Some(&token),
            Some(CLIENT),
            Some(ADVERTISER),
            j,
            json!({"events": []}).to_string()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let many = json!({"events": vec![event(HASH); 501]});
    assert_eq!(
        send(
            Some(&token),
            Some(CLIENT),
            Some(ADVERTISER),
            j,
            many.to_string()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let big = json!({"events": [event(HASH)], "pad": "x".repeat(1_100_000)});
    assert_eq!(
        send(
            Some(&token),
            Some(CLIENT),
            Some(ADVERTISER),
            j,
            big.to_string()
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let full = json!({"events": vec![event(HASH); 500]});
    assert_eq!(
        send(
            Some(&token),
            Some(CLIENT),
            Some(ADVERTISER),
            j,
            full.to_string()
        )
        .await,
        StatusCode::MULTI_STATUS
    );
}

#[tokio::test]
async fn access_tokens_expire() {
    let config = Config {
        token_ttl_secs: 60,
        ..Config::default()
    };
    let emu = start_with(config).await;
    let token = emu.token().await;
    assert_eq!(
        emu.post_events(&token, &json!({"events": [event(HASH)]}))
            .await
            .0,
        StatusCode::MULTI_STATUS
    );
    emu.control("/__emulator/clock", json!({"now": "2026-09-10T12:01:01Z"}))
        .await;
    let (status, body) = emu
        .post_events(&token, &json!({"events": [event(HASH)]}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
}

#[tokio::test]
async fn faults_status_retry_after_expired_slow_and_drop() {
    let emu = start().await;
    let token = emu.token().await;
    let body = json!({"events": [event(HASH)]});
    emu.control(
        "/__emulator/faults",
        json!({"endpoint": "events", "kind": "status", "status": 429, "retryAfter": 2, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let r = emu
            .http
            .post(emu.url("/adsApi/v1/create/events"))
            .bearer_auth(&token)
            .header("Amazon-Ads-ClientId", CLIENT)
            .header("Amazon-Ads-AccountId", ADVERTISER)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "2");
    }
    assert_eq!(
        emu.post_events(&token, &body).await.0,
        StatusCode::MULTI_STATUS
    );
    for status in [500u16, 503] {
        emu.control(
            "/__emulator/faults",
            json!({"endpoint": "events", "kind": "status", "status": status}),
        )
        .await;
        assert_eq!(emu.post_events(&token, &body).await.0.as_u16(), status);
    }
    emu.control(
        "/__emulator/faults",
        json!({"endpoint": "events", "kind": "expired_token"}),
    )
    .await;
    assert_eq!(
        emu.post_events(&token, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    emu.control(
        "/__emulator/faults",
        json!({"endpoint": "events", "kind": "slow", "delayMs": 300}),
    )
    .await;
    let start = Instant::now();
    assert_eq!(
        emu.post_events(&token, &body).await.0,
        StatusCode::MULTI_STATUS
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    emu.control(
        "/__emulator/faults",
        json!({"endpoint": "events", "kind": "drop"}),
    )
    .await;
    let dropped = emu
        .http
        .post(emu.url("/adsApi/v1/create/events"))
        .bearer_auth(&token)
        .header("Amazon-Ads-ClientId", CLIENT)
        .header("Amazon-Ads-AccountId", ADVERTISER)
        .json(&body)
        .send()
        .await;
    assert!(dropped.is_err(), "a dropped connection gives no response");
    // Faults on another endpoint leave events alone; the token endpoint can fail too.
    emu.control(
        "/__emulator/faults",
        json!({"endpoint": "token", "kind": "status", "status": 503}),
    )
    .await;
    assert_eq!(
        emu.post_events(&token, &body).await.0,
        StatusCode::MULTI_STATUS
    );
    let r = emu
        .http
        .post(emu.url("/auth/o2/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bad = emu
        .http
        .post(emu.url("/__emulator/faults"))
        .json(&json!({"kind": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn legacy_dsp_import_needs_scope_and_answers_one_based() {
    let emu = start().await;
    let token = emu.token().await;
    let item = |ts: &str| {
        json!({"conversionDefinitionId": "591", "name": "Website purchase", "countryCode": "US",
        "timestamp": ts, "matchKeys": [{"type": "EMAIL", "values": [HASH]}]})
    };
    let body = json!({"source": "SERVER_TO_SERVER", "eventData": [item("2026-09-09T00:00:00Z"), item("2026-08-01T00:00:00Z")]});
    let send = |scope: &'static str| {
        emu.http
            .post(emu.url(&format!(
                "/accounts/{ADVERTISER}/dsp/conversionDefinitions/eventData"
            )))
            .bearer_auth(&token)
            .header("Amazon-Advertising-API-ClientId", CLIENT)
            .header("Amazon-Advertising-API-Scope", scope)
            .header(
                "content-type",
                "application/vnd.dspconversioneventimport.v1+json",
            )
            .body(body.to_string())
            .send()
    };
    assert_eq!(send("1").await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = send("3333333333").await.unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["success"][0]["index"], 1);
    assert_eq!(answer["error"][0]["index"], 2);
    assert_eq!(
        answer["error"][0]["errors"][0]["fieldName"],
        "eventData[2].timestamp"
    );
}

#[tokio::test]
async fn amc_audience_flow_with_jobs_and_members() {
    let emu = start().await;
    let token = emu.token().await;
    let post = |path: &str, body: Value| {
        emu.http
            .post(emu.url(path))
            .bearer_auth(&token)
            .header("Amazon-Advertising-API-ClientId", CLIENT)
            .header("content-type", "application/vnd.amcaudiences.v1+json")
            .body(body.to_string())
            .send()
    };
    let created: Value = post("/amc/audiences/metadata", json!({"name": "matchkey_buyers_1", "description": "d", "countryCode": "US",
        "targetResource": {"advertiserId": 583000000000001u64}, "metadata": {"externalAudienceId": "buyers", "ttl": 2592000}}))
        .await.unwrap().json().await.unwrap();
    let audience_id = created["audienceId"].as_u64().unwrap();
    let bad_ttl = post("/amc/audiences/metadata", json!({"name": "x", "countryCode": "US", "targetResource": {"advertiserId": 583000000000001u64},
        "metadata": {"ttl": 99_999_999}})).await.unwrap();
    assert_eq!(bad_ttl.status(), StatusCode::BAD_REQUEST);
    let record = |id: &str, action: &str| json!({"externalUserId": id, "countryCode": "US", "action": action, "hashedPII": [{"email": HASH}]});
    let r = post("/amc/audiences/records", json!({"audienceId": audience_id, "records": [record("u1", "CREATE"), record("u2", "CREATE")]})).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job: Value = r.json().await.unwrap();
    let job_path = format!(
        "/amc/audiences/records/{}",
        job["jobRequestId"].as_str().unwrap()
    );
    let poll = || emu.http.get(emu.url(&job_path)).bearer_auth(&token).send();
    let first: Value = poll().await.unwrap().json().await.unwrap();
    assert_eq!(first["status"], "PENDING");
    let second: Value = poll().await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            second["status"].as_str(),
            second["processedRecordCount"].as_u64()
        ),
        (Some("SUCCEEDED"), Some(2))
    );
    post(
        "/amc/audiences/records",
        json!({"audienceId": audience_id, "records": [record("u1", "DELETE")]}),
    )
    .await
    .unwrap();
    let audiences = emu.get("/__emulator/audiences").await;
    assert_eq!(audiences["audiences"][0]["members"], json!(["u2"]));
    // A raw value fails its record; a requested failure fails the whole job.
    emu.control("/__emulator/jobs/fail", json!({"count": 1}))
        .await;
    let job: Value = post(
        "/amc/audiences/records",
        json!({"audienceId": audience_id, "records": [record("u3", "CREATE")]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let path = format!(
        "/amc/audiences/records/{}",
        job["jobRequestId"].as_str().unwrap()
    );
    emu.http
        .get(emu.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let done: Value = emu
        .http
        .get(emu.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "FAILED");
    let mut raw = record("u4", "CREATE");
    raw["hashedPII"][0]["email"] = json!("abc@example.com");
    let job: Value = post(
        "/amc/audiences/records",
        json!({"audienceId": audience_id, "records": [raw, record("u5", "CREATE")]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let path = format!(
        "/amc/audiences/records/{}",
        job["jobRequestId"].as_str().unwrap()
    );
    emu.http
        .get(emu.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let partial: Value = emu
        .http
        .get(emu.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            partial["status"].as_str(),
            partial["failedRecordCount"].as_u64()
        ),
        (Some("PARTIALLYSUCCEEDED"), Some(1))
    );
}

#[tokio::test]
async fn data_provider_records_profiles_accounts_and_reset() {
    let emu = start().await;
    let token = emu.token().await;
    let dp = |records: Value| {
        emu.http
            .post(emu.url("/dp/records/hashed"))
            .bearer_auth(&token)
            .header("Amazon-Advertising-API-ClientId", CLIENT)
            .header(
                "content-type",
                "application/vnd.dpuploadhashedrecordsrequest.v3+json",
            )
            .body(json!({"records": records}).to_string())
            .send()
    };
    assert_eq!(
        dp(json!([{"externalId": "u_1", "hashedRecords": [{"email": HASH}]}]))
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        dp(json!([{"externalId": "u_1", "hashedRecords": [{"email": "a@b.c"}]}]))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let profiles: Value = emu
        .http
        .get(emu.url("/v2/profiles"))
        .bearer_auth(&token)
        .header("Amazon-Advertising-API-ClientId", CLIENT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profiles[0]["accountInfo"]["id"], ADVERTISER);
    let accounts: Value = emu
        .http
        .post(emu.url("/adsApi/v1/query/advertiserAccounts"))
        .bearer_auth(&token)
        .header("Amazon-Ads-ClientId", CLIENT)
        .json(&json!({"maxResults": 100}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        accounts["advertiserAccounts"][0]["alternateIds"][0]["dspAdvertiserId"],
        ADVERTISER
    );
    assert!(
        !emu.get("/__emulator/requests").await["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    emu.control("/__emulator/reset", json!({})).await;
    assert!(
        emu.get("/__emulator/requests").await["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Tokens are gone after a reset, like a restart.
    assert_eq!(
        emu.post_events(&token, &json!({"events": [event(HASH)]}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn the_binary_starts_fast_and_prints_its_port() {
    use std::io::{BufRead, BufReader};
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_amazon-emulator"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let elapsed = start.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        line.starts_with("amazon-emulator listening on http://127.0.0.1:") && port > 0,
        "{line}"
    );
    assert!(elapsed < Duration::from_secs(1), "started in {elapsed:?}");
}
