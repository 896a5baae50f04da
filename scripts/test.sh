#!/usr/bin/env bash
# The test command (README "Run all tests"): every check CI runs, in order, each a hard
# failure. It expects the tools `.ci/run` installs; run `bash .ci/run` on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "clippy (native, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "clippy (wasm32: the core without the CLI, and the Worker)"
  cargo clippy --target wasm32-unknown-unknown -p matchkey --no-default-features --lib --locked -- -D warnings
  cargo clippy --target wasm32-unknown-unknown -p matchkey-worker --locked -- -D warnings
fi

step "tests (unit, golden vectors, CLI, properties)"
cargo test --workspace --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "audience push at scale (1,000,000 rows against the emulator, release build)"
bash scripts/bench-audience-push.sh

# Browser and Worker suites join here as their scripts land.
for suite in scripts/test-browser.sh scripts/test-worker.sh; do
  if [ -f "$suite" ]; then
    step "$suite"
    bash "$suite"
  fi
done
