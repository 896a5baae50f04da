#!/usr/bin/env bash
# The demo (README): the shop page hashes in the browser (wasm) → the Worker (wrangler
# dev, local KV/D1/Durable Objects) → the local Amazon emulator. It installs what is
# missing, builds, starts the three on 127.0.0.1, proves the path with a headless
# purchase, then leaves them running for you until Ctrl-C. `--once` stops after the proof.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" WRANGLER_SEND_METRICS=false

once=false
[ "${1:-}" = "--once" ] && once=true

bash scripts/install-worker-deps.sh
bash scripts/build-pkg.sh > /dev/null
cargo build --quiet --locked -p matchkey --bin matchkey
cargo build --quiet --locked -p amazon-emulator --bin amazon-emulator
[ -f .dev.vars ] || cp .dev.vars.example .dev.vars

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  # wrangler re-parents its node process and workerd: find them by their command line.
  pkill -f "wrangler dev --ip 127.0.0.1 --port 8787" 2>/dev/null || true
  pkill -f "workerd serve" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== starting the Amazon emulator on 127.0.0.1:9797"
setsid target/debug/amazon-emulator --port 9797 -q > /tmp/matchkey-emulator.log 2>&1 &
pids+=($!)
echo "== starting the demo shop on http://127.0.0.1:8000"
setsid python3 -m http.server 8000 --bind 127.0.0.1 > /tmp/matchkey-static.log 2>&1 &
pids+=($!)
echo "== starting the Worker (wrangler dev) on http://127.0.0.1:8787"
# A fresh local state each run: the emulator starts empty too.
state=$(mktemp -d /tmp/matchkey-demo-state.XXXXXX)
setsid npx wrangler dev --ip 127.0.0.1 --port 8787 --var FLUSH_SECONDS:5 --persist-to "$state" < /dev/null > /tmp/matchkey-wrangler.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fs http://127.0.0.1:8787/healthz > /dev/null 2>&1 && break
  sleep 1
done
curl -fs http://127.0.0.1:8787/healthz > /dev/null || { echo "the Worker did not start; see /tmp/matchkey-wrangler.log"; exit 1; }

url="http://127.0.0.1:8000/www/index.html?endpoint=http://127.0.0.1:8787&siteKey=demo-site&country=US"
echo "== a headless browser buys on $url"
node scripts/demo-check.mjs "$url" http://127.0.0.1:9797

if ! $once; then
  echo
  echo "Open $url and buy: within 5 s the event (hashes only) reaches the emulated Amazon:"
  echo "  curl -s http://127.0.0.1:9797/__emulator/events"
  echo "Delivery log: curl -s -H 'authorization: Bearer local-admin-key' http://127.0.0.1:8787/v1/deliveries"
  echo "Ctrl-C stops everything."
  wait
fi
