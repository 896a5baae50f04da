//! Routing as a pure function: method and path into a [`Route`]. No request can make it
//! panic (there is no slicing by position), and every answer it cannot route is a stable
//! code. Tested natively, including a property test over arbitrary methods and paths.

use matchkey::amazon::audience::valid_name;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `OPTIONS *`: a CORS preflight.
    Preflight,
    /// `POST /v1/events`.
    Ingest,
    /// `POST /v1/validate`: the dry run.
    Validate,
    /// `GET /healthz`: public, `ok` or `degraded` only.
    Healthz,
    /// `GET /v1/health`: the details (admin).
    Health,
    /// `POST /v1/audiences/{name}/members`.
    Members(String),
    /// `POST /v1/erasure`: people to erase at Amazon.
    Erasure,
    /// `GET /v1/erasure` (admin): the erasure accounting.
    ErasureStats,
    /// `POST /v1/audiences/{name}/flush` (admin).
    AudienceFlush(String),
    /// `GET /v1/deliveries` (admin).
    Deliveries,
    /// `POST /v1/replay` (admin).
    Replay,
    /// `POST /v1/flush` (admin).
    Flush,
    /// `POST /v1/connect/start` (admin): an authorization URL for a new connection.
    ConnectStart,
    /// `GET /v1/connect/callback`: where Login with Amazon sends the browser back.
    ConnectCallback,
    /// `GET` (list) or `POST` (add, from `matchkey connect --worker`) `/v1/admin/connections`.
    Connections {
        /// `POST`.
        create: bool,
    },
    /// `GET` (list) or `POST` (install) `/v1/admin/integrations`.
    Integrations {
        /// `POST`.
        create: bool,
    },
    /// `GET` (read) or `PUT` (replace) `/v1/admin/integrations/{id}`.
    Integration {
        /// The integration's id.
        id: String,
        /// `PUT`.
        replace: bool,
    },
    /// `POST /v1/admin/integrations/{id}/{disable|enable|ingest-secret}`.
    IntegrationAction {
        /// The integration's id.
        id: String,
        /// What to do.
        action: IntegrationAction,
    },
    /// `GET /v1/admin/check`: what a production deployment still needs.
    Check,
    /// `GET /console` and its files (`crate::console::ASSETS`), by name.
    Asset(&'static str),
    /// The console's own admin routes.
    Console(ConsoleRoute),
    /// A known path with another method: 405.
    MethodNotAllowed(&'static str),
    /// An audience path whose name breaks Amazon's rule: 400.
    InvalidAudienceName,
    /// Anything else: 404.
    NotFound,
}

/// What `POST /v1/admin/integrations/{id}/…` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationAction {
    /// Refuse new events (what was accepted is still delivered).
    Disable,
    /// Take events again.
    Enable,
    /// Make a new ingest secret for the integration's servers (shown once).
    IngestSecret,
}

/// The console's routes under `/v1/admin` (sessions, people, audit, and the views'
/// reads that the older admin API lacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleRoute {
    /// `GET /v1/admin/session`: who is signed in, and the session's CSRF token.
    Whoami,
    /// `POST /v1/admin/session`: a sign-in key (the admin key or a person's) for a cookie.
    SignIn,
    /// `DELETE /v1/admin/session`: sign out.
    SignOut,
    /// `GET /v1/admin/sessions`.
    Sessions,
    /// `POST /v1/admin/sessions/{id}/revoke`.
    RevokeSession(String),
    /// `POST /v1/admin/sessions/revoke-all`: sign out everyone (the caller too).
    RevokeAll,
    /// `GET /v1/admin/users`.
    Users,
    /// `POST /v1/admin/users`: invite someone (their sign-in key is shown once).
    Invite,
    /// `POST /v1/admin/users/{id}/revoke`: their key and sessions stop working.
    RevokeUser(String),
    /// `GET /v1/admin/audit`.
    Audit,
    /// `GET /v1/admin/connections/{id}/accounts`: profiles and DSP advertisers.
    Accounts(String),
    /// `GET /v1/admin/integrations/{id}/live`: the live events ring.
    Live(String),
    /// `GET /v1/admin/integrations/{id}/audiences`: members sent per audience.
    Audiences(String),
    /// `POST /v1/admin/integrations/{id}/validate`: the dry run for the console.
    TryIt(String),
}

/// Whether `s` may be an integration id in a path (`[A-Za-z0-9_-]`, 1 to 64).
fn valid_id(s: &str) -> bool {
    crate::integration::valid_id(s)
}

/// The longest path routed; longer ones are not found without being split.
pub const MAX_PATH: usize = 256;

/// Routes `method` (upper case, as HTTP sends it) and `path` (without the query).
pub fn route(method: &str, path: &str) -> Route {
    if method == "OPTIONS" {
        return Route::Preflight;
    }
    if path.len() > MAX_PATH {
        return Route::NotFound;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Route::NotFound;
    };
    let mut segments = rest.split('/');
    let parts: [Option<&str>; 5] = std::array::from_fn(|_| segments.next());
    if segments.next().is_some() {
        return Route::NotFound;
    }
    let (get, post) = (method == "GET", method == "POST");
    let only = |allowed: &'static str, ok: bool, route: Route| {
        if ok {
            route
        } else {
            Route::MethodNotAllowed(allowed)
        }
    };
    let console =
        |allowed: &'static str, ok: bool, r: ConsoleRoute| only(allowed, ok, Route::Console(r));
    let id_of = |s: &str| valid_id(s).then(|| s.to_owned());
    match parts {
        [Some("console"), None, ..] => only("GET", get, Route::Asset("index.html")),
        // The npm package the file page's worker loads: `pkg/csv.js`, `pkg/csv/…`.
        [Some("console"), Some("pkg"), Some(_), ..] => {
            match crate::console::asset(path.trim_start_matches("/console/")) {
                Some(a) => only("GET", get, Route::Asset(a.name)),
                None => Route::NotFound,
            }
        }
        [Some("console"), Some(file), None, ..] => match crate::console::asset(file) {
            Some(a) => only("GET", get, Route::Asset(a.name)),
            None => Route::NotFound,
        },
        [Some("v1"), Some("admin"), Some("session"), None, ..] => match method {
            "GET" => Route::Console(ConsoleRoute::Whoami),
            "POST" => Route::Console(ConsoleRoute::SignIn),
            "DELETE" => Route::Console(ConsoleRoute::SignOut),
            _ => Route::MethodNotAllowed("GET, POST, DELETE"),
        },
        [Some("v1"), Some("admin"), Some("sessions"), None, ..] => {
            console("GET", get, ConsoleRoute::Sessions)
        }
        [
            Some("v1"),
            Some("admin"),
            Some("sessions"),
            Some("revoke-all"),
            None,
        ] => console("POST", post, ConsoleRoute::RevokeAll),
        [Some("v1"), Some("admin"), Some("audit"), None, ..] => {
            console("GET", get, ConsoleRoute::Audit)
        }
        [Some("v1"), Some("admin"), Some("users"), None, ..] => match method {
            "GET" => Route::Console(ConsoleRoute::Users),
            "POST" => Route::Console(ConsoleRoute::Invite),
            _ => Route::MethodNotAllowed("GET, POST"),
        },
        [
            Some("v1"),
            Some("admin"),
            Some(what @ ("sessions" | "users")),
            Some(id),
            Some("revoke"),
        ] => match id_of(id) {
            Some(id) if what == "sessions" => {
                console("POST", post, ConsoleRoute::RevokeSession(id))
            }
            Some(id) => console("POST", post, ConsoleRoute::RevokeUser(id)),
            None => Route::NotFound,
        },
        [
            Some("v1"),
            Some("admin"),
            Some("connections"),
            Some(id),
            Some("accounts"),
        ] => match id_of(id) {
            Some(id) => console("GET", get, ConsoleRoute::Accounts(id)),
            None => Route::NotFound,
        },
        [
            Some("v1"),
            Some("admin"),
            Some("integrations"),
            Some(id),
            Some(what @ ("live" | "audiences" | "validate")),
        ] => match id_of(id) {
            Some(id) if what == "live" => console("GET", get, ConsoleRoute::Live(id)),
            Some(id) if what == "audiences" => console("GET", get, ConsoleRoute::Audiences(id)),
            Some(id) => console("POST", post, ConsoleRoute::TryIt(id)),
            None => Route::NotFound,
        },
        [Some("healthz"), None, ..] => only("GET", get, Route::Healthz),
        [Some("v1"), Some("events"), None, ..] => only("POST", post, Route::Ingest),
        [Some("v1"), Some("validate"), None, ..] => only("POST", post, Route::Validate),
        [Some("v1"), Some("health"), None, ..] => only("GET", get, Route::Health),
        [Some("v1"), Some("deliveries"), None, ..] => only("GET", get, Route::Deliveries),
        [Some("v1"), Some("replay"), None, ..] => only("POST", post, Route::Replay),
        [Some("v1"), Some("flush"), None, ..] => only("POST", post, Route::Flush),
        [Some("v1"), Some("erasure"), None, ..] if get => Route::ErasureStats,
        [Some("v1"), Some("erasure"), None, ..] => only("GET, POST", post, Route::Erasure),
        [Some("v1"), Some("connect"), Some("start"), None, ..] => {
            only("POST", post, Route::ConnectStart)
        }
        [Some("v1"), Some("connect"), Some("callback"), None, ..] => {
            only("GET", get, Route::ConnectCallback)
        }
        [Some("v1"), Some("admin"), Some("check"), None, ..] => only("GET", get, Route::Check),
        [Some("v1"), Some("admin"), Some("connections"), None, ..] => only(
            "GET, POST",
            get || post,
            Route::Connections { create: post },
        ),
        [Some("v1"), Some("admin"), Some("integrations"), None, ..] => only(
            "GET, POST",
            get || post,
            Route::Integrations { create: post },
        ),
        [
            Some("v1"),
            Some("admin"),
            Some("integrations"),
            Some(id),
            None,
        ] if valid_id(id) => {
            let replace = method == "PUT";
            only(
                "GET, PUT",
                get || replace,
                Route::Integration {
                    id: id.to_owned(),
                    replace,
                },
            )
        }
        [
            Some("v1"),
            Some("admin"),
            Some("integrations"),
            Some(id),
            Some(action @ ("disable" | "enable" | "ingest-secret")),
        ] if valid_id(id) => {
            let action = match action {
                "disable" => IntegrationAction::Disable,
                "enable" => IntegrationAction::Enable,
                _ => IntegrationAction::IngestSecret,
            };
            only(
                "POST",
                post,
                Route::IntegrationAction {
                    id: id.to_owned(),
                    action,
                },
            )
        }
        [
            Some("v1"),
            Some("audiences"),
            Some(name),
            Some(action @ ("members" | "flush")),
            None,
        ] => {
            if !valid_name(name) {
                return Route::InvalidAudienceName;
            }
            let name = name.to_owned();
            let route = if action == "members" {
                Route::Members(name)
            } else {
                Route::AudienceFlush(name)
            };
            only("POST", post, route)
        }
        _ => Route::NotFound,
    }
}

impl Route {
    /// Whether only an operator may ask (the admin key, or a console session).
    pub fn needs_operator(&self) -> bool {
        match self {
            Route::Health
            | Route::AudienceFlush(_)
            | Route::Deliveries
            | Route::Replay
            | Route::Flush
            | Route::ConnectStart
            | Route::Connections { .. }
            | Route::Integrations { .. }
            | Route::Integration { .. }
            | Route::IntegrationAction { .. }
            | Route::ErasureStats
            | Route::Check => true,
            Route::Console(c) => *c != ConsoleRoute::SignIn,
            Route::Asset(name) => crate::console::asset(name).is_some_and(|a| a.protected),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn console_routes() {
        let c = |m: &str, p: &str| route(m, p);
        assert_eq!(c("GET", "/console"), Route::Asset("index.html"));
        assert_eq!(c("GET", "/console/app.js"), Route::Asset("app.js"));
        assert_eq!(c("GET", "/console/pkg/nope.js"), Route::NotFound);
        assert_eq!(c("GET", "/console/pkg/full/../app.js"), Route::NotFound);
        assert_eq!(c("GET", "/console/sign-in"), Route::Asset("sign-in"));
        assert_eq!(c("GET", "/console/icon.svg"), Route::Asset("icon.svg"));
        assert_eq!(c("GET", "/console/../etc"), Route::NotFound);
        assert_eq!(c("POST", "/console"), Route::MethodNotAllowed("GET"));
        assert_eq!(
            c("POST", "/v1/admin/session"),
            Route::Console(ConsoleRoute::SignIn)
        );
        assert_eq!(
            c("DELETE", "/v1/admin/session"),
            Route::Console(ConsoleRoute::SignOut)
        );
        assert_eq!(
            c("PUT", "/v1/admin/session"),
            Route::MethodNotAllowed("GET, POST, DELETE")
        );
        assert_eq!(
            c("POST", "/v1/admin/users/usr_1/revoke"),
            Route::Console(ConsoleRoute::RevokeUser("usr_1".into()))
        );
        assert_eq!(
            c("POST", "/v1/admin/sessions/s_1/revoke"),
            Route::Console(ConsoleRoute::RevokeSession("s_1".into()))
        );
        assert_eq!(
            c("POST", "/v1/admin/sessions/revoke-all"),
            Route::Console(ConsoleRoute::RevokeAll)
        );
        assert_eq!(
            c("GET", "/v1/admin/sessions/revoke-all"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(
            c("GET", "/v1/admin/connections/conn_1/accounts"),
            Route::Console(ConsoleRoute::Accounts("conn_1".into()))
        );
        assert_eq!(
            c("GET", "/v1/admin/integrations/int_1/live"),
            Route::Console(ConsoleRoute::Live("int_1".into()))
        );
        assert_eq!(
            c("POST", "/v1/admin/integrations/int_1/validate"),
            Route::Console(ConsoleRoute::TryIt("int_1".into()))
        );
        assert_eq!(
            c("POST", "/v1/admin/integrations/int_1/live"),
            Route::MethodNotAllowed("GET")
        );
        assert_eq!(c("GET", "/v1/admin/integrations/a.b/live"), Route::NotFound);
        // Every admin route, old and new, needs an operator; sign-in and the sign-in page do not.
        for (m, p) in [
            ("GET", "/v1/health"),
            ("GET", "/v1/deliveries"),
            ("POST", "/v1/replay"),
            ("POST", "/v1/flush"),
            ("POST", "/v1/connect/start"),
            ("GET", "/v1/admin/check"),
            ("GET", "/v1/admin/integrations"),
            ("GET", "/v1/admin/session"),
            ("DELETE", "/v1/admin/session"),
            ("GET", "/v1/admin/audit"),
            ("GET", "/v1/admin/users"),
            ("GET", "/console"),
            ("GET", "/console/app.js"),
            ("GET", "/v1/erasure"),
        ] {
            assert!(route(m, p).needs_operator(), "{m} {p}");
        }
        for (m, p) in [
            ("POST", "/v1/admin/session"),
            ("GET", "/console/sign-in"),
            ("GET", "/console/console.css"),
            ("GET", "/console/icon.svg"),
            ("POST", "/v1/events"),
            ("POST", "/v1/erasure"),
            ("GET", "/healthz"),
            ("GET", "/v1/connect/callback"),
        ] {
            assert!(!route(m, p).needs_operator(), "{m} {p}");
        }
    }

    #[test]
    fn every_route_and_its_neighbours() {
        assert_eq!(route("POST", "/v1/events"), Route::Ingest);
        assert_eq!(route("POST", "/v1/validate"), Route::Validate);
        assert_eq!(route("GET", "/healthz"), Route::Healthz);
        assert_eq!(route("GET", "/v1/health"), Route::Health);
        assert_eq!(route("GET", "/v1/deliveries"), Route::Deliveries);
        assert_eq!(route("POST", "/v1/replay"), Route::Replay);
        assert_eq!(route("POST", "/v1/flush"), Route::Flush);
        assert_eq!(route("POST", "/v1/erasure"), Route::Erasure);
        assert_eq!(route("GET", "/v1/erasure"), Route::ErasureStats);
        assert_eq!(
            route("PUT", "/v1/erasure"),
            Route::MethodNotAllowed("GET, POST")
        );
        assert_eq!(route("POST", "/v1/erasure/x"), Route::NotFound);
        assert_eq!(route("OPTIONS", "/anything"), Route::Preflight);
        assert_eq!(route("POST", "/v1/connect/start"), Route::ConnectStart);
        assert_eq!(route("GET", "/v1/connect/callback"), Route::ConnectCallback);
        assert_eq!(route("GET", "/v1/admin/check"), Route::Check);
        assert_eq!(
            route("POST", "/v1/admin/connections"),
            Route::Connections { create: true }
        );
        assert_eq!(
            route("GET", "/v1/admin/integrations"),
            Route::Integrations { create: false }
        );
        assert_eq!(
            route("PUT", "/v1/admin/integrations/int_1"),
            Route::Integration {
                id: "int_1".into(),
                replace: true
            }
        );
        assert_eq!(
            route("POST", "/v1/admin/integrations/int_1/disable"),
            Route::IntegrationAction {
                id: "int_1".into(),
                action: IntegrationAction::Disable
            }
        );
        assert_eq!(
            route("DELETE", "/v1/admin/integrations/int_1"),
            Route::MethodNotAllowed("GET, PUT")
        );
        assert_eq!(
            route("GET", "/v1/admin/integrations/a%2Fb"),
            Route::NotFound
        );
        assert_eq!(
            route("POST", "/v1/admin/integrations/int_1/disable/x"),
            Route::NotFound
        );
        assert_eq!(
            route("POST", "/v1/audiences/buyers_30d/members"),
            Route::Members("buyers_30d".into())
        );
        assert_eq!(
            route("POST", "/v1/audiences/buyers/flush"),
            Route::AudienceFlush("buyers".into())
        );
        assert_eq!(route("GET", "/v1/events"), Route::MethodNotAllowed("POST"));
        assert_eq!(route("DELETE", "/healthz"), Route::MethodNotAllowed("GET"));
        // The request that used to panic: no name between the two slashes.
        assert_eq!(route("POST", "/v1/audiences/members"), Route::NotFound);
        assert_eq!(
            route("POST", "/v1/audiences//members"),
            Route::InvalidAudienceName
        );
        assert_eq!(
            route("POST", "/v1/audiences/a%20b/members"),
            Route::InvalidAudienceName
        );
        for path in [
            "",
            "/",
            "v1/events",
            "/v1/events/",
            "/v1/events/x",
            "/v1//events",
            "/V1/events",
            "/v1/audiences/x/members/y",
            "/v1/audiences/x/delete",
            "/healthz/",
        ] {
            assert_eq!(route("POST", path), Route::NotFound, "{path:?}");
        }
        assert_eq!(
            route("POST", &format!("/v1/events{}", "/".repeat(300))),
            Route::NotFound
        );
    }

    proptest! {
        #[test]
        fn any_method_and_path_routes_without_panicking(
            method in "[A-Z]{0,8}|\\PC{0,8}",
            path in "(/[a-z0-9_%.-]{0,12}){0,7}|\\PC{0,300}",
        ) {
            let r = route(&method, &path);
            if let Route::Members(name) | Route::AudienceFlush(name) = &r {
                prop_assert!(valid_name(name));
                prop_assert_eq!(method.as_str(), "POST");
            }
            if r == Route::Erasure {
                prop_assert_eq!(path.as_str(), "/v1/erasure");
            }
            if let Route::Integration { id, .. } | Route::IntegrationAction { id, .. } = &r {
                prop_assert!(valid_id(id));
            }
            if let Route::Console(ConsoleRoute::Live(id) | ConsoleRoute::Accounts(id) | ConsoleRoute::RevokeUser(id)) = &r {
                prop_assert!(valid_id(id));
            }
        }
    }
}
