/** The validation hold-out used when no validation set is given. */
import type { Dataset } from '../dataset/types.js';
import { permutation } from '../random.js';

/**
 * Splits a dataset into train and validation parts, stratified by class and seeded: from each
 * class, `round(fraction * n)` samples (at least one when the class has two or more) go to
 * validation, chosen by a permutation that depends only on (seed, label). Both parts keep the
 * full class list, so labels mean the same in both.
 * @example
 * const { train, val } = holdOut(await imageFolder('data/train'), 0.1, 1);
 */
export function holdOut(dataset: Dataset, fraction: number, seed: number): { train: Dataset; val: Dataset } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`Expected number between 0 and 1 (exclusive) for fraction but received ${fraction} of type ${typeof fraction}`);
  const byClass = new Map<number, number[]>();
  dataset.samples.forEach((sample, index) => {
    const list = byClass.get(sample.label) ?? [];
    list.push(index);
    byClass.set(sample.label, list);
  });
  const validation = new Set<number>();
  for (const [label, indices] of byClass) {
    if (indices.length < 2) continue;
    const take = Math.min(indices.length - 1, Math.max(1, Math.round(fraction * indices.length)));
    const order = permutation(indices.length, (seed ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0, 0x7fffffff);
    for (let k = 0; k < take; k++) validation.add(indices[order[k]!]!);
  }
  const { samples, classes } = dataset;
  return {
    train: { ...dataset, classes, samples: samples.filter((_, index) => !validation.has(index)) },
    val: { ...dataset, classes, samples: samples.filter((_, index) => validation.has(index)) },
  };
}
