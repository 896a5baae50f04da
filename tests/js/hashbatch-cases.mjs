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
 * Checks `hashBatch` against single `normalize` calls and against `sha256hex(plain)` (the
 * platform's own SHA-256). Returns failure descriptions (indexes and sizes, no values).
 */
export async function check({ hashBatch, normalize }, sha256hex) {
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
  return { failures, count: all.length };
}
