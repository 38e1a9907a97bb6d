/**
 * webDataset(): a loader over packed shards, local and over HTTP (nginx from Debian, started on
 * 127.0.0.1 by the test, and node:http servers that misbehave), byte-identical to the folder loader.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { packShards } from '../../src/dataset/pack.js';
import { webDataset } from '../../src/dataset/webdataset.js';
import type { Dataset } from '../../src/dataset/types.js';
import { DatasetError, SampleError } from '../../src/errors.js';
import { createLoader } from '../../src/loader/loader.js';
import type { LoaderOptions } from '../../src/options.js';
import { readHttpRange } from '../../src/stages/read-range.js';
import { fileOf, findNginx, serveRange, startNginx, startServer, type Nginx } from '../http-servers.js';
import { temporaryFolder } from '../helpers.js';
import { classFolder } from './class-folder.js';

const nginxBinary = findNginx();
const folder = temporaryFolder();
const data = join(folder.dir, 'data');
const shards = join(folder.dir, 'shards');
let dataset: Dataset;
let nginx: Nginx | null = null;

const options: LoaderOptions = { rescale: 24, crop: 20, batchSize: 9, workers: 2, seed: 5, mode: 'train' };

/** Every batch of an epoch: images as base64, labels and indices. */
async function epochOf(source: Dataset, extra: LoaderOptions = {}, epoch = 1) {
  const loader = createLoader(source, { ...options, ...extra });
  const batches: Array<{ images: string; labels: number[]; indices: number[] }> = [];
  try {
    for await (const batch of loader.epoch(epoch)) {
      batches.push({ images: Buffer.from(batch.images.buffer, batch.images.byteOffset, batch.images.byteLength).toString('base64'), labels: [...batch.labels], indices: [...batch.indices] });
    }
  } finally {
    await loader.close();
  }
  return batches;
}

beforeAll(async () => {
  await classFolder(data, 40);
  dataset = await imageFolder(data);
  await packShards(dataset, shards, { shardSize: 16 });
  if (nginxBinary) nginx = await startNginx(nginxBinary, folder.dir, join(folder.dir, 'nginx'));
}, 60_000);
afterAll(async () => {
  await nginx?.stop();
  folder.remove();
});

describe('webDataset() local', () => {
  it('webDataset() - same samples, labels and order as imageFolder on the packed files; batches byte-identical', async () => {
    const wds = await webDataset(shards);
    expect(wds.classes).toEqual(dataset.classes);
    expect(wds.samples.map((s) => s.label)).toEqual(dataset.samples.map((s) => s.label));
    expect(wds.samples[17]!.path).toBe(`${join(shards, 'train-000001.tar')}#000000017.${dataset.samples[17]!.path.endsWith('.png') ? 'png' : 'jpg'}`);
    const expected = await epochOf(dataset);
    expect(await epochOf(wds)).toEqual(expected);
    expect(await epochOf(await webDataset(join(shards, 'index.json')), { workers: 1 })).toEqual(expected);
  });

  it('webDataset() - a missing or bad index is an error naming the file; an index cannot point outside its folder', async () => {
    await expect(webDataset(join(folder.dir, 'nowhere'))).rejects.toThrow(/Cannot read WebDataset index .*nowhere: ENOENT/);
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(folder.dir, 'evil'), { recursive: true });
    writeFileSync(join(folder.dir, 'evil', 'index.json'), JSON.stringify({ classes: ['a'], shardlist: [{ url: '../shards/train-000000.tar', nsamples: 1, members: ['x.jpg'], offsets: [0], lengths: [10], labels: [3] }] }));
    const error = await webDataset(join(folder.dir, 'evil')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).code).toBe('BAD_INDEX');
    expect((error as Error).message).toMatch(/shardlist\[0\]\.url '\.\.\/shards\/train-000000\.tar': a local shard must be a relative path inside the index folder/);
  });
});

describe.skipIf(!nginxBinary)(`webDataset() over nginx${nginxBinary ? '' : ' [SKIPPED: nginx not found; install Debian nginx-light]'}`, () => {
  it('webDataset() - shards served by nginx with Range requests give the folder loader\'s batches, byte for byte', async () => {
    const wds = await webDataset(`${nginx!.url}/shards/index.json`);
    expect(wds.samples[0]!.path).toBe(`${nginx!.url}/shards/train-000000.tar#000000000.jpg`);
    expect(await epochOf(wds)).toEqual(await epochOf(dataset));
    const ranged = nginx!.requests().filter((line) => line.includes('.tar HTTP') && / 206 /.test(line));
    expect(ranged.length).toBeGreaterThan(0);
  });

  it('webDataset() - in file order, the samples of a task are read with a few joined requests, not one each', async () => {
    const before = nginx!.requests().length;
    const wds = await webDataset(`${nginx!.url}/shards/index.json`);
    expect(await epochOf(wds, { mode: 'centre', shuffle: false, batchSize: 20 })).toEqual(await epochOf(dataset, { mode: 'centre', shuffle: false, batchSize: 20 }));
    const shardRequests = nginx!.requests().slice(before).filter((line) => line.includes('.tar HTTP'));
    // 40 samples in 3 shards, 2 batches cut into tasks: far fewer requests than samples.
    expect(shardRequests.length).toBeLessThanOrEqual(12);
    expect(shardRequests.length).toBeGreaterThanOrEqual(3);
    // gapBytes 0 and no adjacent samples (other members sit between them): one request per sample.
    const countBefore = nginx!.requests().length;
    const apart = await webDataset(`${nginx!.url}/shards/index.json`, { gapBytes: 0 });
    await epochOf(apart, { mode: 'centre', shuffle: false, batchSize: 20 });
    expect(nginx!.requests().slice(countBefore).filter((line) => line.includes('.tar HTTP')).length).toBe(40);
  });

  it("webDataset() - with cache: 'memory' the second epoch reads no shard bytes and gives the folder loader's batches", async () => {
    const wds = await webDataset(`${nginx!.url}/shards/index.json`);
    const loader = createLoader(wds, { ...options, cache: 'memory' });
    try {
      for await (const batch of loader.epoch(0)) void batch;
      const before = nginx!.requests().length;
      const second: string[] = [];
      for await (const batch of loader.epoch(1)) second.push(Buffer.from(batch.images.buffer, batch.images.byteOffset, batch.images.byteLength).toString('base64'));
      expect(nginx!.requests().length).toBe(before);
      expect(second).toEqual((await epochOf(dataset, { cache: 'memory' })).map((b) => b.images));
    } finally {
      await loader.close();
    }
  });

  it('webDataset() - a missing shard fails its samples with the URL and the HTTP status; a missing index names its URL and status', async () => {
    const wds = await webDataset(`${nginx!.url}/shards/index.json`);
    renameSync(join(shards, 'train-000001.tar'), join(shards, 'moved.tar'));
    try {
      const error = await epochOf(wds, { shuffle: false, workers: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SampleError);
      expect((error as SampleError).code).toBe('IO');
      expect((error as SampleError).path).toBe(`${nginx!.url}/shards/train-000001.tar#000000016.${dataset.samples[16]!.path.endsWith('.png') ? 'png' : 'jpg'}`);
      expect((error as SampleError).reason).toMatch(new RegExp(`^HTTP 404 Not Found for GET ${nginx!.url}/shards/train-000001.tar \\(bytes=\\d+-\\d+\\) \\(shard missing\\?\\)`));
    } finally {
      renameSync(join(shards, 'moved.tar'), join(shards, 'train-000001.tar'));
    }
    await expect(webDataset(`${nginx!.url}/nothing/index.json`, { retries: 0 })).rejects.toThrow(`Cannot read WebDataset index ${nginx!.url}/nothing/index.json: HTTP 404 Not Found`);
  });
});

describe('webDataset() over servers that misbehave', () => {
  it('webDataset() - a server that cuts every body mid-way once is survived: the next attempt resumes at the byte it stopped', async () => {
    const cutOnce = new Set<string>();
    const ranges: string[] = [];
    const server = await startServer((request, response) => {
      const path = fileOf(folder.dir, request);
      if (!path) return void response.writeHead(404).end();
      if (!path.endsWith('.tar')) return void serveRange(path, request, response);
      ranges.push(request.headers.range ?? '');
      serveRange(path, request, response, (start, end) => {
        // Once per range: the retry (same end, later start) gets the rest.
        const key = `${request.url} ${end}`;
        if (cutOnce.has(key) || end - start < 64) return null;
        cutOnce.add(key);
        return Math.floor((end - start + 1) / 2);
      });
    });
    try {
      const wds = await webDataset(`${server.url}/shards/index.json`, { retries: 3 });
      expect(await epochOf(wds)).toEqual(await epochOf(dataset));
      expect(cutOnce.size).toBeGreaterThan(5);
      // Each cut request was followed by one asking for the second half only.
      const resumed = ranges.filter((range, i) => i > 0 && ranges.some((earlier) => {
        const [a, b] = earlier.slice(6).split('-').map(Number);
        const [c, d] = range.slice(6).split('-').map(Number);
        return d === b && c === a! + Math.floor((b! - a! + 1) / 2);
      }));
      expect(resumed.length).toBe(cutOnce.size);
    } finally {
      await server.close();
    }
  });

  it('readHttpRange() - bounded: a server that never answers times out per request; one that keeps cutting fails after the retries, naming the URL', async () => {
    const silent = await startServer(() => undefined);
    const cutting = await startServer((request, response) => {
      response.writeHead(206, { 'content-length': 1000, 'content-range': `bytes ${request.headers.range!.slice(6).split('-')[0]}-999/1000` });
      response.write(Buffer.alloc(10));
      setTimeout(() => response.socket?.destroy(), 5);
    });
    const ignoring = await startServer((_request, response) => response.writeHead(200, { 'content-length': 4 }).end('abcd'));
    try {
      const settings = { timeoutMs: 200, retries: 1, headers: {} };
      const timedOut = await readHttpRange(`${silent.url}/a.tar`, 0, 1000, settings);
      expect(timedOut).toMatchObject({ ok: false, failure: { code: 'IO', stage: 'read' } });
      expect(!timedOut.ok && timedOut.failure.reason).toBe(`GET ${silent.url}/a.tar (bytes=0-999) failed after 2 attempts: no complete answer within 200 ms (timeoutMs)`);
      const cut = await readHttpRange(`${cutting.url}/b.tar`, 0, 1000, { ...settings, retries: 2 });
      expect(!cut.ok && cut.failure.reason).toMatch(new RegExp(`^GET ${cutting.url}/b\\.tar \\(bytes=0-999\\) failed after 3 attempts: body cut after 30 of 1000 bytes`));
      const whole = await readHttpRange(`${ignoring.url}/c.tar`, 0, 4, settings);
      expect(!whole.ok && whole.failure.reason).toMatch(/^HTTP 200 OK for GET .*c\.tar \(bytes=0-3\): the server ignored the Range header/);
    } finally {
      await Promise.all([silent.close(), cutting.close(), ignoring.close()]);
    }
  });
});
