/**
 * evaluateCheckpoint: loads a trainer checkpoint and evaluates it on a dataset with the centre
 * patch and with ten-patch averaging, on the same images. The dataset's classes are matched
 * to the checkpoint's by name, so a folder whose classes are ordered differently still gets
 * the right labels; a class missing from either side is an error, not a silent shift.
 */
import { checkSameClasses } from '../dataset/classes.js';
import type { Dataset } from '../dataset/types.js';
import { layerClasses } from '../model/layers.js';
import type { LoaderOptions } from '../options.js';
import { selectBackend, type BackendPreference } from '../train/backend.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { evaluate, type EvaluationResult } from './evaluate.js';

/** Options of {@link evaluateCheckpoint}. */
export interface CheckpointEvaluationOptions {
  /** @default 32 */
  batchSize?: number;
  workers?: number;
  /** @default 'auto' */
  backend?: BackendPreference;
  onError?: 'throw' | 'skip';
  maxSkipped?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Both evaluations, and where they came from. */
export interface CheckpointEvaluation {
  centre: EvaluationResult;
  tenCrop: EvaluationResult;
  checkpoint: string;
  backend: string;
  classes: string[];
}

/**
 * Relabels `dataset` into the checkpoint's class indices, matching classes by name.
 * @throws {DatasetError} `CLASS_MISMATCH` naming every class missing on either side
 */
export function alignClasses(dataset: Dataset, checkpointClasses: string[]): Dataset {
  checkSameClasses(checkpointClasses, dataset.classes, ['checkpoint', 'dataset'], 'The dataset and the checkpoint have different classes (labels would shift)', { sameOrder: false });
  const index = new Map(checkpointClasses.map((name, i) => [name, i]));
  return {
    ...dataset,
    classes: [...checkpointClasses],
    samples: dataset.samples.map((sample) => ({ path: sample.path, label: index.get(dataset.classes[sample.label]!)! })),
  };
}

/**
 * Evaluates a checkpoint (folder or training `--out` folder) on a dataset, centre patch and ten-crop.
 * @throws {StoreError} the checkpoint cannot be read or trusted
 * @throws {DatasetError} `CLASS_MISMATCH`
 * @example
 * const { centre, tenCrop } = await evaluateCheckpoint('runs/shapes', await imageFolder('data/val'));
 */
export async function evaluateCheckpoint(path: string, dataset: Dataset, options: CheckpointEvaluationOptions = {}): Promise<CheckpointEvaluation> {
  const checkpoint = await loadCheckpoint(path);
  const aligned = alignClasses(dataset, checkpoint.state.classes);
  const settings = checkpoint.state.settings as { rescale: number; crop: number };
  const backend = await selectBackend(options.backend ?? 'auto', options.log ?? (() => undefined));
  const tf = backend.tf;
  layerClasses(tf);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: checkpoint.model.modelTopology as object,
    weightSpecs: checkpoint.model.weightSpecs as never,
    weightData: checkpoint.model.weightData,
  }));
  options.log?.(`evaluating ${checkpoint.path} (epoch ${checkpoint.state.epoch}) on ${aligned.samples.length} images, input ${settings.crop} from ${settings.rescale}, backend ${backend.name}`);
  const loaderOptions: LoaderOptions = {
    rescale: settings.rescale,
    crop: settings.crop,
    batchSize: options.batchSize ?? 32,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.onError !== undefined ? { onError: options.onError } : {}),
    ...(options.maxSkipped !== undefined ? { maxSkipped: options.maxSkipped } : {}),
    ...(checkpoint.state.normalize !== undefined ? { normalize: checkpoint.state.normalize as LoaderOptions['normalize'] } : {}),
  };
  const predict = (x: Parameters<typeof model.predict>[0]) => model.predict(x) as never;
  try {
    const signal = options.signal ? { signal: options.signal } : {};
    const centre = await evaluate(predict, aligned, { ...loaderOptions, ...signal, mode: 'centre' });
    const tenCrop = await evaluate(predict, aligned, { ...loaderOptions, ...signal, mode: 'ten-crop' });
    return { centre, tenCrop, checkpoint: checkpoint.path, backend: backend.name, classes: aligned.classes };
  } finally {
    model.dispose();
    await backend.close();
  }
}
