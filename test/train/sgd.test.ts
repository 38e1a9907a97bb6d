import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sgd, trainableVariables } from '../../src/train/sgd.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float32 arithmetic on numbers around 1: 1e-6 absolute. */
function expectClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    expect(Math.abs((actual[index] as number) - value), `index ${index}: ${actual[index]} vs ${value}`).toBeLessThan(tolerance);
  });
}

let unique = 0;
function variable(values: number | number[], name: string): tf.Variable {
  const tensor = typeof values === 'number' ? tf.scalar(values) : tf.tensor1d(values);
  // A counter suffix keeps names unique per process, as tfjs-layers does (and Sgd strips).
  const v = tf.variable(tensor, true, `${name}_${++unique}`);
  tensor.dispose();
  return v;
}

describe('Sgd', () => {
  it('Sgd.step() - momentum and weight decay over 3 steps match hand-computed values; biases are not decayed', () => {
    // L = w . x + 3 b, so dL/dw = x = [1, -2] and dL/db = 3 at every step.
    // lr 0.1, momentum 0.9, weight decay 0.5; w0 = [1, 2], b0 = 0.5. By hand:
    // step 1: v_w = -0.5*0.1*[1, 2] - 0.1*[1, -2] = [-0.15, 0.1]        w1 = [0.85, 2.1]
    //         v_b = -0.1*3 = -0.3 (no decay on a bias)                   b1 = 0.2
    // step 2: v_w = 0.9*[-0.15, 0.1] - 0.05*[0.85, 2.1] - [0.1, -0.2] = [-0.2775, 0.185]    w2 = [0.5725, 2.285]
    //         v_b = 0.9*-0.3 - 0.3 = -0.57                                                     b2 = -0.37
    // step 3: v_w = 0.9*[-0.2775, 0.185] - 0.05*[0.5725, 2.285] - [0.1, -0.2] = [-0.378375, 0.25225]
    //         w3 = [0.194125, 2.53725];  v_b = 0.9*-0.57 - 0.3 = -0.813;  b3 = -1.183
    // Losses (before each update): 1 - 4 + 1.5 = -1.5;  0.85 - 4.2 + 0.6 = -2.75;  0.5725 - 4.57 - 1.11 = -5.1075
    const w = variable([1, 2], 'toy/kernel');
    const b = variable(0.5, 'toy/bias');
    const x = tf.tensor1d([1, -2]);
    const sgd = new Sgd(tf, { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    const lossFn = (): tf.Scalar => tf.add(tf.sum(tf.mul(w, x)), tf.mul(3, b)) as tf.Scalar;
    const losses = [sgd.step([w, b], lossFn)];
    expectClose(w.dataSync(), [0.85, 2.1]);
    expectClose(b.dataSync(), [0.2]);
    losses.push(sgd.step([w, b], lossFn));
    expectClose(w.dataSync(), [0.5725, 2.285]);
    expectClose(b.dataSync(), [-0.37]);
    losses.push(sgd.step([w, b], lossFn));
    expectClose(w.dataSync(), [0.194125, 2.53725]);
    expectClose(b.dataSync(), [-1.183]);
    expectClose(losses, [-1.5, -2.75, -5.1075]);
    sgd.dispose();
    tf.dispose([w, b, x]);
  });

  it('Sgd.step() - the classic 2-2-2 sigmoid network: forward values and one step at lr 0.5', () => {
    // i1 = 0.05, i2 = 0.10, targets 0.01 and 0.99, b1 = 0.35 and b2 = 0.60 (constants: not
    // updated, as in the classic example), E = sum 1/2 (target - output)^2.
    const names = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'];
    const initial = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55];
    const weights = names.map((name, index) => variable(initial[index] as number, `worked-example/${name}`));
    const [w1, w2, w3, w4, w5, w6, w7, w8] = weights as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    const i1 = 0.05;
    const i2 = 0.1;
    const forward = (): { o1: tf.Scalar; o2: tf.Scalar; error: tf.Scalar } => {
      const h1 = tf.sigmoid(tf.addN([tf.mul(w1, i1), tf.mul(w2, i2), tf.scalar(0.35)]));
      const h2 = tf.sigmoid(tf.addN([tf.mul(w3, i1), tf.mul(w4, i2), tf.scalar(0.35)]));
      const o1 = tf.sigmoid(tf.addN([tf.mul(w5, h1), tf.mul(w6, h2), tf.scalar(0.6)])) as tf.Scalar;
      const o2 = tf.sigmoid(tf.addN([tf.mul(w7, h1), tf.mul(w8, h2), tf.scalar(0.6)])) as tf.Scalar;
      const error = tf.add(
        tf.mul(0.5, tf.square(tf.sub(0.01, o1))),
        tf.mul(0.5, tf.square(tf.sub(0.99, o2))),
      ) as tf.Scalar;
      return { o1, o2, error };
    };

    const [o1, o2, error] = tf.tidy(() => {
      const out = forward();
      return [out.o1.dataSync()[0], out.o2.dataSync()[0], out.error.dataSync()[0]] as number[];
    });
    expectClose([o1 as number, o2 as number, error as number], [0.75136507, 0.772928465, 0.298371109]);

    const sgd = new Sgd(tf, { lr: 0.5, momentum: 0, weightDecay: 0 });
    const loss = sgd.step(weights, () => forward().error);
    expect(Math.abs(loss - 0.298371109)).toBeLessThan(1e-6);
    const after = weights.map((w) => w.dataSync()[0] as number);
    expectClose(after, [0.149780716, 0.19956143, 0.24975114, 0.29950229, 0.35891648, 0.408666186, 0.51130127, 0.561370121]);
    sgd.dispose();
    tf.dispose(weights);
  });

  it('Sgd.step() - the number of live tensors is the same after every step (10 steps of a small model)', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 3 }),
      ],
    });
    const x = tf.randomNormal([16, 4]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3);
    const sgd = new Sgd(tf, { lr: 0.1 });
    const variables = trainableVariables(model);
    const lossFn = (): tf.Scalar =>
      tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
    const losses = [sgd.step(variables, lossFn)];
    const tensors = tf.memory().numTensors;
    const counts: number[] = [];
    for (let step = 0; step < 9; step++) {
      losses.push(sgd.step(variables, lossFn));
      counts.push(tf.memory().numTensors);
    }
    expect(counts).toEqual(Array(9).fill(tensors));
    expect(losses.every(Number.isFinite)).toBe(true);
    const before = tf.memory().numTensors;
    sgd.dispose();
    // One velocity per variable (2 kernels, 2 biases) is freed.
    expect(tf.memory().numTensors).toBe(before - 4);
    model.dispose();
    tf.dispose([x, y]);
  });

  it('Sgd.step() - by default a layers model decays kernels but not biases', () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [2], units: 2, biasInitializer: 'ones', name: 'decayprobe' })],
    });
    const [kernel, bias] = trainableVariables(model) as [tf.Variable, tf.Variable];
    expect(bias.name).toMatch(/bias(_\d+)?$/);
    const kernelBefore = Array.from(kernel.dataSync());
    const sgd = new Sgd(tf, { lr: 0.1, momentum: 0, weightDecay: 1 });
    // A loss with zero gradient isolates the decay term: w <- w - 1 * 0.1 * w.
    sgd.step([kernel, bias], () => tf.mul(0, tf.add(tf.sum(kernel), tf.sum(bias))) as tf.Scalar);
    expectClose(kernel.dataSync(), kernelBefore.map((value) => 0.9 * value));
    expectClose(bias.dataSync(), [1, 1]);
    sgd.dispose();
    model.dispose();
  });

  it('Sgd.step() - options.decay overrides which variables decay', () => {
    const a = variable([2], 'custom/a');
    const sgd = new Sgd(tf, { lr: 0.1, momentum: 0, weightDecay: 1, decay: () => false });
    sgd.step([a], () => tf.mul(0, tf.sum(a)) as tf.Scalar);
    expectClose(a.dataSync(), [2]);
    sgd.dispose();
    a.dispose();
  });

  it('Sgd.stepTensor() - returns the loss as a scalar the caller owns', () => {
    const a = variable([3], 'lazy/a');
    const sgd = new Sgd(tf, { lr: 0.5, momentum: 0, weightDecay: 0 });
    const loss = sgd.stepTensor([a], () => tf.sum(tf.square(a)) as tf.Scalar);
    expect(loss.rank).toBe(0);
    expect(loss.dataSync()[0]).toBeCloseTo(9, 5);
    expectClose(a.dataSync(), [3 - 0.5 * 6]);
    loss.dispose();
    sgd.dispose();
    a.dispose();
  });

  it('Sgd.setLearningRate() - applies from the next step and keeps the velocity', () => {
    const a = variable([0], 'lr/a');
    const sgd = new Sgd(tf, { lr: 1, momentum: 0.5, weightDecay: 0 });
    const lossFn = (): tf.Scalar => tf.sum(a) as tf.Scalar; // gradient 1
    sgd.step([a], lossFn); // v = -1, a = -1
    sgd.setLearningRate(0.1);
    expect(sgd.learningRate).toBe(0.1);
    sgd.step([a], lossFn); // v = 0.5*-1 - 0.1 = -0.6, a = -1.6
    expectClose(a.dataSync(), [-1.6]);
    expect(() => sgd.setLearningRate(-1)).toThrow(RangeError);
    sgd.dispose();
    a.dispose();
  });

  it('Sgd.getState()/setState() - a restored optimizer continues exactly like the original', () => {
    const run = (steps: number, restoreAfter?: number): number[] => {
      const w = variable([1, -1, 0.5], 'resume/kernel');
      const target = tf.tensor1d([0.3, 0.2, 0.1]);
      const lossFn = (): tf.Scalar => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
      let sgd = new Sgd(tf, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
      for (let step = 0; step < steps; step++) {
        if (step === restoreAfter) {
          const state = sgd.getState();
          sgd.dispose();
          sgd = new Sgd(tf, { lr: 1, momentum: 0.9, weightDecay: 0.01 });
          sgd.setState(state);
          tf.dispose(state.velocities.map((v) => v.tensor));
          expect(sgd.learningRate).toBe(0.1);
        }
        sgd.step([w], lossFn);
      }
      const values = Array.from(w.dataSync());
      sgd.dispose();
      tf.dispose([w, target]);
      return values;
    };
    const straight = run(4);
    const resumed = run(4, 2);
    expectClose(resumed, straight, 1e-7);
  });

  it('Sgd.getState() - velocities are keyed by layer weight names without the _<n> suffix tfjs adds', () => {
    const build = (): tf.Sequential =>
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, name: 'keyprobe' })] });
    const first = build();
    const second = build(); // its variables are named keyprobe/kernel_1, keyprobe/bias_1
    const variables = trainableVariables(second);
    expect(variables[0]?.name).toBe('keyprobe/kernel_1');
    const sgd = new Sgd(tf, { lr: 0.1 });
    sgd.step(variables, () => tf.sum(second.apply(tf.ones([1, 2])) as tf.Tensor) as tf.Scalar);
    const state = sgd.getState();
    expect(state.velocities.map((v) => v.name)).toEqual(['keyprobe/kernel', 'keyprobe/bias']);
    expect(state.velocities[0]?.tensor.shape).toEqual([2, 1]);
    tf.dispose(state.velocities.map((v) => v.tensor));
    // Both models in one step would share keys: refused rather than sharing a velocity.
    expect(() =>
      sgd.step([...trainableVariables(first), ...variables], () => tf.sum(second.apply(tf.ones([1, 2])) as tf.Tensor) as tf.Scalar),
    ).toThrow(/share the velocity key 'keyprobe\/kernel'/);
    sgd.dispose();
    first.dispose();
    second.dispose();
  });

  it('new Sgd() - rejects a bad learning rate, momentum or weight decay', () => {
    expect(() => new Sgd(tf, { lr: Number.NaN })).toThrow(/options\.lr/);
    expect(() => new Sgd(tf, { lr: 0.1, momentum: 1 })).toThrow(/options\.momentum/);
    expect(() => new Sgd(tf, { lr: 0.1, weightDecay: -1 })).toThrow(/options\.weightDecay/);
  });
});
