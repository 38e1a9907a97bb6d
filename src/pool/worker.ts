/**
 * The worker entry (piscina). A task is a run of samples from one batch: each is read,
 * sniffed, decoded and prepared by sharp (several in flight: sharp's cost is mostly per call,
 * so one at a time leaves cores idle), then the fused kernel writes its patches straight into
 * the batch's SharedArrayBuffer. No pixel data goes back through postMessage.
 */
import { workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { reasonOf, type SampleFailure } from '../errors.js';
import { sampleParams } from '../pipeline/plan.js';
import { writePatch } from '../stages/fused.js';
import { decodeFile } from '../stages/load.js';
import { forEachLimited } from '../limit.js';
import { configureSharp } from './sharp.js';
import { decodeRead, TaskRanges } from '../stages/read-range.js';
import { readCached, claimCacheRecord, writeCached } from './cache-io.js';
import type { BatchResult, BatchTask, Task, WorkerConfig } from './messages.js';

// Loaders were blocked process-wide by the thread that started the pool (WorkerPool's constructor).
configureSharp({ blockLoaders: false });
const config = workerData as WorkerConfig;
const { plan } = config;

function injectFault(index: number): Promise<void> | void {
  const fault = config.faults[index];
  if (fault === undefined) return;
  if (fault === 'throw') throw new Error(`injected fault: throw at sample ${index}`);
  if (fault === 'exit') process.exit(1);
  return new Promise<void>(() => undefined); // 'hang': never settles
}

/** The prepared `rescale x rescale x 3` image of a sample: from a cache if there, else decoded. */
async function prepared(index: number, path: string, ranges: TaskRanges | null, j: number): Promise<
  ({ ok: true; pixels: Uint8Array } | { ok: false; failure: SampleFailure }) & { decoded: boolean; ms: number }
> {
  const started = performance.now();
  const cached = await readCached(config, index);
  if (cached.kind === 'hit') return { ok: true, pixels: cached.pixels, decoded: false, ms: performance.now() - started };
  if (cached.kind === 'failed') return { ok: false, failure: cached.failure, decoded: false, ms: performance.now() - started };
  const claimed = claimCacheRecord(config, index);
  const result = ranges ? await decodeRead(path, await ranges.read(j), config.decode) : await decodeFile(path, config.decode);
  const outcome = result.ok ? { ok: true as const, pixels: result.image.data } : result;
  if (claimed) await writeCached(config, index, outcome);
  return { ...outcome, decoded: true, ms: performance.now() - started };
}

/**
 * {@link prepared}, with the hang watchdog told when the sample starts and finishes:
 * `progress` is [task started, samples finished, then per sample 0 waiting / 1 started / 2 finished].
 */
async function preparedWithProgress(progress: Int32Array | null, j: number, index: number, path: string, ranges: TaskRanges | null): ReturnType<typeof prepared> {
  if (progress) Atomics.store(progress, 2 + j, 1);
  await injectFault(index);
  const source = await prepared(index, path, ranges, j);
  if (progress) {
    Atomics.store(progress, 2 + j, 2);
    Atomics.add(progress, 1, 1);
  }
  return source;
}

/** Requests one task reads ahead at once (S3 and nginx serve many in parallel; bounded per worker). */
const READ_AHEAD = 8;

function rangesOf(task: Task): TaskRanges | null {
  if (!task.ranges || !config.shards) return null;
  const ranges = new TaskRanges(config.shards, task.ranges, config.decode.maxFileBytes);
  // With a cache, most samples never need their bytes: read only what is asked for.
  if (!config.memoryCache && !config.diskCache) ranges.readAhead(READ_AHEAD);
  return ranges;
}

function progressOf(task: Task): Int32Array | null {
  if (!task.progress) return null;
  const progress = new Int32Array(task.progress);
  Atomics.store(progress, 0, 1);
  return progress;
}

async function runBatch(task: BatchTask): Promise<BatchResult> {
  const progress = progressOf(task);
  const ranges = rangesOf(task);
  const images = plan.dtype === 'float32' ? new Float32Array(task.images) : new Uint8Array(task.images);
  const offsets = new Float32Array(task.offsets);
  const failures: Array<SampleFailure | null> = new Array(task.indices.length).fill(null);
  let decodeMs = 0;
  let decodes = 0;
  let cacheHits = 0;
  await forEachLimited(task.indices.length, config.inFlight, async (j) => {
    const index = task.indices[j]!;
    const position = task.positions[j]!;
    const source = await preparedWithProgress(progress, j, index, task.paths[j]!, ranges);
    decodeMs += source.ms;
    if (source.decoded) decodes++;
    else cacheHits++;
    if (!source.ok) {
      failures[j] = source.failure;
      return;
    }
    try {
      const { patches, affine } = sampleParams(plan, task.epoch, index);
      const firstPatch = position * plan.patchesPerImage;
      for (let p = 0; p < patches.length; p++) {
        writePatch(source.pixels, plan.rescale, patches[p]!, plan.crop, affine, images, (firstPatch + p) * plan.elementsPerPatch, plan.layout);
      }
      for (let c = 0; c < 3; c++) {
        offsets[position * 6 + c] = affine.scale[c]!;
        offsets[position * 6 + 3 + c] = affine.bias[c]!;
      }
    } catch (error) {
      failures[j] = { code: 'DECODE', stage: 'augment', reason: reasonOf(error) };
    }
  });
  return { failures, decodeMs, decodes, cacheHits };
}

/** piscina calls this for every task. */
export default async function run(task: Task): Promise<BatchResult> {
  return runBatch(task);
}
