/**
 * The two layers AlexNet needs and tfjs-layers lacks: local response normalisation and a
 * grouped convolution. Both are created per tfjs namespace (they must extend that namespace's
 * `tf.layers.Layer` and sit in its serialization registry), and registered with
 * `tf.serialization.registerClass`, so `model.save()` / `tf.loadLayersModel()` round-trip.
 */
import type { Tfjs } from './tfjs.js';
import { reluGradient } from './wasm-fast-kernels.js';

type Tensor = ReturnType<Tfjs['tensor']>;
type Tensor4D = ReturnType<Tfjs['tensor4d']>;
type LayerBase = InstanceType<Tfjs['layers']['Layer']>;
type LayerArgs = NonNullable<ConstructorParameters<Tfjs['layers']['Layer']>[0]>;
type Shape = Array<number | null>;
type ConfigDict = ReturnType<LayerBase['getConfig']>;

/** Options of the {@link LocalResponseNormalization} layer: tfjs `localResponseNormalization` semantics. */
export interface LrnArgs extends LayerArgs {
  /** Half-width of the channel window (the paper's n = 5 is radius 2). @default 2 */
  depthRadius?: number;
  /** The paper's k. @default 2 */
  bias?: number;
  /** Not divided by the window size (PyTorch divides; TF and tfjs do not). @default 1e-4 */
  alpha?: number;
  /** @default 0.75 */
  beta?: number;
}

/** Options of the {@link GroupedConv2D} layer. */
export interface GroupedConv2DArgs extends LayerArgs {
  filters: number;
  /** Square kernel side. */
  kernelSize: number;
  /** @default 1 */
  strides?: number;
  /** @default 'same' */
  padding?: 'same' | 'valid';
  /** Input and output channels are split into this many independent groups. @default 2 */
  groups?: number;
  /** @default 'linear' */
  activation?: 'relu' | 'linear';
  /**
   * Kernel initialiser: `normal` draws N(0, kernelStddev) (the paper); `he` draws a truncated
   * normal scaled to the fan-in of one group, `k * k * inChannels / groups` (He et al. 2015,
   * tfjs `varianceScaling` with scale 2). @default 'normal'
   */
  init?: 'normal' | 'he';
  /** Standard deviation of the N(0, stddev) kernel initialiser when `init` is `normal`. @default 0.01 */
  kernelStddev?: number;
  /** Constant the biases start at. @default 0 */
  biasValue?: number;
  /** Seed of the kernel initialiser; omitted: unseeded. */
  seed?: number;
}

/** The instance side of the layer classes, for code that inspects a built model. */
export interface LocalResponseNormalization extends LayerBase {
  readonly depthRadius: number;
  readonly bias: number;
  readonly alpha: number;
  readonly beta: number;
}

/** The instance side of {@link GroupedConv2D}. */
export interface GroupedConv2D extends LayerBase {
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';
  readonly groups: number;
  readonly activation: 'relu' | 'linear';
}

/** Options of the {@link SeededDropout} layer. */
export interface SeededDropoutArgs extends LayerArgs {
  /** Share of units zeroed at training time (the rest scaled by 1 / (1 - rate)). */
  rate: number;
  /** With the layer's name and the step, decides every mask. */
  seed: number;
}

/**
 * The instance side of {@link SeededDropout}: `step` says whose mask the next training call
 * draws; the trainer sets it to the global step before each step (see {@link setDropoutStep}).
 */
export interface SeededDropout extends LayerBase {
  readonly rate: number;
  readonly seed: number;
  step: number;
}

/** The layer classes bound to one tfjs namespace. */
export interface LayerClasses {
  LocalResponseNormalization: new (args?: LrnArgs) => LocalResponseNormalization;
  GroupedConv2D: new (args: GroupedConv2DArgs) => GroupedConv2D;
  SeededDropout: new (args: SeededDropoutArgs) => SeededDropout;
}

const classesByNamespace = new WeakMap<Tfjs, LayerClasses>();

/**
 * The custom layer classes for `tf`, created and registered for serialization on first use.
 * Call it (or {@link createModel}, which does) before `tf.loadLayersModel` of a saved AlexNet.
 *
 * - `LocalResponseNormalization` (class name `LocalResponseNormalization`): across channels,
 *   `x / (bias + alpha * sum of x^2 over ±depthRadius channels)^beta`, i.e.
 *   `tf.localResponseNormalization`. No weights.
 * - `GroupedConv2D` (class name `GroupedConv2D`): Caffe's `group: g` convolution as split ->
 *   conv -> concat, each group one `FusedConv2D` kernel (bias and activation included) with the
 *   gradient {@link registerFusedConvGradient} registers, also in training, unlike
 *   `tf.layers.conv2d`. AlexNet uses it for every conv (`groups: 1` for
 *   conv1 and conv3). One kernel of shape `[k, k, inChannels / g, filters]` (Caffe's weight blob
 *   `[filters, inChannels / g, k, k]` transposed), group i owning output channels
 *   `[i * filters / g, (i + 1) * filters / g)`, and one bias of `filters`. So conv2 of AlexNet
 *   has 5*5*48*256 + 256 = 307,456 parameters, as in bvlc_alexnet.
 *
 * @throws TypeError from the layer constructors when `filters` or `inChannels` is not a
 *   multiple of `groups`
 * @example
 * ```ts
 * const { GroupedConv2D } = layerClasses(tf);
 * const conv2 = new GroupedConv2D({ name: 'conv2', filters: 256, kernelSize: 5, groups: 2, activation: 'relu', biasValue: 1 });
 * ```
 */
export function layerClasses(tf: Tfjs): LayerClasses {
  const cached = classesByNamespace.get(tf);
  if (cached) return cached;
  registerFusedConvGradient(tf);

  class LrnLayer extends tf.layers.Layer implements LocalResponseNormalization {
    static className = 'LocalResponseNormalization';
    readonly depthRadius: number;
    readonly bias: number;
    readonly alpha: number;
    readonly beta: number;

    constructor(args: LrnArgs = {}) {
      super(args);
      this.depthRadius = args.depthRadius ?? 2;
      this.bias = args.bias ?? 2;
      this.alpha = args.alpha ?? 1e-4;
      this.beta = args.beta ?? 0.75;
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = single(inputs) as Tensor4D;
      return tf.localResponseNormalization(x, this.depthRadius, this.bias, this.alpha, this.beta);
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      return singleShape(inputShape);
    }

    override getConfig(): ConfigDict {
      return { ...super.getConfig(), depthRadius: this.depthRadius, bias: this.bias, alpha: this.alpha, beta: this.beta };
    }
  }

  class GroupedConvLayer extends tf.layers.Layer implements GroupedConv2D {
    static className = 'GroupedConv2D';
    readonly filters: number;
    readonly kernelSize: number;
    readonly strides: number;
    readonly padding: 'same' | 'valid';
    readonly groups: number;
    readonly activation: 'relu' | 'linear';
    readonly init: 'normal' | 'he';
    readonly kernelStddev: number;
    readonly biasValue: number;
    readonly seed: number | undefined;
    #kernel: LayerVariableLike | null = null;
    #bias: LayerVariableLike | null = null;

    constructor(args: GroupedConv2DArgs) {
      super(args);
      this.filters = args.filters;
      this.kernelSize = args.kernelSize;
      this.strides = args.strides ?? 1;
      this.padding = args.padding ?? 'same';
      this.groups = args.groups ?? 2;
      this.activation = args.activation ?? 'linear';
      this.init = args.init ?? 'normal';
      this.kernelStddev = args.kernelStddev ?? 0.01;
      this.biasValue = args.biasValue ?? 0;
      this.seed = args.seed;
      if (!Number.isInteger(this.groups) || this.groups < 1 || this.filters % this.groups !== 0) {
        throw new TypeError(
          `Expected filters (${this.filters}) to be a multiple of groups (${this.groups}) in GroupedConv2D '${this.name}'`,
        );
      }
    }

    override build(inputShape: Shape | Shape[]): void {
      const channels = singleShape(inputShape).at(-1);
      if (typeof channels !== 'number' || channels % this.groups !== 0) {
        throw new TypeError(
          `Expected input channels (${channels}) to be a multiple of groups (${this.groups}) in GroupedConv2D '${this.name}'`,
        );
      }
      const kernelInit =
        this.init === 'he'
          ? tf.initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal', seed: this.seed })
          : tf.initializers.randomNormal({ mean: 0, stddev: this.kernelStddev, seed: this.seed });
      const biasInit = tf.initializers.constant({ value: this.biasValue });
      const shape = [this.kernelSize, this.kernelSize, channels / this.groups, this.filters];
      // addWeight is protected in the typings but is the documented way for custom layers.
      const addWeight = (this as unknown as AddWeight).addWeight.bind(this);
      this.#kernel = addWeight('kernel', shape, 'float32', kernelInit);
      this.#bias = addWeight('bias', [this.filters], 'float32', biasInit);
      this.built = true;
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const x = single(inputs) as Tensor4D;
        const kernel = (this.#kernel as LayerVariableLike).read() as Tensor4D;
        const bias = (this.#bias as LayerVariableLike).read();
        if (this.groups === 1) return this.#fusedConv(x, kernel, bias);
        const [xs, ks, bs] = [tf.split(x, this.groups, 3), tf.split(kernel, this.groups, 3), tf.split(bias, this.groups)];
        return tf.concat(
          xs.map((xi, i) => this.#fusedConv(xi as Tensor4D, ks[i] as Tensor4D, bs[i] as Tensor)),
          3,
        );
      });
    }

    /**
     * activation(conv2d(x, kernel) + bias) for one group as the backend's `FusedConv2D` kernel
     * (on wasm, XNNPACK adds the bias and clamps in the convolution's epilogue), with the
     * gradient {@link registerFusedConvGradient} gives it. tfjs's own `tf.fused.conv2d` runs a
     * separate `Add` and `Relu` whenever a gradient is being recorded, i.e. in every training
     * step (2.3 + 1.4-2.1 ms of an alexnet-small step on wasm).
     */
    #fusedConv(x: Tensor4D, filter: Tensor4D, bias: Tensor): Tensor4D {
      const attrs = { strides: this.strides, pad: this.padding, dataFormat: 'NHWC', dilations: [1, 1], activation: this.activation };
      return tf.engine().runKernel(tf.FusedConv2D, { x, filter, bias } as never, attrs as never) as Tensor4D;
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const [batch, height, width] = singleShape(inputShape);
      const side = (size: number | null | undefined): number | null => {
        if (size == null) return null;
        return this.padding === 'same'
          ? Math.ceil(size / this.strides)
          : Math.ceil((size - this.kernelSize + 1) / this.strides);
      };
      return [batch ?? null, side(height), side(width), this.filters];
    }

    override getConfig(): ConfigDict {
      const config: ConfigDict = {
        ...super.getConfig(),
        filters: this.filters,
        kernelSize: this.kernelSize,
        strides: this.strides,
        padding: this.padding,
        groups: this.groups,
        activation: this.activation,
        init: this.init,
        kernelStddev: this.kernelStddev,
        biasValue: this.biasValue,
      };
      if (this.seed !== undefined) config['seed'] = this.seed;
      return config;
    }
  }

  class SeededDropoutLayer extends tf.layers.Layer implements SeededDropout {
    static className = 'SeededDropout';
    readonly rate: number;
    readonly seed: number;
    step = 0;

    constructor(args: SeededDropoutArgs) {
      super(args);
      this.rate = args.rate;
      this.seed = args.seed;
      this.supportsMasking = true;
    }

    override call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor {
      const x = single(inputs);
      if (kwargs?.['training'] !== true || this.rate <= 0) return x;
      // tfjs seeds its generator from the seed on every call: a fixed seed would drop the same
      // units at every step, so the mask's seed is (seed, layer, step), a different one per step.
      return tf.dropout(x, this.rate, undefined, `${this.seed}/${this.name}/${this.step}`);
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      return singleShape(inputShape);
    }

    override getConfig(): ConfigDict {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed };
    }
  }

  tf.serialization.registerClass(LrnLayer);
  tf.serialization.registerClass(GroupedConvLayer);
  tf.serialization.registerClass(SeededDropoutLayer);
  const classes: LayerClasses = { LocalResponseNormalization: LrnLayer, GroupedConv2D: GroupedConvLayer, SeededDropout: SeededDropoutLayer };
  classesByNamespace.set(tf, classes);
  return classes;
}

/**
 * Makes every {@link SeededDropout} layer of `model` draw the masks of global step `step` at
 * its next training call: masks are then a pure function of (seed, layer, step), so a run is
 * reproducible, and a resumed run draws the masks the uninterrupted run would have.
 */
export function setDropoutStep(model: { layers: readonly LayerBase[] }, step: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'SeededDropout') (layer as SeededDropout).step = step;
  }
}

interface LayerVariableLike {
  read(): Tensor;
}

interface AddWeight {
  addWeight(name: string, shape: number[], dtype: 'float32', initializer: unknown): LayerVariableLike;
}

const fusedConvGradientRegistered = new WeakSet<Tfjs>();

/**
 * Registers a gradient for tfjs's `FusedConv2D` kernel (NHWC, no dilation, activation `relu` or
 * `linear`), which tfjs itself does not have: its fused ops wrap the kernel in `customGrad`, and
 * `customGrad` computes every input's gradient, where a registered gradient's per-input
 * functions run only for inputs that need one (a model's first convolution has no input
 * gradient to compute: conv1's `Conv2DBackpropInput` would be 30 ms of a 140 ms alexnet-small
 * step). `dy` goes through the ReLU's gradient from the output (one kernel on wasm, see
 * {@link reluGradient}), then `Conv2DBackpropInput`, `Conv2DBackpropFilter` and a sum for the
 * bias. Once per tfjs namespace.
 */
export function registerFusedConvGradient(tf: Tfjs): void {
  if (fusedConvGradientRegistered.has(tf)) return;
  fusedConvGradientRegistered.add(tf);
  tf.registerGradient({
    kernelName: tf.FusedConv2D,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs as Record<string, unknown>;
      const unit = dilations === undefined || dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1));
      if ((activation !== 'relu' && activation !== 'linear') || dataFormat !== 'NHWC' || !unit) {
        throw new Error(`patchstream's FusedConv2D gradient supports NHWC, dilation 1 and relu or linear only, not ${JSON.stringify({ activation, dataFormat, dilations })}`);
      }
      const [x, filter, y] = saved as [Tensor4D, Tensor4D, Tensor4D];
      const dz = activation === 'relu' ? reluGradient(tf, dy as Tensor4D, y) : (dy as Tensor4D);
      const common = { strides, pad, dataFormat, dimRoundingMode };
      const run = (kernel: string, inputs: object, extra: object): Tensor => tf.engine().runKernel(kernel, inputs as never, { ...common, ...extra } as never) as Tensor;
      return {
        x: () => run(tf.Conv2DBackpropInput, { dy: dz, filter }, { inputShape: x.shape }),
        filter: () => run(tf.Conv2DBackpropFilter, { x, dy: dz }, { filterShape: filter.shape }),
        bias: () => tf.sum(dz, [0, 1, 2]),
      };
    },
  });
}

function single(inputs: Tensor | Tensor[]): Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new TypeError(`Expected exactly one input tensor but received ${inputs.length}`);
  return inputs[0] as Tensor;
}

function singleShape(shape: Shape | Shape[]): Shape {
  if (Array.isArray(shape[0])) {
    if (shape.length !== 1) throw new TypeError(`Expected exactly one input shape but received ${shape.length}`);
    return shape[0] as Shape;
  }
  return shape as Shape;
}
