#!/usr/bin/env bash
# Installs what the browser suite needs, skipping whatever is already present: the wasm
# target, wasm-bindgen CLI 0.2.130 (must equal the crate's pinned version), Debian's
# Chromium, and the npm packages of package-lock.json (playwright-core, esbuild,
# binaryen's wasm-opt). Nothing is downloaded from outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WBG=0.2.130
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WBG" ]; then
  # Not --locked: the CLI's lockfile pins a webpki-roots the registry here does not serve.
  cargo install wasm-bindgen-cli --version "$WBG" --force
fi
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
fi
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
