// Child process for wasm-threads.test.ts: the thread count is fixed when wasm first starts, so
// each count needs its own process. Prints one JSON line: the threads in use and the results.
import { createModel } from '../../src/model/alexnet.js';
import { selectBackend } from '../../src/model/backend.js';
import { simdTrainingKernels } from '../../src/model/wasm-fast-kernels.js';

const { tf, detail } = await selectBackend('wasm');
const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount: () => number };
const model = createModel(tf, { name: 'alexnet-small', numClasses: 10, inputSize: 28, seed: 5 });
const x = tf.randomNormal([16, 28, 28, 3], 0, 1, 'float32', 21);
const labels = tf.oneHot(tf.tensor1d([...Array(16).keys()].map((i) => i % 10), 'int32'), 10);
const variables = model.trainableWeights.map((w) => w.read() as ReturnType<typeof tf.variable>);
const { value, grads } = tf.variableGrads(
  () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: false }) as never) as ReturnType<typeof tf.scalar>,
  variables,
);
const big = tf.randomNormal([300, 500], 0, 1, 'float32', 22);
const product = tf.matMul(big, big, false, true);
console.log(
  JSON.stringify({
    detail,
    threads: wasm.getThreadsCount(),
    simd: simdTrainingKernels(tf),
    loss: value.dataSync()[0],
    grads: variables.map((v) => Array.from(grads[v.name]!.dataSync())),
    product: Array.from(product.dataSync().subarray(0, 5000)),
  }),
);
// No dispose, no process.exit: the process must end on its own with the pthread workers alive.
