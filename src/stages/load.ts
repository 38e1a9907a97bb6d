/**
 * read -> sniff -> prepare for one file: the deterministic first half of the recipe.
 * Workers call this; so can tests and tools, in any thread (after `configureSharp()`).
 */
import type { ImageFormat, ResolvedOptions } from '../options.js';
import { prepareImage, type PrepareResult, type PrepareSettings } from './decode.js';
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
  const format = checkFormat(path, read.bytes, settings.formats, settings.allowMisnamed);
  if (!format.ok) return format;
  return prepareImage(read.bytes, settings);
}
