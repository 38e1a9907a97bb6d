/**
 * Public options, their defaults, and the only place they are validated. Everything past
 * {@link resolveLoaderOptions} trusts its inputs.
 */
import { availableParallelism } from 'node:os';
import { IMAGENET_COLOUR_STATS, type ColourStats, type Normalization } from './colour.js';
import type { Dataset } from './dataset/types.js';

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
/** Which decoder prepares JPEGs: `auto` uses libjpeg-turbo + a WebAssembly resample for plain JPEGs and sharp for everything else; `sharp` uses sharp always. */
export type Decoder = 'auto' | 'sharp';
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
  /** Element type of `batch.images`. `uint8` leaves lighting and normalisation to the consumer (`batch.offsets`). @default 'float32' */
  dtype?: DType;
  /** @default 'NHWC' */
  layout?: Layout;
  /** Shuffle the order every epoch. @default true in train mode, false otherwise */
  shuffle?: boolean;
  /** Seed of every random choice (order, crop, flip, lighting). @default 0 */
  seed?: number;
  /** Drop the last batch of an epoch when it is short. @default false */
  dropLast?: boolean;
  /** This process's part of every epoch: positions `rank, rank + worldSize, ...` of the epoch order. @default { rank: 0, worldSize: 1 } */
  shard?: { rank: number; worldSize: number };
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
  /**
   * Decode path for JPEGs. `auto`: 8-bit grey/YCbCr JPEGs with EXIF orientation 1 (or none) and
   * no ICC profile go through libjpeg-turbo (`@julusian/jpeg-turbo`) and a WebAssembly SIMD
   * resample, about 3x cheaper than sharp per image; everything else through sharp. `sharp`:
   * every image through sharp (pixels differ from `auto` by about 1 level on average).
   * @default 'auto'
   */
  decoder?: Decoder;
  /** Keep prepared images between epochs. @default false */
  cache?: CacheOption;
  /** Largest memory cache allowed, in bytes. @default half of the machine's memory */
  cacheLimitBytes?: number;
}

/** The defaults of {@link LoaderOptions}. */
export const LOADER_DEFAULTS = Object.freeze({
  batchSize: 128,
  mode: 'train' as Mode,
  rescale: 256,
  crop: 224,
  flip: true,
  lightingStd: 0.1,
  dtype: 'float32' as DType,
  layout: 'NHWC' as Layout,
  seed: 0,
  dropLast: false,
  prefetch: 2,
  inFlight: 3,
  onError: 'throw' as const,
  sampleTimeout: 30,
  limitInputPixels: 50_000_000,
  maxFileBytes: 64 * 1024 * 1024,
  formats: Object.freeze(['jpeg', 'png', 'webp', 'gif', 'tiff']) as readonly ImageFormat[],
  allowMisnamed: false,
  background: Object.freeze([0, 0, 0]) as readonly [number, number, number],
  kernel: 'linear' as ResizeKernel,
  failOn: 'warning' as FailOn,
  decoder: 'auto' as Decoder,
});

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
  shard: { rank: number; worldSize: number };
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
  decoder: Decoder;
  cache: CacheOption;
  cacheLimitBytes: number | undefined;
}

const MODES = ['train', 'centre', 'ten-crop'] as const;
const FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const;
const KERNELS = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'] as const;
const KNOWN_OPTIONS = new Set([
  'batchSize', 'mode', 'rescale', 'crop', 'flip', 'lighting', 'lightingStd', 'normalize', 'dtype', 'layout',
  'shuffle', 'seed', 'dropLast', 'shard', 'workers', 'prefetch', 'inFlight', 'onError', 'maxSkipped', 'signal',
  'sampleTimeout', 'limitInputPixels', 'maxFileBytes', 'formats', 'allowMisnamed', 'background', 'kernel',
  'failOn', 'cache', 'cacheLimitBytes', 'decoder',
]);

/** `0 of type number`, `'x' of type string`: how a received value is described in errors. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `${JSON.stringify(value).slice(0, 60)} of type array`;
  if (typeof value === 'string') return `'${value}' of type string`;
  if (typeof value === 'object') return `${JSON.stringify(value)?.slice(0, 60) ?? 'object'} of type object`;
  return `${String(value)} of type ${typeof value}`;
}

/** Throws `Expected <what> for <name> but received <value>`. */
export function invalid(name: string, what: string, value: unknown, ErrorClass: typeof TypeError | typeof RangeError = TypeError): never {
  throw new ErrorClass(`Expected ${what} for ${name} but received ${describe(value)}`);
}

/** Checks an integer in [min, max], sharp-style errors. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) invalid(name, `integer between ${min} and ${max}`, value);
  if (value < min || value > max) invalid(name, `integer between ${min} and ${max}`, value, RangeError);
  return value;
}

/** Checks a finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(name, `number between ${min} and ${max}`, value);
  if (value < min || value > max) invalid(name, `number between ${min} and ${max}`, value, RangeError);
  return value;
}

/** Checks one of a fixed set of strings. */
export function checkChoice<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    invalid(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Checks a boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(name, 'boolean', value);
  return value;
}

function checkTriple(name: string, value: unknown, check: (name: string, item: unknown) => number): [number, number, number] {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) invalid(name, 'array of 3 numbers', value);
  const items = Array.from(value as ArrayLike<unknown>);
  if (items.length !== 3) invalid(name, 'array of 3 numbers', value, RangeError);
  return items.map((item, i) => check(`${name}[${i}]`, item)) as [number, number, number];
}

/** Checks an `[r, g, b]` colour of integers 0-255. */
export function checkRgb(name: string, value: unknown): [number, number, number] {
  return checkTriple(name, value, (n, v) => checkInteger(n, v, 0, 255));
}

/** Validates `{ mean, std }` on the 0-1 scale. */
export function checkNormalization(name: string, value: unknown): { mean: number[]; std: number[] } {
  if (typeof value !== 'object' || value === null) invalid(name, 'object { mean, std } or false', value);
  const { mean, std } = value as Record<string, unknown>;
  return {
    mean: checkTriple(`${name}.mean`, mean, (n, v) => checkNumber(n, v, -1e6, 1e6)),
    std: checkTriple(`${name}.std`, std, (n, v) => {
      const x = checkNumber(n, v, 0, 1e6);
      if (x === 0) invalid(n, 'number greater than 0', v, RangeError);
      return x;
    }),
  };
}

/** Validates `{ eigenvalues, eigenvectors }`. */
export function checkLighting(name: string, value: unknown): { eigenvalues: number[]; eigenvectors: number[][] } {
  if (typeof value !== 'object' || value === null) invalid(name, 'object { eigenvalues, eigenvectors } or false', value);
  const { eigenvalues, eigenvectors } = value as Record<string, unknown>;
  const values = checkTriple(`${name}.eigenvalues`, eigenvalues, (n, v) => checkNumber(n, v, 0, 1e6));
  if (!Array.isArray(eigenvectors) || eigenvectors.length !== 3) invalid(`${name}.eigenvectors`, '3x3 array (rows R, G, B)', eigenvectors);
  const vectors = eigenvectors.map((row, i) => checkTriple(`${name}.eigenvectors[${i}]`, row, (n, v) => checkNumber(n, v, -1e6, 1e6)));
  return { eigenvalues: values, eigenvectors: vectors };
}

/** Validates a dataset object at the public boundary. */
export function checkDataset(dataset: unknown): Dataset {
  if (typeof dataset !== 'object' || dataset === null) invalid('dataset', 'object { samples, classes }', dataset);
  const { samples, classes } = dataset as Dataset;
  if (!Array.isArray(samples)) invalid('dataset.samples', 'array of { path, label }', samples);
  if (!Array.isArray(classes)) invalid('dataset.classes', 'array of class names', classes);
  if (samples.length === 0) invalid('dataset.samples', 'at least one sample', samples, RangeError);
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
    if (typeof sample !== 'object' || sample === null || typeof sample.path !== 'string' || sample.path === '') {
      invalid(`dataset.samples[${i}]`, 'object { path: string, label: integer }', sample);
    }
    const label = sample.label;
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= Math.max(1, classes.length)) {
      invalid(`dataset.samples[${i}].label`, `integer between 0 and ${Math.max(0, classes.length - 1)}`, label, RangeError);
    }
  }
  return dataset as Dataset;
}

/**
 * Validates loader options, fills defaults and checks that the shapes work out,
 * before any thread starts.
 * @throws {TypeError} an option has the wrong type; the message names it and the value received
 * @throws {RangeError} an option is out of range
 */
export function resolveLoaderOptions(options: LoaderOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`Unknown option options.${key}; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const pick = <K extends keyof LoaderOptions>(key: K): LoaderOptions[K] => options[key];
  const has = (key: keyof LoaderOptions): boolean => options[key] !== undefined;

  const rawMode = has('mode') ? pick('mode') : LOADER_DEFAULTS.mode;
  const mode = rawMode === 'center' ? 'centre' : checkChoice('options.mode', rawMode, MODES);
  const rescale = has('rescale') ? checkInteger('options.rescale', pick('rescale'), 1, 4096) : LOADER_DEFAULTS.rescale;
  const crop = has('crop') ? checkInteger('options.crop', pick('crop'), 1, 4096) : Math.min(LOADER_DEFAULTS.crop, rescale);
  if (crop > rescale) {
    throw new RangeError(`Expected options.crop (${crop}) to be at most options.rescale (${rescale}): patches are taken from the rescale x rescale square`);
  }
  const workers = has('workers') ? checkInteger('options.workers', pick('workers'), 1, 256) : Math.max(1, availableParallelism());
  const shard = has('shard') ? checkShard(pick('shard')) : { rank: 0, worldSize: 1 };
  const lighting = !has('lighting') ? checkLighting('options.lighting', IMAGENET_COLOUR_STATS)
    : pick('lighting') === false ? false : checkLighting('options.lighting', pick('lighting'));
  const normalize = !has('normalize') ? checkNormalization('options.normalize', IMAGENET_COLOUR_STATS)
    : pick('normalize') === false ? false : checkNormalization('options.normalize', pick('normalize'));
  const formats = has('formats') ? checkFormats(pick('formats')) : [...LOADER_DEFAULTS.formats];
  const signal = pick('signal');
  if (signal !== undefined && !(signal instanceof AbortSignal)) invalid('options.signal', 'AbortSignal', signal);
  const maxSkipped = pick('maxSkipped');
  if (maxSkipped !== undefined && maxSkipped !== Infinity) checkInteger('options.maxSkipped', maxSkipped, 0, Number.MAX_SAFE_INTEGER);
  const cacheLimitBytes = has('cacheLimitBytes') ? checkInteger('options.cacheLimitBytes', pick('cacheLimitBytes'), 1, Number.MAX_SAFE_INTEGER) : undefined;

  return {
    batchSize: has('batchSize') ? checkInteger('options.batchSize', pick('batchSize'), 1, 65536) : LOADER_DEFAULTS.batchSize,
    mode,
    rescale,
    crop,
    flip: has('flip') ? checkBoolean('options.flip', pick('flip')) : LOADER_DEFAULTS.flip,
    lighting,
    lightingStd: has('lightingStd') ? checkNumber('options.lightingStd', pick('lightingStd'), 0, 100) : LOADER_DEFAULTS.lightingStd,
    normalize,
    dtype: has('dtype') ? checkChoice('options.dtype', pick('dtype'), ['float32', 'uint8'] as const) : LOADER_DEFAULTS.dtype,
    layout: has('layout') ? checkChoice('options.layout', pick('layout'), ['NHWC', 'NCHW'] as const) : LOADER_DEFAULTS.layout,
    shuffle: has('shuffle') ? checkBoolean('options.shuffle', pick('shuffle')) : mode === 'train',
    seed: has('seed') ? checkInteger('options.seed', pick('seed'), 0, 0xffffffff) : LOADER_DEFAULTS.seed,
    dropLast: has('dropLast') ? checkBoolean('options.dropLast', pick('dropLast')) : LOADER_DEFAULTS.dropLast,
    shard,
    workers,
    prefetch: has('prefetch') ? checkInteger('options.prefetch', pick('prefetch'), 1, 1024) : LOADER_DEFAULTS.prefetch,
    inFlight: has('inFlight') ? checkInteger('options.inFlight', pick('inFlight'), 1, 64) : LOADER_DEFAULTS.inFlight,
    onError: has('onError') ? checkChoice('options.onError', pick('onError'), ['throw', 'skip'] as const) : LOADER_DEFAULTS.onError,
    maxSkipped,
    signal,
    sampleTimeout: has('sampleTimeout') ? checkNumber('options.sampleTimeout', pick('sampleTimeout'), 0.001, 86400) : LOADER_DEFAULTS.sampleTimeout,
    limitInputPixels: has('limitInputPixels') ? checkInteger('options.limitInputPixels', pick('limitInputPixels'), 1, Number.MAX_SAFE_INTEGER) : LOADER_DEFAULTS.limitInputPixels,
    maxFileBytes: has('maxFileBytes') ? checkInteger('options.maxFileBytes', pick('maxFileBytes'), 1, Number.MAX_SAFE_INTEGER) : LOADER_DEFAULTS.maxFileBytes,
    formats,
    allowMisnamed: has('allowMisnamed') ? checkBoolean('options.allowMisnamed', pick('allowMisnamed')) : LOADER_DEFAULTS.allowMisnamed,
    background: has('background') ? checkRgb('options.background', pick('background')) : [...LOADER_DEFAULTS.background],
    kernel: has('kernel') ? checkChoice('options.kernel', pick('kernel'), KERNELS) : LOADER_DEFAULTS.kernel,
    failOn: has('failOn') ? checkChoice('options.failOn', pick('failOn'), ['none', 'truncated', 'error', 'warning'] as const) : LOADER_DEFAULTS.failOn,
    decoder: has('decoder') ? checkChoice('options.decoder', pick('decoder'), ['auto', 'sharp'] as const) : LOADER_DEFAULTS.decoder,
    cache: has('cache') ? checkCache(pick('cache')) : false,
    cacheLimitBytes,
  };
}

function checkShard(value: unknown): { rank: number; worldSize: number } {
  if (typeof value !== 'object' || value === null) invalid('options.shard', 'object { rank, worldSize }', value);
  const { rank, worldSize } = value as Record<string, unknown>;
  const size = checkInteger('options.shard.worldSize', worldSize, 1, 1_000_000);
  return { rank: checkInteger('options.shard.rank', rank, 0, size - 1), worldSize: size };
}

function checkFormats(value: unknown): ImageFormat[] {
  if (!Array.isArray(value) || value.length === 0) invalid('options.formats', `non-empty array of ${FORMATS.map((f) => `'${f}'`).join(', ')}`, value);
  return value.map((format, i) => checkChoice(`options.formats[${i}]`, format, FORMATS));
}

function checkCache(value: unknown): CacheOption {
  if (value === false || value === 'memory') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { dir?: unknown }).dir === 'string' && (value as { dir: string }).dir !== '') {
    const { dir, format, quality } = value as { dir: string; format?: unknown; quality?: unknown };
    const resolvedFormat = format === undefined ? 'raw' : checkChoice('options.cache.format', format, ['raw', 'jpeg'] as const);
    const resolvedQuality = quality === undefined ? 90 : checkInteger('options.cache.quality', quality, 1, 100);
    return { dir, format: resolvedFormat, quality: resolvedQuality };
  }
  return invalid('options.cache', "false, 'memory' or { dir: string, format?: 'raw' | 'jpeg', quality?: number }", value);
}
