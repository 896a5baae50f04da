// SHARDS=auto changing N at epoch boundaries while events flow, in workerd against the
// emulator. The timings are divided by 10 (SHARD_TIMING_SCALE: a 1 s window, epochs
// announced 4.5 s ahead on a 1.5 s grid, isolates keeping the record 3 s) and a shard is
// sized for 10 requests a second (SHARD_TARGET_REQUESTS), so that a few hundred requests
// take N up (1 → 3, sometimes 4) and back down to 1 in about 15 seconds. Checked, from
// the epoch record /v1/health shows (admin): N went up at an epoch boundary, then down;
// the shards no longer in force still held events and the admin flush reached them;
// every accepted event reached Amazon exactly once (so an id never went to two shards);
// the accounting identity holds; every Amazon request but the final flush's partial ones
// (at most one per shard) carried a full 500: 2 per 1,000 events while events flowed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, until, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

const EMAIL = 'b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514';
/** Full batches only while events flow (a partial one waits 600 s, or for /v1/flush). */
const AUTO = { BACKOFF_BASE_MS: '20', FLUSH_SECONDS: '600', SHARDS: 'auto', SHARD_TIMING_SCALE: '10', SHARD_TARGET_REQUESTS: '10' };

const event = (eventId) => ({ name: 'purchase', eventId, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL } });

async function admin(worker, path, method = 'GET') {
  const r = await worker.request(path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

async function eventRequests() {
  const log = await amazon.get('/__emulator/requests?endpoint=events');
  return (log.requests ?? log).map((r) => ({ status: r.status, events: r.body?.events?.length ?? 0, refused: (r.outcomes ?? []).filter((o) => !o.accepted).length }));
}

/** The epoch in force at `t` (ms) in the record `/v1/health` shows. */
const epochAt = (shards, t) => shards.epochs.filter((e) => e.fromMs <= t).at(-1);

/**
 * Sends events through POST /v1/events at `perSecond` single-event requests a second,
 * and one 500-event request a second when `big`, until `done(shards)` holds for the
 * record /v1/health shows (polled every 500 ms) or `ms` pass. Every request must be
 * accepted whole (202); resolves with the ids sent.
 */
async function load(worker, { prefix, perSecond, big, done, ms }) {
  const sent = [];
  const answers = [];
  const post = (list) => {
    for (const e of list) sent.push(e.eventId);
    const p = worker.request('/v1/events', { method: 'POST', body: JSON.stringify({ events: list }), headers: { authorization: `Bearer ${INGEST_SECRET}` } })
      .then(async (r) => assert.equal(r.status, 202, await r.text()));
    p.catch(() => {}); // awaited below, with the others
    answers.push(p);
  };
  const start = Date.now();
  let singles = 0;
  let bigs = 0;
  let polled = 0;
  let shards;
  for (;;) {
    const elapsed = Date.now() - start;
    if (elapsed > ms) throw new Error(`${prefix}: not done after ${ms} ms: ${JSON.stringify(shards)}`);
    while (singles < (elapsed * perSecond) / 1000) post([event(`${prefix}-s${singles++}`)]);
    while (big && bigs < elapsed / 1000) {
      const b = bigs++;
      post(Array.from({ length: 500 }, (_, i) => event(`${prefix}-b${b}-${i}`)));
    }
    if (elapsed - polled >= 500) {
      polled = elapsed;
      shards = (await admin(worker, '/v1/health')).shards;
      if (done(shards)) break;
    }
    // Pace the requests (the load's clock, not a wait for an outcome).
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(answers);
  return { sent, shards };
}

test('SHARDS=auto: N goes up and back down at epoch boundaries while events flow; each event reaches Amazon once, in full batches', async (t) => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, AUTO);
  try {
    // Up: 25 single-event requests a second (and a 500-event one), 2.5 times a shard's
    // 10: the observer wants 3 shards. Go on until an epoch of more than one shard has
    // been in force for 2 s.
    const up = await load(worker, {
      prefix: 'up', perSecond: 25, big: true, ms: 30000,
      done: (s) => s.epochs.some((e) => e.n > 1 && e.fromMs <= Date.now() - 2000),
    });
    const wide = up.shards.epochs.find((e) => e.n > 1);
    assert.equal(up.shards.setting, 'auto');
    assert.ok(wide.fromMs > 0, 'N changed at an epoch boundary, not from the start');
    // Down: 4 single-event requests a second, under half of what the shards in force are
    // sized for: back to one shard. Go on until that epoch has been in force for 1 s.
    const down = await load(worker, {
      prefix: 'down', perSecond: 4, big: false, ms: 30000,
      done: (s) => {
        const now = epochAt(s, Date.now() - 1000);
        return now.fromMs > wide.fromMs && now.n === 1;
      },
    });
    const ids = [...up.sent, ...down.sent];
    const { shards } = await admin(worker, '/v1/health');
    const ns = shards.epochs.map((e) => e.n);
    assert.ok(shards.now < shards.widest, `N came down: ${JSON.stringify(shards.epochs)}`);
    assert.ok(ns.indexOf(shards.widest) < ns.lastIndexOf(shards.now), `up, then down: ${ns}`);
    assert.equal(shards.pendingByShard.length, shards.widest, 'the admin routes read every shard any kept epoch used');
    // The shards no longer in force still hold the events of the wider epoch that did not
    // fill a batch (they wait for their flush window, 600 s here, or /v1/flush).
    const left = shards.pendingByShard.slice(shards.now).reduce((a, b) => a + b, 0);
    assert.ok(left > 0, `events wait in shards out of the current epoch: ${shards.pendingByShard}`);
    // While events flowed, only full batches went to Amazon: 2 requests per 1,000 events
    // (once no shard holds a full batch, none is on its way).
    await until(async () => (await admin(worker, '/v1/health')).shards.pendingByShard.every((n) => n < 500));
    const flowing = await eventRequests();
    t.diagnostic(`events ${up.sent.length} up, ${down.sent.length} down; epochs ${JSON.stringify(shards.epochs)}; pending by shard ${shards.pendingByShard}; ${flowing.length} full requests`);
    assert.ok(flowing.length >= 4, `${flowing.length} requests`);
    for (const r of flowing) assert.deepEqual([r.status, r.events, r.refused], [207, 500, 0], JSON.stringify(r));
    // The admin flush reaches every shard, those of past epochs too.
    const flushed = await admin(worker, '/v1/flush', 'POST');
    assert.equal(flushed.shards, shards.widest);
    await until(async () => (await amazon.received()).size >= ids.length, 30000);
    const counts = await amazon.received();
    assert.equal(counts.size, ids.length, 'nothing Amazon received that was not sent');
    for (const id of ids) assert.equal(counts.get(id), 1, `${id} received ${counts.get(id) ?? 0} times`);
    let a;
    await until(async () => { a = (await admin(worker, '/v1/health')); return a.queueBacklog === 0; });
    const c = a.counters;
    assert.deepEqual([c.accepted, c.delivered, c.rejected, c.deadLettered], [ids.length, ids.length, 0, 0]);
    assert.equal(c.accepted, c.delivered + c.rejected + c.deadLettered + a.queueBacklog, JSON.stringify(a));
    // The flush sent each shard's remainder at most: one partial request per shard.
    const all = await eventRequests();
    const partial = all.slice(flowing.length);
    assert.ok(partial.length <= shards.widest, `${partial.length} requests at the flush`);
    for (const r of partial) assert.ok(r.status === 207 && r.events < 500 && r.refused === 0, JSON.stringify(r));
    assert.equal(all.reduce((n, r) => n + r.events, 0), ids.length);
    assert.ok(all.length <= Math.ceil(ids.length / 500) + shards.widest - 1, `${all.length} Amazon requests for ${ids.length} events`);
    t.diagnostic(`${all.length} Amazon requests for ${ids.length} events: ${((all.length * 1000) / ids.length).toFixed(2)} per 1,000 in all, 2.00 while events flowed`);
  } finally {
    await worker.stop();
  }
});
