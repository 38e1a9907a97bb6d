/**
 * evaluate: top-1/top-5 error of a classifier on a dataset, from the centre patch or with the
 * paper's ten-patch averaging (the softmax outputs of an image's 10 patches are averaged
 * before top-k: probabilities, not votes).
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../dataset/types.js';
import { createLoader, type Loader } from '../loader/loader.js';
import type { LoaderOptions } from '../options.js';
import { ClassificationTally, softmaxInto } from './metrics.js';
import { performance } from 'node:perf_hooks';

/** Anything that maps a batch of patches to class logits: a tfjs LayersModel or a function. */
export type Classifier = { predict(x: tf.Tensor4D): tf.Tensor | tf.Tensor[] } | ((x: tf.Tensor4D) => tf.Tensor);

/**
 * Loader settings of an evaluation over a dataset (rescale, crop, normalize, workers, batchSize,
 * onError, ...); `evaluate` sets `mode` and turns shuffling and augmentation off.
 * @default batchSize 32; the rest from LOADER_DEFAULTS
 */
export type EvaluateLoaderOptions = Omit<LoaderOptions, 'mode' | 'shuffle' | 'dtype' | 'lighting' | 'flip' | 'signal'>;

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** `centre`: one patch per image; `ten-crop`: 4 corners + centre and their mirrors, softmax averaged (the centre patch's own result comes with it). @default 'ten-crop' */
  mode?: 'centre' | 'ten-crop';
  /** Loader settings when `source` is a dataset; ignored for a loader. */
  loader?: EvaluateLoaderOptions;
  signal?: AbortSignal;
  /** Whether the classifier outputs logits (softmax applied here) or probabilities already. @default 'logits' */
  outputs?: 'logits' | 'probabilities';
  /** Called after each batch with (images done, images total). */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link evaluate} returns. */
export interface EvaluationResult {
  mode: 'centre' | 'ten-crop';
  top1Error: number;
  top5Error: number;
  images: number;
  /** Accuracy per class (index = label); NaN for a class without images. */
  perClassAccuracy: number[];
  /** `confusion[truth][predicted]`. */
  confusion: number[][];
  imagesPerSecond: number;
  /** Samples skipped under `onError: 'skip'`. */
  skipped: number;
  /** In `ten-crop` mode: the centre patch alone, from the same pass (no second decode of the set). */
  centre?: EvaluationResult;
}

/** Batch size of an evaluation's own loader. */
const EVALUATION_BATCH_SIZE = 32;
/** Where the centre patch sits among the ten (`tenCropPatches`: 4 corners, the centre, then the mirrors). */
const CENTRE_OF_TEN = 4;

function logitsOf(classifier: Classifier, x: tf.Tensor4D): tf.Tensor {
  if (typeof classifier === 'function') return classifier(x);
  const output = classifier.predict(x);
  return Array.isArray(output) ? output[0]! : output;
}

/**
 * Evaluates a classifier. Tensors it creates are disposed: `tf.memory().numTensors` is the
 * same before and after.
 * @throws {SampleError} a sample failed under `onError: 'throw'` (the default)
 * @example
 * const { top1Error, top5Error } = await evaluate(model, await imageFolder('data/val'), { mode: 'ten-crop', batchSize: 32 });
 */
export async function evaluate(classifier: Classifier, source: Dataset | Loader, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { mode = 'ten-crop', outputs = 'logits', onProgress } = options;
  const loader = 'epoch' in source ? source : createLoader(source, { batchSize: EVALUATION_BATCH_SIZE, ...options.loader, mode, shuffle: false });
  const owned = loader !== source;
  if (loader.options.dtype !== 'float32') throw new TypeError(`Expected a loader with dtype 'float32' for evaluate() but received dtype '${loader.options.dtype}'`);
  const classes = loader.dataset.classes.length;
  const tally = new ClassificationTally(classes);
  const perPatch = loader.plan.patchesPerImage;
  const centreTally = perPatch === 10 ? new ClassificationTally(classes) : null;
  const probabilities = new Float64Array(classes);
  const average = new Float64Array(classes);
  const started = performance.now();
  const skippedBefore = loader.stats().skippedTotal;
  try {
    for await (const batch of loader.epoch(0, options.signal ? { signal: options.signal } : {})) {
      const scores = tf.tidy(() => {
        const x = tf.tensor4d(batch.images as Float32Array, batch.shape);
        return logitsOf(classifier, x);
      });
      const values = await scores.data();
      scores.dispose();
      for (let image = 0; image < batch.labels.length; image++) {
        // A rank's padding repeats another rank's sample: counting it would count that sample twice.
        if (batch.padded[image]) continue;
        average.fill(0);
        for (let patch = 0; patch < perPatch; patch++) {
          const row = (image * perPatch + patch) * classes;
          if (outputs === 'logits') softmaxInto(values, row, classes, probabilities);
          else for (let c = 0; c < classes; c++) probabilities[c] = values[row + c]!;
          for (let c = 0; c < classes; c++) average[c]! += probabilities[c]! / perPatch;
          if (patch === CENTRE_OF_TEN) centreTally?.add(probabilities, batch.labels[image]!);
        }
        tally.add(average, batch.labels[image]!);
      }
      onProgress?.(tally.images, loader.size);
    }
  } finally {
    if (owned) await loader.close();
  }
  const seconds = Math.max((performance.now() - started) / 1000, 1e-9);
  const skipped = loader.stats().skippedTotal - skippedBefore;
  const result = (mode: 'centre' | 'ten-crop', counts: ClassificationTally): EvaluationResult => ({
    mode,
    top1Error: counts.top1Error,
    top5Error: counts.top5Error,
    images: counts.images,
    perClassAccuracy: counts.perClassAccuracy,
    confusion: counts.confusion,
    imagesPerSecond: counts.images / seconds,
    skipped,
  });
  if (!centreTally) return result('centre', tally);
  return { ...result('ten-crop', tally), centre: result('centre', centreTally) };
}
