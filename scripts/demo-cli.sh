#!/usr/bin/env bash
# The CLI demo: builds the `matchkey` CLI and shows what Amazon would
# receive for a small customer file, then hashes a few values given as JSON lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

cargo build --release --quiet --locked --bin matchkey
bin=target/release/matchkey

echo "== examples/customers.csv, as a customer would upload it to AMC (hashes only):"
"$bin" hash-csv --map email=EMAIL,phone=PHONE,first_name=FIRST_NAME,last_name=LAST_NAME,street=ADDRESS,city=CITY,state=STATE,zip=POSTAL \
  --country-column country --keep customer_id < examples/customers.csv 2>"$summary" \
  | cut -c1-120
cat "$summary"

echo
echo "== matchkey hash: one JSON line in, one out (normalized value shown here for the demo):"
printf '%s\n' \
  '{"field":"EMAIL","country":"US","input":" Jane.Doe+ads@Example.com "}' \
  '{"field":"PHONE","country":"GB","input":"+44 (0)20 7946 0958"}' \
  '{"field":"ADDRESS","country":"US","input":"123 N. Main St., Apt #4"}' \
  '{"field":"STATE","country":"CA","input":"Québec"}' \
  '{"field":"POSTAL","country":"JP","input":"〒100-0001"}' \
  '{"field":"PHONE","country":"US","input":"555-0100"}' \
  | "$bin" hash
