//! Names for two build conditions:
//! - `address_rules`: this build has the ADDRESS and STATE rules. They need `std` (their
//!   tables are built on first use) and the browser's lite build leaves them out.
//! - `browser_batch`: this build has `hashBatch` and `hashColumn`'s wasm side: the full
//!   browser build only (not the lite build a page loads first, nor the console's csv
//!   build, which has `CsvHasher`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(address_rules)");
    println!("cargo::rustc-check-cfg=cfg(browser_batch)");
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let lite = feature("BROWSER_LITE");
    if feature("STD") && !lite {
        println!("cargo::rustc-cfg=address_rules");
    }
    if feature("BROWSER") && !lite && !feature("BROWSER_CSV") {
        println!("cargo::rustc-cfg=browser_batch");
    }
}
