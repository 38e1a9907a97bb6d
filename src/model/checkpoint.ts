/**
 * Checkpoints that survive a crash. A checkpoint is a folder:
 *
 *   <out>/checkpoints/epoch-0003-step-000000/
 *     model.json      topology + weight specs (tfjs format; the only weights file is weights.bin)
 *     weights.bin     model weights
 *     optimizer.json  + optimizer.bin   the SGD velocities
 *     state.json      epoch, step, seed, options, class list, learning rate, history
 *
 * It is written into `<name>.tmp-<pid>` (each file fsynced), renamed into place (atomic), the
 * parent folder fsynced, and only then `<out>/latest` is pointed at it (temporary file +
 * rename). A run killed at any moment leaves the previous checkpoint and `latest` intact, and
 * at most a `*.tmp-*` folder, which the next run deletes. The last `keep` checkpoints are kept.
 *
 * Reading trusts nothing: weight files are fixed names inside the folder (a model.json naming
 * any other path, e.g. `../../secret`, is refused) and sizes are checked before use.
 */
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { replaceDurably, syncFolder, writeDurable } from '../durable.js';
import { StoreError } from '../errors.js';

/** A named float32 tensor, as plain data. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** What a trainer keeps in state.json. Extra fields are allowed. */
export interface CheckpointState {
  /** Epochs fully completed before this checkpoint, i.e. the epoch to continue. */
  epoch: number;
  /** Batches of `epoch` already trained (0 at an epoch boundary). */
  step: number;
  classes: string[];
  [key: string]: unknown;
}

/** Model weights and topology in tfjs's artifact form. */
export interface ModelArtifactsLike {
  modelTopology: unknown;
  weightSpecs: Array<{ name: string; shape: number[]; dtype: string }>;
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** A checkpoint read back. */
export interface LoadedCheckpoint {
  path: string;
  model: ModelArtifactsLike;
  optimizer: NamedArray[];
  state: CheckpointState;
}

const STATE = 'state.json';
const MODEL = 'model.json';
const WEIGHTS = 'weights.bin';
const OPTIMIZER = 'optimizer.json';
const OPTIMIZER_DATA = 'optimizer.bin';

/** Test hook: `PATCHSTREAM_CHECKPOINT_FAULT=kill-after-weights` SIGKILLs the process mid-write. */
const FAULT = process.env.PATCHSTREAM_CHECKPOINT_FAULT;

/** The name of a checkpoint folder. */
export function checkpointName(epoch: number, step: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}-step-${String(step).padStart(6, '0')}`;
}

/**
 * Writes a checkpoint under `<out>/checkpoints/` and points `<out>/latest` at it.
 * @returns the checkpoint folder
 */
export async function saveCheckpoint(
  out: string,
  contents: { model: ModelArtifactsLike; optimizer: NamedArray[]; state: CheckpointState },
  keep = 3,
): Promise<string> {
  const folder = join(out, 'checkpoints');
  await mkdir(folder, { recursive: true });
  const name = checkpointName(contents.state.epoch, contents.state.step);
  const final = join(folder, name);
  const temporary = join(folder, `${name}.tmp-${process.pid}`);
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary);
  const modelJson = {
    format: contents.model.format ?? 'layers-model',
    generatedBy: contents.model.generatedBy ?? 'patchstream',
    convertedBy: null,
    modelTopology: contents.model.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS], weights: contents.model.weightSpecs }],
  };
  await writeDurable(join(temporary, WEIGHTS), new Uint8Array(contents.model.weightData));
  if (FAULT === 'kill-after-weights') process.kill(process.pid, 'SIGKILL');
  await writeDurable(join(temporary, MODEL), JSON.stringify(modelJson));
  let offset = 0;
  const specs = contents.optimizer.map((entry) => {
    const spec = { name: entry.name, shape: entry.shape, offset, length: entry.data.length };
    offset += entry.data.length;
    return spec;
  });
  const packed = new Float32Array(offset);
  contents.optimizer.forEach((entry, i) => packed.set(entry.data, specs[i]!.offset));
  await writeDurable(join(temporary, OPTIMIZER_DATA), new Uint8Array(packed.buffer));
  await writeDurable(join(temporary, OPTIMIZER), JSON.stringify(specs));
  await writeDurable(join(temporary, STATE), JSON.stringify(contents.state, null, 1));
  await rm(final, { recursive: true, force: true });
  await rename(temporary, final);
  await syncFolder(folder);
  await replaceDurably(join(out, 'latest'), `checkpoints/${name}\n`);
  await pruneCheckpoints(folder, keep, name);
  return final;
}

async function pruneCheckpoints(folder: string, keep: number, current: string): Promise<void> {
  const names = (await readdir(folder)).filter((name) => /^epoch-\d+-step-\d+$/.test(name)).sort();
  const old = names.filter((name) => name !== current).slice(0, Math.max(0, names.length - keep));
  await Promise.all(old.map((name) => rm(join(folder, name), { recursive: true, force: true })));
}

/** Deletes temporary folders left by runs that were killed while writing a checkpoint. */
export async function removeStaleTemporaries(out: string): Promise<string[]> {
  const folder = join(out, 'checkpoints');
  const names = await readdir(folder).catch(() => [] as string[]);
  const stale = names.filter((name) => name.includes('.tmp-'));
  await Promise.all(stale.map((name) => rm(join(folder, name), { recursive: true, force: true })));
  const pointers = (await readdir(out).catch(() => [] as string[])).filter((name) => name.startsWith('latest.tmp-'));
  await Promise.all(pointers.map((name) => rm(join(out, name), { force: true })));
  return stale;
}

/**
 * The checkpoint folder a path means: a checkpoint folder itself, or a training `--out`
 * folder (its `latest`).
 * @throws {StoreError} nothing there is a checkpoint
 */
export async function resolveCheckpoint(path: string): Promise<string> {
  const absolute = resolve(path);
  if (await exists(join(absolute, STATE))) return absolute;
  const pointer = await readFile(join(absolute, 'latest'), 'utf8').catch(() => null);
  if (pointer !== null) {
    const target = resolve(absolute, pointer.trim());
    if (dirname(target) !== join(absolute, 'checkpoints') || !/^epoch-\d+-step-\d+$/.test(basename(target))) {
      throw new StoreError('CHECKPOINT', join(absolute, 'latest'), `points outside ${join(absolute, 'checkpoints')}: ${pointer.trim()}`);
    }
    if (await exists(join(target, STATE))) return target;
    throw new StoreError('CHECKPOINT', target, 'the latest checkpoint is missing');
  }
  throw new StoreError('CHECKPOINT', absolute, 'not a checkpoint folder (no state.json) nor a training output folder (no latest)');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Reads a checkpoint (folder or training output folder), validating every file against the others.
 * @throws {StoreError} missing, truncated or inconsistent files; weight paths outside the folder
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const folder = await resolveCheckpoint(path);
  const fail = (file: string, reason: string): never => {
    throw new StoreError('CHECKPOINT', join(folder, file), reason);
  };
  const readJson = async <T>(file: string): Promise<T> => {
    const text = await readFile(join(folder, file), 'utf8').catch((error: Error) => fail(file, error.message));
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      return fail(file, `not valid JSON: ${(error as Error).message}`);
    }
  };
  const modelJson = await readJson<{ modelTopology?: unknown; format?: string; weightsManifest?: Array<{ paths: string[]; weights: ModelArtifactsLike['weightSpecs'] }> }>(MODEL);
  const manifest = modelJson.weightsManifest;
  if (!modelJson.modelTopology || !Array.isArray(manifest)) fail(MODEL, 'no modelTopology or weightsManifest');
  for (const group of manifest!) {
    for (const file of group.paths ?? []) {
      const target = resolve(folder, file);
      if (dirname(target) !== folder || basename(target) !== WEIGHTS) fail(MODEL, `weight path ${JSON.stringify(file)} is not ${WEIGHTS} inside the checkpoint folder: refused`);
    }
  }
  const weightSpecs = manifest!.flatMap((group) => group.weights);
  const weights = await readFile(join(folder, WEIGHTS)).catch((error: Error) => fail(WEIGHTS, error.message));
  const expected = weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * bytesOf(spec.dtype), 0);
  if (weights.length !== expected) fail(WEIGHTS, `has ${weights.length} bytes, model.json describes ${expected}`);
  const specs = await readJson<Array<{ name: string; shape: number[]; offset: number; length: number }>>(OPTIMIZER);
  const optimizerBytes = await readFile(join(folder, OPTIMIZER_DATA)).catch((error: Error) => fail(OPTIMIZER_DATA, error.message));
  const total = specs.reduce((sum, spec) => sum + spec.length, 0);
  if (optimizerBytes.length !== total * 4) fail(OPTIMIZER_DATA, `has ${optimizerBytes.length} bytes, optimizer.json describes ${total * 4}`);
  const optimizerData = new Float32Array(optimizerBytes.buffer.slice(optimizerBytes.byteOffset, optimizerBytes.byteOffset + optimizerBytes.length));
  const optimizer = specs.map((spec) => ({ name: spec.name, shape: spec.shape, data: optimizerData.slice(spec.offset, spec.offset + spec.length) }));
  const state = await readJson<CheckpointState>(STATE);
  if (!Number.isInteger(state.epoch) || !Number.isInteger(state.step) || !Array.isArray(state.classes)) fail(STATE, 'missing epoch, step or classes');
  return {
    path: folder,
    model: {
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length) as ArrayBuffer,
      ...(modelJson.format ? { format: modelJson.format } : {}),
    },
    optimizer,
    state,
  };
}

function bytesOf(dtype: string): number {
  return dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'bool' ? 1 : dtype === 'float16' ? 2 : 4;
}
