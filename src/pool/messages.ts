/** What crosses between the main thread and the workers. Plain, cloneable data only. */
import type { ShardStore } from '../dataset/types.js';
import type { SampleFailure } from '../errors.js';
import type { Plan } from '../pipeline/plan.js';
import type { DecodeSettings } from '../stages/load.js';

/** Test-only fault injection, by dataset index: what the worker does when it reaches that sample. */
export type Fault = 'throw' | 'exit' | 'hang';

/** Given once to every worker (piscina `workerData`). */
export interface WorkerConfig {
  plan: Plan;
  decode: DecodeSettings;
  inFlight: number;
  faults: Record<number, Fault>;
  /** Shared memory cache of prepared images, when `cache: 'memory'`. */
  memoryCache: MemoryCacheHandle | null;
  /** Disk cache, when `cache: { dir }`. */
  diskCache: DiskCacheHandle | null;
  /** Where samples with a `source` are read from (WebDataset shards). */
  shards?: ShardStore | null;
}

/** The memory cache: one record of `rescale * rescale * 3` bytes per dataset index. */
export interface MemoryCacheHandle {
  data: SharedArrayBuffer;
  /** Int32 per dataset index: 0 empty, 1 filled, 2 in progress, 3 failed. */
  state: SharedArrayBuffer;
  recordBytes: number;
}

/** The disk cache file and its layout. */
export interface DiskCacheHandle {
  dataFile: string;
  /** Int32 per dataset index, shared: 0 empty, 1 filled, 2 in progress, 3 failed. */
  state: SharedArrayBuffer;
  recordBytes: number;
  format: 'raw' | 'jpeg';
  quality: number;
}

/** Decode, augment and write a run of samples of one batch into the batch's shared buffers. */
export interface BatchTask {
  kind: 'batch';
  epoch: number;
  /** Dataset index of each sample. */
  indices: number[];
  paths: string[];
  /** (shard, offset, length) per sample when the samples live in shards (`config.shards`). */
  ranges?: number[];
  /** Image position of each sample in the batch. */
  positions: number[];
  images: SharedArrayBuffer;
  /** Float32 per image position: scale R, G, B, bias R, G, B. */
  offsets: SharedArrayBuffer;
  /** Set by the pool: Int32 [started, samples finished, state per sample (0 waiting, 1 started, 2 finished)], for the hang watchdog. */
  progress?: SharedArrayBuffer;
}

/** Any task. */
export type Task = BatchTask;

/** Result of a {@link BatchTask}: one entry per sample, `null` when it went well. */
export interface BatchResult {
  failures: Array<SampleFailure | null>;
  /** Milliseconds spent in read + decode, summed over samples. */
  decodeMs: number;
  /** Calls into the decoder (0 for samples served from a cache). */
  decodes: number;
  cacheHits: number;
}
