/**
 * What reading samples from WebDataset shards costs, locally and over HTTP (nginx on 127.0.0.1,
 * Range requests), next to the ImageFolder baseline measured in the same process, passes
 * interleaved, medians reported.
 *
 *   npm run build && node scripts/make-bench-set.mjs
 *   npx tsx bench/webdataset-http.ts [dir] [--images 1000] [--passes 5] [--workers 2]
 *
 * Part 1, bytes only (main thread, 6 reads in flight): per-sample microseconds to get an image's
 * bytes from its own file, from a local shard by offset, over HTTP one request per sample, and
 * over HTTP with a task's samples joined (file order, 32 samples a task, as the loader sends).
 * Part 2, the whole loader (decode + augment in the workers): images/s from the folder, local
 * shards and HTTP shards, shuffled (train) and in file order (centre).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { imageFolder } from '../src/dataset/image-folder.js';
import { packShards } from '../src/dataset/pack.js';
import type { Dataset } from '../src/dataset/types.js';
import { webDataset } from '../src/dataset/webdataset.js';
import { createLoader } from '../src/loader/loader.js';
import type { LoaderOptions } from '../src/options.js';
import { readRange, TaskRanges } from '../src/stages/read-range.js';
import { findNginx, startNginx } from '../test/http-servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string', default: '1000' }, passes: { type: 'string', default: '5' }, workers: { type: 'string', default: '2' } },
});
const dir = positionals[0] ?? '.bench-data/imagenet-like';
const passes = Number(values.passes);
const workers = Number(values.workers);
const full = await imageFolder(dir);
const folder: Dataset = { ...full, samples: full.samples.slice(0, Number(values.images)) };
const work = mkdtempSync(join(tmpdir(), 'patchstream-wds-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const packed = await packShards(folder, join(work, 'shards'), { shardSize: 250 });
const nginxBinary = findNginx();
if (!nginxBinary) throw new Error('bench needs nginx (Debian nginx-light)');
const nginx = await startNginx(nginxBinary, work, join(work, 'nginx'));
const local = await webDataset(join(work, 'shards'));
const http = await webDataset(`${nginx.url}/shards/index.json`);
const httpApart = await webDataset(`${nginx.url}/shards/index.json`, { gapBytes: 0 });
console.log(`${dir}: ${folder.samples.length} images, ${(packed.bytes / 2 ** 20).toFixed(1)} MiB in ${packed.shards} shards; nginx on ${nginx.url}; ${passes} passes, interleaved; node ${process.version}`);

async function limited(count: number, lanes: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < count) await work(next++);
  }));
}
const n = folder.samples.length;
const bytesOnly: Record<string, (() => Promise<void>)> = {
  'own file (fs.readFile)': () => limited(n, 6, async (i) => void (await readFile(folder.samples[i]!.path))),
  'local shard, by offset': () => limited(n, 6, async (i) => {
    const s = local.samples[i]!.source!;
    const r = await readRange(local.shards, s.shard, s.offset, s.offset + s.length);
    if (!r.ok) throw new Error(r.failure.reason);
  }),
  'HTTP, one request per sample': () => limited(n, 6, async (i) => {
    const s = http.samples[i]!.source!;
    const r = await readRange(http.shards, s.shard, s.offset, s.offset + s.length);
    if (!r.ok) throw new Error(r.failure.reason);
  }),
  'HTTP, a task of 32 joined': () => limited(Math.ceil(n / 32), 6, async (t) => {
    const ranges = http.samples.slice(t * 32, t * 32 + 32).flatMap((s) => [s.source!.shard, s.source!.offset, s.source!.length]);
    const task = new TaskRanges(http.shards, ranges, 1 << 30);
    for (let j = 0; j < ranges.length / 3; j++) {
      const r = await task.read(j);
      if (!r.ok) throw new Error(r.failure.reason);
    }
  }),
};
const byteTimes: Record<string, number[]> = Object.fromEntries(Object.keys(bytesOnly).map((k) => [k, []]));
for (let pass = -1; pass < passes; pass++) {
  for (const [name, run] of Object.entries(bytesOnly)) {
    const started = performance.now();
    await run();
    if (pass >= 0) byteTimes[name]!.push(((performance.now() - started) * 1000) / n);
  }
}
console.log('\nbytes only, microseconds per sample (median; passes):');
const base = median(byteTimes['own file (fs.readFile)']!);
for (const [name, times] of Object.entries(byteTimes)) console.log(`  ${name.padEnd(30)} ${median(times).toFixed(1).padStart(7)} us  (${(median(times) / base).toFixed(2)}x own file)  [${times.map((t) => t.toFixed(0)).join(' ')}]`);

const settings: Array<[string, LoaderOptions]> = [
  ['train, shuffled', { mode: 'train' }],
  ['centre, file order', { mode: 'centre', shuffle: false }],
];
const sources: Array<[string, Dataset]> = [['folder', folder], ['local shards', local], ['HTTP shards', http], ['HTTP, gapBytes 0', httpApart]];
console.log(`\nloader, images/s (median; passes), ${workers} workers, batch 128, rescale 256 crop 224 float32:`);
for (const [label, extra] of settings) {
  const loaders = sources.map(([name, dataset]) => [name, createLoader(dataset, { batchSize: 128, workers, ...extra })] as const);
  const rates: Record<string, number[]> = Object.fromEntries(sources.map(([name]) => [name, []]));
  for (let pass = -1; pass < passes; pass++) {
    for (const [name, loader] of loaders) {
      const started = performance.now();
      let images = 0;
      for await (const batch of loader.epoch(pass + 1)) images += batch.labels.length;
      if (pass >= 0) rates[name]!.push((images * 1000) / (performance.now() - started));
    }
  }
  for (const [, loader] of loaders) await loader.close();
  const folderRate = median(rates.folder!);
  console.log(`  ${label}:`);
  for (const [name, r] of Object.entries(rates)) console.log(`    ${name.padEnd(18)} ${median(r).toFixed(0).padStart(6)}  (${(median(r) / folderRate).toFixed(2)}x folder)  [${r.map((x) => x.toFixed(0)).join(' ')}]`);
}
const requests = nginx.requests().filter((line) => line.includes('.tar HTTP')).length;
console.log(`\nnginx served ${requests} shard requests in all`);
await nginx.stop();
rmSync(work, { recursive: true, force: true });
