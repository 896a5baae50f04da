//! Audience membership, as pure functions: a members request into AMC audience records,
//! one per identity, keyed by an external user id so that an add and a remove of the same
//! person inside one flush window collapse to the last intent.

use matchkey::amazon::audience::{Action, Member, MemberError, amc_key, user_consent};
use matchkey::{Country, Field, Normalizer, Sha256Hex};
use serde_json::Value;

pub use matchkey::amazon::audience::valid_name;

use crate::ingest::{Caller, Problem};

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

/// Turns `{"add": [identity], "remove": [identity], "country"?, "consent"?}` into
/// records; an identity is `{"matchKeys": {FIELD: value}, "externalUserId"?}`. Browser
/// callers must send digests; server callers' raw values are hashed here.
pub fn changes(body: &Value, caller: Caller) -> Result<Read, &'static str> {
    let country_text = body.get("country").and_then(Value::as_str).unwrap_or("US");
    let country = Country::parse(country_text).map_err(|_| "invalid_country")?;
    let consent = body
        .get("consent")
        .filter(|c| c.is_object())
        .map(|c| user_consent(country, c));
    if country.requires_consent() && consent.is_none() {
        return Err("consent_required");
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut normalizer = Normalizer::new();
    let mut index = 0;
    for (list, action) in [("add", Action::Add), ("remove", Action::Remove)] {
        let Some(items) = body.get(list) else {
            continue;
        };
        let items = items.as_array().ok_or("bad_shape")?;
        for identity in items {
            let problem = |field: Option<String>, reason| Problem {
                index,
                field,
                reason,
            };
            match record(
                identity,
                caller,
                country,
                action,
                consent.as_ref(),
                &mut normalizer,
            ) {
                Ok(change) => out.push(change),
                Err((field, reason)) => problems.push(problem(field, reason)),
            }
            index += 1;
        }
    }
    if index == 0 {
        return Err("no_members");
    }
    Ok((country, out, problems))
}

fn record(
    identity: &Value,
    caller: Caller,
    country: Country,
    action: Action,
    consent: Option<&Value>,
    normalizer: &mut Normalizer,
) -> Result<Change, (Option<String>, &'static str)> {
    let keys = identity
        .get("matchKeys")
        .and_then(Value::as_object)
        .ok_or((None, "no_match_keys"))?;
    let mut hashes = Vec::new();
    for (name, value) in keys {
        let location = Some(format!("matchKeys.{name}"));
        let field: Field = name
            .parse()
            .map_err(|_| (location.clone(), "unknown_field"))?;
        if amc_key(field).is_none() {
            continue;
        }
        let value = value
            .as_str()
            .ok_or((location.clone(), "invalid_match_key_value"))?;
        let hashed = match caller {
            Caller::Browser => Sha256Hex::parse(value.trim())
                .map(|h| h.as_str().to_owned())
                .ok_or((location, "raw_pii_not_accepted"))?,
            Caller::Server => match normalizer.match_key(field, value, country) {
                Ok(k) => k.value().to_owned(),
                Err(r) if r.code() == "empty" => continue,
                Err(r) => return Err((location, r.code())),
            },
        };
        hashes.push((field, hashed));
    }
    let external_user_id = identity.get("externalUserId").and_then(Value::as_str);
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
    use serde_json::json;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    #[test]
    fn adds_and_removes_become_records_with_stable_ids() {
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH}}], "remove": [{"matchKeys": {"EMAIL": HASH}}]});
        let (_, changes, problems) = changes(&body, Caller::Browser).unwrap();
        assert_eq!(problems, []);
        assert_eq!(changes[0].external_user_id, changes[1].external_user_id);
        assert_eq!(changes[0].record["action"], "CREATE");
        assert_eq!(changes[1].record["action"], "DELETE");
        assert_eq!(changes[0].record["hashedPII"][0]["email"], HASH);
        assert!(changes[0].external_user_id.starts_with("mk_"));
    }

    #[test]
    fn raw_values_are_refused_from_browsers_and_hashed_for_servers() {
        let body =
            json!({"add": [{"matchKeys": {"EMAIL": "abc@example.com"}, "externalUserId": "u1"}]});
        let (_, changes_b, problems) = changes(&body, Caller::Browser).unwrap();
        assert!(changes_b.is_empty());
        assert_eq!(problems[0].reason, "raw_pii_not_accepted");
        let (_, changes_s, _) = changes(&body, Caller::Server).unwrap();
        assert_eq!(changes_s[0].record["hashedPII"][0]["email"], HASH);
        assert_eq!(changes_s[0].external_user_id, "u1");
    }

    #[test]
    fn eea_members_need_consent_and_names_are_checked() {
        let body = json!({"country": "DE", "add": [{"matchKeys": {"EMAIL": HASH}}]});
        assert_eq!(
            changes(&body, Caller::Browser).unwrap_err(),
            "consent_required"
        );
        let with = json!({"country": "DE", "consent": {"amazonConsent": {"amznUserData": "GRANTED", "amznAdStorage": "GRANTED"}},
            "add": [{"matchKeys": {"EMAIL": HASH}}]});
        let (country, c, _) = changes(&with, Caller::Browser).unwrap();
        assert_eq!(country.as_str(), "DE");
        assert_eq!(
            c[0].record["userConsent"]["consent"]["amzn"]["amznUserData"],
            "GRANTED"
        );
        assert!(valid_name("buyers_30d") && !valid_name("no spaces") && !valid_name(""));
    }
}
