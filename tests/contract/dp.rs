//! Data Provider (`data-provider.yaml`: audience metadata, `PATCH /v2/dp/audience`,
//! `PATCH /v2/dp/users`; `hashed-records.json`: `POST /dp/records/hashed`) and AMC audiences
//! (`/amc/audiences/...`: no vendored OpenAPI file, the guide page
//! `guides/amazon-marketing-cloud/audiences/audience-management-service.md` is the contract).
//!
//! Every Data Provider builder's request is checked against its operation, and a property
//! test does the same over generated member sets; the answer parsers read Amazon's samples,
//! the smallest valid answer of each schema and a fully populated one, each checked against
//! the answer schema first.

use super::*;
use matchkey::amazon::audience::{
    self, Action, Api, AudienceSpec, DpOperation, MAX_PATCHES_PER_REQUEST, Member, RATES,
};
use matchkey::amazon::cookie::{self, ErasedUser, MAX_USERS_PER_ERASURE};
use matchkey::{Country, Field};
use proptest::prelude::*;
use serde_json::{Value, json};

const DIGEST: &str = "1121cfccd5913f0a63fec40a6ffd44ea64f9dc135c66634ba001d10bcf4302a2";
const DP_PAGE: &str = "guides/dsp/data-provider.md";
const AMC_PAGE: &str = "guides/amazon-marketing-cloud/audiences/audience-management-service.md";
const ADVERTISER: u64 = 583_000_000_000_001;

fn spec() -> AudienceSpec<'static> {
    AudienceSpec {
        name: "Buyers",
        country: Country::US,
        ttl_seconds: 2_592_000,
        now_unix: 1_700_000_000,
        source: "matchkey CLI",
    }
}

fn member(id: &str) -> Member {
    Member::new([(Field::Email, DIGEST.to_owned())], Some(id)).unwrap()
}

fn body_of(request: &ApiRequest) -> Value {
    serde_json::from_str(request.body.as_deref().unwrap()).unwrap()
}

#[test]
fn creating_a_dp_audience_conforms_and_its_answers_are_read() {
    let create = audience::create_dp_audience(&auth(), &spec(), ADVERTISER, "1234567890");
    let op = assert_conforms(&create);
    assert_eq!(op.path, "/v2/dp/audiencemetadata/");
    // advertiserId is an int64: its digits as a string are refused by the schema.
    let mut text = create.clone();
    let mut body = body_of(&create);
    body["advertiserId"] = json!(ADVERTISER.to_string());
    text.body = Some(body.to_string());
    assert_refused(&text, Place::Body, "/advertiserId");
    // The smallest valid answer (no property is required) has no id; a fully populated one.
    let smallest = "{}";
    assert_answer_conforms(&create, 200, "application/json", smallest);
    assert_eq!(audience::parse_audience_id(200, smallest), None);
    let full = json!({
        "requestId": "a1b1234c-d11d-4e5f-82gh-c609c22255bd",
        "audience": {
            "id": 413_642_381_039_213_536u64,
            "name": "matchkey_buyers_1700000000",
            "description": "matchkey audience Buyers, kept in step by the matchkey CLI",
            "advertiserId": ADVERTISER,
            "metadata": {
                "type": "DATA_PROVIDER",
                "externalAudienceId": "matchkey_buyers",
                "ttl": 2_592_000,
                "audienceFees": [{"cpmCents": 100, "currency": "USD"}],
                "dataSourceCountry": ["US"]
            }
        }
    })
    .to_string();
    assert_answer_conforms(&create, 200, "application/json", &full);
    assert_eq!(
        audience::parse_audience_id(200, &full),
        Some(413_642_381_039_213_536)
    );
    // The guide's sample request ("Sample request: create a data provider audience") has the
    // same fields and `advertiserId` as a number, as sent.
    let page = amazon_contract::guide(DP_PAGE);
    assert!(page.contains(r#""advertiserId": 1111111111"#));
    assert!(page.contains(r#""dataSourceCountry": ["US"]"#));
    // The 429 and 5xx answers of the schema, and a gateway's HTML page, are no audience.
    let throttled = r#"{"requestId":"r","error":{"httpStatusCode":"429","description":"Too Many Requests","errors":[]}}"#;
    assert_answer_conforms(&create, 429, "application/json", throttled);
    assert_eq!(audience::parse_audience_id(429, throttled), None);
    assert_eq!(
        audience::parse_audience_id(200, "<html><body>busy</body></html>"),
        None
    );
}

#[test]
fn hashed_records_conform_and_their_answer_is_read() {
    let records = [member("u_1")
        .amc_record(Action::Add, Country::US, None)
        .to_string()];
    let calls = audience::send_records(Api::Dp { profile_id: "1" }, &auth(), 9, &records);
    assert_eq!(calls.len(), 2);
    assert_eq!(assert_conforms(&calls[0]).path, "/dp/records/hashed");
    assert_eq!(assert_conforms(&calls[1]).path, "/v2/dp/audience");
    let media = "application/vnd.dpuploadhashedrecordsresponse.v3+json";
    assert_answer_conforms(&calls[0], 200, media, "{}");
    assert_answer_conforms(
        &calls[0],
        200,
        media,
        r#"{"requestId":"bcbeed64-d612-4f76-866e-8dbd25f73331"}"#,
    );
    // Its 400 names no code: the Worker logs HTTP_400.
    let refused =
        r#"{"errorMessage":"Failed to parse request data. It might not be a valid JSON object."}"#;
    assert_answer_conforms(&calls[0], 400, media, refused);
    assert_eq!(audience::error_code(refused), None);
    // The guide's upload sample (all eight keys, camelCase) is the shape of dp_record.
    let page = amazon_contract::guide(DP_PAGE);
    for key in [
        "firstName",
        "lastName",
        "postalCode",
        "externalId",
        "hashedRecords",
    ] {
        assert!(page.contains(&format!(r#""{key}""#)), "{key}");
    }
}

#[test]
fn membership_patches_conform_stay_within_2000_and_413_is_read_as_too_large() {
    let ids: Vec<String> = (0..4_001).map(|i| format!("mk_{i:040x}")).collect();
    let calls = audience::dp_associate(
        &auth(),
        "1",
        72_057_594_038_053_890,
        ids.iter().map(|id| (id.as_str(), Action::Remove)),
    );
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_conforms(call);
        assert!(body_of(call)["patches"].as_array().unwrap().len() <= MAX_PATCHES_PER_REQUEST);
    }
    let cookies: Vec<String> = (0..2_500).map(|i| format!("{i:032x}")).collect();
    let calls = cookie::cookie_patches(
        &auth(),
        "1",
        12_312_312_123,
        cookies.iter().map(|id| (id.as_str(), Action::Add)),
    );
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_conforms(call);
    }
    // The guide's patch samples (curl bodies, "Sample request: associate records …") have
    // our shape: `op`, `path` of /<type>-<id>/audiences, `value` of audience ids.
    let page = amazon_contract::guide(DP_PAGE);
    for part in [
        r#""op": "add""#,
        r#""op": "remove""#,
        r#""path": "/COOKIE-XYZXYZXYZ/audiences""#,
        r#""value": ["#,
    ] {
        assert!(page.contains(part), "{part}");
    }
    let ours = body_of(
        &cookie::cookie_patches(
            &auth(),
            "1",
            12_312_312_123,
            [("0123456789abcdef0123456789abcdef", Action::Add)],
        )[0],
    );
    assert_eq!(
        ours["patches"][0],
        json!({"op": "add", "path": "/COOKIE-0123456789abcdef0123456789abcdef/audiences", "value": [12_312_312_123u64]})
    );
    // Answers: 200 {jobId, requestId}; the 413 example, read as "split".
    let call = &calls[0];
    assert_answer_conforms(call, 200, "application/json", "{}");
    assert_answer_conforms(
        call,
        200,
        "application/json",
        r#"{"jobId":"f076ddd9-3f84-44e8-b5cf-742b08f2bc9f","requestId":"F88750355N-B70JY53CSD"}"#,
    );
    let too_large = r#"{"requestId":"F88750355N-B70JY53CSD","error":{"httpStatusCode":"413","description":"Input Too Large","errors":[{"errorType":"INPUT_TOO_LARGE","message":"The input payload exceeds 1MB limit."}]}}"#;
    assert_answer_conforms(call, 413, "application/json", too_large);
    assert!(audience::too_large(413, too_large));
    assert_eq!(
        audience::error_code(too_large).as_deref(),
        Some("INPUT_TOO_LARGE")
    );
    let bad = r#"{"requestId":"a1","error":{"httpStatusCode":"400","description":"Bad Request","errors":[{"errorType":"INVALID_INPUT","message":"The input field 'name' cannot be updated","fieldName":"name"}]}}"#;
    assert_answer_conforms(call, 400, "application/json", bad);
    assert_eq!(audience::error_code(bad).as_deref(), Some("INVALID_INPUT"));
    assert!(!audience::too_large(400, bad));
}

#[test]
fn erasures_conform_to_the_schema_which_refuses_the_guides_form() {
    let users = [
        ErasedUser::Cookie("0123456789abcdef0123456789abcdef".into()),
        ErasedUser::External("mk_abc".into()),
    ];
    let calls = cookie::erasures(
        &auth(),
        "1",
        ADVERTISER,
        users.iter().map(|u| (u, 1_581_557_890_000)),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(assert_conforms(&calls[0]).path, "/v2/dp/users");
    let body = body_of(&calls[0]);
    assert_eq!(body["operation"], "DELETE");
    assert_eq!(body["users"][0]["userId"]["type"], "COOKIE");
    // The guide page's form (`userId: [{type, id}]`) is not the schema's: the two
    // documents disagree, and the schema's form is what is sent.
    let page = amazon_contract::guide(DP_PAGE);
    assert!(page.contains(r#""userId": ["#) && page.contains(r#""consentTime": 1000"#));
    let mut guide_form = calls[0].clone();
    guide_form.body = Some(
        json!({"users": [{"userId": [{"type": "COOKIE", "id": "XXXXXXXXX"}], "advertiserId": "1", "consentTime": 1000}]})
            .to_string(),
    );
    assert_refused(&guide_form, Place::Body, "/users/0/userId");
    // 1,000 users per call.
    let many: Vec<ErasedUser> = (0..2_001)
        .map(|i| ErasedUser::Cookie(format!("{i:032x}")))
        .collect();
    let calls = cookie::erasures(&auth(), "1", ADVERTISER, many.iter().map(|u| (u, 0)));
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_conforms(call);
        assert!(body_of(call)["users"].as_array().unwrap().len() <= MAX_USERS_PER_ERASURE);
    }
    // The answer: 202 {requestId}; the smallest valid answer is {}.
    assert_answer_conforms(&calls[0], 202, "application/json", "{}");
    assert_answer_conforms(
        &calls[0],
        202,
        "application/json",
        r#"{"requestId":"F88750355N-B70JY53CSD"}"#,
    );
}

#[test]
fn the_rates_table_quotes_the_spec() {
    let yaml = amazon_contract::Contract::amazon()
        .document("data-provider.yaml")
        .map(|d| d.root().to_string())
        .unwrap();
    for (op, per_second) in [
        (DpOperation::AudienceMetadata, 1),
        (DpOperation::Membership, 100),
        (DpOperation::Erasure, 1),
    ] {
        let rate = op.rate();
        assert_eq!(rate.per_second, per_second);
        assert!(yaml.contains(rate.path), "{}", rate.path);
    }
    assert_eq!(RATES.len(), 4);
}

#[test]
fn amc_audiences_follow_the_guide_samples() {
    let create = audience::create_amc_audience(&auth(), &spec(), ADVERTISER);
    assert_undocumented(&create);
    let body = body_of(&create);
    // "Sample request payload": name, description, countryCode, targetResource with a
    // numeric advertiserId, metadata {externalAudienceId, ttl}.
    assert!(body["targetResource"]["advertiserId"].is_u64());
    assert!(body["metadata"]["externalAudienceId"].is_string() && body["metadata"]["ttl"].is_u64());
    // "Sample response (201 OK)": a top-level audienceId.
    let page = amazon_contract::guide(AMC_PAGE);
    assert!(page.contains(r#""audienceId": 347891"#));
    assert_eq!(
        audience::parse_audience_id(
            201,
            r#"{"audienceId": 347891, "externalAudienceId": "<audience-id-for-device>"}"#
        ),
        Some(347_891)
    );
    // "Sample request payload example without targetResource": our records body.
    let records = [member("CDP_Test_Ext_19876")
        .amc_record(Action::Add, Country::US, None)
        .to_string()];
    let call = audience::amc_records(
        &auth(),
        413_642_381_039_213_536,
        records.iter().map(String::as_str),
    );
    assert_undocumented(&call);
    let ours = body_of(&call);
    let sample = amazon_contract::json_samples(AMC_PAGE)
        .into_iter()
        .map(|(_, v)| v)
        .find(|s| s["audienceId"] == json!(413_642_381_039_213_536u64))
        .expect("the sample without targetResource");
    assert_eq!(ours["audienceId"], sample["audienceId"]);
    let keys = |v: &Value| -> Vec<String> {
        v["records"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(&ours), keys(&sample));
}

fn hex64() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::num::u8::ANY, 32)
        .prop_map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
}

fn generated_member() -> impl Strategy<Value = (Member, bool)> {
    let fields = proptest::sample::subsequence(
        vec![
            Field::Email,
            Field::Phone,
            Field::FirstName,
            Field::LastName,
            Field::Address,
            Field::City,
            Field::State,
            Field::Postal,
        ],
        1..=8,
    );
    (
        fields,
        proptest::collection::vec(hex64(), 8),
        proptest::option::of("[0-9a-zA-Z_-]{1,128}"),
        any::<bool>(),
    )
        .prop_map(|(fields, digests, id, add)| {
            let hashes = fields.into_iter().zip(digests);
            (Member::new(hashes, id.as_deref()).unwrap(), add)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any member set, as the Worker and the CLI send it through the Data Provider API:
    /// every request conforms, within 2,000 patches.
    #[test]
    fn generated_member_sets_conform(
        members in proptest::collection::vec(generated_member(), 1..60),
        cookies in proptest::collection::vec(proptest::array::uniform16(proptest::num::u8::ANY), 0..40),
        audience_id in 1u64..=i64::MAX as u64,
    ) {
        let records: Vec<String> = members
            .iter()
            .map(|(m, add)| {
                let action = if *add { Action::Add } else { Action::Remove };
                m.amc_record(action, Country::US, None).to_string()
            })
            .collect();
        for call in audience::send_records(Api::Dp { profile_id: "123" }, &auth(), audience_id, &records) {
            assert_conforms(&call);
            if let Some(patches) = body_of(&call)["patches"].as_array() {
                prop_assert!(patches.len() <= MAX_PATCHES_PER_REQUEST);
            }
        }
        let ids: Vec<String> = cookies
            .iter()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .collect();
        for call in cookie::cookie_patches(&auth(), "123", audience_id, ids.iter().map(|id| (id.as_str(), Action::Add))) {
            assert_conforms(&call);
        }
        let users: Vec<ErasedUser> = members
            .iter()
            .map(|(m, _)| ErasedUser::External(m.external_user_id().to_owned()))
            .chain(ids.iter().cloned().map(ErasedUser::Cookie))
            .collect();
        for call in cookie::erasures(&auth(), "123", audience_id, users.iter().map(|u| (u, 1_700_000_000_000))) {
            assert_conforms(&call);
        }
    }
}
