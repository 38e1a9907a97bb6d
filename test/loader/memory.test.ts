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
  it('createLoader() - RSS stays under base + (prefetch + 2) x batch bytes + workers x scratch, with a slow consumer over many batches', async () => {
    const prefetch = 2;
    const workers = 2;
    // 16 x 224 x 224 x 3 float32 = 9.6 MB per batch; 5 epochs = 20 batches = 192 MB if buffers were not reused.
    const loader = createLoader(dataset, { rescale: 256, crop: 224, batchSize: 16, prefetch, workers, seed: 1 });
    const batchBytes = loader.batchBytes;
    expect(batchBytes).toBe(16 * 224 * 224 * 3 * 4);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let batches = 0;
    try {
      for (let epoch = 0; epoch < 5; epoch++) {
        for await (const batch of loader.epoch(epoch)) {
          batches++;
          expect(batch.images.length).toBe(16 * 224 * 224 * 3);
          await new Promise((resolve) => setTimeout(resolve, 30)); // a slow consumer
          expect(loader.stats().ahead).toBeLessThanOrEqual(prefetch);
        }
        // The ring is allocated once and reused: no new buffers per epoch.
        expect(loader.stats().bufferBytes).toBe((prefetch + 1) * (batchBytes + 16 * 24));
      }
    } finally {
      clearInterval(sampler);
      await loader.close();
    }
    expect(batches).toBe(20);
    console.log(`memory: peak RSS growth ${((peak - base) / 2 ** 20).toFixed(0)} MB with batches of ${(batchBytes / 2 ** 20).toFixed(1)} MB, prefetch ${prefetch}, ${workers} workers`);
    // Per-worker scratch: V8 heap of a worker (~50 MB) and a few decoded images in flight.
    const bound = (prefetch + 2) * batchBytes + workers * 64 * 1024 * 1024 + 64 * 1024 * 1024;
    expect(peak - base, `peak growth ${((peak - base) / 2 ** 20).toFixed(0)} MB, bound ${(bound / 2 ** 20).toFixed(0)} MB`).toBeLessThan(bound);
    expect(peak - base).toBeLessThan(20 * batchBytes);
  });
});
