import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fastWasmKernels,
  RELU_GRAD_KERNEL,
  registerFastWasmKernels,
  setSimdKernelHelper,
  setSimdTrainingKernels,
  simdKernelHelperCalls,
  simdKernelHelperReady,
  simdTrainingKernels,
} from '../../src/model/wasm-fast-kernels.js';
import { selectBackend } from '../../src/model/backend.js';

// Tolerance: max |wasm - cpu| / max |cpu| below 1e-5. The JS loops compute in float64 and store
// float32; the regrouped LRNGrad sum and sqrt-for-pow differ from the cpu kernel only in
// rounding (measured: <= 3e-7). The SIMD kernels compute in float32 (measured: <= 1e-6).
const TOLERANCE = 1e-5;

// Each kernel case runs three ways: on the WebAssembly SIMD kernels where they cover the shape
// (channels a multiple of 4, beta 0.75 or 0.5) with their helper thread taking half of each
// large call (on tfjs's threaded build), the same on the main thread alone, and on the JS loops.
const PATHS = [
  { name: 'SIMD + helper thread', simd: true, helper: true },
  { name: 'SIMD, one thread', simd: true, helper: false },
  { name: 'JS loops', simd: false, helper: false },
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

async function onWasm(path: (typeof PATHS)[number], compute: () => tf.Tensor[], splits: boolean): Promise<Float32Array[]> {
  setSimdTrainingKernels(path.simd);
  // waitForHelper: the helper takes part in every call of two or more chunks, not only when it wakes in time.
  setSimdKernelHelper(path.helper, { waitForHelper: true });
  try {
    expect(await tf.setBackend('wasm')).toBe(true);
    const shared = simdTrainingKernels(tf) === 'shared';
    if (path.helper) expect(await simdKernelHelperReady(tf)).toBe(shared);
    const before = simdKernelHelperCalls(tf);
    const values = await on('wasm', compute);
    // Not vacuous: where the helper can run and the call is large enough, it did.
    if (path.helper && shared && splits) expect(simdKernelHelperCalls(tf)).toBeGreaterThan(before);
    return values;
  } finally {
    setSimdTrainingKernels(true);
    setSimdKernelHelper(true);
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

/**
 * Element-wise the same values (Object.is: NaN equals NaN, -0 differs from 0), failing with the
 * first difference: toEqual on arrays of 400,000 floats spends minutes building its diff.
 */
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, label = 'values'): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
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
  { shape: [6, 28, 28, 32], radius: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
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
    expect(names).toEqual(['LRN', 'LRNGrad', 'MaxPoolGrad', RELU_GRAD_KERNEL]);
    expect(registerFastWasmKernels(tf)).toEqual([]);
    for (const name of [...names, 'BatchMatMul', 'Sum', 'SplitV', 'Concat', 'Identity', 'Add']) expect(tf.getKernel(name, 'wasm')).toBeDefined();
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
      const wasm = await onWasm(path, compute, c.shape[3] % 4 === 0 && c.shape[0] * c.shape[1] * c.shape[2] >= 4096 && [0.5, 0.75].includes(c.beta));
      expect(relativeError(wasm[0]!, cpu[0]!), 'LRN').toBeLessThan(TOLERANCE);
      expect(relativeError(wasm[1]!, cpu[1]!), 'LRNGrad').toBeLessThan(TOLERANCE);
      // Not a trivially zero gradient: the alpha term moves it away from dy * norm^-beta.
      expect(cpu[1]!.reduce((most, v) => Math.max(most, Math.abs(v)), 0)).toBeGreaterThan(0);
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
      const wasm = await onWasm(path, compute, c.shape[3] % 4 === 0 && c.shape[0] >= 2);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(TOLERANCE);
      // The gradient's total is the sum of the weights: nothing dropped or doubled.
      const total = (values: Float32Array): number => values.reduce((sum, v) => sum + v, 0);
      expect(total(wasm[0]!)).toBeCloseTo(total(cpu[0]!), 2);
    });
  }

  // `chunked`: the product is large enough to be shared with the helper thread (asserted).
  const MATMUL_CASES: Array<{ a: number[]; b: number[]; transposeA: boolean; transposeB: boolean; chunked?: true }> = [
    // Dense-layer weight gradients (x^T dy) at alexnet-small's sizes, then odd shapes, batches, broadcast.
    { a: [64, 256], b: [64, 256], transposeA: true, transposeB: false, chunked: true },
    { a: [64, 256], b: [64, 10], transposeA: true, transposeB: false },
    { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
    { a: [2, 6, 4], b: [2, 6, 3], transposeA: true, transposeB: false },
    { a: [3, 5, 4], b: [1, 5, 2], transposeA: true, transposeB: false },
    { a: [9, 4], b: [4, 3], transposeA: false, transposeB: false },
    { a: [9, 4], b: [3, 4], transposeA: false, transposeB: true },
    // Dense-layer input gradients (dy W^T), both flags, batched transposeB with broadcast.
    { a: [64, 256], b: [256, 256], transposeA: false, transposeB: true, chunked: true },
    { a: [64, 10], b: [256, 10], transposeA: false, transposeB: true },
    { a: [5, 7], b: [3, 5], transposeA: true, transposeB: true },
    { a: [2, 6, 4], b: [1, 3, 4], transposeA: false, transposeB: true },
    // The SIMD kernels: a b with b's columns a multiple of 16 (odd rows: a lone last row), a b^T
    // with the shared side a multiple of 4 (rows past a multiple of 8; split from 32 columns),
    // rank 3 with a batch of 1, and full AlexNet's fc7 at batch 8.
    { a: [7, 12], b: [12, 32], transposeA: false, transposeB: false, chunked: true },
    { a: [1, 5, 8], b: [1, 8, 48], transposeA: false, transposeB: false, chunked: true },
    { a: [13, 20], b: [40, 20], transposeA: false, transposeB: true, chunked: true },
    { a: [1, 8, 1000], b: [1, 4096, 1000], transposeA: false, transposeB: true, chunked: true },
    { a: [8, 4096], b: [4096, 4096], transposeA: false, transposeB: false, chunked: true },
  ];
  for (const c of MATMUL_CASES) {
    it(`BatchMatMul (wasm: SIMD a b and a b^T, else Transpose first) - matches cpu for [${c.a}] x [${c.b}], transposeA ${c.transposeA}, transposeB ${c.transposeB}`, async () => {
      const compute = (): tf.Tensor[] => {
        const a = normal(c.a, 31);
        const b = normal(c.b, 32);
        const product = tf.matMul(a, b, c.transposeA, c.transposeB);
        tf.dispose([a, b]);
        return [product];
      };
      const cpu = await on('cpu', compute);
      const wasm = await onWasm(PATHS[0], compute, c.chunked ?? false);
      expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(TOLERANCE);
    });
  }

  const SUM_CASES: Array<{ shape: number[]; axis: number | number[]; keepDims?: boolean; dtype?: 'int32' }> = [
    // Bias gradients (leading axes: the SIMD column sums), then odd widths and other reductions.
    { shape: [64, 28, 28, 32], axis: [0, 1, 2] },
    { shape: [64, 10], axis: 0 },
    { shape: [9, 7, 3], axis: [1, 0], keepDims: true },
    { shape: [5, 4], axis: -2 },
    { shape: [6, 10], axis: 1 },
    { shape: [3, 4, 5], axis: [0, 2] },
    { shape: [20], axis: 0 },
    { shape: [6, 4], axis: 0, dtype: 'int32' },
  ];
  for (const c of SUM_CASES) {
    it(`Sum (wasm, column sums over leading axes) - matches cpu for [${c.shape}], axis ${JSON.stringify(c.axis)}${c.keepDims ? ', keepDims' : ''}${c.dtype ? `, ${c.dtype}` : ''}`, async () => {
      const compute = (): tf.Tensor[] => {
        const raw = tf.add(normal(c.shape, 41), 0.5);
        const x = c.dtype ? tf.cast(tf.mul(raw, 10), c.dtype) : raw;
        const total = tf.sum(x, c.axis, c.keepDims ?? false);
        tf.dispose([raw, x]);
        return [total];
      };
      const cpu = await on('cpu', compute);
      const wasm = await on('wasm', compute);
      expect(relativeError(Float32Array.from(wasm[0]!), Float32Array.from(cpu[0]!))).toBeLessThan(TOLERANCE);
    });
  }

  const SPLIT_CASES: Array<{ shape: number[]; sizes: number | number[]; axis: number; dtype?: 'int32' }> = [
    { shape: [64, 13, 13, 32], sizes: 2, axis: 3 },
    { shape: [2, 5, 5, 12], sizes: [4, 8], axis: -1 },
    { shape: [6, 4], sizes: 3, axis: 0 },
    { shape: [3, 4, 5], sizes: [1, -1], axis: 1 },
    { shape: [3, 4, 5], sizes: [0, 4], axis: 1 },
    { shape: [2, 6, 3], sizes: 2, axis: 1, dtype: 'int32' },
  ];
  for (const c of SPLIT_CASES) {
    it(`SplitV and Concat (wasm, row copies) - split [${c.shape}] by ${JSON.stringify(c.sizes)} on axis ${c.axis}${c.dtype ? ` (${c.dtype})` : ''} matches cpu, and concat puts it back`, async () => {
      const compute = (): tf.Tensor[] => {
        const raw = normal(c.shape, 43);
        const x = c.dtype ? tf.cast(tf.mul(raw, 100), c.dtype) : raw;
        const parts = tf.split(x, c.sizes, c.axis);
        const joined = tf.concat(parts, c.axis);
        const swapped = parts.length > 1 ? tf.concat([...parts].reverse(), c.axis) : tf.clone(x);
        const result = [...parts, joined, swapped, tf.clone(x)];
        tf.dispose([raw, x]);
        return result;
      };
      const cpu = await on('cpu', compute);
      const wasm = await on('wasm', compute);
      expect(wasm.length).toBe(cpu.length);
      wasm.forEach((values, index) => expectSame(values, cpu[index]!, `output ${index}`));
      expectSame(wasm.at(-3)!, wasm.at(-1)!);
    });
  }

  // Special values in x and dy at every lane position; 2 x 3 x 5 x 7 leaves a tail of 2 floats for
  // the JS loop after the SIMD vectors, and [64, 20, 20, 8] is split with the helper thread.
  for (const path of PATHS) for (const shape of [[2, 3, 5, 7], [64, 20, 20, 8]]) {
    it(`Relu gradient (${path.name} on wasm, ${RELU_GRAD_KERNEL}) - the same bits as cpu's mul(dy, step(x)) for [${shape}], NaN, infinities and signed zeros included`, async () => {
      const special = [NaN, -0, 0, Infinity, -Infinity, 1e-30, -1e-30];
      const compute = (): tf.Tensor[] => {
        const size = shape.reduce((p, q) => p * q, 1);
        const xs = normal([size], 61).dataSync().slice();
        const dys = normal([size], 62).dataSync().slice();
        for (let i = 0; i < special.length * 4; i++) {
          xs[i * 3] = special[i % special.length]!;
          dys[i * 5 + 1] = special[(i + 3) % special.length]!;
        }
        const x = tf.tensor(xs, shape);
        const dy = tf.tensor(dys, shape);
        const dx = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
        tf.dispose([x, dy]);
        return [dx];
      };
      const cpu = await on('cpu', compute);
      expect(tf.getKernel(RELU_GRAD_KERNEL, 'cpu')).toBeUndefined();
      const wasm = await onWasm(path, compute, shape[0] === 64);
      expectSame(wasm[0]!, cpu[0]!);
    });
  }

  // conv1's bias add at batch 16 (split with the helper), either operand order, a [1, 1, C]
  // bias, a dense layer's, and shapes the SIMD pass leaves to tfjs (C not a multiple of 4, a
  // bias on another axis, two full tensors).
  const BIAS_CASES: Array<{ x: number[]; bias: number[]; biasFirst?: boolean; splits?: boolean }> = [
    { x: [16, 28, 28, 32], bias: [32], splits: true },
    { x: [16, 28, 28, 32], bias: [32], biasFirst: true, splits: true },
    { x: [2, 5, 5, 8], bias: [1, 1, 8] },
    { x: [64, 256], bias: [256] },
    { x: [2, 5, 5, 6], bias: [6] },
    { x: [4, 8], bias: [4, 1] },
    { x: [3, 4], bias: [3, 4] },
  ];
  for (const path of PATHS) for (const c of BIAS_CASES) {
    it(`Add (${path.name} on wasm, bias add) - the same bits as cpu for [${c.x}] + [${c.bias}]${c.biasFirst ? ', bias first' : ''}`, async () => {
      const compute = (): tf.Tensor[] => {
        const x = normal(c.x, 71);
        const bias = normal(c.bias, 72);
        const sum = c.biasFirst ? tf.add(bias, x) : tf.add(x, bias);
        tf.dispose([x, bias]);
        return [sum];
      };
      const cpu = await on('cpu', compute);
      const wasm = await onWasm(path, compute, c.splits === true);
      expectSame(wasm[0]!, cpu[0]!);
    });
  }

  it('Relu gradient (wasm) - one kernel call, no Step, and second derivatives still work', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.tensor1d([-2, -0.5, 0.5, 2]);
    const { kernels } = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x));
    const names = kernels.map((k) => k.name);
    expect(names).toContain(RELU_GRAD_KERNEL);
    expect(names).not.toContain('Step');
    // d/dx of sum(relu(x) * x) = step(x) * x + relu(x); its gradient again: 2 step(x).
    const second = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.relu(b), b)))(a), 1)))(x);
    expect(Array.from(second.dataSync())).toEqual([0, 0, 2, 2]);
    tf.dispose([x, second]);
  });

  it('Conv2DBackpropFilter (wasm SIMD) - the same bits with and without the helper thread, so a run does not depend on when it started', async () => {
    const compute = (): tf.Tensor[] => {
      const x = normal([6, 13, 13, 16], 51) as tf.Tensor4D;
      const dy = normal([6, 13, 13, 32], 52) as tf.Tensor4D;
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [5, 5, 16, 32] }) as tf.Tensor;
      tf.dispose([x, dy]);
      return [dw];
    };
    const withHelper = await onWasm(PATHS[0], compute, true);
    const alone = await onWasm(PATHS[1], compute, false);
    expectSame(alone[0]!, withHelper[0]!);
  });

  it('Identity (wasm, shared data) - a clone keeps its values after the original is disposed, and frees nothing twice', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const before = tf.backend().numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const copy = tf.clone(x);
    expect(tf.backend().numDataIds()).toBe(before + 1);
    x.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
    copy.dispose();
    // The heap block is freed once, when the last tensor sharing it goes.
    expect(tf.backend().numDataIds()).toBe(before);
  });

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
