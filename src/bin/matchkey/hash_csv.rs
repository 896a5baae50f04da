//! `matchkey hash-csv`: streaming CSV → CSV with the mapped columns replaced by their
//! match-key values (the AMC advertiser-data-upload form).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use matchkey::csv_rows::{Plan, RowCounts, RowWriter, Source};
use matchkey::{Country, Field, Normalizer, Reject};

use crate::parallel::{self, CHUNK_ROWS, Threads};
use crate::reader::{self, CsvReader, Header, Refused, Row, Stats};

pub(crate) const EXAMPLES: &str = "\
Reads CSV with a header row on stdin and writes UTF-8 CSV on stdout: each mapped column
holds the SHA-256 of its normalized value (MAID, RAMP_ID and MATCH_ID: the normalized
value), an empty cell where the value was rejected; other columns are dropped unless kept.
The country column given with --country-column is always kept, written as ISO 3166-1
alpha-2 codes (UK → GB, en-US → US; empty where not a country).

The encoding (a byte-order mark's, else UTF-8, else Windows-1252) and the delimiter (`,`
`;` tab `|`, the header line's most frequent) are detected unless given. Column names
match ignoring case and surrounding spaces. A short row's missing trailing cells are read
as empty, a long row's extra cells ignored (both counted; --strict refuses them). A row
that does not decode is refused and reported by its line in the file.

A summary (the encoding and delimiter, rows read and written, rows refused and warned
about with their line numbers, rejects per field and reason; never a cell value) goes to
stderr, with a progress bar when stderr is a terminal. Exit 0; 1 when no row could be
written, no row has a usable match key, or more rows were refused than --max-bad-rows
allows (default 0); 2 when the command could not run.

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
    #[command(flatten)]
    pub(crate) read: reader::Options,
    #[command(flatten)]
    pub(crate) threads: Threads,
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
    pub(crate) fn row_country(&self, header: &Header) -> anyhow::Result<RowCountry> {
        match (self.fixed_country()?, &self.country_column) {
            (Some(country), _) => Ok(RowCountry::Fixed(country)),
            (None, Some(name)) => Ok(RowCountry::Column(header.column(name, "--country-column")?)),
            (None, None) => unreachable!("clap requires --country or --country-column"),
        }
    }
}

/// `--country` for every row, or the row's own cell in the `--country-column`.
pub(crate) use matchkey::csv_rows::RowCountry;

/// The country of `record` (a short row's missing cell read as empty).
pub(crate) fn country_of(
    country: RowCountry,
    record: &csv::StringRecord,
) -> Result<Country, Reject> {
    country.of(|i| record.get(i).unwrap_or_default())
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
    /// How the file was read (encoding, delimiter).
    pub(crate) read_as: String,
    /// The encoding's name.
    pub(crate) encoding: &'static str,
    /// What the reader saw: rows read, refused and warned about.
    pub(crate) read: Stats,
    /// Rows written.
    pub(crate) rows: u64,
    /// Rows written without any match key (every mapped cell empty or rejected).
    pub(crate) no_match_keys: u64,
    pub(crate) rejects: BTreeMap<(Field, &'static str), u64>,
    pub(crate) columns: Vec<Column>,
}

impl Summary {
    /// `Refused` (exit 1) when the run's output cannot be used as it is.
    pub(crate) fn verdict(&self, options: &reader::Options) -> Result<(), Refused> {
        self.read.check(options.max_bad_rows)?;
        if self.rows == 0 {
            return Err(Refused(if self.read.rows == 0 {
                "no row written: the file has a header and no rows".into()
            } else {
                "no row written: every row was refused (see above)".into()
            }));
        }
        if self.no_match_keys == self.rows {
            return Err(Refused(
                "no row has a usable match key: every mapped cell was empty or rejected \
                 (see the counts above; is --map right?)"
                    .into(),
            ));
        }
        Ok(())
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    // The input itself, when stdin is a file, sizes the progress bar.
    let input = File::from(stdin.as_fd().try_clone_to_owned()?);
    run_with(args, &input, stdin.lock(), std::io::stdout().lock())?;
    Ok(())
}

/// Runs the conversion with a progress bar sized by `file` (when it is a regular file
/// and stderr a terminal), then prints the summary to stderr; `Refused` when the output
/// cannot be used (`Summary::verdict`).
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
    summary.verdict(&args.rows.read)?;
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
/// that lacks a named column (or names it ambiguously).
fn hash_csv(
    args: &Args,
    input: impl Read,
    output: impl Write,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<Summary> {
    let mut reader = CsvReader::new(input, &args.rows.read)?;
    let header = reader.header().clone();
    let row_country = args.rows.row_country(&header)?;

    // What each column of the header becomes (a mapped column wins over the country
    // column, which wins over a kept one); output in the header's order.
    let keep = args
        .keep
        .iter()
        .map(|name| header.column(name, "--keep"))
        .collect::<anyhow::Result<Vec<usize>>>()?;
    // Looked up last to first, so a missing column is reported as it always was.
    let mut map = args
        .rows
        .map
        .iter()
        .rev()
        .map(|(name, field)| Ok((header.column(name, "--map")?, *field)))
        .collect::<anyhow::Result<Vec<(usize, Field)>>>()?;
    map.reverse();
    let Some(plan) = Plan::new(header.names.len(), &map, row_country, &keep) else {
        bail!("nothing to write: no mapped or kept column");
    };
    let columns: Vec<Column> = plan
        .columns
        .iter()
        .map(|&(i, s)| {
            let name = header.names[i].clone();
            match s {
                Source::Copy => Column::Kept(name),
                Source::Hash(field) => Column::MatchKey(name, field),
                Source::Country => Column::Country(name),
            }
        })
        .collect();
    let mut head = Vec::new();
    plan.write_header(|i| &header.names[i], &mut head);

    let mut summary = Summary {
        read_as: header.describe(),
        encoding: header.encoding,
        columns,
        ..Summary::default()
    };
    // A chunk holds only the cells used (`needed`), which `local` reads.
    let (needed, local) = plan.compact();
    // The header, then each chunk's rows as the workers wrote them.
    let mut output = std::io::BufWriter::with_capacity(1 << 16, output);
    output.write_all(&head)?;
    let mut last_progress = 0u64;
    parallel::ordered(
        args.rows.threads.count(),
        Chunk::default,
        |chunk| {
            chunk.rows = 0;
            while chunk.rows < CHUNK_ROWS {
                let Some(row) = reader.next_row()? else {
                    break;
                };
                if let Row::Read(record, _) = row {
                    copy_cells(record, &needed, chunk.record(chunk.rows));
                    chunk.rows += 1;
                }
                advance(progress, &mut last_progress, reader.input_bytes());
            }
            Ok(chunk.rows > 0)
        },
        || (Normalizer::new(), RowWriter::new()),
        |(normalizer, rows), chunk| chunk.convert(&local, normalizer, rows),
        |chunk| {
            output.write_all(&chunk.out)?;
            summary.rows += chunk.counts.rows;
            summary.no_match_keys += chunk.counts.no_match_keys;
            for (key, n) in &chunk.counts.rejects {
                *summary.rejects.entry(*key).or_default() += n;
            }
            Ok(())
        },
    )?;
    output.flush()?;
    summary.read = reader.stats.clone();
    Ok(summary)
}

/// Copies the cells `needed` of `record` into `into` (a short row's missing ones as
/// empty cells, as `get` reads them).
pub(crate) fn copy_cells(
    record: &csv::StringRecord,
    needed: &[usize],
    into: &mut csv::StringRecord,
) {
    into.clear();
    for &i in needed {
        into.push_field(record.get(i).unwrap_or_default());
    }
}

/// Rows of `hash-csv` on their way through the threads: their cells in, their CSV out.
#[derive(Default)]
struct Chunk {
    /// The rows' cells (`records[..rows]`; the rest are buffers kept for reuse).
    records: Vec<csv::StringRecord>,
    rows: usize,
    /// The rows written as CSV.
    out: Vec<u8>,
    counts: RowCounts,
}

impl Chunk {
    /// The buffer for row `n` of the chunk.
    fn record(&mut self, n: usize) -> &mut csv::StringRecord {
        if self.records.len() == n {
            self.records.push(csv::StringRecord::new());
        }
        &mut self.records[n]
    }

    /// Normalizes and hashes the rows into `out` and the counts (the library's row logic,
    /// which the console's file page shares).
    fn convert(&mut self, plan: &Plan, n: &mut Normalizer, rows: &mut RowWriter) {
        self.counts = RowCounts::default();
        self.out.clear();
        for record in &self.records[..self.rows] {
            rows.write_row(
                plan,
                |i| record.get(i).unwrap_or_default(),
                |_, value| Cow::Borrowed(value),
                n,
                &mut self.counts,
                &mut self.out,
            );
        }
    }
}

fn report(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "matchkey: {} read ({}): {} written, {} refused",
        reader::rows(summary.read.rows),
        summary.read_as,
        summary.rows,
        summary.read.bad_rows()
    )?;
    summary.read.write(summary.encoding, out)?;
    if summary.no_match_keys > 0 {
        writeln!(
            out,
            "  {} written without any match key (every mapped cell empty or rejected)",
            reader::rows(summary.no_match_keys)
        )?;
    }
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
                read: reader::Options::default(),
                threads: Threads::default(),
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
    fn short_rows_are_read_and_counted_strict_refuses_them() {
        let input = "email,country,note\na@b.c,US\nbroken\nc@d.e,FR,x,y\n";
        let mut a = args(&[("email", Field::Email)], None, Some("country"), &[]);
        let mut out = Vec::new();
        let summary = hash_csv(&a, input.as_bytes(), &mut out, None).unwrap();
        assert_eq!(
            (summary.read.rows, summary.rows, summary.read.bad_rows()),
            (3, 3, 0)
        );
        assert_eq!(summary.read.warnings[reader::SHORT_ROW].lines, [2, 3]);
        assert_eq!(summary.read.warnings[reader::LONG_ROW].lines, [4]);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 4);

        a.rows.read.strict = true;
        let summary = hash_csv(&a, input.as_bytes(), Vec::new(), None).unwrap();
        assert_eq!((summary.rows, summary.read.bad_rows()), (0, 3));
        assert!(summary.verdict(&a.rows.read).is_err());
    }

    /// The library's CSV writer is the `csv` crate's default writer, byte for byte (the
    /// page writes with it, the CLI wrote with the crate).
    #[test]
    fn the_library_writes_csv_as_the_csv_crate_does() {
        let cells: [&[u8]; 12] = [
            b"",
            b"a",
            b"a,b",
            b"\"",
            b"x\ry",
            b"x\ny",
            b" sp ",
            b"#c",
            b"semi;colon",
            b"tab\t",
            "é".as_bytes(),
            b"q\"q\"",
        ];
        for len in 1..=3 {
            for start in 0..cells.len() {
                let row: Vec<&[u8]> = (0..len)
                    .map(|k| cells[(start + k * 5) % cells.len()])
                    .collect();
                let mut crate_writer = csv::Writer::from_writer(Vec::new());
                crate_writer
                    .write_byte_record(&csv::ByteRecord::from(row.clone()))
                    .unwrap();
                let mut ours = Vec::new();
                matchkey::csv_rows::write_record(&mut ours, row.iter().copied());
                assert_eq!(ours, crate_writer.into_inner().unwrap(), "{row:?}");
            }
        }
    }

    #[test]
    fn missing_column_is_an_error_naming_it() {
        let a = args(&[("mail", Field::Email)], Some("US"), None, &[]);
        let err = hash_csv(&a, "email\nx@y.z\n".as_bytes(), Vec::new(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the CSV header has no column `mail` (--map); its columns, read as utf-8 separated by `,`: `email`"
        );
    }
}
