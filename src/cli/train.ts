/** `patchstream train <dir>`: trains AlexNet (or alexnet-small) with the bundled trainer. */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import type { ColourStats } from '../colour.js';
import { imageFolder } from '../dataset/image-folder.js';
import type { EvaluationResult } from '../eval/evaluate.js';
import { BACKEND_PREFERENCES, MODEL_NAMES, type BackendPreference, type ModelName } from '../model/choices.js';
import { defaultCrop, LOADER_DEFAULTS } from '../options.js';
import type { TrainOptions } from '../train/trainer.js';
import { decimal, integer, InterruptedError, interruptSignal, Reporter, table, UsageError, type CommonFlags } from './output.js';

interface TrainFlags extends CommonFlags {
  val?: string;
  model: string;
  width: number;
  rescale: number;
  crop?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSteps?: string;
  patience: number;
  workers: number;
  prefetch: number;
  seed: number;
  backend: string;
  out: string;
  resume?: string;
  valFraction: number;
  checkpointEvery: number;
  cache?: string;
  stats?: string;
  skipErrors?: boolean;
  tenCrop: boolean;
  feed: string;
}

/** The centre vs ten-crop table that `train` and `eval` print. */
export function evaluationTable(centre: EvaluationResult, tenCrop: EvaluationResult): string {
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  return table([
    ['', 'top-1 error', 'top-5 error', 'images', 'images/s'],
    ['centre patch', percent(centre.top1Error), percent(centre.top5Error), centre.images, centre.imagesPerSecond.toFixed(0)],
    ['ten-crop average', percent(tenCrop.top1Error), percent(tenCrop.top5Error), tenCrop.images, tenCrop.imagesPerSecond.toFixed(0)],
  ]);
}

/** Reads a `patchstream stats --out` file; its shape is checked by the loader's option validation. */
async function readColourStats(path: string): Promise<ColourStats> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--stats ${path}: ${(error as Error).message}`);
  }
  const stats = parsed as ColourStats;
  if (stats.scale !== 1) throw new UsageError(`--stats ${path}: expected statistics on the 0-1 pixel scale (scale: 1), as written by patchstream stats`);
  return stats;
}

/** Registers the command. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train AlexNet (or a scaled variant) on an ImageFolder dataset, then evaluate centre patch and ten-crop')
    .argument('<dir>', 'ImageFolder training set (class subfolders of images)')
    .option('--val <dir>', 'validation ImageFolder (default: hold out --val-fraction of <dir>, stratified, seeded)')
    .option('--val-fraction <f>', 'fraction held out when there is no --val', decimal(0.001, 0.9), 0.1)
    .addOption(new Option('--model <name>', 'alexnet (the paper, 224/227 px) or alexnet-small (28-64 px, CPU)').choices(MODEL_NAMES).default('alexnet'))
    .option('--width <m>', 'channel multiplier', decimal(0.01, 16), 1)
    .option('--rescale <n>', 'shorter side after rescale (the paper: 256)', integer(1, 4096), LOADER_DEFAULTS.rescale)
    .option('--crop <n>', 'training patch side = model input (the paper: 224)', integer(1, 4096))
    .option('--epochs <n>', 'epochs (the paper: ~90)', integer(1, 100000), 90)
    .option('--batch-size <n>', 'images per step (the paper: 128)', integer(1, 65536), LOADER_DEFAULTS.batchSize)
    .option('--lr <rate>', 'initial learning rate (the paper: 0.01)', decimal(0, 100), 0.01)
    .option('--lr-steps <epochs>', 'comma-separated epochs at which lr is divided by 10 (default: on validation plateau)')
    .option('--patience <n>', 'epochs without validation improvement before lr / 10', integer(1, 10000), 3)
    .option('--workers <n>', 'loader worker threads', integer(1, 256), Math.max(1, availableParallelism() - 1))
    .option('--prefetch <n>', 'batches decoded ahead', integer(1, 64), LOADER_DEFAULTS.prefetch)
    .option('--seed <n>', 'seed of the split, order, augmentation and initial weights', integer(0, 0xffffffff), LOADER_DEFAULTS.seed)
    .addOption(new Option('--backend <name>', 'tfjs backend (auto: the fastest that loads)').choices(BACKEND_PREFERENCES).default('auto'))
    .addOption(new Option('--feed <dtype>', 'uint8 batches with lighting + normalisation on the device, or float32 (auto: uint8 on GPU backends)').choices(['auto', 'uint8', 'float32']).default('auto'))
    .option('--out <dir>', 'checkpoints, metrics.jsonl and curve.svg go here', 'runs/train')
    .option('--resume <checkpoint>', "continue from a checkpoint folder or a previous --out folder; flags that would change the batches or the model are ignored (the checkpoint's values are kept), and the run prints which")
    .option('--checkpoint-every <steps>', 'also checkpoint every N steps (0: at epoch ends only)', integer(0), 0)
    .option('--cache <where>', "keep prepared images: 'memory' or a folder")
    .option('--stats <file>', 'colour statistics from `patchstream stats --out` for normalisation and PCA lighting (default: ImageNet\'s)')
    .option('--skip-errors', 'skip unreadable images (counted, listed) instead of stopping')
    .option('--no-ten-crop', 'skip the final centre + ten-crop evaluation')
    .option('--json', 'one JSON object per line (a resume line when resuming, an epoch per line), the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream train fixtures/shapes --model alexnet-small --rescale 36 --crop 32 --epochs 30 --batch-size 32 --out runs/shapes
  $ patchstream train /data/imagenet/train --val /data/imagenet/val --out runs/alexnet        # the paper's recipe (GPU)
  $ patchstream train /data/imagenet/train --resume runs/alexnet
Ctrl-C finishes the current step, writes a checkpoint and exits with code 130.`)
    .action(async (dir: string, flags: TrainFlags, command: Command) => {
      await trainCommand(dir, flags, command);
    });
}

async function trainCommand(dir: string, flags: TrainFlags, command: Command): Promise<void> {
  const reporter = new Reporter(flags);
  // Resuming, only the flags typed on the command line are passed on: the trainer takes the
  // rest from the checkpoint and says which typed ones it kept, ignored or applied.
  const passed = <T extends object>(name: keyof TrainFlags, entry: T): Partial<T> => (!flags.resume || command.getOptionValueSource(name) === 'cli' ? entry : {});
  const model = flags.model as ModelName;
  const backend = flags.backend as BackendPreference;
  const feed = flags.feed as 'auto' | 'uint8' | 'float32';
  const lrSteps = flags.lrSteps === undefined ? undefined : flags.lrSteps.split(',').map((part) => {
    const epoch = Number(part.trim());
    if (!Number.isInteger(epoch) || epoch < 1) throw new UsageError(`--lr-steps takes comma-separated positive integers, not ${JSON.stringify(flags.lrSteps)}`);
    return epoch;
  });
  const crop = flags.crop ?? defaultCrop(flags.rescale);
  if (crop > flags.rescale) throw new UsageError(`--crop (${crop}) must be at most --rescale (${flags.rescale})`);

  // First Ctrl-C: finish the step, checkpoint, exit 130. Second: exit at once.
  const { signal, dispose } = interruptSignal(() => reporter.info('interrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit at once)'));
  try {
    const dataset = await imageFolder(dir);
    const val = flags.val ? await imageFolder(flags.val) : undefined;
    const colourStats = flags.stats ? await readColourStats(flags.stats) : undefined;
    let progress = reporter.progress(1, 'epoch {epoch} |{bar}| step {value}/{total} | loss {loss} | {rate} img/s | data wait {wait} | ETA {eta_formatted}', { epoch: 0, loss: '-', rate: '-', wait: '-' });
    let progressEpoch = -1;
    const options: TrainOptions = {
      ...passed('model', { model }), ...passed('width', { width: flags.width }), ...passed('rescale', { rescale: flags.rescale }),
      ...passed('crop', { crop }), ...passed('epochs', { epochs: flags.epochs }), ...passed('batchSize', { batchSize: flags.batchSize }),
      ...passed('lr', { lr: flags.lr }), ...(lrSteps ? { lrSteps } : {}), ...passed('patience', { patience: flags.patience }),
      ...passed('seed', { seed: flags.seed }), ...passed('backend', { backend }), ...passed('feed', { feed }), out: flags.out,
      ...(flags.resume ? { resume: flags.resume } : {}), ...(val ? { val } : {}), ...passed('valFraction', { valFraction: flags.valFraction }),
      ...passed('checkpointEvery', { checkpointEvery: flags.checkpointEvery }),
      loader: {
        ...passed('workers', { workers: flags.workers }), ...passed('prefetch', { prefetch: flags.prefetch }),
        ...(colourStats ? { lighting: colourStats, normalize: colourStats } : {}),
        ...(flags.cache ? { cache: flags.cache === 'memory' ? 'memory' as const : { dir: flags.cache } } : {}),
        ...(flags.skipErrors ? { onError: 'skip' as const, maxSkipped: Infinity } : {}),
      },
      finalEvaluation: flags.tenCrop,
      signal,
      log: (line) => reporter.info(line),
      onResume: (info) => reporter.event({ type: 'resume', ...info }),
      onStep: (info) => {
        if (info.epoch !== progressEpoch) {
          progress.stop();
          progress = reporter.progress(info.steps, 'epoch {epoch} |{bar}| step {value}/{total} | loss {loss} | {rate} img/s | data wait {wait} | ETA {eta_formatted}', { epoch: info.epoch + 1, loss: '-', rate: '-', wait: '-' });
          progressEpoch = info.epoch;
        }
        progress.update(info.step, { epoch: info.epoch + 1, loss: info.loss.toFixed(3), rate: info.imagesPerSecond.toFixed(0), wait: `${(info.dataWaitShare * 100).toFixed(0)}%` });
      },
      onEpoch: (info) => {
        progress.stop();
        progressEpoch = -1;
        reporter.event({ type: 'epoch', ...info });
      },
    };
    // The trainer (and tfjs with it) loads only when a run starts: the other commands never load tfjs.
    const { train } = await import('../train/trainer.js');
    const result = await train(dataset, options);
    progress.stop();
    if (result.final) {
      reporter.info('');
      reporter.info(`final evaluation on ${result.valImages} validation images:`);
      reporter.info(evaluationTable(result.final.centre, result.final.tenCrop));
    }
    reporter.info(`checkpoint: ${result.checkpoint}`);
    reporter.summary({
      epochs: result.epochs,
      trainLoss: result.trainLoss,
      valTop1Error: result.valTop1Error,
      valTop5Error: result.valTop5Error,
      imagesPerSecond: result.imagesPerSecond,
      backend: result.backend,
      ...(result.adapter ? { adapter: result.adapter } : {}),
      feed: result.feed,
      checkpoint: result.checkpoint,
      interrupted: result.interrupted,
      ...(result.final ? {
        centre: { top1Error: result.final.centre.top1Error, top5Error: result.final.centre.top5Error },
        tenCrop: { top1Error: result.final.tenCrop.top1Error, top5Error: result.final.tenCrop.top5Error },
      } : {}),
    });
    if (result.interrupted) throw new InterruptedError(`interrupted; resume with --resume ${flags.out}`);
  } finally {
    dispose();
  }
}
