import { describe, expect, it } from 'vitest';
import { IMAGENET_COLOUR_STATS, lightingShift } from '../../src/colour.js';
import { affineMap, tenCropPatches } from '../../src/pipeline/plan.js';
import { SampleRng } from '../../src/random.js';
import { applyFlip, sampleFlip } from '../../src/stages/flip.js';
import { writePatch } from '../../src/stages/fused.js';
import type { RawImage } from '../../src/stages/image.js';
import { applyLighting, sampleLighting } from '../../src/stages/lighting.js';
import { applyNormalise, toPlanar, toUnitFloat } from '../../src/stages/normalise.js';
import { applyCrop, centreCrop, sampleCrop } from '../../src/stages/random-crop.js';

/** A w x h image whose pixel (x, y) has R = x, G = y, B = 200: every position is identifiable. */
function coordinateImage(width: number, height: number): RawImage<Uint8Array> {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 200], (y * width + x) * 3);
  return { data, width, height, channels: 3 };
}

const pixel = (image: RawImage, x: number, y: number) => Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));

describe('random crop', () => {
  it('applyCrop() - the patch starts exactly at (x, y) and is size x size', () => {
    const patch = applyCrop(coordinateImage(40, 40), { x: 5, y: 9, size: 16 });
    expect([patch.width, patch.height, patch.data.length]).toEqual([16, 16, 16 * 16 * 3]);
    expect(pixel(patch, 0, 0)).toEqual([5, 9, 200]);
    expect(pixel(patch, 15, 15)).toEqual([20, 24, 200]);
  });

  it('sampleCrop() - offsets cover [0, rescale - crop] inclusive and nothing outside', () => {
    const xs = new Set<number>();
    const ys = new Set<number>();
    for (let index = 0; index < 3000; index++) {
      const { x, y, size } = sampleCrop(new SampleRng(1, 0, index), 256, 224);
      expect(size).toBe(224);
      xs.add(x);
      ys.add(y);
    }
    // Exactly the 33 offsets 0..32, each axis: an off-by-one either way changes the set.
    const all = Array.from({ length: 33 }, (_, i) => i);
    expect([...xs].sort((a, b) => a - b)).toEqual(all);
    expect([...ys].sort((a, b) => a - b)).toEqual(all);
  });

  it('centreCrop() - 256 -> 224 starts at 16; odd margins round down', () => {
    expect(centreCrop(256, 224)).toEqual({ x: 16, y: 16, size: 224 });
    expect(centreCrop(33, 28)).toEqual({ x: 2, y: 2, size: 28 });
    expect(centreCrop(28, 28)).toEqual({ x: 0, y: 0, size: 28 });
  });
});

describe('flip', () => {
  it('applyFlip() - mirrors left-right, not top-bottom', () => {
    const image = coordinateImage(10, 6);
    const flipped = applyFlip(image, { flip: true });
    expect(pixel(flipped, 0, 0)).toEqual([9, 0, 200]);
    expect(pixel(flipped, 9, 5)).toEqual([0, 5, 200]);
    expect(applyFlip(image, { flip: false })).toBe(image);
  });

  it('sampleFlip() - about half the samples are mirrored, decided per (epoch, index)', () => {
    let flips = 0;
    for (let index = 0; index < 10_000; index++) if (sampleFlip(new SampleRng(3, 0, index)).flip) flips++;
    expect(Math.abs(flips - 5000)).toBeLessThan(250);
    expect(sampleFlip(new SampleRng(3, 2, 5))).toEqual(sampleFlip(new SampleRng(3, 2, 5)));
  });
});

describe('lighting', () => {
  it('lightingShift() - is P · (alpha ∘ lambda) with rows R, G, B and columns the components', () => {
    const stats = { eigenvalues: [0.2, 0.1, 0.05], eigenvectors: [[1, 0, 0], [0, 0, 1], [0, 1, 0]] };
    expect(lightingShift(stats, [1, 2, 4])).toEqual([0.2, 0.2, 0.2]);
    expect(lightingShift(stats, [1, 0, 0])).toEqual([0.2, 0, 0]);
    expect(lightingShift(stats, [0, 1, 0])).toEqual([0, 0, 0.1]);
    const imagenet = lightingShift(IMAGENET_COLOUR_STATS, [0.1, 0, 0]);
    expect(imagenet[0]).toBeCloseTo(-0.5675 * 0.1 * 0.2175, 12);
    expect(imagenet[1]).toBeCloseTo(-0.5808 * 0.1 * 0.2175, 12);
  });

  it('sampleLighting() - alpha ~ N(0, std) and the shift is added with its sign on the 0-1 scale', () => {
    const params = sampleLighting(new SampleRng(1, 0, 0), IMAGENET_COLOUR_STATS, 0.1);
    expect(params.shift).toEqual(lightingShift(IMAGENET_COLOUR_STATS, params.alpha));
    const image = toUnitFloat(coordinateImage(2, 1));
    const lit = applyLighting(image, params);
    for (let c = 0; c < 3; c++) expect(lit.data[c]! - image.data[c]!).toBeCloseTo(params.shift[c]!, 6);
    const alphas: number[] = [];
    for (let index = 0; index < 5000; index++) alphas.push(...sampleLighting(new SampleRng(1, 0, index), IMAGENET_COLOUR_STATS, 0.1).alpha);
    const std = Math.sqrt(alphas.reduce((s, a) => s + a * a, 0) / alphas.length);
    expect(std).toBeGreaterThan(0.097);
    expect(std).toBeLessThan(0.103);
  });
});

describe('affineMap()', () => {
  it('affineMap() - normalises 0-255 pixels to (p/255 + shift - mean) / std', () => {
    const affine = affineMap({ normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5] } }, { alpha: [0, 0, 0], shift: [0.01, -0.02, 0.03] });
    const p = 153;
    expect(p * affine.scale[0]! + affine.bias[0]!).toBeCloseTo((p / 255 + 0.01 - 0.5) / 0.2, 10);
    expect(p * affine.scale[2]! + affine.bias[2]!).toBeCloseTo((p / 255 + 0.03 - 0.3) / 0.5, 10);
    const identity = affineMap({ normalize: false }, null);
    expect(255 * identity.scale[1]! + identity.bias[1]!).toBeCloseTo(1, 12);
  });
});

describe('writePatch() (fused kernel)', () => {
  function reference(source: RawImage<Uint8Array>, x: number, y: number, crop: number, flip: boolean, shift: number[], normalize: { mean: number[]; std: number[] }) {
    const patch = applyFlip(applyCrop(source, { x, y, size: crop }), { flip });
    const lit = applyLighting(toUnitFloat(patch), { alpha: [0, 0, 0], shift: shift as [number, number, number] });
    return applyNormalise(lit, normalize);
  }

  it('writePatch() - equals crop -> flip -> lighting -> normalise on random parameters (NHWC and NCHW, float32)', () => {
    const rescale = 37;
    const crop = 29;
    const source = { data: new Uint8Array(rescale * rescale * 3), width: rescale, height: rescale, channels: 3 as const };
    for (let i = 0; i < source.data.length; i++) source.data[i] = (i * 7919) % 256;
    const normalize = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    for (let index = 0; index < 50; index++) {
      const rng = new SampleRng(11, 0, index);
      const { x, y } = sampleCrop(rng, rescale, crop);
      const { flip } = sampleFlip(rng);
      const lighting = sampleLighting(rng, IMAGENET_COLOUR_STATS, 0.1);
      const expected = reference(source, x, y, crop, flip, lighting.shift, normalize);
      const affine = affineMap({ normalize }, lighting);
      for (const layout of ['NHWC', 'NCHW'] as const) {
        const output = new Float32Array(crop * crop * 3 + 10);
        writePatch(source.data, rescale, { x, y, flip }, crop, affine, output, 5, layout);
        const want = layout === 'NHWC' ? expected.data : toPlanar(expected);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(output[5 + i]! - want[i]!));
        expect(worst).toBeLessThan(1e-4);
        expect(output[4]).toBe(0);
        expect(output[5 + want.length]).toBe(0);
      }
    }
  });

  it('writePatch() - uint8 output is the exact crop + flip, in both layouts', () => {
    const source = coordinateImage(12, 12);
    for (const flip of [false, true]) {
      const expected = applyFlip(applyCrop(source, { x: 3, y: 2, size: 8 }), { flip });
      const nhwc = new Uint8Array(8 * 8 * 3);
      writePatch(source.data, 12, { x: 3, y: 2, flip }, 8, affineMap({ normalize: false }, null), nhwc, 0, 'NHWC');
      expect(nhwc).toEqual(expected.data);
      const nchw = new Uint8Array(8 * 8 * 3);
      writePatch(source.data, 12, { x: 3, y: 2, flip }, 8, affineMap({ normalize: false }, null), nchw, 0, 'NCHW');
      expect(nchw).toEqual(toPlanar(expected));
    }
  });
});

describe('tenCropPatches()', () => {
  it('tenCropPatches() - corners, centre, then each of the five mirrored', () => {
    expect(tenCropPatches(256, 224)).toEqual([
      { x: 0, y: 0, flip: false },
      { x: 32, y: 0, flip: false },
      { x: 0, y: 32, flip: false },
      { x: 32, y: 32, flip: false },
      { x: 16, y: 16, flip: false },
      { x: 0, y: 0, flip: true },
      { x: 32, y: 0, flip: true },
      { x: 0, y: 32, flip: true },
      { x: 32, y: 32, flip: true },
      { x: 16, y: 16, flip: true },
    ]);
  });
});
