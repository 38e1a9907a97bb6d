/**
 * The bundled trainer: AlexNet (or alexnet-small) on TensorFlow.js, fed by the loader in
 * `train` mode, validated each epoch on the centre patch, checkpointed crash-safely, and
 * evaluated at the end with the centre patch and ten-patch averaging side by side.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkSameClasses } from '../dataset/classes.js';
import type { Dataset } from '../dataset/types.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import { createLoader } from '../loader/loader.js';
import type { CacheOption, LoaderOptions } from '../options.js';
import { checkChoice, checkInteger, checkNumber } from '../options.js';
import { createModel, type ModelName } from '../model/alexnet.js';
import { layerClasses } from '../model/layers.js';
import type { Tfjs } from '../model/tfjs.js';

type LayersModel = Awaited<ReturnType<Tfjs['loadLayersModel']>>;
import { PACKAGE_VERSION } from '../version.js';
import { batchToTensor } from '../tfjs/device-feed.js';
import { selectBackend, type BackendPreference } from './backend.js';
import type { WebgpuAdapter } from '../model/webgpu.js';
import { loadCheckpoint, removeStaleTemporaries, saveCheckpoint, type CheckpointState, type NamedArray } from './checkpoint.js';
import { trainingCurveSvg, type EpochPoint } from './curve.js';
import { Sgd, trainableVariables } from './sgd.js';
import { holdOut } from './split.js';

/** Options of {@link train}. Defaults are the paper's, for ImageNet on a GPU; the CLI's `npm run train` uses small ones. */
export interface TrainOptions {
  /** @default 'alexnet' */
  model?: ModelName;
  /** Channel multiplier of the model. @default 1 */
  width?: number;
  /** @default 256 */
  rescale?: number;
  /** Training patch side, and the model's input size. @default 224 */
  crop?: number;
  /** @default 90 */
  epochs?: number;
  /** @default 128 */
  batchSize?: number;
  /** Initial learning rate. @default 0.01 */
  lr?: number;
  /** Epochs at which the learning rate is divided by 10; without it, it is divided when validation error stops improving. */
  lrSteps?: number[];
  /** Epochs without improvement of the validation top-1 error before lr / 10 (when no lrSteps). @default 3 */
  patience?: number;
  /** @default 0.9 */
  momentum?: number;
  /** @default 5e-4 */
  weightDecay?: number;
  /** Seed of everything random: split, order, augmentation, initial weights. @default 0 */
  seed?: number;
  /** @default 'auto' */
  backend?: BackendPreference;
  /**
   * What the loader hands the trainer: `uint8` pixels with lighting and normalisation applied
   * on the device (`batch.offsets`), or `float32` ready-made. `auto`: uint8 on device backends
   * (webgpu, tfjs-node-gpu on a GPU), float32 elsewhere (where the map costs CPU time instead).
   * @default 'auto'
   */
  feed?: 'auto' | 'uint8' | 'float32';
  /** Validation set; without it, `valFraction` of the training set is held out (stratified, seeded). */
  val?: Dataset;
  /** @default 0.1 */
  valFraction?: number;
  /** Folder for checkpoints, metrics.jsonl and curve.svg. @default 'runs/train' */
  out?: string;
  /** Checkpoint (folder or training --out folder) to continue from. */
  resume?: string;
  /** Also write a checkpoint every this many steps (0: only at the end of each epoch). @default 0 */
  checkpointEvery?: number;
  /** Run the centre + ten-crop evaluation on the validation set at the end. @default true */
  finalEvaluation?: boolean;
  /** Loader settings passed through. */
  workers?: number;
  prefetch?: number;
  lighting?: LoaderOptions['lighting'];
  normalize?: LoaderOptions['normalize'];
  onError?: 'throw' | 'skip';
  maxSkipped?: number;
  cache?: CacheOption;
  /** Stops training at the end of the current step, with a checkpoint; the result says `interrupted`. */
  signal?: AbortSignal;
  /** Human-readable progress lines. */
  log?: (line: string) => void;
  /** After every step. */
  onStep?: (info: StepInfo) => void;
  /** After every epoch's validation. */
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
}

/** What {@link TrainOptions.onStep} receives. */
export interface StepInfo {
  epoch: number;
  step: number;
  steps: number;
  loss: number;
  imagesPerSecond: number;
  /** Share of the epoch's wall time so far spent waiting for the loader. */
  dataWaitShare: number;
  /** Dataset indices of the batch just trained (for tests of order and resume). */
  indices: Int32Array;
  lr: number;
}

/** What {@link TrainOptions.onEpoch} receives; also one line of metrics.jsonl. */
export interface EpochInfo extends EpochPoint {
  lr: number;
  imagesPerSecond: number;
  dataWaitShare: number;
  seconds: number;
  skipped: number;
}

/** What {@link train} returns (the CLI's --json summary). */
export interface TrainResult {
  epochs: number;
  trainLoss: number;
  valTop1Error: number;
  valTop5Error: number;
  imagesPerSecond: number;
  backend: string;
  /** The WebGPU adapter the run used (backend `webgpu` only). */
  adapter?: WebgpuAdapter;
  /** The element type of the training batches the loader produced (see {@link TrainOptions.feed}). */
  feed: 'uint8' | 'float32';
  checkpoint: string;
  history: EpochInfo[];
  final: { centre: EvaluationResult; tenCrop: EvaluationResult } | null;
  interrupted: boolean;
  classes: string[];
  trainImages: number;
  valImages: number;
}

/** The training settings a checkpoint records and a resumed run must keep. */
interface RunSettings {
  model: ModelName;
  width: number;
  rescale: number;
  crop: number;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSteps: number[] | null;
  patience: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  valFraction: number;
}

interface ScheduleState {
  lr: number;
  best: number;
  sinceBest: number;
}

function settingsFrom(options: TrainOptions): RunSettings {
  const lrSteps = options.lrSteps ?? null;
  if (lrSteps !== null && (!Array.isArray(lrSteps) || lrSteps.some((e) => !Number.isInteger(e) || e < 1))) {
    throw new TypeError(`Expected array of positive integers for options.lrSteps but received ${JSON.stringify(lrSteps)}`);
  }
  return {
    model: options.model === undefined ? 'alexnet' : checkChoice('options.model', options.model, ['alexnet', 'alexnet-small'] as const),
    width: options.width === undefined ? 1 : checkNumber('options.width', options.width, 0.01, 16),
    rescale: options.rescale === undefined ? 256 : checkInteger('options.rescale', options.rescale, 1, 4096),
    crop: options.crop === undefined ? Math.min(224, options.rescale ?? 256) : checkInteger('options.crop', options.crop, 1, 4096),
    epochs: options.epochs === undefined ? 90 : checkInteger('options.epochs', options.epochs, 1, 100000),
    batchSize: options.batchSize === undefined ? 128 : checkInteger('options.batchSize', options.batchSize, 1, 65536),
    lr: options.lr === undefined ? 0.01 : checkNumber('options.lr', options.lr, 0, 100),
    lrSteps,
    patience: options.patience === undefined ? 3 : checkInteger('options.patience', options.patience, 1, 10000),
    momentum: options.momentum === undefined ? 0.9 : checkNumber('options.momentum', options.momentum, 0, 1),
    weightDecay: options.weightDecay === undefined ? 5e-4 : checkNumber('options.weightDecay', options.weightDecay, 0, 1),
    seed: options.seed === undefined ? 0 : checkInteger('options.seed', options.seed, 0, 0xffffffff),
    valFraction: options.valFraction === undefined ? 0.1 : checkNumber('options.valFraction', options.valFraction, 0.001, 0.9),
  };
}

/**
 * Trains a classifier on `dataset` (ImageFolder or list file) and returns its metrics.
 * Tensors are disposed every step; the tfjs tensor count does not grow.
 * @throws {DatasetError} `CLASS_MISMATCH` when resuming with a dataset whose class list differs
 * @throws {SampleError} a bad image under `onError: 'throw'`
 * @example
 * const result = await train(await imageFolder('fixtures/shapes'), { model: 'alexnet-small', rescale: 36, crop: 32, epochs: 10, batchSize: 32, out: 'runs/shapes' });
 */
export async function train(dataset: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? (() => undefined);
  const out = resolve(options.out ?? 'runs/train');
  await mkdir(out, { recursive: true });
  const stale = await removeStaleTemporaries(out);
  if (stale.length > 0) log(`removed ${stale.length} half-written checkpoint(s) left by a killed run: ${stale.join(', ')}`);

  const resumed = options.resume ? await loadCheckpoint(options.resume) : null;
  let settings = settingsFrom(options);
  if (resumed) {
    const saved = resumed.state.settings as RunSettings;
    // A resumed run keeps everything that decides which samples it sees and how: only the
    // number of epochs may grow.
    settings = { ...saved, epochs: options.epochs ?? saved.epochs };
    checkSameClasses(resumed.state.classes, dataset.classes, ['checkpoint', 'dataset'], `Cannot resume ${resumed.path}: the dataset's classes differ from the checkpoint's (labels would shift)`, { sameOrder: true });
    log(`resuming ${resumed.path} at epoch ${resumed.state.epoch}, step ${resumed.state.step}`);
  }

  const feed = options.feed === undefined ? 'auto' : checkChoice('options.feed', options.feed, ['auto', 'uint8', 'float32'] as const);
  const backend = await selectBackend(options.backend ?? 'auto', log);
  const tf: Tfjs = backend.tf;
  const dtype = feed === 'auto' ? (backend.device ? 'uint8' : 'float32') : feed;
  const split = options.val ? { train: dataset, val: options.val } : holdOut(dataset, settings.valFraction, settings.seed);
  if (options.val) {
    checkSameClasses(dataset.classes, options.val.classes, ['training set', 'validation set'], 'The validation set has other classes than the training set (labels would shift)', { sameOrder: true });
  }
  const numClasses = dataset.classes.length;
  const loaderOptions: LoaderOptions = {
    rescale: settings.rescale,
    crop: settings.crop,
    batchSize: settings.batchSize,
    seed: settings.seed,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.prefetch !== undefined ? { prefetch: options.prefetch } : {}),
    ...(options.lighting !== undefined ? { lighting: options.lighting } : {}),
    ...(options.normalize !== undefined ? { normalize: options.normalize } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
    ...(options.maxSkipped !== undefined ? { maxSkipped: options.maxSkipped } : {}),
  };
  const trainLoader = createLoader(split.train, { ...loaderOptions, mode: 'train', dtype, ...(options.cache ? { cache: options.cache } : {}) });
  const valLoader = createLoader(split.val, { ...loaderOptions, mode: 'centre' });
  log(`training ${settings.model} (width ${settings.width}) on ${split.train.samples.length} images, validating on ${split.val.samples.length}, ${numClasses} classes; input ${settings.crop}x${settings.crop} from ${settings.rescale}x${settings.rescale}; batch ${settings.batchSize}, lr ${settings.lr}, ${settings.epochs} epochs; backend ${backend.name}; ${dtype} batches`);

  layerClasses(tf);
  const model: LayersModel = resumed
    ? await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: resumed.model.modelTopology as object, weightSpecs: resumed.model.weightSpecs as never, weightData: resumed.model.weightData }))
    : createModel(tf, { name: settings.model, numClasses, inputSize: settings.crop, width: settings.width, seed: settings.seed });
  const schedule: ScheduleState = resumed ? (resumed.state.schedule as ScheduleState) : { lr: settings.lr, best: Infinity, sinceBest: 0 };
  const sgd = new Sgd(tf, { lr: schedule.lr, momentum: settings.momentum, weightDecay: settings.weightDecay });
  if (resumed) {
    const velocities = resumed.optimizer.map(({ name, shape, data }) => ({ name, tensor: tf.tensor(data, shape) }));
    sgd.setState({ learningRate: schedule.lr, velocities });
    tf.dispose(velocities.map((v) => v.tensor));
  }
  const history: EpochInfo[] = resumed ? [...(resumed.state.history as EpochInfo[])] : [];
  let epoch = resumed ? resumed.state.epoch : 0;
  let startStep = resumed ? resumed.state.step : 0;
  let lastCheckpoint = resumed?.path ?? '';
  let interrupted = false;
  const stepsPerEpoch = trainLoader.length;
  const readLossEvery = backend.device || backend.name.startsWith('tfjs-node') ? 10 : 1;
  const variables = trainableVariables(model as Parameters<typeof trainableVariables>[0]);

  const checkpoint = async (atEpoch: number, atStep: number): Promise<string> => {
    const artifacts = await saveArtifacts(tf, model);
    const state: CheckpointState = {
      epoch: atEpoch,
      step: atStep,
      classes: dataset.classes,
      seed: settings.seed,
      settings,
      schedule,
      history,
      model: { name: settings.model, width: settings.width, inputSize: settings.crop, numClasses },
      backend: backend.name,
      ...(options.normalize !== undefined ? { normalize: options.normalize } : {}),
      ...(options.lighting !== undefined ? { lighting: options.lighting } : {}),
      patchstream: PACKAGE_VERSION,
      savedAt: new Date().toISOString(),
    };
    const velocities = sgd.getState().velocities;
    const optimizer: NamedArray[] = await Promise.all(velocities.map(async ({ name, tensor }) => ({ name, shape: tensor.shape, data: (await tensor.data()) as Float32Array })));
    tf.dispose(velocities.map((v) => v.tensor));
    lastCheckpoint = await saveCheckpoint(out, { model: artifacts, optimizer, state });
    return lastCheckpoint;
  };

  const metricsPath = join(out, 'metrics.jsonl');
  const trainStarted = performance.now();
  let trainedImages = 0;
  try {
    for (; epoch < settings.epochs && !interrupted; epoch++) {
      if (settings.lrSteps && startStep === 0 && settings.lrSteps.includes(epoch)) {
        schedule.lr /= 10;
        log(`epoch ${epoch}: learning rate divided by 10 (lrSteps) -> ${schedule.lr}`);
      }
      sgd.setLearningRate(schedule.lr);
      const epochStarted = performance.now();
      const waitBefore = trainLoader.stats().consumerWaitMs;
      const skippedBefore = trainLoader.stats().skippedTotal;
      let lossSum = 0;
      let lossCount = 0;
      // Reading a loss back stalls a GPU's queue: on tfjs-node(-gpu) and webgpu losses are read (and
      // onStep called) every few steps; on wasm and cpu, ops are synchronous and it is free.
      const pending: Array<{ loss: ReturnType<Sgd['stepTensor']>; count: number; info: Omit<StepInfo, 'loss'> }> = [];
      const readLosses = async () => {
        if (pending.length === 0) return;
        const stacked = tf.stack(pending.map((entry) => entry.loss));
        const values = await stacked.data();
        tf.dispose([stacked, ...pending.map((entry) => entry.loss)]);
        pending.forEach((entry, i) => {
          const loss = values[i]!;
          if (Number.isFinite(loss)) {
            lossSum += loss * entry.count;
            lossCount += entry.count;
          }
          options.onStep?.({ ...entry.info, loss });
        });
        pending.length = 0;
      };
      let images = 0;
      let step = startStep;
      try {
        for await (const batch of trainLoader.epoch(epoch, { startBatch: startStep, ...(options.signal ? { signal: options.signal } : {}) })) {
          const loss = tf.tidy(() => {
            const xs = batchToTensor(tf, batch);
            const ys = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), numClasses);
            return sgd.stepTensor(variables, () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as never) as never);
          });
          step++;
          images += batch.labels.length;
          trainedImages += batch.labels.length;
          const elapsed = performance.now() - epochStarted;
          pending.push({
            loss,
            count: batch.labels.length,
            info: {
              epoch, step, steps: stepsPerEpoch, lr: schedule.lr, indices: batch.indices,
              imagesPerSecond: (images * 1000) / elapsed,
              dataWaitShare: (trainLoader.stats().consumerWaitMs - waitBefore) / elapsed,
            },
          });
          if (pending.length >= readLossEvery) await readLosses();
          if (options.signal?.aborted) {
            interrupted = true;
            break;
          }
          if (options.checkpointEvery && step % options.checkpointEvery === 0 && step < stepsPerEpoch) await checkpoint(epoch, step);
        }
      } catch (error) {
        if (!options.signal?.aborted) throw error;
        interrupted = true;
      }
      await readLosses();
      if (interrupted) {
        const path = await checkpoint(epoch, step);
        log(`interrupted: checkpoint at epoch ${epoch}, step ${step}: ${path}`);
        break;
      }
      startStep = 0;
      const seconds = (performance.now() - epochStarted) / 1000;
      const validation = await evaluate((x) => model.predict(x) as never, valLoader, { mode: 'centre' });
      const info: EpochInfo = {
        epoch: epoch + 1,
        trainLoss: lossCount > 0 ? lossSum / lossCount : NaN,
        valTop1Error: validation.top1Error,
        valTop5Error: validation.top5Error,
        lr: schedule.lr,
        imagesPerSecond: images / seconds,
        dataWaitShare: (trainLoader.stats().consumerWaitMs - waitBefore) / 1000 / seconds,
        seconds,
        skipped: trainLoader.stats().skippedTotal - skippedBefore,
      };
      history.push(info);
      if (!settings.lrSteps) {
        if (info.valTop1Error < schedule.best - 1e-9) {
          schedule.best = info.valTop1Error;
          schedule.sinceBest = 0;
        } else if (++schedule.sinceBest >= settings.patience) {
          schedule.lr /= 10;
          schedule.sinceBest = 0;
          log(`epoch ${epoch + 1}: validation error stopped improving for ${settings.patience} epochs: learning rate divided by 10 -> ${schedule.lr}`);
        }
      }
      await appendFile(metricsPath, `${JSON.stringify({ type: 'epoch', ...info })}\n`);
      await writeFile(join(out, 'curve.svg'), trainingCurveSvg(history, { title: `${settings.model} on ${split.train.samples.length} images, backend ${backend.name}`, chanceTop1: 1 - 1 / numClasses }));
      await checkpoint(epoch + 1, 0);
      await options.onEpoch?.(info);
      log(`epoch ${epoch + 1}/${settings.epochs}: loss ${info.trainLoss.toFixed(4)}, val top-1 error ${(info.valTop1Error * 100).toFixed(1)}%, top-5 ${(info.valTop5Error * 100).toFixed(1)}%, ${info.imagesPerSecond.toFixed(0)} images/s, waiting for data ${(info.dataWaitShare * 100).toFixed(0)}%`);
      if (options.signal?.aborted) interrupted = true;
    }

    let final: TrainResult['final'] = null;
    if (!interrupted && (options.finalEvaluation ?? true)) {
      const predict = (x: Parameters<typeof model.predict>[0]) => model.predict(x) as never;
      const common = { rescale: settings.rescale, crop: settings.crop, batchSize: Math.max(1, Math.floor(settings.batchSize / 4)), ...(options.workers !== undefined ? { workers: options.workers } : {}), ...(options.normalize !== undefined ? { normalize: options.normalize } : {}), ...(options.onError !== undefined ? { onError: options.onError } : {}) };
      final = {
        centre: await evaluate(predict, split.val, { ...common, mode: 'centre' }),
        tenCrop: await evaluate(predict, split.val, { ...common, mode: 'ten-crop' }),
      };
      await appendFile(metricsPath, `${JSON.stringify({ type: 'final', centre: summary(final.centre), tenCrop: summary(final.tenCrop) })}\n`);
    }
    const last = history.at(-1);
    return {
      epochs: history.length,
      trainLoss: last?.trainLoss ?? NaN,
      valTop1Error: last?.valTop1Error ?? NaN,
      valTop5Error: last?.valTop5Error ?? NaN,
      imagesPerSecond: (trainedImages * 1000) / (performance.now() - trainStarted),
      backend: backend.name,
      ...(backend.adapter ? { adapter: backend.adapter } : {}),
      feed: dtype,
      checkpoint: lastCheckpoint,
      history,
      final,
      interrupted,
      classes: dataset.classes,
      trainImages: split.train.samples.length,
      valImages: split.val.samples.length,
    };
  } finally {
    await trainLoader.close();
    await valLoader.close();
    sgd.dispose();
    model.dispose();
    await backend.close();
  }
}

/** The plain-number part of an evaluation (no confusion matrix). */
export function summary(result: EvaluationResult): { top1Error: number; top5Error: number; images: number; imagesPerSecond: number } {
  return { top1Error: result.top1Error, top5Error: result.top5Error, images: result.images, imagesPerSecond: result.imagesPerSecond };
}

/** The model's topology and weights, in memory. */
async function saveArtifacts(tf: Tfjs, model: LayersModel) {
  let captured: { modelTopology: unknown; weightSpecs: Array<{ name: string; shape: number[]; dtype: string }>; weightData: ArrayBuffer } | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = artifacts.weightData;
    const weightData = Array.isArray(data) ? concatBuffers(data as ArrayBuffer[]) : (data as ArrayBuffer);
    captured = { modelTopology: artifacts.modelTopology, weightSpecs: (artifacts.weightSpecs ?? []) as never, weightData };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return captured!;
}

function concatBuffers(buffers: ArrayBuffer[]): ArrayBuffer {
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return out.buffer;
}
