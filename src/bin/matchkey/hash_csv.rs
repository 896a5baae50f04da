//! `matchkey hash-csv`: streaming CSV → CSV with the mapped columns replaced by their
//! match-key values (the AMC advertiser-data-upload form).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use matchkey::{Country, Field, Normalizer, Reject};

pub(crate) const EXAMPLES: &str = "\
Reads CSV (UTF-8, header row) on stdin and writes CSV on stdout: each mapped column holds
the SHA-256 of its normalized value (MAID, RAMP_ID and MATCH_ID: the normalized value),
an empty cell where the value was rejected; other columns are dropped unless kept. The
country column given with --country-column is always kept, written as ISO 3166-1
alpha-2 codes (UK → GB, en-US → US; empty where not a country). A summary (rows, rejects per
field and reason, bad rows with their line numbers) goes to stderr, with a progress bar
when stderr is a terminal.

Examples:
  matchkey hash-csv --map email=EMAIL,phone=PHONE --country US < customers.csv > hashed.csv
  matchkey hash-csv --map Email=EMAIL,Zip=POSTAL,First=FIRST_NAME \\
      --country-column country --keep customer_id < in.csv > amc-upload.csv";

/// Which columns hold match keys, and where each row's country comes from (`hash-csv`,
/// `amc prepare` and `audience push` share them).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Rows {
    /// Columns to hash, as `column=FIELD` pairs (FIELD: EMAIL, PHONE, FIRST_NAME,
    /// LAST_NAME, ADDRESS, CITY, STATE, POSTAL, MAID, RAMP_ID, MATCH_ID).
    #[arg(long, value_delimiter = ',', required = true, value_parser = parse_mapping)]
    pub(crate) map: Vec<(String, Field)>,
    /// The country of every row (ISO 3166-1 alpha-2, `UK` and locales such as `en-GB` accepted).
    #[arg(
        long,
        conflicts_with = "country_column",
        required_unless_present = "country_column"
    )]
    pub(crate) country: Option<String>,
    /// The column that holds each row's country.
    #[arg(long)]
    pub(crate) country_column: Option<String>,
}

impl Rows {
    /// `--country`, parsed.
    pub(crate) fn fixed_country(&self) -> anyhow::Result<Option<Country>> {
        self.country
            .as_deref()
            .map(Country::parse)
            .transpose()
            .map_err(|_| anyhow::anyhow!("--country: not an ISO 3166-1 alpha-2 code"))
    }

    /// Where each row's country comes from, given the file's header.
    pub(crate) fn row_country(&self, headers: &csv::StringRecord) -> anyhow::Result<RowCountry> {
        match (self.fixed_country()?, &self.country_column) {
            (Some(country), _) => Ok(RowCountry::Fixed(country)),
            (None, Some(name)) => Ok(RowCountry::Column(column_of(headers, name)?)),
            (None, None) => unreachable!("clap requires --country or --country-column"),
        }
    }
}

/// `--country` for every row, or the row's own cell in the `--country-column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowCountry {
    Fixed(Country),
    Column(usize),
}

impl RowCountry {
    /// The country of `record`.
    pub(crate) fn of(self, record: &csv::StringRecord) -> Result<Country, Reject> {
        match self {
            RowCountry::Fixed(country) => Ok(country),
            RowCountry::Column(i) => Country::parse(record.get(i).unwrap_or_default()),
        }
    }
}

/// The index of the header's column `name`, or an error naming it.
pub(crate) fn column_of(headers: &csv::StringRecord, name: &str) -> anyhow::Result<usize> {
    headers
        .iter()
        .position(|h| h == name)
        .with_context(|| format!("the CSV header has no column `{name}`"))
}

/// Moves `bar` to `byte` once the input has advanced a MiB past `last`; whether it moved.
pub(crate) fn advance(bar: Option<&ProgressBar>, last: &mut u64, byte: u64) -> bool {
    match bar {
        Some(bar) if byte - *last > 1 << 20 => {
            bar.set_position(byte);
            *last = byte;
            true
        }
        _ => false,
    }
}

/// Options of `hash-csv`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) rows: Rows,
    /// Columns to copy through unchanged.
    #[arg(long, value_delimiter = ',')]
    pub(crate) keep: Vec<String>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

pub(crate) fn parse_mapping(s: &str) -> Result<(String, Field), String> {
    let (column, field) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not column=FIELD"))?;
    let field = field
        .parse::<Field>()
        .map_err(|_| format!("`{field}` is not a match-key field"))?;
    Ok((column.to_owned(), field))
}

/// What an output column is made of.
enum Source {
    Copy(usize),
    Hash(usize, Field),
    /// The row's country, written as its ISO 3166-1 alpha-2 code (empty when invalid).
    Country(usize),
}

/// One output column, for callers that describe the file (the AMC dataset definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Column {
    /// Copied through unchanged.
    Kept(String),
    /// Holds the match-key value of a field.
    MatchKey(String, Field),
    /// Holds each row's ISO country code.
    Country(String),
}

/// Counts for the summary, and the columns written.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) rows: u64,
    pub(crate) bad_rows: u64,
    pub(crate) rejects: BTreeMap<(Field, &'static str), u64>,
    pub(crate) columns: Vec<Column>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    // The input itself, when stdin is a file, sizes the progress bar.
    let input = File::from(stdin.as_fd().try_clone_to_owned()?);
    run_with(args, &input, stdin.lock(), std::io::stdout().lock())?;
    Ok(())
}

/// Runs the conversion with a progress bar sized by `file` (when it is a regular file
/// and stderr a terminal), then prints the summary to stderr.
pub(crate) fn run_with(
    args: &Args,
    file: &File,
    input: impl Read,
    output: impl Write,
) -> anyhow::Result<Summary> {
    let total = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let progress =
        (!args.no_progress && std::io::stderr().is_terminal()).then(|| progress_bar(total));
    let summary = hash_csv(args, input, output, progress.as_ref())?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    report(&summary, &mut std::io::stderr().lock())?;
    Ok(summary)
}

pub(crate) fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    }
}

/// Streams `input` to `output`; returns the counts. Errors only on I/O and on a header
/// that lacks a named column.
fn hash_csv(
    args: &Args,
    input: impl Read,
    output: impl Write,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<Summary> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let mut writer = csv::Writer::from_writer(output);
    let headers = reader.headers().context("reading the CSV header")?.clone();
    let column = |name: &str| column_of(&headers, name);
    let row_country = args.rows.row_country(&headers)?;
    let country_column = match row_country {
        RowCountry::Column(i) => Some(i),
        RowCountry::Fixed(_) => None,
    };

    let mut sources = Vec::new();
    for (index, name) in headers.iter().enumerate() {
        if let Some((_, field)) = args.rows.map.iter().find(|(col, _)| col == name) {
            sources.push(Source::Hash(index, *field));
        } else if country_column == Some(index) {
            sources.push(Source::Country(index));
        } else if args.keep.iter().any(|k| k == name) {
            sources.push(Source::Copy(index));
        }
    }
    for name in args.rows.map.iter().map(|(c, _)| c).chain(&args.keep) {
        column(name)?;
    }
    if sources.is_empty() {
        bail!("nothing to write: no mapped or kept column");
    }
    let columns: Vec<Column> = sources
        .iter()
        .map(|s| match *s {
            Source::Copy(i) => Column::Kept(headers[i].to_owned()),
            Source::Hash(i, field) => Column::MatchKey(headers[i].to_owned(), field),
            Source::Country(i) => Column::Country(headers[i].to_owned()),
        })
        .collect();
    writer.write_record(columns.iter().map(|c| match c {
        Column::Kept(name) | Column::MatchKey(name, _) | Column::Country(name) => name,
    }))?;

    let mut summary = Summary {
        columns,
        ..Summary::default()
    };
    let mut normalizer = Normalizer::new();
    let mut record = csv::StringRecord::new();
    let mut out = csv::ByteRecord::new();
    let mut last_progress = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => {
                summary.bad_rows += 1;
                let line = err.position().map_or(0, |p| p.line());
                eprintln!("matchkey: line {line}: skipped: {}", describe(&err));
                if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                    return Err(err.into());
                }
                continue;
            }
        }
        summary.rows += 1;
        let country = row_country.of(&record);
        out.clear();
        for source in &sources {
            match *source {
                Source::Copy(i) => out.push_field(record.get(i).unwrap_or_default().as_bytes()),
                Source::Country(_) => match country {
                    Ok(c) => out.push_field(c.as_str().as_bytes()),
                    Err(_) => out.push_field(b""),
                },
                Source::Hash(i, field) => {
                    let cell = record.get(i).unwrap_or_default();
                    let res = country
                        .map_err(|reject| Reject::new(Some(field), reject.reason))
                        .and_then(|c| normalizer.process(field, cell, c));
                    match res {
                        Ok(o) => match o.sha256 {
                            Some(digest) => out.push_field(digest.as_str().as_bytes()),
                            None => out.push_field(o.normalized.as_bytes()),
                        },
                        Err(reject) => {
                            *summary.rejects.entry((field, reject.code())).or_default() += 1;
                            out.push_field(b"");
                        }
                    }
                }
            }
        }
        writer.write_byte_record(&out)?;
        advance(progress, &mut last_progress, reader.position().byte());
    }
    writer.flush()?;
    Ok(summary)
}

/// A CSV error without the row's content (which is personal data).
pub(crate) fn describe(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(e) => format!("read error: {e}"),
        _ => "malformed CSV".to_owned(),
    }
}

fn report(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "matchkey: {} rows written, {} bad rows skipped",
        summary.rows, summary.bad_rows
    )?;
    let mut by_field: BTreeMap<Field, Vec<(&str, u64)>> = BTreeMap::new();
    for ((field, code), n) in &summary.rejects {
        by_field.entry(*field).or_default().push((code, *n));
    }
    for (field, codes) in by_field {
        let total: u64 = codes.iter().map(|(_, n)| n).sum();
        let detail: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        writeln!(out, "  {field}: {total} rejected ({})", detail.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        map: &[(&str, Field)],
        country: Option<&str>,
        country_column: Option<&str>,
        keep: &[&str],
    ) -> Args {
        Args {
            rows: Rows {
                map: map.iter().map(|(c, f)| ((*c).to_owned(), *f)).collect(),
                country: country.map(str::to_owned),
                country_column: country_column.map(str::to_owned),
            },
            keep: keep.iter().map(|s| (*s).to_owned()).collect(),
            no_progress: true,
        }
    }

    #[test]
    fn hashes_mapped_keeps_kept_and_empties_rejects() {
        let input = "id,email,zip,secret\n1,abc@example.com,12345-6789,x\n2,nope,1,y\n";
        let a = args(
            &[("email", Field::Email), ("zip", Field::Postal)],
            Some("US"),
            None,
            &["id"],
        );
        let mut out = Vec::new();
        let summary = hash_csv(&a, input.as_bytes(), &mut out, None).unwrap();
        let out = String::from_utf8(out).unwrap();
        let zip = matchkey::sha256_hex("12345");
        assert_eq!(
            out,
            format!(
                "id,email,zip\n1,9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21,{zip}\n2,,\n"
            )
        );
        assert_eq!(summary.rows, 2);
        assert_eq!(
            summary.rejects.get(&(Field::Email, "invalid_email")),
            Some(&1)
        );
        assert_eq!(
            summary
                .rejects
                .get(&(Field::Postal, "invalid_postal_for_country")),
            Some(&1)
        );
    }

    #[test]
    fn bad_rows_are_skipped_and_counted() {
        let input = "email,country\na@b.c,US\nbroken\nc@d.e,FR\n";
        let a = args(&[("email", Field::Email)], None, Some("country"), &[]);
        let mut out = Vec::new();
        let summary = hash_csv(&a, input.as_bytes(), &mut out, None).unwrap();
        assert_eq!((summary.rows, summary.bad_rows), (2, 1));
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
    }

    #[test]
    fn missing_column_is_an_error_naming_it() {
        let a = args(&[("mail", Field::Email)], Some("US"), None, &[]);
        let err = hash_csv(&a, "email\nx@y.z\n".as_bytes(), Vec::new(), None).unwrap_err();
        assert_eq!(err.to_string(), "the CSV header has no column `mail`");
    }
}
