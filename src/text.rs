//! Text helpers shared by the field rules: Python-compatible trimming, the Unicode
//! normalization forms of COMMON-4 (each with an ASCII fast path), and STATE-1's folding.
//!
//! The NFC/NFKC tables cost about 64 KB of gzipped wasm, so they sit behind the
//! `unicode-tables` feature (on by default). Without it the caller passes input already in
//! the form [`input_form`] names for the field; the browser build does that with the JS
//! engine's `String.prototype.normalize`, which is exact and free.

use alloc::borrow::Cow;

use crate::field::Field;
use crate::fold_table::FOLD_UPPER;
use crate::lower_table::LOWER;

/// A Unicode normalization form an input is expected in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnicodeForm {
    /// Canonical composition (COMMON-4), for every field but POSTAL.
    Nfc,
    /// Compatibility composition (POSTAL-1: full-width digits become ASCII).
    Nfkc,
}

impl UnicodeForm {
    /// The form's name as `String.prototype.normalize` takes it (`"NFC"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            UnicodeForm::Nfc => "NFC",
            UnicodeForm::Nfkc => "NFKC",
        }
    }
}

/// The form the rules put `field`'s input in first; `None` for the fields whose rules
/// read the input as given (PHONE reads digits of any script itself; MAID, RAMP_ID and
/// MATCH_ID are identifiers). Builds without the `unicode-tables` feature expect their
/// callers to have done it.
pub const fn input_form(field: Field) -> Option<UnicodeForm> {
    match field {
        Field::Postal => Some(UnicodeForm::Nfkc),
        Field::Phone | Field::Maid | Field::RampId | Field::MatchId => None,
        _ => Some(UnicodeForm::Nfc),
    }
}

/// `&s[from..]`, for an index the caller found on a character boundary (by `find`, or
/// in ASCII digits). Indexing a `str` links `core`'s slice error, which formats with
/// `char`'s `Debug` and its Unicode tables: about 3 KB of the browser's first download
/// for a panic that cannot happen. A wrong index gives `""` instead.
pub(crate) fn tail(s: &str, from: usize) -> &str {
    s.get(from..).unwrap_or_default()
}

/// `&s[..to]`, as [`tail`].
pub(crate) fn head(s: &str, to: usize) -> &str {
    s.get(..to).unwrap_or_default()
}

/// Whether `c` is white space for Python's `str.strip()` and `\s` (Unicode White_Space
/// plus the four information separators U+001C–U+001F), which the reference
/// implementation uses.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.strip()` as Python does it.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// The input in NFC (COMMON-4), borrowed when it already is (always for ASCII).
#[cfg(feature = "unicode-tables")]
pub(crate) fn nfc(s: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// The input in NFKC (POSTAL-1: full-width digits become ASCII).
#[cfg(feature = "unicode-tables")]
pub(crate) fn nfkc(s: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
    if s.is_ascii() || is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

/// Without tables the caller has already put the input in NFC ([`input_form`]).
#[cfg(not(feature = "unicode-tables"))]
pub(crate) fn nfc(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// Without tables the caller has already put the input in NFKC ([`input_form`]).
#[cfg(not(feature = "unicode-tables"))]
pub(crate) fn nfkc(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// The ASCII capital letters of `c`'s compatibility decomposition (STATE-1 folding:
/// NFKD, then only `[A-Z]` is kept, so `É` → `E`); empty when there are none.
pub(crate) fn fold_upper(c: char) -> &'static str {
    FOLD_UPPER
        .binary_search_by_key(&u32::from(c), |&(cp, _)| cp)
        .map_or("", |i| FOLD_UPPER[i].1)
}

/// Every character a lowercasing rule can keep, substitute or compare: NAME, CITY and
/// POSTAL-2 keep `[a-z0-9]`, EMAIL adds `.@-`, NAME substitutes `ß ä ö ü ø æ`, and PHONE
/// compares its extension markers (`extensión`, `доб`, `ｉｎｔ`, `；ext=` …) without case.
/// Each rule's test checks that its characters are here; the generated table follows it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const CASE_RELEVANT: &str =
    "abcdefghijklmnopqrstuvwxyz0123456789.@-;=#~ßäöüøæóдобｉｎｔｘ＃～";

/// `c` lowercased as far as the rules can tell: exactly `char::to_lowercase` for ASCII and
/// for every character whose lowercase form holds one of [`CASE_RELEVANT`] (the generated
/// [`LOWER`] table); any other character comes back unchanged, and the rules drop it as
/// they would drop its lowercase form. Saves Unicode's case tables (some 5 KB of
/// brotli-compressed wasm) in the browser.
pub(crate) fn lower(c: char) -> Lower {
    if c.is_ascii() {
        return Lower::One(Some(c.to_ascii_lowercase()));
    }
    match LOWER.binary_search_by_key(&u32::from(c), |&(cp, _)| cp) {
        Ok(i) => Lower::Many(LOWER[i].1.chars()),
        Err(_) => Lower::One(Some(c)),
    }
}

/// The characters of [`lower`].
pub(crate) enum Lower {
    One(Option<char>),
    Many(core::str::Chars<'static>),
}

impl Iterator for Lower {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            Lower::One(c) => c.take(),
            Lower::Many(chars) => chars.next(),
        }
    }
}

/// A decimal digit of any script that libphonenumber reads (ASCII, full-width,
/// Arabic-Indic, Devanagari, …), as its value.
pub(crate) fn decimal_digit(c: char) -> Option<u8> {
    // The zero of each run of ten decimal digits (Unicode Nd) that phone input uses.
    const ZEROS: [u32; 18] = [
        0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
        0xE50, 0xED0, 0xF20, 0x1040, 0xFF10,
    ];
    let c = u32::from(c);
    ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&c))
        .map(|zero| (c - zero) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::prelude::rust_2024::*;

    /// The characters of `chars` a lowercasing rule can see.
    fn relevant(chars: impl Iterator<Item = char>) -> String {
        chars.filter(|c| CASE_RELEVANT.contains(*c)).collect()
    }

    #[test]
    fn lower_table_matches_to_lowercase() {
        let expected: Vec<(u32, String)> = (0x80..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter_map(|c| {
                let l: String = c.to_lowercase().collect();
                (l != c.to_string() && l.chars().any(|x| CASE_RELEVANT.contains(x)))
                    .then(|| (u32::from(c), l))
            })
            .collect();
        if std::env::var_os("MATCHKEY_REGENERATE_TABLES").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lower_table.rs");
            let text = std::fs::read_to_string(path).unwrap();
            let head = &text[..text.find("pub(crate) const LOWER").unwrap()];
            let rows: String = expected
                .iter()
                .map(|(cp, l)| format!("    (0x{cp:X}, \"{l}\"),\n"))
                .collect();
            std::fs::write(
                path,
                format!("{head}pub(crate) const LOWER: &[(u32, &str)] = &[\n{rows}];\n"),
            )
            .unwrap();
            return;
        }
        let table: Vec<(u32, String)> = LOWER.iter().map(|&(cp, s)| (cp, s.to_owned())).collect();
        assert_eq!(
            table, expected,
            "regenerate with MATCHKEY_REGENERATE_TABLES=1 cargo test lower_table"
        );
    }

    #[test]
    fn lower_agrees_with_to_lowercase_wherever_the_rules_can_see() {
        let compared: Vec<char> = CASE_RELEVANT.chars().collect();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            // What the keeping rules see is the same,
            assert_eq!(
                relevant(lower(c)),
                relevant(c.to_lowercase()),
                "U+{:04X}",
                u32::from(c)
            );
            // and so is every caseless comparison with a character they compare with.
            for &r in &compared {
                assert_eq!(
                    lower(c).eq(lower(r)),
                    c.to_lowercase().eq(r.to_lowercase()),
                    "U+{:04X} against {r}",
                    u32::from(c)
                );
            }
        }
        // The string form differs from the char form only for a final capital sigma,
        // which no rule keeps.
        let s = "ΟΔΟΣ Σ İstanbul \u{212A}elvin STRAẞE Ærø";
        assert_eq!(
            relevant(s.chars().flat_map(lower)),
            relevant(s.to_lowercase().chars())
        );
    }

    #[test]
    fn trims_python_space() {
        assert_eq!(trim("\u{1f} a b\u{3000}\n"), "a b");
    }

    #[cfg(feature = "unicode-tables")]
    #[test]
    fn composes_and_keeps_ascii_borrowed() {
        assert!(matches!(nfc("plain"), Cow::Borrowed(_)));
        assert_eq!(nfc("Jose\u{301}"), "José");
        assert_eq!(nfkc("１００－０００１"), "100-0001");
    }

    /// Every code point's NFKD, filtered to `[A-Z]`, against the generated table; with
    /// `MATCHKEY_REGENERATE_TABLES=1` it rewrites `src/fold_table.rs` instead.
    #[cfg(feature = "unicode-tables")]
    #[test]
    fn fold_table_matches_nfkd() {
        use unicode_normalization::UnicodeNormalization;
        let expected: Vec<(u32, String)> = (0x80..0x11_0000u32)
            .filter_map(char::from_u32)
            .map(|c| {
                (
                    u32::from(c),
                    c.to_string()
                        .nfkd()
                        .filter(char::is_ascii_uppercase)
                        .collect::<String>(),
                )
            })
            .filter(|(_, letters)| !letters.is_empty())
            .collect();
        if std::env::var_os("MATCHKEY_REGENERATE_TABLES").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/fold_table.rs");
            let text = std::fs::read_to_string(path).unwrap();
            let head = &text[..text.find("pub(crate) const FOLD_UPPER").unwrap()];
            let mut rows = String::new();
            let mut row = String::new();
            for (cp, letters) in &expected {
                let item = format!("(0x{cp:X}, \"{letters}\"),");
                if row.len() + item.len() + 1 > 96 {
                    rows += &format!("    {}\n", row.trim_end());
                    row.clear();
                }
                row += &item;
                row.push(' ');
            }
            rows += &format!("    {}\n", row.trim_end());
            let body =
                format!("{head}pub(crate) const FOLD_UPPER: &[(u32, &str)] = &[\n{rows}];\n");
            std::fs::write(path, body).unwrap();
            return;
        }
        let table: Vec<(u32, String)> = FOLD_UPPER
            .iter()
            .map(|&(cp, s)| (cp, s.to_owned()))
            .collect();
        assert_eq!(
            table, expected,
            "regenerate with MATCHKEY_REGENERATE_TABLES=1 cargo test fold_table"
        );
    }

    #[test]
    fn folds_accents_and_compatibility_forms() {
        assert_eq!(fold_upper('É'), "E");
        assert_eq!(fold_upper('Ａ'), "A");
        assert_eq!(fold_upper('Ǆ'), "DZ");
        assert_eq!(fold_upper('é'), "");
        assert_eq!(fold_upper('Ø'), "");
    }

    #[test]
    fn digits_of_other_scripts() {
        assert_eq!(decimal_digit('7'), Some(7));
        assert_eq!(decimal_digit('٣'), Some(3));
        assert_eq!(decimal_digit('９'), Some(9));
        assert_eq!(decimal_digit('x'), None);
    }
}
