/**
 * Iterate batches in your own code: shapes, labels and throughput.
 *   npx tsx examples/iterate.ts [dir] [epochs]
 */
import { createLoader, imageFolder } from 'patchstream';

const dir = process.argv[2] ?? 'fixtures/shapes';
const epochs = Number(process.argv[3] ?? 2);

const train = await imageFolder(dir);
console.log(`${train.samples.length} images, ${train.classes.length} classes: ${train.classes.join(', ')}`);

const loader = createLoader(train, { batchSize: 64, mode: 'train', rescale: 64, crop: 56, seed: 1, workers: 2, prefetch: 2 });
for (let epoch = 0; epoch < epochs; epoch++) {
  const started = performance.now();
  let images = 0;
  for await (const batch of loader.epoch(epoch)) {
    images += batch.labels.length;
    if (batch.index === 0) {
      console.log(`epoch ${epoch} batch 0: images ${batch.images.constructor.name} shape [${batch.shape}], labels [${Array.from(batch.labels.slice(0, 8))}...], first indices [${Array.from(batch.indices.slice(0, 4))}...]`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`epoch ${epoch}: ${images} images in ${seconds.toFixed(2)} s = ${(images / seconds).toFixed(0)} images/s`);
}
const stats = loader.stats();
console.log(`decode time ${(stats.decodeMs / 1000).toFixed(1)} s (summed over threads), consumer waited ${(stats.consumerWaitMs / 1000).toFixed(2)} s, skipped ${stats.skippedTotal}`);
await loader.close();
