#!/usr/bin/env bash
# Builds the Worker (worker/ → worker/build/) with worker-build, offline: the tools it
# would download come from this machine (wasm-bindgen 0.2.130 from cargo, esbuild from
# npm). wrangler runs this as its [build] command; tests call it directly.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
cd "$root/worker"
worker-build --release 2>&1 | grep -vE '^\s*$' | grep -v 'Compiling\|Finished' || true
test -f build/index.js
