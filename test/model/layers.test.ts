import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerClasses, setDropoutStep } from '../../src/model/layers.js';
import { selectBackend } from '../../src/model/backend.js';
import { RELU_GRAD_KERNEL } from '../../src/model/wasm-fast-kernels.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe('layerClasses()', () => {
  it('layerClasses() - returns the same registered classes for the same namespace', () => {
    const first = layerClasses(tf);
    expect(layerClasses(tf)).toBe(first);
    const registry = tf.serialization.SerializationMap.getMap().classNameMap;
    expect(registry['GroupedConv2D']?.[0]).toBe(first.GroupedConv2D);
    expect(registry['LocalResponseNormalization']?.[0]).toBe(first.LocalResponseNormalization);
  });

  it('GroupedConv2D - has Caffe grouped weight shapes and equals a conv per group on its channel slice', () => {
    const { GroupedConv2D } = layerClasses(tf);
    const layer = new GroupedConv2D({ filters: 6, kernelSize: 3, groups: 2, padding: 'same', seed: 3, kernelStddev: 0.5, biasValue: 0.25 });
    const x = tf.randomNormal([2, 5, 5, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
    const y = layer.apply(x) as tf.Tensor4D;
    const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
    // Caffe: [filters, inChannels / groups, k, k] = [6, 2, 3, 3]; here [k, k, inChannels / groups, filters].
    expect(kernel.shape).toEqual([3, 3, 2, 6]);
    expect(bias.shape).toEqual([6]);
    expect(layer.countParams()).toBe(3 * 3 * 2 * 6 + 6);
    expect(Array.from(bias.dataSync())).toEqual([0.25, 0.25, 0.25, 0.25, 0.25, 0.25]);
    // Group 0: input channels 0-1 -> output channels 0-2; group 1: input 2-3 -> output 3-5.
    const expected = tf.tidy(() => {
      const y0 = tf.conv2d(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 2]), tf.slice(kernel, [0, 0, 0, 0], [-1, -1, -1, 3]), 1, 'same');
      const y1 = tf.conv2d(tf.slice(x, [0, 0, 0, 2], [-1, -1, -1, 2]), tf.slice(kernel, [0, 0, 0, 3], [-1, -1, -1, 3]), 1, 'same');
      return tf.add(tf.concat([y0, y1], 3), 0.25);
    });
    expect(y.shape).toEqual([2, 5, 5, 6]);
    expect(maxAbsDiff(y.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
    // Output channel 0 must not depend on input channel 3 (another group).
    const bumped = tf.tidy(() => tf.add(x, tf.oneHot(tf.fill([2, 5, 5], 3, 'int32'), 4)));
    const y2 = layer.apply(bumped) as tf.Tensor4D;
    const channel0 = (t: tf.Tensor4D): Float32Array => tf.tidy(() => tf.slice(t, [0, 0, 0, 0], [-1, -1, -1, 3]).dataSync() as Float32Array);
    expect(maxAbsDiff(channel0(y), channel0(y2))).toBe(0);
    tf.dispose([x, y, y2, bumped, expected]);
    layer.dispose();
  });

  it('GroupedConv2D - valid padding, stride and relu give the shape computeOutputShape predicts', () => {
    const { GroupedConv2D } = layerClasses(tf);
    const layer = new GroupedConv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', groups: 2, activation: 'relu' });
    const x = tf.randomNormal([1, 9, 8, 2]);
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 4, 3, 4]);
    expect(layer.computeOutputShape([null, 9, 8, 2])).toEqual([null, 4, 3, 4]);
    expect(Math.min(...y.dataSync())).toBeGreaterThanOrEqual(0);
    tf.dispose([x, y]);
    layer.dispose();
  });

  // Each group of a GroupedConv2D is one FusedConv2D kernel with patchstream's registered
  // gradient (ReLU gradient, Conv2DBackpropInput/Filter and a bias sum): output and all three
  // gradients must be those of the unfused composition activation(conv2d + bias), on cpu and on
  // wasm (where XNNPACK adds the bias inside the convolution, so the sums round differently:
  // relative 1e-5).
  const FUSED_CASES = [
    { x: [2, 7, 7, 4], filters: 8, kernelSize: 3, strides: 1, padding: 'same', groups: 1, activation: 'relu' },
    { x: [2, 9, 8, 4], filters: 8, kernelSize: 3, strides: 2, padding: 'valid', groups: 2, activation: 'relu' },
    { x: [3, 12, 12, 3], filters: 16, kernelSize: 5, strides: 1, padding: 'same', groups: 1, activation: 'relu' },
    { x: [2, 7, 7, 4], filters: 8, kernelSize: 3, strides: 1, padding: 'same', groups: 2, activation: 'linear' },
  ] as const;
  for (const backend of ['cpu', 'wasm'] as const) for (const c of FUSED_CASES) {
    it(`GroupedConv2D (${c.activation}, ${backend}) - output and x/kernel/bias gradients equal ${c.activation}(conv2d + bias) for x [${c.x}], ${c.kernelSize}x${c.kernelSize}/${c.strides} ${c.padding}, ${c.groups} group(s)`, async () => {
      await selectBackend(backend);
      try {
        const { GroupedConv2D } = layerClasses(tf);
        const layer = new GroupedConv2D({ filters: c.filters, kernelSize: c.kernelSize, strides: c.strides, padding: c.padding, groups: c.groups, activation: c.activation, seed: 5, kernelStddev: 0.3 });
        const x = tf.variable(tf.randomNormal([...c.x], 0, 1, 'float32', 8));
        layer.apply(x);
        // Biases of both signs, so the ReLU clamps some channels more than others.
        const kernel = layer.trainableWeights[0]!.read() as tf.Variable;
        const bias = layer.trainableWeights[1]!.read() as tf.Variable;
        bias.assign(tf.randomNormal([c.filters], 0, 0.5, 'float32', 9));
        const reference = (): tf.Scalar => {
          // (tfjs's SplitV gradient fails for a single split: one group is a plain conv2d.)
          const conv = (xi: tf.Tensor, ki: tf.Tensor): tf.Tensor4D => tf.conv2d(xi as tf.Tensor4D, ki as tf.Tensor4D, c.strides, c.padding);
          const y =
            c.groups === 1
              ? conv(x, kernel)
              : tf.concat(tf.split(x, c.groups, 3).map((xi, i) => conv(xi, tf.split(kernel, c.groups, 3)[i]!)), 3);
          const z = tf.add(y, bias);
          return tf.sum(tf.mul(c.activation === 'relu' ? tf.relu(z) : z, dy));
        };
        const y = layer.apply(x) as tf.Tensor4D;
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 10);
        const fused = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, dy)), [x, kernel, bias]);
        const plain = tf.variableGrads(reference, [x, kernel, bias]);
        const relative = (a: tf.Tensor, b: tf.Tensor): number => maxAbsDiff(a.dataSync(), b.dataSync()) / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0] as number);
        expect(relative(fused.value, plain.value)).toBeLessThan(1e-5);
        for (const v of [x, kernel, bias]) {
          expect(fused.grads[v.name]!.shape, v.name).toEqual(v.shape);
          expect(relative(fused.grads[v.name]!, plain.grads[v.name]!), v.name).toBeLessThan(1e-5);
        }
        // The ReLU clamped something, or the gradient test would not see the ReLU (and linear did not).
        const zeros = Array.from(y.dataSync()).filter((v) => v === 0).length;
        if (c.activation === 'relu') expect(zeros).toBeGreaterThan(0);
        else expect(zeros).toBe(0);
        tf.dispose([x, y, dy, fused.value, plain.value, ...Object.values(fused.grads), ...Object.values(plain.grads)]);
        layer.dispose();
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }

  it('GroupedConv2D (relu, wasm) - a training step runs FusedConv2D and the ReLU gradient kernel, no separate Add, Relu or Step, and no input gradient for data', async () => {
    await selectBackend('wasm');
    try {
      const { GroupedConv2D } = layerClasses(tf);
      const layer = new GroupedConv2D({ filters: 8, kernelSize: 3, groups: 2, activation: 'relu' });
      const x = tf.randomNormal([2, 6, 6, 4]);
      layer.apply(x);
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { kernels } = await tf.profile(() => tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor), weights));
      const names = kernels.map((k) => k.name);
      expect(names.filter((name) => name === 'FusedConv2D')).toHaveLength(2);
      expect(names).toContain(RELU_GRAD_KERNEL);
      expect(names.filter((name) => name === 'Conv2DBackpropFilter')).toHaveLength(2);
      // x is data, not a variable: its gradient (the input gradient) is not computed.
      for (const name of ['Add', 'Relu', 'Step', 'Conv2D', 'Conv2DBackpropInput']) expect(names, name).not.toContain(name);
      x.dispose();
      layer.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('GroupedConv2D - refuses channel counts that do not split into the groups', () => {
    const { GroupedConv2D } = layerClasses(tf);
    expect(() => new GroupedConv2D({ filters: 5, kernelSize: 3, groups: 2 })).toThrow(/filters \(5\).*groups \(2\)/);
    const layer = new GroupedConv2D({ filters: 4, kernelSize: 3, groups: 2 });
    expect(() => layer.apply(tf.zeros([1, 4, 4, 3]))).toThrow(/input channels \(3\)/);
  });

  it('LocalResponseNormalization - paper constants by default, matching a hand computation', () => {
    const { LocalResponseNormalization } = layerClasses(tf);
    const layer = new LocalResponseNormalization();
    expect([layer.depthRadius, layer.bias, layer.alpha, layer.beta]).toEqual([2, 2, 1e-4, 0.75]);
    // Large values so alpha matters: channel 0 of [10, 20, 30, 40, 50, 60] sums squares of
    // channels 0..2 (radius 2, clipped at the edge) = 100 + 400 + 900 = 1400.
    const values = [10, 20, 30, 40, 50, 60];
    const x = tf.tensor4d(values, [1, 1, 1, 6]);
    const y = layer.apply(x) as tf.Tensor;
    const expected = values.map((value, c) => {
      let sum = 0;
      for (let j = Math.max(0, c - 2); j <= Math.min(5, c + 2); j++) sum += (values[j] as number) ** 2;
      return value / (2 + 1e-4 * sum) ** 0.75;
    });
    expect(maxAbsDiff(y.dataSync(), expected)).toBeLessThan(1e-4);
    expect((y.dataSync()[0] as number)).toBeCloseTo(10 / 2.14 ** 0.75, 4);
    tf.dispose([x, y]);
  });

  it('SeededDropout - masks are a function of (seed, layer, step): same step same mask, next step another; identity at inference', () => {
    const { SeededDropout } = layerClasses(tf);
    const x = tf.ones([4, 64]);
    const layer = new SeededDropout({ name: 'drop', rate: 0.5, seed: 11 });
    const twin = new SeededDropout({ name: 'drop', rate: 0.5, seed: 11 });
    const masks = (l: typeof layer, step: number) => {
      l.step = step;
      return Array.from((l.apply(x, { training: true }) as tf.Tensor).dataSync());
    };
    const first = masks(layer, 0);
    expect(new Set(first)).toEqual(new Set([0, 2])); // inverted dropout: kept units scaled by 1 / (1 - rate)
    const zeros = first.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(64); // about half of 256
    expect(zeros).toBeLessThan(192);
    expect(masks(twin, 0)).toEqual(first);
    expect(masks(layer, 1)).not.toEqual(first);
    expect(masks(new SeededDropout({ name: 'drop', rate: 0.5, seed: 12 }), 0)).not.toEqual(first);
    expect(Array.from((layer.apply(x, { training: false }) as tf.Tensor).dataSync())).toEqual(Array(256).fill(1));
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 64, inputShape: [64] }), new SeededDropout({ name: 'd', rate: 0.5, seed: 1 })] });
    setDropoutStep(model, 7);
    expect((model.layers[1] as typeof layer).step).toBe(7);
    expect(model.layers[1]!.getConfig()).toMatchObject({ rate: 0.5, seed: 1 });
  });
});
