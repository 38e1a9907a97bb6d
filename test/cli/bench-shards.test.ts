/** `patchstream bench` over WebDataset shards, with --shard auto from launcher variables. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { packShards } from '../../src/dataset/pack.js';
import { shardFlag } from '../../src/cli/shard-flag.js';
import { temporaryFolder } from '../helpers.js';
import { classFolder } from '../dataset/class-folder.js';

const bin = fileURLToPath(new URL('../../bin/patchstream.js', import.meta.url));
const folder = temporaryFolder();
beforeAll(async () => {
  await classFolder(join(folder.dir, 'data'), 21);
  await packShards(await imageFolder(join(folder.dir, 'data')), join(folder.dir, 'shards'), { shardSize: 8 });
}, 60_000);
afterAll(() => folder.remove());

const bench = (args: string[], env: Record<string, string> = {}) => {
  const run = spawnSync(process.execPath, [bin, 'bench', join(folder.dir, 'shards'), '--passes', '1', '--rescale', '16', '--crop', '16', '--batch-size', '4', '--workers', '1', '--json', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { ...run, summary: run.status === 0 ? JSON.parse(run.stdout.trim().split('\n').at(-1)!) : null };
};

describe('patchstream bench --shard', () => {
  it('patchstream bench --shard auto - takes rank and world size from torchrun variables and reads the shards', () => {
    const run = bench(['--shard', 'auto'], { RANK: '1', WORLD_SIZE: '3' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ type: 'summary', images: 21, shard: { rank: 1, worldSize: 3 }, skipped: 0 });
    expect(run.stderr).toMatch(/shard: rank 1 of 3 \(torchrun \(RANK=1, WORLD_SIZE=3\)\), 7 samples per epoch/);
  });

  it('patchstream bench --shard - partial launcher variables and malformed values are usage errors naming them', () => {
    const partial = bench(['--shard', 'auto'], { WORLD_SIZE: '3' });
    expect(partial.status).toBe(2);
    expect(partial.stderr).toMatch(/WORLD_SIZE=3 is set but RANK is not/);
    expect(() => shardFlag('3/2')).toThrow(/rank below worldSize/);
    expect(shardFlag('1/4:drop')).toEqual({ rank: 1, worldSize: 4, even: 'drop' });
  });
});
