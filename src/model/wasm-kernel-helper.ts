/**
 * A second thread for the SIMD training kernels (train-kernels.wat).
 *
 * tfjs-wasm runs its own kernels on XNNPACK's thread pool, but `LRN`, `LRNGrad` and
 * `MaxPoolGrad` are patchstream's and run on the calling thread, while the pool's threads sleep.
 * With tfjs's threaded build the wasm heap is a shared `WebAssembly.Memory`, so a worker that
 * instantiates the same kernel module on that memory can take part of the pixels (or images)
 * of each call: the main thread posts the call's arguments in a small `SharedArrayBuffer`, wakes
 * the worker with `Atomics.notify`, and both claim chunks of the call from a shared word until
 * none is left; the main thread then waits (`Atomics.wait`) for the chunks the worker claimed,
 * and only for those: a worker that wakes after the main thread took every chunk has nothing to
 * finish. The claim word carries the call's generation, so a late worker cannot claim a chunk
 * of a later call. No tensor is copied. (An even split left the main thread waiting 8% of a
 * training run: the worker shares its core with XNNPACK's pool threads, which spin after each
 * operation. Waiting for the worker to wake on every call cost another 2 ms a step.)
 *
 * The worker starts in the background; calls made before it is ready (the first step) and every
 * call after it failed run whole on the main thread. It is unreferenced, so it never keeps a
 * process alive, and it sleeps in `Atomics.wait` between calls (no CPU).
 */
import { Worker } from 'node:worker_threads';

/** Kernels the helper can run, by command number (1-based: 0 means idle). */
export const HELPER_KERNELS = ['lrn', 'lrnGrad', 'maxPoolGrad', 'filterGrad', 'matMulBT', 'matMulNN', 'sgdMomentum', 'reluGrad', 'biasAdd'] as const;
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

// Control block, Int32 words: [0] generation (one per shared call; the worker sleeps on it),
// [1] command (kernel number), [2] argument count, [3] chunks the worker finished this call,
// [4] 1 once the worker failed; then a BigInt64 claim word, (generation << 16) | next chunk
// (all 32 bits of the generation), which both threads advance with compareExchange, so a
// worker that wakes after its call is over cannot claim a chunk of it (nor of a later call,
// with the older call's arguments); then
// float64s: the arguments (MAX_ARGS), their strides (MAX_ARGS), the count's index, the total,
// the chunk size, the override's index (-1: none) and value. Every i32 and f32 argument is
// exact in a float64.
const META = 2 * MAX_ARGS;
const CLAIM_AT = 24;
const FLOATS_AT = 32;
/** Most chunks one call may have (the claim word's chunk field is 16 bits). */
const MAX_CHUNKS = 0xffff;
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { memory, bytes, control, names } = workerData;
const state = new Int32Array(control, 0, 5);
const claimWord = new BigInt64Array(control, ${CLAIM_AT}, 1);
const f = new Float64Array(control, ${FLOATS_AT}, ${META + 5});
const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const kernels = names.map((name) => exports[name]);
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(state, 0, seen);
  const generation = Atomics.load(state, 0);
  seen = generation;
  const kernel = kernels[Atomics.load(state, 1) - 1];
  const n = Atomics.load(state, 2);
  const countIndex = f[${META}], total = f[${META + 1}], chunk = f[${META + 2}], overrideIndex = f[${META + 3}], overrideValue = f[${META + 4}];
  const args = new Array(n);
  for (let i = 0; i < n; i++) args[i] = f[i];
  const strides = new Array(n);
  for (let i = 0; i < n; i++) strides[i] = f[${MAX_ARGS} + i];
  const tag = BigInt(generation >>> 0) << 16n;
  for (;;) {
    // Claim the next chunk of this generation's call, if it is still running and has one left.
    const current = Atomics.load(claimWord, 0);
    if ((current & ~0xffffn) !== tag) break;
    const j = Number(current & 0xffffn);
    const from = j * chunk;
    if (from >= total) break;
    if (Atomics.compareExchange(claimWord, 0, current, current + 1n) !== current) continue;
    if (j === 0) Atomics.notify(claimWord, 0);
    let failed = false;
    try {
      const chunkArgs = args.map((value, i) => value + strides[i] * from);
      chunkArgs[countIndex] = Math.min(chunk, total - from);
      if (overrideIndex >= 0) chunkArgs[overrideIndex] = overrideValue;
      kernel(...chunkArgs);
    } catch {
      failed = true;
      Atomics.store(state, 4, 1);
    }
    Atomics.add(state, 3, 1);
    Atomics.notify(state, 3);
    if (failed) break;
  }
}
`;

/** The helper thread of one wasm heap. */
export class KernelHelper {
  readonly #state: Int32Array;
  readonly #claim: BigInt64Array;
  readonly #floats: Float64Array;
  #generation = 0;
  readonly #ready: Promise<boolean>;
  #usable = false;
  #busy = false;
  #calls = 0;

  /**
   * @param memory - tfjs's shared `WebAssembly.Memory`
   * @param bytes - the shared-memory build of train-kernels.wat
   */
  constructor(memory: object, bytes: Uint8Array) {
    const control = new SharedArrayBuffer(FLOATS_AT + (META + 5) * 8);
    this.#state = new Int32Array(control, 0, 5);
    this.#claim = new BigInt64Array(control, CLAIM_AT, 1);
    this.#floats = new Float64Array(control, FLOATS_AT, META + 5);
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
   * Runs every chunk of `call`: this thread and the worker each claim the next chunk not yet
   * taken (a compareExchange on a shared claim word) until none is left, so a thread slowed by
   * other work (XNNPACK's pool spinning on the same core) takes fewer. This thread then waits
   * only for the chunks the worker claimed; a worker that wakes after every chunk was taken
   * finds nothing to do (it used to be waited for even then: 6 ms of an alexnet-small step).
   * Without a usable worker, or if it fails, this thread runs them all.
   *
   * @param waitForHelper - wait until the worker has claimed a chunk before claiming any here
   *   (tests: the worker's part is then exercised on every call of two or more chunks)
   * @throws Error when the worker does not finish a chunk it claimed within a minute (it is
   *   then not used again)
   */
  run(call: ChunkedCall, kernel: (...args: number[]) => void, waitForHelper = false): void {
    const chunks = Math.ceil(call.total / call.chunk);
    if (!this.usable || call.args.length > MAX_ARGS || chunks > MAX_CHUNKS) {
      runChunks(call, kernel);
      return;
    }
    this.#busy = true;
    const state = this.#state;
    const claim = this.#claim;
    const floats = this.#floats;
    try {
      this.#generation = (this.#generation + 1) | 0;
      const tag = BigInt(this.#generation >>> 0) << 16n;
      floats.fill(0);
      floats.set(call.args, 0);
      floats.set(call.strides, MAX_ARGS);
      floats.set([call.countIndex, call.total, call.chunk, call.helperOverride?.[0] ?? -1, call.helperOverride?.[1] ?? 0], META);
      Atomics.store(state, 1, HELPER_KERNELS.indexOf(call.kernel) + 1);
      Atomics.store(state, 2, call.args.length);
      Atomics.store(state, 3, 0);
      Atomics.store(claim, 0, tag);
      Atomics.store(state, 0, this.#generation);
      Atomics.notify(state, 0);
      if (waitForHelper) {
        const deadline = performance.now() + WAIT_MS;
        while (Atomics.load(claim, 0) === tag && performance.now() < deadline) Atomics.wait(claim, 0, tag, 5);
      }
      let mine = 0;
      for (;;) {
        const current = Atomics.load(claim, 0);
        const j = Number(current & 0xffffn);
        if (j >= chunks) break;
        if (Atomics.compareExchange(claim, 0, current, current + 1n) !== current) continue;
        kernel(...(chunkArgs(call, j, false) as number[]));
        mine++;
      }
      const theirs = chunks - mine;
      for (;;) {
        const done = Atomics.load(state, 3);
        if (done >= theirs) break;
        if (Atomics.wait(state, 3, done, WAIT_MS) === 'timed-out' && Atomics.load(state, 3) === done) {
          this.#usable = false;
          throw new Error(`patchstream's wasm kernel thread did not finish ${call.kernel} within ${WAIT_MS / 1000} s`);
        }
      }
      if (Atomics.load(state, 4) !== 0) {
        // Which of the worker's chunks are sound is unknown: redo them all here (every kernel
        // writes its outputs whole), and stop using the worker.
        this.#usable = false;
        runChunks(call, kernel);
      } else if (theirs > 0) {
        this.#calls++;
      }
    } finally {
      this.#busy = false;
    }
  }
}
