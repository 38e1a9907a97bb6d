/** The shape check of a dataset object, at the public boundary of everything that takes one. */
import { invalid } from '../validate.js';
import type { Dataset } from './types.js';

/** Validates a dataset object at the public boundary. */
export function checkDataset(dataset: unknown): Dataset {
  if (typeof dataset !== 'object' || dataset === null) invalid('dataset', 'object { samples, classes }', dataset);
  const { samples, classes } = dataset as Dataset;
  if (!Array.isArray(samples)) invalid('dataset.samples', 'array of { path, label }', samples);
  if (!Array.isArray(classes)) invalid('dataset.classes', 'array of class names', classes);
  if (samples.length === 0) invalid('dataset.samples', 'at least one sample', samples, RangeError);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
    if (typeof sample !== 'object' || sample === null || typeof sample.path !== 'string' || sample.path === '') {
      invalid(`dataset.samples[${i}]`, 'object { path: string, label: integer }', sample);
    }
    const label = sample.label;
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= Math.max(1, classes.length)) {
      invalid(`dataset.samples[${i}].label`, `integer between 0 and ${Math.max(0, classes.length - 1)}`, label, RangeError);
    }
  }
  return dataset as Dataset;
}
