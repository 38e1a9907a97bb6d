/**
 * What the fixture and benchmark generators (and the tests that check their output) share:
 * the seeded generator behind every drawn image, and the classes of fixtures/shapes.
 */

/** mulberry32: small, fast and good enough for drawing fixtures. Uniform in [0, 1) from a uint32 state. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The ten classes of fixtures/shapes, in folder (code point) order. */
export const SHAPE_CLASSES = Object.freeze([
  'checkerboard',
  'circle',
  'cross',
  'diamond',
  'dots',
  'horizontal-stripes',
  'ring',
  'square',
  'triangle',
  'vertical-stripes',
]);

/** Images per class in fixtures/shapes. */
export const IMAGES_PER_CLASS = 32;
