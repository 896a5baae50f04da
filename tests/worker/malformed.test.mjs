// Anyone can reach every route of the Worker: 1,200 malformed requests (random methods,
// paths, queries, headers and bodies, from a fixed seed) must each get a 4xx answer or
// a 2xx, never a 5xx, and workerd must never log a panic; the Worker still delivers
// afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, ORIGIN, SITE_KEY, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

/** A small seeded PRNG (mulberry32): the same requests on every run. */
function prng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND'];
const SEGMENTS = ['v1', 'events', 'validate', 'audiences', 'members', 'flush', 'replay', 'deliveries', 'health',
  'healthz', '', '..', '%2e%2e', 'x'.repeat(300), '%00', 'é', '%ZZ', 'buyers', 'a b', '*',
  'connect', 'start', 'callback', 'admin', 'check', 'connections', 'integrations', 'int_x', 'disable', 'ingest-secret'];
const BODIES = [
  () => '', () => '{', () => 'null', () => '[]', () => '"x"', () => '{"events":{}}', () => '{"events":[]}',
  () => `{"events":[${'1,'.repeat(600)}1]}`, () => '['.repeat(100_000), () => '{"a":'.repeat(5000),
  () => JSON.stringify({ name: 'purchase', country: 'US', matchKeys: { EMAIL: 'jane@example.com' } }),
  () => JSON.stringify({ add: [{ matchKeys: null }], remove: 'x' }), () => JSON.stringify({ add: [] }),
  () => 'x'.repeat(1_100_000), () => '\u0000\uffff\ud800', () => JSON.stringify({ events: [{ name: {} }] }),
];

function request(random) {
  const pick = (list) => list[Math.floor(random() * list.length)];
  const depth = Math.floor(random() * 6);
  let path = random() < 0.7
    ? pick(['/v1/events', '/v1/validate', '/v1/audiences/buyers/members', '/v1/audiences/buyers/flush', '/v1/flush',
      '/v1/replay', '/v1/deliveries', '/v1/health', '/healthz', '/v1/connect/start', '/v1/connect/callback?state=x&code=y',
      '/v1/admin/check', '/v1/admin/connections', '/v1/admin/integrations', '/v1/admin/integrations/int_x',
      '/v1/admin/integrations/int_x/enable', '/v1/deliveries?integration=%FF', '/v1/flush?integration=int_x'])
    : '/' + Array.from({ length: depth }, () => pick(SEGMENTS)).join('/');
  if (random() < 0.15) path = pick(['/v1/audiences/members', '/v1/audiences//members', '/v1/audiences/members/flush', '//', '/v1/events/']);
  if (random() < 0.3) path += pick(['?siteKey=' + SITE_KEY, '?siteKey=', '?siteKey=%FF', '?a=b&siteKey=x', '?' + 'q'.repeat(2000)]);
  const headers = {};
  if (random() < 0.5) headers.origin = pick([ORIGIN, 'null', 'https://evil.example', '']);
  if (random() < 0.3) headers.authorization = pick(['Bearer ', 'Bearer x', `Bearer ${INGEST_SECRET}x`, 'Basic abc', `Bearer ${ADMIN_KEY} `, 'Bearer ' + 'k'.repeat(5000), `Bearer ${ADMIN_KEY}`]);
  if (random() < 0.2) headers['x-matchkey-site-key'] = pick([SITE_KEY, '', 'nope']);
  if (random() < 0.2) headers['content-type'] = pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x']);
  if (random() < 0.1) headers['cf-connecting-ip'] = pick(['1.2.3.4', 'not-an-ip', '::1']);
  const method = random() < 0.6 ? 'POST' : pick(METHODS);
  const body = method === 'GET' || method === 'HEAD' ? undefined : pick(BODIES)();
  return { path, init: { method, headers, body } };
}

test('1,200 malformed requests: no 5xx, no panic, and the Worker still works', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { RATE_LIMIT_PER_MINUTE: '100000' });
  try {
    const random = prng(20261127);
    const statuses = {};
    const failures = [];
    const all = Array.from({ length: 1200 }, () => request(random));
    for (let i = 0; i < all.length; i += 8) {
      await Promise.all(all.slice(i, i + 8).map(async ({ path, init }) => {
        let r;
        try {
          r = await worker.request(path, init);
        } catch (e) {
          // Refused before its body was read: workerd answers early and closes while a
          // large body is still being written. That is the point; anything else is not.
          if (e.cause?.code === 'ECONNRESET' && (init.body?.length ?? 0) > 65536) {
            statuses.closedEarly = (statuses.closedEarly ?? 0) + 1;
            return;
          }
          failures.push(`${init.method} ${path.slice(0, 80)} → ${e.cause?.code ?? ''} ${e.cause?.message ?? e.message}`);
          return;
        }
        await r.arrayBuffer();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status >= 500) failures.push(`${init.method} ${path.slice(0, 80)} → ${r.status}`);
      }));
    }
    assert.deepEqual(failures, [], 'requests answered 5xx');
    assert.doesNotMatch(worker.output(), /panic|RuntimeError|unreachable|Reinitializing/i);
    // Every kind of refusal was exercised.
    for (const status of [400, 401, 403, 404, 405]) assert.ok(statuses[status] > 0, `no ${status} among ${JSON.stringify(statuses)}`);
    // And the front door still works.
    const ok = await worker.request(`/v1/events?siteKey=${SITE_KEY}`, {
      method: 'POST', headers: { origin: ORIGIN },
      body: JSON.stringify({ events: [{ name: 'purchase', eventId: 'after', country: 'US', matchKeys: { EMAIL: 'a'.repeat(64) } }] }),
    });
    assert.equal(ok.status, 202);
  } finally {
    await worker.stop();
  }
});
