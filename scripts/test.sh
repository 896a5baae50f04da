#!/usr/bin/env bash
# The test command (README): every check CI runs, in order, each a hard failure. It needs
# the tools scripts/install-deps.sh installs and fails at once, naming the command that
# fixes it, if one is missing (`bash .ci/run` installs them, runs the demo, then this).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

step() { printf '\n==> %s\n' "$*"; }

step "prerequisites"
require_deps
for suite in scripts/bench-audience-push.sh scripts/bench-csv.sh scripts/test-browser.sh scripts/test-worker.sh; do
  [ -f "$suite" ] || { echo "$suite is missing: this checkout is incomplete (git status)" >&2; exit 1; }
done
echo "all present"

step "format"
cargo fmt --all --check

step "clippy (native, all targets)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32: the core without the CLI, and the Worker)"
cargo clippy --target wasm32-unknown-unknown -p matchkey --no-default-features --lib --locked -- -D warnings
cargo clippy --target wasm32-unknown-unknown -p matchkey-worker --locked -- -D warnings

step "tests (unit, golden vectors, CLI, properties)"
cargo test --workspace --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# Every relative link and anchor of every Markdown file, and the README's and docs/'s
# console and bash blocks run against the debug binary (scripts/check-docs.mjs).
cargo build --quiet --locked --bin matchkey
node scripts/check-docs.mjs

step "audience push at scale (1,000,000 rows against the emulator, release build)"
bash scripts/bench-audience-push.sh

step "hash-csv streams a 1 GiB Windows-1252 export in bounded memory (release build)"
bash scripts/bench-csv.sh

step "browser suite (scripts/test-browser.sh)"
bash scripts/test-browser.sh

step "Worker suite (scripts/test-worker.sh)"
bash scripts/test-worker.sh
