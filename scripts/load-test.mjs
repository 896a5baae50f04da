// A bounded load test on loopback: the Worker in workerd (Miniflare, served on
// 127.0.0.1) against the Amazon emulator. Sends EVENTS single-event ingests spread over
// SECONDS, flushes, and checks that every accepted event reached Amazon or the failure
// log: zero lost. Prints events/s, Amazon requests per 1,000 ingests and workerd CPU ms
// per event. Usage: [FLUSH_SECONDS=10] node scripts/load-test.mjs [EVENTS=20000] [SECONDS=60]
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Miniflare } from 'miniflare';
import { startEmulator, root, SITE_KEY, ORIGIN, ADMIN_KEY, ADVERTISER, INGEST_SECRET } from '../tests/worker/harness.mjs';

const total = Number(process.argv[2] || 20000);
const seconds = Number(process.argv[3] || 60);
const EMAIL = JSON.parse(execFileSync(`${root}target/debug/matchkey`, ['hash'], {
  input: JSON.stringify({ field: 'EMAIL', country: 'US', input: 'load@example.com' }) + '\n',
})).sha256;

function workerdCpuMs() {
  let ms = 0;
  for (const pid of execFileSync('pgrep', ['-f', 'workerd']).toString().trim().split('\n')) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
    } catch { /* gone */ }
  }
  return ms;
}

const amazon = await startEmulator();
const mf = new Miniflare({
  host: '127.0.0.1', port: 0, modules: true, scriptPath: `${root}worker/build/index.js`,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
  compatibilityDate: '2026-04-01',
  bindings: {
    LOCAL_DEV: 'true', ADVERTISER_ID: ADVERTISER, REGION: 'NA', AMAZON_API_BASE: amazon.url, LWA_TOKEN_URL: `${amazon.url}/auth/o2/token`,
    FLUSH_SECONDS: process.env.FLUSH_SECONDS || '10', SITE_KEYS: SITE_KEY, ALLOWED_ORIGINS: ORIGIN, RATE_LIMIT_PER_MINUTE: '1000000',
    LWA_CLIENT_ID: 'amzn1.application-oa2-client.matchkey-demo', LWA_CLIENT_SECRET: 'matchkey-demo-secret',
    LWA_REFRESH_TOKEN: 'Atzr|matchkey-demo-refresh', INGEST_SECRET, ADMIN_KEY,
  },
  kvNamespaces: ['TOKENS'], d1Databases: ['DB'], durableObjects: { BATCHER: { className: 'Batcher', useSQLite: true }, GUARD: { className: 'Guard', useSQLite: true } },
});
const base = (await mf.ready).toString().replace(/\/$/, '');
let accepted = 0;
let refused = 0;
const cpuBefore = workerdCpuMs();
const start = Date.now();
const concurrency = 16;
let next = 0;
async function sender() {
  while (next < total) {
    const i = next++;
    // Pace: event i is due at i/total of the window.
    const due = start + (i / total) * seconds * 1000;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const body = JSON.stringify({ events: [{ name: 'purchase', eventId: `load-${i}`, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL } }] });
    const r = await fetch(`${base}/v1/events?siteKey=${SITE_KEY}`, { method: 'POST', body, headers: { origin: ORIGIN, 'content-type': 'text/plain' } });
    const answer = await r.json();
    if (r.status === 202 && answer.accepted.length === 1) accepted++;
    else refused++;
  }
}
await Promise.all(Array.from({ length: concurrency }, sender));
const sendSecs = (Date.now() - start) / 1000;
await fetch(`${base}/v1/flush`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
const counts = async () => {
  const events = await amazon.get('/__emulator/events');
  const received = (events.events ?? events).length;
  const log = await (await fetch(`${base}/v1/deliveries?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
  return { received, failed: log.failedEvents.length, dead: log.deadLetters.length };
};
let c = await counts();
const waitEnd = Date.now() + 60_000;
while (c.received + c.failed + c.dead < accepted && Date.now() < waitEnd) {
  await new Promise((r) => setTimeout(r, 500));
  c = await counts();
}
const cpu = workerdCpuMs() - cpuBefore;
const requests = await amazon.get('/__emulator/requests?endpoint=events');
const amazonRequests = (requests.requests ?? requests).length;
await mf.dispose();
amazon.stop();
const lost = accepted - c.received - c.failed - c.dead;
console.log(`load test: ${total} single-event ingests over ${sendSecs.toFixed(1)} s (${(total / sendSecs).toFixed(0)} events/s), concurrency ${concurrency}`);
console.log(`  accepted ${accepted}, refused ${refused}; Amazon received ${c.received}, failed ${c.failed}, dead letters ${c.dead}; lost ${lost}`);
console.log(`  Amazon requests: ${amazonRequests} (${((amazonRequests * 1000) / total).toFixed(2)} per 1,000 ingests)`);
console.log(`  workerd CPU: ${cpu.toFixed(0)} ms in all, ${(cpu / total).toFixed(3)} ms per event (ingest + batching + delivery)`);
process.exit(lost === 0 && refused === 0 ? 0 : 1);
