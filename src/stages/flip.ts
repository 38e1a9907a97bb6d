/** Stage `flip`: horizontal reflection (left-right mirror, sharp's `flop`) with probability p. */
import { STREAM, type SampleRng } from '../random.js';
import type { RawImage } from './image.js';

/** Draws whether to mirror: `true` with probability `p`. */
export function sampleFlip(rng: SampleRng, p = 0.5): { flip: boolean } {
  return { flip: rng.uniforms(STREAM.flip, 1)[0]! < p };
}

/** Mirrors left-right (reference version). */
export function applyFlip<T extends Uint8Array | Float32Array>(image: RawImage<T>, params: { flip: boolean }): RawImage<T> {
  if (!params.flip) return image;
  const { width, height } = image;
  const data = new (image.data.constructor as { new (n: number): T })(image.data.length);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const from = (row * width + column) * 3;
      const to = (row * width + (width - 1 - column)) * 3;
      data[to] = image.data[from]!;
      data[to + 1] = image.data[from + 1]!;
      data[to + 2] = image.data[from + 2]!;
    }
  }
  return { data, width, height, channels: 3 };
}
