/**
 * fitColourStats: the per-channel mean/std and the RGB principal components of a training
 * set's prepared pixels, for normalisation and AlexNet's PCA lighting. Pixels are streamed:
 * workers return per-image sums (3 channel sums and the 6 distinct cross-products), so memory
 * does not grow with the number of pixels.
 */
import { PCA } from 'ml-pca';
import { SampleError, SkipBudgetError } from './errors.js';
import type { ColourStats } from './colour.js';
import type { Dataset } from './dataset/types.js';
import { workerConfig } from './loader/loader.js';
import { checkDataset, checkInteger, resolveLoaderOptions } from './options.js';
import { makePlan } from './pipeline/plan.js';
import type { StatsResult } from './pool/messages.js';
import { WorkerPool } from './pool/pool.js';
import { permutation } from './random.js';
import { configureSharp } from './stages/prepare.js';

/** Options of {@link fitColourStats}. */
export interface ColourStatsOptions {
  /** Images to use, drawn at random (seeded) without replacement; all of them if the dataset is smaller. @default 10000 */
  sample?: number;
  /** @default os.availableParallelism() */
  workers?: number;
  /** Prepared-image side (the statistics are of the prepared `rescale x rescale` squares). @default 256 */
  rescale?: number;
  /** Seed of the sample draw. @default 0 */
  seed?: number;
  /** `skip` leaves bad images out (counted in `skipped`); `throw` fails on the first. @default 'throw' */
  onError?: 'throw' | 'skip';
  signal?: AbortSignal;
  /** Called after each group of images with (images done, images planned). */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link fitColourStats} returns: {@link ColourStats} plus how it was computed. */
export interface FittedColourStats extends ColourStats {
  /** 3x3 RGB covariance on the 0-1 scale. */
  covariance: number[][];
  /** Images whose pixels were used. */
  images: number;
  /** Images left out under `onError: 'skip'`, with reasons. */
  skipped: Array<{ path: string; code: string; reason: string }>;
}

/**
 * Streams the prepared pixels of (a seeded sample of) a dataset and returns their colour
 * statistics on the 0-1 scale: mean and std per channel, and the eigenvalues/eigenvectors of
 * the 3x3 RGB covariance (ml-pca, descending; eigenvector signs are arbitrary and harmless,
 * since the lighting coefficients are symmetric; each is oriented so its largest entry is positive).
 * @throws {SampleError} an image failed under `onError: 'throw'`
 * @example
 * const stats = await fitColourStats(await imageFolder('data/train'), { sample: 5000 });
 * createLoader(train, { lighting: stats, normalize: stats });
 */
export async function fitColourStats(dataset: Dataset, options: ColourStatsOptions = {}): Promise<FittedColourStats> {
  checkDataset(dataset);
  const sample = options.sample === undefined ? 10_000 : checkInteger('options.sample', options.sample, 1, Number.MAX_SAFE_INTEGER);
  const resolved = resolveLoaderOptions({
    mode: 'centre',
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.rescale !== undefined ? { rescale: options.rescale } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  configureSharp();
  options.signal?.throwIfAborted();
  const count = Math.min(sample, dataset.samples.length);
  const chosen = count === dataset.samples.length
    ? Int32Array.from({ length: count }, (_, i) => i)
    : permutation(dataset.samples.length, resolved.seed, 0).subarray(0, count).sort();
  const pool = new WorkerPool({ workers: resolved.workers, config: { ...workerConfig(resolved, makePlan(resolved), null), shards: dataset.shards ?? null }, sampleTimeout: resolved.sampleTimeout });
  const totals = new Float64Array(10);
  const failures: SampleError[] = [];
  let images = 0;
  let done = 0;
  try {
    const chunk = 16;
    const chunks: number[][] = [];
    for (let start = 0; start < count; start += chunk) chunks.push(Array.from(chosen.subarray(start, Math.min(count, start + chunk))));
    let next = 0;
    const lanes = Array.from({ length: Math.min(chunks.length, resolved.workers * 2) }, async () => {
      while (next < chunks.length) {
        options.signal?.throwIfAborted();
        const indices = chunks[next++]!;
        const result = (await pool.run({ kind: 'stats', indices, paths: indices.map((i) => dataset.samples[i]!.path), ...(dataset.shards ? { ranges: indices.flatMap((i) => { const s = dataset.samples[i]!.source!; return [s.shard, s.offset, s.length]; }) } : {}) })) as StatsResult;
        result.failures.forEach((failure, j) => {
          const index = indices[j]!;
          if (failure) {
            const error = new SampleError(failure, { path: dataset.samples[index]!.path, label: dataset.samples[index]!.label, index });
            if (resolved.onError === 'throw') throw error;
            failures.push(error);
            return;
          }
          for (let k = 0; k < 10; k++) totals[k]! += result.sums[j * 10 + k]!;
          images++;
        });
        done += indices.length;
        options.onProgress?.(done, count);
      }
    });
    await Promise.all(lanes);
  } finally {
    await pool.close();
  }
  const maxSkipped = resolved.maxSkipped ?? Math.ceil(count * 0.1);
  if (failures.length > maxSkipped) {
    throw new SkipBudgetError(maxSkipped, failures);
  }
  if (images === 0) throw new Error('fitColourStats(): no image could be read');
  return statsFromSums(totals, images, failures.map(({ path, code, reason }) => ({ path, code, reason })));
}

/**
 * Colour statistics from accumulated sums over 0-255 pixels:
 * `[R, G, B, RR, GG, BB, RG, RB, GB, pixels]`.
 */
export function statsFromSums(sums: Float64Array | number[], images: number, skipped: FittedColourStats['skipped'] = []): FittedColourStats {
  const pixels = sums[9]!;
  const mean = [0, 1, 2].map((c) => sums[c]! / pixels / 255);
  const second = (k: number) => sums[k]! / pixels / (255 * 255);
  const cov = (a: number, b: number, k: number) => second(k) - mean[a]! * mean[b]!;
  const covariance = [
    [cov(0, 0, 3), cov(0, 1, 6), cov(0, 2, 7)],
    [cov(0, 1, 6), cov(1, 1, 4), cov(1, 2, 8)],
    [cov(0, 2, 7), cov(1, 2, 8), cov(2, 2, 5)],
  ];
  const pca = new PCA(covariance, { isCovarianceMatrix: true });
  const eigenvalues = pca.getEigenvalues().map((value) => Math.max(0, value));
  const vectors = pca.getEigenvectors().to2DArray();
  const eigenvectors = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let component = 0; component < 3; component++) {
    const column = [0, 1, 2].map((row) => vectors[row]![component]!);
    const largest = column.reduce((best, value) => (Math.abs(value) > Math.abs(best) ? value : best), 0);
    const sign = largest < 0 ? -1 : 1;
    for (let row = 0; row < 3; row++) eigenvectors[row]![component] = sign * column[row]!;
  }
  return {
    mean,
    std: [0, 1, 2].map((c) => Math.sqrt(Math.max(0, covariance[c]![c]!))),
    eigenvalues,
    eigenvectors,
    pixels,
    scale: 1,
    covariance,
    images,
    skipped,
  };
}
