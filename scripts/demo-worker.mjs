// Part of the demo: the built Worker (worker/build/) in workerd through Miniflare, the way
// the tests run it, configured from wrangler.toml (vars, KV, D1, Durable Objects) with the
// emulator's demo credentials of .dev.vars.example (never your .dev.vars) and the
// overrides given as NAME=value arguments. KV, D1 and Durable Object state go to
// STATE_DIR. Prints "listening on URL" when ready; SIGINT/SIGTERM stop workerd.
// Usage: node scripts/demo-worker.mjs HOST PORT STATE_DIR [NAME=value ...]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, Log, LogLevel } from 'miniflare';

// wrangler reads .dev.vars (and says so) while building the options: the demo does not use
// those values (see below), so the message would only mislead.
process.env.WRANGLER_LOG ??= 'warn';
const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import('wrangler');

const root = fileURLToPath(new URL('../', import.meta.url));
const [host, port, state, ...overrides] = process.argv.slice(2);
if (!host || !port || !state) {
  console.error('usage: node scripts/demo-worker.mjs HOST PORT STATE_DIR [NAME=value ...]');
  process.exit(2);
}

// KEY="value" lines (the .dev.vars format).
const secrets = {};
for (const line of readFileSync(join(root, '.dev.vars.example'), 'utf8').split('\n')) {
  const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/);
  if (m) secrets[m[1]] = m[2];
}
const vars = {};
for (const arg of overrides) {
  const at = arg.indexOf('=');
  if (at < 1) throw new Error(`not NAME=value: ${arg}`);
  vars[arg.slice(0, at)] = arg.slice(at + 1);
}

// Bindings, Durable Object classes and compatibility settings as wrangler.toml declares
// them; the values: wrangler.toml's vars, the demo credentials, the overrides. (Not
// workerOptions.bindings, which would add your .dev.vars.)
const config = join(root, 'wrangler.toml');
const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
const { vars: tomlVars } = unstable_readConfig({ config });
const mf = new Miniflare({
  ...workerOptions,
  modules: true,
  scriptPath: main,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
  bindings: { ...tomlVars, ...secrets, ...vars },
  host,
  port: Number(port),
  cf: false, // no download of Cloudflare's request.cf sample: the demo works offline
  kvPersist: join(state, 'kv'),
  d1Persist: join(state, 'd1'),
  durableObjectsPersist: join(state, 'do'),
  cachePersist: join(state, 'cache'),
  log: new Log(LogLevel.INFO),
});
const url = await mf.ready;
console.log(`listening on ${url.toString().replace(/\/$/, '')}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
