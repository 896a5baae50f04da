//! matchkey: Amazon Ads match keys (email, phone, name, address, …) normalized exactly as
//! Amazon expects and SHA-256 hashed, for every country, in one pure crate that runs
//! natively, in the browser (wasm) and in a Cloudflare Worker.
//!
//! The rules are those of `spec/normalization.md` (rule ids such as `EMAIL-1` appear in
//! the docs of each function); the golden vectors in `tests/vectors/` are the executable
//! spec.
//!
//! ```
//! use matchkey::{Country, Field, match_key, normalize};
//!
//! let country = Country::parse("en-GB").unwrap();
//! let phone = normalize(Field::Phone, "+44 (0)20 7946 0958", country).unwrap();
//! assert_eq!(phone.value(), "442079460958");
//!
//! let key = match_key(Field::Email, "abc@example.com", country).unwrap();
//! assert_eq!(key.value(), "9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21");
//!
//! let reject = normalize(Field::Email, "not-an-email", country).unwrap_err();
//! assert_eq!(reject.code(), "invalid_email");
//! ```
//!
//! Architecture invariant: no I/O, no clock, no randomness here; errors never contain
//! the input.

// The browser's lite build leaves the ADDRESS and STATE rules unreachable on purpose (the
// linker drops them and their tables); the items stay compiled for one source of truth.
#![cfg_attr(not(address_rules), allow(dead_code, unused_imports))]
// No `std` unless a feature needs it (the CLI, the Amazon calls, the Unicode tables, the
// ADDRESS and STATE rules): the browser's lite build is `alloc` only, with its own
// allocator and a panic handler that aborts (`runtime` below), so no formatting or
// panic machinery ships to pages.
#![no_std]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(feature = "amazon")]
pub mod amazon;
#[cfg(feature = "browser")]
pub mod browser;
pub mod consent;
mod country;
// The CLI's and the console file page's row logic: not in the builds shoppers load.
#[cfg(any(feature = "cli", feature = "browser-csv"))]
pub mod csv_rows;
mod field;
mod fold_table;
mod hash;
pub mod identity;
mod lower_table;
mod match_key;
mod normalize;
mod reject;
mod text;

pub use country::Country;
pub use field::Field;
pub use hash::{Sha256Hex, is_lower_sha256_hex, is_sha256_hex, sha256_hex};
pub use match_key::{MatchKey, hash_batch, match_key};
pub use normalize::{Normalized, Normalizer, Output, hash_normalized, normalize};
pub use reject::{Reason, Reject};
pub use text::{UnicodeForm, input_form};

/// What a wasm build without `std` needs from a runtime (the browser's lite build): an
/// allocator (talc: smaller and faster than the standard library's dlmalloc), and a panic
/// handler. The handler traps, as `std`'s abort on wasm did, without running a panic hook
/// or formatting a message.
#[cfg(all(target_family = "wasm", not(feature = "std"), not(test)))]
mod runtime {
    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
