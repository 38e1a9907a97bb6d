/**
 * The fast decode path for plain JPEGs (issue 14): libjpeg-turbo through the prebuilt
 * `@julusian/jpeg-turbo` binding, straight into the memory of the WebAssembly resample kernel,
 * then the antialiased rescale + centre crop of resample.ts. Synchronous and in-thread: no
 * libuv hand-off, no GObject machinery, no per-call option cloning, which is most of what sharp
 * costs per image at ImageNet sizes (../shared/notes/performance.md). Works in worker_threads
 * (the binding is a context-aware N-API module).
 *
 * It takes only what it reproduces: 8-bit baseline/extended/progressive Huffman JPEGs, grey or
 * YCbCr, EXIF orientation 1 (or none), no ICC profile or an sRGB one, shorter side in
 * [rescale, 2 rescale) (see {@link takesScale}), a kernel other than `nearest`. The rest (CMYK,
 * 12-bit, arithmetic, rotated, other ICC profiles, enlargements, 2x+ shrinks, PNG/WebP/GIF/TIFF)
 * goes to sharp.
 *
 * Strictness: TurboJPEG fails a decode on any libjpeg warning as well as on errors, so with
 * `failOn: 'warning'` (the default) every JPEG libjpeg-turbo warns about is refused, including
 * ones sharp passes (a warning raised after the last scan line). The binding frees its handle
 * before reading the message ("No error" is all it says), so the reason is taken from sharp,
 * which carries libjpeg's text ("VipsJpeg: ..."), when sharp also refuses the file; with a more
 * tolerant `failOn` a refused file is handed to sharp, which applies that setting.
 */
import { createRequire } from 'node:module';
import sharp from 'sharp';
import type { SampleFailure } from '../errors.js';
import type { Decoder, FailOn, ResizeKernel } from '../options.js';
import { fastPathRefusal, readJpegHeader } from './jpeg-header.js';
import type { RawImage } from './image.js';
import { kernelInput, resampleCover, type FastKernel } from './resample.js';


interface TurboBinding {
  FORMAT_RGB: number;
  decompressSync(image: Buffer, out: Buffer, options: { format: number }): { width: number; height: number; size: number };
}

let binding: TurboBinding | null | undefined;
let bindingError = '';
/** The binding, or null where it cannot load (an unsupported platform): then sharp decodes everything. */
export function turboBinding(): TurboBinding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('@julusian/jpeg-turbo') as TurboBinding;
    } catch (error) {
      binding = null;
      bindingError = error instanceof Error ? error.message : String(error);
    }
  }
  return binding;
}

/** Why the fast path is unavailable in this process, or '' when it is available. */
export function fastPathUnavailable(): string {
  return turboBinding() ? '' : `@julusian/jpeg-turbo does not load here (${bindingError.split('\n')[0]}): every JPEG goes through sharp`;
}

/**
 * Larger JPEGs go to sharp: the binding has no DCT scaling, and sharp's shrink-on-load (1/2,
 * 1/4, 1/8 in the IDCT) beats a full decode there; it also keeps the kernel's memory, which
 * WebAssembly never gives back, under ~30 MB per thread.
 */
export const FAST_PATH_MAX_PIXELS = 4_000_000;

/**
 * Whether the fast path takes an image of this size at this rescale: shorter side in
 * [rescale, 2 rescale). Enlargements go to sharp (libvips upsamples with its own interpolator,
 * ~3.5 levels mean difference measured); so do shrinks by 2x or more, where sharp decodes at
 * 1/2, 1/4 or 1/8 scale in the IDCT (the binding has no DCT scaling, so a full decode there costs
 * more) and then box-shrinks, a different filter from this one (~1.8 levels mean difference).
 */
export function takesScale(width: number, height: number, rescale: number): boolean {
  const shorter = Math.min(width, height);
  return shorter >= rescale && shorter < 2 * rescale;
}

/** What the fast path needs from the prepare settings. */
export interface FastPathSettings {
  rescale: number;
  kernel: ResizeKernel;
  limitInputPixels: number;
  failOn: FailOn;
  decoder?: Decoder;
}

// Pixel arrays for prepared squares and records, reused: a fresh 196 KB array per image costs
// its page faults (~1 ms each where page faults are expensive, measured in this sandbox), more
// than the resample. Only arrays made here are taken back.
const spare = new Map<number, Uint8Array[]>();
const ours = new WeakSet<Uint8Array>();
function pixelArray(length: number): Uint8Array {
  const array = spare.get(length)?.pop();
  if (array) return array;
  const made = new Uint8Array(length);
  ours.add(made);
  return made;
}

/**
 * Gives a pixel array returned by {@link prepareJpegFast} or {@link decodeJpegRecord} back for
 * reuse once the caller is done with it (after its patches are written). Arrays from anywhere
 * else are ignored, so a caller may pass any prepared image.
 */
export function recyclePixels(array: Uint8Array): void {
  if (!ours.has(array)) return;
  let list = spare.get(array.length);
  if (!list) spare.set(array.length, (list = []));
  if (list.length < 16) list.push(array);
}

/** Outcome: the prepared square, a failure, or `null` for "not mine, ask sharp". */
export type FastPathResult = { ok: true; image: RawImage<Uint8Array> } | { ok: false; failure: SampleFailure } | null;

/** Why libjpeg-turbo refused a JPEG, in libjpeg's words where sharp has them. */
export async function refusalReason(bytes: Uint8Array): Promise<string> {
  try {
    await sharp(bytes, { failOn: 'warning', sequentialRead: false }).raw().toBuffer();
    return 'libjpeg-turbo: corrupt JPEG data (libjpeg raised a warning that sharp/libvips does not report; the @julusian/jpeg-turbo binding does not pass on libjpeg\'s text: run djpeg on the file for it)';
  } catch (error) {
    const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter(Boolean);
    const libjpeg = lines.filter((line) => line.startsWith('VipsJpeg:')).map((line) => line.replace(/^VipsJpeg:\s*/, ''));
    const unique = [...new Set(libjpeg.length > 0 ? libjpeg : lines)];
    return `libjpeg-turbo: ${unique.join('; ')}`;
  }
}

/**
 * Prepares one JPEG on the fast path, or returns `null` when the file is not one it takes
 * (not a JPEG, a header it does not reproduce, `decoder: 'sharp'`, the binding unavailable).
 * @param explainRefusal find libjpeg's words for a refused file ({@link refusalReason}, a sharp
 *   decode); a caller with its own way to name the fault (load.ts's entropy walk) passes false
 *   and gets an empty reason
 */
export async function prepareJpegFast(bytes: Uint8Array, settings: FastPathSettings, explainRefusal = true): Promise<FastPathResult> {
  if (settings.decoder === 'sharp' || settings.kernel === 'nearest') return null;
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const turbo = turboBinding();
  if (!turbo) return null;
  const parsed = readJpegHeader(bytes);
  if (!parsed.ok) return null; // sharp reports a malformed header in libjpeg's words
  const { header } = parsed;
  if (fastPathRefusal(header) !== null) return null;
  const pixels = header.width * header.height;
  if (pixels > settings.limitInputPixels) {
    return { ok: false, failure: { code: 'PIXEL_LIMIT', stage: 'decode', reason: `Input image exceeds pixel limit: ${header.width}x${header.height} from its JPEG header (limitInputPixels is ${settings.limitInputPixels})` } };
  }
  if (pixels > FAST_PATH_MAX_PIXELS) return null;
  if (!takesScale(header.width, header.height, settings.rescale)) return null;
  const { rescale } = settings;
  const kernel = settings.kernel as FastKernel;
  const target = kernelInput(header.width, header.height, rescale, kernel);
  const out = Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decoded: { width: number; height: number };
  try {
    decoded = turbo.decompressSync(input, out, { format: turbo.FORMAT_RGB });
  } catch {
    if (settings.failOn !== 'warning') return null; // a tolerant failOn: sharp decides, with that setting
    return { ok: false, failure: { code: 'DECODE', stage: 'decode', reason: explainRefusal ? await refusalReason(bytes) : '' } };
  }
  if (decoded.width !== header.width || decoded.height !== header.height) {
    return { ok: false, failure: { code: 'DECODE', stage: 'decode', reason: `libjpeg-turbo decoded ${decoded.width}x${decoded.height}, the header says ${header.width}x${header.height}` } };
  }
  const data = resampleCover(target, header.width, header.height, rescale, kernel, pixelArray(rescale * rescale * 3));
  return { ok: true, image: { data, width: rescale, height: rescale, channels: 3 } };
}

/**
 * Decodes a `side x side` JPEG cache record (written by patchstream: baseline, 4:4:4, no EXIF)
 * to RGB, or returns `null` when the fast path cannot (then the caller uses sharp).
 * Synchronous; the caller owns the returned array (give it back with {@link recyclePixels}).
 */
export function decodeJpegRecord(bytes: Uint8Array): Uint8Array | null {
  const turbo = turboBinding();
  if (!turbo) return null;
  const parsed = readJpegHeader(bytes);
  if (!parsed.ok || fastPathRefusal(parsed.header) !== null) return null;
  const { width, height } = parsed.header;
  const pixels = pixelArray(width * height * 3);
  const out = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    turbo.decompressSync(input, out, { format: turbo.FORMAT_RGB });
  } catch {
    recyclePixels(pixels);
    return null;
  }
  return pixels;
}
