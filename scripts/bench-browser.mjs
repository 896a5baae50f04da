// In headless Chromium: 100,000 e-mails normalized and hashed by the wasm package, in
// its two batch forms (hashBatch: records in, a {normalized, sha256} object per value
// out; hashColumn: one field's inputs in, the digests out as an array of strings, no
// object per value), each against the same WebCrypto baseline: crypto.subtle.digest with
// the same normalization written in JavaScript, awaited per value and with every digest
// in flight at once (Promise.all). Then where each form's time goes, from a CPU profile
// (the DevTools protocol's Profiler) of repeated calls. Prints medians and shares;
// asserts nothing. Needs pkg/ (scripts/build-pkg.sh) and Chromium.
import { readFileSync } from 'node:fs';
import { root, staticServer, launch } from '../tests/js/harness.mjs';

const N = Number(process.env.BENCH_N || 100_000);
const site = await staticServer();
const browser = await launch();
const page = await browser.newPage();
// V8 keeps line positions only in code optimized while the profiler runs; without them the
// profile below could not tell hashBatch's packing lines from its unpacking lines. So the
// profiler runs from the start, sampling every 100 ms (nothing measurable) until then.
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100_000 });
await cdp.send('Profiler.start');
await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=http://127.0.0.1:9`);
const result = await page.evaluate(async (n) => {
  const m = await import('/pkg/matchkey.js');
  await m.default();
  const emails = Array.from({ length: n }, (_, i) => ` User.${i}+tag@Example.COM `);
  const records = emails.map((input) => ({ field: 'EMAIL', input, country: 'US' }));
  await m.prepare(records); // the batch code is in the full build
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  const jsNormalize = (s) => s.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
  const enc = new TextEncoder();
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = async (fn, runs) => {
    await fn(); // warm-up: let the engine tier the code up, as on a page that hashes more than once
    const t = [];
    for (let r = 0; r < runs; r++) {
      const s = performance.now();
      await fn();
      t.push(performance.now() - s);
    }
    (window.benchRaw ??= []).push(t.map((x) => x.toFixed(1)).join(' '));
    return median(t);
  };
  // Both batch forms share the wasm's code, which V8 first runs unoptimized and
  // recompiles (tiers up) only between calls, in the background: whichever form were timed
  // first would pay for it (measured: up to 16 ms more a call). So both run a few times
  // before either is timed.
  for (let r = 0; r < 3; r++) {
    m.hashBatch(records);
    m.hashColumn('EMAIL', emails, 'US');
  }
  let check = '';
  const wasmBatch = await time(() => { check = m.hashBatch(records)[7].sha256; }, 5);
  let columnCheck = '';
  const wasmColumn = await time(() => { columnCheck = m.hashColumn('EMAIL', emails, 'US').values[7]; }, 5);
  const wasmSingle = await time(() => { for (const e of emails) m.normalize('EMAIL', e, 'US'); }, 3);
  let webCheck = '';
  const webcrypto = await time(async () => {
    for (let i = 0; i < n; i++) {
      const h = hex(await crypto.subtle.digest('SHA-256', enc.encode(jsNormalize(emails[i]))));
      if (i === 7) webCheck = h;
    }
  }, 3);
  let allCheck = '';
  const webcryptoAll = await time(async () => {
    const digests = await Promise.all(emails.map((e) => crypto.subtle.digest('SHA-256', enc.encode(jsNormalize(e)))));
    const hexes = digests.map(hex);
    allCheck = hexes[7];
  }, 3);
  // For the profile below.
  window.benchCalls = {
    hashBatch: () => m.hashBatch(records),
    hashColumn: () => m.hashColumn('EMAIL', emails, 'US'),
  };
  return {
    wasmBatch, wasmColumn, wasmSingle, webcrypto, webcryptoAll, raw: window.benchRaw,
    same: check === webCheck && check === allCheck && columnCheck === check,
  };
}, N);

/** A CPU profile of `runs` calls of `window.benchCalls[name]`: samples per frame. */
async function profileOf(name, runs) {
  await cdp.send('Profiler.stop');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await page.evaluate((name) => { window.benchCalls[name](); }, name); // warm
  await cdp.send('Profiler.start');
  // One call per evaluation: a loop in one function would be optimized with the call
  // inlined into it, and its samples would not be the function's.
  for (let r = 0; r < runs; r++) await page.evaluate((name) => { window.benchCalls[name](); }, name);
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.send('Profiler.start');
  return profile;
}

// The batch code is pkg/batch.js. The function that calls the wasm for a form (`records`
// for hashBatch, `hashColumn`): its own lines before the call pack the input, the lines
// after unpack the answer.
const source = readFileSync(`${root}pkg/batch.js`, 'utf8').split('\n');
const lineOf = (text) => source.findIndex((l) => l.includes(text)) + 1;
const callers = {
  hashBatch: { name: 'records', line: lineOf('column(field, inputs, country, true)') },
  hashColumn: { name: 'hashColumn', line: lineOf('column(field, strings, country, false)') },
};
const batchJs = (f) => f.url.endsWith('/batch.js');
const wasmFrame = (f) => f.url.endsWith('.wasm') || f.functionName.startsWith('wasm-function[');
/** Samples per part of the work of `fn`; wasm frames by function. */
function parts(profile, fn) {
  const { name: caller, line: callLine } = callers[fn];
  const count = new Map();
  for (const s of profile.samples) count.set(s, (count.get(s) || 0) + 1);
  const out = { wasm: new Map(), others: new Map(), total: 0 };
  const add = (k, c) => { out[k] = (out[k] || 0) + c; };
  const addOther = (key, c) => {
    add('other', c);
    out.others.set(key, (out.others.get(key) || 0) + c);
  };
  for (const node of profile.nodes) {
    const c = count.get(node.id);
    if (!c) continue;
    const f = node.callFrame;
    const name = f.functionName;
    out.total += c;
    if (name === '(idle)' || name === '(program)' || name === '(root)') addOther(name, c);
    else if (name === '(garbage collector)') add('gc', c);
    else if (wasmFrame(f)) out.wasm.set(name, (out.wasm.get(name) || 0) + c);
    else if (name === caller && batchJs(f)) {
      // positionTicks: samples per source line (1-based) of this frame.
      let before = 0;
      for (const t of node.positionTicks || []) if (t.line < callLine) before += t.ticks;
      add('pack', before);
      add('unpack', c - before);
    } else if (/^(decode|decodeText|getStringFromWasm0)$/.test(name)) add('answer', c);
    else if (f.url.endsWith('/matchkey_wasm.js') || /^(encode|encodeInto|js-to-wasm.*)$/.test(name)) add('input', c);
    // hashBatch's grouping, the inputs' lengths and joins.
    else if (/^(hashBatch|column|encodeInputs)$/.test(name) && batchJs(f)) add('pack', c);
    else if (name === 'nextDigest' && batchJs(f)) add('unpack', c);
    else addOther(`${name || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`, c);
  }
  return out;
}

const profiles = {
  hashBatch: parts(await profileOf('hashBatch', 10), 'hashBatch'),
  hashColumn: parts(await profileOf('hashColumn', 10), 'hashColumn'),
};
await browser.close();
await site.close();

const us = (ms) => ((ms * 1000) / N).toFixed(2);
console.log(`Chromium, ${N} e-mails normalized + SHA-256 (median):`);
// BENCH_DETAIL=1: each timed run too (a run with a scavenge of the young generation
// stands out), and the busiest frames of each profile.
if (process.env.BENCH_DETAIL) console.log(`  runs (ms): ${result.raw.join(' | ')}`);
console.log(`  wasm hashBatch (records)         ${result.wasmBatch.toFixed(0)} ms  (${us(result.wasmBatch)} µs/value)`);
console.log(`  wasm hashColumn (digests only)   ${result.wasmColumn.toFixed(0)} ms  (${us(result.wasmColumn)} µs/value)`);
console.log(`  wasm normalize (one call each)   ${result.wasmSingle.toFixed(0)} ms  (${us(result.wasmSingle)} µs/value)`);
console.log(`  WebCrypto awaited per value + JS ${result.webcrypto.toFixed(0)} ms  (${us(result.webcrypto)} µs/value)`);
console.log(`  WebCrypto all in flight + JS     ${result.webcryptoAll.toFixed(0)} ms  (${us(result.webcryptoAll)} µs/value)`);
console.log(`  hashBatch is ${(result.webcrypto / result.wasmBatch).toFixed(1)}x faster than WebCrypto awaited per value, ${(result.webcryptoAll / result.wasmBatch).toFixed(1)}x than all in flight`);
console.log(`  hashColumn is ${(result.webcrypto / result.wasmColumn).toFixed(1)}x faster than WebCrypto awaited per value, ${(result.webcryptoAll / result.wasmColumn).toFixed(1)}x than all in flight; same hashes: ${result.same}`);

for (const [fn, prof] of Object.entries(profiles)) {
  const ms = fn === 'hashBatch' ? result.wasmBatch : result.wasmColumn;
  const share = (c) => c / prof.total;
  const row = (label, c) => console.log(`  ${label.padEnd(52)} ${(100 * share(c)).toFixed(1).padStart(5)} %  ~${((share(c) * ms * 1000) / N).toFixed(3)} µs/value`);
  console.log(`Where ${fn}'s time goes (CPU profile of 10 calls, ${prof.total} samples; µs/value from the median above):`);
  row('JS: packing the inputs (lengths, join)', prof.pack || 0);
  row('crossing in (TextEncoder, glue: bytes into wasm memory)', prof.input || 0);
  row('wasm: normalization, SHA-256, hex digits, the answer', [...prof.wasm.values()].reduce((a, b) => a + b, 0));
  row('crossing out (TextDecoder of the answer)', prof.answer || 0);
  row(`JS: unpacking the answer into ${fn === 'hashBatch' ? 'result objects' : 'the array'}`, prof.unpack || 0);
  row('garbage collection', prof.gc || 0);
  row('other: no frame the profiler could name (e.g. builtins)', prof.other || 0);
  if (process.env.BENCH_DETAIL) {
    // The busiest wasm functions (named in a build that keeps its names section) and
    // the frames counted as other.
    const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const [name, c] of top(prof.wasm)) console.log(`    wasm:  ${name.slice(0, 63).padEnd(63)} ${(100 * share(c)).toFixed(1).padStart(5)} %`);
    for (const [name, c] of top(prof.others)) console.log(`    other: ${name.slice(0, 63).padEnd(63)} ${(100 * share(c)).toFixed(1).padStart(5)} %`);
  }
}
