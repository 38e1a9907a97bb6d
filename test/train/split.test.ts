import { describe, expect, it } from 'vitest';
import { holdOut } from '../../src/train/split.js';

describe('holdOut()', () => {
  const dataset = {
    classes: ['a', 'b', 'c'],
    samples: [
      ...Array.from({ length: 30 }, (_, i) => ({ path: `a/${i}.jpg`, label: 0 })),
      ...Array.from({ length: 10 }, (_, i) => ({ path: `b/${i}.jpg`, label: 1 })),
      { path: 'c/0.jpg', label: 2 },
    ],
  };

  it('holdOut() - stratified, seeded, disjoint and complete; classes kept', () => {
    const { train, val } = holdOut(dataset, 0.2, 3);
    expect(val.samples.filter((s) => s.label === 0)).toHaveLength(6);
    expect(val.samples.filter((s) => s.label === 1)).toHaveLength(2);
    expect(val.samples.filter((s) => s.label === 2)).toHaveLength(0);
    const paths = [...train.samples, ...val.samples].map((s) => s.path).sort();
    expect(paths).toEqual(dataset.samples.map((s) => s.path).sort());
    expect(new Set(paths).size).toBe(41);
    expect(train.classes).toEqual(['a', 'b', 'c']);
    expect(holdOut(dataset, 0.2, 3).val.samples).toEqual(val.samples);
    expect(holdOut(dataset, 0.2, 4).val.samples).not.toEqual(val.samples);
  });
});
