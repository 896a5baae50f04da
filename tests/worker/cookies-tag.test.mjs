// The tag's cookie-sync path end to end: the site tag in Chromium, the Worker in workerd,
// the Amazon emulator. A visitor's random id is matched to Amazon's cookie (the emulator
// records the matching request), joins a cookie audience without ever typing an e-mail
// address, a known visitor joins by hash, and optOut erases the visitor at Amazon. Every
// request the page makes is captured: no raw value leaves it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { staticServer, launch } from '../js/harness.mjs';
import { startEmulator, startWorker, until, ADMIN_KEY } from './harness.mjs';

const EMAIL = 'Visitor.One@Example.com';
let amazon, site, browser;

before(async () => {
  [amazon, site, browser] = await Promise.all([startEmulator(), staticServer(), launch()]);
});
after(async () => {
  await browser?.close();
  await site?.close();
  amazon?.stop();
});

async function audiences() {
  const byName = {};
  for (const a of await amazon.get('/__emulator/audiences')) byName[a.definition.name.replace(/^matchkey_(.*)_\d+$/, '$1')] = a;
  return byName;
}

test('a visitor id is matched once, joins a cookie audience, a known visitor joins by hash, and optOut erases at Amazon', async () => {
  await amazon.control('/__emulator/reset');
  const worker = await startWorker(amazon.url, {
    AUDIENCE_API: 'dp', PROFILE_ID: '1234567890', FLUSH_SECONDS: '1',
    BROWSER_AUDIENCES: 'seen:cookie,known:hashed', ALLOWED_ORIGINS: site.url,
  });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url() + ' ' + (r.postData() || '')));
    await page.goto(`${site.url}/tests/js/fixtures/cmp.html`);
    await page.waitForFunction(() => window.matchkey && window.matchkey.loaded);
    const init = (p) => p.evaluate(([endpoint, matchUrl]) => window.matchkey('init', {
      endpoint, siteKey: 'site-1', country: 'US', debug: true,
      cookieSync: { partnerCode: 'mk_partner', periodHours: 24, matchUrl },
    }), [worker.url, `${amazon.url}/ecm3`]);
    await init(page);
    // Matched once: the emulator saw the visitor's random id with the partner code.
    await until(async () => (await amazon.get('/__emulator/matches')).length === 1);
    const [match] = await amazon.get('/__emulator/matches');
    const vid = await page.evaluate(() => JSON.parse(localStorage.getItem('matchkey_vid')).id);
    assert.match(vid, /^[0-9a-f]{32}$/);
    assert.equal(JSON.stringify(match).includes(vid), true, JSON.stringify(match));
    assert.equal(JSON.stringify(match).includes('mk_partner'), true);

    // A reload keeps the id and does not match again within the period.
    await page.reload();
    await page.waitForFunction(() => window.matchkey && window.matchkey.loaded);
    await init(page);
    assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('matchkey_vid')).id), vid);

    // An anonymous visitor joins the cookie audience by visitor id.
    await page.evaluate(() => window.matchkey('audience', 'seen', 'add'));
    // Then the visitor signs in: the hashed identity joins the hashed audience.
    await page.evaluate((email) => {
      window.matchkey('identify', { email });
      window.matchkey('audience', 'known', 'add');
    }, EMAIL);
    const flush = (name) => worker.request(`/v1/audiences/${name}/flush`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await until(async () => {
      await flush('seen');
      await flush('known');
      const a = await audiences();
      return a.seen?.cookieMembers?.includes(vid) && a.known?.members?.length === 1;
    }, 30000);
    assert.equal((await amazon.get('/__emulator/matches')).length, 1, 'one match in the period');

    // optOut: the Worker erases the visitor id at Amazon, which takes it out of the audience.
    await page.evaluate(() => window.matchkey('optOut'));
    await until(async () => JSON.stringify(await amazon.get('/__emulator/erasures')).includes(vid), 30000);
    await until(async () => !(await audiences()).seen.cookieMembers.includes(vid), 30000);
    assert.equal(await page.evaluate(() => localStorage.getItem('matchkey_vid')), null);
    // And nothing more is matched or sent for the visitor.
    const before = requests.length;
    await page.evaluate(() => {
      window.matchkey('track', 'purchase', { value: 1 });
      window.matchkey('audience', 'seen', 'add');
    });
    await page.waitForTimeout(400); // the tag's batch window: a send would have left by now
    assert.equal(requests.length, before);

    // No raw value in anything the page sent, lower-cased or not.
    for (const r of requests) {
      for (const raw of [EMAIL, EMAIL.toLowerCase(), encodeURIComponent(EMAIL.toLowerCase())]) {
        assert.equal(r.includes(raw), false, r);
      }
    }
  } finally {
    await context.close();
    await worker.stop();
  }
});
