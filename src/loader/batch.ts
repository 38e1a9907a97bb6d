/** The batch the loader hands out, and its memory rules. */
import type { SampleError } from '../errors.js';

/**
 * One batch.
 *
 * **Memory lifetime.** Batches from `loader.epoch()` (and from iterating the loader) are views
 * into a ring of `prefetch + 1` shared buffers: a batch stays valid until you ask for the next
 * one, after which its buffer may be refilled. Copy what you keep (`batch.clone()`), or turn it
 * into a tensor (`tf.tensor` copies) before the next iteration. Batches from `loader.stream()`
 * own their memory.
 */
export interface Batch<TImages extends Float32Array | Uint8Array = Float32Array | Uint8Array> {
  /** Pixels, `shape` elements: NHWC or NCHW, float32 (normalised) or uint8 (raw). */
  images: TImages;
  /** One label per image (in ten-crop mode, images[10 i .. 10 i + 9] are image i's patches). */
  labels: Int32Array;
  /** Dataset index of each image, aligned with `labels`. */
  indices: Int32Array;
  /** `[patches, height, width, 3]` (NHWC) or `[patches, 3, height, width]` (NCHW); patches = images x patchesPerImage. */
  shape: [number, number, number, number];
  /** 1, or 10 in ten-crop mode. */
  patchesPerImage: number;
  epoch: number;
  /** Position of this batch in its epoch. */
  index: number;
  /**
   * Per image, the affine map from the uint8 pixel to the float the model should see:
   * `[scaleR, scaleG, scaleB, biasR, biasG, biasB]` with `float = pixel * scale + bias`
   * (PCA lighting and normalisation folded together). With `dtype: 'uint8'` apply it on the
   * device (`applyAffine` from `patchstream/tfjs`); with float32 it has already been applied.
   */
  affine: Float32Array;
  /**
   * The same array as {@link Batch.affine}.
   * @deprecated renamed `affine` (it holds scales and biases, not offsets); removed in 0.3.
   */
  readonly offsets: Float32Array;
  /**
   * 1 for an image that only pads this rank to the same length as the others
   * (`shard.even: 'pad'`): it repeats a sample another rank has this epoch. Aligned with
   * `labels`; leave these out of metrics. All 0 with one rank.
   */
  padded: Uint8Array;
  /** Samples dropped from this batch under `onError: 'skip'`. */
  skipped: readonly SampleError[];
  /** A copy that owns its memory. */
  clone(): Batch<TImages>;
}

/** Builds a batch object over the given views. */
export function makeBatch<TImages extends Float32Array | Uint8Array>(fields: Omit<Batch<TImages>, 'clone' | 'offsets'>): Batch<TImages> {
  return {
    ...fields,
    offsets: fields.affine,
    clone() {
      return makeBatch({
        ...fields,
        images: fields.images.slice() as TImages,
        labels: fields.labels.slice(),
        indices: fields.indices.slice(),
        affine: fields.affine.slice(),
        padded: fields.padded.slice(),
        shape: [...fields.shape],
        skipped: [...fields.skipped],
      });
    },
  };
}
