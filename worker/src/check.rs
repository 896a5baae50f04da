//! What a production deployment needs, as a pure function of what the edge found:
//! `GET /v1/admin/check` and `matchkey doctor` show this list, each item with its fix.
//! What no API can check is listed as a manual step.

use matchkey::amazon::contract::{ApiContract, CONTRACTS};
use serde::Serialize;

use crate::migrations::MIGRATIONS;

/// A secret as the edge found it (never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Not set, or empty.
    Missing,
    /// The value of `.dev.vars.example`.
    Demo,
    /// Set.
    Set,
}

/// A connection as the edge found it.
#[derive(Debug, Clone)]
pub struct ConnectionFact {
    /// Its id.
    pub id: String,
    /// A refresh attempt's result: `Ok`, or the error code.
    pub refresh: Result<(), String>,
    /// Days until the refresh token's 365 days are up.
    pub days_left: Option<i64>,
}

/// An integration as the edge found it.
#[derive(Debug, Clone)]
pub struct IntegrationFact {
    /// Its id (`default` for the vars).
    pub id: String,
    /// Whether it is disabled.
    pub disabled: bool,
    /// Whether the advertiser answered through the integration's grant: `Ok`, or a code.
    pub advertiser: Result<(), String>,
}

/// Everything the checklist is made from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `LOCAL_DEV`.
    pub local_dev: bool,
    /// The secrets by name.
    pub secrets: Vec<(&'static str, Secret)>,
    /// URLs that must be `https://` outside local development: `(var, is https)`.
    pub urls: Vec<(&'static str, bool)>,
    /// Bindings by name, and whether each is present.
    pub bindings: Vec<(&'static str, bool)>,
    /// Migrations applied (`None`: D1 could not be read).
    pub migrations: Option<Vec<String>>,
    /// The connections.
    pub connections: Vec<ConnectionFact>,
    /// The integrations (the vars' one first when it names an advertiser).
    pub integrations: Vec<IntegrationFact>,
    /// Whether `ALERT_WEBHOOK_URL` is set.
    pub alert_webhook: bool,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// A stable id: `secret.ADMIN_KEY`, `binding.DB`, `connection.conn_…`, …
    pub id: String,
    /// `ok`, `fail` or `warn`.
    pub status: &'static str,
    /// What was found.
    pub detail: String,
    /// What to do, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// No item failed.
    pub ok: bool,
    /// Every check.
    pub items: Vec<Item>,
    /// What the operator must check by hand.
    pub manual: Vec<&'static str>,
    /// The Amazon API contracts this build speaks (API, version, the document followed and
    /// how it is checked): the core's one table, so a user can tell when Amazon changes one.
    pub contracts: &'static [ApiContract],
}

fn item(id: String, status: &'static str, detail: String, fix: Option<String>) -> Item {
    Item {
        id,
        status,
        detail,
        fix,
    }
}

/// Secrets a deployment needs, and those it may have.
pub const REQUIRED_SECRETS: [&str; 4] = [
    "LWA_CLIENT_ID",
    "LWA_CLIENT_SECRET",
    "ADMIN_KEY",
    "TOKEN_KEYS",
];

/// Makes the checklist.
pub fn checklist(f: &Facts) -> Checklist {
    let mut items = Vec::new();
    items.push(if f.local_dev {
        item(
            "mode".into(),
            "fail",
            "LOCAL_DEV is on: the Worker answers only on loopback".into(),
            Some("deploy with `--env production` (wrangler.toml's [env.production] has no LOCAL_DEV)".into()),
        )
    } else {
        item("mode".into(), "ok", "production".into(), None)
    });
    for (name, state) in &f.secrets {
        let required = REQUIRED_SECRETS.contains(name);
        let put = format!("npx wrangler secret put {name} --env production");
        items.push(match state {
            Secret::Set => item(format!("secret.{name}"), "ok", "set".into(), None),
            Secret::Demo => item(
                format!("secret.{name}"),
                "fail",
                "the demo value of .dev.vars.example".into(),
                Some(put),
            ),
            Secret::Missing if required => {
                let fix = if *name == "TOKEN_KEYS" {
                    format!("{put}  (value: k1:$(openssl rand -base64 32))")
                } else {
                    put
                };
                item(
                    format!("secret.{name}"),
                    "fail",
                    "not set".into(),
                    Some(fix),
                )
            }
            Secret::Missing => item(
                format!("secret.{name}"),
                "warn",
                "not set (optional)".into(),
                Some(put),
            ),
        });
    }
    for (name, https) in &f.urls {
        items.push(if *https {
            item(format!("url.{name}"), "ok", "https".into(), None)
        } else {
            item(
                format!("url.{name}"),
                "fail",
                "not an https:// URL".into(),
                Some(format!(
                    "set {name} to an https:// URL, or remove it for Amazon's"
                )),
            )
        });
    }
    for (name, present) in &f.bindings {
        items.push(if *present {
            item(format!("binding.{name}"), "ok", "bound".into(), None)
        } else {
            item(
                format!("binding.{name}"),
                "fail",
                "missing".into(),
                Some(format!("add the {name} binding to wrangler.toml's [env.production] (see the README's Deploy to Cloudflare)")),
            )
        });
    }
    items.push(match &f.migrations {
        None => item(
            "d1.migrations".into(),
            "fail",
            "D1 could not be read".into(),
            Some("npx wrangler d1 migrations apply matchkey-deliveries --remote --env production".into()),
        ),
        Some(applied) => {
            let missing: Vec<&str> = MIGRATIONS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !applied.iter().any(|a| a == n))
                .collect();
            if missing.is_empty() {
                item("d1.migrations".into(), "ok", format!("{} applied", applied.len()), None)
            } else {
                item(
                    "d1.migrations".into(),
                    "fail",
                    format!("not applied: {}", missing.join(", ")),
                    Some("npx wrangler d1 migrations apply matchkey-deliveries --remote --env production".into()),
                )
            }
        }
    });
    for c in &f.connections {
        let id = format!("connection.{}", c.id);
        items.push(match &c.refresh {
            Ok(()) => item(id.clone(), "ok", "token refreshes".into(), None),
            Err(code) if code == "invalid_grant" => item(
                id.clone(),
                "fail",
                "Amazon refused the grant (invalid_grant)".into(),
                Some("reconnect: `matchkey connect --worker URL`, or POST /v1/connect/start, then point its integrations at the new connection".into()),
            ),
            Err(code) => item(
                id.clone(),
                "fail",
                format!("the token did not refresh ({code})"),
                Some("check LWA_CLIENT_ID, LWA_CLIENT_SECRET and TOKEN_KEYS; try again later if Amazon was unreachable".into()),
            ),
        });
        if let Some(days) = c.days_left
            && days <= 30
        {
            items.push(item(
                format!("{id}.expiry"),
                if days <= 0 { "fail" } else { "warn" },
                format!("the refresh token expires in {days} days (365 after consent)"),
                Some("reconnect before then".into()),
            ));
        }
    }
    if f.integrations.is_empty() {
        items.push(item(
            "integrations".into(),
            "fail",
            "no integration: nothing can be delivered".into(),
            Some("install one: POST /v1/admin/integrations (worker/README.md)".into()),
        ));
    }
    for i in &f.integrations {
        let id = format!("integration.{}", i.id);
        items.push(match (&i.advertiser, i.disabled) {
            (_, true) => item(id, "warn", "disabled: takes no new events".into(), Some(format!("POST /v1/admin/integrations/{}/enable", i.id))),
            (Ok(()), false) => item(id, "ok", "the advertiser answers".into(), None),
            (Err(code), false) => item(
                id,
                "fail",
                format!("the advertiser did not answer through its connection ({code})"),
                Some("check the integration's advertiser_id, profile_id and region, and that its connection's account reaches them".into()),
            ),
        });
    }
    if !f.alert_webhook {
        items.push(item(
            "alerts".into(),
            "warn",
            "ALERT_WEBHOOK_URL is not set: reconnects and dead letters reach nobody".into(),
            Some(
                "set ALERT_WEBHOOK_URL (a Slack or other https webhook) in [env.production].vars"
                    .into(),
            ),
        ));
    }
    Checklist {
        ok: items.iter().all(|i| i.status != "fail"),
        items,
        manual: vec![
            "The redirect URI the Worker prints (its /v1/connect/callback, or CONNECT_REDIRECT_URI) is an Allowed Return URL of your Login with Amazon security profile.",
            "Your Login with Amazon security profile is approved for the Amazon Ads API (advertising.amazon.com/API).",
            "Each site's Content-Security-Policy allows the tag: script-src its tag URL and 'wasm-unsafe-eval', connect-src this Worker's origin.",
        ],
        contracts: CONTRACTS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Facts {
        Facts {
            local_dev: false,
            secrets: REQUIRED_SECRETS.iter().map(|s| (*s, Secret::Set)).collect(),
            urls: vec![("AMAZON_API_BASE", true)],
            bindings: vec![("DB", true), ("TOKENS", true)],
            migrations: Some(MIGRATIONS.iter().map(|(n, _)| (*n).to_owned()).collect()),
            connections: vec![ConnectionFact {
                id: "conn_a".into(),
                refresh: Ok(()),
                days_left: Some(200),
            }],
            integrations: vec![IntegrationFact {
                id: "int_a".into(),
                disabled: false,
                advertiser: Ok(()),
            }],
            alert_webhook: true,
        }
    }

    #[test]
    fn the_checklist_says_which_amazon_contracts_the_build_speaks() {
        let c = checklist(&healthy());
        assert_eq!(c.contracts, CONTRACTS);
        let json = serde_json::to_value(&c).unwrap();
        let rows = json["contracts"].as_array().unwrap();
        assert_eq!(rows.len(), CONTRACTS.len());
        let events = rows
            .iter()
            .find(|r| r["prefix"] == "/adsApi/v1/create/events")
            .unwrap();
        assert_eq!(events["checked"], "openapi");
        assert_eq!(events["documents"][0], "amazon-ads-v1-all.json");
        assert!(rows.iter().any(|r| r["checked"] == "guide_samples"));
    }

    #[test]
    fn a_healthy_deployment_passes() {
        let c = checklist(&healthy());
        assert!(c.ok, "{:?}", c.items);
        assert!(c.items.iter().all(|i| i.status == "ok"));
        assert!(!c.manual.is_empty());
    }

    #[test]
    fn each_problem_fails_with_its_fix() {
        let mut f = healthy();
        f.local_dev = true;
        f.secrets[0].1 = Secret::Demo;
        f.secrets[3].1 = Secret::Missing;
        f.urls[0].1 = false;
        f.bindings[1].1 = false;
        f.migrations = Some(vec![MIGRATIONS[0].0.to_owned()]);
        f.connections[0].refresh = Err("invalid_grant".into());
        f.connections[0].days_left = Some(10);
        f.integrations[0].advertiser = Err("HTTP_403".into());
        f.alert_webhook = false;
        let c = checklist(&f);
        assert!(!c.ok);
        let status = |id: &str| {
            c.items
                .iter()
                .find(|i| i.id == id)
                .map(|i| (i.status, i.fix.is_some()))
        };
        for id in [
            "mode",
            "secret.LWA_CLIENT_ID",
            "secret.TOKEN_KEYS",
            "url.AMAZON_API_BASE",
            "binding.TOKENS",
            "d1.migrations",
            "connection.conn_a",
            "integration.int_a",
        ] {
            assert_eq!(status(id), Some(("fail", true)), "{id}");
        }
        assert_eq!(status("connection.conn_a.expiry"), Some(("warn", true)));
        assert_eq!(status("alerts"), Some(("warn", true)));
        let missing = c.items.iter().find(|i| i.id == "d1.migrations").unwrap();
        assert!(missing.detail.contains(MIGRATIONS[1].0));
    }

    #[test]
    fn no_integration_is_a_failure() {
        let mut f = healthy();
        f.integrations.clear();
        assert!(!checklist(&f).ok);
    }
}

/// What the cron trigger tells the operator: connections newly needing reconnection
/// (those in `already` were told before) and dead letters since the last run, per
/// integration. `None`: nothing new.
pub fn alert(
    reconnect: &[String],
    already: &[String],
    dead: &[(String, u64)],
) -> Option<serde_json::Value> {
    use serde_json::json;
    let mut alerts = Vec::new();
    let mut lines = Vec::new();
    for id in reconnect.iter().filter(|id| !already.contains(id)) {
        alerts.push(json!({ "kind": "reconnect_needed", "connection_id": id }));
        lines.push(format!("Amazon connection {id} must be reconnected (its grant was refused); its integrations deliver nothing until then."));
    }
    for (integration, count) in dead.iter().filter(|(_, n)| *n > 0) {
        alerts.push(json!({ "kind": "dead_letters", "integration": integration, "count": count }));
        lines.push(format!("{count} event(s) of integration {integration} were dead-lettered; replay them with POST /v1/replay?integration={integration} once the cause is fixed."));
    }
    (!alerts.is_empty())
        .then(|| json!({ "text": format!("matchkey: {}", lines.join(" ")), "alerts": alerts }))
}

#[cfg(test)]
mod alert_tests {
    use super::*;

    #[test]
    fn only_what_is_new_is_told() {
        assert!(alert(&[], &[], &[]).is_none());
        assert!(
            alert(
                &["conn_a".into()],
                &["conn_a".into()],
                &[("int_a".into(), 0)]
            )
            .is_none()
        );
        let a = alert(
            &["conn_a".into(), "conn_b".into()],
            &["conn_a".into()],
            &[("int_a".into(), 3)],
        )
        .unwrap();
        let kinds: Vec<&str> = a["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["reconnect_needed", "dead_letters"]);
        assert_eq!(a["alerts"][0]["connection_id"], "conn_b");
        assert!(a["text"].as_str().unwrap().contains("conn_b"));
    }
}
