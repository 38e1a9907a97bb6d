/**
 * Multi-threaded tfjs wasm in Node.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 ships a threaded-SIMD binary (XNNPACK on a pthread
 * pool) but answers `WASM_HAS_MULTITHREAD_SUPPORT` with false under Node (tfjs#3830): its
 * Emscripten glue starts each pthread as `new Worker(URL.createObjectURL(blob))`, and Node's
 * `Worker` accepts file paths and `file:`/`data:` URLs only. It also sends the glue's own source
 * to every thread as a second `Blob`, which the thread loads with a synchronous
 * `importScripts(blob URL)` that Node cannot read either.
 *
 * The shim, installed before `tf.setBackend('wasm')`:
 * - answers `WASM_HAS_MULTITHREAD_SUPPORT` with true, so tfjs picks the threaded-SIMD binary;
 * - puts a `Worker` on the global object that the glue's `commonjsGlobal.Worker = ...`
 *   assignment cannot overwrite: a `worker_threads.Worker` subclass that resolves a `blob:`
 *   URL with `buffer.resolveObjectURL` and starts a small bootstrap instead. The bootstrap
 *   holds the thread's messages while it reads the two Blobs (Blob reads are asynchronous),
 *   evaluates the worker script, turns `importScripts(blob URL)` into an eval of the glue's
 *   source (with the few bundle-scope names that source expects: `require$$0..4`,
 *   `commonjsGlobal`, tslib's `__values`/`__read`/`__spreadArray`), then replays the held
 *   messages;
 * - keeps every pthread worker unreferenced: the glue `ref()`s a worker while its pthread runs,
 *   and XNNPACK's pool threads run for the life of the process, so without this a script that
 *   trained on wasm would never exit.
 *
 * - lets XNNPACK's pool have the threads asked for: tfjs's C side caps the count at
 *   `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads per core), which in Node
 *   is `os.cpus().length / 2`, i.e. 1 on a 2-core machine; {@link withLogicalCores} makes
 *   `os.cpus()` report twice the wanted count while the backend initialises.
 *
 * The glue preallocates 8 workers and XNNPACK's pool waits for its threads to start, which a
 * worker created later could only do through the (then blocked) main thread: so at most 8
 * threads, see {@link wasmThreadsFor}.
 */
import { resolveObjectURL } from 'node:buffer';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import type { Tfjs } from './tfjs.js';

/** The glue's pthread pool size (`pthreadPoolSize = 8` in tfjs-backend-wasm 4.22). */
export const MAX_WASM_THREADS = 8;

/**
 * Thread bootstrap, run with `eval: true` (CommonJS: `require` is in scope). It must not add a
 * `message` listener of its own that outlives the glue's: until the glue's script is evaluated,
 * `hold` queues messages; it is removed and the glue's listener added in the same tick.
 */
const BOOTSTRAP = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const held = [];
const hold = (message) => held.push(message);
parentPort.on('message', hold);
const firstMessage = () =>
  held.length > 0 ? Promise.resolve(held[0]) : new Promise((resolve) => parentPort.once('message', resolve));
(async () => {
  const workerSource = await workerData.workerScript.text();
  const load = await firstMessage();
  const blob = load && load.urlOrBlob;
  const mainSource = blob && typeof blob.text === 'function' ? await blob.text() : undefined;
  Object.assign(globalThis, {
    require$$0: require('node:fs'),
    require$$1: require('node:path'),
    require$$3: require('node:perf_hooks'),
    require$$4: require('node:os'),
    commonjsGlobal: globalThis,
    _scriptDir: __filename,
    __values: (o) => o[Symbol.iterator](),
    __read: (o, n) => { const out = []; for (const v of o) { if (n !== undefined && out.length >= n) break; out.push(v); } return out; },
    __spreadArray: (to, from) => to.concat(Array.from(from)),
  });
  parentPort.off('message', hold);
  (0, eval)(workerSource);
  const importScripts = globalThis.importScripts;
  globalThis.importScripts = (url) => {
    if (typeof url === 'string' && url.startsWith('blob:')) {
      if (mainSource === undefined) throw new Error('patchstream wasm thread: no glue source for ' + url);
      (0, eval)(mainSource + '\n//# sourceURL=tfjs-backend-wasm-threaded-simd.js');
      return;
    }
    importScripts(url);
  };
  for (const message of held) globalThis.onmessage({ data: message });
})().catch((error) => {
  require('node:fs').writeSync(2, 'patchstream wasm thread failed to start: ' + (error && error.stack || error) + '\n');
  process.exit(1);
});
`;

/** A `worker_threads.Worker` that also starts the glue's `blob:` worker scripts. */
class BlobUrlWorker extends NodeWorker {
  constructor(filename: string | URL, options?: WorkerOptions) {
    const href = String(filename);
    if (!href.startsWith('blob:')) {
      super(filename, options);
      return;
    }
    const workerScript = resolveObjectURL(href);
    if (workerScript === undefined) throw new Error(`wasm threads: ${href} is not a live blob URL`);
    super(BOOTSTRAP, { ...options, eval: true, workerData: { workerScript } });
    // Long-lived pool threads must not keep the process alive (see the module comment).
    this.unref();
  }

  override ref(): void {
    // The glue refs a worker while its pthread runs; XNNPACK's pool threads never return.
  }
}

let installed = false;

/**
 * Makes the next `tf.setBackend('wasm')` load the threaded-SIMD binary on worker threads.
 * Call it after importing `@tensorflow/tfjs-backend-wasm` (which registers the flag) and before
 * the wasm backend is first initialised; set the count with the package's `setThreadsCount`.
 * Idempotent. Global effects, for the life of the process: `globalThis.Worker` becomes a
 * `worker_threads.Worker` subclass (non-`blob:` URLs behave as before) and the tfjs flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` is true.
 *
 * @throws Error when this runtime lacks what the shim needs (`SharedArrayBuffer`, wasm
 *   threads, `URL.createObjectURL`); the wasm backend is then left single-threaded
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import * as wasm from '@tensorflow/tfjs-backend-wasm';
 * installWasmThreads(tf);
 * wasm.setThreadsCount(wasmThreadsFor());
 * await tf.setBackend('wasm');
 * wasm.getThreadsCount(); // 2 on two cores
 * ```
 */
export function installWasmThreads(tf: Tfjs): void {
  if (installed) return;
  if (typeof SharedArrayBuffer !== 'function') throw new Error('wasm threads: this runtime has no SharedArrayBuffer');
  if (typeof URL.createObjectURL !== 'function') throw new Error('wasm threads: this runtime has no URL.createObjectURL');
  if (!(globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly.validate(THREADS_PROBE)) throw new Error('wasm threads: this runtime does not validate wasm atomics');
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    enumerable: false,
    get: () => BlobUrlWorker,
    // The glue assigns worker_threads.Worker here on every start; keep the shim instead.
    set: () => {},
  });
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  installed = true;
}

/** Whether {@link installWasmThreads} has run in this process. */
export function wasmThreadsInstalled(): boolean {
  return installed;
}

/**
 * The thread count for XNNPACK's pool: the cores this process may use (`availableParallelism`),
 * minus `reserve` (e.g. cores left to the loader's decode workers), at least 1 and at most
 * {@link MAX_WASM_THREADS}.
 *
 * @default reserve 0
 * @example
 * ```ts
 * wasmThreadsFor(); // 2 on a 2-core machine
 * ```
 */
export function wasmThreadsFor(reserve = 0): number {
  return Math.max(1, Math.min(MAX_WASM_THREADS, availableParallelism() - reserve));
}

/** wasm-feature-detect's threads probe (a module using `i32.atomic.load` on shared memory). */
const THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0,
  26, 11,
]);

/**
 * The thread count the wasm backend starts with: `PATCHSTREAM_WASM_THREADS` when set (an
 * integer from 1 to {@link MAX_WASM_THREADS}; 1 keeps tfjs's single-threaded binary), else
 * {@link wasmThreadsFor}().
 *
 * @throws RangeError naming `PATCHSTREAM_WASM_THREADS` and the value received when it is not
 *   such an integer
 * @example
 * ```ts
 * process.env.PATCHSTREAM_WASM_THREADS = '1';
 * wasmThreadCount(); // 1
 * ```
 */
export function wasmThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['PATCHSTREAM_WASM_THREADS'];
  if (text === undefined || text === '') return wasmThreadsFor();
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > MAX_WASM_THREADS) {
    throw new RangeError(
      `Expected integer between 1 and ${MAX_WASM_THREADS} for PATCHSTREAM_WASM_THREADS but received ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * Runs `init` (the wasm backend's first `tf.setBackend('wasm')`) while `os.cpus()` reports
 * `2 * threads` entries, so tfjs's `min(requested, logical cores / 2)` cap lets `threads`
 * through; `os.cpus` is restored when `init` settles. The glue reads the count through its own
 * `require('os')`, the same module object this patches.
 *
 * @example
 * ```ts
 * wasm.setThreadsCount(2);
 * await withLogicalCores(2, () => tf.setBackend('wasm'));
 * ```
 */
export async function withLogicalCores<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const os = createRequire(import.meta.url)('node:os') as { cpus: () => unknown[] };
  const cpus = os.cpus;
  const reported = Math.max(cpus.call(os).length, 2 * threads);
  os.cpus = () => {
    const real = cpus.call(os);
    return Array.from({ length: reported }, (_, index) => real[index % Math.max(1, real.length)]);
  };
  try {
    return await init();
  } finally {
    os.cpus = cpus;
  }
}
