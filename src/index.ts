/**
 * patchstream: AlexNet-style streaming data augmentation for Node.js.
 * Public API: explicit named re-exports, nothing else.
 */
export { imageFolder, DEFAULT_IMAGE_EXTENSIONS } from './dataset/image-folder.js';
export type { ImageFolderOptions, ImageFolderDataset } from './dataset/image-folder.js';
export { listFile } from './dataset/list-file.js';
export type { ListFileOptions, ListFileDataset } from './dataset/list-file.js';
export type { Dataset, Sample, ShardStore } from './dataset/types.js';
export { webDataset } from './dataset/webdataset.js';
export type { WebDataset, WebDatasetOptions } from './dataset/webdataset.js';
export { packShards } from './dataset/pack.js';
export type { PackOptions, PackResult, ShardIndex, ShardIndexEntry } from './dataset/pack.js';
export { resolveShard, shardFromEnvironment, LAUNCHERS } from './loader/shard.js';
export type { ShardOption, ResolvedShard, EvenPolicy } from './loader/shard.js';

export { createLoader, Loader } from './loader/loader.js';
export type { LoaderStats, EpochOptions, LoaderInternals } from './loader/loader.js';
export type { Batch } from './loader/batch.js';
export { toTfDataset } from './loader/tf-dataset.js';
export type { TfDatasetOptions, TensorBatch } from './loader/tf-dataset.js';
export { LOADER_DEFAULTS } from './options.js';
export type { ResolvedOptions, LoaderOptions, Mode, DType, Layout, ImageFormat, ResizeKernel, FailOn, CacheOption } from './options.js';

export { fitColourStats } from './colour-stats.js';
export type { ColourStatsOptions, FittedColourStats } from './colour-stats.js';
export { IMAGENET_COLOUR_STATS, lightingShift } from './colour.js';
export type { ColourStats, Normalization } from './colour.js';

export { sampleParams, tenCropPatches } from './pipeline/plan.js';
export { evaluate } from './eval/evaluate.js';
export type { EvaluateOptions, EvaluationResult, Classifier } from './eval/evaluate.js';
export { contactSheet, contactSheetLayout, HEADER_HEIGHT, CAPTION_HEIGHT, ROW_CAPTION_HEIGHT, LABEL_HEIGHT } from './preview/contact-sheet.js';
export type { ContactSheet, ContactSheetOptions, ContactSheetLayout, ContactSheetSource, ContactSheetInternals } from './preview/contact-sheet.js';
export type { SampleParams, Plan } from './pipeline/plan.js';
export type { Affine } from './stages/fused.js';
export type { LightingParams } from './stages/lighting.js';
export type { PatchParams } from './stages/image.js';

export { train } from './train/trainer.js';
export type { TrainOptions, TrainResult, StepInfo, EpochInfo } from './train/trainer.js';
export { evaluateCheckpoint } from './eval/checkpoint.js';
export type { CheckpointEvaluation, CheckpointEvaluationOptions } from './eval/checkpoint.js';
export { createModel, describeModel, toProbabilities } from './model/alexnet.js';
export type { LayerSpec } from './model/alexnet.js';
export { layerClasses } from './model/layers.js';
export type { LayerClasses } from './model/layers.js';
export type { Tfjs } from './model/tfjs.js';
export { registerWasmTrainingKernels, registerCpuTrainingKernels } from './train/wasm-kernels.js';
export type { ModelName, ModelOptions } from './model/alexnet.js';
export { selectBackend } from './train/backend.js';
export type { BackendPreference, SelectedBackend } from './train/backend.js';
export { Sgd, trainableVariables } from './train/sgd.js';
export type { SgdOptions, SgdState } from './train/sgd.js';
export { holdOut } from './train/split.js';
export { loadCheckpoint, saveCheckpoint } from './train/checkpoint.js';
export type { CheckpointState, LoadedCheckpoint, ModelArtifactsLike, NamedArray } from './train/checkpoint.js';
export { PatchstreamError, SampleError, DatasetError, SkipBudgetError, StoreError } from './errors.js';
export type { SampleErrorCode, SampleStage, DatasetProblem, SampleFailure } from './errors.js';
export { PACKAGE_VERSION } from './version.js';
