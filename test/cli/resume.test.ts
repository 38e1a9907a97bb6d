/**
 * `patchstream train --resume` with changed options: the `resume` JSON line (and log lines) say
 * which settings come from the checkpoint, which typed flags were ignored and which applied.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_COLOUR_STATS } from '../../src/colour.js';
import { jsonLines, runCli, temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
/** 4 classes x 6 images of fixtures/shapes at 16 px: a few seconds per run. */
const data = join(folder.dir, 'shapes');
const first = join(folder.dir, 'first');
const resumed = join(folder.dir, 'resumed');
const stats = join(folder.dir, 'stats.json');
const tiny = ['--model', 'alexnet-small', '--width', '0.5', '--batch-size', '8', '--val-fraction', '0.25'];

beforeAll(() => {
  for (const name of ['circle', 'cross', 'horizontal-stripes', 'vertical-stripes']) {
    mkdirSync(join(data, name), { recursive: true });
    for (const file of readdirSync(join('fixtures/shapes', name)).sort().slice(0, 6)) copyFileSync(join('fixtures/shapes', name, file), join(data, name, file));
  }
  writeFileSync(stats, JSON.stringify({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], eigenvalues: [0.1, 0.01, 0.001], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], pixels: 100, scale: 1 }));
  const run = runCli('train', data, ...tiny, '--rescale', '20', '--crop', '16', '--epochs', '1', '--backend', 'wasm', '--workers', '2', '--no-ten-crop', '--out', first, '--json');
  expect(run.code, run.stderr).toBe(0);
});
afterAll(() => folder.remove());

/** Runs `patchstream train` with --json; it must succeed. Returns the JSON lines and the log. */
function train(...args: string[]): { lines: Array<Record<string, unknown>>; stderr: string } {
  const run = runCli('train', data, ...args, '--json');
  expect(run.code, run.stderr).toBe(0);
  return { lines: jsonLines(run.stdout), stderr: run.stderr };
}

function stateOf(checkpoint: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(checkpoint, 'state.json'), 'utf8'));
}

describe('patchstream train --resume', () => {
  it('patchstream train --resume - flags that would change the batches are listed as ignored with both values, epochs and workers as changed; the run finishes epoch 2 on the checkpoint\'s settings', () => {
    const { lines, stderr } = train('--resume', first, '--out', resumed, '--epochs', '2', '--crop', '12', '--stats', stats, '--workers', '1', '--backend', 'wasm');
    const resume = lines[0]!;
    expect(resume).toMatchObject({ type: 'resume', checkpoint: join(first, 'checkpoints', 'epoch-0001-step-000000'), epoch: 1, step: 0 });
    expect(resume.ignored).toEqual({
      crop: { checkpoint: 16, given: 12 },
      normalize: { checkpoint: { mean: IMAGENET_COLOUR_STATS.mean, std: IMAGENET_COLOUR_STATS.std }, given: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } },
      lighting: {
        checkpoint: { eigenvalues: IMAGENET_COLOUR_STATS.eigenvalues, eigenvectors: IMAGENET_COLOUR_STATS.eigenvectors },
        given: { eigenvalues: [0.1, 0.01, 0.001], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] },
      },
    });
    expect(resume.changed).toEqual({ epochs: { checkpoint: 1, given: 2 }, workers: { checkpoint: 2, given: 1 } });
    // Everything that decides the batches and the model comes from the checkpoint; a flag given
    // with the checkpoint's value (--backend wasm) is kept, not changed.
    expect(resume.kept).toMatchObject({ model: 'alexnet-small', width: 0.5, rescale: 20, crop: 16, batchSize: 8, lr: 0.01, lrSteps: null, seed: 0, valFraction: 0.25, prefetch: 2, cache: false, backend: 'wasm' });
    expect(resume.kept).not.toHaveProperty('epochs');
    expect(resume.kept).not.toHaveProperty('workers');
    expect(stderr).toMatch(/^resume: ignored.*: crop 12 \(checkpoint: 16\), normalize mean 0\.5,0\.5,0\.5 std 0\.25,0\.25,0\.25 \(checkpoint: mean 0\.485,0\.456,0\.406/m);
    expect(stderr).toMatch(/^resume: changed, applied from here on: epochs 2 \(checkpoint: 1\), workers 1 \(checkpoint: 2\)$/m);

    expect(lines.filter((line) => line.type === 'epoch').map((line) => line.epoch)).toEqual([2]);
    const summary = lines.at(-1)!;
    const checkpoint = join(resumed, 'checkpoints', 'epoch-0002-step-000000');
    expect(summary).toMatchObject({ type: 'summary', epochs: 2, interrupted: false, checkpoint, centre: expect.any(Object), tenCrop: expect.any(Object) });
    const state = stateOf(checkpoint);
    expect(state.settings).toMatchObject({ crop: 16, rescale: 20, epochs: 2 });
    expect(state).not.toHaveProperty('normalize');
    expect(state).not.toHaveProperty('lighting');
    expect(state.runtime).toMatchObject({ workers: 1, prefetch: 2, cache: false, checkpointEvery: 0 });
  });

  it('patchstream train --resume - without flags, nothing is ignored or changed: the run continues with the checkpoint\'s settings, its workers included', () => {
    const { lines, stderr } = train('--resume', resumed, '--out', resumed, '--no-ten-crop');
    const resume = lines[0]!;
    expect(resume).toMatchObject({ type: 'resume', checkpoint: join(resumed, 'checkpoints', 'epoch-0002-step-000000'), epoch: 2, step: 0, ignored: {}, changed: {} });
    expect(resume.kept).toMatchObject({ crop: 16, rescale: 20, epochs: 2, workers: 1, prefetch: 2, checkpointEvery: 0 });
    expect(stderr).toMatch(/^resume: kept from the checkpoint: model alexnet-small, width 0\.5, rescale 20, crop 16, /m);
    expect(stderr).not.toMatch(/^resume: (ignored|changed)/m);
    expect(lines.filter((line) => line.type === 'epoch')).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', epochs: 2, interrupted: false });
  });
});
