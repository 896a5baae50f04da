// Part of the demo: the demo shop's static server. Serves only www/ and pkg/ of the
// repository, side by side as the page expects (/www/index.html loads /pkg/tag.js, the
// bundled tag, which fetches the wasm next to it); everything else (/.git, /.dev.vars, /Cargo.toml, …) is 404.
// `/` redirects to REDIRECT (the demo page with its query). Prints "listening on URL".
// Usage: node scripts/demo-serve.mjs HOST PORT [REDIRECT]
import { createServer } from 'node:http';
import { readFile, realpath } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const SERVED = ['www', 'pkg'];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};
const [host, port, redirect] = process.argv.slice(2);
const dirs = Object.fromEntries(await Promise.all(SERVED.map(async (d) => [d, await realpath(join(root, d)).catch(() => null)])));

/** The file a URL path names, or null when it is outside www/ and pkg/. */
async function resolve(pathname) {
  let parts;
  try {
    parts = decodeURIComponent(pathname).split('/').filter(Boolean);
  } catch {
    return null;
  }
  if (parts.length < 2 || !dirs[parts[0]] || parts.some((p) => p === '..' || p === '.' || p.includes('\\') || p.includes('\0'))) return null;
  // The real path must still lie inside the folder (no symlink out of it).
  const file = await realpath(join(dirs[parts[0]], ...parts.slice(1))).catch(() => null);
  return file && file.startsWith(dirs[parts[0]] + sep) ? file : null;
}

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://x');
  if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405).end();
  if (pathname === '/' && redirect) return res.writeHead(302, { location: redirect }).end();
  const file = await resolve(pathname);
  let body;
  try {
    body = file && (await readFile(file));
  } catch { /* a folder, or gone */ }
  if (!body) return res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.on('error', (e) => {
  console.error(`the demo shop's server cannot listen on ${host}:${port}: ${e.message}`);
  process.exit(1);
});
server.listen(Number(port), host, () => console.log(`listening on http://${host}:${server.address().port}`));
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
