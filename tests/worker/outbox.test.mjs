// Nothing lost between the page and the Worker, nothing counted twice: the site tag in
// Chromium, the Worker in workerd, the Amazon emulator. Each case breaks the path between
// the page and the Worker in one way (the answer lost after the Worker took the events, a
// page left with its request in flight, 503 backlog_full, a 429 in front of the Worker,
// two tabs sharing one outbox), with a reload or the next page in the middle; in every
// case the emulator receives each event id exactly once, the outbox ends empty, and the
// Worker's accounting balances with the repeats it absorbed counted beside it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { staticServer, launch } from '../js/harness.mjs';
import { startEmulator, startWorker, until, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

let amazon, site, browser, worker;

before(async () => {
  [amazon, site, browser] = await Promise.all([startEmulator(), staticServer(), launch()]);
  worker = await startWorker(amazon.url, { ALLOWED_ORIGINS: site.url, FLUSH_SECONDS: '1', BACKOFF_BASE_MS: '20' });
});
after(async () => {
  await worker?.stop();
  await browser?.close();
  await site?.close();
  amazon?.stop();
});

const LEASE_MS = 10000; // www/tag.js: how long a sent event waits for its answer

async function health() {
  const r = await worker.request('/v1/health', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const body = await r.json();
  return { ...body.counters, pending: body.queueBacklog };
}

/** A page of the site with the tag, in `context`. */
async function open(context) {
  const page = await context.newPage();
  await page.goto(`${site.url}/tests/js/fixtures/cmp.html`);
  await init(page);
  return page;
}

/** Starts the tag on `page` for a visitor who signed in (events need match keys). */
async function init(page, config = {}) {
  await page.waitForFunction(() => window.matchkey && window.matchkey.loaded);
  await page.evaluate((c) => {
    window.matchkey('init', c);
    window.matchkey('identify', { email: 'buyer@example.com' });
  }, { endpoint: worker.url, siteKey: 'site-1', country: 'US', debug: true, ...config });
}

const outbox = async (page) => (await page.evaluate(() => JSON.parse(localStorage.getItem('matchkey_outbox')))) || { events: [], retryAt: 0 };
const track = (page, ids) => page.evaluate((ids) => { for (const id of ids) window.matchkey('track', 'purchase', { eventId: id, value: 1, currency: 'USD' }); }, ids);

/**
 * The end of every case: the outbox of `page` empties, every id of `ids` reaches the
 * emulator exactly once, nothing waits, the accounting balances, and the Worker absorbed
 * at least `repeats` more repeats than before (`start`: the counters then).
 */
async function settled(page, ids, start, repeats) {
  await until(async () => (await outbox(page)).events.length === 0, 30000);
  let a;
  await until(async () => {
    await worker.request('/v1/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    a = await health();
    return a.pending === 0;
  }, 30000);
  await until(async () => { const got = await amazon.received(); return ids.every((id) => got.has(id)); }, 30000);
  const got = await amazon.received();
  for (const id of ids) assert.equal(got.get(id), 1, `${id} reached Amazon ${got.get(id) ?? 0} times`);
  assert.equal(a.accepted, a.delivered + a.rejected + a.deadLettered + a.pending, JSON.stringify(a));
  assert.equal(a.accepted - start.accepted, ids.length, `each event accepted once: ${JSON.stringify(a)}`);
  assert.ok(a.repeats - start.repeats >= repeats, `repeats absorbed: ${JSON.stringify(a)} after ${JSON.stringify(start)}`);
  assert.equal(a.unchecked, 0, JSON.stringify(a));
  return a;
}

/** Holds the page's event requests: each is sent on to the Worker, and its answer kept until `release`. */
async function hold(page, { answer = 'release' } = {}) {
  const held = [];
  await page.route(`${worker.url}/v1/events**`, async (route) => {
    const res = await route.fetch();
    const body = JSON.parse(route.request().postData());
    held.push({ ids: body.events.map((e) => e.eventId), status: res.status(), route, res });
    if (answer === 'drop') await route.abort('connectionreset');
  });
  return held;
}

test('the answer lost after the Worker accepted: kept, sent again after a reload, absorbed as a repeat', async () => {
  await amazon.control('/__emulator/reset');
  const start = await health();
  const context = await browser.newContext();
  const page = await open(context);
  const held = await hold(page, { answer: 'drop' });
  const ids = ['lost-1', 'lost-2'];
  await track(page, ids);
  // The Worker took both (its answer was 202), then the connection dropped.
  await until(() => held.length === 1);
  assert.equal(held[0].status, 202);
  // The tag still holds both, no longer marked as in flight (it saw the failure).
  await until(async () => { const o = await outbox(page); return o.events.length === 2 && o.events.every((e) => !e.sending); });
  await page.unroute(`${worker.url}/v1/events**`);
  await page.reload();
  await init(page);
  await settled(page, ids, start, 2);
  await context.close();
});

test('the page left with its request in flight (keepalive): the next page sends again once the lease expires', async () => {
  await amazon.control('/__emulator/reset');
  const start = await health();
  const context = await browser.newContext();
  // The pages' clock: the lease's expiry is brought forward instead of waited for.
  await context.clock.install();
  const page = await open(context);
  // Every event waits for the page to be left (a long batch window).
  await init(page, { batchMs: 600000 });
  const ids = ['hide-1', 'hide-2', 'hide-3'];
  await track(page, ids);
  // Leaving the page: pagehide sends with keepalive (the Worker takes all three); the next
  // page of the visit loads before any answer could be read by the page that sent it.
  await page.goto(`${site.url}/tests/js/fixtures/cmp.html`);
  await until(async () => (await health()).accepted - start.accepted === 3);
  await init(page);
  // The next page finds them still in the outbox, marked as sent: it waits for the mark.
  const o = await outbox(page);
  assert.deepEqual(o.events.map((e) => e.eventId), ids);
  assert.ok(o.events.every((e) => e.sending > Date.now() - 1000), JSON.stringify(o));
  await context.clock.fastForward(LEASE_MS + 1000);
  await settled(page, ids, start, 3);
  await context.close();
});

test('503 backlog_full: kept across a reload, nothing sent before Retry-After, then delivered once', async () => {
  await amazon.control('/__emulator/reset');
  const small = await startWorker(amazon.url, { ALLOWED_ORIGINS: site.url, FLUSH_SECONDS: '3600', MAX_BACKLOG: '2' });
  const saved = worker;
  worker = small;
  try {
    // A server's event fills the backlog (it waits for its hour).
    const r = await worker.request('/v1/events', { method: 'POST', headers: { authorization: `Bearer ${INGEST_SECRET}` }, body: JSON.stringify({ events: [{ name: 'purchase', eventId: 'server-1', country: 'US', matchKeys: { EMAIL: 'b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514' } }] }) });
    assert.equal(r.status, 202);
    const start = await health();
    const context = await browser.newContext();
    await context.clock.install();
    const page = await open(context);
    const answers = [];
    page.on('response', (res) => { if (res.url().startsWith(`${worker.url}/v1/events`)) answers.push({ status: res.status(), retryAfter: res.headers()['retry-after'], at: Date.now() }); });
    const ids = ['full-1', 'full-2'];
    await track(page, ids);
    await until(() => answers.length === 1);
    assert.equal(answers[0].status, 503);
    const wait = Number(answers[0].retryAfter) * 1000;
    assert.ok(wait >= 60000, `Retry-After ${answers[0].retryAfter}`);
    await until(async () => (await outbox(page)).retryAt > 0);
    const { retryAt } = await outbox(page);
    // The next page of the visit honours the stored time; the backlog drains meanwhile.
    await page.reload();
    await init(page);
    const flushed = await worker.request('/v1/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(flushed.status, 200);
    await until(async () => (await health()).pending === 0);
    const page2Sends = [];
    page.on('request', (req) => { if (req.url().startsWith(`${worker.url}/v1/events`)) page2Sends.push(req); });
    // Half the wait: the page's timers due by then (its batch window) have run, and
    // nothing went; past it, the events go.
    await context.clock.fastForward(wait / 2);
    assert.ok((await page.evaluate(() => Date.now())) < retryAt);
    assert.equal(page2Sends.length, 0, 'sent before the stored Retry-After');
    await context.clock.fastForward(wait / 2 + 1000);
    await until(() => page2Sends.length >= 1);
    await settled(page, ids, start, 0);
    assert.equal((await amazon.received()).get('server-1'), 1);
    await context.close();
  } finally {
    worker = saved;
    await small.stop();
  }
});

test('a 429 in front of the Worker: Retry-After honoured by the next page, then delivered once', async () => {
  await amazon.control('/__emulator/reset');
  const start = await health();
  const context = await browser.newContext();
  const page = await open(context);
  // A rate limiting rule in front of the Worker (Cloudflare's answers 429 with Retry-After).
  let limited = 0;
  await page.route(`${worker.url}/v1/events**`, (route) => {
    limited++;
    return route.fulfill({ status: 429, headers: { 'retry-after': '2', 'access-control-allow-origin': site.url, 'access-control-expose-headers': 'retry-after' }, body: '{"error":"rate_limited"}' });
  });
  const ids = ['limit-1'];
  await track(page, ids);
  await until(async () => limited === 1 && (await outbox(page)).retryAt > 0);
  const { retryAt } = await outbox(page);
  await page.unroute(`${worker.url}/v1/events**`);
  await page.reload();
  let sentAt = 0;
  page.on('request', (r) => { if (!sentAt && r.url().startsWith(`${worker.url}/v1/events`)) sentAt = Date.now(); });
  await init(page);
  await until(() => sentAt > 0, 10000);
  assert.ok(sentAt >= retryAt, `sent ${retryAt - sentAt} ms before the stored Retry-After`);
  await settled(page, ids, start, 0);
  await context.close();
});

test('two tabs share one outbox: neither sends what the other has in flight', async () => {
  await amazon.control('/__emulator/reset');
  const start = await health();
  const context = await browser.newContext();
  const a = await open(context);
  const b = await open(context);
  const held = await hold(a);
  await track(a, ['tab-a-1', 'tab-a-2']);
  // Tab A's request reached the Worker; its answer is held.
  await until(() => held.length === 1);
  assert.deepEqual(held[0].ids, ['tab-a-1', 'tab-a-2']);
  // Tab B's own event goes alone: A's are marked as in flight in the shared outbox.
  const bSent = b.waitForRequest((r) => r.url().startsWith(`${worker.url}/v1/events`));
  await track(b, ['tab-b-1']);
  assert.deepEqual(JSON.parse((await bSent).postData()).events.map((e) => e.eventId), ['tab-b-1']);
  await until(async () => (await outbox(b)).events.map((e) => e.eventId).join() === 'tab-a-1,tab-a-2');
  // A's answer arrives; then B reloads (in the middle of nothing left to send).
  await held[0].route.fulfill({ response: held[0].res });
  await b.reload();
  await init(b);
  const end = await settled(b, ['tab-a-1', 'tab-a-2', 'tab-b-1'], start, 0);
  assert.equal(end.repeats, start.repeats, 'no repeat: the tabs did not both send');
  await context.close();
});
