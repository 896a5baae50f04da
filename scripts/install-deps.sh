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
#
# It prints one line per step (installed or skipped, and how long it took); the full
# output of apt, rustup, cargo and npm goes to install.log in MATCHKEY_LOG_DIR (the demo
# passes its log folder) or in a new temporary folder, whose path it prints first. When a
# step fails it prints the end of that log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

if [ -n "${MATCHKEY_LOG_DIR:-}" ]; then
  log_dir=$MATCHKEY_LOG_DIR
  mkdir -p "$log_dir"
else
  log_dir=$(mktemp -d "${TMPDIR:-/tmp}/matchkey-install.XXXXXX")
  # A folder of our own with nothing in its log (everything was present) is not kept.
  trap '[ -s "$log" ] || rm -rf "$log_dir"' EXIT
fi
log=$log_dir/install.log
: > "$log"
echo "install: full output in $log"

skipped() { echo "install: $1: present, skipped"; }

# run LABEL CMD...: runs CMD with its output in the log; one line when done, the log's
# end (and exit 1) when it fails.
run() {
  local label=$1 start=$SECONDS
  shift
  printf '\n### %s\n$ %s\n' "$label" "$*" >> "$log"
  if ! "$@" >> "$log" 2>&1 < /dev/null; then
    echo "install: $label: FAILED after $((SECONDS - start)) s; the end of $log:" >&2
    tail -n 25 "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
  echo "install: $label: installed in $((SECONDS - start)) s"
}

# Warnings that third-party tools print while they are built, explained once (they are in
# the log, and none of them is about matchkey's own code or Cargo.lock).
explain_known_warnings() {
  local pkgs
  pkgs=$(sed -n 's/.*packages contain code that will be rejected by a future version of Rust: //p' "$log" | sort -u | paste -sd ' ' -)
  [ -z "$pkgs" ] || echo "install: note: cargo's \"future version of Rust\" warning names $pkgs: dependencies of wasm-bindgen-cli (through rouille, the web server of its test runner), not of matchkey; nothing to do"
  pkgs=$(sed -n 's/.*package `\([^`]*\)` in Cargo.lock is yanked.*/\1/p' "$log" | sort -u | paste -sd ' ' -)
  [ -z "$pkgs" ] || echo "install: note: \"$pkgs is yanked\" is about worker-build's own published Cargo.lock (cargo install --locked keeps it, for a reproducible tool); matchkey's Cargo.lock has no yanked crate"
}

apt_packages=()
if have_chromium; then skipped "Chromium"; else apt_packages+=(chromium); fi
command -v python3 >/dev/null || apt_packages+=(python3)
command -v curl >/dev/null || apt_packages+=(curl)
[ -x /usr/bin/time ] || apt_packages+=(time)
if [ ${#apt_packages[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install: not root and no sudo: run as root: apt-get install ${apt_packages[*]}" >&2; exit 1; }
    sudo=(sudo)
    # A password prompt must not vanish into the log: ask for it here, on the terminal.
    sudo -v
  fi
  run "apt-get update" "${sudo[@]}" apt-get update
  run "apt-get install ${apt_packages[*]} (Debian)" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
fi

if have_wasm_target; then skipped "Rust target wasm32-unknown-unknown"; else
  run "rustup target add wasm32-unknown-unknown" rustup target add wasm32-unknown-unknown
fi

if have_wasm_bindgen; then skipped "wasm-bindgen $WASM_BINDGEN_VERSION"; else
  # Not --locked: the CLI's lockfile pins a webpki-roots the registry here does not serve.
  run "wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, about 5 min the first time)" \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if have_worker_build; then skipped "worker-build $WORKER_BUILD_VERSION"; else
  run "worker-build $WORKER_BUILD_VERSION (cargo install)" \
    cargo install --locked worker-build --version "$WORKER_BUILD_VERSION" --force
fi

if have_node_modules; then skipped "node_modules (as package-lock.json pins it)"; else
  run "npm ci (playwright-core, esbuild, wasm-opt, wrangler)" npm ci --no-audit --no-fund
fi

explain_known_warnings
# Whatever was just installed must now be found, or the next step fails obscurely.
require_deps
