// hashBatch and hashColumn against single normalize calls and the platform's own SHA-256
// (node:crypto in Node, WebCrypto in Chromium) for every normalized length 1..=200 bytes,
// random contents, rejects and other fields mixed in, in batches of odd sizes, and in
// batches of one field and country holding separators, surrogates and non-ASCII: the
// four-lane SHA-256 of the wasm build (simd128) must answer exactly as sha2 and the
// browsers do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { root, staticServer, launch } from './harness.mjs';
import init, { initFull, hashBatch, hashColumn, normalize } from '../../pkg/matchkey.js';
import { check } from './hashbatch-cases.mjs';

let site, browser;
before(async () => {
  await init(readFileSync(`${root}pkg/matchkey_wasm_bg.wasm`));
  // The batch code (and its four-lane SHA-256) is in the full build.
  await initFull(readFileSync(`${root}pkg/full/matchkey_wasm_bg.wasm`));
  site = await staticServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

test('hashBatch and hashColumn equal normalize and node:crypto in Node, every length, odd batch sizes', async () => {
  const { failures, count, groups } = await check({ hashBatch, hashColumn, normalize }, (s) => createHash('sha256').update(s, 'utf8').digest('hex'));
  assert.ok(count > 1500, `${count} records`);
  assert.ok(groups > 10, `${groups} fields and countries`);
  assert.deepEqual(failures, []);
});

test('hashBatch and hashColumn equal normalize and WebCrypto in Chromium, every length, odd batch sizes', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=http://127.0.0.1:9`);
  const result = await page.evaluate(async () => {
    const m = await import('/pkg/matchkey.js');
    const { check } = await import('/tests/js/hashbatch-cases.mjs');
    await m.default();
    await m.initFull(); // the batch code is in the full build
    const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
    const enc = new TextEncoder();
    return check(m, async (s) => hex(await crypto.subtle.digest('SHA-256', enc.encode(s))));
  });
  assert.ok(result.count > 1500, `${result.count} records`);
  assert.deepEqual(result.failures, []);
  await context.close();
});
