#!/usr/bin/env bash
# `matchkey audience push` throughput and memory, against the local emulator (release
# builds): generates member files of 100,000 and 1,000,000 rows (email for every row,
# phone for one in ten), pushes each to a new AMC audience, and prints rows/s and the
# CLI's peak resident memory. Equal peaks for both sizes mean the push streams; the
# script fails if the largest file's peak is over 1.5 times the smallest's, or if any
# row is not sent (CI runs it).
# Usage: bash scripts/bench-audience-push.sh [ROWS...]   (default: 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
sizes=("$@")
[ $# -eq 0 ] && sizes=(100000 1000000)

cargo build --quiet --release --locked -p matchkey --bin matchkey
cargo build --quiet --release --locked -p amazon-emulator --bin amazon-emulator
work=$(mktemp -d)
cleanup() { [ -n "${emu_pid:-}" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

target/release/amazon-emulator --port 0 -q > "$work/emulator.out" &
emu_pid=$!
for _ in $(seq 100); do grep -q listening "$work/emulator.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/emulator.out")

export AMAZON_API_BASE="$base" LWA_TOKEN_URL="$base/auth/o2/token"
export LWA_CLIENT_ID=amzn1.application-oa2-client.matchkey-demo LWA_CLIENT_SECRET=matchkey-demo-secret
export LWA_REFRESH_TOKEN='Atzr|matchkey-demo-refresh' AMC_ADVERTISER_ID=583000000000001

printf '%-10s %10s %9s %12s %10s\n' rows seconds rows/s batches peak_RSS
for rows in "${sizes[@]}"; do
  python3 - "$rows" > "$work/members.csv" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("id,email,phone\n")
for i in range(n):
    phone = f"+1 415 555 {i % 10000:04d}" if i % 10 == 0 else ""
    out.write(f"u{i},Member.{i}@Example.com,{phone}\n")
PY
  curl -s -X POST "$base/__emulator/reset" > /dev/null
  /usr/bin/time -f '%M' -o "$work/rss" target/release/matchkey audience push --name bench --file "$work/members.csv" \
    --map email=EMAIL,phone=PHONE --id-column id --country US --no-progress --restart > "$work/report.json" 2> "$work/stderr" \
    || { cat "$work/stderr"; exit 1; }
  python3 - "$rows" "$work/report.json" "$(cat "$work/rss")" <<'PY'
import json, sys
rows, report, rss_kb = int(sys.argv[1]), json.load(open(sys.argv[2])), int(sys.argv[3])
assert report["sent"] == rows, report
print(f'{rows:<10} {report["seconds"]:>10} {report["rowsPerSecond"]:>9.0f} {report["batches"]:>12} {rss_kb/1024:>8.1f} MB')
PY
  cat "$work/rss" >> "$work/peaks"
done
python3 - "$work/peaks" <<'PY'
import sys
peaks = [int(line) for line in open(sys.argv[1])]
if len(peaks) > 1 and peaks[-1] > 1.5 * peaks[0]:
    sys.exit(f"memory grows with the file: {peaks[0]} KB → {peaks[-1]} KB peak")
PY
