/**
 * The `--json` contract of train, eval, bench and prepare: stdout is JSON lines ending in a
 * summary with the keys DESIGN.md and the README list (stats, preview and pack have theirs in
 * cli.test.ts, preview.test.ts and dataset/pack.test.ts).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, runCli, temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
/** 4 classes x 6 images of fixtures/shapes: a few seconds per command. */
const data = join(folder.dir, 'shapes');
const IMAGES = 24;
beforeAll(() => {
  for (const name of ['circle', 'cross', 'horizontal-stripes', 'vertical-stripes']) {
    mkdirSync(join(data, name), { recursive: true });
    for (const file of readdirSync(join('fixtures/shapes', name)).sort().slice(0, 6)) copyFileSync(join('fixtures/shapes', name, file), join(data, name, file));
  }
});
afterAll(() => folder.remove());

/** Runs a command with --json; it must succeed with stdout all JSON lines, the last the summary. */
function summaryOf(...args: string[]): { summary: Record<string, unknown>; lines: Array<Record<string, unknown>> } {
  const run = runCli(...args, '--json');
  expect(run.code, run.stderr).toBe(0);
  const lines = jsonLines(run.stdout);
  const summary = lines.at(-1)!;
  expect(summary.type).toBe('summary');
  expect(lines.slice(0, -1).every((line) => line.type !== 'summary')).toBe(true);
  return { summary, lines };
}

const errorRate = expect.toSatisfy((value: unknown) => typeof value === 'number' && value >= 0 && value <= 1);
const positiveRate = expect.toSatisfy((value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0);

describe('patchstream --json summaries', () => {
  it('patchstream train --json / eval --json - the summary keys, with values that belong to this run', () => {
    const out = join(folder.dir, 'run');
    const train = summaryOf('train', data, '--model', 'alexnet-small', '--width', '0.5', '--rescale', '36', '--crop', '32', '--epochs', '1', '--batch-size', '8',
      '--val-fraction', '0.25', '--backend', 'wasm', '--workers', '1', '--out', out);
    const checkpoint = join(out, 'checkpoints', 'epoch-0001-step-000000');
    expect(train.summary).toEqual(expect.objectContaining({
      epochs: 1,
      trainLoss: positiveRate,
      valTop1Error: errorRate,
      valTop5Error: errorRate,
      imagesPerSecond: positiveRate,
      backend: 'wasm',
      checkpoint,
      interrupted: false,
      centre: { top1Error: errorRate, top5Error: errorRate },
      tenCrop: { top1Error: errorRate, top5Error: errorRate },
    }));
    expect(existsSync(checkpoint)).toBe(true);
    // One line per epoch before the summary, whose figures are the last epoch's.
    const epochs = train.lines.filter((line) => line.type === 'epoch');
    expect(epochs).toHaveLength(1);
    expect(epochs[0]).toMatchObject({ epoch: 1, trainLoss: train.summary.trainLoss, valTop1Error: train.summary.valTop1Error, valTop5Error: train.summary.valTop5Error });

    const evaluation = summaryOf('eval', out, data, '--backend', 'wasm', '--workers', '1', '--batch-size', '8');
    expect(evaluation.summary).toEqual(expect.objectContaining({
      centre: expect.objectContaining({ top1Error: errorRate, top5Error: errorRate }),
      tenCrop: expect.objectContaining({ top1Error: errorRate, top5Error: errorRate }),
      images: IMAGES,
      checkpoint,
      backend: 'wasm',
    }));
    for (const which of ['centre', 'tenCrop'] as const) {
      const { top1Error, top5Error } = evaluation.summary[which] as { top1Error: number; top5Error: number };
      expect(top5Error, which).toBeLessThanOrEqual(top1Error);
    }
  });

  it('patchstream bench --json - the summary keys; with --cache, the fill and cached rates too', () => {
    const common = ['bench', data, '--passes', '1', '--rescale', '36', '--crop', '32', '--batch-size', '8', '--workers', '1'];
    const plain = summaryOf(...common).summary;
    expect(plain).toEqual(expect.objectContaining({
      imagesPerSecond: positiveRate,
      images: IMAGES,
      workers: 1,
      batchSize: 8,
      sharpOnlyImagesPerSecond: positiveRate,
      ratio: positiveRate,
    }));
    expect(plain.ratio).toBeCloseTo((plain.imagesPerSecond as number) / (plain.sharpOnlyImagesPerSecond as number), 10);
    expect(plain).not.toHaveProperty('fillImagesPerSecond');
    expect(plain).not.toHaveProperty('cachedImagesPerSecond');

    const cached = summaryOf(...common, '--cache', 'memory').summary;
    expect(cached).toEqual(expect.objectContaining({ images: IMAGES, fillImagesPerSecond: positiveRate, cachedImagesPerSecond: positiveRate }));
    expect(cached.cachedImagesPerSecond).toBe(cached.imagesPerSecond);
  });

  it('patchstream prepare --json - images, decodes, skipped, cache; a second run decodes nothing', () => {
    const cache = join(folder.dir, 'cache');
    const args = ['prepare', data, '--cache', cache, '--rescale', '36', '--workers', '1'];
    const first = summaryOf(...args).summary;
    expect(first).toEqual(expect.objectContaining({ images: IMAGES, decodes: IMAGES, skipped: 0, cache }));
    const second = summaryOf(...args).summary;
    expect(second).toEqual(expect.objectContaining({ images: IMAGES, decodes: 0, cacheHits: IMAGES, skipped: 0, cache }));
  });
});
