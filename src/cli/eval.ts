/** `patchstream eval <checkpoint> <dir>`: centre patch and ten-crop top-1/top-5 error, side by side. */
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { imageFolder } from '../dataset/image-folder.js';
import { BACKEND_PREFERENCES, type BackendPreference } from '../model/choices.js';
import { integer, interruptSignal, Reporter, type CommonFlags } from './output.js';
import { evaluationTable } from './train.js';

interface EvalFlags extends CommonFlags {
  batchSize: number;
  workers: number;
  backend: string;
  skipErrors?: boolean;
}

/** Registers the command. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('top-1/top-5 error of a checkpoint on a dataset: centre patch and ten-patch averaging')
    .argument('<checkpoint>', 'a checkpoint folder, or a training --out folder (its latest checkpoint)')
    .argument('<dir>', 'ImageFolder dataset with the same class names as the checkpoint')
    .option('--batch-size <n>', 'images per batch (ten-crop runs 10 patches per image)', integer(1, 65536), 32)
    .option('--workers <n>', 'loader worker threads', integer(1, 256), Math.max(1, availableParallelism() - 1))
    .addOption(new Option('--backend <name>', 'tfjs backend (auto: the fastest that loads)').choices(BACKEND_PREFERENCES).default('auto'))
    .option('--skip-errors', 'skip unreadable images (counted) instead of stopping')
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream eval runs/shapes fixtures/shapes
  $ patchstream eval runs/alexnet/checkpoints/epoch-0090-step-000000 /data/imagenet/val --json`)
    .action(async (checkpoint: string, dir: string, flags: EvalFlags) => {
      const reporter = new Reporter(flags);
      const backend = flags.backend as BackendPreference;
      const { signal, dispose } = interruptSignal();
      try {
        const dataset = await imageFolder(dir, { signal });
        const { evaluateCheckpoint } = await import('../eval/checkpoint.js');
        const result = await evaluateCheckpoint(checkpoint, dataset, {
          backend, signal, log: (line) => reporter.info(line),
          loader: { batchSize: flags.batchSize, workers: flags.workers, ...(flags.skipErrors ? { onError: 'skip' as const, maxSkipped: Infinity } : {}) },
        });
        reporter.info(evaluationTable(result.centre, result.tenCrop));
        reporter.summary({
          centre: { top1Error: result.centre.top1Error, top5Error: result.centre.top5Error, imagesPerSecond: result.centre.imagesPerSecond },
          tenCrop: { top1Error: result.tenCrop.top1Error, top5Error: result.tenCrop.top5Error, imagesPerSecond: result.tenCrop.imagesPerSecond },
          images: result.centre.images,
          checkpoint: result.checkpoint,
          backend: result.backend,
          skipped: result.centre.skipped,
        });
      } finally {
        dispose();
      }
    });
}
