//! Talking to a deployed matchkey Worker's admin API: `connect --worker` stores a
//! connection there, `doctor --worker` shows its checklist (`GET /v1/admin/check`), and
//! `doctor` alone the Amazon API contracts this build speaks. The
//! admin key comes from the environment (`MATCHKEY_ADMIN_KEY`), never a flag, and is
//! never printed.

use std::io::Write as _;

use anyhow::{Context as _, bail};
use matchkey::amazon::{ApiRequest, Method};
use serde_json::{Value, json};

use crate::client;

pub(crate) const DOCTOR_EXAMPLES: &str = "\
Examples:
  matchkey doctor
  export MATCHKEY_ADMIN_KEY=…
  matchkey doctor --worker https://matchkey.example.workers.dev
  matchkey doctor --worker https://matchkey.example.workers.dev --json

Alone, doctor lists the Amazon API contracts this build speaks: each API, the version it calls,
the Amazon document it follows with that document's date, and whether it is checked against
Amazon's OpenAPI file, against guide samples only, or only against the emulator.
With --worker, each line of the Worker's checklist is ok, warn or FAIL, with what to do; then
the steps no API can check, and the contracts the Worker's build speaks. The exit status is 1
when something failed, 2 when the Worker could not be asked.

Environment: MATCHKEY_ADMIN_KEY (the Worker's ADMIN_KEY secret).";

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// The Worker's URL (https://…; http:// only for localhost). Without it, only this
    /// build's Amazon API contracts are shown.
    #[arg(long, value_name = "URL")]
    worker: Option<String>,
    /// Print the checklist (or the contracts) as JSON.
    #[arg(long)]
    json: bool,
}

/// The Worker's base URL, checked: https, or http on loopback (local development).
pub(crate) fn base(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
        });
    if !url.starts_with("https://") && !local {
        bail!(
            "--worker must be an https:// URL (http:// only for localhost): the admin key and tokens travel with it"
        );
    }
    Ok(url.to_owned())
}

/// `MATCHKEY_ADMIN_KEY`.
pub(crate) fn admin_key() -> anyhow::Result<String> {
    std::env::var("MATCHKEY_ADMIN_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .context("MATCHKEY_ADMIN_KEY is not set: export the Worker's ADMIN_KEY secret as MATCHKEY_ADMIN_KEY (never a flag)")
}

/// Sends an admin call; answers status and JSON body, or says why the Worker answered
/// nothing useful.
fn call(
    base: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = ApiRequest::new(method, format!("{base}{path}"))
        .header("authorization", format!("Bearer {key}"));
    if let Some(body) = body {
        request = request.body("application/json", body.to_string());
    }
    let (answer, _) = client::send(&client::agent(), request);
    match answer.status {
        0 => bail!("the Worker at {base} did not answer (is the URL right, and is it deployed?)"),
        401 => bail!(
            "the Worker refused the admin key (401): MATCHKEY_ADMIN_KEY must equal its ADMIN_KEY secret"
        ),
        429 => bail!(
            "the Worker locked this address after too many wrong secrets (429): wait 15 minutes"
        ),
        status => {
            let body = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
            Ok((status, body))
        }
    }
}

/// Stores a refresh token as a connection of the Worker; answers its id.
pub(crate) fn store_connection(
    worker: &str,
    region: &str,
    refresh_token: &str,
    granted_at: &str,
    label: Option<&str>,
) -> anyhow::Result<String> {
    let base = base(worker)?;
    let key = admin_key()?;
    let body = json!({ "region": region, "refresh_token": refresh_token, "granted_at": granted_at, "label": label });
    let (status, answer) = call(
        &base,
        &key,
        Method::Post,
        "/v1/admin/connections",
        Some(body),
    )?;
    let code = answer["error"].as_str().unwrap_or_default();
    match status {
        201 => answer["id"]
            .as_str()
            .map(str::to_owned)
            .context("the Worker stored the connection but did not name it"),
        400 if code == "invalid_grant" => bail!(
            "the Worker's refresh with this grant was refused (invalid_grant): its LWA_CLIENT_ID must be the security profile you authorized"
        ),
        500 if code == "configuration_error" => bail!(
            "the Worker is not configured to keep connections (500 configuration_error): set its TOKEN_KEYS, LWA_CLIENT_ID and LWA_CLIENT_SECRET secrets (`matchkey doctor --worker {base}` lists what is missing)"
        ),
        502 => bail!(
            "the Worker could not reach Login with Amazon to check the token (502); try again"
        ),
        _ => bail!("the Worker answered {status} {code}"),
    }
}

/// `matchkey doctor --worker URL`.
pub(crate) fn doctor(args: &DoctorArgs) -> anyhow::Result<bool> {
    let Some(worker) = &args.worker else {
        let contracts = json!({ "contracts": matchkey::amazon::contract::CONTRACTS });
        let mut out = std::io::stdout().lock();
        if args.json {
            writeln!(out, "{contracts}")?;
        } else {
            out.write_all(
                render_contracts("Amazon API contracts this build speaks", &contracts).as_bytes(),
            )?;
        }
        return Ok(true);
    };
    let base = base(worker)?;
    let key = admin_key()?;
    let (status, list) = call(&base, &key, Method::Get, "/v1/admin/check", None)?;
    if status != 200 || !list["items"].is_array() {
        bail!(
            "the Worker answered {status} {} to /v1/admin/check (is it this version of matchkey?)",
            list["error"].as_str().unwrap_or_default()
        );
    }
    let ok = list["ok"].as_bool().unwrap_or(false);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{list}")?;
        return Ok(ok);
    }
    out.write_all(render(&list).as_bytes())?;
    Ok(ok)
}

/// The checklist as text: one line per item, fixes indented, then the manual steps.
fn render(list: &Value) -> String {
    let mut text = String::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let mark = match item["status"].as_str() {
            Some("ok") => "ok  ",
            Some("warn") => "warn",
            _ => "FAIL",
        };
        let id = item["id"].as_str().unwrap_or_default();
        let detail = item["detail"].as_str().unwrap_or_default();
        text.push_str(&format!("{mark}  {id}: {detail}\n"));
        if let Some(fix) = item["fix"].as_str() {
            text.push_str(&format!("        fix: {fix}\n"));
        }
    }
    text.push_str("\nCheck by hand:\n");
    for step in list["manual"].as_array().into_iter().flatten() {
        text.push_str(&format!("  - {}\n", step.as_str().unwrap_or_default()));
    }
    if list["contracts"].is_array() {
        text.push('\n');
        text.push_str(&render_contracts(
            "Amazon API contracts the Worker speaks",
            list,
        ));
    }
    text.push_str(if list["ok"].as_bool() == Some(true) {
        "\nReady: nothing failed.\n"
    } else {
        "\nNot ready: fix the FAIL lines above.\n"
    });
    text
}

/// The `contracts` table of a JSON answer (`matchkey::amazon::contract::CONTRACTS`): one line per
/// API with how it is checked, its path prefix and version, and the documents it follows.
fn render_contracts(title: &str, list: &Value) -> String {
    let mut text = format!("{title}:\n");
    for row in list["contracts"].as_array().into_iter().flatten() {
        let field = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
        let documents: Vec<&str> = row["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let source = if documents.is_empty() {
            "no Amazon document".to_owned()
        } else {
            format!("{} ({})", documents.join(", "), field("document_date"))
        };
        text.push_str(&format!(
            "  {:<14} {}: {} {}\n      {source}\n",
            field("checked"),
            field("api"),
            field("prefix"),
            field("version"),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert_eq!(base("https://w.example/").unwrap(), "https://w.example");
        assert!(base("http://127.0.0.1:8787").is_ok());
        assert!(base("http://localhost").is_ok());
        assert!(base("http://w.example").is_err());
        assert!(base("http://localhost.evil.example").is_err());
    }

    #[test]
    fn renders_the_contracts_of_the_build() {
        let list = json!({ "contracts": matchkey::amazon::contract::CONTRACTS });
        let text = render_contracts("Amazon API contracts this build speaks", &list);
        assert!(text.starts_with("Amazon API contracts this build speaks:\n"));
        assert!(text.contains(
            "  openapi        Events API (conversions): /adsApi/v1/create/events v1\n      amazon-ads-v1-all.json (2026-07-21)\n"
        ), "{text}");
        assert!(
            text.contains(
                "  emulator_only  cookie matching: /ecm3 unversioned\n      no Amazon document\n"
            ),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
                .count(),
            matchkey::amazon::contract::CONTRACTS.len()
        );
    }

    #[test]
    fn renders_marks_fixes_and_manual_steps() {
        let list = json!({"ok": false, "items": [
            {"id": "mode", "status": "ok", "detail": "production"},
            {"id": "secret.TOKEN_KEYS", "status": "fail", "detail": "not set", "fix": "npx wrangler secret put TOKEN_KEYS"}
        ], "manual": ["Register the redirect URI."]});
        let text = render(&list);
        assert!(text.contains("ok    mode: production"));
        assert!(text.contains(
            "FAIL  secret.TOKEN_KEYS: not set\n        fix: npx wrangler secret put TOKEN_KEYS"
        ));
        assert!(text.contains("  - Register the redirect URI."));
        assert!(text.ends_with("Not ready: fix the FAIL lines above.\n"));
    }
}
