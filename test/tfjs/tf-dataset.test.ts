import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Dataset } from '../../src/dataset/types.js';
import { createLoader } from '../../src/loader/loader.js';
import { selectBackend } from '../../src/model/backend.js';
import { toTfDataset, type TensorBatch } from '../../src/tfjs/tf-dataset.js';
import { collect, temporaryFolder, texturedDataset } from '../helpers.js';

// tf.data.generator only ever calls next() on the iterator toTfDataset makes; to reach its
// return(), keep the functions toTfDataset hands to tf.data.generator.
const made = vi.hoisted(() => ({ iterators: [] as Array<() => AsyncIterator<TensorBatch>> }));
vi.mock('@tensorflow/tfjs', async (importOriginal) => {
  const real = await importOriginal<typeof import('@tensorflow/tfjs')>();
  const generator = ((make: () => AsyncIterator<TensorBatch>) => {
    made.iterators.push(make);
    return real.data.generator(make as never);
  }) as typeof real.data.generator;
  return { ...real, data: { ...real.data, generator } };
});

const folder = temporaryFolder();
let textured: Dataset;
beforeAll(async () => {
  await tf.setBackend('cpu');
  textured = await texturedDataset(join(folder.dir, 'textured'), 10, 3);
});
afterAll(() => folder.remove());

const options = { rescale: 32, crop: 24, batchSize: 4, workers: 1, seed: 3 } as const;

/**
 * Every element of one pass over the dataset, as the tensors' own arrays (dataSync does not copy
 * on the cpu backend), kept past the following elements; the tensors are disposed.
 */
async function pass(dataset: tf.data.Dataset<TensorBatch>) {
  const out: Array<{ xs: Float32Array; xsShape: number[]; ys: number[][] | number[]; ysDtype: string; ysShape: number[] }> = [];
  await dataset.forEachAsync(({ xs, ys }) => {
    out.push({ xs: xs.dataSync() as Float32Array, xsShape: xs.shape, ys: ys.arraySync() as number[][] | number[], ysDtype: ys.dtype, ysShape: ys.shape });
    tf.dispose([xs, ys]);
  });
  return out;
}

describe('toTfDataset()', () => {
  // cpu keeps the array a tensor is made from (toTfDataset copies the ring buffer for it); wasm
  // copies it into its heap itself (toTfDataset does not copy): kept elements must hold on both.
  it.each(['cpu', 'wasm'] as const)('toTfDataset(loader, { firstEpoch }) on %s - each pass runs the next epoch from firstEpoch; xs are its batches (kept ones too), ys one-hot float32', async (backend) => {
    if (backend === 'wasm') await selectBackend('wasm');
    expect(tf.getBackend()).toBe(backend);
    const reference = createLoader(textured, options);
    const epoch5 = await collect(reference.epoch(5));
    const epoch6 = await collect(reference.epoch(6));
    await reference.close();
    expect(epoch5.map((batch) => batch.labels.length)).toEqual([4, 4, 2]);

    // prefetch 1: a ring of 2 buffers for 3 batches, so the third batch is written where the
    // first was, while the first element is still kept.
    const loader = createLoader(textured, { ...options, prefetch: 1 });
    const dataset = toTfDataset(loader, { firstEpoch: 5 });
    const before = tf.memory().numTensors;
    for (const expected of [epoch5, epoch6]) {
      const elements = await pass(dataset);
      expect(elements.length).toBe(expected.length);
      elements.forEach((element, b) => {
        const batch = expected[b]!;
        expect(element.xsShape).toEqual(batch.shape);
        expect(element.xs).toEqual(batch.images);
        expect(element.ysDtype).toBe('float32');
        expect(element.ysShape).toEqual([batch.labels.length, 3]);
        expect(element.ys).toEqual(Array.from(batch.labels, (label) => [0, 1, 2].map((c) => (c === label ? 1 : 0))));
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    await loader.close();
    await tf.setBackend('cpu');
  });

  it("toTfDataset(loader, { labels: 'index' }) - ys is an int32 [n] tensor of the labels; the default first epoch is 0", async () => {
    const reference = createLoader(textured, options);
    const epoch0 = await collect(reference.epoch(0));
    await reference.close();
    const loader = createLoader(textured, options);
    const elements = await pass(toTfDataset(loader, { labels: 'index' }));
    expect(elements.map((element) => [element.ysDtype, element.ysShape])).toEqual(epoch0.map((batch) => ['int32', [batch.labels.length]]));
    expect(elements.map((element) => element.ys)).toEqual(epoch0.map((batch) => Array.from(batch.labels)));
    expect(elements.map((element) => element.xs)).toEqual(epoch0.map((batch) => batch.images));
    await loader.close();
  });

  it("toTfDataset() - refuses a loader whose batches are not float32", async () => {
    const loader = createLoader(textured, { ...options, dtype: 'uint8' });
    expect(() => toTfDataset(loader)).toThrow(new TypeError("Expected a loader with dtype 'float32' for toTfDataset() but received dtype 'uint8'"));
    await loader.close();
  });

  it('model.fitDataset(toTfDataset(loader, { firstEpoch })) - fit epoch e trains on loader epoch firstEpoch + e', async () => {
    const loader = createLoader(textured, options);
    const epochs = vi.spyOn(loader, 'epoch');
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [24, 24, 3] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await model.fitDataset(toTfDataset(loader, { firstEpoch: 2 }), { epochs: 3, verbose: 0 });
    // fitDataset makes an iterator before the loop and a fresh one per epoch; only those it
    // reads may take an epoch.
    expect(epochs.mock.calls.map(([epoch]) => epoch)).toEqual([2, 3, 4]);
    model.dispose();
    await loader.close();
  });

  it("toTfDataset() iterator's return() - ends the loader epoch it was reading, so the next epoch reuses its buffers", async () => {
    const loader = createLoader(textured, { ...options, prefetch: 2 });
    toTfDataset(loader);
    const iterator = made.iterators.at(-1)!();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    tf.dispose([first.value.xs, first.value.ys]);
    const ring = loader.stats().bufferBytes;
    expect(ring).toBe(3 * (4 * 24 * 24 * 3 * 4 + 4 * 24));
    expect(await iterator.return!()).toEqual({ done: true, value: undefined });
    expect(loader.stats().ahead).toBe(0);
    expect((await iterator.next()).done).toBe(true);
    // An epoch left open would keep its ring: the next epoch would allocate another.
    expect((await collect(loader.epoch(1))).length).toBe(3);
    expect(loader.stats().bufferBytes).toBe(ring);
    await loader.close();
  });

  it('toTfDataset().take(n) - a pass stopped early is ended when the next pass starts: buffers stay at one epoch\'s ring', async () => {
    const loader = createLoader(textured, { ...options, prefetch: 2 });
    const dataset = toTfDataset(loader).take(1);
    const firstPass = await pass(dataset);
    expect(firstPass).toHaveLength(1);
    const ring = loader.stats().bufferBytes;
    expect(ring).toBe(3 * (4 * 24 * 24 * 3 * 4 + 4 * 24));
    for (let again = 0; again < 3; again++) expect(await pass(dataset)).toHaveLength(1);
    // Without ending the previous pass, each take(1) pass kept its epoch open and its ring allocated.
    expect(loader.stats().bufferBytes).toBe(ring);
    // The fourth pass (epoch 3) is still open: close() ends it.
    await loader.close();
  });
});
