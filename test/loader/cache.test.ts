import { truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/loader/loader.js';
import { StoreError } from '../../src/errors.js';
import type { Dataset } from '../../src/dataset/types.js';
import type { LoaderOptions } from '../../src/options.js';
import { collect, temporaryFolder, texturedDataset } from '../helpers.js';

const folder = temporaryFolder();
let dataset: Dataset;
beforeAll(async () => {
  dataset = await texturedDataset(join(folder.dir, 'data'), 24);
});
afterAll(() => folder.remove());

const base: LoaderOptions = { rescale: 32, crop: 24, batchSize: 10, workers: 2, seed: 11 };

async function epochs(options: LoaderOptions, count: number, data = dataset) {
  const loader = createLoader(data, options);
  const out = [];
  for (let epoch = 0; epoch < count; epoch++) out.push(await collect(loader.epoch(epoch)));
  const stats = loader.stats();
  await loader.close();
  return { batches: out.flat(), stats };
}

function sameBytes(a: { images: Float32Array | Uint8Array }[], b: { images: Float32Array | Uint8Array }[]): boolean {
  return a.length === b.length && a.every((batch, i) => Buffer.from(batch.images.buffer, batch.images.byteOffset, batch.images.byteLength).equals(Buffer.from(b[i]!.images.buffer, b[i]!.images.byteOffset, b[i]!.images.byteLength)));
}

describe("createLoader({ cache: 'memory' })", () => {
  it("cache: 'memory' - byte-identical to the uncached loader, every mode, float32 and uint8; later epochs skip the decoder", async () => {
    for (const mode of ['train', 'centre', 'ten-crop'] as const) {
      for (const dtype of ['float32', 'uint8'] as const) {
        const plain = await epochs({ ...base, mode, dtype }, 2);
        const cached = await epochs({ ...base, mode, dtype, cache: 'memory' }, 2);
        expect(sameBytes(cached.batches, plain.batches), `${mode} ${dtype}`).toBe(true);
        expect(plain.stats.decodes).toBe(48);
        expect(cached.stats.decodes, `${mode} ${dtype}`).toBe(24);
        expect(cached.stats.cacheHits).toBe(24);
      }
    }
  });

  it("cache: 'memory' - warm() fills it ahead; a cache over the limit is refused up front", async () => {
    const loader = createLoader(dataset, { ...base, cache: 'memory' });
    await loader.warm();
    expect(loader.stats().decodes).toBe(24);
    await collect(loader.epoch(0));
    expect(loader.stats().decodes).toBe(24);
    await loader.close();
    const tooBig = createLoader(dataset, { ...base, cache: 'memory', cacheLimitBytes: 1000 });
    await expect(tooBig.warm()).rejects.toThrow(/needs 72\.0 KiB, more than cacheLimitBytes \(1000 B\)/);
    await tooBig.close();
  });
});

describe('createLoader({ cache: { dir } })', () => {
  it('cache: { dir } - written by one run, reused by the next without decoding; same bytes as uncached', async () => {
    const dir = join(folder.dir, 'disk');
    const plain = await epochs({ ...base }, 2);
    const first = await epochs({ ...base, cache: { dir } }, 1);
    const header = JSON.parse(readFileSync(join(dir, 'header.json'), 'utf8'));
    expect(header.complete).toBe(true);
    expect(first.stats.decodes).toBe(24);
    const second = await epochs({ ...base, cache: { dir } }, 2);
    expect(second.stats.decodes).toBe(0);
    expect(second.stats.cacheHits).toBe(48);
    expect(sameBytes(second.batches, plain.batches)).toBe(true);
  });

  it('cache: { dir } - refuses a cache of another dataset or settings, naming what differs', async () => {
    const dir = join(folder.dir, 'disk');
    const loader = createLoader(dataset, { ...base, rescale: 40, cache: { dir } });
    await expect(loader.warm()).rejects.toThrow(StoreError);
    await loader.close();
    const other = { ...dataset, samples: dataset.samples.slice(0, 20) };
    const another = createLoader(other, { ...base, cache: { dir } });
    await expect(another.warm()).rejects.toThrow(/belongs to another dataset or settings \(24 samples, the dataset has 20\)/);
    await another.close();
    const relabelled = { ...dataset, samples: dataset.samples.map((s, i) => (i === 0 ? { ...s, label: (s.label + 1) % 4 } : s)) };
    const third = createLoader(relabelled, { ...base, cache: { dir } });
    await expect(third.warm()).rejects.toThrow(/a different file list/);
    await third.close();
  });

  it('cache: { dir } - a truncated data file is detected; a half-written cache is discarded and refilled', async () => {
    const dir = join(folder.dir, 'damaged');
    await epochs({ ...base, cache: { dir } }, 1);
    truncateSync(join(dir, 'data.bin'), 1000);
    const loader = createLoader(dataset, { ...base, cache: { dir } });
    await expect(loader.warm()).rejects.toThrow(/data file has 1000 bytes, a complete cache of 24 records needs 73728; the cache is damaged/);
    await loader.close();

    const half = join(folder.dir, 'half');
    await epochs({ ...base, cache: { dir: half } }, 1);
    const header = JSON.parse(readFileSync(join(half, 'header.json'), 'utf8'));
    writeFileSync(join(half, 'header.json'), JSON.stringify({ ...header, complete: false }));
    const refilled = await epochs({ ...base, cache: { dir: half } }, 1);
    expect(refilled.stats.decodes).toBe(24);
  });

  it("cache: { dir, format: 'jpeg' } - close to the uncached output (documented tolerance)", async () => {
    const plain = await epochs({ ...base, mode: 'centre', dtype: 'uint8', normalize: false }, 1);
    const jpeg = await epochs({ ...base, mode: 'centre', dtype: 'uint8', normalize: false, cache: { dir: join(folder.dir, 'jpeg'), format: 'jpeg', quality: 95 } }, 2);
    expect(jpeg.stats.decodes).toBe(24);
    let total = 0;
    let count = 0;
    for (const [i, batch] of plain.batches.entries()) {
      const cached = jpeg.batches[plain.batches.length + i]!;
      for (let k = 0; k < batch.images.length; k++) {
        total += Math.abs(batch.images[k]! - cached.images[k]!);
        count++;
      }
    }
    // Noise images are the worst case for JPEG; the README documents this bound.
    expect(total / count).toBeLessThan(12);
  });

  it('cache: { dir } - failures are recorded: the next run skips the same files without decoding', async () => {
    const dir = join(folder.dir, 'failures');
    const broken = join(folder.dir, 'broken.png');
    writeFileSync(broken, 'not an image at all, just some text');
    const withBroken = { ...dataset, samples: [...dataset.samples, { path: broken, label: 0 }] };
    const options = { ...base, cache: { dir }, onError: 'skip' as const };
    const first = await epochs(options, 1, withBroken);
    expect(first.stats.skipped).toEqual({ UNSUPPORTED: 1 });
    const second = await epochs(options, 1, withBroken);
    expect(second.stats.decodes).toBe(0);
    expect(second.stats.skipped).toEqual({ UNSUPPORTED: 1 });
  });
});
