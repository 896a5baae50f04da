//! `matchkey amc prepare`: an AMC advertiser-data-upload file (hashed PII columns, the
//! country column, UTF-8 CSV) and the dataset definition Amazon needs for it.
//!
//! Uploading the file to S3 is up to the user for now (`aws s3 cp`); `amc upload`, which
//! creates the dataset and starts the load job, comes with the Amazon client.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use matchkey::Country;
use matchkey::amazon::amc::{hashed_pii_type, valid_data_set_id};
use serde_json::{Value, json};

use crate::hash_csv::{self, Column};

pub(crate) const EXAMPLES: &str = "\
Writes the hashed CSV (see `matchkey hash-csv --help`) next to the input as
<name>.amc.csv, and the dataset definition for `POST /amc/advertiserData/{instanceId}/dataSets`
as <name>.amc.dataset.json, unless --out/--definition say otherwise.

Examples:
  matchkey amc prepare --file customers.csv --map email=EMAIL,phone=PHONE,zip=POSTAL \\
      --country-column country --keep customer_id
  matchkey amc prepare --file crm.csv --map Email=EMAIL --country DE --dataset-id crm_de_v1 \\
      --out upload/crm.csv --definition upload/crm.json";

/// Options of `amc prepare`.
#[derive(Debug, clap::Args)]
pub(crate) struct PrepareArgs {
    /// The customer file (CSV, UTF-8, header row).
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

    let input =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let output = File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    let summary = hash_csv::run_with(
        &args.csv,
        &input,
        BufReader::new(&input),
        BufWriter::new(output),
    )?;

    let country = args
        .csv
        .country
        .as_deref()
        .map(Country::parse)
        .transpose()
        .ok()
        .flatten();
    let body = dataset_definition(&dataset_id, &args.description, country, &summary.columns);
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
    columns: &[Column],
) -> Value {
    let columns: Vec<Value> = columns
        .iter()
        .map(|c| match c {
            Column::MatchKey(name, field) => match hashed_pii_type(*field) {
                Some(pii) => json!({
                    "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true,
                    "externalUserIdType": { "hashedPii": pii },
                }),
                None => json!({ "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true }),
            },
            Column::Country(name) => json!({
                "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true,
                "isCountryCode": true,
            }),
            Column::Kept(name) => json!({ "name": name, "dataType": "STRING", "columnType": "DIMENSION", "nullable": true }),
        })
        .collect();
    let mut data_set = json!({ "dataSetId": id, "description": description, "columns": columns });
    if let Some(country) = country {
        data_set["countryCode"] = json!(country.as_str());
    }
    json!({ "dataSet": data_set })
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
        ];
        let def = dataset_definition("crm_v1", "d", None, &columns);
        let cols = &def["dataSet"]["columns"];
        assert_eq!(cols[1]["externalUserIdType"]["hashedPii"], "ZIP");
        assert!(cols[2].get("externalUserIdType").is_none());
        assert_eq!(cols[3]["isCountryCode"], true);
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
