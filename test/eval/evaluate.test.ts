import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/eval/evaluate.js';
import { createLoader } from '../../src/loader/loader.js';
import { collect, coordinatePng, temporaryFolder, texturedDataset } from '../helpers.js';

const folder = temporaryFolder();
let path: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  mkdirSync(folder.dir, { recursive: true });
  path = join(folder.dir, 'coords.png');
  await coordinatePng(path, 32, 8); // pixel (x, y) = [8x, 8y, 50]
});
afterAll(() => folder.remove());

/** Which of the ten patches a 16x16 patch of the coordinate image is: 'x,y' of its top-left source pixel, plus 'm' if mirrored. */
function identify(values: Float32Array, offset: number): string {
  const first = Math.round((values[offset]! * 255) / 8);
  const second = Math.round((values[offset + 3]! * 255) / 8);
  const y = Math.round((values[offset + 1]! * 255) / 8);
  return second < first ? `${first - 15},${y}m` : `${first},${y}`;
}

const ORDER = ['0,0', '16,0', '0,16', '16,16', '8,8', '0,0m', '16,0m', '0,16m', '16,16m', '8,8m'];

// Per patch, logits over 3 classes. Six patches mildly prefer class 0, four strongly prefer class 1:
// a vote over patches says 0, the average of softmax probabilities says 1.
const MILD_0 = [Math.log(0.4), Math.log(0.35), Math.log(0.25)];
const STRONG_1 = [Math.log(0.025), Math.log(0.95), Math.log(0.025)];
const LOGITS: Record<string, number[]> = Object.fromEntries(ORDER.map((id, i) => [id, [1, 3, 6, 8].includes(i) ? STRONG_1 : MILD_0]));

describe('evaluate()', () => {
  it('evaluate() - ten-crop sees the four corners, the centre and their mirrors, in order, and averages probabilities', async () => {
    const seen: string[] = [];
    const stub = (x: tf.Tensor4D) => {
      const values = x.dataSync() as Float32Array;
      const perPatch = 16 * 16 * 3;
      const rows: number[][] = [];
      for (let patch = 0; patch < x.shape[0]; patch++) {
        const id = identify(values, patch * perPatch);
        seen.push(id);
        rows.push(LOGITS[id] ?? [0, 0, 100]);
      }
      return tf.tensor2d(rows);
    };
    const dataset = { samples: [{ path, label: 1 }, { path, label: 0 }], classes: ['a', 'b', 'c'] };
    const before = tf.memory().numTensors;
    const tenCrop = await evaluate(stub, dataset, { mode: 'ten-crop', loader: { rescale: 32, crop: 16, normalize: false, batchSize: 2, workers: 1 } });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual([...ORDER, ...ORDER]);
    // Averaged probabilities pick class 1: image 0 (label 1) is right, image 1 (label 0) is wrong.
    expect(tenCrop.images).toBe(2);
    expect(tenCrop.top1Error).toBe(0.5);
    expect(tenCrop.confusion).toEqual([[0, 1, 0], [0, 1, 0], [0, 0, 0]]);
    expect(tenCrop.top5Error).toBe(0);

    seen.length = 0;
    const centre = await evaluate(stub, dataset, { mode: 'centre', loader: { rescale: 32, crop: 16, normalize: false, batchSize: 2, workers: 1 } });
    expect(seen).toEqual(['8,8', '8,8']);
    expect(centre.top1Error).toBe(0.5);
    expect(centre.confusion).toEqual([[1, 0, 0], [1, 0, 0], [0, 0, 0]]);
    // The ten-crop pass's own centre figure is the centre patch alone (MILD_0 votes class 0), as
    // the separate centre pass found, without decoding the images twice.
    expect(tenCrop.centre).toMatchObject({ mode: 'centre', images: 2, top1Error: 0.5, confusion: centre.confusion });
    expect(centre.centre).toBeUndefined();
  });

  it("evaluate(model, dataset, { outputs: 'probabilities' }) - averages the model's probabilities as they are, with no second softmax", async () => {
    // One image, two classes. Patch 0 is sure of class 0, the nine others lean to class 1:
    // their probabilities average to 0.502 for class 0, but softmax of them (treating them as
    // logits) averages to 0.499 for class 0, so a second softmax flips the answer.
    const model = {
      predict(x: tf.Tensor4D) {
        const rows = Array.from({ length: x.shape[0] }, (_, patch) => (patch % 10 === 0 ? [1, 0] : [0.447, 0.553]));
        // A model with two outputs: evaluate() reads the first.
        return [tf.tensor2d(rows), tf.zeros([x.shape[0], 7])];
      },
    };
    const dataset = { samples: [{ path, label: 0 }], classes: ['a', 'b'] };
    const loader = { rescale: 32, crop: 16, normalize: false, batchSize: 1, workers: 1 } as const;
    const before = tf.memory().numTensors;
    const probabilities = await evaluate(model, dataset, { mode: 'ten-crop', outputs: 'probabilities', loader });
    expect(tf.memory().numTensors).toBe(before);
    expect(probabilities).toMatchObject({ mode: 'ten-crop', images: 1, top1Error: 0, confusion: [[1, 0], [0, 0]] });
    // The centre patch alone (patch 4) leans to class 1 either way.
    expect(probabilities.centre).toMatchObject({ top1Error: 1, confusion: [[0, 1], [0, 0]] });
    const asLogits = await evaluate(model, dataset, { mode: 'ten-crop', loader });
    expect(asLogits).toMatchObject({ top1Error: 1, confusion: [[0, 1], [0, 0]] });
  });

  it('evaluate(classifier, loader) - gives what evaluating the dataset gives, ignores options.loader, leaves the loader open', async () => {
    const textured = await texturedDataset(join(folder.dir, 'textured'), 12, 4);
    // A classifier that depends on the pixels: logits are the patch's top-left pixel (R, G, B) and 0.
    const classify = (x: tf.Tensor4D) => tf.concat([tf.reshape(tf.slice(x, [0, 0, 0, 0], [x.shape[0], 1, 1, 3]), [x.shape[0], 3]), tf.zeros([x.shape[0], 1])], 1);
    const settings = { rescale: 36, crop: 32, batchSize: 4, workers: 1 } as const;
    const fromDataset = await evaluate(classify, textured, { mode: 'ten-crop', loader: settings });
    const loader = createLoader(textured, { ...settings, mode: 'ten-crop' });
    const before = tf.memory().numTensors;
    const fromLoader = await evaluate(classify, loader, { mode: 'ten-crop', loader: { rescale: 64, crop: 48 } });
    expect(tf.memory().numTensors).toBe(before);
    expect(fromLoader.images).toBe(12);
    const predicted = [0, 1, 2, 3].filter((c) => fromLoader.confusion.some((row) => row[c]! > 0));
    expect(predicted.length, 'the classifier tells images apart').toBeGreaterThan(1);
    expect({ top1Error: fromLoader.top1Error, confusion: fromLoader.confusion }).toEqual({ top1Error: fromDataset.top1Error, confusion: fromDataset.confusion });
    expect(fromLoader.centre!.confusion).toEqual(fromDataset.centre!.confusion);
    // The loader is the caller's: still open.
    expect(loader.stats().threads).toBe(1);
    expect((await collect(loader.epoch(0))).map((batch) => batch.shape)).toEqual([[40, 32, 32, 3], [40, 32, 32, 3], [40, 32, 32, 3]]);
    await loader.close();
  });
});
