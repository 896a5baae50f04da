#!/usr/bin/env bash
# `matchkey hash-csv` on a generated 1 GiB customer export (release build): Windows-1252,
# semicolons, CRLF, a short row in every 1,000 (so transcoding, delimiter detection and
# line counting all run), streamed through a pipe. Prints the time, the throughput and the
# CLI's peak resident memory, and fails if a row is missing or the peak is over 32 MiB
# (memory must not grow with the file). CI runs it; tests/csv_files.rs checks the same on
# 48 MiB with the debug build (and on 1 GiB with `--ignored` in a release test build).
# Usage: bash scripts/bench-csv.sh [MIB]   (default: 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
mib=${1:-1024}
cargo build --quiet --release --locked -p matchkey --bin matchkey
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The generator: a 1 MiB block of rows repeated MIB times; it prints the row count to fd 3.
cat > "$work/gen.py" <<'PY'
import os, sys
mib = int(sys.argv[1])
block, i = bytearray(), 0
while len(block) < (1 << 20):
    i += 1
    if i % 1000 == 0:
        block += b"%d;J\xfcrgen\r\n" % i
    else:
        block += b"%d;J\xfcrgen;kunde.%d@example.de;K\xf6ln\r\n" % (i, i)
out = sys.stdout.buffer
out.write(b"id;Vorname;E-Mail;Ort\r\n")
for _ in range(mib):
    out.write(block)
out.flush()
os.write(3, b"%d\n" % (i * mib))
PY

start=$(date +%s.%N)
python3 "$work/gen.py" "$mib" 3> "$work/rows" \
  | /usr/bin/time -f '%M' -o "$work/rss" target/release/matchkey hash-csv \
      --map E-Mail=EMAIL,Vorname=FIRST_NAME --country DE --keep id --no-progress 2> "$work/stderr" \
  | wc -l > "$work/lines"
end=$(date +%s.%N)
cat "$work/stderr"
python3 - "$mib" "$(cat "$work/rows")" "$(cat "$work/lines")" "$(cat "$work/rss")" "$start" "$end" "$work/stderr" <<'PY'
import sys
mib, rows, lines, rss_kb = (int(a) for a in sys.argv[1:5])
seconds = float(sys.argv[6]) - float(sys.argv[5])
summary = open(sys.argv[7]).read()
print(f"hash-csv: {mib} MiB, {rows:,} rows in {seconds:.1f} s: {mib / seconds:.0f} MiB/s, peak RSS {rss_kb / 1024:.1f} MiB")
if lines != rows + 1:
    sys.exit(f"{lines - 1} rows written of {rows}")
if f"{rows} rows read (windows-1252, separated by `;`)" not in summary:
    sys.exit("the summary does not say windows-1252 and `;`")
if rss_kb > 32 * 1024:
    sys.exit(f"peak RSS {rss_kb} KB: memory grows with the file")
PY
