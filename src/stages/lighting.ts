/**
 * Stage `lighting`: AlexNet's PCA colour augmentation. Adds `P · (alpha ∘ lambda)` to every
 * pixel (0-1 scale), alpha_i ~ N(0, std), drawn once per image per epoch.
 */
import { lightingShift } from '../colour.js';
import { STREAM, type SampleRng } from '../random.js';
import type { RawImage } from './image.js';

/** Lighting parameters: the coefficients drawn and the per-channel shift they give (0-1 scale). */
export interface LightingParams {
  alpha: [number, number, number];
  shift: [number, number, number];
}

/** Draws alpha and computes the shift. */
export function sampleLighting(
  rng: SampleRng,
  stats: { eigenvalues: readonly number[]; eigenvectors: readonly (readonly number[])[] },
  std: number,
): LightingParams {
  const alpha = rng.normals(STREAM.lighting, 3).map((z) => z * std) as [number, number, number];
  return { alpha, shift: lightingShift(stats, alpha) };
}

/** Adds the shift to a float image on the 0-1 scale (reference version; no clamping, as fb.resnet.torch). */
export function applyLighting(image: RawImage<Float32Array>, params: LightingParams): RawImage<Float32Array> {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = image.data[i]! + params.shift[0];
    data[i + 1] = image.data[i + 1]! + params.shift[1];
    data[i + 2] = image.data[i + 2]! + params.shift[2];
  }
  return { ...image, data };
}
