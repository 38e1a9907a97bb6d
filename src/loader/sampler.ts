/**
 * The sampler: which dataset indices an epoch visits, in which order, on this shard,
 * cut into batches. A pure function of (dataset size, seed, epoch, options).
 */
import { permutation } from '../random.js';
import { shardLength, type EvenPolicy } from './shard.js';

/** Options of {@link epochOrder}. */
export interface OrderOptions {
  shuffle: boolean;
  seed: number;
  shard: { rank: number; worldSize: number; even?: EvenPolicy };
}

/**
 * The dataset indices of one epoch on this shard. Every shard computes the same permutation
 * (same seed) and takes the positions `rank, rank + worldSize, ...` (as PyTorch's
 * DistributedSampler does), so shards never overlap and together cover every sample once.
 * Every shard has the same length (a collective trainer waits forever for a rank with one batch
 * fewer): `even: 'pad'` (default) extends the epoch order with its own first samples, as
 * DistributedSampler does, so this shard's entries from position `real` on (see
 * {@link shardLength}) repeat samples another shard has; `even: 'drop'` leaves out the epoch
 * order's last `size mod worldSize` samples.
 */
export function epochOrder(size: number, epoch: number, options: OrderOptions): Int32Array {
  const order = options.shuffle ? permutation(size, options.seed, epoch) : Int32Array.from({ length: size }, (_, i) => i);
  const { rank, worldSize } = options.shard;
  if (worldSize === 1) return order;
  const { length } = shardLength(size, { rank, worldSize, even: options.shard.even ?? 'pad' });
  const mine = new Int32Array(length);
  for (let k = 0, position = rank; k < length; k++, position += worldSize) mine[k] = order[position % size]!;
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
