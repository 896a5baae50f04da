//! What the CLI's end-to-end tests share: the strict emulator on a loopback port, its
//! control client (`/__emulator/…`: faults, the request log, consent, …), and a scratch
//! directory removed when the test ends.

use std::path::PathBuf;
use std::time::Duration;

use amazon_emulator::{Config, Emulator, Running};
use serde_json::Value;

/// A running emulator and a scratch directory, for one test.
pub(crate) struct Amazon {
    _runtime: tokio::runtime::Runtime,
    pub(crate) running: Running,
    pub(crate) dir: PathBuf,
}

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
    #[allow(dead_code, reason = "each test binary uses part of the support module")]
    pub(crate) fn emulator(&self) -> Control<'_> {
        Control { base: self.base() }
    }
}

/// The emulator's test controls (`/__emulator/…`: faults, the request log, consent, codes,
/// clock, S3), one client for every CLI test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control<'a> {
    base: &'a str,
}

#[allow(dead_code, reason = "each test binary uses part of the support module")]
impl Control<'_> {
    /// `method /__emulator{path}` with an optional JSON body; the JSON answer (`null` for an
    /// empty one). A control that answers an error status panics with it: controls are the
    /// test's own calls.
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}/__emulator{path}", self.base);
        let request = ureq::http::Request::builder().method(method).uri(&url);
        let response = match body {
            Some(body) => agent().run(
                request
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .unwrap(),
            ),
            None => agent().run(request.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap();
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `POST /__emulator{path}` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &Value) -> Value {
        self.call("POST", path, Some(body))
    }

    /// The request log, for one endpoint (`token`, `events`, `dpAudience`, …).
    pub(crate) fn requests(&self, endpoint: &str) -> Vec<Value> {
        match self.call("GET", &format!("/requests?endpoint={endpoint}"), None) {
            Value::Array(all) => all,
            other => panic!("the request log is not a list: {other}"),
        }
    }

    /// Arms a fault (`POST /__emulator/faults`).
    pub(crate) fn fault(&self, spec: &Value) {
        self.post("/faults", spec);
    }
}

/// The control client: no redirects followed, error statuses returned, never hung.
fn agent() -> ureq::Agent {
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
