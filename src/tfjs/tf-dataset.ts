/**
 * toTfDataset: a loader as a `tf.data.Dataset` of `{ xs, ys }` tensors, for `model.fitDataset`.
 * Each time the dataset is iterated (fitDataset does it once per epoch) it runs the loader's
 * next epoch, so order and augmentation change from epoch to epoch exactly as with `loader.epoch(e)`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../loader/batch.js';
import type { Loader } from '../loader/loader.js';

/** Backends whose tensors keep the typed array they were made from instead of copying it. */
const KEEPS_ARRAY = new Set(['cpu', 'webgpu']);

/** Options of {@link toTfDataset}. */
export interface TfDatasetOptions {
  /** The epoch the first iteration runs; later iterations run the following epochs. @default 0 */
  firstEpoch?: number;
  /** `oneHot`: ys is a float32 `[n, classes]` one-hot tensor (for categoricalCrossentropy); `index`: an int32 `[n]` tensor. @default 'oneHot' */
  labels?: 'oneHot' | 'index';
}

/** One element of the dataset: a batch as tensors. */
export interface TensorBatch extends tf.TensorContainerObject {
  xs: tf.Tensor4D;
  ys: tf.Tensor;
  [key: string]: tf.Tensor;
}

/**
 * Wraps a loader as a tfjs dataset. Tensor ownership: `model.fitDataset` disposes each batch
 * after its step; when you iterate the dataset yourself, dispose `xs` and `ys` when done.
 * The pixels are copied into the tensor, so the loader's ring buffer can be reused at once.
 * One pass at a time: starting a pass ends an unfinished previous one (tf.data never ends a
 * pass it stopped early, e.g. with `take(n)`), so memory stays at one epoch's buffers.
 * @throws {TypeError} the loader does not produce float32 batches
 * @example
 * await model.fitDataset(toTfDataset(loader), { epochs: 10 });
 */
export function toTfDataset(loader: Loader, options: TfDatasetOptions = {}): tf.data.Dataset<TensorBatch> {
  if (loader.options.dtype !== 'float32') throw new TypeError(`Expected a loader with dtype 'float32' for toTfDataset() but received dtype '${loader.options.dtype}'`);
  const classes = loader.dataset.classes.length;
  const labels = options.labels ?? 'oneHot';
  let epoch = options.firstEpoch ?? 0;
  // tf.data never calls an iterator's return(): a pass that stops early (`take(n)`, fitDataset's
  // `batchesPerEpoch`) would keep its loader epoch, and that epoch's batch buffers, until
  // loader.close(). So a new pass ends the previous one when it starts.
  let open: AsyncIterableIterator<Batch> | null = null;
  return tf.data.generator(() => {
    // The epoch is claimed at the first next(), not here: fitDataset makes an iterator it never
    // reads before making epoch 0's, which would otherwise use up `firstEpoch` unseen.
    let batches: AsyncIterableIterator<Batch> | null = null;
    return {
      async next(): Promise<IteratorResult<TensorBatch>> {
        if (batches === null) {
          const previous = open;
          open = null;
          await previous?.return?.();
          batches = open = loader.epoch(epoch++);
        }
        const result = await batches.next();
        if (result.done) return { done: true, value: undefined };
        const batch = result.value;
        return tf.tidy(() => {
          // The images are a view of a ring buffer the loader refills after the next request.
          // cpu and webgpu keep the array they are given as the tensor's storage (webgpu until
          // its first upload), so there it is copied; wasm and tfjs-node copy it in themselves.
          const images = batch.images as Float32Array;
          const xs = tf.tensor4d(KEEPS_ARRAY.has(tf.getBackend()) ? images.slice() : images, batch.shape);
          const indices = tf.tensor1d(batch.labels, 'int32');
          const ys = labels === 'index' ? indices : tf.oneHot(indices, classes).toFloat();
          return { done: false, value: { xs, ys } };
        });
      },
      async return(): Promise<IteratorResult<TensorBatch>> {
        if (open === batches) open = null;
        await batches?.return?.();
        return { done: true, value: undefined };
      },
    } as AsyncIterator<TensorBatch>;
  });
}
