/**
 * Public loader options: their types, their defaults and the values each may take. Validation
 * lives in `validate.ts` (the checks) and `loader/options.ts` (resolving a whole options
 * object, once, at the public boundary); everything past it trusts its inputs.
 */
import { availableParallelism } from 'node:os';
import { IMAGENET_COLOUR_STATS, type ColourStats, type Normalization } from './colour.js';

/** How ranks are made equal when the dataset does not divide by `worldSize`. */
export type EvenPolicy = 'pad' | 'drop';

/** `shard` as the caller writes it (resolved by `src/loader/shard.ts`). */
export type ShardOption = 'auto' | { rank: number; worldSize: number; even?: EvenPolicy };

/** `shard` after validation (what `loader.options.shard` shows). */
export interface ResolvedShard {
  rank: number;
  worldSize: number;
  /**
   * `pad` (default): every rank gets `ceil(N / worldSize)` samples, the missing ones repeated
   * from the start of the epoch order (as PyTorch's DistributedSampler does) and marked in
   * `batch.padded`; `drop`: every rank gets `floor(N / worldSize)`, the epoch order's last
   * `N mod worldSize` samples are left out of that epoch.
   */
  even: EvenPolicy;
  /** Where rank and world size came from with `shard: 'auto'`, e.g. `torchrun (RANK=1, WORLD_SIZE=3)`; `options` otherwise. */
  source: string;
}

/** What the loader produces per image. */
export type Mode = 'train' | 'centre' | 'ten-crop';
/** Element type of `batch.images`. */
export type DType = 'float32' | 'uint8';
/** Memory layout of `batch.images`. */
export type Layout = 'NHWC' | 'NCHW';
/** Image formats patchstream lets libvips decode. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
/** Resampling kernel of the rescale step (sharp's names). */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
/** Decoder strictness (sharp's `failOn`). */
export type FailOn = 'none' | 'truncated' | 'error' | 'warning';

/** Where prepared (decoded, rescaled, centre-cropped) images are kept between epochs. */
export type CacheOption = false | 'memory' | { dir: string; format?: 'raw' | 'jpeg'; quality?: number };

/** Options of {@link createLoader}. Every field is optional; see {@link LOADER_DEFAULTS}. */
export interface LoaderOptions {
  /** Images per batch (in `ten-crop` mode a batch holds 10 patches per image). @default 128 */
  batchSize?: number;
  /** `train`: random patch + flip + lighting; `centre`: the centre patch; `ten-crop`: 4 corners + centre and their mirrors. @default 'train' */
  mode?: Mode | 'center';
  /** The shorter side is rescaled to this, then the centre `rescale x rescale` square is kept. @default 256 */
  rescale?: number;
  /** Side of the patches taken from the prepared square. @default 224 */
  crop?: number;
  /** Horizontal mirror with p = 0.5 (train mode). @default true */
  flip?: boolean;
  /** PCA lighting statistics, or `false` for none (train mode). @default IMAGENET_COLOUR_STATS */
  lighting?: Pick<ColourStats, 'eigenvalues' | 'eigenvectors'> | false;
  /** Standard deviation of the lighting coefficients alpha. @default 0.1 */
  lightingStd?: number;
  /** Per-channel mean/std on the 0-1 scale, or `false` to output 0-1 pixels. @default IMAGENET_COLOUR_STATS */
  normalize?: Normalization | false;
  /** Element type of `batch.images`. `uint8` leaves lighting and normalisation to the consumer (`batch.affine`). @default 'float32' */
  dtype?: DType;
  /** @default 'NHWC' */
  layout?: Layout;
  /** Shuffle the order every epoch. @default true in train mode, false otherwise */
  shuffle?: boolean;
  /** Seed of every random choice (order, crop, flip, lighting). @default 0 */
  seed?: number;
  /** Drop the last batch of an epoch when it is short. @default false */
  dropLast?: boolean;
  /**
   * This process's part of every epoch: positions `rank, rank + worldSize, ...` of the epoch
   * order, the same number of samples on every rank (`even: 'pad'` repeats, marked in
   * `batch.padded`; `'drop'` leaves out). `'auto'`: rank and world size from the launcher's
   * environment (torchrun, Open MPI, MPICH/PMI, Slurm, Kubernetes Indexed Job).
   * @default { rank: 0, worldSize: 1, even: 'pad' }
   */
  shard?: ShardOption;
  /** Worker threads. @default os.availableParallelism() */
  workers?: number;
  /** Batches decoded ahead of the consumer, at most. @default 2 */
  prefetch?: number;
  /** Images each worker keeps in flight (sharp's cost is mostly per call: overlap them). @default 3 */
  inFlight?: number;
  /** `throw`: the first bad sample ends the epoch with a {@link SampleError}; `skip`: drop and count it. @default 'throw' */
  onError?: 'throw' | 'skip';
  /** Under `skip`, fail once more than this many samples were skipped in an epoch. @default 10% of the epoch's samples */
  maxSkipped?: number;
  /** Abort iteration. */
  signal?: AbortSignal;
  /** Seconds one image may take to decode before it fails with `TIMEOUT`. @default 30 */
  sampleTimeout?: number;
  /** Refuse images with more pixels than this, from their header (decompression bombs). @default 50_000_000 */
  limitInputPixels?: number;
  /** Refuse files larger than this many bytes. @default 64 MiB */
  maxFileBytes?: number;
  /** Formats libvips may decode; everything else (SVG, PDF, HEIF, ...) is refused. @default ['jpeg','png','webp','gif','tiff'] */
  formats?: readonly ImageFormat[];
  /** Accept TIFF content under a non-TIFF name (JPEG/PNG/WebP/GIF may always stand in for each other, as ImageNet's PNG-named-.JPEG requires). @default false */
  allowMisnamed?: boolean;
  /** Colour transparent pixels are flattened onto, R, G, B 0-255. @default [0, 0, 0] */
  background?: readonly [number, number, number];
  /** Resampling kernel of the rescale (torchvision's default is bilinear). @default 'linear' */
  kernel?: ResizeKernel;
  /** How bad decoder trouble must be to fail a sample (sharp's `failOn`): `warning` is strictest, `truncated` tolerates libjpeg warnings such as extraneous bytes. @default 'warning' */
  failOn?: FailOn;
  /** Keep prepared images between epochs. @default false */
  cache?: CacheOption;
  /** Largest memory cache allowed, in bytes. @default half of the machine's memory */
  cacheLimitBytes?: number;
}

/**
 * The defaults of {@link LoaderOptions}: the paper's recipe at ImageNet sizes. Every default a
 * loader, the trainer, the evaluator or the CLI uses comes from here.
 */
export const LOADER_DEFAULTS = Object.freeze({
  batchSize: 128,
  mode: 'train' as Mode,
  rescale: 256,
  /** Capped at `rescale` when only `rescale` is given. */
  crop: 224,
  flip: true,
  lighting: Object.freeze({ eigenvalues: IMAGENET_COLOUR_STATS.eigenvalues, eigenvectors: IMAGENET_COLOUR_STATS.eigenvectors }) as Pick<ColourStats, 'eigenvalues' | 'eigenvectors'>,
  lightingStd: 0.1,
  normalize: Object.freeze({ mean: IMAGENET_COLOUR_STATS.mean, std: IMAGENET_COLOUR_STATS.std }) as Normalization,
  dtype: 'float32' as DType,
  layout: 'NHWC' as Layout,
  /** In `train` mode; `centre` and `ten-crop` read in file order. */
  shuffle: true,
  seed: 0,
  dropLast: false,
  shard: Object.freeze({ rank: 0, worldSize: 1 }),
  /** One worker thread per core. */
  workers: Math.max(1, availableParallelism()),
  prefetch: 2,
  inFlight: 3,
  onError: 'throw' as const,
  /** Under `onError: 'skip'`, the share of an epoch's samples that may be skipped before it fails (`maxSkipped`). */
  maxSkippedFraction: 0.1,
  sampleTimeout: 30,
  limitInputPixels: 50_000_000,
  maxFileBytes: 64 * 1024 * 1024,
  formats: Object.freeze(['jpeg', 'png', 'webp', 'gif', 'tiff']) as readonly ImageFormat[],
  allowMisnamed: false,
  background: Object.freeze([0, 0, 0]) as readonly [number, number, number],
  kernel: 'linear' as ResizeKernel,
  failOn: 'warning' as FailOn,
  cache: false as CacheOption,
});

/** The crop a loader uses when only `rescale` is given: the default crop, at most `rescale`. */
export function defaultCrop(rescale: number): number {
  return Math.min(LOADER_DEFAULTS.crop, rescale);
}

/** The largest number of samples an epoch of `epochSize` may skip under `onError: 'skip'` without `maxSkipped`. */
export function defaultMaxSkipped(epochSize: number): number {
  return Math.ceil(epochSize * LOADER_DEFAULTS.maxSkippedFraction);
}

/** Options after validation: every field present, numbers checked. Internal. */
export interface ResolvedOptions {
  batchSize: number;
  mode: Mode;
  rescale: number;
  crop: number;
  flip: boolean;
  lighting: { eigenvalues: number[]; eigenvectors: number[][] } | false;
  lightingStd: number;
  normalize: { mean: number[]; std: number[] } | false;
  dtype: DType;
  layout: Layout;
  shuffle: boolean;
  seed: number;
  dropLast: boolean;
  shard: ResolvedShard;
  workers: number;
  prefetch: number;
  inFlight: number;
  onError: 'throw' | 'skip';
  maxSkipped: number | undefined;
  signal: AbortSignal | undefined;
  sampleTimeout: number;
  limitInputPixels: number;
  maxFileBytes: number;
  formats: ImageFormat[];
  allowMisnamed: boolean;
  background: [number, number, number];
  kernel: ResizeKernel;
  failOn: FailOn;
  cache: CacheOption;
  cacheLimitBytes: number | undefined;
}

export const MODES = ['train', 'centre', 'ten-crop'] as const;
export const FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const;
export const KERNELS = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'] as const;
export const KNOWN_OPTIONS = new Set([
  'batchSize', 'mode', 'rescale', 'crop', 'flip', 'lighting', 'lightingStd', 'normalize', 'dtype', 'layout',
  'shuffle', 'seed', 'dropLast', 'shard', 'workers', 'prefetch', 'inFlight', 'onError', 'maxSkipped', 'signal',
  'sampleTimeout', 'limitInputPixels', 'maxFileBytes', 'formats', 'allowMisnamed', 'background', 'kernel',
  'failOn', 'cache', 'cacheLimitBytes',
]);
