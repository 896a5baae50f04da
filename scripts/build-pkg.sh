#!/usr/bin/env bash
# Builds the npm package `matchkey` into pkg/ from scratch: the core with the `browser`
# feature for wasm32, the wasm-bindgen glue (--target web: browsers, Web Workers,
# bundlers, and Node with the bytes passed to init), wasm-opt -O3, the package files from
# npm/. Prints the sizes. Needs wasm-bindgen 0.2.130 and `npm ci` (binaryen's wasm-opt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh
if ! { have_wasm_target && have_wasm_bindgen && [ -x node_modules/.bin/wasm-opt ]; }; then
  echo "build-pkg: needs the wasm32 target, wasm-bindgen $WASM_BINDGEN_VERSION and npm ci: run bash scripts/install-deps.sh" >&2
  exit 1
fi

# All current browsers run simd128; sha2 then uses its wasm SIMD backend.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
cargo build --quiet --locked --release --target wasm32-unknown-unknown --no-default-features --features browser --lib
rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --out-dir pkg --out-name matchkey_wasm target/wasm32-unknown-unknown/release/matchkey.wasm
wasm_opt=node_modules/.bin/wasm-opt
"$wasm_opt" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/matchkey_wasm_bg.wasm -o pkg/matchkey_wasm_bg.wasm
cp npm/package.json npm/matchkey.js npm/matchkey.d.ts npm/README.md pkg/
# shellcheck disable=SC2016 # JavaScript, not shell
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { gzipSync, brotliCompressSync, constants } from "node:zlib";
  for (const f of ["pkg/matchkey_wasm_bg.wasm", "pkg/matchkey_wasm.js", "pkg/matchkey.js"]) {
    const b = readFileSync(f);
    const gz = gzipSync(b, { level: 9 }).length;
    const br = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    console.log(`${f}: ${b.length} B, gzip ${gz} B, brotli ${br} B`);
  }'
