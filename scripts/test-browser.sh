#!/usr/bin/env bash
# The browser suite (run by scripts/test.sh): builds pkg/ and the native CLI (the tests
# compare against it), then runs the package in Node, an esbuild bundle, and the wasm
# build and site tag in headless Chromium. Tools come from scripts/install-browser-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CHROME_BIN="${CHROME_BIN:-$(command -v chromium)}"

bash scripts/build-pkg.sh
cargo build --quiet --locked --bin matchkey
cargo clippy --quiet --locked --target wasm32-unknown-unknown --no-default-features --features browser --lib -- -D warnings

# The snippet is pasted into every page: keep it under 1 KB gzipped.
snippet=$(gzip -9c www/snippet.js | wc -c)
echo "snippet: $(wc -c < www/snippet.js) B, gzip ${snippet} B"
[ "$snippet" -le 1024 ] || { echo "www/snippet.js is over 1 KB gzipped"; exit 1; }

node --test --test-concurrency=1 tests/js/
