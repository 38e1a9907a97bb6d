/**
 * The sampler: which dataset indices an epoch visits, in which order, on this shard,
 * cut into batches. A pure function of (dataset size, seed, epoch, options).
 */
import { permutation } from '../random.js';

/** Options of {@link epochOrder}. */
export interface OrderOptions {
  shuffle: boolean;
  seed: number;
  shard: { rank: number; worldSize: number };
}

/**
 * The dataset indices of one epoch on this shard. Every shard computes the same permutation
 * (same seed) and takes the positions `rank, rank + worldSize, ...` (as PyTorch's
 * DistributedSampler does), so shards never overlap and together cover every sample once.
 * Shards differ in size by at most one sample; nothing is padded or dropped.
 */
export function epochOrder(size: number, epoch: number, options: OrderOptions): Int32Array {
  const order = options.shuffle ? permutation(size, options.seed, epoch) : Int32Array.from({ length: size }, (_, i) => i);
  const { rank, worldSize } = options.shard;
  if (worldSize === 1) return order;
  const mine = new Int32Array(Math.max(0, Math.ceil((size - rank) / worldSize)));
  for (let position = rank, k = 0; position < size; position += worldSize, k++) mine[k] = order[position]!;
  return mine;
}

/** `[start, end)` position ranges of each batch of an epoch order. */
export function batchRanges(length: number, batchSize: number, dropLast: boolean): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < length; start += batchSize) {
    const end = Math.min(length, start + batchSize);
    if (dropLast && end - start < batchSize) break;
    ranges.push([start, end]);
  }
  return ranges;
}
