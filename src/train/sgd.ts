/**
 * The paper's SGD with momentum and weight decay (Krizhevsky et al. 2012, section 5), the one
 * update rule the trainer and the worked-example test share:
 *
 *   v <- momentum * v - weightDecay * lr * w - lr * dL/dw
 *   w <- w + v
 *
 * Weight decay applies to weights only. Caffe's bvlc_alexnet, the reference implementation of
 * the paper, sets `decay_mult: 0` on every bias (and `lr_mult: 2`, which this class does not
 * copy: one learning rate for all, as the paper writes it). The default `decay` predicate
 * follows Caffe: no decay for variables whose name ends in `bias`.
 */
import { checkNumber } from '../validate.js';
import type { Tfjs } from '../model/tfjs.js';

type Tensor = ReturnType<Tfjs['tensor']>;
type Scalar = ReturnType<Tfjs['scalar']>;
type Variable = ReturnType<Tfjs['variable']>;
type LayersModel = ReturnType<Tfjs['sequential']>;

/** Options of {@link Sgd}. */
export interface SgdOptions {
  /** Learning rate (the paper starts at 0.01). */
  lr: number;
  /** @default 0.9 */
  momentum?: number;
  /** @default 5e-4 */
  weightDecay?: number;
  /**
   * Whether weight decay applies to a variable, given its name.
   * @default name => !/bias(_\d+)?$/.test(name) (Caffe: decay_mult 0 on biases)
   */
  decay?: (variableName: string) => boolean;
  /**
   * The key a variable's velocity is stored under in {@link SgdState}. The default drops the
   * `_<n>` suffix tfjs-layers appends when a second model reuses a layer name
   * (`conv1/kernel_3` -> `conv1/kernel`), so a checkpoint taken in one process restores in
   * another whatever models were built before; names without a `/` are kept as they are.
   * @default the variable name, minus a layers-style `_<n>` suffix
   */
  key?: (variable: Variable) => string;
}

/** The optimizer state a checkpoint stores: hyper-parameters and one velocity per variable. */
export interface SgdState {
  learningRate: number;
  momentum: number;
  weightDecay: number;
  /** One entry per variable stepped so far. */
  velocities: Array<{ name: string; tensor: Tensor }>;
}

const isBias = (name: string): boolean => /bias(_\d+)?$/.test(name);
const defaultKey = (variable: Variable): string =>
  variable.name.includes('/') ? variable.name.replace(/_\d+$/, '') : variable.name;

/**
 * SGD with momentum and weight decay (weights only, not biases), as in the AlexNet paper.
 *
 * Velocities are tf variables owned by this object (created zero on a variable's first step)
 * and freed by {@link Sgd.dispose}. Each step runs inside one `tf.tidy`, so the number of live
 * tensors is the same after every step.
 *
 * @default momentum 0.9, weightDecay 5e-4, decay: everything but biases
 * @throws RangeError when `lr` is not a finite number >= 0, `momentum` not in [0, 1), or
 *   `weightDecay` negative
 * @example
 * ```ts
 * const sgd = new Sgd(tf, { lr: 0.01 });
 * const variables = trainableVariables(model);
 * const loss = sgd.step(variables, () =>
 *   tf.losses.softmaxCrossEntropy(labels, model.apply(images, { training: true }) as tf.Tensor) as tf.Scalar,
 * );
 * ```
 */
export class Sgd {
  readonly #tf: Tfjs;
  #lr: number;
  readonly #momentum: number;
  readonly #weightDecay: number;
  readonly #decay: (variableName: string) => boolean;
  readonly #key: (variable: Variable) => string;
  readonly #velocities = new Map<string, Variable>();

  constructor(tf: Tfjs, options: SgdOptions) {
    this.#tf = tf;
    this.#lr = checkRate('lr', options.lr);
    this.#momentum = options.momentum ?? 0.9;
    this.#weightDecay = options.weightDecay ?? 5e-4;
    if (typeof this.#momentum !== 'number' || !(this.#momentum >= 0 && this.#momentum < 1)) {
      throw new RangeError(`Expected number in [0, 1) for options.momentum but received ${String(options.momentum)}`);
    }
    checkRate('weightDecay', this.#weightDecay);
    this.#decay = options.decay ?? ((name) => !isBias(name));
    this.#key = options.key ?? defaultKey;
  }

  /** The current learning rate. */
  get learningRate(): number {
    return this.#lr;
  }

  /**
   * Changes the learning rate from the next step on (e.g. the paper's divide-by-10 on a
   * validation plateau). Velocities are kept, as in Caffe.
   *
   * @throws RangeError when `lr` is not a finite number >= 0
   * @example
   * ```ts
   * sgd.setLearningRate(sgd.learningRate / 10);
   * ```
   */
  setLearningRate(lr: number): void {
    this.#lr = checkRate('lr', lr);
  }

  /**
   * One update of `variables` against the gradient of `lossFn`; returns the loss before the
   * update as a number.
   *
   * Reading the loss costs one device-to-host sync per step (`dataSync`). On the CPU and wasm
   * backends that is free (ops are synchronous anyway); on tfjs-node-gpu it stalls the GPU
   * queue once per step, so a trainer that wants the GPU busy calls {@link Sgd.stepTensor} and
   * reads the losses every N steps instead.
   *
   * `lossFn` must return a scalar and use the variables (tfjs traces it for gradients); tensors
   * it creates are freed. Variables without a gradient (not trainable, or not used) are left
   * alone.
   *
   * @throws Error from tfjs when `lossFn` does not return a scalar or uses none of the variables;
   *   Error when two variables share a velocity key or a restored velocity has the wrong shape
   * @example
   * ```ts
   * const loss = sgd.step(variables, () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar);
   * ```
   */
  step(variables: Variable[], lossFn: () => Scalar): number {
    const loss = this.stepTensor(variables, lossFn);
    try {
      return loss.dataSync()[0] as number;
    } finally {
      loss.dispose();
    }
  }

  /**
   * {@link Sgd.step} without reading the loss: returns the loss scalar, which the caller owns
   * and must dispose (e.g. collect a few and read them with one `await tf.stack(losses).data()`).
   *
   * @throws as {@link Sgd.step}
   * @example
   * ```ts
   * const losses = [];
   * for (const batch of batches) losses.push(sgd.stepTensor(variables, () => lossOf(batch)));
   * const values = await tf.stack(losses).data();
   * tf.dispose(losses);
   * ```
   */
  stepTensor(variables: Variable[], lossFn: () => Scalar): Scalar {
    const tf = this.#tf;
    const keys = variables.map((variable) => this.#key(variable));
    const duplicate = keys.find((key, index) => keys.indexOf(key) !== index);
    if (duplicate !== undefined) {
      throw new Error(`Two variables share the velocity key '${duplicate}'; pass a distinct options.key`);
    }
    const velocities = variables.map((variable, index) => this.#velocityFor(variable, keys[index] as string));
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(lossFn, variables);
      const minusLr = tf.scalar(-this.#lr);
      const momentum = tf.scalar(this.#momentum);
      const minusDecayLr = tf.scalar(-this.#weightDecay * this.#lr);
      variables.forEach((variable, index) => {
        const grad = grads[variable.name];
        if (grad == null) return;
        const velocity = velocities[index] as Variable;
        let update = tf.mul(minusLr, grad);
        if (this.#weightDecay !== 0 && this.#decay(variable.name)) {
          update = tf.add(update, tf.mul(minusDecayLr, variable));
        }
        const next = tf.add(tf.mul(momentum, velocity), update);
        velocity.assign(next);
        variable.assign(tf.add(variable, next));
      });
      return value;
    });
  }

  /**
   * A snapshot of the optimizer state for a checkpoint. The velocity tensors are copies the
   * caller owns (dispose them, e.g. with `tf.dispose(state.velocities.map((v) => v.tensor))`).
   *
   * @example
   * ```ts
   * const state = sgd.getState();
   * const arrays = await Promise.all(state.velocities.map(async ({ name, tensor }) => ({ name, shape: tensor.shape, data: await tensor.data() })));
   * ```
   */
  getState(): SgdState {
    return {
      learningRate: this.#lr,
      momentum: this.#momentum,
      weightDecay: this.#weightDecay,
      velocities: [...this.#velocities].map(([name, velocity]) => ({ name, tensor: this.#tf.clone(velocity) })),
    };
  }

  /**
   * Restores velocities (by key) and the learning rate from a checkpoint. The velocities share
   * the given tensors' (immutable) data, counted by reference: the caller may dispose them
   * afterwards. `momentum` and `weightDecay` are taken
   * from the constructor, not from the state, so a resumed run may change them.
   *
   * @throws Error when a velocity's shape differs from the one already held under that key (a
   *   velocity restored under a key no variable has is kept, and unused)
   * @example
   * ```ts
   * sgd.setState({ learningRate: 0.001, velocities: [{ name: 'conv1/kernel', tensor }] });
   * ```
   */
  setState(state: Partial<SgdState>): void {
    if (state.learningRate !== undefined) this.setLearningRate(state.learningRate);
    for (const { name, tensor } of state.velocities ?? []) {
      const existing = this.#velocities.get(name);
      if (existing) {
        if (existing.shape.join() !== tensor.shape.join()) {
          throw new Error(`Velocity '${name}' has shape [${tensor.shape}] but the optimizer holds [${existing.shape}]`);
        }
        existing.assign(tensor);
      } else {
        this.#velocities.set(name, this.#tf.variable(tensor, false));
      }
    }
  }

  /** Frees the velocity variables. The object must not be stepped afterwards. */
  dispose(): void {
    for (const velocity of this.#velocities.values()) velocity.dispose();
    this.#velocities.clear();
  }

  #velocityFor(variable: Variable, key: string): Variable {
    let velocity = this.#velocities.get(key);
    if (velocity === undefined) {
      const zeros = this.#tf.zerosLike(variable);
      velocity = this.#tf.variable(zeros, false);
      zeros.dispose();
      this.#velocities.set(key, velocity);
    } else if (velocity.shape.join() !== variable.shape.join()) {
      throw new Error(
        `Velocity '${key}' has shape [${velocity.shape}] but variable '${variable.name}' has shape [${variable.shape}]` +
          ' (two variables with one key, or a checkpoint of another model)',
      );
    }
    return velocity;
  }
}

/**
 * The variables `Sgd.step` should update for a tfjs-layers model: its trainable weights, as tf
 * variables (what `model.fit` hands its optimizer).
 *
 * @example
 * ```ts
 * sgd.step(trainableVariables(model), lossFn);
 * ```
 */
export function trainableVariables(model: LayersModel): Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as Variable);
}

function checkRate(name: string, value: unknown): number {
  return checkNumber(`options.${name}`, value, 0, 1e6);
}
