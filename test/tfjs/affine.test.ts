import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/dataset/types.js';
import { createLoader } from '../../src/loader/loader.js';
import type { LoaderOptions } from '../../src/options.js';
import { applyAffine } from '../../src/tfjs/affine.js';
import { collect, temporaryFolder, texturedDataset } from '../helpers.js';

const folder = temporaryFolder();
let textured: Dataset;
beforeAll(async () => {
  await tf.setBackend('cpu');
  textured = await texturedDataset(join(folder.dir, 'textured'), 12);
});
afterAll(() => folder.remove());

/** Largest difference between applyAffine(uint8 batch) and the float32 loader's batch, over an epoch. */
async function worstDifference(options: LoaderOptions): Promise<number> {
  const common = { rescale: 32, crop: 24, batchSize: 5, workers: 1, seed: 3, ...options };
  const bytes = createLoader(textured, { ...common, dtype: 'uint8' });
  const floats = createLoader(textured, { ...common, dtype: 'float32' });
  const expected = await collect(floats.epoch(1));
  let worst = 0;
  let batches = 0;
  for await (const batch of bytes.epoch(1)) {
    const x = applyAffine(batch);
    expect(x.shape).toEqual(batch.shape);
    const values = x.dataSync();
    x.dispose();
    const reference = expected[batches++]!.images;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]! - reference[i]!));
  }
  expect(batches).toBe(expected.length);
  await bytes.close();
  await floats.close();
  return worst;
}

describe('applyAffine()', () => {
  it('applyAffine() - a uint8 batch becomes the float32 batch (train NHWC, NCHW, ten-crop), and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    expect(await worstDifference({ mode: 'train' })).toBeLessThan(1e-5);
    expect(await worstDifference({ mode: 'train', layout: 'NCHW' })).toBeLessThan(1e-5);
    expect(await worstDifference({ mode: 'ten-crop' })).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('applyAffine() - refuses a float32 batch', async () => {
    const loader = createLoader(textured, { rescale: 32, crop: 24, batchSize: 4, workers: 1 });
    const [batch] = await collect(loader.epoch(0));
    expect(() => applyAffine(batch!)).toThrow(TypeError);
    await loader.close();
  });
});
