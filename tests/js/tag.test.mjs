// The site tag in real Chromium against a recording ingest: what an event carries, raw
// identifiers refused before storage, consent from a fake CMP (TCF and GPP, decided now or
// later), identity storage and the outbox under consent, audiences, and 503 Retry-After.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { staticServer, recorder, launch, until } from './harness.mjs';

let site, ingest, browser;

before(async () => {
  site = await staticServer();
  ingest = await recorder();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await ingest?.close();
});

const TCF = 'CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA';
const GPP = 'DBABLA~BVQqAAAAAgA.QA';
const EMAIL_HASH = '9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21'; // abc@example.com
const WAIT = 400; // long enough for a send the tag would have made (its batch window is 200 ms)

/** TCData as a CMP decodes it (`purpose.consents` and `vendor.consents` keyed by id). */
function tcData({ vendor = true, purposes = [1, 2, 3, 4, 7], status = 'tcloaded' } = {}) {
  return {
    tcString: TCF, eventStatus: status, cmpStatus: 'loaded', gdprApplies: true, tcfPolicyVersion: 5,
    purpose: { consents: Object.fromEntries(purposes.map((p) => [p, true])), legitimateInterests: {} },
    vendor: { consents: vendor ? { 755: true, 793: true } : { 755: true }, legitimateInterests: {} },
  };
}

/** GPP ping data (1.1) with the given applicable section ids and parsed sections. */
function gppPing(applicableSections, parsedSections = {}) {
  return { gppVersion: '1.1', cmpStatus: 'loaded', signalStatus: 'ready', applicableSections, gppString: GPP, parsedSections };
}

/** A usnat section as CMPs parse it: core segment and GPC subsection. */
function usnat(optOut = {}) {
  return [{ Version: 1, SaleOptOutNotice: 1, SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2, MspaCoveredTransaction: 2, ...optOut },
    { SubsectionType: 1, Gpc: false }];
}

/** Opens the CMP fixture with `cmp` answers in a new context (or `context`); every request is recorded. */
async function open(cmp = {}, context) {
  context = context || await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), body: r.postData() || '' }));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.url}/tests/js/fixtures/cmp.html?cmp=${encodeURIComponent(JSON.stringify(cmp))}`);
  await page.waitForFunction(() => window.matchkey && window.matchkey.loaded);
  return { context, page, requests, errors };
}

function init(page, config = {}) {
  return page.evaluate((c) => window.matchkey('init', c), { endpoint: ingest.url, siteKey: 'test-site', debug: true, ...config });
}

const events = () => ingest.seen.filter((r) => r.path === '/v1/events').flatMap((r) => JSON.parse(r.body).events);
const stored = (page, key) => page.evaluate((k) => JSON.parse(localStorage.getItem(k)), key);
const outboxed = async (page) => ((await stored(page, 'matchkey_outbox')) || { events: [] }).events;

test('an event carries only the allowed fields; bad names and ids are not sent', async () => {
  ingest.seen.length = 0;
  const { context, page, errors } = await open();
  await init(page, { country: 'US', dataSetName: 'ignored' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'bad name!', { value: 1 });
    matchkey('track', 'x'.repeat(65));
    matchkey('track', 'purchase', { eventId: 'order 1001' });
    matchkey('track', 'purchase', { eventId: 'o'.repeat(129) });
    matchkey('track', 'purchase', { value: 12.5, currency: 'EUR', units: 2, eventId: 'order-1001', customData: { sku: 'A1' } });
  });
  await until(() => events().length >= 1);
  await page.waitForTimeout(WAIT);
  assert.equal(events().length, 1);
  const [event] = events();
  assert.deepEqual(Object.keys(event).sort(), ['country', 'currency', 'customData', 'eventId', 'eventTime', 'matchKeys', 'name', 'units', 'value']);
  assert.deepEqual(event.matchKeys, { EMAIL: EMAIL_HASH });
  assert.equal(event.name, 'purchase');
  assert.equal(event.eventId, 'order-1001');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the debug copy of each body (window.matchkey.sent, matchkey:send) exists only when debugging is on', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open();
  await init(page, { country: 'US', debug: false });
  await page.evaluate(() => {
    window.heard = 0;
    window.addEventListener('matchkey:send', () => { window.heard += 1; });
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'purchase', { eventId: 'dbg-1' });
  });
  await until(() => events().some((e) => e.eventId === 'dbg-1'));
  assert.deepEqual(await page.evaluate(() => window.matchkey.sent ?? []), [], 'no copy of the body');
  assert.equal(await page.evaluate(() => window.heard), 0);
  await context.close();
});

test('identify refuses a matchId that is an e-mail address or a phone number: not sent, not stored', async () => {
  ingest.seen.length = 0;
  const { context, page, requests } = await open();
  await init(page, { country: 'GB', consentMode: 'required' });
  await page.evaluate(() => matchkey('consent', { adStorage: 'granted', userData: 'granted' }));
  const rejected = await page.evaluate(() => [
    matchkey('identify', { matchId: 'jane.doe@example.com', email: 'abc@example.com' }),
    matchkey('identify', { matchId: '+44 7911 123456' }),
    matchkey('identify', { rampId: 'jane%40example.com' }),
  ]);
  assert.deepEqual(rejected, [
    [{ field: 'MATCH_ID', code: 'looks_like_personal_data' }],
    [{ field: 'MATCH_ID', code: 'looks_like_personal_data' }],
    [{ field: 'RAMP_ID', code: 'looks_like_personal_data' }],
  ]);
  await page.evaluate(() => {
    matchkey('track', 'purchase');
    matchkey('audience', 'newsletter', 'add');
  });
  await until(() => ingest.seen.length >= 2);
  await page.waitForTimeout(WAIT);
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + document.cookie);
  const everything = [...requests.map((r) => `${r.url}\n${r.body}`), ...ingest.seen.map((r) => `${r.path}\n${r.body}`), storage].join('\n');
  for (const raw of ['jane.doe@example.com', 'jane.doe', 'jane%40example.com', 'jane', '+44 7911 123456', '447911123456', '7911 123456', '7911123456']) {
    assert.ok(!everything.toLowerCase().includes(raw), `raw value leaked: ${raw}`);
  }
  assert.deepEqual(events()[0].matchKeys, { EMAIL: EMAIL_HASH });
  // A plain customer id still goes.
  await page.evaluate(() => matchkey('identify', { matchId: 'cust-123' }));
  await page.evaluate(() => matchkey('track', 'page_view'));
  await until(() => events().length >= 2);
  assert.deepEqual(events()[1].matchKeys, { EMAIL: EMAIL_HASH, MATCH_ID: 'cust-123' });
  assert.equal((await stored(page, 'matchkey_id')).keys.MATCH_ID, 'cust-123');
  await context.close();
});

test('TCF: vendor 793 without purpose 4 sends nothing and stores nothing', async () => {
  ingest.seen.length = 0;
  const { context, page, requests } = await open({ tcf: tcData({ purposes: [1, 2, 3, 7] }) });
  await init(page, { country: 'DE' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'purchase');
    matchkey('audience', 'newsletter', 'add');
  });
  await page.waitForTimeout(WAIT);
  assert.equal(requests.filter((r) => r.url.startsWith(ingest.url)).length, 0);
  assert.equal(await stored(page, 'matchkey_id'), null);
  // Nor without vendor 793, whatever the purposes.
  await page.evaluate((d) => window.setTcData(d), tcData({ vendor: false }));
  await page.evaluate(() => matchkey('track', 'purchase'));
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  await context.close();
});

test('TCF: vendor 793 and the purposes send the event with the TCF string and store the identity', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ tcf: tcData() });
  await init(page, { country: 'DE' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'purchase');
  });
  await until(() => events().length >= 1);
  assert.deepEqual(events()[0].consent, { tcf: TCF });
  assert.deepEqual(events()[0].matchKeys, { EMAIL: EMAIL_HASH });
  assert.deepEqual((await stored(page, 'matchkey_id')).keys, { EMAIL: EMAIL_HASH });
  assert.deepEqual(await page.evaluate(() => window.cmpCalls.slice(0, 2)), ['tcf:addEventListener', 'tcf:getTCData']);
  await context.close();
});

test('TCF: consent given later through the CMP listener releases the waiting event and stores the identity', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ tcf: null });
  await init(page, { country: 'FR' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'purchase', { eventId: 'waiting-1' });
  });
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  assert.equal(await stored(page, 'matchkey_id'), null, 'no identity in storage before consent');
  // The visitor accepts: the CMP tells its listeners.
  await page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete' }));
  await until(() => events().length >= 1);
  assert.equal(events()[0].eventId, 'waiting-1');
  assert.deepEqual(events()[0].consent, { tcf: TCF });
  assert.deepEqual((await stored(page, 'matchkey_id')).keys, { EMAIL: EMAIL_HASH });
  // Then withdraws: the stored identity goes, new events are not sent.
  await page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete', purposes: [] }));
  assert.equal(await stored(page, 'matchkey_id'), null);
  await page.evaluate(() => matchkey('track', 'page_view'));
  await page.waitForTimeout(WAIT);
  assert.equal(events().length, 1);
  await context.close();
});

test('consentWait false drops events while consent is unknown', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ tcf: null });
  await init(page, { country: 'IE', consentWait: false });
  await page.evaluate(() => matchkey('track', 'purchase'));
  await page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete' }));
  await page.evaluate(() => matchkey('track', 'page_view'));
  await until(() => events().length >= 1);
  await page.waitForTimeout(WAIT);
  assert.deepEqual(events().map((e) => e.name), ['page_view']);
  await context.close();
});

test('GPP: usnat with an opt-out sends nothing, without one it sends the GPP string', async () => {
  ingest.seen.length = 0;
  for (const optOut of [{ SaleOptOut: 1 }, { SharingOptOut: 1 }, { TargetedAdvertisingOptOut: 1 }]) {
    const { context, page } = await open({ gpp: gppPing([7], { usnat: usnat(optOut) }) });
    await init(page, { country: 'US' });
    await page.evaluate(() => {
      matchkey('identify', { email: 'abc@example.com' });
      matchkey('track', 'purchase');
    });
    await page.waitForTimeout(WAIT);
    assert.equal(ingest.seen.length, 0, JSON.stringify(optOut));
    assert.equal(await stored(page, 'matchkey_id'), null);
    await context.close();
  }
  // The section as one object (no segments), read through getSection.
  const { context, page } = await open({ gpp: gppPing([7]), sections: { usnat: usnat()[0] } });
  await init(page, { country: 'US' });
  await page.evaluate(() => matchkey('track', 'purchase'));
  await until(() => events().length >= 1);
  assert.deepEqual(events()[0].consent, { gpp: GPP });
  assert.ok((await page.evaluate(() => window.cmpCalls)).includes('gpp:getSection'));
  await context.close();
});

test('GPP: in the EEA tcfeuv2 is judged as TCF; uspv1 (alone or beside a granting section) and usnat send nothing', async () => {
  ingest.seen.length = 0;
  const tcfeuv2 = (purposes) => [{ Version: 2, VendorConsents: [10, 793], PurposeConsents: Array.from({ length: 24 }, (_, i) => purposes.includes(i + 1)) }];
  const uspv1 = { uspv1: { Version: 1, Notice: 'Y', OptOutSale: 'N', LspaCovered: 'N' } };
  const granting = { tcfeuv2: tcfeuv2([1, 2, 3, 4]) };
  // usnat without any opt-out is still no consent for EEA data.
  for (const ping of [gppPing([6], uspv1), gppPing([2], { tcfeuv2: tcfeuv2([1, 3]) }), gppPing([2, 6], { ...granting, ...uspv1 }), gppPing([7], { usnat: usnat() })]) {
    const { context, page } = await open({ gpp: ping });
    await init(page, { country: 'NL' });
    await page.evaluate(() => matchkey('track', 'purchase'));
    await page.waitForTimeout(WAIT);
    assert.equal(ingest.seen.length, 0, JSON.stringify(ping.applicableSections));
    await context.close();
  }
  const { context, page } = await open({ gpp: gppPing([2], granting) });
  await init(page, { country: 'NL' });
  await page.evaluate(() => matchkey('track', 'purchase'));
  await until(() => events().length >= 1);
  assert.deepEqual(events()[0].consent, { gpp: GPP });
  await context.close();
});

test('GPP: consent reported later through the listener releases the waiting event', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ gpp: null });
  await init(page, { country: 'GB' });
  await page.evaluate(() => matchkey('track', 'purchase', { eventId: 'gpp-later' }));
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  const ping = gppPing([2], { tcfeuv2: [{ VendorConsents: [793], PurposeConsents: [true, false, true, true] }] });
  await page.evaluate((p) => window.setGpp(p), ping);
  await until(() => events().length >= 1);
  assert.equal(events()[0].eventId, 'gpp-later');
  await context.close();
});

test('Amazon consent: the ConsentJS cookie and consent() grant only with user data granted', async () => {
  ingest.seen.length = 0;
  const context = await browser.newContext();
  await context.addCookies([{
    name: 'amzn_consent', url: site.url,
    value: encodeURIComponent(JSON.stringify({ amazonConsentFormat: { amznAdStorage: 'GRANTED', amznUserData: 'DENIED' }, version: '1' })),
  }]);
  const { page } = await open({}, context);
  await init(page, { country: 'ES' });
  await page.evaluate(() => matchkey('track', 'purchase'));
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  // Raw strings alone grant nothing; a TCF string passed to consent() is only carried.
  await page.evaluate((tcf) => matchkey('consent', { tcf, adStorage: 'granted', userData: 'granted' }), TCF);
  await page.evaluate(() => matchkey('track', 'purchase', { eventId: 'acs-1' }));
  await until(() => events().length >= 1);
  assert.deepEqual(events().map((e) => e.eventId), ['acs-1']);
  assert.deepEqual(events()[0].consent, { amazonConsent: { amznUserData: 'GRANTED', amznAdStorage: 'GRANTED' }, tcf: TCF });
  // A consent string that is not one (raw data smuggled in) is not carried.
  await page.evaluate(() => matchkey('consent', { tcf: 'jane.doe@example.com', gpp: 'jane@example.com' }));
  await page.evaluate(() => matchkey('track', 'purchase', { eventId: 'acs-2' }));
  await until(() => events().length >= 2);
  assert.deepEqual(events()[1].consent, { amazonConsent: { amznUserData: 'GRANTED', amznAdStorage: 'GRANTED' } });
  await context.close();
});

test('the outbox re-checks consent: denied now drops, unknown keeps, granted sends with current consent', async () => {
  ingest.seen.length = 0;
  // Page 1: consent granted, the Worker fails: the event waits in the outbox.
  ingest.setStatus(500);
  const first = await open({ tcf: tcData() });
  await init(first.page, { country: 'DE' });
  await first.page.evaluate(() => matchkey('track', 'purchase', { eventId: 'boxed-1' }));
  await until(() => ingest.seen.length >= 1);
  await until(async () => (await outboxed(first.page)).length === 1);
  ingest.setStatus(202);
  ingest.seen.length = 0;
  // Page 2 of the same visit, the CMP's banner open: kept, not sent.
  const second = await open({ tcf: null }, first.context);
  await init(second.page, { country: 'DE' });
  await second.page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  assert.equal((await outboxed(second.page)).length, 1);
  // Page 3: the visitor has refused meanwhile: dropped.
  const third = await open({ tcf: tcData({ purposes: [1] }) }, first.context);
  await init(third.page, { country: 'DE' });
  await third.page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  await until(async () => (await stored(third.page, 'matchkey_outbox')) === null);
  await first.context.close();

  // Same start, then consent granted later on the next page: sent with that consent.
  ingest.setStatus(500);
  const a = await open({ tcf: tcData() });
  await init(a.page, { country: 'GB', consentMode: 'required' });
  await a.page.evaluate((tcf) => matchkey('consent', { tcf, adStorage: 'granted', userData: 'granted' }), TCF);
  await a.page.evaluate(() => matchkey('track', 'purchase', { eventId: 'boxed-2' }));
  await until(() => ingest.seen.length >= 1);
  await until(async () => (await outboxed(a.page)).length === 1);
  ingest.setStatus(202);
  ingest.seen.length = 0;
  const b = await open({ tcf: null }, a.context);
  await init(b.page, { country: 'GB' });
  await b.page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  await b.page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete' }));
  await until(() => events().length >= 1);
  assert.equal(events()[0].eventId, 'boxed-2');
  assert.deepEqual(events()[0].consent, { tcf: TCF });
  await until(async () => (await stored(b.page, 'matchkey_outbox')) === null);
  await a.context.close();
});

test('audiences: add sends the digests, remove sends nothing', async () => {
  ingest.seen.length = 0;
  const { context, page, requests } = await open();
  await init(page, { country: 'US' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('audience', 'newsletter', 'remove');
  });
  await page.waitForTimeout(WAIT);
  assert.equal(requests.filter((r) => r.url.startsWith(ingest.url)).length, 0);
  await page.evaluate(() => matchkey('audience', 'newsletter', 'add'));
  await until(() => ingest.seen.length >= 1);
  assert.equal(ingest.seen[0].path, '/v1/audiences/newsletter/members');
  assert.equal(ingest.seen[0].siteKey, 'test-site', 'the site key travels in the query');
  assert.deepEqual(JSON.parse(ingest.seen[0].body), { country: 'US', add: [{ matchKeys: { EMAIL: EMAIL_HASH } }] });
  await context.close();
});

test('503 with Retry-After: events stay in the outbox and nothing is sent before it expires', async () => {
  ingest.seen.length = 0;
  ingest.setStatus(503, { 'retry-after': '2' });
  const first = await open();
  await init(first.page, { country: 'US' });
  await first.page.evaluate(() => matchkey('track', 'purchase', { eventId: 'r-1' }));
  await until(() => ingest.seen.length >= 1);
  await until(async () => (await outboxed(first.page)).length === 1 && (await stored(first.page, 'matchkey_outbox')).retryAt > 0);
  const refusedAt = ingest.seen[0].at;
  const { retryAt } = await stored(first.page, 'matchkey_outbox');
  assert.ok(retryAt >= refusedAt + 1500 && retryAt <= refusedAt + 3000, `retryAt ${retryAt - refusedAt} ms`);
  ingest.setStatus(202);
  await first.page.close(); // one page (and its retry timer) at a time
  // The next page, still within Retry-After: its event joins the outbox, nothing is sent.
  const second = await open({}, first.context);
  await init(second.page, { country: 'US' });
  await second.page.evaluate(() => matchkey('track', 'page_view', { eventId: 'r-2' }));
  await second.page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 1);
  assert.deepEqual((await outboxed(second.page)).map((e) => e.eventId), ['r-1', 'r-2']);
  // Once it has passed, both go in one request (the page keeps a timer).
  await until(() => ingest.seen.length >= 2, 5000);
  assert.ok(ingest.seen[1].at >= refusedAt + 2000, `retried after ${ingest.seen[1].at - refusedAt} ms`);
  assert.deepEqual(JSON.parse(ingest.seen[1].body).events.map((e) => e.eventId), ['r-1', 'r-2']);
  await until(async () => (await stored(second.page, 'matchkey_outbox')) === null);
  await first.context.close();
});

test('audience changes the Worker cannot take now (503, no answer) wait in storage for Retry-After, across pages; a 4xx drops them', async () => {
  ingest.seen.length = 0;
  const members = () => ingest.seen.filter((r) => r.path.startsWith('/v1/audiences/'));
  ingest.setStatus(503, { 'retry-after': '2' });
  const first = await open();
  await init(first.page, { country: 'US' });
  await first.page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('audience', 'newsletter', 'add');
  });
  await until(() => members().length >= 1);
  await until(async () => (await stored(first.page, 'matchkey_aud'))?.at > 0);
  const refusedAt = members()[0].at;
  const kept = await stored(first.page, 'matchkey_aud');
  assert.ok(kept.at >= refusedAt + 1500 && kept.at <= refusedAt + 3000, `at ${kept.at - refusedAt} ms`);
  assert.deepEqual(Object.keys(kept.c), ['/v1/audiences/newsletter/members']);
  ingest.setStatus(202);
  await first.page.close();
  // The next page, still within Retry-After: a change of another audience waits too.
  const second = await open({}, first.context);
  await init(second.page, { country: 'US' });
  await second.page.evaluate(() => matchkey('audience', 'buyers', 'add'));
  assert.deepEqual(Object.keys((await stored(second.page, 'matchkey_aud')).c).sort(), ['/v1/audiences/buyers/members', '/v1/audiences/newsletter/members']);
  assert.equal(members().length, 1, 'nothing sent before Retry-After');
  // Once it has passed, both go, and storage forgets them.
  await until(() => members().length >= 3, 5000);
  assert.ok(members().slice(1).every((r) => r.at >= refusedAt + 2000));
  assert.deepEqual(members().slice(1).map((r) => r.path).sort(), ['/v1/audiences/buyers/members', '/v1/audiences/newsletter/members']);
  assert.deepEqual(JSON.parse(members()[1].body).add[0].matchKeys, { EMAIL: EMAIL_HASH });
  await until(async () => (await stored(second.page, 'matchkey_aud')) === null);
  // Refused for good (a 4xx other than 408 and 429): dropped, not kept.
  ingest.setStatus(403);
  await second.page.evaluate(() => matchkey('audience', 'vip', 'add'));
  await until(() => members().length >= 4);
  await until(async () => (await stored(second.page, 'matchkey_aud')) === null);
  ingest.setStatus(202);
  await first.context.close();
});

test('a sharded Worker that queues part of a request: the refused events wait for Retry-After, the taken ones are not sent again', async () => {
  ingest.seen.length = 0;
  ingest.setStatus(202, { 'retry-after': '1' }, JSON.stringify({
    accepted: [{ index: 0, eventId: 's-1' }], rejected: [{ index: 1, reason: 'backlog_full' }], warnings: [],
  }));
  const { context, page } = await open();
  await init(page, { country: 'US' });
  await page.evaluate(() => {
    matchkey('track', 'purchase', { eventId: 's-1' });
    matchkey('track', 'purchase', { eventId: 's-2' });
  });
  await until(async () => (await outboxed(page)).length === 1);
  assert.deepEqual((await outboxed(page)).map((e) => e.eventId), ['s-2']);
  ingest.setStatus(202);
  await until(() => ingest.seen.length >= 2, 5000);
  assert.deepEqual(JSON.parse(ingest.seen[1].body).events.map((e) => e.eventId), ['s-2']);
  await context.close();
});

test('an event leaves the outbox only when an answer lists it as accepted or refused for good', async () => {
  ingest.seen.length = 0;
  // A 202 that lists none of the events (an answer the tag cannot match): all stay.
  ingest.setStatus(202, {}, JSON.stringify({ accepted: [], rejected: [], warnings: [] }));
  const { context, page } = await open();
  await init(page, { country: 'US' });
  await page.evaluate(() => ['k-1', 'k-2', 'k-3'].forEach((id) => matchkey('track', 'purchase', { eventId: id })));
  await until(() => ingest.seen.length >= 1);
  await until(async () => (await outboxed(page)).every((e) => !e.sending));
  assert.deepEqual((await outboxed(page)).map((e) => e.eventId), ['k-1', 'k-2', 'k-3']);
  // The next answer: k-1 accepted, k-2 refused for good, k-3 refused for now (a shard's
  // backlog): only k-3 stays.
  ingest.setStatus(202, {}, JSON.stringify({
    accepted: [{ index: 0, eventId: 'k-1' }], rejected: [{ index: 1, field: 'value', reason: 'invalid_value' }, { index: 2, reason: 'backlog_full' }], warnings: [],
  }));
  await page.evaluate(() => matchkey('track', 'page_view', { eventId: 'k-4' }));
  await until(() => ingest.seen.length >= 2);
  assert.deepEqual(JSON.parse(ingest.seen[1].body).events.map((e) => e.eventId), ['k-1', 'k-2', 'k-3', 'k-4']);
  await until(async () => (await outboxed(page)).map((e) => e.eventId).join() === 'k-3,k-4');
  ingest.setStatus(202);
  await context.close();
});

test('network errors keep events in a bounded outbox until the next page', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open();
  // Counts the tag's requests that have settled, their handlers run (`finally` runs first).
  await page.evaluate(() => {
    const fetch = window.fetch;
    window.settled = 0;
    window.fetch = (...args) => fetch(...args).finally(() => { window.settled++; });
  });
  await init(page, { country: 'US', endpoint: 'http://127.0.0.1:9' });
  await page.evaluate(() => { for (let i = 0; i < 60; i++) matchkey('track', 'page_view', { eventId: `n-${i}` }); });
  // Three requests fail: one each time 25 events are waiting, one when the batch window
  // closes. Only once all three are back in the outbox is this page idle: a flush of its
  // own in flight would hide events from the next page's.
  await until(async () => (await page.evaluate(() => window.settled)) === 3, 10000);
  assert.equal((await outboxed(page)).length, 50);
  assert.equal(new Set((await outboxed(page)).map((e) => e.eventId)).size, 50);
  const next = await open({}, context);
  await init(next.page, { country: 'US' });
  await until(() => events().length >= 50);
  await until(async () => (await stored(next.page, 'matchkey_outbox')) === null);
  await context.close();
});

test('one page view: three events leave together in one request after the batch window', async () => {
  ingest.seen.length = 0;
  const { context, page, errors } = await open();
  await init(page, { country: 'US' });
  const started = Date.now();
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'page_view', { eventId: 'pv-1' });
    matchkey('track', 'add_to_cart', { eventId: 'pv-2', value: 5, currency: 'USD' });
  });
  await page.waitForTimeout(50);
  await page.evaluate(() => matchkey('track', 'checkout', { eventId: 'pv-3' }));
  await until(() => ingest.seen.length >= 1);
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 1, 'one request for the page view');
  assert.ok(ingest.seen[0].at - started >= 150, `sent after ${ingest.seen[0].at - started} ms, before the window closed`);
  const body = JSON.parse(ingest.seen[0].body);
  assert.deepEqual(Object.keys(body).sort(), ['events', 'v']);
  assert.deepEqual(body.events.map((e) => e.eventId), ['pv-1', 'pv-2', 'pv-3']);
  assert.ok(body.events.every((e) => e.matchKeys.EMAIL === EMAIL_HASH));
  await until(async () => (await stored(page, 'matchkey_outbox')) === null);
  assert.deepEqual(errors, []);
  await context.close();
});

test('leaving the page (pagehide) sends the waiting events at once, with keepalive', async () => {
  ingest.seen.length = 0;
  const { context, page, requests } = await open();
  await init(page, { country: 'US', batchMs: 60000 });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'page_view', { eventId: 'hide-1' });
    matchkey('track', 'purchase', { eventId: 'hide-2' });
  });
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0, 'the window is still open');
  // Accepted events wait in storage, not only in memory: a page killed now loses none.
  assert.deepEqual((await outboxed(page)).map((e) => e.eventId), ['hide-1', 'hide-2']);
  await page.goto(`${site.url}/tests/js/fixtures/snippet.html?endpoint=http://127.0.0.1:9`);
  await until(() => ingest.seen.length >= 1);
  assert.equal(ingest.seen.length, 1);
  assert.deepEqual(JSON.parse(ingest.seen[0].body).events.map((e) => e.eventId), ['hide-1', 'hide-2']);
  assert.ok(!requests.some((r) => r.body.includes('abc@example.com')));
  await context.close();
});

test('hiding the page (visibilitychange to hidden) sends the waiting events at once', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open();
  await init(page, { country: 'US', batchMs: 60000 });
  await page.evaluate(() => matchkey('track', 'page_view', { eventId: 'vis-1' }));
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 0);
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until(() => ingest.seen.length >= 1);
  assert.deepEqual(JSON.parse(ingest.seen[0].body).events.map((e) => e.eventId), ['vis-1']);
  await context.close();
});

test('without any storage (localStorage throws, cookies ignored) a page view still sends its events together', async () => {
  ingest.seen.length = 0;
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Storage.prototype.setItem = () => { throw new Error('QuotaExceededError'); };
    Object.defineProperty(Document.prototype, 'cookie', { get: () => '', set: () => {}, configurable: true });
  });
  const { page, errors } = await open({}, context);
  await init(page, { country: 'US' });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    for (let i = 0; i < 3; i++) matchkey('track', 'page_view', { eventId: `nostore-${i}` });
  });
  await until(() => ingest.seen.length >= 1);
  await page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, 1);
  assert.deepEqual(JSON.parse(ingest.seen[0].body).events.map((e) => e.eventId), ['nostore-0', 'nostore-1', 'nostore-2']);
  assert.deepEqual(errors, []);
  await context.close();
});

// ---- Cookie sync: the visitor id, Amazon's matching request, audiences, erasure ---------

const matches = () => ingest.seen.filter((r) => r.path === '/ecm3');
const erasures = () => ingest.seen.filter((r) => r.path === '/v1/erasure').map((r) => JSON.parse(r.body));
const members = () => ingest.seen.filter((r) => r.path.endsWith('/members')).map((r) => JSON.parse(r.body));
const visitor = async (page) => ((await stored(page, 'matchkey_vid')) || {}).id;
const sync = () => ({ cookieSync: { partnerCode: 'p1', periodHours: 24, matchUrl: `${ingest.url}/ecm3` } });

test('cookie sync: matching waits for consent, goes once with the TCF string, never when declined; the id survives a reload, not reset', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ tcf: null });
  await init(page, { country: 'DE', ...sync() });
  await page.evaluate(() => matchkey('track', 'page_view'));
  await page.waitForTimeout(WAIT);
  assert.equal(matches().length, 0, 'no matching before consent');
  assert.equal(await stored(page, 'matchkey_vid'), null, 'no visitor id stored before consent');
  await page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete' }));
  await until(() => matches().length === 1);
  const vid = await visitor(page);
  assert.match(vid, /^[0-9a-f]{32}$/);
  const q = new URLSearchParams(matches()[0].query);
  assert.deepEqual([q.get('ex'), q.get('id'), q.get('gdpr'), q.get('gdpr_consent')], ['p1', vid, '1', TCF]);
  await page.evaluate(() => matchkey('track', 'purchase'));
  // A reload: the same id, and no second matching within the period.
  const again = await open({ tcf: tcData() }, context);
  await init(again.page, { country: 'DE', ...sync() });
  await until(() => events().length >= 2);
  assert.equal(await visitor(again.page), vid);
  assert.equal(matches().length, 1);
  // reset (a logout) forgets the id here and erases nothing; the next id is new.
  await again.page.evaluate(() => matchkey('reset'));
  assert.equal(await stored(again.page, 'matchkey_vid'), null);
  await again.page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete' }));
  await until(() => matches().length === 2);
  assert.notEqual(new URLSearchParams(matches()[1].query).get('id'), vid);
  assert.equal(erasures().length, 0);
  await context.close();

  // Declined: no id, no matching.
  ingest.seen.length = 0;
  const declined = await open({ tcf: tcData({ purposes: [] }) });
  await init(declined.page, { country: 'DE', ...sync() });
  await declined.page.evaluate(() => matchkey('audience', 'seen', 'add'));
  await declined.page.waitForTimeout(WAIT);
  assert.equal(matches().length + members().length, 0);
  assert.equal(await stored(declined.page, 'matchkey_vid'), null);
  await declined.context.close();
});

test('cookie sync: audiences by visitor id (and hashes), removal by visitor id only; withdrawn consent and optOut erase', async () => {
  ingest.seen.length = 0;
  const { context, page } = await open({ tcf: tcData() });
  await init(page, { country: 'DE', ...sync() });
  await until(() => matches().length === 1);
  const vid = await visitor(page);
  await page.evaluate(() => matchkey('audience', 'seen', 'add'));
  await until(() => members().length === 1);
  assert.deepEqual(members()[0], { country: 'DE', add: [{ visitorId: vid }], consent: { tcf: TCF } });
  await page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('audience', 'all', 'add');
    matchkey('audience', 'seen', 'remove');
  });
  await until(() => members().length === 3);
  assert.deepEqual(members()[1].add, [{ visitorId: vid, matchKeys: { EMAIL: EMAIL_HASH } }]);
  assert.deepEqual(members()[2].remove, [{ visitorId: vid }]);
  // The visitor withdraws consent: the Worker is asked to erase the id, the page forgets it.
  await page.evaluate((d) => window.setTcData(d), tcData({ status: 'useractioncomplete', purposes: [] }));
  await until(() => erasures().length === 1);
  assert.deepEqual(erasures()[0], { visitorIds: [vid] });
  assert.equal(await stored(page, 'matchkey_vid'), null);
  await context.close();

  // optOut where no consent is needed: erased, forgotten, and nothing sent afterwards.
  ingest.seen.length = 0;
  const us = await open();
  await init(us.page, { country: 'US', ...sync() });
  await until(() => matches().length === 1);
  assert.equal(new URLSearchParams(matches()[0].query).get('gdpr'), null, 'no GDPR parameters without a TCF signal');
  const usVid = await visitor(us.page);
  await us.page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('optOut');
  });
  await until(() => erasures().length === 1);
  assert.deepEqual(erasures()[0], { visitorIds: [usVid] });
  assert.equal(await stored(us.page, 'matchkey_id'), null);
  const sent = ingest.seen.length;
  await us.page.evaluate(() => {
    matchkey('identify', { email: 'abc@example.com' });
    matchkey('track', 'purchase');
    matchkey('audience', 'seen', 'add');
  });
  await us.page.waitForTimeout(WAIT);
  assert.equal(ingest.seen.length, sent);
  assert.equal(await stored(us.page, 'matchkey_vid'), null);
  await us.context.close();
});
