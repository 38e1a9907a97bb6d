/**
 * read -> sniff -> check -> prepare for one file: the deterministic first half of the recipe.
 * Workers call this; so can tests and tools, in any thread (after `configureSharp()`).
 */
import type { ImageFormat, ResolvedOptions } from '../options.js';
import { prepareImage, prepareWithSharp, type PrepareResult, type PrepareSettings } from './decode.js';
import { prepareJpegFast, refusalReason } from './jpeg-turbo.js';
import { jpegFailure } from './jpeg-verdict.js';
import { readImageFile } from './read.js';
import { checkFormat } from './sniff.js';

/** Settings of {@link decodeFile}. */
export interface DecodeSettings extends PrepareSettings {
  formats: readonly ImageFormat[];
  allowMisnamed: boolean;
  maxFileBytes: number;
}

/** The decode settings a loader's options ask for. */
export function decodeSettings(options: ResolvedOptions): DecodeSettings {
  return {
    rescale: options.rescale,
    kernel: options.kernel,
    background: options.background,
    limitInputPixels: options.limitInputPixels,
    failOn: options.failOn,
    decoder: options.decoder,
    sampleTimeout: options.sampleTimeout,
    formats: options.formats,
    allowMisnamed: options.allowMisnamed,
    maxFileBytes: options.maxFileBytes,
  };
}

/** Reads, checks and prepares one image file into a `rescale x rescale x 3` uint8 square. */
export async function decodeFile(path: string, settings: DecodeSettings): Promise<PrepareResult> {
  const read = await readImageFile(path, settings.maxFileBytes);
  if (!read.ok) return read;
  return decodeBytes(path, read.bytes, settings);
}

/**
 * sniff -> check -> prepare of a file's bytes (from a file, a shard member, a cache fill): every
 * decode path goes through here, so every one refuses what libjpeg-turbo warns about.
 */
export async function decodeBytes(path: string, bytes: Uint8Array, settings: DecodeSettings): Promise<PrepareResult> {
  const format = checkFormat(path, bytes, settings.formats, settings.allowMisnamed);
  if (!format.ok) return format;
  if (format.format !== 'jpeg') return prepareImage(bytes, settings);
  // The fast path's TurboJPEG fails a decode on any libjpeg warning, so under failOn 'warning' a
  // JPEG it decodes is one djpeg decodes cleanly: the entropy walk of jpeg-check.ts (0.2-0.6 ms
  // a baseline photo, a third of the fast path's own cost) is needed only for the files the fast
  // path does not take, and to name libjpeg's message for a file it refused.
  const triedFast = settings.failOn === 'warning';
  const fast = triedFast ? await prepareJpegFast(bytes, settings, false) : null;
  if (fast && (fast.ok || fast.failure.code !== 'DECODE')) return fast;
  const verdict = jpegFailure(bytes, settings.failOn);
  if (verdict.failure) return { ok: false, failure: verdict.failure };
  // Refused by libjpeg-turbo 3.1 (the binding's) but passed by the walk (which follows djpeg):
  // strictness wins, in sharp's words where it has libjpeg's.
  if (fast) return fast.failure.reason ? fast : { ok: false, failure: { ...fast.failure, reason: await refusalReason(bytes) } };
  return (triedFast ? prepareWithSharp : prepareImage)(bytes, settings, verdict.sharpFailOn);
}
