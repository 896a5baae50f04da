#!/usr/bin/env bash
# Installs what the demo and the test suites need, skipping (and saying so) whatever is
# already present, so a second run installs nothing:
#   - Debian packages, as root or through sudo: chromium (the headless browser of the
#     demo and the browser suite), and python3, curl, time if absent (the audience bench);
#   - the Rust wasm32 target (rustup);
#   - wasm-bindgen-cli 0.2.130 and worker-build 0.8.7 (cargo install, into ~/.cargo/bin);
#   - the npm packages of package-lock.json into node_modules/ (npm ci): playwright-core,
#     esbuild, binaryen's wasm-opt, wrangler with workerd and Miniflare.
# Nothing is downloaded from outside the Debian, crates.io and npm registries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

have() { echo "install: $1 present, skipped"; }
doing() { echo "install: $1"; }

apt_packages=()
if have_chromium; then have "Chromium"; else apt_packages+=(chromium); fi
command -v python3 >/dev/null || apt_packages+=(python3)
command -v curl >/dev/null || apt_packages+=(curl)
[ -x /usr/bin/time ] || apt_packages+=(time)
if [ ${#apt_packages[@]} -gt 0 ]; then
  doing "apt-get install ${apt_packages[*]} (needs root)"
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install: not root and no sudo: run as root: apt-get install ${apt_packages[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
fi

if have_wasm_target; then have "Rust target wasm32-unknown-unknown"; else
  doing "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if have_wasm_bindgen; then have "wasm-bindgen $WASM_BINDGEN_VERSION"; else
  doing "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: the CLI's lockfile pins a webpki-roots the registry here does not serve.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if have_worker_build; then have "worker-build $WORKER_BUILD_VERSION"; else
  doing "cargo install worker-build $WORKER_BUILD_VERSION"
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" --force
fi

if have_node_modules; then have "node_modules (as package-lock.json pins it)"; else
  doing "npm ci"
  npm ci --no-audit --no-fund
fi

# Whatever was just installed must now be found, or the next step fails obscurely.
require_deps
