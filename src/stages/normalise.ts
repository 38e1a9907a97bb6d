/** Stage `normalise`: uint8 to 0-1 floats, then per-channel (x - mean) / std. */
import type { RawImage } from './image.js';

/** uint8 pixels to floats on the 0-1 scale. */
export function toUnitFloat(image: RawImage<Uint8Array>): RawImage<Float32Array> {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i]! / 255;
  return { ...image, data };
}

/** Per-channel `(x - mean) / std` (reference version). */
export function applyNormalise(image: RawImage<Float32Array>, params: { mean: readonly number[]; std: readonly number[] }): RawImage<Float32Array> {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (image.data[i]! - params.mean[i % 3]!) / params.std[i % 3]!;
  return { ...image, data };
}

/** HWC to CHW (planar), for `layout: 'NCHW'`. */
export function toPlanar<T extends Uint8Array | Float32Array>(image: RawImage<T>): T {
  const plane = image.width * image.height;
  const data = new (image.data.constructor as { new (n: number): T })(image.data.length);
  for (let i = 0; i < plane; i++) {
    data[i] = image.data[i * 3]!;
    data[plane + i] = image.data[i * 3 + 1]!;
    data[2 * plane + i] = image.data[i * 3 + 2]!;
  }
  return data;
}
