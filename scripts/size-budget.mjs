// The browser payload's size budget (scripts/size-budget.json, the one place its numbers
// live): what a page downloads for the tag before its first identify (and, apart, what it
// fetches later only when needed), brotli quality 11, per file and per set, and the pasted
// snippet gzipped; and the console's files (the "console" key). Prints measured against
// budget; exits 1 when any is over.
// The browser suite (scripts/test-browser.sh) runs it after building pkg/.
// Usage: node scripts/size-budget.mjs [--report] [--console]   (--report: print only, never
// fail; --console: only the console's files)
import { readFileSync } from 'node:fs';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const budget = JSON.parse(readFileSync(`${root}scripts/size-budget.json`, 'utf8'));
const reportOnly = process.argv.includes('--report');
// --console: only the console's files (no pkg/ build needed).
const consoleOnly = process.argv.includes('--console');
const brotli = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length;
const gzip = (b) => gzipSync(b, { level: 9 }).length;

const rows = [];
const over = [];
const check = (what, measured, limit) => {
  const ok = measured <= limit;
  rows.push([what, measured, limit, ok ? `${((measured / limit) * 100).toFixed(0)}%` : 'OVER']);
  if (!ok) over.push(`${what}: ${measured} B, budget ${limit} B`);
};
// Each named set (`firstLoad`: what a page downloads before its first identify and
// track; `lazy`: the full build, fetched only for ADDRESS or STATE) has per-file limits and
// a total.
for (const [set, { brotli: files, total: totalLimit }] of Object.entries(consoleOnly ? {} : budget.sets)) {
  let total = 0;
  for (const [file, limit] of Object.entries(files)) {
    let bytes;
    try {
      bytes = readFileSync(`${root}${file}`);
    } catch {
      console.error(`size-budget: ${file} is missing (build it: bash scripts/build-pkg.sh)`);
      process.exit(1);
    }
    const size = brotli(bytes);
    total += size;
    check(`${set}: ${file} (brotli, raw ${bytes.length} B)`, size, limit);
  }
  check(`${set}: total (brotli)`, total, totalLimit);
}
for (const [file, limit] of Object.entries(consoleOnly ? {} : budget.gzip ?? {})) check(`${file} (gzip)`, gzip(readFileSync(`${root}${file}`)), limit);
// The console's own budget (its files ship in the Worker, not to shoppers' pages).
if (budget.console) {
  let consoleTotal = 0;
  for (const [file, limit] of Object.entries(budget.console.files)) {
    const size = brotli(readFileSync(`${root}${file}`));
    consoleTotal += size;
    check(`${file} (brotli)`, size, limit);
  }
  check('console total (brotli)', consoleTotal, budget.console.total);
}

const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${'browser payload'.padEnd(w)}  measured    budget  used`);
for (const [what, m, l, used] of rows) console.log(`${what.padEnd(w)}  ${String(m).padStart(8)}  ${String(l).padStart(8)}  ${used}`);
if (over.length && !reportOnly) {
  console.error(`\nover the size budget (scripts/size-budget.json):\n  ${over.join('\n  ')}`);
  process.exit(1);
}
