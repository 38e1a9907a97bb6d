/**
 * The paper's momentum SGD update as one kernel per variable:
 *
 *   v' = momentum * v - lr * (decay * w + g);   w' = w + v'
 *
 * `Sgd.stepTensor` otherwise spends five to six tfjs ops (and as many temporaries) per variable:
 * on wasm, with 16 variables, that is ~100 kernel calls per step for ~0.3 M parameters, where
 * the call overhead, not the arithmetic, is the cost. The kernel reads w, v and g once and
 * writes v' and w' once, in float64 arithmetic rounded to float32 at the end (the op sequence
 * rounds after each op: the results agree to float32 rounding, see test/model/sgd-kernel.test.ts).
 * Registered for `wasm` (over the wasm heap) and `cpu` (over its typed arrays). On wasm it runs
 * as the SIMD kernel `sgdMomentum` (float32 arithmetic, `simdSgdMomentum` in
 * wasm-fast-kernels.ts) where that is available, and as the JS loop otherwise.
 */
import type { KernelConfig, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { Tfjs } from './tfjs.js';
import { simdSgdMomentum } from './wasm-fast-kernels.js';

/** The kernel's name in tfjs's registry. */
export const SGD_MOMENTUM_KERNEL = 'PatchstreamSgdMomentum';

/** Attributes of {@link SGD_MOMENTUM_KERNEL}. */
export interface SgdMomentumAttrs {
  lr: number;
  momentum: number;
  /** Weight decay for this variable (0 for biases). */
  decay: number;
}

interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}
interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

function update(w: Float32Array, v: Float32Array, g: Float32Array, nextV: Float32Array, nextW: Float32Array, attrs: SgdMomentumAttrs): void {
  const { lr, momentum, decay } = attrs;
  for (let i = 0; i < w.length; i++) {
    const weight = w[i] as number;
    const velocity = momentum * (v[i] as number) - lr * (decay * weight + (g[i] as number));
    nextV[i] = velocity;
    nextW[i] = weight + velocity;
  }
}

function check(inputs: NamedTensorInfoMap): [TensorInfo, TensorInfo, TensorInfo] {
  const w = inputs['variable'] as TensorInfo;
  const v = inputs['velocity'] as TensorInfo;
  const g = inputs['grad'] as TensorInfo;
  for (const [name, info] of [['variable', w], ['velocity', v], ['grad', g]] as const) {
    if (info === undefined || info.dtype !== 'float32') {
      throw new Error(`${SGD_MOMENTUM_KERNEL}: expected a float32 ${name} but received ${info === undefined ? 'none' : info.dtype}`);
    }
    if (info.shape.join() !== w.shape.join()) {
      throw new Error(`${SGD_MOMENTUM_KERNEL}: ${name} has shape [${info.shape}] but the variable has [${w.shape}]`);
    }
  }
  return [w, v, g];
}

let registered = false;

/**
 * Registers {@link SGD_MOMENTUM_KERNEL} for the `wasm` and `cpu` backends, once per process (a
 * later call does nothing, so a test may unregister it to compare with the op sequence; tfjs
 * keys kernels by backend name, so wasm's is registered even before wasm loads).
 *
 * @returns the backends it was registered for by this call
 * @example
 * ```ts
 * registerSgdKernel(tf);
 * const [v2, w2] = tf.engine().runKernel(SGD_MOMENTUM_KERNEL, { variable: w, velocity: v, grad: g }, { lr: 0.01, momentum: 0.9, decay: 5e-4 }) as tf.Tensor[];
 * ```
 */
export function registerSgdKernel(tf: Tfjs): string[] {
  if (registered) return [];
  registered = true;
  const configs: KernelConfig[] = [
    {
      kernelName: SGD_MOMENTUM_KERNEL,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const [w, v, g] = check(inputs as NamedTensorInfoMap);
        const heap = backend as unknown as HeapBackend;
        const nextV = heap.makeOutput(w.shape.slice(), 'float32');
        const nextW = heap.makeOutput(w.shape.slice(), 'float32');
        if (simdSgdMomentum(backend, { w, v, g, nextV, nextW }, attrs as unknown as SgdMomentumAttrs)) return [nextV, nextW];
        // Views after the last allocation: a malloc may grow (and replace) the heap's buffer.
        update(heap.typedArrayFromHeap(w), heap.typedArrayFromHeap(v), heap.typedArrayFromHeap(g), heap.typedArrayFromHeap(nextV), heap.typedArrayFromHeap(nextW), attrs as unknown as SgdMomentumAttrs);
        return [nextV, nextW];
      },
    },
    {
      kernelName: SGD_MOMENTUM_KERNEL,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const [w, v, g] = check(inputs as NamedTensorInfoMap);
        const cpu = backend as unknown as CpuBackend;
        const values = (info: TensorInfo): Float32Array => cpu.data.get(info.dataId).values;
        const nextV = new Float32Array(values(w).length);
        const nextW = new Float32Array(values(w).length);
        update(values(w), values(v), values(g), nextV, nextW, attrs as unknown as SgdMomentumAttrs);
        return [cpu.makeTensorInfo(w.shape.slice(), 'float32', nextV), cpu.makeTensorInfo(w.shape.slice(), 'float32', nextW)];
      },
    },
  ];
  const added: string[] = [];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.backendName);
  }
  return added;
}
