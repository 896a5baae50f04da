// matchkey's fast hashBatch and hashColumn, on the full build's `BatchInput` (the batch
// code is in the full build only): loaded with it by `initFull`, so that neither the
// lite first load nor the site tag carries it. Answers equal `normalize`'s, value for value.
//
// One crossing each way, nothing per value: the inputs' UTF-8 is written by `encodeInto`
// straight into the wasm memory, with each input's length in UTF-16 code units (so an
// input may hold any character), and the answer is read there, UTF-8, by `TextDecoder`.
// Both in pieces: in Chromium, for 100,000 e-mails, joining and encoding the inputs all
// at once took 5.3 ms, 1,024 at a time 3.3 ms (`TextEncoder.encode` and a copy: 16 ms);
// one `decode` of the 6.4 MB of digests 4.6 ms, 256 KB at a time 1.3 ms (pieces that
// large are strings V8 never moves; smaller ones, each kept alive by its values' slices,
// were copied by every scavenge).

const RS = '\u001e';
const JOIN_PIECE = 1024;
const DIGEST_PIECE = 4096;
const encoder = new TextEncoder();

/** The batch functions over `full` (the full build's glue) and `memory` (its wasm memory). */
export function batcher(full, memory) {
  let input = null;

  // One record through `normalize`, as the package's own: its answer, or its reject's code.
  function one(r) {
    try {
      return full.normalize(String(r.field), String(r.input), String(r.country));
    } catch (e) {
      return { error: e.code };
    }
  }

  // Writes `inputs`, RS between them, into the batch buffer made `room` bytes long;
  // returns the bytes written, or -1 if they did not fit.
  function encodeInputs(inputs, room) {
    // `reserve` may grow the memory, which replaces its buffer: that is read after.
    const at = input.reserve(room);
    const view = new Uint8Array(memory.buffer, at, room);
    let written = 0;
    for (let i = 0; i < inputs.length; i += JOIN_PIECE) {
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

  // `inputs` (strings, at least one) of one field and country through the wasm: the
  // answer's records and digests, and the records' offsets (`BatchInput.hashColumn`),
  // valid until the next wasm call.
  function column(field, inputs, country, normalized) {
    const n = inputs.length;
    const lengths = new Uint32Array(n);
    let units = n - 1; // the separators
    for (let i = 0; i < n; i++) units += (lengths[i] = inputs[i].length);
    if (input === null) input = new full.BatchInput();
    // ASCII first (a byte a code unit); at most three bytes a unit otherwise.
    let written = encodeInputs(inputs, units);
    if (written < 0) written = encodeInputs(inputs, 3 * units);
    const info = input.hashColumn(String(field), String(country), written, lengths, normalized);
    return {
      bytes: new Uint8Array(memory.buffer, info[0], info[1]),
      digests: new Uint8Array(memory.buffer, info[2], info[3]),
      cuts: info.subarray(4),
    };
  }

  // The digests in `bytes`, 64 hex digits each, one per call.
  function digestReader(decoder, bytes) {
    let piece = '';
    let used = 0;
    let at = 0;
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

  // The records at `at` (all when null) of one field and country, answered into `out`.
  // Returns the indexes of those to ask `normalize` alone (a value holding a separator
  // character), which the caller does once every answer is read: a wasm call may move
  // the memory.
  function records(list, at, field, country, out) {
    const n = at ? at.length : list.length;
    const inputs = new Array(n);
    for (let j = 0; j < n; j++) {
      const v = list[at ? at[j] : j].input;
      inputs[j] = typeof v === 'string' ? v : String(v);
    }
    // The records (separated by RS), every cuts[0] of them a piece, and the digests.
    const { bytes, digests, cuts } = column(field, inputs, country, true);
    const decoder = new TextDecoder();
    const digest = digestReader(decoder, digests);
    const alone = [];
    const size = cuts[0];
    for (let k = 1, first = 0; first < n; k++, first += size) {
      const last = Math.min(n, first + size);
      const piece = decoder.decode(bytes.subarray(cuts[k], last < n ? cuts[k + 1] - 1 : bytes.length));
      let p = 0;
      for (let j = first; j < last; j++) {
        const end = j === last - 1 ? piece.length : piece.indexOf(RS, p);
        const mark = piece.charCodeAt(p);
        const i = at ? at[j] : j;
        if (mark === 0x1f) {
          if (end === p + 1) alone.push(i);
          else out[i] = { error: piece.slice(p + 1, end) };
        } else if (mark === 0x1c) {
          out[i] = { normalized: piece.slice(p + 1, end), sha256: null };
        } else {
          out[i] = { normalized: piece.slice(p, end), sha256: digest() };
        }
        p = end + 1;
      }
    }
    return alone;
  }

  function hashBatch(list) {
    const n = list.length;
    const out = new Array(n);
    if (n === 0) return out;
    const { field, country } = list[0];
    let uniform = true;
    for (let i = 1; i < n && uniform; i++) uniform = list[i].field === field && list[i].country === country;
    let alone;
    if (uniform) {
      alone = records(list, null, field, country, out);
    } else {
      // One call per field and country, in the order they first appear.
      const groups = new Map();
      for (let i = 0; i < n; i++) {
        const r = list[i];
        let byCountry = groups.get(r.field);
        if (!byCountry) groups.set(r.field, (byCountry = new Map()));
        let at = byCountry.get(r.country);
        if (!at) byCountry.set(r.country, (at = []));
        at.push(i);
      }
      alone = [];
      for (const [f, byCountry] of groups) {
        for (const [c, at] of byCountry) for (const i of records(list, at, f, c, out)) alone.push(i);
      }
    }
    for (const i of alone) out[i] = one(list[i]);
    return out;
  }

  function hashColumn(field, inputs, country) {
    const n = inputs.length;
    const values = new Array(n);
    const rejected = [];
    if (n === 0) return { values, rejected };
    let strings = inputs;
    for (let i = 0; i < n; i++) {
      if (typeof inputs[i] !== 'string') {
        strings = Array.from(inputs, String);
        break;
      }
    }
    // The exceptions (an index, then U+001F and a reject's code, or U+001C and a value
    // sent unhashed), and the digests.
    const { bytes, digests } = column(field, strings, country, false);
    const decoder = new TextDecoder();
    const digest = digestReader(decoder, digests);
    const alone = [];
    let i = 0;
    if (bytes.length > 0) {
      const answer = decoder.decode(bytes);
      for (let p = 0; p < answer.length;) {
        let end = answer.indexOf(RS, p);
        if (end === -1) end = answer.length;
        let mark = p;
        let code;
        while ((code = answer.charCodeAt(mark)) !== 0x1f && code !== 0x1c) mark++;
        const index = Number(answer.slice(p, mark));
        for (; i < index; i++) values[i] = digest();
        if (code === 0x1c) values[i] = answer.slice(mark + 1, end);
        else if (end === mark + 1) alone.push(i);
        else {
          values[i] = null;
          rejected.push({ index: i, code: answer.slice(mark + 1, end) });
        }
        i++;
        p = end + 1;
      }
    }
    for (; i < n; i++) values[i] = digest();
    // Values holding a separator character, asked alone now the answer is read.
    for (const i of alone) {
      const r = one({ field, input: strings[i], country });
      if (r.error === undefined) values[i] = r.sha256 ?? r.normalized;
      else {
        values[i] = null;
        rejected.push({ index: i, code: r.error });
      }
    }
    if (alone.length > 0) rejected.sort((a, b) => a.index - b.index);
    return { values, rejected };
  }

  return { hashBatch, hashColumn };
}
