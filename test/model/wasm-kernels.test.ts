import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../../src/model/alexnet.js';
import { selectBackend } from '../../src/model/backend.js';
import { registerCpuTrainingKernels, registerWasmTrainingKernels, restoreCpuKernels } from '../../src/model/wasm-kernels.js';
import { setSimdKernelHelper, simdKernelHelperCalls, simdKernelHelperReady, simdTrainingKernels } from '../../src/model/wasm-fast-kernels.js';

type Backend = 'cpu' | 'wasm';

beforeAll(async () => {
  // Registers the kernels and initialises wasm with the binaries from node_modules.
  await selectBackend('wasm');
  // The SIMD kernels' helper thread (threaded build only) is running before the first case,
  // and takes part in every call of two or more chunks (the helper-call assertions below).
  setSimdKernelHelper(true, { waitForHelper: true });
  await simdKernelHelperReady(tf);
});

afterAll(() => setSimdKernelHelper(true));

/** Runs `compute` on one backend and returns its results as plain arrays; tensors are freed. */
async function on(backend: Backend, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const tensors = compute();
  const values = tensors.map((t) => t.dataSync() as Float32Array);
  tf.dispose(tensors);
  return values;
}

/** max |a - b| / max(1e-6, max |b|): the tolerance is relative to the gradient's magnitude. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let magnitude = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    magnitude = Math.max(magnitude, Math.abs(expected[i] as number));
  }
  return diff / magnitude;
}

/** Seeded inputs, regenerated identically on each backend. */
function normal(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 13, 13, 6], filter: [5, 5, 6, 8], strides: 1, pad: 2 },
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 10, 10, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { x: [1, 11, 8, 2], filter: [3, 2, 2, 3], strides: [2, 1], pad: [[0, 0], [1, 0], [0, 2], [0, 0]] },
  { x: [2, 15, 15, 3], filter: [4, 4, 3, 2], strides: 4, pad: 'same' },
  { x: [2, 35, 35, 3], filter: [11, 11, 3, 8], strides: 4, pad: 'valid' },
  { x: [2, 36, 36, 3], filter: [11, 11, 3, 8], strides: 4, pad: 2 },
  { x: [3, 7, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: 1 },
  // Stride 1 with uneven padding and a rectangular filter.
  { x: [2, 11, 8, 2], filter: [3, 2, 2, 3], strides: 1, pad: [[0, 0], [1, 0], [0, 1], [0, 0]] },
  { x: [2, 7, 9, 5], filter: [4, 4, 5, 6], strides: 1, pad: [[0, 0], [3, 0], [0, 2], [0, 0]] },
  { x: [4, 6, 6, 12], filter: [3, 3, 12, 8], strides: 1, pad: 'same' },
  // Output channels a multiple of 16: the SIMD filterGrad kernel (with its helper thread from
  // batch 2), over strides, paddings and AlexNet's conv1 geometry.
  { x: [3, 9, 9, 3], filter: [3, 3, 3, 16], strides: 1, pad: 'same' },
  { x: [2, 35, 35, 3], filter: [11, 11, 3, 16], strides: 4, pad: 'valid' },
  { x: [2, 36, 36, 3], filter: [11, 11, 3, 32], strides: 4, pad: 2 },
  { x: [2, 11, 8, 2], filter: [3, 2, 2, 16], strides: [2, 1], pad: [[0, 0], [1, 0], [0, 2], [0, 0]] },
  { x: [4, 6, 6, 12], filter: [3, 3, 12, 32], strides: 2, pad: 'same' },
  { x: [1, 7, 7, 5], filter: [5, 5, 5, 16], strides: 1, pad: 'valid' },
];

describe('registerWasmTrainingKernels()', () => {
  it('registerWasmTrainingKernels() - wasm has every kernel the cpu backend uses for conv/LRN/pool training', () => {
    const wasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    for (const name of ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'LRN', 'LRNGrad', 'MaxPool', 'MaxPoolGrad', 'SplitV', 'Concat', 'Step']) {
      expect(wasm.has(name), name).toBe(true);
    }
  });

  it('registerWasmTrainingKernels() - a second call registers nothing', () => {
    expect(registerWasmTrainingKernels(tf)).toEqual([]);
  });

  for (const c of CASES) {
    const label = `x ${c.x.join('x')}, filter ${c.filter.join('x')}, strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}`;
    it(`Conv2DBackpropFilter/Input on wasm - conv2d gradients match cpu (${label})`, async () => {
      const compute = (): tf.Tensor[] => {
        const x = normal(c.x, 1) as tf.Tensor4D;
        const filter = normal(c.filter, 2) as tf.Tensor4D;
        const outShape = tf.tidy(() => tf.conv2d(x, filter, c.strides, c.pad).shape);
        const weight = normal(outShape, 3);
        const gradients = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad), weight)),
        )([x, filter]);
        tf.dispose([x, filter, weight]);
        return gradients;
      };
      const [dxCpu, dwCpu] = (await on('cpu', compute)) as [Float32Array, Float32Array];
      const helperCalls = simdKernelHelperCalls(tf);
      const [dxWasm, dwWasm] = (await on('wasm', compute)) as [Float32Array, Float32Array];
      if (c.filter[3] % 16 === 0 && c.x[0] >= 2 && simdTrainingKernels(tf) === 'shared') {
        // The SIMD kernel ran, half on the helper thread.
        expect(simdKernelHelperCalls(tf)).toBeGreaterThan(helperCalls);
      }
      expect(relativeError(dwWasm, dwCpu), 'filter gradient').toBeLessThan(1e-4);
      expect(relativeError(dxWasm, dxCpu), 'input gradient').toBeLessThan(1e-4);
    });
  }

  it('Conv2DBackpropInput on wasm - conv2dTranspose (strides 1 and 2) matches cpu', async () => {
    const compute = (): tf.Tensor[] => {
      const x = normal([2, 6, 6, 4], 5) as tf.Tensor4D;
      const filter = normal([3, 3, 3, 4], 6) as tf.Tensor4D;
      return [
        tf.conv2dTranspose(x, filter, [2, 8, 8, 3], 1, 'valid'),
        tf.conv2dTranspose(x, filter, [2, 12, 12, 3], 2, 'same'),
        tf.conv2dTranspose(x, filter, [2, 13, 13, 3], 2, 'valid'),
      ];
    };
    const cpu = await on('cpu', compute);
    const wasm = await on('wasm', compute);
    cpu.forEach((expected, index) => expect(relativeError(wasm[index] as Float32Array, expected), `case ${index}`).toBeLessThan(1e-4));
  });

  it('LRN/LRNGrad and MaxPool/MaxPoolGrad on wasm - forward and gradient match cpu', async () => {
    const compute = (): tf.Tensor[] => {
      // Values around 30 so the alpha term is not negligible.
      const x = tf.mul(normal([2, 7, 7, 9], 7), 30) as tf.Tensor4D;
      const weight = normal([2, 7, 7, 9], 8);
      const lrn = (a: tf.Tensor): tf.Tensor => tf.localResponseNormalization(a as tf.Tensor4D, 2, 2, 1e-4, 0.75);
      const forward = lrn(x);
      const lrnGrad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(lrn(a), weight)))(x);
      const pooled = tf.maxPool(x, 3, 2, 'valid');
      const poolWeight = normal(pooled.shape, 9);
      const poolGrad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, 'valid'), poolWeight)))(x);
      tf.dispose([x, weight, poolWeight]);
      return [forward, lrnGrad, pooled, poolGrad];
    };
    const cpu = await on('cpu', compute);
    const wasm = await on('wasm', compute);
    const names = ['LRN', 'LRNGrad', 'MaxPool', 'MaxPoolGrad'];
    cpu.forEach((expected, index) => expect(relativeError(wasm[index] as Float32Array, expected), names[index]).toBeLessThan(1e-4));
  });

  it('wasm training kernels - every gradient of an alexnet-small step matches cpu', async () => {
    const compute = (): tf.Tensor[] => {
      const model = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 32, seed: 3 });
      const x = normal([2, 32, 32, 3], 10);
      const labels = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10);
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      // training: false keeps dropout out, so both backends see the same function.
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar,
        variables,
      );
      const out = [value, ...variables.map((v) => grads[v.name] as tf.Tensor)];
      tf.dispose([x, labels]);
      model.dispose();
      return out;
    };
    const cpu = await on('cpu', compute);
    const wasm = await on('wasm', compute);
    expect(wasm).toHaveLength(17);
    cpu.forEach((expected, index) => expect(relativeError(wasm[index] as Float32Array, expected), `output ${index}`).toBeLessThan(1e-4));
  });

  it('registerCpuTrainingKernels() - the replaced cpu filter gradient matches cpu\'s own kernel on every case', async () => {
    const compute = (c: ConvCase) => (): tf.Tensor[] => {
      const x = normal(c.x, 1) as tf.Tensor4D;
      const filter = normal(c.filter, 2) as tf.Tensor4D;
      const outShape = tf.tidy(() => tf.conv2d(x, filter, c.strides, c.pad).shape);
      const weight = normal(outShape, 3);
      const [, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad), weight)))([x, filter]);
      tf.dispose([x, filter, weight]);
      return [dw!];
    };
    const reference = [];
    for (const c of CASES) reference.push((await on('cpu', compute(c)))[0]!);
    expect(registerCpuTrainingKernels(tf)).toHaveLength(1);
    expect(registerCpuTrainingKernels(tf)).toEqual([]);
    try {
      for (const [i, c] of CASES.entries()) {
        const [replaced] = await on('cpu', compute(c));
        expect(relativeError(replaced!, reference[i]!), JSON.stringify(c)).toBeLessThan(1e-4);
      }
    } finally {
      restoreCpuKernels(tf);
    }
  });
});
