/**
 * Real launchers start real ranks: torchrun (Debian python3-torch) and mpirun (openmpi-bin),
 * three ranks each over 1,000 images, each rank's loader with shard: 'auto'.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permutation } from '../../src/random.js';
import { temporaryFolder } from '../helpers.js';

const rankScript = fileURLToPath(new URL('./launcher-rank.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)));
const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const hasTorchrun = onPath('torchrun');
const hasMpirun = onPath('mpirun');
const IMAGES = 1000;

const folder = temporaryFolder();
const data = join(folder.dir, 'data');
beforeAll(async () => {
  if (!hasTorchrun && !hasMpirun) return;
  for (let i = 0; i < IMAGES; i++) {
    const dir = join(data, `class-${i % 4}`);
    if (i < 4) mkdirSync(dir, { recursive: true });
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i % 256, g: i >> 8, b: 9 } } }).png().toFile(join(dir, `i${String(i).padStart(4, '0')}.png`));
  }
}, 120_000);
afterAll(() => folder.remove());

interface RankReport { rank: number; worldSize: number; source: string; length: number; batches: Array<{ indices: number[]; padded: number[] }> }

function reports(out: string, ranks: number): RankReport[] {
  return Array.from({ length: ranks }, (_, rank) => JSON.parse(readFileSync(join(out, `rank-${rank}.json`), 'utf8')) as RankReport);
}

function checkPadded(all: RankReport[]): void {
  const counts = all.map((r) => r.batches.length);
  expect(new Set(counts).size).toBe(1);
  expect(all.every((r) => r.length === counts[0])).toBe(true);
  expect(all.map((r) => r.batches.flatMap((b) => b.indices).length)).toEqual([334, 334, 334]);
  const real = all.flatMap((r) => r.batches.flatMap((b) => b.indices.filter((_, i) => !b.padded[i])));
  const padding = all.flatMap((r) => r.batches.flatMap((b) => b.indices.filter((_, i) => b.padded[i])));
  expect(real.length).toBe(IMAGES);
  expect(new Set(real).size).toBe(IMAGES);
  // 3 x 334 - 1000 = 2 padded samples, the epoch order's first two (ranks 1 and 2 are short).
  const order = permutation(IMAGES, 11, 3);
  expect(padding.sort((a, b) => a - b)).toEqual([order[0]!, order[1]!].sort((a, b) => a - b));
}

describe.skipIf(!built)('launchers (needs dist/: run npx tsc first)', () => {
  it.skipIf(!hasTorchrun)(`shard: 'auto' - torchrun --no_python starts 3 ranks: equal batch counts, full coverage, only padding repeats${hasTorchrun ? '' : ' [SKIPPED: torchrun not found; install Debian python3-torch]'}`, () => {
    const out = join(folder.dir, 'torchrun');
    mkdirSync(out, { recursive: true });
    const run = spawnSync('torchrun', ['--standalone', '--nnodes', '1', '--nproc_per_node', '3', '--redirects', '1', '--tee', '1', '--no_python', process.execPath, rankScript, data, out, 'pad'], { encoding: 'utf8', timeout: 150_000 });
    expect(run.status, `torchrun failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
    const all = reports(out, 3);
    expect(all.map((r) => [r.rank, r.worldSize])).toEqual([[0, 3], [1, 3], [2, 3]]);
    expect(all.every((r) => r.source.startsWith('torchrun'))).toBe(true);
    expect(all[0]!.length).toBe(11);
    checkPadded(all);
  }, 180_000);

  it.skipIf(!hasMpirun)(`shard: 'auto' - mpirun -np 3 (Open MPI) with even: 'drop': 333 samples each, none repeated${hasMpirun ? '' : ' [SKIPPED: mpirun not found; install Debian openmpi-bin]'}`, () => {
    const out = join(folder.dir, 'mpirun');
    mkdirSync(out, { recursive: true });
    const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
    const run = spawnSync('mpirun', [...root, '--oversubscribe', '-np', '3', process.execPath, rankScript, data, out, 'drop'], { encoding: 'utf8', timeout: 150_000 });
    expect(run.status, `mpirun failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
    const all = reports(out, 3);
    expect(all.map((r) => [r.rank, r.worldSize])).toEqual([[0, 3], [1, 3], [2, 3]]);
    expect(all.every((r) => r.source.startsWith('Open MPI'))).toBe(true);
    expect(new Set(all.map((r) => r.batches.length)).size).toBe(1);
    const seen = all.flatMap((r) => r.batches.flatMap((b) => b.indices));
    expect(seen.length).toBe(999);
    expect(new Set(seen).size).toBe(999);
    expect(all.flatMap((r) => r.batches.flatMap((b) => b.padded)).every((p) => p === 0)).toBe(true);
  }, 180_000);
});
