/**
 * Stage `prepare` (deterministic, no random draws): decode, apply the EXIF orientation,
 * make 3-channel sRGB, rescale the shorter side to `rescale` and keep the centre
 * `rescale x rescale` square, as raw uint8 RGB. One sharp call per image: sharp's cost is
 * mostly per call (../shared/notes/performance.md), and libvips shrinks JPEGs on load.
 */
import sharp from 'sharp';
import type { SampleFailure } from '../errors.js';
import type { Decoder, FailOn, ResizeKernel } from '../options.js';
import type { RawImage } from './image.js';
import { prepareJpegFast } from './jpeg-turbo.js';

/** Settings of the prepare stage. */
export interface PrepareSettings {
  rescale: number;
  kernel: ResizeKernel;
  background: readonly [number, number, number];
  limitInputPixels: number;
  failOn: FailOn;
  /** Seconds. */
  sampleTimeout: number;
  /** JPEG decode path (jpeg-turbo.ts). @default 'auto' */
  decoder?: Decoder;
}

/** Outcome of prepare: a `rescale x rescale x 3` uint8 image, or why not. */
export type PrepareResult = { ok: true; image: RawImage<Uint8Array> } | { ok: false; failure: SampleFailure };

/**
 * Decodes and prepares one image.
 * Inputs smaller than `rescale` are upscaled; any aspect ratio gives exactly
 * `rescale x rescale` (libvips computes only the kept square, so a 1 x 5000 line costs little).
 */
export async function prepareImage(bytes: Uint8Array, settings: PrepareSettings, failOn: FailOn = settings.failOn): Promise<PrepareResult> {
  // The fast path keeps the caller's strictness (`settings.failOn`); `failOn` here is sharp's own,
  // relaxed by load.ts once the JPEG check has passed the file.
  const fast = await prepareJpegFast(bytes, settings);
  if (fast) return fast;
  return prepareWithSharp(bytes, settings, failOn);
}

/** {@link prepareImage} through sharp alone, for a caller that already tried the fast path. */
export async function prepareWithSharp(bytes: Uint8Array, settings: PrepareSettings, failOn: FailOn = settings.failOn): Promise<PrepareResult> {
  const { rescale } = settings;
  try {
    const { data, info } = await sharp(bytes, {
      limitInputPixels: settings.limitInputPixels,
      failOn,
      sequentialRead: true,
      pages: 1,
      page: 0,
    })
      .autoOrient()
      .flatten({ background: { r: settings.background[0], g: settings.background[1], b: settings.background[2] } })
      .resize(rescale, rescale, { fit: 'cover', position: 'centre', kernel: settings.kernel })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .timeout({ seconds: Math.max(1, Math.ceil(settings.sampleTimeout)) })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== rescale || info.height !== rescale || info.channels !== 3) {
      return { ok: false, failure: { code: 'DECODE', stage: 'decode', reason: `decoder produced ${info.width}x${info.height}x${info.channels}, expected ${rescale}x${rescale}x3` } };
    }
    return { ok: true, image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: rescale, height: rescale, channels: 3 } };
  } catch (error) {
    const failure = decodeFailure(error);
    if (failure.code === 'PIXEL_LIMIT') failure.reason += ` (limitInputPixels is ${settings.limitInputPixels})`;
    if (failure.code === 'TIMEOUT') failure.reason += ` (sampleTimeout is ${settings.sampleTimeout} s)`;
    return { ok: false, failure };
  }
}

/** Maps sharp's error messages onto patchstream's codes. */
export function decodeFailure(error: unknown): SampleFailure {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n');
  // With failOn 'warning' sharp may say only "Warning treated as error due to failOn setting" on
  // the first line and put libvips' warnings (the actual reason) on the next ones. Best effort:
  // sharp's warning queue is process-wide, so with decodes in flight in other threads a warning
  // can be missing here or come from another file that failed at the same time.
  const reason = /^Warning treated as error/.test(lines[0] ?? '') && lines.length > 1
    ? `${lines[0]}: ${lines.slice(1).filter(Boolean).join('; ')}`
    : (lines[0] ?? message);
  if (/exceeds pixel limit/i.test(message)) return { code: 'PIXEL_LIMIT', stage: 'decode', reason };
  if (/timeout/i.test(message)) return { code: 'TIMEOUT', stage: 'decode', reason };
  if (/unsupported image format/i.test(message)) return { code: 'UNSUPPORTED', stage: 'decode', reason };
  return { code: 'DECODE', stage: 'decode', reason };
}
