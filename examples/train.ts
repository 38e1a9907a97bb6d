/**
 * The bundled AlexNet trainer from code, with your own callbacks.
 *   npx tsx examples/train.ts [dir] [epochs]
 */
import { imageFolder } from 'patchstream';
import { train } from 'patchstream/train';

const dir = process.argv[2] ?? 'fixtures/shapes';
const epochs = Number(process.argv[3] ?? 3);
const dataset = await imageFolder(dir);

const result = await train(dataset, {
  model: 'alexnet-small',
  rescale: 36,
  crop: 32,
  epochs,
  batchSize: 32,
  out: 'runs/example-train',
  log: (line) => console.log(line),
  onStep: ({ epoch, step, steps, loss }) => {
    if (step % 5 === 0) console.log(`  epoch ${epoch} step ${step}/${steps}: loss ${loss.toFixed(3)}`);
  },
  onEpoch: ({ epoch, valTop1Error }) => {
    console.log(`my callback: epoch ${epoch} validation top-1 error ${(valTop1Error * 100).toFixed(1)}%`);
  },
});
console.log(`done: ${result.epochs} epochs on ${result.backend}; ten-crop top-1 error ${((result.final?.tenCrop.top1Error ?? NaN) * 100).toFixed(1)}%; checkpoint ${result.checkpoint}`);
