// The npm package in Node: initialization with the wasm bytes, every golden vector
// through normalize and hashBatch, hashColumn, errors, matchKeys, the consent rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import init, {
  initFull, needsFull, normalize, matchKeys, hashBatch, hashColumn, requiresConsent, tcfGranted, gppGranted, validTcfString, validGppString,
} from '../../pkg/matchkey.js';
import { checkVector, answerOf } from './check-vector.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const vectors = JSON.parse(readFileSync(`${root}tests/vectors/normalization.json`, 'utf8'));
await init(readFileSync(`${root}pkg/matchkey_wasm_bg.wasm`));

const FULL_ONLY = ['ADDRESS', 'STATE'];

test('lite build: every golden vector but ADDRESS, STATE and phones of other regions, which answer not_in_this_build', () => {
  assert.ok(needsFull({ email: 'a@b.co', address: '1 Main St' }) && !needsFull({ email: 'a@b.co', state: ' ' }));
  // hashBatch's own code is in the full build; here it answers value by value.
  assert.ok(needsFull([{ field: 'EMAIL', input: 'a@b.co', country: 'US' }]) && !needsFull(['EMAIL', 'PHONE']));
  // An empty or pre-hashed ADDRESS or STATE is answered before the field's rules.
  // So is a phone number of a region outside Appendix C (the full build's answer is checked below).
  const liteCheck = (v, answer) => ([...FULL_ONLY, 'PHONE'].includes(v.field) && answer.error === 'not_in_this_build' ? null : checkVector(v, answer));
  const failures = vectors.map((v) => liteCheck(v, answerOf(normalize, v))).filter(Boolean);
  assert.deepEqual(failures, []);
  const batch = hashBatch(vectors.map((v) => ({ field: v.field, input: v.input, country: v.country })));
  const batchFailures = vectors.map((v, i) => liteCheck(v, batch[i])).filter(Boolean);
  assert.ok(batch.filter((a) => a.error === 'not_in_this_build').length > 10);
  assert.deepEqual(batchFailures, []);
  const keys = matchKeys({ email: 'abc@example.com', address: '1 Main St' }, 'US');
  assert.deepEqual(keys.rejected, [{ field: 'ADDRESS', code: 'not_in_this_build' }]);
  // hashColumn too answers value by value here, the same values.
  const inputs = [' A@B.co ', 'nope', 'x\u001ey@z.co'];
  assert.deepEqual(hashColumn('EMAIL', inputs, 'US'), {
    values: [normalize('EMAIL', inputs[0], 'US').sha256, null, normalize('EMAIL', inputs[2], 'US').sha256],
    rejected: [{ index: 1, code: 'invalid_email' }],
  });
  assert.deepEqual(hashColumn('ADDRESS', ['1 Main St'], 'US'), { values: [null], rejected: [{ index: 0, code: 'not_in_this_build' }] });
});

test('lite build: a phone number of a region outside Appendix C is deferred to the full build', () => {
  // Appendix C regions are in the lite build, whatever the record's country.
  assert.equal(normalize('PHONE', '+44 (0)20 7946 0958', 'US').normalized, '442079460958');
  assert.equal(normalize('PHONE', '(202) 555-0143', 'US').normalized, '12025550143');
  // Ethiopia's metadata is only in the full build: by calling code, and as the record's country.
  for (const [input, country] of [['+251 11 551 7700', 'US'], ['011 551 7700', 'ET']]) {
    assert.throws(() => normalize('PHONE', input, country), (e) => e.code === 'not_in_this_build' && e.field === 'PHONE' && !e.message.includes('551'));
    assert.deepEqual(hashBatch([{ field: 'PHONE', input, country }]), [{ error: 'not_in_this_build' }]);
  }
  assert.deepEqual(matchKeys({ email: 'abc@example.com', phone: '+251 11 551 7700' }, 'US').rejected, [{ field: 'PHONE', code: 'not_in_this_build' }]);
  assert.ok(needsFull({ phone: '+251 11 551 7700' }, 'US'));
  assert.ok(needsFull([{ field: 'EMAIL', input: 'a@b.co', country: 'US' }, { field: 'phone', input: '011 551 7700', country: 'ET' }]));
  assert.ok(!needsFull({ phone: '+1 202 555 0143' }, 'US') && !needsFull({ phone: 'not a number' }, 'US'));
  assert.ok(!needsFull({ phone: '+251 11 551 7700' }), 'without its country an identity record\'s phone is not judged');
});

// What the lite build defers beyond other regions' metadata: a calling code it does not
// know (another region's, or none), and a number followed by letters or numerals that
// are neither ASCII nor decimal digits (it has no Unicode letter tables).
const DEFERRED_PHONES = [['+999 1234 5678', 'US'], ['+1 202 555 0143 тел', 'US'], ['020 7946 0958 ²', 'GB'], ['+44 20 7946 0958 (家)', 'US']];

test('lite build: unknown calling codes and trailing words of other scripts are deferred too', () => {
  for (const [input, country] of DEFERRED_PHONES) {
    assert.throws(() => normalize('PHONE', input, country), (e) => e.code === 'not_in_this_build', input);
    assert.ok(needsFull({ phone: input }, country), input);
  }
  // Decimal digits of other scripts, trailing punctuation and ASCII words stay in the lite build.
  assert.equal(normalize('PHONE', '\u0660\u0662\u0660 \u0667\u0669\u0664\u0666 \u0660\u0669\u0665\u0668', 'GB').normalized, '442079460958');
  assert.equal(normalize('PHONE', '(202) 555-0143 \u2014', 'US').normalized, '12025550143');
  assert.equal(normalize('PHONE', '\uff10\uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18\uff09', 'GB').normalized, '442079460958');
  assert.throws(() => normalize('PHONE', '+0 202 555 0143', 'US'), (e) => e.code === 'unparseable_phone');
});

test('full build: loaded on request, it then answers every call', async () => {
  await initFull(readFileSync(`${root}pkg/full/matchkey_wasm_bg.wasm`));
  assert.ok(!needsFull(['ADDRESS']));
  assert.deepEqual(vectors.map((v) => checkVector(v, answerOf(normalize, v))).filter(Boolean), []);
  // The numbers the lite build deferred get the full build's answer.
  const answers = DEFERRED_PHONES.map(([input, country]) => answerOf(normalize, { field: 'PHONE', input, country }));
  assert.deepEqual(answers.map((a) => a.error ?? a.normalized), DEFERRED_PHONES.map(() => 'unparseable_phone'));
});

test('every golden vector through normalize', () => {
  const failures = vectors.map((v) => checkVector(v, answerOf(normalize, v))).filter(Boolean);
  assert.deepEqual(failures, []);
});

test('every golden vector through hashBatch, in one call', () => {
  const answers = hashBatch(vectors.map((v) => ({ field: v.field, input: v.input, country: v.country })));
  assert.equal(answers.length, vectors.length);
  const failures = vectors.map((v, i) => checkVector(v, answers[i])).filter(Boolean);
  assert.deepEqual(failures, []);
});

test('decomposed Unicode is normalized by the engine first (NFC, NFKC for postal codes)', () => {
  assert.equal(normalize('LAST_NAME', 'Mu\u0308ller', 'DE').normalized, 'mueller');
  assert.equal(normalize('STATE', 'Que\u0301bec', 'CA').normalized, 'qc');
  assert.equal(normalize('POSTAL', '\uff11\uff10\uff10-0001', 'JP').normalized, '1000001');
  assert.equal(hashBatch([{ field: 'CITY', input: 'Mu\u0308nchen', country: 'DE' }])[0].normalized, 'mnchen');
});

test('rejects throw real Errors with code and field, never the value', () => {
  for (const [field, input, country, code] of [
    ['EMAIL', 'jane.doe@@example.com', 'US', 'invalid_email'],
    ['NICKNAME', 'x', 'US', 'unknown_field'],
    ['EMAIL', 'jane@example.com', 'USA', 'invalid_country'],
    ['PHONE', '555-0100', 'US', 'impossible_phone_length'],
  ]) {
    assert.throws(() => normalize(field, input, country), (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.code, code);
      assert.ok(!e.message.includes(input), e.message);
      return true;
    });
  }
});

test('matchKeys gives the Amazon array and lists rejected fields apart', () => {
  const keys = matchKeys({ email: ' Jane.Doe@Example.com ', phone: '(416) 555-0199', firstName: '!!!', maid: '', city: 'Toronto' }, 'CA');
  assert.deepEqual(keys.map((k) => k.type), ['EMAIL', 'PHONE', 'CITY']);
  assert.equal(keys[0].values.length, 1);
  assert.equal(keys[0].values[0], normalize('EMAIL', 'jane.doe@example.com', 'CA').sha256);
  assert.deepEqual(keys.rejected, [{ field: 'FIRST_NAME', code: 'empty_after_normalization' }]);
  assert.equal(JSON.stringify(keys).includes('rejected'), false, 'the wire form is the plain array');
  assert.throws(() => matchKeys({ email: 'a@b.c' }, 'XX'), (e) => e.code === 'invalid_country');
});

test('hashBatch keeps order, reports rejects per value, and handles separator characters', () => {
  const out = hashBatch([
    { field: 'EMAIL', input: 'a@b.co', country: 'US' },
    { field: 'EMAIL', input: 'nope', country: 'US' },
    { field: 'MAID', input: '6D92078A-8246-4BA4-AE5B-76104861E7DC', country: 'US' },
    { field: 'CITY', input: 'New\u001eYork', country: 'US' },
  ]);
  assert.equal(out[0].normalized, 'a@b.co');
  assert.deepEqual(out[1], { error: 'invalid_email' });
  assert.deepEqual(out[2], { normalized: '6d92078a-8246-4ba4-ae5b-76104861e7dc', sha256: null });
  assert.equal(out[3].normalized, 'newyork');
  assert.deepEqual(hashBatch([]), []);
});

test('hashBatch with one field and country for all (one call into wasm) answers the same', () => {
  const inputs = [' A@B.co ', 'nope', 'x\u001fy@z.co', 'jane.doe@example.com'];
  const batch = hashBatch(inputs.map((input) => ({ field: 'EMAIL', input, country: 'US' })));
  const single = inputs.map((input) => {
    try {
      return normalize('EMAIL', input, 'US');
    } catch (e) {
      return { error: e.code };
    }
  });
  assert.deepEqual(batch, single);
  assert.deepEqual(hashBatch([{ field: 'EMAIL', input: 'a@b.co', country: 'USA' }]), [{ error: 'invalid_country' }]);
});

test('hashBatch digests equal normalize for every length around one SHA-256 block, pre-hashed and unhashed values', () => {
  const single = (r) => {
    try {
      return normalize(r.field, r.input, r.country);
    } catch (e) {
      return { error: e.code };
    }
  };
  // Normalized lengths 1 to 120 bytes (one block holds 55), with a pre-hashed value, a
  // value holding a separator (normalized on its own) and a reject between them.
  const inputs = Array.from({ length: 120 }, (_, n) => `${'ab'.repeat(n).slice(0, Math.max(n - 8, 0))}@e.co`.slice(-Math.max(n, 1)));
  inputs.splice(30, 0, 'B3C7A9F1E2D4C6B8A0F9E7D5C3B1A2F4E6D8C0B9A7F5E3D1C2B4A6F8E0D9C7B5', 'x\u001cy@z.co', 'nope');
  const uniform = inputs.map((input) => ({ field: 'EMAIL', input, country: 'US' }));
  assert.deepEqual(hashBatch(uniform), uniform.map(single));
  const mixed = uniform.flatMap((r, i) => [r, { field: i % 2 ? 'MAID' : 'CITY', input: i % 2 ? '6D92078A-8246-4BA4-AE5B-76104861E7DC' : r.input, country: 'GB' }]);
  assert.deepEqual(hashBatch(mixed), mixed.map(single));
});

test('hashColumn: match-key values in order, rejects listed, unhashed fields as normalized', async () => {
  await initFull(readFileSync(`${root}pkg/full/matchkey_wasm_bg.wasm`)); // the batch code
  const inputs = [' A@B.co ', 'nope', '', 'x\u001fy@z.co', 'B3C7A9F1E2D4C6B8A0F9E7D5C3B1A2F4E6D8C0B9A7F5E3D1C2B4A6F8E0D9C7B5'];
  const { values, rejected } = hashColumn('EMAIL', inputs, 'US');
  assert.deepEqual(values, [normalize('EMAIL', inputs[0], 'US').sha256, null, null, normalize('EMAIL', inputs[3], 'US').sha256, inputs[4].toLowerCase()]);
  assert.deepEqual(rejected, [{ index: 1, code: 'invalid_email' }, { index: 2, code: 'empty' }]);
  assert.deepEqual(hashColumn('MAID', ['6D92078A-8246-4BA4-AE5B-76104861E7DC', 'x'], 'US'), {
    values: ['6d92078a-8246-4ba4-ae5b-76104861e7dc', null],
    rejected: [{ index: 1, code: 'invalid_maid' }],
  });
  assert.deepEqual(hashColumn('EMAIL', [], 'US'), { values: [], rejected: [] });
  // The whole call's field or country is wrong: every value says so.
  assert.deepEqual(hashColumn('NOPE', ['a', 'b'], 'US').rejected, [{ index: 0, code: 'unknown_field' }, { index: 1, code: 'unknown_field' }]);
  assert.deepEqual(hashColumn('EMAIL', ['a@b.co'], 'USA'), { values: [null], rejected: [{ index: 0, code: 'invalid_country' }] });
});

test('batches larger than the wasm memory: it grows during the call, and the answers stay whole', async () => {
  await initFull(readFileSync(`${root}pkg/full/matchkey_wasm_bg.wasm`)); // the batch code
  const single = (r) => {
    try {
      return normalize(r.field, r.input, r.country);
    } catch (e) {
      return { error: e.code };
    }
  };
  // 3 MB of inputs, non-ASCII among them (so the inputs are written a second time with
  // room for three bytes a code unit), separators (asked of normalize after the answer
  // is read, when the memory may have moved), numbers and rejects.
  const inputs = Array.from({ length: 60_000 }, (_, i) => {
    if (i % 997 === 0) return `Zu\u0308rich-${i}\u{1f600} ${'x'.repeat(i % 40)}`;
    if (i % 1009 === 0) return `New\u001eYork ${i}`;
    if (i % 1013 === 0) return '!!!';
    return `${'City of '.repeat(1 + (i % 5))}${i}`;
  });
  const records = inputs.map((input) => ({ field: 'CITY', input, country: 'US' }));
  const want = records.map(single);
  assert.deepEqual(hashBatch(records), want);
  const column = hashColumn('CITY', inputs, 'US');
  assert.deepEqual(column.values, want.map((r) => (r.error === undefined ? r.sha256 : null)));
  assert.deepEqual(column.rejected, want.flatMap((r, index) => (r.error === undefined ? [] : [{ index, code: r.error }])));
  // Unhashed values holding a separator character are asked of normalize alone.
  const ids = inputs.map((input, i) => (i % 1009 === 0 ? `id\u001e${i}\u001c` : `id-${i}-${input}`));
  const idRecords = ids.map((input) => ({ field: 'MATCH_ID', input, country: 'US' }));
  const idWant = idRecords.map(single);
  assert.ok(idWant.some((r) => r.normalized?.includes('\u001e')));
  assert.deepEqual(hashBatch(idRecords), idWant);
  assert.deepEqual(hashColumn('MATCH_ID', ids, 'US').values, idWant.map((r) => r.normalized ?? null));
  // Inputs that are not strings are read as String(input) would be, as normalize reads them.
  assert.deepEqual(hashColumn('POSTAL', [94043, 10001], 'US').values, [normalize('POSTAL', '94043', 'US').sha256, normalize('POSTAL', '10001', 'US').sha256]);
  assert.deepEqual(hashBatch([{ field: 'POSTAL', input: 94043, country: 'US' }]), [normalize('POSTAL', '94043', 'US')]);
});

test('matchKeys refuses a matchId or rampId that looks like contact data', () => {
  const keys = matchKeys({ matchId: 'jane.doe@example.com', rampId: '(206) 555-0100' }, 'US');
  assert.deepEqual([...keys], []);
  assert.deepEqual(keys.rejected, [
    { field: 'RAMP_ID', code: 'looks_like_personal_data' },
    { field: 'MATCH_ID', code: 'looks_like_personal_data' },
  ]);
  assert.deepEqual(JSON.parse(JSON.stringify(matchKeys({ matchId: 'cust-123' }, 'US'))), [{ type: 'MATCH_ID', values: ['cust-123'] }]);
});

test('consent: countries, TCF data, GPP sections and string shapes come from the core', () => {
  for (const c of ['DE', 'GB', 'UK', 'RE', 'AX', 'NO']) assert.equal(requiresConsent(c), true, c);
  for (const c of ['US', 'CH', 'JP']) assert.equal(requiresConsent(c), false, c);
  assert.throws(() => requiresConsent('XX'), (e) => e.code === 'invalid_country');

  const tc = (vendors, purposes) => ({ vendor: { consents: vendors }, purpose: { consents: purposes } });
  assert.equal(tcfGranted(tc({ 793: true }, { 1: true, 3: true, 4: true })), true);
  assert.equal(tcfGranted(tc({ 793: true }, { 1: true, 3: true })), false);
  assert.equal(tcfGranted(tc({ 793: false }, { 1: true, 3: true, 4: true })), false);
  assert.equal(tcfGranted(tc({ 793: 'yes' }, { 1: 1, 3: 1, 4: 1 })), false, 'only true is consent');
  for (const junk of [null, undefined, 1, 'x', {}, { vendor: 1 }]) assert.equal(tcfGranted(junk), false);

  const bits = (...p) => Array.from({ length: 24 }, (_, i) => p.includes(i + 1));
  assert.equal(gppGranted('tcfeuv2', { VendorConsents: [793], PurposeConsents: bits(1, 3, 4) }), true);
  assert.equal(gppGranted('tcfeuv2', [{ VendorConsents: [793], PurposeConsents: bits(1, 3, 4) }, { SegmentType: 3 }]), true);
  assert.equal(gppGranted('tcfeuv2', { VendorConsents: [792], PurposeConsents: bits(1, 3, 4) }), false);
  assert.equal(gppGranted('tcfeuv2', { VendorConsents: [793], PurposeConsents: bits(1, 4) }), false);
  // usnat grants in the US, never where EEA/UK consent is required.
  const usnat = { SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 };
  assert.equal(gppGranted('usnat', usnat), true);
  assert.equal(gppGranted('usnat', usnat, true), false);
  const us = { SaleOptOut: 2, SharingOptOut: 0, TargetedAdvertisingOptOut: 2 };
  assert.equal(gppGranted('usnat', us), true);
  assert.equal(gppGranted('usnat', [us, { Gpc: false }]), true);
  for (const k of Object.keys(us)) assert.equal(gppGranted('usnat', { ...us, [k]: 1 }), false, k);
  assert.equal(gppGranted('usnat', { SaleOptOut: 2 }), false, 'unreadable data grants nothing');
  assert.equal(gppGranted('usnat', undefined), false);
  assert.equal(gppGranted('uspv1', { OptOutSale: 'N' }), false);

  assert.equal(validTcfString('CQHcCQAQHcCQAPoABAENBOFgAAAAAH_AAAqIAPgAAAAA'), true);
  assert.equal(validTcfString('jane@example.com'), false);
  assert.equal(validTcfString(42), false);
  assert.equal(validGppString('DBABLA~BVQqAAAAAgA.QA'), true);
  assert.equal(validGppString('DBABLA'), false);
});
