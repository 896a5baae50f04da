//! The `amazon-emulator` binary: the stdout contract, flags and config files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with the address from its one stdout line.
fn launch(args: &[&str]) -> (Running, String) {
    launch_with_stderr(args, Stdio::null())
}

fn launch_with_stderr(args: &[&str], stderr: Stdio) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_amazon-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let address = line
        .trim_end()
        .strip_prefix("amazon-emulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (running, address)
}

/// A raw HTTP/1.1 GET; returns the whole answer.
fn get(address: &str, path: &str) -> String {
    raw(address, "GET", path, &[], "")
}

/// A raw HTTP/1.1 request on a fresh connection; returns the whole answer.
fn raw(address: &str, method: &str, path: &str, headers: &[&str], body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for header in headers {
        request += &format!("{header}\r\n");
    }
    request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn port_zero_prints_the_chosen_address_and_serves() {
    let started = Instant::now();
    let (_running, address) = launch(&["--port", "0", "--now", "2026-09-02T12:00:00Z"]);
    // "Well under a second" on a developer machine; generous here for loaded CI runners.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let answer = get(&address, "/__emulator/clock");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("2026-09-02T12:00:00Z"));
}

#[test]
fn toml_config_file_and_flags_are_applied() {
    let path =
        std::env::temp_dir().join(format!("amazon-emulator-test-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        r#"
        now = "2026-01-01T00:00:00Z"
        [[clients]]
        clientId = "c"
        clientSecret = "s"
        [[refreshTokens]]
        token = "Atzr|t"
        clientId = "c"
        [[advertisers]]
        accountId = "583000000000001"
        region = "EU"
        profileId = 3333333333
        countryCode = "DE"
        "#,
    )
    .unwrap();
    let (_running, address) =
        launch(&["--config", path.to_str().unwrap(), "--token-ttl", "5", "-q"]);
    let body = "grant_type=refresh_token&refresh_token=Atzr%7Ct&client_id=c&client_secret=s";
    let form = ["Content-Type: application/x-www-form-urlencoded"];
    let answer = raw(&address, "POST", "/auth/o2/token", &form, body);
    std::fs::remove_file(&path).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"expires_in\":5"), "{answer}");
    assert!(get(&address, "/__emulator/clock").contains("2026-01-01T00:00:00Z"));
}

#[test]
fn bad_config_fails_fast_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_amazon-emulator"))
        .args(["--config", "/nonexistent/emulator.json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

#[test]
fn stderr_log_names_requests_but_never_tokens_or_match_keys() {
    let (mut running, address) = launch_with_stderr(&["--port", "0"], Stdio::piped());
    let body = "grant_type=refresh_token&refresh_token=Atzr%7Cmatchkey-demo-refresh\
                &client_id=amzn1.application-oa2-client.matchkey-demo&client_secret=matchkey-demo-secret";
    let form = ["Content-Type: application/x-www-form-urlencoded"];
    let answer = raw(&address, "POST", "/auth/o2/token", &form, body);
    let token = answer
        .split("\"access_token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let digest = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";
    let events = format!(
        r#"{{"events":[{{"eventDescription":{{"name":"pv","conversionType":"PAGE_VIEW","eventSource":"WEBSITE","eventIngestionMethod":"SERVER_TO_SERVER"}},"countryCode":"US","eventTime":"2020-01-01T00:00:00Z","matchKeys":[{{"type":"EMAIL","values":["{digest}"]}}]}}]}}"#
    );
    let authorization = format!("Authorization: Bearer {token}");
    let headers = [
        authorization.as_str(),
        "Amazon-Ads-ClientId: amzn1.application-oa2-client.matchkey-demo",
        "Amazon-Ads-AccountId: ENTITY1MATCHKEYDEMO",
        "Content-Type: application/json",
    ];
    assert!(
        raw(
            &address,
            "POST",
            "/adsApi/v1/create/events",
            &headers,
            &events
        )
        .starts_with("HTTP/1.1 207")
    );
    running.0.kill().unwrap();
    let mut log = String::new();
    running
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("POST /auth/o2/token -> 200"), "{log}");
    assert!(
        log.contains("POST /adsApi/v1/create/events -> 207 (events, 0 accepted, 1 rejected)"),
        "{log}"
    );
    for secret in [token.as_str(), "Atzr|", "matchkey-demo-secret", digest] {
        assert!(!log.contains(secret), "the log leaks {secret}: {log}");
    }
}
