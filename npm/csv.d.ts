// matchkey/csv: `matchkey hash-csv` in the page.
import type { Field, ReasonCode } from './matchkey.js';

/** Loads the csv wasm build once (browsers: fetched next to csv.js; Node: read from the package's files; or from `source`). */
export function initCsvBuild(source?: BufferSource | WebAssembly.Module | Response | URL | string): Promise<void>;

/** What `matchkey hash-csv` reads a file as. */
export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

/** Bytes of a file's start that decide its encoding and delimiter (64 KiB). */
export const CSV_SAMPLE_BYTES: number;

/** The encoding `hash-csv` reads a file with, from its first bytes; throws `nul_bytes` for UTF-16 without a byte-order mark. */
export function csvEncoding(sample: Uint8Array, whole: boolean): { encoding: CsvEncoding; bom: number };

/** The header row as `hash-csv` reads it (loads the csv build). */
export function csvHeader(sample: Uint8Array, options?: { delimiter?: string; whole?: boolean }): Promise<{ names: string[]; delimiter: string; encoding: CsvEncoding }>;

/** Rows counted by reason, with the first row numbers (the header not counted). */
export interface CsvTally { reason: string; count: number; rows: number[] }

export interface CsvCounts {
  rowsRead: number;
  rowsWritten: number;
  /** Rows written with every mapped cell empty or rejected. */
  noMatchKeys: number;
  rejects: Array<{ field: Field; code: ReasonCode; count: number }>;
  refused: CsvTally[];
  warnings: CsvTally[];
}

export interface HashCsvOptions {
  names: string[];
  delimiter: string;
  encoding: CsvEncoding;
  /** [column index, FIELD] pairs. */
  map: Array<[number, Field]>;
  /** The country of every row, or `countryColumn`. */
  country?: string;
  countryColumn?: number;
  keep?: number[];
  strict?: boolean;
}

/** `matchkey hash-csv` in the page, streamed; the output is the CLI's byte for byte (loads the csv build). */
export function hashCsv(
  stream: ReadableStream<Uint8Array>,
  options: HashCsvOptions,
  sinks: { onOutput: (bytes: Uint8Array) => void; onProgress?: (bytesRead: number) => void },
): Promise<CsvCounts>;
