/**
 * A second thread for the SIMD training kernels (train-kernels.wat).
 *
 * tfjs-wasm runs its own kernels on XNNPACK's thread pool, but `LRN`, `LRNGrad` and
 * `MaxPoolGrad` are patchstream's and run on the calling thread, while the pool's threads sleep.
 * With tfjs's threaded build the wasm heap is a shared `WebAssembly.Memory`, so a worker that
 * instantiates the same kernel module on that memory can take half of the pixels (or images)
 * of each call: the main thread posts the call's arguments in a small `SharedArrayBuffer`, wakes
 * the worker with `Atomics.notify`, runs its own half, and waits for the worker's half with
 * `Atomics.wait`. No tensor is copied.
 *
 * The worker starts in the background; calls made before it is ready (the first step) and every
 * call after it failed run whole on the main thread. It is unreferenced, so it never keeps a
 * process alive, and it sleeps in `Atomics.wait` between calls (no CPU).
 */
import { Worker } from 'node:worker_threads';

/** Kernels the helper can run, by command number (1-based: 0 means idle). */
export const HELPER_KERNELS = ['lrn', 'lrnGrad', 'maxPoolGrad', 'filterGrad', 'matMulBT', 'matMulNN', 'sgdMomentum'] as const;
export type HelperKernel = (typeof HELPER_KERNELS)[number];

const MAX_ARGS = 16;
/** How long the main thread waits for the worker's half before calling the helper broken. */
const WAIT_MS = 60_000;

// Control block: Int32 [command, status (0 running, 1 done, 2 failed), argument count, unused],
// then MAX_ARGS float64 arguments (every i32 and f32 argument is exact in a float64).
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { memory, bytes, control, names } = workerData;
const state = new Int32Array(control, 0, 4);
const args = new Float64Array(control, 16, ${MAX_ARGS});
const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const kernels = names.map((name) => exports[name]);
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(state, 0, 0);
  const command = Atomics.load(state, 0);
  let status = 1;
  try {
    kernels[command - 1](...args.subarray(0, state[2]));
  } catch {
    status = 2;
  }
  Atomics.store(state, 0, 0);
  Atomics.store(state, 1, status);
  Atomics.notify(state, 1);
}
`;

/** The helper thread of one wasm heap. */
export class KernelHelper {
  readonly #state: Int32Array;
  readonly #args: Float64Array;
  readonly #ready: Promise<boolean>;
  #usable = false;
  #busy = false;
  #calls = 0;

  /**
   * @param memory - tfjs's shared `WebAssembly.Memory`
   * @param bytes - the shared-memory build of train-kernels.wat
   */
  constructor(memory: object, bytes: Uint8Array) {
    const control = new SharedArrayBuffer(16 + MAX_ARGS * 8);
    this.#state = new Int32Array(control, 0, 4);
    this.#args = new Float64Array(control, 16, MAX_ARGS);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { memory, bytes, control, names: [...HELPER_KERNELS] },
      name: 'patchstream wasm kernels',
    });
    worker.unref();
    this.#ready = new Promise<boolean>((resolve) => {
      worker.once('message', () => {
        this.#usable = true;
        resolve(true);
      });
      worker.once('error', () => {
        this.#usable = false;
        resolve(false);
      });
      worker.once('exit', () => {
        this.#usable = false;
        resolve(false);
      });
    });
  }

  /** Resolves to whether the worker started (false: every call runs on the main thread). */
  ready(): Promise<boolean> {
    return this.#ready;
  }

  /** Calls whose half the worker ran (for tests and benchmarks). */
  get calls(): number {
    return this.#calls;
  }

  /** Whether the next {@link split} hands half of the work to the worker. */
  get usable(): boolean {
    return this.#usable && !this.#busy;
  }

  /**
   * Runs `kernel` with `helperArgs` on the worker while `own()` runs on this thread, and returns
   * when both are done. If the worker is not usable, or fails, `whole()` runs instead of its
   * half (on this thread).
   *
   * @throws Error when the worker does not answer within a minute (it is then not used again)
   */
  split(kernel: HelperKernel, helperArgs: number[], own: () => void, fallback: () => void): void {
    if (!this.usable || helperArgs.length > MAX_ARGS) {
      own();
      fallback();
      return;
    }
    this.#busy = true;
    const state = this.#state;
    try {
      this.#args.set(helperArgs);
      state[2] = helperArgs.length;
      Atomics.store(state, 1, 0);
      Atomics.store(state, 0, HELPER_KERNELS.indexOf(kernel) + 1);
      Atomics.notify(state, 0);
      own();
      while (Atomics.load(state, 1) === 0) {
        if (Atomics.wait(state, 1, 0, WAIT_MS) === 'timed-out' && Atomics.load(state, 1) === 0) {
          this.#usable = false;
          throw new Error(`patchstream's wasm kernel thread did not finish ${kernel} within ${WAIT_MS / 1000} s`);
        }
      }
      if (Atomics.load(state, 1) === 2) {
        // The worker's half is unreliable: redo it here, and stop using the worker.
        this.#usable = false;
        fallback();
      } else {
        this.#calls++;
      }
    } finally {
      this.#busy = false;
    }
  }
}
