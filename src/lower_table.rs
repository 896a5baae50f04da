//! Lowercasing without Unicode's case tables, for the rules whose output keeps only a few
//! characters (EMAIL, NAME, CITY, POSTAL-2, PHONE's extension markers): every character
//! whose lowercase form (`char::to_lowercase`) differs from it and holds one of
//! [`crate::text::CASE_RELEVANT`], with that form. Generated from the standard library's
//! tables; the test `lower_table_matches_to_lowercase` checks every code point against it
//! and rewrites this file when run with `MATCHKEY_REGENERATE_TABLES=1`.

/// `(code point, its lowercase form)`, sorted by code point.
#[rustfmt::skip]
pub(crate) const LOWER: &[(u32, &str)] = &[
    (0xC4, "ä"),
    (0xC6, "æ"),
    (0xD3, "ó"),
    (0xD6, "ö"),
    (0xD8, "ø"),
    (0xDC, "ü"),
    (0x130, "i̇"),
    (0x411, "б"),
    (0x414, "д"),
    (0x41E, "о"),
    (0x1E9E, "ß"),
    (0x212A, "k"),
    (0xFF29, "ｉ"),
    (0xFF2E, "ｎ"),
    (0xFF34, "ｔ"),
    (0xFF38, "ｘ"),
];
