// The fault matrix: the Worker in workerd against the emulator under every fault Amazon
// or Cloudflare can produce. For every case: the accounting identity holds (accepted =
// delivered + rejected + dead-lettered + pending), the emulator receives each eventId
// exactly once, and no request goes to Amazon before a Retry-After has passed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { serialize } from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, startWorker, until, INGEST_SECRET, ADMIN_KEY, ADVERTISER } from './harness.mjs';

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

/** Short backoff so that outages play out in seconds. */
const FAST = { BACKOFF_BASE_MS: '20', FLUSH_SECONDS: '1' };
const EMAIL = 'b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514';

function events(prefix, n) {
  return Array.from({ length: n }, (_, i) => ({ name: 'purchase', eventId: `${prefix}-${i}`, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL } }));
}

async function ingest(worker, list) {
  for (let i = 0; i < list.length; i += 500) {
    const r = await worker.request('/v1/events', { method: 'POST', body: JSON.stringify({ events: list.slice(i, i + 500) }), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
    assert.equal(r.status, 202, await r.text());
  }
}

async function admin(worker, path, method = 'GET') {
  const r = await worker.request(path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: r.status, body: await r.json() };
}

async function fault(spec) {
  await amazon.control('/__emulator/faults', spec);
}

async function eventRequests() {
  const log = await amazon.get('/__emulator/requests?endpoint=events');
  return (log.requests ?? log).map((r) => ({ ...r, ms: Date.parse(r.at.slice(0, 23) + 'Z') }));
}

async function accounting(worker) {
  const { body } = await admin(worker, '/v1/health');
  return { ...body.counters, pending: body.queueBacklog };
}

/** Waits until every id of `list` reached Amazon, then checks exactly-once and the identity. */
async function deliveredOnce(worker, list, ms = 60000) {
  await until(async () => (await amazon.received()).size >= list.length, ms);
  const counts = await amazon.received();
  for (const e of list) assert.equal(counts.get(e.eventId), 1, `${e.eventId} received ${counts.get(e.eventId) ?? 0} times`);
  let a;
  await until(async () => { a = await accounting(worker); return a.pending === 0; });
  assert.equal(a.accepted, a.delivered + a.rejected + a.deadLettered + a.pending, JSON.stringify(a));
  return a;
}

test('429 with a long Retry-After: nothing goes before it, not even on /v1/flush', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, FAST);
  try {
    await fault({ endpoint: 'events', kind: 'status', status: 429, retryAfter: 4 });
    const list = events('ra', 3);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).length === 1);
    for (let i = 0; i < 3; i++) await admin(worker, '/v1/flush', 'POST');
    const a = await deliveredOnce(worker, list);
    assert.equal(a.delivered, 3);
    const [limited, next] = await eventRequests();
    assert.equal(limited.status, 429);
    assert.ok(next.ms - limited.ms >= 4000, `sent ${next.ms - limited.ms} ms after a Retry-After of 4 s`);
  } finally {
    await worker.stop();
  }
});

test("the gateway's HTML 429 without Retry-After: backed off, then delivered once, nothing dead-lettered", async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, FAST);
  try {
    await fault({ endpoint: 'events', kind: 'html_429', count: 2 });
    const list = events('html', 4);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    const a = await deliveredOnce(worker, list);
    assert.deepEqual([a.delivered, a.deadLettered, a.rejected], [4, 0, 0]);
    const requests = await eventRequests();
    assert.deepEqual(requests.map((r) => r.status), [429, 429, 207]);
    assert.equal(requests[0].fault, 'html_429');
  } finally {
    await worker.stop();
  }
});

test('5xx for longer than the old six-attempt budget, dropped connections, slow answers, an expired token: all delivered once', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, FAST);
  try {
    await fault({ endpoint: 'events', kind: 'status', status: 503, count: 9 });
    await fault({ endpoint: 'events', kind: 'drop', count: 2 });
    await fault({ endpoint: 'events', kind: 'slow', delayMs: 1500 });
    await fault({ endpoint: 'events', kind: 'expired_token' });
    const list = events('outage', 7);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    const a = await deliveredOnce(worker, list);
    assert.deepEqual([a.delivered, a.deadLettered], [7, 0]);
    const statuses = (await eventRequests()).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 503).length, 9, statuses.join());
  } finally {
    await worker.stop();
  }
});

test('a D1 failure while logging re-sends nothing, and the log catches up', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, FAST);
  try {
    // Make sure the tables exist, then take the delivery log away.
    await admin(worker, '/v1/deliveries');
    const db = await worker.mf.getD1Database('DB');
    await db.exec('ALTER TABLE deliveries RENAME TO deliveries_away');
    const list = events('d1', 5);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    await deliveredOnce(worker, list);
    // D1 is back: the decision kept in the object is written, once.
    await db.exec('ALTER TABLE deliveries_away RENAME TO deliveries');
    await until(async () => (await admin(worker, '/v1/deliveries')).body.deliveries?.length > 0, 30000);
    const rows = (await admin(worker, '/v1/deliveries')).body.deliveries.filter((d) => d.status === 'delivered');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].accepted, 5);
    assert.equal((await amazon.received()).size, 5);
  } finally {
    await worker.stop();
  }
});

test('a Durable Object restart in the middle of an outage loses nothing and sends nothing twice', async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'matchkey-faults-'));
  try {
    let worker = await startWorker(amazon.url, FAST, { persist });
    await fault({ endpoint: 'events', kind: 'status', status: 503, count: 100000 });
    const list = events('restart', 1000);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).length >= 2);
    await worker.stop();
    await fetch(`${amazon.url}/__emulator/faults`, { method: 'DELETE' });
    worker = await startWorker(amazon.url, FAST, { persist });
    try {
      await admin(worker, '/v1/flush', 'POST');
      const a = await deliveredOnce(worker, list);
      assert.deepEqual([a.accepted, a.delivered, a.deadLettered], [1000, 1000, 0]);
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});

test('20,000 events ingested during an outage are all delivered once it ends; above the cap ingest answers 503', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...FAST, MAX_BACKLOG: '20000' });
  try {
    await fault({ endpoint: 'events', kind: 'status', status: 500, count: 100000 });
    const list = events('backlog', 20000);
    await ingest(worker, list);
    await until(async () => (await eventRequests()).length >= 3);
    // Full: the next request is refused whole, with a Retry-After, and nothing of it is kept.
    const over = await worker.request('/v1/events', { method: 'POST', body: JSON.stringify({ events: events('over', 2) }), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
    assert.equal(over.status, 503);
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    assert.equal((await accounting(worker)).accepted, 20000);
    await fetch(`${amazon.url}/__emulator/faults`, { method: 'DELETE' });
    await admin(worker, '/v1/flush', 'POST');
    const a = await deliveredOnce(worker, list, 120000);
    assert.deepEqual([a.accepted, a.delivered, a.deadLettered, a.pending], [20000, 20000, 0, 0]);
    assert.equal((await amazon.received()).size, 20000);
  } finally {
    await worker.stop();
  }
});

test('a refused batch is dead-lettered in one write; two replays at once send each event once', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, FAST);
  try {
    await fault({ endpoint: 'events', kind: 'status', status: 400 });
    const list = events('replay', 4);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await admin(worker, '/v1/deliveries')).body.deadLetters?.length === 4);
    const before = await accounting(worker);
    assert.deepEqual([before.accepted, before.deadLettered, before.pending], [4, 4, 0]);
    const [one, two] = await Promise.all([admin(worker, '/v1/replay', 'POST'), admin(worker, '/v1/replay', 'POST')]);
    assert.equal(one.body.replayed + two.body.replayed, 4, 'the rows are claimed once between the two');
    const a = await deliveredOnce(worker, list);
    // Replayed events count as accepted again: 8 = 4 delivered + 4 dead-lettered earlier.
    assert.deepEqual([a.accepted, a.delivered, a.deadLettered, a.replayed], [8, 4, 4, 4]);
    assert.equal((await admin(worker, '/v1/replay', 'POST')).body.replayed, 0);
  } finally {
    await worker.stop();
  }
});

test('a chunk split between batches keeps exactly its unsent events across a restart, with a 207 inside it', async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'matchkey-faults-'));
  try {
    // A long flush window: the first full batch goes at once, the rest waits.
    let worker = await startWorker(amazon.url, { ...FAST, FLUSH_SECONDS: '600' }, { persist });
    // Three requests of 300 (one chunk each); every seventh event is 20.5 days old, inside the
    // Worker's window but, with Amazon's clock a day ahead, outside Amazon's: the 207 answers
    // settle part of each chunk as rejected.
    await amazon.control('/__emulator/clock', { advanceSecs: 86_400 });
    const old = new Date(Date.now() - 20.5 * 86_400_000).toISOString();
    const list = events('chunk', 900).map((e, i) => (i % 7 === 3 ? { ...e, eventTime: old } : e));
    await ingest300(worker, list);
    // 500 = the first chunk and 200 of the second; the second chunk keeps its last 100.
    await until(async () => (await eventRequests()).length === 1);
    await until(async () => (await accounting(worker)).pending === 400);
    assert.equal((await eventRequests())[0].status, 207);
    await worker.stop();
    worker = await startWorker(amazon.url, { ...FAST, FLUSH_SECONDS: '600' }, { persist });
    try {
      await admin(worker, '/v1/flush', 'POST');
      await until(async () => (await accounting(worker)).pending === 0);
      const counts = await amazon.received();
      const bad = list.filter((_, i) => i % 7 === 3);
      for (const e of list) {
        const expected = e.eventTime === old ? 0 : 1;
        assert.equal(counts.get(e.eventId) ?? 0, expected, `${e.eventId} received ${counts.get(e.eventId) ?? 0} times`);
      }
      const a = await accounting(worker);
      assert.deepEqual([a.accepted, a.delivered, a.rejected, a.deadLettered, a.pending], [900, 900 - bad.length, bad.length, 0, 0]);
      assert.equal((await eventRequests()).length, 2, 'two requests: 500 and 400');
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});

async function ingest300(worker, list) {
  for (let i = 0; i < list.length; i += 300) {
    const r = await worker.request('/v1/events', { method: 'POST', body: JSON.stringify({ events: list.slice(i, i + 300) }), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
    assert.equal(r.status, 202, await r.text());
  }
}

test('an object of the previous version (one ev: key per event) is delivered whole, next to new chunks', async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'matchkey-faults-'));
  try {
    let worker = await startWorker(amazon.url, { ...FAST, FLUSH_SECONDS: '600' }, { persist });
    // The events as the previous version stored them: an Amazon event each (the dry run's).
    const old = events('legacy', 7);
    const r = await worker.request('/v1/validate', { method: 'POST', body: JSON.stringify({ events: old }), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
    const stored = (await r.json()).request.body.events.map((e) => JSON.stringify(e));
    await admin(worker, '/v1/flush', 'POST'); // creates the object
    await worker.stop();
    // Its storage as the previous version left it: `ev:` keys and no queue record (read
    // as an upgrade), written while workerd is stopped.
    const dir = join(persist, 'do', readdirSync(join(persist, 'do')).find((d) => d.endsWith('Batcher')));
    const file = join(dir, readdirSync(dir).find((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)));
    const rows = stored.map((e, i) => [`ev:${String(Date.now() - 1000).padStart(13, '0')}:${String(i + 1).padStart(12, '0')}`, serialize(e).toString('hex')]);
    execFileSync('python3', ['-c', `
import sqlite3, sys, json
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM _cf_KV WHERE key = 'meta:queue'")
for k, v in json.loads(sys.argv[2]):
    c.execute("INSERT INTO _cf_KV (key, value) VALUES (?, ?)", (k, bytes.fromhex(v)))
c.commit()
`, file, JSON.stringify(rows)]);
    worker = await startWorker(amazon.url, { ...FAST, FLUSH_SECONDS: '600' }, { persist });
    try {
      const fresh = events('fresh', 5);
      await ingest(worker, fresh);
      await admin(worker, '/v1/flush', 'POST');
      const a = await deliveredOnce(worker, [...old, ...fresh]);
      assert.deepEqual([a.accepted, a.delivered, a.deadLettered, a.pending], [12, 12, 0, 0]);
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});

test('sharded (SHARDS=4): an outage and a restart lose nothing, send nothing twice, and the admin routes add up every shard', async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'matchkey-faults-'));
  const SHARDED = { ...FAST, SHARDS: '4' };
  try {
    let worker = await startWorker(amazon.url, SHARDED, { persist });
    await fault({ endpoint: 'events', kind: 'status', status: 503, count: 100000 });
    const list = events('sharded', 2000);
    await ingest(worker, list);
    // Browser-sized requests too: one event each.
    const singles = events('single', 20);
    for (const e of singles) await ingest(worker, [e]);
    const during = await accounting(worker);
    assert.deepEqual([during.accepted, during.pending], [2020, 2020], 'every shard counted');
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).length >= 4);
    await worker.stop();
    await fetch(`${amazon.url}/__emulator/faults`, { method: 'DELETE' });
    worker = await startWorker(amazon.url, SHARDED, { persist });
    try {
      await admin(worker, '/v1/flush', 'POST');
      const a = await deliveredOnce(worker, [...list, ...singles]);
      assert.deepEqual([a.accepted, a.delivered, a.deadLettered], [2020, 2020, 0]);
      // Each shard's batches went whole: at most one partial batch per shard.
      const sent = (await eventRequests()).filter((r) => r.status === 200 || r.status === 207);
      assert.ok(sent.length <= 8, `${sent.length} successful requests for 2,020 events over 4 shards`);
      const log = (await admin(worker, '/v1/deliveries')).body;
      assert.equal(log.accounting.default.accepted, 2020);
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});

test('sharded: dead letters from every shard are replayed once each', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...FAST, SHARDS: '3' });
  try {
    // One refused request per shard (each shard's 10 or so events are one batch).
    await fault({ endpoint: 'events', kind: 'status', status: 400, count: 3 });
    const list = events('shreplay', 30);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await admin(worker, '/v1/deliveries')).body.deadLetters?.length === 30);
    const [one, two] = await Promise.all([admin(worker, '/v1/replay', 'POST'), admin(worker, '/v1/replay', 'POST')]);
    assert.equal(one.body.replayed + two.body.replayed, 30);
    const a = await deliveredOnce(worker, list);
    assert.deepEqual([a.accepted, a.delivered, a.deadLettered, a.replayed], [60, 30, 30, 30]);
  } finally {
    await worker.stop();
  }
});

test('SHARDS=auto at a low rate stays one object and delivers as before', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...FAST, SHARDS: 'auto' });
  try {
    const list = events('auto', 600);
    await ingest(worker, list);
    await admin(worker, '/v1/flush', 'POST');
    const a = await deliveredOnce(worker, list);
    assert.deepEqual([a.accepted, a.delivered], [600, 600]);
    assert.equal((await eventRequests()).length, 2);
  } finally {
    await worker.stop();
  }
});
