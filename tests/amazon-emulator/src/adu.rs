//! AMC advertiser data upload (section A6): data set definitions, upload requests, and the
//! CSV objects an upload reads from the emulated S3.
//!
//! Pure functions, like [`crate::audience`]. Messages name the field, the column and the
//! row, never a value: the objects hold hashed PII, and a faulty one may hold raw PII.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

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

/// Validates a `POST /amc/advertiserData/{instanceId}/dataSets` body.
pub fn validate_data_set(body: &Value) -> Vec<FieldError> {
    let mut checker = Checker::new("");
    let Some(body) = checker.object(Some(body), "", true, &["dataSet"]) else {
        return checker.into_errors();
    };
    let Some(data_set) = checker.object(body.get("dataSet"), "dataSet", true, DATA_SET_FIELDS)
    else {
        return checker.into_errors();
    };
    if let Some(id) = checker.string(data_set.get("dataSetId"), "dataSet.dataSetId", true)
        && !is_data_set_id(id)
    {
        checker.push(
            check::INVALID_CHARACTERS,
            "dataSet.dataSetId",
            "dataSetId must match ^[a-z0-9_]{1,128}$",
        );
    }
    checker.one_of(data_set.get("period"), "dataSet.period", false, PERIODS);
    let country = data_set.get("countryCode");
    check_country(&mut checker, country, "dataSet.countryCode");
    checker.string(data_set.get("description"), "dataSet.description", false);
    let Some(columns) = checker.array(
        data_set.get("columns"),
        "dataSet.columns",
        true,
        1,
        usize::MAX,
    ) else {
        return checker.into_errors();
    };
    let mut names = BTreeSet::new();
    let mut event_times = 0;
    let mut country_columns = 0;
    let mut consent_columns = 0;
    for (position, column) in columns.iter().enumerate() {
        let field = format!("dataSet.columns[{position}]");
        let Some(column) = checker.object(Some(column), &field, true, COLUMN_FIELDS) else {
            continue;
        };
        let flags = check_column(&mut checker, column, &field);
        if let Some(name) = flags.name
            && !names.insert(name)
        {
            checker.push(
                check::IS_INVALID,
                &format!("{field}.name"),
                "column names must be unique within a data set",
            );
        }
        if flags.main_event_time {
            event_times += 1;
            if event_times == 2 {
                checker.push(
                    check::IS_INVALID,
                    &format!("{field}.isMainEventTime"),
                    "at most one column may be the main event time",
                );
            }
        }
        if flags.country {
            country_columns += 1;
            if country_columns == 2 {
                checker.push(
                    check::IS_INVALID,
                    &format!("{field}.isCountryCode"),
                    "at most one column may be the country code",
                );
            }
        }
        consent_columns += usize::from(flags.consent);
    }
    // Section A6: UK/EEA records must carry consent. A data set whose country is one of
    // them therefore needs a consent column (rows may still name another country).
    if country
        .and_then(Value::as_str)
        .is_some_and(|code| codes::contains(codes::CONSENT_COUNTRIES, code))
        && consent_columns == 0
    {
        checker.push(
            check::IS_NULL,
            "dataSet.columns",
            "a UK/EEA data set needs a consent column (consentType)",
        );
    }
    checker.into_errors()
}

/// What one column declares, for the data-set-wide rules.
#[derive(Debug, Default)]
struct ColumnFlags<'v> {
    name: Option<&'v str>,
    main_event_time: bool,
    country: bool,
    consent: bool,
}

fn check_column<'v>(
    checker: &mut Checker,
    column: &'v Map<String, Value>,
    field: &str,
) -> ColumnFlags<'v> {
    let at = |name: &str| format!("{field}.{name}");
    let name = checker.string(column.get("name"), &at("name"), true);
    checker.string(column.get("description"), &at("description"), false);
    let data_type = checker.one_of(column.get("dataType"), &at("dataType"), true, DATA_TYPES);
    checker.one_of(
        column.get("columnType"),
        &at("columnType"),
        true,
        COLUMN_TYPES,
    );
    for flag in ["nullable", "isMainUserId", "isMainUserIdType"] {
        checker.boolean(column.get(flag), &at(flag), false);
    }
    let main_event_time = checker
        .boolean(column.get("isMainEventTime"), &at("isMainEventTime"), false)
        .unwrap_or(false);
    let country = checker
        .boolean(column.get("isCountryCode"), &at("isCountryCode"), false)
        .unwrap_or(false);
    checker.one_of(
        column.get("consentType"),
        &at("consentType"),
        false,
        CONSENT_TYPES,
    );
    // A consent column with a wrong type is one error, not two.
    let consent = column.contains_key("consentType");
    let id_type = checker.object(
        column.get("externalUserIdType"),
        &at("externalUserIdType"),
        false,
        &["hashedPii", "externalIdentity"],
    );
    let mut hashed_pii = false;
    let mut external_id = false;
    if let Some(id_type) = id_type {
        match (id_type.get("hashedPii"), id_type.get("externalIdentity")) {
            (Some(pii), None) => {
                hashed_pii = checker
                    .one_of(
                        Some(pii),
                        &at("externalUserIdType.hashedPii"),
                        true,
                        HASHED_PII_TYPES,
                    )
                    .is_some();
            }
            (None, Some(identity)) => {
                external_id = checker
                    .one_of(
                        Some(identity),
                        &at("externalUserIdType.externalIdentity"),
                        true,
                        EXTERNAL_IDENTITIES,
                    )
                    .is_some();
            }
            _ => checker.push(
                check::IS_INVALID,
                &at("externalUserIdType"),
                "externalUserIdType needs exactly one of hashedPii and externalIdentity",
            ),
        }
    }
    // Emulator choice: each role needs the data type its values have (the ADU guide: a fact
    // data set's main event time is a TIMESTAMP or DATE column; digests, country codes and
    // consent strings are text).
    if let Some(data_type) = data_type {
        let text_roles = [
            (hashed_pii || external_id, "externalUserIdType"),
            (country, "isCountryCode"),
            (consent, "consentType"),
        ];
        for (_, role) in text_roles.iter().filter(|(set, _)| *set) {
            if data_type != "STRING" {
                checker.push(
                    check::IS_INVALID,
                    &at("dataType"),
                    format!("a column with {role} must have dataType STRING"),
                );
            }
        }
        if main_event_time && !matches!(data_type, "TIMESTAMP" | "DATE") {
            checker.push(
                check::IS_INVALID,
                &at("dataType"),
                "the main event time column must have dataType TIMESTAMP or DATE",
            );
        }
    }
    ColumnFlags {
        name,
        main_event_time,
        country,
        consent,
    }
}

/// Validates a `POST /amc/advertiserData/{instanceId}/uploads/{dataSetId}` body.
pub fn validate_upload(body: &Value) -> Vec<FieldError> {
    let mut checker = Checker::new("");
    let Some(body) = checker.object(Some(body), "", true, UPLOAD_FIELDS) else {
        return checker.into_errors();
    };
    checker.one_of(
        body.get("updateStrategy"),
        "updateStrategy",
        true,
        UPDATE_STRATEGIES,
    );
    check_country(&mut checker, body.get("countryCode"), "countryCode");
    // Required: every upload sample of the ADU guide carries it (`NONE` for plain files).
    checker.one_of(
        body.get("compressionFormat"),
        "compressionFormat",
        true,
        COMPRESSION_FORMATS,
    );
    let mut known = BUCKET_KEYS.to_vec();
    known.extend_from_slice(SOURCE_KEYS);
    if let Some(source) = checker.object(body.get("dataSource"), "dataSource", true, &known) {
        let buckets: Vec<&str> = BUCKET_KEYS
            .iter()
            .copied()
            .filter(|key| source.contains_key(*key))
            .collect();
        let bucket_field = format!("dataSource.{}", buckets.first().unwrap_or(&BUCKET_KEYS[0]));
        if buckets.len() > 1 {
            checker.push(
                check::IS_INVALID,
                "dataSource",
                "dataSource needs one of sourceS3Bucket and s3Bucket, not both",
            );
        } else if let Some(bucket) = checker.string(
            buckets.first().and_then(|key| source.get(*key)),
            &bucket_field,
            true,
        ) && !is_bucket_name(bucket)
        {
            checker.push(
                check::INVALID_CHARACTERS,
                &bucket_field,
                "the bucket must be an S3 bucket name (3-63 of [a-z0-9.-])",
            );
        }
        let given: Vec<&str> = SOURCE_KEYS
            .iter()
            .copied()
            .filter(|key| source.contains_key(*key))
            .collect();
        if given.len() == 1 {
            let field = format!("dataSource.{}", given[0]);
            if let Some(key) = checker.string(source.get(given[0]), &field, true)
                && key.len() > MAX_S3_KEY
            {
                checker.push(
                    check::SIZE_ABOVE_MAXIMUM,
                    &field,
                    "an S3 key has at most 1024 bytes",
                );
            }
        } else {
            checker.push(
                check::IS_INVALID,
                "dataSource",
                "dataSource needs exactly one of sourceFileS3Key (or s3ObjectKey), sourceS3Prefix (or s3PrefixKey) and sourceManifestS3Key",
            );
        }
    }
    if let Some(format) = checker.object(
        body.get("fileFormat"),
        "fileFormat",
        true,
        &["csvDataFormat", "jsonDataFormat"],
    ) {
        match (format.get("csvDataFormat"), format.get("jsonDataFormat")) {
            (Some(csv), None) => {
                // `advertiser-data-prepare-data.md`'s CSV sample names five options. The
                // emulator reads only the field delimiter; the others are taken with the
                // sample's values (what its CSV reader does anyway) and refused otherwise.
                if let Some(csv) = checker.object(
                    Some(csv),
                    "fileFormat.csvDataFormat",
                    true,
                    &[
                        "fieldDelimiter",
                        "recordDelimiter",
                        "quoteCharacter",
                        "quoteEscapeCharacter",
                        "commentCharacter",
                    ],
                ) {
                    let field = "fileFormat.csvDataFormat.fieldDelimiter";
                    if let Some(delimiter) = checker.string(csv.get("fieldDelimiter"), field, false)
                        && delimiter_byte(delimiter).is_none()
                    {
                        checker.push(
                            check::IS_INVALID,
                            field,
                            "fieldDelimiter must be one ASCII character other than a quote or a line break",
                        );
                    }
                    for (option, sample) in [
                        ("recordDelimiter", "\n"),
                        ("quoteCharacter", "\""),
                        ("quoteEscapeCharacter", "\"\""),
                        ("commentCharacter", "#"),
                    ] {
                        let field = format!("fileFormat.csvDataFormat.{option}");
                        if checker
                            .string(csv.get(option), &field, false)
                            .is_some_and(|value| value != sample)
                        {
                            checker.push(
                                check::IS_INVALID,
                                &field,
                                format!("the emulator reads {option} {sample:?} only"),
                            );
                        }
                    }
                }
            }
            (None, Some(json)) => {
                checker.one_of(Some(json), "fileFormat.jsonDataFormat", true, JSON_FORMATS);
            }
            _ => checker.push(
                check::IS_INVALID,
                "fileFormat",
                "fileFormat needs exactly one of csvDataFormat and jsonDataFormat",
            ),
        }
    }
    checker.into_errors()
}

/// The byte of a one-character field delimiter.
fn delimiter_byte(delimiter: &str) -> Option<u8> {
    match delimiter.as_bytes() {
        [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\n' | b'\r') => Some(*byte),
        _ => None,
    }
}

impl Schema {
    /// The schema of a data set that passed [`validate_data_set`] (`dataSet` object).
    pub(crate) fn from_data_set(data_set: &Value) -> Self {
        let flag = |column: &Value, name: &str| column.get(name).and_then(Value::as_bool);
        let columns = data_set["columns"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|column| SchemaColumn {
                name: column["name"].as_str().unwrap_or_default().to_owned(),
                data_type: column["dataType"].as_str().unwrap_or_default().to_owned(),
                // The ADU API: "Default is true".
                nullable: flag(column, "nullable").unwrap_or(true),
                hashed_pii: column.pointer("/externalUserIdType/hashedPii").is_some(),
                country: flag(column, "isCountryCode").unwrap_or(false),
                consent: column.get("consentType").is_some(),
            })
            .collect();
        Self {
            columns,
            country: data_set["countryCode"].as_str().map(str::to_owned),
        }
    }
}

impl UploadRequest {
    /// The request of a body that passed [`validate_upload`].
    pub(crate) fn from_body(body: &Value) -> Self {
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
        let source = if let Some(key) =
            text("/dataSource/sourceFileS3Key").or(text("/dataSource/s3ObjectKey"))
        {
            Source::File(key.to_owned())
        } else if let Some(prefix) =
            text("/dataSource/sourceS3Prefix").or(text("/dataSource/s3PrefixKey"))
        {
            Source::Prefix(prefix.to_owned())
        } else {
            Source::Manifest(
                text("/dataSource/sourceManifestS3Key")
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        Self {
            bucket: text("/dataSource/sourceS3Bucket")
                .or(text("/dataSource/s3Bucket"))
                .unwrap_or_default()
                .to_owned(),
            source,
            compressed: text("/compressionFormat").is_some_and(|format| format != "NONE"),
            csv: body.pointer("/fileFormat/csvDataFormat").is_some(),
            delimiter: text("/fileFormat/csvDataFormat/fieldDelimiter")
                .and_then(delimiter_byte)
                .unwrap_or(b','),
            country: text("/countryCode").map(str::to_owned),
        }
    }
}

/// Runs an upload against the emulated S3 (`(bucket, key)` → bytes): the data row count,
/// or why the job fails; plus the objects it read.
pub(crate) fn run_upload(
    schema: &Schema,
    request: &UploadRequest,
    store: &BTreeMap<(String, String), Vec<u8>>,
) -> (Result<u64, String>, Vec<ObjectRef>) {
    let bucket = &request.bucket;
    let url = |key: &str| format!("s3://{bucket}/{key}");
    let objects: Vec<(&String, &Vec<u8>)> = match &request.source {
        Source::File(key) | Source::Manifest(key) => {
            match store.get_key_value(&(bucket.clone(), key.clone())) {
                Some(((_, key), bytes)) => vec![(key, bytes)],
                None => return (Err(format!("{} does not exist.", url(key))), Vec::new()),
            }
        }
        Source::Prefix(prefix) => store
            .range((bucket.clone(), prefix.clone())..)
            .take_while(|((b, key), _)| b == bucket && key.starts_with(prefix.as_str()))
            // A key ending in '/' is a console "folder", not data.
            .filter(|((_, key), _)| !key.ends_with('/'))
            .map(|((_, key), bytes)| (key, bytes))
            .collect(),
    };
    let refs = objects
        .iter()
        .map(|(key, bytes)| ObjectRef {
            bucket: bucket.clone(),
            key: (*key).clone(),
            size: bytes.len(),
        })
        .collect();
    let result = read_objects(schema, request, &objects);
    (result, refs)
}

/// Reads the objects an upload found: the data row count, or why the job fails.
fn read_objects(
    schema: &Schema,
    request: &UploadRequest,
    objects: &[(&String, &Vec<u8>)],
) -> Result<u64, String> {
    let url = |key: &str| format!("s3://{}/{key}", request.bucket);
    match &request.source {
        Source::Prefix(prefix) if objects.is_empty() => {
            return Err(format!("No object exists under {}.", url(prefix)));
        }
        Source::Manifest(_) => {
            return Err(
                "Manifest uploads are not emulated; use sourceFileS3Key or sourceS3Prefix."
                    .to_owned(),
            );
        }
        _ => {}
    }
    if request.compressed {
        return Err(
            "The emulator reads uncompressed objects only (compressionFormat NONE).".to_owned(),
        );
    }
    if !request.csv {
        return Err("The emulator reads CSV objects only (fileFormat.csvDataFormat).".to_owned());
    }
    let mut rows = 0;
    for (key, bytes) in objects {
        rows += read_csv(schema, request, &url(key), bytes)?;
    }
    if rows == 0 {
        return Err("The uploaded objects hold no data rows.".to_owned());
    }
    Ok(rows)
}

/// Checks one CSV object against the data set; the number of data rows, or why not.
fn read_csv(
    schema: &Schema,
    request: &UploadRequest,
    name: &str,
    bytes: &[u8],
) -> Result<u64, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(request.delimiter)
        .has_headers(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|error| format!("{name}: the header row {}.", describe(&error)))?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(format!("{name}: the object has no header row."));
    }
    // Header cells are never quoted back: without a header row they are data.
    let mut index = BTreeMap::new();
    for (position, cell) in header.iter().enumerate() {
        if index.insert(cell, position).is_some() {
            return Err(format!(
                "{name}: header column {} repeats an earlier column.",
                position + 1
            ));
        }
        if !schema.columns.iter().any(|column| column.name == cell) {
            return Err(format!(
                "{name}: header column {} is not a column of the data set (is the header row missing?).",
                position + 1
            ));
        }
    }
    let mut positions = Vec::with_capacity(schema.columns.len());
    for column in &schema.columns {
        match index.get(column.name.as_str()) {
            Some(position) => positions.push(*position),
            None => {
                return Err(format!(
                    "{name}: the header has no column '{}' of the data set.",
                    column.name
                ));
            }
        }
    }
    let mut rows = 0;
    for (number, record) in reader.records().enumerate() {
        let row = number + 1;
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, csv::Position::line);
            format!(
                "{name} row {row} (line {line}): the row {}.",
                describe(&error)
            )
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let at = format!("{name} row {row} (line {line})");
        let mut country = None;
        let mut consented = false;
        for (column, position) in schema.columns.iter().zip(&positions) {
            let value = record.get(*position).unwrap_or_default();
            if value.is_empty() {
                if !column.nullable {
                    return Err(format!(
                        "{at}: column '{}' is empty but not nullable.",
                        column.name
                    ));
                }
                continue;
            }
            if column.hashed_pii && !check::is_sha256_hex(value) {
                return Err(format!(
                    "{at}: column '{}' must hold SHA-256 digests in 64 lowercase hex characters; raw PII is rejected.",
                    column.name
                ));
            }
            if column.country {
                if !codes::is_alpha2(value) {
                    return Err(format!(
                        "{at}: column '{}' must hold ISO 3166-1 alpha-2 country codes in uppercase.",
                        column.name
                    ));
                }
                country = Some(value);
            }
            consented |= column.consent;
            if !fits(&column.data_type, value) {
                return Err(format!(
                    "{at}: column '{}' does not hold a valid {}{}.",
                    column.name,
                    column.data_type,
                    format_hint(&column.data_type)
                ));
            }
        }
        // Section A6: row > upload > data set.
        let country = country
            .or(request.country.as_deref())
            .or(schema.country.as_deref());
        if country.is_some_and(|code| codes::contains(codes::CONSENT_COUNTRIES, code)) && !consented
        {
            return Err(format!(
                "{at}: a UK/EEA row needs a value in a consent column (consentType)."
            ));
        }
        rows += 1;
    }
    Ok(rows)
}

/// What a CSV error means, without quoting the data.
fn describe(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        _ => "is not valid CSV".to_owned(),
    }
}

/// Whether a non-empty cell is a valid value of `data_type` (the ADU guide's formats).
fn fits(data_type: &str, value: &str) -> bool {
    match data_type {
        "INTEGER" => value.parse::<i32>().is_ok(),
        "LONG" => value.parse::<i64>().is_ok(),
        // Emulator choice: "two floating point level precision" read as at most 2 decimals.
        "DECIMAL" => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && (1..=2).contains(&fraction.len())
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        "TIMESTAMP" => {
            shaped(value, "dddd-dd-ddTdd:dd:ddZ") && check::parse_rfc3339(value).is_some()
        }
        "DATE" => {
            shaped(value, "dddd-dd-dd")
                && check::parse_rfc3339(&format!("{value}T00:00:00Z")).is_some()
        }
        _ => true,
    }
}

/// The expected format, for messages.
fn format_hint(data_type: &str) -> &'static str {
    match data_type {
        "TIMESTAMP" => " (yyyy-MM-ddThh:mm:ssZ)",
        "DATE" => " (yyyy-MM-dd)",
        "DECIMAL" => " (at most 2 decimals)",
        _ => "",
    }
}

/// Whether `value` has the shape of `pattern`, where `d` stands for a digit.
fn shaped(value: &str, pattern: &str) -> bool {
    value.len() == pattern.len()
        && value.bytes().zip(pattern.bytes()).all(|(v, p)| match p {
            b'd' => v.is_ascii_digit(),
            _ => v == p,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
