/**
 * AlexNet (Krizhevsky, Sutskever, Hinton 2012, as Caffe's bvlc_alexnet) and a small variant
 * with the same topology for 28-64 px images, built with tfjs layers on whichever tfjs
 * namespace the caller passes in.
 *
 * The models output LOGITS (fc8 has no softmax): the trainer needs them for a numerically
 * stable softmax cross-entropy, and {@link toProbabilities} (or `tf.softmax`) turns them into
 * the probabilities the evaluator averages.
 */
import type { Tfjs } from './tfjs.js';
import { checkChoice, checkInteger, checkNumber, checkOptionsObject, invalid } from '../validate.js';
import { MODEL_NAMES, type ModelName } from './choices.js';
import { layerClasses } from './layers.js';

type LayersModel = ReturnType<Tfjs['sequential']>;
type Tensor = ReturnType<Tfjs['tensor']>;
type Layer = Parameters<LayersModel['add']>[0];

/** The models {@link createModel} builds. */
export type { ModelName } from './choices.js';

/** Options of {@link createModel}. */
export interface ModelOptions {
  name: ModelName;
  /** Output classes (fc8 width). */
  numClasses: number;
  /**
   * Side of the square input patch. `alexnet`: 227 (Caffe) or 224 (the paper's crop; conv1
   * then pads by 2 so both give 55x55 conv1 maps), or any size from 64 up. `alexnet-small`:
   * 28-64 is what it is made for (any size from 15 up builds).
   */
  inputSize: number;
  /**
   * Multiplies every channel count (conv filters, and the fc6/fc7 widths), rounded to a
   * multiple of the group count. fc8 stays `numClasses`. @default 1
   */
  width?: number;
  /** 2: Caffe's grouped conv2/conv4/conv5 (the paper's two GPUs); 1: plain convolutions. @default 2 */
  groups?: 1 | 2;
  /**
   * `paper`: weights N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere.
   * `he`: weights from a truncated normal with variance 2 / fan-in (He et al. 2015), biases 0.
   * @default 'paper' for `alexnet`, 'he' for `alexnet-small` (see {@link createModel})
   */
  init?: 'paper' | 'he';
  /**
   * Seeds the weight initialisers and the dropout masks, so two models built with the same seed
   * (and options) have identical weights and, trained on the same batches, identical updates.
   * Masks are drawn per (seed, layer, step): the trainer sets the step (`setDropoutStep`).
   * Omitted: unseeded weights, and dropout seeded at random.
   */
  seed?: number;
}

/** One row of the architecture, as {@link describeModel} reports it. */
export interface LayerSpec {
  name: string;
  kind: 'conv' | 'lrn' | 'maxpool' | 'flatten' | 'dense' | 'dropout' | 'pad';
  filters?: number;
  kernelSize?: number;
  strides?: number;
  padding?: 'same' | 'valid' | number;
  groups?: number;
  units?: number;
  activation?: 'relu' | 'linear';
  /** Initial bias: the paper's 1 on conv2, conv4, conv5, fc6, fc7; 0 elsewhere. */
  biasValue?: number;
  rate?: number;
}

/**
 * Builds AlexNet or `alexnet-small` as a `tf.Sequential` with logits out.
 *
 * `alexnet` is bvlc_alexnet: conv1 96@11x11/4 (valid on 227; on 224 after a 2-pixel zero pad),
 * ReLU, LRN, maxpool 3/2; conv2 256@5x5 pad 2 (2 groups), ReLU, LRN, maxpool 3/2; conv3
 * 384@3x3 pad 1; conv4 384@3x3 pad 1 (2 groups); conv5 256@3x3 pad 1 (2 groups), maxpool 3/2;
 * fc6 4096 ReLU, dropout 0.5; fc7 4096 ReLU, dropout 0.5; fc8 `numClasses`. With 1000 classes
 * it has 60,965,224 parameters (62,378,344 with `groups: 1`). LRN is tfjs's
 * `localResponseNormalization` with depthRadius 2, bias 2, alpha 1e-4, beta 0.75.
 *
 * `alexnet-small` keeps every feature (5 convs, grouped conv2/4/5, LRN after conv1 and conv2,
 * overlapping 3/2 max-pools, 3 FC layers with dropout 0.5) at a size that trains in minutes
 * on two CPU cores:
 *
 * | layer | 32 px input | 64 px input |
 * |---|---|---|
 * | conv1 32@5x5 'same', stride 1 (< 48 px) or 2 (>= 48 px), ReLU, LRN | 32x32x32 | 32x32x32 |
 * | maxpool 3/2 | 15x15x32 | 15x15x32 |
 * | conv2 64@5x5 'same', 2 groups, ReLU, LRN | 15x15x64 | 15x15x64 |
 * | maxpool 3/2 | 7x7x64 | 7x7x64 |
 * | conv3 96@3x3 'same', ReLU | 7x7x96 | 7x7x96 |
 * | conv4 96@3x3 'same', 2 groups, ReLU | 7x7x96 | 7x7x96 |
 * | conv5 64@3x3 'same', 2 groups, ReLU | 7x7x64 | 7x7x64 |
 * | maxpool 3/2, flatten | 576 | 576 |
 * | fc6 256 ReLU, dropout 0.5 | 256 | 256 |
 * | fc7 256 ReLU, dropout 0.5 | 256 | 256 |
 * | fc8 `numClasses` (logits) | 10 | 10 |
 * | parameters, 10 classes | 368,842 | 368,842 |
 *
 * (28 px: 28 -> 13 -> 6 -> 2, flatten 256, 286,922 parameters with 10 classes.)
 *
 * Initialisation: `alexnet` defaults to the paper's (weights N(0, 0.01), biases 1 in conv2,
 * conv4, conv5, fc6 and fc7, 0 elsewhere). `alexnet-small` defaults to He initialisation:
 * with the paper's, its loss stayed flat at ln 10 = 2.30 for 30 epochs of the 10-class shapes
 * fixture (Caffe's bvlc_alexnet readme reports the same flat loss for the full net and starts
 * its biases at 0.1), while with He init it reached 20% validation error in 30 epochs (about
 * 70 s on wasm, 2 cores). `init: 'paper'` gives the paper's init to either model. Dropout is tfjs's inverted dropout (x2 at training time), which is the
 * paper's "x0.5 at test time" moved to training. It is only active when the model is called
 * with `model.apply(x, { training: true })`; `model.predict(x)` is inference.
 *
 * @default width 1, groups 2, init 'paper' (alexnet) / 'he' (alexnet-small), seed unseeded
 * @throws TypeError when an option has the wrong type; RangeError when it is out of range
 *   (e.g. an `inputSize` too small for three 3/2 max-pools)
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * const model = createModel(tf, { name: 'alexnet', numClasses: 1000, inputSize: 227 });
 * model.countParams(); // 60965224
 * const logits = model.apply(images, { training: true }) as tf.Tensor2D; // for the loss
 * const probabilities = toProbabilities(tf, model.predict(images) as tf.Tensor2D); // for evaluation
 * ```
 */
export function createModel(tf: Tfjs, options: ModelOptions): LayersModel {
  const specs = describeModel(options);
  const { LocalResponseNormalization, GroupedConv2D, SeededDropout } = layerClasses(tf);
  const { inputSize, seed } = options;
  const dropoutSeed = seed ?? Math.floor(Math.random() * 0x7fffffff);
  const init = options.init ?? (options.name === 'alexnet' ? 'paper' : 'he');
  const model = tf.sequential({ name: options.name === 'alexnet' ? 'alexnet' : 'alexnet_small' });
  let first = true;
  const inputShape = (): { inputShape?: number[] } => {
    if (!first) return {};
    first = false;
    return { inputShape: [inputSize, inputSize, 3] };
  };
  specs.forEach((spec, index) => {
    // Offsets keep layers of equal shape from drawing the same numbers.
    const layerSeed = seed === undefined ? undefined : seed + 1009 * (index + 1);
    const kernelInitializer =
      init === 'he'
        ? tf.initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal', seed: layerSeed })
        : tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: layerSeed });
    const biasValue = init === 'he' ? 0 : (spec.biasValue ?? 0);
    const biasInitializer = tf.initializers.constant({ value: biasValue });
    let layer: Layer;
    switch (spec.kind) {
      case 'pad':
        layer = tf.layers.zeroPadding2d({ name: spec.name, padding: spec.padding as number, ...inputShape() });
        break;
      case 'conv':
        // Every conv, grouped or not, is a GroupedConv2D: its ReLU runs fused with the
        // convolution and the bias in training (tf.layers.conv2d's does not; see layers.ts).
        // With groups 1 it draws the same initial weights as tf.layers.conv2d would.
        layer = new GroupedConv2D({
          name: spec.name,
          filters: spec.filters as number,
          kernelSize: spec.kernelSize as number,
          strides: spec.strides ?? 1,
          padding: spec.padding as 'same' | 'valid',
          groups: spec.groups ?? 1,
          activation: spec.activation ?? 'linear',
          init: init === 'he' ? 'he' : 'normal',
          kernelStddev: 0.01,
          biasValue,
          ...(layerSeed === undefined ? {} : { seed: layerSeed }),
          ...inputShape(),
        }) as unknown as Layer;
        break;
      case 'lrn':
        layer = new LocalResponseNormalization({ name: spec.name }) as unknown as Layer;
        break;
      case 'maxpool':
        layer = tf.layers.maxPooling2d({
          name: spec.name,
          poolSize: spec.kernelSize as number,
          strides: spec.strides as number,
          padding: 'valid',
        });
        break;
      case 'flatten':
        layer = tf.layers.flatten({ name: spec.name });
        break;
      case 'dense':
        layer = tf.layers.dense({
          name: spec.name,
          units: spec.units as number,
          activation: spec.activation ?? 'linear',
          kernelInitializer,
          biasInitializer,
        });
        break;
      case 'dropout':
        layer = new SeededDropout({ name: spec.name, rate: spec.rate as number, seed: dropoutSeed });
        break;
    }
    model.add(layer);
  });
  return model;
}

/**
 * The layer list {@link createModel} builds for `options`, without building anything: the
 * architecture as data, for docs, logs and tests.
 *
 * @throws TypeError / RangeError as {@link createModel}
 * @example
 * ```ts
 * describeModel({ name: 'alexnet', numClasses: 1000, inputSize: 224 })[0];
 * // { name: 'pad1', kind: 'pad', padding: 2 }
 * ```
 */
export function describeModel(options: ModelOptions): LayerSpec[] {
  validate(options);
  const { name, numClasses, inputSize } = options;
  const groups = options.groups ?? 2;
  const width = options.width ?? 1;
  const channels = (count: number): number => Math.max(groups, Math.round((count * width) / groups) * groups);
  const units = (count: number): number => Math.max(1, Math.round(count * width));
  const specs: LayerSpec[] = [];
  const conv = (spec: Omit<LayerSpec, 'kind' | 'activation'>): void => {
    specs.push({ kind: 'conv', activation: 'relu', ...spec, filters: channels(spec.filters as number) });
  };
  const pool = (index: number): void => {
    specs.push({ name: `pool${index}`, kind: 'maxpool', kernelSize: 3, strides: 2 });
  };
  const lrn = (index: number): void => {
    specs.push({ name: `norm${index}`, kind: 'lrn' });
  };
  const classifier = (hidden: number): void => {
    specs.push({ name: 'flatten', kind: 'flatten' });
    specs.push({ name: 'fc6', kind: 'dense', units: units(hidden), activation: 'relu', biasValue: 1 });
    specs.push({ name: 'drop6', kind: 'dropout', rate: 0.5 });
    specs.push({ name: 'fc7', kind: 'dense', units: units(hidden), activation: 'relu', biasValue: 1 });
    specs.push({ name: 'drop7', kind: 'dropout', rate: 0.5 });
    specs.push({ name: 'fc8', kind: 'dense', units: numClasses, activation: 'linear', biasValue: 0 });
  };

  if (name === 'alexnet') {
    // 224 needs 2 pixels of padding to reach Caffe's 55x55 conv1 maps; 227 (and any 4k + 11) needs none.
    const pad = (inputSize - 11) % 4 === 0 ? 0 : 2;
    if (pad > 0) specs.push({ name: 'pad1', kind: 'pad', padding: pad });
    conv({ name: 'conv1', filters: 96, kernelSize: 11, strides: 4, padding: 'valid', biasValue: 0 });
    lrn(1);
    pool(1);
    conv({ name: 'conv2', filters: 256, kernelSize: 5, padding: 'same', groups, biasValue: 1 });
    lrn(2);
    pool(2);
    conv({ name: 'conv3', filters: 384, kernelSize: 3, padding: 'same', biasValue: 0 });
    conv({ name: 'conv4', filters: 384, kernelSize: 3, padding: 'same', groups, biasValue: 1 });
    conv({ name: 'conv5', filters: 256, kernelSize: 3, padding: 'same', groups, biasValue: 1 });
    pool(5);
    classifier(4096);
  } else {
    const stride = inputSize >= 48 ? 2 : 1;
    conv({ name: 'conv1', filters: 32, kernelSize: 5, strides: stride, padding: 'same', biasValue: 0 });
    lrn(1);
    pool(1);
    conv({ name: 'conv2', filters: 64, kernelSize: 5, padding: 'same', groups, biasValue: 1 });
    lrn(2);
    pool(2);
    conv({ name: 'conv3', filters: 96, kernelSize: 3, padding: 'same', biasValue: 0 });
    conv({ name: 'conv4', filters: 96, kernelSize: 3, padding: 'same', groups, biasValue: 1 });
    conv({ name: 'conv5', filters: 64, kernelSize: 3, padding: 'same', groups, biasValue: 1 });
    pool(5);
    classifier(256);
  }
  checkSpatialSize(specs, inputSize, name);
  return specs;
}

/**
 * Softmax of a model's logits: the class probabilities the evaluator averages. The caller
 * owns (and disposes) both the logits and the result.
 *
 * @example
 * ```ts
 * const probabilities = tf.tidy(() => toProbabilities(tf, model.predict(x) as tf.Tensor2D));
 * ```
 */
export function toProbabilities<T extends Tensor>(tf: Tfjs, logits: T): T {
  return tf.softmax(logits) as T;
}

function validate(options: ModelOptions): void {
  checkOptionsObject(options);
  checkChoice('options.name', options.name, MODEL_NAMES);
  checkInteger('options.numClasses', options.numClasses, 1, 1_000_000);
  checkInteger('options.inputSize', options.inputSize, options.name === 'alexnet' ? 64 : 15, 4096);
  if (options.width !== undefined) {
    checkNumber('options.width', options.width, 0, 16);
    if (options.width === 0) invalid('options.width', 'number above 0 and at most 16', options.width, RangeError);
  }
  if (options.groups !== undefined && options.groups !== 1 && options.groups !== 2) invalid('options.groups', '1 or 2', options.groups);
  if (options.init !== undefined) checkChoice('options.init', options.init, ['paper', 'he'] as const);
  if (options.seed !== undefined) checkInteger('options.seed', options.seed, 0, 0xffffffff);
}

/** Walks the spatial size through the layers so a too-small input fails here, by name. */
function checkSpatialSize(specs: LayerSpec[], inputSize: number, name: ModelName): void {
  let size = inputSize;
  for (const spec of specs) {
    if (spec.kind === 'pad') size += 2 * (spec.padding as number);
    if (spec.kind === 'conv' || spec.kind === 'maxpool') {
      const stride = spec.strides ?? 1;
      size =
        spec.padding === 'same'
          ? Math.ceil(size / stride)
          : Math.floor((size - (spec.kernelSize as number)) / stride) + 1;
    }
    if (size < 1) {
      throw new RangeError(`options.inputSize ${inputSize} is too small for ${name}: ${spec.name} has no output`);
    }
  }
}
