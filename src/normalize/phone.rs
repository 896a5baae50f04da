//! PHONE-1 and PHONE-2: phone numbers read the way libphonenumber reads them, with the
//! record's country as the default region, written as E.164 digits without the `+`.
//!
//! Only the parts of libphonenumber that decide the digits are reproduced: extracting the
//! number from surrounding text, dropping extensions, vanity letters, the international
//! and national (trunk) prefixes, a calling code typed without `+`, and the possible-length
//! check. Number-range validity is not checked (PHONE-2). Detailed metadata covers the 23
//! regions of Appendix C; every other country gets its calling code from
//! [`crate::Country`] and generic prefixes and lengths.

use crate::country::Country;
use crate::reject::Reason;
use crate::text::decimal_digit;

/// Per-region numbering facts (Appendix C, from libphonenumber's metadata).
#[derive(Clone, Copy)]
struct Meta {
    calling_code: u16,
    /// Trunk prefix dialled before national numbers, removed when parsing ("" = none;
    /// Italy's leading 0 belongs to the number).
    national_prefix: &'static str,
    /// International (IDD) prefixes; `.` stands for any digit.
    idd: &'static [&'static str],
    /// Possible national significant number lengths, as a bit set (bit n = length n).
    /// Local-only lengths (7-digit North American numbers) are left out on purpose.
    possible: u32,
    /// The lengths most numbers have; stands in for libphonenumber's general number
    /// pattern when deciding whether digits start with a calling code typed without `+`.
    usual: u32,
}

const fn lengths(from: u32, to: u32) -> u32 {
    // Bits from..=to.
    (u32::MAX >> (31 - to)) & !((1 << from) - 1)
}

const fn len(n: u32) -> u32 {
    1 << n
}

/// Appendix C. The first region of a calling code is the one whose metadata numbers
/// written with that code use (US for +1).
#[rustfmt::skip]
const REGIONS: &[(Country, Meta)] = &[
    (Country::US, Meta { calling_code: 1, national_prefix: "1", idd: &["011"], possible: len(10), usual: len(10) }),
    (Country::CA, Meta { calling_code: 1, national_prefix: "1", idd: &["011"], possible: len(10), usual: len(10) }),
    (Country::GB, Meta { calling_code: 44, national_prefix: "0", idd: &["00"], possible: len(7) | lengths(9, 10), usual: lengths(9, 10) }),
    (Country::DE, Meta { calling_code: 49, national_prefix: "0", idd: &["00"], possible: lengths(4, 15), usual: lengths(6, 11) }),
    (Country::FR, Meta { calling_code: 33, national_prefix: "0", idd: &["00"], possible: len(9), usual: len(9) }),
    (Country::IT, Meta { calling_code: 39, national_prefix: "", idd: &["00"], possible: lengths(6, 12), usual: lengths(6, 11) }),
    (Country::ES, Meta { calling_code: 34, national_prefix: "", idd: &["00"], possible: len(9), usual: len(9) }),
    (Country::JP, Meta { calling_code: 81, national_prefix: "0", idd: &["010"], possible: lengths(8, 17), usual: lengths(9, 10) }),
    (Country::IN, Meta { calling_code: 91, national_prefix: "0", idd: &["00"], possible: lengths(8, 13), usual: len(10) }),
    (code(*b"AU"), Meta { calling_code: 61, national_prefix: "0", idd: &["0011", "0014", "0015", "0016", "0018", "0019"], possible: lengths(5, 10) | len(12), usual: len(9) }),
    (code(*b"MX"), Meta { calling_code: 52, national_prefix: "", idd: &["00", "09"], possible: len(10), usual: len(10) }),
    (code(*b"BR"), Meta { calling_code: 55, national_prefix: "0", idd: &["0012", "0014", "0015", "0021", "0022", "0023", "0025", "0031", "0041", "0043", "0055", "0065", "0099"], possible: lengths(8, 11), usual: lengths(10, 11) }),
    (code(*b"NL"), Meta { calling_code: 31, national_prefix: "0", idd: &["00"], possible: lengths(5, 11), usual: len(9) }),
    (code(*b"SE"), Meta { calling_code: 46, national_prefix: "0", idd: &["00"], possible: lengths(6, 10) | len(12), usual: lengths(7, 9) }),
    (code(*b"PL"), Meta { calling_code: 48, national_prefix: "", idd: &["00"], possible: lengths(6, 10), usual: len(9) }),
    (code(*b"TR"), Meta { calling_code: 90, national_prefix: "0", idd: &["00"], possible: len(7) | len(10) | lengths(12, 13), usual: len(10) }),
    (code(*b"AE"), Meta { calling_code: 971, national_prefix: "0", idd: &["00"], possible: lengths(5, 12), usual: lengths(8, 9) }),
    (code(*b"SA"), Meta { calling_code: 966, national_prefix: "0", idd: &["00"], possible: lengths(9, 10), usual: len(9) }),
    (code(*b"SG"), Meta { calling_code: 65, national_prefix: "", idd: &["00.", "01.", "02.", "03."], possible: len(8) | lengths(10, 11), usual: len(8) }),
    (code(*b"BE"), Meta { calling_code: 32, national_prefix: "0", idd: &["00"], possible: lengths(8, 9), usual: lengths(8, 9) }),
    (code(*b"EG"), Meta { calling_code: 20, national_prefix: "0", idd: &["00"], possible: lengths(8, 10), usual: lengths(8, 10) }),
    (code(*b"ZA"), Meta { calling_code: 27, national_prefix: "0", idd: &["00"], possible: lengths(5, 10), usual: len(9) }),
    (code(*b"IE"), Meta { calling_code: 353, national_prefix: "0", idd: &["00"], possible: lengths(7, 10), usual: lengths(7, 9) }),
];

/// Countries (outside Appendix C) whose numbers have no trunk prefix, so a leading 0 is
/// part of the number or absent.
#[rustfmt::skip]
const NO_TRUNK_PREFIX: &[&str] = &[
    "AD", "BH", "BZ", "CI", "CR", "CY", "CZ", "DK", "EE", "FO", "GL", "GR", "GT", "HK", "HN",
    "IS", "KW", "LU", "LV", "MC", "MO", "MT", "NI", "NO", "OM", "PA", "PT", "QA", "SC", "SM",
    "SV", "VA",
];

/// Countries whose trunk prefix is 8 (and international prefix 810).
const TRUNK_EIGHT: &[&str] = &["BY", "KZ", "LT", "RU", "TJ", "TM"];

/// Brazilian carrier selection codes, dialled after the trunk 0 (libphonenumber's BR
/// national prefix for parsing).
const BR_CARRIERS: &[&str] = &[
    "12", "14", "15", "21", "22", "23", "25", "31", "41", "43", "55", "65", "99",
];

/// Longest national significant number libphonenumber parses.
const MAX_NSN: usize = 17;
/// Shortest national significant number libphonenumber parses.
const MIN_NSN: usize = 2;

const fn code(c: [u8; 2]) -> Country {
    Country::from_bytes(c)
}

/// Generic numbering facts for a country outside Appendix C.
fn generic_meta(country: Country) -> Meta {
    let calling_code = country.calling_code();
    let cc_digits = number_digits(calling_code).1 as u32;
    let c = country.as_str();
    let (national_prefix, idd): (&'static str, &'static [&'static str]) = if calling_code == 1 {
        ("1", &["011"])
    } else if TRUNK_EIGHT.contains(&c) {
        ("8", &["810", "00"])
    } else if c == "HU" {
        ("06", &["00"])
    } else if NO_TRUNK_PREFIX.contains(&c) {
        ("", &["00"])
    } else {
        ("0", &["00"])
    };
    // E.164 allows at most 15 digits including the calling code.
    let possible = lengths(4, 15 - cc_digits);
    Meta {
        calling_code,
        national_prefix,
        idd,
        possible,
        usual: possible,
    }
}

fn meta_for_country(country: Country) -> Meta {
    match REGIONS.iter().find(|(c, _)| *c == country) {
        Some((_, m)) => *m,
        None => generic_meta(country),
    }
}

fn meta_for_calling_code(calling_code: u16) -> Option<Meta> {
    match REGIONS.iter().find(|(_, m)| m.calling_code == calling_code) {
        Some((_, m)) => Some(*m),
        None => Country::for_calling_code(calling_code).map(generic_meta),
    }
}

/// Calling codes that belong to no country: international freephone, satellite and
/// global services. Numbers with them are accepted with generic lengths.
const NON_GEOGRAPHIC: &[u16] = &[800, 808, 870, 878, 881, 882, 883, 888, 979];

fn is_calling_code(cc: u16) -> bool {
    NON_GEOGRAPHIC.contains(&cc) || Country::for_calling_code(cc).is_some()
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
    chars.extend(extract_possible_number(input).chars());
    let main = strip_extension(chars);
    if !is_viable(main) {
        return Err(Reason::UnparseablePhone);
    }
    let international = normalize_digits(main, digits);
    let digits = digits.as_str();
    let region = meta_for_country(country);

    let (calling_code, national) = if international {
        split_calling_code(digits).ok_or(Reason::UnparseablePhone)?
    } else if let Some(rest) = strip_idd(digits, region.idd) {
        split_calling_code(rest).ok_or(Reason::UnparseablePhone)?
    } else {
        (
            region.calling_code,
            calling_code_without_plus(digits, &region),
        )
    };
    let meta = match meta_for_calling_code(calling_code) {
        Some(meta) => meta,
        None => generic_nongeographic(calling_code),
    };
    let nsn = strip_national_prefix(national, &meta);

    if nsn.len() < MIN_NSN || nsn.len() > MAX_NSN || !is_possible(nsn.len(), meta.possible) {
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

fn generic_nongeographic(calling_code: u16) -> Meta {
    let cc_digits = number_digits(calling_code).1 as u32;
    let possible = lengths(4, 15 - cc_digits);
    Meta {
        calling_code,
        national_prefix: "",
        idd: &[],
        possible,
        usual: possible,
    }
}

fn is_possible(n: usize, set: u32) -> bool {
    n < 32 && set & (1 << n) != 0
}

/// libphonenumber's `extractPossibleNumber`: from the first `+` or digit, without
/// trailing characters that are neither letters, numbers nor `#`.
fn extract_possible_number(input: &str) -> &str {
    let Some(start) = input.find(|c: char| is_plus(c) || decimal_digit(c).is_some()) else {
        return "";
    };
    let s = &input[start..];
    // A second number written after a slash ("… / x123") is dropped.
    let s = match s.find(['/', '\\']) {
        Some(i) if s[i + 1..].trim_start().starts_with(['x', 'X']) => &s[..i],
        _ => s,
    };
    s.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '#'))
}

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
    const SHORT: &[&str] = &["int", "ｉｎｔ", "x", "ｘ", "#", "＃", "~", "～"];
    // The start of `marker` when it ends right at `marker_end` (case-insensitive).
    let ends_with = |marker: &str| -> Option<usize> {
        let mut start = marker_end;
        for m in marker.chars().rev() {
            start = start.checked_sub(1)?;
            if !chars[start].to_lowercase().eq(m.to_lowercase()) {
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
        let rest = &digits[prefix.len().min(digits.len())..];
        (matches && !rest.starts_with('0')).then_some(rest)
    })
}

/// Splits digits written after `+` (or an IDD) into a calling code (1 to 3 digits, the
/// first that exists) and the rest.
fn split_calling_code(digits: &str) -> Option<(u16, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|n| {
        let cc: u16 = digits[..n].parse().ok()?;
        is_calling_code(cc).then(|| (cc, &digits[n..]))
    })
}

/// A national number that starts with the region's own calling code (`447911123456` in
/// GB) is taken as written with it when the whole is too long, or when only the rest
/// looks like a number of the region (libphonenumber's `maybeExtractCountryCode`).
fn calling_code_without_plus<'a>(digits: &'a str, region: &Meta) -> &'a str {
    let (cc, cc_len) = number_digits(region.calling_code);
    let Some(rest) = digits
        .as_bytes()
        .strip_prefix(&cc[..cc_len])
        .map(|_| &digits[cc_len..])
    else {
        return digits;
    };
    let full = strip_national_prefix(digits, region).len();
    let stripped = strip_national_prefix(rest, region).len();
    let too_long = full > 0 && full > max_length(region.possible);
    let better = !is_possible(full, region.usual) && is_possible(stripped, region.usual);
    if too_long || better { rest } else { digits }
}

fn max_length(set: u32) -> usize {
    31 - set.leading_zeros() as usize
}

/// Removes the trunk prefix (`0` in GB, `1` in the US) when the number starts with it and
/// something is left; Brazil's carrier codes after the 0 go with it.
fn strip_national_prefix<'a>(digits: &'a str, meta: &Meta) -> &'a str {
    if meta.national_prefix.is_empty() {
        return digits;
    }
    let Some(rest) = digits.strip_prefix(meta.national_prefix) else {
        return digits;
    };
    if rest.is_empty() {
        return digits;
    }
    if meta.calling_code == 55 && matches!(rest.len(), 12 | 13) && BR_CARRIERS.contains(&&rest[..2])
    {
        return &rest[2..];
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn length_sets() {
        assert!(is_possible(10, len(10)));
        assert!(!is_possible(9, len(10)));
        assert!(is_possible(4, lengths(4, 15)) && is_possible(15, lengths(4, 15)));
        assert!(!is_possible(16, lengths(4, 15)) && !is_possible(3, lengths(4, 15)));
        assert_eq!(max_length(lengths(4, 15)), 15);
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
