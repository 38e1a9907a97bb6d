/**
 * createLoader: the ordered, bounded batch iterator over the worker pool.
 *
 * Per epoch: the sampler fixes the order; batches are cut into tasks of a few dozen samples;
 * at most `prefetch` batches are in the pool or ready ahead of the consumer; workers write
 * straight into shared batch buffers; batches are handed out strictly in order.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { PatchstreamError, SampleError, SkipBudgetError, type SampleErrorCode, type SampleFailure } from '../errors.js';
import { defaultMaxSkipped } from '../options.js';
import type { Dataset } from '../dataset/types.js';
import { checkDataset } from '../dataset/check.js';
import type { LoaderOptions, ResolvedOptions } from '../options.js';
import { resolveLoaderOptions } from './options.js';
import { batchBytes, makePlan, patchShape, type Plan } from '../pipeline/plan.js';
import type { BatchResult, Fault, WorkerConfig } from '../pool/messages.js';
import { WorkerPool } from '../pool/pool.js';
import { decodeSettings } from '../stages/load.js';
import { configureSharp } from '../pool/sharp.js';
import { makeBatch, type Batch } from './batch.js';
import { openCache, type LoaderCache } from './cache.js';
import { batchRanges, epochOrder } from './sampler.js';
import { shardLength } from './shard.js';
import { orderedBounded } from './scheduler.js';
import { SkipLedger, type SkippedFile } from './skip-ledger.js';

// The main thread must load sharp (and libvips) before any worker thread does (sharp's docs:
// otherwise GLib re-registration errors and crashes on worker exit).
void sharp.versions;

/** Counters of a loader since it was created. Times in milliseconds. */
export interface LoaderStats {
  /** Images handed to the consumer. */
  images: number;
  batches: number;
  /** Images per second while an epoch was being iterated (first request to last batch). */
  imagesPerSecond: number;
  /** Wall time spent iterating. */
  elapsedMs: number;
  /** Read + decode time summed over samples (across threads, so it can exceed elapsed time). */
  decodeMs: number;
  /** Calls into the decoder; samples served from a cache do not count. */
  decodes: number;
  cacheHits: number;
  /** Time the consumer spent waiting for the next batch. */
  consumerWaitMs: number;
  /** Time the pool sat idle because `prefetch` batches were already waiting for the consumer. */
  producerWaitMs: number;
  /** Skipped samples by reason (onError: 'skip'). */
  skipped: Partial<Record<SampleErrorCode, number>>;
  skippedTotal: number;
  /**
   * Every sample skipped so far, listed once (at its first failure: `epoch`, `code`, `reason`
   * are from then), so the list does not grow with every epoch; `skipped` counts every time.
   */
  skippedFiles: SkippedFile[];
  /** Worker threads replaced after a crash, a hang or an error outside a sample. */
  replacedWorkers: number;
  /** Worker threads running now. */
  threads: number;
  /** Batches decoded ahead of the consumer right now, and the most ever seen. */
  ahead: number;
  maxAhead: number;
  /** Bytes of batch buffers allocated now. */
  bufferBytes: number;
}

/** Per-call options of `loader.epoch()` / `loader.stream()`. */
export interface EpochOptions {
  signal?: AbortSignal;
  /** Start at this batch of the epoch (resuming mid-epoch): earlier batches are not decoded. @default 0 */
  startBatch?: number;
}

/** Test-only fault injection per loader (see {@link createLoaderWithFaults}); not part of the public API. */
const injectedFaults = new WeakMap<Loader, Record<number, Fault>>();

interface RunSettings {
  reuseBuffers: boolean;
  prefetch: number;
  warm?: boolean;
  startBatch?: number;
}

function checkStartBatch(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`Expected non-negative integer for options.startBatch but received ${String(value)} of type ${typeof value}`);
  }
  return value;
}

interface Slot {
  images: SharedArrayBuffer;
  offsets: SharedArrayBuffer;
}

/** An epoch's iteration, from `epoch()` until it ends. */
interface ActiveRun {
  /** Aborts the run: by the caller's signals (forwarded) or by `close()`. */
  controller: AbortController;
  /** The consumer's request in progress (next/return/throw); settled while the consumer holds a batch. */
  busy: Promise<unknown> | null;
}

/**
 * Loads a dataset as AlexNet-style batches.
 * @example
 * const loader = createLoader(await imageFolder('data/train'), { batchSize: 128, mode: 'train', seed: 1 });
 * for await (const batch of loader.epoch(0)) train(batch.images, batch.labels);
 * await loader.close();
 */
export class Loader implements AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly options: Readonly<ResolvedOptions>;
  readonly plan: Readonly<Plan>;
  #pool: WorkerPool | null = null;
  #cache: LoaderCache | null = null;
  #cacheOpening: Promise<LoaderCache | null> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #activeRuns = new Set<ActiveRun>();
  #freeRings: Slot[][] = [];
  #stats = { images: 0, batches: 0, elapsedMs: 0, decodeMs: 0, decodes: 0, cacheHits: 0, consumerWaitMs: 0, producerWaitMs: 0, ahead: 0, maxAhead: 0 };
  #skips = new SkipLedger();
  #bufferBytes = 0;
  #replacedWorkers = 0;
  /** The epoch `for await (const batch of loader)` runs next. */
  #nextEpoch = 0;

  constructor(dataset: Dataset, options: LoaderOptions = {}) {
    this.dataset = checkDataset(dataset);
    this.options = resolveLoaderOptions(options);
    warnAboutThreadpool(this.options.workers * this.options.inFlight);
    this.plan = makePlan(this.options);
    configureSharp();
  }

  /** Samples per epoch on this shard, padding included (the same on every rank). */
  get size(): number {
    return shardLength(this.dataset.samples.length, this.options.shard).length;
  }

  /** Batches per epoch. */
  get length(): number {
    return batchRanges(this.size, this.options.batchSize, this.options.dropLast).length;
  }

  /** Bytes of one full batch's pixels. */
  get batchBytes(): number {
    return batchBytes(this.plan, this.options.batchSize);
  }

  /**
   * The batches of one epoch, in the same order every time for the same seed and epoch.
   * Breaking out of the loop (or aborting) stops scheduling and waits for work in flight.
   * @throws {SampleError} a sample failed under `onError: 'throw'`
   * @throws {SkipBudgetError} more than `maxSkipped` samples failed under `onError: 'skip'`
   */
  epoch(epoch: number, options: EpochOptions = {}): AsyncIterableIterator<Batch> {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
      throw new RangeError(`Expected integer between 0 and 4294967295 for epoch but received ${String(epoch)} of type ${typeof epoch}`);
    }
    return this.#run(epoch, { reuseBuffers: true, signal: options.signal, prefetch: this.options.prefetch, startBatch: checkStartBatch(options.startBatch) });
  }

  /**
   * One epoch as a Node `Readable` in object mode, for `stream.pipeline`. Each batch owns its
   * memory. At most `prefetch` batches are decoded ahead of the consumer, counting the one
   * the stream holds in its buffer.
   */
  stream(epoch: number, options: EpochOptions = {}): Readable {
    const prefetch = Math.max(1, this.options.prefetch - 1);
    const iterator = this.#run(epoch, { reuseBuffers: false, signal: options.signal, prefetch, startBatch: checkStartBatch(options.startBatch) });
    // Readable.from ends the iterator (return, or throw with the error) when the stream is destroyed.
    return Readable.from(iterator, { objectMode: true, highWaterMark: 1 });
  }

  /**
   * One epoch, as iterating a torch DataLoader or a tf.data dataset is: the first
   * `for await (const batch of loader)` runs epoch 0, the next epoch 1, and so on, so order and
   * augmentation change between passes. `loader.epoch(e)` runs a given epoch.
   */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epoch(this.#nextEpoch++);
  }

  /**
   * Fills the prepared-image cache (`cache` option) ahead of training, so even the first epoch
   * skips the decoder. A no-op without a cache.
   */
  async warm(options: EpochOptions = {}): Promise<void> {
    const cache = await this.#openCache();
    if (!cache) return;
    // One pass over every sample, in file order, fills every record; the batches are discarded.
    for await (const batch of this.#run(0, { reuseBuffers: true, signal: options.signal, prefetch: this.options.prefetch, warm: true })) void batch;
  }

  /** Counters since the loader was created. */
  stats(): LoaderStats {
    // A shallow copy: called every training step, and skippedFiles entries are never changed after they are added.
    const stats = this.#stats;
    return {
      ...stats,
      skipped: { ...this.#skips.counts },
      skippedTotal: this.#skips.total,
      skippedFiles: [...this.#skips.files],
      imagesPerSecond: stats.elapsedMs > 0 ? (stats.images * 1000) / stats.elapsedMs : 0,
      replacedWorkers: this.#replacedWorkers + (this.#pool?.replacedWorkers ?? 0),
      threads: this.#pool?.threads ?? 0,
      bufferBytes: this.#bufferBytes,
    };
  }

  /**
   * Stops running epochs, waits for work in flight, ends the worker threads and finalises the
   * cache. An epoch still being iterated ends with a `CLOSED` error at its next request.
   * Safe to call (and await) from inside the `for await` loop.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const reason = new PatchstreamError('CLOSED', 'The loader was closed while this epoch was being iterated');
    for (const run of this.#activeRuns) run.controller.abort(reason);
    // Wait only for requests in progress (aborted, they stop after their work in flight). A run
    // the consumer holds between two requests, or never started, cannot move until the consumer
    // asks, and the consumer may be the one awaiting close(): waiting for it would deadlock.
    await Promise.allSettled([...this.#activeRuns].map((run) => run.busy));
    await this.#closePool();
    this.#freeRings = [];
    this.#bufferBytes = 0;
  }

  /** `await using loader = createLoader(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #closePool(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    if (pool) {
      this.#replacedWorkers += pool.replacedWorkers;
      await pool.close();
    }
  }

  #openCache(): Promise<LoaderCache | null> {
    this.#cacheOpening ??= this.options.cache === false
      ? Promise.resolve(null)
      : openCache(this.dataset, this.options, this.plan).then((cache) => (this.#cache = cache));
    return this.#cacheOpening;
  }

  async #ensurePool(): Promise<WorkerPool> {
    if (this.#pool) return this.#pool;
    const cache = await this.#openCache();
    const config = { ...workerConfig(this.options, this.plan, cache, injectedFaults.get(this)), shards: this.dataset.shards ?? null };
    this.#pool = new WorkerPool({ workers: this.options.workers, config, sampleTimeout: this.options.sampleTimeout });
    return this.#pool;
  }

  /** A ring of `prefetch + 1` batch buffers: a free one from an earlier epoch, or new (counted in bufferBytes). */
  #takeRing(): Slot[] {
    const reused = this.#freeRings.pop();
    if (reused) return reused;
    const fresh = Array.from({ length: this.options.prefetch + 1 }, () => this.#allocateSlot());
    this.#bufferBytes += fresh.length * (this.batchBytes + this.options.batchSize * 24);
    return fresh;
  }

  /** Buffers for one batch. A stream's batches get their own (owned by the consumer, not counted in bufferBytes). */
  #allocateSlot(): Slot {
    return { images: new SharedArrayBuffer(this.batchBytes), offsets: new SharedArrayBuffer(this.options.batchSize * 24) };
  }

  #run(epoch: number, settings: RunSettings & { signal: AbortSignal | undefined }): AsyncIterableIterator<Batch> {
    if (this.#closed) throw new PatchstreamError('CLOSED', 'This loader is closed; create a new one');
    const run: ActiveRun = { controller: new AbortController(), busy: null };
    // The caller's signals are forwarded into the run's own (close() aborts it too), rather than
    // combined with AbortSignal.any, whose dependants a long-lived signal would accumulate.
    const forwarded = [this.options.signal, settings.signal].filter((s): s is AbortSignal => s !== undefined);
    const forward = (event: Event) => run.controller.abort((event.target as AbortSignal).reason);
    for (const source of forwarded) {
      if (source.aborted) run.controller.abort(source.reason);
      else source.addEventListener('abort', forward, { once: true });
    }
    this.#activeRuns.add(run);
    const generator = this.#generate(epoch, settings, run.controller.signal);
    const runs = this.#activeRuns;
    const track = <T>(request: Promise<T>): Promise<T> => (run.busy = request);
    // Whatever way the iteration ends (done, break, throw), forget it.
    const wrapped: AsyncIterableIterator<Batch> = {
      next: (...args) => track(generator.next(...args).then((result) => {
        if (result.done) end();
        return result;
      }, (error: unknown) => {
        end();
        throw error;
      })),
      return: (value?: unknown) => track(generator.return(value as undefined).finally(end)),
      throw: (error?: unknown) => track(generator.throw(error).finally(end)),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    function end(): void {
      runs.delete(run);
      for (const source of forwarded) source.removeEventListener('abort', forward);
    }
    return wrapped;
  }

  async *#generate(
    epoch: number,
    settings: RunSettings,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Batch, void, undefined> {
    signal?.throwIfAborted();
    const iterationStarted = performance.now();
    const { options } = this;
    const samples = this.dataset.samples;
    const order = epochOrder(samples.length, epoch, { shuffle: settings.warm ? false : options.shuffle, seed: options.seed, shard: settings.warm ? { rank: 0, worldSize: 1 } : options.shard });
    const ranges = batchRanges(order.length, options.batchSize, settings.warm ? false : options.dropLast);
    // Positions from `realCount` on repeat samples of other ranks (shard.even 'pad').
    const realCount = settings.warm ? order.length : shardLength(samples.length, options.shard).real;
    const epochSize = ranges.reduce((sum, [start, end]) => sum + end - start, 0);
    const recordSkips = this.#skips.epoch(epoch, options.maxSkipped ?? defaultMaxSkipped(epochSize));
    const pool = await this.#ensurePool();
    signal?.throwIfAborted(); // close() may have come while the pool was starting
    const cache = this.#cache;
    const ring = settings.reuseBuffers ? this.#takeRing() : [];
    const freeSlots = [...ring];
    const chunkSize = Math.min(64, Math.max(options.inFlight * 2, Math.ceil(options.batchSize / (2 * options.workers))));
    const stats = this.#stats;

    /** Decodes batch `batchIndex` into `slot`: its samples in tasks of `chunkSize`; resolves with each sample's failure or null. */
    const runBatch = async (batchIndex: number, slot: Slot): Promise<Array<SampleFailure | null>> => {
      const [start, end] = ranges[batchIndex]!;
      const failures: Array<SampleFailure | null> = new Array(end - start).fill(null);
      const tasks: Array<Promise<void>> = [];
      for (let chunkStart = start; chunkStart < end; chunkStart += chunkSize) {
        const indices: number[] = [];
        const paths: string[] = [];
        const ranges: number[] = [];
        const positions: number[] = [];
        for (let position = chunkStart; position < Math.min(end, chunkStart + chunkSize); position++) {
          const index = order[position]!;
          const known = cache?.knownFailure(index);
          if (known) {
            failures[position - start] = known;
            continue;
          }
          indices.push(index);
          paths.push(samples[index]!.path);
          const source = samples[index]!.source;
          if (source) ranges.push(source.shard, source.offset, source.length);
          positions.push(position - start);
        }
        if (indices.length === 0) continue;
        tasks.push(pool.run({ kind: 'batch', epoch, indices, paths, ...(ranges.length ? { ranges } : {}), positions, images: slot.images, offsets: slot.offsets }).then((result: BatchResult) => {
          stats.decodeMs += result.decodeMs;
          stats.decodes += result.decodes;
          stats.cacheHits += result.cacheHits;
          result.failures.forEach((failure, j) => {
            if (failure) {
              failures[positions[j]!] = failure;
              cache?.recordFailure(indices[j]!, failure);
            }
          });
        }));
      }
      await Promise.all(tasks);
      return failures;
    };

    const jobs = orderedBounded({
      start: Math.min(settings.startBatch ?? 0, ranges.length),
      end: ranges.length,
      ahead: settings.prefetch,
      take: () => (settings.reuseBuffers ? freeSlots.pop() : this.#allocateSlot()),
      release: (slot: Slot) => {
        if (settings.reuseBuffers) freeSlots.push(slot);
      },
      run: runBatch,
      signal,
      times: stats,
    });
    let failedWith: unknown = null;
    let activeSince = iterationStarted;
    try {
      for await (const { index, slot, result: failures } of jobs) {
        const batch = this.#assemble(epoch, index, order, ranges[index]!, slot, failures, realCount);
        recordSkips(batch.skipped);
        stats.images += batch.labels.length;
        stats.batches++;
        stats.elapsedMs += performance.now() - activeSince;
        yield batch;
        activeSince = performance.now();
      }
      if ((settings.startBatch ?? 0) === 0) await cache?.epochComplete();
    } catch (error) {
      failedWith = error;
      throw error;
    } finally {
      // The scheduler has waited for its jobs; wait for the pool too before the ring is reused.
      await pool.drain();
      if (settings.reuseBuffers && !this.#closed) this.#freeRings.push(ring);
      // Under onError 'throw' a bad sample ends the run and the pool with it; the next epoch starts a new one.
      if (failedWith instanceof SampleError || failedWith instanceof SkipBudgetError) await this.#closePool();
    }
  }

  /**
   * The batch of positions [start, end) of the epoch order, over `slot`'s memory. Under
   * `onError: 'throw'` the first failed sample throws; under `skip` failed samples are left out
   * and the gaps closed, so images, labels and indices stay aligned.
   */
  #assemble(
    epoch: number,
    batchIndex: number,
    order: Int32Array,
    [start, end]: [number, number],
    slot: Slot,
    failures: Array<SampleFailure | null>,
    realCount: number,
  ): Batch {
    const { plan, options } = this;
    const samples = this.dataset.samples;
    const imageElements = plan.patchesPerImage * plan.elementsPerPatch;
    const images = plan.dtype === 'float32' ? new Float32Array(slot.images) : new Uint8Array(slot.images);
    const affine = new Float32Array(slot.offsets);
    const kept: number[] = [];
    const skipped: SampleError[] = [];
    for (let position = 0; position < end - start; position++) {
      const failure = failures[position];
      if (!failure) {
        kept.push(position);
        continue;
      }
      const index = order[start + position]!;
      const error = new SampleError(failure, { path: samples[index]!.path, label: samples[index]!.label, index });
      if (options.onError === 'throw') throw error;
      skipped.push(error);
    }
    if (skipped.length > 0) {
      kept.forEach((position, k) => {
        if (position === k) return;
        images.copyWithin(k * imageElements, position * imageElements, (position + 1) * imageElements);
        affine.copyWithin(k * 6, position * 6, (position + 1) * 6);
      });
    }
    const count = kept.length;
    const indices = Int32Array.from(kept, (position) => order[start + position]!);
    const labels = Int32Array.from(indices, (index) => samples[index]!.label);
    const patches = count * plan.patchesPerImage;
    return makeBatch({
      images: images.subarray(0, patches * plan.elementsPerPatch),
      labels,
      indices,
      shape: [patches, ...patchShape(plan)],
      patchesPerImage: plan.patchesPerImage,
      epoch,
      index: batchIndex,
      affine: affine.subarray(0, count * 6),
      padded: Uint8Array.from(kept, (position) => (start + position >= realCount ? 1 : 0)),
      skipped,
    });
  }
}

let warnedAboutThreadpool = false;

/**
 * sharp decodes on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise, read
 * once at start-up). On a machine with more cores than that, a loader asking for more decodes in
 * flight than the pool has threads is capped by it: say so, once.
 */
function warnAboutThreadpool(inFlight: number): void {
  if (warnedAboutThreadpool || process.env.UV_THREADPOOL_SIZE !== undefined) return;
  if (availableParallelism() <= 4 || inFlight <= 4) return;
  warnedAboutThreadpool = true;
  process.emitWarning(
    `patchstream: ${inFlight} decodes in flight but libuv's thread pool has 4 threads (UV_THREADPOOL_SIZE is not set); start Node with UV_THREADPOOL_SIZE=${Math.min(1024, inFlight)} to use every core`,
    { code: 'PATCHSTREAM_THREADPOOL' },
  );
}

/** What every worker of a loader's pool is told once. */
export function workerConfig(options: ResolvedOptions, plan: Plan, cache: LoaderCache | null, faults: Record<number, Fault> = {}): WorkerConfig {
  return {
    plan: { ...plan },
    decode: decodeSettings(options),
    inFlight: options.inFlight,
    faults,
    memoryCache: cache?.memoryHandle ?? null,
    diskCache: cache?.diskHandle ?? null,
  };
}

/**
 * Creates a loader: validates every option up front (before any thread starts) and returns a
 * {@link Loader}. Worker threads start with the first epoch.
 * @throws {TypeError} an option or the dataset has the wrong type (the message names it and the value received)
 * @throws {RangeError} an option is out of range
 * @example
 * const loader = createLoader(train, { batchSize: 128, mode: 'train', seed: 1, workers: 2, prefetch: 4 });
 */
export function createLoader(dataset: Dataset, options: LoaderOptions = {}): Loader {
  return new Loader(dataset, options);
}

/**
 * A loader whose workers misbehave at the given dataset indices (throw, exit the thread, or
 * hang), for the fault tests. Internal: not exported from the package.
 */
export function createLoaderWithFaults(dataset: Dataset, options: LoaderOptions, faults: Record<number, Fault>): Loader {
  const loader = new Loader(dataset, options);
  injectedFaults.set(loader, faults);
  return loader;
}
