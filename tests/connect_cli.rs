//! `matchkey connect` end to end against the strict emulator: the test plays the browser
//! (it reads the authorization URL the CLI prints, asks the emulator's consent page without
//! following the redirect, then calls the CLI's loopback callback or pastes the address),
//! and checks what the CLI prints, writes and never prints.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{Amazon, agent};

use amazon_emulator::{
    Config, DEMO_ACCOUNT_ID, DEMO_AMC_INSTANCE_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use serde_json::{Value, json};

/// Every wait in these tests ends within this.
const PATIENCE: Duration = Duration::from_secs(60);

impl Amazon {
    fn start(test: &str) -> Amazon {
        Amazon::start_with(&format!("connect-{test}"), Config::three_regions())
    }

    /// `matchkey connect ARGS --no-browser`, every Amazon URL pointed at the emulator.
    fn connect(&self, args: &[&str]) -> Run {
        let base = self.base();
        let mut child = Command::new(env!("CARGO_BIN_EXE_matchkey"))
            .arg("connect")
            .arg("--no-browser")
            .args(args)
            .env("LWA_CLIENT_ID", DEMO_CLIENT_ID)
            .env("LWA_CLIENT_SECRET", DEMO_CLIENT_SECRET)
            .env_remove("LWA_REFRESH_TOKEN")
            .env("LWA_AUTH_URL", format!("{base}/ap/oa"))
            .env("LWA_TOKEN_URL", format!("{base}/auth/o2/token"))
            .env("AMAZON_API_BASE_NA", format!("{base}/na"))
            .env("AMAZON_API_BASE_EU", format!("{base}/eu"))
            .env("AMAZON_API_BASE_FE", format!("{base}/fe"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, rx) = channel();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = lines.send(line.clone());
                all.push_str(&line);
                line.clear();
            }
            all
        });
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = stdout.read_to_string(&mut all);
            all
        });
        Run {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stderr,
            stdout,
        }
    }

    fn token_requests(&self) -> usize {
        self.emulator().calls("token")
    }
}

/// A running `matchkey connect`.
struct Run {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: JoinHandle<String>,
    stdout: JoinHandle<String>,
}

/// How a run ended.
#[derive(Debug)]
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The authorization URL, once the CLI printed it.
    fn authorization_url(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .expect("the CLI printed no authorization URL");
            if let Some(url) = line.split_whitespace().find(|w| w.contains("/ap/oa?")) {
                return url.to_owned();
            }
        }
    }

    fn paste(&mut self, text: &str) {
        let mut stdin = self.stdin.take().unwrap();
        writeln!(stdin, "{text}").unwrap();
    }

    /// Waits for the exit (killing the CLI after [`PATIENCE`]). Stdin stays open until
    /// then, as a user's terminal would.
    fn finish(mut self) -> Ended {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("matchkey connect did not finish");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        Ended {
            code: status.code(),
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
        }
    }
}

/// The browser on the consent page: the 302's `Location` (the page is not followed).
fn consent(url: &str) -> String {
    let response = agent().get(url).call().unwrap();
    assert_eq!(response.status().as_u16(), 302, "{url}");
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser following the redirect to the CLI's loopback callback: status and page.
fn follow(location: &str) -> (u16, String) {
    let mut response = agent().get(location).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// `url` with the query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (head, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", query.join("&"))
}

fn param(url: &str, name: &str) -> String {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

/// The value of `name` in a dotenv text (`NAME="value"`).
fn dev_var(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing in {text}"))
        .trim_matches('"')
        .to_owned()
}

#[test]
fn loopback_flow_saves_the_token_0600_keeps_other_lines_and_never_prints_it() {
    let amazon = Amazon::start("loopback");
    let vars = amazon.dir.join(".dev.vars");
    std::fs::write(
        &vars,
        "# mine\nINGEST_SECRET=\"local-ingest-secret\"\nLWA_REFRESH_TOKEN=\"Atzr|old\"\n",
    )
    .unwrap();
    let mut run = amazon.connect(&[
        "--port",
        "0",
        "--json",
        "--save-dev-vars",
        vars.to_str().unwrap(),
    ]);
    let url = run.authorization_url();
    assert!(
        url.starts_with(&format!("{}/ap/oa?", amazon.base())),
        "{url}"
    );
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    assert_eq!(param(&url, "scope"), "advertising%3A%3Acampaign_management");
    let location = consent(&url);
    assert!(location.starts_with("http://localhost:"), "{location}");
    let (status, page) = follow(&location);
    assert_eq!(status, 200);
    assert!(page.contains("You can close this tab"), "{page}");
    let ended = run.finish();
    assert_eq!(ended.code, Some(0), "{ended:?}");

    let report: Value = serde_json::from_str(&ended.stdout).unwrap();
    assert_eq!(report["region"], "NA");
    assert_eq!(report["savedTo"], vars.to_str().unwrap());
    let redirect = report["redirectUri"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{redirect}?")),
        "the printed redirect URI is the one used: {redirect}"
    );
    let regions: Vec<&str> = report["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["NA", "EU", "FE"]);
    assert_eq!(
        report["dspAdvertisers"],
        json!([
            {"region": "NA", "profileId": 1_234_567_890u64, "advertiserId": DEMO_ACCOUNT_ID,
             "name": "matchkey demo advertiser", "country": "US", "currency": "USD", "timezone": "America/Los_Angeles"},
            {"region": "EU", "profileId": 3_333_333_333u64, "advertiserId": "583000000000002",
             "name": "Acme EU", "country": "DE", "currency": "EUR", "timezone": "America/Los_Angeles"}
        ])
    );
    let amc = report["amcAccounts"].as_array().unwrap();
    assert_eq!(amc.len(), 2);
    assert_eq!(amc[0]["accountId"], DEMO_ACCOUNT_ID);
    assert_eq!(amc[0]["instances"][0]["instanceId"], DEMO_AMC_INSTANCE_ID);
    assert_eq!(amc[1]["instances"][0]["instanceId"], "amceu");
    assert_eq!(report["warnings"], json!([]));

    let text = std::fs::read_to_string(&vars).unwrap();
    let token = dev_var(&text, "LWA_REFRESH_TOKEN");
    assert!(token.starts_with("Atzr|emu-"), "{text}");
    assert_eq!(dev_var(&text, "INGEST_SECRET"), "local-ingest-secret");
    assert_eq!(dev_var(&text, "LWA_CLIENT_ID"), DEMO_CLIENT_ID);
    assert!(dev_var(&text, "REFRESH_TOKEN_GRANTED_AT").ends_with('Z'));
    assert!(text.starts_with("# mine\n"));
    assert_eq!(text.matches("LWA_REFRESH_TOKEN=").count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&vars).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!ended.stdout.contains(&token) && !ended.stderr.contains(&token));
    assert!(!ended.stdout.contains("Atzr|") && !ended.stderr.contains("Atzr|"));
    assert!(!ended.stderr.contains(DEMO_CLIENT_SECRET));
    assert!(
        ended.stderr.contains("Allowed Return URLs"),
        "{}",
        ended.stderr
    );
    // The saved token is a working grant.
    amazon
        .refresh(&token)
        .expect("the saved token is a working grant");
}

#[test]
fn paste_mode_reads_the_redirected_address_and_prints_tables() {
    let amazon = Amazon::start("paste");
    let mut run = amazon.connect(&["--paste", "--region", "eu", "--audiences"]);
    let url = run.authorization_url();
    assert_eq!(
        param(&url, "redirect_uri"),
        "http%3A%2F%2Flocalhost%3A8338%2Fcallback"
    );
    assert!(param(&url, "scope").ends_with("advertising%3A%3Aaudiences"));
    run.paste(&consent(&url));
    let ended = run.finish();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(
        ended.stdout.starts_with("Profiles (3):\n"),
        "{}",
        ended.stdout
    );
    assert!(ended.stdout.contains("583000000000002"));
    assert!(ended.stdout.contains("amcmatchkeydemo"));
    assert!(ended.stderr.contains("--save-dev-vars"), "{}", ended.stderr);
    assert!(!ended.stdout.contains("Atzr|") && !ended.stderr.contains("Atzr|"));
}

#[test]
fn a_tampered_state_is_refused_before_any_exchange_and_the_wait_goes_on() {
    let amazon = Amazon::start("state");
    let mut run = amazon.connect(&["--port", "0"]);
    let location = consent(&run.authorization_url());
    // Any web page can send the browser to the loopback callback: with another state it
    // is refused, its code never exchanged, and the run keeps waiting.
    for forged in ["forged", ""] {
        let (status, page) = follow(&with_param(&location, "state", forged));
        assert_eq!(status, 400);
        assert!(page.contains("state does not match"), "{page}");
    }
    assert_eq!(
        amazon.token_requests(),
        0,
        "the forged codes were never exchanged"
    );
    // The real redirect still completes the run.
    let (status, _) = follow(&location);
    assert_eq!(status, 200);
    let ended = run.finish();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(
        ended.stderr.contains("another state was refused"),
        "{}",
        ended.stderr
    );
    assert_eq!(
        amazon.token_requests(),
        1,
        "only the real code was exchanged"
    );
}

#[test]
fn reused_and_expired_codes_say_to_start_again() {
    let amazon = Amazon::start("codes");
    let mut first = amazon.connect(&["--paste"]);
    let location = consent(&first.authorization_url());
    first.paste(&location);
    assert_eq!(first.finish().code, Some(0));

    // The same code with the second run's state: Amazon refuses it.
    let mut second = amazon.connect(&["--paste"]);
    let state = param(&second.authorization_url(), "state");
    second.paste(&with_param(&location, "state", &state));
    let ended = second.finish();
    assert_eq!(ended.code, Some(2));
    assert!(
        ended
            .stderr
            .contains("refused the authorization code (invalid_grant)")
            && ended.stderr.contains("works once and for 5 minutes"),
        "{}",
        ended.stderr
    );

    let mut third = amazon.connect(&["--paste"]);
    let location = consent(&third.authorization_url());
    assert_eq!(amazon.emulator().expire_codes(), 1);
    third.paste(&location);
    let ended = third.finish();
    assert_eq!(ended.code, Some(2));
    assert!(ended.stderr.contains("(invalid_grant)"), "{}", ended.stderr);
}

#[test]
fn a_pkce_mismatch_is_refused() {
    let amazon = Amazon::start("pkce");
    let mut run = amazon.connect(&["--paste"]);
    // A consent page asked with another challenge than the CLI's (an altered URL).
    let url = with_param(&run.authorization_url(), "code_challenge", &"A".repeat(43));
    run.paste(&consent(&url));
    let ended = run.finish();
    assert_eq!(ended.code, Some(2));
    assert!(
        ended.stderr.contains("refused the PKCE code verifier"),
        "{}",
        ended.stderr
    );
}

#[test]
fn a_denied_consent_and_a_region_without_accounts_save_nothing() {
    let amazon = Amazon::start("denied");
    let vars = amazon.dir.join("denied.vars");
    let save = ["--paste", "--save-dev-vars", vars.to_str().unwrap()];
    amazon.emulator().consent(false, None);
    let mut run = amazon.connect(&save);
    let location = consent(&run.authorization_url());
    run.paste(&location);
    let ended = run.finish();
    assert_eq!(ended.code, Some(2));
    assert!(ended.stderr.contains("access_denied"), "{}", ended.stderr);
    assert!(ended.stderr.contains("choose Allow"));

    // The user picks only the EU account, but connects for NA.
    amazon.emulator().consent(true, Some(&["583000000000002"]));
    let mut run = amazon.connect(&save);
    let location = consent(&run.authorization_url());
    run.paste(&location);
    let ended = run.finish();
    assert_eq!(ended.code, Some(2));
    assert!(
        ended.stderr.contains("no advertising account in NA")
            && ended.stderr.contains("--region EU"),
        "{}",
        ended.stderr
    );

    amazon.emulator().consent(true, Some(&[]));
    let mut run = amazon.connect(&save);
    let location = consent(&run.authorization_url());
    run.paste(&location);
    let ended = run.finish();
    assert_eq!(ended.code, Some(2));
    assert!(ended.stderr.contains("in any region"), "{}", ended.stderr);
    assert!(!vars.exists(), "nothing saved");
}

#[test]
fn an_unregistered_redirect_uri_ends_in_a_timeout_that_says_what_to_register() {
    let amazon = Amazon::start("redirect");
    // Amazon shows its error page instead of redirecting to an unregistered URI.
    let mut run = amazon.connect(&[
        "--paste",
        "--redirect-uri",
        "https://unregistered.example/cb",
        "--timeout",
        "1",
    ]);
    let answer = agent().get(run.authorization_url()).call().unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let ended = run.finish();
    assert_eq!(ended.code, Some(2));
    assert!(
        ended.stderr.contains("not been whitelisted")
            && ended.stderr.contains("add https://unregistered.example/cb"),
        "{}",
        ended.stderr
    );
}

#[test]
fn a_busy_port_names_the_way_out() {
    let amazon = Amazon::start("port");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let ended = amazon.connect(&["--port", &port]).finish();
    assert_eq!(ended.code, Some(2));
    assert!(
        ended.stderr.contains("Pass --port N") && ended.stderr.contains("--paste"),
        "{}",
        ended.stderr
    );
}

#[test]
fn discovery_follows_every_page_of_dsp_advertisers_and_amc_accounts() {
    // 150 DSP advertisers under one agency entity (two pages of 100) and 121 AMC
    // accounts (two pages, the second named by nextToken).
    let amazon = Amazon::start_with("connect-paged", Config::paged(150, 120));
    let mut run = amazon.connect(&["--paste", "--region", "na", "--json"]);
    let url = run.authorization_url();
    run.paste(&consent(&url));
    let ended = run.finish();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    let found: Value = serde_json::from_str(&ended.stdout).unwrap();
    let dsp = found["dspAdvertisers"].as_array().unwrap();
    // The demo's, the agency's 150, and the AMC advertisers' (each its own agency entity).
    assert_eq!(dsp.len(), 1 + 150 + 120);
    let amc = found["amcAccounts"].as_array().unwrap();
    assert_eq!(amc.len(), 1 + 120);
    // Each entity listed once: one page each, the agency's two; AMC accounts two pages
    // on the NA host and one (empty) on each of the others.
    let count = |endpoint: &str| amazon.emulator().calls(endpoint);
    assert_eq!(
        (count("dspAdvertisers"), count("amcAccounts")),
        (1 + 2 + 120, 2 + 1 + 1)
    );
}
