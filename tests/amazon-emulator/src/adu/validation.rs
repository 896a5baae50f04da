//! The upload job: the objects it reads from the emulated S3 and each CSV row checked
//! against the data set (hashed PII, country, consent, data types).

use std::collections::BTreeMap;

use super::*;

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
pub(super) fn read_objects(
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
pub(super) fn read_csv(
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
pub(super) fn describe(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        _ => "is not valid CSV".to_owned(),
    }
}

/// Whether a non-empty cell is a valid value of `data_type` (the ADU guide's formats).
pub(super) fn fits(data_type: &str, value: &str) -> bool {
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
pub(super) fn format_hint(data_type: &str) -> &'static str {
    match data_type {
        "TIMESTAMP" => " (yyyy-MM-ddThh:mm:ssZ)",
        "DATE" => " (yyyy-MM-dd)",
        "DECIMAL" => " (at most 2 decimals)",
        _ => "",
    }
}

/// Whether `value` has the shape of `pattern`, where `d` stands for a digit.
pub(super) fn shaped(value: &str, pattern: &str) -> bool {
    value.len() == pattern.len()
        && value.bytes().zip(pattern.bytes()).all(|(v, p)| match p {
            b'd' => v.is_ascii_digit(),
            _ => v == p,
        })
}
