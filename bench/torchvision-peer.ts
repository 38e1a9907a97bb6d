/**
 * The peer figure of issue 14: patchstream's loader against PyTorch DataLoader + torchvision on
 * the same files, same recipe (rescale + centre crop, random crop, flip, PCA lighting,
 * normalise; float32 batches), same worker count, interleaved round by round; medians and the
 * ratio. patchstream runs uncached (decoder auto and decoder sharp) and, when --jpeg-cache is
 * given, from a `format: 'jpeg'` disk cache filled before the rounds. Needs /usr/bin/python3 with
 * torch and torchvision (Debian: python3-torchvision); not part of CI.
 *
 *   npx tsx bench/torchvision-peer.ts [dir] [--workers 2] [--rounds 3] [--limit 1000] [--jpeg-cache]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { imageFolder } from '../src/dataset/image-folder.js';
import { createLoader } from '../src/loader/loader.js';
import type { LoaderOptions } from '../src/options.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, limit: { type: 'string', default: '1000' },
    python: { type: 'string', default: '/usr/bin/python3' }, 'jpeg-cache': { type: 'boolean', default: false },
  },
});
const dir = positionals[0] ?? '.bench-data/imagenet-like';
const workers = Number(values.workers);
const limit = Number(values.limit);
const python = values.python as string;
try {
  execFileSync(python, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
} catch {
  console.error(`${python} cannot import torch and torchvision (Debian package python3-torchvision): no peer figure`);
  process.exit(2);
}
const full = await imageFolder(dir);
// Same files for both: torchvision's ImageFolder sorts the same way, and --limit takes a prefix.
const dataset = { ...full, samples: full.samples.slice(0, limit) };
const base: LoaderOptions = { batchSize: 128, workers, rescale: 256, crop: 224, mode: 'train', normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } };

function torchvisionEpoch(): number {
  const out = execFileSync(python, ['bench/torchvision_epoch.py', dir, String(workers), '128', '256', '224', String(limit)], { encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { imagesPerSecond: number }).imagesPerSecond;
}
async function patchstreamEpoch(options: LoaderOptions): Promise<number> {
  const loader = createLoader(dataset, options);
  try {
    await loader.warm(); // fills the JPEG cache before timing; a no-op without a cache
    const started = performance.now();
    let images = 0;
    for await (const batch of loader.epoch(1)) images += batch.labels.length;
    return (images * 1000) / (performance.now() - started);
  } finally {
    await loader.close();
  }
}

const cacheDir = values['jpeg-cache'] ? mkdtempSync(join(tmpdir(), 'patchstream-peer-')) : null;
const runs: Array<[string, () => Promise<number> | number]> = [
  ['torchvision DataLoader', torchvisionEpoch],
  ['patchstream, decoder auto, uncached', () => patchstreamEpoch({ ...base, decoder: 'auto' })],
  ['patchstream, decoder sharp, uncached', () => patchstreamEpoch({ ...base, decoder: 'sharp' })],
];
if (cacheDir) runs.push(['patchstream, decoder auto, JPEG cache q90', () => patchstreamEpoch({ ...base, decoder: 'auto', cache: { dir: cacheDir, format: 'jpeg', quality: 90 } })]);
const rates = runs.map(() => [] as number[]);
for (let round = 0; round < Number(values.rounds); round++) {
  for (let r = 0; r < runs.length; r++) {
    rates[r]!.push(await runs[r]![1]());
    console.log(`round ${round + 1}: ${runs[r]![0]} ${rates[r]!.at(-1)!.toFixed(0)} images/s`);
  }
}
if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const peer = median(rates[0]!);
console.log(`\n${dataset.samples.length} images from ${dir}, ${workers} workers each, batch 128 float32, ${values.rounds} interleaved rounds (medians)`);
for (let r = 0; r < runs.length; r++) {
  const m = median(rates[r]!);
  console.log(`${runs[r]![0].padEnd(42)} ${m.toFixed(0).padStart(6)} images/s  ${(m / workers).toFixed(0).padStart(5)} per worker  ${(m / peer).toFixed(2)}x torchvision`);
}
