// One Worker, many advertisers: connecting Amazon accounts (the browser flow with state
// and PKCE, and `POST /v1/admin/connections`), integrations with their own advertiser,
// site, origins and grant, a revoked connection stopping only its own integrations,
// /v1/admin/check, and the cron trigger's webhook. workerd (Miniflare) against the
// emulator, configured with two advertisers and grants limited to one each, so an event
// sent with the wrong grant would be refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, startEmulator, startWorker, until, ADMIN_KEY, TEST_TOKEN_KEYS } from './harness.mjs';

const CLIENT = { clientId: 'amzn1.application-oa2-client.matchkey-demo', clientSecret: 'matchkey-demo-secret' };
const ONE = 'ENTITY1MATCHKEYDEMO';
const TWO = 'ENTITY2MATCHKEYTWO';
const TOKEN_ONE = 'Atzr|first-advertiser-only';
const TOKEN_TWO = 'Atzr|second-advertiser-only';
const CALLBACK = 'http://worker.test/v1/connect/callback';
const EMAIL = 'a'.repeat(64);

let amazon;
let dir;
let hook;
const posted = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mk-integrations-'));
  const config = {
    // Short-lived access tokens: every delivery refreshes, so a revocation shows at once.
    tokenTtlSecs: 5,
    clients: [{ ...CLIENT, allowedReturnUrls: [CALLBACK, 'http://localhost:*/callback'] }],
    refreshTokens: [
      { token: TOKEN_ONE, clientId: CLIENT.clientId, advertisers: [ONE] },
      { token: TOKEN_TWO, clientId: CLIENT.clientId, advertisers: [TWO] },
    ],
    advertisers: [
      { accountId: ONE, region: 'NA', profileId: 1234567890, numericId: 583000000000001 },
      { accountId: TWO, region: 'NA', profileId: 2222222222, name: 'Second Shop' },
    ],
  };
  writeFileSync(join(dir, 'amazon.json'), JSON.stringify(config));
  amazon = await startEmulator(['--config', join(dir, 'amazon.json')]);
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { posted.push({ auth: req.headers.authorization, body: JSON.parse(body) }); res.end('ok'); });
  });
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve));
});
after(() => {
  amazon?.stop();
  hook?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function workerVars() {
  return {
    // No default integration: only stored ones serve.
    ADVERTISER_ID: '', SITE_KEYS: '', ALLOWED_ORIGINS: '', LWA_REFRESH_TOKEN: '',
    LWA_AUTH_URL: `${amazon.url}/ap/oa`,
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${hook.address().port}/hook`,
    ALERT_WEBHOOK_SECRET: 'hook-secret',
  };
}

async function adminCall(worker, path, method = 'GET', body) {
  const init = { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await worker.request(path, init);
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, body: json, text };
}

/** Starts a connection; answers the authorization URL and its state. */
async function start(worker) {
  const r = await adminCall(worker, '/v1/connect/start', 'POST', { region: 'NA', label: 'Acme' });
  assert.equal(r.status, 201, r.text);
  const url = new URL(r.body.authorization_url);
  assert.equal(url.origin + url.pathname, `${amazon.url}/ap/oa`);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(url.searchParams.get('redirect_uri'), CALLBACK);
  return { url: r.body.authorization_url, state: url.searchParams.get('state') };
}

/** What the consent page redirects to (the callback with code and state). */
async function consent(url) {
  const r = await fetch(url, { redirect: 'manual' });
  assert.ok([302, 303].includes(r.status), `consent page answered ${r.status}`);
  const back = new URL(r.headers.get('location'));
  assert.equal(back.origin + back.pathname, CALLBACK);
  return { code: back.searchParams.get('code'), state: back.searchParams.get('state'), path: back.pathname + back.search };
}

async function callback(worker, code, state) {
  const r = await worker.request(`/v1/connect/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`);
  return { status: r.status, text: await r.text(), csp: r.headers.get('content-security-policy') };
}

test('connecting in the browser: state and PKCE single-use, tokens stored only sealed', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, workerVars());
  try {
    assert.equal((await worker.request('/v1/connect/start', { method: 'POST', body: '{}' })).status, 401);
    await amazon.control('/__emulator/authorize', { approve: true, accounts: [ONE] });
    const first = await start(worker);
    const back = await consent(first.url);
    assert.equal(back.state, first.state);

    // A tampered state is refused, and spends nothing.
    const tampered = await callback(worker, back.code, `x${back.state}`);
    assert.equal(tampered.status, 400);
    assert.match(tampered.text, /invalid_state/);
    assert.match(tampered.csp, /default-src 'none'/);

    const ok = await worker.request(back.path);
    const page = await ok.text();
    assert.equal(ok.status, 200, page);
    const id = page.match(/conn_[0-9a-f]+/)[0];
    assert.doesNotMatch(page, /Atzr|Atza/);
    // The page names the account the grant reaches, and the callback is audited.
    assert.match(page, /It reaches: .*<code>ENTITY1MATCHKEYDEMO<\/code>/, page);
    const audited = await adminCall(worker, '/v1/admin/audit');
    assert.ok(audited.body.audit.some((r) => r.action === 'connection.callback' && r.target === id && r.actor_id === 'callback'), audited.text);

    // The same callback again: the state was used.
    assert.match((await callback(worker, back.code, back.state)).text, /invalid_state/);
    // The code again, with a fresh state: Amazon refuses it (used, or not this verifier).
    const second = await start(worker);
    const reused = await callback(worker, back.code, second.state);
    assert.equal(reused.status, 400);
    assert.match(reused.text, /code_rejected|pkce_mismatch/);
    // A code issued for one verifier, exchanged with another state's verifier.
    const third = await start(worker);
    const thirdBack = await consent(third.url);
    const fourth = await start(worker);
    const mismatch = await callback(worker, thirdBack.code, fourth.state);
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.text, /pkce_mismatch/);

    // Listed with its state, never its token; stored only sealed.
    const list = await adminCall(worker, '/v1/admin/connections');
    assert.equal(list.status, 200);
    const conn = list.body.connections.find((c) => c.id === id);
    assert.equal(conn.token_state, 'ok');
    assert.equal(conn.region, 'NA');
    assert.doesNotMatch(list.text, /Atzr|Atza|refresh_token/);
    const db = await worker.mf.getD1Database('DB');
    const rows = (await db.prepare('SELECT refresh_token FROM connections').all()).results;
    assert.ok(rows.length >= 1);
    for (const row of rows) {
      assert.match(row.refresh_token, /^v1\.test\./);
      assert.doesNotMatch(row.refresh_token, /Atzr/);
    }
    const states = (await db.prepare('SELECT verifier FROM connect_states').all()).results;
    for (const s of states) assert.match(s.verifier, /^v1\.test\./);
    assert.doesNotMatch(worker.output(), /Atzr|Atza/);
  } finally {
    await worker.stop();
  }
});

test('two integrations deliver to their own advertisers with their own grants; a revoked grant stops only its own', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, { ...workerVars(), FLUSH_SECONDS: '1' });
  try {
    // Connections from `matchkey connect --worker`: checked with one refresh first.
    const refused = await adminCall(worker, '/v1/admin/connections', 'POST', { region: 'NA', refresh_token: 'Atzr|nobody' });
    assert.deepEqual([refused.status, refused.body.error], [400, 'invalid_grant']);
    const one = await adminCall(worker, '/v1/admin/connections', 'POST', { region: 'NA', refresh_token: TOKEN_ONE, label: 'one' });
    const two = await adminCall(worker, '/v1/admin/connections', 'POST', { region: 'NA', refresh_token: TOKEN_TWO, label: 'two' });
    assert.equal(one.status, 201, one.text);
    assert.equal(two.status, 201, two.text);
    assert.doesNotMatch(one.text + two.text, /Atzr/);

    // Field-level errors, never the values.
    const bad = await adminCall(worker, '/v1/admin/integrations', 'POST', {
      name: 'x', connection_id: 'conn_nope', config: { advertiser_id: 'bad id!', region: 'MARS' },
      allowed_origins: ['http://insecure.example'],
    });
    assert.equal(bad.status, 400);
    const fields = bad.body.fields.map((f) => `${f.field}:${f.reason}`);
    for (const f of ['connection_id:unknown_connection', 'config.advertiser_id:invalid', 'config.region:must_be_NA_EU_or_FE', 'allowed_origins[0]:invalid_origin']) {
      assert.ok(fields.includes(f), `${f} in ${fields}`);
    }
    assert.doesNotMatch(bad.text, /bad id!|MARS|insecure/);

    const install = async (name, connection, advertiser, origin, extra = {}) => {
      const r = await adminCall(worker, '/v1/admin/integrations', 'POST', {
        name, variant: 'events', connection_id: connection, delivery_mode: 'server_side',
        config: { advertiser_id: advertiser, region: 'NA', ...extra.config }, allowed_origins: [origin],
        event_map: { order_completed: 'OFF_AMAZON_PURCHASES' }, audiences: extra.audiences ?? [],
      });
      assert.equal(r.status, 201, r.text);
      assert.match(r.body.snippet, new RegExp(r.body.site_key));
      assert.match(r.body.snippet, /\(window,document,"\/pkg\/tag\.js"\);<\/script>/);
      assert.match(r.body.ingest_secret, /^mk_is_/);
      assert.equal(r.body.ingest_secret_sha256, undefined);
      return r.body;
    };
    const a = await install('Shop one', one.body.id, ONE, 'https://one.example',
      { config: { amc_advertiser_id: '583000000000001' }, audiences: ['newsletter'] });
    const b = await install('Shop two', two.body.id, TWO, 'https://two.example');
    const listed = await adminCall(worker, '/v1/admin/integrations');
    assert.deepEqual(listed.body.integrations.map((i) => i.id).sort(), [a.id, b.id].sort());
    assert.doesNotMatch(listed.text, /mk_is_/);

    const browser = (integration, origin, ids) => worker.request(`/v1/events?siteKey=${integration.site_key}`, {
      method: 'POST', headers: { origin, 'content-type': 'text/plain' },
      body: JSON.stringify({ events: ids.map((id) => ({ name: 'order_completed', eventId: id, country: 'US', matchKeys: { EMAIL } })) }),
    });
    const server = (integration, ids) => worker.request('/v1/events', {
      method: 'POST', headers: { authorization: `Bearer ${integration.ingest_secret}` },
      body: JSON.stringify({ events: ids.map((id) => ({ name: 'purchase', eventId: id, country: 'US', matchKeys: { EMAIL } })) }),
    });
    // A site key works only from its own site's origins.
    assert.equal((await browser(a, 'https://two.example', ['x'])).status, 403);
    const ra = await browser(a, 'https://one.example', ['a1', 'a2']);
    assert.equal(ra.status, 202);
    assert.equal(ra.headers.get('access-control-allow-origin'), 'https://one.example');
    assert.equal((await server(b, ['b1', 'b2', 'b3'])).status, 202);
    assert.equal((await server({ ingest_secret: 'mk_is_wrong' }, ['z'])).status, 401);

    // Audiences are the integration's too: A's visitors may join its newsletter, B's not.
    const join = (integration, origin) => worker.request(`/v1/audiences/newsletter/members?siteKey=${integration.site_key}`, {
      method: 'POST', headers: { origin, 'content-type': 'text/plain' },
      body: JSON.stringify({ country: 'US', add: [{ matchKeys: { EMAIL } }] }),
    });
    assert.equal((await join(b, 'https://two.example')).status, 403);
    assert.equal((await join(a, 'https://one.example')).status, 202);
    const flushed = await adminCall(worker, `/v1/audiences/newsletter/flush?integration=${a.id}`, 'POST');
    assert.equal(flushed.status, 200, flushed.text);
    await until(async () => {
      const list = await amazon.get('/__emulator/audiences');
      return (list.audiences ?? list).some((x) => x.accountId === ONE && x.members.length === 1);
    }, 30000);

    const accepted = async (account) => (await amazon.get(`/__emulator/events?accountId=${account}`)).map((e) => e.event.eventId ?? e.event.clientDedupeId ?? e.event.name);
    await until(async () => (await accepted(ONE)).length === 2 && (await accepted(TWO)).length === 3, 30000);
    const events = await amazon.get('/__emulator/events');
    const byAccount = (acc) => events.filter((e) => e.accountId === acc).length;
    assert.equal(byAccount(ONE), 2);
    assert.equal(byAccount(TWO), 3);
    // Each integration's own log and accounting.
    const logB = await adminCall(worker, `/v1/deliveries?integration=${b.id}`);
    assert.equal(logB.status, 200);
    assert.ok(logB.body.deliveries.every((d) => d.integration === b.id));
    assert.equal(logB.body.deliveries.filter((d) => d.status === 'delivered').reduce((n, d) => n + d.accepted, 0), 3);
    const acc = logB.body.accounting[b.id];
    assert.equal(acc.accepted, acc.delivered + acc.rejected + acc.deadLettered + acc.pending);

    // The second grant is revoked: its integration stops and says so; the first goes on.
    await amazon.control('/__emulator/revoke', { refreshToken: TOKEN_TWO });
    assert.equal((await server(b, ['b4'])).status, 202);
    assert.equal((await browser(a, 'https://one.example', ['a3'])).status, 202);
    await until(async () => (await accepted(ONE)).length === 3, 30000);
    await until(async () => {
      const list = (await adminCall(worker, '/v1/admin/connections')).body.connections;
      return list.find((c) => c.id === two.body.id).token_state === 'reconnect_needed';
    }, 30000);
    const conns = (await adminCall(worker, '/v1/admin/connections')).body.connections;
    assert.equal(conns.find((c) => c.id === one.body.id).token_state, 'ok');
    assert.equal((await accepted(TWO)).length, 3);
    const healthB = await adminCall(worker, `/v1/health?integration=${b.id}`);
    assert.equal(healthB.body.tokenState, 'reauthorization_needed');
    assert.equal(healthB.body.queueBacklog, 1);

    // The checklist names the broken connection and its integration, with fixes.
    const check = await adminCall(worker, '/v1/admin/check');
    assert.equal(check.status, 200);
    const item = (id) => check.body.items.find((i) => i.id === id);
    assert.equal(item(`connection.${one.body.id}`).status, 'ok');
    assert.equal(item(`connection.${two.body.id}`).status, 'fail');
    assert.match(item(`connection.${two.body.id}`).fix, /reconnect/);
    assert.equal(item(`integration.${a.id}`).status, 'ok');
    assert.equal(item(`integration.${b.id}`).status, 'fail');
    assert.equal(item('d1.migrations').status, 'ok');
    assert.equal(item('mode').status, 'fail');
    assert.equal(check.body.ok, false);
    assert.ok(check.body.manual.some((m) => /Allowed Return URL/.test(m)));
    // Which Amazon API contracts the Worker's build speaks (the core's table).
    const eventsApi = check.body.contracts.find((c) => c.prefix === '/adsApi/v1/create/events');
    assert.equal(eventsApi.checked, 'openapi');
    assert.deepEqual(eventsApi.documents, ['amazon-ads-v1-all.json']);
    assert.ok(check.body.contracts.some((c) => c.checked === 'guide_samples' && c.prefix.startsWith('/dsp/v1/')));

    // The cron trigger tells the operator once, without a value.
    const db = await worker.mf.getD1Database('DB');
    await db.prepare("INSERT INTO dead_letters (at, advertiser, region, event_id, event_time, event_time_ms, event, reason, integration) VALUES ('2026-01-01T00:00:00Z', ?1, 'NA', 'd1', '2026-01-01T00:00:00Z', 0, '{}', 'HTTP_400', ?2)").bind(TWO, b.id).run();
    const cron = await worker.mf.getWorker();
    // The handler awaits the webhook's answer, which the hook gives after recording.
    await cron.scheduled({ cron: '*/5 * * * *' });
    assert.equal(posted.length, 1);
    assert.equal(posted[0].auth, 'Bearer hook-secret');
    const kinds = posted[0].body.alerts.map((x) => `${x.kind}:${x.connection_id ?? x.integration}`);
    assert.deepEqual(kinds.sort(), [`dead_letters:${b.id}`, `reconnect_needed:${two.body.id}`].sort());
    assert.doesNotMatch(JSON.stringify(posted[0].body), /Atzr|Atza|[0-9a-f]{64}/);
    await cron.scheduled({ cron: '*/5 * * * *' });
    assert.equal(posted.length, 1, 'nothing new, nothing posted');

    // Disabled: new events refused, and the first integration is untouched.
    const disabled = await adminCall(worker, `/v1/admin/integrations/${a.id}/disable`, 'POST');
    assert.equal(disabled.body.disabled, true);
    const refusedEvent = await browser(a, 'https://one.example', ['a9']);
    assert.deepEqual([refusedEvent.status, (await refusedEvent.json()).error], [403, 'integration_disabled']);
    assert.doesNotMatch(worker.output(), /panicked|Atzr|Atza/);
  } finally {
    await worker.stop();
  }
});

/** Runs the CLI with `args` and `env`; `onLine(line, child)` sees each stderr line. */
function cli(args, env, onLine = () => {}) {
  const child = spawn(`${root}target/debug/matchkey`, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  createInterface({ input: child.stderr }).on('line', (line) => { stderr += line + '\n'; onLine(line, child); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('matchkey connect --worker stores the grant in the Worker; matchkey doctor shows what is missing', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, workerVars());
  try {
    const env = {
      LWA_CLIENT_ID: CLIENT.clientId, LWA_CLIENT_SECRET: CLIENT.clientSecret,
      LWA_AUTH_URL: `${amazon.url}/ap/oa`, LWA_TOKEN_URL: `${amazon.url}/auth/o2/token`,
      AMAZON_API_BASE_NA: amazon.url, AMAZON_API_BASE_EU: amazon.url, AMAZON_API_BASE_FE: amazon.url,
      MATCHKEY_ADMIN_KEY: ADMIN_KEY,
    };
    // Refused before the user signs in: no admin key, or a Worker over plain http.
    const noKey = await cli(['connect', '--paste', '--no-browser', '--worker', worker.url], { ...env, MATCHKEY_ADMIN_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /MATCHKEY_ADMIN_KEY is not set/);
    const plain = await cli(['connect', '--paste', '--no-browser', '--worker', 'http://worker.example'], env);
    assert.match(plain.stderr, /must be an https:\/\/ URL/);

    await amazon.control('/__emulator/authorize', { approve: true, accounts: [TWO] });
    const run = await cli(['connect', '--paste', '--no-browser', '--worker', worker.url, '--label', 'from the CLI'], env, (line, child) => {
      const m = line.match(/^\s+(http\S+\/ap\/oa\S+)$/);
      if (m) {
        fetch(m[1], { redirect: 'manual' }).then((r) => child.stdin.end(r.headers.get('location') + '\n'));
      }
    });
    assert.equal(run.code, 0, run.stderr);
    const id = run.stderr.match(/Stored in the Worker as connection (conn_[0-9a-f]+)/)[1];
    assert.doesNotMatch(run.stdout + run.stderr, /Atzr|Atza/);
    const conns = (await adminCall(worker, '/v1/admin/connections')).body.connections;
    const stored = conns.find((c) => c.id === id);
    assert.deepEqual([stored.label, stored.token_state], ['from the CLI', 'ok']);

    // The doctor: local development, no integration and no webhook fail or warn; the
    // new connection refreshes. Exit 1: something failed.
    const doctor = await cli(['doctor', '--worker', worker.url], env);
    assert.equal(doctor.code, 1, doctor.stderr);
    assert.match(doctor.stdout, new RegExp(`ok    connection\\.${id}: token refreshes`));
    assert.match(doctor.stdout, /FAIL  mode: LOCAL_DEV is on/);
    assert.match(doctor.stdout, /FAIL  integrations: no integration/);
    assert.match(doctor.stdout, /fix: install one/);
    assert.match(doctor.stdout, /Check by hand:/);
    const json = JSON.parse((await cli(['doctor', '--worker', worker.url, '--json'], env)).stdout);
    assert.equal(json.ok, false);
    const wrongKey = await cli(['doctor', '--worker', worker.url], { ...env, MATCHKEY_ADMIN_KEY: 'wrong' });
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /refused the admin key/);
  } finally {
    await worker.stop();
  }
});

test('rotating TOKEN_KEYS: a new key first seals again on use, then the old one can go', async () => {
  await amazon.control('/__emulator/reset');
  const persist = mkdtempSync(join(tmpdir(), 'mk-rotate-'));
  const sealedWith = async (worker) => {
    const db = await worker.mf.getD1Database('DB');
    return (await db.prepare('SELECT refresh_token FROM connections').all()).results.map((r) => r.refresh_token.split('.')[1]);
  };
  const connectionOk = async (worker, id) => {
    const check = await adminCall(worker, '/v1/admin/check');
    return check.body.items.find((i) => i.id === `connection.${id}`).status;
  };
  const NEW = `new:${Buffer.from('another-sealing-key-of-32-bytes!').toString('base64')}`;
  try {
    let worker = await startWorker(amazon.url, workerVars(), { persist });
    const added = await adminCall(worker, '/v1/admin/connections', 'POST', { region: 'NA', refresh_token: TOKEN_ONE });
    assert.equal(added.status, 201, added.text);
    const id = added.body.id;
    assert.deepEqual(await sealedWith(worker), ['test']);
    await worker.stop();

    worker = await startWorker(amazon.url, { ...workerVars(), TOKEN_KEYS: `${NEW},${TEST_TOKEN_KEYS}` }, { persist });
    assert.equal(await connectionOk(worker, id), 'ok');
    assert.deepEqual(await sealedWith(worker), ['new']);
    await worker.stop();

    worker = await startWorker(amazon.url, { ...workerVars(), TOKEN_KEYS: NEW }, { persist });
    assert.equal(await connectionOk(worker, id), 'ok');
    await worker.stop();
    // Without the key it was sealed with, the token cannot be opened: said, not guessed.
    worker = await startWorker(amazon.url, workerVars(), { persist });
    const check = await adminCall(worker, '/v1/admin/check');
    const item = check.body.items.find((i) => i.id === `connection.${id}`);
    assert.equal(item.status, 'fail');
    assert.match(item.detail, /sealing_key_unknown/);
    await worker.stop();
  } finally {
    rmSync(persist, { recursive: true, force: true });
  }
});
