#!/usr/bin/env bash
# Builds the Worker (worker/ → worker/build/) with worker-build, offline: the tools it
# would download come from this machine (wasm-bindgen 0.2.130 from cargo, esbuild and
# wasm-opt from npm). wrangler runs this as its [build] command; the demo and the tests
# call it directly. A failed build exits non-zero and leaves no worker/build/ behind, so
# nothing can run a stale Worker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || true)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
for tool in worker-build "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  command -v "$tool" > /dev/null || { echo "build-worker: ${tool:-wasm-bindgen} not found: run bash scripts/install-deps.sh" >&2; exit 1; }
done
# The console's file page embeds the package's csv build (worker/build.rs): build the
# package first when it is missing, so that a deploy never ships the page without it.
[ -f "$root/pkg/csv/matchkey_wasm_bg.wasm" ] || bash "$root/scripts/build-pkg.sh"
cd "$root/worker"
rm -rf build
# worker-build's progress lines are noise; its errors are not, and its exit status counts.
set +e
worker-build --release 2>&1 | grep -vE '^\s*$|Compiling|Finished'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  rm -rf build
  echo "build-worker: worker-build failed (exit $status)" >&2
  exit "$status"
fi
[ -f build/index.js ] || { echo "build-worker: worker-build left no worker/build/index.js" >&2; exit 1; }
