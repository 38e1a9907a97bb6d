/**
 * The rescale + centre crop of the fast decode path: shorter side to `rescale`, keep the centre
 * `rescale x rescale` square, with an antialiased separable filter (the kernel widens by the
 * shrink factor, as in libvips, Pillow and torchvision's antialias=True). Only the kept square
 * is computed. Weights are computed here in JS (cached per geometry); the per-pixel work runs
 * in a WebAssembly SIMD kernel (resample.wat): a plain-JS loop cost ~1.7-2.1 ms per image,
 * more than the decode (issue 14), the kernel ~0.2-0.4 ms. {@link resampleReference} is the
 * plain version the kernel is tested against.
 */
import type { ResizeKernel } from '../options.js';
import { RESAMPLE_WASM_BASE64 } from './resample-wasm.js';

/** Kernels the fast path implements (sharp's names and definitions); `nearest` stays with sharp. */
export type FastKernel = Exclude<ResizeKernel, 'nearest'>;

/** Where the kept square lies in the resized image. */
export interface CoverGeometry {
  /** Size of the whole resized image (shorter side = rescale). */
  resizedWidth: number;
  resizedHeight: number;
  /** Top-left corner of the kept square in the resized image. */
  left: number;
  top: number;
}

/** sharp's `fit: 'cover', position: 'centre'` geometry for a `width x height` input. */
export function coverGeometry(width: number, height: number, rescale: number): CoverGeometry {
  const factor = Math.min(width, height) / rescale;
  const resizedWidth = width <= height ? rescale : Math.max(rescale, Math.round(width / factor));
  const resizedHeight = height <= width ? rescale : Math.max(rescale, Math.round(height / factor));
  return { resizedWidth, resizedHeight, left: Math.floor((resizedWidth - rescale + 1) / 2), top: Math.floor((resizedHeight - rescale + 1) / 2) }; // sharp rounds an odd margin up
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
function cubicBC(x: number, b: number, c: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((12 - 9 * b - 6 * c) * t ** 3 + (-18 + 12 * b + 6 * c) * t ** 2 + (6 - 2 * b)) / 6;
  if (t < 2) return ((-b - 6 * c) * t ** 3 + (6 * b + 30 * c) * t ** 2 + (-12 * b - 48 * c) * t + (8 * b + 24 * c)) / 6;
  return 0;
}
const FILTERS: Record<FastKernel, { radius: number; weight: (x: number) => number }> = {
  linear: { radius: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) },
  cubic: { radius: 2, weight: (x) => cubicBC(x, 0, 0.5) }, // Catmull-Rom, as libvips' VIPS_KERNEL_CUBIC
  mitchell: { radius: 2, weight: (x) => cubicBC(x, 1 / 3, 1 / 3) },
  lanczos2: { radius: 2, weight: (x) => (Math.abs(x) < 2 ? sinc(x) * sinc(x / 2) : 0) },
  lanczos3: { radius: 3, weight: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** One axis' filter: for each output sample, the first input index, the tap count and the weights. */
export interface AxisWeights {
  starts: Int32Array;
  counts: Int32Array;
  /** `maxTaps` float32 per output sample (zero-padded). */
  weights: Float32Array;
  maxTaps: number;
}

/**
 * Filter taps for `outputs` samples starting at `first` of an axis resized from `inSize` to
 * `outSize`. Pixel centres map as (o + 0.5) / scale - 0.5; taps outside the input are dropped
 * and the rest renormalised (Pillow's edge rule).
 */
export function axisWeights(inSize: number, outSize: number, first: number, outputs: number, kernel: FastKernel): AxisWeights {
  const { radius, weight } = FILTERS[kernel];
  const scale = outSize / inSize;
  const stretch = Math.max(1, 1 / scale); // antialias: widen the kernel when shrinking
  const support = radius * stretch;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outputs);
  const counts = new Int32Array(outputs);
  const weights = new Float32Array(outputs * maxTaps);
  const row = new Float64Array(maxTaps);
  for (let o = 0; o < outputs; o++) {
    const centre = (first + o + 0.5) / scale - 0.5;
    const from = Math.max(0, Math.ceil(centre - support));
    const to = Math.min(inSize - 1, Math.floor(centre + support));
    let total = 0;
    let count = 0;
    for (let i = from; i <= to && count < maxTaps; i++) {
      const w = weight((i - centre) / stretch);
      row[count++] = w;
      total += w;
    }
    // Drop zero taps at both ends so the kernel does no useless work.
    let lead = 0;
    while (lead < count - 1 && row[lead] === 0) lead++;
    let tail = count;
    while (tail > lead + 1 && row[tail - 1] === 0) tail--;
    starts[o] = from + lead;
    counts[o] = tail - lead;
    for (let k = lead; k < tail; k++) weights[o * maxTaps + k - lead] = total === 0 ? (k === lead ? 1 : 0) : row[k]! / total;
  }
  return { starts, counts, weights, maxTaps };
}

/** Both axes of one geometry. */
interface Plan2D {
  vertical: AxisWeights;
  horizontal: AxisWeights;
}

const planCache = new Map<string, Plan2D>();
/** Weights for one input size, rescale and kernel; kept (ImageNet has few distinct sizes). */
export function resamplePlan(width: number, height: number, rescale: number, kernel: FastKernel): Plan2D {
  const key = `${width}x${height}/${rescale}/${kernel}`;
  let plan = planCache.get(key);
  if (!plan) {
    const g = coverGeometry(width, height, rescale);
    plan = {
      vertical: axisWeights(height, g.resizedHeight, g.top, rescale, kernel),
      horizontal: axisWeights(width, g.resizedWidth, g.left, rescale, kernel),
    };
    if (planCache.size >= 4096) planCache.clear();
    planCache.set(key, plan);
  }
  return plan;
}

/**
 * Plain-JS reference of {@link resampleCover}, same weights, same float32 arithmetic order
 * (vertical pass, then horizontal, round to nearest even, saturate).
 */
export function resampleReference(rgb: Uint8Array, width: number, height: number, rescale: number, kernel: FastKernel): Uint8Array {
  const { vertical, horizontal } = resamplePlan(width, height, rescale, kernel);
  const rowLength = width * 3;
  const inter = new Float32Array(rescale * rowLength);
  const f = Math.fround;
  for (let r = 0; r < rescale; r++) {
    for (let k = 0; k < vertical.counts[r]!; k++) {
      const w = vertical.weights[r * vertical.maxTaps + k]!;
      const source = (vertical.starts[r]! + k) * rowLength;
      for (let i = 0; i < rowLength; i++) {
        const product = f(w * rgb[source + i]!);
        inter[r * rowLength + i] = k === 0 ? product : f(inter[r * rowLength + i]! + product);
      }
    }
  }
  const out = new Uint8Array(rescale * rescale * 3);
  for (let r = 0; r < rescale; r++) {
    for (let x = 0; x < rescale; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = 0; k < horizontal.counts[x]!; k++) {
          acc = f(acc + f(horizontal.weights[x * horizontal.maxTaps + k]! * inter[r * rowLength + (horizontal.starts[x]! + k) * 3 + c]!));
        }
        const rounded = Math.round(acc);
        // Math.round rounds .5 up; the kernel's f32x4.nearest rounds .5 to even.
        const even = acc - Math.floor(acc) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
        out[(r * rescale + x) * 3 + c] = Math.min(255, Math.max(0, even));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The WebAssembly kernel. One instance per thread (each worker imports this module once).

/** The parts of the WebAssembly global used here (lib "ES2023" does not declare it). */
interface WasmMemory { buffer: ArrayBuffer; grow(pages: number): number }
const WasmApi = (globalThis as unknown as { WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
} }).WebAssembly;

interface Kernel {
  memory: WasmMemory;
  vertical: (...args: number[]) => void;
  horizontal: (...args: number[]) => void;
}

let kernelInstance: Kernel | null = null;
function kernelOf(): Kernel {
  if (!kernelInstance) {
    const module = new WasmApi.Module(Buffer.from(RESAMPLE_WASM_BASE64, 'base64'));
    const exports = new WasmApi.Instance(module, {}).exports as unknown as Kernel;
    kernelInstance = exports;
  }
  return kernelInstance;
}

const align16 = (n: number) => (n + 15) & ~15;

/** Grows the kernel's memory to at least `bytes`. */
function ensureMemory(kernel: Kernel, bytes: number): void {
  const have = kernel.memory.buffer.byteLength;
  if (bytes > have) kernel.memory.grow(Math.ceil((bytes - have) / 65536));
}

/** Byte offsets of one resample's buffers in the kernel's memory. */
function layoutOf(width: number, height: number, rescale: number, plan: Plan2D) {
  const rowLength = width * 3;
  const interStride = align16(rowLength);
  // [src (+16 pad)] [inter floats (+64)] [v starts, counts, weights] [h starts, counts, weights] [out (+16 pad)]
  const interAt = align16(height * rowLength + 16);
  const vAt = interAt + rescale * interStride * 4 + 64;
  const vCountsAt = vAt + rescale * 4;
  const vWeightsAt = vCountsAt + rescale * 4;
  const hAt = align16(vWeightsAt + plan.vertical.weights.length * 4);
  const hCountsAt = hAt + rescale * 4;
  const hWeightsAt = hCountsAt + rescale * 4;
  const outAt = align16(hWeightsAt + plan.horizontal.weights.length * 4);
  return { rowLength, interStride, interAt, vAt, vCountsAt, vWeightsAt, hAt, hCountsAt, hWeightsAt, outAt, end: outAt + rescale * rescale * 3 + 16 };
}

/**
 * Where a decoder should write the `width x height` RGB pixels for {@link resampleCover} to read
 * them without a copy. The view stays valid until the next call into this module.
 */
export function kernelInput(width: number, height: number, rescale: number, kernel: FastKernel): Uint8Array {
  const wasm = kernelOf();
  ensureMemory(wasm, layoutOf(width, height, rescale, resamplePlan(width, height, rescale, kernel)).end);
  return new Uint8Array(wasm.memory.buffer, 0, width * height * 3);
}

/**
 * Rescales (shorter side to `rescale`) and centre-crops interleaved RGB into `out` (a new
 * `rescale x rescale x 3` array by default: pass a reused one on hot paths, since a fresh
 * 196 KB array costs its page faults, ~1 ms on a sandboxed kernel). `rgb` may be the view {@link kernelInput} returned (no copy),
 * or any array (copied into the kernel's memory first).
 */
export function resampleCover(
  rgb: Uint8Array, width: number, height: number, rescale: number, kernel: FastKernel,
  out: Uint8Array = new Uint8Array(rescale * rescale * 3),
): Uint8Array {
  const plan = resamplePlan(width, height, rescale, kernel);
  const { vertical, horizontal } = plan;
  const wasm = kernelOf();
  const at = layoutOf(width, height, rescale, plan);
  const inPlace = rgb.byteOffset === 0 && rgb.buffer === wasm.memory.buffer;
  ensureMemory(wasm, at.end);
  const buffer = wasm.memory.buffer;
  const heap = new Uint8Array(buffer);
  if (!inPlace) heap.set(rgb.subarray(0, height * at.rowLength), 0);
  const i32 = new Int32Array(buffer);
  const f32 = new Float32Array(buffer);
  i32.set(vertical.starts, at.vAt >> 2);
  i32.set(vertical.counts, at.vCountsAt >> 2);
  f32.set(vertical.weights, at.vWeightsAt >> 2);
  i32.set(horizontal.starts, at.hAt >> 2);
  i32.set(horizontal.counts, at.hCountsAt >> 2);
  f32.set(horizontal.weights, at.hWeightsAt >> 2);
  wasm.vertical(0, at.rowLength, at.interAt, at.interStride, rescale, at.vAt, at.vCountsAt, at.vWeightsAt, vertical.maxTaps);
  wasm.horizontal(at.interAt, at.interStride, rescale, at.outAt, rescale, at.hAt, at.hCountsAt, at.hWeightsAt, horizontal.maxTaps);
  out.set(heap.subarray(at.outAt, at.outAt + rescale * rescale * 3));
  return out;
}
