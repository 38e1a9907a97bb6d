/**
 * Stage `sniff`: what a file really is, from its first bytes. libvips sniffs content too, so
 * without this a `.jpg` holding SVG or PDF would reach those loaders; with it, only allowed
 * formats are decoded and everything else gets a clear `UNSUPPORTED` reason.
 */
import { extname } from 'node:path';
import type { SampleFailure } from '../errors.js';
import type { ImageFormat } from '../options.js';

/** What the first bytes say a file is. */
export type SniffedFormat = ImageFormat | 'svg' | 'xml' | 'html' | 'pdf' | 'heif' | 'bmp' | 'text' | 'unknown';

/** The format a file's bytes hold. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  const at = (offset: number, text: string): boolean => {
    for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
    return true;
  };
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (at(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'gif';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  if (at(0, 'II*\x00') || at(0, 'MM\x00*') || at(0, 'II+\x00') || at(0, 'MM\x00+')) return 'tiff';
  if (at(0, '%PDF')) return 'pdf';
  if (at(4, 'ftyp')) return 'heif';
  if (at(0, 'BM')) return 'bmp';
  const head = Buffer.from(bytes.subarray(0, 512)).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'html';
  if (head.startsWith('<?xml') || head.startsWith('<')) return head.includes('<svg') ? 'svg' : 'xml';
  let printable = 0;
  const sample = bytes.subarray(0, 512);
  for (const byte of sample) if (byte === 9 || byte === 10 || byte === 13 || (byte >= 32 && byte < 127) || byte >= 128) printable++;
  return sample.length > 0 && printable === sample.length ? 'text' : 'unknown';
}

const EXTENSION_FORMAT: Record<string, ImageFormat> = {
  '.jpg': 'jpeg', '.jpeg': 'jpeg', '.jpe': 'jpeg', '.jfif': 'jpeg',
  '.png': 'png', '.webp': 'webp', '.gif': 'gif', '.tif': 'tiff', '.tiff': 'tiff',
};

/** JPEG, PNG, WebP and GIF stand in for each other freely (ImageNet has a PNG named .JPEG). */
const INTERCHANGEABLE = new Set<SniffedFormat>(['jpeg', 'png', 'webp', 'gif']);

/**
 * Checks a file's content against the allowed formats and its name.
 * Returns the format to decode, or a failure.
 */
export function checkFormat(
  path: string,
  bytes: Uint8Array,
  formats: readonly ImageFormat[],
  allowMisnamed: boolean,
): { ok: true; format: ImageFormat } | { ok: false; failure: SampleFailure } {
  const format = sniffFormat(bytes);
  const extension = extname(path).toLowerCase();
  const named = EXTENSION_FORMAT[extension];
  const refuse = (reason: string) => ({ ok: false as const, failure: { code: 'UNSUPPORTED' as const, stage: 'sniff' as const, reason } });
  if (!(formats as readonly string[]).includes(format)) {
    if (format === 'unknown') {
      const hex = Buffer.from(bytes.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
      return refuse(`not an image format patchstream decodes (first bytes ${hex})`);
    }
    return refuse(`${format.toUpperCase()} content is not an allowed format (allowed: ${formats.join(', ')})`);
  }
  const misnamed = named !== undefined && named !== format && !(INTERCHANGEABLE.has(format) && INTERCHANGEABLE.has(named));
  if (misnamed && !allowMisnamed) {
    return refuse(`${format.toUpperCase()} content in a ${extension} file (set allowMisnamed: true to accept)`);
  }
  return { ok: true, format: format as ImageFormat };
}
