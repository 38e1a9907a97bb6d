/**
 * The loader's verdict on a JPEG under its `failOn`, before any decoder runs. Every decode path
 * (sharp's, a libjpeg-turbo fast path, cache filling) calls this on the file's bytes, so they
 * all refuse exactly what libjpeg-turbo's djpeg warns about (see ./jpeg-check.ts for why sharp's
 * own `failOn: 'warning'` cannot be relied on).
 */
import type { SampleFailure } from '../errors.js';
import type { FailOn } from '../options.js';
import { jpegIssueFor } from './jpeg-check.js';

/** What {@link jpegFailure} decided. */
export interface JpegVerdict {
  /** Why the file is refused, or `null`. */
  failure: SampleFailure | null;
  /**
   * The `failOn` to hand the decoder. When the stream was checked, the check is libjpeg's full
   * verdict and the decoder's own (partial, source-dependent) warning check would only add false
   * alarms, so decoders are run with `'error'`; otherwise the loader's `failOn` as it is.
   */
  sharpFailOn: FailOn;
}

const CLEAN_CHECKED: JpegVerdict = { failure: null, sharpFailOn: 'error' };

/**
 * Checks a JPEG's bytes under `failOn` (`'none'` checks nothing).
 * @example
 * const verdict = jpegFailure(bytes, 'warning');
 * if (verdict.failure) console.log(verdict.failure.reason); // libjpeg: Corrupt JPEG data: bad Huffman code (byte 9121)
 */
export function jpegFailure(bytes: Uint8Array, failOn: FailOn): JpegVerdict {
  const issue = jpegIssueFor(bytes, failOn);
  if (issue === undefined) return { failure: null, sharpFailOn: failOn };
  if (issue === null) return failOn === 'warning' ? CLEAN_CHECKED : { failure: null, sharpFailOn: failOn };
  return {
    failure: { code: 'DECODE', stage: 'decode', reason: `libjpeg: ${issue.message} (byte ${issue.offset}; failOn is '${failOn}')` },
    sharpFailOn: failOn,
  };
}
