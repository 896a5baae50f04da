// The console (issue 14): sign-in for a session cookie, CSRF, CSP, people and the audit
// log, and every view with real data: the Worker in workerd (Miniflare, served on a
// loopback port) against the Amazon emulator, driven in Chromium. A screenshot of each
// view goes to target/console-screenshots/ (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { brotliCompressSync, constants } from 'node:zlib';
import { createHash } from 'node:crypto';
import { launch } from '../js/harness.mjs';
import { root, startEmulator, startWorker, until, ADMIN_KEY, ORIGIN } from './harness.mjs';

const SHOTS = `${root}target/console-screenshots`;
const EMAIL = 'ada@example.com';
const EMAIL_HASH = createHash('sha256').update(EMAIL).digest('hex');

let amazon;
let worker;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  amazon = await startEmulator();
  worker = await startWorker(amazon.url, { LWA_AUTH_URL: `${amazon.url}/ap/oa` });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  amazon?.stop();
});

/** A request to the Worker on its loopback port (as a browser would reach it). */
async function call(path, { method = 'GET', headers = {}, body } = {}) {
  const r = await fetch(worker.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, body: json, text };
}

const admin = (path, method = 'GET', body) => call(path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` }, body });

async function signIn(key) {
  const r = await call('/v1/admin/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: { key } });
  const cookie = (r.headers.get('set-cookie') || '').split(';')[0];
  return { ...r, cookie, csrf: r.body?.csrf };
}

test('every admin route and data-showing console file needs a session or the admin key', async () => {
  for (const [method, path] of [
    ['GET', '/v1/health'], ['GET', '/v1/deliveries'], ['POST', '/v1/replay'], ['POST', '/v1/flush'],
    ['POST', '/v1/connect/start'], ['GET', '/v1/admin/check'], ['GET', '/v1/admin/connections'],
    ['GET', '/v1/admin/integrations'], ['GET', '/v1/admin/integrations/int_x'], ['POST', '/v1/admin/integrations/int_x/disable'],
    ['GET', '/v1/admin/session'], ['DELETE', '/v1/admin/session'], ['GET', '/v1/admin/sessions'], ['GET', '/v1/admin/users'],
    ['POST', '/v1/admin/users'], ['GET', '/v1/admin/audit'], ['GET', '/v1/admin/connections/conn_x/accounts'],
    ['GET', '/v1/admin/integrations/default/live'], ['GET', '/v1/admin/integrations/default/audiences'],
    ['POST', '/v1/admin/integrations/default/validate'], ['GET', '/console/app.js'],
  ]) {
    const r = await call(path, { method });
    assert.equal(r.status, 401, `${method} ${path}: ${r.status} ${r.text}`);
    // A cookie that names no session is no better.
    const forged = await call(path, { method, headers: { cookie: `__Host-mk_session=${'0'.repeat(64)}` } });
    assert.equal(forged.status, 401, `${method} ${path} with a forged cookie`);
  }
  const page = await call('/console');
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/console/sign-in');
  const signInPage = await call('/console/sign-in');
  assert.equal(signInPage.status, 200);
  assert.doesNotMatch(signInPage.text, /<script>|<style|integration|ENTITY/i);
  // The admin key still works as before.
  assert.equal((await admin('/v1/admin/integrations')).status, 200);
});

test('the console stays within its size budget (scripts/size-budget.json, "console")', () => {
  const budget = JSON.parse(readFileSync(`${root}scripts/size-budget.json`, 'utf8')).console;
  let total = 0;
  for (const [file, limit] of Object.entries(budget.files)) {
    const size = brotliCompressSync(readFileSync(`${root}${file}`), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    total += size;
    assert.ok(size <= limit, `${file}: ${size} B brotli, budget ${limit} B`);
  }
  assert.ok(total <= budget.total, `console total ${total} B, budget ${budget.total} B`);
});

test('console pages carry a strict CSP and the session cookie its attributes', async () => {
  for (const path of ['/console/sign-in', '/console/console.css', '/console/sign-in.js']) {
    const r = await call(path);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
  }
  const s = await signIn(ADMIN_KEY);
  assert.equal(s.status, 201);
  const set = s.headers.get('set-cookie');
  assert.match(set, /^__Host-mk_session=[0-9a-f]{64};/);
  for (const attr of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict', 'Max-Age=28800']) assert.ok(set.includes(attr), set);
  assert.doesNotMatch(set, /Domain=/i);
  const app = await call('/console', { headers: { cookie: s.cookie } });
  assert.equal(app.status, 200);
  assert.match(app.headers.get('content-security-policy'), /default-src 'none'/);
  // A wrong key is refused and counted by the failed-secret guard.
  assert.equal((await signIn('not-the-key')).status, 401);
  assert.equal((await signIn('not-the-key')).body.error, 'invalid_sign_in_key');
});

test('a change made with a session needs the CSRF token and this origin; sign-out ends the session', async () => {
  const s = await signIn(ADMIN_KEY);
  const own = worker.url;
  const flush = (headers) => call('/v1/flush', { method: 'POST', headers: { cookie: s.cookie, ...headers } });
  assert.equal((await flush({ origin: own })).body.error, 'csrf_token_missing');
  assert.equal((await flush({ origin: own, 'x-csrf-token': 'wrong' })).body.error, 'csrf_token_invalid');
  assert.equal((await flush({ origin: 'https://evil.example', 'x-csrf-token': s.csrf })).body.error, 'csrf_origin_mismatch');
  assert.equal((await flush({ 'x-csrf-token': s.csrf })).status, 403, 'no Origin: refused');
  assert.equal((await flush({ origin: own, 'x-csrf-token': s.csrf })).status, 200);
  // Reads need no token.
  assert.equal((await call('/v1/deliveries', { headers: { cookie: s.cookie } })).status, 200);
  // Sign-in from another origin is refused (login CSRF).
  const cross = await call('/v1/admin/session', { method: 'POST', headers: { origin: 'https://evil.example' }, body: { key: ADMIN_KEY } });
  assert.equal(cross.status, 403);
  const out = await call('/v1/admin/session', { method: 'DELETE', headers: { cookie: s.cookie, origin: own, 'x-csrf-token': s.csrf } });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  assert.equal((await call('/v1/admin/integrations', { headers: { cookie: s.cookie } })).body.error, 'session_expired');
});

/** A screenshot of the view; anything shown once (a new secret or key) is blanked first. */
async function shot(page, name) {
  await page.evaluate(() => {
    for (const e of document.querySelectorAll('.once code, #new-key')) e.textContent = '(hidden in screenshots)';
  });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** Opens a view and waits until it has rendered. */
async function open(page, hash) {
  await page.evaluate((h) => {
    document.body.dataset.view = '';
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await page.waitForFunction((name) => document.body.dataset.view === name, hash.slice(1).split('?')[0]);
}

async function browserSignIn(key) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const page = await context.newPage();
  const sent = [];
  page.on('request', (r) => sent.push({ url: r.url(), body: r.postData() || '' }));
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`${worker.url}/console`);
  assert.match(page.url(), /\/console\/sign-in$/);
  await page.fill('#key', key);
  await page.press('#key', 'Enter');
  await page.waitForURL(/\/console$/);
  await page.waitForFunction(() => document.body.dataset.view === 'integrations');
  return { context, page, sent };
}

test('the views with real data: install, live events, delivery, dead letter replay, health, try it, people', async () => {
  const { context, page, sent } = await browserSignIn(ADMIN_KEY);
  const [cookie] = (await context.cookies()).filter((c) => c.name === '__Host-mk_session');
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path], [true, true, 'Strict', '/']);
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read the session cookie');
  await shot(page, 'integrations-empty');

  // Install through the form: first with mistakes, shown next to their fields.
  await open(page, '#integration');
  await page.fill('#f-allowed_origins', 'ftp://shop.example');
  await page.click('#integration-form button[type=submit]');
  await page.waitForSelector('#form-errors:not([hidden])');
  assert.match(await page.textContent('[data-field="name"] .err'), /name: required/);
  assert.match(await page.textContent('[data-field="allowed_origins"] .err'), /allowed_origins/);
  assert.match(await page.textContent('[data-field="config.advertiser_id"] .err'), /advertiser_id/);
  await shot(page, 'integration-form-errors');
  await page.fill('#f-name', 'Shop US');
  await page.fill('#f-advertiser_id', 'ENTITY1MATCHKEYDEMO');
  await page.fill('#f-allowed_origins', ORIGIN);
  await page.fill('#f-audiences', 'newsletter');
  await page.fill('#f-amc_advertiser_id', '583000000000001');
  await page.click('#integration-form button[type=submit]');
  await page.waitForSelector('#snippet');
  const siteKey = await page.textContent('#site-key');
  assert.match(await page.textContent('#snippet'), new RegExp(siteKey));
  await shot(page, 'integration-installed');
  const id = (await admin('/v1/admin/integrations')).body.integrations.find((i) => i.site_key === siteKey).id;

  // A purchase from the site appears in live events, then as delivered.
  const send = (eventId) => call(`/v1/events?siteKey=${siteKey}`, {
    method: 'POST', headers: { origin: ORIGIN, 'content-type': 'text/plain' },
    body: { name: 'purchase', eventId, country: 'US', value: 19.99, currency: 'USD', matchKeys: { EMAIL: EMAIL_HASH },
      consent: { amazonConsent: { amznUserData: 'GRANTED', amznAdStorage: 'GRANTED' } } },
  });
  assert.equal((await send('order-1')).status, 202);
  await open(page, `#live?integration=${id}`);
  await page.waitForSelector('#live td >> text=order-1');
  const row = await page.textContent('#live tbody tr');
  assert.match(row, /purchase/);
  assert.match(row, /OFF_AMAZON_PURCHASES/);
  assert.match(row, /EMAIL/);
  assert.match(row, /granted/);
  assert.ok(!row.includes(EMAIL_HASH), 'no match-key value in live events');
  await until(async () => /delivered/.test(await page.textContent('#live tbody tr')), 20000);
  await shot(page, 'live-events');

  // A refused batch becomes a dead letter; it is replayed after a confirmation.
  await amazon.control('/__emulator/faults', { endpoint: 'events', kind: 'status', status: 400 });
  assert.equal((await send('order-2')).status, 202);
  await admin(`/v1/flush?integration=${id}`, 'POST');
  await until(async () => (await admin(`/v1/deliveries?integration=${id}`)).body.deadLetters.length === 1, 20000);
  await fetch(`${amazon.url}/__emulator/faults`, { method: 'DELETE' });
  await open(page, `#deliveries?integration=${id}`);
  assert.match(await page.textContent('#accounting'), /accepted 2 = delivered 1 \+ rejected 0 \+ dead-lettered 1 \+ pending 0/);
  assert.match(await page.textContent('#accounting'), /balanced/);
  await shot(page, 'deliveries');
  // Filters: only the dead-lettered batch.
  await page.selectOption('#filters select[name=status]', 'dead_lettered');
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.view === 'deliveries' && location.hash.includes('status=dead_lettered'));
  await until(async () => !(await page.textContent('main')).includes('Loading'));
  const batches = await page.$$eval('main table:first-of-type tbody tr', (rows) => rows.map((r) => r.textContent));
  assert.ok(batches.length >= 1 && batches.every((b) => /dead_lettered/.test(b)), batches.join('|'));
  // Cancel first: nothing is replayed.
  await page.click(`#accounting li:has-text("${id}") button`);
  await page.click('#confirm button[value=cancel]');
  assert.equal((await admin(`/v1/deliveries?integration=${id}`)).body.accounting[id].replayed, 0);
  await page.click(`#accounting li:has-text("${id}") button`);
  await shot(page, 'replay-confirmation');
  await page.click('#confirm-ok');
  await page.waitForSelector('#replay-result:has-text("Replayed 1")');
  await until(async () => (await admin(`/v1/deliveries?integration=${id}`)).body.accounting[id].delivered === 2, 20000);
  await open(page, `#live?integration=${id}`);
  await until(async () => /order-2/.test(await page.textContent('#live tbody tr')) && /delivered/.test(await page.textContent('#live tbody tr')), 20000);
  assert.match(await page.textContent('#live tbody tr'), /replayed/);

  // Health, with the checks and what to do.
  await open(page, '#health');
  await page.waitForSelector('#checks table');
  assert.match(await page.textContent('main'), /Shop US/);
  await shot(page, 'health');

  // Try it: the e-mail is hashed in the page; only the digest is sent.
  await open(page, `#try?integration=${id}`);
  await page.selectOption('#integration', id);
  await page.fill('#t-email', EMAIL);
  await page.click('#try-form button[type=submit]');
  await page.waitForSelector('#amazon-request');
  const request = await page.textContent('#amazon-request');
  assert.match(request, /^POST http\S+\/adsApi\/v1\/create\/events\n/);
  assert.match(request, /"type": "EMAIL",\s*"values": \[\s*"<SHA-256 of the EMAIL typed here>"/);
  assert.ok(!request.includes(EMAIL_HASH), 'the console shows no match-key value');
  assert.match(request, /<Login with Amazon access token>/);
  assert.ok(sent.some((r) => r.url.endsWith('/validate') && r.body.includes(EMAIL_HASH)), 'the digest was sent');
  assert.ok(!sent.some((r) => r.body.includes(EMAIL)), 'the raw e-mail never left the page');
  await shot(page, 'try-it');

  // Connections: one added from a terminal, its advertisers found through its grant.
  assert.equal((await admin('/v1/admin/connections', 'POST', { region: 'NA', refresh_token: 'Atzr|matchkey-demo-refresh', label: 'Demo agency' })).status, 201);
  await open(page, '#connections');
  await page.click('main table button');
  await page.waitForSelector('#accounts table');
  assert.match(await page.textContent('#accounts'), /ENTITY1MATCHKEYDEMO/);
  await page.fill('#c-label', 'New shop');
  const popup = context.waitForEvent('page');
  await page.click('#connect-form button[type=submit]');
  await page.waitForSelector('#authorization-url');
  assert.match(await page.getAttribute('#authorization-url', 'href'), /code_challenge_method=S256/);
  await (await popup).close();
  await shot(page, 'connections');

  // Audiences: members sent and the activation threshold note.
  await open(page, `#audiences?integration=${id}`);
  await page.waitForSelector('#audiences table');
  assert.match(await page.textContent('#audiences'), /newsletter/);
  assert.match(await page.textContent('#audiences'), /under Amazon's 2,000-member activation threshold/);
  await shot(page, 'audiences');

  // People: Grace is invited, signs in with her own key, makes a change; the audit log
  // names her; revoked, her session ends.
  await open(page, '#people');
  await page.fill('#u-name', 'Grace');
  await page.selectOption('#u-role', 'operator');
  await page.fill('#u-integrations', id);
  await page.click('#invite-form button[type=submit]');
  await page.waitForSelector('#new-key');
  const graceKey = await page.textContent('#new-key');
  assert.match(graceKey, /^mk_ck_[0-9a-f]{48}$/);
  const grace = await browserSignIn(graceKey);
  assert.equal(await grace.page.textContent('#who'), 'Grace');
  await grace.page.click(`main tr:has-text("${id}") button:has-text("Disable")`);
  await grace.page.click('#confirm-ok');
  await grace.page.waitForSelector(`main tr:has-text("${id}") >> text=disabled`);
  assert.equal((await send('order-3')).status, 403, 'a disabled integration takes nothing new');
  await open(page, '#people');
  const audit = await page.textContent('#audit');
  assert.match(audit, /Grace \(usr_[0-9a-f]+\)\s*integration\.disable\s*int_/);
  assert.match(audit, /admin key \(admin\)\s*integration\.install/);
  assert.match(audit, /integration\.install\s*int_\w+\s*201\s*session/);
  assert.match(audit, /connection\.add\s*conn_\w+\s*201\s*key/, 'a change made with the bearer key is audited too');
  assert.match(audit, /deliveries\.replay/);
  assert.match(audit, /user\.invite/);
  assert.ok(!audit.includes(graceKey) && !audit.includes(siteKey), 'the audit log holds no value');
  await shot(page, 'people');
  await page.click('main table:first-of-type tr:has-text("Grace") button:has-text("Revoke")');
  await page.click('#confirm-ok');
  await page.waitForSelector('main table:first-of-type tr:has-text("Grace") >> text=revoked');
  const after = await grace.page.evaluate(async () => (await fetch('/v1/admin/integrations')).status);
  assert.equal(after, 401, 'a revoked person is signed out at once');
  assert.equal((await signIn(graceKey)).status, 401, 'and cannot sign in again');
  await grace.context.close();

  // Keyboard: the views are links, the confirmation a modal dialog that Escape cancels.
  await page.focus('nav a[href="#deliveries"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.body.dataset.view === 'deliveries');
  await page.focus(`#accounting li:has-text("${id}") button`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#confirm[open]');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('confirm').open);

  // Sign out from the page.
  await open(page, '#integrations');
  await page.click('#sign-out');
  await page.waitForURL(/\/console\/sign-in$/);
  assert.equal((await page.evaluate(async () => (await fetch('/v1/admin/session')).status)), 401);
  await context.close();
  assert.doesNotMatch(worker.output(), /panicked/);
});
