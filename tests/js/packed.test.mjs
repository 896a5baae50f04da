// The npm package as a user gets it: `npm pack` of pkg/, `npm install` of the tarball into
// an empty folder (offline, from the file), then the npm README's first example run in
// Node unchanged: each `console.log(…); // expected` line must print what its comment says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The first ```js block of a Markdown file. */
export function firstJsBlock(markdown) {
  const m = /^```js\n([\s\S]*?)^```$/m.exec(markdown);
  assert.ok(m, 'the README has a ```js block');
  return m[1];
}

/** What each console.log line of `code` says it prints (its trailing `// …` comment). */
export function expectedLines(code) {
  return code.split('\n').filter((l) => l.startsWith('console.log(')).map((l) => {
    const i = l.lastIndexOf('); // ');
    assert.ok(i > 0, `no expected output on: ${l}`);
    return l.slice(i + 6).trim();
  });
}

function run(cmd, args, cwd, env = {}) {
  return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

test('the packed package, installed from its tarball, runs the README\'s first example in Node unchanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchkey-packed-'));
  try {
    // A private npm cache: nothing is read from or written to the user's, and --offline
    // proves no registry is asked (the package has no dependencies).
    const env = { npm_config_cache: join(dir, 'cache'), npm_config_update_notifier: 'false' };
    const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', dir], join(root, 'pkg'), env));
    const tarball = join(dir, packed[0].filename);
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], app, env);

    const example = firstJsBlock(readFileSync(join(app, 'node_modules/matchkey/README.md'), 'utf8'));
    const expected = expectedLines(example);
    assert.ok(expected.length >= 3, 'the example prints what it shows');
    writeFileSync(join(app, 'example.mjs'), example);
    const out = run(process.execPath, ['example.mjs'], app).trimEnd().split('\n');
    assert.deepEqual(out, expected);

    // The form a newcomer tries first: the default export, then a field only the full build has.
    writeFileSync(join(app, 'first.mjs'), `import init, { normalize } from 'matchkey';
await init();
console.log(normalize('STATE', 'New York', 'US').normalized);
console.log(normalize('ADDRESS', '123 Main Street', 'US').normalized);
console.log(normalize('PHONE', '+251 11 551 7700', 'US').normalized);
`);
    assert.deepEqual(run(process.execPath, ['first.mjs'], app).trimEnd().split('\n'), ['ny', '123mainst', '251115517700']);

    // matchkey/csv reads its own build from disk too, and writes what the CLI writes.
    writeFileSync(join(app, 'csv.mjs'), `import { readFileSync } from 'node:fs';
import { csvHeader, hashCsv } from 'matchkey/csv';
const bytes = readFileSync(process.argv[2]);
const head = await csvHeader(bytes, { whole: true });
const parts = [];
await hashCsv(new Blob([bytes]).stream(), { ...head, map: [[head.names.indexOf('email'), 'EMAIL']], country: 'US', keep: [0] },
  { onOutput: (b) => parts.push(Buffer.from(b)) });
process.stdout.write(Buffer.concat(parts));
`);
    const file = join(root, 'tests/docs/customers.csv');
    const cli = execFileSync(join(root, 'target/debug/matchkey'), ['hash-csv', '--map', 'email=EMAIL', '--country', 'US', '--keep', 'customer_id'],
      { input: readFileSync(file), stdio: ['pipe', 'pipe', 'ignore'] }).toString();
    assert.equal(run(process.execPath, ['csv.mjs', file], app), cli);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
