/** `patchstream stats <dir> --out stats.json`: colour statistics for normalisation and PCA lighting. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { fitColourStats } from '../colour-stats/fit.js';
import { IMAGENET_COLOUR_STATS } from '../colour.js';
import { imageFolder } from '../dataset/image-folder.js';
import { integer, interruptSignal, Reporter, table, type CommonFlags } from './output.js';
import { LOADER_DEFAULTS } from '../options.js';

interface StatsFlags extends CommonFlags {
  out?: string;
  sample: number;
  workers: number;
  rescale: number;
  seed: number;
  skipErrors?: boolean;
}

/** Registers the command. */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('per-channel mean/std and RGB PCA (eigenvalues, eigenvectors) of the prepared training pixels, 0-1 scale')
    .argument('<dir>', 'ImageFolder dataset')
    .option('--out <file>', 'write the statistics as JSON (usable as createLoader lighting/normalize)')
    .option('--sample <n>', 'images to use, drawn at random (seeded)', integer(1), 10000)
    .option('--workers <n>', 'worker threads', integer(1, 256), LOADER_DEFAULTS.workers)
    .option('--rescale <n>', 'prepared image side', integer(1, 4096), LOADER_DEFAULTS.rescale)
    .option('--seed <n>', 'seed of the sample draw', integer(0, 0xffffffff), LOADER_DEFAULTS.seed)
    .option('--skip-errors', 'leave unreadable images out (counted) instead of failing')
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream stats data/train --out stats.json
  $ patchstream stats data/train --sample 5000 --json`)
    .action(async (dir: string, flags: StatsFlags) => {
      const reporter = new Reporter(flags);
      const { signal, dispose } = interruptSignal();
      try {
        const dataset = await imageFolder(dir, { signal });
        const total = Math.min(flags.sample, dataset.samples.length);
        const progress = reporter.progress(total, 'stats |{bar}| {value}/{total} images | ETA {eta_formatted}');
        const stats = await fitColourStats(dataset, {
          sample: flags.sample, workers: flags.workers, rescale: flags.rescale, seed: flags.seed,
          onError: flags.skipErrors ? 'skip' : 'throw', signal, onProgress: (done) => progress.update(done),
        });
        progress.stop();
        const { covariance, images, skipped, ...colourStats } = stats;
        if (flags.out) await writeFile(flags.out, `${JSON.stringify({ ...colourStats, covariance, images }, null, 2)}\n`);
        const f = (values: readonly number[]) => values.map((v) => v.toFixed(4)).join(', ');
        reporter.info(table([
          ['', 'this dataset', 'ImageNet (published)'],
          ['mean R, G, B', f(stats.mean), f(IMAGENET_COLOUR_STATS.mean)],
          ['std R, G, B', f(stats.std), f(IMAGENET_COLOUR_STATS.std)],
          ['eigenvalues', f(stats.eigenvalues), f(IMAGENET_COLOUR_STATS.eigenvalues)],
        ]));
        reporter.info(`eigenvectors (columns, rows R, G, B): ${JSON.stringify(stats.eigenvectors.map((row) => row.map((v) => Number(v.toFixed(4)))))}`);
        reporter.info(`${images} images, ${stats.pixels} pixels, 0-1 scale${skipped.length ? `, ${skipped.length} skipped` : ''}${flags.out ? `; written to ${flags.out}` : ''}`);
        reporter.summary({ mean: stats.mean, std: stats.std, eigenvalues: stats.eigenvalues, eigenvectors: stats.eigenvectors, pixels: stats.pixels, scale: 1, images, skipped: skipped.length, ...(flags.out ? { out: flags.out } : {}) });
      } finally {
        dispose();
      }
    });
}
