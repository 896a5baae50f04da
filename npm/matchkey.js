// matchkey: Amazon Ads match keys normalized and SHA-256 hashed in the page (wasm).
// This module wraps the wasm-bindgen output with the package API. Two builds of the same
// core: the lite one (matchkey_wasm.js: every field but ADDRESS and STATE, and phone
// numbering metadata for the regions of Appendix C only; the small first download) and the
// full one (full/matchkey_wasm.js), fetched only when a page needs ADDRESS, STATE or a
// phone number of another region; once loaded it answers every call.
import initLite, * as lite from './matchkey_wasm.js';

const RS = '\u001e';
const US = '\u001f';
const GS = '\u001d';
// What the packing uses: an input holding one of them is normalized on its own.
const SEPS = /[\u001c-\u001f]/;
// The fields only the full build has, as field names and as identity record keys.
const FULL_FIELDS = ['ADDRESS', 'STATE'];
const FULL_KEYS = ['address', 'state'];

let wasm = lite;
let ready = null;
let fullReady = null;
// The full build's memory, and its buffer the batch inputs are written into (`column`).
let memory = null;
let batchInput = null;

const source = (s) => (s === undefined ? undefined : { module_or_path: s });

/**
 * Loads the lite wasm module once. In browsers and Web Workers with no argument (the .wasm
 * is fetched next to this file); in Node or bundlers pass the bytes, a Response, a URL or
 * a compiled WebAssembly.Module: `await init(fs.readFileSync(wasmPath))`.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function init(source_) {
  if (!ready) ready = initLite(source(source_)).then(() => undefined);
  return ready;
}

/**
 * Loads the full wasm module once (every field, ADDRESS and STATE included); from then on
 * it answers every call. `prepare` calls it when needed; outside browsers pass the bytes of
 * `full/matchkey_wasm_bg.wasm`.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function initFull(source_) {
  if (!fullReady) {
    fullReady = import('./full/matchkey_wasm.js')
      .then((full) => full.default(source(source_)).then((exports) => {
        memory = exports.memory;
        wasm = full;
      }))
      .catch((e) => {
        fullReady = null; // a failed download may be retried
        throw e;
      });
  }
  return fullReady;
}

/** The field names `what` asks for: a field, fields, or an identity record (hashBatch records need the full build whatever their fields: `isRecords`). */
function fieldsOf(what) {
  if (typeof what === 'string') return [what];
  if (Array.isArray(what)) return what.flatMap((x) => (typeof x === 'string' ? [x] : fieldsOf(x)));
  if (what && typeof what === 'object') {
    return FULL_KEYS.filter((k) => what[k] !== undefined && what[k] !== null && String(what[k]).trim() !== '').map((k) => k.toUpperCase());
  }
  return [];
}

// hashBatch records (the batch export is in the full build only).
const isRecords = (what) => Array.isArray(what) && what.some((x) => x && typeof x === 'object' && x.field !== undefined);

// Whether an identity record's phone needs numbering metadata the lite build leaves out
// (the lite build says so itself).
function phoneNeedsFull(record, country) {
  if (!record || typeof record !== 'object' || record.phone == null || country == null) return false;
  try {
    lite.normalize('PHONE', String(record.phone), String(country));
  } catch (e) {
    return (e && e.code) === 'not_in_this_build';
  }
  return false;
}

/**
 * Whether `what` needs the full build and it is not loaded yet: ADDRESS or STATE, a phone
 * number whose region's metadata only the full build has (any region outside Appendix C;
 * checked once the lite build is loaded, for an identity record only with its `country`),
 * or hashBatch records (the batch code is in the full build; the lite build answers them
 * value by value, the same answers, slower).
 * @param {string | string[] | object | object[]} what a field, fields, an identity record, or hashBatch records
 * @param {string} [country] an identity record's country
 * @returns {boolean}
 */
export function needsFull(what, country) {
  if (wasm !== lite) return false;
  return isRecords(what) || phoneNeedsFull(what, country)
    || fieldsOf(what).some((f) => FULL_FIELDS.includes(String(f).trim().toUpperCase()));
}

/**
 * Makes the synchronous functions ready for `what`: loads the lite build, and the full one
 * when `what` holds ADDRESS, STATE or a phone number of a region outside Appendix C (until
 * then those are rejected with `not_in_this_build`), or is hashBatch records (the fast
 * batch path).
 * @param {string | string[] | object | object[]} [what] a field, fields, an identity record, or hashBatch records
 * @param {string} [country] an identity record's country
 * @returns {Promise<void>}
 */
export async function prepare(what, country) {
  await init();
  if (needsFull(what, country)) await initFull();
}

/**
 * Normalizes and hashes one value. Throws an Error with `code` (reason) and `field`;
 * ADDRESS, STATE and phone numbers of regions outside Appendix C throw `not_in_this_build`
 * until the full build is loaded (`prepare`).
 * @param {string} field EMAIL, PHONE, FIRST_NAME, LAST_NAME, ADDRESS, CITY, STATE, POSTAL, MAID, RAMP_ID, MATCH_ID
 * @param {string} input
 * @param {string} country ISO 3166-1 alpha-2, a locale such as en-GB, or UK
 * @returns {{normalized: string, sha256: string | null}}
 */
export function normalize(field, input, country) {
  return wasm.normalize(String(field), String(input), String(country));
}

/**
 * The Amazon match keys of one person: `[{type, values: [hash]}]`. Rejected fields are
 * skipped and listed in the array's `rejected` property as `{field, code}`; a matchId or
 * rampId that looks like an e-mail address or a phone number is rejected with
 * `looks_like_personal_data` (Amazon would receive it unhashed).
 * @param {object} record any of email, phone, firstName, lastName, address, city, state, postal, maid, rampId, matchId
 * @param {string} country
 */
export function matchKeys(record, country) {
  return wasm.matchKeys(record, String(country));
}

/**
 * Whether data from `country` needs a consent signal (EEA and UK, the core's list).
 * Throws an Error with code `invalid_country`.
 * @param {string} country
 * @returns {boolean}
 */
export function requiresConsent(country) {
  return wasm.requiresConsent(String(country));
}

/**
 * Whether a CMP's decoded TCF data (`__tcfapi` getTCData / addEventListener) gives Amazon
 * Ads (vendor 793) consent and consent for every purpose the core requires. Whether the
 * data is final (`eventStatus`) is the caller's to check.
 * @param {object} tcData
 * @returns {boolean}
 */
export function tcfGranted(tcData) {
  return wasm.tcfGranted(tcData);
}

/**
 * Whether an applicable GPP section, as the CMP parsed it (`__gpp` ping `parsedSections`
 * or getSection), grants consent: `tcfeuv2` judged as TCF, `usnat` unless an opt-out of
 * sale, sharing or targeted advertising, any other section denied.
 * @param {string} sectionName such as tcfeuv2, usnat
 * @param {object | object[]} parsedSection the section object or its segments
 * @returns {boolean}
 */
export function gppGranted(sectionName, parsedSection, consentRequired = false) {
  return wasm.gppGranted(String(sectionName), parsedSection, Boolean(consentRequired));
}

/**
 * Whether `s` has the shape of a TCF string (base64url segments).
 * @param {string} s
 * @returns {boolean}
 */
export function validTcfString(s) {
  return typeof s === 'string' && wasm.validTcfString(s);
}

/**
 * Whether `s` has the shape of a GPP string (base64url sections joined by `~`).
 * @param {string} s
 * @returns {boolean}
 */
export function validGppString(s) {
  return typeof s === 'string' && wasm.validGppString(s);
}

const encoder = new TextEncoder();
// The inputs are joined and encoded JOIN_PIECE at a time, the digests decoded
// DIGEST_PIECE at a time (256 KB: V8 keeps strings that large in place, where smaller
// ones, each value's slice keeping them alive, would be copied by every scavenge), the
// normalized values a piece of the wasm's choosing at a time. In Chromium, for 100,000
// e-mails, joining and encoding all at once took 5.3 ms, in pieces 3.3 ms; one
// `TextDecoder.decode` of the 6.4 MB of digests 4.6 ms, in pieces of 64 or 256 KB 1.3 ms.
const JOIN_PIECE = 1024;
const DIGEST_PIECE = 4096;

/**
 * `inputs` (strings) of one field and country through the full build's
 * `BatchInput.hashColumn`: their UTF-8, with one separator between them, written by
 * `encodeInto` straight into the wasm memory (in Chromium `TextEncoder.encode` of a
 * batch cost ten times as much, and a copy), and each one's length in UTF-16 code units,
 * so that an input may hold any character (the separators too) and nothing is scanned
 * per value here. Returns the answer: the bytes in the wasm memory and the offsets
 * `hashColumn` gives (the digests' U+001D; with `normalized`, the records per piece and
 * where each piece starts).
 * The bytes are valid until the next call into wasm.
 */
function column(field, inputs, country, normalized) {
  const n = inputs.length;
  const lengths = new Uint32Array(n);
  let units = n - 1; // the separators
  for (let i = 0; i < n; i++) units += (lengths[i] = inputs[i].length);
  if (batchInput === null) batchInput = new wasm.BatchInput();
  // ASCII first (as many bytes as code units); three bytes a unit at most otherwise.
  let written = encodeInputs(inputs, units);
  if (written < 0) written = encodeInputs(inputs, 3 * units);
  const info = batchInput.hashColumn(String(field), String(country), written, lengths, normalized);
  return { bytes: new Uint8Array(memory.buffer, info[0], info[1]), group: info[2], cuts: info.subarray(3) };
}

// Writes `inputs`, RS between them, into the batch buffer, made `room` bytes long;
// returns the bytes written, or -1 if they did not fit.
function encodeInputs(inputs, room) {
  // `reserve` may grow the memory, which replaces its buffer: that is read after.
  const at = batchInput.reserve(room);
  const view = new Uint8Array(memory.buffer, at, room);
  const n = inputs.length;
  let written = 0;
  for (let i = 0; i < n; i += JOIN_PIECE) {
    if (i > 0) {
      if (written === room) return -1;
      view[written++] = 0x1e;
    }
    const piece = inputs.slice(i, i + JOIN_PIECE).join(RS);
    const { read, written: w } = encoder.encodeInto(piece, view.subarray(written));
    if (read < piece.length) return -1;
    written += w;
  }
  return written;
}

// A reader of the digests in `bytes` from `at`, 64 hex digits each, decoded a piece at a time.
function digestReader(decoder, bytes, at) {
  let piece = '';
  let used = 0;
  return function nextDigest() {
    if (used === piece.length) {
      const end = Math.min(bytes.length, at + 64 * DIGEST_PIECE);
      piece = decoder.decode(bytes.subarray(at, end));
      at = end;
      used = 0;
    }
    used += 64;
    return piece.slice(used - 64, used);
  };
}

/**
 * Normalizes and hashes many values with one crossing into wasm each way, nothing
 * crossing per value: when every record has the same field and country, the inputs'
 * UTF-8 and lengths go in and the answer (the normalized values, then every digest's 64
 * hex digits back to back) is read from the wasm memory; otherwise the records go in as
 * one string and the answer comes back as one. That code is in the full build
 * (`await prepare(records)` loads it); before, the lite build answers the same, value by
 * value. For many values of one field without their normalized form, `hashColumn` is
 * faster still.
 * @param {Array<{field: string, input: string, country: string}>} records
 * @returns {Array<{normalized: string, sha256: string | null} | {error: string}>}
 */
export function hashBatch(records) {
  const n = records.length;
  if (n === 0) return [];
  if (!wasm.hashBatchPacked) return records.map(one);
  const { field, country } = records[0];
  const inputs = new Array(n);
  let uniform = true;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const input = r.input;
    inputs[i] = typeof input === 'string' ? input : String(input);
    if (r.field !== field || r.country !== country) uniform = false;
  }
  if (!uniform) return mixedBatch(records, inputs);
  // The records (separated by RS, none holding another separator), GS, the digests.
  const { bytes, group, cuts } = column(field, inputs, country, true);
  const decoder = new TextDecoder();
  const digest = digestReader(decoder, bytes, group + 1);
  const out = new Array(n);
  const alone = [];
  const size = cuts[0];
  for (let k = 1, first = 0; first < n; k++, first += size) {
    const last = Math.min(n, first + size);
    const piece = decoder.decode(bytes.subarray(cuts[k], last < n ? cuts[k + 1] - 1 : group));
    let at = 0;
    for (let i = first; i < last; i++) {
      const end = i === last - 1 ? piece.length : piece.indexOf(RS, at);
      const mark = piece.charCodeAt(at);
      if (mark === 0x1f) {
        // A reject, or (no code) a value the answer could not hold: asked alone, after
        // (a call into wasm may move its memory).
        if (end === at + 1) alone.push(i);
        else out[i] = { error: piece.slice(at + 1, end) };
      } else if (mark === 0x1c) {
        out[i] = { normalized: piece.slice(at + 1, end), sha256: null };
      } else {
        out[i] = { normalized: piece.slice(at, end), sha256: digest() };
      }
      at = end + 1;
    }
  }
  for (const i of alone) out[i] = one(records[i]);
  return out;
}

// hashBatch of records whose fields or countries differ: each record packed with its own.
function mixedBatch(records, inputs) {
  const n = records.length;
  for (let i = 0; i < n; i++) {
    // The separators are white space to the rules; a value holding one goes alone.
    if (SEPS.test(inputs[i])) {
      inputs[i] = null;
    }
  }
  const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = `${records[i].field}${US}${records[i].country}${US}${inputs[i] === null ? '' : inputs[i]}`;
  const answer = wasm.hashBatchPacked(parts.join(RS));
  const cut = answer.lastIndexOf(GS);
  const digests = answer.slice(cut + 1);
  const answers = answer.slice(0, cut).split(RS);
  const out = new Array(n);
  let d = 0;
  for (let i = 0; i < n; i++) {
    const a = answers[i];
    const mark = a.charCodeAt(0);
    if (inputs[i] === null) {
      // Its placeholder's answer still holds a digest slot when the field is hashed.
      if (mark !== 0x1f && mark !== 0x1c) d += 64;
      out[i] = one(records[i]);
    } else if (mark === 0x1f) {
      out[i] = a.length === 1 ? one(records[i]) : { error: a.slice(1) };
    } else if (mark === 0x1c) {
      out[i] = { normalized: a.slice(1), sha256: null };
    } else {
      out[i] = { normalized: a, sha256: digests.slice(d, d + 64) };
      d += 64;
    }
  }
  return out;
}

/**
 * Many values of one field and country, for bulk use: their match-key values only, no
 * object per value. `values[i]` is what `normalize(field, inputs[i], country)` answers as
 * `sha256` (64 lowercase hex digits), or as `normalized` for MAID, RAMP_ID and MATCH_ID
 * (sent unhashed); `null` when rejected, and `rejected` lists those as `{index, code}` in
 * order. One crossing each way, and the answer holds only the digests (and the
 * exceptions). The batch code is in the full build (`await initFull()`, or
 * `await prepare(records)`); before, the lite build answers the same, value by value.
 * @param {string} field
 * @param {string[]} inputs
 * @param {string} country
 * @returns {{values: Array<string | null>, rejected: Array<{index: number, code: string}>}}
 */
export function hashColumn(field, inputs, country) {
  const n = inputs.length;
  const values = new Array(n);
  const rejected = [];
  if (!wasm.BatchInput || n === 0) {
    for (let i = 0; i < n; i++) {
      const r = one({ field, input: inputs[i], country });
      if (r.error === undefined) values[i] = r.sha256 === null ? r.normalized : r.sha256;
      else {
        values[i] = null;
        rejected.push({ index: i, code: r.error });
      }
    }
    return { values, rejected };
  }
  const strings = new Array(n);
  for (let i = 0; i < n; i++) {
    const input = inputs[i];
    strings[i] = typeof input === 'string' ? input : String(input);
  }
  // The exceptions (index, then a reject's code or an unhashed value), GS, the digests.
  const { bytes, group } = column(field, strings, country, false);
  const decoder = new TextDecoder();
  const digest = digestReader(decoder, bytes, group + 1);
  const alone = [];
  let i = 0;
  if (group > 0) {
    const answer = decoder.decode(bytes.subarray(0, group));
    for (let at = 0; at < answer.length;) {
      let end = answer.indexOf(RS, at);
      if (end === -1) end = answer.length;
      let mark = at;
      let code;
      while ((code = answer.charCodeAt(mark)) !== 0x1f && code !== 0x1c) mark++;
      const index = Number(answer.slice(at, mark));
      for (; i < index; i++) values[i] = digest();
      if (code === 0x1c) values[i] = answer.slice(mark + 1, end);
      // A value the answer could not hold: asked alone, after (a call into wasm may move
      // its memory).
      else if (end === mark + 1) alone.push(i);
      else {
        values[i] = null;
        rejected.push({ index: i, code: answer.slice(mark + 1, end) });
      }
      i++;
      at = end + 1;
    }
  }
  for (; i < n; i++) values[i] = digest();
  for (const i of alone) {
    const r = one({ field, input: strings[i], country });
    if (r.error === undefined) values[i] = r.sha256 === null ? r.normalized : r.sha256;
    else {
      values[i] = null;
      rejected.push({ index: i, code: r.error });
    }
  }
  if (alone.length > 0) rejected.sort((a, b) => a.index - b.index);
  return { values, rejected };
}

// One record through `normalize`: its answer, or its reject's code.
function one(r) {
  try {
    return normalize(r.field, r.input, r.country);
  } catch (e) {
    return { error: e.code };
  }
}

export default init;
