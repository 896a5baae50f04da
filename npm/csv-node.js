// matchkey/csv under Node's `node` export condition: the same API as csv.js, with the csv
// wasm build read from this package's files instead of fetched by URL.
import { readFile } from 'node:fs/promises';
import * as csv from './csv.js';

export { CSV_SAMPLE_BYTES, csvEncoding } from './csv.js';

let loaded = null;

/**
 * Loads the csv wasm build once: from `source`, or from this package's files.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function initCsvBuild(source) {
  if (source !== undefined) return csv.initCsvBuild(source);
  if (!loaded) {
    loaded = readFile(new URL('./csv/matchkey_wasm_bg.wasm', import.meta.url))
      .then((bytes) => csv.initCsvBuild(bytes))
      .catch((e) => {
        loaded = null;
        throw e;
      });
  }
  return loaded;
}

/** As csv.js's `csvHeader`. */
export async function csvHeader(sample, options) {
  await initCsvBuild();
  return csv.csvHeader(sample, options);
}

/** As csv.js's `hashCsv`. */
export async function hashCsv(stream, options, callbacks) {
  await initCsvBuild();
  return csv.hashCsv(stream, options, callbacks);
}
