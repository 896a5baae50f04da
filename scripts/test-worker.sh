#!/usr/bin/env bash
# The Worker suite (run by scripts/test.sh): builds the Worker, the emulator and the CLI,
# then runs the Worker in workerd (Miniflare) against the emulator on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/build-worker.sh
cargo build --quiet --locked -p amazon-emulator --bin amazon-emulator
cargo build --quiet --locked --bin matchkey
node --test --test-concurrency=1 tests/worker/

# A short bounded load run: every accepted event must reach Amazon or the log.
node scripts/load-test.mjs 2000 8 2>&1 | grep -v NOSENTRY

# The README's demo, end to end: page (wasm) → wrangler dev → emulator, purchase and audience.
bash scripts/demo.sh --once > /tmp/matchkey-demo-ci.log 2>&1 || { tail -40 /tmp/matchkey-demo-ci.log; exit 1; }
tail -1 /tmp/matchkey-demo-ci.log
