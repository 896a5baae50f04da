#!/usr/bin/env bash
# Builds the npm package `matchkey` into pkg/ from scratch: the core with the `browser`
# feature for wasm32, twice: the lite build (pkg/matchkey_wasm*, feature `browser-lite`:
# every field but ADDRESS and STATE, what a page downloads first) and the full build
# (pkg/full/, every field, fetched only when a page uses ADDRESS or STATE); and a third,
# pkg/csv/ (feature `browser-csv`: the full build plus `hash-csv` over a streamed file,
# for the console's file page, with npm/csv.js as its API). Each gets the
# wasm-bindgen glue (--target web: browsers, Web Workers, bundlers, and Node with the
# bytes passed to init) and wasm-opt -O3; the package files come from npm/. (opt-level
# "z" and wasm-opt -Oz were measured: larger after brotli and slower in hashBatch.)
# Prints the sizes.
# Needs wasm-bindgen 0.2.130 and `npm ci` (binaryen's wasm-opt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh
if ! { have_wasm_target && have_wasm_bindgen && [ -x node_modules/.bin/wasm-opt ]; }; then
  echo "build-pkg: needs the wasm32 target, wasm-bindgen $WASM_BINDGEN_VERSION and npm ci: run bash scripts/install-deps.sh" >&2
  exit 1
fi

# All current browsers run simd128 (and wasm-opt's passes below rely on it).
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
wasm_opt=node_modules/.bin/wasm-opt
rm -rf pkg && mkdir -p pkg/full pkg/csv
# build NAME FEATURES OUT_DIR: one wasm build with its glue.
build() {
  # Separate target directories: the builds differ only in features and would
  # otherwise overwrite each other's matchkey.wasm.
  local target="target/pkg-$1" features="$2" out="$3"
  cargo build --quiet --locked --release --target wasm32-unknown-unknown \
    --no-default-features --features "$features" --lib --target-dir "$target"
  wasm-bindgen --target web --out-dir "$out" --out-name matchkey_wasm "$target/wasm32-unknown-unknown/release/matchkey.wasm"
  "$wasm_opt" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/matchkey_wasm_bg.wasm" -o "$out/matchkey_wasm_bg.wasm"
}
# The lite build has no `std` (its own allocator, no panic formatting); the ADDRESS and
# STATE rules of the full and csv builds need it.
build browser-lite browser-lite pkg
build browser "browser,std" pkg/full
build browser-csv browser-csv pkg/csv
cp npm/package.json npm/matchkey.js npm/node.js npm/batch.js npm/matchkey.d.ts npm/csv.js npm/csv-node.js npm/csv.d.ts npm/README.md pkg/
# The site tag as pages load it: one minified module (pkg/tag.js).
node scripts/bundle-tag.mjs
# shellcheck disable=SC2016 # JavaScript, not shell
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { gzipSync, brotliCompressSync, constants } from "node:zlib";
  for (const f of ["pkg/matchkey_wasm_bg.wasm", "pkg/tag.js", "pkg/matchkey_wasm.js", "pkg/matchkey.js", "pkg/full/matchkey_wasm_bg.wasm", "pkg/full/matchkey_wasm.js", "pkg/batch.js", "pkg/csv.js", "pkg/csv/matchkey_wasm_bg.wasm", "pkg/csv/matchkey_wasm.js"]) {
    const b = readFileSync(f);
    const gz = gzipSync(b, { level: 9 }).length;
    const br = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    console.log(`${f}: ${b.length} B, gzip ${gz} B, brotli ${br} B`);
  }'
