// One Worker, two advertisers, several people: each person reaches only what they were
// given, and one advertiser's accepted work never reaches the other's account. workerd
// (Miniflare) against the emulator, with grants limited to one advertiser each, so an
// event sent with the wrong grant would show under the wrong account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, startWorker, until, ADMIN_KEY } from './harness.mjs';

const CLIENT = { clientId: 'amzn1.application-oa2-client.matchkey-demo', clientSecret: 'matchkey-demo-secret' };
const ONE = 'ENTITY1MATCHKEYDEMO';
const TWO = 'ENTITY2MATCHKEYTWO';
const TOKEN_ONE = 'Atzr|first-advertiser-only';
const TOKEN_TWO = 'Atzr|second-advertiser-only';
const EMAIL = 'a'.repeat(64);
const OWN = 'http://worker.test';

let amazon;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mk-tenants-'));
  const config = {
    // Short-lived access tokens: every delivery refreshes, so a revocation shows at once.
    tokenTtlSecs: 5,
    clients: [{ ...CLIENT, allowedReturnUrls: [`${OWN}/v1/connect/callback`] }],
    refreshTokens: [
      { token: TOKEN_ONE, clientId: CLIENT.clientId, advertisers: [ONE] },
      { token: TOKEN_TWO, clientId: CLIENT.clientId, advertisers: [TWO] },
    ],
    advertisers: [
      { accountId: ONE, region: 'NA', profileId: 1234567890, numericId: 583000000000001 },
      { accountId: TWO, region: 'NA', profileId: 2222222222, numericId: 583000000000002, name: 'Second Shop' },
    ],
  };
  writeFileSync(join(dir, 'amazon.json'), JSON.stringify(config));
  amazon = await startEmulator(['--config', join(dir, 'amazon.json')]);
});
after(() => {
  amazon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const vars = (extra = {}) => ({ ADVERTISER_ID: '', SITE_KEYS: '', ALLOWED_ORIGINS: '', LWA_REFRESH_TOKEN: '', ...extra });

async function call(worker, path, { method = 'GET', body, bearer = ADMIN_KEY, session, headers = {} } = {}) {
  const h = { ...headers };
  if (session) {
    h.cookie = `__Host-mk_session=${session.token}`;
    if (method !== 'GET') { h.origin = OWN; h['x-csrf-token'] = session.csrf; }
  } else if (bearer) {
    h.authorization = `Bearer ${bearer}`;
  }
  const init = { method, headers: h };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await worker.request(path, init);
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, body: json, text, headers: r.headers };
}

async function signIn(worker, key) {
  const r = await call(worker, '/v1/admin/session', { method: 'POST', body: { key }, bearer: null });
  if (r.status !== 201) return { status: r.status, error: r.body?.error };
  const token = r.headers.get('set-cookie').match(/__Host-mk_session=([0-9a-f]{64})/)[1];
  return { status: 201, token, csrf: r.body.csrf, id: r.body.session };
}

/** Two connections (one grant per advertiser) and an integration on each. */
async function twoAdvertisers(worker, extra = {}) {
  const one = await call(worker, '/v1/admin/connections', { method: 'POST', body: { region: 'NA', refresh_token: TOKEN_ONE } });
  const two = await call(worker, '/v1/admin/connections', { method: 'POST', body: { region: 'NA', refresh_token: TOKEN_TWO } });
  assert.equal(one.status, 201, one.text);
  assert.equal(two.status, 201, two.text);
  const body = (name, conn, advertiser, origin) => ({
    name, variant: 'events', connection_id: conn, delivery_mode: 'server_side',
    config: { advertiser_id: advertiser, region: 'NA', ...extra[name] }, allowed_origins: [origin],
  });
  const a = await call(worker, '/v1/admin/integrations', { method: 'POST', body: body('A', one.body.id, ONE, 'https://one.example') });
  const b = await call(worker, '/v1/admin/integrations', { method: 'POST', body: body('B', two.body.id, TWO, 'https://two.example') });
  assert.equal(a.status, 201, a.text);
  assert.equal(b.status, 201, b.text);
  return { a: a.body, b: b.body, connOne: one.body.id, connTwo: two.body.id, body };
}

const browser = (worker, integration, origin, ids) => worker.request(`/v1/events?siteKey=${integration.site_key}`, {
  method: 'POST', headers: { origin, 'content-type': 'text/plain' },
  body: JSON.stringify({ events: ids.map((id) => ({ name: 'purchase', eventId: id, country: 'US', matchKeys: { EMAIL } })) }),
});

const received = async (account) => (await amazon.get(`/__emulator/events?accountId=${account}`)).map((e) => e.event.eventId);

test('roles and scopes: an operator of A reaches only A, only admins invite, revoking cascades', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, vars());
  try {
    const { a, b } = await twoAdvertisers(worker);
    const admin = await signIn(worker, ADMIN_KEY);
    assert.equal(admin.status, 201);

    const olive = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'Olive', role: 'operator', integrations: [a.id] } });
    assert.equal(olive.status, 201, olive.text);
    assert.deepEqual([olive.body.role, olive.body.integrations], ['operator', [a.id]]);
    // Unknown integrations and roles are refused by field, never echoed.
    const bad = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'X', role: 'root', integrations: ['int_nope'] } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields.map((f) => `${f.field}:${f.reason}`), ['role:invalid', 'integrations[0]:unknown_integration']);

    const s = await signIn(worker, olive.body.sign_in_key);
    assert.equal(s.status, 201);
    const as = (path, opts = {}) => call(worker, path, { ...opts, session: s });
    const who = await as('/v1/admin/session');
    assert.deepEqual([who.body.user.role, who.body.user.integrations], ['operator', [a.id]]);

    // Everything the issue did with her session, refused; A's own work allowed.
    const refused = [
      ['POST', '/v1/admin/users', { name: 'Mallory' }, 'role_not_allowed'],
      ['POST', `/v1/admin/integrations/${b.id}/ingest-secret`, undefined, 'role_not_allowed'],
      ['POST', `/v1/admin/integrations/${a.id}/ingest-secret`, undefined, 'role_not_allowed'],
      ['POST', `/v1/admin/integrations/${b.id}/disable`, undefined, 'integration_not_allowed'],
      ['POST', `/v1/admin/sessions/${admin.id}/revoke`, undefined, 'role_not_allowed'],
      ['POST', '/v1/admin/sessions/revoke-all', undefined, 'role_not_allowed'],
      ['GET', `/v1/health?integration=${b.id}`, undefined, 'integration_not_allowed'],
      ['GET', `/v1/deliveries?integration=${b.id}`, undefined, 'integration_not_allowed'],
      ['POST', `/v1/replay?integration=${b.id}`, undefined, 'integration_not_allowed'],
      ['GET', `/v1/admin/integrations/${b.id}`, undefined, 'integration_not_allowed'],
      ['GET', `/v1/admin/integrations/${b.id}/live`, undefined, 'integration_not_allowed'],
      ['GET', '/v1/admin/connections', undefined, 'role_not_allowed'],
      ['POST', '/v1/connect/start', {}, 'role_not_allowed'],
      ['GET', '/v1/admin/check', undefined, 'role_not_allowed'],
      ['GET', '/v1/admin/audit', undefined, 'role_not_allowed'],
    ];
    for (const [method, path, body, code] of refused) {
      const r = await as(path, { method, body });
      assert.deepEqual([r.status, r.body?.error], [403, code], `${method} ${path}`);
    }
    // Lists show only her integration.
    const list = await as('/v1/admin/integrations');
    assert.deepEqual(list.body.integrations.map((i) => i.id), [a.id]);
    const deliveries = await as('/v1/deliveries');
    assert.deepEqual(Object.keys(deliveries.body.accounting), [a.id]);
    assert.equal((await as(`/v1/health?integration=${a.id}`)).status, 200);
    // An edit of A that keeps its target is hers; moving A to B's account is an admin's.
    const edited = await as(`/v1/admin/integrations/${a.id}`, { method: 'PUT', body: {
      name: 'A renamed', variant: 'events', connection_id: a.connection_id, delivery_mode: 'server_side',
      config: { advertiser_id: ONE, region: 'NA' }, allowed_origins: ['https://one.example'],
    } });
    assert.equal(edited.status, 200, edited.text);
    const moved = await as(`/v1/admin/integrations/${a.id}`, { method: 'PUT', body: {
      name: 'A', variant: 'events', connection_id: b.connection_id, delivery_mode: 'server_side',
      config: { advertiser_id: TWO, region: 'NA' }, allowed_origins: ['https://one.example'],
    } });
    assert.deepEqual([moved.status, moved.body.error], [403, 'target_needs_admin']);
    assert.equal((await as(`/v1/admin/integrations/${a.id}/disable`, { method: 'POST' })).status, 200);
    assert.equal((await as(`/v1/admin/integrations/${a.id}/enable`, { method: 'POST' })).status, 200);
    // B was never touched: its servers still get in with their secret.
    const bServer = await worker.request('/v1/events', { method: 'POST', headers: { authorization: `Bearer ${b.ingest_secret}` },
      body: JSON.stringify({ name: 'purchase', eventId: 'b1', country: 'US', matchKeys: { EMAIL: 'x@example.com' } }) });
    assert.equal(bServer.status, 202);

    // A viewer reads and changes nothing.
    const vera = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'Vera', integrations: [a.id] } });
    assert.equal(vera.body.role, 'viewer', 'without a role: the least');
    const v = await signIn(worker, vera.body.sign_in_key);
    assert.equal((await call(worker, `/v1/health?integration=${a.id}`, { session: v })).status, 200);
    assert.equal((await call(worker, `/v1/flush?integration=${a.id}`, { method: 'POST', session: v })).status, 403);

    // Revoking an admin revokes the people they invited, and theirs.
    const ivy = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'Ivy', role: 'admin' } });
    const ivyS = await signIn(worker, ivy.body.sign_in_key);
    const pat = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'Pat', role: 'operator', integrations: [a.id] }, session: ivyS });
    assert.equal(pat.status, 201, pat.text);
    const patS = await signIn(worker, pat.body.sign_in_key);
    assert.equal(patS.status, 201);
    const revoked = await call(worker, `/v1/admin/users/${ivy.body.id}/revoke`, { method: 'POST' });
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual(revoked.body.revokedWithThem, [pat.body.id]);
    assert.equal((await signIn(worker, pat.body.sign_in_key)).status, 401, "the key Ivy handed out no longer signs in");
    assert.equal((await call(worker, '/v1/admin/session', { session: patS })).status, 401, 'and its session is over');
    assert.equal((await call(worker, '/v1/admin/session', { session: s })).status, 200, 'people the admin key invited stay');

    // Denied changes are audited too, by who tried.
    const audit = await call(worker, '/v1/admin/audit');
    assert.ok(audit.body.audit.some((r) => r.actor_name === 'Olive' && r.action === 'integration.new_ingest_secret' && r.status === 403), audit.text);
    assert.doesNotMatch(audit.text, /mk_ck_|mk_is_/);

    // Sign out everyone: every session ends, the caller's too.
    const all = await call(worker, '/v1/admin/sessions/revoke-all', { method: 'POST', session: admin });
    assert.equal(all.status, 200, all.text);
    for (const session of [admin, s, v]) {
      assert.equal((await call(worker, '/v1/admin/session', { session })).status, 401);
    }
  } finally {
    await worker.stop();
  }
});

test('a rotated ADMIN_KEY ends the sessions it opened', async () => {
  const persist = mkdtempSync(join(tmpdir(), 'mk-tenants-persist-'));
  try {
    let worker = await startWorker(amazon.url, vars(), { persist });
    const session = await signIn(worker, ADMIN_KEY);
    assert.equal(session.status, 201);
    await worker.stop();
    // The same key after a restart: the session lives on.
    worker = await startWorker(amazon.url, vars(), { persist });
    assert.equal((await call(worker, '/v1/admin/session', { session })).status, 200);
    await worker.stop();
    // Rotated: the old key's cookie can do nothing, not even invite.
    worker = await startWorker(amazon.url, vars({ ADMIN_KEY: 'rotated-admin-key' }), { persist });
    try {
      assert.equal((await call(worker, '/v1/admin/session', { session })).status, 401);
      const invite = await call(worker, '/v1/admin/users', { method: 'POST', body: { name: 'M', role: 'admin' }, session });
      assert.deepEqual([invite.status, invite.body.error], [401, 'session_expired']);
      assert.equal((await call(worker, '/v1/admin/session', { bearer: ADMIN_KEY })).status, 401);
      assert.equal((await call(worker, '/v1/admin/session', { bearer: 'rotated-admin-key' })).status, 200);
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});

test("editing A to B's advertiser never sends A's accepted events to B", async () => {
  await amazon.control('/__emulator/reset');
  // A long flush window: what A accepted is still waiting when the edit comes.
  const worker = await startWorker(amazon.url, vars({ FLUSH_SECONDS: '600' }));
  try {
    const { a, b, connOne, connTwo, body } = await twoAdvertisers(worker);
    assert.equal((await browser(worker, a, 'https://one.example', ['a1', 'a2', 'a3'])).status, 202);
    const toB = body('A', connTwo, TWO, 'https://one.example');

    // The edit is refused while A's events wait, and says how many.
    const refused = await call(worker, `/v1/admin/integrations/${a.id}`, { method: 'PUT', body: toB });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.error, 'pending_work');
    assert.equal(refused.body.pending.events, 3);

    // The edit lands anyway behind the admin API's back (another isolate, an older
    // copy): D1 now points A at B's advertiser and grant while A's events wait.
    const db = await worker.mf.getD1Database('DB');
    const row = await db.prepare('SELECT body FROM integrations WHERE id = ?1').bind(a.id).first();
    const stored = JSON.parse(row.body);
    stored.connection_id = connTwo;
    stored.config.advertiser_id = TWO;
    await db.prepare('UPDATE integrations SET body = ?2, connection_id = ?3 WHERE id = ?1').bind(a.id, JSON.stringify(stored), connTwo).run();
    // Reading the list makes this isolate read D1 afresh.
    assert.equal((await call(worker, '/v1/admin/integrations')).status, 200);

    // New events for A now target B: refused until A's own have left (nothing lost:
    // 503 with Retry-After, which the tag and servers retry).
    const meanwhile = await browser(worker, a, 'https://one.example', ['a4']);
    assert.equal(meanwhile.status, 503);
    assert.equal((await meanwhile.json()).error, 'target_draining');
    assert.ok(Number(meanwhile.headers.get('retry-after')) > 0);

    // Flushed: A's three are dead-lettered under A's advertiser, never sent to B.
    assert.equal((await call(worker, `/v1/flush?integration=${a.id}`, { method: 'POST' })).status, 200);
    let log;
    await until(async () => {
      log = await call(worker, `/v1/deliveries?integration=${a.id}`);
      return log.body.deadLetters.length === 3;
    }, 30000);
    assert.ok(log.body.deadLetters.every((d) => d.advertiser === ONE && d.reason === 'target_changed'), log.text);
    const acc = log.body.accounting[a.id];
    assert.deepEqual([acc.accepted, acc.deadLettered, acc.pending], [3, 3, 0]);
    assert.deepEqual(await received(TWO), [], "none of A's events reached B's account");

    // Replay takes only dead letters of the integration's target now: none under B.
    const none = await call(worker, `/v1/replay?integration=${a.id}`, { method: 'POST' });
    assert.deepEqual([none.status, none.body.replayed], [202, 0]);

    // The queue is empty now: A's new events go to B, as the edit says.
    assert.equal((await browser(worker, a, 'https://one.example', ['a5'])).status, 202);
    assert.equal((await call(worker, `/v1/flush?integration=${a.id}`, { method: 'POST' })).status, 200);
    await until(async () => (await received(TWO)).includes('a5'), 30000);

    // Pointed back at A (nothing pending, so the admin API allows it), the dead
    // letters go home to A's account.
    await until(async () => (await call(worker, `/v1/health?integration=${a.id}`)).body.queueBacklog === 0, 30000);
    const back = await call(worker, `/v1/admin/integrations/${a.id}`, { method: 'PUT', body: body('A', connOne, ONE, 'https://one.example') });
    assert.equal(back.status, 200, back.text);
    const home = await call(worker, `/v1/replay?integration=${a.id}`, { method: 'POST' });
    assert.deepEqual([home.status, home.body.replayed], [202, 3]);
    assert.equal((await call(worker, `/v1/flush?integration=${a.id}`, { method: 'POST' })).status, 200);
    await until(async () => (await received(ONE)).length === 3, 30000);
    assert.deepEqual((await received(ONE)).sort(), ['a1', 'a2', 'a3']);
    assert.deepEqual(await received(TWO), ['a5'], "B's account holds only what was accepted for it");
    assert.equal((await call(worker, `/v1/admin/integrations/${b.id}`)).status, 200);
  } finally {
    await worker.stop();
  }
});

test("editing A to B's advertiser never sends A's pending audience changes or erasures to B", async () => {
  await amazon.control('/__emulator/reset');
  // A long flush window: what A accepted is still waiting when the edit comes.
  const worker = await startWorker(amazon.url, vars({ FLUSH_SECONDS: '600' }));
  try {
    const { a, connTwo } = await twoAdvertisers(worker, {
      A: { audience_api: 'dp', profile_id: '1234567890', amc_advertiser_id: '583000000000001' },
    });
    const server = (path, body) => worker.request(path, { method: 'POST', headers: { authorization: `Bearer ${a.ingest_secret}` }, body: JSON.stringify(body) });
    const [joined, erased] = ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'];
    let r = await server('/v1/audiences/crm/members', { add: [{ visitorId: joined }] });
    assert.equal(r.status, 202, await r.text());
    r = await server('/v1/erasure', { visitorIds: [erased] });
    assert.equal(r.status, 202, await r.text());

    // The edit lands behind the admin API's back (another isolate's older copy): D1
    // now points A at B's advertiser, grant and profile while A's work waits.
    const db = await worker.mf.getD1Database('DB');
    const row = await db.prepare('SELECT body FROM integrations WHERE id = ?1').bind(a.id).first();
    const stored = JSON.parse(row.body);
    stored.connection_id = connTwo;
    Object.assign(stored.config, { advertiser_id: TWO, profile_id: '2222222222', amc_advertiser_id: '583000000000002' });
    await db.prepare('UPDATE integrations SET body = ?2, connection_id = ?3 WHERE id = ?1').bind(a.id, JSON.stringify(stored), connTwo).run();
    assert.equal((await call(worker, '/v1/admin/integrations')).status, 200);

    // New work for A now targets B: refused until A's own has left, nothing lost.
    for (const [path, body] of [['/v1/audiences/crm/members', { add: [{ visitorId: 'aaaabbbbccccdddd0000111122223333' }] }], ['/v1/erasure', { visitorIds: ['99998888777766665555444433332222'] }]]) {
      const meanwhile = await server(path, body);
      assert.equal(meanwhile.status, 503, path);
      assert.equal((await meanwhile.json()).error, 'target_draining', path);
      assert.ok(Number(meanwhile.headers.get('retry-after')) > 0, path);
    }

    // Flushed: A's change and erasure are dead-lettered under A's advertiser.
    assert.equal((await call(worker, `/v1/audiences/crm/flush?integration=${a.id}`, { method: 'POST' })).status, 200);
    assert.equal((await call(worker, `/v1/flush?integration=${a.id}`, { method: 'POST' })).status, 200);
    let log;
    await until(async () => {
      log = await call(worker, `/v1/deliveries?integration=${a.id}`);
      return log.body.deadLetters.length === 2;
    }, 30000);
    assert.deepEqual(log.body.deadLetters.map((d) => d.kind).sort(), ['audience', 'erasure'], log.text);
    assert.ok(log.body.deadLetters.every((d) => d.advertiser === ONE && d.reason === 'target_changed'), log.text);
    const rows = (await db.prepare("SELECT DISTINCT target FROM dead_letters WHERE kind IN ('audience', 'erasure')").all()).results;
    assert.equal(rows.length, 1);
    assert.match(rows[0].target, /^[0-9a-f]{16}$/);

    // Nothing of A's reached B's account (nor anyone's): no audience holds the
    // visitor, no erasure was made, no Data Provider call carried either id.
    const audiences = await amazon.get('/__emulator/audiences');
    assert.ok(audiences.every((x) => !x.cookieMembers.includes(joined)), JSON.stringify(audiences));
    assert.deepEqual(await amazon.get('/__emulator/erasures'), []);
    const calls = JSON.stringify([...await amazon.get('/__emulator/requests?endpoint=dpAudience'), ...await amazon.get('/__emulator/requests?endpoint=dpUsers')]);
    assert.ok(!calls.includes(joined) && !calls.includes(erased), calls);

    // Both queues are empty now: A's new work goes to B, as the edit says.
    r = await server('/v1/erasure', { visitorIds: ['99998888777766665555444433332222'] });
    assert.equal(r.status, 202, await r.text());
  } finally {
    await worker.stop();
  }
});

test('failed secrets: compared first, counted per kind, never locking out a correct secret', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, vars());
  try {
    const { a } = await twoAdvertisers(worker);
    const ip = { 'cf-connecting-ip': '203.0.113.9' };
    // Twelve wrong console sign-ins from one address: that guard answers 429 at last…
    const codes = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(worker, '/v1/admin/session', { method: 'POST', body: { key: `wrong-${i}` }, bearer: null, headers: ip });
      codes.push(r.status);
    }
    assert.deepEqual(codes.slice(0, 10), Array(10).fill(401));
    assert.equal(codes[11], 429);
    // …but the servers there still get in with their ingest secret, and the right
    // sign-in key from there still signs in.
    const server = await worker.request('/v1/events', { method: 'POST', headers: { ...ip, authorization: `Bearer ${a.ingest_secret}` },
      body: JSON.stringify({ name: 'purchase', eventId: 's1', country: 'US', matchKeys: { EMAIL: 'x@example.com' } }) });
    assert.equal(server.status, 202);
    const right = await call(worker, '/v1/admin/session', { method: 'POST', body: { key: ADMIN_KEY }, bearer: null, headers: ip });
    assert.equal(right.status, 201);
    // Wrong ingest secrets from there are counted apart, and do not lock A's servers out.
    for (let i = 0; i < 12; i++) {
      await worker.request('/v1/events', { method: 'POST', headers: { ...ip, authorization: `Bearer mk_is_wrong${i}` }, body: '{}' });
    }
    const still = await worker.request('/v1/events', { method: 'POST', headers: { ...ip, authorization: `Bearer ${a.ingest_secret}` },
      body: JSON.stringify({ name: 'purchase', eventId: 's2', country: 'US', matchKeys: { EMAIL: 'x@example.com' } }) });
    assert.equal(still.status, 202);
    const admin = await call(worker, '/v1/admin/integrations', { headers: ip });
    assert.equal(admin.status, 200, 'the admin key is its own kind');
    // Failed sign-ins are in the audit log, by nobody and without the key tried.
    const audit = await call(worker, '/v1/admin/audit?limit=50');
    assert.ok(audit.body.audit.filter((r) => r.action === 'session.sign_in' && r.status === 401).length >= 10);
    assert.doesNotMatch(audit.text, /wrong-/);
  } finally {
    await worker.stop();
  }
});

test("public /healthz is degraded while any integration needs re-authorization, whatever another's deliveries say", async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, vars({ FLUSH_SECONDS: '1' }));
  try {
    const { a, b } = await twoAdvertisers(worker);
    const server = (integration, id) => worker.request('/v1/events', { method: 'POST', headers: { authorization: `Bearer ${integration.ingest_secret}` },
      body: JSON.stringify({ name: 'purchase', eventId: id, country: 'US', matchKeys: { EMAIL: 'x@example.com' } }) });
    assert.equal((await server(b, 'h2')).status, 202);
    await until(async () => (await received(TWO)).length === 1, 30000);
    assert.equal((await worker.request('/healthz')).status, 200);
    // B's grant is revoked: B needs re-authorization, and /healthz says so.
    await amazon.control('/__emulator/revoke', { refreshToken: TOKEN_TWO });
    assert.equal((await server(b, 'h3')).status, 202);
    await until(async () => (await worker.request('/healthz')).status === 503, 30000);
    // A's first delivery succeeds (and writes its summary); B still needs its grant,
    // so /healthz stays degraded.
    assert.equal((await server(a, 'h4')).status, 202);
    await until(async () => (await received(ONE)).length === 1, 30000);
    await until(async () => (await call(worker, `/v1/health?integration=${a.id}`)).body.lastSuccessAt !== null, 30000);
    const r = await worker.request('/healthz');
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: 'degraded' }, 'nothing else: not which integration');
  } finally {
    await worker.stop();
  }
});

test('browser audiences are bounded: a few identities a request, and a pending cap per audience', async () => {
  await amazon.control('/__emulator/reset');
  // The vars' default integration, with a browser audience and a small cap.
  const worker = await startWorker(amazon.url, { BROWSER_AUDIENCES: 'news', MAX_BACKLOG: '12', FLUSH_SECONDS: '600' });
  try {
    const digest = (i) => i.toString(16).padStart(64, '0');
    const join = (from, n) => worker.request('/v1/audiences/news/members?siteKey=site-1', {
      method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
      body: JSON.stringify({ country: 'US', add: Array.from({ length: n }, (_, i) => ({ matchKeys: { EMAIL: digest(from + i) } })) }),
    });
    // The flood: thousands of members in one public request.
    const flood = await join(0, 5000);
    assert.equal(flood.status, 413);
    assert.equal((await flood.json()).error, 'too_many_members');
    assert.equal((await join(0, 11)).status, 413);
    const ten = await join(0, 10);
    assert.equal(ten.status, 202);
    assert.equal((await ten.json()).accepted, 10);
    // Past the audience's pending cap: 503 with Retry-After, nothing taken.
    const full = await join(100, 3);
    assert.equal(full.status, 503);
    assert.ok(Number(full.headers.get('retry-after')) > 0);
    // The same people again are no new backlog: taken.
    assert.equal((await join(0, 2)).status, 202);
    const stats = await call(worker, '/v1/admin/integrations/default/audiences');
    assert.equal(stats.body.audiences.find((a) => a.name === 'news').pending, 10);
  } finally {
    await worker.stop();
  }
});

test("the default integration's events are not stranded when ADVERTISER_ID is emptied: check says so, and they leave once it is back", async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'mk-tenants-default-'));
  const send = (worker, ids) => worker.request('/v1/events?siteKey=site-1', {
    method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'text/plain' },
    body: JSON.stringify({ events: ids.map((id) => ({ name: 'purchase', eventId: id, country: 'US', matchKeys: { EMAIL } })) }),
  });
  try {
    // The Worker's own grant (the default integration's) reaches advertiser one.
    let worker = await startWorker(amazon.url, { FLUSH_SECONDS: '600', LWA_REFRESH_TOKEN: TOKEN_ONE }, { persist });
    assert.equal((await send(worker, ['d1', 'd2'])).status, 202);
    await worker.stop();
    // As [env.production] has it: no default integration.
    worker = await startWorker(amazon.url, { ADVERTISER_ID: '', SITE_KEYS: '', ALLOWED_ORIGINS: '', FLUSH_SECONDS: '600' }, { persist });
    try {
      const check = await call(worker, '/v1/admin/check');
      const item = check.body.items.find((i) => i.id === 'integration.default');
      assert.equal(item?.status, 'fail', check.text);
      assert.match(item.fix, /ADVERTISER_ID=ENTITY1MATCHKEYDEMO/);
      assert.equal(check.body.ok, false);
      const flush = await call(worker, '/v1/flush', { method: 'POST' });
      assert.deepEqual([flush.status, flush.body.error], [409, 'default_integration_not_configured']);
    } finally {
      await worker.stop();
    }
    // Set back: they leave.
    worker = await startWorker(amazon.url, { FLUSH_SECONDS: '600', LWA_REFRESH_TOKEN: TOKEN_ONE }, { persist });
    try {
      assert.equal((await call(worker, '/v1/flush', { method: 'POST' })).status, 200);
      await until(async () => (await received('ENTITY1MATCHKEYDEMO')).length === 2, 30000);
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});
