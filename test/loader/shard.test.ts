import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/loader/loader.js';
import { epochOrder } from '../../src/loader/sampler.js';
import { resolveShard, shardFromEnvironment, shardLength } from '../../src/loader/shard.js';
import { permutation } from '../../src/random.js';
import type { Dataset } from '../../src/dataset/types.js';
import { indexDataset, temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
let indexed: Dataset;
beforeAll(async () => {
  indexed = await indexDataset(join(folder.dir, 'indexed'), 47);
});
afterAll(() => folder.remove());

describe('shard: auto', () => {
  it('shardFromEnvironment() - reads each launcher\'s variables', () => {
    expect(shardFromEnvironment({ RANK: '2', WORLD_SIZE: '3', LOCAL_RANK: '0' })).toMatchObject({ rank: 2, worldSize: 3, source: expect.stringContaining('torchrun') });
    expect(shardFromEnvironment({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' })).toMatchObject({ rank: 1, worldSize: 4, source: expect.stringContaining('Open MPI') });
    expect(shardFromEnvironment({ PMI_RANK: '0', PMI_SIZE: '2' })).toMatchObject({ rank: 0, worldSize: 2 });
    expect(shardFromEnvironment({ SLURM_PROCID: '5', SLURM_NTASKS: '8' })).toMatchObject({ rank: 5, worldSize: 8, source: expect.stringContaining('Slurm') });
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: '3', PATCHSTREAM_WORLD_SIZE: '4' })).toMatchObject({ rank: 3, worldSize: 4, source: expect.stringContaining('Kubernetes') });
    expect(shardFromEnvironment({ PATH: '/usr/bin' })).toMatchObject({ rank: 0, worldSize: 1 });
  });

  it('shardFromEnvironment() - agreeing launchers are fine (srun with PMI sets both)', () => {
    expect(shardFromEnvironment({ PMI_RANK: '1', PMI_SIZE: '2', SLURM_PROCID: '1', SLURM_NTASKS: '2' })).toMatchObject({ rank: 1, worldSize: 2, source: 'MPICH/PMI + Slurm (PMI_RANK=1, PMI_SIZE=2)' });
  });

  it('shardFromEnvironment() - partial, conflicting and malformed variables are errors naming them', () => {
    expect(() => shardFromEnvironment({ RANK: '1' })).toThrow("shard: 'auto': RANK=1 is set but WORLD_SIZE is not; torchrun sets both");
    expect(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: '0' })).toThrow(/JOB_COMPLETION_INDEX=0 is set but PATCHSTREAM_WORLD_SIZE is not \(set it to the Job's completions/);
    expect(() => shardFromEnvironment({ RANK: '0', WORLD_SIZE: '2', SLURM_PROCID: '1', SLURM_NTASKS: '2' }))
      .toThrow(/launcher variables disagree: RANK=0, WORLD_SIZE=2 \(torchrun\); SLURM_PROCID=1, SLURM_NTASKS=2 \(Slurm\)\. Set PATCHSTREAM_LAUNCHER/);
    expect(() => shardFromEnvironment({ RANK: 'one', WORLD_SIZE: '2' })).toThrow("expected an integer between 0 and 999999 in environment variable RANK but received 'one'");
    expect(() => shardFromEnvironment({ RANK: '3', WORLD_SIZE: '3' })).toThrow('RANK=3 must be below WORLD_SIZE=3');
    expect(() => shardFromEnvironment({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '0' })).toThrow(/OMPI_COMM_WORLD_SIZE but received '0'/);
  });

  it('shardFromEnvironment() - PATCHSTREAM_LAUNCHER picks one launcher (srun torchrun: Slurm\'s variables are per node)', () => {
    const env = { RANK: '4', WORLD_SIZE: '6', SLURM_PROCID: '1', SLURM_NTASKS: '2' };
    expect(shardFromEnvironment({ ...env, PATCHSTREAM_LAUNCHER: 'torchrun' })).toMatchObject({ rank: 4, worldSize: 6 });
    expect(() => shardFromEnvironment({ ...env, PATCHSTREAM_LAUNCHER: 'mpi' })).toThrow('PATCHSTREAM_LAUNCHER=mpi but OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE are not set');
    expect(() => shardFromEnvironment({ ...env, PATCHSTREAM_LAUNCHER: 'lsf' })).toThrow(/environment variable PATCHSTREAM_LAUNCHER .* but received 'lsf'/);
  });

  it("createLoader() - shard: 'auto' shows the resolved rank and world size in loader.options.shard", () => {
    const saved = { RANK: process.env.RANK, WORLD_SIZE: process.env.WORLD_SIZE };
    process.env.RANK = '1';
    process.env.WORLD_SIZE = '2';
    try {
      const loader = createLoader(indexed, { shard: 'auto', workers: 1 });
      expect(loader.options.shard).toMatchObject({ rank: 1, worldSize: 2, even: 'pad' });
      expect(loader.size).toBe(24);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('resolveShard() - rejects bad values naming the option', () => {
    expect(() => resolveShard('yes')).toThrow("Expected 'auto' or object { rank, worldSize, even? } for options.shard but received 'yes' of type string");
    expect(() => resolveShard({ rank: 0, worldSize: 2, even: 'spread' })).toThrow("Expected one of 'pad', 'drop' for options.shard.even but received 'spread' of type string");
    expect(() => resolveShard({ rank: 2, worldSize: 2 })).toThrow('Expected integer between 0 and 1 for options.shard.rank but received 2 of type number');
  });
});

describe('equal batches per rank', () => {
  it("epochOrder() - even: 'pad' repeats the epoch order's first samples, as DistributedSampler does", () => {
    const full = permutation(10, 7, 3);
    const ranks = [0, 1, 2].map((rank) => Array.from(epochOrder(10, 3, { shuffle: true, seed: 7, shard: { rank, worldSize: 3, even: 'pad' } })));
    expect(ranks.map((r) => r.length)).toEqual([4, 4, 4]);
    // Padded order = full ++ full[0..1]; rank r takes positions r, r + 3, ...
    const padded = [...full, full[0]!, full[1]!];
    ranks.forEach((order, rank) => expect(order).toEqual([0, 1, 2, 3].map((k) => padded[rank + 3 * k])));
    expect(shardLength(10, { rank: 0, worldSize: 3, even: 'pad' })).toEqual({ length: 4, real: 4 });
    expect(shardLength(10, { rank: 1, worldSize: 3, even: 'pad' })).toEqual({ length: 4, real: 3 });
    // More ranks than samples: the order repeats as often as needed.
    expect(Array.from(epochOrder(2, 0, { shuffle: false, seed: 0, shard: { rank: 4, worldSize: 5, even: 'pad' } }))).toEqual([0]);
  });

  it("epochOrder() - even: 'drop' leaves out the epoch order's last samples", () => {
    const full = permutation(10, 7, 3);
    const ranks = [0, 1, 2].map((rank) => Array.from(epochOrder(10, 3, { shuffle: true, seed: 7, shard: { rank, worldSize: 3, even: 'drop' } })));
    expect(ranks.map((r) => r.length)).toEqual([3, 3, 3]);
    expect(ranks.flat().sort((a, b) => a - b)).toEqual(Array.from(full.subarray(0, 9)).sort((a, b) => a - b));
  });

  it("createLoader() - 3 ranks over 47 samples: same batch count, every sample once, padding marked and repeating other ranks' samples", async () => {
    const seen: number[] = [];
    const paddedSeen: number[] = [];
    const lengths: number[][] = [];
    for (let rank = 0; rank < 3; rank++) {
      const loader = createLoader(indexed, { rescale: 16, crop: 12, batchSize: 5, workers: 1, seed: 9, shard: { rank, worldSize: 3 } });
      expect(loader.size).toBe(16);
      expect(loader.length).toBe(4);
      const sizes: number[] = [];
      for await (const batch of loader.epoch(2)) {
        sizes.push(batch.labels.length);
        expect(batch.padded.length).toBe(batch.labels.length);
        batch.indices.forEach((index, i) => (batch.padded[i] ? paddedSeen : seen).push(index));
      }
      lengths.push(sizes);
      await loader.close();
    }
    expect(lengths).toEqual([[5, 5, 5, 1], [5, 5, 5, 1], [5, 5, 5, 1]]);
    expect(seen.length).toBe(47);
    expect(new Set(seen).size).toBe(47);
    // 3 * 16 - 47 = 1 padded sample: the epoch order's first, on rank 2.
    expect(paddedSeen).toEqual([permutation(47, 9, 2)[0]]);
  });

  it("createLoader() - padded batches are the same with 1 and 2 workers; even: 'drop' gives floor(N / worldSize)", async () => {
    const run = async (workers: number, even: 'pad' | 'drop') => {
      const loader = createLoader(indexed, { rescale: 16, crop: 12, batchSize: 6, workers, seed: 1, shard: { rank: 1, worldSize: 2, even } });
      const out: Array<{ indices: number[]; padded: number[]; bytes: string }> = [];
      for await (const batch of loader.epoch(0)) {
        out.push({ indices: [...batch.indices], padded: [...batch.padded], bytes: Buffer.from(batch.images.buffer, batch.images.byteOffset, batch.images.byteLength).toString('base64') });
      }
      await loader.close();
      return out;
    };
    const one = await run(1, 'pad');
    expect(one.flatMap((b) => b.indices).length).toBe(24);
    expect(one.flatMap((b) => b.padded)).toEqual([...new Array(23).fill(0), 1]);
    expect(await run(2, 'pad')).toEqual(one);
    const dropped = await run(1, 'drop');
    expect(dropped.flatMap((b) => b.indices).length).toBe(23);
    expect(dropped.flatMap((b) => b.padded).every((p) => p === 0)).toBe(true);
  });
});
