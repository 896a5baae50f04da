#!/usr/bin/env bash
# The browser suite (run by scripts/test.sh): builds pkg/ and the native CLI (the tests
# compare against it), checks the payload's size budget (scripts/size-budget.json), then
# runs the package in Node (and packed with npm pack, installed from the tarball into an
# empty folder, its README's first example run unchanged), an esbuild bundle, and the wasm build and site tag in headless
# Chromium (both wasm builds: lite and full). Tools come from scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh
require_deps
export CHROME_BIN="${CHROME_BIN:-$(command -v chromium)}"

bash scripts/build-pkg.sh
cargo build --quiet --locked --bin matchkey
cargo clippy --quiet --locked --target wasm32-unknown-unknown --no-default-features --features browser,std --lib -- -D warnings
cargo clippy --quiet --locked --target wasm32-unknown-unknown --no-default-features --features browser-lite --lib -- -D warnings
cargo clippy --quiet --locked --target wasm32-unknown-unknown --no-default-features --features browser-csv --lib -- -D warnings

# What a page downloads for the tag (brotli), and the pasted snippet (gzip, under 1 KB).
node scripts/size-budget.mjs

node --test --test-concurrency=1 tests/js/
