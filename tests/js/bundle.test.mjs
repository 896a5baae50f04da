// The package from a bundler: esbuild bundles a tiny app that imports `matchkey` (as a
// dependency would be resolved), and the bundle runs in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { root } from './harness.mjs';

test('an esbuild bundle of an app using the package runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchkey-bundle-'));
  try {
    // The package installed as a dependency of the app.
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    cpSync(join(root, 'pkg'), join(dir, 'node_modules', 'matchkey'), { recursive: true });
    writeFileSync(join(dir, 'app.mjs'), `
      import { readFileSync } from 'node:fs';
      import { createRequire } from 'node:module';
      import init, { initFull, matchKeys } from 'matchkey';
      const resolve = createRequire(import.meta.url).resolve;
      await init(readFileSync(resolve('matchkey/matchkey_wasm_bg.wasm')));
      console.log(JSON.stringify(matchKeys({ email: 'abc@example.com' }, 'US')));
      await initFull(readFileSync(resolve('matchkey/full/matchkey_wasm_bg.wasm')));
      console.log(JSON.stringify(matchKeys({ state: 'Texas' }, 'US').map((k) => k.type)));
    `);
    await build({ entryPoints: [join(dir, 'app.mjs')], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'out.mjs'), logLevel: 'silent' });
    const out = execFileSync(process.execPath, [join(dir, 'out.mjs')], { cwd: dir }).toString().trim();
    assert.equal(out, [
      JSON.stringify([{ type: 'EMAIL', values: ['9eceb13483d7f187ec014fd6d4854d1420cfc634328af85f51d0323ba8622e21'] }]),
      JSON.stringify(['STATE']),
    ].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
