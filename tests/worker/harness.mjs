// Plumbing for the Worker suite: the Amazon emulator binary on 127.0.0.1 and the built
// Worker in workerd through Miniflare, wired together.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Miniflare } from 'miniflare';
import { root, until as untilWithin } from '../js/harness.mjs';

export { root };
export const ORIGIN = 'https://shop.example';
export const SITE_KEY = 'site-1';
export const INGEST_SECRET = 'test-ingest-secret';
export const ADMIN_KEY = 'test-admin-key';
export const ADVERTISER = 'ENTITY1MATCHKEYDEMO';
// A sealing key for the tests (32 bytes, base64).
export const TEST_TOKEN_KEYS = `test:${Buffer.from('matchkey-test-sealing-key-32byte').toString('base64')}`;

/**
 * Starts the emulator on a free port (`args`: more of its flags, e.g. `--config file`);
 * resolves with {url, pid, stop, control(path, body), get(path)}.
 */
export async function startEmulator(args = []) {
  const child = spawn(`${root}target/debug/amazon-emulator`, ['--port', '0', '-q', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
  });
  const url = line.trim().split(' ').pop();
  const control = async (path, body) => {
    const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const get = async (path) => (await fetch(url + path)).json();
  /** eventId → how many times the emulator accepted it. */
  const received = async () => {
    const e = await get('/__emulator/events');
    const counts = new Map();
    for (const item of e.events ?? e) {
      const id = (item.event ?? item).eventId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  return { url, pid: child.pid, control, get, received, stop: () => child.kill() };
}

/**
 * The Worker in Miniflare against the emulator at `amazon`, with `vars` overriding.
 * `options.persist`: a folder keeping Durable Object, D1 and KV state across restarts;
 * `options.ratelimit`: the requests per minute of a Rate Limiting binding. What workerd
 * prints is kept in the answer's `output()` (to look for panics).
 */
export async function startWorker(amazon, vars = {}, options = {}) {
  let output = '';
  const persist = options.persist
    ? { durableObjectsPersist: `${options.persist}/do`, d1Persist: `${options.persist}/d1`, kvPersist: `${options.persist}/kv` }
    : {};
  const ratelimits = options.ratelimit ? { ratelimits: { RATE_LIMITER: { simple: { limit: options.ratelimit, period: 60 } } } } : {};
  const mf = new Miniflare({
    ...persist,
    ...ratelimits,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) stream.on('data', (chunk) => { output += chunk; });
    },
    modules: true,
    scriptPath: `${root}worker/build/index.js`,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: '2026-04-01',
    bindings: {
      LOCAL_DEV: 'true',
      ADVERTISER_ID: ADVERTISER,
      REGION: 'NA',
      AMAZON_API_BASE: amazon,
      LWA_TOKEN_URL: `${amazon}/auth/o2/token`,
      FLUSH_SECONDS: '2',
      SITE_KEYS: SITE_KEY,
      ALLOWED_ORIGINS: ORIGIN,
      LWA_CLIENT_ID: 'amzn1.application-oa2-client.matchkey-demo',
      LWA_CLIENT_SECRET: 'matchkey-demo-secret',
      LWA_REFRESH_TOKEN: 'Atzr|matchkey-demo-refresh',
      INGEST_SECRET,
      ADMIN_KEY,
      TOKEN_KEYS: TEST_TOKEN_KEYS,
      AMC_ADVERTISER_ID: '583000000000001',
      ...vars,
    },
    kvNamespaces: ['TOKENS'],
    d1Databases: ['DB'],
    durableObjects: {
      BATCHER: { className: 'Batcher', useSQLite: true },
      AUDIENCES: { className: 'AudienceSync', useSQLite: true },
      GUARD: { className: 'Guard', useSQLite: true },
      LIMITER: { className: 'Limiter', useSQLite: true },
      ERASURES: { className: 'Erasure', useSQLite: true },
    },
  });
  // Miniflare also serves the Worker on a loopback port, for programs such as the CLI.
  const url = String(await mf.ready).replace(/\/$/, '');
  const request = (path, init = {}) => mf.dispatchFetch(`http://worker.test${path}`, init);
  return { mf, url, request, output: () => output, stop: () => mf.dispose() };
}

/** The browser suite's `until`, with the longer default a flush cycle needs. */
export function until(predicate, ms = 15000) {
  return untilWithin(predicate, ms);
}
