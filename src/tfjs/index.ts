/**
 * `patchstream/tfjs`: batches as TensorFlow.js tensors. Needs `@tensorflow/tfjs` (a peer
 * dependency); the core entry `patchstream` never loads it.
 * Public API: explicit named re-exports, nothing else.
 */
export { toTfDataset } from './tf-dataset.js';
export type { TfDatasetOptions, TensorBatch } from './tf-dataset.js';
export { applyAffine } from './affine.js';
