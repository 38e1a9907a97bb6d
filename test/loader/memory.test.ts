import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/loader/loader.js';
import type { Dataset } from '../../src/dataset/types.js';
import { temporaryFolder, texturedDataset } from '../helpers.js';

const folder = temporaryFolder();
let dataset: Dataset;
beforeAll(async () => {
  dataset = await texturedDataset(join(folder.dir, 'data'), 64);
});
afterAll(() => folder.remove());

describe('createLoader() memory bound', () => {
  it('createLoader() - 24 batches over 3 epochs all live in one ring of prefetch + 1 buffers; bufferBytes is that ring', async () => {
    const prefetch = 2;
    const batchSize = 8;
    const loader = createLoader(dataset, { rescale: 40, crop: 32, batchSize, prefetch, workers: 2, seed: 1 });
    const batchBytes = loader.batchBytes;
    expect(batchBytes).toBe(batchSize * 32 * 32 * 3 * 4);
    // The memory a batch's pixels and affine rows are written into, by identity: a loader that
    // allocated per batch would show one buffer per batch here (24), not at most prefetch + 1.
    const imageBuffers = new Set<ArrayBufferLike>();
    const affineBuffers = new Set<ArrayBufferLike>();
    let batches = 0;
    try {
      for (let epoch = 0; epoch < 3; epoch++) {
        for await (const batch of loader.epoch(epoch)) {
          batches++;
          expect(batch.images.length).toBe(batchSize * 32 * 32 * 3);
          expect(batch.images.buffer.byteLength).toBe(batchBytes);
          imageBuffers.add(batch.images.buffer);
          affineBuffers.add(batch.affine.buffer);
          expect(loader.stats().ahead).toBeLessThanOrEqual(prefetch);
        }
        // The documented bound: prefetch + 1 batches of pixels and affine rows, allocated once.
        expect(loader.stats().bufferBytes).toBe((prefetch + 1) * (batchBytes + batchSize * 24));
      }
    } finally {
      await loader.close();
    }
    expect(batches).toBe(3 * 8);
    expect(imageBuffers.size).toBeLessThanOrEqual(prefetch + 1);
    expect(affineBuffers.size).toBeLessThanOrEqual(prefetch + 1);
    expect(loader.stats().bufferBytes, 'close() frees the ring').toBe(0);
  });

  it('loader.stream() - batches own their memory and are not counted in bufferBytes', async () => {
    const loader = createLoader(dataset, { rescale: 40, crop: 32, batchSize: 16, prefetch: 2, workers: 2, seed: 1 });
    const buffers = new Set<ArrayBufferLike>();
    for await (const batch of loader.stream(0)) buffers.add((batch as { images: Float32Array }).images.buffer);
    expect(buffers.size).toBe(loader.length);
    expect(loader.stats().bufferBytes).toBe(0);
    await loader.close();
  });
});
