/**
 * Loader faults beyond test/loader/loader.test.ts (which covers a worker that throws, exits or
 * hangs under onError 'skip', break after 2 batches, and an aborted signal between batches):
 * worker faults under 'throw', a consumer that throws, many open/break/close cycles, abort
 * with the prefetch window full, and close() while an epoch is being iterated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader, createLoaderWithFaults, type Loader } from '../../src/loader/loader.js';
import { PatchstreamError, SampleError } from '../../src/errors.js';
import type { Dataset } from '../../src/dataset/types.js';
import type { Batch } from '../../src/loader/batch.js';
import { colourIndex, indexDataset, outcome, temporaryFolder } from '../helpers.js';

const folder = temporaryFolder('patchstream-faults-');
let indexed: Dataset;

beforeAll(async () => {
  indexed = await indexDataset(join(folder.dir, 'indexed'), 60);
});
afterAll(() => folder.remove());

/** Raw uint8 pixels, so the colour of each image names its dataset index. */
const identity = { rescale: 32, crop: 24, dtype: 'uint8', normalize: false } as const;

/**
 * OS threads of this process named `node` (Linux): the main thread, V8 and libuv helpers and
 * one per worker thread. libvips keeps its own process-wide thread set (`libvips worker`),
 * which grows lazily to a few idle threads and is not ours to count.
 */
function osThreads(): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return null; // no /proc here
  }
  return tasks.filter((task) => {
    try {
      return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() !== 'libvips worker';
    } catch {
      return false; // the thread ended between the listing and the read
    }
  }).length;
}

/**
 * The OS thread count once it stops changing: a worker thread's 'exit' event (which close()
 * awaits) can come just before the kernel removes the thread. Polls for at most 2 s.
 */
async function settledOsThreads(expected: number): Promise<number | null> {
  let count = osThreads();
  for (let waited = 0; count !== expected && waited < 2000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    count = osThreads();
  }
  return count;
}

/** Handles that keep the event loop alive, without vitest's own timers and pipes to the runner. */
function activeResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'TTYWrap').sort();
}

/** `global.gc`, or one obtained at run time (the default suite runs without --expose-gc). */
function garbageCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

/** Every image of a batch has the colour of the dataset index the batch says it is, and its label. */
function expectAligned(batch: Batch, dataset: Dataset): void {
  const [, side] = batch.shape;
  for (let k = 0; k < batch.labels.length; k++) {
    const at = k * side * side * 3 + ((side >> 1) * side + (side >> 1)) * 3;
    expect(colourIndex(batch.images[at]!, batch.images[at + 1]!)).toBe(batch.indices[k]);
    expect(batch.labels[k]).toBe(dataset.samples[batch.indices[k]!]!.label);
  }
}

/** Runs a whole epoch, checking every batch; returns the indices seen. */
async function wholeEpoch(loader: Loader, epoch: number, dataset: Dataset): Promise<number[]> {
  const seen: number[] = [];
  for await (const batch of loader.epoch(epoch)) {
    expectAligned(batch, dataset);
    seen.push(...batch.indices);
  }
  return seen;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("createLoader() - worker faults under onError 'throw'", () => {
  for (const [fault, index, reason] of [['throw', 7, /injected fault: throw at sample 7/], ['exit', 23, /exit/i]] as const) {
    it(`createLoader() - a worker that ${fault}s at sample ${index} rejects the epoch with WORKER naming the sample, and closes the pool`, async () => {
      const threadsBefore = osThreads();
      const loader = createLoaderWithFaults(indexed, { ...identity, mode: 'centre', batchSize: 10, workers: 2 }, { [index]: fault });
      let delivered = 0;
      const error = await outcome(loader.epoch(0), (batch) => {
        expectAligned(batch, indexed);
        delivered += batch.labels.length;
      });
      expect(error).toBeInstanceOf(SampleError);
      const sampleError = error as SampleError;
      expect(sampleError.code).toBe('WORKER');
      expect(sampleError.stage).toBe('worker');
      expect(sampleError.index).toBe(index);
      expect(sampleError.path).toBe(indexed.samples[index]!.path);
      expect(sampleError.label).toBe(indexed.samples[index]!.label);
      expect(sampleError.reason).toMatch(reason);
      expect(sampleError.message.startsWith(`WORKER ${indexed.samples[index]!.path} (stage worker): `)).toBe(true);
      // Unshuffled (centre mode): every batch before the sample's batch arrived whole, none after.
      expect(delivered).toBe(Math.floor(index / 10) * 10);
      expect(loader.stats().threads).toBe(0);
      if (threadsBefore !== null) expect(await settledOsThreads(threadsBefore)).toBe(threadsBefore);
      // The next epoch starts a new pool and fails the same way: the fault is data, not luck.
      const again = await outcome(loader.epoch(1));
      expect((again as SampleError).index).toBe(index);
      await loader.close();
      expect(loader.stats().threads).toBe(0);
    });
  }
});

describe('createLoader() - consumers that throw, break, abort or close', () => {
  it('createLoader() - a consumer that throws inside for await: the error propagates, nothing leaks, the next epoch is whole', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 4, seed: 3 });
      const mine = new Error('consumer failed');
      let seen = 0;
      const error = await outcome(loader.epoch(0), () => {
        if (++seen === 3) throw mine;
      });
      expect(error).toBe(mine);
      expect(seen).toBe(3);
      const afterThrow = loader.stats();
      expect(afterThrow.ahead).toBe(0);
      expect(afterThrow.threads).toBe(2); // the pool is kept for the next epoch
      await settle(100);
      expect(loader.stats().decodes).toBe(afterThrow.decodes); // nothing was still decoding
      const seenNext = await wholeEpoch(loader, 1, indexed);
      expect(seenNext.sort((a, b) => a - b)).toEqual(indexed.samples.map((_, i) => i));
      // Throwing again, then closing at once, closes cleanly.
      expect(await outcome(loader.epoch(2), () => {
        throw mine;
      })).toBe(mine);
      await loader.close();
      expect(loader.stats().threads).toBe(0);
      await settle(50);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('createLoader() - 200 open/break cycles (a full close and reopen every 20th): threads, handles and heap back to baseline', async () => {
    const gc = garbageCollector();
    const threadsBefore = osThreads();
    const resourcesBefore = activeResources();
    let loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 3 });
    let heapAt20 = 0;
    let buffersAt20 = 0;
    for (let cycle = 1; cycle <= 200; cycle++) {
      let taken = 0;
      for await (const batch of loader.epoch(cycle)) {
        expectAligned(batch, indexed);
        if (++taken === 1 + (cycle % 3)) break;
      }
      expect(loader.stats().ahead).toBe(0);
      expect(loader.stats().threads).toBe(2);
      if (cycle % 20 === 0) {
        await loader.close();
        expect(loader.stats().threads).toBe(0);
        if (threadsBefore !== null) expect(await settledOsThreads(threadsBefore), `OS threads after close at cycle ${cycle}`).toBe(threadsBefore);
        expect(activeResources(), `active handles after close at cycle ${cycle}`).toEqual(resourcesBefore);
        if (cycle === 20 && gc) {
          gc();
          heapAt20 = process.memoryUsage().heapUsed;
          buffersAt20 = process.memoryUsage().arrayBuffers;
        }
        if (cycle < 200) loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 3 });
      }
    }
    if (gc) {
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      const heapGrowth = (heapUsed - heapAt20) / 2 ** 20;
      const bufferGrowth = (arrayBuffers - buffersAt20) / 2 ** 20;
      console.log(`200 cycles: heapUsed ${(heapAt20 / 2 ** 20).toFixed(1)} -> ${(heapUsed / 2 ** 20).toFixed(1)} MB, arrayBuffers ${(buffersAt20 / 2 ** 20).toFixed(2)} -> ${(arrayBuffers / 2 ** 20).toFixed(2)} MB`);
      // 180 cycles after the first measurement: even 20 KB kept per cycle would show as 3.5 MB.
      expect(heapGrowth).toBeLessThan(2);
      expect(bufferGrowth).toBeLessThan(1);
    }
  });

  it('createLoader() - abort with the prefetch window full: rejects with the reason, work in flight is drained, the ring is intact next epoch', async () => {
    const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 4, seed: 5 });
    const controller = new AbortController();
    const reason = new Error('stop in the window');
    const iterator = loader.epoch(0, { signal: controller.signal });
    expect((await iterator.next()).done).toBe(false);
    expect((await iterator.next()).done).toBe(false);
    // Batches 2..5 are scheduled; ask for the next one and abort before it can arrive.
    const pending = iterator.next();
    expect(loader.stats().ahead).toBeGreaterThanOrEqual(3);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const stopped = loader.stats();
    expect(stopped.ahead).toBe(0);
    expect(stopped.images).toBe(8);
    await settle(100);
    expect(loader.stats().decodes).toBe(stopped.decodes);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    // Abort while the consumer holds a batch: the next request rejects with the reason.
    const second = new AbortController();
    const held = loader.epoch(1, { signal: second.signal });
    expect((await held.next()).done).toBe(false);
    second.abort(reason);
    await expect(held.next()).rejects.toBe(reason);
    // The buffers the aborted batches were written into are reused: nothing stale in them.
    const seen = await wholeEpoch(loader, 2, indexed);
    expect(seen.sort((a, b) => a - b)).toEqual(indexed.samples.map((_, i) => i));
    await loader.close();
  });

  it('createLoader() - abort while a decode hangs: rejects with the reason once the watchdog stops the sample, not never', async () => {
    // One sample per batch (and per task), so the watchdog fires once, not again on the per-sample retry.
    const loader = createLoaderWithFaults(indexed, { ...identity, batchSize: 1, workers: 1, prefetch: 2, mode: 'centre', sampleTimeout: 0.5 }, { 5: 'hang' });
    const controller = new AbortController();
    const reason = new Error('give up');
    const iterator = loader.epoch(0, { signal: controller.signal });
    for (let b = 0; b < 5; b++) expect((await iterator.next()).done).toBe(false);
    const pending = iterator.next(); // batch 5 is the hanging sample 5
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    await expect(pending).rejects.toBe(reason);
    // The watchdog period is (ceil(sampleTimeout) + 2) s = 3 s, checked every 0.75 s: generous bound.
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(loader.stats().ahead).toBe(0);
    expect(loader.stats().replacedWorkers).toBe(1);
    await loader.close();
    expect(loader.stats().threads).toBe(0);
  }, 30_000);
});

describe('loader.close() during an epoch', () => {
  it('loader.close() - called from outside while an epoch is iterated: the iteration ends with a clear error, close() resolves, threads end', async () => {
    const threadsBefore = osThreads();
    const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 3 });
    let seen = 0;
    let closing: Promise<void> | null = null;
    const error = await outcome(loader.epoch(0), (batch) => {
      expectAligned(batch, indexed);
      if (++seen === 2) closing = loader.close();
    });
    expect(error).toBeInstanceOf(PatchstreamError);
    expect(error).toMatchObject({ code: 'CLOSED', message: expect.stringMatching(/closed/) });
    expect(seen).toBe(2);
    await closing;
    expect(loader.stats().threads).toBe(0);
    if (threadsBefore !== null) expect(await settledOsThreads(threadsBefore)).toBe(threadsBefore);
    expect(() => loader.epoch(1)).toThrow(/closed/);
  });

  it('loader.close() - awaited inside the for await body returns, and the loop then ends with a clear error', async () => {
    const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 3 });
    // Written as a trainer would: stop early by closing inside the loop.
    const run = (async () => {
      let count = 0;
      for await (const batch of loader.epoch(1)) {
        void batch;
        if (++count === 2) await loader.close();
      }
      return count;
    })();
    await expect(run).rejects.toMatchObject({ code: 'CLOSED' });
    expect(loader.stats().threads).toBe(0);
  });

  it('loader.close() - with an epoch created but never iterated, and with one holding a batch, resolves at once', async () => {
    const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 2, prefetch: 3 });
    const unstarted = loader.epoch(0);
    const holding = loader.epoch(1);
    expect((await holding.next()).done).toBe(false);
    await loader.close();
    expect(loader.stats().threads).toBe(0);
    await expect(unstarted.next()).rejects.toThrow(/closed/);
    await expect(holding.next()).rejects.toThrow(/closed/);
    // Closing twice is fine.
    await loader.close();
  });

  it('loader.close() - while the consumer waits for a batch: the wait ends (batch or clear error), close() resolves', async () => {
    const loader = createLoader(indexed, { ...identity, batchSize: 4, workers: 1, prefetch: 2 });
    const iterator = loader.epoch(0);
    expect((await iterator.next()).done).toBe(false);
    const pending = iterator.next();
    const closing = loader.close();
    const result = await pending.then((value) => ({ value }), (error: unknown) => ({ error }));
    await closing;
    expect(loader.stats().threads).toBe(0);
    if ('error' in result) {
      expect((result.error as Error).message).toMatch(/closed/);
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    } else {
      await expect(iterator.next()).rejects.toThrow(/closed/);
    }
  });
});
