//! What to do with each kind of Amazon answer (refresh, retry with backoff, fail), and the
//! Login with Amazon refresh-token grant.

use serde_json::Value;
use std::prelude::rust_2024::*;

use super::events::{MultiStatus, parse_multi_status};
use super::url_encode;

/// `application/x-www-form-urlencoded` body of a refresh-token grant.
pub fn lwa_refresh_form(client_id: &str, client_secret: &str, refresh_token: &str) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
        url_encode(refresh_token),
        url_encode(client_id),
        url_encode(client_secret)
    )
}

/// What to do after an Amazon answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// 207: done; log per event.
    Delivered(MultiStatus),
    /// 401: refresh the access token once and send again.
    Refresh,
    /// 429, 5xx or no answer: wait and try again.
    Retry {
        /// How long to wait (`Retry-After` for 429, else backoff).
        after_ms: u64,
        /// Amazon's code or `HTTP_<status>`, for the log.
        code: String,
    },
    /// Any other 4xx: not retried; the batch goes to the dead letters.
    Fail {
        /// Amazon's code or `HTTP_<status>`.
        code: String,
    },
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … capped at 5 minutes; `jitter` in [0, 1).
pub fn backoff_ms(attempt: u32, jitter: f64) -> u64 {
    let base = 1000u64.saturating_mul(1 << attempt.min(16));
    (base as f64 * (0.5 + jitter)).min(300_000.0) as u64
}

/// Decides on an answer: `status` (0 for a network error), its `Retry-After` header and
/// body, the attempt number (0 for the first try) and a jitter in [0, 1).
pub fn next(status: u16, retry_after: Option<&str>, body: &str, attempt: u32, jitter: f64) -> Next {
    next_with(
        status,
        retry_after,
        body,
        attempt,
        jitter,
        parse_multi_status,
    )
}

/// [`next`] for an API whose 207 body `parse` reads (the legacy API's is 1-based).
pub fn next_with(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    attempt: u32,
    jitter: f64,
    parse: fn(&str) -> Option<MultiStatus>,
) -> Next {
    let code = || {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP_{status}"))
    };
    match status {
        207 | 200 => match parse(body) {
            Some(ms) => Next::Delivered(ms),
            None => Next::Retry {
                after_ms: backoff_ms(attempt, jitter),
                code: "BAD_MULTI_STATUS".into(),
            },
        },
        401 => Next::Refresh,
        429 => {
            let after = retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|s| s * 1000);
            Next::Retry {
                after_ms: after.unwrap_or_else(|| backoff_ms(attempt, jitter)),
                code: code(),
            }
        }
        0 => Next::Retry {
            after_ms: backoff_ms(attempt, jitter),
            code: "NETWORK_ERROR".into(),
        },
        500..=599 => Next::Retry {
            after_ms: backoff_ms(attempt, jitter),
            code: code(),
        },
        _ => Next::Fail { code: code() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_form_is_url_encoded() {
        assert_eq!(
            lwa_refresh_form("c", "s/+", "Atzr|x"),
            "grant_type=refresh_token&refresh_token=Atzr%7Cx&client_id=c&client_secret=s%2F%2B"
        );
    }

    #[test]
    fn answers_decide_what_happens() {
        let ok = r#"{"success":[{"index":0}],"error":[{"index":1,"errors":[{"code":"BAD_REQUEST","fieldLocation":"events[1].eventTime"}]}]}"#;
        let Next::Delivered(ms) = next(207, None, ok, 0, 0.5) else {
            unreachable!("207 is delivered")
        };
        assert_eq!(ms.success, [0]);
        assert_eq!(
            ms.errors[0].field_location.as_deref(),
            Some("events[1].eventTime")
        );
        assert_eq!(next(401, None, "", 0, 0.5), Next::Refresh);
        assert_eq!(
            next(429, Some("2"), r#"{"code":"TOO_MANY_REQUESTS"}"#, 0, 0.5),
            Next::Retry {
                after_ms: 2000,
                code: "TOO_MANY_REQUESTS".into()
            }
        );
        assert_eq!(
            next(503, None, "", 2, 0.5),
            Next::Retry {
                after_ms: 4000,
                code: "HTTP_503".into()
            }
        );
        assert_eq!(
            next(0, None, "", 0, 0.0),
            Next::Retry {
                after_ms: 500,
                code: "NETWORK_ERROR".into()
            }
        );
        assert_eq!(
            next(400, None, r#"{"code":"BAD_REQUEST"}"#, 0, 0.5),
            Next::Fail {
                code: "BAD_REQUEST".into()
            }
        );
        assert_eq!(backoff_ms(30, 0.999), 300_000);
    }
}
