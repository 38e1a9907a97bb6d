/**
 * Counter-based random numbers: every draw is a pure function of
 * (seed, epoch, sample index, stream, counter), so results never depend on how many
 * workers there are or on which one handled a sample.
 *
 * The generator is Philox4x32-10 (Salmon et al., SC'11; the one JAX, cuRAND and NumPy ship),
 * checked against the Random123 known-answer vectors in test/random.test.ts.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (JavaScript has no 64-bit integer multiply on numbers). */
function mulHigh(a: number, b: number): number {
  const aLow = a & 0xffff;
  const aHigh = a >>> 16;
  const bLow = b & 0xffff;
  const bHigh = b >>> 16;
  const lowLow = aLow * bLow;
  const highLow = aHigh * bLow;
  const lowHigh = aLow * bHigh;
  const cross = (lowLow >>> 16) + (highLow & 0xffff) + lowHigh;
  return (aHigh * bHigh + (highLow >>> 16) + Math.floor(cross / 0x10000)) >>> 0;
}

/**
 * Philox4x32-10: four 32-bit counter words and two key words in, four random uint32 out.
 * Writes into `out` (length >= 4) to avoid an allocation per call on hot paths.
 */
export function philox4x32(
  counter0: number,
  counter1: number,
  counter2: number,
  counter3: number,
  key0: number,
  key1: number,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = counter0 >>> 0;
  let c1 = counter1 >>> 0;
  let c2 = counter2 >>> 0;
  let c3 = counter3 >>> 0;
  let k0 = key0 >>> 0;
  let k1 = key1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const high0 = mulHigh(PHILOX_M0, c0);
    const low0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const high1 = mulHigh(PHILOX_M1, c2);
    const low1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (high1 ^ c1 ^ k0) >>> 0;
    c1 = low1;
    c2 = (high0 ^ c3 ^ k1) >>> 0;
    c3 = low0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/**
 * Independent streams of draws for one sample. A stage owns a stream, so adding a stage
 * never changes what the others draw.
 */
export const STREAM = {
  order: 1,
  crop: 2,
  flip: 3,
  lighting: 4,
  split: 5,
} as const;

const TWO_TO_MINUS_32 = 2 ** -32;

/**
 * The random numbers of one sample in one epoch.
 * @example
 * const rng = new SampleRng(seed, epoch, index);
 * const x = rng.integer(STREAM.crop, 0, 0, 32); // uniform in [0, 32]
 */
export class SampleRng {
  readonly seed: number;
  readonly epoch: number;
  readonly index: number;
  #block = new Uint32Array(4);

  constructor(seed: number, epoch: number, index: number) {
    this.seed = seed;
    this.epoch = epoch;
    this.index = index;
  }

  /** Four raw uint32 draws: block `counter` of `stream`. */
  bits(stream: number, counter: number): Uint32Array {
    return philox4x32(this.index, this.epoch, stream, counter, this.seed, 0x70617463 /* "patc" */, this.#block);
  }

  /** `count` uniforms in (0, 1), never exactly 0 or 1 (safe for logarithms). */
  uniforms(stream: number, count: number): number[] {
    const values: number[] = [];
    for (let counter = 0; values.length < count; counter++) {
      const block = this.bits(stream, counter);
      for (let i = 0; i < 4 && values.length < count; i++) values.push((block[i]! + 0.5) * TWO_TO_MINUS_32);
    }
    return values;
  }

  /** One integer uniform in [low, high], both ends included; `slot` picks which of a stream's draws. */
  integer(stream: number, slot: number, low: number, high: number): number {
    const block = this.bits(stream, slot >>> 2);
    const u = (block[slot & 3]! + 0.5) * TWO_TO_MINUS_32;
    return low + Math.min(high - low, Math.floor(u * (high - low + 1)));
  }

  /** `count` standard normal draws (Box-Muller on the stream's uniforms). */
  normals(stream: number, count: number): number[] {
    const uniforms = this.uniforms(stream, count + (count & 1));
    const values: number[] = [];
    for (let i = 0; i < count; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(uniforms[i]!));
      const angle = 2 * Math.PI * uniforms[i + 1]!;
      values.push(radius * Math.cos(angle));
      if (i + 1 < count) values.push(radius * Math.sin(angle));
    }
    return values;
  }
}

/**
 * A permutation of 0..n-1 that depends only on (seed, epoch): Fisher-Yates driven by Philox.
 * @example
 * permutation(5, 1, 0); // e.g. Int32Array [3, 0, 4, 1, 2], the same every time
 */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const block = new Uint32Array(4);
  for (let i = n - 1; i > 0; i--) {
    const draw = i & 3;
    if (draw === 3 || i === n - 1) philox4x32(i >>> 2, epoch, STREAM.order, 0, seed, 0x6f726472 /* "ordr" */, block);
    const j = Math.min(i, Math.floor((block[draw]! + 0.5) * TWO_TO_MINUS_32 * (i + 1)));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}
