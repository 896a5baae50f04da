//! The checker itself: each kind of departure is refused with the right place and pointer, a
//! conforming request passes, and no message carries a value.

use serde_json::json;

use super::*;

const CREATE: &str = "https://advertising-api.amazon.com/v2/dp/audiencemetadata/";
/// A value no message may repeat.
const SECRET: &str = "f1a2b3c4d5e6-secret-value";

fn dp_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("authorization", "Bearer token"),
        (
            "amazon-advertising-api-clientid",
            "amzn1.application-oa2-client.x",
        ),
        ("content-type", "application/json"),
    ]
}

fn create_body() -> serde_json::Value {
    json!({
        "name": "matchkey audience one",
        "description": "hashed emails",
        "advertiserId": 1234567890,
        "metadata": {
            "type": "DATA_PROVIDER",
            "externalAudienceId": "ext-1",
            "dataSourceCountry": ["US"],
        },
    })
}

fn refused(result: Result<OperationRef, CheckError>) -> Vec<Violation> {
    match result {
        Err(CheckError::Refused { violations, .. }) => violations,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_vendored_file_is_openapi_3_0_and_indexed() {
    let contract = Contract::amazon();
    assert_eq!(contract.documents().len(), FILES.len());
    for d in contract.documents() {
        assert!(d.version.starts_with("3.0."), "{}", d.file);
        assert!(
            contract.operations().any(|op| op.file == d.file),
            "{} has no operation",
            d.file
        );
    }
}

#[test]
fn a_conforming_request_passes_and_names_its_operation() {
    let body = create_body().to_string();
    let op = check_request("POST", CREATE, &dp_headers(), Some(&body)).unwrap();
    assert_eq!(op.file, "data-provider.yaml");
    assert_eq!(op.method, "POST");
    assert_eq!(op.path, "/v2/dp/audiencemetadata/");
}

#[test]
fn header_names_are_case_insensitive_and_a_missing_required_header_is_refused() {
    let body = create_body().to_string();
    let upper = [
        ("Authorization", "Bearer token"),
        ("AMAZON-ADVERTISING-API-CLIENTID", "x"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    check_request("POST", CREATE, &upper, Some(&body)).unwrap();

    let without: Vec<_> = dp_headers()
        .into_iter()
        .filter(|(n, _)| *n != "amazon-advertising-api-clientid")
        .collect();
    let v = refused(check_request("POST", CREATE, &without, Some(&body)));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        v[0].place,
        Place::Header("Amazon-Advertising-API-ClientId".into())
    );
    assert_eq!(v[0].keyword, "missing");
}

#[test]
fn a_wrong_type_is_refused_at_its_pointer_without_the_value() {
    let mut body = create_body();
    body["advertiserId"] = json!(SECRET);
    body["metadata"]["dataSourceCountry"] = json!([SECRET, 7]);
    let err = check_request("POST", CREATE, &dp_headers(), Some(&body.to_string())).unwrap_err();
    let v = err.violations();
    let pointers: Vec<(&str, &str)> = v
        .iter()
        .map(|v| (v.pointer.as_str(), v.keyword.as_str()))
        .collect();
    assert!(
        pointers.contains(&("/advertiserId", "type")),
        "{pointers:?}"
    );
    assert!(
        pointers.contains(&("/metadata/dataSourceCountry/1", "type")),
        "{pointers:?}"
    );
    let shown = format!("{err}\n{err:?}");
    assert!(!shown.contains(SECRET), "a value leaked: {shown}");
}

#[test]
fn a_missing_required_field_and_an_enum_departure_are_refused() {
    let mut body = create_body();
    body.as_object_mut().unwrap().remove("description");
    body["metadata"]["type"] = json!(SECRET);
    let err = check_request("POST", CREATE, &dp_headers(), Some(&body.to_string())).unwrap_err();
    let v = err.violations();
    assert!(
        v.iter().any(|v| v.pointer.is_empty()
            && v.keyword == "required"
            && v.message.contains("description")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|v| v.pointer == "/metadata/type" && v.keyword == "enum"),
        "{v:?}"
    );
    assert!(!err.to_string().contains(SECRET));
}

#[test]
fn an_unknown_path_is_undocumented_not_refused() {
    let err = check_request(
        "POST",
        "https://advertising-api.amazon.com/dsp/v1/adCreatives",
        &dp_headers(),
        Some("{}"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CheckError::Undocumented {
            method: "POST".into(),
            path: "/dsp/v1/adCreatives".into()
        }
    );
    assert!(err.violations().is_empty());
}

#[test]
fn a_wrong_method_is_refused_with_the_documented_ones() {
    let v = refused(check_request(
        "GET",
        "https://advertising-api.amazon.com/v2/dp/audience",
        &dp_headers(),
        None,
    ));
    assert_eq!(v[0].place, Place::Method);
    assert_eq!(v[0].keyword, "undocumented_method");
    assert!(v[0].message.contains("PATCH"), "{}", v[0]);
}

#[test]
fn trailing_slashes_follow_the_file() {
    let body = create_body().to_string();
    let v = refused(check_request(
        "POST",
        "https://advertising-api.amazon.com/v2/dp/audiencemetadata",
        &dp_headers(),
        Some(&body),
    ));
    assert_eq!(v[0].place, Place::Path);
    assert_eq!(v[0].keyword, "trailing_slash");
}

#[test]
fn path_templates_match_one_segment_and_prefer_literals() {
    let op = Contract::amazon()
        .find("GET", "http://127.0.0.1:9/v2/dp/audiencemetadata/123?x=1")
        .unwrap();
    assert_eq!(op.path, "/v2/dp/audiencemetadata/{audienceId}");
    let op = Contract::amazon()
        .find("GET", "/dsp/advertisers?startIndex=0")
        .unwrap();
    assert_eq!(op.path, "/dsp/advertisers");
    assert!(matches!(
        Contract::amazon().find("GET", "/v2/dp/audiencemetadata/1/2"),
        Err(CheckError::Undocumented { .. })
    ));
}

#[test]
fn content_type_and_body_presence_are_checked() {
    let body = create_body().to_string();
    let mut headers = dp_headers();
    headers[2].1 = "text/csv";
    let v = refused(check_request("POST", CREATE, &headers, Some(&body)));
    assert_eq!(v[0].place, Place::ContentType);
    assert_eq!(v[0].keyword, "unsupported_media_type");

    let v = refused(check_request("POST", CREATE, &dp_headers(), None));
    assert_eq!(v[0].keyword, "body_required");

    let v = refused(check_request(
        "POST",
        CREATE,
        &dp_headers(),
        Some("{not json"),
    ));
    assert_eq!(v[0].keyword, "not_json");

    // A vendor media type: application/json is not what the file documents.
    let url = "https://advertising-api.amazon.com/accounts/1/dsp/conversionDefinitions/eventData";
    let headers = [
        ("amazon-advertising-api-clientid", "x"),
        ("content-type", "application/json"),
    ];
    let v = refused(check_request("POST", url, &headers, Some("[]")));
    assert_eq!(v[0].place, Place::ContentType);
}

#[test]
fn a_required_query_parameter_is_checked_by_name() {
    // Find any operation with a required query parameter in the vendored files, and call it
    // without, then with, that parameter.
    let contract = Contract::amazon();
    let found = contract.operations.iter().find_map(|op| {
        contract.parameters(op).into_iter().find_map(|(p, _)| {
            (p.get("in") == Some(&json!("query")) && p.get("required") == Some(&json!(true)))
                .then(|| (op, p["name"].as_str().unwrap().to_owned()))
        })
    });
    let (op, name) = found.expect("the v1 file has operations with required query parameters");
    let path = op.template.replace('{', "x").replace('}', "");
    let err = contract
        .check_request(&op.method, &path, &[], None)
        .unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.place == Place::Query(name.clone())),
        "{err}"
    );
    let with = format!("{path}?{name}=1");
    let err = contract.check_request(&op.method, &with, &[], None);
    if let Err(err) = err {
        assert!(
            !err.violations()
                .iter()
                .any(|v| v.place == Place::Query(name.clone())),
            "{err}"
        );
    }
}

#[test]
fn answers_are_checked_against_the_documented_status() {
    let ok = json!({"requestId": "r-1", "audience": {"id": 42, "name": "matchkey audience one"}});
    check_answer(
        "POST",
        CREATE,
        200,
        Some("application/json"),
        Some(&ok.to_string()),
    )
    .unwrap();
    // The shape matchkey read before: a top-level `audienceId` is allowed (no
    // additionalProperties: false) but `audience.id` must be an integer.
    let bad = json!({"audience": {"id": SECRET}});
    let err = check_answer(
        "POST",
        CREATE,
        200,
        Some("application/json"),
        Some(&bad.to_string()),
    )
    .unwrap_err();
    assert_eq!(err.violations()[0].pointer, "/audience/id");
    assert!(!err.to_string().contains(SECRET));

    let v = refused(check_answer("POST", CREATE, 418, None, None));
    assert_eq!(v[0].place, Place::Status);
}

#[test]
fn nullable_becomes_a_null_type() {
    let mut schema = json!({"type": "string", "nullable": true, "properties": {
        "a": {"enum": ["X"], "type": "string", "nullable": true},
        "b": {"$ref": "#/x", "nullable": true},
    }});
    rewrite_nullable(&mut schema);
    assert_eq!(schema["type"], json!(["string", "null"]));
    assert_eq!(schema["properties"]["a"]["enum"], json!(["X", null]));
    assert_eq!(
        schema["properties"]["b"],
        json!({"anyOf": [{"type": "null"}, {"$ref": "#/x"}]})
    );
}

#[test]
fn components_can_be_checked_by_name() {
    let contract = Contract::amazon();
    assert!(
        contract
            .check_schema("data-provider.yaml", "advertiserId", &json!(12))
            .is_empty()
    );
    let v = contract.check_schema("data-provider.yaml", "advertiserId", &json!("12"));
    assert_eq!(v[0].keyword, "type");
}

#[test]
fn sources_md_lists_every_vendored_file_and_page() {
    let sources = include_str!("../../contracts/amazon/SOURCES.md");
    for file in vendored_files() {
        assert!(sources.contains(&format!("`{file}`")), "{file}");
    }
    for (page, text) in GUIDES {
        assert!(sources.contains(&format!("`{page}`")), "{page}");
        assert!(!text.is_empty());
    }
}

#[test]
fn guide_code_blocks_are_read_with_their_heading() {
    let blocks = code_blocks("guides/get-started/retrieve-profiles.md");
    assert!(
        blocks
            .iter()
            .any(|b| b.text.trim() == "https://advertising-api.amazon.com/v2/profiles"),
        "{blocks:?}"
    );
    let samples = json_samples("guides/get-started/retrieve-profiles.md");
    assert!(
        samples
            .iter()
            .any(|(b, v)| b.heading.contains("response") && v.is_array()),
        "{samples:?}"
    );
}

#[test]
fn every_documented_schema_compiles() {
    // Each request body and answer schema of every vendored operation: a schema the validator
    // cannot compile would panic only when a test first reaches it.
    let contract = Contract::amazon();
    let mut compiled = 0;
    for op in &contract.operations {
        let root = &contract.documents[op.doc].root;
        let method = op.method.to_ascii_lowercase();
        let base = format!("{}/{method}", op.path_pointer);
        let operation = root.pointer(&base).unwrap();
        let mut contents = Vec::new();
        if let Some(rb) = operation.get("requestBody") {
            let (rb, p) = contract.deref(op.doc, rb, format!("{base}/requestBody"));
            contents.push((rb.get("content"), format!("{p}/content")));
        }
        for (status, r) in operation
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let (r, p) = contract.deref(op.doc, r, format!("{base}/responses/{}", escape(status)));
            contents.push((r.get("content"), format!("{p}/content")));
        }
        for (content, pointer) in contents {
            for (media, m) in content.and_then(Value::as_object).into_iter().flatten() {
                if let Some(schema) = m.get("schema") {
                    let (_, p) = contract.deref(
                        op.doc,
                        schema,
                        format!("{pointer}/{}/schema", escape(media)),
                    );
                    contract.validator(op.doc, &p);
                    compiled += 1;
                }
            }
        }
    }
    assert!(compiled > 100, "{compiled}");
}

#[test]
fn messages_name_the_rule() {
    let mut body = create_body();
    body["advertiserId"] = json!(SECRET);
    let err = check_request("POST", CREATE, &dp_headers(), Some(&body.to_string())).unwrap_err();
    assert_eq!(
        err.violations()[0].to_string(),
        r#"body /advertiserId: value is not of type "integer" (type)"#
    );
}

#[test]
fn errata_correct_what_the_file_still_says() {
    for (file, pointer, documented, used, _) in ERRATA {
        let (_, _, text) = FILES.iter().find(|(f, _, _)| f == file).unwrap();
        let raw: Value = if file.ends_with(".yaml") {
            serde_norway::from_str(text).unwrap()
        } else {
            serde_json::from_str(text).unwrap()
        };
        assert_eq!(
            raw.pointer(pointer),
            Some(&json!(documented)),
            "{file} {pointer}"
        );
        let loaded = Contract::amazon().document(file).unwrap().root();
        assert_eq!(
            loaded.pointer(pointer),
            Some(&json!(used)),
            "{file} {pointer}"
        );
    }
    // The Events API's multi-status answer with an error at index 3 conforms.
    let answer =
        json!({"error": [{"index": 3, "errors": [{"code": "BAD_REQUEST", "message": "m"}]}]});
    let result = check_answer(
        "POST",
        "https://advertising-api.amazon.com/adsApi/v1/create/events",
        207,
        Some("application/json"),
        Some(&answer.to_string()),
    );
    let shown = result.map(|_| ()).map_err(|e| e.to_string());
    assert!(
        !shown.as_ref().is_err_and(|e| e.contains("/error/0/index")),
        "{shown:?}"
    );
}

#[test]
fn answer_media_types_are_the_files() {
    let contract = Contract::amazon();
    assert_eq!(
        contract.answer_media_types("GET", "/amc/accounts", 200),
        ["application/vnd.amcaudiencesconnections.v1+json"]
    );
    assert!(contract.documents_status("GET", "/amc/accounts", 429));
    assert!(!contract.documents_status("PATCH", "/v2/dp/audience", 207));
}
