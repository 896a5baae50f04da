//! A tiny HTTP client and helpers around a freshly spawned emulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amazon_emulator::{
    Config, DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, Emulator,
    Running,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Every request must finish within this; a hung test is a failed test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The fixed "now" of [`config`].
pub(crate) const NOW: &str = "2026-09-02T12:00:00Z";
/// A SHA-256 hex digest (of a normalized email).
pub(crate) const DIGEST: &str = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";

/// A running emulator (clones share it; it stops when the last clone is dropped).
#[derive(Clone)]
pub(crate) struct Emu {
    addr: SocketAddr,
    _running: Arc<Running>,
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) json: Value,
}

/// The demo configuration with the clock fixed at [`NOW`].
pub(crate) fn config() -> Config {
    let mut config = Config::demo();
    config.now = Some(NOW.to_owned());
    config
}

/// Starts an emulator with [`config`].
pub(crate) async fn start() -> Emu {
    start_with(config()).await
}

/// Starts an emulator with `config`.
pub(crate) async fn start_with(config: Config) -> Emu {
    let running = Emulator::new(config)
        .unwrap()
        .quiet()
        .spawn()
        .await
        .unwrap();
    Emu {
        addr: running.addr,
        _running: Arc::new(running),
    }
}

impl Emu {
    /// Sends one request on a fresh connection; `Err` when the connection broke.
    pub(crate) async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Answer, String> {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .map_err(|e| e.to_string())?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header("host", self.addr.to_string());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request
                .body(Full::new(body.into()))
                .map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok(Answer {
                status,
                headers,
                json,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    /// Sends one request; panics when the connection broke.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        self.try_send(method, path, headers, body).await.unwrap()
    }

    /// POSTs JSON with the given headers (Content-Type added).
    pub(crate) async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Answer {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send("POST", path, &all, body.to_string()).await
    }

    /// POSTs a form to the token endpoint.
    pub(crate) async fn token_request(&self, fields: &[(&str, &str)]) -> Answer {
        let body = form(fields);
        self.send(
            "POST",
            "/auth/o2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        )
        .await
    }

    /// A fresh access token for the demo grant.
    pub(crate) async fn access_token(&self) -> String {
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", DEMO_REFRESH_TOKEN),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", DEMO_CLIENT_SECRET),
            ])
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        answer.json["access_token"].as_str().unwrap().to_owned()
    }

    /// Posts a fault and checks it was taken.
    pub(crate) async fn fault(&self, spec: Value) {
        let answer = self.post_json("/__emulator/faults", &[], &spec).await;
        assert_eq!(answer.status, 201, "{:?}", answer.json);
    }

    /// The request log.
    pub(crate) async fn requests(&self) -> Vec<Value> {
        let answer = self.send("GET", "/__emulator/requests", &[], "").await;
        answer.json.as_array().unwrap().clone()
    }

    /// Sends an Events API request with correct headers and `token`.
    pub(crate) async fn send_events(&self, token: &str, events: Value) -> Answer {
        let bearer = format!("Bearer {token}");
        self.post_json(
            "/adsApi/v1/create/events",
            &ads_headers(&bearer),
            &json!({ "events": events }),
        )
        .await
    }
}

/// The Events API headers for the demo client and advertiser.
pub(crate) fn ads_headers(bearer: &str) -> Vec<(&str, &str)> {
    vec![
        ("authorization", bearer),
        ("amazon-ads-clientid", DEMO_CLIENT_ID),
        ("amazon-ads-accountid", DEMO_ACCOUNT_ID),
    ]
}

/// The classic-API headers for the demo client.
pub(crate) fn advertising_headers(bearer: &str) -> Vec<(&str, &str)> {
    vec![
        ("authorization", bearer),
        ("amazon-advertising-api-clientid", DEMO_CLIENT_ID),
    ]
}

/// `a=b&c=d`, percent-encoded.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// A valid US page view at `time`.
pub(crate) fn page_view(time: &str) -> Value {
    json!({
        "eventDescription": {
            "name": "page_view",
            "conversionType": "PAGE_VIEW",
            "eventSource": "WEBSITE",
            "eventIngestionMethod": "SERVER_TO_SERVER"
        },
        "countryCode": "US",
        "eventTime": time,
        "matchKeys": [{ "type": "EMAIL", "values": [DIGEST] }]
    })
}
