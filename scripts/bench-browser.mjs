// In headless Chromium: 100,000 e-mails normalized and hashed by the wasm package
// (hashBatch, one crossing) against WebCrypto's crypto.subtle.digest with the same
// normalization written in JavaScript, awaited per value and with every digest in flight
// at once (Promise.all). Prints medians; asserts nothing.
// Needs pkg/ (scripts/build-pkg.sh) and Chromium.
import { staticServer, launch } from '../tests/js/harness.mjs';

const N = Number(process.env.BENCH_N || 100_000);
const site = await staticServer();
const browser = await launch();
const page = await browser.newPage();
await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=http://127.0.0.1:9`);
const result = await page.evaluate(async (n) => {
  const m = await import('/pkg/matchkey.js');
  await m.default();
  const emails = Array.from({ length: n }, (_, i) => ` User.${i}+tag@Example.COM `);
  const records = emails.map((input) => ({ field: 'EMAIL', input, country: 'US' }));
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
  return { wasmBatch, wasmSingle, webcrypto, webcryptoAll, same: check === webCheck && check === allCheck };
}, N);
await browser.close();
await site.close();
const us = (ms) => ((ms * 1000) / N).toFixed(2);
console.log(`Chromium, ${N} e-mails normalized + SHA-256 (median):`);
console.log(`  wasm hashBatch (one call)        ${result.wasmBatch.toFixed(0)} ms  (${us(result.wasmBatch)} µs/value)`);
console.log(`  wasm normalize (one call each)   ${result.wasmSingle.toFixed(0)} ms  (${us(result.wasmSingle)} µs/value)`);
console.log(`  WebCrypto awaited per value + JS ${result.webcrypto.toFixed(0)} ms  (${us(result.webcrypto)} µs/value)`);
console.log(`  WebCrypto all in flight + JS     ${result.webcryptoAll.toFixed(0)} ms  (${us(result.webcryptoAll)} µs/value)`);
console.log(`  hashBatch is ${(result.webcrypto / result.wasmBatch).toFixed(1)}x faster than WebCrypto awaited per value, ${(result.webcryptoAll / result.wasmBatch).toFixed(1)}x than all in flight; same hashes: ${result.same}`);
