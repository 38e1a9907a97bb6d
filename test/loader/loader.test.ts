import { copyFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader, createLoaderWithFaults } from '../../src/loader/loader.js';
import { SampleError, SkipBudgetError } from '../../src/errors.js';
import type { Dataset } from '../../src/dataset/types.js';
import { collect, colourIndex, coordinatePng, indexDataset, outcome, temporaryFolder, texturedDataset } from '../helpers.js';

const folder = temporaryFolder();
let indexed: Dataset;
let textured: Dataset;

beforeAll(async () => {
  indexed = await indexDataset(join(folder.dir, 'indexed'), 90);
  textured = await texturedDataset(join(folder.dir, 'textured'), 40);
});
afterAll(() => folder.remove());

const small = { rescale: 32, crop: 24 } as const;

/** A 32x32 PNG whose pixel (x, y) is [8x, 8y, 50], so a patch shows its crop offset and mirroring; written once. */
let coordinates: Promise<string> | undefined;
function coordinateImage(): Promise<string> {
  coordinates ??= (async () => {
    const path = join(folder.dir, 'coords.png');
    await coordinatePng(path, 32, 8);
    return path;
  })();
  return coordinates;
}

/** The bytes under a typed array, for byte-for-byte comparisons. */
const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

describe('createLoader() options', () => {
  it('createLoader() - rejects bad options up front, naming the option and the value', () => {
    expect(() => createLoader(indexed, { batchSize: 0 })).toThrow('Expected integer between 1 and 65536 for options.batchSize but received 0 of type number');
    expect(() => createLoader(indexed, { mode: 'random' as never })).toThrow(/options\.mode but received 'random' of type string/);
    expect(() => createLoader(indexed, { rescale: 32, crop: 33 })).toThrow(/options\.crop \(33\) to be at most options\.rescale \(32\)/);
    expect(() => createLoader(indexed, { shard: { rank: 2, worldSize: 2 } })).toThrow(/options\.shard\.rank but received 2/);
    expect(() => createLoader(indexed, { normalize: { mean: [0, 0], std: [1, 1, 1] } })).toThrow(/options\.normalize\.mean/);
    expect(() => createLoader(indexed, { batchsize: 4 } as never)).toThrow(/Unknown option options\.batchsize/);
    expect(() => createLoader({ samples: [], classes: [] })).toThrow(/dataset\.samples/);
    expect(() => createLoader({ samples: [{ path: 'a.jpg', label: 3 }], classes: ['a'] })).toThrow(/dataset\.samples\[0\]\.label/);
  });
});

describe('createLoader() batches', () => {
  it('createLoader() - labels and indices stay aligned with the pixels of their files', async () => {
    const loader = createLoader(indexed, { ...small, batchSize: 16, dtype: 'uint8', normalize: false, workers: 2, seed: 4 });
    const seen: number[] = [];
    for await (const batch of loader.epoch(0)) {
      expect(batch.shape).toEqual([batch.labels.length, 24, 24, 3]);
      for (let k = 0; k < batch.labels.length; k++) {
        const at = k * 24 * 24 * 3 + (12 * 24 + 12) * 3;
        const index = colourIndex(batch.images[at]!, batch.images[at + 1]!);
        expect(index).toBe(batch.indices[k]);
        expect(batch.labels[k]).toBe(indexed.samples[index]!.label);
        seen.push(index);
      }
    }
    expect(seen.length).toBe(90);
    expect(new Set(seen).size).toBe(90);
    expect(seen).not.toEqual([...seen].sort((a, b) => a - b)); // shuffled in train mode
    await loader.close();
  });

  it('createLoader() - same bytes with 1 and 4 workers, whatever the prefetch', async () => {
    const run = async (workers: number, prefetch: number) => {
      const loader = createLoader(textured, { ...small, batchSize: 7, workers, prefetch, seed: 9 });
      const batches = await collect(loader.epoch(3));
      await loader.close();
      return batches;
    };
    const one = await run(1, 1);
    const four = await run(4, 5);
    expect(four.length).toBe(one.length);
    one.forEach((batch, b) => {
      expect(Buffer.from(four[b]!.images.buffer, four[b]!.images.byteOffset, four[b]!.images.byteLength).equals(Buffer.from(batch.images.buffer, batch.images.byteOffset, batch.images.byteLength))).toBe(true);
      expect(four[b]!.indices).toEqual(batch.indices);
    });
  });

  it('createLoader() - another epoch gives another order and other augmentations; the same epoch repeats', async () => {
    const loader = createLoader(textured, { ...small, batchSize: 40, workers: 2, seed: 1 });
    const [a] = await collect(loader.epoch(0));
    const [again] = await collect(loader.epoch(0));
    const [b] = await collect(loader.epoch(1));
    expect(again!.indices).toEqual(a!.indices);
    expect(again!.images).toEqual(a!.images);
    expect(b!.indices).not.toEqual(a!.indices);
    // The same image in both epochs gets different patches.
    const image = (batch: typeof a, index: number) => {
      const k = batch!.indices.indexOf(index);
      return batch!.images.slice(k * 24 * 24 * 3, (k + 1) * 24 * 24 * 3);
    };
    expect(image(b, 0)).not.toEqual(image(a, 0));
    await loader.close();
  });

  it('for await (const batch of loader) - one epoch per pass: epoch 0, then epoch 1, as epoch(e) gives them', async () => {
    const loader = createLoader(textured, { ...small, batchSize: 16, workers: 2, seed: 6 });
    const reference = createLoader(textured, { ...small, batchSize: 16, workers: 2, seed: 6 });
    for (const epoch of [0, 1]) {
      const passed: Int32Array[] = [];
      for await (const batch of loader) passed.push(batch.indices.slice());
      const expected = (await collect(reference.epoch(epoch))).map((batch) => batch.indices);
      expect(passed.length, `pass ${epoch} is one epoch of ${expected.length} batches`).toBe(expected.length);
      expect(passed).toEqual(expected);
    }
    await loader.close();
    await reference.close();
  });

  it("loader.epoch() - after close() throws the documented CLOSED error", async () => {
    const loader = createLoader(textured, { ...small, batchSize: 16, workers: 1 });
    await loader.close();
    expect(() => loader.epoch(0)).toThrow(expect.objectContaining({ code: 'CLOSED', name: 'PatchstreamError' }));
    expect(() => loader.stream(0)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('loader.epoch(e, { startBatch }) - the batches from startBatch are the tail of the full epoch, byte for byte; earlier ones are not decoded', async () => {
    const loader = createLoader(textured, { ...small, batchSize: 6, workers: 2, seed: 8 });
    const full = await collect(loader.epoch(3));
    expect(full.map((batch) => batch.labels.length)).toEqual([6, 6, 6, 6, 6, 6, 4]);
    const decodesBefore = loader.stats().decodes;
    const tail = await collect(loader.epoch(3, { startBatch: 4 }));
    expect(loader.stats().decodes - decodesBefore).toBe(6 + 6 + 4);
    expect(tail.map((batch) => batch.index)).toEqual([4, 5, 6]);
    tail.forEach((batch, b) => {
      const expected = full[4 + b]!;
      expect(batch.indices).toEqual(expected.indices);
      expect(batch.labels).toEqual(expected.labels);
      expect(batch.shape).toEqual(expected.shape);
      expect(bytesOf(batch.images).equals(bytesOf(expected.images)), `batch ${4 + b}`).toBe(true);
      expect(bytesOf(batch.affine).equals(bytesOf(expected.affine))).toBe(true);
    });
    expect(await collect(loader.epoch(3, { startBatch: 7 }))).toEqual([]);
    expect(() => loader.epoch(3, { startBatch: -1 })).toThrow(/options\.startBatch but received -1/);
    await loader.close();
  });

  it("createLoader({ mode: 'train', shuffle: false }) - batch.indices run 0..n-1 while crops and flips stay random, the same as shuffled", async () => {
    const path = await coordinateImage();
    const count = 24;
    const dataset = { samples: Array.from({ length: count }, () => ({ path, label: 0 })), classes: ['a'] };
    const options = { mode: 'train', rescale: 32, crop: 16, dtype: 'uint8', normalize: false, lighting: false, batchSize: 5, workers: 2, seed: 12 } as const;
    const patchBytes = 16 * 16 * 3;
    const patches = async (shuffle: boolean) => {
      const loader = createLoader(dataset, { ...options, shuffle });
      const batches = await collect(loader.epoch(1));
      await loader.close();
      const order = batches.flatMap((batch) => Array.from(batch.indices));
      const byIndex = new Map(batches.flatMap((batch) => Array.from(batch.indices, (index, k) => [index, batch.images.slice(k * patchBytes, (k + 1) * patchBytes)] as const)));
      return { order, byIndex };
    };
    const inOrder = await patches(false);
    expect(inOrder.order).toEqual(Array.from({ length: count }, (_, i) => i));
    // A patch's first two pixels give its crop offset, and whether it was mirrored (x runs backwards).
    const drawn = [...inOrder.byIndex.values()].map((patch) => {
      const [first, second, y] = [patch[0]! / 8, patch[3]! / 8, patch[1]! / 8];
      return second < first ? `${first - 15},${y} mirrored` : `${first},${y}`;
    });
    expect(new Set(drawn.map((d) => d.replace(' mirrored', ''))).size, drawn.join(' ')).toBeGreaterThan(count / 2);
    expect(drawn.filter((d) => d.endsWith('mirrored')).length, drawn.join(' ')).toBeGreaterThan(0);
    expect(drawn.filter((d) => !d.endsWith('mirrored')).length, drawn.join(' ')).toBeGreaterThan(0);
    // Shuffling changes the order only: every image gets the same patch either way.
    const shuffled = await patches(true);
    expect(shuffled.order).not.toEqual(inOrder.order);
    for (let index = 0; index < count; index++) expect(bytesOf(shuffled.byIndex.get(index)!).equals(bytesOf(inOrder.byIndex.get(index)!)), `image ${index}`).toBe(true);
  });

  it('createLoader() - dropLast, batch count and the short last batch', async () => {
    const loader = createLoader(indexed, { ...small, batchSize: 25, workers: 1, mode: 'centre' });
    expect(loader.length).toBe(4);
    const sizes = (await collect(loader.epoch(0))).map((b) => b.labels.length);
    expect(sizes).toEqual([25, 25, 25, 15]);
    await loader.close();
    const dropping = createLoader(indexed, { ...small, batchSize: 25, workers: 1, dropLast: true });
    expect((await collect(dropping.epoch(0))).map((b) => b.labels.length)).toEqual([25, 25, 25]);
    await dropping.close();
  });

  it('createLoader() - shards partition an epoch: no overlap, nothing lost', async () => {
    const all: number[] = [];
    for (let rank = 0; rank < 3; rank++) {
      const loader = createLoader(indexed, { ...small, batchSize: 8, workers: 1, seed: 2, shard: { rank, worldSize: 3 } });
      expect(loader.size).toBe(30);
      for await (const batch of loader.epoch(5)) all.push(...batch.indices);
      await loader.close();
    }
    expect(all.length).toBe(90);
    expect(new Set(all).size).toBe(90);
  });

  it("createLoader() - ten-crop gives the four corners, the centre, then each mirrored, per image", async () => {
    const path = await coordinateImage();
    const loader = createLoader({ samples: [{ path, label: 0 }, { path, label: 0 }], classes: ['a'] }, { rescale: 32, crop: 16, mode: 'ten-crop', dtype: 'uint8', normalize: false, batchSize: 2, workers: 1 });
    const [batch] = await collect(loader.epoch(0));
    expect(batch!.shape).toEqual([20, 16, 16, 3]);
    expect(batch!.labels.length).toBe(2);
    const first = (patch: number) => Array.from(batch!.images.subarray(patch * 768, patch * 768 + 2)).map((v) => v / 8);
    const expected = [[0, 0], [16, 0], [0, 16], [16, 16], [8, 8], [15, 0], [31, 0], [15, 16], [31, 16], [23, 8]];
    for (let patch = 0; patch < 20; patch++) expect(first(patch)).toEqual(expected[patch % 10]);
    await loader.close();
  });

  it('createLoader() - NCHW layout and uint8 offsets reproduce the float32 output', async () => {
    const floats = createLoader(textured, { ...small, batchSize: 40, workers: 2, seed: 5, layout: 'NCHW' });
    const bytes = createLoader(textured, { ...small, batchSize: 40, workers: 2, seed: 5, layout: 'NCHW', dtype: 'uint8' });
    const [f] = await collect(floats.epoch(2));
    const [u] = await collect(bytes.epoch(2));
    expect(f!.shape).toEqual([40, 3, 24, 24]);
    expect(u!.indices).toEqual(f!.indices);
    expect(u!.offsets, 'the deprecated alias is the same array').toBe(u!.affine);
    let worst = 0;
    const plane = 24 * 24;
    for (let k = 0; k < 40; k++) {
      for (let c = 0; c < 3; c++) {
        const scale = u!.affine[k * 6 + c]!;
        const bias = u!.affine[k * 6 + 3 + c]!;
        for (let i = 0; i < plane; i++) {
          const at = k * 3 * plane + c * plane + i;
          worst = Math.max(worst, Math.abs(u!.images[at]! * scale + bias - f!.images[at]!));
        }
      }
    }
    expect(worst).toBeLessThan(1e-5);
    await floats.close();
    await bytes.close();
  });
});

describe('createLoader() backpressure and lifecycle', () => {
  it('createLoader() - a consumer that stops pulling holds the loader at prefetch batches decoded beyond the one it holds; each request lets one more start', async () => {
    const prefetch = 2;
    const batchSize = 4;
    // The consumer takes `taken` batches, then holds the last one and asks for nothing more.
    for (const taken of [1, 3]) {
      const loader = createLoader(textured, { ...small, batchSize, workers: 2, prefetch, seed: 2 });
      expect(loader.length).toBe(10);
      const iterator = loader.epoch(0);
      for (let b = 0; b < taken; b++) expect((await iterator.next()).done).toBe(false);
      // While the consumer holds a batch, `prefetch` more are decoded or decoding.
      expect(loader.stats().maxAhead).toBe(prefetch);
      expect(loader.stats().ahead).toBe(prefetch);
      // One ring of prefetch + 1 buffers (pixels + affine rows), allocated once and all used.
      expect(loader.stats().bufferBytes).toBe((prefetch + 1) * (4 * 24 * 24 * 3 * 4 + 4 * 24));
      // close() waits for every decode already submitted: what was decoded by then is all the
      // work the loader did for this consumer. Unbounded, it would have decoded all 40 images.
      await loader.close();
      expect(loader.stats().decodes, `after taking ${taken} batch(es)`).toBe((taken + prefetch) * batchSize);
      await expect(iterator.next()).rejects.toMatchObject({ code: 'CLOSED' });
    }
  });

  it('createLoader() - break after 2 batches leaves no pending task or timer; close() ends every thread', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const loader = createLoader(textured, { ...small, batchSize: 4, workers: 2, prefetch: 3 });
    let seen = 0;
    for await (const batch of loader.epoch(0)) {
      void batch;
      if (++seen === 2) break;
    }
    expect(loader.stats().ahead).toBe(0);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(before.filter((r) => r === 'Timeout').length);
    await loader.close();
    expect(loader.stats().threads).toBe(0);
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    expect(after.filter((r) => r !== 'Timeout').sort()).toEqual(before.filter((r) => r !== 'Timeout').sort());
  });

  it('createLoader() - an aborted signal rejects the iteration with its reason', async () => {
    const controller = new AbortController();
    const loader = createLoader(textured, { ...small, batchSize: 4, workers: 1 });
    const reason = new Error('stop now');
    let seen = 0;
    await expect((async () => {
      for await (const batch of loader.epoch(0, { signal: controller.signal })) {
        void batch;
        if (++seen === 2) controller.abort(reason);
      }
    })()).rejects.toBe(reason);
    expect(seen).toBe(2);
    await loader.close();
  });

  it('createLoader({ signal }) - aborting ends the epoch being iterated with the reason, and every epoch after it', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const loader = createLoader(textured, { ...small, batchSize: 4, workers: 1, signal: controller.signal });
    let seen = 0;
    const error = await outcome(loader.epoch(0), () => {
      if (++seen === 2) controller.abort(reason);
    });
    expect(error).toBe(reason);
    expect(seen).toBe(2);
    expect(loader.stats().ahead).toBe(0);
    expect(await outcome(loader.epoch(1))).toBe(reason);
    expect(await outcome(loader)).toBe(reason);
    await loader.close();
    expect(loader.stats().threads).toBe(0);
  });

  it('loader[Symbol.asyncDispose]() - closes the loader: threads end, the epoch being iterated and epoch() throw CLOSED', async () => {
    const loader = createLoader(textured, { ...small, batchSize: 8, workers: 2 });
    const iterator = loader.epoch(0);
    expect((await iterator.next()).done).toBe(false);
    expect(loader.stats().threads).toBe(2);
    await loader[Symbol.asyncDispose]();
    expect(loader.stats().threads).toBe(0);
    expect(loader.stats().bufferBytes).toBe(0);
    await expect(iterator.next()).rejects.toMatchObject({ code: 'CLOSED', name: 'PatchstreamError' });
    expect(() => loader.epoch(1)).toThrow(expect.objectContaining({ code: 'CLOSED', name: 'PatchstreamError' }));
  });

  it('loader.stream() - pipeline() into a consumer gets the same batches as epoch()', async () => {
    const loader = createLoader(textured, { ...small, batchSize: 6, workers: 2, seed: 3 });
    const expected = await collect(loader.epoch(1));
    const received: Array<{ images: Float32Array | Uint8Array; indices: Int32Array }> = [];
    await pipeline(loader.stream(1), new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(batch, _encoding, callback) {
        received.push(batch);
        setTimeout(callback, 5);
      },
    }));
    expect(received.length).toBe(expected.length);
    received.forEach((batch, b) => {
      expect(batch.indices).toEqual(expected[b]!.indices);
      expect(batch.images).toEqual(expected[b]!.images);
    });
    expect(loader.stats().maxAhead).toBeLessThanOrEqual(2);
    await loader.close();
  });
});

describe('createLoader() errors', () => {
  it("createLoader() - onError 'throw' names the file, the stage and the reason", async () => {
    const broken = join(folder.dir, 'broken-truncated.png');
    const good = indexed.samples[0]!.path;
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(textured.samples[1]!.path);
    writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const loader = createLoader({ samples: [{ path: good, label: 0 }, { path: broken, label: 1 }], classes: ['a', 'b'] }, { ...small, batchSize: 2, workers: 1 });
    const error = await (async () => {
      try {
        for await (const batch of loader.epoch(0)) void batch;
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(SampleError);
    const sampleError = error as SampleError;
    expect(sampleError.path).toBe(broken);
    expect(sampleError.code).toBe('DECODE');
    expect(sampleError.stage).toBe('decode');
    expect(sampleError.message).toMatch(/^DECODE .*broken-truncated\.png \(stage decode\): .+/);
    expect(loader.stats().threads).toBe(0);
    await loader.close();
  });

  it("createLoader() - onError 'skip' drops bad samples, keeps labels aligned, counts reasons, enforces maxSkipped", async () => {
    const dir = join(folder.dir, 'skip');
    const dataset = await indexDataset(dir, 20);
    writeFileSync(join(dir, 'empty.png'), '');
    writeFileSync(join(dir, 'text.png'), 'this is not an image at all, just text');
    const gone = join(dir, 'gone.png');
    copyFileSync(dataset.samples[0]!.path, gone);
    const samples = [...dataset.samples];
    samples.splice(3, 0, { path: join(dir, 'empty.png'), label: 1 });
    samples.splice(11, 0, { path: join(dir, 'text.png'), label: 2 });
    samples.splice(15, 0, { path: gone, label: 3 });
    unlinkSync(gone);
    const withBroken = { ...dataset, samples };
    const loader = createLoader(withBroken, { ...small, batchSize: 8, workers: 2, dtype: 'uint8', normalize: false, onError: 'skip', mode: 'centre' });
    let total = 0;
    for await (const batch of loader.epoch(0)) {
      for (let k = 0; k < batch.labels.length; k++) {
        const at = k * 24 * 24 * 3;
        const index = colourIndex(batch.images[at]!, batch.images[at + 1]!);
        expect(samples[batch.indices[k]!]!.path).toBe(dataset.samples[index]!.path);
        expect(batch.labels[k]).toBe(dataset.samples[index]!.label);
      }
      total += batch.labels.length;
    }
    expect(total).toBe(20);
    const stats = loader.stats();
    expect(stats.skipped).toEqual({ EMPTY: 1, UNSUPPORTED: 1, IO: 1 });
    expect(stats.skippedFiles.map((f) => f.path).sort()).toEqual([gone, join(dir, 'empty.png'), join(dir, 'text.png')].sort());
    expect(stats.skippedFiles.find((f) => f.code === 'IO')!.reason).toMatch(/ENOENT/);
    await loader.close();

    const strict = createLoader(withBroken, { ...small, batchSize: 8, workers: 1, onError: 'skip', maxSkipped: 2, mode: 'centre' });
    await expect((async () => {
      for await (const batch of strict.epoch(0)) void batch;
    })()).rejects.toBeInstanceOf(SkipBudgetError);
    await strict.close();
  });

  it('createLoader() - a worker that throws or exits is replaced and only its sample is attributed', async () => {
    const loader = createLoaderWithFaults(indexed, { ...small, batchSize: 10, workers: 2, onError: 'skip', mode: 'centre' }, { 7: 'throw', 23: 'exit' });
    let total = 0;
    for await (const batch of loader.epoch(0)) {
      total += batch.labels.length;
      expect(batch.indices).not.toContain(7);
      expect(batch.indices).not.toContain(23);
    }
    expect(total).toBe(88);
    const stats = loader.stats();
    expect(stats.skipped).toEqual({ WORKER: 2 });
    expect(stats.skippedFiles.map((f) => f.index).sort()).toEqual([23, 7].sort());
    expect(stats.skippedFiles.find((f) => f.index === 23)!.reason).toMatch(/exit/i);
    expect(stats.replacedWorkers).toBeGreaterThanOrEqual(2);
    expect(stats.threads).toBe(2);
    await loader.close();
  });

  it('createLoader() - a decode that hangs fails with TIMEOUT instead of hanging', async () => {
    const loader = createLoaderWithFaults(indexed, { ...small, batchSize: 6, workers: 1, onError: 'skip', mode: 'centre', sampleTimeout: 0.5 }, { 4: 'hang' });
    let total = 0;
    for await (const batch of loader.epoch(0)) total += batch.labels.length;
    expect(total).toBe(89);
    expect(loader.stats().skipped).toEqual({ TIMEOUT: 1 });
    await loader.close();
  }, 60_000);
});
