//! Erasure requests (`POST /v1/erasure`), as a pure function: the people to erase at
//! Amazon with `PATCH /v2/dp/users`, each a cookie (a visitor id) or the external user id
//! of a hashed identity (the same id the audience path derives, so the person erased is
//! the person who joined).
//!
//! Servers (the ingest secret) send `{"visitorIds": [id, …], "identities": [{"matchKeys":
//! {…}, "externalUserId"?}, …], "country"?}` (raw values hashed here). Browsers (site key
//! and origin) may send only `{"visitorIds": [one id]}`: their own, which they hold; a
//! browser naming hashes could erase anyone whose e-mail address it knows.

use matchkey::amazon::cookie::{ErasedUser, check_visitor_id};
use matchkey::{Country, Normalizer};
use serde_json::Value;

use crate::audience::member;
use crate::config::Config;
use crate::ingest::{Caller, Context, Problem};

/// Most people per request.
pub const MAX_PER_REQUEST: usize = 1_000;

/// The HTTP status for a whole-request refusal code of [`erasures`].
pub fn status(code: &str) -> u16 {
    match code {
        "not_accepted_from_browser" | "one_visitor_id_from_browser" => 403,
        "erasure_needs_audience_api_dp" => 409,
        _ => 400,
    }
}

/// The people a request names, and the entries refused (indexes count `visitorIds`
/// first, then `identities`; fields are `visitorIds[i]`, `identities[i].matchKeys.EMAIL`).
///
/// # Errors
/// A stable code for a request refused as a whole.
pub fn erasures(
    body: &Value,
    ctx: &Context<'_>,
    config: &Config,
) -> Result<(Vec<ErasedUser>, Vec<Problem>), &'static str> {
    let obj = body.as_object().ok_or("bad_shape")?;
    let browser = ctx.caller == Caller::Browser;
    let allowed: &[&str] = if browser {
        &["visitorIds", "siteKey"]
    } else {
        &["visitorIds", "identities", "country"]
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(if browser && k == "identities" {
            "not_accepted_from_browser"
        } else {
            "field_not_accepted"
        });
    }
    let list = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(&[][..]),
        Some(Value::Array(items)) => Ok(items.as_slice()),
        Some(_) => Err("bad_shape"),
    };
    let (visitor_ids, identities) = (list("visitorIds")?, list("identities")?);
    if browser && visitor_ids.len() != 1 {
        return Err("one_visitor_id_from_browser");
    }
    let total = visitor_ids.len() + identities.len();
    if total == 0 {
        return Err("no_people");
    }
    if total > MAX_PER_REQUEST {
        return Err("too_many_people");
    }
    if config.dp_profile().is_none() || config.amc_advertiser_id.is_none() {
        return Err("erasure_needs_audience_api_dp");
    }
    let country = match obj.get("country") {
        None | Some(Value::Null) => Country::US,
        Some(Value::String(s)) => Country::parse(s).map_err(|_| "invalid_country")?,
        Some(_) => return Err("invalid_country"),
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (index, id) in visitor_ids.iter().enumerate() {
        let field = Some(format!("visitorIds[{index}]"));
        match id.as_str().map(|id| (id, check_visitor_id(id))) {
            Some((id, Ok(()))) => out.push(ErasedUser::Cookie(id.to_owned())),
            Some((_, Err(e))) => problems.push(Problem {
                index,
                field,
                reason: e.code(),
            }),
            None => problems.push(Problem {
                index,
                field,
                reason: "invalid_visitor_id",
            }),
        }
    }
    let sender = ctx.sender(config);
    let mut normalizer = Normalizer::new();
    for (i, identity) in identities.iter().enumerate() {
        match member(identity, false, sender, country, &mut normalizer) {
            Ok(m) => out.push(ErasedUser::External(m.external_user_id().to_owned())),
            Err((field, reason)) => problems.push(Problem {
                index: visitor_ids.len() + i,
                field: Some(match field {
                    Some(f) => format!("identities[{i}].{f}"),
                    None => format!("identities[{i}]"),
                }),
                reason,
            }),
        }
    }
    Ok((out, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_with;
    use serde_json::json;

    const VID: &str = "0123456789abcdef0123456789abcdef";
    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn dp() -> Config {
        config_with(&[
            ("AUDIENCE_API", "dp"),
            ("PROFILE_ID", "9"),
            ("AMC_ADVERTISER_ID", "583"),
        ])
    }

    fn run(caller: Caller, body: Value) -> Result<(Vec<ErasedUser>, Vec<Problem>), &'static str> {
        let ctx = Context {
            caller,
            user_agent: None,
            client_ip: None,
        };
        erasures(&body, &ctx, &dp())
    }

    #[test]
    fn servers_erase_visitor_ids_and_hashed_identities_as_the_audience_path_names_them() {
        let (people, problems) = run(
            Caller::Server,
            json!({"visitorIds": [VID, "jane@example.com"], "identities": [{"matchKeys": {"EMAIL": "abc@example.com"}}, {"matchKeys": {"EMAIL": 5}}]}),
        )
        .unwrap();
        // The same external id the audience path derives for the same person.
        let joined = member(
            &json!({"matchKeys": {"EMAIL": HASH}}),
            false,
            matchkey::identity::Sender::Trusted,
            Country::US,
            &mut Normalizer::new(),
        )
        .unwrap();
        assert_eq!(
            people,
            [
                ErasedUser::Cookie(VID.into()),
                ErasedUser::External(joined.external_user_id().to_owned())
            ]
        );
        let got: Vec<(usize, Option<&str>, &str)> = problems
            .iter()
            .map(|p| (p.index, p.field.as_deref(), p.reason))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("visitorIds[1]"), "looks_like_personal_data"),
                (
                    3,
                    Some("identities[1].matchKeys.EMAIL"),
                    "invalid_match_key_value"
                )
            ]
        );
        assert!(!serde_json::to_string(&problems).unwrap().contains("jane"));
    }

    #[test]
    fn browsers_erase_only_one_visitor_id() {
        let (people, _) = run(Caller::Browser, json!({"visitorIds": [VID]})).unwrap();
        assert_eq!(people, [ErasedUser::Cookie(VID.into())]);
        for (body, code) in [
            (
                json!({"visitorIds": [VID, VID]}),
                "one_visitor_id_from_browser",
            ),
            (json!({"visitorIds": []}), "one_visitor_id_from_browser"),
            (
                json!({"identities": [{"matchKeys": {"EMAIL": HASH}}]}),
                "not_accepted_from_browser",
            ),
            (
                json!({"visitorIds": [VID], "identities": []}),
                "not_accepted_from_browser",
            ),
            (
                json!({"visitorIds": [VID], "country": "DE"}),
                "field_not_accepted",
            ),
        ] {
            assert_eq!(
                run(Caller::Browser, body.clone()).unwrap_err(),
                code,
                "{body}"
            );
        }
        assert_eq!(status("one_visitor_id_from_browser"), 403);
        let (people, problems) =
            run(Caller::Browser, json!({"visitorIds": ["A".repeat(99)]})).unwrap();
        assert!(people.is_empty());
        assert_eq!(problems[0].reason, "visitor_id_too_long");
    }

    #[test]
    fn erasure_needs_the_data_provider_api_and_bounds() {
        let ctx = Context {
            caller: Caller::Server,
            user_agent: None,
            client_ip: None,
        };
        let body = json!({"visitorIds": [VID]});
        assert_eq!(
            erasures(&body, &ctx, &config_with(&[])).unwrap_err(),
            "erasure_needs_audience_api_dp"
        );
        assert_eq!(status("erasure_needs_audience_api_dp"), 409);
        assert_eq!(run(Caller::Server, json!({})).unwrap_err(), "no_people");
        let many: Vec<&str> = vec![VID; MAX_PER_REQUEST + 1];
        assert_eq!(
            run(Caller::Server, json!({ "visitorIds": many })).unwrap_err(),
            "too_many_people"
        );
        assert_eq!(
            run(Caller::Server, json!({"visitorIds": VID})).unwrap_err(),
            "bad_shape"
        );
        assert_eq!(run(Caller::Server, json!([])).unwrap_err(), "bad_shape");
    }
}
