/**
 * What the JPEG record format of the disk cache costs in fidelity and saves on disk: prepared
 * images read through `cache: { dir, format: 'jpeg' }` against the same images decoded from the
 * originals (centre patch, uint8, no normalisation), per JPEG quality.
 *
 *   npx tsx bench/cache-jpeg.ts [dir] [--images 300] [--qualities 90,95]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { imageFolder } from '../src/dataset/image-folder.js';
import { createLoader } from '../src/loader/loader.js';
import type { Batch } from '../src/loader/batch.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string', default: '300' }, qualities: { type: 'string', default: '90,95' } },
});
const dir = positionals[0] ?? '.bench-data/imagenet-like';
const full = await imageFolder(dir);
const dataset = { ...full, samples: full.samples.slice(0, Number(values.images)) };
const options = { mode: 'centre', dtype: 'uint8', normalize: false, batchSize: 50, workers: 2 } as const;

const plain = createLoader(dataset, options);
const reference: Batch[] = [];
for await (const batch of plain.epoch(0)) reference.push(batch.clone());
await plain.close();

for (const quality of (values.qualities as string).split(',').map(Number)) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'patchstream-jpeg-cache-'));
  const cached = createLoader(dataset, { ...options, cache: { dir: cacheDir, format: 'jpeg', quality } });
  await cached.warm();
  let total = 0;
  let count = 0;
  let worst = 0;
  let b = 0;
  for await (const batch of cached.epoch(0)) {
    const expected = reference[b++]!;
    for (let i = 0; i < batch.images.length; i++) {
      const difference = Math.abs(batch.images[i]! - expected.images[i]!);
      total += difference;
      count++;
      worst = Math.max(worst, difference);
    }
  }
  await cached.close();
  const disk = execFileSync('du', ['-k', join(cacheDir, 'data.bin')], { encoding: 'utf8' }).split('\t')[0];
  const raw = (dataset.samples.length * 256 * 256 * 3) / 2 ** 20;
  console.log(`${dir}, ${dataset.samples.length} images, JPEG q${quality}: mean |difference| ${(total / count).toFixed(2)} / 255, worst ${worst}; data.bin uses ${(Number(disk) / 1024).toFixed(1)} MiB on disk (raw records: ${raw.toFixed(1)} MiB)`);
  rmSync(cacheDir, { recursive: true, force: true });
}
