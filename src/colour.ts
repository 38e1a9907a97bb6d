/**
 * Colour statistics: per-channel mean/std for normalisation and the RGB principal components
 * for AlexNet's PCA lighting. All numbers are on the 0-1 pixel scale (`scale: 1`), the
 * convention of torchvision's mean/std and of fb.resnet.torch's lighting constants.
 */

/** Per-channel mean and standard deviation, R, G, B, on the 0-1 pixel scale. */
export interface Normalization {
  mean: readonly [number, number, number] | readonly number[];
  std: readonly [number, number, number] | readonly number[];
}

/**
 * Colour statistics of a training set. `eigenvectors[row][column]`: rows are R, G, B;
 * column k is principal component k, paired with `eigenvalues[k]` (descending).
 * `scale: 1` says the numbers refer to pixels in [0, 1]; on 0-255 pixels the lighting
 * shift is 255 times larger (DESIGN.md).
 */
export interface ColourStats extends Normalization {
  eigenvalues: readonly number[];
  eigenvectors: readonly (readonly number[])[];
  /** Number of pixels the statistics were computed from (0 for published constants). */
  pixels: number;
  /** The pixel scale the numbers refer to: 1 means [0, 1]. */
  scale: 1;
}

/**
 * The published ImageNet statistics: torchvision's mean/std and the AlexNet/fb.resnet.torch
 * PCA lighting constants (eigenvalues of the RGB covariance on 0-1 pixels).
 * @example
 * createLoader(train, { lighting: IMAGENET_COLOUR_STATS, normalize: IMAGENET_COLOUR_STATS });
 */
export const IMAGENET_COLOUR_STATS: ColourStats = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406]) as readonly number[],
  std: Object.freeze([0.229, 0.224, 0.225]) as readonly number[],
  eigenvalues: Object.freeze([0.2175, 0.0188, 0.0045]) as readonly number[],
  eigenvectors: Object.freeze([
    Object.freeze([-0.5675, 0.7192, 0.4009]),
    Object.freeze([-0.5808, -0.0045, -0.814]),
    Object.freeze([-0.5836, -0.6948, 0.4203]),
  ]) as readonly (readonly number[])[],
  pixels: 0,
  scale: 1,
}) as ColourStats;

/**
 * The lighting shift of AlexNet's PCA augmentation, per channel on the 0-1 scale:
 * `P · (alpha ∘ lambda)`.
 */
export function lightingShift(stats: Pick<ColourStats, 'eigenvalues' | 'eigenvectors'>, alpha: readonly number[]): [number, number, number] {
  const shift: [number, number, number] = [0, 0, 0];
  for (let channel = 0; channel < 3; channel++) {
    let sum = 0;
    for (let component = 0; component < 3; component++) {
      sum += stats.eigenvectors[channel]![component]! * alpha[component]! * stats.eigenvalues[component]!;
    }
    shift[channel] = sum;
  }
  return shift;
}
