/**
 * stream.pipeline from loader.stream() into your own tfjs training step. The Writable is the
 * slow consumer here: the batches waiting for it stay bounded (prefetch in the loader and the
 * stream's buffer, plus the Writable's own highWaterMark), and the producer waits: backpressure.
 *   npx tsx examples/pipe-into-trainer.ts [dir]
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tf from '@tensorflow/tfjs';
import { createLoader, imageFolder, type Batch } from 'patchstream';

await tf.setBackend('cpu');
const dir = process.argv[2] ?? 'fixtures/shapes';
const dataset = await imageFolder(dir);
const classes = dataset.classes.length;
const loader = createLoader(dataset, { batchSize: 32, rescale: 32, crop: 28, prefetch: 2, workers: 2, seed: 7 });

// A small model of your own: flatten + softmax regression on 28x28x3 patches.
const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 3] }), tf.layers.dense({ units: classes })] });
const optimizer = tf.train.sgd(0.01);

let steps = 0;
let mostHeld = 0;
const trainer = new Writable({
  objectMode: true,
  highWaterMark: 1,
  write(batch: Batch, _encoding, done) {
    const loss = tf.tidy(() => {
      const xs = tf.tensor4d(batch.images as Float32Array, batch.shape);
      const ys = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), classes);
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar, true)!.dataSync()[0]!;
    });
    steps++;
    // Decoded and waiting: in the loader, in the stream's buffer, in this Writable's buffer.
    console.log(`step ${steps}: loss ${loss.toFixed(3)}, batches waiting: loader ${loader.stats().ahead} + stream ${source.readableLength} + writable ${trainer.writableLength}`);
    setTimeout(() => {
      // The end of a slow step is when the producer has run furthest ahead. Batches in memory
      // now: this one, plus the stream's buffer and any the loader is decoding (at most prefetch).
      mostHeld = Math.max(mostHeld, trainer.writableLength + source.readableLength + loader.stats().ahead);
      done();
    }, 150); // a slow consumer: the loader waits for it
  },
});

const source = loader.stream(0);
await pipeline(source, trainer);
console.log(`trained ${steps} steps; producer waited ${(loader.stats().producerWaitMs / 1000).toFixed(2)} s for the consumer`);
console.log(`at most ${mostHeld} batches in memory at once (prefetch ${loader.options.prefetch}, plus the one being trained on)`);
await loader.close();
model.dispose();
