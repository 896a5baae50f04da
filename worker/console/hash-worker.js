// The console's "Hash a file" page, off the main thread: reads the dropped File as a
// stream and runs `matchkey hash-csv` on it with the wasm package's csv build (the CLI's
// row logic; same bytes out). Nothing is sent anywhere: the output is a Blob handed back
// to the page. Messages never carry a cell's value: errors are a reason code.
import { csvHeader, hashCsv, CSV_SAMPLE_BYTES } from '/console/pkg/csv.js';

/** Progress is posted at most every this many bytes read. */
const PROGRESS_EVERY = 1 << 20;
/** Output pieces are gathered into a Blob (which the browser may keep on disk) at this size. */
const BLOB_EVERY = 8 << 20;

function failed(e) {
  // A wasm or package error has a reason code and a message without the input; anything
  // else is reported by its code alone.
  return { error: e?.code || 'failed', message: e?.code ? e.message : 'the file could not be read' };
}

self.onmessage = async ({ data }) => {
  const { file } = data;
  try {
    if (data.type === 'header') {
      const sample = new Uint8Array(await file.slice(0, CSV_SAMPLE_BYTES).arrayBuffer());
      const header = await csvHeader(sample, { delimiter: data.delimiter || '', whole: file.size <= CSV_SAMPLE_BYTES });
      postMessage({ header });
      return;
    }
    const parts = [];
    let pending = [];
    let pendingBytes = 0;
    let posted = 0;
    const counts = await hashCsv(file.stream(), data.options, {
      onOutput(bytes) {
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= BLOB_EVERY) {
          parts.push(new Blob(pending));
          pending = [];
          pendingBytes = 0;
        }
      },
      onProgress(read) {
        if (read - posted >= PROGRESS_EVERY) {
          posted = read;
          postMessage({ progress: read });
        }
      },
    });
    parts.push(new Blob(pending));
    postMessage({ progress: file.size });
    postMessage({ done: new Blob(parts, { type: 'text/csv' }), counts });
  } catch (e) {
    postMessage(failed(e));
  }
};
