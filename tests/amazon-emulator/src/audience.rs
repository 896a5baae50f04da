//! Validation of audience uploads: AMC audience metadata and records (section A5a), and
//! Data Provider hashed records, audience metadata and audience patches (section A5b).
//!
//! Pure functions, like [`crate::events`]. Every PII value must be a lowercase SHA-256 hex
//! digest; anything else is rejected (the privacy tripwire).

use serde_json::{Map, Value};

use crate::check::{self, Checker, FieldError};
use crate::codes;

/// Most records one AMC upload may carry (Amazon's guidance: ~6,000 per request).
pub(crate) const MAX_AMC_RECORDS: usize = 6_000;
/// Most hashed-PII objects per AMC member.
pub(crate) const MAX_PII_PER_MEMBER: usize = 100;
/// Longest audience time-to-live in seconds (13 months).
pub(crate) const MAX_TTL_SECS: i64 = 34_300_800;

const METADATA_FIELDS: &[&str] = &[
    "name",
    "description",
    "countryCode",
    "targetResource",
    "metadata",
];
const DP_METADATA_FIELDS: &[&str] = &["name", "description", "advertiserId", "metadata"];
const DP_METADATA_METADATA_FIELDS: &[&str] = &[
    "type",
    "externalAudienceId",
    "ttl",
    "audienceFees",
    "dataSourceCountry",
];
/// Largest `PATCH /v2/dp/audience` body: "Payload size is limited to a maximum of 6MB or
/// 2000 records" (`data-provider.yaml`; its 413 example and the guide page say 1 MB, which
/// the client keeps to: the emulator refuses what the schema's limit refuses).
pub(crate) const DP_PATCH_MAX_BODY: usize = 6 * 1024 * 1024;
/// Most patches per `PATCH /v2/dp/audience` ("a maximum of 6MB or 2000 records").
pub(crate) const DP_PATCHES_MAX: usize = 2_000;
const RECORD_FIELDS: &[&str] = &[
    "externalUserId",
    "countryCode",
    "action",
    "hashedPII",
    "userConsent",
];

/// Validates an AMC `POST /amc/audiences/metadata` body (locations are top-level fields).
pub fn validate_metadata(body: &Value) -> Vec<FieldError> {
    let mut checker = Checker::new("");
    let Some(body) = checker.object(Some(body), "", true, METADATA_FIELDS) else {
        return checker.into_errors();
    };
    checker.string(body.get("name"), "name", true);
    checker.string(body.get("description"), "description", false);
    checker.one_of(
        body.get("countryCode"),
        "countryCode",
        true,
        codes::AMC_COUNTRIES,
    );
    if let Some(target) = checker.object(
        body.get("targetResource"),
        "targetResource",
        true,
        &["advertiserId", "connectionId"],
    ) {
        match (target.get("advertiserId"), target.get("connectionId")) {
            (Some(id), None) => {
                // Amazon wants a JSON number here (Segment rewrites the quoted id so that
                // 64-bit ids keep their precision); a string is the classic mistake.
                if !id.is_u64() {
                    checker.push(
                        check::IS_INVALID,
                        "targetResource.advertiserId",
                        "advertiserId must be a JSON integer, not a string",
                    );
                }
            }
            (None, Some(_)) => {
                checker.string(
                    target.get("connectionId"),
                    "targetResource.connectionId",
                    true,
                );
            }
            _ => checker.push(
                check::IS_INVALID,
                "targetResource",
                "targetResource needs exactly one of advertiserId and connectionId",
            ),
        }
    }
    if let Some(metadata) = checker.object(
        body.get("metadata"),
        "metadata",
        false,
        &["externalAudienceId", "ttl", "audienceFees"],
    ) {
        checker.string(
            metadata.get("externalAudienceId"),
            "metadata.externalAudienceId",
            false,
        );
        checker.integer(metadata.get("ttl"), "metadata.ttl", false, 0, MAX_TTL_SECS);
        if let Some(fees) = checker.array(
            metadata.get("audienceFees"),
            "metadata.audienceFees",
            false,
            0,
            10,
        ) {
            for (position, fee) in fees.iter().enumerate() {
                let field = format!("metadata.audienceFees[{position}]");
                if let Some(fee) =
                    checker.object(Some(fee), &field, true, &["cpmCents", "currency"])
                {
                    checker.integer(
                        fee.get("cpmCents"),
                        &format!("{field}.cpmCents"),
                        true,
                        0,
                        i64::MAX,
                    );
                    checker.one_of(
                        fee.get("currency"),
                        &format!("{field}.currency"),
                        true,
                        codes::CURRENCY_CODES,
                    );
                }
            }
        }
    }
    checker.into_errors()
}

/// Validates the AMC record at `index` of `records[]`.
pub fn validate_amc_record(record: &Value, index: usize) -> Vec<FieldError> {
    let mut checker = Checker::new(format!("records[{index}]"));
    let Some(record) = checker.object(Some(record), "", true, RECORD_FIELDS) else {
        return checker.into_errors();
    };
    if let Some(id) = checker.string(record.get("externalUserId"), "externalUserId", true)
        && !is_external_user_id(id)
    {
        checker.push(
            check::INVALID_CHARACTERS,
            "externalUserId",
            "externalUserId must match [0-9a-zA-Z_-]{1,128}",
        );
    }
    let country = checker.one_of(
        record.get("countryCode"),
        "countryCode",
        true,
        codes::AMC_COUNTRIES,
    );
    checker.one_of(record.get("action"), "action", true, &["CREATE", "DELETE"]);
    if let Some(items) = checker.array(
        record.get("hashedPII"),
        "hashedPII",
        true,
        1,
        MAX_PII_PER_MEMBER,
    ) {
        for (position, item) in items.iter().enumerate() {
            check_pii_object(
                &mut checker,
                item,
                &format!("hashedPII[{position}]"),
                codes::AMC_PII_KEYS,
            );
        }
    }
    let has_consent = check_user_consent(&mut checker, record.get("userConsent"));
    if country.is_some_and(|c| codes::contains(codes::CONSENT_COUNTRIES, c)) && !has_consent {
        checker.push(
            check::IS_NULL,
            "userConsent",
            "userConsent.consent (amzn, tcf or gpp) is required for UK and EEA members",
        );
    }
    checker.into_errors()
}

/// Validates the Data Provider record at `index` of `records[]`.
pub fn validate_dp_record(record: &Value, index: usize) -> Vec<FieldError> {
    let mut checker = Checker::new(format!("records[{index}]"));
    let Some(record) = checker.object(Some(record), "", true, &["externalId", "hashedRecords"])
    else {
        return checker.into_errors();
    };
    checker.string(record.get("externalId"), "externalId", true);
    if let Some(items) = checker.array(
        record.get("hashedRecords"),
        "hashedRecords",
        true,
        1,
        MAX_PII_PER_MEMBER,
    ) {
        for (position, item) in items.iter().enumerate() {
            check_pii_object(
                &mut checker,
                item,
                &format!("hashedRecords[{position}]"),
                codes::DP_PII_KEYS,
            );
        }
    }
    checker.into_errors()
}

/// `[0-9a-zA-Z_-]{1,128}`, the external user id of both audience APIs.
pub(crate) fn is_external_user_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The numeric DSP advertiser id of Data Provider metadata: a JSON integer or a string of
/// digits (section A5b shows neither; both are taken).
pub(crate) fn dp_advertiser_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        _ => None,
    }
}

/// Validates a `POST /v2/dp/audiencemetadata/` body. Emulator choice: every field the
/// spec shows is required (`ttl` too).
pub fn validate_dp_metadata(body: &Value) -> Vec<FieldError> {
    let mut checker = Checker::new("");
    let Some(body) = checker.object(Some(body), "", true, DP_METADATA_FIELDS) else {
        return checker.into_errors();
    };
    checker.string(body.get("name"), "name", true);
    checker.string(body.get("description"), "description", true);
    match body.get("advertiserId") {
        None | Some(Value::Null) => {
            checker.push(check::IS_NULL, "advertiserId", "advertiserId is required");
        }
        // int64 in the schema: a JSON integer, not its digits as a string.
        Some(id) if id.is_u64() => {}
        Some(_) => checker.push(
            check::IS_INVALID,
            "advertiserId",
            "advertiserId must be the numeric DSP advertiser id as a JSON integer",
        ),
    }
    let Some(metadata) = checker.object(
        body.get("metadata"),
        "metadata",
        true,
        DP_METADATA_METADATA_FIELDS,
    ) else {
        return checker.into_errors();
    };
    checker.one_of(
        metadata.get("type"),
        "metadata.type",
        true,
        &["DATA_PROVIDER"],
    );
    checker.string(
        metadata.get("externalAudienceId"),
        "metadata.externalAudienceId",
        true,
    );
    // Optional in the schema (`required: [type, externalAudienceId, dataSourceCountry]`).
    checker.integer(metadata.get("ttl"), "metadata.ttl", false, 0, MAX_TTL_SECS);
    if let Some(countries) = checker.array(
        metadata.get("dataSourceCountry"),
        "metadata.dataSourceCountry",
        true,
        1,
        usize::MAX,
    ) {
        for (position, country) in countries.iter().enumerate() {
            let field = format!("metadata.dataSourceCountry[{position}]");
            if let Some(code) = checker.string(Some(country), &field, true) {
                if !codes::is_alpha2(code) {
                    checker.push(
                        check::IS_INVALID,
                        &field,
                        "dataSourceCountry holds ISO 3166-1 alpha-2 codes in uppercase",
                    );
                } else if countries[..position].contains(country) {
                    checker.push(
                        check::IS_INVALID,
                        &field,
                        "dataSourceCountry lists a country twice",
                    );
                }
            }
        }
    }
    checker.into_errors()
}

/// The external id of a Data Provider patch path `/EXTERNAL_USER_ID-<externalId>/audiences`.
#[cfg(test)]
pub(crate) fn dp_patch_external_id(path: &str) -> Option<&str> {
    match dp_patch_member(path)? {
        DpMember::External(id) => Some(id),
        DpMember::Cookie(_) => None,
    }
}

/// Who a Data Provider patch path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DpMember<'a> {
    /// `/EXTERNAL_USER_ID-<externalId>/audiences`: an id uploaded with hashed records.
    External(&'a str),
    /// `/COOKIE-<id>/audiences`: a data provider's visitor id, matched to Amazon's cookie by
    /// the `ecm3` request (spec F4).
    Cookie(&'a str),
}

/// The member of a patch path: `EXTERNAL_USER_ID-` or `COOKIE-` and an id of
/// `[0-9a-zA-Z_-]{1,128}` (emulator choice for cookies: the external id's rule; Amazon
/// documents none). `MAID-` paths exist at Amazon but are not emulated.
pub(crate) fn dp_patch_member(path: &str) -> Option<DpMember<'_>> {
    let rest = path.strip_suffix("/audiences")?;
    if let Some(id) = rest.strip_prefix("/EXTERNAL_USER_ID-") {
        return is_external_user_id(id).then_some(DpMember::External(id));
    }
    let id = rest.strip_prefix("/COOKIE-")?;
    is_external_user_id(id).then_some(DpMember::Cookie(id))
}

/// Validates the patch at `index` of a `PATCH /v2/dp/audience` body's `patches[]`.
pub fn validate_dp_patch(patch: &Value, index: usize) -> Vec<FieldError> {
    let mut checker = Checker::new(format!("patches[{index}]"));
    let Some(patch) = checker.object(Some(patch), "", true, &["op", "path", "value"]) else {
        return checker.into_errors();
    };
    checker.one_of(patch.get("op"), "op", true, &["add", "remove"]);
    if let Some(path) = checker.string(patch.get("path"), "path", true)
        && dp_patch_member(path).is_none()
    {
        // MAID-… paths exist at Amazon but are not emulated.
        checker.push(
            check::INVALID_CHARACTERS,
            "path",
            "path must be /EXTERNAL_USER_ID-<externalId>/audiences or /COOKIE-<id>/audiences with an id of [0-9a-zA-Z_-]{1,128}",
        );
    }
    if let Some(ids) = checker.array(patch.get("value"), "value", true, 1, usize::MAX) {
        for (position, id) in ids.iter().enumerate() {
            if !id.is_u64() {
                checker.push(
                    check::IS_INVALID,
                    &format!("value[{position}]"),
                    "value holds audience ids as JSON integers",
                );
            }
        }
    }
    checker.into_errors()
}

/// Largest `PATCH /v2/dp/users` body (emulator choice: the audience patch's 1 MB).
/// Largest `PATCH /v2/dp/users` body ("Payload size is limited to 1000 users or 1MB",
/// `data-provider.yaml`; 413 beyond).
pub(crate) const DP_USERS_MAX_BODY: usize = 1024 * 1024;
/// Most users per `PATCH /v2/dp/users` (the same sentence).
pub(crate) const DP_USERS_MAX: usize = 1_000;
/// The user id types of `PATCH /v2/dp/users` (`data-provider.yaml`).
pub(crate) const DP_USER_ID_TYPES: &[&str] = &["COOKIE", "MAID", "EXTERNAL_USER_ID"];

/// Which of Amazon's two documents an erased user's form follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserIdForm {
    /// `data-provider.yaml`: `"userId": {"type", "value"}`.
    OpenApi,
    /// `guides/dsp/data-provider.md`: `"userId": [{"type", "id"}]`.
    Guide,
}

impl UserIdForm {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserIdForm::OpenApi => "openapi",
            UserIdForm::Guide => "guide",
        }
    }
}

/// The ids of a valid erased user, in either documented form: `(form, [(type, id)])`.
pub(crate) fn dp_user_ids(user: &Value) -> (UserIdForm, Vec<(String, String)>) {
    let pair = |id: &Value, key: &str| {
        (
            id["type"].as_str().unwrap_or_default().to_owned(),
            id[key].as_str().unwrap_or_default().to_owned(),
        )
    };
    match &user["userId"] {
        Value::Array(ids) => (
            UserIdForm::Guide,
            ids.iter().map(|id| pair(id, "id")).collect(),
        ),
        id => (UserIdForm::OpenApi, vec![pair(id, "value")]),
    }
}

/// Validates the user at `index` of a `PATCH /v2/dp/users` body's `users[]`. Amazon's two
/// documents disagree on its form, and both are taken: the OpenAPI schema's
/// `{userId: {type, value}, advertiserId?, consentTime?}` and the guide's
/// `{userId: [{type, id}], advertiserId?, consentTime}`. The schema requires no property;
/// `userId` is required here (an erasure of nobody is no erasure). `advertiserId` is a
/// string in the schema (its example shows a number): both are taken.
pub(crate) fn validate_dp_user(user: &Value, index: usize) -> Vec<FieldError> {
    let mut checker = Checker::new(format!("users[{index}]"));
    let Some(user) = checker.object(
        Some(user),
        "",
        true,
        &["userId", "advertiserId", "consentTime"],
    ) else {
        return checker.into_errors();
    };
    let check_id = |checker: &mut Checker, id: &Value, field: &str, key: &str| {
        if let Some(id) = checker.object(Some(id), field, true, &["type", key]) {
            checker.one_of(
                id.get("type"),
                &format!("{field}.type"),
                true,
                DP_USER_ID_TYPES,
            );
            if let Some(text) = checker.string(id.get(key), &format!("{field}.{key}"), true)
                && !is_external_user_id(text)
            {
                checker.push(
                    check::INVALID_CHARACTERS,
                    &format!("{field}.{key}"),
                    "the id must match [0-9a-zA-Z_-]{1,128}",
                );
            }
        }
    };
    match user.get("userId") {
        Some(Value::Array(_)) => {
            if let Some(ids) = checker.array(user.get("userId"), "userId", true, 1, 100) {
                for (position, id) in ids.iter().enumerate() {
                    check_id(&mut checker, id, &format!("userId[{position}]"), "id");
                }
            }
        }
        Some(id @ Value::Object(_)) => check_id(&mut checker, id, "userId", "value"),
        None | Some(Value::Null) => checker.push(check::IS_NULL, "userId", "userId is required"),
        Some(_) => checker.push(
            check::IS_INVALID,
            "userId",
            "userId is an object {type, value} (or the guide's list of {type, id})",
        ),
    }
    match user.get("advertiserId") {
        None => {}
        Some(id) if dp_advertiser_id(id).is_some() => {}
        Some(_) => checker.push(
            check::IS_INVALID,
            "advertiserId",
            "advertiserId must be the numeric DSP advertiser id (a string of digits, or a number)",
        ),
    }
    if let Some(time) = user.get("consentTime")
        && !time.is_u64()
    {
        checker.push(
            check::IS_INVALID,
            "consentTime",
            "consentTime is an integer of epoch milliseconds",
        );
    }
    checker.into_errors()
}

/// One object of hashed PII: only `keys`, at least one, each a SHA-256 hex digest.
fn check_pii_object(checker: &mut Checker, item: &Value, field: &str, keys: &[&str]) {
    let Some(item) = checker.object(Some(item), field, true, keys) else {
        return;
    };
    if item.is_empty() {
        checker.push(
            check::IS_EMPTY,
            field,
            "a hashed PII object needs at least one field",
        );
    }
    for key in keys {
        if let Some(value) = item.get(*key) {
            checker.sha256_hex(Some(value), &format!("{field}.{key}"));
        }
    }
}

/// Checks AMC `userConsent` and returns whether it carries a usable consent signal.
fn check_user_consent(checker: &mut Checker, value: Option<&Value>) -> bool {
    let Some(user_consent) = checker.object(value, "userConsent", false, &["geo", "consent"])
    else {
        return false;
    };
    if let Some(geo) = checker.object(
        user_consent.get("geo"),
        "userConsent.geo",
        false,
        &["ipAddress", "countryCode"],
    ) {
        checker.string(geo.get("ipAddress"), "userConsent.geo.ipAddress", false);
        checker.one_of(
            geo.get("countryCode"),
            "userConsent.geo.countryCode",
            false,
            codes::COUNTRY_CODES,
        );
    }
    let Some(consent) = checker.object(
        user_consent.get("consent"),
        "userConsent.consent",
        false,
        &["amzn", "tcf", "gpp"],
    ) else {
        return false;
    };
    let mut has_signal = false;
    if let Some(amzn) = checker.object(
        consent.get("amzn"),
        "userConsent.consent.amzn",
        false,
        &["amznAdStorage", "amznUserData"],
    ) {
        has_signal |= check_amzn(checker, amzn);
    }
    has_signal |= checker
        .string(consent.get("tcf"), "userConsent.consent.tcf", false)
        .is_some();
    has_signal |= checker
        .string(consent.get("gpp"), "userConsent.consent.gpp", false)
        .is_some();
    has_signal
}

/// The AMC spelling of Amazon consent: `{amznAdStorage, amznUserData}`, both required
/// here (Segment always sends both; the doc gives no optionality for this API).
fn check_amzn(checker: &mut Checker, amzn: &Map<String, Value>) -> bool {
    let user_data = checker.one_of(
        amzn.get("amznUserData"),
        "userConsent.consent.amzn.amznUserData",
        true,
        codes::CONSENT_STATUSES,
    );
    let ad_storage = checker.one_of(
        amzn.get("amznAdStorage"),
        "userConsent.consent.amzn.amznAdStorage",
        true,
        codes::CONSENT_STATUSES,
    );
    user_data.is_some() && ad_storage.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";

    fn metadata() -> Value {
        json!({
            "name": "site_cart_abandoners",
            "description": "Visitors who added to cart",
            "countryCode": "DE",
            "targetResource": {"advertiserId": 583000000000001u64},
            "metadata": {"externalAudienceId": "site-cart-abandoners-v1", "ttl": 2592000}
        })
    }

    fn record() -> Value {
        json!({
            "externalUserId": "u_5f2c9a",
            "countryCode": "DE",
            "action": "CREATE",
            "hashedPII": [{"email": DIGEST, "firstname": DIGEST, "postal": DIGEST}],
            "userConsent": {
                "geo": {"countryCode": "DE"},
                "consent": {"amzn": {"amznAdStorage": "GRANTED", "amznUserData": "GRANTED"}}
            }
        })
    }

    fn dp_metadata() -> Value {
        json!({
            "name": "site_cart_abandoners",
            "description": "Visitors who added to cart",
            "advertiserId": 583000000000001u64,
            "metadata": {"type": "DATA_PROVIDER", "externalAudienceId": "cart-v1", "ttl": 2592000, "dataSourceCountry": ["US"]}
        })
    }

    fn dp_patch() -> Value {
        json!({"op": "add", "path": "/EXTERNAL_USER_ID-u_5f2c9a/audiences", "value": [413642381039213537u64]})
    }

    fn dp_record() -> Value {
        json!({"externalId": "u_5f2c9a", "hashedRecords": [{"email": DIGEST, "postalCode": DIGEST}]})
    }

    fn locations(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field_location).collect()
    }

    fn edited(mut value: Value, edit: impl FnOnce(&mut Value)) -> Value {
        edit(&mut value);
        value
    }

    #[test]
    fn documented_metadata_is_accepted() {
        assert!(validate_metadata(&metadata()).is_empty());
        let by_connection = edited(metadata(), |m| {
            m["targetResource"] = json!({"connectionId": "c1"})
        });
        assert!(validate_metadata(&by_connection).is_empty());
    }

    #[test]
    fn metadata_advertiser_id_must_be_a_number() {
        let quoted = edited(metadata(), |m| {
            m["targetResource"]["advertiserId"] = json!("583000000000001")
        });
        assert_eq!(
            locations(validate_metadata(&quoted)),
            ["targetResource.advertiserId"]
        );
        let both = edited(metadata(), |m| {
            m["targetResource"]["connectionId"] = json!("c1")
        });
        assert_eq!(locations(validate_metadata(&both)), ["targetResource"]);
    }

    #[test]
    fn metadata_ttl_country_and_name_are_checked() {
        let ttl = edited(metadata(), |m| {
            m["metadata"]["ttl"] = json!(MAX_TTL_SECS + 1)
        });
        assert_eq!(locations(validate_metadata(&ttl)), ["metadata.ttl"]);
        let country = edited(metadata(), |m| m["countryCode"] = json!("CH"));
        assert_eq!(locations(validate_metadata(&country)), ["countryCode"]);
        let name = edited(metadata(), |m| {
            m.as_object_mut().unwrap().remove("name");
        });
        assert_eq!(locations(validate_metadata(&name)), ["name"]);
    }

    #[test]
    fn metadata_audience_fees_are_checked() {
        let fee = |fee: Value| edited(metadata(), |m| m["metadata"]["audienceFees"] = json!([fee]));
        assert!(validate_metadata(&fee(json!({"cpmCents": 150, "currency": "EUR"}))).is_empty());
        assert_eq!(
            locations(validate_metadata(&fee(
                json!({"cpmCents": -1, "currency": "EUR"})
            ))),
            ["metadata.audienceFees[0].cpmCents"]
        );
        assert_eq!(
            locations(validate_metadata(&fee(
                json!({"cpmCents": 1, "currency": "EURO"})
            ))),
            ["metadata.audienceFees[0].currency"]
        );
    }

    #[test]
    fn documented_records_are_accepted() {
        assert!(validate_amc_record(&record(), 0).is_empty());
        let delete = json!({"externalUserId": "u_91aa07", "countryCode": "US", "action": "DELETE", "hashedPII": [{"email": DIGEST}]});
        assert!(validate_amc_record(&delete, 1).is_empty());
    }

    #[test]
    fn amc_pii_must_be_hashed() {
        let raw = edited(record(), |r| {
            r["hashedPII"][0]["email"] = json!("jane@example.com")
        });
        assert_eq!(
            locations(validate_amc_record(&raw, 2)),
            ["records[2].hashedPII[0].email"]
        );
        let camel = edited(record(), |r| {
            r["hashedPII"][0] = json!({"firstName": DIGEST})
        });
        assert_eq!(
            locations(validate_amc_record(&camel, 0)),
            ["records[0].hashedPII[0].firstName"]
        );
        let empty = edited(record(), |r| r["hashedPII"] = json!([{}]));
        assert_eq!(
            locations(validate_amc_record(&empty, 0)),
            ["records[0].hashedPII[0]"]
        );
    }

    #[test]
    fn amc_record_fields_are_checked() {
        let id = edited(record(), |r| r["externalUserId"] = json!("user 1"));
        assert_eq!(
            locations(validate_amc_record(&id, 0)),
            ["records[0].externalUserId"]
        );
        let action = edited(record(), |r| r["action"] = json!("UPSERT"));
        assert_eq!(
            locations(validate_amc_record(&action, 0)),
            ["records[0].action"]
        );
        let country = edited(record(), |r| r["countryCode"] = json!("CH"));
        assert_eq!(
            locations(validate_amc_record(&country, 0)),
            ["records[0].countryCode"]
        );
    }

    #[test]
    fn eea_members_need_consent() {
        let without = edited(record(), |r| {
            r.as_object_mut().unwrap().remove("userConsent");
        });
        assert_eq!(
            locations(validate_amc_record(&without, 0)),
            ["records[0].userConsent"]
        );
        let tcf = edited(record(), |r| {
            r["userConsent"] = json!({"consent": {"tcf": "CQHc"}})
        });
        assert!(validate_amc_record(&tcf, 0).is_empty());
        let events_spelling = edited(record(), |r| {
            r["userConsent"]["consent"] = json!({"amazonConsent": {"amznUserData": "GRANTED"}})
        });
        assert!(!validate_amc_record(&events_spelling, 0).is_empty());
    }

    #[test]
    fn dp_metadata_takes_the_advertiser_as_an_integer_only() {
        // `advertiserId` is an int64 in data-provider.yaml.
        assert!(validate_dp_metadata(&dp_metadata()).is_empty());
        assert_eq!(
            dp_advertiser_id(&dp_metadata()["advertiserId"]),
            Some(583_000_000_000_001)
        );
        for bad in [
            json!("583000000000001"),
            json!("583-1"),
            json!(""),
            json!(-1),
            json!(1.5),
            json!(true),
        ] {
            let body = edited(dp_metadata(), |m| m["advertiserId"] = bad);
            assert_eq!(locations(validate_dp_metadata(&body)), ["advertiserId"]);
        }
    }

    #[test]
    fn dp_metadata_fields_are_required_and_checked() {
        for field in ["name", "description", "advertiserId", "metadata"] {
            let body = edited(dp_metadata(), |m| {
                m.as_object_mut().unwrap().remove(field);
            });
            assert_eq!(locations(validate_dp_metadata(&body)), [field]);
        }
        // The schema requires these three; `ttl` is optional.
        let no_ttl = edited(dp_metadata(), |m| {
            m["metadata"].as_object_mut().unwrap().remove("ttl");
        });
        assert!(validate_dp_metadata(&no_ttl).is_empty());
        for field in ["type", "externalAudienceId", "dataSourceCountry"] {
            let body = edited(dp_metadata(), |m| {
                m["metadata"].as_object_mut().unwrap().remove(field);
            });
            assert_eq!(
                locations(validate_dp_metadata(&body)),
                [format!("metadata.{field}")]
            );
        }
        let kind = edited(dp_metadata(), |m| m["metadata"]["type"] = json!("AMC"));
        assert_eq!(locations(validate_dp_metadata(&kind)), ["metadata.type"]);
        let ttl = edited(dp_metadata(), |m| {
            m["metadata"]["ttl"] = json!(MAX_TTL_SECS + 1)
        });
        assert_eq!(locations(validate_dp_metadata(&ttl)), ["metadata.ttl"]);
        let zero = edited(dp_metadata(), |m| m["metadata"]["ttl"] = json!(0));
        assert!(validate_dp_metadata(&zero).is_empty());
        let fees = edited(dp_metadata(), |m| m["metadata"]["audienceFees"] = json!([]));
        assert!(validate_dp_metadata(&fees).is_empty());
        let unknown = edited(dp_metadata(), |m| m["metadata"]["segment"] = json!(1));
        assert_eq!(
            locations(validate_dp_metadata(&unknown)),
            ["metadata.segment"]
        );
    }

    #[test]
    fn dp_metadata_source_countries_are_iso_codes() {
        let countries = |list: Value| {
            locations(validate_dp_metadata(&edited(dp_metadata(), |m| {
                m["metadata"]["dataSourceCountry"] = list
            })))
        };
        assert!(countries(json!(["US", "CA"])).is_empty());
        assert_eq!(countries(json!([])), ["metadata.dataSourceCountry"]);
        assert_eq!(countries(json!("US")), ["metadata.dataSourceCountry"]);
        assert_eq!(
            countries(json!(["US", "usa", "UK", "OTHER", "US"])),
            [
                "metadata.dataSourceCountry[1]",
                "metadata.dataSourceCountry[2]",
                "metadata.dataSourceCountry[3]",
                "metadata.dataSourceCountry[4]"
            ]
        );
    }

    #[test]
    fn dp_patches_need_op_path_and_audience_ids() {
        assert!(validate_dp_patch(&dp_patch(), 0).is_empty());
        let remove = edited(dp_patch(), |p| p["op"] = json!("remove"));
        assert!(validate_dp_patch(&remove, 0).is_empty());
        let op = edited(dp_patch(), |p| p["op"] = json!("replace"));
        assert_eq!(locations(validate_dp_patch(&op, 1)), ["patches[1].op"]);
        let unknown = edited(dp_patch(), |p| p["from"] = json!("x"));
        assert_eq!(
            locations(validate_dp_patch(&unknown, 0)),
            ["patches[0].from"]
        );
        let quoted = edited(dp_patch(), |p| p["value"] = json!(["413642381039213537"]));
        assert_eq!(
            locations(validate_dp_patch(&quoted, 0)),
            ["patches[0].value[0]"]
        );
        let empty = edited(dp_patch(), |p| p["value"] = json!([]));
        assert_eq!(
            locations(validate_dp_patch(&empty, 0)),
            ["patches[0].value"]
        );
    }

    #[test]
    fn dp_patch_paths_name_one_external_user_id() {
        assert_eq!(
            dp_patch_external_id("/EXTERNAL_USER_ID-u_5f2c9a/audiences"),
            Some("u_5f2c9a")
        );
        let long = format!("/EXTERNAL_USER_ID-{}/audiences", "a".repeat(129));
        for path in [
            "/EXTERNAL_USER_ID-/audiences",
            "/EXTERNAL_USER_ID-u 1/audiences",
            "/EXTERNAL_USER_ID-u_1/audience",
            "EXTERNAL_USER_ID-u_1/audiences",
            "/MAID-u_1/audiences",
            "/COOKIE-u 1/audiences",
            "/COOKIE-/audiences",
            long.as_str(),
        ] {
            assert_eq!(dp_patch_external_id(path), None, "{path}");
            let patch = edited(dp_patch(), |p| p["path"] = json!(path));
            assert_eq!(locations(validate_dp_patch(&patch, 0)), ["patches[0].path"]);
        }
    }

    #[test]
    fn cookie_paths_name_one_cookie() {
        assert_eq!(
            dp_patch_member("/COOKIE-0123abcd/audiences"),
            Some(DpMember::Cookie("0123abcd"))
        );
        assert_eq!(dp_patch_external_id("/COOKIE-0123abcd/audiences"), None);
        let patch = edited(dp_patch(), |p| {
            p["path"] = json!("/COOKIE-0123abcd/audiences")
        });
        assert!(validate_dp_patch(&patch, 0).is_empty());
        let long = format!("/COOKIE-{}/audiences", "a".repeat(129));
        assert_eq!(dp_patch_member(&long), None);
    }

    #[test]
    fn dp_users_are_checked_strictly_in_both_documented_forms() {
        // The guide page's form (guides/dsp/data-provider.md).
        let user = json!({"userId": [{"type": "COOKIE", "id": "0123abcd"}], "advertiserId": "583000000000001", "consentTime": 1000});
        assert!(validate_dp_user(&user, 0).is_empty());
        assert_eq!(dp_user_ids(&user).0, UserIdForm::Guide);
        // The OpenAPI schema's form and its example (data-provider.yaml).
        let schema = json!({"userId": {"type": "COOKIE", "value": "EMpBAI0GRcK4nBNGpPGg5g"}, "advertiserId": 205759403805u64, "consentTime": 1581557890000u64});
        assert!(validate_dp_user(&schema, 0).is_empty());
        assert_eq!(
            dp_user_ids(&schema),
            (
                UserIdForm::OpenApi,
                vec![("COOKIE".to_owned(), "EMpBAI0GRcK4nBNGpPGg5g".to_owned())]
            )
        );
        // No advertiser: every advertiser's data of this client.
        assert!(
            validate_dp_user(&json!({"userId": {"type": "MAID", "value": "m1"}}), 0).is_empty()
        );
        let number = edited(user.clone(), |u| {
            u["advertiserId"] = json!(583000000000001u64)
        });
        assert!(validate_dp_user(&number, 0).is_empty());
        for (edit, location) in [
            (
                json!({"userId": [], "advertiserId": "1"}),
                "users[1].userId",
            ),
            (
                json!({"userId": [{"type": "EMAIL", "id": "x"}], "advertiserId": "1"}),
                "users[1].userId[0].type",
            ),
            (
                json!({"userId": [{"type": "COOKIE", "id": "a@b"}], "advertiserId": "1"}),
                "users[1].userId[0].id",
            ),
            (
                json!({"userId": [{"type": "COOKIE", "id": "a", "x": 1}], "advertiserId": "1"}),
                "users[1].userId[0].x",
            ),
            (
                json!({"userId": {"type": "COOKIE"}}),
                "users[1].userId.value",
            ),
            (json!({"userId": "a"}), "users[1].userId"),
            (
                json!({"userId": {"type": "COOKIE", "value": "a"}, "consentTime": "1000"}),
                "users[1].consentTime",
            ),
            (
                json!({"userId": [{"type": "COOKIE", "id": "a"}], "advertiserId": "x1"}),
                "users[1].advertiserId",
            ),
        ] {
            assert_eq!(locations(validate_dp_user(&edit, 1)), [location], "{edit}");
        }
    }

    #[test]
    fn dp_records_are_hashed_with_camel_case_keys() {
        assert!(validate_dp_record(&dp_record(), 0).is_empty());
        let lower = edited(dp_record(), |r| {
            r["hashedRecords"][0] = json!({"firstname": DIGEST})
        });
        assert_eq!(
            locations(validate_dp_record(&lower, 0)),
            ["records[0].hashedRecords[0].firstname"]
        );
        let raw = edited(dp_record(), |r| {
            r["hashedRecords"][0]["email"] = json!("JANE@EXAMPLE.COM")
        });
        assert_eq!(
            locations(validate_dp_record(&raw, 3)),
            ["records[3].hashedRecords[0].email"]
        );
        let missing = edited(dp_record(), |r| {
            r.as_object_mut().unwrap().remove("externalId");
        });
        assert_eq!(
            locations(validate_dp_record(&missing, 0)),
            ["records[0].externalId"]
        );
    }
}
