//! Cookie matching and erasure through the Data Provider API (spec §F4): the site's own
//! random visitor id, mapped to Amazon's cookie by the `ecm3` matching request the page
//! makes, then named in `PATCH /v2/dp/audience` as `/COOKIE-<id>/audiences`; and
//! `PATCH /v2/dp/users`, which erases a person (a COOKIE id or an external user id) for an
//! advertiser.
//!
//! One rule says what a visitor id is ([`check_visitor_id`]); the Worker applies it to
//! every id it takes, and the tag makes ids that pass it. Bodies are batched within
//! Amazon's limits: 2,000 patches per membership call, 1,000 users and 1 MB per erasure.

use serde_json::json;
use std::prelude::rust_2024::*;

use super::audience::{Action, batched, dp_patch, dp_patches};
use super::{ApiRequest, Auth, Method, url_encode};
use crate::identity::looks_like_contact;

/// Longest visitor id taken (a UUID is 36).
pub const MAX_VISITOR_ID_LEN: usize = 36;
/// Most users per `PATCH /v2/dp/users` call ("Payload size is limited to 1000 users or
/// 1MB", `data-provider.yaml`; 413 beyond).
pub const MAX_USERS_PER_ERASURE: usize = 1_000;
/// Largest `PATCH /v2/dp/users` body (the same sentence).
pub const MAX_ERASURE_BYTES: usize = 1024 * 1024;
/// Amazon's matching hosts (spec §F4): the EU one for the EU region, the other for NA and FE.
pub const MATCH_BASE_NA: &str = "https://s.amazon-adsystem.com";
/// The EU matching host; its path is `/s/ecm3`.
pub const MATCH_BASE_EU: &str = "https://aax-eu.amazon-adsystem.com";

/// Why a visitor id is refused (a stable code; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorIdError {
    /// Not text, or empty.
    Missing,
    /// Longer than [`MAX_VISITOR_ID_LEN`].
    TooLong,
    /// An e-mail address or a phone number: personal data, never an id.
    LooksLikePersonalData,
    /// Not 32 lowercase hex digits nor a lowercase UUID.
    Invalid,
}

impl VisitorIdError {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            VisitorIdError::Missing => "visitor_id_required",
            VisitorIdError::TooLong => "visitor_id_too_long",
            VisitorIdError::LooksLikePersonalData => "looks_like_personal_data",
            VisitorIdError::Invalid => "invalid_visitor_id",
        }
    }
}

/// The visitor id rule: 32 lowercase hex digits (128 random bits) or a lowercase UUID
/// (`8-4-4-4-12` hex digits, as `crypto.randomUUID()` makes). Random-looking by
/// construction: an e-mail address or a phone number can never pass (checked first, so
/// that such a value gets its own code).
///
/// # Errors
/// Which part of the rule `id` breaks.
pub fn check_visitor_id(id: &str) -> Result<(), VisitorIdError> {
    if id.is_empty() {
        return Err(VisitorIdError::Missing);
    }
    if id.len() > MAX_VISITOR_ID_LEN {
        return Err(VisitorIdError::TooLong);
    }
    if looks_like_contact(id) {
        return Err(VisitorIdError::LooksLikePersonalData);
    }
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let ok = match id.len() {
        32 => hex(id),
        36 => {
            let groups: Vec<&str> = id.split('-').collect();
            groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| hex(g))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VisitorIdError::Invalid)
    }
}

/// Whether `id` passes [`check_visitor_id`].
pub fn valid_visitor_id(id: &str) -> bool {
    check_visitor_id(id).is_ok()
}

/// The matching endpoint (no query) on `base`: `{base}/ecm3`, or `{base}/s/ecm3` on the
/// EU host or when `eu_path`. The tag receives it whole and adds the query.
pub fn matching_endpoint(base: &str, eu_path: bool) -> String {
    let base = base.trim_end_matches('/');
    let path = if eu_path || base == MATCH_BASE_EU {
        "/s/ecm3"
    } else {
        "/ecm3"
    };
    format!("{base}{path}")
}

/// The matching URL the page requests for `visitor_id`: `{base}/ecm3` (`{base}/s/ecm3` on
/// the EU host, or when `eu_path`), with the partner code, and `gdpr`/`gdpr_consent` when
/// the page knows whether GDPR applies (`gdpr`: `Some(applies, TCF string)`).
pub fn matching_url(
    base: &str,
    eu_path: bool,
    partner_code: &str,
    visitor_id: &str,
    gdpr: Option<(bool, Option<&str>)>,
) -> String {
    let mut url = format!(
        "{}?ex={}&id={}",
        matching_endpoint(base, eu_path),
        url_encode(partner_code),
        url_encode(visitor_id)
    );
    if let Some((applies, consent)) = gdpr {
        url.push_str(if applies { "&gdpr=1" } else { "&gdpr=0" });
        if let Some(tcf) = consent {
            url.push_str("&gdpr_consent=");
            url.push_str(&url_encode(tcf));
        }
    }
    url
}

/// The `PATCH /v2/dp/audience` patch for one cookie's change.
pub fn cookie_patch(visitor_id: &str, action: Action, audience_id: u64) -> String {
    dp_patch("COOKIE", visitor_id, action, audience_id)
}

/// `PATCH /v2/dp/audience` calls that move each cookie into or out of the audience,
/// as many as it takes to keep every call within Amazon's limits (2,000 patches, and the
/// body under [`super::audience::MAX_PATCH_BYTES`]). Ids that break [`check_visitor_id`]
/// are left out (they never reach the Worker's store anyway).
pub fn cookie_patches<'a>(
    auth: &Auth<'_>,
    profile_id: &str,
    audience_id: u64,
    changes: impl IntoIterator<Item = (&'a str, Action)>,
) -> Vec<ApiRequest> {
    let patches: Vec<String> = changes
        .into_iter()
        .filter(|(id, _)| valid_visitor_id(id))
        .map(|(id, action)| cookie_patch(id, action, audience_id))
        .collect();
    dp_patches(auth, profile_id, &patches)
}

/// A person to erase: a cookie (visitor id) or an external user id (the one the Worker
/// derives from a person's hashes, or a server's own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErasedUser {
    /// `{"type": "COOKIE", "value"}`.
    Cookie(String),
    /// `{"type": "EXTERNAL_USER_ID", "value"}`.
    External(String),
}

impl ErasedUser {
    /// Amazon's id type.
    pub fn kind(&self) -> &'static str {
        match self {
            ErasedUser::Cookie(_) => "COOKIE",
            ErasedUser::External(_) => "EXTERNAL_USER_ID",
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        match self {
            ErasedUser::Cookie(id) | ErasedUser::External(id) => id,
        }
    }

    /// A storage key for the user (`COOKIE:<id>`, `EXTERNAL_USER_ID:<id>`), and back.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind(), self.id())
    }

    /// The user a [`ErasedUser::key`] names, if it is one.
    pub fn from_key(key: &str) -> Option<ErasedUser> {
        match key.split_once(':')? {
            ("COOKIE", id) if valid_visitor_id(id) => Some(ErasedUser::Cookie(id.to_owned())),
            ("EXTERNAL_USER_ID", id) if super::audience::valid_external_id(id) => {
                Some(ErasedUser::External(id.to_owned()))
            }
            _ => None,
        }
    }
}

/// `PATCH /v2/dp/users` calls erasing `users` for the DSP advertiser `advertiser_id`, each
/// with its consent time (when the person asked, epoch milliseconds), at most
/// [`MAX_USERS_PER_ERASURE`] users and [`MAX_ERASURE_BYTES`] per call:
/// `{"users": [{"userId": {"type", "value"}, "advertiserId", "consentTime"}], "operation":
/// "DELETE"}`.
///
/// Amazon's two documents disagree on this body. The OpenAPI file (`data-provider.yaml`,
/// its schema and its example) has `userId` as one object `{type, value}`, `consentTime`
/// on each user and `operation: "DELETE"`; the guide page (`guides/dsp/data-provider.md`,
/// "Sample request: remove user data") has `userId` as a list `[{type, id}]`, with
/// `consentTime` and no `operation`. matchkey sends the schema's form. `advertiserId` is a
/// string in the schema and in the guide (the schema's example shows a number): sent as a
/// string.
pub fn erasures<'a>(
    auth: &Auth<'_>,
    profile_id: &str,
    advertiser_id: u64,
    users: impl IntoIterator<Item = (&'a ErasedUser, u64)>,
) -> Vec<ApiRequest> {
    let items: Vec<String> = users
        .into_iter()
        .map(|(u, consent_time_ms)| {
            json!({
                "userId": { "type": u.kind(), "value": u.id() },
                "advertiserId": advertiser_id.to_string(),
                "consentTime": consent_time_ms,
            })
            .to_string()
        })
        .collect();
    batched(
        &items,
        r#"{"users":["#,
        r#"],"operation":"DELETE"}"#,
        MAX_USERS_PER_ERASURE,
        MAX_ERASURE_BYTES,
    )
    .into_iter()
    .map(|body| {
        auth.request(Method::Patch, "/v2/dp/users")
            .header("amazon-advertising-api-scope", profile_id)
            .body("application/json", body)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VID: &str = "0123456789abcdef0123456789abcdef";
    const UUID: &str = "3b241101-e2bb-4255-8caf-4136c566a962";

    fn auth() -> Auth<'static> {
        Auth {
            api_base: "http://127.0.0.1:9",
            access_token: "t",
            client_id: "c",
        }
    }

    #[test]
    fn visitor_ids_are_random_looking_and_never_contacts() {
        assert_eq!(check_visitor_id(VID), Ok(()));
        assert_eq!(check_visitor_id(UUID), Ok(()));
        // 32 digits: hex, and too many digits to be a phone number.
        assert!(valid_visitor_id("01234567890123456789012345678901"));
        for (id, err) in [
            ("", VisitorIdError::Missing),
            ("jane@example.com", VisitorIdError::LooksLikePersonalData),
            ("+1 (555) 010-0199", VisitorIdError::LooksLikePersonalData),
            ("5550100199", VisitorIdError::LooksLikePersonalData),
            ("jane%40example.com", VisitorIdError::LooksLikePersonalData),
            (&"a".repeat(37), VisitorIdError::TooLong),
            ("0123456789ABCDEF0123456789ABCDEF", VisitorIdError::Invalid),
            ("0123456789abcdef0123456789abcdeg", VisitorIdError::Invalid),
            ("0123456789abcdef", VisitorIdError::Invalid),
            (
                "3b241101e2bb-4255-8caf-4136c566a9620",
                VisitorIdError::Invalid,
            ),
            ("ü123456789abcdef0123456789abcde", VisitorIdError::Invalid),
            ("0123456789abcdef0123456789abcdé", VisitorIdError::Invalid),
        ] {
            assert_eq!(check_visitor_id(id), Err(err), "{id}");
        }
        assert_eq!(VisitorIdError::Invalid.code(), "invalid_visitor_id");
    }

    proptest::proptest! {
        #[test]
        fn an_accepted_visitor_id_is_random_shaped_and_never_a_contact(id in "\\PC{0,40}|[0-9a-f@+. -]{0,40}") {
            if check_visitor_id(&id).is_ok() {
                proptest::prop_assert!(id.len() == 32 || id.len() == 36);
                proptest::prop_assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase() || b == b'-'));
                proptest::prop_assert!(!looks_like_contact(&id));
                proptest::prop_assert!(ErasedUser::from_key(&ErasedUser::Cookie(id.clone()).key()).is_some());
            }
        }

        #[test]
        fn random_ids_pass(bytes in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            proptest::prop_assert_eq!(check_visitor_id(&hex), Ok(()));
        }
    }

    #[test]
    fn the_matching_url_per_region_and_consent() {
        assert_eq!(
            matching_url(MATCH_BASE_NA, false, "p1", VID, None),
            format!("https://s.amazon-adsystem.com/ecm3?ex=p1&id={VID}")
        );
        assert_eq!(
            matching_url(MATCH_BASE_EU, false, "p 1", VID, Some((true, Some("CP+x")))),
            format!(
                "https://aax-eu.amazon-adsystem.com/s/ecm3?ex=p%201&id={VID}&gdpr=1&gdpr_consent=CP%2Bx"
            )
        );
        assert_eq!(
            matching_url("http://127.0.0.1:9/", true, "p", VID, Some((false, None))),
            format!("http://127.0.0.1:9/s/ecm3?ex=p&id={VID}&gdpr=0")
        );
    }

    #[test]
    fn cookie_patches_name_the_cookie_and_stay_within_amazons_limits() {
        let calls = cookie_patches(
            &auth(),
            "7",
            9,
            [
                (VID, Action::Add),
                (UUID, Action::Remove),
                ("bad", Action::Add),
            ],
        );
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, Method::Patch);
        assert!(calls[0].url.ends_with("/v2/dp/audience"));
        assert_eq!(
            calls[0].header_value("amazon-advertising-api-scope"),
            Some("7")
        );
        let body: Value = serde_json::from_str(calls[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"patches": [
                {"op": "add", "path": format!("/COOKIE-{VID}/audiences"), "value": [9]},
                {"op": "remove", "path": format!("/COOKIE-{UUID}/audiences"), "value": [9]},
            ]})
        );
        let many: Vec<String> = (0..20_000).map(|i| format!("{i:032x}")).collect();
        let calls = cookie_patches(
            &auth(),
            "7",
            413_642_381_039_213_536,
            many.iter().map(|id| (id.as_str(), Action::Add)),
        );
        assert!(calls.len() > 1);
        let mut total = 0;
        for call in &calls {
            let body = call.body.as_deref().unwrap();
            assert!(body.len() <= super::super::audience::MAX_PATCH_BYTES);
            let n = serde_json::from_str::<Value>(body).unwrap()["patches"]
                .as_array()
                .unwrap()
                .len();
            // "a maximum of 6MB or 2000 records" (data-provider.yaml): cookies have no
            // other cap.
            assert!(n <= 2_000, "{n} patches in one call");
            total += n;
        }
        assert_eq!(calls.len(), 10);
        assert_eq!(total, 20_000);
        assert!(cookie_patches(&auth(), "7", 9, []).is_empty());
    }

    #[test]
    fn erasure_bodies_for_cookies_and_external_ids() {
        let users = [
            ErasedUser::Cookie(VID.into()),
            ErasedUser::External("mk_abc".into()),
        ];
        let calls = erasures(
            &auth(),
            "7",
            583_000_000_000_001,
            users.iter().map(|u| (u, 1_581_557_890_000)),
        );
        assert_eq!(calls.len(), 1);
        assert!(calls[0].url.ends_with("/v2/dp/users"));
        assert_eq!(calls[0].method, Method::Patch);
        let body: Value = serde_json::from_str(calls[0].body.as_deref().unwrap()).unwrap();
        // data-provider.yaml's schema for PATCH /v2/dp/users (its example has the same
        // shape: `userId: {type, value}`, `consentTime`, `operation: DELETE`).
        assert_eq!(
            body,
            json!({"users": [
                {"userId": {"type": "COOKIE", "value": VID}, "advertiserId": "583000000000001", "consentTime": 1_581_557_890_000u64},
                {"userId": {"type": "EXTERNAL_USER_ID", "value": "mk_abc"}, "advertiserId": "583000000000001", "consentTime": 1_581_557_890_000u64},
            ], "operation": "DELETE"})
        );
        let many: Vec<ErasedUser> = (0..2_500)
            .map(|i| ErasedUser::Cookie(format!("{i:032x}")))
            .collect();
        let calls = erasures(&auth(), "7", 1, many.iter().map(|u| (u, 0)));
        assert_eq!(calls.len(), 3);
        for call in &calls {
            let body: Value = serde_json::from_str(call.body.as_deref().unwrap()).unwrap();
            assert!(body["users"].as_array().unwrap().len() <= MAX_USERS_PER_ERASURE);
            assert!(call.body.as_deref().unwrap().len() <= MAX_ERASURE_BYTES);
            assert_eq!(body["operation"], "DELETE");
        }
        for user in &users {
            assert_eq!(ErasedUser::from_key(&user.key()).as_ref(), Some(user));
        }
        assert_eq!(ErasedUser::from_key("COOKIE:jane@example.com"), None);
        assert_eq!(ErasedUser::from_key("MAID:x"), None);
    }
}
