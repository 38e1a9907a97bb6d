import { describe, expect, it } from 'vitest';
import { compareResume, describeResume } from '../../src/train/resume.js';

describe('compareResume()', () => {
  it('compareResume() - fixed options keep the checkpoint\'s value and list a different given one as ignored', () => {
    const result = compareResume({
      crop: { kind: 'fixed', checkpoint: 16, given: 12 },
      seed: { kind: 'fixed', checkpoint: 5, given: 5 },
      lrSteps: { kind: 'fixed', checkpoint: [30, 60], given: undefined },
    });
    expect(result).toEqual({ kept: { crop: 16, seed: 5, lrSteps: [30, 60] }, ignored: { crop: { checkpoint: 16, given: 12 } }, changed: {} });
  });

  it('compareResume() - restored options take a different given value (changed), else keep the checkpoint\'s; one the checkpoint lacks is changed from null', () => {
    const result = compareResume({
      epochs: { kind: 'restored', checkpoint: 1, given: 3 },
      workers: { kind: 'restored', checkpoint: 2, given: undefined },
      prefetch: { kind: 'restored', checkpoint: 2, given: 2 },
      cache: { kind: 'restored', checkpoint: undefined, given: 'memory' },
      checkpointEvery: { kind: 'restored', checkpoint: undefined, given: undefined },
    });
    expect(result).toEqual({
      kept: { workers: 2, prefetch: 2 },
      ignored: {},
      changed: { epochs: { checkpoint: 1, given: 3 }, cache: { checkpoint: null, given: 'memory' } },
    });
  });

  it('compareResume() - local options (backend, feed) are never kept unless given with the checkpoint\'s value', () => {
    const result = compareResume({
      backend: { kind: 'local', checkpoint: 'wasm', given: undefined },
      feed: { kind: 'local', checkpoint: 'float32', given: 'float32' },
      other: { kind: 'local', checkpoint: 'wasm', given: 'cpu' },
    });
    expect(result).toEqual({ kept: { feed: 'float32' }, ignored: {}, changed: { other: { checkpoint: 'wasm', given: 'cpu' } } });
  });

  it('compareResume() - arrays and objects compare by value', () => {
    const result = compareResume({
      normalize: { kind: 'fixed', checkpoint: { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] }, given: { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] } },
      lrSteps: { kind: 'fixed', checkpoint: [30, 60], given: [30, 61] },
    });
    expect(Object.keys(result.ignored)).toEqual(['lrSteps']);
  });
});

describe('describeResume()', () => {
  it('describeResume() - one kept line; ignored and changed lines only when there are some', () => {
    const base = { checkpoint: '/runs/a/checkpoints/epoch-0001-step-000000', epoch: 1, step: 0, kept: { crop: 16, lrSteps: null, cache: false, normalize: { mean: [0.485, 0.456, 0.406] } } };
    expect(describeResume({ ...base, ignored: {}, changed: {} })).toEqual(['resume: kept from the checkpoint: crop 16, lrSteps none, cache off, normalize mean 0.485,0.456,0.406']);
    const lines = describeResume({ ...base, ignored: { crop: { checkpoint: 16, given: 12 } }, changed: { epochs: { checkpoint: 1, given: 2 }, lr: { checkpoint: 0.1, given: 1 / 3 } } });
    expect(lines.slice(1)).toEqual([
      "resume: ignored, they would change the batches or the model (the checkpoint's values are used): crop 12 (checkpoint: 16)",
      'resume: changed, applied from here on: epochs 2 (checkpoint: 1), lr 0.333333 (checkpoint: 0.1)',
    ]);
  });
});
