#!/usr/bin/env bash
# The Worker suite (run by scripts/test.sh): builds the Worker, the emulator and the CLI,
# then runs every test file of tests/worker/ with the Worker in workerd (Miniflare)
# against the emulator on 127.0.0.1, and a short load run. (The README's demo, which
# runs the Worker the same way, is run by .ci/run before the test command.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh
require_deps

# The site tag, for the suites that drive it in Chromium against the Worker, and the
# package's csv build, which the Worker embeds for the console's file page: before the
# Worker is built.
[ -f pkg/tag.js ] && [ -f pkg/csv/matchkey_wasm_bg.wasm ] || bash scripts/build-pkg.sh
bash scripts/build-worker.sh
cargo build --quiet --locked -p amazon-emulator --bin amazon-emulator
cargo build --quiet --locked --bin matchkey
node --test --test-concurrency=1 tests/worker/

# Short bounded load runs (browser single events and 500-event server bodies, then the
# same sharded over 4 objects): every accepted event must reach Amazon exactly once or
# the log; they fail on a lost or duplicated event, never on timing.
node scripts/load-test.mjs 2000 8 2>&1 | grep -v NOSENTRY
SHARDS=4 node scripts/load-test.mjs 2000 8 2>&1 | grep -v NOSENTRY
