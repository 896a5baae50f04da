// The one check helper for golden vectors in JavaScript (Node and Chromium), mirroring
// `check` in tests/vectors.rs: given a vector and an `answer` (what the code under test
// gave: {normalized, sha256} or {error}), returns null when they agree, else a message.
// Shared as plain source so the browser tests load it unchanged.

/** @param {{field: string, country: string, input: string, normalized: string|null, sha256: string|null, reason?: string}} v */
export function expected(v) {
  return v.reason ? { error: v.reason } : { normalized: v.normalized, sha256: v.sha256 };
}

/**
 * @param {object} v a vector
 * @param {{normalized?: string, sha256?: string|null, error?: string}} answer
 * @returns {string|null}
 */
export function checkVector(v, answer) {
  const want = expected(v);
  const got = answer.error !== undefined ? { error: answer.error } : { normalized: answer.normalized, sha256: answer.sha256 };
  const same = JSON.stringify(got) === JSON.stringify(want);
  return same ? null : `${v.field} ${v.country} ${JSON.stringify(v.input)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
}

/** Runs `normalize` (throwing an Error with `code` on a reject) as an answer. */
export function answerOf(normalize, v) {
  try {
    return normalize(v.field, v.input, v.country);
  } catch (e) {
    return { error: e.code };
  }
}
