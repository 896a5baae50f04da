//! `matchkey amc prepare`: an AMC advertiser-data-upload file (hashed PII columns, the
//! country column, UTF-8 CSV) and the dataset definition Amazon needs for it.
//!
//! `matchkey amc upload`: creates the data set if it does not exist yet and starts the
//! load job for a file already in S3, then follows it to its end. Putting the file in S3
//! is up to the user for now (`aws s3 cp`, with the bucket policy AMC's guide gives).

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use matchkey::Country;
use matchkey::amazon::amc::{CONSENT_GPP, CONSENT_TCF, external_user_id_type, valid_data_set_id};
use serde_json::{Value, json};

use std::time::Duration;

use matchkey::amazon::amc::{self as calls, Instance, Upload, UploadState};

use crate::client::{self, ApiArgs, Client};
use crate::hash_csv::{self, Column};
use crate::reader::same_name;

pub(crate) const EXAMPLES: &str = "\
Writes the hashed CSV (see `matchkey hash-csv --help`) next to the input as
<name>.amc.csv, and the dataset definition for `POST /amc/advertiserData/{instanceId}/dataSets`
as <name>.amc.dataset.json, unless --out/--definition say otherwise.

Examples:
  matchkey amc prepare --file customers.csv --map email=EMAIL,phone=PHONE,zip=POSTAL \\
      --country-column country --keep customer_id
  matchkey amc prepare --file crm.csv --map Email=EMAIL --country DE --dataset-id crm_de_v1 \\
      --out upload/crm.csv --definition upload/crm.json";

pub(crate) const UPLOAD_EXAMPLES: &str = "\
Checks the data set (GET …/dataSets/{id}); creates it from --definition when it does not
exist; starts the upload of the S3 file (or, with --s3-prefix, every file under the
prefix) and polls it until Amazon says SUCCESS (reported as COMPLETED) or FAILED. The report goes to stdout as JSON; the
exit code is 0 when the upload completed, 1 when it failed, 2 on error.

Examples:
  matchkey amc prepare --file customers.csv --map email=EMAIL --country-column country
  aws s3 cp customers.amc.csv s3://acme-amc-upload/crm/2026-11-23.csv
  export LWA_CLIENT_ID=… LWA_CLIENT_SECRET=… LWA_REFRESH_TOKEN=…
  matchkey amc upload --instance-id amcabc123 --account-id ENTITY1ABC --country US \\
      --definition customers.amc.dataset.json --s3-bucket acme-amc-upload --s3-key crm/2026-11-23.csv";

/// Options of `amc upload`.
#[derive(Debug, clap::Args)]
pub(crate) struct UploadArgs {
    /// The AMC instance id.
    #[arg(long, env = "AMC_INSTANCE_ID")]
    instance_id: String,
    /// The AMC account (`Amazon-Advertising-API-AdvertiserId`, `ENTITY…`).
    #[arg(long, env = "AMC_ACCOUNT_ID")]
    account_id: String,
    /// The marketplace country; it picks the marketplace id and is the upload's country.
    #[arg(long, default_value = "US")]
    country: String,
    /// The marketplace id [default: the country's].
    #[arg(long)]
    marketplace_id: Option<String>,
    /// The data set definition (`amc prepare` writes it); used when the data set does
    /// not exist yet.
    #[arg(long, required_unless_present = "dataset_id")]
    definition: Option<PathBuf>,
    /// The data set id [default: the definition's].
    #[arg(long)]
    dataset_id: Option<String>,
    /// The S3 bucket that holds the file.
    #[arg(long)]
    s3_bucket: String,
    /// The file's key in the bucket.
    #[arg(
        long,
        conflicts_with = "s3_prefix",
        required_unless_present = "s3_prefix"
    )]
    s3_key: Option<String>,
    /// Load every file under this prefix instead.
    #[arg(long)]
    s3_prefix: Option<String>,
    /// How the rows join what the data set holds.
    #[arg(long, default_value = "ADDITIVE", value_parser = clap::builder::PossibleValuesParser::new(calls::UPDATE_STRATEGIES))]
    update_strategy: String,
    /// The file's compression (`NONE` for a plain file).
    #[arg(long, default_value = "NONE", value_parser = clap::builder::PossibleValuesParser::new(calls::COMPRESSION_FORMATS))]
    compression: String,
    /// Start the upload and return without waiting for it.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the upload, in seconds.
    #[arg(long, default_value_t = 3600)]
    wait_seconds: u64,
    #[command(flatten)]
    amazon: ApiArgs,
}

pub(crate) fn upload(args: &UploadArgs) -> anyhow::Result<bool> {
    let country = Country::parse(&args.country)
        .map_err(|_| anyhow::anyhow!("--country: not an ISO 3166-1 alpha-2 code"))?;
    let marketplace_id = match &args.marketplace_id {
        Some(id) => id.as_str(),
        None => calls::marketplace_id(country).with_context(|| {
            format!(
                "--country {}: no Amazon marketplace known; pass --marketplace-id",
                country.as_str()
            )
        })?,
    };
    let definition: Option<Value> = match &args.definition {
        Some(path) => Some(
            serde_json::from_reader(BufReader::new(
                File::open(path).with_context(|| format!("opening {}", path.display()))?,
            ))
            .with_context(|| format!("{} is not JSON", path.display()))?,
        ),
        None => None,
    };
    let dataset_id = match (&args.dataset_id, &definition) {
        (Some(id), _) => id.clone(),
        (None, Some(def)) => def["dataSet"]["dataSetId"]
            .as_str()
            .context("the definition has no dataSet.dataSetId")?
            .to_owned(),
        (None, None) => unreachable!("clap requires --definition or --dataset-id"),
    };
    if !calls::valid_data_set_id(&dataset_id) {
        bail!(
            "data set id `{dataset_id}`: use lowercase letters, digits and underscores, starting with a letter"
        );
    }
    let at = Instance {
        instance_id: &args.instance_id,
        account_id: &args.account_id,
        marketplace_id,
    };
    let mut client = Client::from_env(&args.amazon)?;

    let found = client.call("checking the data set", |auth| {
        calls::get_data_set(auth, &at, &dataset_id)
    })?;
    let created = match found.status {
        200 => false,
        404 => {
            let definition = definition.as_ref().with_context(|| {
                format!("data set {dataset_id} does not exist; pass --definition to create it")
            })?;
            let answer = client.call("creating the data set", |auth| {
                calls::create_data_set(auth, &at, definition)
            })?;
            if !(200..300).contains(&answer.status) {
                bail!(
                    "creating data set {dataset_id}: Amazon answered {}",
                    client::error_code(&answer)
                );
            }
            eprintln!("matchkey: created data set {dataset_id}");
            true
        }
        _ => bail!(
            "checking data set {dataset_id}: Amazon answered {}",
            client::error_code(&found)
        ),
    };

    let source = args
        .s3_key
        .as_deref()
        .or(args.s3_prefix.as_deref())
        .unwrap_or_default();
    let upload = Upload {
        bucket: &args.s3_bucket,
        key: source,
        prefix: args.s3_prefix.is_some(),
        update_strategy: &args.update_strategy,
        country: Some(country),
        compression: Some(args.compression.as_str()),
    };
    let answer = client.call("starting the upload", |auth| {
        calls::start_upload(auth, &at, &dataset_id, &upload)
    })?;
    let upload_id = calls::parse_upload_id(answer.status, &answer.body).with_context(|| {
        format!(
            "starting the upload: Amazon answered {}",
            client::error_code(&answer)
        )
    })?;
    eprintln!(
        "matchkey: upload {upload_id} started for s3://{}/{source}",
        args.s3_bucket
    );

    let mut state = UploadState::Pending;
    if !args.no_wait {
        let spinner = (std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!("waiting for upload {upload_id}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let patience = Duration::from_secs(args.wait_seconds);
        client::poll(patience, Duration::from_secs(30), || {
            let answer = client.call("following the upload", |auth| {
                calls::get_upload(auth, &at, &dataset_id, &upload_id)
            })?;
            state = calls::parse_upload(answer.status, &answer.body).with_context(|| {
                format!(
                    "following upload {upload_id}: Amazon answered {}",
                    client::error_code(&answer)
                )
            })?;
            Ok(state != UploadState::Pending)
        })?;
        if let Some(bar) = spinner {
            bar.finish_and_clear();
        }
    }
    let (status, rows, reason) = match &state {
        UploadState::Pending => ("PENDING", None, None),
        UploadState::Completed { rows } => ("COMPLETED", *rows, None),
        UploadState::Failed { reason } => ("FAILED", None, reason.clone()),
    };
    eprintln!(
        "matchkey: upload {upload_id} {status}{}{}",
        rows.map(|n| format!(", {n} rows loaded"))
            .unwrap_or_default(),
        reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    let report = json!({
        "instanceId": args.instance_id, "dataSetId": dataset_id, "dataSetCreated": created,
        "uploadId": upload_id, "status": status, "rows": rows, "failureReason": reason,
    });
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")?;
    Ok(status != "FAILED")
}

/// Options of `amc prepare`.
#[derive(Debug, clap::Args)]
pub(crate) struct PrepareArgs {
    /// The customer file (CSV with a header row; encoding and delimiter detected unless
    /// given, see `matchkey hash-csv --help`).
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    csv: hash_csv::Args,
    /// Where to write the hashed CSV [default: <file>.amc.csv].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to write the dataset definition [default: <file>.amc.dataset.json].
    #[arg(long)]
    definition: Option<PathBuf>,
    /// The AMC dataset id: lowercase letters, digits and underscores [default: from the file name].
    #[arg(long)]
    dataset_id: Option<String>,
    /// The dataset description.
    #[arg(
        long,
        default_value = "Hashed first-party customer data prepared by matchkey"
    )]
    description: String,
    /// A column holding each row's TCF consent string: copied through and marked as the
    /// data set's consent column (AMC requires consent for UK/EEA rows).
    #[arg(long, conflicts_with = "gpp_column")]
    tcf_column: Option<String>,
    /// A column holding each row's GPP string, the same way.
    #[arg(long)]
    gpp_column: Option<String>,
}

pub(crate) fn prepare(args: &PrepareArgs) -> anyhow::Result<()> {
    let dataset_id = match &args.dataset_id {
        Some(id) if valid_data_set_id(id) => id.clone(),
        Some(_) => bail!(
            "--dataset-id: use lowercase letters, digits and underscores, starting with a letter"
        ),
        None => dataset_id_from(&args.file),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| sibling(&args.file, "amc.csv"));
    let definition = args
        .definition
        .clone()
        .unwrap_or_else(|| sibling(&args.file, "amc.dataset.json"));
    if out == args.file {
        bail!("--out must not be the input file");
    }

    let consent = match (&args.tcf_column, &args.gpp_column) {
        (Some(column), _) => Some((column.as_str(), CONSENT_TCF)),
        (None, Some(column)) => Some((column.as_str(), CONSENT_GPP)),
        (None, None) => None,
    };
    let country = args.csv.rows.fixed_country()?;
    if let Some(c) = country.filter(|c| c.requires_consent())
        && consent.is_none()
    {
        bail!(
            "--country {}: AMC requires consent for UK/EEA rows; pass --tcf-column or --gpp-column",
            c.as_str()
        );
    }
    let mut csv_args = args.csv.clone();
    if let Some((column, _)) = consent {
        csv_args.keep.push(column.to_owned());
    }

    let input =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    // Written beside the target and renamed once complete: a refused or interrupted run
    // leaves no file that looks ready to upload.
    let partial = PathBuf::from({
        let mut p = out.clone().into_os_string();
        p.push(".partial");
        p
    });
    let output =
        File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let summary = match hash_csv::run_with(&csv_args, &input, &input, BufWriter::new(output)) {
        Ok(summary) => summary,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    std::fs::rename(&partial, &out).with_context(|| format!("writing {}", out.display()))?;

    let body = dataset_definition(
        &dataset_id,
        &args.description,
        country,
        consent,
        &summary.columns,
    );
    let mut file =
        File::create(&definition).with_context(|| format!("creating {}", definition.display()))?;
    serde_json::to_writer_pretty(&mut file, &body)?;
    file.write_all(b"\n")?;
    eprintln!("wrote {} and {}", out.display(), definition.display());
    Ok(())
}

/// The `POST …/dataSets` body for the columns written.
fn dataset_definition(
    id: &str,
    description: &str,
    country: Option<Country>,
    consent: Option<(&str, &str)>,
    columns: &[Column],
) -> Value {
    let columns: Vec<Value> = columns
        .iter()
        .map(|c| match c {
            Column::MatchKey(name, field) => {
                let mut column = json!({ "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true });
                if let Some(id_type) = external_user_id_type(*field) {
                    column["externalUserIdType"] = id_type;
                }
                column
            }
            Column::Country(name) => json!({
                "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true,
                "isCountryCode": true,
            }),
            Column::Kept(name) => {
                let mut column = json!({ "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true });
                if let Some((_, kind)) = consent.filter(|(c, _)| consent_column(c, name, columns)) {
                    column["consentType"] = json!(kind);
                }
                column
            }
        })
        .collect();
    let mut data_set = json!({ "dataSetId": id, "description": description, "columns": columns });
    if let Some(country) = country {
        data_set["countryCode"] = json!(country.as_str());
    }
    json!({ "dataSet": data_set })
}

/// Whether the kept column `name` is the consent column the user named `given` (the
/// header matched it ignoring case and spaces, unless a column is spelled exactly so).
fn consent_column(given: &str, name: &str, columns: &[Column]) -> bool {
    let exact = |n: &str| n == given.trim();
    let kept = || {
        columns.iter().filter_map(|c| match c {
            Column::Kept(n) => Some(n.as_str()),
            _ => None,
        })
    };
    if kept().any(exact) {
        exact(name)
    } else {
        same_name(given, name)
    }
}

/// A dataset id from a file name: `Customers 2026.csv` → `customers_2026`.
fn dataset_id_from(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let mut id: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "data_");
    }
    id.truncate(128);
    id
}

/// `dir/name.csv` → `dir/name.<suffix>`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    path.with_file_name(format!("{stem}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchkey::Field;

    #[test]
    fn definition_marks_pii_and_country_columns() {
        let columns = [
            Column::Kept("customer_id".into()),
            Column::MatchKey("zip".into(), Field::Postal),
            Column::MatchKey("maid".into(), Field::Maid),
            Column::Country("country".into()),
            Column::MatchKey("ramp".into(), Field::RampId),
            Column::MatchKey("match_id".into(), Field::MatchId),
        ];
        let def = dataset_definition("crm_v1", "d", None, Some(("customer_id", "TCF")), &columns);
        let cols = &def["dataSet"]["columns"];
        assert_eq!(cols[1]["externalUserIdType"]["hashedPii"], "ZIP");
        assert_eq!(
            cols[2]["externalUserIdType"],
            json!({"externalIdentity": "MAID"})
        );
        assert_eq!(
            cols[4]["externalUserIdType"],
            json!({"externalIdentity": "LIVERAMP"})
        );
        assert!(cols[5].get("externalUserIdType").is_none());
        assert_eq!(cols[3]["isCountryCode"], true);
        assert_eq!(cols[0]["consentType"], "TCF");
        assert!(cols[1].get("consentType").is_none());
        assert!(def["dataSet"].get("countryCode").is_none());
    }

    #[test]
    fn dataset_ids() {
        assert_eq!(
            dataset_id_from(Path::new("/x/Customers 2026.csv")),
            "customers_2026"
        );
        assert_eq!(dataset_id_from(Path::new("2026.csv")), "data_2026");
    }
}
