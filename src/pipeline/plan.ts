/**
 * The plan: options composed into what each sample goes through, with shapes propagated once.
 * `sampleParams` is the single source of every random choice of a sample: workers call it,
 * and so do the preview and the tests, so they always agree.
 */
import type { ResolvedOptions } from '../options.js';
import { SampleRng } from '../random.js';
import type { Affine } from '../stages/fused.js';
import type { PatchParams } from '../stages/image.js';
import { centreCrop, sampleCrop } from '../stages/random-crop.js';
import { sampleFlip } from '../stages/flip.js';
import { sampleLighting, type LightingParams } from '../stages/lighting.js';

/** Everything a worker needs to turn a prepared image into output patches. Plain data (crosses threads). */
export interface Plan extends Pick<ResolvedOptions, 'mode' | 'rescale' | 'crop' | 'flip' | 'lighting' | 'lightingStd' | 'normalize' | 'dtype' | 'layout' | 'seed'> {
  /** 1, or 10 in ten-crop mode. */
  patchesPerImage: number;
  /** Elements (not bytes) of one patch: crop * crop * 3. */
  elementsPerPatch: number;
  bytesPerElement: number;
}

/** Composes resolved options into a plan. */
export function makePlan(options: ResolvedOptions): Plan {
  const patchesPerImage = options.mode === 'ten-crop' ? 10 : 1;
  return {
    mode: options.mode,
    rescale: options.rescale,
    crop: options.crop,
    flip: options.flip,
    lighting: options.lighting,
    lightingStd: options.lightingStd,
    normalize: options.normalize,
    dtype: options.dtype,
    layout: options.layout,
    seed: options.seed,
    patchesPerImage,
    elementsPerPatch: options.crop * options.crop * 3,
    bytesPerElement: options.dtype === 'float32' ? 4 : 1,
  };
}

/** Shape of one patch in the plan's layout. */
export function patchShape(plan: Plan): [number, number, number] {
  return plan.layout === 'NHWC' ? [plan.crop, plan.crop, 3] : [3, plan.crop, plan.crop];
}

/** Bytes of a batch of `images` images (all their patches). */
export function batchBytes(plan: Plan, images: number): number {
  return images * plan.patchesPerImage * plan.elementsPerPatch * plan.bytesPerElement;
}

/**
 * The ten patches of the paper's test-time averaging, in order: top-left, top-right,
 * bottom-left, bottom-right, centre, then the same five mirrored (each patch's own mirror
 * image; note torchvision's TenCrop instead crops the mirrored image, which swaps left and right).
 */
export function tenCropPatches(rescale: number, crop: number): PatchParams[] {
  const far = rescale - crop;
  const centre = centreCrop(rescale, crop);
  const five: PatchParams[] = [
    { x: 0, y: 0, flip: false },
    { x: far, y: 0, flip: false },
    { x: 0, y: far, flip: false },
    { x: far, y: far, flip: false },
    { x: centre.x, y: centre.y, flip: false },
  ];
  return [...five, ...five.map((patch) => ({ ...patch, flip: true }))];
}

/** Every choice made for one sample in one epoch. */
export interface SampleParams {
  patches: PatchParams[];
  /** Train mode with lighting on: the alpha drawn and the shift it gives; otherwise null. */
  lighting: LightingParams | null;
  /** The per-channel affine map from 0-255 pixels to output floats (lighting + normalisation). */
  affine: Affine;
}

/** The parameters of sample `index` in `epoch`: a pure function of (plan, epoch, index). */
export function sampleParams(plan: Plan, epoch: number, index: number): SampleParams {
  let patches: PatchParams[];
  let lighting: LightingParams | null = null;
  if (plan.mode === 'train') {
    const rng = new SampleRng(plan.seed, epoch, index);
    const crop = sampleCrop(rng, plan.rescale, plan.crop);
    const flip = plan.flip ? sampleFlip(rng).flip : false;
    patches = [{ x: crop.x, y: crop.y, flip }];
    if (plan.lighting && plan.lightingStd > 0) lighting = sampleLighting(rng, plan.lighting, plan.lightingStd);
  } else if (plan.mode === 'centre') {
    const centre = centreCrop(plan.rescale, plan.crop);
    patches = [{ x: centre.x, y: centre.y, flip: false }];
  } else {
    patches = tenCropPatches(plan.rescale, plan.crop);
  }
  return { patches, lighting, affine: affineMap(plan, lighting) };
}

/** `(pixel / 255 + shift - mean) / std` written as `pixel * scale + bias`. */
export function affineMap(plan: Pick<Plan, 'normalize'>, lighting: LightingParams | null): Affine {
  const mean = plan.normalize ? plan.normalize.mean : [0, 0, 0];
  const std = plan.normalize ? plan.normalize.std : [1, 1, 1];
  const shift = lighting ? lighting.shift : [0, 0, 0];
  const scale = [0, 1, 2].map((c) => 1 / (255 * std[c]!));
  const bias = [0, 1, 2].map((c) => (shift[c]! - mean[c]!) / std[c]!);
  return { scale, bias };
}
