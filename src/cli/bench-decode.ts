/**
 * The fast decode path's bare pass for `patchstream bench`: read + prepare (the dispatcher of
 * src/stages/prepare.ts with `decoder: 'auto'`, so files the fast path does not take go to sharp
 * as in the loader), nothing else, in `workers` worker threads (the fast path is synchronous, so
 * one thread uses one core; bare sharp gets its cores from libuv's pool instead).
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

/** A set of started threads that run bare fast-path passes. */
export class FastPathBench {
  readonly #workers: Worker[];
  readonly #ready: Promise<unknown>;

  constructor(workers: number, settings: { rescale: number }) {
    const url = new URL('./bench-decode-worker.js', import.meta.url);
    this.#workers = Array.from({ length: workers }, () => new Worker(url, { workerData: settings }));
    this.#ready = Promise.all(this.#workers.map((worker) => new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
  }

  /** One pass over `paths` (split round-robin over the threads); images per second and how many took the fast path. */
  async pass(paths: string[], inFlight: number): Promise<{ rate: number; failures: number; fast: number }> {
    await this.#ready;
    const started = performance.now();
    const results = await Promise.all(this.#workers.map((worker, w) => new Promise<{ failures: number; fast: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage({ paths: paths.filter((_, i) => i % this.#workers.length === w), inFlight });
    })));
    const seconds = (performance.now() - started) / 1000;
    return {
      rate: paths.length / seconds,
      failures: results.reduce((sum, r) => sum + r.failures, 0),
      fast: results.reduce((sum, r) => sum + r.fast, 0),
    };
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
