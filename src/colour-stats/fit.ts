/**
 * fitColourStats: the per-channel mean/std and the RGB principal components of a training
 * set's prepared pixels, for normalisation and AlexNet's PCA lighting. A consumer of the loader:
 * it streams the prepared squares as uint8 batches and keeps running sums (3 channel sums and
 * the 6 distinct cross-products), so memory does not grow with the number of pixels.
 */
import { PCA } from 'ml-pca';
import type { ColourStats } from '../colour.js';
import { checkDataset } from '../dataset/check.js';
import type { Dataset } from '../dataset/types.js';
import { createLoader } from '../loader/loader.js';
import { LOADER_DEFAULTS } from '../options.js';
import { permutation } from '../random.js';
import { checkInteger, checkOptionsObject } from '../validate.js';

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
  checkOptionsObject(options);
  const sample = options.sample === undefined ? 10_000 : checkInteger('options.sample', options.sample, 1, Number.MAX_SAFE_INTEGER);
  const seed = options.seed === undefined ? LOADER_DEFAULTS.seed : checkInteger('options.seed', options.seed, 0, 0xffffffff);
  const rescale = options.rescale === undefined ? LOADER_DEFAULTS.rescale : checkInteger('options.rescale', options.rescale, 1, 4096);
  const count = Math.min(sample, dataset.samples.length);
  const chosen = count === dataset.samples.length
    ? Int32Array.from({ length: count }, (_, i) => i)
    : permutation(dataset.samples.length, seed, 0).subarray(0, count).sort();
  const subset: Dataset = { classes: dataset.classes, samples: Array.from(chosen, (index) => dataset.samples[index]!) };
  // The prepared squares themselves: the whole `rescale x rescale` image as one uint8 patch,
  // with no augmentation and no normalisation.
  const loader = createLoader(subset, {
    mode: 'centre', rescale, crop: rescale, dtype: 'uint8', normalize: false, lighting: false, flip: false, shuffle: false,
    batchSize: 16, seed,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  const totals = new Float64Array(10);
  let done = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      addPixelSums(batch.images as Uint8Array, totals);
      done += batch.labels.length + batch.skipped.length;
      options.onProgress?.(done, count);
    }
  } finally {
    await loader.close();
  }
  const { images, skippedFiles } = loader.stats();
  if (images === 0) throw new Error('fitColourStats(): no image could be read');
  return statsFromSums(totals, images, skippedFiles.map(({ path, code, reason }) => ({ path, code, reason })));
}

/** Adds the channel sums, squares and cross-products of RGB pixels to `totals` (see {@link statsFromSums}). */
function addPixelSums(pixels: Uint8Array, totals: Float64Array): void {
  let r = 0, g = 0, b = 0, rr = 0, gg = 0, bb = 0, rg = 0, rb = 0, gb = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    const red = pixels[i]!, green = pixels[i + 1]!, blue = pixels[i + 2]!;
    r += red; g += green; b += blue;
    rr += red * red; gg += green * green; bb += blue * blue;
    rg += red * green; rb += red * blue; gb += green * blue;
  }
  const sums = [r, g, b, rr, gg, bb, rg, rb, gb, pixels.length / 3];
  for (let k = 0; k < 10; k++) totals[k]! += sums[k]!;
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
