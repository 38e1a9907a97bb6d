/**
 * model.fitDataset with toTfDataset(loader): each tfjs epoch runs the loader's next epoch.
 *   npx tsx examples/fit-dataset.ts [dir] [epochs]
 */
import * as tf from '@tensorflow/tfjs';
import { createLoader, imageFolder } from 'patchstream';
import { toTfDataset } from 'patchstream/tfjs';

await tf.setBackend('cpu');
const dir = process.argv[2] ?? 'fixtures/shapes';
const epochs = Number(process.argv[3] ?? 2);
const dataset = await imageFolder(dir);
const loader = createLoader(dataset, { batchSize: 32, rescale: 32, crop: 24, workers: 2, seed: 3 });

const model = tf.sequential({
  layers: [
    tf.layers.conv2d({ inputShape: [24, 24, 3], filters: 8, kernelSize: 3, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: dataset.classes.length, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

const before = tf.memory().numTensors;
const history = await model.fitDataset(toTfDataset(loader), { epochs, verbose: 0, callbacks: { onEpochEnd: (epoch, logs) => console.log(`epoch ${epoch}: loss ${logs?.loss?.toFixed(3)}, accuracy ${logs?.acc?.toFixed(3)}`) } });
console.log(`tensors before ${before}, after ${tf.memory().numTensors} (the model's weights and optimizer state account for the difference)`);
console.log(`final loss ${(history.history.loss!.at(-1) as number).toFixed(3)}`);
await loader.close();
