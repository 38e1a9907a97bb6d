/**
 * Move 4x fewer bytes: uint8 batches plus each image's affine map (`batch.offsets`), with PCA
 * lighting and normalisation applied on the device. Checks the result against float32 batches.
 *   npx tsx examples/uint8-on-device.ts [dir]
 */
import * as tf from '@tensorflow/tfjs';
import { createLoader, imageFolder, type Batch } from 'patchstream';

await tf.setBackend('cpu');
const dir = process.argv[2] ?? 'fixtures/shapes';
const dataset = await imageFolder(dir);
const options = { batchSize: 32, rescale: 64, crop: 56, seed: 4, workers: 2 } as const;

/** uint8 NHWC + offsets [n, 6] (scale R,G,B, bias R,G,B) -> the float32 input the model expects. */
function onDevice(batch: Batch<Uint8Array>): tf.Tensor4D {
  return tf.tidy(() => {
    const n = batch.labels.length;
    const pixels = tf.tensor4d(batch.images, batch.shape, 'int32').toFloat();
    const offsets = tf.tensor2d(batch.offsets, [n, 6]);
    const scale = offsets.slice([0, 0], [n, 3]).reshape([n, 1, 1, 3]);
    const bias = offsets.slice([0, 3], [n, 3]).reshape([n, 1, 1, 3]);
    return pixels.mul(scale).add(bias) as tf.Tensor4D;
  });
}

const bytes = createLoader(dataset, { ...options, dtype: 'uint8' });
const floats = createLoader(dataset, { ...options, dtype: 'float32' });
const reference = floats.epoch(0);
let worst = 0;
let moved = 0;
for await (const batch of bytes.epoch(0)) {
  const expected = (await reference.next()).value as Batch<Float32Array>;
  const x = onDevice(batch as Batch<Uint8Array>);
  const values = x.dataSync();
  x.dispose();
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]! - expected.images[i]!));
  moved += batch.images.byteLength;
}
console.log(`moved ${(moved / 2 ** 20).toFixed(1)} MiB of uint8 instead of ${((moved * 4) / 2 ** 20).toFixed(1)} MiB of float32; largest difference from the float32 loader: ${worst.toExponential(2)}`);
await bytes.close();
await floats.close();
