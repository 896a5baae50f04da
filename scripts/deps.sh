# shellcheck shell=bash
# What the demo and the test suites need beyond Rust and Node, in one place: sourced by
# install-deps.sh (installs what is missing), demo.sh and test.sh (fail on anything
# missing, naming the command that fixes it). Run from the repository root.

WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen crate pinned in Cargo.lock
WORKER_BUILD_VERSION=0.8.7
export PATH="$HOME/.cargo/bin:$PATH"

have_wasm_target() { rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; }
have_wasm_bindgen() { [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; }
have_worker_build() {
  local v
  v=$(worker-build --version 2>/dev/null) || return 1
  [ "$v" = "$WORKER_BUILD_VERSION" ] || [ "$v" = "worker-build $WORKER_BUILD_VERSION" ]
}
have_chromium() { [ -x "${CHROME_BIN:-}" ] || command -v chromium >/dev/null; }
have_tools() { command -v python3 >/dev/null && command -v curl >/dev/null && [ -x /usr/bin/time ]; }

# node_modules holds exactly what package-lock.json pins (the versions npm recorded in
# node_modules/.package-lock.json, and every package's folder), so `npm ci` is needed
# only when the lock changed or a package is missing.
have_node_modules() {
  node -e '
    const fs = require("fs");
    let lock, installed;
    try {
      lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages;
      installed = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages;
    } catch { process.exit(1); }
    for (const [path, pkg] of Object.entries(lock)) {
      if (!path) continue;
      const got = installed[path];
      if (!got) { if (pkg.optional) continue; process.exit(1); }  // optional: other platforms
      if (got.version !== pkg.version || !fs.existsSync(path)) process.exit(1);
    }' 2>/dev/null
}

# Prints one line per missing prerequisite (what, and the command that installs it);
# returns 1 if anything is missing.
missing_deps() {
  local sudo="" missing=0
  [ "$(id -u)" = 0 ] || sudo="sudo "
  have_wasm_target || { echo "  the wasm32 target: rustup target add wasm32-unknown-unknown"; missing=1; }
  have_wasm_bindgen || { echo "  wasm-bindgen $WASM_BINDGEN_VERSION: cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION --force"; missing=1; }
  have_worker_build || { echo "  worker-build $WORKER_BUILD_VERSION: cargo install --locked worker-build --version $WORKER_BUILD_VERSION --force"; missing=1; }
  have_chromium || { echo "  Chromium: ${sudo}apt-get install chromium (or set CHROME_BIN)"; missing=1; }
  have_tools || { echo "  python3, curl, /usr/bin/time: ${sudo}apt-get install python3 curl time"; missing=1; }
  have_node_modules || { echo "  node_modules as package-lock.json pins them: npm ci"; missing=1; }
  return "$missing"
}

# Fails (exit 1) when something is missing, with the commands that fix it.
require_deps() {
  local report
  if ! report=$(missing_deps); then
    echo "missing prerequisites:" >&2
    echo "$report" >&2
    echo "bash scripts/install-deps.sh installs all of them (bash .ci/run installs them, then tests)." >&2
    exit 1
  fi
}
