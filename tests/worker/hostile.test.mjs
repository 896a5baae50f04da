// Hostile input through the browser path (the public site key is anyone's): hundreds of
// bodies that try to smuggle raw personal data through every field of events and audience
// requests, oversize and deeply nested JSON, wrong types and Unicode look-alikes. Each is
// refused or stripped, no answer is a 5xx or echoes a value, and after flushing, what the
// emulated Amazon received holds no `@` (nor `＠`, `﹫`, `%40`) anywhere and only 64
// lowercase hex digits where a digest belongs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, startWorker, until, ORIGIN, SITE_KEY, INGEST_SECRET, ADMIN_KEY } from './harness.mjs';

const HASH = '9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21';
const HASH2 = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d';
const TCF = 'CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA';
const GPP = 'DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA';
const HASHED = ['EMAIL', 'PHONE', 'FIRST_NAME', 'LAST_NAME', 'ADDRESS', 'CITY', 'STATE', 'POSTAL'];
const PII_KEYS = new Set(['email', 'phone', 'firstname', 'lastname', 'firstName', 'lastName', 'address', 'city', 'state', 'postal', 'postalCode']);
const AUDIENCE = 'newsletter';

// Raw values, the way an attacker or a careless page would send them.
const EMAILS = ['jane.doe@example.com', ' JANE.DOE@EXAMPLE.COM ', 'jane＠example.com', 'jane﹫example.com',
  'jane%40example.com', 'mailto:jane@example.com', `${HASH}@x`, 'jane@'];
const PHONES = ['+1 206 555 0100', '(206) 555-0100', '２０６５５５０１００', '+44 7911 123456', '2065550100'];
const OTHERS = ['Jane', 'Doe', '1 Main St', 'Seattle', 'WA', '98101', HASH.slice(0, 63), 'g'.repeat(64), `${HASH} `.repeat(2)];
const RAW = [...EMAILS, ...PHONES, ...OTHERS];
// What could carry an e-mail address through a free-text field.
const AT = ['jane@example.com', 'jane＠example.com', 'jane﹫example.com', 'jane%40example.com', 'JANE%40EXAMPLE.COM'];

let amazon;
let plain; // defaults, plus CUSTOM_DATA, BROWSER_AUDIENCES and ADD_CLIENT_IP
let ids; // the same with BROWSER_IDS=MATCH_ID,RAMP_ID
before(async () => {
  amazon = await startEmulator();
  const vars = {
    FLUSH_SECONDS: '300', RATE_LIMIT_PER_MINUTE: '100000', BROWSER_AUDIENCES: AUDIENCE, ADD_CLIENT_IP: 'true',
    CUSTOM_DATA: JSON.stringify({ brand: 'STRING', qty: 'INTEGER', at: 'TIMESTAMP' }),
  };
  plain = await startWorker(amazon.url, vars);
  ids = await startWorker(amazon.url, { ...vars, BROWSER_IDS: 'MATCH_ID,RAMP_ID' });
});
after(async () => {
  await plain?.stop();
  await ids?.stop();
  amazon?.stop();
});

let serial = 0;
/** A valid browser event (unique id), with `extra` merged in. */
function clean(extra = {}) {
  serial += 1;
  return { name: 'purchase', eventId: `h${serial}`, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL: HASH }, ...extra };
}

/** `clean()` with `key` replaced (or removed, with `undefined`). */
function withKey(key, value) {
  const e = clean();
  if (value === undefined) delete e[key];
  else e[key] = value;
  return e;
}

// Each case: what to send and what must happen to the hostile part. `refuse`: the request,
// or the hostile event (index 0), is refused; `strip`: the event goes on without the value;
// `any`: either, as long as nothing reaches Amazon.
const eventCases = [];
const add = (label, event, expect = 'refuse', opts = {}) => eventCases.push({ label, event, expect, ...opts });

// Raw values in every hashed match key, alone and next to a digest.
for (const field of HASHED) {
  for (const raw of RAW) add(`matchKeys.${field}=${raw}`, clean({ matchKeys: field === 'EMAIL' ? { EMAIL: raw } : { EMAIL: HASH, [field]: raw } }));
}
// Key-name variants and fields Amazon does not have.
for (const name of ['email', 'Email', 'ZIP', 'postal_code']) add(`matchKeys.${name}`, clean({ matchKeys: { [name]: EMAILS[0] } }));
for (const name of ['EMAIL_ADDRESS', 'jane@example.com', 'FIP', 'REAL_ID', '＠']) add(`matchKeys["${name}"]`, clean({ matchKeys: { EMAIL: HASH, [name]: HASH } }));
// MATCH_ID and RAMP_ID with contact shapes, with and without BROWSER_IDS.
for (const field of ['MATCH_ID', 'RAMP_ID']) {
  for (const raw of [...EMAILS.slice(0, 5), ...PHONES]) {
    add(`${field}=${raw} (no BROWSER_IDS)`, clean({ matchKeys: { EMAIL: HASH, [field]: raw } }));
    add(`${field}=${raw} (BROWSER_IDS)`, clean({ matchKeys: { EMAIL: HASH, [field]: raw } }), 'refuse', { worker: 'ids' });
  }
  add(`${field} clean (BROWSER_IDS)`, clean({ matchKeys: { EMAIL: HASH, [field]: 'cust_000123' } }), 'accept', { worker: 'ids' });
}
for (const raw of [EMAILS[0], HASH, '00000000-0000-0000-0000-000000000000']) add(`MAID=${raw}`, clean({ matchKeys: { EMAIL: HASH, MAID: raw } }));
// Keys that come from the configuration: stripped, never passed on.
for (const raw of AT) {
  add(`conversionType=${raw}`, clean({ conversionType: raw }), 'strip');
  add(`dataSetName=${raw}`, clean({ dataSetName: raw }), 'strip');
}
// Free-text fields.
for (const raw of [...AT, ...PHONES.slice(0, 2), 'a b', 'x'.repeat(300), 'purchase\u0000', 'ｐｕｒｃｈａｓｅ']) {
  add(`name=${raw}`, withKey('name', raw));
  add(`eventId=${raw}`, withKey('eventId', raw));
}
for (const raw of [...AT, 'Mozilla/5.0']) add(`body userAgent=${raw}`, clean({ userAgent: raw }));
for (const raw of AT) add(`deviceInfo.userAgent=${raw}`, clean({ deviceInfo: { userAgent: raw } }));
for (const ua of AT.map((a) => `Mozilla/5.0 ${a}`)) add(`User-Agent header=${ua}`, clean(), 'strip', { headers: { 'user-agent': ua } });
// Past 512 bytes the header is cut, so the @ never goes.
add('User-Agent header, @ after 512 bytes', clean(), 'accept', { headers: { 'user-agent': `Mozilla/5.0 ${'x'.repeat(600)}@` } });
// Custom data: names and values.
for (const raw of AT) {
  add(`customData name=${raw}`, clean({ customData: [{ name: raw, value: 'x' }] }));
  add(`customData value=${raw}`, clean({ customData: [{ name: 'brand', value: raw }] }));
  add(`customData extra key=${raw}`, clean({ customData: [{ name: 'brand', value: 'acme', email: raw }] }));
}
for (const value of [PHONES[0], PHONES[4], '２０６', 'a b', '']) add(`customData STRING=${value}`, clean({ customData: [{ name: 'brand', value }] }));
for (const item of [{ name: 'qty', value: 'jane' }, { name: 'qty', value: 2 ** 31 }, { name: 'at', value: 'jane@example.com' },
  { name: 'loyalty', value: 'gold' }, { name: 'brand', value: 'acme', dataType: 'INTEGER' }, { name: 'brand', value: { email: AT[0] } }]) {
  add(`customData ${JSON.stringify(item)}`, clean({ customData: [item] }));
}
// Consent: geo, strings, unknown keys, empty signals where one is needed.
for (const raw of AT) {
  add(`consent.geo.ipAddress=${raw}`, clean({ consent: { geo: { ipAddress: raw } } }));
  add(`consent.tcf=${raw}`, clean({ consent: { tcf: raw } }));
  add(`consent.gpp=${raw}`, clean({ consent: { gpp: `DBABMA~${raw}` } }));
  add(`consent.extra=${raw}`, clean({ consent: { tcf: TCF, email: raw } }));
  add(`consent.amazonConsent.extra=${raw}`, clean({ consent: { amazonConsent: { amznUserData: 'GRANTED', email: raw } } }));
  add(`consent["${raw}"]`, clean({ consent: { [raw]: 'GRANTED' } }));
}
add('consent.geo valid IP', clean({ consent: { geo: { ipAddress: '1.1.1.1' }, tcf: TCF } }));
add('consent.geo with email', clean({ country: 'DE', consent: { geo: { ipAddress: '1.1.1.1', email: AT[0] } } }));
for (const consent of [undefined, null, {}, { tcf: null }, { amazonConsent: {} }, { amazonConsent: { amznUserData: AT[0] } }]) {
  add(`DE consent=${JSON.stringify(consent)}`, clean({ country: 'DE', consent }));
}
// A granted event gets the client IP (ADD_CLIENT_IP), but never a made-up one.
for (const ip of ['203.0.113.9', 'jane@example.com', '1.1.1.1, jane@example.com']) {
  add(`cf-connecting-ip=${ip}`, clean({ country: 'DE', consent: { tcf: TCF } }), 'accept', { headers: { 'cf-connecting-ip': ip } });
}
// Keys browsers may not send at all.
for (const [key, value] of [['email', AT[0]], ['user', { email: AT[0] }], ['partner', AT[0]], ['amazonAdEventKey', AT[0]],
  ['arefMeasurementTokens', AT[0]], ['eventDescription', { name: AT[0] }], ['countryCode', 'US'], ['dataProcessingOptions', AT[0]],
  ['__proto__', { email: AT[0] }], [AT[0], 'x'], ['matchkeys', { EMAIL: AT[0] }]]) {
  add(`top-level ${key}`, clean({ [key]: value }));
}
// Wrong types in every field.
for (const key of ['name', 'eventId', 'eventTime', 'country', 'matchKeys', 'value', 'currency', 'units', 'customData', 'consent']) {
  for (const value of [[AT[0]], { email: AT[0] }, true, -1.5]) add(`${key}=${JSON.stringify(value)}`, withKey(key, value));
}
// Unicode look-alikes in the scalars.
for (const [key, value] of [['country', 'ＵＳ'], ['currency', 'ＵＳＤ'], ['units', '２'], ['value', '１０'], ['eventTime', '２０２６-01-01T00:00:00Z']]) {
  add(`${key}=${value}`, withKey(key, value));
}
add('value=1e300', withKey('value', 1e300));
add('units=2^31', withKey('units', 2 ** 31));

/**
 * Posts `body` (string or object) as a browser; `headers` override, sent as UTF-8 bytes.
 * A large body the Worker refuses before reading it may meet a connection closed while it
 * is still being written: that is a refusal too, answered here as the 413 it is.
 */
async function browser(worker, path, body, headers = {}) {
  const bytes = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('latin1')]));
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    return await worker.request(path, {
      method: 'POST', body: text,
      headers: { origin: ORIGIN, 'content-type': 'text/plain', 'x-matchkey-site-key': SITE_KEY, ...bytes },
    });
  } catch (e) {
    if (e.cause?.code === 'ECONNRESET' && text.length > 65536) return new Response('{"error":"closed_before_reading"}', { status: 413 });
    throw e;
  }
}

/** The answer, checked: never a 5xx, never a value echoed. */
async function answer(response, label) {
  const text = await response.text();
  assert.ok(response.status < 500, `${label}: ${response.status} ${text}`);
  assert.ok(!/[@＠﹫]|%40/i.test(text), `${label}: the answer echoes a value: ${text}`);
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const accepted = new Set(); // event ids the Worker took
let bodies = 0;

test(`${eventCases.length} hostile events are refused or stripped`, async () => {
  assert.ok(eventCases.length >= 200, `${eventCases.length} event cases`);
  for (const c of eventCases) {
    const worker = c.worker === 'ids' ? ids : plain;
    const control = clean();
    const r = await answer(await browser(worker, '/v1/events', { events: [c.event, control] }, c.headers), c.label);
    bodies += 1;
    assert.equal(r.status, 202, c.label);
    for (const a of r.body.accepted) accepted.add(a.eventId);
    const took = r.body.accepted.some((a) => a.index === 0);
    assert.ok(r.body.accepted.some((a) => a.index === 1), `${c.label}: the clean event beside it goes on`);
    if (c.expect === 'refuse') assert.ok(!took, `${c.label}: accepted ${JSON.stringify(r.body)}`);
    if (c.expect === 'strip' || c.expect === 'accept') assert.ok(took, `${c.label}: refused ${JSON.stringify(r.body)}`);
    if (c.expect === 'strip') assert.ok(r.body.warnings.some((w) => w.index === 0), `${c.label}: no warning`);
    if (!took) assert.ok(r.body.rejected.some((p) => p.index === 0 && /^[a-z_]+$/.test(p.reason)), c.label);
  }
});

test('hostile request bodies: oversize, deep nesting, wrong shapes, bad keys', async () => {
  const deep = '['.repeat(100_000);
  const cases = [
    ['oversize', JSON.stringify({ events: [clean({ name: 'x'.repeat(1_100_000) })] }), [413]],
    ['oversize raw', `${AT[0]} `.repeat(70_000), [413]],
    ['100,000 [', deep, [400]],
    ['100,000 [ closed', deep + ']'.repeat(100_000), [400]],
    ['deep object', `{"events":[${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]}`, [400]],
    ['deep inside an event', JSON.stringify({ events: [clean()] }).replace('"value":1', `"value":${'['.repeat(5000)}${']'.repeat(5000)}`), [400]],
    ['not JSON', AT[0], [400]],
    ['form body', `email=${encodeURIComponent(AT[0])}`, [400]],
    ['array', JSON.stringify([clean()]), [400]],
    ['string', JSON.stringify(AT[0]), [400]],
    ['events not an array', JSON.stringify({ events: { 0: clean() } }), [400]],
    ['no events', JSON.stringify({ events: [] }), [400]],
    ['501 events', JSON.stringify({ events: Array.from({ length: 501 }, () => clean()) }), [400]],
    ['events of strings', JSON.stringify({ events: [AT[0], 5, null, []] }), [202]],
    ['one event, no name', JSON.stringify({ email: AT[0] }), [400]],
    ['utf-16', Buffer.from(JSON.stringify({ events: [clean()] }), 'utf16le'), [400]],
    ['bom', '\ufeff' + JSON.stringify({ events: [clean({ matchKeys: { EMAIL: AT[0] } })] }), [400, 202]],
    ['lone surrogate', `{"events":[{"name":"\\ud800","country":"US","matchKeys":{"EMAIL":"${HASH}"}}]}`, [400, 202]],
    ['duplicate keys', `{"events":[{"name":"purchase","country":"US","matchKeys":{"EMAIL":"${HASH}","EMAIL":"${AT[0]}"}}]}`, [202]],
  ];
  for (const [label, body, statuses] of cases) {
    const r = await answer(await browser(plain, '/v1/events', body), label);
    bodies += 1;
    assert.ok(statuses.includes(r.status), `${label}: ${r.status}`);
    if (r.status === 202) for (const a of r.body.accepted) accepted.add(a.eventId);
  }
  // The site key and the origin are checked before anything is taken.
  for (const [label, headers, status] of [
    ['site key with an e-mail', { 'x-matchkey-site-key': AT[0] }, 401],
    ['no site key', { 'x-matchkey-site-key': '' }, 401],
    ['foreign origin', { origin: 'https://evil.example' }, 403],
    ['origin with an e-mail', { origin: `https://${AT[0]}` }, 403],
  ]) {
    const r = await answer(await browser(plain, '/v1/events', { events: [clean()] }, headers), label);
    bodies += 1;
    assert.equal(r.status, status, label);
  }
  const validate = await answer(await browser(plain, '/v1/validate', { events: [clean({ matchKeys: { EMAIL: AT[0] } }), clean({ conversionType: AT[0] })] }), 'validate');
  bodies += 1;
  assert.equal(validate.status, 200);
});

test('hostile audience requests: only adds of digests to allow-listed audiences', async () => {
  const post = (name, body, opts = {}) => browser(opts.worker ?? plain, `/v1/audiences/${name}/members`, body, opts.headers);
  const cases = [];
  const expect = (label, name, body, check, opts) => cases.push({ label, name, body, check, opts });
  const refusedMember = (r) => r.status === 202 && r.body.accepted === 0 && r.body.rejected.length === 1;
  const status = (s, code) => (r) => r.status === s && (!code || r.body.error === code);
  for (const field of HASHED) {
    for (const raw of RAW) expect(`add ${field}=${raw}`, AUDIENCE, { add: [{ matchKeys: field === 'EMAIL' ? { EMAIL: raw } : { EMAIL: HASH, [field]: raw } }] }, refusedMember);
  }
  for (const field of ['MATCH_ID', 'RAMP_ID']) {
    for (const raw of [...EMAILS.slice(0, 5), ...PHONES.slice(0, 3)]) {
      expect(`add ${field}=${raw}`, AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH, [field]: raw } }] }, refusedMember);
      expect(`add ${field}=${raw} (BROWSER_IDS)`, AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH, [field]: raw } }] }, refusedMember, { worker: ids });
    }
  }
  for (const raw of AT) {
    expect(`externalUserId=${raw}`, AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH }, externalUserId: raw }] }, refusedMember);
    expect(`identity extra key=${raw}`, AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH }, email: raw }] }, refusedMember);
    expect(`top-level extra key=${raw}`, AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH } }], email: raw }, status(400, 'field_not_accepted'));
    expect(`consent.geo=${raw}`, AUDIENCE, { country: 'DE', consent: { geo: { ipAddress: raw } }, add: [{ matchKeys: { EMAIL: HASH } }] }, status(403, 'not_accepted_from_browser'));
    expect(`consent.tcf=${raw}`, AUDIENCE, { country: 'DE', consent: { tcf: raw }, add: [{ matchKeys: { EMAIL: HASH } }] }, status(400, 'invalid_consent'));
    expect(`consent.gpp=${raw}`, AUDIENCE, { country: 'DE', consent: { gpp: `DBABMA~${raw}` }, add: [{ matchKeys: { EMAIL: HASH } }] }, status(400, 'invalid_consent'));
    expect(`country=${raw}`, AUDIENCE, { country: raw, add: [{ matchKeys: { EMAIL: HASH } }] }, status(400, 'invalid_country'));
  }
  expect('externalUserId victim', AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH }, externalUserId: 'mk_victim' }] }, refusedMember);
  for (const consent of [undefined, null, {}, { tcf: null }, { amazonConsent: {} }]) {
    expect(`DE consent=${JSON.stringify(consent)}`, AUDIENCE, { country: 'DE', consent, add: [{ matchKeys: { EMAIL: HASH } }] }, (r) => r.status === 400);
  }
  expect('remove by hash', AUDIENCE, { remove: [{ matchKeys: { EMAIL: HASH } }] }, status(403, 'remove_needs_server'));
  expect('remove raw', AUDIENCE, { remove: [{ matchKeys: { EMAIL: AT[0] } }] }, status(403, 'remove_needs_server'));
  expect('remove by id', AUDIENCE, { remove: [{ externalUserId: 'mk_victim' }] }, status(403, 'remove_needs_server'));
  expect('add and remove', AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH2 } }], remove: [{ matchKeys: { EMAIL: HASH } }] }, status(403, 'remove_needs_server'));
  for (const name of ['vip', 'Newsletter', 'newsletter2', 'buyers_30d']) {
    expect(`audience ${name}`, name, { add: [{ matchKeys: { EMAIL: HASH } }] }, status(403, 'audience_not_allowed'));
  }
  for (const name of [encodeURIComponent(AT[0]), 'jane@example.com', '%EF%BC%A0', 'a%2Fb', '..', 'x'.repeat(65)]) {
    expect(`audience name ${name.slice(0, 20)}`, name, { add: [{ matchKeys: { EMAIL: HASH } }] }, (r) => r.status === 400 || r.status === 403 || r.status === 404);
  }
  for (const [label, body] of [['100,000 [', '['.repeat(100_000)], ['oversize', `{"add":[${`{"matchKeys":{"EMAIL":"${AT[0]}"}},`.repeat(30_000)}{}]}`], ['not JSON', AT[0]],
    ['add not an array', { add: { matchKeys: { EMAIL: AT[0] } } }], ['matchKeys of arrays', { add: [{ matchKeys: { EMAIL: [AT[0]] } }] }], ['no members', { add: [] }]]) {
    expect(`body ${label}`, AUDIENCE, body, (r) => r.status >= 400 || refusedMember(r));
  }
  // Clean adds, so that the audience exists and the check below is not vacuous.
  expect('clean add', AUDIENCE, { add: [{ matchKeys: { EMAIL: HASH } }] }, (r) => r.status === 202 && r.body.accepted === 1);
  expect('clean DE add', AUDIENCE, { country: 'DE', consent: { tcf: TCF, amazonConsent: { amznUserData: 'GRANTED' } }, add: [{ matchKeys: { EMAIL: HASH2, MATCH_ID: 'cust_000123' } }] },
    (r) => r.status === 202 && r.body.accepted === 1, { worker: ids });

  for (const c of cases) {
    const r = await answer(await post(c.name, c.body, c.opts ?? {}), c.label);
    bodies += 1;
    assert.ok(c.check(r), `${c.label}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  assert.ok(cases.length >= 100, `${cases.length} audience cases`);
});

test('servers with the ingest secret: raw values hashed, free text checked', async () => {
  const server = (body) => plain.request('/v1/events', { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${INGEST_SECRET}` } });
  const events = [
    { ...clean(), matchKeys: { EMAIL: AT[0], PHONE: PHONES[0], FIRST_NAME: 'Jane', MATCH_ID: AT[0] } },
    ...AT.flatMap((raw) => [withKey('name', raw), withKey('eventId', raw), clean({ userAgent: raw }), clean({ conversionType: raw }),
      clean({ dataSetName: raw }), clean({ customData: [{ name: 'brand', value: raw }] }), clean({ consent: { geo: { ipAddress: raw } } })]),
  ];
  const r = await answer(await server({ events }), 'server');
  bodies += 1;
  assert.equal(r.status, 202);
  assert.deepEqual(r.body.accepted.map((a) => a.index), [0]);
  for (const a of r.body.accepted) accepted.add(a.eventId);
});

test('after flushing, Amazon received no raw value: no @ anywhere, digests where digests belong', async (t) => {
  assert.ok(bodies >= 200, `${bodies} hostile bodies`);
  t.diagnostic(`${bodies} hostile bodies, ${accepted.size} events accepted`);
  const admin = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } };
  for (const worker of [plain, ids]) {
    assert.equal((await worker.request('/v1/flush', admin)).status, 200);
    assert.equal((await worker.request(`/v1/audiences/${AUDIENCE}/flush`, admin)).status, 200);
  }
  const sentIds = async () => {
    const requests = await amazon.get('/__emulator/requests?endpoint=events');
    return new Set(requests.flatMap((q) => (q.body?.events ?? []).map((e) => e.eventId)));
  };
  await until(async () => {
    const sent = await sentIds();
    return [...accepted].every((id) => sent.has(id));
  }, 20000);
  await until(async () => (await amazon.get('/__emulator/requests?endpoint=amcRecords')).filter((q) => q.method === 'POST').length >= 2, 20000);

  const requests = await amazon.get('/__emulator/requests');
  const events = await amazon.get('/__emulator/events');
  const audiences = await amazon.get('/__emulator/audiences');
  assert.ok(events.length >= 200, `${events.length} events reached Amazon`);
  assert.equal(audiences.length, 2, 'one audience per Worker');
  assert.ok(audiences.every((a) => a.members.length >= 1));

  for (const [what, data] of [['requests', requests], ['events', events], ['audiences', audiences]]) {
    const text = JSON.stringify(data);
    for (const needle of ['@', '＠', '﹫']) assert.ok(!text.includes(needle), `${what} hold ${needle}`);
    assert.ok(!/%40/i.test(text), `${what} hold %40`);
    let digests = 0;
    walk(data, (key, value, parent) => {
      if (key === 'matchKeys' && Array.isArray(value)) {
        for (const mk of value) {
          for (const v of mk.values) {
            if (HASHED.includes(mk.type)) {
              assert.match(v, /^[0-9a-f]{64}$/, `${what}: ${mk.type}`);
              digests += 1;
            } else {
              assert.ok(!looksLikeContact(v), `${what}: ${mk.type} looks like contact data`);
            }
          }
        }
      }
      if ((parent === 'hashedPII' || parent === 'hashedRecords') && PII_KEYS.has(key)) {
        assert.match(value, /^[0-9a-f]{64}$/, `${what}: ${key}`);
        digests += 1;
      }
    });
    if (what !== 'audiences') assert.ok(digests > 0, `${what}: no digest checked`);
  }
  // What was stripped is absent; what the configuration says is there.
  const sent = events.map((e) => e.event);
  assert.ok(sent.every((e) => !e.consent?.geo || /^[0-9a-f.:]+$/.test(e.consent.geo.ipAddress)));
  assert.ok(sent.some((e) => e.consent?.geo?.ipAddress === '203.0.113.9'), 'ADD_CLIENT_IP adds the client IP to granted events');
  assert.ok(sent.every((e) => !e.deviceInfo || e.deviceInfo.userAgent.length <= 512));
});

/** Calls `visit(key, value, parentKey)` for every property, depth first. */
function walk(node, visit, parentKey = null) {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit, parentKey);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      visit(key, value, parentKey);
      walk(value, visit, key);
    }
  }
}

/** The core's `looks_like_contact` for unhashed ids: an e-mail sign, or 7 to 15 digits and separators only. */
function looksLikeContact(value) {
  if (/[@＠﹫]|%40/i.test(value)) return true;
  if (!/^[\p{Nd}\s+\-.()/]+$/u.test(value)) return false;
  const digits = [...value].filter((c) => /\p{Nd}/u.test(c)).length;
  return digits >= 7 && digits <= 15;
}
