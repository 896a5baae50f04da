// The docs checker's own rules (scripts/check-docs.mjs): GitHub's heading anchors, links
// outside code, and the blocks it runs or leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slug, parse } from '../../scripts/check-docs.mjs';

test('anchors are GitHub\'s slugs of the headings, numbered when repeated', () => {
  assert.equal(slug('Deploy to Cloudflare'), 'deploy-to-cloudflare');
  assert.equal(slug('In the browser: the npm package and the site tag'), 'in-the-browser-the-npm-package-and-the-site-tag');
  assert.equal(slug('`matchkey hash-csv` on a CRM export'), 'matchkey-hash-csv-on-a-crm-export');
  assert.equal(slug('The [console](x.md) and `snake_case`'), 'the-console-and-snake_case');
  const { anchors } = parse('# A\n## Setup\n### Setup\n```\n# not a heading\n```\n');
  assert.deepEqual([...anchors], ['a', 'setup', 'setup-1']);
});

test('links are read outside code only; fenced blocks keep their language and flags', () => {
  const md = 'See [x](a.md#b) and `[y](nope.md)`.\n[ref]: docs/c.md\n```bash no-run\necho [z](d.md)\n```\n```console\n$ echo hi\nhi\n```\n';
  const { links, blocks } = parse(md);
  assert.deepEqual(links.map((l) => l.target), ['a.md#b', 'docs/c.md']);
  assert.deepEqual(blocks.map((b) => [b.lang, b.flags, b.body]), [
    ['bash', ['no-run'], ['echo [z](d.md)']],
    ['console', [], ['$ echo hi', 'hi']],
  ]);
});
