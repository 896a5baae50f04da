//! AMC advertiser data upload (section A6): the tables and types shared by its three jobs,
//! data set definitions (`adu/data_sets.rs`), upload requests (`adu/uploads.rs`) and the
//! validation of the CSV objects an upload reads from the emulated S3 (`adu/validation.rs`).
//!
//! Pure functions, like [`crate::audience`]. Messages name the field, the column and the
//! row, never a value: the objects hold hashed PII, and a faulty one may hold raw PII.

use serde_json::Value;

use crate::check::{self, Checker, FieldError};
use crate::codes;
use crate::state::ObjectRef;

/// Most data sets one AMC instance may hold (section A6).
pub(crate) const MAX_DATA_SETS: usize = 5_000;
/// Longest `dataSetId`.
const MAX_DATA_SET_ID: usize = 128;
/// Longest S3 object key (S3's own limit, in bytes).
pub(crate) const MAX_S3_KEY: usize = 1024;

/// `externalUserIdType.hashedPii` values: the ADU guide's hashed identifier columns, spelled
/// as `matchkey amc prepare` writes them (`ZIP` for the postal code).
pub(crate) const HASHED_PII_TYPES: &[&str] = &[
    "EMAIL",
    "PHONE",
    "FIRST_NAME",
    "LAST_NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "ZIP",
];
/// Column `dataType` values.
pub(crate) const DATA_TYPES: &[&str] =
    &["STRING", "DECIMAL", "INTEGER", "LONG", "TIMESTAMP", "DATE"];
/// Column `columnType` values.
pub(crate) const COLUMN_TYPES: &[&str] = &["DIMENSION", "METRIC"];
/// Column `consentType` values. `advertiser-data-sets.md` disagrees with itself: its table
/// lists `TCF`, `GPP_String` and `ACS`, its sample constructs `TCF`, `GPP`, and for ACS
/// `amzn_ad_storage` / `amzn_user_data`. Every spelling is taken.
pub(crate) const CONSENT_TYPES: &[&str] = &[
    "TCF",
    "GPP",
    "GPP_String",
    "ACS",
    "amzn_ad_storage",
    "amzn_user_data",
];
/// `externalUserIdType.externalIdentity` values: the "External identifier column options"
/// of `advertiser-data-prepare-data.md` (MAID, LiveRamp RampID, Experian).
pub(crate) const EXTERNAL_IDENTITIES: &[&str] = &["MAID", "LIVERAMP", "EXPERIAN"];
/// Data set `period` values: the partitions the ADU guide lists (hourly, daily, monthly).
/// Emulator choice: no other ISO 8601 duration is taken.
pub(crate) const PERIODS: &[&str] = &["PT1H", "P1D", "P1M"];
/// Upload `updateStrategy` values.
pub(crate) const UPDATE_STRATEGIES: &[&str] = &[
    "ADDITIVE",
    "FULL_REPLACE",
    "OVERLAP_REPLACE",
    "OVERLAP_KEEP",
];
/// Upload `compressionFormat` values (the ADU guide: BZIP, GZIP, ZIP, SNAPPY or NONE).
pub(crate) const COMPRESSION_FORMATS: &[&str] = &["NONE", "GZIP", "BZIP", "ZIP", "SNAPPY"];
/// `fileFormat.jsonDataFormat` values.
pub(crate) const JSON_FORMATS: &[&str] = &["LINES", "DOCUMENT"];

const DATA_SET_FIELDS: &[&str] = &[
    "dataSetId",
    "period",
    "countryCode",
    "description",
    "columns",
];
const COLUMN_FIELDS: &[&str] = &[
    "name",
    "description",
    "dataType",
    "columnType",
    "nullable",
    "externalUserIdType",
    "isMainEventTime",
    "isCountryCode",
    "isMainUserId",
    "isMainUserIdType",
    "consentType",
];
/// Top-level fields of an upload request.
pub(crate) const UPLOAD_FIELDS: &[&str] = &[
    "updateStrategy",
    "countryCode",
    "compressionFormat",
    "dataSource",
    "fileFormat",
];
/// The data source's object keys: the upload page's three (`advertiser-data-upload.md`),
/// and the examples page's spellings of the first two (`s3ObjectKey`, `s3PrefixKey`).
const SOURCE_KEYS: &[&str] = &[
    "sourceFileS3Key",
    "sourceS3Prefix",
    "sourceManifestS3Key",
    "s3ObjectKey",
    "s3PrefixKey",
];
/// The bucket: `sourceS3Bucket` (upload page, and the examples' first sample) or
/// `s3Bucket` (the examples' prefix sample). Exactly one.
const BUCKET_KEYS: &[&str] = &["sourceS3Bucket", "s3Bucket"];

/// A data set column as the CSV check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SchemaColumn {
    name: String,
    data_type: String,
    nullable: bool,
    hashed_pii: bool,
    country: bool,
    consent: bool,
}

/// A validated data set definition, for checking uploaded rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    columns: Vec<SchemaColumn>,
    country: Option<String>,
}

/// Where an upload reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `sourceFileS3Key`: one object.
    File(String),
    /// `sourceS3Prefix`: every object whose key starts with it.
    Prefix(String),
    /// `sourceManifestS3Key`: a manifest listing the objects.
    Manifest(String),
}

/// A validated upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadRequest {
    pub(crate) bucket: String,
    pub(crate) source: Source,
    compressed: bool,
    csv: bool,
    delimiter: u8,
    country: Option<String>,
}

/// `^[a-z0-9_]{1,128}$`
pub(crate) fn is_data_set_id(id: &str) -> bool {
    (1..=MAX_DATA_SET_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// S3's bucket naming rules: 3–63 characters of `[a-z0-9.-]`, starting and ending with a
/// letter or digit.
pub(crate) fn is_bucket_name(bucket: &str) -> bool {
    let bytes = bucket.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Checks an optional `countryCode`.
fn check_country(checker: &mut Checker, value: Option<&Value>, field: &str) {
    if let Some(code) = checker.string(value, field, false)
        && !codes::is_alpha2(code)
    {
        checker.push(
            check::IS_INVALID,
            field,
            "countryCode must be an ISO 3166-1 alpha-2 code in uppercase",
        );
    }
}

mod data_sets;
mod uploads;
mod validation;

pub use data_sets::validate_data_set;
pub use uploads::validate_upload;
pub(crate) use validation::run_upload;
#[cfg(test)]
use validation::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    const DIGEST: &str = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d";

    /// The spec's example (section A6).
    fn data_set() -> Value {
        json!({"dataSet": {
            "dataSetId": "site_purchases_v1",
            "period": "P1D",
            "countryCode": "DE",
            "description": "Hashed website purchases with TCF consent",
            "columns": [
                {"name": "hashed_email", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true, "externalUserIdType": {"hashedPii": "EMAIL"}},
                {"name": "event_time", "dataType": "TIMESTAMP", "columnType": "DIMENSION", "isMainEventTime": true},
                {"name": "order_value", "dataType": "DECIMAL", "columnType": "METRIC"},
                {"name": "tcf_string", "dataType": "STRING", "columnType": "DIMENSION", "consentType": "TCF"}
            ]
        }})
    }

    /// What `matchkey amc prepare` writes (src/bin/matchkey/amc.rs, `dataset_definition`).
    fn prepared() -> Value {
        let pii = |name: &str, pii: &str| json!({"name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true, "externalUserIdType": {"hashedPii": pii}});
        json!({"dataSet": {
            "dataSetId": "customers",
            "description": "Hashed first-party customer data prepared by matchkey",
            "columns": [
                {"name": "customer_id", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true},
                pii("email", "EMAIL"), pii("phone", "PHONE"), pii("first", "FIRST_NAME"),
                pii("last", "LAST_NAME"), pii("street", "ADDRESS"), pii("city", "CITY"),
                pii("state", "STATE"), pii("zip", "ZIP"),
                {"name": "maid", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true},
                {"name": "country", "dataType": "STRING", "columnType": "DIMENSION", "nullable": true, "isCountryCode": true}
            ]
        }})
    }

    fn upload() -> Value {
        json!({
            "updateStrategy": "ADDITIVE",
            "countryCode": "US",
            "compressionFormat": "NONE",
            "dataSource": {"sourceS3Bucket": "acme-amc-upload", "sourceFileS3Key": "customers.csv"},
            "fileFormat": {"csvDataFormat": {"fieldDelimiter": ","}}
        })
    }

    fn locations(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field_location).collect()
    }

    fn edited(mut value: Value, edit: impl FnOnce(&mut Value)) -> Value {
        edit(&mut value);
        value
    }

    fn column(position: usize, edit: impl FnOnce(&mut Value)) -> Value {
        edited(data_set(), |d| edit(&mut d["dataSet"]["columns"][position]))
    }

    #[test]
    fn documented_and_prepared_data_sets_are_accepted() {
        assert_eq!(validate_data_set(&data_set()), []);
        assert_eq!(validate_data_set(&prepared()), []);
    }

    #[test]
    fn data_set_ids_are_lowercase_digits_and_underscores() {
        for id in ["Site_purchases", "site-purchases", "site purchases", ""] {
            let bad = edited(data_set(), |d| d["dataSet"]["dataSetId"] = json!(id));
            assert_eq!(
                locations(validate_data_set(&bad)),
                ["dataSet.dataSetId"],
                "{id}"
            );
        }
        let long = edited(data_set(), |d| {
            d["dataSet"]["dataSetId"] = json!("a".repeat(129))
        });
        assert_eq!(locations(validate_data_set(&long)), ["dataSet.dataSetId"]);
        assert!(is_data_set_id(&"a".repeat(128)) && is_data_set_id("2026_x"));
    }

    #[test]
    fn data_set_fields_are_checked() {
        let period = edited(data_set(), |d| d["dataSet"]["period"] = json!("P1W"));
        assert_eq!(locations(validate_data_set(&period)), ["dataSet.period"]);
        for period in PERIODS {
            let ok = edited(data_set(), |d| d["dataSet"]["period"] = json!(period));
            assert_eq!(validate_data_set(&ok), []);
        }
        let country = edited(data_set(), |d| d["dataSet"]["countryCode"] = json!("UK"));
        assert_eq!(
            locations(validate_data_set(&country)),
            ["dataSet.countryCode"]
        );
        let unknown = edited(data_set(), |d| d["dataSet"]["fileFormat"] = json!("CSV"));
        assert_eq!(
            locations(validate_data_set(&unknown)),
            ["dataSet.fileFormat"]
        );
        let bare = edited(data_set(), |d| d["extra"] = json!(1));
        assert_eq!(locations(validate_data_set(&bare)), ["extra"]);
        let empty = edited(data_set(), |d| d["dataSet"]["columns"] = json!([]));
        assert_eq!(locations(validate_data_set(&empty)), ["dataSet.columns"]);
        assert_eq!(locations(validate_data_set(&json!({}))), ["dataSet"]);
    }

    #[test]
    fn columns_need_name_data_type_and_column_type() {
        let missing = column(2, |c| *c = json!({"name": "x"}));
        assert_eq!(
            locations(validate_data_set(&missing)),
            [
                "dataSet.columns[2].dataType",
                "dataSet.columns[2].columnType"
            ]
        );
        let nameless = column(2, |c| {
            c.as_object_mut().unwrap().remove("name");
        });
        assert_eq!(
            locations(validate_data_set(&nameless)),
            ["dataSet.columns[2].name"]
        );
        let data_type = column(2, |c| c["dataType"] = json!("FLOAT"));
        assert_eq!(
            locations(validate_data_set(&data_type)),
            ["dataSet.columns[2].dataType"]
        );
        let column_type = column(2, |c| c["columnType"] = json!("FACT"));
        assert_eq!(
            locations(validate_data_set(&column_type)),
            ["dataSet.columns[2].columnType"]
        );
        let unknown = column(2, |c| c["isNullable"] = json!(true));
        assert_eq!(
            locations(validate_data_set(&unknown)),
            ["dataSet.columns[2].isNullable"]
        );
        let flag = column(2, |c| c["nullable"] = json!("yes"));
        assert_eq!(
            locations(validate_data_set(&flag)),
            ["dataSet.columns[2].nullable"]
        );
        let twice = column(2, |c| c["name"] = json!("hashed_email"));
        assert_eq!(
            locations(validate_data_set(&twice)),
            ["dataSet.columns[2].name"]
        );
        for data_type in DATA_TYPES {
            let ok = column(2, |c| c["dataType"] = json!(data_type));
            assert_eq!(validate_data_set(&ok), [], "{data_type}");
        }
    }

    #[test]
    fn hashed_pii_types_are_those_matchkey_writes() {
        for pii in HASHED_PII_TYPES {
            let ok = column(0, |c| c["externalUserIdType"]["hashedPii"] = json!(pii));
            assert_eq!(validate_data_set(&ok), [], "{pii}");
        }
        for pii in ["POSTAL_CODE", "POSTAL", "email", "MAID"] {
            let bad = column(0, |c| c["externalUserIdType"]["hashedPii"] = json!(pii));
            assert_eq!(
                locations(validate_data_set(&bad)),
                ["dataSet.columns[0].externalUserIdType.hashedPii"],
                "{pii}"
            );
        }
        let other_key = column(0, |c| {
            c["externalUserIdType"] = json!({"identityType": "MAID"})
        });
        assert_eq!(
            locations(validate_data_set(&other_key)),
            [
                "dataSet.columns[0].externalUserIdType.identityType",
                "dataSet.columns[0].externalUserIdType"
            ]
        );
        // MAID and RampID columns: `externalIdentity` (prepare-data's external identifiers).
        for identity in EXTERNAL_IDENTITIES {
            let ok = column(0, |c| {
                c["externalUserIdType"] = json!({ "externalIdentity": identity })
            });
            assert_eq!(validate_data_set(&ok), [], "{identity}");
        }
        let ramp = column(0, |c| {
            c["externalUserIdType"] = json!({"externalIdentity": "RAMP_ID"})
        });
        assert_eq!(
            locations(validate_data_set(&ramp)),
            ["dataSet.columns[0].externalUserIdType.externalIdentity"]
        );
        let both = column(0, |c| {
            c["externalUserIdType"] = json!({"hashedPii": "EMAIL", "externalIdentity": "MAID"})
        });
        assert_eq!(
            locations(validate_data_set(&both)),
            ["dataSet.columns[0].externalUserIdType"]
        );
        let numeric = column(0, |c| c["dataType"] = json!("LONG"));
        assert_eq!(
            locations(validate_data_set(&numeric)),
            ["dataSet.columns[0].dataType"]
        );
    }

    #[test]
    fn at_most_one_main_event_time_and_country_column() {
        let two_times = column(
            2,
            |c| *c = json!({"name": "ship_date", "dataType": "DATE", "columnType": "DIMENSION", "isMainEventTime": true}),
        );
        assert_eq!(
            locations(validate_data_set(&two_times)),
            ["dataSet.columns[2].isMainEventTime"]
        );
        let string_time = column(1, |c| c["dataType"] = json!("STRING"));
        assert_eq!(
            locations(validate_data_set(&string_time)),
            ["dataSet.columns[1].dataType"]
        );
        let date_time = column(1, |c| c["dataType"] = json!("DATE"));
        assert_eq!(validate_data_set(&date_time), []);
        let country = |name: &str| json!({"name": name, "dataType": "STRING", "columnType": "DIMENSION", "isCountryCode": true});
        let two_countries = edited(data_set(), |d| {
            let columns = d["dataSet"]["columns"].as_array_mut().unwrap();
            columns.push(country("country"));
            columns.push(country("country_2"));
        });
        assert_eq!(
            locations(validate_data_set(&two_countries)),
            ["dataSet.columns[5].isCountryCode"]
        );
    }

    #[test]
    fn consent_types_and_uk_eea_consent_columns() {
        for consent in CONSENT_TYPES {
            let ok = column(3, |c| c["consentType"] = json!(consent));
            assert_eq!(validate_data_set(&ok), [], "{consent}");
        }
        let bad = column(3, |c| c["consentType"] = json!("GPP_STRING"));
        assert_eq!(
            locations(validate_data_set(&bad)),
            ["dataSet.columns[3].consentType"]
        );
        let without = edited(data_set(), |d| {
            d["dataSet"]["columns"].as_array_mut().unwrap().pop();
        });
        assert_eq!(locations(validate_data_set(&without)), ["dataSet.columns"]);
        let us = edited(without, |d| d["dataSet"]["countryCode"] = json!("US"));
        assert_eq!(validate_data_set(&us), []);
    }

    #[test]
    fn documented_upload_is_accepted() {
        assert_eq!(validate_upload(&upload()), []);
        // Every upload sample of the ADU guide, verbatim (adu-examples.md twice, then
        // advertiser-data-upload.md).
        for sample in [
            json!({"updateStrategy": "ADDITIVE", "compressionFormat": "GZIP",
                "dataSource": {"sourceS3Bucket": "mys3bucket", "s3ObjectKey": "filename.csv.gz"},
                "fileFormat": {"csvDataFormat": {}}}),
            json!({"updateStrategy": "ADDITIVE", "compressionFormat": "GZIP",
                "dataSource": {"s3Bucket": "mys3bucket", "s3PrefixKey": "mys3prefix"},
                "fileFormat": {"csvDataFormat": {}}}),
            json!({"updateStrategy": "ADDITIVE", "countryCode": "US", "compressionFormat": "GZIP",
                "dataSource": {"sourceS3Bucket": "S3Bucket", "sourceFileS3Key": "S3Key"},
                "fileFormat": {"csvDataFormat": {"fieldDelimiter": ","}}}),
        ] {
            // The upload page's bucket `S3Bucket` is a placeholder S3 refuses (uppercase).
            let expected: Vec<String> = if sample["dataSource"]["sourceS3Bucket"] == "S3Bucket" {
                vec!["dataSource.sourceS3Bucket".into()]
            } else {
                vec![]
            };
            assert_eq!(locations(validate_upload(&sample)), expected, "{sample}");
        }
        // prepare-data.md's CSV options sample and its TSV one.
        let options = edited(upload(), |u| {
            u["fileFormat"] = json!({"csvDataFormat": {"recordDelimiter": "\n",
                "quoteEscapeCharacter": "\"\"", "quoteCharacter": "\"",
                "fieldDelimiter": ",", "commentCharacter": "#"}})
        });
        assert_eq!(validate_upload(&options), []);
        let tsv = edited(upload(), |u| {
            u["fileFormat"] = json!({"csvDataFormat": {"fieldDelimiter": "\t"}})
        });
        assert_eq!(validate_upload(&tsv), []);
        let spec = json!({
            "updateStrategy": "ADDITIVE",
            "countryCode": "DE",
            "compressionFormat": "GZIP",
            "dataSource": {"sourceS3Bucket": "acme-amc-upload", "sourceFileS3Key": "site_purchases/2026-09-01.csv.gz"},
            "fileFormat": {"csvDataFormat": {"fieldDelimiter": ","}}
        });
        assert_eq!(validate_upload(&spec), []);
        let lines = edited(upload(), |u| {
            u["fileFormat"] = json!({"jsonDataFormat": "LINES"})
        });
        assert_eq!(validate_upload(&lines), []);
    }

    #[test]
    fn upload_enums_are_checked() {
        let strategy = edited(upload(), |u| u["updateStrategy"] = json!("APPEND"));
        assert_eq!(locations(validate_upload(&strategy)), ["updateStrategy"]);
        let missing = edited(upload(), |u| {
            u.as_object_mut().unwrap().remove("updateStrategy");
        });
        assert_eq!(locations(validate_upload(&missing)), ["updateStrategy"]);
        let no_compression = edited(upload(), |u| {
            u.as_object_mut().unwrap().remove("compressionFormat");
        });
        assert_eq!(
            locations(validate_upload(&no_compression)),
            ["compressionFormat"]
        );
        for format in COMPRESSION_FORMATS {
            let ok = edited(upload(), |u| u["compressionFormat"] = json!(format));
            assert_eq!(validate_upload(&ok), [], "{format}");
        }
        let bzip2 = edited(upload(), |u| u["compressionFormat"] = json!("BZIP2"));
        assert_eq!(locations(validate_upload(&bzip2)), ["compressionFormat"]);
        let country = edited(upload(), |u| u["countryCode"] = json!("us"));
        assert_eq!(locations(validate_upload(&country)), ["countryCode"]);
        let unknown = edited(upload(), |u| u["dataSetId"] = json!("x"));
        assert_eq!(locations(validate_upload(&unknown)), ["dataSetId"]);
    }

    #[test]
    fn upload_sources_name_exactly_one_object_set() {
        let two = edited(upload(), |u| {
            u["dataSource"]["sourceS3Prefix"] = json!("site/")
        });
        assert_eq!(locations(validate_upload(&two)), ["dataSource"]);
        let none = edited(upload(), |u| {
            u["dataSource"] = json!({"sourceS3Bucket": "acme-amc-upload"})
        });
        assert_eq!(locations(validate_upload(&none)), ["dataSource"]);
        for bucket in ["Acme", "ab", "acme_upload", "-acme", "s3://acme"] {
            let bad = edited(upload(), |u| {
                u["dataSource"]["sourceS3Bucket"] = json!(bucket)
            });
            assert_eq!(
                locations(validate_upload(&bad)),
                ["dataSource.sourceS3Bucket"],
                "{bucket}"
            );
        }
        let long = edited(upload(), |u| {
            u["dataSource"]["sourceFileS3Key"] = json!("k".repeat(1025))
        });
        assert_eq!(
            locations(validate_upload(&long)),
            ["dataSource.sourceFileS3Key"]
        );
        let missing = edited(upload(), |u| {
            u.as_object_mut().unwrap().remove("dataSource");
        });
        assert_eq!(locations(validate_upload(&missing)), ["dataSource"]);
    }

    #[test]
    fn upload_file_formats_are_checked() {
        let both = edited(upload(), |u| {
            u["fileFormat"]["jsonDataFormat"] = json!("LINES")
        });
        assert_eq!(locations(validate_upload(&both)), ["fileFormat"]);
        let json_kind = edited(upload(), |u| {
            u["fileFormat"] = json!({"jsonDataFormat": "ARRAY"})
        });
        assert_eq!(
            locations(validate_upload(&json_kind)),
            ["fileFormat.jsonDataFormat"]
        );
        for delimiter in [",,", "\"", "\n", "é", ""] {
            let bad = edited(upload(), |u| {
                u["fileFormat"]["csvDataFormat"]["fieldDelimiter"] = json!(delimiter)
            });
            assert_eq!(
                locations(validate_upload(&bad)),
                ["fileFormat.csvDataFormat.fieldDelimiter"],
                "{delimiter:?}"
            );
        }
        let quote = edited(upload(), |u| {
            u["fileFormat"]["csvDataFormat"]["quoteCharacter"] = json!("'")
        });
        let unknown = edited(upload(), |u| {
            u["fileFormat"]["csvDataFormat"]["escape"] = json!("\\")
        });
        assert_eq!(
            locations(validate_upload(&unknown)),
            ["fileFormat.csvDataFormat.escape"]
        );
        assert_eq!(
            locations(validate_upload(&quote)),
            ["fileFormat.csvDataFormat.quoteCharacter"]
        );
        let parquet = edited(upload(), |u| {
            u["fileFormat"] = json!({"parquetDataFormat": "PARQUET_DATA_FORMAT"})
        });
        assert_eq!(
            locations(validate_upload(&parquet)),
            ["fileFormat.parquetDataFormat", "fileFormat"]
        );
    }

    /// Runs `csv` (under `customers.csv`) against the prepared data set.
    fn run_prepared(csv: &str, edit: impl FnOnce(&mut Value)) -> Result<u64, String> {
        let schema = Schema::from_data_set(&prepared()["dataSet"]);
        let request = UploadRequest::from_body(&edited(upload(), edit));
        let mut store = BTreeMap::new();
        store.insert(
            ("acme-amc-upload".to_owned(), "customers.csv".to_owned()),
            csv.as_bytes().to_vec(),
        );
        run_upload(&schema, &request, &store).0
    }

    const HEADER: &str = "customer_id,email,phone,first,last,street,city,state,zip,maid,country";

    fn row(email: &str, country: &str) -> String {
        format!("c1,{email},{DIGEST},,,,,,{DIGEST},ab-12,{country}")
    }

    #[test]
    fn hashed_csv_rows_are_counted() {
        let csv = format!("{HEADER}\n{}\n{}\n", row(DIGEST, "US"), row("", ""));
        assert_eq!(run_prepared(&csv, |_| {}), Ok(2));
        let reordered = format!(
            "country,maid,zip,state,city,street,last,first,phone,email,customer_id\nUS,,,,,,,,,{DIGEST},c1\n"
        );
        assert_eq!(run_prepared(&reordered, |_| {}), Ok(1));
        let tabs = format!(
            "{}\n{}\n",
            HEADER.replace(',', "\t"),
            row(DIGEST, "US").replace(',', "\t")
        );
        assert_eq!(
            run_prepared(
                &tabs,
                |u| u["fileFormat"]["csvDataFormat"]["fieldDelimiter"] = json!("\t")
            ),
            Ok(1)
        );
    }

    #[test]
    fn raw_pii_fails_the_upload_without_quoting_it() {
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row(DIGEST, "US"),
            row("jane@example.com", "US")
        );
        let reason = run_prepared(&csv, |_| {}).unwrap_err();
        assert!(reason.contains("row 2 (line 3)"), "{reason}");
        assert!(reason.contains("'email'"), "{reason}");
        assert!(!reason.contains("jane"), "{reason}");
        let upper = format!("{HEADER}\n{}\n", row(&DIGEST.to_uppercase(), "US"));
        assert!(
            run_prepared(&upper, |_| {})
                .unwrap_err()
                .contains("'email'")
        );
    }

    #[test]
    fn header_must_hold_exactly_the_data_set_columns() {
        let missing = format!("{}\n", HEADER.replace(",maid", ""));
        let reason = run_prepared(&missing, |_| {}).unwrap_err();
        assert!(reason.contains("no column 'maid'"), "{reason}");
        let headerless = format!("{}\n", row("jane@example.com", "US"));
        let reason = run_prepared(&headerless, |_| {}).unwrap_err();
        assert!(reason.contains("header column 1"), "{reason}");
        assert!(!reason.contains("jane"), "{reason}");
        let repeated = format!("{HEADER},email\n");
        assert!(
            run_prepared(&repeated, |_| {})
                .unwrap_err()
                .contains("repeats")
        );
        assert!(
            run_prepared("", |_| {})
                .unwrap_err()
                .contains("no header row")
        );
        let header_only = format!("{HEADER}\n");
        assert!(
            run_prepared(&header_only, |_| {})
                .unwrap_err()
                .contains("no data rows")
        );
    }

    #[test]
    fn country_cells_are_uppercase_iso_codes() {
        for country in ["us", "UK", "USA", "ZZ"] {
            let csv = format!("{HEADER}\n{}\n", row(DIGEST, country));
            let reason = run_prepared(&csv, |_| {}).unwrap_err();
            assert!(reason.contains("'country'"), "{country}: {reason}");
        }
    }

    #[test]
    fn uk_eea_rows_need_consent() {
        // The prepared data set has no consent column, so a German row fails…
        let csv = format!("{HEADER}\n{}\n", row(DIGEST, "DE"));
        assert!(run_prepared(&csv, |_| {}).unwrap_err().contains("consent"));
        // …and so does a row without a country in a German upload.
        let csv = format!("{HEADER}\n{}\n", row(DIGEST, ""));
        assert!(
            run_prepared(&csv, |u| u["countryCode"] = json!("DE"))
                .unwrap_err()
                .contains("consent")
        );
        let schema = Schema::from_data_set(&data_set()["dataSet"]);
        // The data set's country (DE) applies when neither row nor upload names one.
        let request = UploadRequest::from_body(&edited(upload(), |u| {
            u.as_object_mut().unwrap().remove("countryCode");
        }));
        let mut store = BTreeMap::new();
        let key = ("acme-amc-upload".to_owned(), "customers.csv".to_owned());
        let header = "hashed_email,event_time,order_value,tcf_string";
        store.insert(
            key.clone(),
            format!("{header}\n{DIGEST},2026-09-01T10:15:30Z,129.90,CQHc\n").into_bytes(),
        );
        assert_eq!(run_upload(&schema, &request, &store).0, Ok(1));
        store.insert(
            key,
            format!("{header}\n{DIGEST},2026-09-01T10:15:30Z,129.90,\n").into_bytes(),
        );
        assert!(
            run_upload(&schema, &request, &store)
                .0
                .unwrap_err()
                .contains("consent")
        );
    }

    #[test]
    fn typed_cells_must_fit_their_data_type() {
        assert!(fits("INTEGER", "-2147483648") && !fits("INTEGER", "2147483648"));
        assert!(fits("LONG", "1233454565875646") && !fits("LONG", "1.5"));
        assert!(fits("DECIMAL", "123.45") && fits("DECIMAL", "-7") && fits("DECIMAL", "0.5"));
        assert!(!fits("DECIMAL", "123.456") && !fits("DECIMAL", "1e3") && !fits("DECIMAL", ".5"));
        assert!(fits("TIMESTAMP", "2022-08-02T08:00:00Z"));
        assert!(
            !fits("TIMESTAMP", "2022-08-02T08:00:00+02:00")
                && !fits("TIMESTAMP", "2022-08-02 08:00:00")
        );
        assert!(!fits("TIMESTAMP", "2022-13-02T08:00:00Z"));
        assert!(
            fits("DATE", "2022-08-02")
                && !fits("DATE", "2022-02-30")
                && !fits("DATE", "02/08/2022")
        );
        assert!(fits("STRING", "anything"));
        let schema = Schema::from_data_set(&data_set()["dataSet"]);
        let mut store = BTreeMap::new();
        store.insert(
            ("acme-amc-upload".to_owned(), "customers.csv".to_owned()),
            format!("hashed_email,event_time,order_value,tcf_string\n{DIGEST},yesterday,1,CQHc\n")
                .into_bytes(),
        );
        let reason = run_upload(&schema, &UploadRequest::from_body(&upload()), &store)
            .0
            .unwrap_err();
        assert!(
            reason.contains("'event_time'") && reason.contains("TIMESTAMP"),
            "{reason}"
        );
        assert!(!reason.contains("yesterday"), "{reason}");
    }

    #[test]
    fn non_nullable_columns_need_values() {
        let mut definition = prepared();
        definition["dataSet"]["columns"][0]["nullable"] = json!(false);
        let schema = Schema::from_data_set(&definition["dataSet"]);
        let mut store = BTreeMap::new();
        store.insert(
            ("acme-amc-upload".to_owned(), "customers.csv".to_owned()),
            format!("{HEADER}\n{}\n", row(DIGEST, "US").replacen("c1", "", 1)).into_bytes(),
        );
        let reason = run_upload(&schema, &UploadRequest::from_body(&upload()), &store)
            .0
            .unwrap_err();
        assert!(
            reason.contains("'customer_id'") && reason.contains("not nullable"),
            "{reason}"
        );
    }

    #[test]
    fn malformed_csv_fails_with_its_row() {
        let short = format!("{HEADER}\n{}\nc2,{DIGEST}\n", row(DIGEST, "US"));
        let reason = run_prepared(&short, |_| {}).unwrap_err();
        assert!(
            reason.contains("row 2 (line 3)") && reason.contains("2 fields"),
            "{reason}"
        );
        let mut latin1 = format!("{HEADER}\n").into_bytes();
        latin1.extend_from_slice(b"caf\xe9,,,,,,,,,,US\n");
        let schema = Schema::from_data_set(&prepared()["dataSet"]);
        let mut store = BTreeMap::new();
        store.insert(
            ("acme-amc-upload".to_owned(), "customers.csv".to_owned()),
            latin1,
        );
        let reason = run_upload(&schema, &UploadRequest::from_body(&upload()), &store)
            .0
            .unwrap_err();
        assert!(reason.contains("not UTF-8"), "{reason}");
    }

    #[test]
    fn missing_objects_and_unemulated_formats_fail_the_upload() {
        let schema = Schema::from_data_set(&prepared()["dataSet"]);
        let mut store = BTreeMap::new();
        let request = UploadRequest::from_body(&upload());
        let (result, objects) = run_upload(&schema, &request, &store);
        assert_eq!(
            result,
            Err("s3://acme-amc-upload/customers.csv does not exist.".to_owned())
        );
        assert!(objects.is_empty());
        store.insert(
            ("acme-amc-upload".to_owned(), "customers.csv".to_owned()),
            format!("{HEADER}\n{}\n", row(DIGEST, "US")).into_bytes(),
        );
        let gzip = UploadRequest::from_body(&edited(upload(), |u| {
            u["compressionFormat"] = json!("GZIP")
        }));
        assert!(
            run_upload(&schema, &gzip, &store)
                .0
                .unwrap_err()
                .contains("uncompressed")
        );
        let none = UploadRequest::from_body(&edited(upload(), |u| {
            u["compressionFormat"] = json!("NONE")
        }));
        assert_eq!(run_upload(&schema, &none, &store).0, Ok(1));
        let json_lines = UploadRequest::from_body(&edited(upload(), |u| {
            u["fileFormat"] = json!({"jsonDataFormat": "LINES"})
        }));
        assert!(
            run_upload(&schema, &json_lines, &store)
                .0
                .unwrap_err()
                .contains("CSV")
        );
        let manifest = UploadRequest::from_body(&edited(upload(), |u| {
            u["dataSource"] =
                json!({"sourceS3Bucket": "acme-amc-upload", "sourceManifestS3Key": "customers.csv"})
        }));
        assert!(
            run_upload(&schema, &manifest, &store)
                .0
                .unwrap_err()
                .contains("Manifest")
        );
        let missing_manifest = UploadRequest::from_body(&edited(upload(), |u| {
            u["dataSource"] =
                json!({"sourceS3Bucket": "acme-amc-upload", "sourceManifestS3Key": "m.json"})
        }));
        assert!(
            run_upload(&schema, &missing_manifest, &store)
                .0
                .unwrap_err()
                .contains("m.json")
        );
    }

    #[test]
    fn a_prefix_reads_every_object_under_it() {
        let schema = Schema::from_data_set(&prepared()["dataSet"]);
        let part = format!("{HEADER}\n{}\n{}\n", row(DIGEST, "US"), row(DIGEST, "CA"));
        let mut store = BTreeMap::new();
        for key in ["daily/1.csv", "daily/2.csv", "daily/", "other/3.csv"] {
            let bytes = if key.ends_with('/') {
                Vec::new()
            } else {
                part.clone().into_bytes()
            };
            store.insert(("acme-amc-upload".to_owned(), key.to_owned()), bytes);
        }
        store.insert(
            ("acme-other".to_owned(), "daily/9.csv".to_owned()),
            b"junk".to_vec(),
        );
        let prefix = |prefix: &str| {
            UploadRequest::from_body(&edited(upload(), |u| {
                u["dataSource"] =
                    json!({"sourceS3Bucket": "acme-amc-upload", "sourceS3Prefix": prefix})
            }))
        };
        let (result, objects) = run_upload(&schema, &prefix("daily/"), &store);
        assert_eq!(result, Ok(4));
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["daily/1.csv", "daily/2.csv"]);
        let reason = run_upload(&schema, &prefix("weekly/"), &store)
            .0
            .unwrap_err();
        assert!(reason.contains("s3://acme-amc-upload/weekly/"), "{reason}");
    }
}
