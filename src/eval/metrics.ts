/**
 * Top-k error, per-class accuracy and the confusion matrix, from class scores.
 * Ties follow `tf.math.in_top_k`: classes that tie at the top-k boundary all count as in the
 * top k, so the true class is a hit when fewer than k classes score strictly higher.
 */

/** Running counts of a classification evaluation. */
export class ClassificationTally {
  readonly classes: number;
  images = 0;
  top1Hits = 0;
  top5Hits = 0;
  /** `confusion[truth][predicted]`; predicted is the first class with the highest score. */
  readonly confusion: number[][];

  constructor(classes: number) {
    this.classes = classes;
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** Adds one image: its class scores (any monotone scale) and its true label. */
  add(scores: ArrayLike<number>, label: number): void {
    const truth = scores[label]!;
    let higher = 0;
    let best = 0;
    for (let c = 0; c < this.classes; c++) {
      if (scores[c]! > truth) higher++;
      if (scores[c]! > scores[best]!) best = c;
    }
    this.images++;
    if (higher < 1) this.top1Hits++;
    if (higher < 5) this.top5Hits++;
    this.confusion[label]![best]!++;
  }

  /** Fraction of images whose true class is not in the top 1. */
  get top1Error(): number {
    return this.images === 0 ? NaN : 1 - this.top1Hits / this.images;
  }

  /** Fraction of images whose true class is not in the top 5 (0 when there are 5 classes or fewer). */
  get top5Error(): number {
    return this.images === 0 ? NaN : 1 - this.top5Hits / this.images;
  }

  /** Accuracy of the arg-max prediction per true class (NaN for a class with no image). */
  get perClassAccuracy(): number[] {
    return this.confusion.map((row, c) => {
      const total = row.reduce((sum, n) => sum + n, 0);
      return total === 0 ? NaN : row[c]! / total;
    });
  }
}

/** Numerically stable softmax of one row, written into `out`. */
export function softmaxInto(logits: ArrayLike<number>, offset: number, classes: number, out: Float64Array): Float64Array {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[offset + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    out[c] = Math.exp(logits[offset + c]! - max);
    sum += out[c]!;
  }
  for (let c = 0; c < classes; c++) out[c]! /= sum;
  return out;
}
