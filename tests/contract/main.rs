//! Contract tests: every request the core builds (`matchkey::amazon`) checked against Amazon's
//! own OpenAPI files, and the answer parsers fed Amazon's own samples, through the
//! `amazon-contract` crate (the vendored files are in `tests/contracts/amazon/`, with their
//! sources in `SOURCES.md`). Nothing here talks to the emulator: these tests are what the
//! emulator and the client cannot share.
//!
//! One module per API family; each states which document its contract is (an OpenAPI file or,
//! where Amazon publishes none, the guide pages' samples).

use amazon_contract::{CheckError, OperationRef, Place, Violation};
use matchkey::amazon::{ApiRequest, Auth};

mod accounts;
mod amc;
mod dp;
mod dsp;
mod events;

/// An API base, token and client id for building requests (never sent anywhere).
pub(crate) fn auth() -> Auth<'static> {
    Auth {
        api_base: "https://advertising-api.amazon.com",
        access_token: "Atza|contract-test-token",
        client_id: "amzn1.application-oa2-client.contract",
    }
}

/// The request checked against the vendored OpenAPI files.
pub(crate) fn check(request: &ApiRequest) -> Result<OperationRef, CheckError> {
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    amazon_contract::check_request(
        request.method.as_str(),
        &request.url,
        &headers,
        request.body.as_deref(),
    )
}

/// Panics unless the request is one a vendored OpenAPI file documents and it conforms; the
/// operation it targets.
#[track_caller]
pub(crate) fn assert_conforms(request: &ApiRequest) -> OperationRef {
    match check(request) {
        Ok(op) => op,
        Err(e) => panic!(
            "{} {} does not conform: {e}",
            request.method.as_str(),
            path_of(request)
        ),
    }
}

/// Panics unless the request is refused, with a violation at `place` and body `pointer`; the
/// violations.
#[track_caller]
pub(crate) fn assert_refused(request: &ApiRequest, place: Place, pointer: &str) -> Vec<Violation> {
    match check(request) {
        Err(CheckError::Refused { violations, .. }) => {
            assert!(
                violations
                    .iter()
                    .any(|v| v.place == place && v.pointer == pointer),
                "no violation at {place} {pointer}: {violations:?}"
            );
            violations
        }
        other => panic!("expected a refusal at {place} {pointer}, got {other:?}"),
    }
}

/// Panics unless no vendored OpenAPI file has the request's operation (its contract is a
/// guide page's samples, checked by the family's own tests).
#[track_caller]
pub(crate) fn assert_undocumented(request: &ApiRequest) {
    match check(request) {
        Err(CheckError::Undocumented { .. }) => {}
        other => panic!(
            "{} {}: expected no vendored operation, got {other:?}",
            request.method.as_str(),
            path_of(request)
        ),
    }
}

/// Panics unless `body` (with `content_type`) is a documented answer of `status` to the
/// request's operation.
#[track_caller]
pub(crate) fn assert_answer_conforms(
    request: &ApiRequest,
    status: u16,
    content_type: &str,
    body: &str,
) {
    if let Err(e) = amazon_contract::check_answer(
        request.method.as_str(),
        &request.url,
        status,
        Some(content_type),
        Some(body),
    ) {
        panic!("the answer {status} is not documented so: {e}");
    }
}

/// The request's path, for messages (no query: query values may be tokens).
pub(crate) fn path_of(request: &ApiRequest) -> &str {
    let after_scheme = request
        .url
        .split_once("://")
        .map_or(&*request.url, |(_, r)| r);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split('?').next().unwrap_or(path)
}

/// The harness itself refuses what it should: a builder's request with a header removed or
/// its body's type changed.
mod harness {
    use super::*;
    use matchkey::amazon::connect;

    #[test]
    fn a_request_without_a_required_header_is_refused() {
        let mut request = connect::list_dsp_advertisers(&auth(), 42);
        request
            .headers
            .retain(|(n, _)| *n != "amazon-advertising-api-scope");
        assert_refused(
            &request,
            Place::Header("Amazon-Advertising-API-Scope".into()),
            "",
        );
    }

    #[test]
    fn path_of_leaves_out_host_and_query() {
        let request = connect::list_amc_instances(&auth(), "ENTITYX", "ATVPDKIKX0DER", Some("t"));
        assert_eq!(path_of(&request), "/amc/instances");
    }
}

/// The core's table of the contracts this build speaks (`matchkey doctor`, `/v1/admin/check`)
/// names documents that are vendored, and each OpenAPI row's prefix is an operation there.
mod table {
    use amazon_contract::{Contract, GUIDES};
    use matchkey::amazon::contract::{CONTRACTS, Checked};

    #[test]
    fn every_row_names_a_vendored_document() {
        let contract = Contract::amazon();
        for row in CONTRACTS {
            for document in row.documents {
                match row.checked {
                    Checked::Openapi => {
                        assert!(
                            contract.document(document).is_some(),
                            "{}: {document} is not vendored",
                            row.api
                        );
                        assert!(
                            contract
                                .operations()
                                .any(|op| op.file == *document && op.path.starts_with(row.prefix)),
                            "{}: {document} has no operation under {}",
                            row.api,
                            row.prefix
                        );
                    }
                    Checked::GuideSamples => {
                        let page = document
                            .strip_prefix("guides/")
                            .unwrap_or_else(|| panic!("{}: {document} is not a guide", row.api));
                        assert!(
                            GUIDES.iter().any(|(p, _)| *p == page),
                            "{}: {document} is not vendored",
                            row.api
                        );
                        assert!(
                            contract.find("GET", row.prefix).is_err(),
                            "{}: {} has an OpenAPI file after all",
                            row.api,
                            row.prefix
                        );
                    }
                    Checked::EmulatorOnly => panic!("{}: names a document", row.api),
                }
            }
        }
    }

    #[test]
    fn the_openapi_rows_cover_every_vendored_file() {
        for file in amazon_contract::vendored_files() {
            assert!(
                CONTRACTS
                    .iter()
                    .any(|row| row.checked == Checked::Openapi && row.documents.contains(&file)),
                "{file} is vendored but no contract row follows it"
            );
        }
    }
}
