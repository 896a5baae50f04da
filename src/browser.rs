//! The browser binding (feature `browser`): the core's normalization and hashing as
//! JavaScript functions, built into the npm package `matchkey` by `scripts/build-pkg.sh`.
//!
//! The only module that names wasm-bindgen or js-sys. The browser build leaves the
//! core's `unicode-tables` feature off (64 KB gzipped less); instead the page's own
//! `String.prototype.normalize` puts non-ASCII input in the form the rules start from
//! ([`crate::input_form`]), which is exact and costs nothing to ship.
//!
//! Errors are real JavaScript `Error`s with a `code` property (the core's reason code)
//! and a `field` property; their message never contains the input.
//!
//! The consent exports (`requiresConsent`, `tcfGranted`, `gppGranted`, `validTcfString`,
//! `validGppString`) read the CMP's decoded data and ask [`crate::consent`], so the site
//! tag holds no consent rule of its own.

use alloc::borrow::Cow;
use alloc::string::String;

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::consent::{self, AMAZON_TCF_VENDOR_ID, GppSection, TCF_PURPOSES};
use crate::{Country, Field, Normalizer, Reason, Reject, identity, input_form};

/// The record keys `matchKeys` reads, in the order it writes match keys.
const RECORD_KEYS: [(&str, Field); 11] = [
    ("email", Field::Email),
    ("phone", Field::Phone),
    ("firstName", Field::FirstName),
    ("lastName", Field::LastName),
    ("address", Field::Address),
    ("city", Field::City),
    ("state", Field::State),
    ("postal", Field::Postal),
    ("maid", Field::Maid),
    ("rampId", Field::RampId),
    ("matchId", Field::MatchId),
];

/// A JS `Error` for a reject: message without the input, `code` and `field` properties.
fn reject_error(reject: Reject) -> JsValue {
    let error: JsValue = JsError::new(&reject.message()).into();
    set(&error, "code", &reject.code().into());
    if let Some(field) = reject.field {
        set(&error, "field", &field.as_str().into());
    }
    error
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a property on a plain object or Error cannot fail.
    let _ = Reflect::set(target, &key.into(), value);
}

/// `input` in the Unicode form the field's rules start from, by the JS engine.
fn in_form(field: Field, input: &str) -> Cow<'_, str> {
    match input_form(field) {
        Some(form) if !input.is_ascii() => {
            let normalized: String = JsString::from(input).normalize(form.as_str()).into();
            Cow::Owned(normalized)
        }
        _ => Cow::Borrowed(input),
    }
}

fn parse_field(field: &str) -> Result<Field, JsValue> {
    field.parse().map_err(reject_error)
}

fn parse_country(country: &str) -> Result<Country, JsValue> {
    Country::parse(country).map_err(reject_error)
}

/// Normalizes and hashes one value: `{normalized, sha256}` (`sha256` is `null` for
/// MAID, RAMP_ID and MATCH_ID, which Amazon takes unhashed).
///
/// # Errors
/// An `Error` whose `code` is the reason (`invalid_email`, `empty`, `unknown_field`,
/// `invalid_country`, …).
#[wasm_bindgen(js_name = normalize)]
pub fn normalize_js(field: &str, input: &str, country: &str) -> Result<JsValue, JsValue> {
    let field = parse_field(field)?;
    let country = parse_country(country)?;
    let mut normalizer = Normalizer::new();
    let out = normalizer
        .process(field, &in_form(field, input), country)
        .map_err(reject_error)?;
    let result: JsValue = Object::new().into();
    set(&result, "normalized", &out.normalized.into());
    let sha256 = out.sha256.map_or(JsValue::NULL, |h| h.as_str().into());
    set(&result, "sha256", &sha256);
    Ok(result)
}

/// The Amazon match keys of one person, `[{type, values: [value]}]`, from an object with
/// any of `email, phone, firstName, lastName, address, city, state, postal, maid, rampId,
/// matchId`. Absent and empty fields are skipped; rejected ones are skipped too and
/// listed in the array's `rejected` property as `{field, code}`. A `matchId` or `rampId`
/// that looks like an e-mail address or a phone number is refused
/// (`looks_like_personal_data`): Amazon would receive it unhashed.
///
/// # Errors
/// Only for the whole call: `invalid_country`, or a record that is not an object.
#[wasm_bindgen(js_name = matchKeys)]
pub fn match_keys_js(record: JsValue, country: &str) -> Result<Array, JsValue> {
    let country = parse_country(country)?;
    if !record.is_object() {
        return Err(JsError::new("matchKeys takes an object of identity fields").into());
    }
    let keys = Array::new();
    let rejected = Array::new();
    let mut normalizer = Normalizer::new();
    for (name, field) in RECORD_KEYS {
        let Some(input) = Reflect::get(&record, &name.into())
            .ok()
            .and_then(|v| v.as_string())
        else {
            continue;
        };
        let key = identity::check_identifier(field, &input)
            .map_err(Reason::code)
            .and_then(|()| {
                normalizer
                    .match_key(field, &in_form(field, &input), country)
                    .map_err(|reject| reject.code())
            });
        match key {
            Ok(key) => {
                let item: JsValue = Object::new().into();
                set(&item, "type", &field.as_str().into());
                set(&item, "values", &Array::of1(&key.value().into()).into());
                keys.push(&item);
            }
            // An absent value is not a reject worth reporting.
            Err("empty") => {}
            Err(code) => {
                let item: JsValue = Object::new().into();
                set(&item, "field", &field.as_str().into());
                set(&item, "code", &code.into());
                rejected.push(&item);
            }
        }
    }
    set(&keys, "rejected", &rejected);
    Ok(keys)
}

/// Whether data from `country` needs a consent signal (the core's list of countries).
///
/// # Errors
/// `invalid_country`.
#[wasm_bindgen(js_name = requiresConsent)]
pub fn requires_consent_js(country: &str) -> Result<bool, JsValue> {
    parse_country(country).map(consent::requires_consent)
}

/// `target[key]`, or `undefined` when `target` is not an object.
fn get(target: &JsValue, key: &JsValue) -> JsValue {
    if !target.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(target, key).unwrap_or(JsValue::UNDEFINED)
}

/// Whether `target[key]` is `true` (nothing else counts as consent).
fn is_true(target: &JsValue, key: u32) -> bool {
    get(target, &key.into()).as_bool() == Some(true)
}

/// The items of an array (or any object with a numeric `length`), read one by one.
fn items(target: &JsValue) -> impl Iterator<Item = JsValue> + '_ {
    let len = get(target, &"length".into()).as_f64().unwrap_or(0.0);
    // A CMP's arrays are short; the bound keeps a forged `length` from looping long.
    (0..len.min(100_000.0) as u32).map(move |i| get(target, &i.into()))
}

/// Whether the CMP's decoded TCF data (`__tcfapi` `getTCData` / `addEventListener`)
/// grants what the tag needs: `vendor.consents[793]` and `purpose.consents[p]` for every
/// purpose the core lists. The caller decides whether the data is final (`eventStatus`).
#[wasm_bindgen(js_name = tcfGranted)]
pub fn tcf_granted_js(tc_data: &JsValue) -> bool {
    let consents = |group: &str| get(&get(tc_data, &group.into()), &"consents".into());
    let purposes = consents("purpose");
    consent::tcf_granted(
        is_true(&consents("vendor"), AMAZON_TCF_VENDOR_ID.into()),
        |p| is_true(&purposes, p.into()),
    )
}

/// A field of a parsed GPP section: the section object, or the first of its segment
/// objects that has the field (CMPs give either form).
fn gpp_field(section: &JsValue, name: &str) -> JsValue {
    let name = JsValue::from(name);
    let direct = get(section, &name);
    if !direct.is_undefined() {
        return direct;
    }
    items(section)
        .map(|segment| get(&segment, &name))
        .find(|v| !v.is_undefined())
        .unwrap_or(JsValue::UNDEFINED)
}

/// Whether the page's applicable GPP section, as its CMP parsed it (`__gpp` `ping`
/// `parsedSections[name]` or `getSection`), grants what the tag needs: `tcfeuv2` judged as
/// TCF (`VendorConsents` holds 793, `PurposeConsents[p - 1]` is true for every listed
/// purpose), `usnat` unless `SaleOptOut`, `SharingOptOut` or `TargetedAdvertisingOptOut`
/// is 1 (or is missing: unreadable data grants nothing) and only where consent is not
/// required (`consent_required`), any other section denied.
#[wasm_bindgen(js_name = gppGranted)]
pub fn gpp_granted_js(section_name: &str, parsed: &JsValue, consent_required: bool) -> bool {
    let section = match section_name {
        "tcfeuv2" => {
            let purposes = gpp_field(parsed, "PurposeConsents");
            GppSection::TcfEuV2 {
                vendor_consent: items(&gpp_field(parsed, "VendorConsents"))
                    .any(|v| v.as_f64() == Some(AMAZON_TCF_VENDOR_ID.into())),
                purposes_consent: TCF_PURPOSES
                    .iter()
                    .all(|&p| p > 0 && is_true(&purposes, u32::from(p) - 1)),
            }
        }
        "usnat" => GppSection::UsNat {
            opted_out: ["SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut"]
                .iter()
                .any(|name| gpp_field(parsed, name).as_f64().is_none_or(|v| v == 1.0)),
        },
        _ => GppSection::Other,
    };
    consent::gpp_granted(section, consent_required)
}

/// Whether `s` has the shape of a TCF string (what the tag passes on as `consent.tcf`).
#[wasm_bindgen(js_name = validTcfString)]
pub fn valid_tcf_string_js(s: &str) -> bool {
    consent::valid_tcf_string(s)
}

/// Whether `s` has the shape of a GPP string (what the tag passes on as `consent.gpp`).
#[wasm_bindgen(js_name = validGppString)]
pub fn valid_gpp_string_js(s: &str) -> bool {
    consent::valid_gpp_string(s)
}

/// `hashBatch` and `hashColumn`'s wasm side (`BatchInput`), in the full build only
/// (`browser_batch`, build.rs): bulk hashing is not a shop page's first need (the npm
/// package answers value by value there, and `prepare(records)` loads the full build), and
/// the console's csv build has `CsvHasher` instead.
#[cfg(browser_batch)]
pub mod batch {
    use super::*;
    use crate::hash::FourBlocks;
    use alloc::vec::Vec;

    /// A record's field and country, parsed (or why not).
    type Parsed = Result<(Field, Country), Reject>;

    /// Separates records in a batch's answer.
    const RECORD_SEP: char = '\u{1e}';
    /// Marks a rejected record in a batch's answer.
    const UNIT_SEP: char = '\u{1f}';

    /// A batch's buffers in the wasm memory, reused: the inputs, written there by the package,
    /// and the answer, read there by the package.
    //
    // Crossing each way with no copy, no `ArrayBuffer` and no string of megabytes: the package
    // writes the inputs with `TextEncoder.encodeInto` at [`BatchInput::reserve`]'s address and
    // decodes the answer in pieces (npm/batch.js says what each way cost before).
    #[wasm_bindgen]
    #[derive(Default)]
    pub struct BatchInput {
        bytes: Vec<u8>,
        /// The last answer's records and digests: their buffers are reused.
        records: Vec<u8>,
        digests: Vec<u8>,
    }

    /// Records per piece of a `BatchInput::hash_column` answer with normalized values: where
    /// each piece starts is part of the answer, so that the package decodes it piece by piece
    /// (pieces over 128 KB, strings V8 does not move).
    const PIECE: usize = 8192;

    #[wasm_bindgen]
    impl BatchInput {
        /// An empty buffer.
        #[wasm_bindgen(constructor)]
        pub fn new() -> BatchInput {
            BatchInput::default()
        }

        /// Makes room for `len` bytes of inputs; returns their address in the wasm memory.
        pub fn reserve(&mut self, len: usize) -> usize {
            if self.bytes.len() < len {
                self.bytes.resize(len, 0);
            }
            self.bytes.as_mut_ptr() as usize
        }

        /// Normalizes and hashes the inputs reserved (`len` bytes) of one field and country;
        /// returns where the answer lies in the wasm memory.
        ///
        /// # Errors
        /// `bad_batch` when the bytes are not UTF-8 or the lengths do not cover them.
        //
        // The first `len` bytes reserved are the UTF-8 of the inputs with one separator
        // character (any) between them, and `lengths` holds each input's length in UTF-16
        // code units (JavaScript's `length`), so an input may hold any character, the
        // separators included.
        //
        // The answer is left in the wasm memory in two parts, UTF-8: the records and the
        // digests. This returns the address and length in bytes of each, then, with
        // `normalized`, [`PIECE`] and the offset of every `PIECE`th record.
        //
        // With `normalized`, the records are one per input in the same order, separated by
        // U+001E: the normalized value of a hashed field; U+001C and the value for a field
        // sent unhashed; U+001F and the reason code for a reject, or U+001F alone for a value
        // holding a separator character, U+001C–U+001F, which the package asks of
        // `normalize`. The digests are the 64 hex digits of each hashed record's SHA-256,
        // back to back in record order, computed as the records come, four one-block values
        // at a time; nothing is allocated per value. Without `normalized`, the records are
        // only the exceptions (separated by U+001E), each the record's index in decimal,
        // then U+001F and the reason code for a reject (no code: ask `normalize`), or U+001C
        // and the value for a record sent unhashed. A column of one hashed field with no
        // reject has no records at all: no normalized value crosses back that the caller
        // did not ask for.
        #[wasm_bindgen(js_name = hashColumn)]
        pub fn hash_column(
            &mut self,
            field: &str,
            country: &str,
            len: usize,
            lengths: &[u32],
            normalized: bool,
        ) -> Result<Vec<u32>, JsValue> {
            let bad = || -> JsValue {
                let error: JsValue =
                    JsError::new("the batch's text and lengths do not agree").into();
                set(&error, "code", &"bad_batch".into());
                error
            };
            let text = self.bytes.get(..len).ok_or_else(bad)?;
            let text = core::str::from_utf8(text).map_err(|_| bad())?;
            let parsed = field
                .parse::<Field>()
                .and_then(|f| Ok((f, Country::parse(country)?)));
            let mut batch = Batch::new(
                core::mem::take(&mut self.records),
                core::mem::take(&mut self.digests),
                text.len(),
                lengths.len(),
                !normalized,
            );
            batch.cuts = normalized.then(|| Vec::with_capacity(lengths.len() / PIECE + 1));
            let ascii = text.is_ascii();
            let mut rest = text;
            for &units in lengths {
                let units = units as usize;
                // The input's bytes: as many as its UTF-16 units when all is ASCII, else
                // counted character by character (a surrogate pair is one 4-byte character).
                let bytes = if ascii {
                    units
                } else {
                    let mut counted = 0;
                    let mut bytes = 0;
                    for c in rest.chars() {
                        if counted >= units {
                            break;
                        }
                        counted += c.len_utf16();
                        bytes += c.len_utf8();
                    }
                    if counted != units {
                        return Err(bad());
                    }
                    bytes
                };
                let input = rest.get(..bytes).ok_or_else(bad)?;
                batch.push(parsed, input, ascii);
                // Past the input and the separator after it (none after the last).
                rest = &rest[bytes..];
                if let Some(sep) = rest.chars().next() {
                    rest = &rest[sep.len_utf8()..];
                }
            }
            if !rest.is_empty() {
                return Err(bad());
            }
            let cuts = batch.cuts.take().unwrap_or_default();
            let (records, digests) = batch.finish();
            let mut out = Vec::with_capacity(5 + cuts.len());
            for region in [&records, &digests] {
                out.extend([region.as_ptr() as u32, region.len() as u32]);
            }
            if normalized {
                out.push(PIECE as u32);
                out.extend(cuts);
            }
            self.records = records;
            self.digests = digests;
            Ok(out)
        }
    }

    /// Marks a record sent unhashed in a batch's answer.
    const UNHASHED_MARK: char = '\u{1c}';

    /// Whether a value holds a character the answer uses as a separator.
    fn holds_separator(value: &str) -> bool {
        value.bytes().any(|b| (0x1c..=0x1f).contains(&b))
    }

    /// The answer of `BatchInput::hash_column` being built: UTF-8 bytes (the inputs' own and
    /// ASCII), which the package decodes.
    struct Batch {
        normalizer: Normalizer,
        /// The records (or, `compact`, the exceptions).
        records: Vec<u8>,
        /// With `Some`, the offset in `records` of every [`PIECE`]th record.
        cuts: Option<Vec<u32>>,
        /// The digests so far, in record order.
        digests: Vec<u8>,
        /// Hashed values waiting to be hashed four at a time; their digests come next.
        waiting: FourBlocks,
        count: usize,
        /// Only exceptions are written: `hashColumn` without normalized values.
        compact: bool,
    }

    impl Batch {
        /// A batch whose answer goes into `records` and `digests` (their capacity is reused),
        /// for `count` inputs of about `len` bytes.
        fn new(
            mut records: Vec<u8>,
            mut digests: Vec<u8>,
            len: usize,
            count: usize,
            compact: bool,
        ) -> Self {
            records.clear();
            digests.clear();
            if !compact {
                records.reserve(len + len / 4);
            }
            digests.reserve(64 * count);
            Self {
                normalizer: Normalizer::new(),
                records,
                cuts: None,
                digests,
                waiting: FourBlocks::new(),
                count: 0,
                compact,
            }
        }

        /// Starts an exception of a compact answer in `records`: its separator and the
        /// record's index.
        fn exception(records: &mut Vec<u8>, index: usize) {
            if !records.is_empty() {
                records.push(RECORD_SEP as u8);
            }
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut n = index;
            loop {
                at -= 1;
                digits[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            records.extend_from_slice(&digits[at..]);
        }

        /// Normalizes one input (`ascii`: known to be ASCII) and appends its record.
        fn push(&mut self, parsed: Parsed, input: &str, ascii: bool) {
            let index = self.count;
            if index > 0 && !self.compact {
                self.records.push(RECORD_SEP as u8);
            }
            if let Some(cuts) = &mut self.cuts
                && index.is_multiple_of(PIECE)
            {
                cuts.push(self.records.len() as u32);
            }
            self.count += 1;
            let normalized = parsed.and_then(|(f, c)| {
                // ASCII needs no Unicode normalization form.
                let input = if ascii {
                    Cow::Borrowed(input)
                } else {
                    in_form(f, input)
                };
                self.normalizer
                    .normalize_flagged(f, &input, c)
                    .map(|(value, prehashed)| (f, value, prehashed))
            });
            // What stands in the answer for a record not hashed here: its mark and text.
            let (mark, text) = match normalized {
                Ok((field, value, prehashed)) if field.is_hashed() && !holds_separator(value) => {
                    if !self.compact {
                        self.records.extend_from_slice(value.as_bytes());
                    }
                    if prehashed || !self.waiting.push(value.as_bytes()) {
                        // Not one block (or the value is the digest, lowercased: COMMON-3):
                        // hashed alone, after those waiting.
                        Self::hash_waiting(&mut self.waiting, &mut self.digests);
                        let digest = if prehashed {
                            crate::Sha256Hex::parse(value)
                        } else {
                            Some(crate::Sha256Hex::digest(value.as_bytes()))
                        };
                        self.digests.extend_from_slice(
                            digest.as_ref().map_or(NO_DIGEST, |d| d.as_str()).as_bytes(),
                        );
                    } else if self.waiting.len() == 4 {
                        Self::hash_waiting(&mut self.waiting, &mut self.digests);
                    }
                    return;
                }
                Ok((_, value, _)) if !holds_separator(value) => (UNHASHED_MARK, value),
                // No code: the package asks `normalize` for this one.
                Ok(_) => (UNIT_SEP, ""),
                Err(reject) => (UNIT_SEP, reject.code()),
            };
            if self.compact {
                Self::exception(&mut self.records, index);
            }
            self.records.push(mark as u8);
            self.records.extend_from_slice(text.as_bytes());
        }

        /// Appends the digests of the values waiting (simd128 lanes in the browser).
        fn hash_waiting(waiting: &mut FourBlocks, digests: &mut Vec<u8>) {
            let n = waiting.len();
            if n > 0 {
                digests.extend_from_slice(&waiting.hex()[..64 * n]);
            }
        }

        /// The records and the digests.
        fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
            Self::hash_waiting(&mut self.waiting, &mut self.digests);
            (self.records, self.digests)
        }
    }

    /// Keeps every digest slot 64 characters long; never sent (a pre-hashed value always parses).
    const NO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";
}

/// The console's file page: `matchkey hash-csv` in the page (the `browser-csv` build
/// only; the builds shoppers' pages load have no file to read).
#[cfg(all(feature = "browser-csv", not(feature = "browser-lite")))]
pub mod csv_file {
    use std::collections::BTreeMap;
    use std::prelude::rust_2024::*;

    use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
    use js_sys::{Array, Object};
    use wasm_bindgen::prelude::*;

    use super::{in_form, set};
    use crate::csv_rows::{Plan, RowCountry, RowCounts, RowWriter, detect_delimiter};
    use crate::{Country, Field, Normalizer};

    /// Row numbers kept per reason for the page's summary (as the CLI keeps lines).
    const ROWS_KEPT: usize = 10;

    fn error(code: &str, message: &str) -> JsValue {
        let error: JsValue = JsError::new(message).into();
        set(&error, "code", &code.into());
        error
    }

    /// `,` `;` `\t` `|`, or detected from `text` when `given` is empty.
    fn delimiter(given: &str, text: impl FnOnce() -> String) -> Result<u8, JsValue> {
        match given {
            "" => Ok(detect_delimiter(&text())),
            "," | ";" | "\t" | "|" => Ok(given.as_bytes()[0]),
            _ => Err(error(
                "invalid_delimiter",
                "the delimiter is one of , ; tab |",
            )),
        }
    }

    fn reader(delimiter: u8) -> Reader {
        ReaderBuilder::new().delimiter(delimiter).build()
    }

    /// One record read by `csv-core` across chunks: its bytes and field ends.
    #[derive(Default)]
    struct Record {
        bytes: Vec<u8>,
        ends: Vec<usize>,
        len: usize,
        fields: usize,
    }

    impl Record {
        /// Reads from `input` until a record is complete (`Some(consumed)` with it in
        /// `self`), or the input is used up (`None`: all of it consumed). An empty
        /// `input` ends the file.
        fn read(&mut self, reader: &mut Reader, input: &[u8]) -> (bool, usize) {
            let mut at = 0;
            loop {
                if self.bytes.len() < self.len + 1024 {
                    self.bytes.resize((self.bytes.len() * 2).max(4096), 0);
                }
                if self.ends.len() < self.fields + 16 {
                    self.ends.resize((self.ends.len() * 2).max(64), 0);
                }
                let (res, nin, nout, nend) = reader.read_record(
                    &input[at..],
                    &mut self.bytes[self.len..],
                    &mut self.ends[self.fields..],
                );
                at += nin;
                self.len += nout;
                self.fields += nend;
                match res {
                    ReadRecordResult::Record => return (true, at),
                    ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                    ReadRecordResult::InputEmpty | ReadRecordResult::End => return (false, at),
                }
            }
        }

        fn clear(&mut self) {
            self.len = 0;
            self.fields = 0;
        }

        /// Where cell `i` lies in the record's bytes (empty when the row is short).
        fn cell(&self, i: usize) -> std::ops::Range<usize> {
            if i >= self.fields {
                return 0..0;
            }
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            start..self.ends[i]
        }
    }

    /// The header row of a CSV file from its first bytes (UTF-8, byte-order mark
    /// removed; the page decodes other encodings first; `whole` when they are the whole
    /// file): `{names, delimiter}`, the names trimmed, the delimiter detected as
    /// `hash-csv` does unless given.
    ///
    /// # Errors
    /// `no_header` (no complete first row in `sample`), `invalid_encoding`,
    /// `invalid_delimiter`.
    #[wasm_bindgen(js_name = csvHeader)]
    pub fn csv_header_js(
        sample: &[u8],
        delimiter_given: &str,
        whole: bool,
    ) -> Result<JsValue, JsValue> {
        let d = delimiter(delimiter_given, || {
            String::from_utf8_lossy(sample).into_owned()
        })?;
        let mut reader = reader(d);
        let mut record = Record::default();
        let (complete, _) = record.read(&mut reader, sample);
        if !(complete || whole && record.read(&mut reader, &[]).0) {
            return Err(error(
                "no_header",
                "no header row in the file's first bytes",
            ));
        }
        let text = std::str::from_utf8(&record.bytes[..record.len])
            .map_err(|_| error("invalid_encoding", "the header row is not valid UTF-8"))?;
        let names = Array::new();
        for i in 0..record.fields {
            let name = &text[record.cell(i)];
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            names.push(&name.trim().into());
        }
        let result: JsValue = Object::new().into();
        set(&result, "names", &names.into());
        set(&result, "delimiter", &char::from(d).to_string().into());
        Ok(result)
    }

    /// Counts of one reason: how many rows, and the first row numbers.
    #[derive(Default)]
    struct Tally {
        count: u64,
        rows: Vec<u64>,
    }

    impl Tally {
        fn add(&mut self, row: u64) {
            self.count += 1;
            if self.rows.len() < ROWS_KEPT {
                self.rows.push(row);
            }
        }
    }

    /// `matchkey hash-csv` over a file fed in chunks of UTF-8 bytes: each `push` returns
    /// the output of the rows it completed, `finish` the rest; the output is the CLI's,
    /// byte for byte (the library's row logic and CSV writer, `csv-core`'s reader as the
    /// CLI's `csv` reader uses it). Memory holds one row and one chunk's output.
    #[wasm_bindgen(js_name = CsvHasher)]
    pub struct CsvHasher {
        reader: Reader,
        record: Record,
        plan: Plan,
        width: usize,
        strict: bool,
        header_read: bool,
        rows_read: u64,
        normalizer: Normalizer,
        rows: RowWriter,
        counts: RowCounts,
        refused: BTreeMap<&'static str, Tally>,
        warnings: BTreeMap<&'static str, Tally>,
    }

    #[wasm_bindgen(js_class = CsvHasher)]
    impl CsvHasher {
        /// A conversion of a file whose header has `width` columns: `map` as
        /// `index=FIELD` pairs separated by commas (0-based header indices, FIELD as in
        /// `--map`), `country` (for every row) or `country_column` (an index, or -1),
        /// `keep` the indices copied, `delimiter` one of `,` `;` tab `|`, `strict`
        /// refusing short and long rows.
        ///
        /// # Errors
        /// `unknown_field`, `invalid_country`, `invalid_delimiter`, `bad_column` (an
        /// index not in the header), `nothing_to_write`.
        #[wasm_bindgen(constructor)]
        pub fn new(
            width: u32,
            map: &str,
            country: &str,
            country_column: i32,
            keep: &[u32],
            delimiter_given: &str,
            strict: bool,
        ) -> Result<CsvHasher, JsValue> {
            let width = width as usize;
            let index = |i: &str| -> Result<usize, JsValue> {
                i.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < width)
                    .ok_or_else(|| error("bad_column", "a column index not in the header"))
            };
            let mut mapped = Vec::new();
            for pair in map.split(',').filter(|p| !p.trim().is_empty()) {
                let (i, field) = pair
                    .split_once('=')
                    .ok_or_else(|| error("bad_mapping", "a mapping is index=FIELD"))?;
                let field = field.parse::<Field>().map_err(super::reject_error)?;
                mapped.push((index(i)?, field));
            }
            let row_country = if country_column >= 0 {
                RowCountry::Column(index(&country_column.to_string())?)
            } else {
                RowCountry::Fixed(Country::parse(country).map_err(super::reject_error)?)
            };
            let keep: Vec<usize> = keep
                .iter()
                .map(|&i| index(&i.to_string()))
                .collect::<Result<_, _>>()?;
            let plan = Plan::new(width, &mapped, row_country, &keep).ok_or_else(|| {
                error(
                    "nothing_to_write",
                    "nothing to write: no mapped or kept column",
                )
            })?;
            let d = match delimiter_given {
                "" => Err(error("invalid_delimiter", "the delimiter must be given")),
                given => delimiter(given, String::new),
            }?;
            Ok(CsvHasher {
                reader: reader(d),
                record: Record::default(),
                plan,
                width,
                strict,
                header_read: false,
                rows_read: 0,
                normalizer: Normalizer::new(),
                rows: RowWriter::new(),
                counts: RowCounts::default(),
                refused: BTreeMap::new(),
                warnings: BTreeMap::new(),
            })
        }

        /// The output header row.
        #[wasm_bindgen(js_name = headerRow)]
        pub fn header_row(&self, names: Vec<String>) -> Vec<u8> {
            let mut out = Vec::new();
            self.plan
                .write_header(|i| names.get(i).map_or("", String::as_str), &mut out);
            out
        }

        /// Reads `chunk` (the file's next bytes, UTF-8, the byte-order mark removed) and
        /// returns the output rows it completed. The first row read is the header.
        pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
            let mut out = Vec::with_capacity(chunk.len() * 2);
            let mut at = 0;
            while at < chunk.len() {
                let (complete, used) = self.record.read(&mut self.reader, &chunk[at..]);
                at += used;
                if complete {
                    self.row(&mut out);
                }
            }
            out
        }

        /// Ends the file: the output of a last row without a line break.
        pub fn finish(&mut self) -> Vec<u8> {
            let mut out = Vec::new();
            while self.record.read(&mut self.reader, &[]).0 {
                self.row(&mut out);
            }
            out
        }

        /// The counts so far: `{rowsRead, rowsWritten, noMatchKeys, rejects: [{field,
        /// code, count}], refused: [{reason, count, rows}], warnings: [{reason, count,
        /// rows}]}` (rows numbered from 1, the header not counted; never a value).
        pub fn counts(&self) -> JsValue {
            let result: JsValue = Object::new().into();
            set(&result, "rowsRead", &(self.rows_read as f64).into());
            set(&result, "rowsWritten", &(self.counts.rows as f64).into());
            set(
                &result,
                "noMatchKeys",
                &(self.counts.no_match_keys as f64).into(),
            );
            let rejects = Array::new();
            for ((field, code), n) in &self.counts.rejects {
                let item: JsValue = Object::new().into();
                set(&item, "field", &field.as_str().into());
                set(&item, "code", &(*code).into());
                set(&item, "count", &(*n as f64).into());
                rejects.push(&item);
            }
            set(&result, "rejects", &rejects.into());
            for (name, tallies) in [("refused", &self.refused), ("warnings", &self.warnings)] {
                let list = Array::new();
                for (reason, tally) in tallies {
                    let item: JsValue = Object::new().into();
                    set(&item, "reason", &(*reason).into());
                    set(&item, "count", &(tally.count as f64).into());
                    let rows = Array::new();
                    for r in &tally.rows {
                        rows.push(&(*r as f64).into());
                    }
                    set(&item, "rows", &rows.into());
                    list.push(&item);
                }
                set(&result, name, &list.into());
            }
            result
        }

        /// Converts the record just read (or skips the header) and clears it.
        fn row(&mut self, out: &mut Vec<u8>) {
            if !self.header_read {
                self.header_read = true;
                self.record.clear();
                return;
            }
            self.rows_read += 1;
            let n = self.rows_read;
            let shape = match self.record.fields {
                f if f < self.width => Some("short_row"),
                f if f > self.width => Some("long_row"),
                _ => None,
            };
            let record = &self.record;
            let Ok(text) = std::str::from_utf8(&record.bytes[..record.len]) else {
                self.refused.entry("invalid_encoding").or_default().add(n);
                self.record.clear();
                return;
            };
            match shape {
                Some(reason) if self.strict => {
                    self.refused.entry(reason).or_default().add(n);
                    self.record.clear();
                    return;
                }
                Some(reason) => self.warnings.entry(reason).or_default().add(n),
                None => {}
            }
            self.rows.write_row(
                &self.plan,
                |i| &text[record.cell(i)],
                in_form,
                &mut self.normalizer,
                &mut self.counts,
                out,
            );
            self.record.clear();
        }
    }
}
