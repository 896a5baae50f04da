//! What the CLI's end-to-end tests share: the strict emulator on a loopback port, the
//! `matchkey` binary pointed at it, its control client (`/__emulator/…`: faults, the
//! request log, consent, campaigns, S3, …) with what the controls answer read into
//! structs, and a scratch directory removed when the test ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use amazon_emulator::{
    Campaign, Config, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, Emulator, FaultKind,
    FaultSpec, Running,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A running emulator and a scratch directory, for one test.
pub(crate) struct Amazon {
    _runtime: tokio::runtime::Runtime,
    pub(crate) running: Running,
    pub(crate) dir: PathBuf,
}

#[allow(dead_code, reason = "each test binary uses part of the support module")]
impl Amazon {
    /// The emulator with `config`, and `$TMP/matchkey-{test}-{pid}`.
    pub(crate) fn start_with(test: &str, config: Config) -> Amazon {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let running = runtime
            .block_on(Emulator::new(config).unwrap().quiet().spawn())
            .unwrap();
        let dir = std::env::temp_dir().join(format!("matchkey-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Amazon {
            _runtime: runtime,
            running,
            dir,
        }
    }

    /// The emulator's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.running.base_url
    }

    /// The emulator's control client.
    pub(crate) fn emulator(&self) -> Control<'_> {
        Control { base: self.base() }
    }

    /// `matchkey`, its Amazon API and Login with Amazon pointed at the emulator, with the
    /// demo client and refresh token; stdin empty.
    pub(crate) fn matchkey(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_matchkey"));
        command
            .env("AMAZON_API_BASE", self.base())
            .env("LWA_TOKEN_URL", format!("{}/auth/o2/token", self.base()))
            .env("LWA_CLIENT_ID", DEMO_CLIENT_ID)
            .env("LWA_CLIENT_SECRET", DEMO_CLIENT_SECRET)
            .env("LWA_REFRESH_TOKEN", DEMO_REFRESH_TOKEN)
            .stdin(Stdio::null());
        command
    }

    /// A Login with Amazon refresh grant for the demo client, as a client outside matchkey
    /// would ask it: the access token, or the status Amazon refused it with.
    pub(crate) fn refresh(&self, refresh_token: &str) -> Result<String, u16> {
        #[derive(Deserialize)]
        struct Grant {
            access_token: String,
        }
        let mut response = agent()
            .post(format!("{}/auth/o2/token", self.base()))
            .send_form([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_CLIENT_SECRET),
            ])
            .unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        let text = response.body_mut().read_to_string().unwrap();
        let grant: Grant = serde_json::from_str(&text).unwrap();
        Ok(grant.access_token)
    }
}

/// The emulator's test controls (`/__emulator/…`: faults, the request log, consent, codes,
/// clock, audiences, DSP campaigns and creatives, S3), one client for every CLI test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control<'a> {
    base: &'a str,
}

/// A body for a control: its content type and bytes.
type Body<'b> = (&'b str, Vec<u8>);

#[allow(dead_code, reason = "each test binary uses part of the support module")]
impl Control<'_> {
    /// `method /__emulator{path}` with an optional JSON body; the JSON answer (`null` for an
    /// empty one). A control that answers an error status panics with it: controls are the
    /// test's own calls.
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(|body| ("application/json", body.to_string().into_bytes()));
        let (status, answer) = self.send(method, path, body);
        assert!(status < 300, "{method} {path}: {status} {answer}");
        answer
    }

    /// `POST /__emulator{path}` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &Value) -> Value {
        self.call("POST", path, Some(body))
    }

    /// [`Self::call`], the answer read as `T`.
    fn read<T: DeserializeOwned>(&self, method: &str, path: &str, body: Option<&Value>) -> T {
        let answer = self.call(method, path, body);
        serde_json::from_value(answer).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// The request log, for one endpoint (`token`, `events`, `dpAudience`, …), in arrival
    /// order.
    pub(crate) fn requests(&self, endpoint: &str) -> Vec<Recorded> {
        self.read("GET", &format!("/requests?endpoint={endpoint}"), None)
    }

    /// How many requests the emulator received for `endpoint`.
    pub(crate) fn calls(&self, endpoint: &str) -> usize {
        self.requests(endpoint).len()
    }

    /// The whole request log as the emulator answers it, for checks over its text.
    pub(crate) fn log_text(&self) -> String {
        self.call("GET", "/requests", None).to_string()
    }

    /// Arms a fault (`POST /__emulator/faults`, answered 201).
    pub(crate) fn fault(&self, spec: &FaultSpec) {
        let body = serde_json::to_vec(spec).unwrap();
        let (status, answer) = self.send("POST", "/faults", Some(("application/json", body)));
        assert_eq!(status, 201, "POST /faults: {answer}");
    }

    /// Back to the emulator's start (`POST /__emulator/reset`): its clock, grants and
    /// campaigns as configured; no request, fault, audience, upload, object or creative.
    pub(crate) fn reset(&self) {
        self.call("POST", "/reset", None);
    }

    /// Revokes a refresh token: its next grant is `invalid_grant`.
    pub(crate) fn revoke(&self, refresh_token: &str) {
        self.post("/revoke", &json!({ "refreshToken": refresh_token }));
    }

    /// What the user does on the next consent pages: allow (for `accounts` only, or all
    /// when `None`) or deny.
    pub(crate) fn consent(&self, approve: bool, accounts: Option<&[&str]>) {
        let body = match accounts {
            Some(accounts) => json!({ "approve": approve, "accounts": accounts }),
            None => json!({ "approve": approve }),
        };
        self.post("/authorize", &body);
    }

    /// Expires every authorization code issued so far; how many there were.
    pub(crate) fn expire_codes(&self) -> u64 {
        #[derive(Deserialize)]
        struct Expired {
            expired: u64,
        }
        let Expired { expired } = self.read("POST", "/codes/expire", None);
        expired
    }

    /// The AMC and Data Provider audiences the emulator holds.
    pub(crate) fn audiences(&self) -> Vec<Audience> {
        self.read("GET", "/audiences", None)
    }

    /// Puts `bytes` into the emulated S3 as `bucket/key`.
    pub(crate) fn put_object(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        let path = format!("/s3/{bucket}/{key}");
        let (status, answer) = self.send("PUT", &path, Some(("application/octet-stream", bytes)));
        assert_eq!(status, 200, "PUT {path}: {answer}");
    }

    /// Replaces a DSP advertiser's campaigns (with their ad groups and targets).
    pub(crate) fn put_campaigns(&self, account: &str, campaigns: &[Campaign]) {
        let body = json!({ "campaigns": campaigns });
        self.call("PUT", &format!("/dsp/{account}"), Some(&body));
    }

    /// A DSP advertiser's creatives and associations.
    pub(crate) fn creatives(&self, account: &str) -> DspCreatives {
        self.read("GET", &format!("/dsp/{account}/creatives"), None)
    }

    /// Amazon's reviewers move creatives' moderation to `status`, with `reasons`.
    pub(crate) fn moderate(&self, account: &str, ids: &[&str], status: &str, reasons: &[&str]) {
        let body = json!({ "adCreativeIds": ids, "status": status, "reasons": reasons });
        self.post(&format!("/dsp/{account}/moderation"), &body);
    }

    /// `method /__emulator{path}`: the status and the JSON answer (`null` if not JSON).
    fn send(&self, method: &str, path: &str, body: Option<Body<'_>>) -> (u16, Value) {
        let url = format!("{}/__emulator{path}", self.base);
        let request = ureq::http::Request::builder().method(method).uri(&url);
        let response = match body {
            Some((content_type, bytes)) => agent().run(
                request
                    .header("content-type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
            None => agent().run(request.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A fault of `kind` on `endpoint`, for the next request; the other fields by struct update
/// (`FaultSpec { count: 2, ..fault(…) }`).
#[allow(dead_code, reason = "each test binary uses part of the support module")]
pub(crate) fn fault(endpoint: &str, kind: FaultKind) -> FaultSpec {
    FaultSpec {
        endpoint: endpoint.to_owned(),
        kind,
        status: None,
        retry_after: None,
        count: 1,
        delay_ms: None,
        polls: None,
    }
}

/// The next request to `endpoint` answered `status`.
#[allow(dead_code, reason = "each test binary uses part of the support module")]
pub(crate) fn status_fault(endpoint: &str, status: u16) -> FaultSpec {
    FaultSpec {
        status: Some(status),
        ..fault(endpoint, FaultKind::Status)
    }
}

/// The next `count` requests to `endpoint` wait `delay_ms` before they are handled.
#[allow(dead_code, reason = "each test binary uses part of the support module")]
pub(crate) fn slow(endpoint: &str, delay_ms: u64, count: u32) -> FaultSpec {
    FaultSpec {
        delay_ms: Some(delay_ms),
        count,
        ..fault(endpoint, FaultKind::Slow)
    }
}

/// One request as the emulator recorded it (`GET /__emulator/requests`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "each test binary reads part of it")]
pub(crate) struct Recorded {
    /// 1-based arrival number.
    pub(crate) seq: u64,
    /// The endpoint's name (the names faults take).
    pub(crate) endpoint: String,
    pub(crate) method: String,
    /// As requested, with any region prefix, without the query.
    pub(crate) path: String,
    /// `NA`, `EU` or `FE` for a region-prefixed path.
    #[serde(default)]
    pub(crate) region: Option<String>,
    /// The status answered; `None` when the connection was dropped.
    pub(crate) status: Option<u16>,
    /// The fault that shaped the answer.
    #[serde(default)]
    pub(crate) fault: Option<FaultKind>,
    /// Selected request headers (`Authorization` redacted).
    pub(crate) headers: BTreeMap<String, String>,
    /// The request's body as parsed (JSON, or a form with secrets redacted); `null` when
    /// empty. Amazon's payloads, read as the test needs them.
    pub(crate) body: Value,
}

/// An audience the emulator holds (`GET /__emulator/audiences`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "each test binary reads part of it")]
pub(crate) struct Audience {
    pub(crate) audience_id: u64,
    /// `AMC` or `DATA_PROVIDER`.
    pub(crate) kind: String,
    pub(crate) account_id: String,
    /// External user ids in the audience.
    pub(crate) members: Vec<String>,
    /// Cookie ids in a Data Provider audience.
    pub(crate) cookie_members: Vec<String>,
    pub(crate) received_records: u64,
}

/// A DSP advertiser's creatives and associations (`GET /__emulator/dsp/{id}/creatives`).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code, reason = "each test binary reads part of it")]
pub(crate) struct DspCreatives {
    pub(crate) creatives: Vec<Creative>,
    pub(crate) associations: Vec<Association>,
}

/// A creative as the emulator stores it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "each test binary reads part of it")]
pub(crate) struct Creative {
    pub(crate) ad_creative_id: String,
    pub(crate) name: String,
    pub(crate) language: String,
    pub(crate) country: String,
    pub(crate) tag_type: String,
    pub(crate) tag_source: String,
    pub(crate) creative_sizes: Vec<(u64, u64)>,
    pub(crate) tracking_urls: Vec<Tracker>,
    /// Set by `PUT /dsp/v1/adExperiences`.
    pub(crate) ad_experience: Option<String>,
    /// `None` until first associated.
    pub(crate) moderation_status: Option<String>,
    pub(crate) reasons: Vec<String>,
    /// 1 when created, +1 per update.
    pub(crate) version: u32,
}

/// One of a creative's `trackingUrls`, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Tracker {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) associated_ad_experience: Option<String>,
}

/// An association of a creative with an ad group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "each test binary reads part of it")]
pub(crate) struct Association {
    pub(crate) ad_creative_id: String,
    pub(crate) ad_group_id: String,
    pub(crate) weight: Option<i64>,
    pub(crate) state: String,
}

/// The tests' own HTTP client (the controls, the browser, calls made outside matchkey): no
/// redirects followed, error statuses returned, never hung.
#[allow(dead_code, reason = "each test binary uses part of the support module")]
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

impl Drop for Amazon {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
