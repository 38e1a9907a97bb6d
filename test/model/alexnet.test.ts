import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, describeModel, toProbabilities } from '../../src/model/alexnet.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function layerShapes(model: tf.LayersModel): Record<string, unknown> {
  return Object.fromEntries(model.layers.map((layer) => [layer.name, layer.outputShape]));
}

describe('createModel()', () => {
  it('createModel() - alexnet has 60,965,224 parameters (1000 classes, input 227), as bvlc_alexnet', () => {
    const model = createModel(tf, { name: 'alexnet', numClasses: 1000, inputSize: 227 });
    expect(model.countParams()).toBe(60_965_224);
    const shapes = layerShapes(model);
    expect(shapes['conv1']).toEqual([null, 55, 55, 96]);
    expect(shapes['pool1']).toEqual([null, 27, 27, 96]);
    expect(shapes['pool2']).toEqual([null, 13, 13, 256]);
    expect(shapes['pool5']).toEqual([null, 6, 6, 256]);
    expect(shapes['flatten']).toEqual([null, 9216]);
    expect(shapes['fc8']).toEqual([null, 1000]);
    // Per-layer counts of Caffe's grouped convs (conv2: 5*5*48*256 + 256).
    const counts = Object.fromEntries(model.layers.map((layer) => [layer.name, layer.countParams()]));
    expect(counts).toMatchObject({
      conv1: 34_944,
      conv2: 307_456,
      conv3: 885_120,
      conv4: 663_936,
      conv5: 442_624,
      fc6: 37_752_832,
      fc7: 16_781_312,
      fc8: 4_097_000,
    });
    expect(model.getLayer('conv2').getClassName()).toBe('GroupedConv2D');
    expect(model.getLayer('norm1').getClassName()).toBe('LocalResponseNormalization');
    model.dispose();
  });

  it('createModel() - alexnet at input 224 pads conv1 by 2: same 60,965,224 parameters and 55x55x96 conv1 maps', () => {
    const model = createModel(tf, { name: 'alexnet', numClasses: 1000, inputSize: 224 });
    expect(model.countParams()).toBe(60_965_224);
    expect(model.layers[0]?.getClassName()).toBe('ZeroPadding2D');
    expect(layerShapes(model)['conv1']).toEqual([null, 55, 55, 96]);
    model.dispose();
  });

  it('createModel() - alexnet without groups has 62,378,344 parameters', () => {
    const model = createModel(tf, { name: 'alexnet', numClasses: 1000, inputSize: 227, groups: 1 });
    expect(model.countParams()).toBe(62_378_344);
    model.dispose();
  });

  it('createModel() - alexnet uses the paper init: N(0, 0.01) weights, biases 1 in conv2/4/5 and fc6/7', () => {
    // The smallest input alexnet accepts keeps fc6 small; the init does not depend on it.
    const model = createModel(tf, { name: 'alexnet', numClasses: 10, inputSize: 67, width: 0.25, seed: 5 });
    const biasOf = (name: string): number[] => Array.from(new Set(model.getLayer(name).getWeights()[1]?.dataSync()));
    expect(biasOf('conv1')).toEqual([0]);
    expect(biasOf('conv2')).toEqual([1]);
    expect(biasOf('conv3')).toEqual([0]);
    expect(biasOf('conv4')).toEqual([1]);
    expect(biasOf('conv5')).toEqual([1]);
    expect(biasOf('fc6')).toEqual([1]);
    expect(biasOf('fc7')).toEqual([1]);
    expect(biasOf('fc8')).toEqual([0]);
    for (const name of ['conv1', 'conv2', 'fc6']) {
      const kernel = model.getLayer(name).getWeights()[0] as tf.Tensor;
      const { mean, variance } = tf.moments(kernel);
      expect(Math.abs(mean.dataSync()[0] as number)).toBeLessThan(1e-3);
      expect(Math.sqrt(variance.dataSync()[0] as number)).toBeCloseTo(0.01, 3);
    }
    model.dispose();
  });

  it('createModel() - alexnet-small: documented shapes and parameter counts at 32 and 64 px', () => {
    const small32 = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 32 });
    const small64 = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 64 });
    const small28 = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 28 });
    expect(small32.countParams()).toBe(368_842);
    expect(small64.countParams()).toBe(368_842);
    expect(small28.countParams()).toBe(286_922);
    const expected = {
      conv1: [null, 32, 32, 32],
      pool1: [null, 15, 15, 32],
      conv2: [null, 15, 15, 64],
      pool2: [null, 7, 7, 64],
      conv5: [null, 7, 7, 64],
      flatten: [null, 576],
      fc6: [null, 256],
      fc8: [null, 10],
    };
    expect(layerShapes(small32)).toMatchObject(expected);
    expect(layerShapes(small64)).toMatchObject(expected);
    expect(layerShapes(small28)['flatten']).toEqual([null, 256]);
    // Same topology as alexnet: 5 convs (3 grouped), 2 LRN, 3 overlapping pools, 3 FC, 2 dropouts.
    const kinds = describeModel({ name: 'alexnet-small', numClasses: 10, inputSize: 32 });
    const grouped = kinds.filter((spec) => spec.kind === 'conv' && spec.groups === 2).map((spec) => spec.name);
    expect(grouped).toEqual(['conv2', 'conv4', 'conv5']);
    expect(kinds.filter((spec) => spec.kind === 'lrn')).toHaveLength(2);
    expect(kinds.filter((spec) => spec.kind === 'maxpool').every((spec) => spec.kernelSize === 3 && spec.strides === 2)).toBe(true);
    expect(kinds.filter((spec) => spec.kind === 'dropout').map((spec) => spec.rate)).toEqual([0.5, 0.5]);
    for (const model of [small32, small64, small28]) model.dispose();
  });

  it('createModel() - outputs logits; toProbabilities() turns them into rows summing to 1', () => {
    const model = createModel(tf, { name: 'alexnet-small', numClasses: 7, inputSize: 32, seed: 2 });
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 9);
    const logits = model.predict(x) as tf.Tensor2D;
    expect(logits.shape).toEqual([3, 7]);
    const probabilities = toProbabilities(tf, logits);
    const sums = tf.sum(probabilities, 1).dataSync();
    for (const sum of sums) expect(sum).toBeCloseTo(1, 5);
    // Logits, not probabilities: the raw rows do not sum to 1.
    const rawSums = Array.from(tf.sum(logits, 1).dataSync());
    expect(rawSums.some((sum) => Math.abs(sum - 1) > 1e-3)).toBe(true);
    tf.dispose([x, logits, probabilities]);
    model.dispose();
  });

  it('createModel() - two models built with the same seed have identical weights; another seed differs', () => {
    const options = { name: 'alexnet-small', numClasses: 10, inputSize: 32, seed: 42 } as const;
    const a = weightsOf(createModel(tf, options));
    const b = weightsOf(createModel(tf, options));
    const c = weightsOf(createModel(tf, { ...options, seed: 43 }));
    expect(a.length).toBe(b.length);
    a.forEach((values, index) => expect(values).toEqual(b[index]));
    expect(a[0]).not.toEqual(c[0]);
    // conv4 [3,3,48,96] and conv5 [3,3,48,64] have the same fan-in: drawn with one seed they
    // would start with the same numbers. Each layer gets its own seed.
    const [conv4Kernel, conv5Kernel] = [a[6], a[8]] as [Float32Array, Float32Array];
    expect(conv4Kernel.slice(0, 8)).not.toEqual(conv5Kernel.slice(0, 8));
  });

  it('createModel() - width scales every channel count, rounded to a multiple of the groups', () => {
    const half = describeModel({ name: 'alexnet', numClasses: 1000, inputSize: 227, width: 0.5 });
    const filters = Object.fromEntries(half.filter((s) => s.kind === 'conv').map((s) => [s.name, s.filters]));
    expect(filters).toEqual({ conv1: 48, conv2: 128, conv3: 192, conv4: 192, conv5: 128 });
    expect(half.find((s) => s.name === 'fc6')?.units).toBe(2048);
    expect(half.find((s) => s.name === 'fc8')?.units).toBe(1000);
    const odd = describeModel({ name: 'alexnet-small', numClasses: 10, inputSize: 32, width: 0.3 });
    for (const spec of odd.filter((s) => s.kind === 'conv')) expect((spec.filters as number) % 2).toBe(0);
    const model = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 32, width: 0.3 });
    expect(model.countParams()).toBeLessThan(368_842 / 4);
    model.dispose();
  });

  it('createModel() - rejects bad options with the option name and the value received', () => {
    const base = { name: 'alexnet', numClasses: 1000, inputSize: 227 } as const;
    expect(() => createModel(tf, { ...base, inputSize: 63 })).toThrow(
      new RangeError('Expected integer between 64 and 4096 for options.inputSize but received 63 of type number'),
    );
    expect(() => createModel(tf, { ...base, inputSize: 22.5 })).toThrow(TypeError);
    expect(() => createModel(tf, { ...base, numClasses: 0 })).toThrow(/options\.numClasses but received 0/);
    expect(() => createModel(tf, { ...base, name: 'vgg' as 'alexnet' })).toThrow(/options\.name but received 'vgg'/);
    expect(() => createModel(tf, { ...base, width: 0 })).toThrow(/options\.width/);
    expect(() => createModel(tf, { ...base, groups: 3 as 2 })).toThrow(/options\.groups/);
    expect(() => createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 14 })).toThrow(RangeError);
  });

  it('createModel() - save and load round-trip keeps GroupedConv2D, LRN and the outputs', async () => {
    const model = createModel(tf, { name: 'alexnet-small', numClasses: 5, inputSize: 28, seed: 11 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(saved).toBeDefined();
    const topology = JSON.stringify(saved?.modelTopology);
    expect(topology).toContain('"class_name":"GroupedConv2D"');
    expect(topology).toContain('"class_name":"LocalResponseNormalization"');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    expect(loaded.layers.map((layer) => layer.getClassName())).toEqual(model.layers.map((layer) => layer.getClassName()));
    expect(loaded.countParams()).toBe(model.countParams());
    const conv2 = loaded.getLayer('conv2') as unknown as { groups: number; filters: number; activation: string };
    expect([conv2.groups, conv2.filters, conv2.activation]).toEqual([2, 64, 'relu']);
    const x = tf.randomNormal([2, 28, 28, 3], 0, 1, 'float32', 4);
    const before = (model.predict(x) as tf.Tensor).dataSync();
    const after = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(after)).toEqual(Array.from(before));
    x.dispose();
    model.dispose();
    loaded.dispose();
  });
});
