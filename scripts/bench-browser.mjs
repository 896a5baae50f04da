// In headless Chromium: 100,000 e-mails normalized and hashed by the wasm package
// (hashBatch, one crossing) against WebCrypto's crypto.subtle.digest with the same
// normalization written in JavaScript, awaited per value and with every digest in flight
// at once (Promise.all). Then where hashBatch's time goes, from a CPU profile (the
// DevTools protocol's Profiler) of repeated calls. Prints medians and shares; asserts
// nothing. Needs pkg/ (scripts/build-pkg.sh) and Chromium.
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
    return median(t);
  };
  let check = '';
  const wasmBatch = await time(() => { check = m.hashBatch(records)[7].sha256; }, 5);
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
  window.benchBatches = { emails: records };
  window.benchHashBatch = m.hashBatch;
  return { wasmBatch, wasmSingle, webcrypto, webcryptoAll, same: check === webCheck && check === allCheck };
}, N);

/** A CPU profile of `runs` hashBatch calls on `window.benchBatches[name]`: samples per frame. */
async function profileOf(name, runs) {
  await cdp.send('Profiler.stop');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await page.evaluate((name) => { window.benchHashBatch(window.benchBatches[name]); }, name); // warm
  await cdp.send('Profiler.start');
  // One call per evaluation: a loop in one function would be optimized with hashBatch
  // inlined into it, and its samples would not be hashBatch's.
  for (let r = 0; r < runs; r++) await page.evaluate((name) => { window.benchHashBatch(window.benchBatches[name]); }, name);
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.send('Profiler.start');
  return profile;
}

// hashBatch's own lines before the wasm call pack the input; the lines after unpack it.
const source = readFileSync(`${root}pkg/matchkey.js`, 'utf8').split('\n');
const callLine = source.findIndex((l) => l.includes('wasm.hashBatchPacked(')) + 1;
const wasmFrame = (f) => f.url.endsWith('.wasm') || f.functionName.startsWith('wasm-function[');
/** Samples per part of the work; wasm frames by function. */
function parts(profile) {
  const count = new Map();
  for (const s of profile.samples) count.set(s, (count.get(s) || 0) + 1);
  const out = { wasm: new Map(), total: 0 };
  const add = (k, c) => { out[k] = (out[k] || 0) + c; };
  for (const node of profile.nodes) {
    const c = count.get(node.id);
    if (!c) continue;
    const f = node.callFrame;
    const name = f.functionName;
    out.total += c;
    if (name === '(idle)' || name === '(program)' || name === '(root)') add('other', c);
    else if (name === '(garbage collector)') add('gc', c);
    else if (wasmFrame(f)) out.wasm.set(name, (out.wasm.get(name) || 0) + c);
    else if (name === 'hashBatch' && f.url.endsWith('/matchkey.js')) {
      // positionTicks: samples per source line (1-based) of this frame.
      let before = 0;
      for (const t of node.positionTicks || []) if (t.line < callLine) before += t.ticks;
      add('pack', before);
      add('unpack', c - before);
    } else if (/^(decode|decodeText|getStringFromWasm0)$/.test(name)) add('answer', c);
    else if (f.url.endsWith('/matchkey_wasm.js') || /^(encode|encodeInto|js-to-wasm.*)$/.test(name)) add('input', c);
    else if (/^(packBatch|unpackBatch)$/.test(name)) add(name === 'packBatch' ? 'pack' : 'unpack', c);
    else add('other', c);
  }
  return out;
}

const emails = parts(await profileOf('emails', 10));
await browser.close();
await site.close();

const us = (ms) => ((ms * 1000) / N).toFixed(2);
console.log(`Chromium, ${N} e-mails normalized + SHA-256 (median):`);
console.log(`  wasm hashBatch (one call)        ${result.wasmBatch.toFixed(0)} ms  (${us(result.wasmBatch)} µs/value)`);
console.log(`  wasm normalize (one call each)   ${result.wasmSingle.toFixed(0)} ms  (${us(result.wasmSingle)} µs/value)`);
console.log(`  WebCrypto awaited per value + JS ${result.webcrypto.toFixed(0)} ms  (${us(result.webcrypto)} µs/value)`);
console.log(`  WebCrypto all in flight + JS     ${result.webcryptoAll.toFixed(0)} ms  (${us(result.webcryptoAll)} µs/value)`);
console.log(`  hashBatch is ${(result.webcrypto / result.wasmBatch).toFixed(1)}x faster than WebCrypto awaited per value, ${(result.webcryptoAll / result.wasmBatch).toFixed(1)}x than all in flight; same hashes: ${result.same}`);

const share = (c) => c / emails.total;
const row = (label, c) => console.log(`  ${label.padEnd(52)} ${(100 * share(c)).toFixed(1).padStart(5)} %  ~${((share(c) * result.wasmBatch * 1000) / N).toFixed(3)} µs/value`);
console.log(`Where hashBatch's time goes (CPU profile of 10 calls, ${emails.total} samples; µs/value from the median above):`);
row('JS: packing the records into the input', emails.pack || 0);
row('crossing in (glue: string or bytes into wasm memory)', emails.input || 0);
row('wasm: normalization, SHA-256, hex digits, the answer', [...emails.wasm.values()].reduce((a, b) => a + b, 0));
row('crossing out (TextDecoder of the answer)', emails.answer || 0);
row('JS: unpacking the answer into result objects', emails.unpack || 0);
row('garbage collection', emails.gc || 0);
row('other: no frame the profiler could name (e.g. builtins)', emails.other || 0);
