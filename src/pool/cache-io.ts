/**
 * Worker side of the prepared-image cache: look a sample up, claim its record, fill it.
 * Records are fixed-size slots indexed by dataset index; a shared Int32 state per record says
 * whether it is filled. The main thread owns creation, validation and finalisation (src/loader/cache.ts).
 */
import { open, type FileHandle } from 'node:fs/promises';
import sharp from 'sharp';
import type { SampleFailure } from '../errors.js';
import { decodeJpegRecord } from '../stages/jpeg-turbo.js';
import type { WorkerConfig } from './messages.js';

/** Record states, shared between threads. */
export const RECORD = { empty: 0, filled: 1, filling: 2, failed: 3 } as const;

/** Outcome of a cache lookup. */
export type CacheLookup = { kind: 'miss' } | { kind: 'hit'; pixels: Uint8Array } | { kind: 'failed'; failure: SampleFailure };

let dataHandle: Promise<FileHandle> | null = null;
function dataFile(path: string): Promise<FileHandle> {
  dataHandle ??= open(path, 'r+');
  return dataHandle;
}

/** The shared record states of a worker's cache, viewed once per config (a worker has one). */
const stateViews = new WeakMap<WorkerConfig, Int32Array | null>();
function states(config: WorkerConfig): Int32Array | null {
  let view = stateViews.get(config);
  if (view === undefined) {
    const shared = config.memoryCache?.state ?? config.diskCache?.state;
    view = shared ? new Int32Array(shared) : null;
    stateViews.set(config, view);
  }
  return view;
}

/** Looks a sample up in the configured cache. */
export async function readCached(config: WorkerConfig, index: number): Promise<CacheLookup> {
  const state = states(config);
  if (!state || Atomics.load(state, index) !== RECORD.filled) return { kind: 'miss' };
  if (config.memoryCache) {
    const { data, recordBytes } = config.memoryCache;
    return { kind: 'hit', pixels: new Uint8Array(data, index * recordBytes, recordBytes) };
  }
  const disk = config.diskCache!;
  const handle = await dataFile(disk.dataFile);
  const position = index * disk.recordBytes;
  if (disk.format === 'jpeg') {
    // A JPEG record fills only the start of its slot (the rest is a hole in a sparse file):
    // read a first block, and the remainder only for a large JPEG.
    const first = Math.min(disk.recordBytes, 65536);
    let buffer = Buffer.allocUnsafe(first);
    const { bytesRead } = await handle.read(buffer, 0, first, position);
    const length = bytesRead >= 4 ? buffer.readUInt32LE(0) : 0;
    if (length === 0 || length > disk.recordBytes - 4) {
      return { kind: 'failed', failure: { code: 'IO', stage: 'cache', reason: `cache record ${index} has a bad length ${length}: ${disk.dataFile}` } };
    }
    if (length + 4 > first) {
      const whole = Buffer.allocUnsafe(length + 4);
      buffer.copy(whole, 0, 0, first);
      await handle.read(whole, first, length + 4 - first, position + first);
      buffer = whole;
    }
    const record = buffer.subarray(4, 4 + length);
    // The fast path decodes the record when the loader uses it (one decode path per cache).
    const fast = config.decode.decoder === 'sharp' ? null : decodeJpegRecord(record);
    if (fast && fast.length === disk.recordBytes) return { kind: 'hit', pixels: fast };
    const { data } = await sharp(record).raw().toBuffer({ resolveWithObject: true });
    return { kind: 'hit', pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  }
  const buffer = Buffer.allocUnsafe(disk.recordBytes);
  const { bytesRead } = await handle.read(buffer, 0, disk.recordBytes, position);
  if (bytesRead !== disk.recordBytes) {
    return { kind: 'failed', failure: { code: 'IO', stage: 'cache', reason: `cache record ${index} is short (${bytesRead} of ${disk.recordBytes} bytes): ${disk.dataFile}` } };
  }
  return { kind: 'hit', pixels: new Uint8Array(buffer.buffer, buffer.byteOffset, disk.recordBytes) };
}

/** Claims an empty record for this thread to fill; false when there is no cache or another thread has it. */
export function claimCacheRecord(config: WorkerConfig, index: number): boolean {
  const state = states(config);
  return state !== null && Atomics.compareExchange(state, index, RECORD.empty, RECORD.filling) === RECORD.empty;
}

/** Fills a claimed record (or marks it failed), then publishes its state. */
export async function writeCached(
  config: WorkerConfig,
  index: number,
  outcome: { ok: true; pixels: Uint8Array } | { ok: false; failure: SampleFailure },
): Promise<void> {
  const state = states(config)!;
  if (!outcome.ok) {
    Atomics.store(state, index, RECORD.failed);
    return;
  }
  try {
    if (config.memoryCache) {
      const { data, recordBytes } = config.memoryCache;
      new Uint8Array(data, index * recordBytes, recordBytes).set(outcome.pixels);
    } else {
      const disk = config.diskCache!;
      const handle = await dataFile(disk.dataFile);
      const position = index * disk.recordBytes;
      if (disk.format === 'jpeg') {
        const side = Math.round(Math.sqrt(outcome.pixels.length / 3));
        const jpeg = await sharp(outcome.pixels, { raw: { width: side, height: side, channels: 3 } })
          .jpeg({ quality: disk.quality, chromaSubsampling: '4:4:4' })
          .toBuffer();
        if (jpeg.length > disk.recordBytes - 4) throw new Error(`JPEG of ${jpeg.length} bytes does not fit a ${disk.recordBytes}-byte record`);
        const length = Buffer.allocUnsafe(4);
        length.writeUInt32LE(jpeg.length, 0);
        await handle.writev([length, jpeg], position);
      } else {
        await handle.write(outcome.pixels, 0, outcome.pixels.length, position);
      }
    }
    Atomics.store(state, index, RECORD.filled);
  } catch {
    // A cache that cannot be written must not fail the sample: it was decoded fine.
    Atomics.store(state, index, RECORD.empty);
  }
}
