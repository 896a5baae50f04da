// matchkey/csv: `matchkey hash-csv` in the page, for files (the console's "Hash a file"
// page). Its own wasm build (csv/matchkey_wasm.js: every field's rules plus a streaming
// CSV reader), so the builds a shop's pages load stay small. Reads the file as the CLI
// does (encoding, delimiter, header), runs the CLI's row logic on each row (the library's
// csv_rows), and writes the same bytes.
import initCsv, * as wasm from './csv/matchkey_wasm.js';

let ready = null;

/**
 * Loads the csv wasm module once. In browsers and Web Workers with no argument (fetched
 * next to this file); in Node pass the bytes of `csv/matchkey_wasm_bg.wasm`.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function initCsvBuild(source) {
  if (!ready) {
    ready = initCsv(source === undefined ? undefined : { module_or_path: source })
      .then(() => undefined)
      .catch((e) => {
        ready = null; // a failed download may be retried
        throw e;
      });
  }
  return ready;
}

/** An Error with a reason `code`, as the wasm exports throw. */
function codeError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/** Bytes of a file's start that decide its encoding and delimiter, as `hash-csv` reads them. */
export const CSV_SAMPLE_BYTES = 64 << 10;

/**
 * The encoding `matchkey hash-csv` reads a file with, from its first bytes (up to
 * CSV_SAMPLE_BYTES): a byte-order mark's (UTF-8, UTF-16), else UTF-8 when they are valid
 * UTF-8, else Windows-1252. Throws `nul_bytes` for UTF-16 without a byte-order mark.
 * @param {Uint8Array} sample
 * @param {boolean} whole whether the sample is the whole file
 * @returns {{encoding: 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252', bom: number}}
 */
export function csvEncoding(sample, whole) {
  const b = sample;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf-8', bom: 3 };
  if (b[0] === 0xff && b[1] === 0xfe) return { encoding: 'utf-16le', bom: 2 };
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf-16be', bom: 2 };
  if (b.includes(0)) throw codeError('nul_bytes', 'the file has NUL bytes: UTF-16 without a byte-order mark, or not text');
  try {
    // `stream` lets the sample end inside a character.
    new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: !whole });
    return { encoding: 'utf-8', bom: 0 };
  } catch {
    return { encoding: 'windows-1252', bom: 0 };
  }
}

/** A function turning a file's next bytes (`undefined` at the end) into UTF-8 without its byte-order mark. */
function toUtf8(encoding, bom) {
  if (encoding === 'utf-8') {
    let skip = bom;
    return (chunk) => {
      if (chunk === undefined || skip === 0) return chunk || new Uint8Array(0);
      const cut = Math.min(skip, chunk.length);
      skip -= cut;
      return chunk.subarray(cut);
    };
  }
  // The page's decoder (WHATWG, as encoding_rs in the CLI); it drops the byte-order mark.
  const decoder = new TextDecoder(encoding);
  const encoder = new TextEncoder();
  return (chunk) => encoder.encode(chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true }));
}

/**
 * The header row of a CSV file as `matchkey hash-csv` reads it (loads the csv build):
 * `{names, delimiter, encoding}`.
 * @param {Uint8Array} sample the file's first bytes (up to CSV_SAMPLE_BYTES)
 * @param {{delimiter?: string, whole?: boolean}} [options] a delimiter instead of the detected one; whether the sample is the whole file
 */
export async function csvHeader(sample, { delimiter = '', whole = false } = {}) {
  await initCsvBuild();
  const { encoding, bom } = csvEncoding(sample, whole);
  const convert = toUtf8(encoding, bom);
  let utf8 = convert(sample);
  if (whole) {
    const rest = convert(undefined);
    if (rest.length) utf8 = concat(utf8, rest);
  }
  const header = wasm.csvHeader(utf8, delimiter, whole);
  return { names: header.names, delimiter: header.delimiter, encoding };
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * `matchkey hash-csv` in the page (loads the csv build): reads `stream` (a File's
 * `stream()`), calls `onOutput` with each piece of the output CSV (the header row first)
 * and `onProgress` with the input bytes read, and returns the counts
 * `{rowsRead, rowsWritten, noMatchKeys, rejects, refused, warnings}`. The output is the
 * CLI's byte for byte for the same options; memory holds one chunk at a time.
 * @param {ReadableStream<Uint8Array>} stream
 * @param {{names: string[], delimiter: string, encoding: string, map: Array<[number, string]>, country?: string, countryColumn?: number, keep?: number[], strict?: boolean}} options `names`, `delimiter` and `encoding` as csvHeader gave them; `map` as [column index, FIELD]; `country` for every row or `countryColumn` (an index)
 * @param {{onOutput: (bytes: Uint8Array) => void, onProgress?: (bytesRead: number) => void}} sinks
 */
export async function hashCsv(stream, options, { onOutput, onProgress = () => {} }) {
  await initCsvBuild();
  const { names, delimiter, encoding } = options;
  const hasher = new wasm.CsvHasher(
    names.length,
    options.map.map(([i, f]) => `${i}=${f}`).join(','),
    String(options.country ?? ''),
    options.countryColumn ?? -1,
    Uint32Array.from(options.keep ?? []),
    delimiter,
    Boolean(options.strict),
  );
  try {
    const bom = encoding === 'utf-8' ? 3 : 0;
    let convert = null;
    let read = 0;
    onOutput(hasher.headerRow(names));
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!convert) {
        // Whether a UTF-8 file starts with a byte-order mark decides what to skip.
        const hasBom = value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf;
        convert = toUtf8(encoding, hasBom ? bom : 0);
      }
      read += value.length;
      const out = hasher.push(convert(value));
      if (out.length) onOutput(out);
      onProgress(read);
    }
    if (convert) {
      const rest = convert(undefined);
      if (rest.length) {
        const out = hasher.push(rest);
        if (out.length) onOutput(out);
      }
    }
    const last = hasher.finish();
    if (last.length) onOutput(last);
    return hasher.counts();
  } finally {
    hasher.free();
  }
}

