//! PHONE-1 and PHONE-2: phone numbers read the way libphonenumber reads them, with the
//! record's country as the default region, written as E.164 digits without the `+`.
//!
//! Only the parts of libphonenumber that decide the digits are reproduced: extracting the
//! number from surrounding text, dropping extensions, vanity letters, the international
//! and national (trunk) prefixes, a calling code typed without `+`, and the possible-length
//! check. Number-range validity is not checked (PHONE-2). Detailed metadata covers the 23
//! regions of Appendix C; every other country gets its calling code from
//! [`crate::Country`] and generic prefixes and lengths.

#[cfg(not(feature = "browser-lite"))]
use super::phone_meta::NON_GEOGRAPHIC;
use super::phone_meta::{MAIN_MARKETS, MAIN_OTHERS, MARKETS, REGIONS};
use crate::country::Country;
use crate::reject::Reason;
use crate::text::{decimal_digit, head, lower, tail};
use alloc::string::String;
use alloc::vec::Vec;

/// Per-region numbering facts (libphonenumber's metadata, generated into `phone_meta.rs`).
#[derive(Clone, Copy)]
pub(super) struct Meta {
    pub(super) calling_code: u16,
    /// Trunk prefixes dialled before national numbers and removed when parsing, longest
    /// first (empty: none; Italy's leading 0 belongs to the number).
    pub(super) trunk: &'static [&'static str],
    /// International (IDD) prefixes; `.` stands for any digit.
    pub(super) idd: &'static [&'static str],
    /// Possible national significant number lengths, as a bit set (bit n = length n).
    pub(super) possible: u32,
    /// Lengths only dialable locally (7-digit North American numbers): not possible here.
    pub(super) local_only: u32,
    /// The lengths of fixed-line and mobile numbers; stands in for libphonenumber's number
    /// pattern when deciding whether digits start with a calling code typed without `+`.
    pub(super) usual: u32,
    /// The digits a national number can start with (bit d = digit d).
    pub(super) lead: u16,
}

/// Curated [`Meta::usual`] lengths for the regions of Appendix C, where the lengths of
/// all fixed-line and mobile numbers are wider than the numbers people write (an Italian
/// number is 6 to 11 digits, so `39` + 10 digits is a calling code, not a number).
#[rustfmt::skip]
const USUAL: &[([u8; 2], u32)] = &[
    (*b"AE", lengths(8, 9)), (*b"AU", len(9)), (*b"BE", lengths(8, 9)), (*b"BR", lengths(10, 11)),
    (*b"CA", len(10)), (*b"DE", lengths(6, 11)), (*b"EG", lengths(8, 10)), (*b"ES", len(9)),
    (*b"FR", len(9)), (*b"GB", lengths(9, 10)), (*b"IE", lengths(7, 9)), (*b"IN", len(10)),
    (*b"IT", lengths(6, 11)), (*b"JP", lengths(9, 10)), (*b"MX", len(10)), (*b"NL", len(9)),
    (*b"PL", len(9)), (*b"SA", len(9)), (*b"SE", lengths(7, 9)), (*b"SG", len(8)),
    (*b"TR", len(10)), (*b"US", len(10)), (*b"ZA", len(9)),
];

const fn lengths(from: u32, to: u32) -> u32 {
    // Bits from..=to.
    (u32::MAX >> (31 - to)) & !((1 << from) - 1)
}

const fn len(n: u32) -> u32 {
    1 << n
}

/// Brazilian carrier selection codes, dialled after the trunk 0 (libphonenumber's BR
/// national prefix for parsing).
const BR_CARRIERS: &[&str] = &[
    "12", "14", "15", "21", "22", "23", "25", "31", "41", "43", "55", "65", "99",
];

/// Longest national significant number libphonenumber parses.
const MAX_NSN: usize = 17;
/// Shortest national significant number libphonenumber parses.
const MIN_NSN: usize = 2;

/// `key`'s value in a table generated in two parts, Appendix C's regions and every other,
/// `None` when in neither. The browser's lite build reads only the first and answers
/// `not_in_this_build` for any other key, so it never gives an answer the full build
/// would not.
fn lookup<K: Ord + Copy, V: Copy>(
    key: K,
    markets: &[(K, V)],
    others: &[(K, V)],
) -> Result<Option<V>, Reason> {
    let find = |table: &[(K, V)]| {
        table
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| table[i].1)
    };
    match find(markets) {
        Some(value) => Ok(Some(value)),
        None if cfg!(feature = "browser-lite") => Err(Reason::NotInThisBuild),
        None => Ok(find(others)),
    }
}

/// A region's metadata, `Ok(None)` when libphonenumber has none (the lite build: see
/// [`lookup`]).
fn region_meta(code: [u8; 2]) -> Result<Option<Meta>, Reason> {
    Ok(lookup(code, MARKETS, REGIONS)?.map(|mut meta| {
        if let Some((_, usual)) = USUAL.iter().find(|(c, _)| *c == code) {
            meta.usual = *usual;
        }
        meta
    }))
}

/// The record country's metadata; territories libphonenumber has none for (AQ, BV, …)
/// use their calling code's.
fn meta_for_country(country: Country) -> Result<Meta, Reason> {
    let code = country.as_str().as_bytes();
    match region_meta([code[0], code[1]])? {
        Some(meta) => Ok(meta),
        #[cfg(not(feature = "browser-lite"))]
        None => meta_for_calling_code(country.calling_code()),
        // Never reached: the lite build has metadata for all its regions, and the country
        // table's calling codes stay out of it.
        #[cfg(feature = "browser-lite")]
        None => Err(Reason::NotInThisBuild),
    }
}

/// The main region of `calling_code`, `None` when no region has it (the lite build: see
/// [`lookup`]).
fn main_region(calling_code: u16) -> Result<Option<[u8; 2]>, Reason> {
    lookup(calling_code, MAIN_MARKETS, MAIN_OTHERS)
}

/// The metadata numbers with `calling_code` use (its main region's, or a non-geographic
/// code's lengths).
fn meta_for_calling_code(calling_code: u16) -> Result<Meta, Reason> {
    if let Some(region) = main_region(calling_code)? {
        return region_meta(region)?.ok_or(Reason::UnparseablePhone);
    }
    #[cfg(feature = "browser-lite")]
    return Err(Reason::UnparseablePhone);
    #[cfg(not(feature = "browser-lite"))]
    NON_GEOGRAPHIC
        .iter()
        .find(|(cc, _)| *cc == calling_code)
        .map(|&(calling_code, possible)| Meta {
            calling_code,
            trunk: &[],
            idd: &[],
            possible,
            local_only: 0,
            usual: possible,
            lead: 0x3ff,
        })
        .ok_or(Reason::UnparseablePhone)
}

impl Meta {
    /// Stands in for libphonenumber's "matches the region's number pattern": a usual
    /// length, and a first digit the pattern allows.
    fn looks_national(&self, digits: &str) -> bool {
        let first = digits.bytes().next().map_or(10, |b| b.wrapping_sub(b'0'));
        digits.len() < 32
            && self.usual & (1 << digits.len()) != 0
            && first < 10
            && self.lead & (1 << first) != 0
    }
}

/// Whether `cc` is a calling code (every main region has metadata: a test checks it). In
/// the lite build: a calling code of Appendix C's regions.
fn is_calling_code(cc: u16) -> bool {
    let known = matches!(main_region(cc), Ok(Some(_)));
    #[cfg(not(feature = "browser-lite"))]
    let known = known || NON_GEOGRAPHIC.iter().any(|(c, _)| *c == cc);
    known
}

/// libphonenumber's `testNumberLength`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

fn test_length(n: usize, meta: &Meta) -> Length {
    let has = |set: u32| n < 32 && set & (1 << n) != 0;
    if has(meta.local_only) {
        Length::LocalOnly
    } else if has(meta.possible) {
        Length::Possible
    } else if n < meta.possible.trailing_zeros() as usize {
        Length::TooShort
    } else if n > 31 - meta.possible.leading_zeros() as usize {
        Length::TooLong
    } else {
        Length::Invalid
    }
}

/// Normalizes `input` (already trimmed, not empty) into `out`. `chars` and `digits` are
/// scratch space reused across calls.
pub(super) fn phone(
    input: &str,
    country: Country,
    out: &mut String,
    chars: &mut Vec<char>,
    digits: &mut String,
) -> Result<(), Reason> {
    chars.clear();
    chars.extend(extract_possible_number(input)?.chars());
    let main = strip_extension(chars);
    if !is_viable(main) {
        return Err(Reason::UnparseablePhone);
    }
    let international = normalize_digits(main, digits);
    let digits = digits.as_str();
    let region = meta_for_country(country)?;

    let (calling_code, national) = if international {
        match split_after_prefix(digits) {
            Ok(split) => split,
            // Like libphonenumber: a `+` before an unknown calling code is read again
            // without it, as an international number only ("+00 44 …").
            Err(Reason::UnparseablePhone) => match strip_idd(digits, region.idd) {
                Some(rest) => split_after_prefix(rest)?,
                None => return Err(Reason::UnparseablePhone),
            },
            Err(reason) => return Err(reason),
        }
    } else if let Some(rest) = strip_idd(digits, region.idd) {
        split_after_prefix(rest)?
    } else {
        (
            region.calling_code,
            calling_code_without_plus(digits, &region),
        )
    };
    let meta = meta_for_calling_code(calling_code)?;
    let nsn = strip_national_prefix(national, &meta, true);

    if nsn.len() < MIN_NSN
        || nsn.len() > MAX_NSN
        || test_length(nsn.len(), &meta) != Length::Possible
    {
        return Err(Reason::ImpossiblePhoneLength);
    }
    push_number(out, calling_code);
    out.push_str(nsn);
    Ok(())
}

/// Appends the decimal digits of `n` without allocating.
fn push_number(out: &mut String, n: u16) {
    let (digits, len) = number_digits(n);
    out.extend(digits[..len].iter().map(|&d| char::from(d)));
}

/// The decimal digits of `n` (at most five) and how many there are.
fn number_digits(mut n: u16) -> ([u8; 5], usize) {
    let mut digits = [0u8; 5];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[..len].reverse();
    (digits, len)
}

/// libphonenumber's `extractPossibleNumber`: from the first `+` or digit, without
/// trailing characters that are neither letters, numbers nor `#`.
fn extract_possible_number(input: &str) -> Result<&str, Reason> {
    let Some(start) = input.find(|c: char| is_plus(c) || decimal_digit(c).is_some()) else {
        return Ok("");
    };
    let s = tail(input, start);
    // A second number written after a slash ("… / x123") is dropped.
    let s = match s.find(['/', '\\']) {
        Some(i) if tail(s, i + 1).trim_start().starts_with(['x', 'X']) => head(s, i),
        _ => s,
    };
    let mut end = s.len();
    for (i, c) in s.char_indices().rev() {
        if c == '#' || is_letter_or_number(c)? {
            break;
        }
        end = i;
    }
    Ok(head(s, end))
}

/// Whether `c` is a Unicode letter or number (`\p{L}`, `\p{N}`).
#[cfg(not(feature = "browser-lite"))]
fn is_letter_or_number(c: char) -> Result<bool, Reason> {
    Ok(c.is_alphanumeric())
}

/// Whether `c` is a Unicode letter or number, for ASCII, the decimal digits and common
/// punctuation. The lite build leaves out `core`'s letter and number tables (1.9 KB of the
/// page's first download) and defers anything else to the full build: a number followed
/// by a word or numeral of another script.
#[cfg(feature = "browser-lite")]
fn is_letter_or_number(c: char) -> Result<bool, Reason> {
    if c.is_ascii() {
        Ok(c.is_ascii_alphanumeric())
    } else if decimal_digit(c).is_some() {
        Ok(true)
    } else if PUNCTUATION.iter().any(|r| r.contains(&c)) {
        Ok(false)
    } else {
        Err(Reason::NotInThisBuild)
    }
}

/// Blocks of punctuation that hold no letter or number (a test checks it): general
/// punctuation (dashes, quotes, `…`), CJK and full-width punctuation.
#[cfg_attr(not(any(test, feature = "browser-lite")), allow(dead_code))]
const PUNCTUATION: [core::ops::RangeInclusive<char>; 6] = [
    '\u{2000}'..='\u{206F}',
    '\u{3000}'..='\u{3004}',
    '\u{FF01}'..='\u{FF0F}',
    '\u{FF1A}'..='\u{FF20}',
    '\u{FF3B}'..='\u{FF40}',
    '\u{FF5B}'..='\u{FF65}',
];

fn is_plus(c: char) -> bool {
    c == '+' || c == '＋'
}

/// Punctuation libphonenumber allows between digits (VALID_PUNCTUATION, the star, and
/// any white space).
fn is_punct(c: char) -> bool {
    matches!(
        c,
        '-' | 'x' | 'X' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF0D}'..='\u{FF0F}'
            | '\u{AD}' | '\u{200B}' | '\u{2060}' | '(' | ')' | '\u{FF08}' | '\u{FF09}'
            | '\u{FF3B}' | '\u{FF3D}' | '.' | '[' | ']' | '/' | '~' | '\u{2053}' | '\u{223C}'
            | '\u{FF5E}' | '*'
    ) || c.is_whitespace()
}

/// The extension markers (libphonenumber's) for extensions of at most 20 digits, compared
/// without case (`lower`).
const WORDS: &[&str] = &[
    "extension",
    "extensión",
    "extensio",
    "extensi",
    "extn",
    "ext",
    "xtn",
    "xt",
    "anexo",
    "доб",
];
/// Short markers, for extensions of at most 9 digits.
const SHORT: &[&str] = &["int", "ｉｎｔ", "x", "ｘ", "#", "＃", "~", "～"];

/// Drops a trailing extension (`ext. 123`, `x123`, `#123`, `;ext=123`); the digits Amazon
/// wants never include it (PHONE-1).
fn strip_extension(chars: &[char]) -> &[char] {
    let mut end = chars.len();
    let had_hash = end > 0 && matches!(chars[end - 1], '#' | '＃');
    if had_hash {
        end -= 1;
    }
    let digits_end = end;
    while end > 0 && decimal_digit(chars[end - 1]).is_some() {
        end -= 1;
    }
    let n_digits = digits_end - end;
    if n_digits == 0 {
        return chars;
    }
    let digits_start = end;
    // "123-4567 - 89#": a short extension after a dash or space, closed by '#'.
    let mut sep = digits_start;
    while sep > 0 && matches!(chars[sep - 1], ' ' | '\t' | ',' | '-' | '\u{A0}') {
        sep -= 1;
    }
    let mut marker_end = sep;
    if marker_end > 0 && matches!(chars[marker_end - 1], ':' | '.' | '．') {
        marker_end -= 1;
    }
    // Every marker ends in a letter or a symbol: digits here mean there is none.
    let no_marker = marker_end == 0 || decimal_digit(chars[marker_end - 1]).is_some();
    if no_marker && !(had_hash && sep < digits_start) {
        return chars;
    }
    // The start of `marker` when it ends right at `marker_end` (case-insensitive).
    let ends_with = |marker: &str| -> Option<usize> {
        let mut start = marker_end;
        for m in marker.chars().rev() {
            start = start.checked_sub(1)?;
            if !lower(chars[start]).eq(lower(m)) {
                return None;
            }
        }
        Some(start)
    };
    let marker_start = if n_digits <= 20 && sep == digits_start {
        ends_with(";ext=")
    } else {
        None
    }
    .or_else(|| {
        (n_digits <= 20)
            .then(|| WORDS.iter().find_map(|w| ends_with(w)))
            .flatten()
    })
    .or_else(|| {
        (n_digits <= 9)
            .then(|| SHORT.iter().find_map(|w| ends_with(w)))
            .flatten()
    })
    .or_else(|| (had_hash && n_digits <= 6 && sep < digits_start).then_some(sep));

    match marker_start {
        // The number itself must come before the extension.
        Some(start) if chars[..start].iter().any(|c| decimal_digit(*c).is_some()) => {
            let mut cut = start;
            while cut > 0 && matches!(chars[cut - 1], ' ' | '\t' | ',') {
                cut -= 1;
            }
            &chars[..cut]
        }
        _ => chars,
    }
}

/// libphonenumber's VALID_PHONE_NUMBER: two digits alone, or pluses, at least three
/// digits separated by punctuation, then optionally a run of letters and digits (a
/// vanity number such as `1-800-FLOWERS`).
fn is_viable(chars: &[char]) -> bool {
    let is_digit = |c: &char| decimal_digit(*c).is_some();
    if chars.len() == 2 && chars.iter().all(is_digit) {
        return true;
    }
    let mut i = chars.iter().take_while(|c| is_plus(**c)).count();
    let mut n_digits = 0;
    loop {
        let mut j = i;
        while j < chars.len() && is_punct(chars[j]) && !is_digit(&chars[j]) {
            j += 1;
        }
        if j < chars.len() && is_digit(&chars[j]) {
            n_digits += 1;
            i = j + 1;
        } else {
            break;
        }
    }
    if n_digits < 3 {
        return false;
    }
    while i < chars.len() && is_punct(chars[i]) {
        i += 1;
    }
    chars[i..]
        .iter()
        .all(|c| c.is_ascii_alphabetic() || is_digit(c))
}

/// Writes the number's digits into `digits`; returns whether it was written with a
/// leading `+`. Vanity letters become keypad digits when there are at least three of
/// them; otherwise letters and punctuation are dropped.
fn normalize_digits(chars: &[char], digits: &mut String) -> bool {
    let international = chars.first().is_some_and(|c| is_plus(*c));
    let letters = chars.iter().filter(|c| c.is_ascii_alphabetic()).count();
    digits.clear();
    digits.extend(chars.iter().filter_map(|&c| match decimal_digit(c) {
        Some(d) => Some(char::from(b'0' + d)),
        None if letters >= 3 && c.is_ascii_alphabetic() => Some(keypad(c)),
        None => None,
    }));
    international
}

fn keypad(c: char) -> char {
    match c.to_ascii_uppercase() {
        'A'..='C' => '2',
        'D'..='F' => '3',
        'G'..='I' => '4',
        'J'..='L' => '5',
        'M'..='O' => '6',
        'P'..='S' => '7',
        'T'..='V' => '8',
        _ => '9',
    }
}

/// The digits after an international prefix of the region, if they start with one.
/// As in libphonenumber, a prefix followed by 0 is not taken as international.
fn strip_idd<'a>(digits: &'a str, idd: &[&str]) -> Option<&'a str> {
    idd.iter().find_map(|prefix| {
        let matches = digits.len() > prefix.len()
            && prefix
                .bytes()
                .zip(digits.bytes())
                .all(|(p, d)| p == b'.' || p == d);
        let rest = tail(digits, prefix.len());
        (matches && !rest.starts_with('0')).then_some(rest)
    })
}

/// The calling code and national number of digits written after `+` or an IDD.
fn split_after_prefix(digits: &str) -> Result<(u16, &str), Reason> {
    // libphonenumber's TOO_SHORT_AFTER_IDD.
    if digits.len() <= MIN_NSN {
        return Err(Reason::ImpossiblePhoneLength);
    }
    split_calling_code(digits).ok_or(
        // Calling codes are prefix-free (a test checks it), so the lite build splits as the
        // full one does wherever it finds one of its codes; where it finds none, the code
        // may be another region's.
        if cfg!(feature = "browser-lite") && !digits.starts_with('0') {
            Reason::NotInThisBuild
        } else {
            Reason::UnparseablePhone
        },
    )
}

/// Splits digits written after `+` (or an IDD) into a calling code (1 to 3 digits, the
/// first that exists) and the rest.
fn split_calling_code(digits: &str) -> Option<(u16, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|n| {
        let cc: u16 = head(digits, n).parse().ok()?;
        is_calling_code(cc).then(|| (cc, tail(digits, n)))
    })
}

/// A national number that starts with the region's own calling code (`447911123456` in
/// GB) is taken as written with it when the whole is too long, or when only the rest
/// looks like a number of the region (libphonenumber's `maybeExtractCountryCode`).
fn calling_code_without_plus<'a>(digits: &'a str, region: &Meta) -> &'a str {
    let (cc, cc_len) = number_digits(region.calling_code);
    if !digits.as_bytes().starts_with(&cc[..cc_len]) {
        return digits;
    }
    let looks_national = |s: &str| region.looks_national(s);
    // As in libphonenumber, the rest loses its trunk prefix here without the length
    // check the parser makes later.
    let rest = strip_national_prefix(tail(digits, cc_len), region, false);
    let better = !looks_national(digits) && looks_national(rest);
    if better || test_length(digits.len(), region) == Length::TooLong {
        rest
    } else {
        digits
    }
}

/// Removes the trunk prefix (`0` in GB, `1` in the US) when the number starts with it
/// and something is left; Brazil's carrier codes after the 0 go with it. With `undo`, as
/// libphonenumber's parser does, a removal that leaves a too-short number is not made
/// (a US `187 709 5605` keeps its 1).
fn strip_national_prefix<'a>(digits: &'a str, meta: &Meta, undo: bool) -> &'a str {
    let Some(rest) = meta
        .trunk
        .iter()
        .find_map(|t| digits.strip_prefix(t).filter(|rest| !rest.is_empty()))
    else {
        return digits;
    };
    let rest = if meta.calling_code == 55
        && matches!(rest.len(), 12 | 13)
        && BR_CARRIERS.contains(&head(rest, 2))
    {
        tail(rest, 2)
    } else {
        rest
    };
    let kept = matches!(
        test_length(rest.len(), meta),
        Length::Possible | Length::TooLong
    );
    if undo && !kept { digits } else { rest }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;

    #[test]
    fn extension_markers_are_compared_exactly() {
        for marker in WORDS.iter().chain(SHORT).chain(&[";ext="]) {
            for c in marker.chars().flat_map(char::to_lowercase) {
                assert!(crate::text::CASE_RELEVANT.contains(c), "{c} in {marker}");
            }
        }
    }

    fn norm(input: &str, country: &str) -> Result<String, Reason> {
        let mut out = String::new();
        let country = Country::parse(country).unwrap();
        phone(
            input,
            country,
            &mut out,
            &mut Vec::new(),
            &mut String::new(),
        )
        .map(|()| out)
    }

    #[test]
    fn the_lite_builds_regions_are_appendix_c() {
        // The generator's MARKETS (what the lite build carries) and the curated lengths
        // name the same regions.
        let markets: Vec<_> = MARKETS.iter().map(|(c, _)| *c).collect();
        let curated: Vec<_> = USUAL.iter().map(|(c, _)| *c).collect();
        assert_eq!(markets, curated);
        assert!(
            REGIONS
                .iter()
                .all(|(c, _)| markets.binary_search(c).is_err())
        );
    }

    #[test]
    fn every_calling_code_has_metadata() {
        // `is_calling_code` relies on it.
        for &(cc, region) in MAIN_MARKETS.iter().chain(MAIN_OTHERS) {
            let meta = region_meta(region).unwrap().unwrap();
            assert_eq!(meta.calling_code, cc);
        }
    }

    #[test]
    fn the_lite_builds_punctuation_holds_no_letter_or_number() {
        for c in PUNCTUATION.into_iter().flatten() {
            assert!(!c.is_alphanumeric(), "{:x}", u32::from(c));
        }
    }

    #[test]
    fn calling_codes_are_prefix_free() {
        // The lite build splits `+` numbers with the codes of Appendix C only; it finds the
        // full build's split because no code is the start of another.
        let codes: Vec<String> = (MAIN_MARKETS.iter().chain(MAIN_OTHERS))
            .map(|(cc, _)| *cc)
            .chain(NON_GEOGRAPHIC.iter().map(|(cc, _)| *cc))
            .map(|cc| cc.to_string())
            .collect();
        for a in &codes {
            for b in &codes {
                assert!(a == b || !b.starts_with(a.as_str()), "{a} starts {b}");
            }
        }
    }

    #[test]
    fn length_tests() {
        let us = region_meta(*b"US").unwrap().unwrap();
        assert_eq!(test_length(10, &us), Length::Possible);
        assert_eq!(test_length(7, &us), Length::LocalOnly);
        assert_eq!(test_length(9, &us), Length::TooShort);
        assert_eq!(test_length(11, &us), Length::TooLong);
        let gb = region_meta(*b"GB").unwrap().unwrap();
        assert_eq!(test_length(8, &gb), Length::LocalOnly);
        assert_eq!(lengths(4, 15).count_ones(), 12);
    }

    /// Answers of libphonenumber (python `phonenumbers` 9.0.43) that need the generated
    /// metadata: lengths of countries outside Appendix C, Brazil's `90`, IDD edge cases.
    #[test]
    fn agrees_with_libphonenumber_on_metadata_cases() {
        for (input, country, expected) in [
            (
                "+251 (252) 660-0303",
                "US",
                Err(Reason::ImpossiblePhoneLength),
            ),
            ("+251 91 123 4567", "US", Ok("251911234567")),
            ("0 21 3456 7890", "BR", Ok("552134567890")),
            ("0080", "GB", Err(Reason::ImpossiblePhoneLength)),
            ("+00 44 20 7946 0958", "FR", Ok("442079460958")),
            ("1(193)502-1635", "US", Err(Reason::ImpossiblePhoneLength)),
            ("(0)6 12 34 56 78", "FR", Ok("33612345678")),
            ("8 (912) 345-67-89", "RU", Ok("79123456789")),
        ] {
            assert_eq!(
                norm(input, country).as_deref(),
                expected.as_deref(),
                "{input} {country}"
            );
        }
    }

    #[test]
    fn trunk_prefix_kept_when_removing_it_leaves_too_little() {
        assert_eq!(norm("187 709 5605", "US").as_deref(), Ok("11877095605"));
        assert_eq!(
            norm("+251 (252) 660-0303", "US"),
            Err(Reason::ImpossiblePhoneLength)
        );
    }

    #[test]
    fn calling_code_typed_without_plus() {
        assert_eq!(norm("15714120599", "US").as_deref(), Ok("15714120599"));
        assert_eq!(norm("447911123456", "GB").as_deref(), Ok("447911123456"));
        assert_eq!(norm("919876543210", "IN").as_deref(), Ok("919876543210"));
        assert_eq!(norm("4915112345678", "DE").as_deref(), Ok("4915112345678"));
        // An Italian mobile that happens to start with 39 stays national.
        assert_eq!(norm("3931234567", "IT").as_deref(), Ok("393931234567"));
    }

    #[test]
    fn international_prefixes() {
        assert_eq!(
            norm("011 44 20 7946 0958", "US").as_deref(),
            Ok("442079460958")
        );
        assert_eq!(
            norm("010 1 202 555 0143", "JP").as_deref(),
            Ok("12025550143")
        );
        assert_eq!(norm("+0 123 456", "US"), Err(Reason::UnparseablePhone));
        assert_eq!(norm("+999 1234 5678", "US"), Err(Reason::UnparseablePhone));
    }

    #[test]
    fn extensions_and_vanity() {
        assert_eq!(norm("202-555-0143 x12", "US").as_deref(), Ok("12025550143"));
        assert_eq!(
            norm("202-555-0143;ext=12", "US").as_deref(),
            Ok("12025550143")
        );
        assert_eq!(
            norm("(202) 555-0143 extension 7", "US").as_deref(),
            Ok("12025550143")
        );
        assert_eq!(norm("1-800-FLOWERS", "US").as_deref(), Ok("18003569377"));
        assert_eq!(norm("555 ab 1234", "US"), Err(Reason::UnparseablePhone));
    }

    #[test]
    fn other_scripts_and_generic_countries() {
        assert_eq!(
            norm("０９０-１２３４-５６７８", "JP").as_deref(),
            Ok("819012345678")
        );
        assert_eq!(norm("0412 345 678", "AU").as_deref(), Ok("61412345678"));
        assert_eq!(
            norm("+55 19 9-9999-9999", "BR").as_deref(),
            Ok("5519999999999")
        );
        assert_eq!(norm("021 123 4567", "NZ").as_deref(), Ok("64211234567"));
        assert_eq!(norm("8 912 345 67 89", "RU").as_deref(), Ok("79123456789"));
        assert_eq!(norm("1", "US"), Err(Reason::UnparseablePhone));
        assert_eq!(norm("12", "US"), Err(Reason::ImpossiblePhoneLength));
    }
}
