// The Worker in workerd (Miniflare) against the Amazon emulator over loopback:
// batching, partial failures, retries, token refresh and re-authorization, the
// delivery log and replay, authentication, CORS, sizes, and browser/server parity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { root, startEmulator, startWorker, until, ORIGIN, SITE_KEY, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

let amazon;
before(async () => { amazon = await startEmulator(); });
after(() => amazon?.stop());

/** Native CLI hashes (the same core): [field, input, country] → sha256. */
function hash(field, input, country = 'US') {
  const out = execFileSync(`${root}target/debug/matchkey`, ['hash'], { input: JSON.stringify({ field, country, input }) + '\n' });
  return JSON.parse(out.toString()).sha256;
}

const EMAIL = hash('EMAIL', 'jane.doe@example.com');

/** The tag's request: the site key in the query (read before the body), the events in the body. */
function browserPost(worker, { siteKey, ...body }, headers = {}) {
  const query = siteKey === undefined ? '' : `?siteKey=${encodeURIComponent(siteKey)}`;
  return worker.request(`/v1/events${query}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { origin: ORIGIN, 'content-type': 'text/plain', ...headers },
  });
}

function serverPost(worker, body, path = '/v1/events') {
  return worker.request(path, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
}

function event(i, extra = {}) {
  return { name: 'purchase', eventId: `e${i}`, country: 'US', value: 10, currency: 'USD', matchKeys: { EMAIL }, ...extra };
}

async function eventRequests() {
  const log = await amazon.get('/__emulator/requests?endpoint=events');
  return log.requests ?? log;
}

async function admin(worker, path, method = 'GET') {
  const r = await worker.request(path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: r.status, body: await r.json() };
}

test('1,200 single-event ingests reach Amazon as 3 requests, all 1,200 accepted', async () => {
  await amazon.control('/__emulator/reset');
  // A long flush window: only full batches go on their own; the last 200 go when flushed.
  const worker = await startWorker(amazon.url, { RATE_LIMIT_PER_MINUTE: '100000', FLUSH_SECONDS: '300' });
  try {
    const ids = Array.from({ length: 1200 }, (_, i) => i);
    for (let i = 0; i < ids.length; i += 50) {
      const answers = await Promise.all(ids.slice(i, i + 50).map((n) => browserPost(worker, { siteKey: SITE_KEY, events: [event(n)] })));
      for (const a of answers) assert.equal(a.status, 202);
    }
    await until(async () => (await eventRequests()).length === 2);
    assert.equal((await admin(worker, '/v1/flush', 'POST')).status, 200);
    await until(async () => {
      const e = await amazon.get('/__emulator/events');
      return (e.events ?? e).length === 1200;
    });
    const requests = await eventRequests();
    assert.equal(requests.length, 3, 'Amazon requests per 1,200 single-event ingests');
    const sizes = requests.map((r) => r.body.events.length).sort((a, b) => b - a);
    assert.deepEqual(sizes, [500, 500, 200]);
    const log = await admin(worker, '/v1/deliveries');
    assert.equal(log.body.deliveries.filter((d) => d.status === 'delivered').reduce((n, d) => n + d.accepted, 0), 1200);
  } finally {
    await worker.stop();
  }
});

test('a 207 with partial errors puts exactly those events in the log', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url);
  try {
    // Events 20.5 days old pass the Worker's 21-day window; a day later (the emulator's clock
    // moved on before delivery) Amazon refuses them, the others it takes.
    const old = new Date(Date.now() - 20.5 * 86_400_000).toISOString();
    const bad = (i) => event(i, { eventTime: old });
    const events = [event(0), bad(1), event(2), bad(3), event(4)];
    assert.equal((await serverPost(worker, { events })).status, 202);
    await amazon.control('/__emulator/clock', { advanceSecs: 86_400 });
    assert.equal((await admin(worker, '/v1/flush', 'POST')).status, 200);
    await until(async () => (await admin(worker, '/v1/deliveries')).body.deliveries.length > 0);
    const log = (await admin(worker, '/v1/deliveries')).body;
    assert.deepEqual(log.failedEvents.map((f) => f.event_id).sort(), ['e1', 'e3']);
    assert.ok(log.failedEvents.every((f) => f.amazon_code && f.field_location.startsWith('events[')));
    assert.equal(log.deliveries[0].accepted, 3);
    assert.ok(!JSON.stringify(log).includes(EMAIL), 'the log holds no match-key value');
  } finally {
    await worker.stop();
  }
});

test('429 with Retry-After, then success; 401 refreshes the token once', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url);
  try {
    await amazon.control('/__emulator/faults', { endpoint: 'events', kind: 'status', status: 429, retryAfter: 1, count: 1 });
    await serverPost(worker, { events: [event(1)] });
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).some((r) => r.status === 207));
    assert.deepEqual((await eventRequests()).map((r) => r.status), [429, 207]);

    await amazon.control('/__emulator/faults', { endpoint: 'events', kind: 'expired_token', count: 1 });
    await serverPost(worker, { events: [event(2)] });
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).filter((r) => r.status === 207).length === 2);
    const tokenLog = await amazon.get('/__emulator/requests?endpoint=token');
    const tokens = tokenLog.requests ?? tokenLog;
    assert.equal(tokens.filter((t) => t.status === 200).length, 2, 'one refresh after the 401');
  } finally {
    await worker.stop();
  }
});

test('invalid_grant: health degrades, nothing is lost, replay after the fix delivers all', async () => {
  await amazon.control('/__emulator/reset');
  await amazon.control('/__emulator/revoke', { refreshToken: 'Atzr|matchkey-demo-refresh' });
  const worker = await startWorker(amazon.url);
  try {
    await serverPost(worker, { events: [event(1), event(2), event(3)] });
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await worker.request('/healthz')).status === 503);
    // The public answer says only that; the details need the admin key.
    assert.deepEqual(await (await worker.request('/healthz')).json(), { status: 'degraded' });
    assert.equal((await worker.request('/v1/health')).status, 401);
    const health = (await admin(worker, '/v1/health')).body;
    assert.equal(health.tokenState, 'reauthorization_needed');
    assert.equal(health.queueBacklog, 3);
    assert.equal((await eventRequests()).length, 0);
    // The advertiser authorizes again (the emulator forgets the revocation).
    await amazon.control('/__emulator/reset');
    assert.equal((await admin(worker, '/v1/replay', 'POST')).status, 202);
    await until(async () => {
      const e = await amazon.get('/__emulator/events');
      return (e.events ?? e).length === 3;
    });
    await until(async () => (await worker.request('/healthz')).status === 200);
    // Nothing lost, nothing twice: every event once, and the accounting balances.
    const received = await amazon.get('/__emulator/events');
    const ids = (received.events ?? received).map((e) => (e.event ?? e).eventId).sort();
    assert.deepEqual(ids, ['e1', 'e2', 'e3']);
    const counts = (await admin(worker, '/v1/health')).body.counters;
    assert.deepEqual([counts.accepted, counts.delivered, counts.deadLettered], [3, 3, 0]);
  } finally {
    await worker.stop();
  }
});

test('ingest refuses raw PII from browsers, bad JSON, oversize, bad keys and origins; answers preflight', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url);
  try {
    const raw = await browserPost(worker, { siteKey: SITE_KEY, events: [event(1, { matchKeys: { EMAIL: 'jane.doe@example.com' } }), event(2)] });
    assert.equal(raw.status, 202);
    const answer = await raw.json();
    assert.deepEqual(answer.rejected, [{ index: 0, field: 'matchKeys.EMAIL', reason: 'raw_pii_not_accepted' }]);
    assert.deepEqual(answer.accepted.map((a) => a.index), [1]);
    assert.equal(raw.headers.get('access-control-allow-origin'), ORIGIN);

    const site = `/v1/events?siteKey=${SITE_KEY}`;
    assert.equal((await worker.request(site, { method: 'POST', body: '{nope', headers: { origin: ORIGIN } })).status, 400);
    // A body over 1 MB is refused before it is read: 413, or the connection closed while
    // the client was still writing.
    const big = await worker.request(site, { method: 'POST', body: 'x'.repeat(1_100_000), headers: { origin: ORIGIN } })
      .then((r) => r.status, (e) => e.cause?.code);
    assert.ok([413, 'ECONNRESET'].includes(big), `answered ${big}`);
    // Authentication comes before the body.
    const anonymous = await worker.request('/v1/events', { method: 'POST', body: '{"events":[]}', headers: { origin: ORIGIN } });
    assert.deepEqual([anonymous.status, await anonymous.json()], [401, { error: 'missing_site_key' }]);
    assert.deepEqual(await (await browserPost(worker, { siteKey: 'other', events: [event(1)] })).json(), { error: 'invalid_site_key' });
    assert.equal((await browserPost(worker, { siteKey: SITE_KEY, events: [event(1)] }, { origin: 'https://evil.example' })).status, 403);
    const wrongSecret = await worker.request('/v1/events', { method: 'POST', body: JSON.stringify(event(1)), headers: { authorization: 'Bearer nope' } });
    assert.equal(wrongSecret.status, 401);
    const pre = await worker.request('/v1/events', { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    assert.equal((await admin(worker, '/v1/deliveries')).status, 200);
    assert.equal((await worker.request('/v1/deliveries')).status, 401);
  } finally {
    await worker.stop();
  }
});

test('a site key over its rate limit gets 429', async () => {
  const worker = await startWorker(amazon.url, { RATE_LIMIT_PER_MINUTE: '3' });
  try {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await browserPost(worker, { siteKey: SITE_KEY, events: [event(i)] }));
    assert.deepEqual(answers.map((r) => r.status), [202, 202, 202, 429, 429]);
    // The limit counts a minute: the tag waits that long, across pages, before it sends again.
    assert.equal(answers[3].headers.get('retry-after'), '60');
  } finally {
    await worker.stop();
  }
});

test('server-to-server raw PII gives the same Amazon bytes as the browser path; validate sends nothing', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url);
  try {
    const base = { name: 'sign_up', country: 'GB', eventTime: new Date().toISOString(), consent: { tcf: 'CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA' } };
    const rawKeys = { EMAIL: ' Jane.Doe@Example.com', PHONE: '07911 123456', POSTAL: 'SW1A 1AA' };
    const hashed = { EMAIL: hash('EMAIL', rawKeys.EMAIL, 'GB'), PHONE: hash('PHONE', rawKeys.PHONE, 'GB'), POSTAL: hash('POSTAL', rawKeys.POSTAL, 'GB') };
    const dry = await serverPost(worker, { events: [{ ...base, eventId: 's', matchKeys: rawKeys }] }, '/v1/validate');
    const preview = await dry.json();
    assert.equal(dry.status, 200);
    assert.equal(preview.request.url.endsWith('/adsApi/v1/create/events'), true);
    assert.equal(preview.request.body.events[0].eventDescription.conversionType, 'SIGN_UP');
    assert.equal((await eventRequests()).length, 0, 'validate sends nothing');
    await serverPost(worker, { events: [{ ...base, eventId: 's', matchKeys: rawKeys }] });
    await browserPost(worker, { siteKey: SITE_KEY, events: [{ ...base, eventId: 'b', matchKeys: hashed }] });
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await eventRequests()).length === 1);
    const [server, browser] = (await eventRequests())[0].body.events;
    assert.deepEqual(server.matchKeys, browser.matchKeys);
    assert.deepEqual(server.matchKeys, preview.request.body.events[0].matchKeys);
  } finally {
    await worker.stop();
  }
});

test('API_KIND=dsp sends the legacy DSP import: 100 per request, definition ids, 1-based answers', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, {
    API_KIND: 'dsp', PROFILE_ID: '1234567890', CONVERSION_DEFINITIONS: JSON.stringify({ purchase: '591234567890123456', '*': '591000000000000001' }),
  });
  try {
    const events = Array.from({ length: 150 }, (_, i) => event(i, { units: 1 }));
    const daysAgo = (d) => new Date(Date.now() - d * 86_400_000).toISOString();
    // Older than the legacy 7 days: refused at ingest (the Events API would take it).
    events[5] = event(5, { eventTime: daysAgo(10) });
    // Inside the window at ingest, outside it a day later at Amazon: refused per event there.
    events[3] = event(3, { eventTime: daysAgo(6.5) });
    const answer = await serverPost(worker, { events });
    assert.equal(answer.status, 202);
    assert.deepEqual((await answer.json()).rejected, [{ index: 5, field: 'eventTime', reason: 'event_too_old' }]);
    await amazon.control('/__emulator/clock', { advanceSecs: 86_400 });
    await admin(worker, '/v1/flush', 'POST');
    await until(async () => (await admin(worker, '/v1/deliveries')).body.deliveries.filter((d) => d.status === 'delivered').length === 2);
    const log = await amazon.get('/__emulator/requests?endpoint=dspEvents');
    const requests = log.requests ?? log;
    assert.deepEqual(requests.map((r) => r.body.eventData.length), [100, 49]);
    assert.equal(requests[0].body.eventData[0].conversionDefinitionId, '591234567890123456');
    const failed = (await admin(worker, '/v1/deliveries')).body.failedEvents;
    assert.deepEqual(failed.map((f) => f.event_id), ['e3'], 'the 1-based error index maps back to the right event');
  } finally {
    await worker.stop();
  }
});
