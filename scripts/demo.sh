#!/usr/bin/env bash
# The demo (README): the shop page hashes in the browser (wasm) → the Worker (workerd via
# Miniflare, configured from wrangler.toml, local KV/D1/Durable Objects) → the local Amazon
# emulator. Installs what is missing (scripts/install-deps.sh), builds everything it starts,
# starts the three on 127.0.0.1, proves the path with a headless purchase and a newsletter
# sign-up, then leaves them running for you until Ctrl-C.
#
# Usage: bash scripts/demo.sh [--once] [--keep] [--port-base N]
#   --once         stop after the proof (CI runs this)
#   --keep         keep the temporary folder (logs, Worker state) after exit
#                  (or MATCHKEY_DEMO_KEEP=1)
#   --port-base N  emulator on N, Worker on N+1, shop on N+2, each required to be free
#                  (or MATCHKEY_DEMO_PORT_BASE=N). Without it: 9797, 8787 and 8000, and a
#                  free port instead of any of them that is taken (the script says which).
# It stops only what it started (each service in its own process group), from any
# directory, and leaves nothing behind but the build outputs.
# shellcheck disable=SC2317 # stop_all and cleanup run from traps
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
. scripts/deps.sh

once=false
keep=${MATCHKEY_DEMO_KEEP:-}
port_base=${MATCHKEY_DEMO_PORT_BASE:-}
while [ $# -gt 0 ]; do
  case $1 in
    --once) once=true ;;
    --keep) keep=1 ;;
    --port-base) port_base=${2:-}; shift ;;
    --port-base=*) port_base=${1#*=} ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;/^# shellcheck/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$port_base" ] && ! [[ $port_base =~ ^[0-9]+$ && $port_base -ge 1024 && $port_base -le 65533 ]]; then
  echo "demo: --port-base takes a port number from 1024 to 65533, not '$port_base'" >&2
  exit 2
fi

step() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# A private folder for logs and the Worker's state; removed on exit unless --keep.
work=$(mktemp -d "${TMPDIR:-/tmp}/matchkey-demo.XXXXXX")
names=() # the services started, and their process groups
pgids=()

group_alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }
stop_all() {
  local pg
  for pg in "${pgids[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=false
    for pg in "${pgids[@]}"; do group_alive "$pg" && alive=true; done
    $alive || break
    sleep 0.1
  done
  for pg in "${pgids[@]}"; do
    if group_alive "$pg"; then kill -KILL -- "-$pg" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ ${#pgids[@]} -gt 0 ]; then
    stop_all
    echo "demo: stopped what it started (${names[*]}: process groups ${pgids[*]})"
  fi
  if [ -n "$keep" ]; then
    echo "demo: logs and Worker state kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Shows the end of each service's log (on failure).
show_logs() {
  local f
  for f in "$work"/*.log; do
    [ -s "$f" ] || continue
    echo "--- $f (last 25 lines)" >&2
    tail -n 25 "$f" >&2
  done
  [ -n "$keep" ] || echo "(bash scripts/demo.sh --keep keeps these logs after exit)" >&2
}
fail() { echo "demo: $*" >&2; show_logs; exit 1; }

# --- ports ---------------------------------------------------------------------------
port_free() {
  node -e 'const s = require("net").createServer(); s.once("error", () => process.exit(1));
           s.listen(+process.argv[1], "127.0.0.1", () => s.close())' "$1"
}
any_free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
# "pid 123: python3 -m http.server 8787", when the system tells us (ss, as root or owner).
port_user() {
  local pid
  pid=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2) || true
  if [ -n "$pid" ]; then
    echo "pid $pid: $(ps -o args= -p "$pid" 2>/dev/null | cut -c1-80)"
  elif command -v ss > /dev/null; then
    echo "a process of another user"
  else
    echo "another process"
  fi
}
taken=()
pick_port() { # pick_port WHAT DEFAULT → sets $port
  local what=$1 want=$2
  if port_free "$want"; then port=$want; taken+=("$port"); return; fi
  [ -z "$port_base" ] || die "port $want ($what) is taken by $(port_user "$want"); choose another --port-base"
  port=$(any_free_port)
  while [[ " ${taken[*]} " == *" $port "* ]]; do port=$(any_free_port); done
  taken+=("$port")
  echo "demo: port $want ($what) is taken by $(port_user "$want"); using $port instead"
}
if [ -n "$port_base" ]; then
  emu_default=$port_base worker_default=$((port_base + 1)) shop_default=$((port_base + 2))
else
  emu_default=9797 worker_default=8787 shop_default=8000
fi

# Checked now, before the builds, so that a taken port is reported at once.
pick_port "the Amazon emulator" "$emu_default"
emu_port=$port
pick_port "the Worker" "$worker_default"
worker_port=$port
pick_port "the demo shop" "$shop_default"
shop_port=$port
amazon=http://127.0.0.1:$emu_port
worker=http://127.0.0.1:$worker_port
shop=http://127.0.0.1:$shop_port
page="/www/index.html?endpoint=$worker&siteKey=demo-site&country=US"

# --- build -----------------------------------------------------------------------------
echo "demo: logs in $work ($([ -n "$keep" ] && echo kept || echo removed) on exit)"
step "installing what is missing (scripts/install-deps.sh)"
MATCHKEY_LOG_DIR="$work" bash scripts/install-deps.sh
step "building the wasm package (pkg/) and the Worker (worker/build/)"
bash scripts/build-pkg.sh > "$work/build-pkg.log" || fail "building pkg/ failed"
bash scripts/build-worker.sh || fail "building the Worker failed"
step "building the Amazon emulator"
cargo build --quiet --locked -p amazon-emulator --bin amazon-emulator

# --- start -----------------------------------------------------------------------------
# start NAME CMD...: runs CMD in a new session (its own process group) with its output in
# $work/NAME.log, and waits for its "listening on URL" line; sets $url.
start() {
  local name=$1 pid
  shift
  setsid "$@" < /dev/null > "$work/$name.log" 2>&1 &
  pid=$!
  # This shell's children are not group leaders, so setsid runs the command in place:
  # its process id is the id of the new process group.
  names+=("$name")
  pgids+=("$pid")
  url=
  for _ in $(seq 600); do
    # The log may not exist yet: the background shell creates it when it gets to run.
    url=$({ sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/$name.log" 2>/dev/null || true; } | head -1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the $name stopped while starting"
    sleep 0.1
  done
  [ -n "$url" ] || fail "the $name did not start within 60 s"
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "the $name is not in its own process group"
}

step "starting the Amazon emulator, the Worker and the demo shop"
start emulator target/debug/amazon-emulator --port "$emu_port" -q
echo "Amazon emulator  $url"
start worker node scripts/demo-worker.mjs 127.0.0.1 "$worker_port" "$work/state" \
  "AMAZON_API_BASE=$amazon" "LWA_TOKEN_URL=$amazon/auth/o2/token" "LWA_AUTH_URL=$amazon/ap/oa" \
  "ALLOWED_ORIGINS=$shop,http://localhost:$shop_port" FLUSH_SECONDS=5
echo "Worker           $url"
curl -fsS --retry 20 --retry-delay 1 --retry-all-errors -o /dev/null "$worker/healthz" || fail "the Worker does not answer /healthz"
start shop node scripts/demo-serve.mjs 127.0.0.1 "$shop_port" "$page"
echo "demo shop        $url (serves www/ and pkg/ only)"
for path in /.dev.vars /.git/config /Cargo.toml /README.md; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$shop$path")
  [ "$code" = 404 ] || fail "the demo shop serves $path ($code): it must serve www/ and pkg/ only"
done
for path in /www/index.html /pkg/tag.js /pkg/matchkey_wasm_bg.wasm /pkg/full/matchkey_wasm.js /pkg/full/matchkey_wasm_bg.wasm; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$shop$path")
  [ "$code" = 200 ] || fail "the demo shop does not serve $path ($code)"
done

# --- prove -----------------------------------------------------------------------------
step "a headless browser buys on $shop$page"
CHROME_BIN=${CHROME_BIN:-$(command -v chromium)} setsid node scripts/demo-check.mjs "$shop$page" "$amazon" \
  < /dev/null > "$work/check.log" 2>&1 &
check=$!
names+=(browser)
pgids+=("$check")
if ! wait "$check"; then fail "the purchase did not reach the emulated Amazon"; fi
cat "$work/check.log"

next_steps() {
  cat <<EOF

Next: your own Amazon Ads account, in a Worker of your own: docs/deploy.md has every
command (KV and D1, migrations, secrets, deploy), then
  - matchkey connect --worker https://matchkey.<you>.workers.dev   (the grant goes to the Worker, sealed)
  - POST /v1/admin/integrations with the advertiser and your shop's origin: it answers the
    snippet to paste and the site key;
  - matchkey doctor --worker https://matchkey.<you>.workers.dev    (what is still missing, with fixes).
EOF
}

if $once; then
  echo
  echo "demo: passed in ${SECONDS} s"
  next_steps
  exit 0
fi

cat <<EOF

The demo is running. Open the shop and buy, or join the newsletter:
  $shop/    (→ $shop$page)
What the emulated Amazon received (hashes only; a purchase arrives within 5 s):
  curl -s $amazon/__emulator/events
  curl -s $amazon/__emulator/audiences
The Worker's delivery log and health:
  curl -s -H 'authorization: Bearer local-admin-key' $worker/v1/deliveries
  curl -s $worker/healthz
Logs: $work/{emulator,worker,shop}.log ($([ -n "$keep" ] && echo kept || echo removed) on exit)
EOF
next_steps
echo
echo "Ctrl-C stops everything the demo started."
# Until Ctrl-C, or until one of the services stops by itself.
wait -n "${pgids[@]:0:3}" 2>/dev/null || true
fail "a service stopped by itself"
