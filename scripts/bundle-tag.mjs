// Builds pkg/tag.js, the site tag as pages load it: www/tag.js with the package API and the
// lite build's glue in one minified ES module (one request before the wasm, and a third of
// the bytes of the three files apart). The full build's glue and the batch code stay
// separate files that the API imports only when a page uses ADDRESS or STATE. Run by scripts/build-pkg.sh.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
await build({
  entryPoints: [`${root}www/tag.js`],
  bundle: true,
  minify: true,
  format: 'esm',
  // Every current browser; the glue's `new URL('matchkey_wasm_bg.wasm', import.meta.url)`
  // still finds the wasm next to pkg/tag.js.
  target: 'es2020',
  outfile: `${root}pkg/tag.js`,
  // Loaded on first use from next to the bundle, not inlined into it (the full build's
  // glue, and the batch code that comes with it).
  external: ['./full/matchkey_wasm.js', './batch.js'],
  legalComments: 'none',
  logLevel: 'warning',
});
