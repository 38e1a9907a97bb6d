/**
 * The bundled trainer: AlexNet (or alexnet-small) on TensorFlow.js, fed by the loader in
 * `train` mode, validated each epoch on the centre patch, checkpointed crash-safely, and
 * evaluated at the end with ten-patch averaging (and the centre patch of the same pass).
 *
 * This file is the step loop; the learning-rate schedule is `schedule.ts`, the run's files
 * (metrics, curve, checkpoints) `run-folder.ts`.
 */
import { performance } from 'node:perf_hooks';
import { checkSameClasses } from '../dataset/classes.js';
import type { Dataset } from '../dataset/types.js';
import { evaluate, type EvaluationResult } from '../eval/evaluate.js';
import { createLoader, type Loader } from '../loader/loader.js';
import { defaultCrop, LOADER_DEFAULTS, type LoaderOptions } from '../options.js';
import { createModel } from '../model/alexnet.js';
import { captureArtifacts, modelFromArtifacts, type LayersModel } from '../model/artifacts.js';
import { selectBackend, type SelectedBackend } from '../model/backend.js';
import { loadCheckpoint, type CheckpointState, type LoadedCheckpoint, type NamedArray } from '../model/checkpoint.js';
import { MODEL_NAMES, type BackendPreference, type ModelName } from '../model/choices.js';
import { setDropoutStep } from '../model/layers.js';
import type { Tfjs } from '../model/tfjs.js';
import type { EpochPoint } from './curve.js';
import { checkChoice, checkInteger, checkNumber, checkPositiveIntegers } from '../validate.js';
import { PACKAGE_VERSION } from '../version.js';
import { batchToTensor } from '../model/device-feed.js';
import type { WebgpuAdapter } from '../model/webgpu.js';
import { compareResume, describeResume, type ComparedOption, type ResumeInfo } from './resume.js';
import { RunFolder } from './run-folder.js';
import { LearningRateSchedule, type ScheduleState } from './schedule.js';
import { Sgd, trainableVariables } from './sgd.js';
import { holdOut } from './split.js';

/**
 * Loader settings of a training run, passed to both loaders (training and validation).
 * The trainer sets `mode`, `rescale`, `crop`, `batchSize` and `seed` itself; `cache` applies
 * to the training loader only. Defaults are {@link LOADER_DEFAULTS}'.
 */
export type TrainLoaderOptions = Omit<LoaderOptions, 'mode' | 'rescale' | 'crop' | 'batchSize' | 'seed' | 'signal' | 'shuffle'>;

/** Options of {@link train}. Defaults are the paper's, for ImageNet on a GPU; the CLI's `npm run train` uses small ones. */
export interface TrainOptions {
  /** @default 'alexnet' */
  model?: ModelName;
  /** Channel multiplier of the model. @default 1 */
  width?: number;
  /** @default LOADER_DEFAULTS.rescale (256) */
  rescale?: number;
  /** Training patch side, and the model's input size. @default LOADER_DEFAULTS.crop (224), at most rescale */
  crop?: number;
  /** @default 90; when resuming, the checkpoint's */
  epochs?: number;
  /** @default LOADER_DEFAULTS.batchSize (128) */
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
  /** Seed of everything random: split, order, augmentation, initial weights. @default LOADER_DEFAULTS.seed (0) */
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
  /**
   * Checkpoint (folder or training --out folder) to continue from. The run keeps the
   * checkpoint's model, width, rescale, crop, batchSize, lr, lrSteps, patience, momentum,
   * weightDecay, seed, valFraction and colour statistics (`loader.normalize`, `loader.lighting`):
   * other values given for them are ignored. `epochs`, `checkpointEvery` and `loader.workers`,
   * `prefetch` and `cache` are taken from these options when given, else from the checkpoint.
   * {@link TrainOptions.onResume} and the log say which.
   */
  resume?: string;
  /** Also write a checkpoint every this many steps (0: only at the end of each epoch). @default 0; when resuming, the checkpoint's */
  checkpointEvery?: number;
  /** Run the ten-crop evaluation (with the centre patch of the same pass) on the validation set at the end. @default true */
  finalEvaluation?: boolean;
  /** Loader settings (workers, prefetch, lighting, normalize, onError, maxSkipped, cache, ...). */
  loader?: TrainLoaderOptions;
  /** Stops training at the end of the current step, with a checkpoint; the result says `interrupted`. */
  signal?: AbortSignal;
  /** Human-readable progress lines. */
  log?: (line: string) => void;
  /** Once, when resuming: which settings come from the checkpoint, which given values were ignored and which changed. */
  onResume?: (info: ResumeInfo) => void;
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

function settingsFrom(options: TrainOptions): RunSettings {
  const rescale = options.rescale === undefined ? LOADER_DEFAULTS.rescale : checkInteger('options.rescale', options.rescale, 1, 4096);
  return {
    model: options.model === undefined ? 'alexnet' : checkChoice('options.model', options.model, MODEL_NAMES),
    width: options.width === undefined ? 1 : checkNumber('options.width', options.width, 0.01, 16),
    rescale,
    crop: options.crop === undefined ? defaultCrop(rescale) : checkInteger('options.crop', options.crop, 1, 4096),
    epochs: options.epochs === undefined ? 90 : checkInteger('options.epochs', options.epochs, 1, 100000),
    batchSize: options.batchSize === undefined ? LOADER_DEFAULTS.batchSize : checkInteger('options.batchSize', options.batchSize, 1, 65536),
    lr: options.lr === undefined ? 0.01 : checkNumber('options.lr', options.lr, 0, 100),
    lrSteps: options.lrSteps === undefined ? null : checkPositiveIntegers('options.lrSteps', options.lrSteps),
    patience: options.patience === undefined ? 3 : checkInteger('options.patience', options.patience, 1, 10000),
    momentum: options.momentum === undefined ? 0.9 : checkNumber('options.momentum', options.momentum, 0, 1),
    weightDecay: options.weightDecay === undefined ? 5e-4 : checkNumber('options.weightDecay', options.weightDecay, 0, 1),
    seed: options.seed === undefined ? LOADER_DEFAULTS.seed : checkInteger('options.seed', options.seed, 0, 0xffffffff),
    valFraction: options.valFraction === undefined ? 0.1 : checkNumber('options.valFraction', options.valFraction, 0.001, 0.9),
  };
}

/**
 * Settings a checkpoint records (beside `backend`) that change the speed or the length of a run,
 * not its batches: a resumed run keeps them unless given again, except the feed, which belongs
 * to the machine, as the backend does.
 */
interface RuntimeSettings {
  workers?: number;
  prefetch?: number;
  cache?: TrainLoaderOptions['cache'];
  checkpointEvery: number;
  feed: 'uint8' | 'float32';
}

/** Everything one run holds while it trains. */
interface Run {
  tf: Tfjs;
  backend: SelectedBackend;
  settings: RunSettings;
  model: LayersModel;
  sgd: Sgd;
  schedule: LearningRateSchedule;
  folder: RunFolder;
  history: EpochInfo[];
  classes: string[];
  loaderOptions: TrainLoaderOptions;
  checkpointEvery: number;
  feed: 'uint8' | 'float32';
  options: TrainOptions;
}

/**
 * Trains a classifier on `dataset` (ImageFolder or list file) and returns its metrics.
 * Tensors are disposed every step; the tfjs tensor count does not grow.
 * @throws {DatasetError} `CLASS_MISMATCH` when resuming with a dataset whose class list differs
 * @throws {SampleError} a bad image under `loader.onError: 'throw'`
 * @example
 * const result = await train(await imageFolder('fixtures/shapes'), { model: 'alexnet-small', rescale: 36, crop: 32, epochs: 10, batchSize: 32, out: 'runs/shapes' });
 */
export async function train(dataset: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? (() => undefined);
  const folder = await RunFolder.open(options.out ?? 'runs/train', log);
  const resumed = options.resume ? await loadCheckpoint(options.resume) : null;
  const given = settingsFrom(options);
  let settings = given;
  let loaderOptions: TrainLoaderOptions = options.loader ?? {};
  let checkpointEvery = options.checkpointEvery ?? 0;
  if (resumed) {
    const saved = resumed.state.settings as RunSettings;
    const runtime = (resumed.state.runtime ?? {}) as Partial<RuntimeSettings>;
    checkSameClasses(resumed.state.classes, dataset.classes, ['checkpoint', 'dataset'], `Cannot resume ${resumed.path}: the dataset's classes differ from the checkpoint's (labels would shift)`, { sameOrder: true });
    log(`resuming ${resumed.path} at epoch ${resumed.state.epoch}, step ${resumed.state.step}`);
    // A resumed run keeps everything that decides which samples it sees and how (the colour
    // statistics too); the length of the run and the loader's speed settings may change.
    settings = { ...saved, epochs: options.epochs ?? saved.epochs };
    const { normalize, lighting, ...rest } = loaderOptions;
    loaderOptions = {
      ...rest,
      ...(resumed.state.normalize !== undefined ? { normalize: resumed.state.normalize as TrainLoaderOptions['normalize'] } : {}),
      ...(resumed.state.lighting !== undefined ? { lighting: resumed.state.lighting as TrainLoaderOptions['lighting'] } : {}),
    };
    for (const key of ['workers', 'prefetch', 'cache'] as const) {
      if (loaderOptions[key] === undefined && runtime[key] !== undefined) (loaderOptions as Record<string, unknown>)[key] = runtime[key];
    }
    checkpointEvery = options.checkpointEvery ?? runtime.checkpointEvery ?? 0;
  }
  const split = options.val ? { train: dataset, val: options.val } : holdOut(dataset, settings.valFraction, settings.seed);
  if (options.val) {
    checkSameClasses(dataset.classes, options.val.classes, ['training set', 'validation set'], 'The validation set has other classes than the training set (labels would shift)', { sameOrder: true });
  }
  const shared = { ...loaderOptions, rescale: settings.rescale, crop: settings.crop, batchSize: settings.batchSize, seed: settings.seed };
  const { cache, ...uncached } = shared;
  const feed = options.feed === undefined ? 'auto' : checkChoice('options.feed', options.feed, ['auto', 'uint8', 'float32'] as const);
  const backend = await selectBackend(options.backend ?? 'auto', log);
  const tf = backend.tf;
  const dtype = feed === 'auto' ? (backend.device ? 'uint8' : 'float32') : feed;
  if (resumed) {
    const info = resumeInfo(resumed, options, given, { backend: backend.name, feed: dtype });
    for (const line of describeResume(info)) log(line);
    options.onResume?.(info);
  }
  const trainLoader = createLoader(split.train, { ...shared, mode: 'train', dtype });
  const valLoader = createLoader(split.val, { ...uncached, mode: 'centre' });
  const numClasses = dataset.classes.length;
  log(`training ${settings.model} (width ${settings.width}) on ${split.train.samples.length} images, validating on ${split.val.samples.length}, ${numClasses} classes; input ${settings.crop}x${settings.crop} from ${settings.rescale}x${settings.rescale}; batch ${settings.batchSize}, lr ${settings.lr}, ${settings.epochs} epochs; backend ${backend.name}; ${dtype} batches`);
  const model = resumed
    ? await modelFromArtifacts(tf, resumed.model)
    : createModel(tf, { name: settings.model, numClasses, inputSize: settings.crop, width: settings.width, seed: settings.seed });
  const schedule = new LearningRateSchedule(settings, resumed?.state.schedule as ScheduleState | undefined);
  const sgd = new Sgd(tf, { lr: schedule.lr, momentum: settings.momentum, weightDecay: settings.weightDecay });
  if (resumed) restoreVelocities(tf, sgd, resumed, schedule.lr);
  const run: Run = {
    tf, backend, settings, model, sgd, schedule, folder, classes: dataset.classes, loaderOptions, checkpointEvery, feed: dtype, options,
    history: resumed ? [...(resumed.state.history as EpochInfo[])] : [],
  };
  let lastCheckpoint = resumed?.path ?? '';
  let interrupted = false;
  const trainStarted = performance.now();
  let trainedImages = 0;
  try {
    let startStep = resumed ? resumed.state.step : 0;
    for (let epoch = resumed ? resumed.state.epoch : 0; epoch < settings.epochs && !interrupted; epoch++) {
      // Resuming mid-epoch, the checkpoint's schedule already includes this epoch's step.
      const stepped = startStep === 0 ? schedule.startEpoch(epoch) : null;
      if (stepped) log(stepped);
      sgd.setLearningRate(schedule.lr);
      const epochStarted = performance.now();
      const waitBefore = trainLoader.stats().consumerWaitMs;
      const skippedBefore = trainLoader.stats().skippedTotal;
      const steps = await trainEpoch(run, trainLoader, epoch, startStep, async (step) => (lastCheckpoint = await checkpoint(run, epoch, step)));
      trainedImages += steps.images;
      if (steps.interrupted) {
        interrupted = true;
        lastCheckpoint = await checkpoint(run, epoch, steps.step);
        log(`interrupted: checkpoint at epoch ${epoch}, step ${steps.step}: ${lastCheckpoint}`);
        break;
      }
      startStep = 0;
      const seconds = (performance.now() - epochStarted) / 1000;
      const validation = await evaluate((x) => model.predict(x) as never, valLoader, { mode: 'centre' });
      // Before anything is recorded or checkpointed: weights updated by dropped work are garbage.
      backend.throwIfDeviceError();
      const info: EpochInfo = {
        epoch: epoch + 1,
        trainLoss: steps.loss,
        valTop1Error: validation.top1Error,
        valTop5Error: validation.top5Error,
        lr: schedule.lr,
        imagesPerSecond: steps.images / seconds,
        dataWaitShare: (trainLoader.stats().consumerWaitMs - waitBefore) / 1000 / seconds,
        seconds,
        skipped: trainLoader.stats().skippedTotal - skippedBefore,
      };
      run.history.push(info);
      const plateau = schedule.validated(epoch + 1, info.valTop1Error);
      if (plateau) log(plateau);
      await folder.record({ type: 'epoch', ...info });
      await folder.drawCurve(run.history, `${settings.model} on ${split.train.samples.length} images, backend ${backend.name}`, 1 - 1 / numClasses);
      lastCheckpoint = await checkpoint(run, epoch + 1, 0);
      await options.onEpoch?.(info);
      log(`epoch ${epoch + 1}/${settings.epochs}: loss ${info.trainLoss.toFixed(4)}, val top-1 error ${(info.valTop1Error * 100).toFixed(1)}%, top-5 ${(info.valTop5Error * 100).toFixed(1)}%, ${info.imagesPerSecond.toFixed(0)} images/s, waiting for data ${(info.dataWaitShare * 100).toFixed(0)}%`);
      if (options.signal?.aborted) interrupted = true;
    }

    let final: TrainResult['final'] = null;
    if (!interrupted && (options.finalEvaluation ?? true)) {
      // One ten-crop pass gives both figures: its centre patch is the centre evaluation.
      const tenCrop = await evaluate((x) => model.predict(x) as never, split.val, {
        mode: 'ten-crop',
        loader: { ...uncached, rescale: settings.rescale, crop: settings.crop, batchSize: Math.max(1, Math.floor(settings.batchSize / 4)) },
      });
      backend.throwIfDeviceError();
      final = { centre: tenCrop.centre!, tenCrop };
      await folder.record({ type: 'final', centre: summary(final.centre), tenCrop: summary(final.tenCrop) });
    }
    const last = run.history.at(-1);
    return {
      epochs: run.history.length,
      trainLoss: last?.trainLoss ?? NaN,
      valTop1Error: last?.valTop1Error ?? NaN,
      valTop5Error: last?.valTop5Error ?? NaN,
      imagesPerSecond: (trainedImages * 1000) / (performance.now() - trainStarted),
      backend: backend.name,
      ...(backend.adapter ? { adapter: backend.adapter } : {}),
      feed: dtype,
      checkpoint: lastCheckpoint,
      history: run.history,
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

/**
 * The steps of one epoch from `startStep`. Returns the mean loss over the images trained, and
 * whether `signal` interrupted it (after a step; the caller checkpoints).
 */
async function trainEpoch(
  run: Run,
  loader: Loader,
  epoch: number,
  startStep: number,
  checkpointAt: (step: number) => Promise<unknown>,
): Promise<{ loss: number; images: number; step: number; interrupted: boolean }> {
  const { tf, model, sgd, options } = run;
  const numClasses = run.classes.length;
  const variables = trainableVariables(model as Parameters<typeof trainableVariables>[0]);
  const stepsPerEpoch = loader.length;
  // Reading a loss back stalls a GPU's queue: on tfjs-node(-gpu) losses are read (and onStep
  // called) every few steps; on wasm and cpu, ops are synchronous and it is free.
  const readLossEvery = run.backend.device || run.backend.name.startsWith('tfjs-node') ? 10 : 1;
  const epochStarted = performance.now();
  const waitBefore = loader.stats().consumerWaitMs;
  let lossSum = 0;
  let lossCount = 0;
  const pending: Array<{ loss: ReturnType<Sgd['stepTensor']>; count: number; info: Omit<StepInfo, 'loss'> }> = [];
  const readLosses = async () => {
    if (pending.length === 0) return;
    const stacked = tf.stack(pending.map((entry) => entry.loss));
    const values = await stacked.data();
    tf.dispose([stacked, ...pending.map((entry) => entry.loss)]);
    run.backend.throwIfDeviceError();
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
  let interrupted = false;
  try {
    for await (const batch of loader.epoch(epoch, { startBatch: startStep, ...(options.signal ? { signal: options.signal } : {}) })) {
      // Dropout masks are a function of (seed, layer, global step): a resumed run draws the same ones.
      setDropoutStep(model, epoch * stepsPerEpoch + step);
      const loss = tf.tidy(() => {
        const xs = batchToTensor(tf, batch);
        const ys = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), numClasses);
        return sgd.stepTensor(variables, () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as never) as never);
      });
      step++;
      images += batch.labels.length;
      const elapsed = performance.now() - epochStarted;
      pending.push({
        loss,
        count: batch.labels.length,
        info: {
          epoch, step, steps: stepsPerEpoch, lr: run.schedule.lr, indices: batch.indices,
          imagesPerSecond: (images * 1000) / elapsed,
          dataWaitShare: (loader.stats().consumerWaitMs - waitBefore) / elapsed,
        },
      });
      // The first step is read at once: a device that rejects the model's work (a tensor past
      // its limits) then fails the run at step 1, not ten steps later.
      if (pending.length >= readLossEvery || step === startStep + 1) await readLosses();
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      if (run.checkpointEvery && step % run.checkpointEvery === 0 && step < stepsPerEpoch) await checkpointAt(step);
    }
  } catch (error) {
    if (!options.signal?.aborted) throw error;
    interrupted = true;
  }
  await readLosses();
  return { loss: lossCount > 0 ? lossSum / lossCount : NaN, images, step, interrupted };
}

/** Writes the run's state at (epoch, step) as a checkpoint; returns its folder. */
async function checkpoint(run: Run, epoch: number, step: number): Promise<string> {
  const { tf, settings, loaderOptions } = run;
  const artifacts = await captureArtifacts(tf, run.model);
  const state: CheckpointState = {
    epoch,
    step,
    classes: run.classes,
    seed: settings.seed,
    settings,
    schedule: run.schedule.state,
    history: run.history,
    model: { name: settings.model, width: settings.width, inputSize: settings.crop, numClasses: run.classes.length },
    backend: run.backend.name,
    ...(loaderOptions.normalize !== undefined ? { normalize: loaderOptions.normalize } : {}),
    ...(loaderOptions.lighting !== undefined ? { lighting: loaderOptions.lighting } : {}),
    runtime: {
      // Not the workers' default: it is the machine's core count, not a choice of this run.
      workers: loaderOptions.workers, prefetch: loaderOptions.prefetch ?? LOADER_DEFAULTS.prefetch, cache: loaderOptions.cache ?? LOADER_DEFAULTS.cache,
      checkpointEvery: run.checkpointEvery, feed: run.feed,
    } satisfies RuntimeSettings,
    patchstream: PACKAGE_VERSION,
    savedAt: new Date().toISOString(),
  };
  const velocities = run.sgd.getState().velocities;
  const optimizer: NamedArray[] = await Promise.all(velocities.map(async ({ name, tensor }) => ({ name, shape: tensor.shape, data: (await tensor.data()) as Float32Array })));
  tf.dispose(velocities.map((v) => v.tensor));
  return run.folder.checkpoint({ model: artifacts, optimizer, state });
}

/**
 * Compares the options of a resumed run with its checkpoint. An option counts as given when it
 * is not `undefined` (the CLI passes only the flags typed on the command line).
 */
function resumeInfo(resumed: LoadedCheckpoint, options: TrainOptions, given: RunSettings, local: { backend: string; feed: 'uint8' | 'float32' }): ResumeInfo {
  const saved = resumed.state.settings as RunSettings;
  const runtime = (resumed.state.runtime ?? {}) as Partial<RuntimeSettings>;
  const loader = options.loader ?? {};
  const compared: Record<string, ComparedOption> = {};
  for (const name of Object.keys(given) as Array<keyof RunSettings>) {
    if (name === 'epochs') continue;
    compared[name] = { kind: 'fixed', checkpoint: saved[name], given: options[name] === undefined ? undefined : given[name] };
  }
  // The colour statistics as the loader uses them: a checkpoint without them ran on the defaults.
  const meanStd = (stats: LoaderOptions['normalize']) => (stats === undefined || stats === false ? stats : { mean: stats.mean, std: stats.std });
  const components = (stats: LoaderOptions['lighting']) => (stats === undefined || stats === false ? stats : { eigenvalues: stats.eigenvalues, eigenvectors: stats.eigenvectors });
  compared.normalize = { kind: 'fixed', checkpoint: meanStd((resumed.state.normalize ?? LOADER_DEFAULTS.normalize) as LoaderOptions['normalize']), given: meanStd(loader.normalize) };
  compared.lighting = { kind: 'fixed', checkpoint: components((resumed.state.lighting ?? LOADER_DEFAULTS.lighting) as LoaderOptions['lighting']), given: components(loader.lighting) };
  compared.epochs = { kind: 'restored', checkpoint: saved.epochs, given: options.epochs };
  compared.checkpointEvery = { kind: 'restored', checkpoint: runtime.checkpointEvery, given: options.checkpointEvery };
  for (const key of ['workers', 'prefetch', 'cache'] as const) compared[key] = { kind: 'restored', checkpoint: runtime[key], given: loader[key] };
  compared.backend = { kind: 'local', checkpoint: resumed.state.backend, given: options.backend === undefined ? undefined : local.backend };
  compared.feed = { kind: 'local', checkpoint: runtime.feed, given: options.feed === undefined ? undefined : local.feed };
  return { checkpoint: resumed.path, epoch: resumed.state.epoch, step: resumed.state.step, ...compareResume(compared) };
}

function restoreVelocities(tf: Tfjs, sgd: Sgd, resumed: LoadedCheckpoint, lr: number): void {
  const velocities = resumed.optimizer.map(({ name, shape, data }) => ({ name, tensor: tf.tensor(data, shape) }));
  sgd.setState({ learningRate: lr, velocities });
  tf.dispose(velocities.map((v) => v.tensor));
}

/** The plain-number part of an evaluation (no confusion matrix). */
export function summary(result: EvaluationResult): { top1Error: number; top5Error: number; images: number; imagesPerSecond: number } {
  return { top1Error: result.top1Error, top5Error: result.top5Error, images: result.images, imagesPerSecond: result.imagesPerSecond };
}
