import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fastWasmKernels, registerFastWasmKernels, setSimdTrainingKernels } from '../../src/model/wasm-fast-kernels.js';
import { selectBackend } from '../../src/model/backend.js';

// Tolerance: max |wasm - cpu| / max |cpu| below 1e-5. The JS loops compute in float64 and store
// float32; the regrouped LRNGrad sum and sqrt-for-pow differ from the cpu kernel only in
// rounding (measured: <= 3e-7). The SIMD kernels compute in float32 (measured: <= 1e-6).
const TOLERANCE = 1e-5;

// Each kernel case runs twice: on the WebAssembly SIMD kernels where they cover the shape
// (channels a multiple of 4, beta 0.75 or 0.5) and on the JS loops with them turned off.
const PATHS = [
  { name: 'SIMD where covered', simd: true },
  { name: 'JS loops', simd: false },
] as const;

beforeAll(async () => {
  await selectBackend('wasm');
});

async function on(backend: 'cpu' | 'wasm', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const tensors = compute();
  const values = tensors.map((t) => t.dataSync() as Float32Array);
  tf.dispose(tensors);
  return values;
}

async function onWasm(simd: boolean, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  setSimdTrainingKernels(simd);
  try {
    return await on('wasm', compute);
  } finally {
    setSimdTrainingKernels(true);
  }
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let magnitude = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
    if (!Number.isNaN(e)) diff = Math.max(diff, Math.abs(a - e));
    magnitude = Math.max(magnitude, Math.abs(e));
  }
  return diff / magnitude;
}

const normal = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

interface LrnCase {
  shape: [number, number, number, number];
  radius: number;
  bias: number;
  alpha: number;
  beta: number;
  scale: number;
}
const LRN_CASES: LrnCase[] = [
  // AlexNet's constants on alexnet-small's conv1/conv2 shapes (batch cut to 2).
  { shape: [2, 28, 28, 32], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
  { shape: [2, 13, 13, 64], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
  // Fewer channels than the window; one channel; tfjs's defaults; beta 0.5 and a pow() beta.
  { shape: [2, 5, 5, 3], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
  { shape: [1, 4, 4, 1], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
  { shape: [2, 6, 6, 17], radius: 5, bias: 1, alpha: 1, beta: 0.5, scale: 1 },
  { shape: [2, 6, 6, 11], radius: 1, bias: 0.5, alpha: 0.3, beta: 0.6, scale: 2 },
  { shape: [1, 3, 3, 8], radius: 3, bias: 1, alpha: 0.1, beta: 1, scale: 3 },
  // SIMD-covered oddities: a window wider than the channels, radius 0, beta 0.5.
  { shape: [2, 6, 6, 12], radius: 5, bias: 1, alpha: 0.5, beta: 0.5, scale: 2 },
  { shape: [1, 5, 5, 4], radius: 0, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
  { shape: [1, 3, 3, 96], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
];

interface PoolCase {
  shape: [number, number, number, number];
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  ties?: boolean;
}
const POOL_CASES: PoolCase[] = [
  { shape: [2, 28, 28, 32], size: 3, strides: 2, pad: 'valid' },
  { shape: [2, 13, 13, 64], size: 3, strides: 2, pad: 'valid' },
  { shape: [2, 9, 9, 5], size: 3, strides: 2, pad: 'same' },
  { shape: [2, 8, 7, 3], size: 2, strides: 2, pad: 'valid' },
  { shape: [1, 7, 7, 4], size: 3, strides: 1, pad: 'same' },
  { shape: [1, 10, 9, 2], size: [3, 2], strides: [2, 3], pad: 1 },
  // Ties (ReLU zeros, rounded values): the gradient goes to the first maximum, as on cpu.
  { shape: [2, 9, 9, 6], size: 3, strides: 2, pad: 'valid', ties: true },
  // SIMD-covered padding, rectangular windows and ties.
  { shape: [1, 10, 9, 4], size: [3, 2], strides: [2, 3], pad: 1 },
  { shape: [2, 9, 9, 8], size: 3, strides: 2, pad: 'same', ties: true },
];

describe('registerFastWasmKernels()', () => {
  it('registerFastWasmKernels() - LRN, LRNGrad and MaxPoolGrad are ours on wasm; a second call replaces nothing', () => {
    const names = fastWasmKernels(tf).map((k) => k.kernelName);
    expect(names).toEqual(['LRN', 'LRNGrad', 'MaxPoolGrad']);
    expect(registerFastWasmKernels(tf)).toEqual([]);
    for (const name of [...names, 'BatchMatMul']) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });

  for (const path of PATHS) for (const c of LRN_CASES) {
    it(`LRN/LRNGrad (${path.name} on wasm) - match cpu for ${c.shape.join('x')}, radius ${c.radius}, bias ${c.bias}, alpha ${c.alpha}, beta ${c.beta}`, async () => {
      const compute = (): tf.Tensor[] => {
        const x = tf.mul(normal(c.shape, 7), c.scale) as tf.Tensor4D;
        const weight = normal(c.shape, 8);
        const lrn = (a: tf.Tensor): tf.Tensor => tf.localResponseNormalization(a as tf.Tensor4D, c.radius, c.bias, c.alpha, c.beta);
        const forward = lrn(x);
        const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(lrn(a), weight)))(x);
        tf.dispose([x, weight]);
        return [forward, gradient];
      };
      const cpu = await on('cpu', compute);
      const wasm = await onWasm(path.simd, compute);
      expect(relativeError(wasm[0]!, cpu[0]!), 'LRN').toBeLessThan(TOLERANCE);
      expect(relativeError(wasm[1]!, cpu[1]!), 'LRNGrad').toBeLessThan(TOLERANCE);
      // Not a trivially zero gradient: the alpha term moves it away from dy * norm^-beta.
      expect(Math.max(...Array.from(cpu[1]!, Math.abs))).toBeGreaterThan(0);
    });
  }

  for (const path of PATHS) for (const c of POOL_CASES) {
    it(`MaxPoolGrad (${path.name} on wasm) - matches cpu for ${c.shape.join('x')}, size ${JSON.stringify(c.size)}, strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}${c.ties ? ', with ties' : ''}`, async () => {
      const compute = (): tf.Tensor[] => {
        const raw = normal(c.shape, 11);
        const x = (c.ties ? tf.relu(tf.round(tf.mul(raw, 2))) : raw) as tf.Tensor4D;
        const pool = (a: tf.Tensor): tf.Tensor4D => tf.maxPool(a as tf.Tensor4D, c.size, c.strides, c.pad);
        const weight = tf.add(normal(pool(x).shape, 12), 3);
        const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), weight)))(x);
        tf.dispose([raw, x, weight]);
        return [gradient];
      };
      const cpu = await on('cpu', compute);
      const wasm = await onWasm(path.simd, compute);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(TOLERANCE);
      // The gradient's total is the sum of the weights: nothing dropped or doubled.
      const total = (values: Float32Array): number => values.reduce((sum, v) => sum + v, 0);
      expect(total(wasm[0]!)).toBeCloseTo(total(cpu[0]!), 2);
    });
  }

  const MATMUL_CASES: Array<{ a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }> = [
    // Dense-layer weight gradients (x^T dy) at alexnet-small's sizes, then odd shapes, batches, broadcast.
    { a: [64, 256], b: [64, 256], transposeA: true, transposeB: false },
    { a: [64, 256], b: [64, 10], transposeA: true, transposeB: false },
    { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
    { a: [2, 6, 4], b: [2, 6, 3], transposeA: true, transposeB: false },
    { a: [3, 5, 4], b: [1, 5, 2], transposeA: true, transposeB: false },
    { a: [9, 4], b: [4, 3], transposeA: false, transposeB: false },
    { a: [9, 4], b: [3, 4], transposeA: false, transposeB: true },
  ];
  for (const c of MATMUL_CASES) {
    it(`BatchMatMul (wasm, transposeA by Transpose) - matches cpu for [${c.a}] x [${c.b}], transposeA ${c.transposeA}, transposeB ${c.transposeB}`, async () => {
      const compute = (): tf.Tensor[] => {
        const a = normal(c.a, 31);
        const b = normal(c.b, 32);
        const product = tf.matMul(a, b, c.transposeA, c.transposeB);
        tf.dispose([a, b]);
        return [product];
      };
      const cpu = await on('cpu', compute);
      const wasm = await on('wasm', compute);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(TOLERANCE);
    });
  }

  it('LRN (JS on wasm) - a non-float32 input is an error naming the kernel and dtype', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.zeros([1, 2, 2, 3], 'int32');
    const kernel = tf.getKernel('LRN', 'wasm')!;
    expect(() =>
      kernel.kernelFunc({ inputs: { x } as never, backend: tf.backend(), attrs: { depthRadius: 2, bias: 1, alpha: 1, beta: 0.5 } }),
    ).toThrow(/wasm LRN \(patchstream JS kernel\) supports float32 x only but received int32/);
    x.dispose();
  });
});
