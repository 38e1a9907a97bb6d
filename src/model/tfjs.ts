/**
 * The one type every model and training module is written against: a tfjs namespace passed in
 * at run time, so the same code drives `@tensorflow/tfjs` (cpu, wasm) and the namespace that
 * `@tensorflow/tfjs-node(-gpu)` exports, without a static import of the optional packages.
 */
import type * as tfjs from '@tensorflow/tfjs';

/**
 * A tfjs namespace: `import * as tf from '@tensorflow/tfjs'`, or the `tf` that
 * {@link selectBackend} returns.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * const model = createModel(tf satisfies Tfjs, { name: 'alexnet-small', numClasses: 10, inputSize: 32 });
 * ```
 */
export type Tfjs = typeof tfjs;
