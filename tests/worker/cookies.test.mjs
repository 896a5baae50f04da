// Cookie matching's server half against the emulator: visitor ids as COOKIE members of
// Data Provider audiences by each audience's match method, what a browser may and may not
// do, erasure (PATCH /v2/dp/users) logged without ids, and one limiter keeping Data
// Provider calls under 100 per second per profile across audiences.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startEmulator, startWorker, until, ORIGIN, SITE_KEY, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

const PROFILE = '1234567890';
const DP = { AUDIENCE_API: 'dp', PROFILE_ID: PROFILE, FLUSH_SECONDS: '1', BROWSER_AUDIENCES: 'seen:cookie,known:hashed,all:both' };
const vid = () => randomBytes(16).toString('hex');
const sha = (s) => createHash('sha256').update(s).digest('hex');

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

const server = { authorization: `Bearer ${INGEST_SECRET}` };
const browser = { origin: ORIGIN, 'x-matchkey-site-key': SITE_KEY };
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

const members = (worker, name, body, headers) => worker.request(`/v1/audiences/${name}/members`, { method: 'POST', body: JSON.stringify(body), headers });
const erase = (worker, body, headers) => worker.request('/v1/erasure', { method: 'POST', body: JSON.stringify(body), headers });

async function audiences() {
  const list = await amazon.get('/__emulator/audiences');
  const byName = {};
  for (const a of list) byName[a.definition.name.replace(/^matchkey_(.*)_\d+$/, '$1')] = a;
  return byName;
}

test('cookie, hashed and both audiences take the ids their match method allows; browsers are held to their own visitor id', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, DP);
  try {
    const anon = vid();
    const known = vid();
    const email = sha('known@example.com');
    // The tag's matching request, as it will make it (the emulator records it).
    const pixel = await fetch(`${amazon.url}/ecm3?ex=mk_partner&id=${anon}`);
    assert.equal(pixel.status, 200);

    let r = await members(worker, 'seen', { add: [{ visitorId: anon }] }, browser);
    assert.equal(r.status, 202);
    assert.deepEqual(await r.json(), { accepted: 1, rejected: [] });
    r = await members(worker, 'known', { add: [{ visitorId: known, matchKeys: { EMAIL: email } }] }, browser);
    assert.deepEqual(await r.json(), { accepted: 1, rejected: [] });
    r = await members(worker, 'all', { add: [{ visitorId: known, matchKeys: { EMAIL: email } }] }, browser);
    assert.deepEqual(await r.json(), { accepted: 2, rejected: [] });

    // A visitor id alone cannot join a hashed audience.
    r = await members(worker, 'known', { add: [{ visitorId: anon }] }, browser);
    assert.deepEqual(await r.json(), { accepted: 0, rejected: [{ index: 0, field: 'visitorId', reason: 'visitor_id_not_accepted' }] });
    // Removal by hashes (or with them) needs the ingest secret.
    for (const remove of [[{ matchKeys: { EMAIL: email } }], [{ visitorId: known, matchKeys: { EMAIL: email } }]]) {
      r = await members(worker, 'all', { remove }, browser);
      assert.deepEqual([r.status, await r.json()], [403, { error: 'remove_needs_server' }]);
    }
    // Hostile visitor ids: refused by field and stable code, the value never echoed.
    for (const [id, reason] of [['jane@example.com', 'looks_like_personal_data'], ['a'.repeat(500), 'visitor_id_too_long'], ['0123456789abcdef0123456789abcdé', 'invalid_visitor_id'], ['+1 555 010 0199', 'looks_like_personal_data']]) {
      r = await members(worker, 'seen', { add: [{ visitorId: id }] }, browser);
      const text = await r.text();
      assert.deepEqual(JSON.parse(text).rejected, [{ index: 0, field: 'visitorId', reason }]);
      assert.ok(!text.includes('jane') && !text.includes('555'), text);
    }

    await until(async () => {
      const a = await audiences();
      return a.seen?.cookieMembers.length === 1 && a.known?.members.length === 1 && a.all?.cookieMembers.length === 1 && a.all?.members.length === 1;
    }, 20000);
    const a = await audiences();
    assert.deepEqual(a.seen.cookieMembers, [anon]);
    assert.deepEqual(a.seen.members, []);
    assert.deepEqual(a.known.cookieMembers, [], 'the visitor id is not used by a hashed audience');
    assert.match(a.known.members[0], /^mk_[0-9a-f]{40}$/);
    assert.deepEqual(a.all.cookieMembers, [known]);
    assert.deepEqual(a.all.members, a.known.members);
    const patches = (await amazon.get('/__emulator/requests?endpoint=dpAudience')).flatMap((q) => q.body.patches);
    assert.ok(patches.some((p) => p.path === `/COOKIE-${anon}/audiences` && p.op === 'add'));
    const uploads = await amazon.get('/__emulator/requests?endpoint=dpRecords');
    assert.ok(!JSON.stringify(uploads).includes(anon), 'no records upload for cookies');

    // A browser removes its own visitor id.
    r = await members(worker, 'seen', { remove: [{ visitorId: anon }] }, browser);
    assert.equal(r.status, 202);
    await until(async () => (await audiences()).seen.cookieMembers.length === 0, 20000);
    const matches = await amazon.get('/__emulator/matches');
    assert.equal(matches[0].visitorId, anon);
  } finally {
    await worker.stop();
  }
});

test('erasure: a browser its own visitor id only; a server visitor ids and identities; logged without ids', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, DP);
  try {
    const [a, b, c] = [vid(), vid(), vid()];
    const email = 'erase.me@example.com';
    await members(worker, 'crm', { add: [{ visitorId: a }, { visitorId: b }, { visitorId: c }, { matchKeys: { EMAIL: email } }] }, server);
    await until(async () => (await audiences()).crm?.cookieMembers.length === 3 && (await audiences()).crm.members.length === 1, 20000);
    const [external] = (await audiences()).crm.members;

    // Browsers: one visitor id, never hashes.
    for (const [body, code] of [
      [{ visitorIds: [a, b] }, 'one_visitor_id_from_browser'],
      [{ identities: [{ matchKeys: { EMAIL: sha(email) } }] }, 'not_accepted_from_browser'],
      [{ visitorIds: [a], identities: [] }, 'not_accepted_from_browser'],
    ]) {
      const r = await erase(worker, body, browser);
      assert.deepEqual([r.status, await r.json()], [403, { error: code }]);
    }
    let r = await erase(worker, { visitorIds: ['jane@example.com'] }, browser);
    assert.deepEqual(await r.json(), { accepted: 0, rejected: [{ index: 0, field: 'visitorIds[0]', reason: 'looks_like_personal_data' }] });
    r = await erase(worker, { visitorIds: [c] }, browser);
    assert.deepEqual([r.status, await r.json()], [202, { accepted: 1, rejected: [] }]);
    // A server: visitor ids and a raw identity (hashed here, as the audience path does).
    r = await erase(worker, { visitorIds: [a], identities: [{ matchKeys: { EMAIL: email } }] }, server);
    assert.deepEqual([r.status, await r.json()], [202, { accepted: 2, rejected: [] }]);

    await until(async () => (await amazon.get('/__emulator/erasures')).length === 3, 20000);
    const erased = (await amazon.get('/__emulator/erasures')).map((e) => `${e.type}:${e.id}`).sort();
    // Sent in data-provider.yaml's form: userId {type, value}, a consent time, operation DELETE.
    for (const e of await amazon.get('/__emulator/erasures')) {
      assert.equal(e.form, 'openapi');
      assert.equal(typeof e.consentTime, 'number');
    }
    const users = await amazon.get('/__emulator/requests?endpoint=dpUsers');
    assert.ok(users.every((q) => q.status === 202 && q.body.operation === 'DELETE'));
    assert.deepEqual(erased, [`COOKIE:${a}`, `COOKIE:${c}`, `EXTERNAL_USER_ID:${external}`].sort());
    const left = (await audiences()).crm;
    assert.deepEqual(left.cookieMembers, [b]);
    assert.deepEqual(left.members, []);

    // Counted: accepted = sent + rejected + pending.
    const stats = await (await worker.request('/v1/erasure', { headers: admin })).json();
    assert.equal(stats.counters.accepted, 3);
    assert.equal(stats.counters.sent, 3);
    assert.equal(stats.balanced, true);
    // Logged with counts and status only.
    const deliveries = await (await worker.request('/v1/deliveries', { headers: admin })).text();
    assert.match(deliveries, /erasure_submitted/);
    const rows = await (await worker.mf.getD1Database('DB')).prepare('SELECT * FROM deliveries').all();
    const dump = deliveries + JSON.stringify(rows);
    for (const secret of [a, b, c, external, sha(email), email]) assert.ok(!dump.includes(secret), 'an id reached the log');
    assert.ok(!worker.output().includes(a), 'an id reached the console');
  } finally {
    await worker.stop();
  }
});

test('one limiter keeps Data Provider calls at most 100 per second per profile across audiences', async (t) => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...DP, AUDIENCE_BATCH: '1' });
  try {
    const n = 180;
    for (const name of ['burst_a', 'burst_b']) {
      const add = Array.from({ length: n }, () => ({ visitorId: vid() }));
      assert.equal((await members(worker, name, { add }, server)).status, 202);
    }
    await until(async () => {
      const a = await audiences();
      return a.burst_a?.cookieMembers.length === n && a.burst_b?.cookieMembers.length === n;
    }, 60000);
    const log = await amazon.get('/__emulator/requests');
    const dp = log.filter((q) => q.headers['amazon-advertising-api-scope'] === PROFILE);
    assert.ok(dp.length >= 2 * n, `${dp.length} calls`);
    const perSecond = {};
    for (const q of dp) perSecond[q.at.slice(0, 19)] = (perSecond[q.at.slice(0, 19)] ?? 0) + 1;
    const busiest = Math.max(...Object.values(perSecond));
    t.diagnostic(`${dp.length} Data Provider calls; per second: ${JSON.stringify(Object.values(perSecond))}`);
    assert.ok(busiest <= 100, `${busiest} calls in one second`);
    assert.ok(Object.keys(perSecond).length >= 4, 'the burst was spread over seconds');
  } finally {
    await worker.stop();
  }
});

test('an integration with cookie audiences and cookie-sync settings: the snippet carries them, and its site adds cookies', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { FLUSH_SECONDS: '1' });
  try {
    const install = {
      name: 'Shop', allowed_origins: [ORIGIN],
      config: { advertiser_id: 'ENTITY1MATCHKEYDEMO', region: 'NA', amc_advertiser_id: '583000000000001', audience_api: 'dp', profile_id: PROFILE,
        cookie_sync: { partner_code: 'mk_partner', match_url: amazon.url } },
      audiences: [{ name: 'seen', match_method: 'cookie' }, 'news'],
    };
    const refused = await worker.request('/v1/admin/integrations', { method: 'POST', headers: admin,
      body: JSON.stringify({ ...install, config: { ...install.config, audience_api: 'amc' } }) });
    const why = await refused.json();
    assert.equal(refused.status, 400);
    assert.ok(why.fields.some((f) => f.field === 'audiences[0].match_method' && f.reason === 'cookie_matching_needs_audience_api_dp'), JSON.stringify(why));
    const r = await worker.request('/v1/admin/integrations', { method: 'POST', headers: admin, body: JSON.stringify(install) });
    assert.equal(r.status, 201);
    const created = await r.json();
    assert.ok(created.snippet.includes(`"cookieSync":{"matchUrl":"${amazon.url}/ecm3","partnerCode":"mk_partner","periodHours":24}`) ||
      created.snippet.includes(`"cookieSync":{"partnerCode":"mk_partner","periodHours":24,"matchUrl":"${amazon.url}/ecm3"}`), created.snippet);
    const id = vid();
    const site = { origin: ORIGIN, 'x-matchkey-site-key': created.site_key };
    assert.equal((await members(worker, 'seen', { add: [{ visitorId: id }] }, site)).status, 202);
    const news = await members(worker, 'news', { add: [{ visitorId: id }] }, site);
    assert.equal((await news.json()).rejected[0].reason, 'visitor_id_not_accepted');
    await until(async () => (await audiences()).seen?.cookieMembers[0] === id, 20000);
  } finally {
    await worker.stop();
  }
});

test('cookie patches and erasures keep their work through 429 and 5xx, and log the retries', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...DP, BACKOFF_BASE_MS: '50' });
  try {
    const id = vid();
    await amazon.control('/__emulator/faults', { endpoint: 'dpAudience', kind: 'status', status: 429, retryAfter: 1, count: 1 });
    await amazon.control('/__emulator/faults', { endpoint: 'dpUsers', kind: 'status', status: 503, count: 1 });
    await members(worker, 'seen', { add: [{ visitorId: id }] }, browser);
    await until(async () => (await audiences()).seen?.cookieMembers[0] === id, 20000);
    await erase(worker, { visitorIds: [id] }, browser);
    await until(async () => (await amazon.get('/__emulator/erasures')).length === 1, 20000);
    assert.deepEqual((await audiences()).seen.cookieMembers, []);
    const log = await (await worker.request('/v1/deliveries', { headers: admin })).json();
    const outcomes = log.deliveries.map((d) => `${d.status}:${d.amazon_code ?? d.code ?? ''}`);
    assert.ok(outcomes.some((o) => o.startsWith('retry:HTTP_429')), outcomes.join());
    assert.ok(outcomes.some((o) => o.startsWith('retry:HTTP_503')), outcomes.join());
    assert.ok(outcomes.some((o) => o.startsWith('audience_cookies_submitted')), outcomes.join());
    assert.ok(outcomes.some((o) => o.startsWith('erasure_submitted')), outcomes.join());
    const stats = await (await worker.request('/v1/erasure', { headers: admin })).json();
    assert.deepEqual([stats.counters.accepted, stats.counters.sent, stats.pending, stats.balanced], [1, 1, 0, true]);
  } finally {
    await worker.stop();
  }
});

test('an erasure withdraws a pending add of the visitor id from the cookie audiences', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...DP, FLUSH_SECONDS: '300' });
  try {
    const id = vid();
    await members(worker, 'seen', { add: [{ visitorId: id }] }, browser);
    const r = await erase(worker, { visitorIds: [id] }, browser);
    assert.equal(r.status, 202);
    const flushed = await worker.request('/v1/audiences/seen/flush', { method: 'POST', headers: admin });
    assert.equal(flushed.status, 200);
    await until(async () => (await amazon.get('/__emulator/requests?endpoint=dpAudience')).length === 1, 20000);
    const [patch] = (await amazon.get('/__emulator/requests?endpoint=dpAudience'))[0].body.patches;
    assert.deepEqual([patch.op, patch.path], ['remove', `/COOKIE-${id}/audiences`], 'the last intent is the removal');
    assert.deepEqual((await audiences()).seen.cookieMembers, []);
  } finally {
    await worker.stop();
  }
});

test('an erasure Amazon refuses reaches the dead letters with its code, never dropped; erasures go one a second', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, DP);
  try {
    const [a, b] = [vid(), vid()];
    await amazon.control('/__emulator/faults', { endpoint: 'dpUsers', kind: 'status', status: 400, count: 1 });
    let r = await erase(worker, { visitorIds: [a] }, server);
    assert.equal(r.status, 202);
    const listing = async () => (await worker.request('/v1/deliveries', { headers: admin })).json();
    await until(async () => (await listing()).deadLetters.some((d) => d.kind === 'erasure'), 20000);
    const [dead] = (await listing()).deadLetters.filter((d) => d.kind === 'erasure');
    assert.deepEqual([dead.http_status, dead.reason], [400, 'BAD_REQUEST']);
    assert.ok(!JSON.stringify(await listing()).includes(a), 'an id in the listing');
    // Kept to be sent again: the row holds who.
    const db = await worker.mf.getD1Database('DB');
    const rows = (await db.prepare("SELECT event FROM dead_letters WHERE kind = 'erasure'").all()).results;
    assert.deepEqual(rows.map((row) => JSON.parse(row.event).user), [`COOKIE:${a}`]);
    // The next erasure goes through; the accounting shows both.
    r = await erase(worker, { visitorIds: [b] }, server);
    assert.equal(r.status, 202);
    await until(async () => (await amazon.get('/__emulator/erasures')).length === 1, 20000);
    const stats = await (await worker.request('/v1/erasure', { headers: admin })).json();
    assert.deepEqual([stats.counters.accepted, stats.counters.sent, stats.counters.deadLettered, stats.pending], [2, 1, 1, 0]);
    assert.equal(stats.balanced, true);
    // Paced at Amazon's 1 request a second: the two calls are at least a second apart.
    const calls = await amazon.get('/__emulator/requests?endpoint=dpUsers');
    assert.equal(calls.length, 2);
    assert.ok(Date.parse(calls[1].at) - Date.parse(calls[0].at) >= 990, `${calls[0].at} ${calls[1].at}`);
  } finally {
    await worker.stop();
  }
});
