//! Audience membership, as pure functions: a members request into AMC audience records,
//! one per identity, keyed by an external user id so that an add and a remove of the same
//! person inside one flush window collapse to the last intent.
//!
//! An identity may also carry the site's random visitor id (`visitorId`, the core's rule
//! [`check_visitor_id`]), which becomes a cookie change (`COOKIE-<id>` in the Data
//! Provider API). The audience's match method ([`MatchMethod`]) decides which of an
//! identity's ids are used: hashes, the visitor id or both.
//!
//! Browsers (the public site key) may only change the audiences listed in
//! `BROWSER_AUDIENCES` ([`browser_may_join`]): add with digests (the core's identity rule)
//! or a visitor id, and remove only a visitor id (their own: ids are random, so another
//! visitor's cannot be guessed). They never name an external user id or remove by hashes:
//! removal by hashes would let anyone who knows a person's e-mail address remove that
//! person. Servers with the ingest secret keep full access.

use matchkey::amazon::audience::{Action, Member, MemberError, amc_key, user_consent};
use matchkey::amazon::cookie::check_visitor_id;
use matchkey::identity;
use matchkey::{Country, Field, Normalizer};
use serde_json::{Map, Value, json};

pub use matchkey::amazon::audience::valid_name;

use crate::config::{Config, MatchMethod};
use crate::ingest::{Caller, Context, Problem, Refusal, label, rebuild_consent};

/// One membership change, ready for the audience's accumulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The change's key in the accumulator, one per Amazon identity so that the last
    /// intent wins: the person's external user id (given, or derived from the hashes), or
    /// `c:` and the visitor id for a cookie (`:` is never part of an external user id).
    pub key: String,
    /// The AMC record (`action` CREATE or DELETE), or for a cookie
    /// `{"cookie": visitorId, "action": CREATE|DELETE}` ([`cookie_change`]).
    pub record: Value,
}

/// The key prefix of cookie changes.
pub const COOKIE_KEY: &str = "c:";

/// A cookie change's record.
pub fn cookie_change(visitor_id: &str, action: Action) -> Value {
    json!({ "cookie": visitor_id, "action": action.amc() })
}

/// The visitor id and action of a cookie change's record, if it is one.
pub fn read_cookie_change(record: &Value) -> Option<(&str, Action)> {
    let id = record.get("cookie")?.as_str()?;
    let action = match record.get("action")?.as_str()? {
        "CREATE" => Action::Add,
        "DELETE" => Action::Remove,
        _ => return None,
    };
    Some((id, action))
}

/// A members request, read: the members' country (`US` when not given), the changes,
/// and the identities refused.
pub type Read = (Country, Vec<Change>, Vec<Problem>);

/// Identities (`add` and `remove` together) a browser's members request may hold: a
/// page adds its own visitor, not a list (the site key is public: anyone may post).
pub const BROWSER_MAX_IDENTITIES: usize = 10;
/// Identities a server's members request may hold.
pub const SERVER_MAX_IDENTITIES: usize = 10_000;

/// The top-level keys of a browser's members request.
pub const BROWSER_KEYS: [&str; 4] = ["siteKey", "country", "consent", "add"];

/// Whether a browser (the public site key) may add members to audience `name`: only
/// the audiences listed in `BROWSER_AUDIENCES` (none by default).
pub fn browser_may_join(name: &str, config: &Config) -> bool {
    valid_name(name) && config.audiences.iter().any(|a| a == name)
}

/// The HTTP status for a whole-request refusal code of [`changes`] (403 for what the
/// caller may not do, 400 for a malformed request).
pub fn status(code: &str) -> u16 {
    match code {
        "audience_not_allowed" | "remove_needs_server" | "not_accepted_from_browser" => 403,
        "cookie_matching_not_configured" => 409,
        "too_many_members" => 413,
        _ => 400,
    }
}

/// Turns `{"add": [identity], "remove": [identity], "country"?, "consent"?}` into
/// changes for audience `name`; an identity is `{"matchKeys": {FIELD: value}?,
/// "externalUserId"?, "visitorId"?}`. The audience's match method decides which ids are
/// used; an identity left with none is refused (`visitor_id_not_accepted` when its only
/// id is a visitor id the audience does not take, `no_match_keys` otherwise). Browser
/// callers may add with digests or a visitor id and remove only a visitor id; server
/// callers' raw values are hashed here.
///
/// # Errors
/// A stable code for a request refused as a whole (`remove_needs_server`,
/// `consent_required`, `field_not_accepted`, …); see [`status`].
pub fn changes(
    body: &Value,
    ctx: &Context<'_>,
    config: &Config,
    name: &str,
) -> Result<Read, &'static str> {
    let obj = body.as_object().ok_or("bad_shape")?;
    let browser = ctx.caller == Caller::Browser;
    let method = config.match_method(name);
    // Bounded before any identity is read.
    let count = |k: &str| obj.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    let max = if browser {
        BROWSER_MAX_IDENTITIES
    } else {
        SERVER_MAX_IDENTITIES
    };
    if count("add") + count("remove") > max {
        return Err("too_many_members");
    }
    if browser {
        if obj
            .keys()
            .any(|k| !BROWSER_KEYS.contains(&k.as_str()) && k != "remove")
        {
            return Err("field_not_accepted");
        }
        // A browser removes only a visitor id: never by hashes or an external user id.
        match obj.get("remove") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                let only_visitor = |i: &Value| {
                    i.as_object()
                        .is_some_and(|o| o.len() == 1 && o.contains_key("visitorId"))
                };
                if !items.iter().all(only_visitor) {
                    return Err("remove_needs_server");
                }
            }
            Some(_) => return Err("bad_shape"),
        }
    }
    let country = match obj.get("country") {
        None | Some(Value::Null) => Country::US,
        Some(Value::String(s)) => Country::parse(s).map_err(|_| "invalid_country")?,
        Some(_) => return Err("invalid_country"),
    };
    let consent = rebuild_consent(obj.get("consent"), ctx.caller).map_err(|(_, code)| code)?;
    // Audience records carry amzn, tcf or gpp; an IP address alone is no signal there.
    let signal = consent.keys().any(|k| k != "geo");
    if country.requires_consent() && !signal {
        return Err("consent_required");
    }
    let consent = signal.then(|| user_consent(country, &with_ad_storage(consent)));
    let sender = ctx.sender(config);
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut normalizer = Normalizer::new();
    let mut index = 0;
    let how = How {
        browser,
        method,
        dp: config.dp_profile().is_some(),
        sender,
        country,
    };
    for (list, action) in [("add", Action::Add), ("remove", Action::Remove)] {
        let items = match obj.get(list) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err("bad_shape"),
        };
        for identity in items {
            match identity_changes(identity, &how, action, consent.as_ref(), &mut normalizer) {
                Ok(changes) => out.extend(changes),
                Err((field, reason)) => problems.push(Problem {
                    index,
                    field,
                    reason,
                }),
            }
            index += 1;
        }
    }
    if index == 0 {
        return Err("no_members");
    }
    Ok((country, out, problems))
}

/// What decides how an identity is read.
struct How {
    browser: bool,
    method: MatchMethod,
    /// Whether the Data Provider API keeps the audience (COOKIE ids exist only there).
    dp: bool,
    sender: identity::Sender,
    country: Country,
}

/// An identity's changes: its visitor id and its hashes, as the match method takes them.
fn identity_changes(
    identity: &Value,
    how: &How,
    action: Action,
    consent: Option<&Value>,
    normalizer: &mut Normalizer,
) -> Result<Vec<Change>, Refusal> {
    let obj = identity.as_object().ok_or((None, "no_match_keys"))?;
    if how.browser {
        for key in obj.keys() {
            match key.as_str() {
                "matchKeys" | "visitorId" => {}
                "externalUserId" => {
                    return Err((Some(key.clone()), "not_accepted_from_browser"));
                }
                other => return Err((Some(label(other).to_owned()), "field_not_accepted")),
            }
        }
    }
    let visitor = match obj.get("visitorId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => {
            check_visitor_id(id).map_err(|e| (Some("visitorId".to_owned()), e.code()))?;
            Some(id.as_str())
        }
        Some(_) => return Err((Some("visitorId".into()), "invalid_visitor_id")),
    };
    let has_hashes = obj.contains_key("matchKeys") || obj.contains_key("externalUserId");
    let mut out = Vec::new();
    if let Some(id) = visitor
        && how.method.cookies()
    {
        if !how.dp {
            return Err((
                Some("visitorId".into()),
                "cookie_matching_needs_audience_api_dp",
            ));
        }
        out.push(Change {
            key: format!("{COOKIE_KEY}{id}"),
            record: cookie_change(id, action),
        });
    }
    if has_hashes && how.method.hashes() {
        let mut hashed = obj.clone();
        hashed.remove("visitorId");
        out.push(record(
            &Value::Object(hashed),
            how.browser,
            how.sender,
            how.country,
            action,
            consent,
            normalizer,
        )?);
    }
    if out.is_empty() {
        return Err(match (visitor, has_hashes) {
            (Some(_), false) => (Some("visitorId".into()), "visitor_id_not_accepted"),
            (None, false) => (None, "no_match_keys"),
            _ => (Some("matchKeys".into()), "match_keys_not_accepted"),
        });
    }
    Ok(out)
}

/// AMC records need both Amazon consent states: an absent `amznAdStorage` is `DENIED`.
fn with_ad_storage(mut consent: Map<String, Value>) -> Value {
    if let Some(ac) = consent.get_mut("amazonConsent")
        && ac.get("amznAdStorage").is_none()
    {
        ac["amznAdStorage"] = json!("DENIED");
    }
    Value::Object(consent)
}

fn record(
    identity: &Value,
    browser: bool,
    sender: identity::Sender,
    country: Country,
    action: Action,
    consent: Option<&Value>,
    normalizer: &mut Normalizer,
) -> Result<Change, Refusal> {
    let member = member(identity, browser, sender, country, normalizer)?;
    Ok(Change {
        key: member.external_user_id().to_owned(),
        record: member.amc_record(action, country, consent),
    })
}

/// The person an identity `{"matchKeys": {FIELD: value}, "externalUserId"?}` names, by
/// the identity rule (raw values from servers hashed here): what audience records and
/// erasures both start from.
///
/// # Errors
/// The field and a stable code, never the value.
pub fn member(
    identity: &Value,
    browser: bool,
    sender: identity::Sender,
    country: Country,
    normalizer: &mut Normalizer,
) -> Result<Member, Refusal> {
    let obj = identity.as_object().ok_or((None, "no_match_keys"))?;
    if browser {
        for key in obj.keys() {
            match key.as_str() {
                "matchKeys" => {}
                "externalUserId" => {
                    return Err((Some(key.clone()), "not_accepted_from_browser"));
                }
                other => return Err((Some(label(other).to_owned()), "field_not_accepted")),
            }
        }
    }
    let keys = obj
        .get("matchKeys")
        .and_then(Value::as_object)
        .ok_or((None, "no_match_keys"))?;
    let mut hashes = Vec::new();
    for (name, value) in keys {
        let field: Field = name
            .parse()
            .map_err(|_| (Some(format!("matchKeys.{}", label(name))), "unknown_field"))?;
        let location = Some(format!("matchKeys.{}", field.as_str()));
        let value = value
            .as_str()
            .ok_or((location.clone(), "invalid_match_key_value"))?;
        // One identity rule for every key (a browser's MATCH_ID is refused, not skipped);
        // then only the keys audiences take go on.
        match identity::match_key_value(normalizer, sender, field, value, country) {
            Ok(Some(v)) if amc_key(field).is_some() => hashes.push((field, v)),
            Ok(_) => {}
            Err(r) => return Err((location, r.code())),
        }
    }
    let external_user_id = match obj.get("externalUserId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(_) => {
            return Err((
                Some("externalUserId".into()),
                MemberError::InvalidExternalUserId.code(),
            ));
        }
    };
    let member = Member::new(hashes, external_user_id).map_err(|e| {
        let field = (e != MemberError::NoMatchKeys).then(|| "externalUserId".to_owned());
        (field, e.code())
    })?;
    Ok(member)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_with;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";
    const VID: &str = "0123456789abcdef0123456789abcdef";

    fn dp(audiences: &str) -> Config {
        config_with(&[
            ("BROWSER_AUDIENCES", audiences),
            ("AUDIENCE_API", "dp"),
            ("PROFILE_ID", "9"),
        ])
    }

    fn call(
        caller: Caller,
        config: &Config,
        name: &str,
        body: Value,
    ) -> Result<Read, &'static str> {
        changes(&body, &ctx(caller), config, name)
    }

    #[test]
    fn the_match_method_decides_which_ids_are_used() {
        let config = dp("seen:cookie, known:hashed, all:both");
        let both = json!({"add": [{"visitorId": VID, "matchKeys": {"EMAIL": HASH}}]});
        let keys = |name: &str| {
            let (_, c, p) = call(Caller::Browser, &config, name, both.clone()).unwrap();
            assert_eq!(p, []);
            c.into_iter().map(|c| c.key).collect::<Vec<_>>()
        };
        assert_eq!(keys("seen"), [format!("c:{VID}")]);
        let known = keys("known");
        assert_eq!(known.len(), 1);
        assert!(known[0].starts_with("mk_"));
        let all = keys("all");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], format!("c:{VID}"));
        let (_, c, _) = call(Caller::Browser, &config, "seen", both.clone()).unwrap();
        assert_eq!(c[0].record, json!({"cookie": VID, "action": "CREATE"}));
        assert_eq!(read_cookie_change(&c[0].record), Some((VID, Action::Add)));
        // An anonymous visitor (a visitor id only) in a hashed audience: refused, by field.
        let anon = json!({"add": [{"visitorId": VID}]});
        let (_, c, p) = call(Caller::Browser, &config, "known", anon.clone()).unwrap();
        assert!(c.is_empty());
        assert_eq!(
            (p[0].field.as_deref(), p[0].reason),
            (Some("visitorId"), "visitor_id_not_accepted")
        );
        // Hashes only in a cookie audience.
        let hashed = json!({"add": [{"matchKeys": {"EMAIL": HASH}}]});
        let (_, _, p) = call(Caller::Browser, &config, "seen", hashed).unwrap();
        assert_eq!(p[0].reason, "match_keys_not_accepted");
        // Without the Data Provider API, a server's visitor id cannot be used.
        let amc = config_with(&[]);
        let (_, _, p) = call(
            Caller::Server,
            &amc,
            "crm",
            json!({"add": [{"visitorId": VID}]}),
        )
        .unwrap();
        assert_eq!(p[0].reason, "visitor_id_not_accepted");
        let (_, c, _) = call(Caller::Server, &config, "crm", both).unwrap();
        assert_eq!(
            c.len(),
            2,
            "servers' own audiences take both under the DP API"
        );
    }

    #[test]
    fn browsers_remove_only_a_visitor_id() {
        let config = dp("seen:cookie, known:hashed");
        let (_, c, p) = call(
            Caller::Browser,
            &config,
            "seen",
            json!({"remove": [{"visitorId": VID}]}),
        )
        .unwrap();
        assert_eq!(p, []);
        assert_eq!(c[0].record, json!({"cookie": VID, "action": "DELETE"}));
        for remove in [
            json!([{"matchKeys": {"EMAIL": HASH}}]),
            json!([{"visitorId": VID, "matchKeys": {"EMAIL": HASH}}]),
            json!([{"visitorId": VID, "externalUserId": "u1"}]),
            json!([{}]),
        ] {
            assert_eq!(
                call(Caller::Browser, &config, "seen", json!({"remove": remove})).unwrap_err(),
                "remove_needs_server"
            );
        }
        assert_eq!(
            call(
                Caller::Browser,
                &config,
                "seen",
                json!({"remove": {"visitorId": VID}})
            )
            .unwrap_err(),
            "bad_shape"
        );
    }

    #[test]
    fn hostile_visitor_ids_are_refused_by_field_and_code_never_value() {
        let config = dp("seen:cookie");
        for (id, code) in [
            (json!("jane@example.com"), "looks_like_personal_data"),
            (json!("+1 555 010 0199"), "looks_like_personal_data"),
            (json!("a".repeat(300)), "visitor_id_too_long"),
            (
                json!("0123456789abcdef0123456789abcdé"),
                "invalid_visitor_id",
            ),
            (
                json!("0123456789ABCDEF0123456789ABCDEF"),
                "invalid_visitor_id",
            ),
            (json!(""), "visitor_id_required"),
            (json!(42), "invalid_visitor_id"),
        ] {
            let (_, c, p) = call(
                Caller::Browser,
                &config,
                "seen",
                json!({"add": [{"visitorId": id}]}),
            )
            .unwrap();
            assert!(c.is_empty());
            assert_eq!(
                (p[0].field.as_deref(), p[0].reason),
                (Some("visitorId"), code),
                "{id}"
            );
            let text = serde_json::to_string(&p).unwrap();
            assert!(!text.contains("jane") && !text.contains("555"), "{text}");
        }
        let (_, _, p) = call(
            Caller::Browser,
            &config,
            "seen",
            json!({"add": [{"visitorId": VID, "jane@example.com": 1}]}),
        )
        .unwrap();
        assert_eq!(
            (p[0].field.as_deref(), p[0].reason),
            (Some("(redacted)"), "field_not_accepted")
        );
    }

    fn ctx(caller: Caller) -> Context<'static> {
        Context {
            caller,
            user_agent: None,
            client_ip: None,
        }
    }

    fn browser(body: &Value) -> Result<Read, &'static str> {
        changes(body, &ctx(Caller::Browser), &config_with(&[]), "news")
    }

    fn server(body: &Value) -> Result<Read, &'static str> {
        changes(body, &ctx(Caller::Server), &config_with(&[]), "news")
    }

    #[test]
    fn adds_and_removes_become_records_with_stable_ids() {
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH}}], "remove": [{"matchKeys": {"EMAIL": HASH}}]});
        let (_, changes, problems) = server(&body).unwrap();
        assert_eq!(problems, []);
        assert_eq!(changes[0].key, changes[1].key);
        assert_eq!(changes[0].record["action"], "CREATE");
        assert_eq!(changes[1].record["action"], "DELETE");
        assert_eq!(changes[0].record["hashedPII"][0]["email"], HASH);
        assert!(changes[0].key.starts_with("mk_"));
    }

    #[test]
    fn raw_values_are_refused_from_browsers_and_hashed_for_servers() {
        let body = json!({"add": [{"matchKeys": {"EMAIL": "abc@example.com"}}]});
        let (_, changes_b, problems) = browser(&body).unwrap();
        assert!(changes_b.is_empty());
        assert_eq!(problems[0].reason, "raw_pii_not_accepted");
        assert_eq!(problems[0].field.as_deref(), Some("matchKeys.EMAIL"));
        let with_id =
            json!({"add": [{"matchKeys": {"EMAIL": "abc@example.com"}, "externalUserId": "u1"}]});
        let (_, changes_s, _) = server(&with_id).unwrap();
        assert_eq!(changes_s[0].record["hashedPII"][0]["email"], HASH);
        assert_eq!(changes_s[0].key, "u1");
    }

    #[test]
    fn browsers_may_only_add_to_listed_audiences_without_ids() {
        let config = config_with(&[("BROWSER_AUDIENCES", "newsletter, buyers_30d")]);
        assert!(browser_may_join("newsletter", &config) && browser_may_join("buyers_30d", &config));
        assert!(!browser_may_join("vip", &config) && !browser_may_join("", &config));
        assert!(
            !browser_may_join("newsletter", &config_with(&[])),
            "none by default"
        );
        let add = json!([{"matchKeys": {"EMAIL": HASH}}]);
        assert_eq!(
            browser(&json!({"remove": add.clone()})).unwrap_err(),
            "remove_needs_server"
        );
        assert_eq!(
            browser(&json!({"add": add.clone(), "remove": [{"visitorId": VID, "matchKeys": {"EMAIL": HASH}}]})).unwrap_err(),
            "remove_needs_server"
        );
        assert_eq!(status("remove_needs_server"), 403);
        assert_eq!(status("audience_not_allowed"), 403);
        assert_eq!(status("consent_required"), 400);
        assert_eq!(
            browser(&json!({"add": add.clone(), "audience": "x"})).unwrap_err(),
            "field_not_accepted"
        );
        let (_, c, p) =
            browser(&json!({"add": [{"matchKeys": {"EMAIL": HASH}, "externalUserId": "victim"}]}))
                .unwrap();
        assert!(c.is_empty());
        assert_eq!(
            (p[0].field.as_deref(), p[0].reason),
            (Some("externalUserId"), "not_accepted_from_browser")
        );
        let (_, _, p) =
            browser(&json!({"add": [{"matchKeys": {"EMAIL": HASH}, "jane@example.com": 1}]}))
                .unwrap();
        assert_eq!(
            (p[0].field.as_deref(), p[0].reason),
            (Some("(redacted)"), "field_not_accepted")
        );
        // Identifiers follow the identity rule (refused, not skipped), with BROWSER_IDS too.
        let (_, _, p) =
            browser(&json!({"add": [{"matchKeys": {"EMAIL": HASH, "MATCH_ID": "c1"}}]})).unwrap();
        assert_eq!(p[0].reason, "not_allowed_from_browser");
        let ids = config_with(&[("BROWSER_IDS", "MATCH_ID")]);
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH, "MATCH_ID": "jane@example.com"}}]});
        let (_, _, p) = changes(&body, &ctx(Caller::Browser), &ids, "news").unwrap();
        assert_eq!(p[0].reason, "looks_like_personal_data");
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH, "MATCH_ID": "c1"}}]});
        let (_, c, _) = changes(&body, &ctx(Caller::Browser), &ids, "news").unwrap();
        assert_eq!(c[0].record["hashedPII"], json!([{"email": HASH}]));
        // Servers: removals, ids.
        let (_, c, p) =
            server(&json!({"remove": [{"matchKeys": {"EMAIL": HASH}, "externalUserId": "u1"}]}))
                .unwrap();
        assert_eq!((c.len(), p.len()), (1, 0));
        let (_, _, p) =
            server(&json!({"add": [{"matchKeys": {"EMAIL": HASH}, "externalUserId": 5}]})).unwrap();
        assert_eq!(p[0].reason, "invalid_external_user_id");
    }

    #[test]
    fn members_requests_are_bounded_per_caller() {
        let config = Config::from_vars(|n| match n {
            "ADVERTISER_ID" => Some("A".into()),
            "BROWSER_AUDIENCES" => Some("news:cookie".into()),
            "AUDIENCE_API" => Some("dp".into()),
            "PROFILE_ID" => Some("1".into()),
            _ => None,
        })
        .unwrap();
        let ids = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| json!({"visitorId": format!("{i:032x}")}))
                .collect()
        };
        let browser = crate::ingest::Context::bodiless(Caller::Browser);
        let server = crate::ingest::Context::bodiless(Caller::Server);
        let ten = json!({"add": ids(BROWSER_MAX_IDENTITIES)});
        assert_eq!(
            changes(&ten, &browser, &config, "news").unwrap().1.len(),
            BROWSER_MAX_IDENTITIES
        );
        let eleven = json!({"add": ids(6), "remove": ids(5)});
        assert_eq!(
            changes(&eleven, &browser, &config, "news").unwrap_err(),
            "too_many_members"
        );
        assert!(changes(&eleven, &server, &config, "news").is_ok());
        let many = json!({"add": ids(SERVER_MAX_IDENTITIES + 1)});
        assert_eq!(
            changes(&many, &server, &config, "news").unwrap_err(),
            "too_many_members"
        );
        assert_eq!(status("too_many_members"), 413);
    }

    #[test]
    fn eea_members_need_a_real_consent_signal() {
        let add = json!([{"matchKeys": {"EMAIL": HASH}}]);
        for consent in [json!(null), json!({}), json!({"tcf": null})] {
            let body = json!({"country": "DE", "consent": consent, "add": add});
            assert_eq!(browser(&body).unwrap_err(), "consent_required", "{consent}");
        }
        for (consent, code) in [
            (
                json!({"geo": {"ipAddress": "1.1.1.1"}}),
                "not_accepted_from_browser",
            ),
            (json!({"tcf": "jane@example.com"}), "invalid_consent"),
            (
                json!({"amazonConsent": {"amznUserData": "YES"}}),
                "invalid_consent",
            ),
            (
                json!({"amazonConsent": {"amznUserData": "GRANTED", "x": 1}}),
                "field_not_accepted",
            ),
            (json!("GRANTED"), "invalid_consent"),
        ] {
            let body = json!({"country": "DE", "consent": consent, "add": add});
            assert_eq!(browser(&body).unwrap_err(), code, "{consent}");
        }
        assert_eq!(status("not_accepted_from_browser"), 403);
        // A server's IP address alone is no signal for an audience record.
        let geo =
            json!({"country": "DE", "consent": {"geo": {"ipAddress": "1.1.1.1"}}, "add": add});
        assert_eq!(server(&geo).unwrap_err(), "consent_required");
        let with = json!({"country": "DE", "consent": {"amazonConsent": {"amznUserData": "GRANTED"}},
            "add": [{"matchKeys": {"EMAIL": HASH}}]});
        let (country, c, _) = browser(&with).unwrap();
        assert_eq!(country.as_str(), "DE");
        assert_eq!(
            c[0].record["userConsent"],
            json!({"geo": {"countryCode": "DE"}, "consent": {"amzn": {"amznUserData": "GRANTED", "amznAdStorage": "DENIED"}}})
        );
        assert_eq!(
            browser(&json!({"country": 5, "add": add})).unwrap_err(),
            "invalid_country"
        );
        assert!(valid_name("buyers_30d") && !valid_name("no spaces") && !valid_name(""));
    }
}
