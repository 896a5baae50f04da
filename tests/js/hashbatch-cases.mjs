// The values the hashBatch tests send, shared by Node and Chromium: every normalized length
// 1..=200 bytes (SHA-256 takes one block up to 55, the four-lane path; longer ones take
// two to four), random contents, with rejects, existing digests, unhashed fields and
// separator characters mixed in, cut into batches of odd sizes. Deterministic (a fixed
// xorshift seed), so a failure names the same case on every run.

/** A generator of 32-bit words from a fixed seed. */
export function rng(seed = 0x2545f491) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * `{field, input, country, plain}` records; `plain` is the exact string whose SHA-256 the
 * answer must hold (CITY keeps `[a-z0-9]`, so a lowercase alphanumeric input is its own
 * normalized value), or undefined when only single calls can say.
 */
export function cases() {
  const next = rng();
  const word = (n) => Array.from({ length: n }, () => ALNUM[next() % ALNUM.length]).join('');
  const out = [];
  for (let round = 0; round < 8; round++) {
    for (let len = 1; len <= 200; len++) {
      const plain = word(len);
      out.push({ field: 'CITY', input: plain, country: 'US', plain });
    }
  }
  // Values the rules change (case, spaces, punctuation), of many lengths too.
  for (let len = 1; len <= 120; len++) out.push({ field: 'EMAIL', input: ` ${word(len).toUpperCase()}+x@Example.COM `, country: 'GB' });
  const extras = [
    { field: 'EMAIL', input: 'nope', country: 'US' },
    { field: 'CITY', input: '   ', country: 'US' },
    { field: 'NOPE', input: 'x', country: 'US' },
    { field: 'EMAIL', input: 'a@b.co', country: 'USA' },
    { field: 'EMAIL', input: 'B3C7A9F1E2D4C6B8A0F9E7D5C3B1A2F4E6D8C0B9A7F5E3D1C2B4A6F8E0D9C7B5', country: 'US' },
    { field: 'MAID', input: '6D92078A-8246-4BA4-AE5B-76104861E7DC', country: 'US' },
    { field: 'MATCH_ID', input: 'cust-123', country: 'US' },
    { field: 'CITY', input: 'New\u001eYork', country: 'US' },
    { field: 'EMAIL', input: 'x\u001fy@z.co', country: 'US' },
    { field: 'FIRST_NAME', input: 'Jürgen', country: 'DE' },
    { field: 'PHONE', input: '(206) 555-0100', country: 'US' },
    // Every separator character the packing uses, in values hashed and sent unhashed.
    { field: 'MATCH_ID', input: 'id\u001eone\u001ftwo', country: 'US' },
    { field: 'RAMP_ID', input: 'XY\u001c1234\u001d', country: 'US' },
    { field: 'MAID', input: '6d92078a-8246-4ba4-ae5b-76104861e7dc\u001e', country: 'US' },
    { field: 'EMAIL', input: '\u001cabc@example.com\u001d', country: 'GB' },
    { field: 'CITY', input: 'a\u001db', country: 'US' },
    // Non-ASCII: composed and decomposed, outside the BMP, and lone surrogates (which
    // cross as U+FFFD); one ending in a high surrogate, so that the next value in a batch
    // may start with a low one.
    { field: 'CITY', input: 'Zu\u0308rich \u{1f600}', country: 'US' },
    { field: 'LAST_NAME', input: 'Ørsted-Æbelø', country: 'DE' },
    { field: 'CITY', input: 'end\ud83d', country: 'US' },
    { field: 'CITY', input: '\ude00start', country: 'US' },
    { field: 'EMAIL', input: 'a\udc00b@example.com', country: 'GB' },
    { field: 'CITY', input: '', country: 'US' },
    { field: 'EMAIL', input: 'ABC@EXAMPLE.COM', country: 'us' },
  ];
  // Spread the extras through the list so they land in every lane of a group of four.
  for (let i = 0; i < 400; i++) out.splice(next() % out.length, 0, extras[i % extras.length]);
  return out;
}

/** Batch sizes: 1 to 9, odd ones, and the rest in one. */
export const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 17, 31, 64, 101, 257];

/** `records` cut into consecutive batches of the sizes in turn. */
export function batches(records) {
  const out = [];
  for (let at = 0, k = 0; at < records.length; k++) {
    const size = SIZES[k % SIZES.length];
    out.push(records.slice(at, at + size));
    at += size;
  }
  return out;
}

/**
 * Checks `hashBatch` (records of mixed fields and countries, and of one) and `hashColumn`
 * against single `normalize` calls and against `sha256hex(plain)` (the platform's own
 * SHA-256). Returns failure descriptions (indexes and sizes, no values).
 */
export async function check({ hashBatch, hashColumn, normalize }, sha256hex) {
  const single = (r) => {
    try {
      return normalize(r.field, r.input, r.country);
    } catch (e) {
      return { error: e.code };
    }
  };
  const all = cases();
  const failures = [];
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  let at = 0;
  for (const batch of batches(all)) {
    const got = hashBatch(batch.map(({ field, input, country }) => ({ field, input, country })));
    if (got.length !== batch.length) failures.push(`batch at ${at}: ${got.length} answers for ${batch.length}`);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      if (!same(got[i], single(r))) failures.push(`record ${at + i} (${r.field}, batch of ${batch.length}): differs from normalize`);
      if (r.plain !== undefined && got[i].sha256 !== (await sha256hex(r.plain))) failures.push(`record ${at + i} (${r.plain.length} bytes, batch of ${batch.length}): wrong SHA-256`);
    }
    at += batch.length;
  }
  // Uniform batches (one field and country: the packed fast path) of odd sizes.
  const cities = all.filter((r) => r.plain !== undefined);
  for (const size of SIZES) {
    const batch = cities.slice(size, 2 * size);
    const got = hashBatch(batch.map(({ field, input, country }) => ({ field, input, country })));
    for (let i = 0; i < batch.length; i++) {
      if (got[i].sha256 !== (await sha256hex(batch[i].plain))) failures.push(`uniform batch of ${size}, record ${i}: wrong SHA-256`);
    }
  }
  // Uniform batches of every field and country the cases hold, odd values included:
  // hashBatch's one-field path and hashColumn, against single calls.
  const groups = new Map();
  for (const r of all) {
    const key = `${r.field}\u0000${r.country}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  // Side by side: a value ending in a high surrogate before one starting with a low one
  // (joined, they would make a pair), separators at a value's ends, an empty value.
  groups.get('CITY\u0000US').unshift(
    { field: 'CITY', input: 'end\ud83d', country: 'US' },
    { field: 'CITY', input: '\ude00start', country: 'US' },
    { field: 'CITY', input: '\u001eNew York\u001e', country: 'US' },
    { field: 'CITY', input: '', country: 'US' },
    { field: 'CITY', input: 'Zu\u0308rich', country: 'US' },
  );
  for (const [key, records] of groups) {
    const [field, country] = key.split('\u0000');
    for (const batch of [records, ...batches(records)]) {
      const got = hashBatch(batch.map(({ input }) => ({ field, input, country })));
      const column = hashColumn(field, batch.map((r) => r.input), country);
      const rejected = [];
      for (let i = 0; i < batch.length; i++) {
        const want = single(batch[i]);
        if (!same(got[i], want)) failures.push(`${field}/${country} batch of ${batch.length}, record ${i}: hashBatch differs from normalize`);
        const value = want.error === undefined ? (want.sha256 ?? want.normalized) : null;
        if (column.values[i] !== value) failures.push(`${field}/${country} batch of ${batch.length}, record ${i}: hashColumn differs from normalize`);
        if (want.error !== undefined) rejected.push({ index: i, code: want.error });
      }
      if (column.values.length !== batch.length) failures.push(`${field}/${country}: hashColumn gave ${column.values.length} values for ${batch.length}`);
      if (!same(column.rejected, rejected)) failures.push(`${field}/${country} batch of ${batch.length}: hashColumn's rejected differ`);
    }
  }
  return { failures, count: all.length, groups: groups.size };
}
