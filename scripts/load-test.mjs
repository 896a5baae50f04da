// A bounded load test on loopback: the Worker in workerd (Miniflare, served on
// 127.0.0.1) against the Amazon emulator, for two kinds of caller:
//   browser: single-event ingests (1 event a request, site key, Origin), as a tag sends;
//   server:  bodies of 500 events (ingest secret, raw e-mails hashed in the Worker).
// Each kind runs in its own workerd: EVENTS events spread over SECONDS, then a flush, then
// it waits until every accepted eventId reached Amazon or the failure log and checks that
// none was lost and none received twice (exit 1 otherwise; timings are printed, never
// asserted).
//
// CPU is measured two ways, both only of what this script started:
//   - the Worker's own CPU: a V8 CPU profile of the Worker's isolate taken through the
//     inspector (Chrome DevTools Protocol Profiler.start/stop over a WebSocket), summed
//     over the non-idle samples: ingest, the Durable Object, delivery; JS and wasm;
//   - the workerd process this script spawned (found as a child of this process, by pid),
//     utime + stime from /proc: the Worker plus workerd's own HTTP, storage and I/O.
//
// Usage: [FLUSH_SECONDS=10] [SHARDS=1] node scripts/load-test.mjs [EVENTS=20000] [SECONDS=60] [both|browser|server]
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { startEmulator, root, SITE_KEY, ORIGIN, ADMIN_KEY, ADVERTISER, INGEST_SECRET } from '../tests/worker/harness.mjs';

const total = Number(process.argv[2] || 20000);
const seconds = Number(process.argv[3] || 60);
const kinds = (process.argv[4] || 'both') === 'both' ? ['browser', 'server'] : [process.argv[4]];
const EMAIL = JSON.parse(execFileSync(`${root}target/debug/matchkey`, ['hash'], {
  input: JSON.stringify({ field: 'EMAIL', country: 'US', input: 'load@example.com' }) + '\n',
})).sha256;
const INTERVAL_US = 200;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime (ms) of the processes whose parent is this node process, except `skip`. */
function childrenCpuMs(skip) {
  let ms = 0;
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === skip) continue;
    try {
      const f = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1].split(' ');
      if (Number(f[1]) !== process.pid) continue; // field 4: the parent's pid
      ms += (Number(f[11]) + Number(f[12])) * TICK_MS; // utime + stime, in clock ticks
      pids.push(Number(name));
    } catch { /* gone */ }
  }
  return { ms, pids };
}

/**
 * A CPU profiler on the Worker's isolate (`core:user:…`; Miniflare's own helper workers
 * for KV, D1 and the cache are left out).
 */
async function profiler(mf) {
  const inspector = new URL(await mf.getInspectorURL());
  const targets = (await (await fetch(`http://${inspector.host}/json`)).json()).filter((t) => t.id.startsWith('core:user:'));
  const sessions = await Promise.all(targets.map((t) => new Promise((resolve, reject) => {
    const ws = new WebSocket(t.webSocketDebuggerUrl);
    let id = 0;
    const waiting = new Map();
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.id && waiting.has(m.id)) { waiting.get(m.id)(m); waiting.delete(m.id); }
    });
    const send = (method, params = {}) => new Promise((ok) => { waiting.set(++id, ok); ws.send(JSON.stringify({ id, method, params })); });
    ws.once('open', () => resolve({ send, close: () => ws.close() }));
    ws.once('error', reject);
  })));
  for (const s of sessions) {
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: INTERVAL_US });
  }
  return {
    start: () => Promise.all(sessions.map((s) => s.send('Profiler.start'))),
    /**
     * Stops and sums, in ms: `busy`, the samples in JS, wasm and GC; `program`, those V8
     * calls "(program)": outside JS, which in workerd is mostly the event loop waiting
     * (workerd does not mark its isolates idle), so it is reported, not counted.
     */
    async stop() {
      let busy = 0;
      let gc = 0;
      let program = 0;
      const top = new Map();
      for (const s of sessions) {
        const { result } = await s.send('Profiler.stop');
        const p = result.profile;
        const name = new Map(p.nodes.map((n) => [n.id, n.callFrame.functionName]));
        // timeDeltas[i + 1] is the time spent in the state seen at sample i. The isolate
        // is not sampled while workerd waits outside it, so the sample before a pause
        // carries the pause: no sample counts for more than four sampling intervals.
        for (let i = 0; i < p.samples.length; i++) {
          const dt = Math.min(p.timeDeltas[i + 1] ?? 0, 4 * INTERVAL_US) / 1000;
          const fn = name.get(p.samples[i]);
          if (fn === '(idle)') continue;
          if (fn === '(program)') { program += dt; continue; }
          if (process.env.PROFILE_TOP) top.set(fn, (top.get(fn) ?? 0) + dt);
          busy += dt;
          if (fn === '(garbage collector)') gc += dt;
        }
        s.close();
      }
      if (process.env.PROFILE_TOP) console.log([...top].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP)).map(([f, ms]) => `${ms.toFixed(0)} ms ${f}`).join('\n'));
      return { busy, gc, program };
    },
  };
}

function event(kind, i, prefix) {
  return kind === 'browser'
    ? { name: 'purchase', eventId: `${prefix}-${i}`, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL } }
    : { name: 'purchase', eventId: `${prefix}-${i}`, country: 'US', value: 1, currency: 'USD', matchKeys: { EMAIL: `Load.User+${i}@Example.com` } };
}

async function run(amazon, kind) {
  await amazon.control('/__emulator/reset');
  const prefix = `load-${kind}`;
  const mf = new Miniflare({
    host: '127.0.0.1', port: 0, inspectorPort: 0, modules: true, scriptPath: `${root}worker/build/index.js`,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: '2026-04-01',
    bindings: {
      LOCAL_DEV: 'true', ADVERTISER_ID: ADVERTISER, REGION: 'NA', AMAZON_API_BASE: amazon.url, LWA_TOKEN_URL: `${amazon.url}/auth/o2/token`,
      FLUSH_SECONDS: process.env.FLUSH_SECONDS || '10', SITE_KEYS: SITE_KEY, ALLOWED_ORIGINS: ORIGIN, RATE_LIMIT_PER_MINUTE: '1000000',
      LWA_CLIENT_ID: 'amzn1.application-oa2-client.matchkey-demo', LWA_CLIENT_SECRET: 'matchkey-demo-secret',
      LWA_REFRESH_TOKEN: 'Atzr|matchkey-demo-refresh', INGEST_SECRET, ADMIN_KEY, MAX_BACKLOG: '1000000',
      ...(process.env.SHARDS ? { SHARDS: process.env.SHARDS } : {}),
    },
    kvNamespaces: ['TOKENS'], d1Databases: ['DB'], durableObjects: { BATCHER: { className: 'Batcher', useSQLite: true }, GUARD: { className: 'Guard', useSQLite: true } },
  });
  const base = (await mf.ready).toString().replace(/\/$/, '');
  const admin = (path, method = 'GET') => fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  // Warm up (token, D1 tables, the object) outside the measured window.
  await admin('/v1/deliveries?limit=1');
  const prof = await profiler(mf);
  const cpuBefore = childrenCpuMs(amazon.pid);
  await prof.start();

  const perRequest = kind === 'browser' ? 1 : 500;
  const requests = Math.ceil(total / perRequest);
  const concurrency = kind === 'browser' ? 16 : 4;
  let accepted = 0;
  let refused = 0;
  let next = 0;
  const start = Date.now();
  async function sender() {
    while (next < requests) {
      const r0 = next++;
      const due = start + (r0 / requests) * seconds * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const first = r0 * perRequest;
      const list = Array.from({ length: Math.min(perRequest, total - first) }, (_, k) => event(kind, first + k, prefix));
      const body = JSON.stringify({ events: list });
      const r = kind === 'browser'
        ? await fetch(`${base}/v1/events?siteKey=${SITE_KEY}`, { method: 'POST', body, headers: { origin: ORIGIN, 'content-type': 'text/plain' } })
        : await fetch(`${base}/v1/events`, { method: 'POST', body, headers: { authorization: `Bearer ${INGEST_SECRET}`, 'content-type': 'application/json' } });
      const answer = await r.json();
      if (r.status === 202) { accepted += answer.accepted.length; refused += list.length - answer.accepted.length; } else refused += list.length;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, sender));
  const sendSecs = (Date.now() - start) / 1000;
  await admin('/v1/flush', 'POST');
  const counts = async () => {
    const events = await amazon.get('/__emulator/events');
    const ids = new Map();
    for (const item of events.events ?? events) {
      const id = (item.event ?? item).eventId;
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
    const log = await (await admin('/v1/deliveries?limit=1000')).json();
    return { ids, failed: log.failedEvents.length, dead: log.deadLetters.length };
  };
  let c = await counts();
  const waitEnd = Date.now() + 120_000;
  while (c.ids.size + c.failed + c.dead < accepted && Date.now() < waitEnd) {
    await new Promise((r) => setTimeout(r, 500));
    c = await counts();
  }
  const deliveredSecs = (Date.now() - start) / 1000;
  const own = await prof.stop();
  const cpuAfter = childrenCpuMs(amazon.pid);
  const amazonRequests = (await amazon.get('/__emulator/requests?endpoint=events'));
  const nRequests = (amazonRequests.requests ?? amazonRequests).length;
  await mf.dispose();
  let dups = 0;
  let missing = 0;
  for (let i = 0; i < total; i++) {
    const n = c.ids.get(`${prefix}-${i}`) ?? 0;
    if (n > 1) dups++;
    if (n === 0) missing++;
  }
  const lost = accepted - c.ids.size - c.failed - c.dead;
  const processMs = cpuAfter.ms - cpuBefore.ms;
  console.log(`load test (${kind}): ${total} events in ${requests} requests of ${perRequest} over ${sendSecs.toFixed(1)} s (${(total / sendSecs).toFixed(0)} events/s), concurrency ${concurrency}; all at Amazon after ${deliveredSecs.toFixed(1)} s`);
  console.log(`  accepted ${accepted}, refused ${refused}; Amazon received ${c.ids.size} ids (${dups} more than once, ${missing} never), failed ${c.failed}, dead letters ${c.dead}; lost ${lost}`);
  console.log(`  Amazon requests: ${nRequests} (${((nRequests * 1000) / total).toFixed(2)} per 1,000 events)`);
  console.log(`  the Worker's own CPU (V8 profile): ${own.busy.toFixed(0)} ms, ${(own.busy / total).toFixed(4)} ms per event, ${(own.busy / requests).toFixed(3)} ms per request (GC ${own.gc.toFixed(0)} ms; "(program)" ${own.program.toFixed(0)} ms not counted)`);
  console.log(`  its workerd process (pid ${cpuAfter.pids.join(',')}): ${processMs.toFixed(0)} ms, ${(processMs / total).toFixed(4)} ms per event`);
  return lost === 0 && dups === 0 && refused === 0 && missing === c.failed + c.dead;
}

const amazon = await startEmulator();
let ok = true;
try {
  for (const kind of kinds) ok = (await run(amazon, kind)) && ok;
} finally {
  amazon.stop();
}
process.exit(ok ? 0 : 1);
