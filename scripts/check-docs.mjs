#!/usr/bin/env node
// The docs check (scripts/test.sh, "docs" step): docs that cannot drift silently.
//
// 1. Links: every relative link and image in every Markdown file of the repository must
//    name a file or folder that exists, and a `#anchor` must be a heading of the target
//    file (GitHub's slugs). Links to other sites are not fetched.
// 2. Commands: in README.md and docs/*.md, each ```console block is run: every `$ ` line
//    is a command (bash, in a scratch folder, `matchkey` the freshly built debug binary),
//    and the lines after it, up to the next `$ `, are its expected output (stdout and
//    stderr together). Each ```bash block is run whole and must exit 0. A block whose
//    info string says `no-run` (```bash no-run) is not run: commands that need an Amazon
//    account, a Cloudflare account, the network or root. A file's blocks run in order in
//    one scratch folder seeded with tests/docs/ (the sample files the docs use).
//
// Usage: node scripts/check-docs.mjs [--links-only]   (cargo build --bin matchkey first)
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const linksOnly = process.argv.includes('--links-only');

/** GitHub's anchor for a heading's text (github-slugger's rule, on the rendered text). */
export function slug(text) {
  const rendered = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/`/g, '')
    .replace(/\*\*|__|(?<![\w])[*_]|[*_](?![\w])/g, '') // emphasis markers, not snake_case
    .replace(/<[^>]+>/g, '');
  return rendered.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The parts of a Markdown file: headings' anchors, links (with line), fenced blocks. */
export function parse(markdown) {
  const lines = markdown.split('\n');
  const anchors = new Set();
  const seen = new Map();
  const links = [];
  const blocks = [];
  let fence = null;
  lines.forEach((line, i) => {
    if (fence) {
      const t = line.trim();
      if (t.length >= fence.marker.length && [...t].every((c) => c === fence.marker[0])) {
        blocks.push(fence.block);
        fence = null;
      } else fence.block.body.push(line.replace(new RegExp(`^ {0,${fence.indent}}`), ''));
      return;
    }
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/.exec(line);
    if (open) {
      const [lang = '', ...flags] = open[3].trim().split(/\s+/);
      fence = { marker: open[2], indent: open[1].length, block: { lang, flags, line: i + 1, body: [] } };
      return;
    }
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n ? `${base}-${n}` : base);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
    const text = line.replace(/(`+)[^`]*?\1/g, ''); // code spans hold no links
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1], line: i + 1 });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text);
    if (def) links.push({ target: def[1], line: i + 1 });
  });
  if (fence) blocks.push(fence.block);
  return { anchors, links, blocks };
}

// Vendored copies of other sites' pages: their links are relative to those sites (Amazon's
// guides, advertising.amazon.com), so only the project's own Markdown is checked.
const VENDORED = ['tests/contracts/amazon/guides/'];

// The repository's Markdown files: git's list (tracked and new, not ignored), or outside a
// git checkout every .md but those of build output and dependencies.
function markdownFiles() {
  let list;
  try {
    list = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().split('\n').filter(Boolean);
  } catch {
    const skip = new Set(['.git', 'node_modules', 'target', 'pkg', 'build', '.wrangler', 'corpus', 'artifacts']);
    const walk = (dir) => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) return skip.has(e.name) ? [] : walk(path);
      return e.name.endsWith('.md') ? [path] : [];
    });
    list = walk('');
  }
  return [...new Set(list)].filter((f) => existsSync(join(root, f)) && !VENDORED.some((v) => f.startsWith(v))).sort();
}

const parsed = new Map();
function parsedFile(file) {
  if (!parsed.has(file)) parsed.set(file, parse(readFileSync(join(root, file), 'utf8')));
  return parsed.get(file);
}

const failures = [];
const fail = (file, line, what) => failures.push(`${file}:${line}: ${what}`);

function checkLinks(files) {
  let n = 0;
  for (const file of files) {
    for (const { target, line } of parsedFile(file).links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      n++;
      const [path, anchor] = target.split('#', 2);
      const dest = path === '' ? file : relative(root, path.startsWith('/') ? join(root, path) : join(root, dirname(file), decodeURI(path)));
      if (dest.startsWith('..') || !existsSync(join(root, dest))) {
        fail(file, line, `dead link: ${target} (${dest} does not exist)`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (!dest.endsWith('.md') || statSync(join(root, dest)).isDirectory()) continue; // code files: GitHub's #L anchors
      if (!parsedFile(dest).anchors.has(decodeURIComponent(anchor).toLowerCase())) {
        fail(file, line, `dead anchor: ${target} (no heading of ${dest} has the anchor #${anchor})`);
      }
    }
  }
  return n;
}

// Runs `cmd` in bash in `cwd`; stdout and stderr together, as a terminal shows them.
function sh(cmd, cwd, env) {
  return spawnSync('bash', ['-o', 'pipefail', '-c', `exec 2>&1\n${cmd}`], { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

function checkCommands(files) {
  const bin = join(root, 'target', 'debug');
  if (!existsSync(join(bin, 'matchkey'))) {
    console.error('check-docs: target/debug/matchkey is missing: run cargo build --locked --bin matchkey');
    process.exit(2);
  }
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', MATCHKEY_REPO: root };
  const counts = { console: 0, bash: 0, skipped: 0 };
  for (const file of files) {
    const runnable = parsedFile(file).blocks.filter((b) => b.lang === 'console' || b.lang === 'bash');
    if (runnable.length === 0) continue;
    const dir = mkdtempSync(join(tmpdir(), 'matchkey-docs-'));
    try {
      if (existsSync(join(root, 'tests/docs'))) cpSync(join(root, 'tests/docs'), dir, { recursive: true });
      for (const b of runnable) {
        if (b.flags.includes('no-run')) {
          counts.skipped++;
          continue;
        }
        if (b.lang === 'bash') {
          counts.bash++;
          const r = sh(b.body.join('\n'), dir, env);
          if (r.status !== 0) fail(file, b.line, `bash block exited ${r.status ?? r.signal}:\n${indent(r.stdout)}`);
          continue;
        }
        // console: `$ command` then its output.
        let cmd = null;
        let expected = [];
        const finish = () => {
          if (cmd === null) return;
          counts.console++;
          const r = sh(cmd, dir, env);
          const got = r.stdout.replace(/\s+$/, '').split('\n').map((l) => l.trimEnd());
          const want = expected.join('\n').replace(/\s+$/, '').split('\n').map((l) => l.trimEnd());
          if (got.join('\n') !== want.join('\n')) {
            fail(file, b.line, `\`$ ${cmd}\` printed:\n${indent(got.join('\n'))}\n  the docs show:\n${indent(want.join('\n'))}`);
          }
        };
        for (const l of b.body) {
          if (l.startsWith('$ ')) {
            finish();
            cmd = l.slice(2);
            expected = [];
          } else if (cmd === null) {
            fail(file, b.line, 'a console block must start with a `$ ` line');
            break;
          } else expected.push(l);
        }
        finish();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return counts;
}

const indent = (s) => s.replace(/\s+$/, '').split('\n').map((l) => `    ${l}`).join('\n');

function main() {
  const files = markdownFiles();
  const links = checkLinks(files);
  let ran = '';
  if (!linksOnly) {
    const c = checkCommands(files.filter((f) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f)));
    ran = `, ${c.console} console commands and ${c.bash} bash blocks run (${c.skipped} blocks marked no-run)`;
  }
  if (failures.length) {
    console.error(failures.join('\n'));
    console.error(`check-docs: ${failures.length} problem(s)`);
    process.exit(1);
  }
  console.log(`docs: ${files.length} Markdown files, ${links} relative links checked${ran}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
