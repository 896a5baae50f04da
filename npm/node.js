// matchkey under Node's `node` export condition: the same API as matchkey.js, with the
// wasm read from this package's own files instead of fetched by URL (Node's fetch does not
// read file: URLs). Reading from disk costs little, so `init()` loads both builds and
// every field answers once it resolves; `ready()` and `prepare()` do the same.
import { readFile } from 'node:fs/promises';
import * as api from './matchkey.js';

export {
  needsFull, normalize, matchKeys, requiresConsent, tcfGranted, gppGranted, validTcfString, validGppString,
  hashBatch, hashColumn,
} from './matchkey.js';

const own = (path) => readFile(new URL(path, import.meta.url));

let loaded = null;

/**
 * Loads both wasm builds from this package's files; every field answers once it
 * resolves. Given a `source` (the lite build's bytes, as a bundle that moved the files
 * must pass), it loads only the lite build from it, as in a browser.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function init(source) {
  if (source !== undefined) return api.init(source);
  if (!loaded) {
    loaded = (async () => {
      await api.init(await own('./matchkey_wasm_bg.wasm'));
      await initFull();
    })().catch((e) => {
      loaded = null;
      throw e;
    });
  }
  return loaded;
}

/**
 * Loads the full build (from this package's files unless `source` is given).
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export async function initFull(source) {
  await api.initFull(source ?? await own('./full/matchkey_wasm_bg.wasm'));
}

/** As in a browser: makes every synchronous function ready; here it loads both builds. */
export async function ready() {
  await init();
}

/** As in a browser; here it loads both builds whatever `what` holds. */
export async function prepare() {
  await init();
}

export default init;
