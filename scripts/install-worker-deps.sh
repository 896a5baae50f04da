#!/usr/bin/env bash
# Installs what the Worker suite needs, skipping whatever is present: the wasm target,
# wasm-bindgen 0.2.130 (via the browser installer), worker-build 0.8.7, and the npm
# packages (wrangler 4.86 with workerd and Miniflare, esbuild).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/install-browser-deps.sh
if [ "$(worker-build --version 2>/dev/null)" != "0.8.7" ] && [ "$(worker-build --version 2>/dev/null)" != "worker-build 0.8.7" ]; then
  cargo install --locked worker-build --version 0.8.7 --force
fi
if [ ! -d node_modules/miniflare ] || [ ! -x node_modules/.bin/wrangler ]; then
  npm ci --no-audit --no-fund
fi
