/**
 * The hot path: crop + flip + lighting + normalise in one pass from the prepared uint8 square
 * into the batch buffer. Lighting and normalisation together are a per-image, per-channel
 * affine map of the 0-255 pixel, so the whole thing is one read and one write per element.
 * test/stages/fused.test.ts checks it against the plain composition of the reference stages.
 */
import type { Layout } from '../options.js';
import type { PatchParams } from './image.js';

/** `output = pixel * scale[c] + bias[c]`, pixel on the 0-255 scale. */
export interface Affine {
  scale: readonly [number, number, number] | readonly number[];
  bias: readonly [number, number, number] | readonly number[];
}

/**
 * Writes one patch. With a `Float32Array` output the affine map is applied; with a
 * `Uint8Array` output the pixels are copied as they are (the consumer applies the affine map,
 * see `batch.affine`).
 * @param source prepared image, `rescale x rescale x 3` uint8, interleaved
 * @param outputOffset element offset of the patch in `output`
 */
export function writePatch(
  source: Uint8Array,
  rescale: number,
  patch: PatchParams,
  crop: number,
  affine: Affine,
  output: Float32Array | Uint8Array,
  outputOffset: number,
  layout: Layout,
): void {
  const { x, y, flip } = patch;
  const rowStride = rescale * 3;
  const step = flip ? -3 : 3;
  const startColumn = flip ? (x + crop - 1) * 3 : x * 3;
  if (output instanceof Uint8Array) {
    if (layout === 'NHWC') {
      let out = outputOffset;
      for (let row = 0; row < crop; row++) {
        let s = (y + row) * rowStride + startColumn;
        if (!flip) {
          output.set(source.subarray(s, s + crop * 3), out);
          out += crop * 3;
          continue;
        }
        for (let column = 0; column < crop; column++, s += step) {
          output[out++] = source[s]!;
          output[out++] = source[s + 1]!;
          output[out++] = source[s + 2]!;
        }
      }
    } else {
      const plane = crop * crop;
      let out = outputOffset;
      for (let row = 0; row < crop; row++) {
        let s = (y + row) * rowStride + startColumn;
        for (let column = 0; column < crop; column++, s += step, out++) {
          output[out] = source[s]!;
          output[out + plane] = source[s + 1]!;
          output[out + 2 * plane] = source[s + 2]!;
        }
      }
    }
    return;
  }
  const scaleR = affine.scale[0]!, scaleG = affine.scale[1]!, scaleB = affine.scale[2]!;
  const biasR = affine.bias[0]!, biasG = affine.bias[1]!, biasB = affine.bias[2]!;
  if (layout === 'NHWC') {
    let out = outputOffset;
    for (let row = 0; row < crop; row++) {
      let s = (y + row) * rowStride + startColumn;
      for (let column = 0; column < crop; column++, s += step) {
        output[out++] = source[s]! * scaleR + biasR;
        output[out++] = source[s + 1]! * scaleG + biasG;
        output[out++] = source[s + 2]! * scaleB + biasB;
      }
    }
  } else {
    const plane = crop * crop;
    let out = outputOffset;
    for (let row = 0; row < crop; row++) {
      let s = (y + row) * rowStride + startColumn;
      for (let column = 0; column < crop; column++, s += step, out++) {
        output[out] = source[s]! * scaleR + biasR;
        output[out + plane] = source[s + 1]! * scaleG + biasG;
        output[out + 2 * plane] = source[s + 2]! * scaleB + biasB;
      }
    }
  }
}
