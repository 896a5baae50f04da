//! The CLI's Amazon client: sends the calls the core describes (`matchkey::amazon`, the
//! same ones the Worker sends) with a blocking HTTP client, refreshing the Login with
//! Amazon token on 401 and waiting out 429 and 5xx as the Worker does.
//!
//! Credentials come from the environment only (never flags, which end up in shell
//! history and `ps`), under the Worker's secret names.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matchkey::amazon::retry::{self, Next};
use matchkey::amazon::{self, ApiRequest, Auth, TokenError};

/// Where the Ads API and Login with Amazon are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApiArgs {
    /// The Ads API base URL [default: Amazon's North America host].
    #[arg(
        long,
        env = "AMAZON_API_BASE",
        default_value = "https://advertising-api.amazon.com"
    )]
    pub(crate) api_base: String,
    /// The Login with Amazon token URL.
    #[arg(
        long,
        env = "LWA_TOKEN_URL",
        default_value = "https://api.amazon.com/auth/o2/token"
    )]
    token_url: String,
    /// Tries of one call on 429, 5xx or no answer before giving up.
    #[arg(long, default_value_t = 8)]
    max_attempts: u32,
}

/// Environment variables that hold the Login with Amazon credentials.
pub(crate) const CREDENTIALS_HELP: &str = "\
Credentials: set LWA_CLIENT_ID, LWA_CLIENT_SECRET and LWA_REFRESH_TOKEN in the
environment (the Worker's secret names); they are never taken as flags. `matchkey connect`
obtains a refresh token.";

/// An answer: status (0 when there was none) and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// A logged-in client.
pub(crate) struct Client {
    agent: ureq::Agent,
    args: ApiArgs,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    access_token: Option<(String, Instant)>,
    /// Called with a short note while the client waits (for the progress bar).
    pub(crate) on_wait: Box<dyn FnMut(&str)>,
}

impl Client {
    /// A client with the credentials from the environment.
    pub(crate) fn from_env(args: &ApiArgs) -> anyhow::Result<Client> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("{name} is not set in the environment"))
        };
        Ok(Client {
            agent: agent(),
            args: args.clone(),
            client_id: var("LWA_CLIENT_ID")?,
            client_secret: var("LWA_CLIENT_SECRET")?,
            refresh_token: var("LWA_REFRESH_TOKEN")?,
            access_token: None,
            on_wait: Box::new(|_| {}),
        })
    }

    /// Sends `build(auth)`, refreshing the token once on 401 and retrying 429, 5xx and
    /// network errors with Amazon's `Retry-After` or backoff. Other answers are returned
    /// for the caller to read. `what` names the call in errors.
    pub(crate) fn call(
        &mut self,
        what: &str,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Answer> {
        self.call_with(what, true, build)
    }

    /// [`Client::call`] for a request that must never be sent twice (a create): only a
    /// 401 (refreshed once) and a 429 (Amazon did not take it) are sent again; no answer
    /// or a 5xx is returned as it is, since Amazon may have acted on it.
    pub(crate) fn call_once(
        &mut self,
        what: &str,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Answer> {
        self.call_with(what, false, build)
    }

    fn call_with(
        &mut self,
        what: &str,
        resend_unanswered: bool,
        build: impl Fn(&Auth<'_>) -> ApiRequest,
    ) -> anyhow::Result<Answer> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let token = self.token(false)?;
            let auth = Auth {
                api_base: &self.args.api_base,
                access_token: &token,
                client_id: &self.client_id,
            };
            let (answer, retry_after) = self.send(build(&auth));
            // Successes and refusals are the caller's to read; the rest is decided as
            // the Worker decides it.
            if !matches!(answer.status, 0 | 401 | 429 | 500..=599)
                || (!resend_unanswered && matches!(answer.status, 0 | 500..=599))
            {
                return Ok(answer);
            }
            let jitter = f64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            ) / 1e9;
            match retry::next(
                answer.status,
                retry_after.as_deref(),
                &answer.body,
                attempt,
                jitter,
            ) {
                Next::Refresh if !refreshed => {
                    refreshed = true;
                    self.token(true)?;
                }
                Next::Retry { after_ms, code } if attempt + 1 < self.args.max_attempts => {
                    (self.on_wait)(&format!(
                        "{what}: Amazon answered {code}; trying again in {:.1} s",
                        after_ms as f64 / 1000.0
                    ));
                    std::thread::sleep(Duration::from_millis(after_ms));
                    attempt += 1;
                }
                Next::Retry { code, .. } => {
                    bail!(
                        "{what}: Amazon answered {code} {} times; giving up",
                        attempt + 1
                    )
                }
                _ => return Ok(answer),
            }
        }
    }

    /// [`Client::call`] for a sequence of calls (`build` gives all of them, never none):
    /// sends them in order and returns the first answer that is not a success, else the
    /// last one.
    pub(crate) fn call_all(
        &mut self,
        what: &str,
        build: impl Fn(&Auth<'_>) -> Vec<ApiRequest>,
    ) -> anyhow::Result<Answer> {
        let steps = std::cell::Cell::new(1);
        let mut step = 0;
        loop {
            let answer = self.call(what, |auth| {
                let mut calls = build(auth);
                steps.set(calls.len());
                calls.swap_remove(step)
            })?;
            step += 1;
            if !(200..300).contains(&answer.status) || step >= steps.get() {
                return Ok(answer);
            }
        }
    }

    /// A valid access token: cached, or from Login with Amazon.
    fn token(&mut self, force: bool) -> anyhow::Result<String> {
        if !force
            && let Some((token, until)) = &self.access_token
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let request = amazon::lwa_refresh(
            &self.args.token_url,
            &self.client_id,
            &self.client_secret,
            &self.refresh_token,
        );
        let (answer, _) = self.send(request);
        match amazon::parse_token(answer.status, &answer.body) {
            Ok(token) => {
                let life = Duration::from_secs(token.expires_in.saturating_sub(60).max(1));
                self.access_token = Some((token.access_token.clone(), Instant::now() + life));
                Ok(token.access_token)
            }
            Err(TokenError::Reauthorize) => bail!(
                "Login with Amazon refused the refresh token (invalid_grant): authorize again (`matchkey connect`) and set the new LWA_REFRESH_TOKEN"
            ),
            Err(TokenError::Unavailable(code)) => {
                bail!("Login with Amazon gave no access token ({code})")
            }
        }
    }

    /// Sends one request; never fails (status 0 when there was no answer).
    fn send(&self, request: ApiRequest) -> (Answer, Option<String>) {
        send(&self.agent, request)
    }
}

/// The CLI's HTTP agent: Amazon's error statuses are answers, not errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

/// Sends one request with `agent`; never fails (status 0 when there was no answer).
/// Returns the answer and its `Retry-After` header.
pub(crate) fn send(agent: &ureq::Agent, request: ApiRequest) -> (Answer, Option<String>) {
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let body = request.body.unwrap_or_default();
    let result = builder
        .body(body)
        .map_err(ureq::Error::from)
        .and_then(|r| agent.run(r));
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .unwrap_or_default();
            (Answer { status, body }, retry_after)
        }
        Err(_) => (
            Answer {
                status: 0,
                body: String::new(),
            },
            None,
        ),
    }
}

/// Runs `check` until it reports done or `patience` would run out before the next try,
/// sleeping half a second, then twice as long each time, at most `cap` (Amazon's jobs
/// take minutes; asking every half second for an hour would be rude).
pub(crate) fn poll(
    patience: Duration,
    cap: Duration,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    let mut wait = Duration::from_millis(500);
    while !check()? && Instant::now() + wait <= deadline {
        std::thread::sleep(wait);
        wait = (wait * 2).min(cap);
    }
    Ok(())
}

/// Amazon's error code in an answer, or `HTTP_<status>`.
pub(crate) fn error_code(answer: &Answer) -> String {
    serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP_{}", answer.status))
}
