//! `matchkey connect`: Login with Amazon's authorization-code grant with `state` and PKCE,
//! the code received on a loopback callback (or pasted), then discovery of what the grant
//! reaches. The requests are the core's (`matchkey::amazon::connect`); this module does the
//! I/O: randomness, the browser, the tiny HTTP listener, stdin, files.
//!
//! The refresh token is never printed: it goes to `.dev.vars` (mode 0600) when asked.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use matchkey::amazon::connect::{
    self, AmcAccount, AmcInstance, Authorization, CallbackError, DspAdvertiser, GrantError,
    Profile, Region,
};
use matchkey::amazon::{ApiRequest, Auth};
use serde_json::{Value, json};

use crate::client::{self, Answer};

/// The loopback port of the default redirect URI, `http://localhost:8338/callback`.
pub(crate) const DEFAULT_PORT: u16 = 8338;
/// Path of the loopback redirect URI.
const CALLBACK_PATH: &str = "/callback";
/// Most pages read of one token-paged list (AMC accounts, an account's instances): a
/// guard against a token that never ends, far above any real account's list.
const MAX_PAGES: usize = 50;

pub(crate) const EXAMPLES: &str = "\
Before the first run, add the redirect URI to your Login with Amazon security profile
(developer.amazon.com → Login with Amazon → your profile → Web Settings → Allowed Return
URLs): http://localhost:8338/callback (or the one printed for --port / --paste).

Examples:
  export LWA_CLIENT_ID=amzn1.application-oa2-client.… LWA_CLIENT_SECRET=…
  matchkey connect --save-dev-vars                  # NA; token into ./.dev.vars (mode 0600)
  matchkey connect --region EU --audiences --json   # discovery as JSON, token not kept
  matchkey connect --paste --redirect-uri https://example.com/amazon-callback --save-dev-vars

  MATCHKEY_ADMIN_KEY=… matchkey connect --worker https://matchkey.example.workers.dev

The refresh token is never printed. --save-dev-vars writes LWA_REFRESH_TOKEN,
REFRESH_TOKEN_GRANTED_AT, LWA_CLIENT_ID and LWA_CLIENT_SECRET into the file and keeps its
other lines. --worker stores it in a deployed Worker as a connection (sealed there with
its TOKEN_KEYS) and prints the connection id to install integrations with; the Worker's
LWA_CLIENT_ID must be the same security profile.

Environment: LWA_CLIENT_ID, LWA_CLIENT_SECRET (required); MATCHKEY_ADMIN_KEY (the
Worker's ADMIN_KEY, with --worker). LWA_AUTH_URL, LWA_TOKEN_URL and
AMAZON_API_BASE_NA / _EU / _FE replace Amazon's consent page, token URL and API hosts (the
tests point them at the emulator).";

/// `--region`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum RegionArg {
    /// North America: www.amazon.com, api.amazon.com.
    #[value(name = "NA")]
    Na,
    /// Europe: eu.account.amazon.com, api.amazon.co.uk.
    #[value(name = "EU")]
    Eu,
    /// Far East: apac.account.amazon.com, api.amazon.co.jp.
    #[value(name = "FE")]
    Fe,
}

impl From<RegionArg> for Region {
    fn from(r: RegionArg) -> Region {
        match r {
            RegionArg::Na => Region::Na,
            RegionArg::Eu => Region::Eu,
            RegionArg::Fe => Region::Fe,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    /// The region whose consent page and token host to use (a grant works in every region).
    #[arg(long, value_enum, ignore_case = true, default_value = "NA")]
    region: RegionArg,
    /// Also ask for `advertising::audiences` (the Data Provider API).
    #[arg(long)]
    audiences: bool,
    /// Loopback port of the redirect URI http://localhost:PORT/callback; 0 picks a free
    /// port (fine for tests; Amazon needs the exact URI registered).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Do not listen: paste the address the browser was sent to (for when a loopback
    /// redirect URI is not allowed).
    #[arg(long)]
    paste: bool,
    /// With --paste: the registered redirect URI to use [default: the loopback one].
    #[arg(long, requires = "paste", value_name = "URL")]
    redirect_uri: Option<String>,
    /// Print the authorization URL only; do not try to open a browser.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the redirect, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    timeout: u64,
    /// Print what the grant reaches as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Write the refresh token (and grant date, client id and secret) into this dotenv
    /// file, mode 0600, keeping its other lines.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = ".dev.vars")]
    save_dev_vars: Option<PathBuf>,
    /// Store the connection in this deployed Worker (its admin API, with
    /// MATCHKEY_ADMIN_KEY); the Worker keeps the refresh token sealed.
    #[arg(long, value_name = "URL")]
    worker: Option<String>,
    /// With --worker: a name for the connection (shown in the Worker's admin API).
    #[arg(long, requires = "worker", value_name = "TEXT")]
    label: Option<String>,
    /// Login with Amazon's consent page [default: the region's].
    #[arg(long, env = "LWA_AUTH_URL", value_name = "URL")]
    auth_url: Option<String>,
    /// Login with Amazon's token URL [default: the region's].
    #[arg(long, env = "LWA_TOKEN_URL", value_name = "URL")]
    token_url: Option<String>,
    /// The North America API host [default: Amazon's].
    #[arg(long, env = "AMAZON_API_BASE_NA", value_name = "URL")]
    api_base_na: Option<String>,
    /// The Europe API host [default: Amazon's].
    #[arg(long, env = "AMAZON_API_BASE_EU", value_name = "URL")]
    api_base_eu: Option<String>,
    /// The Far East API host [default: Amazon's].
    #[arg(long, env = "AMAZON_API_BASE_FE", value_name = "URL")]
    api_base_fe: Option<String>,
}

impl ConnectArgs {
    fn api_base(&self, region: Region) -> &str {
        let over = match region {
            Region::Na => &self.api_base_na,
            Region::Eu => &self.api_base_eu,
            Region::Fe => &self.api_base_fe,
        };
        over.as_deref().unwrap_or(region.api_base())
    }
}

/// Runs the whole flow.
pub(crate) fn run(args: &ConnectArgs) -> anyhow::Result<bool> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| format!("{name} is not set in the environment (the security profile's client id and secret; never a flag)"))
    };
    let client_id = var("LWA_CLIENT_ID")?;
    let client_secret = var("LWA_CLIENT_SECRET")?;
    if let Some(url) = &args.worker {
        // Refuse before the user signs in, not after.
        crate::worker::base(url)?;
        crate::worker::admin_key()?;
    }
    let region = Region::from(args.region);
    let auth_url = args
        .auth_url
        .clone()
        .unwrap_or_else(|| region.authorization_url().to_owned());
    let token_url = args
        .token_url
        .clone()
        .unwrap_or_else(|| region.token_url().to_owned());

    let verifier = connect::pkce_verifier(&random::<32>()?);
    let state = connect::base64url(&random::<16>()?);
    let deadline = Instant::now() + Duration::from_secs(args.timeout);

    // Listen before printing anything, so the printed redirect URI is one that answers.
    let (listener, redirect_uri) = if args.paste {
        let uri = args
            .redirect_uri
            .clone()
            .unwrap_or_else(|| loopback_uri(args.port));
        (None, uri)
    } else {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{}: another program uses the port. Pass --port N \
                 (and add http://localhost:N/callback to the security profile's Allowed Return URLs), or use --paste",
                args.port
            )
        })?;
        let port = listener.local_addr()?.port();
        (Some(listener), loopback_uri(port))
    };
    let mut scopes = vec![connect::SCOPE_CAMPAIGN_MANAGEMENT];
    if args.audiences {
        scopes.push(connect::SCOPE_AUDIENCES);
    }
    let url = connect::authorization_url(&Authorization {
        auth_url: &auth_url,
        client_id: &client_id,
        scopes: &scopes,
        redirect_uri: &redirect_uri,
        state: &state,
        code_verifier: &verifier,
    });

    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "Redirect URI: {redirect_uri}\n  It must be listed exactly under \"Allowed Return URLs\" in your Login with Amazon security profile.\n\
         Open this URL in a browser, sign in and allow access:\n  {url}"
    )?;
    if !args.no_browser && !open_browser(&url) {
        writeln!(
            err,
            "(could not open a browser; open the URL above yourself)"
        )?;
    }
    drop(err);

    let code = match listener {
        Some(listener) => {
            eprintln!(
                "Waiting for Amazon to redirect to {redirect_uri} (up to {} s) …",
                args.timeout
            );
            wait_for_callback(&listener, &state, deadline)
                .map_err(|e| explain_wait(e, &redirect_uri, args.timeout))?
        }
        None => {
            eprintln!(
                "Then paste the address your browser was sent to (it starts with {redirect_uri}; the page itself may fail to load) and press Enter:"
            );
            let line = read_line_until(deadline)
                .map_err(|e| explain_wait(e, &redirect_uri, args.timeout))?;
            connect::parse_callback(&line, &state).map_err(|e| explain_callback(&e))?
        }
    };

    let agent = client::agent();
    let exchange = connect::code_grant(
        &token_url,
        &client_id,
        &client_secret,
        &code,
        &redirect_uri,
        &verifier,
    );
    let (answer, _) = client::send(&agent, exchange);
    let grant = connect::parse_code_grant(answer.status, &answer.body)
        .map_err(|e| explain_grant(&e, &redirect_uri, args.paste))?;
    let granted_at = rfc3339_now();
    eprintln!("Login with Amazon granted access; looking up what it reaches …");

    let found = discover(&agent, args, &grant.access_token, &client_id);
    let in_region = found.profiles.iter().filter(|(r, _)| *r == region).count();
    let region_failed = found.failed.contains(&region);
    if in_region == 0 && !region_failed {
        let elsewhere: Vec<&str> = Region::ALL
            .iter()
            .filter(|r| found.profiles.iter().any(|(p, _)| p == *r))
            .map(|r| r.code())
            .collect();
        let hint = if elsewhere.is_empty() {
            "The user who signed in has no advertising account this application may use in any region: sign in with a user that has access to the advertiser (Amazon Ads console → Administration → user management), then run again.".to_owned()
        } else {
            format!(
                "The grant reaches accounts in {}: run again with --region {}.",
                elsewhere.join(", "),
                elsewhere[0]
            )
        };
        bail!(
            "the grant reaches no advertising account in {} (GET /v2/profiles answered []); nothing was saved. {hint}",
            region.code()
        );
    }

    let saved = match &args.save_dev_vars {
        Some(path) => {
            save_dev_vars(
                path,
                &[
                    ("LWA_CLIENT_ID", &client_id),
                    ("LWA_CLIENT_SECRET", &client_secret),
                    ("LWA_REFRESH_TOKEN", &grant.refresh_token),
                    ("REFRESH_TOKEN_GRANTED_AT", &granted_at),
                ],
            )?;
            eprintln!(
                "Saved LWA_REFRESH_TOKEN (granted {granted_at}), LWA_CLIENT_ID and LWA_CLIENT_SECRET to {} (mode 0600).",
                path.display()
            );
            Some(path.display().to_string())
        }
        None if args.worker.is_some() => None,
        None => {
            eprintln!(
                "The refresh token was not kept (it is never printed): run again with --save-dev-vars or --worker URL to store it."
            );
            None
        }
    };
    if let Some(url) = &args.worker {
        let id = crate::worker::store_connection(
            url,
            region.code(),
            &grant.refresh_token,
            &granted_at,
            args.label.as_deref(),
        )?;
        eprintln!(
            "Stored in the Worker as connection {id}. Next: install an integration with \"connection_id\": \"{id}\" (POST {}/v1/admin/integrations).",
            crate::worker::base(url)?
        );
    }
    for warning in &found.warnings {
        eprintln!("warning: {warning}");
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        let report = found.json(region, &redirect_uri, saved.as_deref(), &granted_at);
        writeln!(out, "{report}")?;
    } else {
        out.write_all(found.tables().as_bytes())?;
    }
    Ok(true)
}

/// `http://localhost:PORT/callback`.
fn loopback_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// `N` random bytes from the operating system.
fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
    Ok(bytes)
}

/// Starts the desktop's browser on `url`; false when there is none to start.
fn open_browser(url: &str) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reap it without waiting for it.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

/// Why waiting for the code ended without one.
#[derive(Debug)]
enum WaitError {
    TimedOut,
    Callback(CallbackError),
    Io(std::io::Error),
}

/// Serves the loopback redirect until it brings our state (or a refusal), or `deadline`.
/// Other paths (a browser's `/favicon.ico`) get 404 and waiting goes on.
fn wait_for_callback(
    listener: &TcpListener,
    state: &str,
    deadline: Instant,
) -> Result<String, WaitError> {
    listener.set_nonblocking(true).map_err(WaitError::Io)?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(outcome) = answer_browser(stream, state) {
                    return outcome.map_err(WaitError::Callback);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(WaitError::TimedOut);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WaitError::Io(e)),
        }
    }
}

/// Reads one request from the browser and answers it with a small page. `None` when it
/// was not the callback.
fn answer_browser(mut stream: TcpStream, state: &str) -> Option<Result<String, CallbackError>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" || path != CALLBACK_PATH {
        respond(
            &mut stream,
            "404 Not Found",
            "Not found",
            "This is matchkey's Login with Amazon callback.",
        );
        return None;
    }
    let outcome = connect::parse_callback(target, state);
    if matches!(outcome, Err(CallbackError::StateMismatch)) {
        // Not this run's redirect: any page can send the browser here, so it is refused
        // and the wait goes on for the real one (until the timeout).
        respond(
            &mut stream,
            "400 Bad Request",
            "matchkey: not connected",
            "The redirect's state does not match this run's: it was not started by this matchkey connect. Still waiting for the right one.",
        );
        eprintln!("A callback with another state was refused; still waiting.");
        return None;
    }
    match &outcome {
        Ok(_) => respond(
            &mut stream,
            "200 OK",
            "matchkey: authorization received",
            "Amazon sent the authorization code to matchkey. You can close this tab and return to the terminal.",
        ),
        Err(e) => respond(
            &mut stream,
            "400 Bad Request",
            "matchkey: not connected",
            &format!(
                "{} You can close this tab; the terminal says what to do.",
                callback_summary(e)
            ),
        ),
    }
    Some(outcome)
}

/// Writes a complete HTML answer and closes the connection.
fn respond(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>{}</title><h1>{}</h1><p>{}</p>\n",
        escape(title),
        escape(title),
        escape(text)
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nreferrer-policy: no-referrer\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// One line from stdin, or `TimedOut` at `deadline`.
fn read_line_until(deadline: Instant) -> Result<String, WaitError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line).map(|_| line);
        let _ = tx.send(read);
    });
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(Ok(line)) if !line.trim().is_empty() => Ok(line),
        Ok(Ok(_)) => Err(WaitError::Callback(CallbackError::NoCode)),
        Ok(Err(e)) => Err(WaitError::Io(e)),
        Err(_) => Err(WaitError::TimedOut),
    }
}

fn callback_summary(e: &CallbackError) -> String {
    match e {
        CallbackError::StateMismatch => {
            "The redirect's state does not match this run's: it was not started by this matchkey connect.".to_owned()
        }
        CallbackError::Refused { error, .. } if error == "access_denied" => {
            "Amazon reports access_denied: access was not allowed.".to_owned()
        }
        CallbackError::Refused { error, .. } => format!("Amazon refused the request ({error})."),
        CallbackError::NoCode => "The address holds no authorization code.".to_owned(),
    }
}

fn explain_callback(e: &CallbackError) -> anyhow::Error {
    let what = callback_summary(e);
    let todo = match e {
        CallbackError::StateMismatch => {
            "Nothing was exchanged (it may be forged, or from an earlier run). Run matchkey connect again and use the URL it prints."
                .to_owned()
        }
        CallbackError::Refused { error, description } if error == "access_denied" => format!(
            "{}Run again, sign in with a user that has access to the advertising accounts, and choose Allow.",
            description.as_deref().map(|d| format!("({d}) ")).unwrap_or_default()
        ),
        CallbackError::Refused { description, .. } => format!(
            "{}Check LWA_CLIENT_ID, and that the security profile is enabled for the Amazon Ads API.",
            description.as_deref().map(|d| format!("({d}) ")).unwrap_or_default()
        ),
        CallbackError::NoCode => {
            "Paste the address of the page Amazon redirected to (it contains code= and state=), not the authorization URL."
                .to_owned()
        }
    };
    anyhow::anyhow!("{what} {todo}")
}

fn explain_wait(e: WaitError, redirect_uri: &str, timeout: u64) -> anyhow::Error {
    match e {
        WaitError::Callback(e) => explain_callback(&e),
        WaitError::TimedOut => anyhow::anyhow!(
            "no authorization arrived within {timeout} s. If Amazon showed \"The redirect URI you provided has not been whitelisted\", \
             add {redirect_uri} to the security profile's Allowed Return URLs and run again; if a loopback address cannot be registered, \
             register another URL and use --paste --redirect-uri URL; for more time, --timeout SECS"
        ),
        WaitError::Io(e) => anyhow::anyhow!("waiting for the authorization failed: {e}"),
    }
}

fn explain_grant(e: &GrantError, redirect_uri: &str, paste: bool) -> anyhow::Error {
    match e {
        GrantError::CodeRejected => anyhow::anyhow!(
            "Login with Amazon refused the authorization code (invalid_grant): a code works once and for 5 minutes, \
             so it was used already, is too old, or belongs to another client. Run matchkey connect again and finish within 5 minutes."
        ),
        GrantError::RedirectUriMismatch => anyhow::anyhow!(
            "Login with Amazon refused the redirect URI {redirect_uri} (invalid_grant): it is not the one the consent page used.{}",
            if paste {
                " Pass the same --redirect-uri you registered and opened the page with, and run again."
            } else {
                " Run again and use the URL this run prints."
            }
        ),
        GrantError::VerifierMismatch => anyhow::anyhow!(
            "Login with Amazon refused the PKCE code verifier (invalid_grant): the authorization URL was altered or \
             comes from another run. Run matchkey connect again and open the URL exactly as printed."
        ),
        GrantError::InvalidClient => anyhow::anyhow!(
            "Login with Amazon refused the client (invalid_client): check LWA_CLIENT_ID and LWA_CLIENT_SECRET (the security profile's Web Settings)."
        ),
        GrantError::Other(code) => anyhow::anyhow!("Login with Amazon gave no token ({code})"),
    }
}

/// What the grant reaches.
#[derive(Default)]
struct Found {
    profiles: Vec<(Region, Profile)>,
    dsp: Vec<(Region, u64, DspAdvertiser)>,
    amc: Vec<(Region, AmcAccount, Vec<AmcInstance>)>,
    /// Regions whose profiles could not be listed.
    failed: Vec<Region>,
    warnings: Vec<String>,
}

/// Sends a discovery call, trying again on 429, 5xx or no answer (three tries).
fn get(agent: &ureq::Agent, request: &ApiRequest) -> Answer {
    let mut attempt = 0;
    loop {
        let (answer, retry_after) = client::send(agent, request.clone());
        attempt += 1;
        if !matches!(answer.status, 0 | 429 | 500..=599) || attempt >= 3 {
            return answer;
        }
        let wait = retry_after
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(attempt)
            .min(10);
        std::thread::sleep(Duration::from_secs(wait));
    }
}

fn discover(agent: &ureq::Agent, args: &ConnectArgs, access_token: &str, client_id: &str) -> Found {
    let mut found = Found::default();
    for region in Region::ALL {
        let auth = Auth {
            api_base: args.api_base(region),
            access_token,
            client_id,
        };
        let answer = get(agent, &connect::list_profiles(&auth));
        let Some(profiles) = (answer.status == 200)
            .then(|| connect::parse_profiles(&answer.body))
            .flatten()
        else {
            found.failed.push(region);
            found.warnings.push(format!(
                "{}: listing profiles failed ({})",
                region.code(),
                client::error_code(&answer)
            ));
            continue;
        };
        for profile in profiles {
            // An agency profile lists the DSP advertisers of its entity; profiles of one
            // entity list the same ones, so each entity is listed once.
            let listed = found
                .profiles
                .iter()
                .any(|(r, p)| *r == region && p.is_agency() && p.account_id == profile.account_id);
            if profile.is_agency() && !listed {
                // Pages of 100 (`startIndex`, `count`), until `totalResults` are read.
                let mut start = Some(0);
                while let Some(at) = start {
                    let request = connect::list_dsp_advertisers_page(&auth, profile.profile_id, at);
                    let answer = get(agent, &request);
                    start = match (answer.status == 200)
                        .then(|| connect::parse_dsp_advertisers_page(&answer.body))
                        .flatten()
                    {
                        Some((list, total)) => {
                            let next = connect::next_dsp_advertisers_start(at, list.len(), total);
                            found
                                .dsp
                                .extend(list.into_iter().map(|a| (region, profile.profile_id, a)));
                            next
                        }
                        None => {
                            found.warnings.push(format!(
                                "{}: listing the DSP advertisers of profile {} failed ({})",
                                region.code(),
                                profile.profile_id,
                                client::error_code(&answer)
                            ));
                            None
                        }
                    };
                }
            }
            found.profiles.push((region, profile));
        }
        // Pages of at most 100, each naming the next with `nextToken`.
        let mut accounts = Vec::new();
        let mut next: Option<String> = None;
        for _page in 0..MAX_PAGES {
            let answer = get(
                agent,
                &connect::list_amc_accounts_page(&auth, next.as_deref()),
            );
            match (answer.status == 200)
                .then(|| connect::parse_amc_accounts_page(&answer.body))
                .flatten()
            {
                Some((page, token)) => {
                    accounts.extend(page);
                    next = token;
                }
                None => {
                    // No AMC account at all answers an error on some hosts: a note, not a
                    // failure.
                    found.warnings.push(format!(
                        "{}: listing AMC accounts failed ({})",
                        region.code(),
                        client::error_code(&answer)
                    ));
                    next = None;
                }
            }
            if next.is_none() {
                break;
            }
        }
        for account in accounts {
            if found
                .amc
                .iter()
                .any(|(_, a, _)| a.account_id == account.account_id)
            {
                continue;
            }
            let mut instances = Vec::new();
            let mut next: Option<String> = None;
            for _page in 0..MAX_PAGES {
                let request = connect::list_amc_instances(
                    &auth,
                    &account.account_id,
                    &account.marketplace_id,
                    next.as_deref(),
                );
                let answer = get(agent, &request);
                match (answer.status == 200)
                    .then(|| connect::parse_amc_instances(&answer.body))
                    .flatten()
                {
                    Some((page, token)) => {
                        instances.extend(page);
                        next = token;
                    }
                    None => {
                        found.warnings.push(format!(
                            "{}: listing the instances of AMC account {} failed ({})",
                            region.code(),
                            account.account_id,
                            client::error_code(&answer)
                        ));
                        next = None;
                    }
                }
                if next.is_none() {
                    break;
                }
            }
            found.amc.push((region, account, instances));
        }
    }
    found
}

impl Found {
    fn json(
        &self,
        region: Region,
        redirect_uri: &str,
        saved: Option<&str>,
        granted_at: &str,
    ) -> Value {
        json!({
            "region": region.code(),
            "redirectUri": redirect_uri,
            "grantedAt": granted_at,
            "savedTo": saved,
            "profiles": self.profiles.iter().map(|(r, p)| json!({
                "region": r.code(),
                "profileId": p.profile_id,
                "type": p.account_type,
                "countryCode": p.country_code,
                "currencyCode": p.currency_code,
                "timezone": p.timezone,
                "accountId": p.account_id,
                "name": p.account_name,
                "marketplaceId": p.marketplace_id,
            })).collect::<Vec<_>>(),
            "dspAdvertisers": self.dsp.iter().map(|(r, profile, a)| json!({
                "region": r.code(),
                "profileId": profile,
                "advertiserId": a.advertiser_id,
                "name": a.name,
                "country": a.country,
                "currency": a.currency,
                "timezone": a.timezone,
            })).collect::<Vec<_>>(),
            "amcAccounts": self.amc.iter().map(|(r, a, instances)| json!({
                "region": r.code(),
                "accountId": a.account_id,
                "name": a.account_name,
                "marketplaceId": a.marketplace_id,
                "instances": instances.iter().map(|i| json!({
                    "instanceId": i.instance_id,
                    "name": i.instance_name,
                    "type": i.instance_type,
                    "status": i.status,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }

    fn tables(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("Profiles ({}):\n", self.profiles.len()));
        out.push_str(&table(
            &[
                "REGION",
                "PROFILE ID",
                "TYPE",
                "COUNTRY",
                "CURRENCY",
                "ACCOUNT ID",
                "NAME",
            ],
            self.profiles
                .iter()
                .map(|(r, p)| {
                    vec![
                        r.code().to_owned(),
                        p.profile_id.to_string(),
                        p.account_type.clone(),
                        p.country_code.clone(),
                        p.currency_code.clone(),
                        p.account_id.clone(),
                        p.account_name.clone(),
                    ]
                })
                .collect(),
        ));
        out.push_str(&format!(
            "\nDSP advertisers ({}; the id is the Events API's Amazon-Ads-AccountId, the Worker's ADVERTISER_ID):\n",
            self.dsp.len()
        ));
        out.push_str(&table(
            &[
                "REGION",
                "PROFILE ID",
                "ADVERTISER ID",
                "COUNTRY",
                "CURRENCY",
                "NAME",
            ],
            self.dsp
                .iter()
                .map(|(r, profile, a)| {
                    vec![
                        r.code().to_owned(),
                        profile.to_string(),
                        a.advertiser_id.clone(),
                        a.country.clone(),
                        a.currency.clone(),
                        a.name.clone(),
                    ]
                })
                .collect(),
        ));
        let instances: usize = self.amc.iter().map(|(_, _, i)| i.len().max(1)).sum();
        out.push_str(&format!(
            "\nAMC accounts ({}) and instances:\n",
            self.amc.len()
        ));
        let mut rows = Vec::with_capacity(instances);
        for (r, a, list) in &self.amc {
            let account = || {
                vec![
                    r.code().to_owned(),
                    a.account_id.clone(),
                    a.marketplace_id.clone(),
                    a.account_name.clone(),
                ]
            };
            if list.is_empty() {
                let mut row = account();
                row.extend(["-".to_owned(), "-".to_owned()]);
                rows.push(row);
            }
            for i in list {
                let mut row = account();
                row.extend([i.instance_id.clone(), i.status.clone()]);
                rows.push(row);
            }
        }
        out.push_str(&table(
            &[
                "REGION",
                "AMC ACCOUNT",
                "MARKETPLACE",
                "NAME",
                "INSTANCE ID",
                "STATUS",
            ],
            rows,
        ));
        out
    }
}

/// Left-aligned columns two spaces apart; `(none)` for no rows.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "  (none)\n".to_owned();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::from(" ");
        for (cell, w) in cells.zip(&widths) {
            text.push(' ');
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', w + 1 - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (the Worker reads `REFRESH_TOKEN_GRANTED_AT` as RFC 3339).
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC (Howard Hinnant's civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Sets `vars` in the dotenv file at `path` (created if need be), keeping every other line,
/// through a temporary file with mode 0600 renamed over it.
fn save_dev_vars(path: &Path, vars: &[(&str, &str)]) -> anyhow::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let text = dev_vars_text(&old, vars);
    let tmp = path.with_file_name(format!(
        ".{}.matchkey-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("dev.vars"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// `old` with each of `vars` set: a line `NAME=…` (or `export NAME=…`) replaced in place,
/// else appended; values double-quoted.
fn dev_vars_text(old: &str, vars: &[(&str, &str)]) -> String {
    let quoted = |value: &str| {
        format!(
            "\"{}\"",
            value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    };
    let name_of = |line: &str| {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        line.split_once('=').map(|(name, _)| name.trim().to_owned())
    };
    let mut done = vec![false; vars.len()];
    let mut out = String::new();
    for line in old.lines() {
        let found = name_of(line).and_then(|name| vars.iter().position(|(n, _)| *n == name));
        match found {
            Some(i) if !done[i] => {
                out.push_str(&format!("{}={}\n", vars[i].0, quoted(vars[i].1)));
                done[i] = true;
            }
            // A second line for the same name would override ours: drop it.
            Some(_) => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (name, value)) in vars.iter().enumerate() {
        if !done[i] {
            out.push_str(&format!("{name}={}\n", quoted(value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_vars_are_replaced_in_place_and_others_kept() {
        let old = "# local\nINGEST_SECRET=\"x\"\nexport LWA_REFRESH_TOKEN=\"old\"\nLWA_REFRESH_TOKEN=dup\n";
        let new = dev_vars_text(
            old,
            &[
                ("LWA_REFRESH_TOKEN", "Atzr|n\"1"),
                ("REFRESH_TOKEN_GRANTED_AT", "2026-01-01T00:00:00Z"),
            ],
        );
        assert_eq!(
            new,
            "# local\nINGEST_SECRET=\"x\"\nLWA_REFRESH_TOKEN=\"Atzr|n\\\"1\"\nREFRESH_TOKEN_GRANTED_AT=\"2026-01-01T00:00:00Z\"\n"
        );
        assert_eq!(dev_vars_text("", &[("A", "b")]), "A=\"b\"\n");
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn tables_align_and_say_none() {
        assert_eq!(table(&["A", "BB"], vec![]), "  (none)\n");
        assert_eq!(
            table(&["A", "BB"], vec![vec!["xyz".into(), "1".into()]]),
            "  A    BB\n  xyz  1\n"
        );
    }
}
