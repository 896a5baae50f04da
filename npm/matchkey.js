// matchkey: Amazon Ads match keys normalized and SHA-256 hashed in the page (wasm).
// This module wraps the wasm-bindgen output with the package API. Two builds of the same
// core: the lite one (matchkey_wasm.js: every field but ADDRESS and STATE, and phone
// numbering metadata for the regions of Appendix C only; the small first download) and the
// full one (full/matchkey_wasm.js), fetched only when a page needs ADDRESS, STATE or a
// phone number of another region, or batches; once loaded it answers every call. The fast
// batch code (batch.js) comes with the full build.
import initLite, * as lite from './matchkey_wasm.js';

// The fields only the full build has, as field names and as identity record keys.
const FULL_FIELDS = ['ADDRESS', 'STATE'];
const FULL_KEYS = ['address', 'state'];

let wasm = lite;
let liteReady = null;
let fullReady = null;
// hashBatch and hashColumn on the full build (batch.js), loaded with it.
let batch = null;

const source = (s) => (s === undefined ? undefined : { module_or_path: s });

/**
 * Loads the lite wasm module once. In browsers and Web Workers with no argument (the .wasm
 * is fetched next to this file); a bundler that does not serve it can be given the bytes,
 * a Response, a URL or a compiled WebAssembly.Module. (In Node the package's `node` entry,
 * node.js, reads both builds from disk instead.)
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function init(source_) {
  if (!liteReady) liteReady = initLite(source(source_)).then(() => undefined);
  return liteReady;
}

/**
 * Loads the full wasm module once (every field, ADDRESS and STATE included), and the fast
 * batch code with it; from then on it answers every call. `prepare` calls it when needed; outside browsers pass the bytes of
 * `full/matchkey_wasm_bg.wasm`.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function initFull(source_) {
  if (!fullReady) {
    fullReady = Promise.all([import('./full/matchkey_wasm.js'), import('./batch.js')])
      .then(([full, b]) => full.default(source(source_)).then((exports) => {
        batch = b.batcher(full, exports.memory);
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
 * number the lite build defers (of a region outside Appendix C, whose metadata only the
 * full build has, or followed by a word of another script; checked once the lite build is
 * loaded, for an identity record only with its `country`),
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
 * when `what` holds ADDRESS, STATE or a phone number the lite build defers (until
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
 * Makes every synchronous function ready for `what` (as `prepare`), or with no argument
 * for every field: the lite build, then the full one. In Node both are read from disk.
 * @param {string | string[] | object | object[]} [what]
 * @param {string} [country]
 * @returns {Promise<void>}
 */
export async function ready(what, country) {
  if (what === undefined) {
    await init();
    await initFull();
  } else await prepare(what, country);
}

/**
 * Normalizes and hashes one value. Throws an Error with `code` (reason) and `field`;
 * ADDRESS, STATE and the phone numbers the lite build defers throw `not_in_this_build`
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

/**
 * Normalizes and hashes many values; each answer is what `normalize` gives (or
 * `{error}`). With the full build loaded (`await prepare(records)`), one crossing into
 * wasm each way per field and country, nothing per value (`batch.js`); before, the lite
 * build answers the same, value by value. For many values of one field without their
 * normalized form, `hashColumn` is faster still.
 * @param {Array<{field: string, input: string, country: string}>} records
 * @returns {Array<{normalized: string, sha256: string | null} | {error: string}>}
 */
export function hashBatch(records) {
  return batch ? batch.hashBatch(records) : records.map(one);
}

/**
 * Many values of one field and country, for bulk use: their match-key values only, no
 * object per value. `values[i]` is what `normalize(field, inputs[i], country)` answers as
 * `sha256`, or as `normalized` for MAID, RAMP_ID and MATCH_ID (sent unhashed); null when
 * rejected, and `rejected` lists those as `{index, code}` in order. Fast with the full
 * build loaded (`await initFull()`); before, the lite build answers the same, value by value.
 * @param {string} field
 * @param {string[]} inputs
 * @param {string} country
 * @returns {{values: Array<string | null>, rejected: Array<{index: number, code: string}>}}
 */
export function hashColumn(field, inputs, country) {
  if (batch) return batch.hashColumn(field, inputs, country);
  const values = [];
  const rejected = [];
  for (let i = 0; i < inputs.length; i++) {
    const r = one({ field, input: inputs[i], country });
    values.push(r.error === undefined ? r.sha256 ?? r.normalized : null);
    if (r.error !== undefined) rejected.push({ index: i, code: r.error });
  }
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
