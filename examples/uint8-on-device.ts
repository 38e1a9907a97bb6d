/**
 * Move 4x fewer bytes: uint8 batches plus each image's affine map (`batch.affine`), with PCA
 * lighting and normalisation applied on the device by `applyAffine`. Checks the result against float32 batches.
 *   npx tsx examples/uint8-on-device.ts [dir]
 */
import * as tf from '@tensorflow/tfjs';
import { createLoader, imageFolder, type Batch } from 'patchstream';
import { applyAffine } from 'patchstream/tfjs';

await tf.setBackend('cpu');
const dir = process.argv[2] ?? 'fixtures/shapes';
const dataset = await imageFolder(dir);
const options = { batchSize: 32, rescale: 64, crop: 56, seed: 4, workers: 2 } as const;

const bytes = createLoader(dataset, { ...options, dtype: 'uint8' });
const floats = createLoader(dataset, { ...options, dtype: 'float32' });
const reference = floats.epoch(0);
let worst = 0;
let moved = 0;
for await (const batch of bytes.epoch(0)) {
  const expected = (await reference.next()).value as Batch<Float32Array>;
  const x = applyAffine(batch);
  const values = x.dataSync();
  x.dispose();
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]! - expected.images[i]!));
  moved += batch.images.byteLength;
}
console.log(`moved ${(moved / 2 ** 20).toFixed(1)} MiB of uint8 instead of ${((moved * 4) / 2 ** 20).toFixed(1)} MiB of float32; largest difference from the float32 loader: ${worst.toExponential(2)}`);
await bytes.close();
await floats.close();
