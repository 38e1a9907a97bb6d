/**
 * A second thread for the SIMD training kernels (train-kernels.wat).
 *
 * tfjs-wasm runs its own kernels on XNNPACK's thread pool, but `LRN`, `LRNGrad` and
 * `MaxPoolGrad` are patchstream's and run on the calling thread, while the pool's threads sleep.
 * With tfjs's threaded build the wasm heap is a shared `WebAssembly.Memory`, so a worker that
 * instantiates the same kernel module on that memory can take part of the pixels (or images)
 * of each call: the main thread posts the call's arguments in a small `SharedArrayBuffer`, wakes
 * the worker with `Atomics.notify`, and both take chunks of the call from a shared counter until
 * none is left; the main thread then waits for the worker's last chunk with `Atomics.wait`. No
 * tensor is copied. (An even split left the main thread waiting 8% of a training run: the
 * worker shares its core with XNNPACK's pool threads, which spin after each operation.)
 *
 * The worker starts in the background; calls made before it is ready (the first step) and every
 * call after it failed run whole on the main thread. It is unreferenced, so it never keeps a
 * process alive, and it sleeps in `Atomics.wait` between calls (no CPU).
 */
import { Worker } from 'node:worker_threads';

/** Kernels the helper can run, by command number (1-based: 0 means idle). */
export const HELPER_KERNELS = ['lrn', 'lrnGrad', 'maxPoolGrad', 'filterGrad', 'matMulBT', 'matMulNN', 'sgdMomentum', 'reluGrad'] as const;
export type HelperKernel = (typeof HELPER_KERNELS)[number];

const MAX_ARGS = 16;
/** How long the main thread waits for the worker's last chunk before calling the helper broken. */
const WAIT_MS = 60_000;

/**
 * One kernel call cut into chunks along one dimension ("items": pixels, images, columns...).
 * Chunk j runs the kernel with `args[i] + strides[i] * from` (from = j * chunk), the item count
 * at `countIndex` set to the chunk's size, and, on the worker only, `args[helperOverride[0]]`
 * replaced by `helperOverride[1]` (its own scratch).
 */
export interface ChunkedCall {
  kernel: HelperKernel;
  args: number[];
  /** Bytes (or units) each argument moves per item; 0 for arguments that stay. */
  strides: number[];
  countIndex: number;
  total: number;
  chunk: number;
  helperOverride?: [number, number];
}

/** Runs every chunk of `call` on this thread, in order. */
export function runChunks(call: ChunkedCall, kernel: (...args: number[]) => void): void {
  for (let j = 0; ; j++) {
    const args = chunkArgs(call, j, false);
    if (args === undefined) return;
    kernel(...args);
  }
}

/** The arguments of chunk `j` of `call` (or undefined past the end), for one thread. */
export function chunkArgs(call: ChunkedCall, j: number, onHelper: boolean): number[] | undefined {
  const from = j * call.chunk;
  if (from >= call.total) return undefined;
  const args = call.args.map((value, i) => value + (call.strides[i] ?? 0) * from);
  args[call.countIndex] = Math.min(call.chunk, call.total - from);
  if (onHelper && call.helperOverride) args[call.helperOverride[0]] = call.helperOverride[1];
  return args;
}

// Control block: Int32 [command, status (0 running, 1 done, 2 failed), argument count, next
// chunk], then float64s: the arguments (MAX_ARGS), their strides (MAX_ARGS), the count's index,
// the total, the chunk size, the override's index (-1: none) and value. Every i32 and f32
// argument is exact in a float64.
const META = 2 * MAX_ARGS;
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { memory, bytes, control, names } = workerData;
const state = new Int32Array(control, 0, 4);
const f = new Float64Array(control, 16, ${META + 5});
const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const kernels = names.map((name) => exports[name]);
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(state, 0, 0);
  const kernel = kernels[Atomics.load(state, 0) - 1];
  let status = 1;
  try {
    const n = state[2];
    const countIndex = f[${META}], total = f[${META + 1}], chunk = f[${META + 2}], overrideIndex = f[${META + 3}], overrideValue = f[${META + 4}];
    const args = new Array(n);
    for (;;) {
      const from = Atomics.add(state, 3, 1) * chunk;
      if (from >= total) break;
      for (let i = 0; i < n; i++) args[i] = f[i] + f[${MAX_ARGS} + i] * from;
      args[countIndex] = Math.min(chunk, total - from);
      if (overrideIndex >= 0) args[overrideIndex] = overrideValue;
      kernel(...args);
    }
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
  readonly #floats: Float64Array;
  readonly #ready: Promise<boolean>;
  #usable = false;
  #busy = false;
  #calls = 0;

  /**
   * @param memory - tfjs's shared `WebAssembly.Memory`
   * @param bytes - the shared-memory build of train-kernels.wat
   */
  constructor(memory: object, bytes: Uint8Array) {
    const control = new SharedArrayBuffer(16 + (META + 5) * 8);
    this.#state = new Int32Array(control, 0, 4);
    this.#floats = new Float64Array(control, 16, META + 5);
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

  /** Calls the worker took part in (for tests and benchmarks). */
  get calls(): number {
    return this.#calls;
  }

  /** Whether the next {@link run} shares its chunks with the worker. */
  get usable(): boolean {
    return this.#usable && !this.#busy;
  }

  /**
   * Runs every chunk of `call`: this thread and the worker each take the next chunk not yet
   * taken (an `Atomics.add` on a shared counter) until none is left, so a thread slowed by
   * other work (XNNPACK's pool spinning on the same core) takes fewer. Without a usable worker,
   * or if it fails, this thread runs them all.
   *
   * @throws Error when the worker does not finish its last chunk within a minute (it is then
   *   not used again)
   */
  run(call: ChunkedCall, kernel: (...args: number[]) => void): void {
    if (!this.usable || call.args.length > MAX_ARGS) {
      runChunks(call, kernel);
      return;
    }
    this.#busy = true;
    const state = this.#state;
    const floats = this.#floats;
    try {
      floats.fill(0);
      floats.set(call.args, 0);
      floats.set(call.strides, MAX_ARGS);
      floats.set([call.countIndex, call.total, call.chunk, call.helperOverride?.[0] ?? -1, call.helperOverride?.[1] ?? 0], META);
      state[2] = call.args.length;
      Atomics.store(state, 3, 0);
      Atomics.store(state, 1, 0);
      Atomics.store(state, 0, HELPER_KERNELS.indexOf(call.kernel) + 1);
      Atomics.notify(state, 0);
      for (;;) {
        const args = chunkArgs(call, Atomics.add(state, 3, 1), false);
        if (args === undefined) break;
        kernel(...args);
      }
      while (Atomics.load(state, 1) === 0) {
        if (Atomics.wait(state, 1, 0, WAIT_MS) === 'timed-out' && Atomics.load(state, 1) === 0) {
          this.#usable = false;
          throw new Error(`patchstream's wasm kernel thread did not finish ${call.kernel} within ${WAIT_MS / 1000} s`);
        }
      }
      if (Atomics.load(state, 1) === 2) {
        // Which of the worker's chunks are sound is unknown: redo them all here (every kernel
        // writes its outputs whole), and stop using the worker.
        this.#usable = false;
        runChunks(call, kernel);
      } else {
        this.#calls++;
      }
    } finally {
      this.#busy = false;
    }
  }
}
