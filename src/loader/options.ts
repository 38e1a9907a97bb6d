/**
 * Resolves a loader's options: validates every field (with the checks of `validate.ts`), fills
 * the defaults from {@link LOADER_DEFAULTS} and checks that the shapes work out, before any
 * thread starts. Everything past {@link resolveLoaderOptions} trusts its inputs.
 */
import {
  defaultCrop, FORMATS, KERNELS, KNOWN_OPTIONS, LOADER_DEFAULTS, MODES,
  type CacheOption, type ImageFormat, type LoaderOptions, type ResolvedOptions,
} from '../options.js';
import { resolveShard } from './shard.js';
import { checkBoolean, checkChoice, checkInteger, checkKnownKeys, checkLighting, checkNormalization, checkNumber, checkRgb, checkSignal, invalid } from '../validate.js';

/**
 * Validates loader options, fills defaults and checks that the shapes work out,
 * before any thread starts.
 * @throws {TypeError} an option has the wrong type; the message names it and the value received
 * @throws {RangeError} an option is out of range
 */
export function resolveLoaderOptions(options: LoaderOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'object', options);
  checkKnownKeys('options', options, KNOWN_OPTIONS);
  const pick = <K extends keyof LoaderOptions>(key: K): LoaderOptions[K] => options[key];
  const has = (key: keyof LoaderOptions): boolean => options[key] !== undefined;

  const rawMode = has('mode') ? pick('mode') : LOADER_DEFAULTS.mode;
  const mode = rawMode === 'center' ? 'centre' : checkChoice('options.mode', rawMode, MODES);
  const rescale = has('rescale') ? checkInteger('options.rescale', pick('rescale'), 1, 4096) : LOADER_DEFAULTS.rescale;
  const crop = has('crop') ? checkInteger('options.crop', pick('crop'), 1, 4096) : defaultCrop(rescale);
  if (crop > rescale) {
    throw new RangeError(`Expected options.crop (${crop}) to be at most options.rescale (${rescale}): patches are taken from the rescale x rescale square`);
  }
  const workers = has('workers') ? checkInteger('options.workers', pick('workers'), 1, 256) : LOADER_DEFAULTS.workers;
  const shard = resolveShard(has('shard') ? pick('shard') : { ...LOADER_DEFAULTS.shard });
  const lighting = !has('lighting') ? checkLighting('options.lighting', LOADER_DEFAULTS.lighting)
    : pick('lighting') === false ? false : checkLighting('options.lighting', pick('lighting'));
  const normalize = !has('normalize') ? checkNormalization('options.normalize', LOADER_DEFAULTS.normalize)
    : pick('normalize') === false ? false : checkNormalization('options.normalize', pick('normalize'));
  const formats = has('formats') ? checkFormats(pick('formats')) : [...LOADER_DEFAULTS.formats];
  const signal = checkSignal('options.signal', pick('signal'));
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
    shuffle: has('shuffle') ? checkBoolean('options.shuffle', pick('shuffle')) : mode === 'train' && LOADER_DEFAULTS.shuffle,
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
    cache: has('cache') ? checkCache(pick('cache')) : LOADER_DEFAULTS.cache,
    cacheLimitBytes,
  };
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
