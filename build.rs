//! One name for "this build has the ADDRESS and STATE rules": they need `std` (their
//! tables are built on first use) and the browser's lite build leaves them out.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(address_rules)");
    let std = std::env::var_os("CARGO_FEATURE_STD").is_some();
    let lite = std::env::var_os("CARGO_FEATURE_BROWSER_LITE").is_some();
    if std && !lite {
        println!("cargo::rustc-cfg=address_rules");
    }
}
