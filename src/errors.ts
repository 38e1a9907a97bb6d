/**
 * Error classes. Every error patchstream throws on purpose carries a stable `code`;
 * errors about one sample also carry its path, label, dataset index and the stage that failed.
 */

/** Where in a sample's journey something went wrong. */
export type SampleStage = 'read' | 'sniff' | 'decode' | 'augment' | 'cache' | 'worker';

/**
 * Stable reasons a sample can fail, used as keys of `loader.stats().skipped`.
 * - `IO`: the file could not be read (ENOENT, EACCES, ...)
 * - `EMPTY`: zero-byte (or nearly empty) file
 * - `FILE_TOO_LARGE`: larger than `maxFileBytes`
 * - `UNSUPPORTED`: not an allowed image format (SVG, PDF, HTML, text, TIFF named .jpg, ...)
 * - `DECODE`: the decoder failed (truncated or corrupt data)
 * - `PIXEL_LIMIT`: width x height above `limitInputPixels` (decompression bomb)
 * - `TIMEOUT`: decoding took longer than `sampleTimeout`
 * - `WORKER`: the worker thread died or threw outside a sample
 */
export type SampleErrorCode =
  | 'IO'
  | 'EMPTY'
  | 'FILE_TOO_LARGE'
  | 'UNSUPPORTED'
  | 'DECODE'
  | 'PIXEL_LIMIT'
  | 'TIMEOUT'
  | 'WORKER';

/**
 * Base class: every patchstream error has a stable `code`. Codes not listed with a subclass:
 * `CLOSED` (an epoch was iterated after, or while, its loader was closed).
 */
export class PatchstreamError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PatchstreamError';
    this.code = code;
  }
}

/** The plain-data form of a {@link SampleError}, as it crosses from a worker thread. */
export interface SampleFailure {
  code: SampleErrorCode;
  stage: SampleStage;
  reason: string;
}

/**
 * One sample failed. The message names the code, the file, the stage and the reason:
 * `DECODE fixtures/broken/truncated.jpg (stage decode): VipsJpeg: premature end of JPEG file`.
 */
export class SampleError extends PatchstreamError {
  override readonly code: SampleErrorCode;
  readonly path: string;
  readonly label: number;
  readonly index: number;
  readonly stage: SampleStage;
  readonly reason: string;
  constructor(
    failure: SampleFailure,
    sample: { path: string; label: number; index: number },
    options?: { cause?: unknown },
  ) {
    super(failure.code, `${failure.code} ${sample.path} (stage ${failure.stage}): ${failure.reason}`, options);
    this.name = 'SampleError';
    this.code = failure.code;
    this.path = sample.path;
    this.label = sample.label;
    this.index = sample.index;
    this.stage = failure.stage;
    this.reason = failure.reason;
  }
}

/** One problem found while listing a dataset (a bad list-file line, an empty class folder, ...). */
export interface DatasetProblem {
  /** 1-based line number in a list file, when the problem comes from one. */
  line?: number;
  path?: string;
  reason: string;
}

/**
 * A dataset could not be listed. `problems` holds every problem found, not just the first,
 * so a list file with ten bad lines reports all ten.
 * Codes: `EMPTY_DATASET`, `EMPTY_CLASS`, `BAD_LIST`, `NOT_FOUND`, `TOO_LARGE`, `CLASS_MISMATCH`.
 */
export class DatasetError extends PatchstreamError {
  readonly problems: DatasetProblem[];
  constructor(code: string, message: string, problems: DatasetProblem[] = [], options?: { cause?: unknown }) {
    const shown = problems.slice(0, 20).map((p) => `\n  ${formatProblem(p)}`).join('');
    const more = problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '';
    super(code, message + shown + more, options);
    this.name = 'DatasetError';
    this.problems = problems;
  }
}

function formatProblem(problem: DatasetProblem): string {
  const where = [problem.line !== undefined ? `line ${problem.line}` : '', problem.path ?? ''].filter(Boolean).join(' ');
  return where ? `${where}: ${problem.reason}` : problem.reason;
}

/**
 * Under `onError: 'skip'`, more samples failed than `maxSkipped` allows.
 * `failures` lists every skipped sample so far.
 */
export class SkipBudgetError extends PatchstreamError {
  readonly failures: SampleError[];
  constructor(maxSkipped: number, failures: SampleError[]) {
    const files = failures.slice(0, 20).map((f) => `\n  ${f.message}`).join('');
    const more = failures.length > 20 ? `\n  ... and ${failures.length - 20} more` : '';
    super('SKIP_BUDGET', `${failures.length} samples failed, more than maxSkipped (${maxSkipped}):${files}${more}`);
    this.name = 'SkipBudgetError';
    this.failures = failures;
  }
}

/** A checkpoint or cache could not be written, read or trusted. Codes: `CHECKPOINT`, `CACHE`. */
export class StoreError extends PatchstreamError {
  readonly path: string;
  constructor(code: 'CHECKPOINT' | 'CACHE', path: string, reason: string, options?: { cause?: unknown }) {
    super(code, `${code} ${path}: ${reason}`, options);
    this.name = 'StoreError';
    this.path = path;
  }
}

/** Turns anything thrown into a one-line reason. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? String(error);
  return String(error);
}
