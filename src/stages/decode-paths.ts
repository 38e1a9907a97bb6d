/**
 * Every way the loader can turn a file into prepared pixels, by name. Tests that must hold for
 * all decoders (the djpeg oracle: nothing corrupt passes) loop over this list, so a new decode
 * path is covered by adding it here.
 */
import type { PrepareResult } from './decode.js';
import { decodeFile, type DecodeSettings } from './load.js';
import { readImageFile } from './read.js';
import { decodeRead } from './read-range.js';

/** A decode path: read + check + decode one file with the loader's settings. */
export interface DecodePath {
  name: string;
  decode: (path: string, settings: DecodeSettings) => Promise<PrepareResult>;
}

/** The decode paths this build has. */
export function decodePaths(): DecodePath[] {
  return [
    // decoder 'auto' sends plain JPEGs to libjpeg-turbo + the WASM resample, the rest to sharp.
    { name: 'auto (libjpeg-turbo fast path)', decode: (path, settings) => decodeFile(path, { ...settings, decoder: 'auto' }) },
    { name: 'sharp', decode: (path, settings) => decodeFile(path, { ...settings, decoder: 'sharp' }) },
    // A WebDataset shard member: bytes read by range, then the same check and decoders.
    { name: 'shard member, auto', decode: async (path, settings) => decodeRead(path, await readImageFile(path, settings.maxFileBytes), { ...settings, decoder: 'auto' }) },
    { name: 'shard member, sharp', decode: async (path, settings) => decodeRead(path, await readImageFile(path, settings.maxFileBytes), { ...settings, decoder: 'sharp' }) },
  ];
}
