//! AMC advertiser data upload (`/amc/advertiserData/...`): no public OpenAPI file, so the guide
//! pages under `guides/amazon-marketing-cloud/advertiser-data-upload/` (data sets, uploads,
//! `adu-examples.md`) are the contract: the requests are compared with the samples' keys, and
//! the answer parser reads every upload answer the pages show.

use matchkey::Country;
use matchkey::amazon::amc::{self, Instance, Upload, UploadState};
use serde_json::Value;

use super::*;

const EXAMPLES: &str = "guides/amazon-marketing-cloud/advertiser-data-upload/adu-examples.md";
const UPLOADS: &str =
    "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-upload.md";

fn at() -> Instance<'static> {
    Instance {
        instance_id: "amc12345678",
        account_id: "ENTITY1ABC",
        marketplace_id: "ATVPDKIKX0DER",
    }
}

/// The samples of both pages that are upload requests (they carry `updateStrategy`).
fn upload_samples() -> Vec<Value> {
    [EXAMPLES, UPLOADS]
        .into_iter()
        .flat_map(amazon_contract::json_samples)
        .map(|(_, v)| v)
        .filter(|v| v.get("updateStrategy").is_some())
        .collect()
}

#[test]
fn an_upload_request_carries_what_every_sample_carries() {
    assert_undocumented(&amc::start_upload(
        &auth(),
        &at(),
        "d",
        &upload_sample_upload(),
    ));
    let samples = upload_samples();
    assert!(samples.len() >= 3, "{samples:?}");
    let request = amc::start_upload(
        &auth(),
        &at(),
        "hashed_identifier_dataset",
        &upload_sample_upload(),
    );
    let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    // Every top-level key every sample has (compressionFormat among them) is sent.
    for sample in &samples {
        for key in sample
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "countryCode")
        {
            assert!(body.get(key).is_some(), "{key} missing from {body}");
        }
    }
    // Each sent key appears in some sample, at the top and in dataSource.
    let known = |pointer: &str, key: &str| {
        samples
            .iter()
            .any(|s| s.pointer(pointer).and_then(|o| o.get(key)).is_some())
    };
    for key in body.as_object().unwrap().keys() {
        assert!(known("", key), "{key}");
    }
    for key in body["dataSource"].as_object().unwrap().keys() {
        assert!(known("/dataSource", key), "dataSource.{key}");
    }
    assert_eq!(body["compressionFormat"], "NONE");
    assert!(
        request
            .url
            .ends_with("/amc/advertiserData/amc12345678/uploads/hashed_identifier_dataset")
    );
}

fn upload_sample_upload() -> Upload<'static> {
    Upload {
        bucket: "mys3bucket",
        key: "filename.csv",
        prefix: false,
        update_strategy: "ADDITIVE",
        country: Country::parse("US").ok(),
        compression: None,
    }
}

#[test]
fn every_upload_answer_of_the_guide_is_read() {
    let mut states = Vec::new();
    for (block, sample) in [EXAMPLES, UPLOADS]
        .into_iter()
        .flat_map(amazon_contract::json_samples)
    {
        if let Some(upload) = sample.get("upload") {
            let body = serde_json::json!({ "upload": upload }).to_string();
            states.push((
                block.line,
                amc::parse_upload(200, &body).expect("an upload answer"),
            ));
        }
        for upload in sample
            .get("uploads")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let body = serde_json::json!({ "upload": upload }).to_string();
            states.push((
                block.line,
                amc::parse_upload(200, &body).expect("a listed upload"),
            ));
        }
        if sample.get("uploadId").is_some() && sample.get("upload").is_none() {
            assert!(amc::parse_upload_id(200, &sample.to_string()).is_some());
        }
    }
    // adu-examples.md: one SUCCESS, then the list's SUCCESS and FAILED; the upload page:
    // COMPLETED twice and FAILED.
    let done = states
        .iter()
        .filter(|(_, s)| {
            matches!(
                s,
                UploadState::Completed {
                    rows: Some(1_782_332)
                }
            )
        })
        .count();
    let failed: Vec<_> = states
        .iter()
        .filter_map(|(_, s)| match s {
            UploadState::Failed { reason } => reason.clone(),
            _ => None,
        })
        .collect();
    assert_eq!((done, failed.len()), (4, 2), "{states:?}");
    assert!(
        failed
            .iter()
            .all(|r| r.starts_with("No such file or directory"))
    );
    assert!(states.iter().all(|(_, s)| *s != UploadState::Pending));
}

#[test]
fn data_set_columns_use_the_guides_spellings() {
    // The ID types the CLI writes are those the pages show.
    let prepare = amazon_contract::guide(
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-prepare-data.md",
    );
    for identity in ["MAID", "LIVERAMP"] {
        assert!(prepare.contains(&format!("| {identity}")), "{identity}");
    }
    let sets = amazon_contract::guide(
        "guides/amazon-marketing-cloud/advertiser-data-upload/advertiser-data-sets.md",
    );
    assert!(sets.contains(&format!("\"consentType\": \"{}\"", amc::CONSENT_GPP)));
    assert!(sets.contains(&format!("\"consentType\": \"{}\"", amc::CONSENT_TCF)));
    let prepare_compressions =
        prepare.contains("BZIP, GZIP, ZIP, SNAPPY, or no compressions with NONE");
    assert!(prepare_compressions);
    assert_eq!(amc::COMPRESSION_FORMATS.len(), 5);
}
