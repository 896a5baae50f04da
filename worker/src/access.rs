//! Who may do what: the one decision `(person, route) -> allowed`, without I/O.
//!
//! A person has a [`Role`] and a [`Scope`] (the integrations they were given):
//!
//! - `admin`: people, sessions, the audit log, connections, secrets, installing and
//!   every integration (the `ADMIN_KEY` is an admin of everything);
//! - `operator`: reads, replay, flush, disable/enable and edits of the integrations in
//!   their scope (an edit that changes where events go, advertiser, region, connection
//!   or profile, is an admin's: [`may_edit_target`]);
//! - `viewer`: reads of the integrations in their scope.
//!
//! Routes that name no integration and list them (`GET /v1/admin/integrations`,
//! `/v1/deliveries` without `?integration=`) are [`Access::Filter`]: the caller shows
//! only what [`Person::sees`]. `edge/mod.rs` asks this once per request, after it knows
//! who is asking and before anything is read or changed.

use serde::{Deserialize, Serialize};

use crate::integration::DEFAULT_ID;
use crate::route::{ConsoleRoute, IntegrationAction, Route};

/// A person's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads of the integrations given.
    Viewer,
    /// Reads, replay, flush, disable, enable and edits of the integrations given.
    Operator,
    /// Everything: people, connections, secrets, every integration.
    Admin,
}

impl Role {
    /// Parses `admin`, `operator` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// `admin`, `operator` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

/// The integrations a person was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every integration, present and future (admins).
    All,
    /// These ids (`default` is the vars' integration).
    Only(Vec<String>),
}

/// Who is asking, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their role.
    pub role: Role,
    /// Their integrations (an admin's is always [`Scope::All`]).
    pub scope: Scope,
}

impl Person {
    /// The `ADMIN_KEY`, or an admin.
    pub fn admin() -> Person {
        Person {
            role: Role::Admin,
            scope: Scope::All,
        }
    }

    /// A person with `role` and the integrations `ids` (ignored for an admin, who has all).
    pub fn new(role: Role, ids: Vec<String>) -> Person {
        let scope = if role == Role::Admin {
            Scope::All
        } else {
            Scope::Only(ids)
        };
        Person { role, scope }
    }

    /// Whether integration `id` is theirs.
    pub fn sees(&self, id: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Only(ids) => ids.iter().any(|i| i == id),
        }
    }
}

/// What the decision says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Go on.
    Allow,
    /// Go on, showing only the integrations [`Person::sees`].
    Filter,
    /// 403 with this code.
    Deny(&'static str),
}

/// The role a route needs and the integration it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    /// Anyone signed in (their own session, the console's files).
    Anyone,
    /// Only an admin: people, sessions, audit, connections, secrets, installs, the check.
    Admin,
    /// At least `Role` on the integration the route or `?integration=` names.
    On(Role),
    /// A list of integrations, filtered to the person's.
    List,
}

fn need(route: &Route) -> Need {
    match route {
        Route::Health | Route::ErasureStats => Need::On(Role::Viewer),
        Route::Deliveries => Need::List,
        Route::Replay | Route::Flush | Route::AudienceFlush(_) => Need::On(Role::Operator),
        Route::ConnectStart | Route::Connections { .. } | Route::Check => Need::Admin,
        Route::Integrations { create: true } => Need::Admin,
        Route::Integrations { create: false } => Need::List,
        Route::Integration { replace, .. } => Need::On(if *replace {
            Role::Operator
        } else {
            Role::Viewer
        }),
        Route::IntegrationAction { action, .. } => match action {
            IntegrationAction::Disable | IntegrationAction::Enable => Need::On(Role::Operator),
            // A new ingest secret is a secret: an admin's.
            IntegrationAction::IngestSecret => Need::Admin,
        },
        Route::Asset(_) => Need::Anyone,
        Route::Console(c) => match c {
            ConsoleRoute::Whoami | ConsoleRoute::SignIn | ConsoleRoute::SignOut => Need::Anyone,
            ConsoleRoute::Sessions
            | ConsoleRoute::RevokeSession(_)
            | ConsoleRoute::RevokeAll
            | ConsoleRoute::Users
            | ConsoleRoute::Invite
            | ConsoleRoute::RevokeUser(_)
            | ConsoleRoute::Audit
            | ConsoleRoute::Accounts(_) => Need::Admin,
            ConsoleRoute::Live(_) | ConsoleRoute::Audiences(_) => Need::On(Role::Viewer),
            // The dry run sends nothing, but it is a request made as the site: not a read.
            ConsoleRoute::TryIt(_) => Need::On(Role::Operator),
        },
        // Public routes (ingest, health, the callback) never reach the decision with a
        // person; refused if they did, so that a new route is closed until it is listed.
        _ => Need::Admin,
    }
}

/// The integration a route concerns: the id in its path, else `query` (`?integration=`),
/// else the default integration.
pub fn integration_of<'a>(route: &'a Route, query: Option<&'a str>) -> &'a str {
    match route {
        Route::Integration { id, .. }
        | Route::IntegrationAction { id, .. }
        | Route::Console(
            ConsoleRoute::Live(id) | ConsoleRoute::Audiences(id) | ConsoleRoute::TryIt(id),
        ) => id,
        _ => query.unwrap_or(DEFAULT_ID),
    }
}

/// Whether `person` may ask for `route`, with `query` the request's `?integration=`.
pub fn allowed(person: &Person, route: &Route, query: Option<&str>) -> Access {
    match need(route) {
        Need::Anyone => Access::Allow,
        Need::Admin if person.role == Role::Admin => Access::Allow,
        Need::Admin => Access::Deny("role_not_allowed"),
        // `/v1/deliveries?integration=` is a read of that one integration.
        Need::List if query.is_some() => on(person, Role::Viewer, integration_of(route, query)),
        Need::List => Access::Filter,
        Need::On(role) => on(person, role, integration_of(route, query)),
    }
}

fn on(person: &Person, role: Role, id: &str) -> Access {
    if person.role < role {
        Access::Deny("role_not_allowed")
    } else if !person.sees(id) {
        Access::Deny("integration_not_allowed")
    } else {
        Access::Allow
    }
}

/// Whether `person` may change where an integration's events go (advertiser, region,
/// connection, profile): an admin's, because it reaches another account's grant.
pub fn may_edit_target(person: &Person) -> bool {
    person.role == Role::Admin
}

/// Whether `person` may invite someone with `role` and `ids`: only admins invite (so
/// every invitation is owned by an admin), and revoking a person revokes the people they
/// invited too (`edge/console.rs`), so an admin demoted or revoked takes theirs along.
pub fn may_invite(person: &Person) -> bool {
    person.role == Role::Admin
}

/// The kinds of secret the failed-secret guard counts apart: ten wrong console sign-ins
/// must not lock servers out of ingest, nor one integration's servers another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `Authorization: Bearer` with the `ADMIN_KEY` on an admin route.
    AdminKey,
    /// `POST /v1/admin/session`: the admin key or a person's sign-in key.
    SignIn,
    /// An ingest secret (`INGEST_SECRET` or an integration's).
    Ingest,
}

/// Failed secrets a guard takes within its window before it answers 429; a correct
/// secret is compared first and always goes through (the secrets are long and random:
/// the guard limits wrong answers, it does not stand between a caller and its secret).
pub const GUARD_LIMIT: u32 = 10;

/// The name of the guard that counts a failed secret: its kind, the integration the
/// request names (its site key or `?integration=`, for ingest; `-` when none or not a
/// plain id) and the client's IP (cut to 64 bytes of its characters).
pub fn guard_name(kind: SecretKind, integration: Option<&str>, ip: &str) -> String {
    let kind = match kind {
        SecretKind::AdminKey => "admin",
        SecretKind::SignIn => "sign_in",
        SecretKind::Ingest => "ingest",
    };
    let scope = integration
        .filter(|i| crate::integration::valid_id(i))
        .unwrap_or("-");
    let ip: String = ip
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | 'l' | 'o' | 'c' | 'a'))
        .take(64)
        .collect();
    format!("{kind}|{scope}|{ip}")
}

/// Whether a client that has now failed `failures` times is refused (429) rather than
/// told its secret is wrong (401).
pub fn locked(failures: u32) -> bool {
    failures > GUARD_LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::route;

    fn viewer_of(ids: &[&str]) -> Person {
        Person::new(Role::Viewer, ids.iter().map(|s| (*s).to_owned()).collect())
    }

    fn operator_of(ids: &[&str]) -> Person {
        Person::new(
            Role::Operator,
            ids.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    /// The whole table: every admin route, for an admin, an operator of A, a viewer of A,
    /// each asking about A (`int_a`) and about B (`int_b`).
    #[test]
    fn the_table() {
        use Access::{Allow as Y, Deny, Filter as F};
        const R: Access = Deny("role_not_allowed");
        const S: Access = Deny("integration_not_allowed");
        let admin = Person::admin();
        let op = operator_of(&["int_a"]);
        let viewer = viewer_of(&["int_a"]);
        // (method, path, ?integration=, admin, operator of A, viewer of A)
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Access,
            Access,
            Access,
        );
        let table: Vec<Row> = vec![
            ("GET", "/v1/health", Some("int_a"), Y, Y, Y),
            ("GET", "/v1/health", Some("int_b"), Y, S, S),
            ("GET", "/v1/health", None, Y, S, S),
            ("GET", "/v1/erasure", Some("int_a"), Y, Y, Y),
            ("GET", "/v1/deliveries", None, F, F, F),
            ("GET", "/v1/deliveries", Some("int_a"), Y, Y, Y),
            ("GET", "/v1/deliveries", Some("int_b"), Y, S, S),
            ("POST", "/v1/replay", Some("int_a"), Y, Y, R),
            ("POST", "/v1/replay", Some("int_b"), Y, S, R),
            ("POST", "/v1/flush", Some("int_a"), Y, Y, R),
            ("POST", "/v1/audiences/news/flush", Some("int_a"), Y, Y, R),
            ("POST", "/v1/audiences/news/flush", Some("int_b"), Y, S, R),
            ("POST", "/v1/connect/start", None, Y, R, R),
            ("GET", "/v1/admin/connections", None, Y, R, R),
            ("POST", "/v1/admin/connections", None, Y, R, R),
            (
                "GET",
                "/v1/admin/connections/conn_1/accounts",
                None,
                Y,
                R,
                R,
            ),
            ("GET", "/v1/admin/check", None, Y, R, R),
            ("GET", "/v1/admin/integrations", None, F, F, F),
            ("POST", "/v1/admin/integrations", None, Y, R, R),
            ("GET", "/v1/admin/integrations/int_a", None, Y, Y, Y),
            ("GET", "/v1/admin/integrations/int_b", None, Y, S, S),
            ("PUT", "/v1/admin/integrations/int_a", None, Y, Y, R),
            ("PUT", "/v1/admin/integrations/int_b", None, Y, S, R),
            (
                "POST",
                "/v1/admin/integrations/int_a/disable",
                None,
                Y,
                Y,
                R,
            ),
            (
                "POST",
                "/v1/admin/integrations/int_b/disable",
                None,
                Y,
                S,
                R,
            ),
            ("POST", "/v1/admin/integrations/int_a/enable", None, Y, Y, R),
            (
                "POST",
                "/v1/admin/integrations/int_a/ingest-secret",
                None,
                Y,
                R,
                R,
            ),
            (
                "POST",
                "/v1/admin/integrations/int_b/ingest-secret",
                None,
                Y,
                R,
                R,
            ),
            // The path's id wins over a `?integration=` that names another.
            (
                "GET",
                "/v1/admin/integrations/int_b/live",
                Some("int_a"),
                Y,
                S,
                S,
            ),
            ("GET", "/v1/admin/integrations/int_a/live", None, Y, Y, Y),
            (
                "GET",
                "/v1/admin/integrations/int_a/audiences",
                None,
                Y,
                Y,
                Y,
            ),
            (
                "POST",
                "/v1/admin/integrations/int_a/validate",
                None,
                Y,
                Y,
                R,
            ),
            (
                "POST",
                "/v1/admin/integrations/int_b/validate",
                None,
                Y,
                S,
                R,
            ),
            ("GET", "/v1/admin/session", None, Y, Y, Y),
            ("DELETE", "/v1/admin/session", None, Y, Y, Y),
            ("GET", "/v1/admin/sessions", None, Y, R, R),
            ("POST", "/v1/admin/sessions/ses_1/revoke", None, Y, R, R),
            ("POST", "/v1/admin/sessions/revoke-all", None, Y, R, R),
            ("GET", "/v1/admin/users", None, Y, R, R),
            ("POST", "/v1/admin/users", None, Y, R, R),
            ("POST", "/v1/admin/users/usr_1/revoke", None, Y, R, R),
            ("GET", "/v1/admin/audit", None, Y, R, R),
            ("GET", "/console", None, Y, Y, Y),
            ("GET", "/console/app.js", None, Y, Y, Y),
        ];
        for (m, p, q, a, o, v) in table {
            let r = route(m, p);
            assert!(r.needs_operator(), "{m} {p} is an admin route");
            assert_eq!(allowed(&admin, &r, q), a, "admin: {m} {p} {q:?}");
            assert_eq!(allowed(&op, &r, q), o, "operator of A: {m} {p} {q:?}");
            assert_eq!(allowed(&viewer, &r, q), v, "viewer of A: {m} {p} {q:?}");
        }
        // A person with no integration reaches none; one given the default reaches it.
        let nobody = operator_of(&[]);
        assert_eq!(allowed(&nobody, &route("GET", "/v1/health"), None), S);
        let default = operator_of(&["default"]);
        assert_eq!(allowed(&default, &route("POST", "/v1/flush"), None), Y);
    }

    #[test]
    fn a_route_not_in_the_table_is_closed() {
        // Public routes never ask, but if a handler did, only an admin would pass.
        for (m, p) in [
            ("POST", "/v1/events"),
            ("GET", "/healthz"),
            ("GET", "/nope"),
        ] {
            let r = route(m, p);
            assert_eq!(allowed(&Person::admin(), &r, None), Access::Allow);
            assert_eq!(
                allowed(&operator_of(&["default"]), &r, None),
                Access::Deny("role_not_allowed"),
                "{m} {p}"
            );
        }
    }

    #[test]
    fn failed_secrets_are_counted_per_kind_integration_and_ip() {
        let ip = "203.0.113.7";
        let names = [
            guard_name(SecretKind::AdminKey, None, ip),
            guard_name(SecretKind::SignIn, None, ip),
            guard_name(SecretKind::Ingest, None, ip),
            guard_name(SecretKind::Ingest, Some("sk_a"), ip),
            guard_name(SecretKind::Ingest, Some("sk_b"), ip),
            guard_name(SecretKind::Ingest, Some("sk_a"), "203.0.113.8"),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Nothing of a hostile header reaches the name but an address's characters.
        assert_eq!(
            guard_name(SecretKind::Ingest, Some("a/b"), "1.2.3.4|x\n"),
            "ingest|-|1.2.3.4"
        );
        assert_eq!(
            guard_name(SecretKind::SignIn, None, "local"),
            "sign_in|-|local"
        );
        assert!(guard_name(SecretKind::Ingest, None, &"f".repeat(500)).len() < 100);
        assert!(!locked(GUARD_LIMIT) && locked(GUARD_LIMIT + 1));
    }

    #[test]
    fn only_admins_invite_and_retarget() {
        assert!(may_invite(&Person::admin()));
        assert!(!may_invite(&operator_of(&["int_a"])));
        assert!(!may_invite(&viewer_of(&["int_a"])));
        assert!(may_edit_target(&Person::admin()));
        assert!(!may_edit_target(&operator_of(&["int_a"])));
        // An admin's scope is every integration, whatever list came with it.
        assert!(Person::new(Role::Admin, vec![]).sees("int_z"));
        assert!(!Person::new(Role::Operator, vec!["int_a".into()]).sees("int_z"));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
        for r in [Role::Admin, Role::Operator, Role::Viewer] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
