/**
 * How well the loader feeds a training step: N SGD steps of a bundled model on batches from the
 * loader (train mode), reporting images/s and the share of wall time spent waiting for data.
 *
 *   npx tsx bench/train-feed.ts <dir> [--model alexnet-small] [--rescale 36] [--crop 32] [--batch 32]
 *                                      [--steps 20] [--backend wasm] [--workers 1] [--cache memory]
 */
import { parseArgs } from 'node:util';
import { imageFolder } from '../src/dataset/image-folder.js';
import { createLoader } from '../src/loader/loader.js';
import { createModel, type ModelName } from '../src/model/alexnet.js';
import { selectBackend, type BackendPreference } from '../src/model/backend.js';
import { Sgd, trainableVariables } from '../src/train/sgd.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'alexnet-small' },
    rescale: { type: 'string', default: '36' },
    crop: { type: 'string', default: '32' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '20' },
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: '1' },
    cache: { type: 'string' },
  },
});
const dir = positionals[0] ?? 'fixtures/shapes';
const { tf, name } = await selectBackend(values.backend as BackendPreference);
const dataset = await imageFolder(dir);
const loader = createLoader(dataset, {
  rescale: Number(values.rescale), crop: Number(values.crop), batchSize: Number(values.batch), workers: Number(values.workers),
  ...(values.cache === 'memory' ? { cache: 'memory' as const } : {}),
});
const model = createModel(tf, { name: values.model as ModelName, numClasses: dataset.classes.length, inputSize: Number(values.crop) });
const sgd = new Sgd(tf, { lr: 0.001 });
const variables = trainableVariables(model);
const steps = Number(values.steps);
let step = 0;
let images = 0;
let started = 0;
let waitAtStart = 0;
for (let epoch = 0; step < steps + 1; epoch++) {
  for await (const batch of loader.epoch(epoch)) {
    if (step === 1) {
      // The first step compiles kernels and starts threads: not counted.
      started = performance.now();
      waitAtStart = loader.stats().consumerWaitMs;
      images = 0;
    }
    tf.tidy(() => sgd.step(variables, () => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(batch.labels, 'int32'), dataset.classes.length), model.apply(tf.tensor4d(batch.images as Float32Array, batch.shape), { training: true }) as never) as never));
    images += batch.labels.length;
    if (++step > steps) break;
  }
}
const seconds = (performance.now() - started) / 1000;
const wait = (loader.stats().consumerWaitMs - waitAtStart) / 1000;
console.log(`${values.model} ${values.crop}px batch ${values.batch} on ${name}, ${values.workers} loader worker(s)${values.cache ? `, cache ${values.cache}` : ''}: ${(images / seconds).toFixed(1)} images/s over ${steps} steps, waiting for data ${((wait / seconds) * 100).toFixed(1)}% of the time`);
await loader.close();
