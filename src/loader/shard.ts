/**
 * Which part of every epoch this process loads: `shard: { rank, worldSize, even }`, or
 * `shard: 'auto'`, read from the environment a launcher (torchrun, Open MPI, MPICH/PMI, Slurm,
 * a Kubernetes Indexed Job) gives each rank it starts.
 */

import type { EvenPolicy, ResolvedShard } from '../options.js';

export type { EvenPolicy, ResolvedShard, ShardOption } from '../options.js';

/** One launcher's pair of variables. */
interface Launcher {
  name: string;
  key: string;
  rank: string;
  size: string;
}

/**
 * The launchers `shard: 'auto'` knows, by the variables they set in every rank's environment.
 * A Kubernetes Indexed Job sets only the index; its world size is the Job's `completions`,
 * which the manifest passes as PATCHSTREAM_WORLD_SIZE.
 */
export const LAUNCHERS: readonly Launcher[] = Object.freeze([
  { name: 'torchrun', key: 'torchrun', rank: 'RANK', size: 'WORLD_SIZE' },
  { name: 'Open MPI', key: 'mpi', rank: 'OMPI_COMM_WORLD_RANK', size: 'OMPI_COMM_WORLD_SIZE' },
  { name: 'MPICH/PMI', key: 'pmi', rank: 'PMI_RANK', size: 'PMI_SIZE' },
  { name: 'Slurm', key: 'slurm', rank: 'SLURM_PROCID', size: 'SLURM_NTASKS' },
  { name: 'Kubernetes Indexed Job', key: 'k8s', rank: 'JOB_COMPLETION_INDEX', size: 'PATCHSTREAM_WORLD_SIZE' },
]);

/** Chooses one launcher's variables when several disagree (e.g. `srun torchrun ...`: Slurm's are per node). */
export const LAUNCHER_VARIABLE = 'PATCHSTREAM_LAUNCHER';

const MAX_WORLD_SIZE = 1_000_000;

/** The rank and world size the launcher gave this process, or one rank when no launcher's variables are set. */
export function shardFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): { rank: number; worldSize: number; source: string } {
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  const chosen = env[LAUNCHER_VARIABLE];
  let candidates: readonly Launcher[] = LAUNCHERS;
  if (chosen !== undefined && chosen !== '') {
    const launcher = LAUNCHERS.find((l) => l.key === chosen);
    if (!launcher) {
      throw new RangeError(`Expected one of ${LAUNCHERS.map((l) => `'${l.key}'`).join(', ')} for environment variable ${LAUNCHER_VARIABLE} (shard: 'auto') but received '${chosen}'`);
    }
    if (!set(launcher.rank) || !set(launcher.size)) {
      throw new RangeError(`shard: 'auto': ${LAUNCHER_VARIABLE}=${chosen} but ${[launcher.rank, launcher.size].filter((n) => !set(n)).join(' and ')} ${[launcher.rank, launcher.size].filter((n) => !set(n)).length > 1 ? 'are' : 'is'} not set`);
    }
    candidates = [launcher];
  }
  const found: Array<{ launcher: Launcher; rank: number; worldSize: number }> = [];
  for (const launcher of candidates) {
    const hasRank = set(launcher.rank);
    const hasSize = set(launcher.size);
    if (!hasRank && !hasSize) continue;
    if (hasRank !== hasSize) {
      const [present, missing] = hasRank ? [launcher.rank, launcher.size] : [launcher.size, launcher.rank];
      const hint = launcher.key === 'k8s' && hasRank ? ` (set it to the Job's completions in the manifest)` : '';
      throw new RangeError(`shard: 'auto': ${present}=${env[present]} is set but ${missing} is not${hint}; ${launcher.name} sets both`);
    }
    const worldSize = parseCount(launcher.size, env[launcher.size]!, 1, MAX_WORLD_SIZE);
    const rank = parseCount(launcher.rank, env[launcher.rank]!, 0, MAX_WORLD_SIZE - 1);
    if (rank >= worldSize) {
      throw new RangeError(`shard: 'auto': ${launcher.rank}=${rank} must be below ${launcher.size}=${worldSize}`);
    }
    found.push({ launcher, rank, worldSize });
  }
  if (found.length === 0) return { rank: 0, worldSize: 1, source: 'no launcher variables set (one rank)' };
  const first = found[0]!;
  const disagree = found.filter((f) => f.rank !== first.rank || f.worldSize !== first.worldSize);
  if (disagree.length > 0) {
    const listed = found.map((f) => `${f.launcher.rank}=${f.rank}, ${f.launcher.size}=${f.worldSize} (${f.launcher.name})`).join('; ');
    throw new RangeError(
      `shard: 'auto': launcher variables disagree: ${listed}. Set ${LAUNCHER_VARIABLE} to one of ${found.map((f) => `'${f.launcher.key}'`).join(', ')} to say which launcher started this process, or pass shard: { rank, worldSize }`,
    );
  }
  return { rank: first.rank, worldSize: first.worldSize, source: `${found.map((f) => f.launcher.name).join(' + ')} (${first.launcher.rank}=${first.rank}, ${first.launcher.size}=${first.worldSize})` };
}

function parseCount(name: string, text: string, min: number, max: number): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`shard: 'auto': expected an integer between ${min} and ${max} in environment variable ${name} but received '${text}'`);
  }
  return value;
}

/**
 * Validates `options.shard` (or reads the launcher's environment for `'auto'`).
 * @throws {TypeError} not `'auto'` or an object
 * @throws {RangeError} a rank or world size out of range, or conflicting/partial launcher variables
 */
export function resolveShard(value: unknown, env: Readonly<Record<string, string | undefined>> = process.env): ResolvedShard {
  if (value === 'auto') return { ...shardFromEnvironment(env), even: 'pad' };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`Expected 'auto' or object { rank, worldSize, even? } for options.shard but received ${describeValue(value)}`);
  }
  const { rank, worldSize, even } = value as Record<string, unknown>;
  if (!Number.isInteger(worldSize) || (worldSize as number) < 1 || (worldSize as number) > MAX_WORLD_SIZE) {
    throw new RangeError(`Expected integer between 1 and ${MAX_WORLD_SIZE} for options.shard.worldSize but received ${describeValue(worldSize)}`);
  }
  if (!Number.isInteger(rank) || (rank as number) < 0 || (rank as number) > (worldSize as number) - 1) {
    throw new RangeError(`Expected integer between 0 and ${(worldSize as number) - 1} for options.shard.rank but received ${describeValue(rank)}`);
  }
  if (even !== undefined && even !== 'pad' && even !== 'drop') {
    throw new TypeError(`Expected one of 'pad', 'drop' for options.shard.even but received ${describeValue(even)}`);
  }
  return { rank: rank as number, worldSize: worldSize as number, even: (even as EvenPolicy | undefined) ?? 'pad', source: 'options' };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}' of type string`;
  if (typeof value === 'object') return `${Array.isArray(value) ? 'array' : 'object'} of type object`;
  return `${String(value)} of type ${typeof value}`;
}

/**
 * Samples each rank yields per epoch (the same on every rank when `worldSize > 1`), and how
 * many of this rank's are real (the rest, at the end, are padding).
 */
export function shardLength(size: number, shard: Pick<ResolvedShard, 'rank' | 'worldSize' | 'even'>): { length: number; real: number } {
  const { rank, worldSize, even } = shard;
  if (worldSize === 1) return { length: size, real: size };
  const real = Math.max(0, Math.ceil((size - rank) / worldSize));
  if (even === 'drop') {
    const length = Math.floor(size / worldSize);
    return { length, real: length };
  }
  // pad: an empty dataset has nothing to repeat.
  return { length: size === 0 ? 0 : Math.ceil(size / worldSize), real };
}
