//! The row logic of `matchkey hash-csv`, shared by the CLI and the console's file page
//! (the full browser build): what each column of a file becomes, how one parsed row is
//! turned into its output row, and how rows are written as CSV. No I/O and no CSV parser:
//! the CLI reads files with its own reader (encodings, delimiters, loose header names),
//! the browser with `csv-core`; both hand this module a row's cells.
//!
//! Output is UTF-8 CSV separated by `,`, rows ended by `\n`, a cell quoted only when it
//! holds `,` `"` CR or LF (quotes doubled), and a row of one empty cell written `""`:
//! the `csv` crate's writer with its defaults, byte for byte (tested against it).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::prelude::rust_2024::*;

use crate::{Country, Field, Normalizer, Reject};

/// What an output column is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The input cell, copied unchanged.
    Copy,
    /// The match-key value of the cell (its SHA-256, or the normalized value for MAID,
    /// RAMP_ID and MATCH_ID); empty when rejected.
    Hash(Field),
    /// The row's country as its ISO 3166-1 alpha-2 code (empty when not a country).
    Country,
}

/// Where each row's country comes from: one for every row, or the row's cell in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCountry {
    /// The same country for every row.
    Fixed(Country),
    /// The index of the column holding each row's country.
    Column(usize),
}

impl RowCountry {
    /// The country of a row whose cell `i` is `cell(i)` (a missing cell reads as empty).
    ///
    /// # Errors
    /// The column's reject (`invalid_country`, `empty`).
    pub fn of<'a>(self, cell: impl Fn(usize) -> &'a str) -> Result<Country, Reject> {
        match self {
            RowCountry::Fixed(country) => Ok(country),
            RowCountry::Column(i) => Country::parse(cell(i)),
        }
    }
}

/// The output columns of a file: input column indices and what each becomes, in the
/// input's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where each row's country comes from.
    pub country: RowCountry,
    /// The output columns: the input column and its source.
    pub columns: Vec<(usize, Source)>,
}

impl Plan {
    /// The plan for a header of `width` columns: `map`ped columns hashed, the country
    /// column (when the country comes from one) written as codes, `keep` columns copied;
    /// a column named twice is mapped over country over kept, and the first mapping of a
    /// column wins. `None` when no column is written. Indices must be below `width`.
    pub fn new(
        width: usize,
        map: &[(usize, Field)],
        country: RowCountry,
        keep: &[usize],
    ) -> Option<Plan> {
        let mut sources: Vec<Option<Source>> = vec![None; width];
        for &i in keep {
            sources[i] = Some(Source::Copy);
        }
        if let RowCountry::Column(i) = country {
            sources[i] = Some(Source::Country);
        }
        for &(i, field) in map.iter().rev() {
            sources[i] = Some(Source::Hash(field));
        }
        let columns: Vec<(usize, Source)> = sources
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s?)))
            .collect();
        (!columns.is_empty()).then_some(Plan { country, columns })
    }

    /// The input columns a row needs (the country's first, when from a column, then the
    /// output columns'), and the same plan over a row holding only those cells in that
    /// order: what a caller that copies rows between threads keeps of each.
    pub fn compact(&self) -> (Vec<usize>, Plan) {
        let mut needed = Vec::with_capacity(self.columns.len() + 1);
        let country = match self.country {
            RowCountry::Column(i) => {
                needed.push(i);
                RowCountry::Column(0)
            }
            fixed => fixed,
        };
        let columns = self
            .columns
            .iter()
            .map(|&(i, source)| {
                needed.push(i);
                (needed.len() - 1, source)
            })
            .collect();
        (needed, Plan { country, columns })
    }

    /// Writes the output header row (the input names of the output columns) to `out`.
    pub fn write_header<'a>(&self, name: impl Fn(usize) -> &'a str, out: &mut Vec<u8>) {
        write_record(out, self.columns.iter().map(|&(i, _)| name(i).as_bytes()));
    }
}

/// Counts of the rows converted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows written.
    pub rows: u64,
    /// Rows written without any match key (every mapped cell empty or rejected).
    pub no_match_keys: u64,
    /// Rejected cells per field and reason code.
    pub rejects: BTreeMap<(Field, &'static str), u64>,
}

impl RowCounts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &RowCounts) {
        self.rows += other.rows;
        self.no_match_keys += other.no_match_keys;
        for (key, n) in &other.rejects {
            *self.rejects.entry(*key).or_default() += n;
        }
    }
}

/// Converts the rows of a file by a [`Plan`], reusing its buffers.
#[derive(Debug, Default)]
pub struct RowWriter {
    fields: Vec<u8>,
    ends: Vec<usize>,
}

impl RowWriter {
    /// A writer.
    pub fn new() -> RowWriter {
        RowWriter::default()
    }

    /// Appends the output row of the row whose cell `i` is `cell(i)` (a missing cell
    /// reads as empty) to `out` and counts it. `form` puts a cell in the Unicode form a
    /// field's rules start from: the identity with the `unicode-tables` feature, the
    /// page's own normalization in the browser build ([`crate::input_form`]).
    pub fn write_row<'a>(
        &mut self,
        plan: &Plan,
        cell: impl Fn(usize) -> &'a str,
        form: impl Fn(Field, &'a str) -> Cow<'a, str>,
        normalizer: &mut Normalizer,
        counts: &mut RowCounts,
        out: &mut Vec<u8>,
    ) {
        self.fields.clear();
        self.ends.clear();
        let country = plan.country.of(&cell);
        let mut keys = 0;
        for &(i, source) in &plan.columns {
            let value = cell(i);
            match source {
                Source::Copy => self.fields.extend_from_slice(value.as_bytes()),
                Source::Country => {
                    if let Ok(c) = country {
                        self.fields.extend_from_slice(c.as_str().as_bytes());
                    }
                }
                Source::Hash(field) => {
                    let res = country
                        .map_err(|reject| Reject::new(Some(field), reject.reason))
                        .and_then(|c| normalizer.process(field, &form(field, value), c));
                    match res {
                        Ok(o) => {
                            keys += 1;
                            match o.sha256 {
                                Some(digest) => {
                                    self.fields.extend_from_slice(digest.as_str().as_bytes());
                                }
                                None => self.fields.extend_from_slice(o.normalized.as_bytes()),
                            }
                        }
                        Err(reject) => {
                            *counts.rejects.entry((field, reject.code())).or_default() += 1;
                        }
                    }
                }
            }
            self.ends.push(self.fields.len());
        }
        counts.rows += 1;
        if keys == 0 {
            counts.no_match_keys += 1;
        }
        let (fields, ends) = (&self.fields, &self.ends);
        write_record(
            out,
            ends.iter().enumerate().map(|(k, &end)| {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                &fields[start..end]
            }),
        );
    }
}

/// Whether a cell must be quoted in the output.
fn needs_quotes(cell: &[u8]) -> bool {
    cell.iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Appends one CSV row of `cells` to `out`, as the `csv` crate's default writer does.
pub fn write_record<'c>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'c [u8]>) {
    let start = out.len();
    for (k, cell) in cells.into_iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        if needs_quotes(cell) {
            out.push(b'"');
            for &b in cell {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(cell);
        }
    }
    // A row with nothing in it would read back as no row at all.
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

/// The most frequent of `,` `;` tab `|` outside quotes in the first line of `text` (ties
/// in that order; `,` when none is there: a one-column file).
pub fn detect_delimiter(text: &str) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(k) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[k] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for k in 1..4 {
        if counts[k] > counts[best] {
            best = k;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(plan: &Plan, rows: &[&[&str]]) -> (String, RowCounts) {
        let mut out = Vec::new();
        let mut counts = RowCounts::default();
        let mut w = RowWriter::new();
        let mut n = Normalizer::new();
        for row in rows {
            w.write_row(
                plan,
                |i| row.get(i).copied().unwrap_or_default(),
                |_, v| Cow::Borrowed(v),
                &mut n,
                &mut counts,
                &mut out,
            );
        }
        (String::from_utf8(out).unwrap(), counts)
    }

    #[test]
    fn mapped_over_country_over_kept_and_rejects_empty() {
        let plan = Plan::new(
            4,
            &[(1, Field::Email), (1, Field::Phone)],
            RowCountry::Column(2),
            &[0, 1, 2],
        )
        .unwrap();
        assert_eq!(
            plan.columns,
            [
                (0, Source::Copy),
                (1, Source::Hash(Field::Email)),
                (2, Source::Country)
            ]
        );
        let (out, counts) = run(&plan, &[&["a,b", "nope", "uk"], &["", "", "xx", "z"]]);
        assert_eq!(out, "\"a,b\",,GB\n,,\n");
        assert_eq!((counts.rows, counts.no_match_keys), (2, 2));
        assert_eq!(counts.rejects[&(Field::Email, "invalid_email")], 1);
        assert!(
            Plan::new(
                2,
                &[],
                RowCountry::Fixed(Country::parse("US").unwrap()),
                &[]
            )
            .is_none()
        );
    }

    #[test]
    fn one_empty_cell_is_quoted_and_quotes_are_doubled() {
        let mut out = Vec::new();
        write_record(&mut out, [&b""[..]]);
        write_record(&mut out, [&b"say \"hi\"\r\n"[..], b"x"]);
        assert_eq!(out, b"\"\"\n\"say \"\"hi\"\"\r\n\",x\n");
    }

    #[test]
    fn delimiters_outside_quotes_on_the_first_line() {
        assert_eq!(detect_delimiter("a;b;c\n1,2,3,4,5"), b';');
        assert_eq!(detect_delimiter("\"a,b,c\"|d\n"), b'|');
        assert_eq!(detect_delimiter("a\tb,c"), b',');
        assert_eq!(detect_delimiter("name"), b',');
    }
}
