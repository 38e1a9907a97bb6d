/** Stage `read`: a file's bytes, with its size checked before anything is read. */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { SampleFailure } from '../errors.js';

/** Fewer bytes than any real image can have (a GIF header alone is 13): reported as `EMPTY`. */
const MIN_IMAGE_BYTES = 12;

/** Outcome of a read: the bytes, or why there are none. */
export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure };

/**
 * Reads a whole file, refusing empty files and files above `maxFileBytes` from their size
 * (so a huge file is never read into memory).
 *
 * The system calls are synchronous: this runs in a worker thread, whose JPEG decode is
 * synchronous anyway, and an ImageNet-sized file is one read from the page cache. The promise
 * API cost five or six libuv thread-pool round trips per file (open, stat, readFile's own stat
 * and reads, close), about a quarter of a worker's time in a profile of the fast path. A read
 * that hangs (a dead network mount) is caught by the loader's hang watchdog (`sampleTimeout`).
 */
export async function readImageFile(path: string, maxFileBytes: number): Promise<ReadResult> {
  let fd = -1;
  try {
    // O_NONBLOCK: opening a FIFO (a file replaced after listing, a hand-made sample list) would
    // otherwise block until a writer appears. Regular files ignore the flag.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = fstatSync(fd);
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
    const bytes = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const count = readSync(fd, bytes, filled, size - filled, filled);
      if (count === 0) break; // the file shrank since fstat: what is there is what it has
      filled += count;
    }
    return { ok: true, bytes: filled === size ? bytes : bytes.subarray(0, filled) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    const message = (error as Error).message ?? String(error);
    return { ok: false, failure: { code: 'IO', stage: 'read', reason: `${code}: ${message}` } };
  } finally {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // nothing to do: the bytes (or the failure) are what matter
      }
    }
  }
}
