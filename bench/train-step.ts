/**
 * Training-step throughput of the bundled models: one SGD step (forward, backward, update) on
 * random data, reported as the median over several timed steps after warm-up, for each
 * backend side by side (cpu is the baseline).
 *
 *   npx tsx bench/train-step.ts [--backends wasm,cpu,cpu-builtin,webgpu] [--cases LIST] [--steps 5] [--warmup 2] [--only small|alexnet] [--all] [--json]
 *
 * Default cases: alexnet-small at 32 and 64 px with batch 32 and 64, alexnet at 227 px with
 * batch 8 (at most 3 steps after 1 warm-up). `cpu` is the pure-JavaScript backend with
 * patchstream's filter-gradient kernel; `cpu-builtin` the same with tfjs's own
 * Conv2DBackpropFilter, a scalar loop, for comparison. Both run only the first case, once,
 * unless --all: the other cases would take a long time.
 *
 * `webgpu` (tfjs-backend-webgpu on Dawn, any adapter including a software one such as Mesa's
 * lavapipe) has its own default cases, the GPU target: alexnet-small at 32 px batch 32, alexnet
 * at 224 px with batch 32 and 128. On a software adapter only the first runs (once) unless --all.
 * When Dawn finds no adapter the webgpu rows are skipped with the reason (exit status stays 0).
 *
 * `--cases` replaces the case list for every backend (and lifts the cpu / software-adapter
 * trimming): comma-separated `model:size:batch[:steps[:warmup]]`, e.g.
 * `--cases alexnet-small:32:32,alexnet:224:8:1:1`.
 *
 * Each timed step ends with `await loss.data()`: on webgpu that waits for the device queue
 * (which in order also ran the previous step's weight update), so a step is timed end to end.
 * webgpu steps run inside validation and out-of-memory error scopes; a row whose steps raised
 * device errors (commands the device refused and dropped) is marked INVALID (`invalid` in JSON):
 * its time is not the model's. Full AlexNet on lavapipe is such a case: fc6's 9216 x 4096
 * weight (144 MiB) exceeds lavapipe's 128 MiB maxStorageBufferBindingSize.
 */
import { parseArgs } from 'node:util';
import { median } from '../src/cli/bench.js';
import { createModel, type ModelName } from '../src/model/alexnet.js';
import { selectBackend, type BackendPreference, type SelectedBackend } from '../src/model/backend.js';
import { Sgd, trainableVariables } from '../src/train/sgd.js';
import { registerCpuTrainingKernels, restoreCpuKernels } from '../src/model/wasm-kernels.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    cases: { type: 'string' },
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
const numClassesOf = (model: ModelName): number => (model === 'alexnet' ? 1000 : 10);
const allCases: Case[] = [
  { model: 'alexnet-small', inputSize: 32, batch: 32, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 32, batch: 64, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 64, batch: 32, numClasses: 10, steps, warmup },
  { model: 'alexnet-small', inputSize: 64, batch: 64, numClasses: 10, steps, warmup },
  { model: 'alexnet', inputSize: 227, batch: 8, numClasses: 1000, steps: Math.min(steps, 3), warmup: 1 },
];
const webgpuCases: Case[] = [
  { model: 'alexnet-small', inputSize: 32, batch: 32, numClasses: 10, steps, warmup },
  { model: 'alexnet', inputSize: 224, batch: 32, numClasses: 1000, steps, warmup },
  { model: 'alexnet', inputSize: 224, batch: 128, numClasses: 1000, steps, warmup },
];
const given = values.cases === undefined ? undefined : parseCases(values.cases);
const keep = (c: Case): boolean => values.only === undefined || (values.only === 'alexnet') === (c.model === 'alexnet');

function parseCases(text: string): Case[] {
  return text.split(',').map((entry) => {
    const [model, size, batch, caseSteps, caseWarmup] = entry.trim().split(':');
    if (model !== 'alexnet' && model !== 'alexnet-small') throw new Error(`--cases: unknown model in ${JSON.stringify(entry)} (alexnet or alexnet-small)`);
    const numbers = [size, batch, caseSteps ?? String(steps), caseWarmup ?? String(warmup)].map(Number);
    if (numbers.some((n) => !Number.isInteger(n) || n < 0) || numbers[0] === 0 || numbers[1] === 0 || numbers[2] === 0) {
      throw new Error(`--cases: expected model:size:batch[:steps[:warmup]] with positive integers, not ${JSON.stringify(entry)}`);
    }
    const [inputSize, batchSize, s, w] = numbers as [number, number, number, number];
    return { model, inputSize, batch: batchSize, numClasses: numClassesOf(model), steps: s, warmup: w };
  });
}

/** The part of GPUDevice used here. */
interface ErrorScopes {
  pushErrorScope(filter: 'validation' | 'out-of-memory'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}

const rows: Array<Record<string, string | number>> = [];
for (const name of (values.backends as string).split(',')) {
  const builtin = name === 'cpu-builtin';
  const backend = (builtin ? 'cpu' : name) as BackendPreference;
  let selected: SelectedBackend;
  try {
    selected = await selectBackend(backend);
  } catch (error) {
    // No adapter (or the package did not load): say so and go on with the other backends.
    const reason = error instanceof Error ? error.message : String(error);
    const row = { backend: name, skipped: reason };
    rows.push(row);
    if (values.json) console.log(JSON.stringify(row));
    else console.log(`${name}: skipped: ${reason}`);
    continue;
  }
  const { tf } = selected;
  if (builtin) restoreCpuKernels(tf);
  else if (backend === 'cpu') registerCpuTrainingKernels(tf);
  const detail = builtin ? "cpu (pure JavaScript; tfjs's own Conv2DBackpropFilter)" : selected.detail;
  const software = selected.name === 'webgpu' && selected.adapter?.software === true;
  const slow = (backend === 'cpu' || software) && !values.all && given === undefined;
  const base = (given ?? (selected.name === 'webgpu' ? webgpuCases : allCases)).filter((c) => given !== undefined || keep(c));
  if (slow && base.length > 1) {
    const note = `${name}: ${software ? 'software adapter' : 'pure JavaScript'}: running only the first case, once (--all or --cases for more)`;
    if (values.json) console.log(JSON.stringify({ backend: name, note }));
    else console.log(note);
  }
  // On webgpu each step runs inside validation + out-of-memory error scopes: a command the device
  // refuses (e.g. a weight larger than the adapter's maxStorageBufferBindingSize) is dropped, not
  // thrown, and the step would look fast while doing less work. Such rows are marked invalid.
  const device = selected.name === 'webgpu' ? (tf.backend() as unknown as { device?: ErrorScopes }).device : undefined;
  for (const c of slow ? base.slice(0, 1).map((only) => ({ ...only, steps: 1, warmup: 0 })) : base) {
    const model = createModel(tf, { name: c.model, numClasses: c.numClasses, inputSize: c.inputSize, seed: 1 });
    const sgd = new Sgd(tf, { lr: 0.01 });
    const variables = trainableVariables(model);
    const x = tf.randomNormal([c.batch, c.inputSize, c.inputSize, 3]);
    const labels = tf.tidy(() => tf.oneHot(tf.randomUniform([c.batch], 0, c.numClasses, 'int32') as never, c.numClasses));
    const lossFn = () =>
      tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as never) as ReturnType<typeof tf.scalar>;
    const times: number[] = [];
    const deviceErrors: string[] = [];
    for (let step = 0; step < c.warmup + c.steps; step++) {
      device?.pushErrorScope('out-of-memory');
      device?.pushErrorScope('validation');
      const start = performance.now();
      // stepTensor + an awaited read, not step(): step() reads the loss with dataSync, which a
      // device backend (webgpu under Node) cannot do.
      const loss = sgd.stepTensor(variables, lossFn);
      await loss.data();
      loss.dispose();
      if (step >= c.warmup) times.push(performance.now() - start);
      for (const error of device ? [await device.popErrorScope(), await device.popErrorScope()] : []) {
        if (error) deviceErrors.push(error.message.split('\n')[0] as string);
      }
    }
    const ms = median(times);
    const row = {
      backend: detail,
      model: c.model,
      inputSize: c.inputSize,
      batch: c.batch,
      steps: times.length,
      stepMs: Math.round(ms),
      imagesPerSecond: Math.round((c.batch / ms) * 1000 * 10) / 10,
      ...(deviceErrors.length > 0 ? { invalid: `device errors in ${deviceErrors.length} error scope(s) (a scope keeps only its first), work was dropped; first: ${deviceErrors[0]}` } : {}),
    };
    rows.push(row);
    if (values.json) console.log(JSON.stringify(row));
    else console.log(`${row.backend.padEnd(70)} ${c.model.padEnd(14)} ${String(c.inputSize).padStart(3)} px  batch ${String(c.batch).padStart(3)}  ${String(row.stepMs).padStart(7)} ms/step  ${String(row.imagesPerSecond).padStart(7)} img/s  (median of ${times.length})${row.invalid ? `  INVALID: ${row.invalid}` : ''}`);
    sgd.dispose();
    model.dispose();
    tf.dispose([x, labels]);
  }
  // Frees the WebGPU device (and lets the process exit); a no-op for the other backends.
  await selected.close();
}
if (values.json) console.log(JSON.stringify({ summary: rows }));
