//! Requests and answers checked against Amazon's own OpenAPI files (the `amazon-contract`
//! crate, files in `tests/contracts/amazon/`), so that a request Amazon's documents refuse is
//! refused here too, whatever this emulator's own field checks say.
//!
//! For an operation a vendored file documents and [`ENFORCED`] lists, a request that departs
//! from the file is answered 400 `{"code": "BAD_REQUEST", "message": …}` before any handler runs;
//! the message names the place and the body's JSON pointer, never a value. In debug builds (the
//! tests), an answer of a listed operation that departs from the file's answer schema is
//! replaced by a 500 naming the departure, so the emulator's answers follow Amazon's shapes.
//!
//! Operations without a vendored file (`/dsp/v1`, AMC uploads and audiences, profiles, Login
//! with Amazon) are left to the handlers' own checks: their contract is the guide samples.

use amazon_contract::{CheckError, Place};
use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode};

use crate::reply::Reply;

/// One documented operation (method and path template as the vendored file writes them) and
/// what is checked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enforced {
    /// `METHOD /path/{template}`.
    pub(crate) operation: &'static str,
    /// Refuse requests that depart from the file.
    pub(crate) requests: bool,
    /// (Debug builds) refuse to give answers that depart from the file.
    pub(crate) answers: bool,
}

const fn both(operation: &'static str) -> Enforced {
    Enforced {
        operation,
        requests: true,
        answers: true,
    }
}

const fn answers_only(operation: &'static str) -> Enforced {
    Enforced {
        operation,
        requests: false,
        answers: true,
    }
}

// Kept for operations whose answers cannot be enforced yet (none on this list today).
#[allow(dead_code)]
const fn requests_only(operation: &'static str) -> Enforced {
    Enforced {
        operation,
        requests: true,
        answers: false,
    }
}

/// The one list of operations whose requests and answers are checked against Amazon's files.
/// A documented operation that is off, or on for one side only, says why and who switches it on.
pub(crate) const ENFORCED: &[Enforced] = &[
    // Account discovery (AMCAdministration_prod_3p.json, dsp-advertisers.yaml,
    // amazon-ads-v1-all.json).
    both("GET /amc/accounts"),
    both("GET /amc/instances"),
    both("GET /dsp/advertisers"),
    both("POST /adsApi/v1/query/advertiserAccounts"),
    // Conversions (amazon-ads-v1-all.json, dsp-conversions.json).
    both("POST /adsApi/v1/create/events"),
    // The emulator leaves empty `success` / `error` lists out (the file's `minItems: 1`).
    both("POST /accounts/{accountId}/dsp/conversionDefinitions/eventData"),
    // Data Provider (data-provider.yaml, hashed-records.json).
    both("POST /v2/dp/audiencemetadata/"),
    both("POST /dp/records/hashed"),
    both("PATCH /v2/dp/audience"),
    // Requests off on purpose: Amazon's two documents disagree on the erasure body (the
    // file's `userId: {type, value}`, the guide page's `userId: [{type, id}]`), and the
    // emulator takes both (the client sends the file's; tests/contract/dp.rs checks it).
    answers_only("PATCH /v2/dp/users"),
];

/// The entry for a documented operation, if listed.
fn entry(method: &str, template: &str) -> Option<&'static Enforced> {
    ENFORCED.iter().find(|e| {
        e.operation
            .split_once(' ')
            .is_some_and(|(m, p)| m == method && p == template)
    })
}

/// Header names and values as the checker takes them (values that are not text are left out).
fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect()
}

/// The message of a refusal: places, pointers and keywords, no values.
fn message(error: &CheckError) -> String {
    error
        .violations()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The 400 for a request that departs from Amazon's file, if the operation is enforced.
pub(crate) fn check_request(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Reply> {
    let url = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let contract = amazon_contract::Contract::amazon();
    let op = match contract.find(method.as_str(), &url) {
        Ok(op) => op,
        // Undocumented: the handlers' own checks apply. A wrong method or trailing slash on a
        // documented path is left to the router too (it answers 404 or 405 as Amazon does).
        Err(_) => return None,
    };
    if !entry(&op.method, &op.path).is_some_and(|e| e.requests) {
        return None;
    }
    let body = (!body.is_empty()).then(|| String::from_utf8_lossy(body));
    let result = contract.check_request(
        method.as_str(),
        &url,
        &header_pairs(headers),
        body.as_deref(),
    );
    let mut error = result.err()?;
    // A missing token is the handlers' 401, as Amazon's gateway answers it before any
    // operation's own checks. And where the operation answers 207 (multi-status: the Events
    // API, the legacy import), a departure inside one item of the batch (`/events/3/…`) is
    // that item's error in the 207, judged by the handler; only the envelope is refused whole.
    let multi_status = contract.documents_status(method.as_str(), &url, 207);
    if let CheckError::Refused { violations, .. } = &mut error {
        violations.retain(|v| {
            let token =
                matches!(&v.place, Place::Header(h) if h.eq_ignore_ascii_case("authorization"));
            let item = multi_status && v.place == Place::Body && in_batch_item(&v.pointer);
            !token && !item
        });
        if violations.is_empty() {
            return None;
        }
    }
    let unsupported = error
        .violations()
        .iter()
        .any(|v| v.place == Place::ContentType);
    let status = if unsupported {
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    } else {
        StatusCode::BAD_REQUEST
    };
    let code = if unsupported {
        "UNSUPPORTED_MEDIA_TYPE"
    } else {
        "BAD_REQUEST"
    };
    Some(Reply::ads_error(
        status,
        code,
        format!(
            "the request departs from Amazon's API description: {}",
            message(&error)
        ),
    ))
}

/// Whether a body pointer is inside an item of a top-level list (`/events/3/…`, `/events/3`).
fn in_batch_item(pointer: &str) -> bool {
    let mut segments = pointer.split('/').skip(1);
    segments.next().is_some() && segments.next().is_some_and(|i| i.parse::<usize>().is_ok())
}

/// (Debug builds) the departures of an answer from Amazon's file, if the operation's answers
/// are checked.
pub(crate) fn answer_departures(
    method: &Method,
    path: &str,
    query: Option<&str>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<String> {
    let url = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let contract = amazon_contract::Contract::amazon();
    let op = contract.find(method.as_str(), &url).ok()?;
    if !entry(&op.method, &op.path).is_some_and(|e| e.answers) {
        return None;
    }
    // A status the file does not document is the emulator's own choice only for a success:
    // Amazon's gateway answers 401, 403, 413, 415, 429 and 5xx for any operation, documented
    // or not.
    if status >= 300 && !contract.documents_status(method.as_str(), &url, status) {
        return None;
    }
    let body = (!body.is_empty()).then(|| String::from_utf8_lossy(body));
    let error = contract
        .check_answer(method.as_str(), &url, status, content_type, body.as_deref())
        .err()?;
    Some(format!("{op}: {status}: {}", message(&error)))
}

/// The media type Amazon's file documents for a JSON answer of this status, where it is not
/// `application/json` (the vendor types of the older APIs, such as
/// `application/vnd.amcinstances.v1+json`): the first JSON type the file lists.
pub(crate) fn answer_media_type(
    method: &Method,
    path: &str,
    query: Option<&str>,
    status: u16,
) -> Option<&'static str> {
    let url = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    amazon_contract::Contract::amazon()
        .answer_media_types(method.as_str(), &url, status)
        .into_iter()
        .find(|m| m.ends_with("+json") || *m == "application/json")
        .filter(|m| *m != "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_operation_is_documented_in_a_vendored_file() {
        let contract = amazon_contract::Contract::amazon();
        for e in ENFORCED {
            let (method, path) = e.operation.split_once(' ').unwrap();
            assert!(
                contract
                    .operations()
                    .any(|op| op.method == method && op.path == path),
                "{} is in no vendored file",
                e.operation
            );
        }
    }

    #[test]
    fn an_enforced_request_without_a_required_header_is_refused_without_values() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer secret-token".parse().unwrap());
        let reply = check_request(&Method::GET, "/amc/accounts", None, &headers, &Bytes::new())
            .expect("refused");
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let text = format!("{reply:?}");
        assert!(text.contains("Amazon-Advertising-API-ClientId"), "{text}");
        assert!(!text.contains("secret-token"), "{text}");

        headers.insert("amazon-advertising-api-clientid", "c".parse().unwrap());
        assert!(
            check_request(&Method::GET, "/amc/accounts", None, &headers, &Bytes::new()).is_none()
        );
    }

    #[test]
    fn a_multi_status_batch_is_refused_for_its_envelope_only() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("amazon-ads-clientid", "c"),
            ("amazon-ads-accountid", "a"),
            ("content-type", "application/json"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        let path = "/adsApi/v1/create/events";
        // An item's departure is the handler's (a per-item error in the 207).
        let item = Bytes::from_static(br#"{"events": [{"currencyCode": 7}]}"#);
        assert!(check_request(&Method::POST, path, None, &headers, &item).is_none());
        // The envelope's is refused whole.
        let empty = Bytes::from_static(br#"{"events": []}"#);
        let reply = check_request(&Method::POST, path, None, &headers, &empty).expect("refused");
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(format!("{reply:?}").contains("/events"));
        assert!(in_batch_item("/events/0/matchKeys/1"));
        assert!(in_batch_item("/events/12"));
        assert!(!in_batch_item("/events"));
        assert!(!in_batch_item(""));
    }

    #[test]
    fn undocumented_operations_are_left_to_the_handlers() {
        let headers = HeaderMap::new();
        assert!(
            check_request(
                &Method::POST,
                "/dsp/v1/adCreatives",
                None,
                &headers,
                &Bytes::from_static(b"{}")
            )
            .is_none()
        );
    }

    #[test]
    fn an_answer_that_departs_from_the_file_is_named() {
        let bad = br#"{"totalResults": "many", "response": {}}"#;
        let found = answer_departures(
            &Method::GET,
            "/dsp/advertisers",
            None,
            200,
            Some("application/json"),
            bad,
        )
        .expect("departs");
        assert!(found.contains("/totalResults"), "{found}");
        assert!(!found.contains("many"), "{found}");
        let good = br#"{"totalResults": 0, "response": []}"#;
        assert_eq!(
            answer_departures(
                &Method::GET,
                "/dsp/advertisers",
                None,
                200,
                Some("application/json"),
                good
            ),
            None
        );
    }
}
