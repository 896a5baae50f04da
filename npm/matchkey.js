// matchkey: Amazon Ads match keys normalized and SHA-256 hashed in the page (wasm).
// This module wraps the wasm-bindgen output (matchkey_wasm.js) with the package API.
import initWasm, {
  normalize as normalizeWasm, matchKeys as matchKeysWasm, hashBatchPacked,
  requiresConsent as requiresConsentWasm, tcfGranted as tcfGrantedWasm, gppGranted as gppGrantedWasm,
  validTcfString as validTcfStringWasm, validGppString as validGppStringWasm,
} from './matchkey_wasm.js';

const RS = '\u001e';
const US = '\u001f';
const GS = '\u001d';
const SEPS = /[\u001e\u001f]/;

let ready = null;

/**
 * Loads the wasm module once. In browsers and Web Workers with no argument (the .wasm is
 * fetched next to this file); in Node or bundlers pass the bytes, a Response, a URL or a
 * compiled WebAssembly.Module: `await init(fs.readFileSync(wasmPath))`.
 * @param {BufferSource | WebAssembly.Module | Response | URL | string} [source]
 * @returns {Promise<void>}
 */
export function init(source) {
  if (!ready) {
    ready = initWasm(source === undefined ? undefined : { module_or_path: source }).then(() => undefined);
  }
  return ready;
}

/**
 * Normalizes and hashes one value. Throws an Error with `code` (reason) and `field`.
 * @param {string} field EMAIL, PHONE, FIRST_NAME, LAST_NAME, ADDRESS, CITY, STATE, POSTAL, MAID, RAMP_ID, MATCH_ID
 * @param {string} input
 * @param {string} country ISO 3166-1 alpha-2, a locale such as en-GB, or UK
 * @returns {{normalized: string, sha256: string | null}}
 */
export function normalize(field, input, country) {
  return normalizeWasm(String(field), String(input), String(country));
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
  return matchKeysWasm(record, String(country));
}

/**
 * Whether data from `country` needs a consent signal (EEA and UK, the core's list).
 * Throws an Error with code `invalid_country`.
 * @param {string} country
 * @returns {boolean}
 */
export function requiresConsent(country) {
  return requiresConsentWasm(String(country));
}

/**
 * Whether a CMP's decoded TCF data (`__tcfapi` getTCData / addEventListener) gives Amazon
 * Ads (vendor 793) consent and consent for every purpose the core requires. Whether the
 * data is final (`eventStatus`) is the caller's to check.
 * @param {object} tcData
 * @returns {boolean}
 */
export function tcfGranted(tcData) {
  return tcfGrantedWasm(tcData);
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
  return gppGrantedWasm(String(sectionName), parsedSection, Boolean(consentRequired));
}

/**
 * Whether `s` has the shape of a TCF string (base64url segments).
 * @param {string} s
 * @returns {boolean}
 */
export function validTcfString(s) {
  return typeof s === 'string' && validTcfStringWasm(s);
}

/**
 * Whether `s` has the shape of a GPP string (base64url sections joined by `~`).
 * @param {string} s
 * @returns {boolean}
 */
export function validGppString(s) {
  return typeof s === 'string' && validGppStringWasm(s);
}

/**
 * Normalizes and hashes many values with one crossing into wasm each way.
 * @param {Array<{field: string, input: string, country: string}>} records
 * @returns {Array<{normalized: string, sha256: string | null} | {error: string}>}
 */
export function hashBatch(records) {
  if (records.length === 0) return [];
  const packed = new Array(records.length);
  const { field, country } = records[0];
  let uniform = true;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    // The separators are white space to the rules; a value holding one goes alone.
    const input = String(r.input);
    const alone = input.includes(RS) || input.includes(US) || input.includes(GS);
    if (r.field !== field || r.country !== country) uniform = false;
    packed[i] = alone ? null : input;
  }
  if (!uniform) {
    for (let i = 0; i < records.length; i++) {
      if (packed[i] !== null) packed[i] = `${records[i].field}${US}${records[i].country}${US}${packed[i]}`;
    }
  }
  const direct = packed.some((p) => p === null);
  // One split over both separators: [normalized0, sha0, normalized1, sha1, …]; an empty
  // normalized value means the second part is a reject code.
  const placeholder = uniform ? '' : `${field}${US}${country}${US}`;
  const joined = packed.map((p) => (p === null ? placeholder : p)).join(RS);
  const flat = hashBatchPacked(uniform ? `${GS}${field}${US}${country}${RS}${joined}` : joined).split(SEPS);
  const out = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    if (direct && packed[i] === null) {
      try {
        out[i] = normalize(records[i].field, records[i].input, records[i].country);
      } catch (e) {
        out[i] = { error: e.code };
      }
      continue;
    }
    const normalized = flat[2 * i];
    const second = flat[2 * i + 1];
    out[i] = normalized === '' ? { error: second } : { normalized, sha256: second === '' ? null : second };
  }
  return out;
}

export default init;
