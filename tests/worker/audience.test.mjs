// Audience sync through the Worker against the emulator: records in chunks of 6,000,
// adds and removes of one person collapsing to the last intent, nothing lost on 429,
// job failures in the log, and raw values refused from browsers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { root, startEmulator, startWorker, until, ORIGIN, SITE_KEY, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

const hashes = (n) => {
  const input = Array.from({ length: n }, (_, i) => JSON.stringify({ field: 'EMAIL', country: 'US', input: `member${i}@example.com` })).join('\n') + '\n';
  return execFileSync(`${root}target/debug/matchkey`, ['hash'], { input, maxBuffer: 1 << 26 }).toString().trim().split('\n').map((l) => JSON.parse(l).sha256);
};

function post(worker, name, { siteKey, ...body }, browser = false) {
  const headers = browser ? { origin: ORIGIN } : { authorization: `Bearer ${INGEST_SECRET}` };
  const query = siteKey === undefined ? '' : `?siteKey=${encodeURIComponent(siteKey)}`;
  return worker.request(`/v1/audiences/${name}/members${query}`, { method: 'POST', body: JSON.stringify(body), headers });
}

async function records() {
  const log = await amazon.get('/__emulator/requests?endpoint=amcRecords');
  return (log.requests ?? log).filter((r) => r.method === 'POST');
}

async function deliveries(worker) {
  const r = await worker.request('/v1/deliveries', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return (await r.json()).deliveries;
}

test('15,000 adds become 3 record requests of at most 6,000, and the audience holds them', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300' });
  try {
    const all = hashes(15000);
    for (let i = 0; i < all.length; i += 5000) {
      const add = all.slice(i, i + 5000).map((h) => ({ matchKeys: { EMAIL: h } }));
      assert.equal((await post(worker, 'buyers', { add })).status, 202);
    }
    await until(async () => (await records()).length === 2, 30000);
    await worker.request('/v1/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const r = await worker.request('/v1/audiences/buyers/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200);
    await until(async () => (await records()).length === 3, 30000);
    const sizes = (await records()).map((q) => q.body.records.length).sort((a, b) => b - a);
    assert.deepEqual(sizes, [6000, 6000, 3000]);
    await until(async () => (await deliveries(worker)).filter((d) => d.status === 'audience_job_succeeded').length === 3, 30000);
    const audiences = await amazon.get('/__emulator/audiences');
    const list = audiences.audiences ?? audiences;
    assert.equal(list.length, 1);
    assert.match(list[0].definition.name, /^matchkey_buyers_\d+$/);
    assert.equal(list[0].members.length, 15000);
  } finally {
    await worker.stop();
  }
});

test('an add and a remove of one person in one window collapse; 429 loses nothing; raw values are refused', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300', BROWSER_AUDIENCES: 'churned' });
  const flush = () => worker.request('/v1/audiences/churned/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  try {
    const [a, b] = hashes(2);
    await post(worker, 'churned', { add: [{ matchKeys: { EMAIL: a } }, { matchKeys: { EMAIL: b } }] });
    await post(worker, 'churned', { remove: [{ matchKeys: { EMAIL: a } }] });
    await amazon.control('/__emulator/faults', { endpoint: 'amcRecords', kind: 'status', status: 429, retryAfter: 1, count: 1 });
    await flush();
    await until(async () => (await records()).some((r) => r.status === 202), 30000);
    const sent = (await records()).filter((r) => r.status === 202)[0].body.records;
    assert.equal(sent.length, 2, 'one record per person');
    assert.deepEqual(sent.map((r) => r.action).sort(), ['CREATE', 'DELETE']);
    assert.equal((await records())[0].status, 429);

    const raw = await post(worker, 'churned', { siteKey: SITE_KEY, add: [{ matchKeys: { EMAIL: 'jane@example.com' } }] }, true);
    assert.equal(raw.status, 202);
    assert.equal((await raw.json()).rejected[0].reason, 'raw_pii_not_accepted');
    assert.equal((await post(worker, 'bad name', { add: [] })).status, 400);
    // Browsers: only the audiences in BROWSER_AUDIENCES, and never a removal.
    const other = await post(worker, 'vip', { siteKey: SITE_KEY, add: [{ matchKeys: { EMAIL: a } }] }, true);
    assert.deepEqual([other.status, await other.json()], [403, { error: 'audience_not_allowed' }]);
    const removal = await post(worker, 'churned', { siteKey: SITE_KEY, remove: [{ matchKeys: { EMAIL: a } }] }, true);
    assert.deepEqual([removal.status, await removal.json()], [403, { error: 'remove_needs_server' }]);
  } finally {
    await worker.stop();
  }
});

test('a failed records job is recorded in the delivery log', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300' });
  try {
    await amazon.control('/__emulator/faults', { endpoint: 'amcRecords', kind: 'job_failed', count: 1 });
    await post(worker, 'vip', { add: [{ matchKeys: { EMAIL: hashes(1)[0] } }] });
    await worker.request('/v1/audiences/vip/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await until(async () => (await deliveries(worker)).some((d) => d.status === 'audience_job_failed'), 30000);
  } finally {
    await worker.stop();
  }
});

test('an audience Amazon no longer knows is created again, and no change is lost', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300' });
  const flush = () => worker.request('/v1/audiences/lapsed/flush', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  try {
    const [a, b] = hashes(2);
    await post(worker, 'lapsed', { add: [{ matchKeys: { EMAIL: a } }] });
    await flush();
    await until(async () => (await records()).some((r) => r.status === 202), 30000);
    await amazon.control('/__emulator/reset'); // Amazon forgets the audience
    await post(worker, 'lapsed', { add: [{ matchKeys: { EMAIL: b } }] });
    await flush();
    await until(async () => {
      const audiences = await amazon.get('/__emulator/audiences');
      return (audiences.audiences ?? audiences).some((x) => x.members.length === 1);
    }, 30000);
  } finally {
    await worker.stop();
  }
});

test('AUDIENCE_API=dp uploads the joiners\' hashed records, then patches adds and removes into the audience', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300', AUDIENCE_API: 'dp', PROFILE_ID: '1234567890', BROWSER_AUDIENCES: 'dp_buyers' });
  const admin = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } };
  try {
    const all = hashes(3);
    const add = all.map((h) => ({ matchKeys: { EMAIL: h } }));
    assert.equal((await post(worker, 'dp_buyers', { siteKey: SITE_KEY, add }, true)).status, 202);
    await worker.request('/v1/audiences/dp_buyers/flush', admin);
    const log = async (endpoint) => amazon.get(`/__emulator/requests?endpoint=${endpoint}`);
    await until(async () => (await log('dpAudience')).length === 1, 30000);
    const audiences = await amazon.get('/__emulator/audiences');
    assert.equal(audiences.length, 1);
    assert.equal(audiences[0].kind, 'DATA_PROVIDER');
    assert.equal(audiences[0].members.length, 3);
    // The audience was created from Amazon's answer shape ({requestId, audience: {id}}),
    // with advertiserId as the schema's int64 (a JSON number).
    const [create] = await log('dpAudienceMetadata');
    assert.equal(create.status, 200);
    assert.equal(typeof create.body.advertiserId, 'number');
    const [upload] = await log('dpRecords');
    assert.equal(upload.status, 200);
    assert.deepEqual(upload.body.records.map((r) => r.hashedRecords[0].email).sort(), [...all].sort());
    assert.equal((await log('dpAudience'))[0].status, 200);
    assert.deepEqual((await log('dpAudience'))[0].body.patches[0].value, [audiences[0].audienceId]);

    // One leaves (a removal needs the ingest secret): a patch only, no upload.
    assert.equal((await post(worker, 'dp_buyers', { remove: [add[0]] })).status, 202);
    await worker.request('/v1/audiences/dp_buyers/flush', admin);
    await until(async () => (await log('dpAudience')).length === 2, 30000);
    assert.equal((await log('dpRecords')).length, 1);
    const after = await amazon.get('/__emulator/audiences');
    assert.equal(after[0].members.length, 2);
    await until(async () => (await deliveries(worker)).filter((d) => d.status === 'audience_submitted').length === 2, 30000);
  } finally {
    await worker.stop();
  }
});

test('AUDIENCE_API=dp: a 413 splits the patch, a refused one reaches the dead letters, and the accounting shows both', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '300', AUDIENCE_API: 'dp', PROFILE_ID: '1234567890', BROWSER_AUDIENCES: 'dp_split' });
  const admin = { headers: { authorization: `Bearer ${ADMIN_KEY}` } };
  const flush = () => worker.request('/v1/audiences/dp_split/flush', { method: 'POST', ...admin });
  const log = async (endpoint) => amazon.get(`/__emulator/requests?endpoint=${endpoint}`);
  try {
    const all = hashes(6);
    const add = (list) => list.map((h) => ({ matchKeys: { EMAIL: h } }));
    // Too large once: the 4 changes go again as 2 + 2, none dropped.
    await amazon.control('/__emulator/faults', { endpoint: 'dpAudience', kind: 'status', status: 413, count: 1 });
    assert.equal((await post(worker, 'dp_split', { add: add(all.slice(0, 4)) })).status, 202);
    await flush();
    await until(async () => (await amazon.get('/__emulator/audiences'))[0]?.members.length === 4, 30000);
    const sizes = (await log('dpAudience')).map((q) => [q.status, q.body.patches.length]);
    assert.deepEqual(sizes, [[413, 4], [200, 2], [200, 2]]);
    // Refused (400): the 2 changes go to the dead letters with Amazon's status and code.
    await amazon.control('/__emulator/faults', { endpoint: 'dpAudience', kind: 'status', status: 400, count: 1 });
    assert.equal((await post(worker, 'dp_split', { add: add(all.slice(4)) })).status, 202);
    await flush();
    const listing = async () => (await worker.request('/v1/deliveries', admin)).json();
    await until(async () => (await listing()).deadLetters.some((d) => d.kind === 'audience'), 30000);
    const { deadLetters, deliveries } = await listing();
    const dead = deadLetters.filter((d) => d.kind === 'audience');
    assert.equal(dead.length, 2);
    for (const d of dead) {
      assert.deepEqual([d.http_status, d.reason, d.audience], [400, 'BAD_REQUEST', 'dp_split']);
      for (const h of all) assert.ok(!JSON.stringify(d).includes(h), 'a hash in the listing');
    }
    assert.ok(deliveries.some((d) => d.status === 'audience_dead_lettered' && d.failed === 2 && d.amazon_code === 'BAD_REQUEST'));
    assert.ok(deliveries.some((d) => d.status === 'audience_split'));
    // The dead letters hold the changes as queued (to send again), and event replay leaves
    // them alone.
    const db = await worker.mf.getD1Database('DB');
    const rows = (await db.prepare("SELECT event FROM dead_letters WHERE kind = 'audience'").all()).results;
    assert.deepEqual(rows.map((r) => JSON.parse(r.event).hashedPII[0].email).sort(), all.slice(4).sort());
    const replay = await (await worker.request('/v1/replay', { method: 'POST', ...admin })).json();
    assert.equal(replay.replayed, 0);
    // The accounting: accepted = sent + dead-lettered + superseded + pending.
    const { audiences } = await (await worker.request('/v1/admin/integrations/default/audiences', admin)).json();
    const [split] = audiences.filter((a) => a.name === 'dp_split');
    assert.deepEqual([split.counters.accepted, split.counters.sent, split.counters.deadLettered, split.pending], [6, 4, 2, 0]);
    assert.equal((await amazon.get('/__emulator/audiences'))[0].members.length, 4);
  } finally {
    await worker.stop();
  }
});
