import { describe, expect, it } from 'vitest';
import { ClassificationTally, softmaxInto } from '../../src/eval/metrics.js';

describe('ClassificationTally', () => {
  it('ClassificationTally - top-1/top-5 error on hand-made scores', () => {
    const tally = new ClassificationTally(7);
    tally.add([0.9, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01], 0); // top-1 hit
    tally.add([0.1, 0.5, 0.2, 0.08, 0.07, 0.03, 0.02], 2); // rank 2: top-5 hit only
    tally.add([0.3, 0.25, 0.2, 0.1, 0.08, 0.05, 0.02], 6); // rank 7: miss both
    tally.add([0.01, 0.02, 0.03, 0.04, 0.05, 0.8, 0.05], 4); // rank 3 (0.05 ties with class 6): top-5 hit
    expect(tally.images).toBe(4);
    expect(tally.top1Error).toBeCloseTo(3 / 4, 12);
    expect(tally.top5Error).toBeCloseTo(1 / 4, 12);
    expect(tally.confusion[2]![1]).toBe(1);
    expect(tally.confusion[0]![0]).toBe(1);
    expect(tally.perClassAccuracy[0]).toBe(1);
    expect(tally.perClassAccuracy[2]).toBe(0);
    expect(Number.isNaN(tally.perClassAccuracy[3]!)).toBe(true);
  });

  it('ClassificationTally - ties at the boundary count as in the top k (tf.math.in_top_k)', () => {
    const tally = new ClassificationTally(7);
    tally.add([0.4, 0.4, 0.05, 0.05, 0.05, 0.05, 0], 1); // tied for first: top-1 hit
    tally.add([0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0], 5); // five-way tie for 2nd..6th: only class 0 is higher: top-5 hit, top-1 miss
    tally.add([0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05], 6); // 5 classes strictly higher: top-5 miss
    expect(tally.top1Error).toBeCloseTo(2 / 3, 12);
    expect(tally.top5Error).toBeCloseTo(1 / 3, 12);
    // The confusion matrix takes the first of tied maxima as the prediction.
    expect(tally.confusion[1]![0]).toBe(1);
  });

  it('softmaxInto() - stable for large logits and sums to one', () => {
    const out = softmaxInto([1000, 1001, 1002], 0, 3, new Float64Array(3));
    expect(out.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(out[2]! / out[1]!).toBeCloseTo(Math.E, 10);
  });
});
