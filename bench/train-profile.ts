/**
 * Per-kernel profile of one SGD training step (forward, backward, update) of the bundled models,
 * from `tf.profile`: each kernel's summed time and call count over several profiled steps,
 * largest first, with its share of the step. On wasm and cpu the kernels run synchronously, so
 * their times add up to (nearly) the step's wall time.
 *
 *   npx tsx bench/train-profile.ts [--backend wasm] [--model alexnet-small] [--size 28] [--batch 64] [--steps 3] [--top 20] [--by-shape] [--json]
 *
 * `--by-shape` keeps calls of one kernel with different input shapes apart (e.g. each layer's
 * convolution), named `Kernel [shape] [shape]`.
 *
 * PATCHSTREAM_WASM_THREADS=1 profiles the single-threaded wasm binary. On wasm the profile starts
 * once the SIMD kernels' helper thread is running (as it is after a training run's first step).
 * The first line also gives the median of as many unprofiled steps, timed one by one.
 */
import { parseArgs } from 'node:util';
import { createModel, type ModelName } from '../src/model/alexnet.js';
import { selectBackend, type BackendPreference } from '../src/model/backend.js';
import { Sgd, trainableVariables } from '../src/train/sgd.js';
import { simdKernelHelperReady } from '../src/model/wasm-fast-kernels.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    model: { type: 'string', default: 'alexnet-small' },
    size: { type: 'string', default: '28' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '3' },
    top: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    'by-shape': { type: 'boolean', default: false },
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
const step = (): void => {
  sgd.step(variables, () => tf.losses.softmaxCrossEntropy(labels, net.apply(x, { training: true }) as never) as never);
};
step();
await simdKernelHelperReady(tf);
const plain: number[] = [];
for (let i = 0; i < steps; i++) {
  const started = performance.now();
  step();
  plain.push(performance.now() - started);
  await new Promise((resolve) => setImmediate(resolve));
}
const plainMs = plain.sort((p, q) => p - q)[plain.length >> 1] as number;
const totals = new Map<string, { ms: number; calls: number }>();
let wall = 0;
for (let i = 0; i < steps; i++) {
  const started = performance.now();
  const info = await tf.profile(step);
  wall += performance.now() - started;
  for (const kernel of info.kernels) {
    const key = values['by-shape'] ? `${kernel.name} ${kernel.inputShapes.map((shape) => `[${shape}]`).join(' ')}` : kernel.name;
    const entry = totals.get(key) ?? { ms: 0, calls: 0 };
    entry.ms += (await kernel.kernelTimeMs) as number;
    entry.calls += 1;
    totals.set(key, entry);
  }
}
const rows = [...totals.entries()]
  .map(([name, { ms, calls }]) => ({ kernel: name, msPerStep: ms / steps, callsPerStep: calls / steps }))
  .sort((a, b) => b.msPerStep - a.msPerStep);
const kernelMs = rows.reduce((sum, row) => sum + row.msPerStep, 0);
if (values.json) {
  console.log(JSON.stringify({ backend: detail, model, size, batch, stepWallMs: wall / steps, unprofiledStepMs: plainMs, kernelMs, rows }));
} else {
  console.log(`${detail}\n${model} ${size} px, batch ${batch}: ${(wall / steps).toFixed(0)} ms per profiled step (wall), kernels ${kernelMs.toFixed(0)} ms; unprofiled step median ${plainMs.toFixed(0)} ms`);
  for (const row of rows.slice(0, Number(values.top))) {
    console.log(`${row.kernel.padEnd(values['by-shape'] ? 56 : 24)} ${row.msPerStep.toFixed(1).padStart(8)} ms ${((row.msPerStep / kernelMs) * 100).toFixed(1).padStart(5)}%  ${String(row.callsPerStep).padStart(4)} calls`);
  }
}
