/**
 * One process's worth of patchstream training steps on random data, printed as one JSON line in
 * the same shape as `torch_alexnet_small.py --steps-only` (bench/peer-train.ts runs both).
 *
 *   node --import tsx bench/peer/patchstream-step.ts [--model alexnet-small] [--size 28] [--batch 64] [--steps 10] [--backend wasm]
 */
import { parseArgs } from 'node:util';
import { median } from '../../src/cli/bench.js';
import { createModel, type ModelName } from '../../src/model/alexnet.js';
import { selectBackend, type BackendPreference } from '../../src/model/backend.js';
import { Sgd, trainableVariables } from '../../src/train/sgd.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'alexnet-small' },
    size: { type: 'string', default: '28' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const model = values.model as ModelName;
const size = Number(values.size);
const batch = Number(values.batch);
const steps = Number(values.steps);
const classes = model === 'alexnet' ? 1000 : 10;
const { tf, detail } = await selectBackend(values.backend as BackendPreference);
const net = createModel(tf, { name: model, numClasses: classes, inputSize: size, seed: 1 });
const sgd = new Sgd(tf, { lr: 0.01 });
const variables = trainableVariables(net);
const x = tf.randomNormal([batch, size, size, 3]);
const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32') as never, classes));
const times: number[] = [];
for (let step = 0; step <= steps; step++) {
  const start = performance.now();
  sgd.step(variables, () => tf.losses.softmaxCrossEntropy(labels, net.apply(x, { training: true }) as never) as never);
  if (step > 0) times.push(performance.now() - start);
}
const stepMs = median(times);
console.log(JSON.stringify({ type: 'steps', model, inputSize: size, batch, stepMs, imagesPerSecond: (batch / stepMs) * 1000, backend: detail }));
