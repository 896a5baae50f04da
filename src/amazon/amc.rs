//! AMC advertiser data upload (ADU 2.0): the data set a file loads into, and the upload
//! job that loads a file already in S3.
//!
//! Every call names the AMC instance and carries the AMC account
//! (`Amazon-Advertising-API-AdvertiserId`, `ENTITY…`) and the marketplace.

use serde::Deserialize;
use serde_json::{Value, json};
use std::prelude::rust_2024::*;

use super::{ApiRequest, Auth, Method};
use crate::{Country, Field};

/// Where AMC calls go: the instance, its account and marketplace.
#[derive(Debug, Clone, Copy)]
pub struct Instance<'a> {
    /// The AMC instance id.
    pub instance_id: &'a str,
    /// The AMC account (`ENTITY…`).
    pub account_id: &'a str,
    /// The marketplace id (see [`marketplace_id`]).
    pub marketplace_id: &'a str,
}

impl Instance<'_> {
    fn request(&self, auth: &Auth<'_>, method: Method, path: &str) -> ApiRequest {
        auth.request(
            method,
            &format!("/amc/advertiserData/{}{path}", self.instance_id),
        )
        .header("amazon-advertising-api-advertiserid", self.account_id)
        .header("amazon-advertising-api-marketplaceid", self.marketplace_id)
    }
}

/// The Amazon marketplace id of a country, for the countries Amazon Ads serves.
pub fn marketplace_id(country: Country) -> Option<&'static str> {
    Some(match country.as_str() {
        "US" => "ATVPDKIKX0DER",
        "CA" => "A2EUQ1WTGCTBG2",
        "MX" => "A1AM78C64UM0Y8",
        "BR" => "A2Q3Y263D00KWC",
        "GB" => "A1F83G8C2ARO7P",
        "DE" => "A1PA6795UKMFR9",
        "FR" => "A13V1IB3VIYZZH",
        "IT" => "APJ6JRA9NG5V4",
        "ES" => "A1RKKUPIHCS9HS",
        "NL" => "A1805IZSGTT6HS",
        "SE" => "A2NODRKZP88ZB9",
        "PL" => "A1C3SOZRARQ6R3",
        "BE" => "AMEN7PMS3EDWL",
        "TR" => "A33AVAJ2PDY3EV",
        "AE" => "A2VIGQ35RCS4UG",
        "SA" => "A17E79C6D8DWNP",
        "EG" => "ARBP9OOSHTCHU",
        "IN" => "A21TJRUUN4KGV",
        "JP" => "A1VC38T7YXB528",
        "AU" => "A39IBJ37TRP1C6",
        "SG" => "A19VAU5U5O7RUS",
        _ => return None,
    })
}

/// AMC's `hashedPii` type for a field's column (the ADU guide spells POSTAL as ZIP);
/// `None` for ids Amazon takes unhashed (see [`external_identity_type`]).
pub fn hashed_pii_type(field: Field) -> Option<&'static str> {
    match field {
        Field::Postal => Some("ZIP"),
        f if f.is_hashed() => Some(f.as_str()),
        _ => None,
    }
}

/// AMC's `externalUserIdType.externalIdentity` for an unhashed id column: the ADU guide's
/// "External identifier column options" (`advertiser-data-prepare-data.md`) name `MAID`
/// and `LIVERAMP` (RampID, "transcoded in Amazon identity space"); `None` for hashed
/// fields and for ids AMC does not resolve (MATCH_ID is a plain column).
pub fn external_identity_type(field: Field) -> Option<&'static str> {
    match field {
        Field::Maid => Some("MAID"),
        Field::RampId => Some("LIVERAMP"),
        _ => None,
    }
}

/// The `externalUserIdType` of a field's column, if it has one: `{"hashedPii": …}` for
/// hashed PII, `{"externalIdentity": …}` for MAID and RampID.
pub fn external_user_id_type(field: Field) -> Option<Value> {
    hashed_pii_type(field)
        .map(|pii| json!({ "hashedPii": pii }))
        .or_else(|| external_identity_type(field).map(|id| json!({ "externalIdentity": id })))
}

/// A consent column's `consentType`: `TCF`, or `GPP` as the data set guide's "Sample
/// construct for GPP format" spells it (its table says `GPP_String`; the sample is the
/// form a request carries).
pub const CONSENT_TCF: &str = "TCF";
/// See [`CONSENT_TCF`].
pub const CONSENT_GPP: &str = "GPP";

/// Whether `id` is a data set id AMC takes: lowercase letters, digits and underscores,
/// starting with a letter.
pub fn valid_data_set_id(id: &str) -> bool {
    id.len() <= 128
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `GET …/dataSets/{dataSetId}`: does the data set exist (200) or not (404)?
pub fn get_data_set(auth: &Auth<'_>, at: &Instance<'_>, data_set_id: &str) -> ApiRequest {
    at.request(auth, Method::Get, &format!("/dataSets/{data_set_id}"))
}

/// `POST …/dataSets` with a definition (`{"dataSet": {…}}`, as `amc prepare` writes).
pub fn create_data_set(auth: &Auth<'_>, at: &Instance<'_>, definition: &Value) -> ApiRequest {
    at.request(auth, Method::Post, "/dataSets")
        .body("application/json", definition.to_string())
}

/// What an upload loads and how.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// The S3 bucket.
    pub bucket: &'a str,
    /// One file's key, or with `prefix` every file under it.
    pub key: &'a str,
    /// Whether `key` is a prefix.
    pub prefix: bool,
    /// `ADDITIVE`, `FULL_REPLACE`, `OVERLAP_REPLACE` or `OVERLAP_KEEP`.
    pub update_strategy: &'a str,
    /// The upload's country (rows' own country column wins).
    pub country: Option<Country>,
    /// `GZIP`, `BZIP`, `ZIP` or `SNAPPY`; `None` sends `NONE` (every sample carries
    /// `compressionFormat`, and the guide lists `NONE` for plain files).
    pub compression: Option<&'a str>,
}

/// Update strategies AMC knows.
pub const UPDATE_STRATEGIES: [&str; 4] = [
    "ADDITIVE",
    "FULL_REPLACE",
    "OVERLAP_REPLACE",
    "OVERLAP_KEEP",
];

/// Compression formats AMC reads (`advertiser-data-prepare-data.md`).
pub const COMPRESSION_FORMATS: [&str; 5] = ["NONE", "GZIP", "BZIP", "ZIP", "SNAPPY"];

/// `POST …/uploads/{dataSetId}`: load a CSV file (or prefix) already in S3.
///
/// The guide's samples disagree on the data source's keys: the upload page and its text
/// (`advertiser-data-upload.md`) use `sourceS3Bucket` with `sourceFileS3Key`,
/// `sourceS3Prefix` or `sourceManifestS3Key`; the examples page once `s3ObjectKey`, once
/// `s3Bucket` with `s3PrefixKey`. The upload page's form is sent (its text documents all
/// three source kinds); the answers' `dataSource` is not read.
pub fn start_upload(
    auth: &Auth<'_>,
    at: &Instance<'_>,
    data_set_id: &str,
    upload: &Upload<'_>,
) -> ApiRequest {
    let source_key = if upload.prefix {
        "sourceS3Prefix"
    } else {
        "sourceFileS3Key"
    };
    let mut body = json!({
        "updateStrategy": upload.update_strategy,
        "compressionFormat": upload.compression.unwrap_or("NONE"),
        "dataSource": { "sourceS3Bucket": upload.bucket, source_key: upload.key },
        "fileFormat": { "csvDataFormat": { "fieldDelimiter": "," } },
    });
    if let Some(country) = upload.country {
        body["countryCode"] = json!(country.as_str());
    }
    at.request(auth, Method::Post, &format!("/uploads/{data_set_id}"))
        .body("application/json", body.to_string())
}

/// `GET …/uploads/{dataSetId}/{uploadId}`.
pub fn get_upload(
    auth: &Auth<'_>,
    at: &Instance<'_>,
    data_set_id: &str,
    upload_id: &str,
) -> ApiRequest {
    at.request(
        auth,
        Method::Get,
        &format!("/uploads/{data_set_id}/{upload_id}"),
    )
}

/// The upload id of a started upload.
pub fn parse_upload_id(status: u16, body: &str) -> Option<String> {
    if !(200..300).contains(&status) {
        return None;
    }
    serde_json::from_str::<Value>(body).ok()?["uploadId"]
        .as_str()
        .map(str::to_owned)
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadState {
    /// Still loading (`SUBMITTED`, `IN_PROGRESS`; the upload page's `PENDING`).
    Pending,
    /// Loaded (`SUCCESS`); rows loaded when Amazon says.
    Completed {
        /// `metrics.OutputRowCount`.
        rows: Option<u64>,
    },
    /// Failed, with Amazon's reason when given.
    Failed {
        /// `message` (`adu-examples.md`, the failed upload of the list sample).
        reason: Option<String>,
    },
}

/// An upload as `GET …/uploads/{dataSetId}/{uploadId}` answers it (`{"upload": {…}}`),
/// only the fields read.
#[derive(Deserialize)]
struct UploadAnswer {
    status: String,
    #[serde(default)]
    message: Option<String>,
    /// Not in Amazon's samples; read when `message` is absent (older emulator answers).
    #[serde(default, rename = "failureReason")]
    failure_reason: Option<String>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
struct Metrics {
    #[serde(default, rename = "OutputRowCount")]
    output_row_count: Option<u64>,
}

/// Reads an upload's status answer; `None` when it is not one.
///
/// The status enum is `FAILED`, `IN_PROGRESS`, `SUBMITTED`, `SUCCESS`
/// (`adu-examples.md`'s answers use `SUBMITTED` and `SUCCESS`); the upload page's samples
/// say `PENDING` and `COMPLETED`, which are read too. Anything else is still running.
pub fn parse_upload(status: u16, body: &str) -> Option<UploadState> {
    if status != 200 {
        return None;
    }
    let mut v: Value = serde_json::from_str(body).ok()?;
    let upload = match v.get_mut("upload") {
        Some(upload) => upload.take(),
        None => v,
    };
    let upload = UploadAnswer::deserialize(upload).ok()?;
    Some(match upload.status.as_str() {
        "SUCCESS" | "COMPLETED" | "SUCCEEDED" => UploadState::Completed {
            rows: upload.metrics.and_then(|m| m.output_row_count),
        },
        "FAILED" => UploadState::Failed {
            reason: upload.message.or(upload.failure_reason),
        },
        _ => UploadState::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_calls_name_the_instance_account_and_marketplace() {
        let auth = Auth {
            api_base: "http://h",
            access_token: "t",
            client_id: "c",
        };
        let at = Instance {
            instance_id: "amc1",
            account_id: "ENTITY1",
            marketplace_id: marketplace_id(Country::parse("US").unwrap()).unwrap(),
        };
        let get = get_data_set(&auth, &at, "crm_v1");
        assert_eq!(get.url, "http://h/amc/advertiserData/amc1/dataSets/crm_v1");
        assert_eq!(
            get.header_value("amazon-advertising-api-advertiserid"),
            Some("ENTITY1")
        );
        assert_eq!(
            get.header_value("amazon-advertising-api-marketplaceid"),
            Some("ATVPDKIKX0DER")
        );
        let upload = Upload {
            bucket: "b",
            key: "k/crm.csv",
            prefix: false,
            update_strategy: "ADDITIVE",
            country: None,
            compression: None,
        };
        let start = start_upload(&auth, &at, "crm_v1", &upload);
        let body: Value = serde_json::from_str(start.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["dataSource"],
            json!({"sourceS3Bucket": "b", "sourceFileS3Key": "k/crm.csv"})
        );
        assert!(body.get("countryCode").is_none());
        assert_eq!(body["compressionFormat"], "NONE");
        assert_eq!(
            get_upload(&auth, &at, "crm_v1", "u1").url,
            "http://h/amc/advertiserData/amc1/uploads/crm_v1/u1"
        );
    }

    #[test]
    fn upload_answers() {
        // adu-examples.md: the create answer and the finished upload, verbatim.
        assert_eq!(
            parse_upload_id(
                200,
                r#"{"status": "SUBMITTED", "uploadId": "a11aa11a-1234-1234-1234-ee6555eee5e5"}"#
            )
            .as_deref(),
            Some("a11aa11a-1234-1234-1234-ee6555eee5e5")
        );
        let finished = r#"{"upload": {"createdAt": "2023-09-29T17:36:32Z", "instanceId": "amc12345678",
            "dataSetId": "hashed_identifier_dataset", "dataSource": {"s3Bucket": "mys3bucket",
            "s3ObjectKey": "filename.csv.gz"}, "metrics": {"OutputRowCount": 1782332},
            "status": "SUCCESS", "updatedAt": "2023-09-29T17:51:30Z",
            "uploadId": "a11aa11a-1234-1234-1234-ee6555eee5e5"}}"#;
        assert_eq!(
            parse_upload(200, finished),
            Some(UploadState::Completed {
                rows: Some(1_782_332)
            })
        );
        // The failed upload of the list sample, as one upload's answer.
        let failed = r#"{"upload": {"createdAt": "2023-09-29T17:58:45Z", "dataSetId": "mydataset",
            "dataSource": {"s3Bucket": "mybucket", "s3ObjectKey": "filename.csv.gz"},
            "instanceId": "myInstance", "message": "No such file or directory 'mybucket'",
            "metrics": {}, "status": "FAILED", "updatedAt": "2023-09-29T18:04:26Z",
            "uploadId": "a11aa11a-5678-5678-5678-ee6555eee5e5"}}"#;
        assert_eq!(
            parse_upload(200, failed),
            Some(UploadState::Failed {
                reason: Some("No such file or directory 'mybucket'".into())
            })
        );
        // advertiser-data-upload.md's samples: PENDING, then COMPLETED.
        assert_eq!(
            parse_upload_id(200, r#"{"status":"PENDING","uploadId":"u1"}"#).as_deref(),
            Some("u1")
        );
        assert_eq!(
            parse_upload(
                200,
                r#"{"upload":{"createdAt":"2023-09-29T17:36:32Z","metrics":{"OutputRowCount":1782332},"status":"COMPLETED","updatedAt":"2023-09-29T17:51:30Z","uploadId":"2dd474b2-1234-1234-1234-eafe9ccc216c"}}"#
            ),
            Some(UploadState::Completed {
                rows: Some(1_782_332)
            })
        );
        for running in ["SUBMITTED", "IN_PROGRESS", "PENDING"] {
            let body = format!(r#"{{"upload":{{"status":"{running}"}}}}"#);
            assert_eq!(parse_upload(200, &body), Some(UploadState::Pending));
        }
        // Smallest answer: a status and nothing else.
        assert_eq!(
            parse_upload(200, r#"{"upload":{"status":"FAILED"}}"#),
            Some(UploadState::Failed { reason: None })
        );
        assert_eq!(parse_upload(200, "<html>Too Many Requests</html>"), None);
        assert_eq!(parse_upload(429, "{}"), None);
        assert!(
            valid_data_set_id("crm_de_v1") && !valid_data_set_id("CRM") && !valid_data_set_id("1x")
        );
        assert_eq!(hashed_pii_type(Field::Postal), Some("ZIP"));
        assert_eq!(hashed_pii_type(Field::Maid), None);
        assert_eq!(
            external_user_id_type(Field::Maid),
            Some(json!({"externalIdentity": "MAID"}))
        );
        assert_eq!(
            external_user_id_type(Field::RampId),
            Some(json!({"externalIdentity": "LIVERAMP"}))
        );
        assert_eq!(
            external_user_id_type(Field::Email),
            Some(json!({"hashedPii": "EMAIL"}))
        );
        assert_eq!(external_user_id_type(Field::MatchId), None);
    }
}
