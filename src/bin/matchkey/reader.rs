//! The one CSV reader of `hash-csv`, `amc prepare` and `audience push`: customer files as
//! spreadsheets and shop back offices export them.
//!
//! - **Encoding:** a byte-order mark decides (UTF-8, UTF-16 LE or BE); without one, the
//!   first 64 KiB decide: valid UTF-8 (or ASCII) → UTF-8, else Windows-1252. `--encoding`
//!   forces one (`latin-1` is read as Windows-1252, its superset, as browsers do). The
//!   detected encoding is never changed midway: a UTF-8 file whose later row does not
//!   decode has that row refused (`invalid_encoding`) and reported by line.
//! - **Delimiter:** `--delimiter`, else the most frequent of `,` `;` tab `|` outside quotes
//!   in the header line (ties in that order; none → `,`).
//! - **Shape:** a short row is read with its missing trailing cells empty, a long row's
//!   extra cells are ignored; both are counted as warnings (`short_row`, `long_row`), and
//!   refused with `--strict`.
//! - **Lines:** every row is reported by the physical line of the file it starts on: line
//!   breaks (LF, CRLF, CR) are counted in the decoded stream, quoted multi-line cells
//!   included, and the empty lines before a row skipped.
//!
//! The input is streamed in 64 KiB chunks: memory does not grow with the file. Nothing
//! here ever puts a cell's value in a message.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::mem;

use anyhow::{Context, bail};
use encoding_rs::{DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use matchkey::csv_rows::detect_delimiter;

/// Bytes looked at before the first row to choose the encoding and the delimiter.
const SAMPLE: usize = 64 << 10;
/// Line numbers kept per reason for the summary.
const LINES_KEPT: usize = 10;

/// How a file is read (`hash-csv`, `amc prepare` and `audience push` share them).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Options {
    /// The file's encoding [default: a byte-order mark's (UTF-8, UTF-16), else UTF-8 when
    /// the first 64 KiB are valid UTF-8, else Windows-1252].
    #[arg(long, value_enum)]
    pub(crate) encoding: Option<EncodingArg>,
    /// The column separator: `,` `;` `tab` or `|` [default: the most frequent of them in
    /// the header line].
    #[arg(long, value_parser = parse_delimiter)]
    pub(crate) delimiter: Option<u8>,
    /// Refuse rows with fewer or more cells than the header [default: a short row's missing
    /// trailing cells are read as empty, a long row's extra cells ignored; both counted].
    #[arg(long)]
    pub(crate) strict: bool,
    /// Refused rows (bad shape with --strict, or not decodable) tolerated before the
    /// command fails: a count (`10`) or a share of the rows read (`0.5%`).
    #[arg(long, default_value = "0", value_parser = parse_limit)]
    pub(crate) max_bad_rows: Limit,
}

/// `--encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EncodingArg {
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    #[value(name = "utf-16le")]
    Utf16le,
    #[value(name = "utf-16be")]
    Utf16be,
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
    /// Read as Windows-1252, which agrees with ISO-8859-1 on every printable character.
    #[value(name = "latin-1", alias = "latin1", alias = "iso-8859-1")]
    Latin1,
}

impl EncodingArg {
    fn encoding(self) -> &'static Encoding {
        match self {
            EncodingArg::Utf8 => UTF_8,
            EncodingArg::Utf16le => UTF_16LE,
            EncodingArg::Utf16be => UTF_16BE,
            EncodingArg::Windows1252 | EncodingArg::Latin1 => WINDOWS_1252,
        }
    }
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "tab" | "\t" | "\\t" => Ok(b'\t'),
        "|" | "pipe" => Ok(b'|'),
        _ => Err(format!("`{s}`: use `,`, `;`, `tab` or `|`")),
    }
}

/// `--max-bad-rows`: how many refused rows a run tolerates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Limit {
    Count(u64),
    /// A percentage of the rows read.
    Share(f64),
}

impl Default for Limit {
    fn default() -> Limit {
        Limit::Count(0)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Share(p) => write!(f, "{p}%"),
        }
    }
}

impl Limit {
    /// Whether `bad` refused rows out of `rows` read are more than this allows.
    pub(crate) fn exceeded(self, bad: u64, rows: u64) -> bool {
        match self {
            Limit::Count(n) => bad > n,
            Limit::Share(p) => bad as f64 > p / 100.0 * rows as f64,
        }
    }
}

fn parse_limit(s: &str) -> Result<Limit, String> {
    let s = s.trim();
    match s.strip_suffix('%') {
        Some(p) => match p.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Limit::Share(p)),
            _ => Err(format!("`{s}`: a share is 0% to 100%")),
        },
        None => s
            .parse::<u64>()
            .map(Limit::Count)
            .map_err(|_| format!("`{s}`: a count of rows (`10`) or a share (`0.5%`)")),
    }
}

/// The command's data could not be used: exit 1 with this message (not 2, which says the
/// command could not run).
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Why a row was refused or warned about.
pub(crate) const SHORT_ROW: &str = "short_row";
pub(crate) const LONG_ROW: &str = "long_row";
pub(crate) const INVALID_ENCODING: &str = "invalid_encoding";
pub(crate) const MALFORMED_CSV: &str = "malformed_csv";

/// How many rows had one reason, and the first lines they were on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) count: u64,
    pub(crate) lines: Vec<u64>,
}

impl Tally {
    fn add(&mut self, line: u64) {
        self.count += 1;
        if self.lines.len() < LINES_KEPT {
            self.lines.push(line);
        }
    }
}

/// What the reader saw: rows read, refused and warned about, by reason.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// Data rows read (the header not counted), refused ones included.
    pub(crate) rows: u64,
    pub(crate) refused: BTreeMap<&'static str, Tally>,
    pub(crate) warnings: BTreeMap<&'static str, Tally>,
}

impl Stats {
    /// Rows refused for their shape or encoding.
    pub(crate) fn bad_rows(&self) -> u64 {
        self.refused.values().map(|t| t.count).sum()
    }

    /// `Refused` when more rows were refused than `limit` allows.
    pub(crate) fn check(&self, limit: Limit) -> Result<(), Refused> {
        let bad = self.bad_rows();
        if limit.exceeded(bad, self.rows) {
            return Err(Refused(format!(
                "{bad} of {} rows refused (see above), more than --max-bad-rows {limit} allows; \
                 fix the file (--encoding, --delimiter), or pass --max-bad-rows to accept them",
                self.rows
            )));
        }
        Ok(())
    }

    /// The summary lines of refused rows and warnings (reason, count, first lines).
    pub(crate) fn write(&self, encoding: &str, out: &mut impl io::Write) -> io::Result<()> {
        for (reason, tally) in &self.refused {
            writeln!(
                out,
                "  refused {reason}: {} {} ({})",
                rows(tally.count),
                lines(tally),
                explain(reason, true, encoding)
            )?;
        }
        for (reason, tally) in &self.warnings {
            writeln!(
                out,
                "  warning {reason}: {} {} ({})",
                rows(tally.count),
                lines(tally),
                explain(reason, false, encoding)
            )?;
        }
        Ok(())
    }
}

/// `1 row`, `2 rows`.
pub(crate) fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

fn lines(tally: &Tally) -> String {
    let list: Vec<String> = tally.lines.iter().map(u64::to_string).collect();
    let word = if tally.count == 1 { "line" } else { "lines" };
    let more = if tally.count > tally.lines.len() as u64 {
        ", …"
    } else {
        ""
    };
    format!("on {word} {}{more}", list.join(", "))
}

fn explain(reason: &str, refused: bool, encoding: &str) -> String {
    match (reason, refused) {
        (SHORT_ROW, true) => "fewer cells than the header; --strict".into(),
        (SHORT_ROW, false) => "fewer cells than the header: the missing ones read as empty".into(),
        (LONG_ROW, true) => "more cells than the header; --strict".into(),
        (LONG_ROW, false) => "more cells than the header: the extra ones ignored".into(),
        (INVALID_ENCODING, _) if encoding == "utf-8" => {
            "not valid UTF-8: if the file is not UTF-8, pass --encoding windows-1252 (or the right one)".into()
        }
        (INVALID_ENCODING, _) => format!("not valid {encoding}; pass --encoding if the file is not"),
        _ => "not readable as CSV".into(),
    }
}

/// The header row: its column names (trimmed, byte-order mark removed) and how the file
/// was read, to look columns up by name.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) names: Vec<String>,
    /// The encoding's name (`utf-8`, `utf-16le`, `utf-16be`, `windows-1252`).
    pub(crate) encoding: &'static str,
    pub(crate) delimiter: u8,
}

impl Header {
    /// The index of the column `name` (given with `flag`): the same name ignoring case and
    /// surrounding spaces; where several match that way, the one spelled exactly as `name`.
    pub(crate) fn column(&self, name: &str, flag: &str) -> anyhow::Result<usize> {
        let wanted = name.trim();
        let exact: Vec<usize> = (0..self.names.len())
            .filter(|&i| self.names[i] == wanted)
            .collect();
        let loose: Vec<usize> = (0..self.names.len())
            .filter(|&i| same_name(&self.names[i], wanted))
            .collect();
        match (exact.as_slice(), loose.as_slice()) {
            ([i], _) | ([], [i]) => Ok(*i),
            ([], []) => bail!(
                "the CSV header has no column `{wanted}` ({flag}); its columns, read as {} separated by {}: {}",
                self.encoding,
                delimiter_name(self.delimiter),
                self.listing()
            ),
            ([], many) | (many, _) => {
                let names: Vec<String> = many
                    .iter()
                    .map(|&i| format!("`{}` (column {})", self.names[i], i + 1))
                    .collect();
                bail!(
                    "the CSV header has {} columns that match `{wanted}` ({flag}): {}; \
                     rename one, or name it exactly as the header spells it",
                    many.len(),
                    names.join(" and ")
                )
            }
        }
    }

    /// The column names for an error message; a "name" that looks like a value (the file
    /// may have no header row) is not shown.
    fn listing(&self) -> String {
        let shown: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .take(30)
            .map(|(i, name)| {
                let digits = name.bytes().filter(u8::is_ascii_digit).count();
                if name.contains('@') || digits >= 6 {
                    format!("(column {} looks like a value: is line 1 a header?)", i + 1)
                } else {
                    format!("`{name}`")
                }
            })
            .collect();
        let more = match self.names.len() {
            n if n > 30 => format!(" and {} more", n - 30),
            _ => String::new(),
        };
        format!("{}{more}", shown.join(", "))
    }

    /// `utf-8, delimiter ','` for summaries.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}, separated by {}",
            self.encoding,
            delimiter_name(self.delimiter)
        )
    }
}

/// Whether two column names are the same ignoring case and surrounding spaces.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a == b || a.to_lowercase() == b.to_lowercase()
}

pub(crate) fn delimiter_name(d: u8) -> &'static str {
    match d {
        b',' => "`,`",
        b';' => "`;`",
        b'\t' => "tabs",
        b'|' => "`|`",
        _ => "?",
    }
}

/// The encoding's short name for summaries and reports.
fn encoding_name(e: &'static Encoding) -> &'static str {
    if e == UTF_8 {
        "utf-8"
    } else if e == UTF_16LE {
        "utf-16le"
    } else if e == UTF_16BE {
        "utf-16be"
    } else {
        "windows-1252"
    }
}

/// One data row: its cells, or the reason it was refused.
pub(crate) enum Row<'a> {
    /// The row's cells (a short row's missing ones read as empty by `get`), and the
    /// warning it was counted under, if any.
    Read(&'a csv::StringRecord, Option<&'static str>),
    Refused(&'static str),
}

/// A CSV file being read, row by row.
pub(crate) struct CsvReader<R: Read> {
    csv: csv::Reader<Decoded<R>>,
    header: Header,
    strict: bool,
    bytes: csv::ByteRecord,
    record: csv::StringRecord,
    /// Whether `record` holds the buffers (else `bytes` does).
    in_record: bool,
    pub(crate) stats: Stats,
}

impl<R: Read> CsvReader<R> {
    /// Chooses the encoding and the delimiter, and reads the header row.
    pub(crate) fn new(mut input: R, options: &Options) -> anyhow::Result<CsvReader<R>> {
        let mut sample = Vec::with_capacity(SAMPLE);
        (&mut input)
            .take(SAMPLE as u64)
            .read_to_end(&mut sample)
            .context("reading the input")?;
        let at_end = sample.len() < SAMPLE;
        let (encoding, bom) = choose_encoding(&sample, at_end, options.encoding)?;
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => detect_delimiter(&encoding.decode_without_bom_handling(&sample[bom..]).0),
        };
        let decoded = Decoded::new(input, sample, bom, encoding);
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(SAMPLE)
            .from_reader(decoded);
        let name = encoding_name(encoding);
        let mut bytes = csv::ByteRecord::new();
        if !csv
            .read_byte_record(&mut bytes)
            .context("reading the input")?
        {
            return Err(Refused("the input is empty: no header row".into()).into());
        }
        let names = csv::StringRecord::from_byte_record(bytes.clone())
            .map_err(|_| {
                anyhow::anyhow!(
                    "the header row is not valid {name}: pass --encoding with the file's encoding"
                )
            })?
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = if i == 0 {
                    n.trim_start_matches('\u{feff}')
                } else {
                    n
                };
                n.trim().to_owned()
            })
            .collect();
        // The header's own line is not reported; this keeps the line count in step.
        let start = bytes.position().map_or(0, |p| p.byte());
        csv.get_mut().line_of(start);
        Ok(CsvReader {
            csv,
            header: Header {
                names,
                encoding: name,
                delimiter,
            },
            strict: options.strict,
            bytes,
            record: csv::StringRecord::new(),
            in_record: false,
            stats: Stats::default(),
        })
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes of the input consumed so far (for progress bars; a little ahead of the rows).
    pub(crate) fn input_bytes(&self) -> u64 {
        self.csv.get_ref().raw_read
    }

    /// The next data row, or `None` at the end of the input. Errors only on I/O.
    pub(crate) fn next_row(&mut self) -> anyhow::Result<Option<Row<'_>>> {
        if self.in_record {
            self.bytes = mem::take(&mut self.record).into_byte_record();
            self.in_record = false;
        }
        let read = self.csv.read_byte_record(&mut self.bytes);
        let start = self.bytes.position().map_or(0, |p| p.byte());
        match read {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(err) if matches!(err.kind(), csv::ErrorKind::Io(_)) => {
                return Err(err).context("reading the input");
            }
            Err(_) => {
                let line = self.csv.get_mut().line_of(start);
                self.stats.rows += 1;
                self.stats
                    .refused
                    .entry(MALFORMED_CSV)
                    .or_default()
                    .add(line);
                return Ok(Some(Row::Refused(MALFORMED_CSV)));
            }
        }
        let line = self.csv.get_mut().line_of(start);
        self.stats.rows += 1;
        let width = self.header.names.len();
        let shape = match self.bytes.len() {
            n if n < width => Some(SHORT_ROW),
            n if n > width => Some(LONG_ROW),
            _ => None,
        };
        match csv::StringRecord::from_byte_record(mem::take(&mut self.bytes)) {
            Ok(record) => {
                self.record = record;
                self.in_record = true;
            }
            Err(err) => {
                self.bytes = err.into_byte_record();
                let tally = self.stats.refused.entry(INVALID_ENCODING).or_default();
                tally.add(line);
                return Ok(Some(Row::Refused(INVALID_ENCODING)));
            }
        }
        match shape {
            Some(reason) if self.strict => {
                self.stats.refused.entry(reason).or_default().add(line);
                Ok(Some(Row::Refused(reason)))
            }
            Some(reason) => {
                self.stats.warnings.entry(reason).or_default().add(line);
                Ok(Some(Row::Read(&self.record, Some(reason))))
            }
            None => Ok(Some(Row::Read(&self.record, None))),
        }
    }
}

/// The encoding to read `sample` (the input's first bytes) with, and the length of its
/// byte-order mark.
fn choose_encoding(
    sample: &[u8],
    at_end: bool,
    forced: Option<EncodingArg>,
) -> anyhow::Result<(&'static Encoding, usize)> {
    let sniffed = Encoding::for_bom(sample);
    if let Some(forced) = forced {
        let encoding = forced.encoding();
        // A byte-order mark of the forced encoding is not data.
        let bom = match sniffed {
            Some((e, len)) if e == encoding => len,
            _ => 0,
        };
        return Ok((encoding, bom));
    }
    if let Some(found) = sniffed {
        return Ok(found);
    }
    if sample.contains(&0) {
        bail!(
            "the input has NUL bytes: it looks like UTF-16 without a byte-order mark (or is not \
             text); pass --encoding utf-16le or --encoding utf-16be"
        );
    }
    let utf8 = match std::str::from_utf8(sample) {
        Ok(_) => true,
        // The sample may end inside a character.
        Err(e) => e.error_len().is_none() && !at_end && e.valid_up_to() + 4 > sample.len(),
    };
    Ok((if utf8 { UTF_8 } else { WINDOWS_1252 }, 0))
}

/// The input as UTF-8 (passed through when it is UTF-8, decoded in a stream otherwise),
/// with the offsets of its line-break bytes still ahead of the CSV parser.
struct Decoded<R> {
    inner: R,
    /// `None`: UTF-8, passed through (rows are checked one by one).
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    raw_pos: usize,
    eof: bool,
    /// The decoder was told the input ended, and emptied.
    finished: bool,
    out: Vec<u8>,
    out_pos: usize,
    /// Input bytes read so far.
    raw_read: u64,
    /// UTF-8 bytes handed out so far.
    produced: u64,
    /// Offsets of the `\r` and `\n` bytes handed out and not yet behind a row's start, and
    /// whether each begins a line break (the `\n` of a CRLF does not).
    breaks: VecDeque<(u64, bool)>,
    last_cr: bool,
    /// Line breaks before the first of `breaks`.
    lines_before: u64,
}

impl<R: Read> Decoded<R> {
    fn new(inner: R, sample: Vec<u8>, bom: usize, encoding: &'static Encoding) -> Decoded<R> {
        let raw_read = sample.len() as u64;
        let decoder = (encoding != UTF_8).then(|| encoding.new_decoder_without_bom_handling());
        Decoded {
            inner,
            out: if decoder.is_some() {
                Vec::with_capacity(SAMPLE * 3)
            } else {
                Vec::new()
            },
            decoder,
            raw: sample,
            raw_pos: bom,
            eof: false,
            finished: false,
            out_pos: 0,
            raw_read,
            produced: 0,
            breaks: VecDeque::new(),
            last_cr: false,
            lines_before: 0,
        }
    }

    /// Refills `raw` when it is used up; false at the end of the input.
    fn fill_raw(&mut self) -> io::Result<bool> {
        if self.raw_pos < self.raw.len() {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.raw.resize(SAMPLE, 0);
        let n = loop {
            match self.inner.read(&mut self.raw) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.raw.truncate(n);
        self.raw_pos = 0;
        self.raw_read += n as u64;
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Decodes the next chunk into `out`; false once everything was decoded.
    fn decode(&mut self) -> io::Result<bool> {
        let more = self.fill_raw()?;
        if self.finished {
            return Ok(false);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(false);
        };
        self.out.clear();
        self.out_pos = 0;
        let src = &self.raw[self.raw_pos..];
        // Room for the whole chunk (UTF-8 of UTF-16 or Windows-1252 is at most 3 bytes per
        // input byte), plus a marker per malformed sequence.
        let room = decoder
            .max_utf8_buffer_length_without_replacement(src.len())
            .unwrap_or(src.len() * 3 + 16)
            + 16;
        self.out.resize(room, 0);
        let mut read = 0;
        let mut written = 0;
        loop {
            let (result, r, w) = decoder.decode_to_utf8_without_replacement(
                &src[read..],
                &mut self.out[written..room - 1],
                !more,
            );
            read += r;
            written += w;
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => break,
                DecoderResult::Malformed(_, _) => {
                    // A byte that is never UTF-8: the row holding it is refused as
                    // `invalid_encoding`, by the same check as a UTF-8 file's rows.
                    self.out[written] = 0xFF;
                    written += 1;
                    if written + 8 >= room {
                        break;
                    }
                }
            }
        }
        self.raw_pos += read;
        self.out.truncate(written);
        if !more {
            self.finished = true;
        }
        Ok(true)
    }

    /// Records the line-break bytes of `bytes`, handed out next.
    fn note(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                self.breaks
                    .push_back((self.produced + i as u64, !self.last_cr));
                self.last_cr = false;
            } else if b == b'\r' {
                self.breaks.push_back((self.produced + i as u64, true));
                self.last_cr = true;
            } else {
                self.last_cr = false;
            }
        }
        self.produced += bytes.len() as u64;
    }

    /// The physical line (from 1) of the row that starts at UTF-8 offset `at` (the CSV
    /// parser's record position, which may point at the line breaks before the row).
    /// Calls must come in increasing order of `at`.
    fn line_of(&mut self, mut at: u64) -> u64 {
        while let Some(&(offset, starts_break)) = self.breaks.front() {
            if offset > at {
                break;
            }
            if offset == at {
                // The row begins with line breaks: empty lines, or the LF of a CRLF.
                at += 1;
            }
            self.breaks.pop_front();
            self.lines_before += u64::from(starts_break);
        }
        self.lines_before + 1
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = if self.decoder.is_none() {
            if !self.fill_raw()? {
                return Ok(0);
            }
            let n = buf.len().min(self.raw.len() - self.raw_pos);
            buf[..n].copy_from_slice(&self.raw[self.raw_pos..self.raw_pos + n]);
            self.raw_pos += n;
            n
        } else {
            while self.out_pos == self.out.len() {
                if !self.decode()? {
                    return Ok(0);
                }
            }
            let n = buf.len().min(self.out.len() - self.out_pos);
            buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
            self.out_pos += n;
            n
        };
        self.note(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], options: &Options) -> (Header, Vec<String>, Stats) {
        let mut reader = CsvReader::new(bytes, options).unwrap();
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row().unwrap() {
            if let Row::Read(record, _) = row {
                rows.push(record.iter().collect::<Vec<_>>().join("|"));
            }
        }
        (reader.header().clone(), rows, reader.stats.clone())
    }

    #[test]
    fn lines_are_physical_with_bom_crlf_blank_lines_and_quoted_breaks() {
        let text = "\u{feff}email,name\r\na@b.c,x\r\nshort\r\n\r\n\"multi\r\nline\",y\r\nalso\r\n";
        let (header, rows, stats) = read_all(text.as_bytes(), &Options::default());
        assert_eq!(header.names, ["email", "name"]);
        assert_eq!(rows.len(), 4);
        assert_eq!(stats.warnings[SHORT_ROW].lines, [3, 7]);
        assert_eq!(stats.rows, 4);
    }

    #[test]
    fn lines_count_lf_and_cr_alone() {
        let (_, _, stats) = read_all(b"a,b\n1,2\n\n\n3\n", &Options::default());
        assert_eq!(stats.warnings[SHORT_ROW].lines, [5]);
        let (_, _, stats) = read_all(b"a,b\r1,2\r3\r", &Options::default());
        assert_eq!(stats.warnings[SHORT_ROW].lines, [3]);
    }

    #[test]
    fn encodings_are_chosen_from_bom_and_sample() {
        let check = |bytes: &[u8], name: &str| {
            let reader = CsvReader::new(bytes, &Options::default()).unwrap();
            assert_eq!(reader.header().encoding, name);
        };
        check(b"a,b\n1,2\n", "utf-8");
        check("\u{feff}a,b\n".as_bytes(), "utf-8");
        check(b"name\nJos\xe9\n", "windows-1252");
        check(b"\xff\xfea\0\n\0", "utf-16le");
        check(b"\xfe\xff\0a\0\n", "utf-16be");
        assert!(CsvReader::new(&b"a\0,\0b\0"[..], &Options::default()).is_err());
    }

    #[test]
    fn a_utf8_sample_that_ends_inside_a_character_is_utf8() {
        let mut bytes = b"name\n".to_vec();
        while bytes.len() < SAMPLE - 1 {
            bytes.extend_from_slice(b"x\n");
        }
        bytes.truncate(SAMPLE - 1);
        bytes.extend_from_slice("é\n".as_bytes());
        let reader = CsvReader::new(bytes.as_slice(), &Options::default()).unwrap();
        assert_eq!(reader.header().encoding, "utf-8");
    }

    #[test]
    fn delimiters_are_detected_outside_quotes() {
        assert_eq!(detect_delimiter("a;b;c,d\n1,2,3,4,5"), b';');
        assert_eq!(detect_delimiter("\"a;b;c\",d\n"), b',');
        assert_eq!(detect_delimiter("a\tb|c\td"), b'\t');
        assert_eq!(detect_delimiter("a|b"), b'|');
        assert_eq!(detect_delimiter("email"), b',');
    }

    #[test]
    fn columns_match_loosely_prefer_the_exact_spelling_and_refuse_ambiguity() {
        let header = Header {
            names: vec!["Email".into(), "E-mail".into(), "zip".into(), "ZIP".into()],
            encoding: "utf-8",
            delimiter: b',',
        };
        assert_eq!(header.column(" email ", "--map").unwrap(), 0);
        assert_eq!(header.column("e-MAIL", "--map").unwrap(), 1);
        assert_eq!(header.column("ZIP", "--map").unwrap(), 3);
        let err = header.column("Zip", "--map").unwrap_err().to_string();
        assert!(
            err.contains("`zip` (column 3) and `ZIP` (column 4)"),
            "{err}"
        );
        let err = header.column("mail", "--keep").unwrap_err().to_string();
        assert!(
            err.starts_with("the CSV header has no column `mail` (--keep); its columns"),
            "{err}"
        );
        assert!(err.contains("`Email`, `E-mail`, `zip`, `ZIP`"), "{err}");
    }

    #[test]
    fn names_that_look_like_values_are_not_listed() {
        let header = Header {
            names: vec!["jane@example.com".into(), "4165550199".into()],
            encoding: "utf-8",
            delimiter: b',',
        };
        let err = header.column("email", "--map").unwrap_err().to_string();
        assert!(!err.contains("jane") && !err.contains("4165"), "{err}");
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit("5%"), Ok(Limit::Share(5.0)));
        assert_eq!(parse_limit("12"), Ok(Limit::Count(12)));
        assert!(parse_limit("-1").is_err() && parse_limit("101%").is_err());
        assert!(!Limit::Count(0).exceeded(0, 10));
        assert!(Limit::Count(0).exceeded(1, 10));
        assert!(!Limit::Share(10.0).exceeded(1, 10));
        assert!(Limit::Share(10.0).exceeded(2, 10));
    }

    #[test]
    fn malformed_utf16_refuses_its_row_only() {
        // "a\n" then an unpaired surrogate in row 2, then a good row 3.
        let mut bytes = vec![0xFF, 0xFE];
        for unit in [
            b'a' as u16,
            10,
            b'x' as u16,
            10,
            0xD800,
            10,
            b'y' as u16,
            10,
        ] {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (_, rows, stats) = read_all(&bytes, &Options::default());
        assert_eq!(rows, ["x", "y"]);
        assert_eq!(stats.refused[INVALID_ENCODING].lines, [3]);
    }
}
