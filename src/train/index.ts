/**
 * `patchstream/train`: the models, the tfjs backends, the trainer, checkpoints and the
 * centre / ten-crop evaluation. Needs `@tensorflow/tfjs` and `@tensorflow/tfjs-backend-wasm`
 * (peer dependencies); `@tensorflow/tfjs-node(-gpu)` are used when installed.
 * Public API: explicit named re-exports, nothing else.
 */
export { train } from './trainer.js';
export type { TrainOptions, TrainResult, StepInfo, EpochInfo } from './trainer.js';
export type { ResumeInfo, ResumeDifference } from './resume.js';
export { Sgd, trainableVariables } from './sgd.js';
export type { SgdOptions, SgdState } from './sgd.js';
export { holdOut } from './split.js';

export { evaluate } from '../eval/evaluate.js';
export type { EvaluateOptions, EvaluationResult, Classifier } from '../eval/evaluate.js';
export { evaluateCheckpoint } from '../eval/checkpoint.js';
export type { CheckpointEvaluation, CheckpointEvaluationOptions } from '../eval/checkpoint.js';

export { createModel, describeModel, toProbabilities } from '../model/alexnet.js';
export type { LayerSpec, ModelOptions } from '../model/alexnet.js';
export { MODEL_NAMES, BACKEND_PREFERENCES } from '../model/choices.js';
export type { ModelName, BackendPreference } from '../model/choices.js';
export { layerClasses, setDropoutStep } from '../model/layers.js';
export type { LayerClasses, SeededDropout, SeededDropoutArgs } from '../model/layers.js';
export type { Tfjs } from '../model/tfjs.js';
export { selectBackend } from '../model/backend.js';
export type { SelectedBackend } from '../model/backend.js';
export { registerWasmTrainingKernels, registerCpuTrainingKernels } from '../model/wasm-kernels.js';
export { loadCheckpoint, saveCheckpoint } from '../model/checkpoint.js';
export type { CheckpointState, LoadedCheckpoint, ModelArtifactsLike, NamedArray } from '../model/checkpoint.js';
