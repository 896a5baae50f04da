//! Audience membership, as pure functions: a members request into AMC audience records,
//! one per identity, keyed by an external user id so that an add and a remove of the same
//! person inside one flush window collapse to the last intent.

use matchkey::{Country, Field, Normalizer, Sha256Hex, sha256_hex};
use serde_json::{Value, json};

use crate::ingest::{Caller, Problem};

/// AMC `hashedPII` key for each hashed field.
fn pii_key(field: Field) -> Option<&'static str> {
    match field {
        Field::Email => Some("email"),
        Field::Phone => Some("phone"),
        Field::FirstName => Some("firstname"),
        Field::LastName => Some("lastname"),
        Field::Address => Some("address"),
        Field::City => Some("city"),
        Field::State => Some("state"),
        Field::Postal => Some("postal"),
        _ => None,
    }
}

/// Whether `name` can name an audience here (it becomes part of Amazon's audience name).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_external_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One membership change, ready for the audience's accumulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The person's external user id (given, or derived from the hashes).
    pub external_user_id: String,
    /// The AMC record (`action` CREATE or DELETE).
    pub record: Value,
}

/// Turns `{"add": [identity], "remove": [identity], "country"?, "consent"?}` into
/// records; an identity is `{"matchKeys": {FIELD: value}, "externalUserId"?}`. Browser
/// callers must send digests; server callers' raw values are hashed here.
pub fn changes(body: &Value, caller: Caller) -> Result<(Vec<Change>, Vec<Problem>), &'static str> {
    let country_text = body.get("country").and_then(Value::as_str).unwrap_or("US");
    let country = Country::parse(country_text).map_err(|_| "invalid_country")?;
    let consent = body.get("consent").filter(|c| c.is_object()).map(|c| {
        let mut amzn = json!({});
        if let Some(ac) = c.get("amazonConsent") {
            amzn = json!({ "amzn": { "amznAdStorage": ac.get("amznAdStorage"), "amznUserData": ac.get("amznUserData") } });
        }
        for key in ["tcf", "gpp"] {
            if let Some(v) = c.get(key) {
                amzn[key] = v.clone();
            }
        }
        json!({ "geo": { "countryCode": country.as_str() }, "consent": amzn })
    });
    if country.requires_consent() && consent.is_none() {
        return Err("consent_required");
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut normalizer = Normalizer::new();
    let mut index = 0;
    for (list, action) in [("add", "CREATE"), ("remove", "DELETE")] {
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
    Ok((out, problems))
}

fn record(
    identity: &Value,
    caller: Caller,
    country: Country,
    action: &str,
    consent: Option<&Value>,
    normalizer: &mut Normalizer,
) -> Result<Change, (Option<String>, &'static str)> {
    let keys = identity
        .get("matchKeys")
        .and_then(Value::as_object)
        .ok_or((None, "no_match_keys"))?;
    let mut pii = serde_json::Map::new();
    for (name, value) in keys {
        let location = Some(format!("matchKeys.{name}"));
        let field: Field = name
            .parse()
            .map_err(|_| (location.clone(), "unknown_field"))?;
        let Some(key) = pii_key(field) else { continue };
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
        pii.insert(key.to_owned(), json!(hashed));
    }
    if pii.is_empty() {
        return Err((None, "no_match_keys"));
    }
    let external_user_id = match identity.get("externalUserId").and_then(Value::as_str) {
        Some(id) if valid_external_id(id) => id.to_owned(),
        Some(_) => return Err((Some("externalUserId".into()), "invalid_external_user_id")),
        // The same hashes always give the same id, so adds and removes of one person meet.
        None => {
            let joined: Vec<String> = pii
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            format!("mk_{}", &sha256_hex(&joined.join("&")).as_str()[..40])
        }
    };
    let mut record = json!({
        "externalUserId": external_user_id,
        "countryCode": country.as_str(),
        "action": action,
        "hashedPII": [Value::Object(pii)],
    });
    if let Some(consent) = consent {
        record["userConsent"] = consent.clone();
    }
    Ok(Change {
        external_user_id,
        record,
    })
}

/// Amazon's audience name for ours: `matchkey_{name}_{unix seconds}`, as the Lytics
/// integration names its exports.
pub fn amazon_name(name: &str, unix_seconds: u64) -> String {
    format!("matchkey_{}_{unix_seconds}", name.to_ascii_lowercase())
}

/// The AMC records request for one chunk of records.
pub fn records_body(audience_id: u64, records: &[Value]) -> String {
    json!({ "audienceId": audience_id, "records": records }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    #[test]
    fn adds_and_removes_become_records_with_stable_ids() {
        let body = json!({"add": [{"matchKeys": {"EMAIL": HASH}}], "remove": [{"matchKeys": {"EMAIL": HASH}}]});
        let (changes, problems) = changes(&body, Caller::Browser).unwrap();
        assert_eq!(problems, []);
        assert_eq!(changes[0].external_user_id, changes[1].external_user_id);
        assert_eq!(changes[0].record["action"], "CREATE");
        assert_eq!(changes[1].record["action"], "DELETE");
        assert_eq!(changes[0].record["hashedPII"][0]["email"], HASH);
        assert!(valid_external_id(&changes[0].external_user_id));
    }

    #[test]
    fn raw_values_are_refused_from_browsers_and_hashed_for_servers() {
        let body =
            json!({"add": [{"matchKeys": {"EMAIL": "abc@example.com"}, "externalUserId": "u1"}]});
        let (changes_b, problems) = changes(&body, Caller::Browser).unwrap();
        assert!(changes_b.is_empty());
        assert_eq!(problems[0].reason, "raw_pii_not_accepted");
        let (changes_s, _) = changes(&body, Caller::Server).unwrap();
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
        let (c, _) = changes(&with, Caller::Browser).unwrap();
        assert_eq!(
            c[0].record["userConsent"]["consent"]["amzn"]["amznUserData"],
            "GRANTED"
        );
        assert!(valid_name("buyers_30d") && !valid_name("no spaces") && !valid_name(""));
        assert_eq!(
            amazon_name("Buyers", 1700000000),
            "matchkey_buyers_1700000000"
        );
    }
}
