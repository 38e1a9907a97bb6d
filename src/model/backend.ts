/**
 * Picks the fastest tfjs backend that loads here: `@tensorflow/tfjs-node-gpu` (CUDA), then
 * WebGPU on a hardware adapter (`src/model/webgpu.ts`), then `@tensorflow/tfjs-node`, then `@tensorflow/tfjs-backend-wasm`, then the pure-JS `cpu`.
 *
 * One tfjs-core in play. tfjs-node(-gpu) 4.22.0 depends on `@tensorflow/tfjs` 4.22.0 exactly
 * and does `import * as tf from '@tensorflow/tfjs'; export * from '@tensorflow/tfjs'`, then
 * registers and selects its `tensorflow` backend. With our `@tensorflow/tfjs` at the same
 * version, npm installs a single copy, so tfjs-node's namespace and ours are one tfjs. If the
 * versions drift, npm nests a second copy under tfjs-node: tfjs-core keeps its engine and
 * kernel registry on the global object (`_tfengine`, `kernelRegistry`), so backends and
 * kernels stay shared, but classes do not (`instanceof Tensor`/`Variable` checks and the
 * layers serialization registry are per copy). That is why everything downstream (models,
 * SGD, kernels) takes the `tf` this module returns instead of importing tfjs itself: when
 * tfjs-node loads, it is tfjs-node's namespace, and a second copy is reported in the log.
 *
 * The optional packages are loaded with `import()` of a name held in a variable, so neither
 * TypeScript nor a bundler needs them installed.
 */
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { reasonOf } from '../errors.js';
import { checkChoice } from '../validate.js';
import { BACKEND_PREFERENCES, type BackendPreference } from './choices.js';
import type { Tfjs } from './tfjs.js';
import { registerCpuTrainingKernels, registerWasmTrainingKernels } from './wasm-kernels.js';
import { installWasmThreads, wasmThreadCount, withLogicalCores } from './wasm-threads.js';
import { initWebgpu, type WebgpuAdapter } from './webgpu.js';

export type { BackendPreference } from './choices.js';

/** The backend {@link selectBackend} picked. */
export interface SelectedBackend {
  /** `tfjs-node-gpu`, `webgpu`, `tfjs-node`, `wasm` or `cpu`. */
  name: 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';
  /** The tfjs namespace to build models and run ops with (tfjs-node's own, when it loaded). */
  tf: Tfjs;
  /** The candidates tried before `name`, each with why it was not used. */
  skipped: Array<{ name: string; reason: string }>;
  /** One line for humans, e.g. `wasm (SIMD, 1 thread; Conv2DBackpropFilter added)`. */
  detail: string;
  /** The WebGPU adapter, when `name` is `webgpu`. */
  adapter?: WebgpuAdapter;
  /**
   * Whether ops queue on a device and reading a value back stalls it (tfjs-node-gpu, webgpu):
   * read losses every few steps, and feed uint8 batches.
   */
  device: boolean;
  /**
   * Throws if the device reported an error since the last call (webgpu: a rejected command is
   * dropped and the run would go on with wrong numbers); a no-op on other backends. Call it
   * after reading results back.
   */
  throwIfDeviceError(): void;
  /** Frees what the backend holds that would keep the process alive (the WebGPU device); a no-op elsewhere. */
  close(): Promise<void>;
}

/** The package name behind each candidate. */
const PACKAGES = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
} as const;

const ORDER: Record<BackendPreference, Array<SelectedBackend['name']>> = {
  auto: ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'],
  tensorflow: ['tfjs-node-gpu', 'tfjs-node'],
  webgpu: ['webgpu'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

/** Import attempts are made once per process: a package that failed to load keeps failing. */
const imports = new Map<string, Promise<unknown>>();
let wasmDetail: string | undefined;
let tensorflowLoaded = false;

/**
 * Selects and initialises a tfjs backend, returning the tfjs namespace to use with it.
 *
 * - `auto`: tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1; its import throws without them), then
 *   webgpu on a hardware adapter, then tfjs-node, then wasm, then cpu.
 * - `webgpu`: tfjs-backend-webgpu on Dawn ({@link initWebgpu}), on any adapter including a
 *   software one (lavapipe, SwiftShader), or an error saying why there is none.
 * - `tensorflow`: tfjs-node-gpu or tfjs-node, or an error.
 * - `wasm`: the WebAssembly backend, with SIMD when the runtime has it (Node 20 does). tfjs
 *   forces multi-threading off in Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false under
 *   `IS_NODE`, tfjs#3830): its pthread workers are started from `blob:` URLs, which Node's
 *   `Worker` refuses, so the threaded-SIMD binary is not used. The `.wasm` files are read
 *   from node_modules (found with `require.resolve`), and the training kernels wasm lacks
 *   ({@link registerWasmTrainingKernels}) are registered before the backend is set.
 * - `cpu`: pure JavaScript, always there, slowest.
 *
 * `log` gets one line per skipped candidate (with the reason, e.g.
 * `Cannot find package '@tensorflow/tfjs-node-gpu'`) and one for the pick. Calling it again is
 * fine: imports are cached and the wasm binary is initialised once; the backend is set again.
 *
 * @default log none
 * @throws Error when no candidate of `preference` loads (only possible for `tensorflow`,
 *   `webgpu` and `wasm`); its message lists every reason. TypeError for an unknown preference.
 * @example
 * ```ts
 * const { name, tf, skipped } = await selectBackend('auto', (line) => console.error(line));
 * const model = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 32 });
 * ```
 */
export async function selectBackend(
  preference: BackendPreference,
  log: (line: string) => void = () => {},
): Promise<SelectedBackend> {
  const order = ORDER[checkChoice('backend', preference, BACKEND_PREFERENCES)];
  const skipped: SelectedBackend['skipped'] = [];
  for (const name of order) {
    try {
      const picked = await tryBackend(name, log, preference === 'webgpu');
      log(`backend: using ${picked.detail}`);
      const device = name === 'webgpu' || (name === 'tfjs-node-gpu' && picked.detail.includes('GPU'));
      return {
        name, tf: picked.tf, skipped, detail: picked.detail, device,
        throwIfDeviceError: picked.throwIfDeviceError ?? (() => {}),
        close: picked.close ?? (async () => {}),
        ...(picked.adapter ? { adapter: picked.adapter } : {}),
      };
    } catch (error) {
      const reason = reasonOf(error);
      skipped.push({ name, reason });
      log(`backend: skipping ${name}: ${reason}`);
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(`No ${preference} backend could be loaded (${reasons})`);
}

async function tryBackend(
  name: SelectedBackend['name'],
  log: (line: string) => void,
  allowSoftware = false,
): Promise<{ tf: Tfjs; detail: string; adapter?: WebgpuAdapter; throwIfDeviceError?: () => void; close?: () => Promise<void> }> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return loadTensorflow(name, log);
    case 'webgpu': {
      const gpu = await initWebgpu(tfjs, { allowSoftware, log });
      return { tf: tfjs, detail: gpu.detail, adapter: gpu.adapter, throwIfDeviceError: gpu.throwIfDeviceError, close: gpu.close };
    }
    case 'wasm':
      return { tf: tfjs, detail: await initWasm(tfjs) };
    case 'cpu': {
      const replaced = registerCpuTrainingKernels(tfjs);
      if (!(await tfjs.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') returned false");
      await tfjs.ready();
      return { tf: tfjs, detail: `cpu (pure JavaScript${replaced.length ? `; ${replaced.join(', ')}` : ''})` };
    }
  }
}

async function loadTensorflow(
  name: 'tfjs-node-gpu' | 'tfjs-node',
  log: (line: string) => void,
): Promise<{ tf: Tfjs; detail: string }> {
  const specifier = PACKAGES[name];
  let module: unknown;
  try {
    module = await importOnce(specifier);
  } catch (error) {
    // tfjs-node registers its kernels for 'tensorflow' before loading the native binding, so
    // a failed gpu import leaves them behind; drop them so tfjs-node can register its own
    // without a warning per kernel.
    if (!tensorflowLoaded) {
      for (const kernel of tfjs.getKernelsForBackend('tensorflow')) {
        tfjs.unregisterKernel(kernel.kernelName, 'tensorflow');
      }
    }
    const hint = name === 'tfjs-node-gpu' && !/Cannot find (package|module)/.test(reasonOf(error))
      ? ' (tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1 libraries on the library path)'
      : '';
    throw new Error(`${reasonOf(error)}${hint}`, { cause: error });
  }
  // A CommonJS package imported from ESM: the namespace's default export is module.exports.
  const tf = ((module as { default?: Tfjs }).default ?? module) as Tfjs;
  if (typeof tf.setBackend !== 'function') throw new Error(`${specifier} did not export a tfjs namespace`);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`tf.setBackend('tensorflow') returned false after loading ${specifier}`);
  await tf.ready();
  tensorflowLoaded = true;
  if (tf.Tensor !== tfjs.Tensor) {
    log(
      `backend: ${specifier} brought its own @tensorflow/tfjs-core ${tf.version?.['tfjs-core'] ?? '?'} ` +
        `(ours: ${tfjs.version['tfjs-core']}); using its namespace throughout`,
    );
  }
  const device = (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  const where = device === true ? 'GPU' : device === false ? 'CPU' : 'device unknown';
  if (name === 'tfjs-node-gpu' && device === false) {
    log('backend: tfjs-node-gpu loaded but TensorFlow found no usable GPU; it runs on the CPU');
  }
  return { tf, detail: `${name} (TensorFlow ${where})` };
}

/**
 * Initialises wasm once. `setWasmPaths` takes a directory prefix; the Node build of tfjs-wasm
 * reads the binary with `fs.readFileSync` and accepts a plain path (and `file://` URLs), so
 * the directory of the `.wasm` files resolved from node_modules is enough.
 */
async function initWasm(tf: Tfjs): Promise<string> {
  const wasm = (await importOnce(PACKAGES.wasm)) as {
    setWasmPaths: (prefix: string) => void;
    getThreadsCount: () => number;
    setThreadsCount: (count: number) => void;
  };
  let threads = 1;
  if (wasmDetail === undefined) {
    const require = createRequire(import.meta.url);
    const binary = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm');
    wasm.setWasmPaths(dirname(binary) + sep);
    // XNNPACK on worker threads (src/model/wasm-threads.ts); PATCHSTREAM_WASM_THREADS=1 keeps one.
    threads = wasmThreadCount();
    if (threads > 1) {
      installWasmThreads(tf);
      wasm.setThreadsCount(threads);
    }
  }
  const added = registerWasmTrainingKernels(tf);
  if (!(await withLogicalCores(threads, () => tf.setBackend('wasm')))) {
    throw new Error("tf.setBackend('wasm') returned false (tfjs printed the cause above)");
  }
  await tf.ready();
  if (wasmDetail === undefined) {
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    const threads = wasm.getThreadsCount();
    const extra = added.length > 0 ? `; ${added.join(', ')} added` : '';
    wasmDetail = `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}${extra})`;
  }
  return wasmDetail;
}

function importOnce(specifier: string): Promise<unknown> {
  let pending = imports.get(specifier);
  if (pending === undefined) {
    pending = import(specifier);
    imports.set(specifier, pending);
  }
  return pending;
}
