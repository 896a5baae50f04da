// The wasm package and the site tag in real Chromium: every golden vector, a Web Worker,
// the demo shop with every network request captured (no raw value may leave the page),
// consent, the snippet's queue and double inclusion, storage, and the outbox.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { root, staticServer, recorder, launch, until } from './harness.mjs';

const vectors = JSON.parse(readFileSync(`${root}tests/vectors/normalization.json`, 'utf8'));
let site, ingest, browser;

before(async () => {
  site = await staticServer();
  ingest = await recorder();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await ingest?.close();
});

/** Expected hashes from the native CLI (the same core, compiled natively). */
function nativeHashes(items) {
  const input = items.map(([field, value, country]) => JSON.stringify({ field, country, input: value })).join('\n') + '\n';
  const out = execFileSync(`${root}target/debug/matchkey`, ['hash'], { input }).toString().trim().split('\n');
  return out.map((l) => JSON.parse(l).sha256);
}

/** Opens `path` on the static site in a fresh context; records every request it makes. */
async function open(path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postData() || '' }));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(site.url + path);
  return { context, page, requests, errors };
}

test('every golden vector through both wasm builds in Chromium: the lite build answers as the full one', async () => {
  const { context, page } = await open('/www/index.html?endpoint=' + ingest.url);
  const result = await page.evaluate(async (vectors) => {
    const m = await import('/pkg/matchkey.js');
    const { checkVector, answerOf } = await import('/tests/js/check-vector.mjs');
    const records = vectors.map((v) => ({ field: v.field, input: v.input, country: v.country }));
    const run = () => {
      const single = vectors.map((v) => answerOf(m.normalize, v));
      const batch = m.hashBatch(records);
      return { single, batch };
    };
    await m.default();
    const lite = run();
    const needed = m.needsFull(records);
    await m.prepare(records);
    const full = run();
    // Every vector in the full build; in the lite build every one but ADDRESS, STATE and
    // phones of regions outside Appendix C, which answer not_in_this_build unless empty or
    // pre-hashed (and the lite build never answers otherwise than the full one).
    const failures = [];
    const out = (a) => JSON.stringify(a.error !== undefined ? { error: a.error } : { normalized: a.normalized, sha256: a.sha256 });
    let deferred = 0;
    vectors.forEach((v, i) => {
      for (const kind of ['single', 'batch']) {
        failures.push(checkVector(v, full[kind][i]));
        const l = lite[kind][i];
        if (l.error === 'not_in_this_build' && ['ADDRESS', 'STATE', 'PHONE'].includes(v.field)) deferred++;
        else if (out(l) !== out(full[kind][i])) failures.push(`lite differs: ${checkVector(v, l)}`);
      }
    });
    return { failures: failures.filter(Boolean), deferred, needed };
  }, vectors);
  assert.deepEqual(result.failures, []);
  assert.ok(result.needed && result.deferred > 20, `${result.deferred} ADDRESS/STATE vectors deferred to the full build`);
  await context.close();
});

test('the full build is fetched only when a page identifies with ADDRESS or STATE, once', async () => {
  ingest.seen.length = 0;
  const { context, page, requests, errors } = await open(`/tests/js/fixtures/snippet.html?endpoint=${ingest.url}&identify=1`);
  await until(() => ingest.seen.length >= 1);
  const wasm = () => requests.filter((r) => /\.wasm$|\/full\//.test(r.url)).map((r) => new URL(r.url).pathname);
  assert.deepEqual(wasm(), ['/pkg/matchkey_wasm_bg.wasm'], 'e-mail and phone: the lite build only');
  await page.evaluate(() => {
    matchkey('identify', { firstName: 'Jane', lastName: 'Doe', postal: '20500', phone: '(202) 555-0143' });
    matchkey('track', 'page_view', { eventId: 'lite-1' });
  });
  await until(() => ingest.seen.length >= 2);
  assert.deepEqual(wasm(), ['/pkg/matchkey_wasm_bg.wasm'], 'names and postal code: still the lite build only');
  // The address and the state need the full build; the event after them waits and carries them.
  await page.evaluate(() => {
    matchkey('identify', { address: '1600 Pennsylvania Avenue NW', state: 'District of Columbia' });
    matchkey('track', 'purchase', { eventId: 'full-1' });
    matchkey('identify', { address: '1600 Pennsylvania Ave NW', state: 'DC' });
    matchkey('track', 'purchase', { eventId: 'full-2' });
  });
  await until(() => ingest.seen.length >= 3);
  assert.deepEqual(wasm(), ['/pkg/matchkey_wasm_bg.wasm', '/pkg/full/matchkey_wasm.js', '/pkg/full/matchkey_wasm_bg.wasm']);
  const events = ingest.seen.slice(2).flatMap((r) => JSON.parse(r.body).events);
  const want = nativeHashes([['ADDRESS', '1600 Pennsylvania Avenue NW', 'US'], ['STATE', 'District of Columbia', 'US'],
    ['ADDRESS', '1600 Pennsylvania Ave NW', 'US'], ['STATE', 'DC', 'US']]);
  assert.deepEqual(events.map((e) => e.eventId), ['full-1', 'full-2']);
  for (const [i, e] of events.entries()) {
    assert.equal(e.matchKeys.ADDRESS, want[2 * i]);
    assert.equal(e.matchKeys.STATE, want[2 * i + 1]);
    assert.deepEqual(Object.keys(e.matchKeys).sort(), ['ADDRESS', 'EMAIL', 'FIRST_NAME', 'LAST_NAME', 'PHONE', 'POSTAL', 'STATE']);
  }
  const everything = requests.map((r) => `${r.url}\n${r.body}`).join('\n');
  for (const raw of ['Pennsylvania', 'pennsylvania', 'District of Columbia', 'Queued.Person', 'queued.person', 'Jane', '555-0143', '20500']) {
    assert.ok(!everything.includes(raw), `raw value leaked: ${raw}`);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('a phone number of a region outside Appendix C fetches the full build; the event carries its hash', async () => {
  ingest.seen.length = 0;
  const { context, page, requests, errors } = await open(`/tests/js/fixtures/snippet.html?endpoint=${ingest.url}`);
  await page.evaluate(() => {
    matchkey('identify', { email: 'abebe@example.com', phone: '+251 11 551 7700' });
    matchkey('track', 'purchase', { eventId: 'et-1' });
  });
  const sent = () => ingest.seen.flatMap((r) => JSON.parse(r.body).events).filter((e) => e.eventId === 'et-1');
  await until(() => sent().length >= 1);
  const wasm = requests.filter((r) => /\.wasm$|\/full\//.test(r.url)).map((r) => new URL(r.url).pathname);
  assert.deepEqual(wasm, ['/pkg/matchkey_wasm_bg.wasm', '/pkg/full/matchkey_wasm.js', '/pkg/full/matchkey_wasm_bg.wasm']);
  const [event] = sent();
  const [phone] = nativeHashes([['PHONE', '+251 11 551 7700', 'US']]);
  assert.ok(phone);
  assert.equal(event.matchKeys.PHONE, phone);
  assert.ok(!requests.some((r) => `${r.url}\n${r.body}`.includes('5517700')), 'raw value leaked');
  assert.deepEqual(errors, []);
  await context.close();
});

test('an identify waiting for the full build holds the commands after it; leaving the page sends them without ADDRESS', async () => {
  ingest.seen.length = 0;
  const context = await browser.newContext();
  // The full build never arrives (a slow network).
  await context.route('**/pkg/full/**', () => {});
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), body: r.postData() || '' }));
  await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=${ingest.url}`);
  await page.waitForFunction(() => window.matchkey && window.matchkey.loaded);
  await until(() => ingest.seen.length >= 1); // the fixture's add_to_cart
  const held = await page.evaluate(() => {
    const rejects = matchkey('identify', { email: 'abc@example.com', address: '1 Main Street' });
    return { promise: rejects instanceof Promise, track: matchkey('track', 'purchase', { eventId: 'held-1' }) };
  });
  assert.deepEqual(held, { promise: true, track: undefined });
  await page.waitForTimeout(400);
  assert.equal(ingest.seen.length, 1, 'the purchase waits for the full build');
  await page.goto(`${site.url}/tests/js/fixtures/cmp.html`);
  await until(() => ingest.seen.length >= 2);
  const purchase = JSON.parse(ingest.seen[1].body).events.find((e) => e.eventId === 'held-1');
  assert.deepEqual(Object.keys(purchase.matchKeys), ['EMAIL']);
  assert.ok(!requests.some((r) => /main street/i.test(r.url + r.body)));
  await context.close();
});

test('the package initializes in a module Web Worker', async () => {
  const { context, page } = await open('/www/index.html?endpoint=' + ingest.url);
  const result = await page.evaluate(() => new Promise((resolve, reject) => {
    const w = new Worker('/tests/js/fixtures/worker.mjs', { type: 'module' });
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(new Error(e.message));
  }));
  assert.equal(result.normalized, 'worker@example.com');
  assert.equal(result.sha256, nativeHashes([['EMAIL', 'worker@example.com', 'US']])[0]);
  await context.close();
});

test('ready() in a page: init loads only the lite build, ready() fetches the full one once, then every field answers', async () => {
  const { context, page, requests } = await open('/tests/js/fixtures/blank.html');
  const result = await page.evaluate(async () => {
    const m = await import('/pkg/matchkey.js');
    await m.init();
    let before;
    try { m.normalize('STATE', 'New York', 'US'); } catch (e) { before = e.code; }
    await m.ready();
    await m.ready();
    return { before, state: m.normalize('STATE', 'New York', 'US'), address: m.normalize('ADDRESS', '123 Main Street', 'US').normalized };
  });
  assert.equal(result.before, 'not_in_this_build');
  assert.deepEqual(result.state, { normalized: 'ny', sha256: nativeHashes([['STATE', 'New York', 'US']])[0] });
  assert.equal(result.address, '123mainst');
  assert.equal(requests.filter((r) => r.url.endsWith('/pkg/full/matchkey_wasm_bg.wasm')).length, 1, 'the full build, fetched once');
  await context.close();
});

const RAW = {
  email: 'Jane.Doe+shop@Example.com', phone: '+44 7911 123456', firstName: 'Jane', lastName: 'Doe', postal: 'SW1A 1AA',
};

/** Every spelling of a raw value that must never leave the page. */
function forms(value) {
  const t = value.trim();
  return [value, t, t.toLowerCase(), encodeURIComponent(t), t.replace(/\s+/g, ''), t.toLowerCase().replace(/\s+/g, '')];
}

test('demo shop: a purchase sends only the expected hashes, never a raw value', async () => {
  ingest.seen.length = 0;
  const { context, page, requests, errors } = await open(`/www/index.html?endpoint=${ingest.url}&country=GB`);
  await page.click('#consent-yes');
  await page.click('#buy');
  await until(() => ingest.seen.some((r) => r.body.includes('"purchase"')));
  const everything = requests.map((r) => `${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n');
  for (const value of Object.values(RAW)) {
    for (const form of forms(value)) {
      assert.ok(!everything.includes(form) && !ingest.seen.some((r) => r.body.includes(form)), `raw value leaked: ${form}`);
    }
  }
  const purchase = ingest.seen.map((r) => JSON.parse(r.body)).flatMap((b) => b.events).find((e) => e.name === 'purchase');
  const [email, phone, first, last, postal] = nativeHashes([
    ['EMAIL', RAW.email, 'GB'], ['PHONE', RAW.phone, 'GB'], ['FIRST_NAME', RAW.firstName, 'GB'],
    ['LAST_NAME', RAW.lastName, 'GB'], ['POSTAL', RAW.postal, 'GB'],
  ]);
  assert.deepEqual(purchase.matchKeys, { EMAIL: email, PHONE: phone, FIRST_NAME: first, LAST_NAME: last, POSTAL: postal });
  assert.equal(purchase.conversionType, undefined, 'the Worker maps names to conversion types');
  assert.equal(purchase.country, 'GB');
  assert.deepEqual(purchase.consent, { amazonConsent: { amznUserData: 'GRANTED', amznAdStorage: 'GRANTED' } });
  assert.match(purchase.eventId, /^[0-9a-f-]{32,36}$/);
  assert.equal(ingest.seen.find((r) => r.body.includes('"purchase"')).headers['content-type'], 'text/plain');
  assert.match(await page.textContent('#sent'), /"name": "purchase"/);
  assert.deepEqual(errors, []);
  await context.close();
});

test('demo shop: with consent declined in the UK nothing is sent at all', async () => {
  ingest.seen.length = 0;
  const { context, page, requests } = await open(`/www/index.html?endpoint=${ingest.url}&country=GB`);
  await page.click('#consent-no');
  await page.click('#buy');
  await page.waitForTimeout(500);
  assert.equal(ingest.seen.length, 0);
  assert.equal(requests.filter((r) => r.url.startsWith(ingest.url)).length, 0);
  await context.close();
});

test('snippet: calls before load are replayed, double inclusion is harmless', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open(`/tests/js/fixtures/snippet.html?endpoint=${ingest.url}&identify=1`);
  await until(() => ingest.seen.length >= 1);
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.queuedBeforeLoad), true);
  assert.equal(await page.evaluate(() => document.querySelectorAll('script[src="/pkg/tag.js"]').length), 1);
  assert.equal(ingest.seen.length, 1, 'one event, not two');
  const event = JSON.parse(ingest.seen[0].body).events[0];
  assert.equal(event.name, 'add_to_cart');
  assert.deepEqual(Object.keys(event.matchKeys).sort(), ['EMAIL', 'PHONE']);
  await context.close();
});

test('cookie-sync identity: hashes persist across pages, reset clears them', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open(`/tests/js/fixtures/snippet.html?endpoint=${ingest.url}&identify=1`);
  await until(() => ingest.seen.length >= 1);
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('matchkey_id')));
  assert.deepEqual(Object.keys(stored.keys).sort(), ['EMAIL', 'PHONE']);
  assert.ok(!JSON.stringify(stored).includes('Example'), 'only hashes are stored');
  // A later page view, without identify, still carries the match keys.
  await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=${ingest.url}&event=page_view`);
  await until(() => ingest.seen.length >= 2);
  const later = JSON.parse(ingest.seen[1].body).events[0];
  assert.equal(later.name, 'page_view');
  assert.deepEqual(later.matchKeys, stored.keys);
  await page.evaluate(() => matchkey('reset'));
  assert.equal(await page.evaluate(() => localStorage.getItem('matchkey_id')), null);
  await context.close();
});

test('failed sends wait in the outbox and go out on the next page', async () => {
  ingest.seen.length = 0;
  ingest.setStatus(500);
  const { context, page } = await open(`/tests/js/fixtures/snippet.html?endpoint=${ingest.url}`);
  await until(() => ingest.seen.length >= 1);
  await until(() => page.evaluate(() => (JSON.parse(localStorage.getItem('matchkey_outbox')) || { events: [] }).events.length === 1));
  ingest.setStatus(202);
  await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=${ingest.url}&event=search`);
  await until(() => ingest.seen.length >= 3);
  const names = ingest.seen.slice(1).map((r) => JSON.parse(r.body).events.map((e) => e.name)).flat().sort();
  assert.deepEqual(names, ['add_to_cart', 'search']);
  // Each leaves the outbox once an answer lists it as accepted: add_to_cart went with the
  // first page's pagehide, whose answer that page never read, so this page sends it again
  // once its lease (10 s) expires (the Worker answers such a repeat as accepted).
  await until(async () => (await page.evaluate(() => localStorage.getItem('matchkey_outbox'))) === null, 15000);
  assert.equal(ingest.seen.slice(1).flatMap((r) => JSON.parse(r.body).events).filter((e) => e.name === 'add_to_cart').length, 2);
  await context.close();
});

test('awkward inputs (decomposed, compatibility, case-special, scripts) match the native core in Chromium', async () => {
  const fields = ['EMAIL', 'PHONE', 'FIRST_NAME', 'LAST_NAME', 'ADDRESS', 'CITY', 'STATE', 'POSTAL', 'MAID', 'RAMP_ID', 'MATCH_ID'];
  const countries = ['US', 'GB', 'DE', 'FR', 'JP', 'CA', 'BR'];
  const inputs = ['', '  ', 'Jane', 'JOSÉ', 'Jose\u0301', 'Mu\u0308ller', 'STRAẞE', 'İstanbul', '\u212Aelvin', 'ﬁne ﬂow',
    '１００－０００１', '〒100-0001', '+44 (0)20 7946 0958', '07911 123456', '1-800-FLOWERS', 'abc@例え.jp', ' User+Tag@Domain.COM',
    'C/O John, 10 Downing St', '123 N. Main St., Apt #4', 'Que\u0301bec', 'Baden-Württemberg', 'SW1A 1AA', 'K1A 0B1', '12345-6789',
    '6D92078A-8246-4BA4-AE5B-76104861E7DC', '9ECEB13483D7F187EC014FD6D4854D1420CFC634328AF85F51D0323BA8622E21', 'ΟΔΟΣ Σ', 'a\u0000b',
    '\t\n', '😀 emoji', 'Ǆemal', 'Ⓐbc', 'Ｔｅｘａｓ', 'C/ Gran Vi\u0301a 28', '\u1e9e\u00df'];
  const cases = fields.flatMap((field) => countries.flatMap((country) => inputs.map((input) => ({ field, country, input }))));
  const native = execFileSync(`${root}target/debug/matchkey`, ['hash'], { input: cases.map((c) => JSON.stringify(c)).join('\n') + '\n' })
    .toString().trim().split('\n').map((l) => JSON.parse(l));
  const { context, page } = await open('/www/index.html?endpoint=' + ingest.url);
  const { single, batch } = await page.evaluate(async (cases) => {
    const m = await import('/pkg/matchkey.js');
    await m.prepare(cases); // the lite build and, for ADDRESS and STATE, the full one
    const single = cases.map((c) => {
      try { return m.normalize(c.field, c.input, c.country); } catch (e) { return { error: e.code }; }
    });
    return { single, batch: m.hashBatch(cases) };
  }, cases);
  const differ = cases.map((c, i) => [c, native[i], single[i], batch[i]])
    .filter(([, n, s, b]) => JSON.stringify(n) !== JSON.stringify(s) || JSON.stringify(n) !== JSON.stringify(b));
  assert.equal(cases.length, 2695);
  assert.deepEqual(differ.slice(0, 5), []);
  await context.close();
});
