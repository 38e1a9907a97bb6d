/**
 * uint8 batches on the device: a uint8 batch is 4x fewer bytes to move than float32, and its
 * lighting + normalisation is one multiply-add per pixel, cheap on any tfjs backend.
 */
import * as tfjs from '@tensorflow/tfjs';
import type { Batch } from '../loader/batch.js';

/** The parts of a tfjs namespace {@link applyAffine} uses (tfjs-node's namespace fits too). */
type Ops = Pick<typeof tfjs, 'tidy' | 'tensor' | 'tensor2d' | 'tile' | 'cast'>;

/**
 * Turns a `dtype: 'uint8'` batch into the float32 tensor the model expects, applying each
 * image's affine map (`batch.affine`: PCA lighting and normalisation folded into
 * `float = pixel * scale + bias`) on the device. Equal to the loader's float32 batch up to
 * float rounding. Works for NHWC and NCHW and for ten-crop batches (10 patches per image).
 * The caller owns (and disposes) the returned tensor; the batch's memory is copied.
 * @param tf the tfjs namespace to use (the one `selectBackend` returned, say). @default `@tensorflow/tfjs`
 * @throws {TypeError} the batch is not uint8
 * @example
 * const loader = createLoader(train, { dtype: 'uint8' });
 * for await (const batch of loader) { const x = applyAffine(batch); ...; x.dispose(); }
 */
export function applyAffine(batch: Batch, tf: Ops = tfjs): tfjs.Tensor4D {
  if (!(batch.images instanceof Uint8Array)) throw new TypeError('Expected a batch of dtype uint8 for applyAffine() (createLoader(..., { dtype: "uint8" }))');
  const images = batch.labels.length;
  const patches = batch.shape[0];
  const perPatch = patches / Math.max(1, images);
  const channelsLast = batch.shape[3] === 3;
  return tf.tidy(() => {
    const pixels = tf.cast(tf.tensor(batch.images, batch.shape, 'int32'), 'float32');
    const affine = tf.tensor2d(batch.affine.subarray(0, images * 6), [images, 6]);
    const perPatchAffine = perPatch === 1 ? affine : tf.tile(affine, [1, perPatch]).reshape([patches, 6]);
    const shape: [number, number, number, number] = channelsLast ? [patches, 1, 1, 3] : [patches, 3, 1, 1];
    const scale = perPatchAffine.slice([0, 0], [patches, 3]).reshape(shape);
    const bias = perPatchAffine.slice([0, 3], [patches, 3]).reshape(shape);
    return pixels.mul(scale).add(bias) as tfjs.Tensor4D;
  });
}
