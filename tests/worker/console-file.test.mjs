// The console's "Hash a file" page (issue 14 item 7): a generated CSV of 120,000 rows
// (e-mail, phone, names, street, state, postal code, a country column; bad cells, short
// rows, quoted cells with commas, quotes and line breaks, non-ASCII names in NFC and NFD)
// is dropped on the page in Chromium, hashed there by the wasm package in a Web Worker,
// downloaded, and compared byte for byte with `target/debug/matchkey hash-csv` run on
// the same file with the same options, then again with --strict. The page's requests
// are watched: the file's content never leaves the page. A screenshot goes to
// target/console-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { launch } from '../js/harness.mjs';
import { root, startEmulator, startWorker, ADMIN_KEY } from './harness.mjs';

const SHOTS = `${root}target/console-screenshots`;
const DIR = `${root}target/console-file`;
const ROWS = 120_000;

let amazon;
let worker;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(DIR, { recursive: true });
  amazon = await startEmulator();
  worker = await startWorker(amazon.url);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  amazon?.stop();
});

/** A deterministic customer file: `ROWS` rows with a mix of good, bad and odd cells. */
function customers() {
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    // The high bits: the low ones of this generator repeat with a short period.
    return Math.floor(seed / 65536) % n;
  };
  const first = ['Ada', 'José', 'Zoe\u0308', 'Łukasz', 'ÅSA', 'Mary-Jane', ' Sørina ', 'ＡＢＣ', 'O\'Brien', '李', '', 'Ümit'];
  const last = ['Lovelace', 'Núñez', 'Müller', 'Smith Jr.', '', 'Ñandú', 'van der Berg', 'Ærø'];
  const streets = ['1 Main St.', '10 Downing Street', 'Hauptstraße 1', '221B Baker St, Apt 2', '', 'Rue de l\'Église 5'];
  const states = ['California', 'CA', 'ny', 'Bayern', '', 'XX', 'Île-de-France'];
  const countries = ['US', 'us', 'GB', 'uk', 'de', 'FR', 'en-GB', 'xx', ''];
  const zips = { US: '94105-1234', GB: 'SW1A 2AA', DE: '10115', FR: '75001' };
  const quote = (c) => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  const lines = ['id,email,phone,first_name,last_name,street,state,zip,country,note'];
  for (let i = 1; i <= ROWS; i++) {
    const country = countries[rnd(countries.length)];
    const cc = country.slice(-2).toUpperCase();
    const emailKind = rnd(10);
    const email = emailKind === 0 ? 'not-an-email' : emailKind === 1 ? '' : `${first[rnd(first.length)].trim() || 'x'}.${i}@Example.COM`;
    const phoneKind = rnd(8);
    const phone = phoneKind === 0 ? '12' : phoneKind === 1 ? '' : cc === 'GB' ? `+44 20 7946 ${String(i % 10000).padStart(4, '0')}` : `(555) 01${String(i % 100000).padStart(5, '0')}`;
    const zip = rnd(7) === 0 ? '1' : zips[cc] || String(10000 + (i % 89999));
    const note = rnd(5) === 0 ? `note, "${i}"\nsecond line` : `n${i}`;
    const cells = [String(i), email, phone, first[rnd(first.length)], last[rnd(last.length)], streets[rnd(streets.length)], states[rnd(states.length)], zip, country, note];
    // Some short rows (their missing cells read as empty) and a blank line.
    const n = rnd(500) === 0 ? 3 : cells.length;
    lines.push(cells.slice(0, n).map(quote).join(','));
    if (i % 50_000 === 0) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

const MAP = [['email', 'EMAIL'], ['phone', 'PHONE'], ['first_name', 'FIRST_NAME'], ['last_name', 'LAST_NAME'], ['street', 'ADDRESS'], ['state', 'STATE'], ['zip', 'POSTAL']];

test('the file page hashes 120,000 rows in the page, byte-identical to matchkey hash-csv', async () => {
  const file = `${DIR}/customers.csv`;
  writeFileSync(file, customers());
  const want = `${DIR}/cli.csv`;
  const [input, output] = [openSync(file, 'r'), openSync(want, 'w')];
  const cli = spawnSync(`${root}target/debug/matchkey`, ['hash-csv', '--map', MAP.map(([c, f]) => `${c}=${f}`).join(','), '--country-column', 'country', '--keep', 'id,note', '--no-progress'], { stdio: [input, output, 'pipe'] });
  closeSync(input);
  closeSync(output);
  assert.equal(cli.status, 0, String(cli.stderr));

  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const sent = [];
  page.on('request', (r) => sent.push({ url: r.url(), body: r.postData() || '' }));
  page.on('pageerror', (e) => { throw e; });
  await page.goto(`${worker.url}/console`);
  await page.fill('#key', ADMIN_KEY);
  await page.press('#key', 'Enter');
  await page.waitForURL(/\/console$/);
  await page.waitForFunction(() => document.body.dataset.view === 'integrations');
  await page.evaluate(() => { location.hash = '#file'; });
  await page.waitForFunction(() => document.body.dataset.view === 'file');

  const before = sent.length;
  await page.setInputFiles('#file-input', file);
  await page.waitForSelector('#file-form');
  assert.match(await page.textContent('#file-form'), /read as utf-8 separated by “,”/);
  const names = ['id', 'email', 'phone', 'first_name', 'last_name', 'street', 'state', 'zip', 'country', 'note'];
  for (const [i, name] of names.entries()) {
    const mapped = MAP.find(([c]) => c === name);
    await page.selectOption(`#col-${i}`, mapped ? mapped[1] : name === 'country' ? 'country' : name === 'id' || name === 'note' ? 'keep' : '');
  }
  await page.click('#file-form button[type=submit]');
  const link = await page.waitForSelector('#file-download', { timeout: 240_000 });
  assert.equal(await page.evaluate(() => document.querySelector('#file-progress').value === document.querySelector('#file-progress').max), true);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const got = `${DIR}/page.csv`;
  await download.saveAs(got);
  assert.equal(download.suggestedFilename(), 'customers-hashed.csv');

  const [a, b] = [readFileSync(got), readFileSync(want)];
  assert.ok(b.length > 10_000_000, `the CLI wrote ${b.length} bytes`);
  assert.equal(a.length, b.length, 'the same length as the CLI output');
  assert.ok(a.equals(b), 'byte-identical to the CLI output');
  // The summary counts what the CLI counted.
  const summary = await page.textContent('#file-result');
  assert.match(summary, new RegExp(`Rows read${ROWS}`));
  assert.match(String(cli.stderr), new RegExp(`^matchkey: ${ROWS} rows read .*: ${ROWS} written`));
  assert.match(summary, /EMAIL rejected: invalid_email/);
  assert.match(summary, /Rows warned: short_row/);

  // Nothing from the file left the page: once it was chosen, only the console's own
  // files (the worker script and the package) were fetched, with no body.
  for (const r of sent) assert.ok(!/not-an-email|Example\.COM/i.test(r.url + r.body), `sent: ${r.url}`);
  for (const r of sent.slice(before)) {
    assert.ok(r.url.startsWith(`${worker.url}/console/`) || r.url.startsWith('blob:'), `sent: ${r.url}`);
    assert.equal(r.body, '', `sent a body: ${r.url}`);
  }
  await page.screenshot({ path: `${SHOTS}/file.png`, fullPage: true });

  // --strict: short rows refused, the same bytes as the CLI's (which exits 1 for them),
  // and the page says so.
  const strictWant = `${DIR}/cli-strict.csv`;
  const [input2, output2] = [openSync(file, 'r'), openSync(strictWant, 'w')];
  const strictCli = spawnSync(`${root}target/debug/matchkey`, ['hash-csv', '--map', MAP.map(([c, f]) => `${c}=${f}`).join(','), '--country-column', 'country', '--keep', 'id,note', '--strict', '--no-progress'], { stdio: [input2, output2, 'pipe'] });
  closeSync(input2);
  closeSync(output2);
  assert.equal(strictCli.status, 1, String(strictCli.stderr));
  await page.check('#f-file-strict');
  await page.evaluate(() => document.querySelector('#file-result').replaceChildren());
  await page.click('#file-form button[type=submit]');
  const strictLink = await page.waitForSelector('#file-download', { timeout: 240_000 });
  assert.match(await page.textContent('#file-result [role=alert]'), /rows refused: hash-csv would exit 1/);
  const [strictDownload] = await Promise.all([page.waitForEvent('download'), strictLink.click()]);
  const strictGot = `${DIR}/page-strict.csv`;
  await strictDownload.saveAs(strictGot);
  assert.ok(readFileSync(strictGot).equals(readFileSync(strictWant)), '--strict: byte-identical to the CLI output');
  assert.match(await page.textContent('#file-result'), /Rows refused: short_row/);
  await context.close();
});

test('the package the file page runs is served only with a session, with its content types and worker CSP', async () => {
  for (const path of ['/console/hash-worker.js', '/console/pkg/csv.js', '/console/pkg/csv/matchkey_wasm_bg.wasm']) {
    assert.equal((await fetch(worker.url + path)).status, 401, path);
  }
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  const wasm = await fetch(`${worker.url}/console/pkg/csv/matchkey_wasm_bg.wasm`, { headers: auth });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.deepEqual(Buffer.from(await wasm.arrayBuffer()), readFileSync(`${root}pkg/csv/matchkey_wasm_bg.wasm`));
  const js = await fetch(`${worker.url}/console/hash-worker.js`, { headers: auth });
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.match(js.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval'/);
  const app = await fetch(`${worker.url}/console`, { headers: auth });
  const csp = app.headers.get('content-security-policy');
  assert.match(csp, /worker-src 'self'/);
  assert.doesNotMatch(csp, /wasm-unsafe-eval|unsafe-inline/);
});
