//! The fields whose rule is "lowercase and keep a small ASCII alphabet": EMAIL (EMAIL-1,
//! EMAIL-2), FIRST_NAME and LAST_NAME (NAME-1) and CITY (CITY-1).

use crate::reject::Reason;
use crate::text::{lower, nfc};
use alloc::string::String;

/// EMAIL-1: lowercase (full Unicode), keep only `[a-z0-9.@-]`. EMAIL-2: exactly one `@`
/// with something on both sides. No Gmail dot or plus-tag rules: those are Google's.
pub(super) fn email(input: &str, out: &mut String) -> Result<(), Reason> {
    let keep = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '.' | '@' | '-');
    lower_keep(input, out, &EMAIL_BYTES, keep, |_| None);
    if out.is_empty() {
        return Err(Reason::EmptyAfterNormalization);
    }
    let bytes = out.as_bytes();
    let one_at = bytes.iter().filter(|&&b| b == b'@').count() == 1;
    if one_at && bytes[0] != b'@' && bytes[bytes.len() - 1] != b'@' {
        Ok(())
    } else {
        Err(Reason::InvalidEmail)
    }
}

/// NAME-1: lowercase, transliterate `ß ä ö ü ø æ`, keep `[a-z0-9]`. Every other accented
/// or non-Latin letter is dropped, not folded (`José` → `jos`), as Amazon's uploader does.
pub(super) fn name(input: &str, out: &mut String) -> Result<(), Reason> {
    lower_keep(input, out, &ALNUM_BYTES, is_lower_alnum, |c| match c {
        'ß' => Some("ss"),
        'ä' => Some("ae"),
        'ö' => Some("oe"),
        'ü' => Some("ue"),
        'ø' => Some("o"),
        'æ' => Some("ae"),
        _ => None,
    });
    non_empty(out)
}

/// CITY-1: lowercase, keep `[a-z0-9]`, no transliteration (`München` → `mnchen`).
pub(super) fn city(input: &str, out: &mut String) -> Result<(), Reason> {
    lower_keep(input, out, &ALNUM_BYTES, is_lower_alnum, |_| None);
    non_empty(out)
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn non_empty(out: &str) -> Result<(), Reason> {
    if out.is_empty() {
        Err(Reason::EmptyAfterNormalization)
    } else {
        Ok(())
    }
}

/// For each ASCII byte: its lowercase form when the rule keeps it, else 0.
type ByteRule = [u8; 128];

const fn byte_rule(extra: &[u8]) -> ByteRule {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let lower = (b as u8).to_ascii_lowercase();
        if lower.is_ascii_lowercase() || lower.is_ascii_digit() {
            table[b] = lower;
        }
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = extra[i];
        i += 1;
    }
    table
}

/// EMAIL-1's alphabet, `[a-z0-9.@-]` after lowercasing.
const EMAIL_BYTES: ByteRule = byte_rule(b".@-");
/// NAME-1 and CITY-1's alphabet, `[a-z0-9]` after lowercasing.
const ALNUM_BYTES: ByteRule = byte_rule(b"");

/// Lowercases `input` (NFC first, COMMON-4; [`lower`], exact for every character the
/// rules keep or substitute), then appends each character that `keep` accepts, or the
/// replacement `substitute` gives for it. ASCII input takes a
/// branch-free table loop (`ascii`, which must agree with `keep`) without Unicode tables.
fn lower_keep(
    input: &str,
    out: &mut String,
    ascii: &ByteRule,
    keep: impl Fn(char) -> bool,
    substitute: impl Fn(char) -> Option<&'static str>,
) {
    if input.is_ascii() {
        let mut bytes = core::mem::take(out).into_bytes();
        let start = bytes.len();
        bytes.resize(start + input.len(), 0);
        let buf = &mut bytes[start..];
        // Two passes: every byte through the table, then the kept ones moved down. In
        // one, each store's place waited on the previous byte's table lookup.
        for (out, &b) in buf.iter_mut().zip(input.as_bytes()) {
            *out = ascii[usize::from(b & 0x7f)];
        }
        let mut len = 0;
        for i in 0..buf.len() {
            let kept = buf[i];
            buf[len] = kept;
            len += usize::from(kept != 0);
        }
        bytes.truncate(start + len);
        // Only ASCII bytes were added, so this never fails.
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    for c in nfc(input).chars().flat_map(lower) {
        if keep(c) {
            out.push(c);
        } else if let Some(s) = substitute(c) {
            out.push_str(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2024::*;
    use std::{format, vec};

    fn run(f: fn(&str, &mut String) -> Result<(), Reason>, input: &str) -> Result<String, Reason> {
        let mut out = String::new();
        f(input, &mut out).map(|()| out)
    }

    #[test]
    fn byte_rules_agree_with_the_char_rules() {
        for b in 0u8..128 {
            let lower = char::from(b.to_ascii_lowercase());
            let email = matches!(lower, 'a'..='z' | '0'..='9' | '.' | '@' | '-');
            assert_eq!(EMAIL_BYTES[usize::from(b)] != 0, email, "{b}");
            assert_eq!(
                ALNUM_BYTES[usize::from(b)] != 0,
                is_lower_alnum(lower),
                "{b}"
            );
        }
    }

    #[test]
    fn lowercasing_without_case_tables_answers_as_to_lowercase_for_every_code_point() {
        // The rules' characters, kept or substituted, and what lowercasing can turn into them.
        let name_keys = ['ß', 'ä', 'ö', 'ü', 'ø', 'æ'];
        for c in name_keys.into_iter().chain(".@-".chars()) {
            assert!(crate::text::CASE_RELEVANT.contains(c), "{c}");
        }
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            let input = format!("Ab{c}.C@d-");
            let std_lower = nfc(&input).to_lowercase();
            let want_email: String = std_lower
                .chars()
                .filter(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '@' | '-'))
                .collect();
            let mut out = String::new();
            lower_keep(
                &input,
                &mut out,
                &EMAIL_BYTES,
                |c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '@' | '-'),
                |_| None,
            );
            assert_eq!(out, want_email, "EMAIL U+{:04X}", u32::from(c));
            let want_name: String = std_lower
                .chars()
                .flat_map(|c| match c {
                    'ß' => "ss".chars().collect::<Vec<_>>(),
                    'ä' | 'æ' => "ae".chars().collect(),
                    'ö' => "oe".chars().collect(),
                    'ü' => "ue".chars().collect(),
                    'ø' => vec!['o'],
                    c if is_lower_alnum(c) => vec![c],
                    _ => vec![],
                })
                .collect();
            assert_eq!(
                run(name, &input).unwrap_or_default(),
                want_name,
                "NAME U+{:04X}",
                u32::from(c)
            );
            let want_city: String = std_lower.chars().filter(|&c| is_lower_alnum(c)).collect();
            assert_eq!(
                run(city, &input).unwrap_or_default(),
                want_city,
                "CITY U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            run(email, "John_Doe+x@Bücher.de").as_deref(),
            Ok("johndoex@bcher.de")
        );
        // Kelvin sign lowercases to an ASCII k; dotted capital I to i + combining dot.
        assert_eq!(run(email, "\u{212A}@\u{130}.de").as_deref(), Ok("k@i.de"));
        assert_eq!(run(email, "@example.com"), Err(Reason::InvalidEmail));
        assert_eq!(run(email, "a@"), Err(Reason::InvalidEmail));
        assert_eq!(run(email, "!!!"), Err(Reason::EmptyAfterNormalization));
    }

    #[test]
    fn names_transliterate_and_compose() {
        assert_eq!(run(name, "STRAẞE Ærø").as_deref(), Ok("strasseaero"));
        // Decomposed input behaves like composed input (COMMON-4).
        assert_eq!(run(name, "Mu\u{308}ller").as_deref(), Ok("mueller"));
        assert_eq!(run(name, "Jose\u{301}").as_deref(), Ok("jos"));
        assert_eq!(run(name, "山田"), Err(Reason::EmptyAfterNormalization));
    }

    #[test]
    fn city_drops_without_transliterating() {
        assert_eq!(run(city, "Saint-Étienne").as_deref(), Ok("sainttienne"));
        assert_eq!(run(city, "Mu\u{308}nchen").as_deref(), Ok("mnchen"));
    }
}
