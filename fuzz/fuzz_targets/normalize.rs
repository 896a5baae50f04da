//! Fuzzes every field's normalizer with arbitrary bytes: the first two bytes pick the
//! field and the country, the rest is the input. Run with `cargo +nightly fuzz run
//! normalize` from the repository root (needs `cargo install cargo-fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use matchkey::{Country, Field, Normalizer, is_lower_sha256_hex};

fuzz_target!(|data: &[u8]| {
    let [f, c, rest @ ..] = data else { return };
    let Ok(input) = std::str::from_utf8(rest) else { return };
    let field = Field::ALL[usize::from(*f) % Field::ALL.len()];
    let countries: Vec<Country> = Country::all().collect();
    let country = countries[usize::from(*c) % countries.len()];
    if let Ok(out) = Normalizer::new().process(field, input, country) {
        assert!(!out.normalized.is_empty());
        if let Some(digest) = out.sha256 {
            assert!(is_lower_sha256_hex(digest.as_str()));
        }
    }
});
