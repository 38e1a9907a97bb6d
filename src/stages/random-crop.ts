/** Stage `random crop`: a `crop x crop` patch at offsets uniform in [0, rescale - crop]. */
import { STREAM, type SampleRng } from '../random.js';
import type { RawImage } from './image.js';

/** Parameters of a crop: the patch's top-left corner and its side. */
export interface CropParams {
  x: number;
  y: number;
  size: number;
}

/** Draws the patch position (both offsets uniform, ends included, as in the paper's 32 x 32 positions + 1). */
export function sampleCrop(rng: SampleRng, rescale: number, crop: number): CropParams {
  return { x: rng.integer(STREAM.crop, 0, 0, rescale - crop), y: rng.integer(STREAM.crop, 1, 0, rescale - crop), size: crop };
}

/** The centre patch (offset floor((rescale - crop) / 2), as the paper's centre patch of 256 -> 224 at 16). */
export function centreCrop(rescale: number, crop: number): CropParams {
  const offset = Math.floor((rescale - crop) / 2);
  return { x: offset, y: offset, size: crop };
}

/** Cuts the patch out (reference version; the fused kernel does this on the hot path). */
export function applyCrop<T extends Uint8Array | Float32Array>(image: RawImage<T>, params: CropParams): RawImage<T> {
  const { x, y, size } = params;
  const data = new (image.data.constructor as { new (n: number): T })(size * size * 3);
  for (let row = 0; row < size; row++) {
    const start = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(start, start + size * 3), row * size * 3);
  }
  return { data, width: size, height: size, channels: 3 };
}
