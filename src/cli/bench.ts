/**
 * `patchstream bench <dir>`: loader throughput next to bare sharp doing only the prepare step
 * (decode + rescale + centre crop to raw) on the same files with the same number of calls in
 * flight, in the same process, alternating, as medians of several passes.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Option, type Command } from 'commander';
import sharp from 'sharp';
import { forEachLimited } from '../limit.js';
import type { Dataset } from '../dataset/types.js';
import { createLoader } from '../loader/loader.js';
import { formatBytes } from '../loader/cache.js';
import { MODES, type CacheOption, type DType, type Mode, LOADER_DEFAULTS } from '../options.js';
import { configureSharp } from '../pool/sharp.js';
import { integer, interruptSignal, Reporter, table, type CommonFlags } from './output.js';
import type { ShardOption } from '../loader/shard.js';
import { readRange } from '../stages/read-range.js';
import { openDataset, shardFlag } from './shard-flag.js';

interface BenchFlags extends CommonFlags {
  batchSize: number;
  workers: number;
  inFlight: number;
  prefetch: number;
  passes: number;
  rescale: number;
  crop: number;
  dtype: DType;
  mode: Mode;
  limit?: number;
  cache?: string;
  cacheFormat: 'raw' | 'jpeg';
  shard?: ShardOption;
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Bare sharp: the prepare step only (read the file, decode, rescale + centre crop to raw),
 * `concurrency` calls in flight from this thread. Images per second; failures are counted.
 */
export async function sharpOnlyPass(paths: string[], rescale: number, concurrency: number, signal?: AbortSignal, read: (i: number) => Promise<Uint8Array> = (i) => readFile(paths[i]!)): Promise<{ rate: number; failures: number }> {
  const started = performance.now();
  let failures = 0;
  await forEachLimited(paths.length, concurrency, async (i) => {
    try {
      const bytes = await read(i);
      await sharp(bytes).autoOrient().resize(rescale, rescale, { fit: 'cover', kernel: 'linear' }).removeAlpha().raw().toBuffer();
    } catch {
      failures++;
    }
  }, signal);
  return { rate: (paths.length * 1000) / (performance.now() - started), failures };
}

/** Registers the command. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure loader throughput next to bare sharp on the same files')
    .argument('<dir>', 'ImageFolder dataset (class subfolders of images), or WebDataset shards: a folder with index.json, its path or http(s) URL')
    .option('--batch-size <n>', 'images per batch', integer(1, 65536), LOADER_DEFAULTS.batchSize)
    .option('--workers <n>', 'worker threads', integer(1, 256), LOADER_DEFAULTS.workers)
    .option('--in-flight <n>', 'images each worker keeps in flight', integer(1, 64), LOADER_DEFAULTS.inFlight)
    .option('--prefetch <n>', 'batches decoded ahead', integer(1, 64), LOADER_DEFAULTS.prefetch)
    .option('--passes <n>', 'measured passes (the median is reported)', integer(1, 100), 3)
    .option('--rescale <n>', 'shorter side after rescale', integer(1, 4096), LOADER_DEFAULTS.rescale)
    .option('--crop <n>', 'patch side', integer(1, 4096), LOADER_DEFAULTS.crop)
    .addOption(new Option('--dtype <type>', 'element type of the batches').choices(['float32', 'uint8']).default('float32'))
    .addOption(new Option('--mode <mode>', 'augmentation mode').choices(MODES).default('train'))
    .option('--limit <n>', 'use only the first n images', integer(1))
    .option('--cache <where>', "prepared-image cache: 'memory' or a folder; the first pass fills it")
    .addOption(new Option('--cache-format <format>', 'disk cache record format').choices(['raw', 'jpeg']).default('raw'))
    .option('--shard <which>', "this rank's part: 'auto' (from torchrun/MPI/Slurm/Kubernetes variables) or <rank>/<worldSize>[:pad|drop]", shardFlag)
    .option('--json', 'one JSON object per line, the last a summary')
    .option('--verbose', 'full error stacks')
    .addHelpText('after', `
Examples:
  $ patchstream bench .bench-data/imagenet-like
  $ patchstream bench data/train --workers 4 --passes 5 --json
  $ patchstream bench data/train --cache memory`)
    .action(async (dir: string, flags: BenchFlags) => {
      const reporter = new Reporter(flags);
      const { signal, dispose } = interruptSignal();
      try {
        await bench(dir, flags, reporter, signal);
      } finally {
        dispose();
      }
    });
}

async function bench(dir: string, flags: BenchFlags, reporter: Reporter, signal: AbortSignal): Promise<void> {
  configureSharp();
  const full = await openDataset(dir, signal);
  const dataset: Dataset = flags.limit ? { ...full, samples: full.samples.slice(0, flags.limit) } : full;
  const paths = dataset.samples.map((sample) => sample.path);
  // Shard members are not files: the bare-sharp baseline reads them by range as the workers do.
  const shards = dataset.shards;
  const read = shards
    ? async (i: number) => {
      const { shard, offset, length } = dataset.samples[i]!.source!;
      const result = await readRange(shards, shard, offset, offset + length);
      if (!result.ok) throw new Error(result.failure.reason);
      return result.bytes;
    }
    : undefined;
  const cache: CacheOption = flags.cache === undefined ? false : flags.cache === 'memory' ? 'memory' : { dir: flags.cache, format: flags.cacheFormat };
  const loader = createLoader(dataset, {
    batchSize: flags.batchSize,
    workers: flags.workers,
    inFlight: flags.inFlight,
    prefetch: flags.prefetch,
    rescale: flags.rescale,
    crop: flags.crop,
    dtype: flags.dtype,
    mode: flags.mode,
    onError: 'skip',
    maxSkipped: Infinity,
    cache,
    signal,
    ...(flags.shard ? { shard: flags.shard } : {}),
  });
  const concurrency = flags.workers * flags.inFlight;
  if (loader.options.shard.worldSize > 1) reporter.info(`shard: rank ${loader.options.shard.rank} of ${loader.options.shard.worldSize} (${loader.options.shard.source}), ${loader.size} samples per epoch`);
  reporter.info(`bench: ${paths.length} images from ${dir}, ${flags.workers} workers x ${flags.inFlight} in flight, batch ${flags.batchSize} ${flags.dtype} ${flags.mode}, ${flags.passes} passes${cache ? `, cache ${flags.cache}` : ''}; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`);
  const loaderPass = async (epoch: number) => {
    const started = performance.now();
    let images = 0;
    for await (const batch of loader.epoch(epoch)) images += batch.labels.length;
    return (images * 1000) / (performance.now() - started);
  };
  const sharpRates: number[] = [];
  const loaderRates: number[] = [];
  let fillRate: number | null = null;
  let sharpFailures = 0;
  try {
    if (cache) {
      fillRate = await loaderPass(0);
      const size = loader.stats();
      reporter.info(`  fill pass: ${fillRate.toFixed(0)} images/s (cache ${flags.cache}, ${formatBytes(dataset.samples.length * flags.rescale * flags.rescale * 3)}; ${size.decodes} decodes)`);
      reporter.event({ type: 'pass', which: 'fill', imagesPerSecond: fillRate });
    } else {
      // Warm-up, not counted: thread start, page cache, JIT.
      await loaderPass(0);
      await sharpOnlyPass(paths.slice(0, Math.min(paths.length, 256)), flags.rescale, concurrency, signal, read);
    }
    for (let pass = 0; pass < flags.passes; pass++) {
      const { rate: sharpRate, failures } = await sharpOnlyPass(paths, flags.rescale, concurrency, signal, read);
      sharpFailures = failures;
      const loaderRate = await loaderPass(pass + 1);
      sharpRates.push(sharpRate);
      loaderRates.push(loaderRate);
      reporter.info(`  pass ${pass + 1}: sharp ${sharpRate.toFixed(0)} images/s, loader ${loaderRate.toFixed(0)} images/s`);
      reporter.event({ type: 'pass', pass: pass + 1, sharpOnlyImagesPerSecond: sharpRate, imagesPerSecond: loaderRate });
    }
  } finally {
    await loader.close();
  }
  const stats = loader.stats();
  const sharpOnly = median(sharpRates);
  const loaderRate = median(loaderRates);
  const ratio = loaderRate / sharpOnly;
  const rows: Array<Array<string | number>> = [['', 'images/s (median)', 'passes']];
  rows.push(['bare sharp prepare-only', sharpOnly.toFixed(0), sharpRates.map((r) => r.toFixed(0)).join(' ')]);
  if (fillRate !== null) rows.push(['patchstream, filling cache', fillRate.toFixed(0), '1']);
  rows.push([`patchstream loader${cache ? ' (cached)' : ''}`, loaderRate.toFixed(0), loaderRates.map((r) => r.toFixed(0)).join(' ')]);
  reporter.info('');
  reporter.info(table(rows));
  reporter.info(`ratio loader / bare sharp: ${ratio.toFixed(2)}x; consumer waited ${(stats.consumerWaitMs / 1000).toFixed(1)} s; failed images: loader ${stats.skippedTotal}, bare sharp ${sharpFailures}`);
  reporter.summary({
    imagesPerSecond: loaderRate,
    images: paths.length,
    workers: flags.workers,
    batchSize: flags.batchSize,
    sharpOnlyImagesPerSecond: sharpOnly,
    ratio,
    passes: flags.passes,
    inFlight: flags.inFlight,
    dtype: flags.dtype,
    mode: flags.mode,
    skipped: stats.skippedTotal,
    shard: { rank: loader.options.shard.rank, worldSize: loader.options.shard.worldSize },
    ...(fillRate !== null ? { fillImagesPerSecond: fillRate, cachedImagesPerSecond: loaderRate } : {}),
  });
}
