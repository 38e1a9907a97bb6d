/** Stage `read`: a file's bytes, with its size checked before anything is read. */
import { constants } from 'node:fs';
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
    // O_NONBLOCK: opening a FIFO (a file replaced after listing, a hand-made sample list) would
    // otherwise block a libuv thread until a writer appears, and keep the process from exiting.
    // Regular files ignore the flag.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (!info.isFile()) {
      // A folder's size can be below MIN_IMAGE_BYTES (XFS, btrfs): say what it is, not EMPTY.
      const what = info.isDirectory() ? 'EISDIR: is a folder, not a file' : 'not a regular file (FIFO, socket or device)';
      return { ok: false, failure: { code: 'IO', stage: 'read', reason: what } };
    }
    const { size } = info;
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
