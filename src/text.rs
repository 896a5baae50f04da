//! Text helpers shared by the field rules: Python-compatible trimming and the Unicode
//! normalization forms of COMMON-4, each with an ASCII fast path.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick, is_nfkc_quick};

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
pub(crate) fn nfc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// The input in NFKC (POSTAL-1: full-width digits become ASCII).
pub(crate) fn nfkc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

/// The compatibility decomposition (NFKD) of `s`, as characters (STATE-1 drops the
/// combining marks it leaves, `É` → `E`).
pub(crate) fn nfkd(s: &str) -> impl Iterator<Item = char> + '_ {
    s.nfkd()
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

    #[test]
    fn trims_python_space() {
        assert_eq!(trim("\u{1f} a b\u{3000}\n"), "a b");
    }

    #[test]
    fn composes_and_keeps_ascii_borrowed() {
        assert!(matches!(nfc("plain"), Cow::Borrowed(_)));
        assert_eq!(nfc("Jose\u{301}"), "José");
        assert_eq!(nfkc("１００－０００１"), "100-0001");
        assert_eq!(nfkd("É").collect::<String>(), "E\u{301}");
    }

    #[test]
    fn digits_of_other_scripts() {
        assert_eq!(decimal_digit('7'), Some(7));
        assert_eq!(decimal_digit('٣'), Some(3));
        assert_eq!(decimal_digit('９'), Some(9));
        assert_eq!(decimal_digit('x'), None);
    }
}
