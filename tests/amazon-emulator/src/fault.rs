//! Fault injection: what `POST /__emulator/faults` accepts and how a fault is consumed.
//!
//! A fault targets one endpoint name (or `*`) and fires on the next `count` matching
//! requests. Faults are kept in arrival order; a request consumes at most one.

use serde::{Deserialize, Serialize};
use time::Duration;

/// Endpoint names a fault may target (also the `endpoint` of recorded requests).
pub const ENDPOINTS: &[&str] = &[
    "token",
    "authorize",
    "profiles",
    "advertiserAccounts",
    "dspAdvertisers",
    "amcAccounts",
    "amcInstances",
    "events",
    "dspEvents",
    "amcMetadata",
    "amcRecords",
    "amcJobs",
    "dpRecords",
    "amcDataSets",
    "amcUploads",
    "amcUploadJobs",
    "dpAudienceMetadata",
    "dpAudience",
    "dpUsers",
    "cookieMatch",
    "dspCampaigns",
    "dspAdGroups",
    "dspTargets",
    "dspCreatives",
    "dspCreativesList",
    "dspAdExperiences",
    "dspAssociations",
    "dspModerations",
];

/// Endpoints whose requests start an asynchronous job, the targets of `job_failed` and
/// `job_pending` faults: AMC audience records and AMC advertiser data uploads.
pub const JOB_ENDPOINTS: &[&str] = &["amcRecords", "amcUploads"];

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with `status` (and `Retry-After: retryAfter` when given; 429 defaults to 1).
    Status,
    /// Wait `delayMs` before handling the request normally.
    Slow,
    /// Close the connection without answering.
    Drop,
    /// Handle the request (its effects happen), then close the connection without
    /// answering: the caller never learns what became of it.
    DropAnswer,
    /// Expire the presented access token now and answer 401 (later uses stay 401).
    ExpiredToken,
    /// The job of the next accepted request to the fault's endpoint (AMC records or AMC
    /// advertiser data upload) ends `FAILED`.
    JobFailed,
    /// The job of the next accepted request to the fault's endpoint answers `PENDING` for
    /// `polls` polls.
    JobPending,
    /// Answer as Amazon's API gateway throttles: 429 with an HTML body (`text/html`) and
    /// no `Retry-After` (amzn/ads-advanced-tools-docs issues 344 and 436). Every parser
    /// must take a non-JSON error body without failing the batch.
    #[serde(rename = "html_429")]
    Html429,
}

/// A fault as posted to the control endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Endpoint name from [`ENDPOINTS`], or `*` for every endpoint.
    pub endpoint: String,
    /// What happens.
    pub kind: FaultKind,
    /// HTTP status for `status` faults (400–599).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds for `status` faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// How many requests (or jobs) the fault applies to; default 1.
    #[serde(default = "one")]
    pub count: u32,
    /// Delay for `slow` faults, in milliseconds (at most 60 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Number of `PENDING` polls for `job_pending` faults; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<u32>,
}

/// A stored fault with its id and remaining uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Id, unique within the emulator's life.
    pub id: u64,
    /// Uses left.
    pub remaining: u32,
    /// The fault as posted.
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// What a request-time fault makes the server do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Answer with this status and optional `Retry-After`.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Sleep, then handle normally.
    Slow(Duration),
    /// Close the connection.
    Drop,
    /// Handle the request, then close the connection.
    DropAnswer,
    /// Expire the presented token and answer 401.
    ExpiredToken,
    /// Answer the gateway's HTML 429, without `Retry-After`.
    Html429,
}

/// The job outcome a job fault imposes on an AMC records or data upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct JobFault {
    /// The job ends `FAILED`.
    pub(crate) fail: bool,
    /// Polls answered `PENDING` before the terminal state.
    pub(crate) pending_polls: u32,
}

fn one() -> u32 {
    1
}

impl FaultSpec {
    /// Checks that the fields fit the kind.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.endpoint != "*" && !ENDPOINTS.contains(&self.endpoint.as_str()) {
            return Err(format!(
                "endpoint must be '*' or one of {}",
                ENDPOINTS.join(", ")
            ));
        }
        if self.count == 0 {
            return Err("count must be at least 1".to_owned());
        }
        match self.kind {
            FaultKind::Status => match self.status {
                Some(400..=599) => {}
                _ => return Err("a status fault needs status between 400 and 599".to_owned()),
            },
            FaultKind::Slow => match self.delay_ms {
                Some(1..=60_000) => {}
                _ => return Err("a slow fault needs delayMs between 1 and 60000".to_owned()),
            },
            FaultKind::Drop | FaultKind::DropAnswer | FaultKind::Html429 => {}
            FaultKind::ExpiredToken => {
                if matches!(self.endpoint.as_str(), "token" | "authorize") {
                    return Err("expired_token applies to Ads API endpoints, not LwA".to_owned());
                }
            }
            FaultKind::JobFailed | FaultKind::JobPending => {
                if !JOB_ENDPOINTS.contains(&self.endpoint.as_str()) {
                    return Err(format!(
                        "job faults need endpoint {}",
                        JOB_ENDPOINTS
                            .iter()
                            .map(|name| format!("'{name}'"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ));
                }
            }
        }
        if self.kind != FaultKind::Status && self.retry_after.is_some() {
            return Err("retryAfter only applies to status faults".to_owned());
        }
        if self.kind != FaultKind::Slow && self.delay_ms.is_some() {
            return Err("delayMs only applies to slow faults".to_owned());
        }
        if self.kind != FaultKind::JobPending && self.polls.is_some() {
            return Err("polls only applies to job_pending faults".to_owned());
        }
        Ok(())
    }
}

impl Fault {
    /// Whether this fault fires on a request to `endpoint` (job faults never do).
    pub(crate) fn matches_request(&self, endpoint: &str) -> bool {
        let applies = match self.spec.kind {
            FaultKind::JobFailed | FaultKind::JobPending => false,
            FaultKind::ExpiredToken => !matches!(endpoint, "token" | "authorize"),
            FaultKind::Status
            | FaultKind::Slow
            | FaultKind::Drop
            | FaultKind::DropAnswer
            | FaultKind::Html429 => true,
        };
        applies
            && self.remaining > 0
            && (self.spec.endpoint == "*" || self.spec.endpoint == endpoint)
    }

    /// The server action of a request-time fault.
    pub(crate) fn action(&self) -> Action {
        match self.spec.kind {
            FaultKind::Status => {
                let status = self.spec.status.unwrap_or(500);
                let retry_after = self.spec.retry_after.or((status == 429).then_some(1));
                Action::Status {
                    status,
                    retry_after,
                }
            }
            FaultKind::Slow => {
                let millis = self.spec.delay_ms.unwrap_or(0);
                Action::Slow(Duration::milliseconds(
                    i64::try_from(millis).unwrap_or(i64::MAX),
                ))
            }
            FaultKind::Drop => Action::Drop,
            FaultKind::DropAnswer => Action::DropAnswer,
            FaultKind::Html429 => Action::Html429,
            FaultKind::ExpiredToken | FaultKind::JobFailed | FaultKind::JobPending => {
                Action::ExpiredToken
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> FaultSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn documented_examples_parse_and_check() {
        let rate_limit =
            spec(r#"{"endpoint":"events","kind":"status","status":429,"retryAfter":2,"count":3}"#);
        assert_eq!(rate_limit.check(), Ok(()));
        assert_eq!(rate_limit.count, 3);
        assert_eq!(
            spec(r#"{"endpoint":"*","kind":"slow","delayMs":250}"#).check(),
            Ok(())
        );
        assert_eq!(
            spec(r#"{"endpoint":"token","kind":"drop"}"#).check(),
            Ok(())
        );
        assert_eq!(
            spec(r#"{"endpoint":"events","kind":"expired_token"}"#).check(),
            Ok(())
        );
        assert_eq!(
            spec(r#"{"endpoint":"amcRecords","kind":"job_pending","polls":2}"#).check(),
            Ok(())
        );
        assert_eq!(
            spec(r#"{"endpoint":"amcUploads","kind":"job_failed"}"#).check(),
            Ok(())
        );
        let html = Fault {
            id: 3,
            remaining: 1,
            spec: spec(r#"{"endpoint":"events","kind":"html_429","count":2}"#),
        };
        assert_eq!(html.spec.check(), Ok(()));
        assert_eq!(html.action(), Action::Html429);
        assert!(html.matches_request("events") && !html.matches_request("dspEvents"));
        assert!(
            spec(r#"{"endpoint":"events","kind":"html_429","retryAfter":1}"#)
                .check()
                .is_err()
        );
        for endpoint in [
            "amcDataSets",
            "amcUploadJobs",
            "dpAudienceMetadata",
            "dpAudience",
            "dpUsers",
            "cookieMatch",
        ] {
            let drop = format!(r#"{{"endpoint":"{endpoint}","kind":"drop"}}"#);
            assert_eq!(spec(&drop).check(), Ok(()));
        }
    }

    #[test]
    fn inconsistent_faults_are_refused() {
        assert!(
            spec(r#"{"endpoint":"evnts","kind":"drop"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"events","kind":"status"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"events","kind":"status","status":200}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"events","kind":"slow"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"token","kind":"expired_token"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"events","kind":"job_failed"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"amcUploadJobs","kind":"job_pending"}"#)
                .check()
                .is_err()
        );
        assert!(
            spec(r#"{"endpoint":"events","kind":"drop","retryAfter":1}"#)
                .check()
                .is_err()
        );
        assert!(
            serde_json::from_str::<FaultSpec>(r#"{"endpoint":"events","kind":"explode"}"#).is_err()
        );
    }

    #[test]
    fn too_many_requests_defaults_to_retry_after_one() {
        let fault = Fault {
            id: 1,
            remaining: 1,
            spec: spec(r#"{"endpoint":"*","kind":"status","status":429}"#),
        };
        assert_eq!(
            fault.action(),
            Action::Status {
                status: 429,
                retry_after: Some(1)
            }
        );
        assert!(fault.matches_request("token"));
        let expired = Fault {
            id: 2,
            remaining: 1,
            spec: spec(r#"{"endpoint":"*","kind":"expired_token"}"#),
        };
        assert!(!expired.matches_request("token"));
        assert!(expired.matches_request("events"));
    }
}
