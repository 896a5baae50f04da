/** Amazon match-key types. */
export type Field =
  | 'EMAIL' | 'PHONE' | 'FIRST_NAME' | 'LAST_NAME' | 'ADDRESS' | 'CITY' | 'STATE' | 'POSTAL'
  | 'MAID' | 'RAMP_ID' | 'MATCH_ID';

/** Stable reason codes of a rejected value. */
export type ReasonCode =
  | 'empty' | 'empty_after_normalization' | 'invalid_email' | 'unparseable_phone'
  | 'impossible_phone_length' | 'invalid_postal_for_country' | 'zeroed_maid'
  | 'maid_must_not_be_hashed' | 'invalid_maid' | 'invalid_ramp_id' | 'invalid_country'
  | 'unknown_field' | 'raw_pii_not_accepted' | 'not_allowed_from_browser'
  | 'looks_like_personal_data' | 'not_in_this_build';

/** The Error thrown for a rejected value; its message never contains the input. */
export interface MatchkeyError extends Error {
  code: ReasonCode;
  field?: Field;
}

export interface Normalized {
  normalized: string;
  /** 64 lowercase hex; null for MAID, RAMP_ID and MATCH_ID (sent unhashed). */
  sha256: string | null;
}

export interface Identity {
  email?: string; phone?: string; firstName?: string; lastName?: string; address?: string;
  city?: string; state?: string; postal?: string; maid?: string; rampId?: string; matchId?: string;
}

export interface MatchKey { type: Field; values: [string]; }

export type MatchKeys = MatchKey[] & { rejected: Array<{ field: Field; code: ReasonCode }> };

type WasmSource = BufferSource | WebAssembly.Module | Response | URL | string;

/**
 * Loads the lite wasm once (every field but ADDRESS and STATE), fetched next to the
 * module; a bundler that does not serve it can pass the bytes (or a Module/Response/URL).
 * In Node (the `node` export condition) it reads both builds from the package's files,
 * so every field answers once it resolves.
 */
export function init(source?: WasmSource): Promise<void>;
export default init;
/**
 * Loads the full wasm once (every field), and the batch code (`batch.js`) with it; from
 * then on it answers every call. In Node it reads the package's own file.
 */
export function initFull(source?: WasmSource): Promise<void>;
/** A field, fields, an identity record, or hashBatch records. */
export type Needs = Field | string | Array<Field | string | { field: Field | string; input?: string; country?: string }> | Identity;
/**
 * Whether `what` needs the full build and it is not loaded yet: ADDRESS or STATE, or a
 * phone number the lite build defers: of a region outside Appendix C, or followed by a word
 * of another script (checked with the lite build once it is loaded; an identity record's
 * phone only with `country`).
 */
export function needsFull(what: Needs, country?: string): boolean;
/**
 * Loads what `what` needs (the lite build; the full one for ADDRESS, STATE, a phone
 * number the lite build defers, or hashBatch records). Until the full build is
 * loaded, those fields are rejected with `not_in_this_build` (thrown by `normalize`,
 * listed by `matchKeys`, answered by `hashBatch`).
 */
export function prepare(what?: Needs, country?: string): Promise<void>;
/**
 * Makes every field answer: with `what`, as `prepare`; without, the lite build and then
 * the full one (fetched in a browser, read from disk in Node).
 */
export function ready(what?: Needs, country?: string): Promise<void>;
export function normalize(field: Field | string, input: string, country: string): Normalized;
export function matchKeys(record: Identity, country: string): MatchKeys;
/**
 * Many values, one crossing into wasm each way; each answer is a plain object, as
 * `normalize` gives (or `{error}`). The batch code is in the full build
 * (`await prepare(records)` loads it); before that the lite build answers the same, value
 * by value.
 */
export function hashBatch(
  records: Array<{ field: Field | string; input: string; country: string }>,
): Array<Normalized | { error: ReasonCode }>;

/** What `hashColumn` answers. */
export interface HashedColumn {
  /**
   * One per input, in order: `normalize`'s `sha256` (64 lowercase hex), or its
   * `normalized` for MAID, RAMP_ID and MATCH_ID (sent unhashed); null when rejected.
   */
  values: Array<string | null>;
  /** The rejected inputs, in order. */
  rejected: Array<{ index: number; code: ReasonCode }>;
}
/**
 * Many values of one field and country, for bulk use: their match-key values only (no
 * normalized form, no object per value), the fastest form. The batch code is in the full
 * build (`await initFull()`); before that the lite build answers the same, value by value.
 */
export function hashColumn(field: Field | string, inputs: string[], country: string): HashedColumn;

/** Whether data from `country` needs a consent signal; throws `invalid_country`. */
export function requiresConsent(country: string): boolean;

/** The parts of a CMP's TCData (`__tcfapi`) the consent rule reads. */
export interface TcData {
  tcString?: string;
  eventStatus?: 'tcloaded' | 'cmpuishown' | 'useractioncomplete' | string;
  gdprApplies?: boolean;
  vendor?: { consents?: Record<number, boolean> };
  purpose?: { consents?: Record<number, boolean> };
}

/** Vendor 793 (Amazon Ads) and every required purpose have consent. */
export function tcfGranted(tcData: TcData): boolean;

/** An applicable GPP section as parsed by the CMP: `tcfeuv2`, `usnat` (only where consent is not required); others are denied. */
export function gppGranted(sectionName: string, parsedSection: object | object[] | undefined, consentRequired?: boolean): boolean;

export function validTcfString(s: string): boolean;
export function validGppString(s: string): boolean;
