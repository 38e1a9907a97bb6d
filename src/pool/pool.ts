/**
 * The worker pool: piscina with a fixed number of threads, plus what piscina leaves to us.
 * A task that fails as a whole (a worker that threw outside a sample, exited, or hung past its
 * watchdog) is retried one sample at a time, so the one sample at fault is attributed and
 * the others still arrive.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { reasonOf, type SampleFailure } from '../errors.js';
import { configureSharp } from './sharp.js';
import type { BatchResult, BatchTask, WorkerConfig } from './messages.js';

/** Hard bound on each worker's V8 old generation (MB); see the constructor for why it is not lower. */
const WORKER_OLD_GENERATION_MB = 128;

/** Per-sample progress state set by the worker: the sample's work has begun. */
const SAMPLE_STARTED = 1;

/** The compiled worker entry. Under a TypeScript runner (tests) this module is src/, and the worker runs from dist/. */
function workerFilename(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts') ? resolve(dirname(here), '../../dist/pool/worker.js') : resolve(dirname(here), 'worker.js');
  if (!existsSync(file)) throw new Error(`patchstream worker not found at ${file}: run \`npm run build\` first`);
  return file;
}

/** Options of {@link WorkerPool}. */
export interface PoolOptions {
  workers: number;
  config: WorkerConfig;
  /** Seconds one sample may take before its task is abandoned (the worker is replaced). */
  sampleTimeout: number;
}

/** A fixed-size pool of decoding workers. */
export class WorkerPool {
  #piscina: Piscina;
  #options: PoolOptions;
  #closed = false;
  #pending = new Set<Promise<unknown>>();
  /** Worker threads replaced after a crash, hang or uncaught error. */
  replacedWorkers = 0;

  constructor(options: PoolOptions) {
    this.#options = options;
    configureSharp(); // before any worker exists: the workers rely on it (see worker.ts)
    this.#piscina = new Piscina({
      filename: workerFilename(),
      minThreads: options.workers,
      maxThreads: options.workers,
      // Threads live as long as the pool: starting a thread and loading sharp costs ~100 ms.
      idleTimeout: Infinity,
      workerData: options.config,
      recordTiming: false,
      // A worker's JavaScript heap holds a task's small objects (pixels live in external
      // buffers). V8 lets it grow to ~45 MB committed (~8-22 MB live) over the first ~25 s and
      // then keeps it there. The cap is a hard bound far above that: a cap near the live size
      // (16 MB old generation, tried before) made V8 run a full mark-compact every few
      // milliseconds once the heap reached it, and an epoch of the soak run got 4x slower
      // over 20 epochs (1,100 -> 260 images/s) with flat memory.
      resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_GENERATION_MB },
    });
    // A thread that dies between tasks is replaced by piscina; the error must not crash the process.
    this.#piscina.on('error', () => undefined);
  }

  /** Threads currently running. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Tasks submitted and not yet settled. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Runs a task. Never rejects for a sample's sake: whole-task failures are retried per
   * sample and reported as that sample's failure (`WORKER` or `TIMEOUT`).
   */
  run(task: BatchTask): Promise<BatchResult> {
    const promise = this.#runWithRetry(task);
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  async #runWithRetry(task: BatchTask): Promise<BatchResult> {
    const whole = await this.#attempt(task);
    if (whole.ok) return whole.result;
    if (task.indices.length === 1) return failedResult(task, whole.failure);
    const parts = await Promise.all(task.indices.map(async (_, j) => {
      const single: BatchTask = { ...task, indices: [task.indices[j]!], paths: [task.paths[j]!], positions: [task.positions[j]!] };
      // After a timeout, a sample that had started and never finished is the one that hangs:
      // attribute it now instead of waiting a second watchdog period for it alone.
      if (whole.failure.code === 'TIMEOUT' && whole.states?.[j] === SAMPLE_STARTED) return failedResult(single, whole.failure);
      const attempt = await this.#attempt(single);
      return attempt.ok ? attempt.result : failedResult(single, attempt.failure);
    }));
    return mergeResults(parts);
  }

  async #attempt(task: BatchTask): Promise<{ ok: true; result: BatchResult } | { ok: false; failure: SampleFailure; states?: Int32Array }> {
    if (this.#closed) return { ok: false, failure: { code: 'WORKER', stage: 'worker', reason: 'the loader was closed' } };
    // The watchdog looks at progress, not at the clock since submission: a task may wait in
    // the queue behind others. The worker marks when it starts and counts finished samples.
    // [started, samples finished, then per sample: 0 waiting, 1 started, 2 finished]
    const progress = new Int32Array(new SharedArrayBuffer(8 + 4 * task.indices.length));
    const controller = new AbortController();
    const periodMs = (Math.ceil(this.#options.sampleTimeout) + 2) * 1000;
    let lastSeen = -1;
    let lastChange = 0;
    let timedOut = false;
    let watchdog: NodeJS.Timeout;
    const check = () => {
      const now = performance.now();
      const finished = Atomics.load(progress, 1);
      if (Atomics.load(progress, 0) !== 1 || finished !== lastSeen) {
        lastSeen = finished;
        lastChange = now;
      } else if (now - lastChange >= periodMs) {
        timedOut = true;
        controller.abort();
        return;
      }
      watchdog = setTimeout(check, periodMs / 4);
    };
    watchdog = setTimeout(check, periodMs / 4);
    try {
      const result = (await this.#piscina.run({ ...task, progress: progress.buffer }, { signal: controller.signal })) as BatchResult;
      return { ok: true, result };
    } catch (error) {
      if (timedOut) {
        this.replacedWorkers++;
        return { ok: false, failure: { code: 'TIMEOUT', stage: 'worker', reason: `no sample finished for ${(periodMs / 1000).toFixed(0)} s; the worker was stopped and replaced` }, states: progress.slice(2) };
      }
      if (!this.#closed) this.replacedWorkers++;
      return { ok: false, failure: { code: 'WORKER', stage: 'worker', reason: reasonOf(error) } };
    } finally {
      clearTimeout(watchdog!);
    }
  }

  /** Waits for every submitted task to settle. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Waits for running tasks, then ends every thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.drain();
    this.#closed = true;
    await this.#piscina.destroy();
  }
}

/** The result of a task whose every sample failed with `failure`. */
function failedResult(task: BatchTask, failure: SampleFailure): BatchResult {
  return { failures: task.indices.map(() => failure), decodeMs: 0, decodes: 0, cacheHits: 0 };
}

function mergeResults(parts: BatchResult[]): BatchResult {
  return {
    failures: parts.flatMap((part) => part.failures),
    decodeMs: parts.reduce((sum, part) => sum + part.decodeMs, 0),
    decodes: parts.reduce((sum, part) => sum + part.decodes, 0),
    cacheHits: parts.reduce((sum, part) => sum + part.cacheHits, 0),
  };
}
