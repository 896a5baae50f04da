//! The emulator's in-memory world: clock, tokens, faults, recorded requests, audiences,
//! AMC data sets and uploads, and the emulated S3 objects they read.
//!
//! One [`World`] sits behind a mutex; handlers are synchronous functions of it, so each
//! request sees and leaves a consistent state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::check::{self, FieldError};
use crate::config::Config;
use crate::creatives::{Association, Creative};
use crate::events::Window;
use crate::fault::{Action, Fault, FaultKind, FaultSpec, JobFault};
use crate::trafficking::Campaign;

/// First AMC audience id handed out (the doc's example id).
const FIRST_AUDIENCE_ID: u64 = 413_642_381_039_213_536;

/// "Now": the system clock or a fixed instant, plus an offset moved by the clock control.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    fixed: Option<OffsetDateTime>,
    offset: Duration,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) client_id: String,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) advertisers: Option<Vec<String>>,
}

/// A refresh token's grant: which client it belongs to and what it may reach.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) advertisers: Option<Vec<String>>,
}

/// An authorization code from the consent page, usable once within five minutes.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) expires_at: OffsetDateTime,
    /// PKCE: the `code_challenge` and its method (`S256` or `plain`), if one was sent.
    pub(crate) challenge: Option<(String, String)>,
    /// The accounts the user chose on the consent page (`None`: all).
    pub(crate) advertisers: Option<Vec<String>>,
}

/// What the emulated user does on the consent page (`POST /__emulator/authorize`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    /// Allow (302 with a code) or deny (302 with `error=access_denied`).
    pub(crate) approve: bool,
    /// The accounts the grant reaches; `None`: every configured advertiser.
    pub(crate) accounts: Option<Vec<String>>,
}

impl Default for Consent {
    fn default() -> Self {
        Self {
            approve: true,
            accounts: None,
        }
    }
}

/// The outcome of one item (event or record) of a recorded request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// 0-based position of the item in the request's array.
    pub index: usize,
    /// Whether Amazon would have taken the item.
    pub accepted: bool,
    /// Why not, when not accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One request as the emulator saw it, for `GET /__emulator/requests`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    /// 1-based arrival number.
    pub seq: u64,
    /// Emulator time of arrival (RFC 3339).
    pub at: String,
    /// Endpoint name (see the fault endpoints), or `unknown`.
    pub endpoint: &'static str,
    /// HTTP method.
    pub method: String,
    /// Path as requested, with any region prefix, without the query.
    pub path: String,
    /// Region of the path prefix (`NA`, `EU`, `FE`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    /// Status answered; `null` when the connection was dropped.
    pub status: Option<u16>,
    /// Kind of the fault that shaped the answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// Selected request headers; `Authorization` is redacted.
    pub headers: BTreeMap<String, String>,
    /// The parsed body (JSON, or a form with secrets redacted); `null` when empty or
    /// unparseable.
    pub body: Value,
    /// Per-item outcomes, for endpoints that take batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Vec<Outcome>>,
}

/// An accepted Events API event, for `GET /__emulator/events`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedEvent {
    /// The `Amazon-Ads-AccountId` it was sent for.
    pub account_id: String,
    /// The event exactly as sent.
    pub event: Value,
}

/// Which API an audience was created through; each API sees only its own audiences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum AudienceKind {
    /// `POST /amc/audiences/metadata`
    Amc,
    /// `POST /v2/dp/audiencemetadata/`
    DataProvider,
}

/// An audience created through the AMC or the Data Provider metadata endpoint.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Audience {
    pub(crate) audience_id: u64,
    pub(crate) kind: AudienceKind,
    pub(crate) account_id: String,
    pub(crate) definition: Value,
    /// External user ids currently in the audience (AMC CREATE and Data Provider `add`
    /// add, AMC DELETE and Data Provider `remove` remove).
    pub(crate) members: BTreeSet<String>,
    /// Cookie ids (a data provider's visitor ids) currently in a Data Provider audience,
    /// through `/COOKIE-<id>/audiences` patches.
    pub(crate) cookie_members: BTreeSet<String>,
    pub(crate) received_records: u64,
}

/// A cookie matching request (`GET /ecm3`, `GET /s/ecm3`), for `GET /__emulator/matches`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CookieMatch {
    /// Emulator time (RFC 3339).
    pub(crate) at: String,
    /// `/ecm3` or `/s/ecm3` (without a region prefix).
    pub(crate) path: String,
    /// `ex`, the partner code.
    pub(crate) partner_code: Option<String>,
    /// `id`, the data provider's visitor id.
    pub(crate) visitor_id: Option<String>,
    /// `gdpr` as sent (`0` or `1`).
    pub(crate) gdpr: Option<String>,
    /// `gdpr_consent`, the TCF string.
    pub(crate) gdpr_consent: Option<String>,
    /// Whether the match was made.
    pub(crate) accepted: bool,
    /// Why not, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refused: Option<&'static str>,
}

/// One user erased by `PATCH /v2/dp/users`, for `GET /__emulator/erasures`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Erasure {
    /// Emulator time (RFC 3339).
    pub(crate) at: String,
    /// The account of the Scope profile.
    pub(crate) account_id: String,
    /// The numeric DSP advertiser id the erasure named (none: every advertiser's data).
    pub(crate) advertiser_id: Option<u64>,
    /// `COOKIE`, `MAID` or `EXTERNAL_USER_ID`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) id: String,
    /// `consentTime` (epoch milliseconds), when sent.
    pub(crate) consent_time: Option<u64>,
    /// Which documented form the user came in: `openapi` or `guide`.
    pub(crate) form: &'static str,
}

/// An AMC records job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) audience_id: u64,
    pub(crate) account_id: String,
    pub(crate) status: &'static str,
    pub(crate) pending_polls: u32,
    pub(crate) record_count: usize,
    pub(crate) errors: Vec<(usize, FieldError)>,
    pub(crate) failure_reason: Option<&'static str>,
}

/// An AMC advertiser data set, for `GET /__emulator/uploads`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataSet {
    pub(crate) instance_id: String,
    pub(crate) account_id: String,
    pub(crate) created_at: String,
    /// The `dataSet` object exactly as created.
    pub(crate) data_set: Value,
}

/// One emulated S3 object an upload read: where it is and how big, never its content.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectRef {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) size: usize,
}

/// An AMC advertiser data upload job, for `GET /__emulator/uploads`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Upload {
    pub(crate) upload_id: String,
    pub(crate) instance_id: String,
    pub(crate) data_set_id: String,
    pub(crate) account_id: String,
    /// The terminal status (`SUCCESS` or `FAILED`), shown after the pending polls.
    pub(crate) status: &'static str,
    pub(crate) pending_polls: u32,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) output_row_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure_reason: Option<String>,
    pub(crate) update_strategy: String,
    pub(crate) data_source: Value,
    /// The objects the upload read (none when it failed before reading).
    pub(crate) objects: Vec<ObjectRef>,
}

/// Everything that changes while the emulator runs.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) config: Config,
    start_clock: Clock,
    pub(crate) clock: Clock,
    nonce: u64,
    counter: u64,
    pub(crate) access_tokens: HashMap<String, AccessToken>,
    pub(crate) grants: HashMap<String, Grant>,
    pub(crate) revoked: HashSet<String>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) consent: Consent,
    pub(crate) faults: Vec<Fault>,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) accepted_events: Vec<AcceptedEvent>,
    pub(crate) audiences: BTreeMap<u64, Audience>,
    pub(crate) jobs: BTreeMap<String, Job>,
    /// AMC data sets by (instance id, data set id).
    pub(crate) data_sets: BTreeMap<(String, String), DataSet>,
    /// AMC uploads by upload id.
    pub(crate) uploads: BTreeMap<String, Upload>,
    /// Emulated S3 objects by (bucket, key).
    pub(crate) s3_objects: BTreeMap<(String, String), Vec<u8>>,
    /// External ids accepted by `POST /dp/records/hashed`, by account id.
    pub(crate) dp_external_ids: BTreeMap<String, BTreeSet<String>>,
    /// Cookie matching requests, in arrival order.
    pub(crate) matches: Vec<CookieMatch>,
    /// Users erased by `PATCH /v2/dp/users`, in arrival order.
    pub(crate) erasures: Vec<Erasure>,
    /// DSP campaigns by account id: the config's, until `PUT /__emulator/dsp/{accountId}`.
    pub(crate) campaigns: BTreeMap<String, Vec<Campaign>>,
    /// DSP third-party creatives by id (all advertisers).
    pub(crate) creatives: BTreeMap<String, Creative>,
    /// Creative ↔ ad group associations, in the order made.
    pub(crate) associations: Vec<Association>,
}

impl Clock {
    /// The system clock, or the fixed instant when `fixed` is given.
    pub(crate) fn new(fixed: Option<OffsetDateTime>) -> Self {
        Self {
            fixed,
            offset: Duration::ZERO,
        }
    }

    /// The current emulator time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.fixed.unwrap_or_else(OffsetDateTime::now_utc) + self.offset
    }

    /// Fixes the clock at `instant` (or returns it to the system clock with `None`).
    pub(crate) fn set(&mut self, instant: Option<OffsetDateTime>) {
        *self = Self::new(instant);
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub(crate) fn advance(&mut self, by: Duration) {
        self.offset += by;
    }
}

impl World {
    /// A fresh world for `config` (assumed checked).
    pub(crate) fn new(config: Config) -> Self {
        let fixed = config.now.as_deref().and_then(check::parse_rfc3339);
        let nonce = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 & 0xffff_ffff;
        let mut world = Self {
            config,
            start_clock: Clock::new(fixed),
            clock: Clock::new(fixed),
            nonce,
            counter: 0,
            access_tokens: HashMap::new(),
            grants: HashMap::new(),
            revoked: HashSet::new(),
            codes: HashMap::new(),
            consent: Consent::default(),
            faults: Vec::new(),
            exchanges: Vec::new(),
            accepted_events: Vec::new(),
            audiences: BTreeMap::new(),
            jobs: BTreeMap::new(),
            data_sets: BTreeMap::new(),
            uploads: BTreeMap::new(),
            s3_objects: BTreeMap::new(),
            dp_external_ids: BTreeMap::new(),
            matches: Vec::new(),
            erasures: Vec::new(),
            campaigns: BTreeMap::new(),
            creatives: BTreeMap::new(),
            associations: Vec::new(),
        };
        world.load_grants();
        world.load_campaigns();
        world
    }

    fn load_campaigns(&mut self) {
        self.campaigns = self
            .config
            .advertisers
            .iter()
            .map(|a| (a.account_id.clone(), a.campaigns.clone()))
            .collect();
    }

    fn load_grants(&mut self) {
        for token in &self.config.refresh_tokens {
            let grant = Grant {
                client_id: token.client_id.clone(),
                advertisers: token.advertisers.clone(),
            };
            self.grants.insert(token.token.clone(), grant);
        }
    }

    /// Clears requests, faults, revocations, audiences, jobs, data sets, uploads, S3
    /// objects, Data Provider external ids, cookie matches, erasures, DSP creatives and associations, codes, the consent choice and the clock, and puts
    /// the DSP campaigns back to the configuration's; keeps the configuration and issued
    /// tokens (so a client's cached token stays valid).
    pub(crate) fn reset(&mut self) {
        self.clock = self.start_clock;
        self.revoked.clear();
        self.codes.clear();
        self.consent = Consent::default();
        self.faults.clear();
        self.exchanges.clear();
        self.accepted_events.clear();
        self.audiences.clear();
        self.jobs.clear();
        self.data_sets.clear();
        self.uploads.clear();
        self.s3_objects.clear();
        self.dp_external_ids.clear();
        self.matches.clear();
        self.erasures.clear();
        self.creatives.clear();
        self.associations.clear();
        self.load_grants();
        self.load_campaigns();
    }

    /// The current emulator time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The current time as RFC 3339.
    pub(crate) fn now_text(&self) -> String {
        self.now().format(&Rfc3339).unwrap_or_default()
    }

    /// The current time as RFC 3339 in whole seconds (`2026-09-01T17:36:32Z`, the shape of
    /// Amazon's upload timestamps).
    pub(crate) fn now_seconds_text(&self) -> String {
        let now = self.now();
        now.replace_nanosecond(0)
            .unwrap_or(now)
            .format(&Rfc3339)
            .unwrap_or_default()
    }

    /// The time window event validation uses now.
    pub(crate) fn window(&self) -> Window {
        let skew = i64::try_from(self.config.future_skew_secs).unwrap_or(i64::MAX);
        Window {
            now: self.now(),
            future_skew: Duration::seconds(skew),
        }
    }

    /// A fresh number, unique within this process.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh opaque id with a prefix, such as an access token.
    pub(crate) fn mint(&mut self, prefix: &str) -> String {
        let id = self.next_id();
        format!("{prefix}{:08x}{id:06}", self.nonce)
    }

    /// A fresh UUID-shaped id (for jobs and requests).
    pub(crate) fn mint_uuid(&mut self) -> String {
        let id = self.next_id();
        format!("{:08x}-e111-4000-8000-{id:012x}", self.nonce)
    }

    /// A fresh audience id (AMC and Data Provider audiences share one sequence).
    pub(crate) fn mint_audience_id(&mut self) -> u64 {
        FIRST_AUDIENCE_ID + self.next_id()
    }

    /// Stores a new fault and returns it.
    pub(crate) fn add_fault(&mut self, spec: FaultSpec) -> Fault {
        let fault = Fault {
            id: self.next_id(),
            remaining: spec.count,
            spec,
        };
        self.faults.push(fault.clone());
        fault
    }

    /// Consumes the first request-time fault for `endpoint`, if any.
    pub(crate) fn take_fault(&mut self, endpoint: &str) -> Option<(FaultKind, Action)> {
        let fault = self
            .faults
            .iter_mut()
            .find(|fault| fault.matches_request(endpoint))?;
        fault.remaining -= 1;
        let taken = (fault.spec.kind, fault.action());
        self.faults.retain(|fault| fault.remaining > 0);
        Some(taken)
    }

    /// Consumes the first job fault for `endpoint`, if any.
    pub(crate) fn take_job_fault(&mut self, endpoint: &str) -> JobFault {
        let Some(fault) = self.faults.iter_mut().find(|fault| {
            fault.remaining > 0
                && fault.spec.endpoint == endpoint
                && matches!(
                    fault.spec.kind,
                    FaultKind::JobFailed | FaultKind::JobPending
                )
        }) else {
            return JobFault::default();
        };
        fault.remaining -= 1;
        let job_fault = match fault.spec.kind {
            FaultKind::JobFailed => JobFault {
                fail: true,
                pending_polls: 0,
            },
            _ => JobFault {
                fail: false,
                pending_polls: fault.spec.polls.unwrap_or(1),
            },
        };
        self.faults.retain(|fault| fault.remaining > 0);
        job_fault
    }

    /// Appends a recorded request, numbering it.
    pub(crate) fn record(&mut self, mut exchange: Exchange) {
        exchange.seq = self.exchanges.len() as u64 + 1;
        self.exchanges.push(exchange);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let mut config = Config::demo();
        config.now = Some("2026-09-01T00:00:00Z".to_owned());
        let mut world = World::new(config);
        assert_eq!(world.now_text(), "2026-09-01T00:00:00Z");
        world.clock.advance(Duration::hours(1));
        assert_eq!(world.now_text(), "2026-09-01T01:00:00Z");
        world.reset();
        assert_eq!(world.now_text(), "2026-09-01T00:00:00Z");
    }

    #[test]
    fn upload_timestamps_are_whole_seconds() {
        let mut config = Config::demo();
        config.now = Some("2026-09-01T17:36:32.123456Z".to_owned());
        let world = World::new(config);
        assert_eq!(world.now_text(), "2026-09-01T17:36:32.123456Z");
        assert_eq!(world.now_seconds_text(), "2026-09-01T17:36:32Z");
    }

    #[test]
    fn faults_are_consumed_in_order_and_counted() {
        let mut world = World::new(Config::demo());
        let spec = |json: &str| serde_json::from_str::<FaultSpec>(json).unwrap();
        world.add_fault(spec(
            r#"{"endpoint":"events","kind":"status","status":503,"count":2}"#,
        ));
        world.add_fault(spec(r#"{"endpoint":"*","kind":"drop"}"#));
        assert_eq!(
            world.take_fault("token").map(|(kind, _)| kind),
            Some(FaultKind::Drop)
        );
        assert_eq!(world.take_fault("token"), None);
        assert_eq!(
            world.take_fault("events").map(|(kind, _)| kind),
            Some(FaultKind::Status)
        );
        assert_eq!(
            world.take_fault("events").map(|(kind, _)| kind),
            Some(FaultKind::Status)
        );
        assert_eq!(world.take_fault("events"), None);
        assert!(world.faults.is_empty());
    }

    #[test]
    fn job_faults_are_taken_by_their_own_endpoint() {
        let mut world = World::new(Config::demo());
        let spec = |json: &str| serde_json::from_str::<FaultSpec>(json).unwrap();
        world.add_fault(spec(r#"{"endpoint":"amcUploads","kind":"job_failed"}"#));
        world.add_fault(spec(
            r#"{"endpoint":"amcRecords","kind":"job_pending","polls":3}"#,
        ));
        assert_eq!(
            world.take_job_fault("amcRecords"),
            JobFault {
                fail: false,
                pending_polls: 3
            }
        );
        assert_eq!(world.take_job_fault("amcRecords"), JobFault::default());
        assert_eq!(
            world.take_fault("amcUploads"),
            None,
            "job faults never fire on requests"
        );
        assert!(world.take_job_fault("amcUploads").fail);
        assert!(world.faults.is_empty());
    }

    #[test]
    fn reset_clears_uploads_objects_and_external_ids() {
        let mut world = World::new(Config::demo());
        world
            .s3_objects
            .insert(("b".to_owned(), "k".to_owned()), b"x".to_vec());
        world
            .dp_external_ids
            .entry("a".to_owned())
            .or_default()
            .insert("u".to_owned());
        world.reset();
        assert!(world.s3_objects.is_empty() && world.dp_external_ids.is_empty());
    }

    #[test]
    fn minted_ids_are_unique() {
        let mut world = World::new(Config::demo());
        let first = world.mint("Atza|");
        assert_ne!(first, world.mint("Atza|"));
        assert_ne!(world.mint_uuid(), world.mint_uuid());
        assert!(first.starts_with("Atza|"));
    }
}
