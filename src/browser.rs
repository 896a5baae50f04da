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

use std::borrow::Cow;

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

/// A record's field and country, parsed (or why not).
type Parsed = Result<(Field, Country), Reject>;

/// Separates records in `hashBatchPacked` input and output.
const RECORD_SEP: char = '\u{1e}';
/// Separates the parts of one record.
const UNIT_SEP: char = '\u{1f}';
/// Starts a batch with one field and country for every value.
const GROUP_SEP: char = '\u{1d}';

/// A JS `Error` for a reject: message without the input, `code` and `field` properties.
fn reject_error(reject: Reject) -> JsValue {
    let error: JsValue = JsError::new(&reject.to_string()).into();
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

/// Many values in one call: `packed` holds records separated by U+001E, each
/// `FIELD U+001F COUNTRY U+001F INPUT` (or, when every value shares them,
/// `U+001D FIELD U+001F COUNTRY` then the inputs). The answer has two parts separated by
/// its last U+001D: one record per input in the same order, separated by U+001E (the
/// normalized value of a hashed field; U+001C and the value for a field sent unhashed;
/// U+001F and the reason code for a reject), then the 64 hex digits of each hashed
/// record's SHA-256, back to back in record order. The `hashBatch` function of the
/// package packs and unpacks; one string each way is what makes a batch cheap to cross.
///
/// The digests are computed at the end, four one-block values at a time
/// (`crate::hash::push_hex_digests`), and nothing is allocated per value.
#[wasm_bindgen(js_name = hashBatchPacked)]
pub fn hash_batch_packed(packed: &str) -> String {
    let mut batch = Batch::with_capacity(packed.len());
    // `U+001D FIELD U+001F COUNTRY U+001E input U+001E input …`: one field and country
    // for the whole batch, the common case, with nothing repeated per value.
    if let Some(rest) = packed.strip_prefix(GROUP_SEP) {
        let (header, inputs) = rest.split_once(RECORD_SEP).unwrap_or((rest, ""));
        let (field, country) = header.split_once(UNIT_SEP).unwrap_or((header, ""));
        let parsed = field
            .parse::<Field>()
            .and_then(|f| Ok((f, Country::parse(country)?)));
        for input in inputs.split(RECORD_SEP) {
            batch.push(parsed, input);
        }
        return batch.finish();
    }
    // Batches usually repeat one field and country: parse each distinct pair once.
    let mut last: Option<(&str, &str, Parsed)> = None;
    for record in packed.split(RECORD_SEP) {
        let mut parts = record.splitn(3, UNIT_SEP);
        let (field, country) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let input = parts.next().unwrap_or_default();
        let parsed = match &last {
            Some((f, c, parsed)) if *f == field && *c == country => *parsed,
            _ => {
                let parsed = field
                    .parse::<Field>()
                    .and_then(|f| Ok((f, Country::parse(country)?)));
                last = Some((field, country, parsed));
                parsed
            }
        };
        batch.push(parsed, input);
    }
    batch.finish()
}

/// Marks a record sent unhashed in `hashBatchPacked` output.
const UNHASHED_MARK: char = '\u{1c}';

/// A hashed record: where its normalized value lies in the answer, and whether it was an
/// existing digest passed through (COMMON-3: the value is then the digest itself).
struct Hashed {
    start: usize,
    end: usize,
    prehashed: bool,
}

/// The answer of `hashBatchPacked` being built.
struct Batch {
    normalizer: Normalizer,
    records: String,
    hashed: Vec<Hashed>,
    count: usize,
}

impl Batch {
    fn with_capacity(len: usize) -> Self {
        Self {
            normalizer: Normalizer::new(),
            records: String::with_capacity(len + len / 4),
            hashed: Vec::new(),
            count: 0,
        }
    }

    /// Normalizes one input and appends its record.
    fn push(&mut self, parsed: Parsed, input: &str) {
        if self.count > 0 {
            self.records.push(RECORD_SEP);
        }
        self.count += 1;
        let normalized = parsed.and_then(|(f, c)| {
            self.normalizer
                .normalize_flagged(f, &in_form(f, input), c)
                .map(|(value, prehashed)| (f, value, prehashed))
        });
        match normalized {
            Ok((field, value, prehashed)) if field.is_hashed() => {
                let start = self.records.len();
                self.records.push_str(value);
                self.hashed.push(Hashed {
                    start,
                    end: self.records.len(),
                    prehashed,
                });
            }
            Ok((_, value, _)) => {
                self.records.push(UNHASHED_MARK);
                self.records.push_str(value);
            }
            Err(reject) => {
                self.records.push(UNIT_SEP);
                self.records.push_str(reject.code());
            }
        }
    }

    /// The records, U+001D, then the digests, computed now into the answer itself.
    fn finish(self) -> String {
        let Self {
            mut records,
            hashed,
            ..
        } = self;
        records.reserve(1 + hashed.len() * 64);
        records.push(GROUP_SEP);
        for h in &hashed {
            let value = records.get(h.start..h.end).unwrap_or_default();
            let digest = if h.prehashed {
                // The value is the digest, lowercased (COMMON-3).
                crate::Sha256Hex::parse(value)
            } else {
                Some(crate::Sha256Hex::digest(value.as_bytes()))
            };
            records.push_str(digest.as_ref().map_or(NO_DIGEST, |d| d.as_str()));
        }
        records
    }
}

/// Keeps every digest slot 64 characters long; never sent (a pre-hashed value always parses).
const NO_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";
