/** `patchstream prepare <dir> --cache <dir>`: fill the prepared-image disk cache ahead of training. */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { imageFolder } from '../dataset/image-folder.js';
import { createLoader } from '../loader/loader.js';
import { formatBytes } from '../loader/cache.js';
import { integer, interruptSignal, Reporter, type CommonFlags } from './output.js';
import { LOADER_DEFAULTS } from '../options.js';

interface PrepareFlags extends CommonFlags {
  cache: string;
  rescale: number;
  workers: number;
  format: 'raw' | 'jpeg';
  quality: number;
  skipErrors?: boolean;
}

/** Registers the command. */
export function registerPrepare(program: Command): void {
  program
    .command('prepare')
    .description('decode, rescale and centre-crop every image once into a disk cache that later runs reuse')
    .argument('<dir>', 'ImageFolder dataset')
    .requiredOption('--cache <dir>', 'cache folder (created; reused when it matches the dataset and settings)')
    .option('--rescale <n>', 'prepared image side', integer(1, 4096), LOADER_DEFAULTS.rescale)
    .option('--workers <n>', 'worker threads', integer(1, 256), LOADER_DEFAULTS.workers)
    .option('--format <format>', 'raw (exact) or jpeg (smaller on disk)', 'raw')
    .option('--quality <n>', 'JPEG quality for --format jpeg', integer(1, 100), 90)
    .option('--skip-errors', 'record unreadable images as failed instead of stopping')
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream prepare data/train --cache /fast/cache/train
  $ patchstream train data/train --cache /fast/cache/train`)
    .action(async (dir: string, flags: PrepareFlags) => {
      const reporter = new Reporter(flags);
      const { signal, dispose } = interruptSignal();
      try {
        const dataset = await imageFolder(dir, { signal });
        const loader = createLoader(dataset, {
          rescale: flags.rescale, crop: flags.rescale, mode: 'centre', dtype: 'uint8', workers: flags.workers, batchSize: 64,
          cache: { dir: flags.cache, format: flags.format, quality: flags.quality }, onError: flags.skipErrors ? 'skip' : 'throw', maxSkipped: Infinity, signal,
        });
        const started = performance.now();
        try {
          await loader.warm({ signal });
        } finally {
          await loader.close();
        }
        const stats = loader.stats();
        const seconds = (performance.now() - started) / 1000;
        reporter.info(`prepared ${dataset.samples.length} images into ${flags.cache} (${formatBytes(dataset.samples.length * flags.rescale * flags.rescale * 3)} of records${flags.format === 'jpeg' ? ', JPEG: sparse on disk' : ''}) in ${seconds.toFixed(1)} s: ${stats.decodes} decoded, ${stats.cacheHits} already cached, ${stats.skippedTotal} failed`);
        reporter.summary({ images: dataset.samples.length, decodes: stats.decodes, cacheHits: stats.cacheHits, skipped: stats.skippedTotal, seconds, cache: flags.cache });
      } finally {
        dispose();
      }
    });
}
