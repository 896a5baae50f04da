//! Upload requests (`POST …/uploads/{dataSetId}`, `advertiser-data-upload.md` and the
//! samples of `adu-examples.md`): the field checks and the request the job runs.

use serde_json::Value;

use super::*;

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
pub(super) fn delimiter_byte(delimiter: &str) -> Option<u8> {
    match delimiter.as_bytes() {
        [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\n' | b'\r') => Some(*byte),
        _ => None,
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
