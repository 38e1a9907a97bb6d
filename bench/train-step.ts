/**
 * Training-step throughput of the bundled models: one SGD step (forward, backward, update) on
 * random data, reported as the median over several timed steps after warm-up, for each
 * backend side by side (cpu is the baseline).
 *
 *   npx tsx bench/train-step.ts [--backends wasm,cpu,cpu-builtin] [--steps 5] [--warmup 2] [--only small|alexnet] [--json]
 *
 * Default cases: alexnet-small at 32 and 64 px with batch 32 and 64, alexnet at 227 px with
 * batch 8 (at most 3 steps after 1 warm-up). `cpu` is the pure-JavaScript backend with
 * patchstream's filter-gradient kernel; `cpu-builtin` the same with tfjs's own
 * Conv2DBackpropFilter, a scalar loop, for comparison. Both run only the first case, once,
 * unless --all: the other cases would take a long time.
 */
import { parseArgs } from 'node:util';
import { median } from '../src/cli/bench.js';
import { createModel, type ModelName } from '../src/model/alexnet.js';
import { selectBackend, type BackendPreference } from '../src/model/backend.js';
import { Sgd, trainableVariables } from '../src/train/sgd.js';
import { registerCpuTrainingKernels, restoreCpuKernels } from '../src/model/wasm-kernels.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    all: { type: 'boolean', default: false },
  },
});

interface Case {
  model: ModelName;
  inputSize: number;
  batch: number;
  numClasses: number;
  steps: number;
  warmup: number;
}

const steps = Number(values.steps);
const warmup = Number(values.warmup);
const allCases: Case[] = [
  { model: 'alexnet-small', inputSize: 32, batch: 32, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 32, batch: 64, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 64, batch: 32, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 64, batch: 64, numClasses: 10, steps, warmup },
  { model: 'alexnet', inputSize: 227, batch: 8, numClasses: 1000, steps: Math.min(steps, 3), warmup: 1 },
];
const cases = allCases.filter((c) => values.only === undefined || (values.only === 'alexnet') === (c.model === 'alexnet'));

const rows: Array<Record<string, string | number>> = [];
for (const name of (values.backends as string).split(',')) {
  const builtin = name === 'cpu-builtin';
  const backend = (builtin ? 'cpu' : name) as BackendPreference;
  const selected = await selectBackend(backend);
  const { tf } = selected;
  if (builtin) restoreCpuKernels(tf);
  else if (backend === 'cpu') registerCpuTrainingKernels(tf);
  const detail = builtin ? "cpu (pure JavaScript; tfjs's own Conv2DBackpropFilter)" : selected.detail;
  const slow = backend === 'cpu' && !values.all;
  for (const c of slow ? cases.slice(0, 1).map((only) => ({ ...only, steps: 1, warmup: 0 })) : cases) {
    const model = createModel(tf, { name: c.model, numClasses: c.numClasses, inputSize: c.inputSize, seed: 1 });
    const sgd = new Sgd(tf, { lr: 0.01 });
    const variables = trainableVariables(model);
    const x = tf.randomNormal([c.batch, c.inputSize, c.inputSize, 3]);
    const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([c.batch], 0, c.numClasses, 'int32') as never, c.numClasses));
    const lossFn = () =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as never) as ReturnType<typeof tf.scalar>;
    const times: number[] = [];
    for (let step = 0; step < c.warmup + c.steps; step++) {
      const start = performance.now();
      sgd.step(variables, lossFn);
      if (step >= c.warmup) times.push(performance.now() - start);
    }
    const ms = median(times);
    const row = {
      backend: detail,
      model: c.model,
      inputSize: c.inputSize,
      batch: c.batch,
      stepMs: Math.round(ms),
      imagesPerSecond: Math.round((c.batch / ms) * 1000 * 10) / 10,
    };
    rows.push(row);
    if (values.json) console.log(JSON.stringify(row));
    else console.log(`${row.backend.padEnd(70)} ${c.model.padEnd(14)} ${String(c.inputSize).padStart(3)} px  batch ${String(c.batch).padStart(3)}  ${String(row.stepMs).padStart(7)} ms/step  ${String(row.imagesPerSecond).padStart(7)} img/s`);
    sgd.dispose();
    model.dispose();
    tf.dispose([x, labels]);
  }
}
if (values.json) console.log(JSON.stringify({ summary: rows }));
