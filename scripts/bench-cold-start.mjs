// Cold start of the site tag in headless Chromium: a page with the snippet that identifies
// a visitor (e-mail, phone, first and last name, postal code) and tracks an event, loaded
// with an empty cache in a fresh context each run, files served brotli-compressed as a CDN
// would. Reports, median of RUNS: the time from the snippet starting to the identity
// hashed (the tag's `matchkey:identified` mark, or the identity's storage write for a tag
// without the mark), the main thread's task time the tag adds (Chromium's TaskDuration
// against the same page without the snippet), and the bytes on the wire before the first
// identity. Two conditions: loopback at this machine's speed, and Lighthouse's mobile
// profile (150 ms RTT, 1.6 Mbps down, CPU slowed 4x).
// Usage: node scripts/bench-cold-start.mjs [TAG_URL_PATH ...]   (default /pkg/tag.js)
// Needs pkg/ (scripts/build-pkg.sh) and Chromium. Prints numbers; asserts nothing.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { brotliCompressSync, constants } from 'node:zlib';
import { extname, join, normalize } from 'node:path';
import { root, launch } from '../tests/js/harness.mjs';

const RUNS = Number(process.env.RUNS || 7);
const tags = process.argv.slice(2).length ? process.argv.slice(2) : ['/pkg/tag.js'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };
// Extra directories served under a prefix (`OLD_ROOT=/path` serves it under /old/).
const mounts = process.env.OLD_ROOT ? { '/old/': process.env.OLD_ROOT.replace(/\/?$/, '/') } : {};

const page = (tag) => `<!doctype html><html><head><meta charset="utf-8"><title>cold start</title>
<script>
performance.mark('snippet');
const set = Storage.prototype.setItem;
Storage.prototype.setItem = function (k, v) {
  if (k === 'matchkey_id' && !window.storedAt) window.storedAt = performance.now();
  return set.call(this, k, v);
};
</script>
${tag ? `<script>
!function(w,d,src){if(w.matchkey)return;var m=w.matchkey=function(){m.q.push(arguments)};m.q=[];m.v=1;var s=d.createElement("script");s.type="module";s.async=!0;s.src=src;(d.head||d.documentElement).appendChild(s)}(window,document,${JSON.stringify(tag)});
matchkey('init', { endpoint: 'http://127.0.0.1:9', siteKey: 'bench', country: 'US' });
matchkey('identify', { email: 'Jane.Doe@Example.com', phone: '(202) 555-0143', firstName: 'Jane', lastName: 'Doe', postal: '20500' });
matchkey('track', 'page_view');
</script>` : ''}
</head><body><h1>A shop page</h1><p>${'Some text. '.repeat(200)}</p></body></html>`;

const cache = new Map();
const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/cold.html') {
    res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
    return res.end(page(url.searchParams.get('tag')));
  }
  const path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
  const mount = Object.keys(mounts).find((m) => path.startsWith(m));
  const file = mount ? join(mounts[mount], path.slice(mount.length)) : join(root, path);
  try {
    if (!cache.has(file)) {
      const raw = await readFile(file);
      cache.set(file, brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream', 'content-encoding': 'br', 'cache-control': 'no-store' });
    res.end(cache.get(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();
const CONDITIONS = {
  loopback: null,
  'mobile (150 ms RTT, 1.6 Mbps, CPU 4x)': { latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8, cpu: 4 },
};

async function run(tag, condition) {
  const context = await browser.newContext();
  const p = await context.newPage();
  const cdp = await context.newCDPSession(p);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Performance.enable');
  if (condition) {
    await cdp.send('Network.emulateNetworkConditions', { offline: false, ...condition });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: condition.cpu });
  }
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  await p.goto(`${base}/cold.html${tag ? `?tag=${encodeURIComponent(tag)}` : ''}`);
  let identified = null;
  if (tag) {
    await p.waitForFunction(() => window.storedAt || performance.getEntriesByName('matchkey:identified').length, null, { timeout: 30000, polling: 5 });
    identified = await p.evaluate(() => {
      const start = performance.getEntriesByName('snippet')[0].startTime;
      const mark = performance.getEntriesByName('matchkey:identified')[0];
      return (mark ? mark.startTime : window.storedAt) - start;
    });
  } else {
    await p.waitForLoadState('load');
  }
  const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const wire = bytes;
  await context.close();
  return { identified, task: metrics.TaskDuration * 1000, wire };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, condition] of Object.entries(CONDITIONS)) {
  await run(null, condition); // warm the browser process itself
  const baseline = [];
  for (let i = 0; i < RUNS; i++) baseline.push((await run(null, condition)).task);
  console.log(`${name}: page without the tag, main-thread task time ${median(baseline).toFixed(0)} ms (median of ${RUNS})`);
  for (const tag of tags) {
    const r = [];
    for (let i = 0; i < RUNS; i++) r.push(await run(tag, condition));
    console.log(`  ${tag}: identity hashed ${median(r.map((x) => x.identified)).toFixed(0)} ms after the snippet, ` +
      `main thread +${(median(r.map((x) => x.task)) - median(baseline)).toFixed(0)} ms, ` +
      `${median(r.map((x) => x.wire))} B on the wire (page included)`);
  }
}
await browser.close();
server.close();
