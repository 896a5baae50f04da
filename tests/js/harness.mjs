// Test plumbing for the browser suites: a static server for the repository (right MIME
// types, 127.0.0.1 only), a recording endpoint that plays the Worker's ingest, and
// Debian's Chromium driven by playwright-core.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css',
};

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

/** Serves the repository read-only. */
export async function staticServer() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return { url: await listen(server), close: () => new Promise((r) => server.close(r)) };
}

/**
 * A stand-in for the Worker's ingest: records every request (with the time it arrived),
 * answers `status` (202) with `headers` (Retry-After is exposed to the page, as the
 * Worker must do for the tag to read it) and `body`, by default the Worker's answer
 * listing every event of the request as accepted.
 */
export async function recorder() {
  const seen = [];
  let status = 202;
  let extra = {};
  let answer = null;
  const acceptAll = (body) => {
    let events = [];
    try { events = JSON.parse(body).events || []; } catch { /* not an event body */ }
    return JSON.stringify({ accepted: events.map((e, index) => ({ index, eventId: e.eventId })), rejected: [], warnings: [] });
  };
  const server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type',
      'access-control-allow-methods': 'POST, OPTIONS', 'access-control-expose-headers': 'retry-after',
    };
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.method !== 'OPTIONS') {
        const url = new URL(req.url, 'http://recorder');
        seen.push({ method: req.method, path: url.pathname, query: url.search, siteKey: url.searchParams.get('siteKey'), headers: req.headers, body, at: Date.now() });
      }
      const head = req.method === 'OPTIONS' ? cors : { ...cors, ...extra };
      res.writeHead(req.method === 'OPTIONS' ? 204 : status, head).end(req.method === 'OPTIONS' ? '' : answer ?? acceptAll(body));
    });
  });
  return {
    url: await listen(server),
    seen,
    setStatus: (s, headers = {}, body = null) => { status = s; extra = headers; answer = body; },
    close: () => new Promise((r) => server.close(r)),
  };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROME_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** Waits until `predicate()` (sync or async) is true, polling; fails after `ms`. */
export async function until(predicate, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
