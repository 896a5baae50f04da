//! Data set definitions (`POST …/dataSets`, `advertiser-data-sets.md`): the field checks
//! and the schema an upload's rows are checked against.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::*;

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
