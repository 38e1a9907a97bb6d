/**
 * evaluateCheckpoint: loads a trainer checkpoint and evaluates it on a dataset with the centre
 * patch and with ten-patch averaging, on the same images. The dataset's classes are matched
 * to the checkpoint's by name, so a folder whose classes are ordered differently still gets
 * the right labels; a class missing from either side is an error, not a silent shift.
 */
import { checkSameClasses } from '../dataset/classes.js';
import type { Dataset } from '../dataset/types.js';
import { modelFromArtifacts } from '../model/artifacts.js';
import type { LoaderOptions } from '../options.js';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { evaluate, type EvaluateLoaderOptions, type EvaluationResult } from './evaluate.js';

/** Options of {@link evaluateCheckpoint}. */
export interface CheckpointEvaluationOptions {
  /** @default 'auto' */
  backend?: BackendPreference;
  /**
   * Loader settings (batchSize, workers, onError, maxSkipped, ...). `rescale`, `crop` and
   * `normalize` come from the checkpoint and cannot be overridden here.
   * @default batchSize 32
   */
  loader?: Omit<EvaluateLoaderOptions, 'rescale' | 'crop' | 'normalize'>;
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
  const model = await modelFromArtifacts(backend.tf, checkpoint.model);
  options.log?.(`evaluating ${checkpoint.path} (epoch ${checkpoint.state.epoch}) on ${aligned.samples.length} images, input ${settings.crop} from ${settings.rescale}, backend ${backend.name}`);
  const loader: EvaluateLoaderOptions = {
    ...options.loader,
    rescale: settings.rescale,
    crop: settings.crop,
    ...(checkpoint.state.normalize !== undefined ? { normalize: checkpoint.state.normalize as LoaderOptions['normalize'] } : {}),
  };
  try {
    // One ten-crop pass gives both figures: its centre patch is the centre evaluation.
    const tenCrop = await evaluate((x) => model.predict(x) as never, aligned, { mode: 'ten-crop', loader, ...(options.signal ? { signal: options.signal } : {}) });
    backend.throwIfDeviceError();
    return { centre: tenCrop.centre!, tenCrop, checkpoint: checkpoint.path, backend: backend.name, classes: aligned.classes };
  } finally {
    model.dispose();
    await backend.close();
  }
}
