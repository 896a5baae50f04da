//! Audience membership: a person's hashed match keys as an AMC audience record
//! (`/amc/audiences/records`) or a Data Provider record (`/dp/records/hashed`), and the
//! calls that create an audience, send records and follow their jobs.
//!
//! A member's external user id is given by the caller or derived from the hashes, so an
//! add and a remove of the same person always meet (and collapse to the last intent).
//!
//! The Data Provider shapes follow Amazon's OpenAPI file for `/v2/dp/*` (`data-provider.yaml`)
//! and `hashed-records.json`; the AMC audience shapes, which have no published schema, the
//! guide page `guides/amazon-marketing-cloud/audiences/audience-management-service.md`.
//! [`RATES`] is the one table of the documented request rates.

use std::collections::BTreeMap;
use std::prelude::rust_2024::*;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiRequest, Auth, Method, json_list};
use crate::{Country, Field, sha256_hex};

/// Media type of the AMC audiences API.
pub const AMC_MEDIA: &str = "application/vnd.amcaudiences.v1+json";
/// Media type of the Data Provider hashed-records upload.
pub const DP_RECORDS_MEDIA: &str = "application/vnd.dpuploadhashedrecordsrequest.v3+json";
/// Amazon's guidance for records per request ("~6,000, dependent on the PII fields").
pub const DEFAULT_RECORDS_PER_REQUEST: usize = 6_000;
/// The most records per request matchkey sends (Segment's and Lytics' batch size).
pub const MAX_RECORDS_PER_REQUEST: usize = 10_000;
/// Largest records request body (the Data Provider API's documented limit).
pub const MAX_RECORDS_BYTES: usize = 5 * 1024 * 1024;
/// Largest `PATCH /v2/dp/audience` body matchkey sends. Amazon's documents disagree: the
/// OpenAPI summary of the operation says "a maximum of 6MB or 2000 records" (413 beyond),
/// while its own 413 example ("The input payload exceeds 1MB limit") and the guide page
/// (`guides/dsp/data-provider.md`: "a 100TPS throttle with a max payload of 1MB") say
/// 1 MB. A body under 1 MB is under both; 2,000 patches stay far below it anyway (a patch
/// is at most about 200 bytes).
pub const MAX_PATCH_BYTES: usize = 1024 * 1024;
/// Most patches per `PATCH /v2/dp/audience` ("a maximum of 6MB or 2000 records",
/// `data-provider.yaml`).
pub const MAX_PATCHES_PER_REQUEST: usize = 2_000;
/// Longest audience TTL Amazon takes, and its default: 13 months, in seconds.
pub const MAX_TTL_SECONDS: u64 = 34_300_800;

/// Whether a member joins or leaves the audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Join (`CREATE`, `add`).
    Add,
    /// Leave (`DELETE`, `remove`).
    Remove,
}

impl Action {
    /// The AMC record's `action`.
    pub fn amc(self) -> &'static str {
        match self {
            Action::Add => "CREATE",
            Action::Remove => "DELETE",
        }
    }

    /// The Data Provider patch's `op`.
    pub fn dp(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Remove => "remove",
        }
    }
}

/// The AMC `hashedPII` key of a field, if AMC audiences take it.
pub fn amc_key(field: Field) -> Option<&'static str> {
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

/// The Data Provider `hashedRecords` key for an AMC key (the two APIs spell them apart).
fn dp_key(amc_key: &str) -> &str {
    match amc_key {
        "firstname" => "firstName",
        "lastname" => "lastName",
        "postal" => "postalCode",
        other => other,
    }
}

/// Whether `name` can name an audience here (it becomes part of Amazon's audience name).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(is_id_byte)
}

/// Amazon's rule for an external user id: `[0-9a-zA-Z_-]{1,128}`.
pub fn valid_external_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(is_id_byte)
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Amazon's audience name for ours: `matchkey_{name}_{unix seconds}`, as the Lytics
/// integration names its exports.
pub fn amazon_name(name: &str, unix_seconds: u64) -> String {
    format!("matchkey_{}_{unix_seconds}", name.to_ascii_lowercase())
}

/// Why hashes cannot make a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberError {
    /// No field audiences take (MAID, RAMP_ID and MATCH_ID are not audience keys).
    NoMatchKeys,
    /// The external user id breaks `[0-9a-zA-Z_-]{1,128}`.
    InvalidExternalUserId,
}

impl MemberError {
    /// A stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            MemberError::NoMatchKeys => "no_match_keys",
            MemberError::InvalidExternalUserId => "invalid_external_user_id",
        }
    }
}

/// One person: an external user id and SHA-256 digests by AMC key.
#[derive(Clone, PartialEq, Eq)]
pub struct Member {
    external_user_id: String,
    hashes: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("external_user_id", &self.external_user_id)
            .field("keys", &self.hashes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Member {
    /// A member from `(field, digest)` pairs (fields audiences do not take are skipped;
    /// the last digest of a field wins) and an optional external user id. Without one, the
    /// id is `mk_` and 40 hex digits of a hash of the digests, stable for the same person.
    pub fn new(
        hashes: impl IntoIterator<Item = (Field, String)>,
        external_user_id: Option<&str>,
    ) -> Result<Member, MemberError> {
        let hashes: BTreeMap<&'static str, String> = hashes
            .into_iter()
            .filter_map(|(field, digest)| Some((amc_key(field)?, digest)))
            .collect();
        if hashes.is_empty() {
            return Err(MemberError::NoMatchKeys);
        }
        let external_user_id = match external_user_id {
            Some(id) if valid_external_id(id) => id.to_owned(),
            Some(_) => return Err(MemberError::InvalidExternalUserId),
            None => {
                let joined: Vec<String> = hashes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("mk_{}", &sha256_hex(&joined.join("&")).as_str()[..40])
            }
        };
        Ok(Member {
            external_user_id,
            hashes,
        })
    }

    /// The external user id.
    pub fn external_user_id(&self) -> &str {
        &self.external_user_id
    }

    /// The AMC audience record; `consent` is a `userConsent` object (see [`user_consent`]).
    pub fn amc_record(&self, action: Action, country: Country, consent: Option<&Value>) -> Value {
        let mut record = json!({
            "externalUserId": self.external_user_id,
            "countryCode": country.as_str(),
            "action": action.amc(),
            "hashedPII": [self.hashes],
        });
        if let Some(consent) = consent {
            record["userConsent"] = consent.clone();
        }
        record
    }
}

/// AMC's `userConsent` for a country from a consent object of the Events API's form
/// (`{"amazonConsent": {"amznAdStorage", "amznUserData"}, "tcf"?, "gpp"?}`).
pub fn user_consent(country: Country, consent: &Value) -> Value {
    let mut given = json!({});
    if let Some(ac) = consent.get("amazonConsent") {
        given["amzn"] = json!({ "amznAdStorage": ac.get("amznAdStorage"), "amznUserData": ac.get("amznUserData") });
    }
    for key in ["tcf", "gpp"] {
        if let Some(v) = consent.get(key) {
            given[key] = v.clone();
        }
    }
    json!({ "geo": { "countryCode": country.as_str() }, "consent": given })
}

/// The Data Provider record for an AMC record (same person, the DP API's key names).
pub fn dp_record(amc_record: &Value) -> Value {
    let hashed: serde_json::Map<String, Value> = amc_record["hashedPII"][0]
        .as_object()
        .map(|pii| {
            pii.iter()
                .map(|(k, v)| (dp_key(k).to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    json!({ "externalId": amc_record["externalUserId"], "hashedRecords": [hashed] })
}

/// What an audience is, for creating it on Amazon's side.
#[derive(Debug, Clone)]
pub struct AudienceSpec<'a> {
    /// Our name ([`valid_name`]); Amazon's is [`amazon_name`].
    pub name: &'a str,
    /// The members' country.
    pub country: Country,
    /// Member TTL in seconds (at most [`MAX_TTL_SECONDS`]).
    pub ttl_seconds: u64,
    /// Unix seconds now (Amazon's name carries it).
    pub now_unix: u64,
    /// Who keeps the audience in step, for the description (`matchkey Worker`, `matchkey CLI`).
    pub source: &'a str,
}

impl AudienceSpec<'_> {
    fn description(&self) -> String {
        format!(
            "matchkey audience {}, kept in step by the {}",
            self.name, self.source
        )
    }

    fn external_id(&self) -> String {
        format!("matchkey_{}", self.name.to_ascii_lowercase())
    }
}

/// Which API keeps an audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api<'a> {
    /// AMC audiences: records in one call per chunk; each call starts a job.
    Amc,
    /// The Data Provider API, scoped to a profile: hashed records of the members who
    /// join, then membership patches for all.
    Dp {
        /// `Amazon-Advertising-API-Scope`.
        profile_id: &'a str,
    },
}

/// The call that creates the audience with `api`.
pub fn create_audience(
    api: Api<'_>,
    auth: &Auth<'_>,
    spec: &AudienceSpec<'_>,
    advertiser_id: u64,
) -> ApiRequest {
    match api {
        Api::Amc => create_amc_audience(auth, spec, advertiser_id),
        Api::Dp { profile_id } => create_dp_audience(auth, spec, advertiser_id, profile_id),
    }
}

/// The calls that send one chunk of serialized AMC records (see [`Member::amc_record`])
/// with `api`, in order; stop at the first that fails. The answer of the last one carries
/// the job id for AMC ([`parse_job_id`]). Records that are not JSON are left out.
pub fn send_records<S: AsRef<str>>(
    api: Api<'_>,
    auth: &Auth<'_>,
    audience_id: u64,
    records: &[S],
) -> Vec<ApiRequest> {
    match api {
        Api::Amc => vec![amc_records(
            auth,
            audience_id,
            records.iter().map(AsRef::as_ref),
        )],
        Api::Dp { profile_id } => {
            let parsed: Vec<Value> = records
                .iter()
                .filter_map(|r| serde_json::from_str(r.as_ref()).ok())
                .collect();
            let adds: Vec<String> = parsed
                .iter()
                .filter(|r| r["action"] == Action::Add.amc())
                .map(|r| dp_record(r).to_string())
                .collect();
            let changes = parsed.iter().filter_map(|r| {
                let action = if r["action"] == Action::Add.amc() {
                    Action::Add
                } else {
                    Action::Remove
                };
                Some((r["externalUserId"].as_str()?, action))
            });
            let mut calls = Vec::new();
            if !adds.is_empty() {
                calls.push(dp_records(
                    auth,
                    profile_id,
                    adds.iter().map(String::as_str),
                ));
            }
            calls.extend(dp_associate(auth, profile_id, audience_id, changes));
            calls
        }
    }
}

/// `POST /amc/audiences/metadata` for an audience of the DSP advertiser `advertiser_id`
/// (sent as a JSON number, as Amazon requires).
pub fn create_amc_audience(
    auth: &Auth<'_>,
    spec: &AudienceSpec<'_>,
    advertiser_id: u64,
) -> ApiRequest {
    let body = json!({
        "name": amazon_name(spec.name, spec.now_unix),
        "description": spec.description(),
        "countryCode": spec.country.as_str(),
        "targetResource": { "advertiserId": advertiser_id },
        "metadata": { "externalAudienceId": spec.external_id(), "ttl": spec.ttl_seconds.min(MAX_TTL_SECONDS) },
    });
    auth.request(Method::Post, "/amc/audiences/metadata")
        .body(AMC_MEDIA, body.to_string())
}

/// `POST /v2/dp/audiencemetadata/` for a Data Provider audience, scoped to `profile_id`.
pub fn create_dp_audience(
    auth: &Auth<'_>,
    spec: &AudienceSpec<'_>,
    advertiser_id: u64,
    profile_id: &str,
) -> ApiRequest {
    let body = json!({
        "name": amazon_name(spec.name, spec.now_unix),
        "description": spec.description(),
        // `advertiserId` is an int64 in the schema (and a number in the guide's sample).
        "advertiserId": advertiser_id,
        "metadata": {
            "type": "DATA_PROVIDER",
            "externalAudienceId": spec.external_id(),
            "ttl": spec.ttl_seconds.min(MAX_TTL_SECONDS),
            "dataSourceCountry": [spec.country.as_str()],
        },
    });
    auth.request(Method::Post, "/v2/dp/audiencemetadata/")
        .header("amazon-advertising-api-scope", profile_id)
        .body("application/json", body.to_string())
}

/// An audience id as Amazon writes it: an int64 (the schemas), or its digits as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdForm {
    Number(u64),
    Text(String),
}

impl IdForm {
    fn get(&self) -> Option<u64> {
        match self {
            IdForm::Number(n) => Some(*n),
            IdForm::Text(t) if t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
            IdForm::Text(_) => None,
        }
    }
}

/// The answer to a create call, in every form a document shows.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAnswer {
    /// Data Provider (`POST /v2/dp/audiencemetadata/`, the 200 schema of
    /// `data-provider.yaml`): `{"requestId", "audience": {"id", "name", …}}`.
    audience: Option<CreatedAudience>,
    /// AMC (`POST /amc/audiences/metadata`, the guide's "Sample response (201 OK)"):
    /// `{"audienceId": 347891, "externalAudienceId": …}`. For the Data Provider API no
    /// Amazon document shows a top-level `audienceId`; it is still accepted there.
    audience_id: Option<IdForm>,
}

#[derive(Deserialize)]
struct CreatedAudience {
    id: Option<IdForm>,
}

/// The audience id of a create answer (any 2xx; Amazon's AMC page says 201, the Data
/// Provider schema 200). Parsed by serde_json from the text, so the 64-bit id keeps every
/// digit; a body that is not JSON (a gateway's HTML page) is no answer.
pub fn parse_audience_id(status: u16, body: &str) -> Option<u64> {
    if !(200..300).contains(&status) {
        return None;
    }
    let answer: CreateAnswer = serde_json::from_str(body).ok()?;
    answer
        .audience
        .and_then(|a| a.id)
        .or(answer.audience_id)?
        .get()
}

/// Amazon's error code in a refusal, in each form its documents show: the Data Provider
/// schema's `{"error": {"errors": [{"errorType"}]}}` (`INPUT_TOO_LARGE`,
/// `TOO_MANY_REQUESTS`, …), or a top-level `code` (the AMC and Events API forms).
/// `None` for a body that is not JSON or names no code (an HTML page from the gateway,
/// `hashed-records.json`'s `{"errorMessage"}`): callers then use `HTTP_<status>`.
pub fn error_code(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        error: Option<Detail>,
        code: Option<String>,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        errors: Vec<Sub>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Sub {
        error_type: Option<String>,
    }
    let answer: Answer = serde_json::from_str(body).ok()?;
    answer
        .error
        .and_then(|d| d.errors.into_iter().find_map(|e| e.error_type))
        .or(answer.code)
        .filter(|c| !c.is_empty() && c.len() <= 64)
}

/// Whether an answer says the request was too large to take: HTTP 413, or Amazon's
/// `INPUT_TOO_LARGE` code under another status. Such a request is split, never dropped.
pub fn too_large(status: u16, body: &str) -> bool {
    status == 413
        || ((400..500).contains(&status) && error_code(body).as_deref() == Some("INPUT_TOO_LARGE"))
}

/// `POST /amc/audiences/records` for serialized AMC records.
pub fn amc_records<'a>(
    auth: &Auth<'_>,
    audience_id: u64,
    records: impl IntoIterator<Item = &'a str>,
) -> ApiRequest {
    let head = format!(r#"{{"audienceId":{audience_id},"records":["#);
    let body = json_list(&head, records, "]}");
    auth.request(Method::Post, "/amc/audiences/records")
        .body(AMC_MEDIA, body)
}

/// `POST /dp/records/hashed` for serialized Data Provider records.
pub fn dp_records<'a>(
    auth: &Auth<'_>,
    profile_id: &str,
    records: impl IntoIterator<Item = &'a str>,
) -> ApiRequest {
    let body = json_list(r#"{"records":["#, records, "]}");
    auth.request(Method::Post, "/dp/records/hashed")
        .header("amazon-advertising-api-scope", profile_id)
        .body(DP_RECORDS_MEDIA, body)
}

/// `PATCH /v2/dp/audience` calls: each external id joins or leaves the audience, at most
/// [`MAX_PATCHES_PER_REQUEST`] patches and [`MAX_PATCH_BYTES`] per call.
pub fn dp_associate<'a>(
    auth: &Auth<'_>,
    profile_id: &str,
    audience_id: u64,
    changes: impl IntoIterator<Item = (&'a str, Action)>,
) -> Vec<ApiRequest> {
    let patches: Vec<String> = changes
        .into_iter()
        .map(|(id, action)| dp_patch("EXTERNAL_USER_ID", id, action, audience_id))
        .collect();
    dp_patches(auth, profile_id, &patches)
}

/// One patch of `PATCH /v2/dp/audience`: `{"op", "path": "/<type>-<id>/audiences",
/// "value": [audienceId]}` (`data-provider.yaml`; the guide's samples).
pub(crate) fn dp_patch(kind: &str, id: &str, action: Action, audience_id: u64) -> String {
    json!({ "op": action.dp(), "path": format!("/{kind}-{id}/audiences"), "value": [audience_id] })
        .to_string()
}

/// `PATCH /v2/dp/audience` calls for serialized patches, within Amazon's limits.
pub(crate) fn dp_patches(auth: &Auth<'_>, profile_id: &str, patches: &[String]) -> Vec<ApiRequest> {
    batched(
        patches,
        r#"{"patches":["#,
        "]}",
        MAX_PATCHES_PER_REQUEST,
        MAX_PATCH_BYTES,
    )
    .into_iter()
    .map(|body| {
        auth.request(Method::Patch, "/v2/dp/audience")
            .header("amazon-advertising-api-scope", profile_id)
            .body("application/json", body)
    })
    .collect()
}

/// Bodies `head item,item… tail`, each at most `max_bytes` (an item alone may pass it:
/// it goes alone) and `max_items` items.
pub(crate) fn batched(
    items: &[String],
    head: &str,
    tail: &str,
    max_items: usize,
    max_bytes: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut len = head.len() + tail.len();
        let mut end = start;
        while end < items.len() && end - start < max_items.max(1) {
            let add = items[end].len() + usize::from(end > start);
            if len + add > max_bytes && end > start {
                break;
            }
            len += add;
            end += 1;
        }
        out.push(json_list(
            head,
            items[start..end].iter().map(String::as_str),
            tail,
        ));
        start = end;
    }
    out
}

/// A Data Provider operation with a documented rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpOperation {
    /// `POST /v2/dp/audiencemetadata/` (and `GET`/`PUT …/{audienceId}`).
    AudienceMetadata,
    /// `POST /dp/records/hashed`.
    HashedRecords,
    /// `PATCH /v2/dp/audience`.
    Membership,
    /// `PATCH /v2/dp/users`.
    Erasure,
}

/// One row of [`RATES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The operation.
    pub operation: DpOperation,
    /// Its path (the one the URL ends with, without a query).
    pub path: &'static str,
    /// Requests per second Amazon takes.
    pub per_second: u64,
    /// Where Amazon says so.
    pub source: &'static str,
}

/// The documented request rates of the calls matchkey paces, the one table of them.
/// Amazon's general page (`reference/concepts/rate-limiting.md`) gives no numbers ("dynamic
/// and based on system load", 429 with `Retry-After`, back off exponentially); only the
/// Data Provider operations state theirs. `/dp/records/hashed` states none: it goes at the
/// pace of the patches that follow it, which is 100.
pub const RATES: [Rate; 4] = [
    Rate {
        operation: DpOperation::AudienceMetadata,
        path: "/v2/dp/audiencemetadata/",
        per_second: 1,
        source: "data-provider.yaml, POST /v2/dp/audiencemetadata/: \"limited to 1 transaction per second (TPS)\"",
    },
    Rate {
        operation: DpOperation::HashedRecords,
        path: "/dp/records/hashed",
        per_second: 100,
        source: "hashed-records.json states no rate: paced as the patches",
    },
    Rate {
        operation: DpOperation::Membership,
        path: "/v2/dp/audience",
        per_second: 100,
        source: "data-provider.yaml, PATCH /v2/dp/audience: \"limited to 100 transactions per second (TPS)\"; guides/dsp/data-provider.md: \"a 100TPS throttle\"",
    },
    Rate {
        operation: DpOperation::Erasure,
        path: "/v2/dp/users",
        per_second: 1,
        source: "data-provider.yaml, PATCH /v2/dp/users: \"limited to 1 transactions per second (TPS)\"",
    },
];

impl DpOperation {
    /// The Data Provider operation `request` calls, if it is one.
    pub fn of(request: &ApiRequest) -> Option<DpOperation> {
        let path = request.url.split(['?', '#']).next().unwrap_or_default();
        let path = path
            .split_once("://")
            .map_or(path, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
        if path.starts_with("/v2/dp/audiencemetadata/") {
            return Some(DpOperation::AudienceMetadata);
        }
        RATES.iter().find(|r| r.path == path).map(|r| r.operation)
    }

    /// Its row of [`RATES`].
    pub fn rate(self) -> Rate {
        *RATES
            .iter()
            .find(|r| r.operation == self)
            .unwrap_or(&RATES[0])
    }

    /// A short stable name (a limiter's key).
    pub fn name(self) -> &'static str {
        match self {
            DpOperation::AudienceMetadata => "audiencemetadata",
            DpOperation::HashedRecords => "records",
            DpOperation::Membership => "audience",
            DpOperation::Erasure => "users",
        }
    }
}

/// The job id of an accepted records request (`jobRequestId` for AMC, `jobId` for DP).
pub fn parse_job_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("jobRequestId")
        .or_else(|| v.get("jobId"))?
        .as_str()
        .map(str::to_owned)
}

/// `GET /amc/audiences/records/{jobRequestId}`.
pub fn amc_job(auth: &Auth<'_>, job_request_id: &str) -> ApiRequest {
    auth.request(
        Method::Get,
        &format!("/amc/audiences/records/{job_request_id}"),
    )
    .header("accept", AMC_MEDIA)
}

/// Where a records job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Still running: ask again later.
    Pending,
    /// Finished: `SUCCEEDED`, `PARTIALLYSUCCEEDED` or `FAILED`, with the failed-record
    /// count when Amazon gives one.
    Done {
        /// Amazon's terminal status.
        status: String,
        /// Records that failed, if known.
        failed: Option<u64>,
    },
}

/// Reads a records job answer; `None` when it is not one (an error status, bad JSON).
pub fn parse_job(status: u16, body: &str) -> Option<JobState> {
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(body).ok()?;
    match v["status"].as_str()? {
        done @ ("SUCCEEDED" | "PARTIALLYSUCCEEDED" | "FAILED") => Some(JobState::Done {
            status: done.to_owned(),
            failed: v["errorCount"].as_u64(),
        }),
        _ => Some(JobState::Pending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21";

    fn auth() -> Auth<'static> {
        Auth {
            api_base: "http://127.0.0.1:9",
            access_token: "t",
            client_id: "c",
        }
    }

    #[test]
    fn members_have_stable_ids_and_both_record_forms() {
        let m = Member::new(
            [(Field::Email, HASH.to_owned()), (Field::Maid, "x".into())],
            None,
        )
        .unwrap();
        let again = Member::new([(Field::Email, HASH.to_owned())], None).unwrap();
        assert_eq!(m.external_user_id(), again.external_user_id());
        assert!(valid_external_id(m.external_user_id()));
        let us = Country::parse("US").unwrap();
        let record = m.amc_record(Action::Remove, us, None);
        assert_eq!(
            record,
            json!({"externalUserId": m.external_user_id(), "countryCode": "US", "action": "DELETE", "hashedPII": [{"email": HASH}]})
        );
        let named = Member::new(
            [
                (Field::FirstName, HASH.to_owned()),
                (Field::Postal, HASH.to_owned()),
            ],
            Some("u-1"),
        )
        .unwrap();
        let dp = dp_record(&named.amc_record(Action::Add, us, None));
        assert_eq!(
            dp,
            json!({"externalId": "u-1", "hashedRecords": [{"firstName": HASH, "postalCode": HASH}]})
        );
        assert_eq!(
            Member::new([(Field::Maid, "x".into())], None).unwrap_err(),
            MemberError::NoMatchKeys
        );
        assert_eq!(
            Member::new([(Field::Email, HASH.into())], Some("no spaces"))
                .unwrap_err()
                .code(),
            "invalid_external_user_id"
        );
    }

    #[test]
    fn consent_takes_the_amc_shape() {
        let de = Country::parse("DE").unwrap();
        let c = user_consent(
            de,
            &json!({"amazonConsent": {"amznAdStorage": "GRANTED", "amznUserData": "DENIED"}, "tcf": "CP"}),
        );
        assert_eq!(
            c,
            json!({"geo": {"countryCode": "DE"}, "consent": {"amzn": {"amznAdStorage": "GRANTED", "amznUserData": "DENIED"}, "tcf": "CP"}})
        );
    }

    #[test]
    fn audience_calls() {
        let spec = AudienceSpec {
            name: "Buyers",
            country: Country::parse("US").unwrap(),
            ttl_seconds: u64::MAX,
            now_unix: 1_700_000_000,
            source: "matchkey CLI",
        };
        let create = create_amc_audience(&auth(), &spec, 583_000_000_000_001);
        let body: Value = serde_json::from_str(create.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["name"], "matchkey_buyers_1700000000");
        assert_eq!(
            body["targetResource"]["advertiserId"],
            583_000_000_000_001u64
        );
        assert_eq!(body["metadata"]["ttl"], MAX_TTL_SECONDS);
        assert_eq!(create.header_value("content-type"), Some(AMC_MEDIA));
        let dp = create_dp_audience(&auth(), &spec, 583_000_000_000_001, "123");
        assert_eq!(dp.header_value("amazon-advertising-api-scope"), Some("123"));
        let dp_body: Value = serde_json::from_str(dp.body.as_deref().unwrap()).unwrap();
        // int64 in the schema: a JSON number, every digit kept.
        assert_eq!(dp_body["advertiserId"], json!(583_000_000_000_001u64));
        assert_eq!(dp_body["metadata"]["dataSourceCountry"], json!(["US"]));
        assert_eq!(
            parse_audience_id(200, r#"{"audienceId":413642381039213536}"#),
            Some(413_642_381_039_213_536)
        );
        assert_eq!(parse_audience_id(400, r#"{"audienceId":1}"#), None);
        let records = amc_records(&auth(), 7, [r#"{"a":1}"#, "{}"]);
        assert_eq!(
            records.body.as_deref(),
            Some(r#"{"audienceId":7,"records":[{"a":1},{}]}"#)
        );
        let patches = dp_associate(
            &auth(),
            "123",
            7,
            [("u1", Action::Add), ("u2", Action::Remove)],
        );
        assert_eq!(patches.len(), 1);
        let patch = &patches[0];
        let body: Value = serde_json::from_str(patch.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["patches"][1],
            json!({"op": "remove", "path": "/EXTERNAL_USER_ID-u2/audiences", "value": [7]})
        );
        assert_eq!(patch.method, Method::Patch);
    }

    #[test]
    fn dp_chunks_upload_the_joiners_then_patch_everyone() {
        let us = Country::parse("US").unwrap();
        let m = |id| Member::new([(Field::Email, HASH.to_owned())], Some(id)).unwrap();
        let records = [
            m("a").amc_record(Action::Add, us, None).to_string(),
            m("b").amc_record(Action::Remove, us, None).to_string(),
        ];
        let calls = send_records(Api::Dp { profile_id: "1" }, &auth(), 9, &records);
        assert_eq!(calls.len(), 2);
        assert!(calls[0].url.ends_with("/dp/records/hashed"));
        assert!(
            calls[0]
                .body
                .as_deref()
                .unwrap()
                .contains(r#""externalId":"a""#)
        );
        assert!(
            !calls[0]
                .body
                .as_deref()
                .unwrap()
                .contains(r#""externalId":"b""#)
        );
        assert!(
            calls[1]
                .body
                .as_deref()
                .unwrap()
                .contains("/EXTERNAL_USER_ID-b/audiences")
        );
        let removes_only = send_records(Api::Dp { profile_id: "1" }, &auth(), 9, &records[1..]);
        assert_eq!(removes_only.len(), 1);
        let amc = send_records(Api::Amc, &auth(), 9, &records);
        assert_eq!(amc.len(), 1);
        assert!(amc[0].url.ends_with("/amc/audiences/records"));
    }

    #[test]
    fn job_answers() {
        assert_eq!(
            parse_job_id(r#"{"jobRequestId":"j1"}"#).as_deref(),
            Some("j1")
        );
        assert_eq!(
            parse_job_id(r#"{"requestId":"r","jobId":"j2"}"#).as_deref(),
            Some("j2")
        );
        assert_eq!(
            parse_job(200, r#"{"status":"PENDING"}"#),
            Some(JobState::Pending)
        );
        assert_eq!(
            parse_job(200, r#"{"status":"PARTIALLYSUCCEEDED","errorCount":2}"#),
            Some(JobState::Done {
                status: "PARTIALLYSUCCEEDED".into(),
                failed: Some(2)
            })
        );
        assert_eq!(parse_job(404, "{}"), None);
    }

    #[test]
    fn dp_create_answers_in_every_documented_form() {
        // data-provider.yaml, the 200 answer of POST /v2/dp/audiencemetadata/: the
        // smallest valid answer (no property is required) names no id…
        assert_eq!(parse_audience_id(200, "{}"), None);
        assert_eq!(
            parse_audience_id(200, r#"{"audience":{"id":72057594038053890}}"#),
            Some(72_057_594_038_053_890)
        );
        // …and a fully populated one.
        let full = r#"{"requestId":"a1b1234c-d11d-4e5f-82gh-c609c22255bd","audience":{"id":413642381039213536,"name":"matchkey_buyers_1700000000","description":"d","advertiserId":583000000000001,"metadata":{"type":"DATA_PROVIDER","externalAudienceId":"matchkey_buyers","ttl":34300800,"audienceFees":[{"cpmCents":100,"currency":"USD"}],"dataSourceCountry":["US","CA"]}}}"#;
        assert_eq!(parse_audience_id(200, full), Some(413_642_381_039_213_536));
        // The AMC guide's "Sample response (201 OK)" (audience-management-service.md).
        assert_eq!(
            parse_audience_id(
                201,
                r#"{"audienceId": 347891, "externalAudienceId": "<audience-id-for-device>"}"#
            ),
            Some(347_891)
        );
        // Accepted, though no document shows it for the Data Provider API.
        assert_eq!(parse_audience_id(200, r#"{"audienceId":"12"}"#), Some(12));
        assert_eq!(parse_audience_id(200, r#"{"audience":{"id":"x1"}}"#), None);
        // A gateway's HTML page is no answer, and no panic.
        assert_eq!(parse_audience_id(200, "<html>502</html>"), None);
        assert_eq!(parse_audience_id(429, "<html>Too Many</html>"), None);
    }

    #[test]
    fn error_codes_in_every_documented_form() {
        // data-provider.yaml's 413 example.
        let big = r#"{"requestId":"F88750355N-B70JY53CSD","error":{"httpStatusCode":"413","description":"Input Too Large","errors":[{"errorType":"INPUT_TOO_LARGE","message":"The input payload exceeds 1MB limit."}]}}"#;
        assert_eq!(error_code(big).as_deref(), Some("INPUT_TOO_LARGE"));
        assert!(too_large(413, big) && too_large(400, big) && too_large(413, "<html/>"));
        assert!(!too_large(400, r#"{"code":"BAD_REQUEST"}"#) && !too_large(500, big));
        assert_eq!(
            error_code(r#"{"code":"BAD_REQUEST","message":"m"}"#).as_deref(),
            Some("BAD_REQUEST")
        );
        // hashed-records.json's errors carry only a message; HTML carries nothing.
        assert_eq!(error_code(r#"{"errorMessage":"Too Many Requests"}"#), None);
        assert_eq!(
            error_code("<html><body>Too Many Requests</body></html>"),
            None
        );
        assert_eq!(error_code(r#"{"error":{"errors":[]}}"#), None);
    }

    #[test]
    fn patches_stay_within_2000_and_the_byte_limit() {
        let ids: Vec<String> = (0..4_500).map(|i| format!("mk_{i:040}")).collect();
        let calls = dp_associate(
            &auth(),
            "1",
            413_642_381_039_213_536,
            ids.iter().map(|id| (id.as_str(), Action::Add)),
        );
        assert_eq!(calls.len(), 3);
        let mut seen = 0;
        for call in &calls {
            let body = call.body.as_deref().unwrap();
            assert!(body.len() <= MAX_PATCH_BYTES);
            let n = serde_json::from_str::<Value>(body).unwrap()["patches"]
                .as_array()
                .unwrap()
                .len();
            assert!(n <= MAX_PATCHES_PER_REQUEST);
            seen += n;
        }
        assert_eq!(seen, 4_500);
        assert!(dp_associate(&auth(), "1", 9, []).is_empty());
        // A byte limit cuts before the item limit, and a lone item too large still goes.
        let items: Vec<String> = (0..5).map(|_| "x".repeat(10)).collect();
        assert_eq!(batched(&items, "[", "]", 100, 25).len(), 3);
        assert_eq!(batched(&items[..1], "[", "]", 100, 4).len(), 1);
    }

    #[test]
    fn the_rates_table_names_each_dp_call() {
        let spec = AudienceSpec {
            name: "b",
            country: Country::US,
            ttl_seconds: 1,
            now_unix: 1,
            source: "t",
        };
        let op = |r: &ApiRequest| DpOperation::of(r).map(|o| (o, o.rate().per_second));
        assert_eq!(
            op(&create_dp_audience(&auth(), &spec, 1, "p")),
            Some((DpOperation::AudienceMetadata, 1))
        );
        assert_eq!(
            op(&dp_records(&auth(), "p", ["{}"])),
            Some((DpOperation::HashedRecords, 100))
        );
        assert_eq!(
            op(&dp_associate(&auth(), "p", 1, [("a", Action::Add)])[0]),
            Some((DpOperation::Membership, 100))
        );
        assert_eq!(op(&create_amc_audience(&auth(), &spec, 1)), None);
        for rate in RATES {
            assert_eq!(rate.operation.rate(), rate);
            assert!(rate.per_second >= 1 && !rate.source.is_empty());
        }
    }
}
