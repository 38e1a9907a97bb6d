import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../../src/model/alexnet.js';
import { registerSgdKernel, SGD_MOMENTUM_KERNEL } from '../../src/model/sgd-kernel.js';
import { selectBackend } from '../../src/model/backend.js';
import { Sgd, trainableVariables } from '../../src/train/sgd.js';
import { setSimdKernelHelper, simdKernelHelperCalls, simdKernelHelperReady, simdTrainingKernels } from '../../src/model/wasm-fast-kernels.js';

// Tolerance: the kernel rounds to float32 once, the op sequence after each of ~5 ops; measured
// differences are a few float32 ulps, so max |fused - ops| / max |ops| < 1e-6.
const TOLERANCE = 1e-6;

beforeAll(async () => {
  await selectBackend('wasm');
  registerSgdKernel(tf);
  // The helper thread takes part in every chunked call (asserted below), not only when it wakes in time.
  setSimdKernelHelper(true, { waitForHelper: true });
});

afterAll(() => setSimdKernelHelper(true));

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let magnitude = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    magnitude = Math.max(magnitude, Math.abs(expected[i] as number));
  }
  return diff / magnitude;
}

describe('registerSgdKernel()', () => {
  // [3, 5, 7]: 104 floats on wasm's SIMD kernel and a tail of 1 in JS; [128, 300]: 3 chunks,
  // shared with the helper thread (from 32,768 floats).
  for (const [backend, shape] of [['cpu', [3, 5, 7]], ['wasm', [3, 5, 7]], ['wasm', [128, 300]]] as const) {
    it(`${SGD_MOMENTUM_KERNEL} on ${backend} - v' = m v - lr (decay w + g), w' = w + v', as the op sequence on cpu ([${shape}])`, async () => {
      const inputs = (): tf.Tensor[] => [
        tf.randomNormal([...shape], 0, 1, 'float32', 1),
        tf.randomNormal([...shape], 0, 0.1, 'float32', 2),
        tf.randomNormal([...shape], 0, 1, 'float32', 3),
      ];
      const attrs = { lr: 0.02, momentum: 0.9, decay: 5e-4 };
      expect(await tf.setBackend('cpu')).toBe(true);
      const [w0, v0, g0] = inputs() as [tf.Tensor, tf.Tensor, tf.Tensor];
      const v1 = tf.sub(tf.mul(attrs.momentum, v0), tf.mul(attrs.lr, tf.add(tf.mul(attrs.decay, w0), g0)));
      const expected = [v1.dataSync() as Float32Array, tf.add(w0, v1).dataSync() as Float32Array];
      expect(await tf.setBackend(backend)).toBe(true);
      const chunked = backend === 'wasm' && shape[0] * shape[1] >= 32_768 && simdTrainingKernels(tf) === 'shared';
      if (chunked) expect(await simdKernelHelperReady(tf)).toBe(true);
      const helperCalls = simdKernelHelperCalls(tf);
      const [w, v, g] = inputs() as [tf.Tensor, tf.Tensor, tf.Tensor];
      const [nextV, nextW] = tf.engine().runKernel(SGD_MOMENTUM_KERNEL, { variable: w, velocity: v, grad: g }, attrs) as unknown as tf.Tensor[];
      if (chunked) expect(simdKernelHelperCalls(tf)).toBe(helperCalls + 1);
      expect(relativeError(nextV!.dataSync() as Float32Array, expected[0]!)).toBeLessThan(TOLERANCE);
      expect(relativeError(nextW!.dataSync() as Float32Array, expected[1]!)).toBeLessThan(TOLERANCE);
      // The inputs are not modified in place.
      expect(Array.from(w.dataSync())).toEqual(Array.from(tf.randomNormal([...shape], 0, 1, 'float32', 1).dataSync()));
    });
  }

  it('Sgd.step() - 3 steps of alexnet-small with the fused kernel give the op sequence\'s weights (wasm)', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const run = (): Float32Array[] => {
      const model = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 28, seed: 4 });
      const sgd = new Sgd(tf, { lr: 0.05 });
      const variables = trainableVariables(model);
      const x = tf.randomNormal([4, 28, 28, 3], 0, 1, 'float32', 5);
      const labels = tf.oneHot(tf.tensor1d([1, 4, 7, 9], 'int32'), 10);
      for (let step = 0; step < 3; step++) {
        sgd.step(variables, () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar);
      }
      const weights = variables.map((variable) => variable.dataSync() as Float32Array);
      sgd.dispose();
      model.dispose();
      tf.dispose([x, labels]);
      return weights;
    };
    const fused = run();
    const kernel = tf.getKernel(SGD_MOMENTUM_KERNEL, 'wasm')!;
    tf.unregisterKernel(SGD_MOMENTUM_KERNEL, 'wasm');
    let ops: Float32Array[];
    try {
      ops = run();
    } finally {
      tf.registerKernel(kernel);
    }
    expect(fused).toHaveLength(16);
    // Three steps compound the rounding differences through the net: 1e-5.
    fused.forEach((weights, index) => expect(relativeError(weights, ops[index]!), `variable ${index}`).toBeLessThan(1e-5));
  });

  it(`${SGD_MOMENTUM_KERNEL} - a velocity of another shape is an error naming both shapes`, async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
    const w = tf.zeros([2, 3]);
    const v = tf.zeros([3, 2]);
    expect(() => tf.engine().runKernel(SGD_MOMENTUM_KERNEL, { variable: w, velocity: v, grad: w }, { lr: 1, momentum: 0, decay: 0 })).toThrow(
      `${SGD_MOMENTUM_KERNEL}: velocity has shape [3,2] but the variable has [2,3]`,
    );
    tf.dispose([w, v]);
  });
});
