//! The console's file page runs the npm package's csv build (`pkg/csv.js` and `pkg/csv/`, made by
//! `scripts/build-pkg.sh`) in the page; the Worker embeds those files to serve them to
//! signed-in operators. Copied into OUT_DIR when built; empty otherwise (a checkout that
//! has not built the package still compiles, and the page says the package is missing).

use std::path::Path;

/// The package files the page loads, under `pkg/`.
const FILES: [&str; 3] = [
    "csv.js",
    "csv/matchkey_wasm.js",
    "csv/matchkey_wasm_bg.wasm",
];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkg");
    for file in FILES {
        let from = pkg.join(file);
        println!("cargo:rerun-if-changed={}", from.display());
        let to = Path::new(&out).join("pkg").join(file);
        std::fs::create_dir_all(to.parent().expect("a file has a folder"))
            .expect("OUT_DIR is writable");
        let bytes = std::fs::read(&from).unwrap_or_default();
        std::fs::write(&to, bytes).expect("OUT_DIR is writable");
    }
}
