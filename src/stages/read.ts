/** Stage `read`: a file's bytes, with its size checked before anything is read. */
import { open } from 'node:fs/promises';
import type { SampleFailure } from '../errors.js';

/** Fewer bytes than any real image can have (a GIF header alone is 13): reported as `EMPTY`. */
const MIN_IMAGE_BYTES = 12;

/** Outcome of a read: the bytes, or why there are none. */
export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure };

/**
 * Reads a whole file, refusing empty files and files above `maxFileBytes` from their size
 * (so a huge file is never read into memory).
 */
export async function readImageFile(path: string, maxFileBytes: number): Promise<ReadResult> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size > maxFileBytes) {
      return { ok: false, failure: { code: 'FILE_TOO_LARGE', stage: 'read', reason: `file has ${size} bytes, more than maxFileBytes (${maxFileBytes})` } };
    }
    if (size < MIN_IMAGE_BYTES) {
      return { ok: false, failure: { code: 'EMPTY', stage: 'read', reason: size === 0 ? 'file is empty (0 bytes)' : `file has only ${size} bytes, too few for an image` } };
    }
    const bytes = await handle.readFile();
    return { ok: true, bytes };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    const message = (error as Error).message ?? String(error);
    return { ok: false, failure: { code: 'IO', stage: 'read', reason: `${code}: ${message}` } };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
