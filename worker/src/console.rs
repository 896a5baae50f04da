//! The console's rules, decided without I/O: its files (embedded in the Worker, so the
//! Worker checks the session before serving any that shows data), the session cookie,
//! sessions' lifetime, the CSRF rule for changes made with a session, and what the audit
//! log calls each change. Tested natively; `edge/console.rs` carries them out.

use subtle::ConstantTimeEq;

pub use crate::access::Role;
use crate::route::{ConsoleRoute, IntegrationAction, Route};

/// One file of the console.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name under `/console/` (`index.html` is `/console` itself).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// Served only with a session (or the admin key): the app and its code.
    pub protected: bool,
    /// Its Content-Security-Policy.
    pub csp: &'static str,
}

/// A console file of this folder.
macro_rules! file {
    ($name:literal, $type:literal, $protected:literal) => {
        file!($name, $name, $type, $protected, CSP)
    };
    ($name:literal, $path:literal, $type:literal, $protected:literal, $csp:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../console/", $path)),
            protected: $protected,
            csp: $csp,
        }
    };
}

/// A file of the npm package (`pkg/`, copied by build.rs; empty when not built), for
/// the file page's Web Worker.
macro_rules! package_file {
    ($path:literal, $type:literal) => {
        Asset {
            name: concat!("pkg/", $path),
            content_type: $type,
            body: include_bytes!(concat!(env!("OUT_DIR"), "/pkg/", $path)),
            protected: true,
            csp: WORKER_CSP,
        }
    };
}

/// Every file the console has.
pub const ASSETS: [Asset; 10] = [
    file!(
        "index.html",
        "index.html",
        "text/html; charset=utf-8",
        true,
        APP_CSP
    ),
    file!("app.js", "text/javascript; charset=utf-8", true),
    file!(
        "sign-in",
        "sign-in.html",
        "text/html; charset=utf-8",
        false,
        CSP
    ),
    file!("sign-in.js", "text/javascript; charset=utf-8", false),
    file!("console.css", "text/css; charset=utf-8", false),
    // Declared by every page's head, so the browser never asks for /favicon.ico (a 404).
    file!("icon.svg", "image/svg+xml", false),
    file!(
        "hash-worker.js",
        "hash-worker.js",
        "text/javascript; charset=utf-8",
        true,
        WORKER_CSP
    ),
    package_file!("csv.js", "text/javascript; charset=utf-8"),
    package_file!("csv/matchkey_wasm.js", "text/javascript; charset=utf-8"),
    package_file!("csv/matchkey_wasm_bg.wasm", "application/wasm"),
];

/// The file named `name` (a package file the build did not have is not there).
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name && !a.body.is_empty())
}

/// The Content-Security-Policy of every console page: nothing but this origin's own
/// scripts, styles and API; no inline script, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The app's page: [`CSP`] and Web Workers from this origin (the file page's).
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The policy of the file page's Web Worker and the package it imports: this origin's
/// scripts and, for the package's wasm, `'wasm-unsafe-eval'` (compiling WebAssembly, not
/// `eval`); the page itself does not get it.
pub const WORKER_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The session cookie: `__Host-` (Secure, path `/`, no domain: only this host sets or reads it).
pub const COOKIE: &str = "__Host-mk_session";

/// A session ends this long after sign-in, whatever happens.
pub const SESSION_MAX_MS: u64 = 8 * 3_600_000;
/// … or after this long without a request.
pub const IDLE_MS: u64 = 30 * 60_000;
/// How often a session's last use is written (not on every request).
pub const TOUCH_EVERY_MS: u64 = 60_000;

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_MAX_MS / 1000
    )
}

/// The `Set-Cookie` value that ends one in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session token in a `Cookie` header: 64 lowercase hex, or nothing.
pub fn session_token(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Whether a session made at `created`, last used at `last`, is still alive at `now`.
pub fn alive(created: u64, last: u64, revoked: bool, now: u64) -> bool {
    !revoked && now.saturating_sub(created) < SESSION_MAX_MS && now.saturating_sub(last) < IDLE_MS
}

/// What a session opened with the `ADMIN_KEY` remembers of it: a fingerprint (32 hex of
/// a domain-separated SHA-256, so the stored value is neither the key nor its plain
/// digest). When the key is rotated the fingerprint no longer matches and the session
/// is dead ([`admin_session_alive`]).
pub fn admin_fingerprint(admin_key: &str) -> String {
    let digest = matchkey::sha256_hex(&format!("matchkey console session\0{admin_key}"));
    digest.as_str()[..32].to_owned()
}

/// Whether a session opened with the admin key (its stored fingerprint `stored`) still
/// belongs to the key set now (`current`: `None` when `ADMIN_KEY` is unset). A session
/// of the key without a fingerprint (opened before fingerprints) is dead too.
pub fn admin_session_alive(stored: Option<&str>, current: Option<&str>) -> bool {
    match (stored, current) {
        (Some(s), Some(c)) => s.len() == c.len() && bool::from(s.as_bytes().ct_eq(c.as_bytes())),
        _ => false,
    }
}

/// Whether the last use should be written now.
pub fn needs_touch(last: u64, now: u64) -> bool {
    now.saturating_sub(last) >= TOUCH_EVERY_MS
}

/// Whether `method` changes something (and so needs the CSRF token with a session).
pub fn is_change(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// The CSRF rule for a change made with a session cookie: the request comes from this
/// origin (its `Origin` header, which browsers send on every such request) and carries
/// the session's token in `X-CSRF-Token` (compared in constant time).
///
/// # Errors
/// `csrf_origin_mismatch`, `csrf_token_missing` or `csrf_token_invalid`.
pub fn csrf(
    origin: Option<&str>,
    own_origin: &str,
    token: Option<&str>,
    expected: &str,
) -> Result<(), &'static str> {
    if origin != Some(own_origin) {
        return Err("csrf_origin_mismatch");
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err("csrf_token_missing");
    };
    let equal =
        token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()));
    if equal {
        Ok(())
    } else {
        Err("csrf_token_invalid")
    }
}

/// What the audit log calls a change: an action and, where the route names one, its
/// target (`?integration=` is added by the caller). `None` for reads.
pub fn action(route: &Route) -> Option<(&'static str, Option<String>)> {
    Some(match route {
        Route::ConnectStart => ("connection.start", None),
        Route::Connections { create: true } => ("connection.add", None),
        Route::Integrations { create: true } => ("integration.install", None),
        Route::Integration { id, replace: true } => ("integration.edit", Some(id.clone())),
        Route::IntegrationAction { id, action } => (
            match action {
                IntegrationAction::Disable => "integration.disable",
                IntegrationAction::Enable => "integration.enable",
                IntegrationAction::IngestSecret => "integration.new_ingest_secret",
            },
            Some(id.clone()),
        ),
        Route::Replay => ("deliveries.replay", None),
        // Reads made with an advertiser's grant are audited as changes are.
        Route::Check => ("deployment.check", None),
        Route::Flush => ("deliveries.flush", None),
        Route::AudienceFlush(name) => ("audience.flush", Some(name.clone())),
        Route::Console(c) => match c {
            ConsoleRoute::SignIn => ("session.sign_in", None),
            ConsoleRoute::SignOut => ("session.sign_out", None),
            ConsoleRoute::RevokeSession(id) => ("session.revoke", Some(id.clone())),
            ConsoleRoute::RevokeAll => ("session.revoke_all", None),
            ConsoleRoute::Invite => ("user.invite", None),
            ConsoleRoute::RevokeUser(id) => ("user.revoke", Some(id.clone())),
            ConsoleRoute::Accounts(id) => ("connection.accounts", Some(id.clone())),
            _ => return None,
        },
        _ => return None,
    })
}

/// An invitation as the admin API takes it: `{name, role, integrations}`, `role` one of
/// `admin`, `operator` or `viewer` (`viewer` when absent: the least), `integrations` the
/// ids given (each one of `known`; ignored for an admin, who has every one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The person's name, trimmed.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The integrations given (empty for an admin).
    pub integrations: Vec<String>,
}

/// Checks an invitation's body. Refusals name the field and a reason, never a value.
///
/// # Errors
/// Each field refused: `name` `required`, `role` `invalid`, `integrations` `invalid`,
/// `integrations[i]` `unknown_integration`, `integrations` `too_many` (over 500).
pub fn invitation(
    v: &serde_json::Value,
    known: &[String],
) -> Result<Invitation, Vec<(String, &'static str)>> {
    let mut errors = Vec::new();
    let name = v["name"].as_str().unwrap_or_default().trim().to_owned();
    if !valid_person_name(&name) {
        errors.push(("name".to_owned(), "required"));
    }
    let role = match &v["role"] {
        serde_json::Value::Null => Some(Role::Viewer),
        serde_json::Value::String(s) => Role::parse(s),
        _ => None,
    };
    if role.is_none() {
        errors.push(("role".to_owned(), "invalid"));
    }
    let mut integrations = Vec::new();
    match &v["integrations"] {
        serde_json::Value::Null => {}
        serde_json::Value::Array(list) if list.len() <= 500 => {
            for (i, id) in list.iter().enumerate() {
                match id.as_str() {
                    Some(id) if known.iter().any(|k| k == id) => {
                        if !integrations.iter().any(|x| x == id) {
                            integrations.push(id.to_owned());
                        }
                    }
                    _ => errors.push((format!("integrations[{i}]"), "unknown_integration")),
                }
            }
        }
        serde_json::Value::Array(_) => errors.push(("integrations".to_owned(), "too_many")),
        _ => errors.push(("integrations".to_owned(), "invalid")),
    }
    match role {
        Some(role) if errors.is_empty() => Ok(Invitation {
            name,
            role,
            integrations: if role == Role::Admin {
                Vec::new()
            } else {
                integrations
            },
        }),
        _ => Err(errors),
    }
}

/// A person's name as the console shows it: 1 to 100 printable characters, trimmed.
pub fn valid_person_name(name: &str) -> bool {
    let name = name.trim();
    (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::route;

    const T: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let c = set_cookie(T);
        assert!(c.starts_with("__Host-mk_session="));
        for part in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=28800",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!c.contains("Domain"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_read_only_from_its_own_cookie_and_shape() {
        assert_eq!(session_token(&format!("a=b; {COOKIE}={T}; c=d")), Some(T));
        assert_eq!(session_token(&format!("mk_session={T}")), None);
        assert_eq!(session_token(&format!("{COOKIE}={}", &T[1..])), None);
        assert_eq!(
            session_token(&format!("{COOKIE}={}", T.to_uppercase())),
            None
        );
        assert_eq!(session_token(""), None);
    }

    #[test]
    fn sessions_end_by_age_idleness_or_revocation() {
        assert!(alive(0, 0, false, IDLE_MS - 1));
        assert!(!alive(0, 0, false, IDLE_MS));
        assert!(alive(0, SESSION_MAX_MS - 10, false, SESSION_MAX_MS - 1));
        assert!(!alive(0, SESSION_MAX_MS - 10, false, SESSION_MAX_MS));
        assert!(!alive(0, 0, true, 1));
        assert!(!needs_touch(100, 100 + TOUCH_EVERY_MS - 1));
        assert!(needs_touch(100, 100 + TOUCH_EVERY_MS));
    }

    #[test]
    fn a_session_of_the_admin_key_dies_when_the_key_changes() {
        let old = admin_fingerprint("old-key");
        assert_eq!(old.len(), 32);
        assert!(!old.contains("old-key"));
        assert_ne!(old, admin_fingerprint("new-key"));
        assert_ne!(old, matchkey::sha256_hex("old-key").as_str()[..32]);
        assert!(admin_session_alive(
            Some(&old),
            Some(&admin_fingerprint("old-key"))
        ));
        assert!(!admin_session_alive(
            Some(&old),
            Some(&admin_fingerprint("new-key"))
        ));
        assert!(!admin_session_alive(Some(&old), None), "the key removed");
        assert!(
            !admin_session_alive(None, Some(&old)),
            "opened before fingerprints"
        );
    }

    #[test]
    fn csrf_needs_this_origin_and_the_token() {
        let own = "https://w.example";
        assert_eq!(csrf(Some(own), own, Some("tok"), "tok"), Ok(()));
        assert_eq!(
            csrf(None, own, Some("tok"), "tok"),
            Err("csrf_origin_mismatch")
        );
        assert_eq!(
            csrf(Some("https://evil.example"), own, Some("tok"), "tok"),
            Err("csrf_origin_mismatch")
        );
        assert_eq!(csrf(Some(own), own, None, "tok"), Err("csrf_token_missing"));
        assert_eq!(
            csrf(Some(own), own, Some(""), "tok"),
            Err("csrf_token_missing")
        );
        assert_eq!(
            csrf(Some(own), own, Some("tok2"), "tok"),
            Err("csrf_token_invalid")
        );
        assert!(is_change("POST") && is_change("DELETE") && is_change("PUT"));
        assert!(!is_change("GET"));
    }

    #[test]
    fn every_change_has_an_audit_name_and_reads_have_none() {
        for (m, p, name) in [
            ("POST", "/v1/connect/start", "connection.start"),
            ("POST", "/v1/admin/integrations", "integration.install"),
            ("PUT", "/v1/admin/integrations/int_1", "integration.edit"),
            (
                "POST",
                "/v1/admin/integrations/int_1/disable",
                "integration.disable",
            ),
            ("POST", "/v1/replay", "deliveries.replay"),
            ("POST", "/v1/admin/users", "user.invite"),
            ("POST", "/v1/admin/users/usr_1/revoke", "user.revoke"),
            ("DELETE", "/v1/admin/session", "session.sign_out"),
            (
                "POST",
                "/v1/admin/sessions/revoke-all",
                "session.revoke_all",
            ),
            // Reads that use an advertiser's grant.
            ("GET", "/v1/admin/check", "deployment.check"),
            (
                "GET",
                "/v1/admin/connections/conn_1/accounts",
                "connection.accounts",
            ),
        ] {
            assert_eq!(action(&route(m, p)).map(|a| a.0), Some(name), "{m} {p}");
        }
        for (m, p) in [
            ("GET", "/v1/deliveries"),
            ("GET", "/v1/admin/audit"),
            ("POST", "/v1/admin/integrations/i/validate"),
        ] {
            assert_eq!(action(&route(m, p)), None, "{m} {p}");
        }
    }

    #[test]
    fn every_page_declares_its_icon_and_it_is_served() {
        let icon = asset("icon.svg").expect("the icon is a console file");
        assert!(!icon.protected && icon.content_type.starts_with("image/svg+xml"));
        assert!(String::from_utf8_lossy(icon.body).starts_with("<svg"));
        let pages = ASSETS
            .iter()
            .filter(|a| a.content_type.starts_with("text/html"));
        let mut n = 0;
        for a in pages {
            let body = String::from_utf8_lossy(a.body);
            let head = body.split("<body").next().unwrap_or_default();
            assert!(
                head.contains(r#"<link rel="icon" href="/console/icon.svg""#),
                "{} declares no icon: the browser would ask for /favicon.ico",
                a.name
            );
            n += 1;
        }
        assert!(n >= 2, "the app and the sign-in page");
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        for a in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".html") || a.name == "sign-in")
        {
            let body = String::from_utf8_lossy(a.body).to_ascii_lowercase();
            assert!(
                !body.contains("<script>") && !body.contains("<style"),
                "{}",
                a.name
            );
            assert!(
                !body.contains(" style=") && !body.contains(" onclick"),
                "{}",
                a.name
            );
        }
        assert!(CSP.contains("default-src 'none'") && CSP.contains("frame-ancestors 'none'"));
        // Only the worker and the package may compile WebAssembly.
        for a in &ASSETS {
            let wasm = a.csp.contains("'wasm-unsafe-eval'");
            assert_eq!(
                wasm,
                a.name.starts_with("pkg/") || a.name == "hash-worker.js",
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn invitations_name_a_role_and_known_integrations() {
        use serde_json::json;
        let known = vec!["int_a".to_owned(), "default".to_owned()];
        let i = invitation(
            &json!({"name": " Grace ", "role": "operator", "integrations": ["int_a", "int_a"]}),
            &known,
        )
        .unwrap();
        assert_eq!(
            (i.name.as_str(), i.role, i.integrations),
            ("Grace", Role::Operator, vec!["int_a".to_owned()])
        );
        // Without a role: a viewer of nothing, the least.
        let i = invitation(&json!({"name": "Ada"}), &known).unwrap();
        assert_eq!((i.role, i.integrations.len()), (Role::Viewer, 0));
        // An admin has every integration: the list is not kept.
        let i = invitation(
            &json!({"name": "Ada", "role": "admin", "integrations": ["int_a"]}),
            &known,
        )
        .unwrap();
        assert!(i.integrations.is_empty());
        let e = invitation(
            &json!({"name": "", "role": "root", "integrations": ["int_a", "int_zz", 3]}),
            &known,
        )
        .unwrap_err();
        assert_eq!(
            e,
            vec![
                ("name".to_owned(), "required"),
                ("role".to_owned(), "invalid"),
                ("integrations[1]".to_owned(), "unknown_integration"),
                ("integrations[2]".to_owned(), "unknown_integration"),
            ]
        );
        assert_eq!(
            invitation(&json!({"name": "A", "integrations": "int_a"}), &known).unwrap_err(),
            vec![("integrations".to_owned(), "invalid")]
        );
    }

    #[test]
    fn names() {
        assert!(valid_person_name(" Ada "));
        assert!(!valid_person_name(""));
        assert!(!valid_person_name("a\nb"));
        assert!(!valid_person_name(&"x".repeat(101)));
    }
}
