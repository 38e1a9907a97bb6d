/**
 * patchstream: AlexNet-style streaming data augmentation for Node.js.
 *
 * The core entry: dataset sources, the loader, the stages' parameter draws, colour statistics,
 * the contact sheet and the errors. It never loads TensorFlow.js: `patchstream/tfjs` (tensors
 * from batches) and `patchstream/train` (models, backends, trainer, evaluation) do.
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
export type { LoaderStats, EpochOptions } from './loader/loader.js';
export type { Batch } from './loader/batch.js';
export { LOADER_DEFAULTS } from './options.js';
export type { LoaderOptions, Mode, DType, Layout, ImageFormat, ResizeKernel, FailOn, CacheOption } from './options.js';

export { sampleParams, tenCropPatches } from './pipeline/plan.js';
export type { SampleParams, Plan } from './pipeline/plan.js';
export type { Affine } from './stages/fused.js';
export type { LightingParams } from './stages/lighting.js';
export type { PatchParams } from './stages/image.js';

export { fitColourStats } from './colour-stats/fit.js';
export type { ColourStatsOptions, FittedColourStats } from './colour-stats/fit.js';
export { IMAGENET_COLOUR_STATS, lightingShift } from './colour.js';
export type { ColourStats, Normalization } from './colour.js';

export { contactSheet, contactSheetLayout } from './preview/contact-sheet.js';
export type { ContactSheet, ContactSheetOptions, ContactSheetLayout, ContactSheetSource } from './preview/contact-sheet.js';

export { PatchstreamError, SampleError, DatasetError, SkipBudgetError, StoreError } from './errors.js';
export type { SampleErrorCode, SampleStage, DatasetProblem, SampleFailure } from './errors.js';
export { PACKAGE_VERSION } from './version.js';
