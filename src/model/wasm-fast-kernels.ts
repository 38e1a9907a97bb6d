/**
 * Faster replacements for the wasm kernels an AlexNet training step spends its time in. Most
 * run as WebAssembly SIMD (train-kernels.wat, built by scripts/build-wasm.mjs) on tfjs's own
 * heap: the module imports the backend's `WebAssembly.Memory`, so tensors are read and written
 * where tfjs keeps them, by byte offset, and nothing is copied. With tfjs's threaded build the
 * heap is shared, and a helper thread (wasm-kernel-helper.ts) takes chunks of each large call.
 *
 * - `LRN`: a window sum of squares over the channels of each pixel (squares padded with zeros,
 *   so the window has no edge cases), and `norm^-0.75` (AlexNet's beta) as
 *   `1 / sqrt(norm * sqrt(norm))`.
 * - `LRNGrad`: `dx_k = dy_k * norm_k^-beta - 2 * alpha * beta * x_k * sum_{|d-k|<=r} dy_d * y_d / norm_d`,
 *   tfjs's cpu kernel regrouped so each pixel is O(channels), not O(channels * window), with one
 *   division per vector (`q = 1 / norm`, `norm^-0.75 = sqrt(q * sqrt(q))`).
 *   Both sum AlexNet's 5-channel window with five inlined loads (V8 does not inline the wasm
 *   calls; inlining took LRN + LRNGrad on conv1's [64, 28, 28, 32] from 8.7-11 to 6-7.5 ms).
 * - `MaxPoolGrad`: one pass over the outputs, scattering `dy` to the first maximum of each
 *   window in row-major order (the cpu kernel's tie rule).
 *   These three cover channels a multiple of 4 and beta 0.75 or 0.5; anything else runs the
 *   JavaScript loops kept below (which replaced tfjs-wasm's plain C loops). In an alexnet-small
 *   step (28 px, batch 64, bench/train-profile.ts) the JS loops took 167 of 444 ms, the SIMD
 *   kernels 42 ms on one thread and about 27 with the helper thread (an interleaved on/off run).
 * - `BatchMatMul`: `a b` and `a b^T` as SIMD (see {@link simdMatMul}); `transposeA` (a dense
 *   layer's weight gradient, `x^T dy`) as a Transpose first, since tfjs-wasm runs only the
 *   untransposed case on XNNPACK and every other on a scalar loop.
 * - `Sum` over leading axes (bias gradients) as SIMD column sums; `SplitV` and `Concat` as
 *   `memory.copy` runs; `Identity` sharing data instead of copying it; `Add` of a bias along
 *   the last axis as one SIMD pass (see {@link biasAdd}).
 * - The filter gradient ({@link simdConv2DBackpropFilter}, used by wasm-kernels.ts) and the
 *   SGD update ({@link simdSgdMomentum}, used by sgd-kernel.ts).
 * - The ReLU gradient as one kernel, {@link RELU_GRAD_KERNEL} (see {@link registerReluGradient}),
 *   instead of tfjs's `Step`, `Cast` and `Multiply`.
 *
 * Results are compared with the cpu backend's kernels in test/model/wasm-fast-kernels.test.ts
 * (SIMD with and without the helper thread, and the JS loops).
 */
import type {
  BatchMatMulAttrs,
  KernelConfig,
  KernelFunc,
  LRNAttrs,
  LRNGradAttrs,
  MaxPoolGradAttrs,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';
import type { Tfjs } from './tfjs.js';
import { TRAIN_KERNELS_SHARED_WASM_BASE64, TRAIN_KERNELS_WASM_BASE64 } from './train-kernels-wasm.js';
import { KernelHelper, runChunks, type ChunkedCall } from './wasm-kernel-helper.js';

/** The part of tfjs-wasm's `BackendWasm` these kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  /** The Emscripten module: its memory (threaded build: `wasmMemory`; single-threaded: `asm.memory`) and allocator. */
  wasm: {
    wasmMemory?: unknown;
    asm?: { memory?: unknown };
    _malloc(bytes: number): number;
    _free(pointer: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** The parts of the WebAssembly global used here (lib "ES2023" does not declare it). */
interface WasmMemory {
  buffer: ArrayBuffer | SharedArrayBuffer;
}
const WasmApi = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
  };
}).WebAssembly;

/** tfjs's `WebAssembly.Memory` (threaded build: `wasmMemory`; single-threaded: `asm.memory`), if any. */
function heapMemoryOf(backend: WasmHeapBackend): WasmMemory | undefined {
  const memory = backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
  return memory !== null && typeof memory === 'object' ? (memory as WasmMemory) : undefined;
}

/** Whether `memory` is shared (tfjs's threaded build). */
const isShared = (memory: WasmMemory): boolean => typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;

/** The exports of train-kernels.wat (pointers are byte offsets into tfjs's heap). */
interface SimdKernels {
  lrn(x: number, y: number, pixels: number, channels: number, radius: number, bias: number, alpha: number, mode: number, scratch: number): void;
  lrnGrad(
    x: number, y: number, dy: number, dx: number, pixels: number, channels: number, radius: number,
    bias: number, alpha: number, scale: number, mode: number, scratch: number,
  ): void;
  maxPoolGrad(x: number, dy: number, dx: number, images: number, channels: number, geometry: number): void;
  columnSums(x: number, out: number, rows: number, cols: number, scratch: number): void;
  copyRows(src: number, dst: number, rows: number, bytes: number, srcStride: number, dstStride: number): void;
  filterGrad(x: number, dy: number, dw: number, images: number, geometry: number): void;
  addInto(dst: number, src: number, count: number): void;
  matMulBT(a: number, b: number, out: number, m: number, k: number, count: number, outStride: number): void;
  matMulNN(a: number, b: number, out: number, m: number, k: number, count: number, stride: number): void;
  sgdMomentum(w: number, v: number, g: number, nextV: number, nextW: number, count: number, lr: number, momentum: number, decay: number): void;
  reluGrad(dy: number, x: number, dx: number, count: number): void;
  biasAdd(x: number, bias: number, out: number, rows: number, cols: number): void;
}

let simdEnabled = true;
/** One instance of train-kernels.wat per tfjs heap; `null`: it could not be instantiated there. */
const simdByMemory = new WeakMap<object, SimdKernels | null>();

/**
 * Turns the WebAssembly SIMD kernels on (the default) or off: off, `LRN`, `LRNGrad` and
 * `MaxPoolGrad` run their JS loops and every other wrapped kernel its built-in fallback. For
 * tests and benchmarks that compare the two.
 */
export function setSimdTrainingKernels(enabled: boolean): void {
  simdEnabled = enabled;
}

/**
 * Which build of the SIMD kernels runs on the current wasm backend's heap: `shared` (tfjs's
 * threaded binary), `plain` (its single-threaded one), or `off` (turned off, not a wasm
 * backend, or not instantiable there: the JS loops run).
 */
export function simdTrainingKernels(tf: Tfjs): 'shared' | 'plain' | 'off' {
  if (tf.getBackend() !== BACKEND) return 'off';
  const backend = tf.backend() as unknown as WasmHeapBackend;
  if (simdKernelsOn(backend) === undefined) return 'off';
  return isShared(heapMemoryOf(backend) as WasmMemory) ? 'shared' : 'plain';
}

/** The SIMD kernels on `backend`'s heap, or undefined when they are off or cannot run there. */
function simdKernelsOn(backend: WasmHeapBackend): SimdKernels | undefined {
  if (!simdEnabled) return undefined;
  const memory = heapMemoryOf(backend);
  if (memory === undefined) return undefined;
  let kernels = simdByMemory.get(memory);
  if (kernels === undefined) {
    try {
      const bytes = Buffer.from(isShared(memory) ? TRAIN_KERNELS_SHARED_WASM_BASE64 : TRAIN_KERNELS_WASM_BASE64, 'base64');
      const instance = new WasmApi.Instance(new WasmApi.Module(bytes), { env: { memory } });
      kernels = instance.exports as SimdKernels;
    } catch {
      // A runtime without WebAssembly SIMD, or a heap the import does not fit: the JS loops run.
      kernels = null;
    }
    simdByMemory.set(memory, kernels);
  }
  return kernels ?? undefined;
}

/** Byte offset of a tensor's data in the wasm heap. */
function heapOffset(backend: WasmHeapBackend, info: TensorInfo): number {
  const entry = backend.dataIdMap.get(info.dataId);
  if (entry === undefined) throw new Error('wasm tensor has no data in the heap');
  return entry.memoryOffset;
}

/** The SIMD kernels' `mode` for `beta`, or -1 when they do not cover it. */
const betaMode = (beta: number): number => (beta === 0.75 ? 0 : beta === 0.5 ? 1 : -1);

/**
 * Runs `use` with room in the wasm heap, freed afterwards: `ints` written at its start (a
 * kernel's geometry block), then `bytes` more, 16-byte aligned. The room is zeroed first unless
 * `zero` is false (the kernel fills it itself).
 */
function withScratch<T>(backend: WasmHeapBackend, bytes: number, use: (pointer: number, after: number) => T, options: { ints?: number[]; zero?: boolean } = {}): T {
  const head = align16((options.ints?.length ?? 0) * 4);
  const pointer = backend.wasm._malloc(head + bytes);
  if (!pointer) throw new Error(`wasm heap could not allocate ${head + bytes} bytes of kernel scratch`);
  try {
    const heap = heapMemoryOf(backend) as WasmMemory;
    if (options.zero ?? true) new Uint8Array(heap.buffer, pointer, head + bytes).fill(0);
    if (options.ints) new Int32Array(heap.buffer, pointer, options.ints.length).set(options.ints);
    return use(pointer, pointer + head);
  } finally {
    backend.wasm._free(pointer);
  }
}

/** Bytes of scratch an LRN kernel needs: 3 padded rows of channels + 2 * radius + 4 floats. */
const lrnScratchBytes = (channels: number, radius: number): number => 3 * (channels + 2 * radius + 4) * 4;

const align16 = (bytes: number): number => (bytes + 15) & ~15;

/** LRN calls (in pixels) from which chunks are shared with the helper thread. */
const MIN_SPLIT_PIXELS = 4096;

let helperEnabled = true;
/** One helper thread per shared tfjs heap; `null`: none (plain heap, or turned off when first asked). */
const helperByMemory = new WeakMap<object, KernelHelper | null>();

let helperFirst = false;

/**
 * Turns the helper thread of the SIMD kernels on (the default) or off (every call on the main
 * thread): for tests and benchmarks that compare the two. Takes effect for heaps not yet seen
 * and for every later call. `waitForHelper` (tests): each shared call waits until the helper
 * has claimed a chunk before the main thread claims any, so the helper's part runs on every
 * call of two or more chunks instead of only when it wakes in time.
 */
export function setSimdKernelHelper(enabled: boolean, options: { waitForHelper?: boolean } = {}): void {
  helperEnabled = enabled;
  helperFirst = options.waitForHelper ?? false;
}

/** The helper of `backend`'s heap, started on first use when the heap is shared. */
function helperOn(backend: WasmHeapBackend): KernelHelper | undefined {
  if (!helperEnabled) return undefined;
  const memory = heapMemoryOf(backend);
  if (memory === undefined) return undefined;
  let helper = helperByMemory.get(memory);
  if (helper === undefined) {
    helper = isShared(memory) ? new KernelHelper(memory, Buffer.from(TRAIN_KERNELS_SHARED_WASM_BASE64, 'base64')) : null;
    helperByMemory.set(memory, helper);
  }
  return helper ?? undefined;
}

/**
 * Resolves once the SIMD kernels' helper thread on the current wasm backend's heap is running
 * (true), or to false when there is none: a single-threaded (unshared) heap, the helper turned
 * off, or a worker that failed to start.
 */
export async function simdKernelHelperReady(tf: Tfjs): Promise<boolean> {
  if (tf.getBackend() !== BACKEND) return false;
  const helper = helperOn(tf.backend() as unknown as WasmHeapBackend);
  return helper === undefined ? false : helper.ready();
}

/** How many kernel calls the helper thread of the current wasm backend's heap ran chunks of (0 without one). */
export function simdKernelHelperCalls(tf: Tfjs): number {
  if (tf.getBackend() !== BACKEND || !helperEnabled) return 0;
  const memory = heapMemoryOf(tf.backend() as unknown as WasmHeapBackend);
  return (memory && helperByMemory.get(memory)?.calls) ?? 0;
}

/**
 * Items per chunk for a call over `total` items: about 8 chunks of at least `minimum` items, a
 * multiple of `multiple`; the whole call as one chunk below `2 * minimum`.
 */
function chunkSize(total: number, minimum: number, multiple = 1): number {
  if (total < 2 * minimum) return Math.max(total, 1);
  const size = Math.max(minimum, Math.ceil(total / 8));
  return Math.ceil(size / multiple) * multiple;
}

/**
 * Runs every chunk of `call`, shared with the helper thread when there is one. The chunks
 * depend on the shapes alone and write disjoint outputs (the filter gradient's go to per-chunk
 * sums added in a fixed order), so results are bitwise the same with or without the helper.
 */
function chunked(backend: WasmHeapBackend, call: ChunkedCall, kernel: (...args: number[]) => void): void {
  const helper = helperOn(backend);
  if (helper === undefined || call.total <= call.chunk) runChunks(call, kernel);
  else helper.run(call, kernel, helperFirst);
}

const BACKEND = 'wasm';

/** Kernel functions this module put in place, so a second registration leaves them alone. */
const ours = new WeakSet<object>();

/**
 * Replaces wasm's `LRN`, `LRNGrad`, `MaxPoolGrad`, `BatchMatMul`, `Sum`, `SplitV`, `Concat` and
 * `Identity` with the kernels of this module (each falls back to the built-in one, or to a JS
 * loop, for what it does not cover). Call after importing `@tensorflow/tfjs-backend-wasm` and before (or after) `tf.setBackend('wasm')`;
 * calling it again is a no-op. Kernels wasm does not have are registered all the same.
 *
 * @returns the names of the kernels replaced by this call, e.g. `['LRN (SIMD)', ...]`
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * registerFastWasmKernels(tf); // ['BatchMatMul (SIMD a b and a b^T)', 'Sum (SIMD column sums)', ..., 'MaxPoolGrad (SIMD)']
 * ```
 */
export function registerFastWasmKernels(tf: Tfjs): string[] {
  const replaced: string[] = [];
  const wrappers: Array<[string, string, (builtIn: KernelConfig) => KernelConfig]> = [
    [tf.BatchMatMul, 'SIMD a b and a b^T', (builtIn) => transposingBatchMatMul(tf, builtIn)],
    [tf.Sum, 'SIMD column sums', (builtIn) => columnSum(tf, builtIn)],
    [tf.SplitV, 'row copies', (builtIn) => rowCopySplit(tf, builtIn)],
    [tf.Concat, 'row copies', (builtIn) => rowCopyConcat(tf, builtIn)],
    [tf.Identity, 'shares data', (builtIn) => sharingIdentity(builtIn)],
    [tf.Add, 'SIMD bias add', (builtIn) => biasAdd(tf, builtIn)],
  ];
  for (const [name, label, wrap] of wrappers) {
    const builtIn = tf.getKernel(name, BACKEND);
    if (builtIn === undefined || ours.has(builtIn.kernelFunc)) continue;
    const faster = wrap(builtIn);
    ours.add(faster.kernelFunc);
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(faster);
    replaced.push(`${name} (${label})`);
  }
  registerReluGradient(tf);
  for (const config of fastWasmKernels(tf)) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, BACKEND);
    ours.add(config.kernelFunc);
    tf.registerKernel(config);
    replaced.push(`${config.kernelName} (SIMD)`);
  }
  return replaced;
}

/**
 * The kernel configs {@link registerFastWasmKernels} registers (new objects on every call).
 *
 * @example
 * ```ts
 * fastWasmKernels(tf).map((k) => k.kernelName); // ['LRN', 'LRNGrad', 'MaxPoolGrad']
 * ```
 */
export function fastWasmKernels(tf: Tfjs): KernelConfig[] {
  return [
    {
      kernelName: tf.LRN,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) =>
        lrn(inputs as NamedTensorInfoMap, backend as unknown as WasmHeapBackend, attrs as unknown as LRNAttrs),
    },
    {
      kernelName: tf.LRNGrad,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) =>
        lrnGrad(inputs as NamedTensorInfoMap, backend as unknown as WasmHeapBackend, attrs as unknown as LRNGradAttrs),
    },
    {
      kernelName: tf.MaxPoolGrad,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) =>
        maxPoolGrad(tf, inputs as NamedTensorInfoMap, backend as unknown as WasmHeapBackend, attrs as unknown as MaxPoolGradAttrs),
    },
    {
      kernelName: RELU_GRAD_KERNEL,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend }) => reluGrad(inputs as NamedTensorInfoMap, backend as unknown as WasmHeapBackend),
    },
  ];
}

/**
 * The ReLU gradient as one kernel: inputs `dy` and `x` (the ReLU's input), output
 * `dy * step(x)` (step 1 for x > 0, NaN for a NaN x, 0 otherwise), bitwise what tfjs's
 * `mul(dy, cast(step(x), 'float32'))` gives. Registered for wasm only.
 */
export const RELU_GRAD_KERNEL = 'PatchstreamReluGrad';

let reluGradientRegistered = false;

/**
 * Replaces tfjs's gradient of `Relu` (`Step`, `Cast` and `Multiply`: three passes and three
 * kernel calls per ReLU, about 4 ms of an alexnet-small step) with {@link RELU_GRAD_KERNEL} on
 * backends that register it (wasm); on every other backend the gradient runs tfjs's three ops
 * as before. Gradients are global to a tfjs instance, so this is done once per process. The
 * kernel has a gradient of its own (for second derivatives): `step(x) * ddx` for `dy`, zero for
 * `x`, as for tfjs's ops.
 */
export function registerReluGradient(tf: Tfjs): void {
  if (reluGradientRegistered) return;
  reluGradientRegistered = true;
  type Tensor = ReturnType<Tfjs['tensor']>;
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => reluGradient(tf, dy as Tensor, saved[0] as Tensor) }),
  });
  tf.registerGradient({
    kernelName: RELU_GRAD_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved) => ({
      dy: () => reluGradient(tf, ddx as Tensor, saved[0] as Tensor),
      x: () => tf.zerosLike(saved[0] as Tensor),
    }),
  });
}

/**
 * `dy * step(x)`: the gradient of a ReLU from its input x, or equally from its output (ReLU's
 * output is positive exactly where its input is). One {@link RELU_GRAD_KERNEL} call on backends
 * that register it, tfjs's `Step`, `Cast` and `Multiply` elsewhere.
 */
export function reluGradient<T extends ReturnType<Tfjs['tensor']>>(tf: Tfjs, dy: T, x: T): T {
  return tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) === undefined
    ? (tf.mul(dy, tf.cast(tf.step(x), 'float32')) as T)
    : (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }, {}) as T);
}

function reluGrad(inputs: NamedTensorInfoMap, backend: WasmHeapBackend): TensorInfo {
  const dy = inputs['dy'] as TensorInfo;
  const x = inputs['x'] as TensorInfo;
  checkFloat(RELU_GRAD_KERNEL, dy, 'dy');
  checkFloat(RELU_GRAD_KERNEL, x, 'x');
  if (dy.shape.join() !== x.shape.join()) {
    throw new Error(`${RELU_GRAD_KERNEL}: dy has shape [${dy.shape}] but x has [${x.shape}]`);
  }
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const count = x.shape.reduce((product, side) => product * side, 1);
  const simd = simdKernelsOn(backend);
  const vector = simd === undefined ? 0 : count - (count % 4);
  if (simd !== undefined && vector > 0) {
    const at = [heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, out)];
    chunked(
      backend,
      { kernel: 'reluGrad', args: [...at, vector], strides: [4, 4, 4], countIndex: 3, total: vector, chunk: chunkSize(vector, 16384, 4) },
      (...args) => simd.reluGrad(...(args as Parameters<SimdKernels['reluGrad']>)),
    );
  }
  if (vector < count) {
    const dys = backend.typedArrayFromHeap(dy);
    const xs = backend.typedArrayFromHeap(x);
    const dxs = backend.typedArrayFromHeap(out);
    for (let i = vector; i < count; i++) {
      const value = xs[i] as number;
      dxs[i] = (dys[i] as number) * (value > 0 ? 1 : Number.isNaN(value) ? NaN : 0);
    }
  }
  return out;
}

function checkFloat(kernel: string, info: TensorInfo, name: string): void {
  if (info.dtype !== 'float32') {
    throw new Error(`wasm ${kernel} (patchstream JS kernel) supports float32 ${name} only but received ${info.dtype}`);
  }
}

/**
 * Fills `norms` with `bias + alpha * (sum of x^2 over channels [c - r, c + r])` and `powers`
 * with `norms^-beta` for one pixel. The window sum slides (add the entering square, drop the
 * leaving one) in float64, so its rounding stays far below float32's.
 */
function pixelNorms(
  x: Float32Array,
  base: number,
  channels: number,
  radius: number,
  bias: number,
  alpha: number,
  beta: number,
  squares: Float64Array,
  norms: Float64Array,
  powers: Float64Array,
): void {
  let sum = 0;
  for (let c = 0; c < channels; c++) {
    const value = x[base + c] as number;
    const square = value * value;
    squares[c] = square;
    if (c < radius) sum += square;
  }
  for (let c = 0; c < channels; c++) {
    const entering = c + radius;
    if (entering < channels) sum += squares[entering] as number;
    const leaving = c - radius - 1;
    if (leaving >= 0) sum -= squares[leaving] as number;
    norms[c] = bias + alpha * sum;
  }
  // AlexNet's beta without Math.pow: norm^-0.75 = 1 / sqrt(norm * sqrt(norm)).
  if (beta === 0.75) {
    for (let c = 0; c < channels; c++) {
      const norm = norms[c] as number;
      powers[c] = 1 / Math.sqrt(norm * Math.sqrt(norm));
    }
  } else if (beta === 0.5) {
    for (let c = 0; c < channels; c++) powers[c] = 1 / Math.sqrt(norms[c] as number);
  } else {
    for (let c = 0; c < channels; c++) powers[c] = Math.pow(norms[c] as number, -beta);
  }
}

function lrn(inputs: NamedTensorInfoMap, backend: WasmHeapBackend, attrs: LRNAttrs): TensorInfo {
  const x = inputs['x'] as TensorInfo;
  checkFloat('LRN', x, 'x');
  if (x.shape.length !== 4) throw new Error(`wasm LRN (patchstream JS kernel) expects a rank-4 x but received shape [${x.shape}]`);
  const { depthRadius, bias, alpha, beta } = attrs;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const channels = x.shape[3] as number;
  const simd = simdKernelsOn(backend);
  const mode = betaMode(beta);
  if (simd !== undefined && channels % 4 === 0 && mode >= 0 && depthRadius >= 0) {
    const pixels = x.shape.reduce((a, b) => a * b, 1) / channels;
    const scratchBytes = align16(lrnScratchBytes(channels, depthRadius));
    const [xAt, yAt] = [heapOffset(backend, x), heapOffset(backend, out)];
    withScratch(backend, 2 * scratchBytes, (scratch) =>
      chunked(
        backend,
        {
          kernel: 'lrn',
          args: [xAt, yAt, pixels, channels, depthRadius, bias, alpha, mode, scratch],
          strides: [channels * 4, channels * 4],
          countIndex: 2,
          total: pixels,
          chunk: chunkSize(pixels, MIN_SPLIT_PIXELS / 2),
          helperOverride: [8, scratch + scratchBytes],
        },
        (...a) => simd.lrn(...(a as Parameters<SimdKernels['lrn']>)),
      ),
    );
    return out;
  }
  const xs = backend.typedArrayFromHeap(x);
  const ys = backend.typedArrayFromHeap(out);
  const pixels = xs.length / channels;
  const squares = new Float64Array(channels);
  const norms = new Float64Array(channels);
  const powers = new Float64Array(channels);
  for (let p = 0, base = 0; p < pixels; p++, base += channels) {
    pixelNorms(xs, base, channels, depthRadius, bias, alpha, beta, squares, norms, powers);
    for (let c = 0; c < channels; c++) ys[base + c] = (xs[base + c] as number) * (powers[c] as number);
  }
  return out;
}

function lrnGrad(inputs: NamedTensorInfoMap, backend: WasmHeapBackend, attrs: LRNGradAttrs): TensorInfo {
  const x = inputs['x'] as TensorInfo;
  const y = inputs['y'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  for (const [name, info] of [['x', x], ['y', y], ['dy', dy]] as const) checkFloat('LRNGrad', info, name);
  if (x.shape.length !== 4) throw new Error(`wasm LRNGrad (patchstream JS kernel) expects a rank-4 x but received shape [${x.shape}]`);
  const { depthRadius, bias, alpha, beta } = attrs;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const channels = x.shape[3] as number;
  const scale = -2 * alpha * beta;
  const simd = simdKernelsOn(backend);
  const mode = betaMode(beta);
  if (simd !== undefined && channels % 4 === 0 && mode >= 0 && depthRadius >= 0) {
    const pixels = x.shape.reduce((a, b) => a * b, 1) / channels;
    const scratchBytes = align16(lrnScratchBytes(channels, depthRadius));
    const at = [heapOffset(backend, x), heapOffset(backend, y), heapOffset(backend, dy), heapOffset(backend, out)] as const;
    withScratch(backend, 2 * scratchBytes, (scratch) =>
      chunked(
        backend,
        {
          kernel: 'lrnGrad',
          args: [at[0], at[1], at[2], at[3], pixels, channels, depthRadius, bias, alpha, scale, mode, scratch],
          strides: [channels * 4, channels * 4, channels * 4, channels * 4],
          countIndex: 4,
          total: pixels,
          chunk: chunkSize(pixels, MIN_SPLIT_PIXELS / 2),
          helperOverride: [11, scratch + scratchBytes],
        },
        (...a) => simd.lrnGrad(...(a as Parameters<SimdKernels['lrnGrad']>)),
      ),
    );
    return out;
  }
  const xs = backend.typedArrayFromHeap(x);
  const ys = backend.typedArrayFromHeap(y);
  const dys = backend.typedArrayFromHeap(dy);
  const dxs = backend.typedArrayFromHeap(out);
  const pixels = xs.length / channels;
  const squares = new Float64Array(channels);
  const norms = new Float64Array(channels);
  const powers = new Float64Array(channels);
  const terms = new Float64Array(channels);
  for (let p = 0, base = 0; p < pixels; p++, base += channels) {
    pixelNorms(xs, base, channels, depthRadius, bias, alpha, beta, squares, norms, powers);
    let sum = 0;
    for (let d = 0; d < channels; d++) {
      const term = ((dys[base + d] as number) * (ys[base + d] as number)) / (norms[d] as number);
      terms[d] = term;
      if (d < depthRadius) sum += term;
    }
    for (let k = 0; k < channels; k++) {
      const entering = k + depthRadius;
      if (entering < channels) sum += terms[entering] as number;
      const leaving = k - depthRadius - 1;
      if (leaving >= 0) sum -= terms[leaving] as number;
      dxs[base + k] = (dys[base + k] as number) * (powers[k] as number) + scale * (xs[base + k] as number) * sum;
    }
  }
  return out;
}

function maxPoolGrad(tf: Tfjs, inputs: NamedTensorInfoMap, backend: WasmHeapBackend, attrs: MaxPoolGradAttrs): TensorInfo {
  const dy = inputs['dy'] as TensorInfo;
  const input = inputs['input'] as TensorInfo;
  checkFloat('MaxPoolGrad', dy, 'dy');
  checkFloat('MaxPoolGrad', input, 'input');
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const out = backend.makeOutput(input.shape.slice(), 'float32');
  const simd = simdKernelsOn(backend);
  if (simd !== undefined && channels % 4 === 0 && batchSize > 0) {
    // The kernel zeroes dx itself (a JS fill of a shared heap view is several times slower).
    const geometry = [inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft];
    const at = [heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, out)] as const;
    withScratch(backend, 0, (pointer) =>
      chunked(
        backend,
        {
          kernel: 'maxPoolGrad',
          args: [at[0], at[1], at[2], batchSize, channels, pointer],
          strides: [inHeight * inWidth * channels * 4, outHeight * outWidth * channels * 4, inHeight * inWidth * channels * 4],
          countIndex: 3,
          total: batchSize,
          chunk: chunkSize(batchSize, 1),
        },
        (...a) => simd.maxPoolGrad(...(a as Parameters<SimdKernels['maxPoolGrad']>)),
      ),
      { ints: geometry },
    );
    return out;
  }
  const xs = backend.typedArrayFromHeap(input);
  const dys = backend.typedArrayFromHeap(dy);
  const dxs = backend.typedArrayFromHeap(out);
  dxs.fill(0);
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  const rowStride = inWidth * channels;
  const imageStride = inHeight * rowStride;
  for (let b = 0; b < batchSize; b++) {
    const image = b * imageStride;
    for (let oy = 0; oy < outHeight; oy++) {
      const top = oy * strideHeight - padTop;
      const yBegin = Math.max(0, top);
      const yEnd = Math.min(inHeight, top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const left = ox * strideWidth - padLeft;
        const xBegin = Math.max(0, left);
        const xEnd = Math.min(inWidth, left + filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let iy = yBegin; iy < yEnd; iy++) {
          for (let ix = xBegin; ix < xEnd; ix++) {
            const offset = image + iy * rowStride + ix * channels;
            for (let c = 0; c < channels; c++) {
              const value = xs[offset + c] as number;
              if (value > (best[c] as number)) {
                best[c] = value;
                where[c] = offset + c;
              }
            }
          }
        }
        const dyOffset = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          const target = where[c] as number;
          // A window of NaNs (or all -Infinity) has no maximum; the cpu kernel drops its gradient too.
          if (target >= 0) dxs[target] = (dxs[target] as number) + (dys[dyOffset + c] as number);
        }
      }
    }
  }
  return out;
}

/**
 * A kernel config that replaces `builtIn` on wasm with `run`, which gets the call's arguments and
 * the built-in kernel function to fall back to. The built-in's `setupFunc` is kept, so its wasm
 * binding is still set up for the fallback.
 */
function wrapBuiltIn(
  builtIn: KernelConfig,
  run: (args: Parameters<KernelFunc>[0], original: KernelFunc) => TensorInfo | TensorInfo[],
): KernelConfig {
  const original = builtIn.kernelFunc as KernelFunc;
  return {
    kernelName: builtIn.kernelName,
    backendName: BACKEND,
    ...(builtIn.setupFunc === undefined ? {} : { setupFunc: builtIn.setupFunc }),
    kernelFunc: (args) => run(args, original),
  };
}

/**
 * Wraps wasm's own `BatchMatMul`: `a b` and `a b^T` go to the SIMD kernels where they cover the
 * shapes ({@link simdMatMul}); otherwise a transposed operand is transposed first (wasm's
 * Transpose) and the product runs untransposed, on the SIMD kernels or XNNPACK, since tfjs-wasm
 * runs every transposed case on a scalar loop ("slow_batch_matmul"). Batched products and other
 * dtypes go to the built-in kernel unchanged.
 */
function transposingBatchMatMul(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const attrs = args.attrs as unknown as BatchMatMulAttrs;
    const inputs = args.inputs as NamedTensorInfoMap;
    const a = inputs['a'] as TensorInfo;
    const b = inputs['b'] as TensorInfo;
    const direct = simdMatMul(args.backend, a, b, attrs.transposeA, attrs.transposeB);
    if (direct !== undefined) return direct;
    const transpose = tf.getKernel(tf.Transpose, BACKEND);
    if ((!attrs.transposeA && !attrs.transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32' || transpose === undefined) {
      return original(args);
    }
    const swapLast = (info: TensorInfo): TensorInfo => {
      const rank = info.shape.length;
      const perm = [...Array(rank).keys()];
      perm[rank - 2] = rank - 1;
      perm[rank - 1] = rank - 2;
      return transpose.kernelFunc({ inputs: { x: info }, backend: args.backend, attrs: { perm } }) as TensorInfo;
    };
    const temporaries: TensorInfo[] = [];
    try {
      const aT = attrs.transposeA ? swapLast(a) : a;
      if (aT !== a) temporaries.push(aT);
      const bT = attrs.transposeB ? swapLast(b) : b;
      if (bT !== b) temporaries.push(bT);
      return (
        simdMatMul(args.backend, aT, bT, false, false) ??
        original({ ...args, inputs: { ...args.inputs, a: aT, b: bT }, attrs: { ...args.attrs, transposeA: false, transposeB: false } })
      );
    } finally {
      for (const info of temporaries) (args.backend as unknown as { disposeData(id: object): void }).disposeData(info.dataId);
    }
  });
}

/**
 * `Sum` over leading axes (a bias gradient: conv1's over [64, 28, 28] took 7 ms in tfjs-wasm,
 * which transposes first) as one SIMD pass of column sums with float64 accumulators. Other
 * reductions, and non-float32 input, go to the built-in kernel.
 */
function columnSum(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const x = (args.inputs as NamedTensorInfoMap)['x'] as TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const backend = args.backend as unknown as WasmHeapBackend;
    const simd = simdKernelsOn(backend);
    if (simd === undefined || x.dtype !== 'float32') return original(args);
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length;
    if (leading === 0 || leading === x.shape.length || axes.some((value, index) => value !== index)) return original(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, leading));
    const cols = tf.util.sizeFromShape(x.shape.slice(leading));
    if (rows === 0 || cols === 0) return original(args);
    const kept = x.shape.slice(leading);
    const out = backend.makeOutput(keepDims ? [...Array(leading).fill(1), ...kept] : kept, 'float32');
    withScratch(backend, cols * 8, (scratch) => simd.columnSums(heapOffset(backend, x), heapOffset(backend, out), rows, cols, scratch));
    return out;
  });
}

const COPYABLE = new Set(['float32', 'int32']);

/**
 * `SplitV` as row copies (`memory.copy` per contiguous run) instead of tfjs-wasm's Slice per
 * part; a grouped convolution splits its input and its gradient along the channels every step.
 */
function rowCopySplit(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const x = (args.inputs as NamedTensorInfoMap)['x'] as TensorInfo;
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const backend = args.backend as unknown as WasmHeapBackend;
    const simd = simdKernelsOn(backend);
    if (simd === undefined || !COPYABLE.has(x.dtype)) return original(args);
    const at = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, at);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, at));
    const inner = tf.util.sizeFromShape(x.shape.slice(at + 1));
    const rowBytes = (x.shape[at] as number) * inner * 4;
    const outs = sizes.map((size) => {
      const shape = x.shape.slice();
      shape[at] = size;
      return backend.makeOutput(shape, x.dtype as 'float32');
    });
    const source = heapOffset(backend, x);
    let offset = 0;
    sizes.forEach((size, index) => {
      const bytes = size * inner * 4;
      if (bytes > 0 && rows > 0) simd.copyRows(source + offset, heapOffset(backend, outs[index] as TensorInfo), rows, bytes, rowBytes, bytes);
      offset += bytes;
    });
    return outs;
  });
}

/** `Concat` as row copies, the inverse of {@link rowCopySplit} (tfjs-wasm copies with a JS `set` per row). */
function rowCopyConcat(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const list = Object.values(args.inputs as unknown as Record<string, TensorInfo>);
    const backend = args.backend as unknown as WasmHeapBackend;
    const simd = simdKernelsOn(backend);
    const first = list[0];
    if (
      simd === undefined ||
      first === undefined ||
      !COPYABLE.has(first.dtype) ||
      list.some((info) => info.dtype !== first.dtype || info.shape.length !== first.shape.length)
    ) {
      return original(args);
    }
    const at = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, first.shape)[0] as number;
    tf.backend_util.assertParamsConsistent(list.map((info) => info.shape), at);
    const shape = tf.backend_util.computeOutShape(list.map((info) => info.shape), at);
    const out = backend.makeOutput(shape, first.dtype as 'float32');
    const rows = tf.util.sizeFromShape(shape.slice(0, at));
    const inner = tf.util.sizeFromShape(shape.slice(at + 1));
    const outRowBytes = (shape[at] as number) * inner * 4;
    const target = heapOffset(backend, out);
    let offset = 0;
    for (const info of list) {
      const bytes = (info.shape[at] as number) * inner * 4;
      if (bytes > 0 && rows > 0) simd.copyRows(heapOffset(backend, info), target + offset, rows, bytes, bytes, outRowBytes);
      offset += bytes;
    }
    return out;
  });
}

/**
 * `Add` of a float32 tensor and a bias along its last axis (shape `[C]` or `[1, ..., 1, C]`,
 * either operand; C a multiple of 4) as one SIMD pass, in chunks of rows shared with the helper
 * thread. On conv1's [64, 28, 28, 32] output: 0.47-0.78 ms against 0.94-1.23 for tfjs-wasm's
 * broadcasting Add (bench/fused-ops.ts). The same float32 additions, so the same bits.
 * Every other Add goes to the built-in kernel.
 */
function biasAdd(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const { a, b } = args.inputs as NamedTensorInfoMap;
    const backend = args.backend as unknown as WasmHeapBackend;
    const simd = simdKernelsOn(backend);
    if (simd === undefined || a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const isBiasOf = (bias: TensorInfo, x: TensorInfo): boolean => {
      const cols = x.shape.at(-1);
      return (
        x.shape.length >= 2 &&
        bias.shape.length <= x.shape.length &&
        bias.shape.at(-1) === cols &&
        bias.shape.slice(0, -1).every((side) => side === 1)
      );
    };
    const [x, bias] = isBiasOf(b, a) ? [a, b] : isBiasOf(a, b) ? [b, a] : [undefined, undefined];
    if (x === undefined || bias === undefined) return original(args);
    const cols = x.shape.at(-1) as number;
    if (cols === 0 || cols % 4 !== 0) return original(args);
    const rows = tf.util.sizeFromShape(x.shape) / cols;
    if (rows === 0) return original(args);
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    chunked(
      backend,
      {
        kernel: 'biasAdd',
        args: [heapOffset(backend, x), heapOffset(backend, bias), heapOffset(backend, out), rows, cols],
        strides: [cols * 4, 0, cols * 4, 0, 0],
        countIndex: 3,
        total: rows,
        chunk: chunkSize(rows, Math.max(1, Math.ceil(65536 / cols))),
      },
      (...chunkArgs) => simd.biasAdd(...(chunkArgs as Parameters<SimdKernels['biasAdd']>)),
    );
    return out;
  });
}

/**
 * `Identity` sharing the input's data (a reference count, as the cpu backend does) instead of
 * copying it: tfjs's clones of every weight and gradient cost 81 copies a step. Safe because
 * no kernel writes into its inputs.
 */
function sharingIdentity(builtIn: KernelConfig): KernelConfig {
  return wrapBuiltIn(builtIn, (args, original) => {
    const x = (args.inputs as NamedTensorInfoMap)['x'] as TensorInfo;
    const backend = args.backend as unknown as { incRef?(dataId: object): void };
    if (x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  });
}

/** The shape facts of a convolution {@link simdConv2DBackpropFilter} needs (tfjs's `Conv2DInfo`). */
export interface FilterGradientGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * The filter gradient of a convolution (NHWC, no dilation) on the SIMD kernel `filterGrad`,
 * images in chunks shared with the helper thread when there is one; undefined when that kernel does
 * not cover the case (SIMD off or unavailable, output channels not a multiple of 16, or dtypes
 * other than float32), and the caller computes it another way.
 */
export function simdConv2DBackpropFilter(
  backendLike: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  geometry: FilterGradientGeometry,
): TensorInfo | undefined {
  const backend = backendLike as WasmHeapBackend;
  const simd = simdKernelsOn(backend);
  const g = geometry;
  if (simd === undefined || g.outChannels % 16 !== 0 || x.dtype !== 'float32' || dy.dtype !== 'float32' || g.batchSize < 1) return undefined;
  const out = backend.makeOutput([g.filterHeight, g.filterWidth, g.inChannels, g.outChannels], 'float32');
  const count = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  const layout = [g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.outChannels, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft];
  const at = [heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, out)] as const;
  // Images per chunk: a power of two (so each chunk's own dW sum sits at a whole number of bytes
  // per image from the first), about 16 chunks. The sums are added in chunk order at the end.
  // (With 8, the main thread waited 4.4-5.8 ms a step for the helper's last chunk; with 16,
  // 3.7-4.2: a chunk of conv2's gradient takes about 1 ms.)
  let chunk = 1;
  while (chunk * 2 <= Math.max(1, Math.floor(g.batchSize / 16)) && chunk < 64) chunk *= 2;
  const chunks = Math.ceil(g.batchSize / chunk);
  // One chunk writes straight into the output; more write their own sums, added up after.
  withScratch(
    backend,
    chunks > 1 ? chunks * count * 4 : 0,
    (geometryAt, sumsAt) => {
      const sums = chunks > 1 ? sumsAt : at[2];
      chunked(
        backend,
        {
          kernel: 'filterGrad',
          args: [at[0], at[1], sums, g.batchSize, geometryAt],
          strides: [g.inHeight * g.inWidth * g.inChannels * 4, g.outHeight * g.outWidth * g.outChannels * 4, (count * 4) / chunk],
          countIndex: 3,
          total: g.batchSize,
          chunk,
        },
        (...a) => simd.filterGrad(...(a as Parameters<SimdKernels['filterGrad']>)),
      );
      if (chunks === 1) return;
      simd.copyRows(sums, at[2], 1, count * 4, 0, 0);
      for (let j = 1; j < chunks; j++) simd.addInto(at[2], sums + j * count * 4, count);
    },
    { ints: layout, zero: false },
  );
  return out;
}

/** The [rows, cols] of a matrix given as rank 2, or rank 3 with a batch of 1; undefined otherwise. */
function matrixShape(info: TensorInfo): [number, number] | undefined {
  const shape = info.shape;
  if (shape.length === 2) return [shape[0] as number, shape[1] as number];
  if (shape.length === 3 && shape[0] === 1) return [shape[1] as number, shape[2] as number];
  return undefined;
}

/**
 * `a b` and `a b^T` on the SIMD kernels (`matMulNN`: b's columns a multiple of 16; `matMulBT`:
 * the shared dimension a multiple of 4), columns in chunks shared with the helper thread; undefined for
 * anything else (batched, transposed a, other sizes or dtypes). tfjs-wasm runs `a b` on XNNPACK,
 * which packs b (a dense layer's weights, new every step) on each call, 400 ms for full AlexNet's
 * fc6 at batch 8; and `a b^T` (the input gradient dy W^T) on a scalar loop, 360-570 ms there.
 */
function simdMatMul(backendLike: unknown, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo | undefined {
  const backend = backendLike as WasmHeapBackend;
  const simd = simdKernelsOn(backend);
  const aShape = matrixShape(a);
  const bShape = matrixShape(b);
  if (simd === undefined || transposeA || aShape === undefined || bShape === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return undefined;
  }
  const [m, k] = aShape;
  const n = transposeB ? bShape[0] : bShape[1];
  if ((transposeB ? bShape[1] : bShape[0]) !== k || m === 0 || n === 0) return undefined;
  if (transposeB ? k % 4 !== 0 : n % 16 !== 0) return undefined;
  const batched = a.shape.length === 3 || b.shape.length === 3;
  const out = backend.makeOutput(batched ? [1, m, n] : [m, n], 'float32');
  const at = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)] as const;
  if (transposeB) {
    chunked(
      backend,
      { kernel: 'matMulBT', args: [at[0], at[1], at[2], m, k, n, n], strides: [0, k * 4, 4], countIndex: 5, total: n, chunk: chunkSize(n, 16) },
      (...args) => simd.matMulBT(...(args as Parameters<SimdKernels['matMulBT']>)),
    );
  } else {
    chunked(
      backend,
      { kernel: 'matMulNN', args: [at[0], at[1], at[2], m, k, n, n], strides: [0, 4, 4], countIndex: 5, total: n, chunk: chunkSize(n, 16, 16) },
      (...args) => simd.matMulNN(...(args as Parameters<SimdKernels['matMulNN']>)),
    );
  }
  return out;
}

/**
 * The SGD momentum update of src/model/sgd-kernel.ts on the SIMD kernel `sgdMomentum` (float32
 * arithmetic; the tail of fewer than 4 floats in JS), in chunks shared with the helper thread. Returns false
 * when the SIMD kernels are not available on this backend (the caller runs its JS loop).
 */
export function simdSgdMomentum(
  backendLike: unknown,
  tensors: { w: TensorInfo; v: TensorInfo; g: TensorInfo; nextV: TensorInfo; nextW: TensorInfo },
  attrs: { lr: number; momentum: number; decay: number },
): boolean {
  const backend = backendLike as WasmHeapBackend;
  const simd = simdKernelsOn(backend);
  if (simd === undefined) return false;
  const count = tensors.w.shape.reduce((product, side) => product * side, 1);
  const vector = count - (count % 4);
  const at = [tensors.w, tensors.v, tensors.g, tensors.nextV, tensors.nextW].map((info) => heapOffset(backend, info));
  const { lr, momentum, decay } = attrs;
  if (vector > 0) {
    chunked(
      backend,
      {
        kernel: 'sgdMomentum',
        args: [...at, vector, lr, momentum, decay],
        strides: [4, 4, 4, 4, 4],
        countIndex: 5,
        total: vector,
        chunk: chunkSize(vector, 16384, 4),
      },
      (...args) => simd.sgdMomentum(...(args as Parameters<SimdKernels['sgdMomentum']>)),
    );
  }
  if (vector < count) {
    const heap = heapMemoryOf(backend) as WasmMemory;
    const view = (index: number): Float32Array => new Float32Array(heap.buffer, at[index] as number, count);
    const [w, v, g, nextV, nextW] = [0, 1, 2, 3, 4].map(view) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    for (let i = vector; i < count; i++) {
      const weight = w[i] as number;
      const velocity = Math.fround(momentum * (v[i] as number) - lr * (decay * weight + (g[i] as number)));
      nextV[i] = velocity;
      nextW[i] = weight + velocity;
    }
  }
  return true;
}
