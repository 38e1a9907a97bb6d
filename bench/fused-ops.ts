/**
 * Same-process A/B of two forward-pass changes on wasm, interleaved, medians of `--reps` calls:
 *
 * - each alexnet-small conv (28 px, batch 64) with bias and ReLU as one `FusedConv2D` kernel
 *   (what GroupedConv2D runs) against `Conv2D`, `Add` and `Relu` (what tfjs runs in training);
 * - conv1's bias add, `[64, 28, 28, 32] + [32]`, on patchstream's SIMD pass against tfjs-wasm's
 *   built-in `Add` (the SIMD kernels turned off for those calls).
 *
 *   npx tsx bench/fused-ops.ts [--reps 40]
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/model/backend.js';
import { setSimdTrainingKernels, simdKernelHelperReady } from '../src/model/wasm-fast-kernels.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '40' } } });
const reps = Number(values.reps);
const { tf, detail } = await selectBackend('wasm');
await simdKernelHelperReady(tf);
type Tensor = ReturnType<typeof tf.tensor>;

/** Median milliseconds of each function, called in turn `reps` times after 3 warm-up rounds. */
function race(entries: Record<string, () => Tensor>): Record<string, number> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(entries).map((name) => [name, []]));
  for (let rep = -3; rep < reps; rep++) {
    for (const [name, run] of Object.entries(entries)) {
      const started = performance.now();
      // wasm kernels run synchronously: the call is the work (dataSync would add a copy out of
      // the heap, 6.4 MB for conv1's output).
      const out = run();
      if (rep >= 0) times[name]!.push(performance.now() - started);
      out.dispose();
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, list]) => [name, list.sort((a, b) => a - b)[list.length >> 1] as number]));
}

console.log(`${detail}\nmedian ms of ${reps} interleaved calls`);
const convs = [
  { name: 'conv1', x: [64, 28, 28, 3], filter: [5, 5, 3, 32] },
  { name: 'conv2 (a group)', x: [64, 13, 13, 16], filter: [5, 5, 16, 32] },
  { name: 'conv3', x: [64, 6, 6, 64], filter: [3, 3, 64, 96] },
];
for (const c of convs) {
  const x = tf.randomNormal(c.x) as ReturnType<typeof tf.tensor4d>;
  const filter = tf.randomNormal(c.filter) as ReturnType<typeof tf.tensor4d>;
  const bias = tf.randomNormal([c.filter[3] as number]);
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' };
  const result = race({
    fused: () => tf.engine().runKernel('FusedConv2D', { x, filter, bias } as never, attrs as never) as Tensor,
    separate: () => tf.tidy(() => tf.relu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias))),
  });
  console.log(`${c.name.padEnd(16)} FusedConv2D ${result['fused']!.toFixed(2)}  Conv2D + Add + Relu ${result['separate']!.toFixed(2)}`);
  tf.dispose([x, filter, bias]);
}
const x = tf.randomNormal([64, 28, 28, 32]);
const bias = tf.randomNormal([32]);
const result = race({
  simd: () => tf.add(x, bias),
  builtIn: () => {
    setSimdTrainingKernels(false);
    try {
      return tf.add(x, bias);
    } finally {
      setSimdTrainingKernels(true);
    }
  },
});
console.log(`${'conv1 bias add'.padEnd(16)} SIMD ${result['simd']!.toFixed(2)}  tfjs-wasm Add ${result['builtIn']!.toFixed(2)}`);
tf.dispose([x, bias]);
