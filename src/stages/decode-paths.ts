/**
 * Every way the loader can turn a file into prepared pixels, by name. Tests that must hold for
 * all decoders (the djpeg oracle: nothing corrupt passes) loop over this list, so a new decode
 * path is covered by adding it here.
 */
import type { PrepareResult } from './decode.js';
import { decodeFile, type DecodeSettings } from './load.js';

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
  ];
}
