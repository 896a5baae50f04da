//! Audience membership, as pure functions: a members request into AMC audience records,
//! one per identity, keyed by an external user id so that an add and a remove of the same
//! person inside one flush window collapse to the last intent.
//!
//! Browsers (the public site key) may only add to the audiences listed in `BROWSER_AUDIENCES`
//! ([`browser_may_join`]), with digests (the core's identity rule), and never name an
//! external user id or remove anyone: removal by hashes would let anyone who knows a
//! person's e-mail address remove that person. Servers with the ingest secret keep full
//! access.

use matchkey::amazon::audience::{Action, Member, MemberError, amc_key, user_consent};
use matchkey::identity;
use matchkey::{Country, Field, Normalizer};
use serde_json::{Map, Value, json};

pub use matchkey::amazon::audience::valid_name;

use crate::config::Config;
use crate::ingest::{Caller, Context, Problem, Refusal, label, rebuild_consent};

/// One membership change, ready for the audience's accumulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The person's external user id (given, or derived from the hashes).
    pub external_user_id: String,
    /// The AMC record (`action` CREATE or DELETE).
    pub record: Value,
}

/// A members request, read: the members' country (`US` when not given), the changes,
/// and the identities refused.
pub type Read = (Country, Vec<Change>, Vec<Problem>);

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
        _ => 400,
    }
}

/// Turns `{"add": [identity], "remove": [identity], "country"?, "consent"?}` into
/// records; an identity is `{"matchKeys": {FIELD: value}, "externalUserId"?}`. Browser
/// callers may only add, with digests; server callers' raw values are hashed here.
///
/// # Errors
/// A stable code for a request refused as a whole (`remove_needs_server`,
/// `consent_required`, `field_not_accepted`, …); see [`status`].
pub fn changes(body: &Value, ctx: &Context<'_>, config: &Config) -> Result<Read, &'static str> {
    let obj = body.as_object().ok_or("bad_shape")?;
    let browser = ctx.caller == Caller::Browser;
    if browser {
        if obj.get("remove").is_some_and(|r| !r.is_null()) {
            return Err("remove_needs_server");
        }
        if obj.keys().any(|k| !BROWSER_KEYS.contains(&k.as_str())) {
            return Err("field_not_accepted");
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
    for (list, action) in [("add", Action::Add), ("remove", Action::Remove)] {
        let items = match obj.get(list) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err("bad_shape"),
        };
        for identity in items {
            match record(
                identity,
                browser,
                sender,
                country,
                action,
                consent.as_ref(),
                &mut normalizer,
            ) {
                Ok(change) => out.push(change),
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
    Ok(Change {
        external_user_id: member.external_user_id().to_owned(),
        record: member.amc_record(action, country, consent),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_with;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn ctx(caller: Caller) -> Context<'static> {
        Context {
            caller,
            user_agent: None,
            client_ip: None,
        }
    }

    fn browser(body: &Value) -> Result<Read, &'static str> {
        changes(body, &ctx(Caller::Browser), &config_with(&[]))
    }

    fn server(body: &Value) -> Result<Read, &'static str> {
        changes(body, &ctx(Caller::Server), &config_with(&[]))
    }

    #[test]
    fn adds_and_removes_become_records_with_stable_ids() {
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH}}], "remove": [{"matchKeys": {"EMAIL": HASH}}]});
        let (_, changes, problems) = server(&body).unwrap();
        assert_eq!(problems, []);
        assert_eq!(changes[0].external_user_id, changes[1].external_user_id);
        assert_eq!(changes[0].record["action"], "CREATE");
        assert_eq!(changes[1].record["action"], "DELETE");
        assert_eq!(changes[0].record["hashedPII"][0]["email"], HASH);
        assert!(changes[0].external_user_id.starts_with("mk_"));
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
        assert_eq!(changes_s[0].external_user_id, "u1");
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
            browser(&json!({"add": add.clone(), "remove": []})).unwrap_err(),
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
        let (_, _, p) = changes(&body, &ctx(Caller::Browser), &ids).unwrap();
        assert_eq!(p[0].reason, "looks_like_personal_data");
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH, "MATCH_ID": "c1"}}]});
        let (_, c, _) = changes(&body, &ctx(Caller::Browser), &ids).unwrap();
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
