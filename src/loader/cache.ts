/**
 * The prepared-image cache, main-thread side. The prepare step (decode, rescale, centre crop)
 * is deterministic, so its output can be kept and every later epoch skips the decoder
 * (FFCV's trick). Records are fixed-size `rescale x rescale x 3` uint8 slots indexed by
 * dataset index, in shared memory (`'memory'`) or in one file (`{ dir }`).
 *
 * On disk: `<dir>/header.json` (what the cache belongs to, whether it is complete, the samples
 * that failed and why) and `<dir>/data.bin` (the records). The header is written last, through a
 * temporary file and a rename, so a run killed while filling leaves `complete: false`, and
 * that cache is discarded and refilled, never used.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { replaceDurably } from '../durable.js';
import { StoreError, type SampleFailure } from '../errors.js';
import type { Dataset } from '../dataset/types.js';
import type { ResolvedOptions } from '../options.js';
import type { Plan } from '../pipeline/plan.js';
import { RECORD } from '../pool/cache-io.js';
import type { DiskCacheHandle, MemoryCacheHandle } from '../pool/messages.js';
import { PACKAGE_VERSION } from '../version.js';

const CACHE_FORMAT_VERSION = 1;

/** What a disk cache's header records. */
interface CacheHeader {
  cacheFormat: number;
  patchstream: string;
  complete: boolean;
  key: string;
  settings: Record<string, unknown>;
  samples: number;
  recordBytes: number;
  failures: Record<string, SampleFailure>;
}

/** The loader's view of its cache. */
export interface LoaderCache {
  memoryHandle: MemoryCacheHandle | null;
  diskHandle: DiskCacheHandle | null;
  knownFailure(index: number): SampleFailure | undefined;
  recordFailure(index: number, failure: SampleFailure): void;
  /** Called after a pass over the data; finalises a disk cache once every record is settled. */
  epochComplete(): Promise<void>;
}

/** The settings that change what a prepared image (or its failure) is. */
function cacheSettings(options: ResolvedOptions): Record<string, unknown> {
  return {
    rescale: options.rescale,
    kernel: options.kernel,
    decoder: options.decoder, // the two paths differ by ~1 level: a cache holds one path's pixels
    background: options.background,
    failOn: options.failOn,
    limitInputPixels: options.limitInputPixels,
    maxFileBytes: options.maxFileBytes,
    formats: options.formats,
    allowMisnamed: options.allowMisnamed,
  };
}

/** Hash of the file list (paths and labels, in order) and the prepare settings. */
export function cacheKey(dataset: Dataset, options: ResolvedOptions): string {
  const hash = createHash('sha256');
  for (const sample of dataset.samples) hash.update(`${resolve(sample.path)}\t${sample.label}\n`);
  hash.update(JSON.stringify(cacheSettings(options)));
  return hash.digest('hex');
}

/** Opens (or creates) the cache the options ask for. */
export async function openCache(dataset: Dataset, options: ResolvedOptions, plan: Plan): Promise<LoaderCache | null> {
  if (options.cache === false) return null;
  const count = dataset.samples.length;
  const recordBytes = plan.rescale * plan.rescale * 3;
  if (options.cache === 'memory') return openMemoryCache(count, recordBytes, options.cacheLimitBytes ?? Math.floor(totalmem() / 2));
  return openDiskCache(dataset, options, options.cache.dir, options.cache.format ?? 'raw', options.cache.quality ?? 90, recordBytes);
}

function openMemoryCache(count: number, recordBytes: number, limit: number): LoaderCache {
  const bytes = count * recordBytes;
  if (bytes > limit) {
    throw new StoreError('CACHE', 'memory', `a memory cache of ${count} images at ${recordBytes} bytes each needs ${formatBytes(bytes)}, more than cacheLimitBytes (${formatBytes(limit)}); use cache: { dir } or a smaller rescale`);
  }
  const failures = new Map<number, SampleFailure>();
  return {
    memoryHandle: { data: new SharedArrayBuffer(bytes), state: new SharedArrayBuffer(count * 4), recordBytes },
    diskHandle: null,
    knownFailure: (index) => failures.get(index),
    recordFailure: (index, failure) => void failures.set(index, failure),
    epochComplete: async () => undefined,
  };
}

async function openDiskCache(
  dataset: Dataset,
  options: ResolvedOptions,
  dir: string,
  format: 'raw' | 'jpeg',
  quality: number,
  recordBytes: number,
): Promise<LoaderCache> {
  const count = dataset.samples.length;
  const headerPath = join(dir, 'header.json');
  const dataPath = join(dir, 'data.bin');
  const key = cacheKey(dataset, options);
  const settings = { ...cacheSettings(options), format, ...(format === 'jpeg' ? { quality } : {}) };
  const state = new Int32Array(new SharedArrayBuffer(count * 4));
  const failures = new Map<number, SampleFailure>();
  await mkdir(dir, { recursive: true });

  const existing = await readHeader(headerPath);
  let finalised = false;
  if (existing && existing.complete) {
    const problems: string[] = [];
    if (existing.cacheFormat !== CACHE_FORMAT_VERSION) problems.push(`cache format ${existing.cacheFormat}, expected ${CACHE_FORMAT_VERSION}`);
    if (existing.samples !== count) problems.push(`${existing.samples} samples, the dataset has ${count}`);
    for (const [name, value] of Object.entries(settings)) {
      if (JSON.stringify(existing.settings[name]) !== JSON.stringify(value)) problems.push(`${name} ${JSON.stringify(existing.settings[name])}, requested ${JSON.stringify(value)}`);
    }
    if (existing.key !== key && problems.length === 0) problems.push('a different file list (paths or labels)');
    if (existing.patchstream !== PACKAGE_VERSION) problems.push(`written by patchstream ${existing.patchstream}, this is ${PACKAGE_VERSION}`);
    if (problems.length > 0) {
      throw new StoreError('CACHE', dir, `this cache belongs to another dataset or settings (${problems.join('; ')}); delete it or choose another cache dir`);
    }
    const size = await stat(dataPath).then((s) => s.size, () => -1);
    if (size !== count * recordBytes) {
      throw new StoreError('CACHE', dataPath, `data file has ${size < 0 ? 'gone missing' : `${size} bytes`}, a complete cache of ${count} records needs ${count * recordBytes}; the cache is damaged: delete it to rebuild`);
    }
    state.fill(RECORD.filled);
    for (const [index, failure] of Object.entries(existing.failures)) {
      failures.set(Number(index), failure);
      state[Number(index)] = RECORD.failed;
    }
    finalised = true;
  } else {
    // Absent, or left half-written by a run that did not finish: start afresh.
    await rm(dataPath, { force: true });
    const header: CacheHeader = { cacheFormat: CACHE_FORMAT_VERSION, patchstream: PACKAGE_VERSION, complete: false, key, settings, samples: count, recordBytes, failures: {} };
    await writeHeader(headerPath, header);
    const handle = await open(dataPath, 'w');
    await handle.truncate(count * recordBytes);
    await handle.close();
  }

  return {
    memoryHandle: null,
    diskHandle: { dataFile: dataPath, state: state.buffer as SharedArrayBuffer, recordBytes, format, quality },
    knownFailure: (index) => failures.get(index),
    recordFailure: (index, failure) => void failures.set(index, failure),
    async epochComplete() {
      if (finalised) return;
      for (let index = 0; index < count; index++) {
        const value = Atomics.load(state, index);
        if (value !== RECORD.filled && !failures.has(index)) return;
      }
      const handle = await open(dataPath, 'r+');
      await handle.sync();
      await handle.close();
      const header: CacheHeader = {
        cacheFormat: CACHE_FORMAT_VERSION, patchstream: PACKAGE_VERSION, complete: true, key, settings, samples: count, recordBytes,
        failures: Object.fromEntries([...failures].map(([index, failure]) => [String(index), failure])),
      };
      await writeHeader(headerPath, header);
      finalised = true;
    },
  };
}

async function readHeader(path: string): Promise<CacheHeader | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CacheHeader;
  } catch {
    return null;
  }
}

function writeHeader(path: string, header: CacheHeader): Promise<void> {
  return replaceDurably(path, JSON.stringify(header, null, 1));
}

/** `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
