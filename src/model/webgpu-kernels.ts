/**
 * Kernels patchstream replaces in tfjs-backend-webgpu (4.22) for training.
 *
 * Checked by running every kernel an alexnet / alexnet-small step uses on webgpu (lavapipe) and
 * on cpu for the same inputs (test/model/webgpu-kernels.test.ts): all agree to float32
 * rounding, none is missing. One is slow: `LRNGrad` loops over every channel pair for every
 * output channel (O(C^3) work per pixel: 96 channels are ~900k iterations per pixel), and took
 * 10.7 of 16 s of an alexnet-small step (batch 16, 32 px) on lavapipe. It is replaced by an
 * O(C * (2r+1)^2) one with the same formula (below).
 *
 * `Conv2DBackpropFilter` with a stride above 1 (AlexNet's conv1, 11x11/4; alexnet-small's
 * conv1 from 48 px) is slow too: one invocation per weight loops over every output position.
 * It runs as the dilated convolution the wasm backend uses (input and dy transposed,
 * dilation = stride), which is tfjs-webgpu's tiled Conv2D: on lavapipe 3.7 s instead of
 * 17.6 s for AlexNet conv1 at batch 8 (forward + filter gradient). At stride 1 the built-in
 * kernel was as fast or faster (alexnet-small conv1: 0.73 vs 1.15 s), so it is kept there.
 */
import type { Conv2DBackpropFilterAttrs, KernelConfig, KernelFunc, LRNGradAttrs, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { trainingKernels } from './wasm-kernels.js';
import type { Tfjs } from './tfjs.js';

const BACKEND = 'webgpu';

interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: TensorInfo[], outputDtype: string, uniforms?: Array<{ type: string; data: number[] }>): TensorInfo;
}

/** Kernel functions this module put in place, so a second registration leaves them alone. */
const ours = new WeakSet<object>();

/**
 * Registers patchstream's training kernels on the `webgpu` backend, replacing the built-in
 * ones (today: `LRNGrad`, and `Conv2DBackpropFilter` for strides above 1). Call after importing `@tensorflow/tfjs-backend-webgpu` (which
 * registers its kernels at import). Idempotent.
 * @returns what this call replaced (empty on a second call)
 * @example
 * registerWebgpuTrainingKernels(tf); // ['LRNGrad (O(C) per element)', 'Conv2DBackpropFilter (dilated Conv2D when strided)']
 */
export function registerWebgpuTrainingKernels(tf: Tfjs): string[] {
  const replaced: string[] = [];
  for (const config of webgpuTrainingKernels(tf)) {
    const existing = tf.getKernel(config.kernelName, BACKEND);
    if (existing !== undefined && ours.has(existing.kernelFunc)) continue;
    if (existing !== undefined) tf.unregisterKernel(config.kernelName, BACKEND);
    ours.add(config.kernelFunc);
    tf.registerKernel(config);
    replaced.push(config.kernelName === tf.LRNGrad ? `${config.kernelName} (O(C) per element)` : `${config.kernelName} (dilated Conv2D when strided)`);
  }
  return replaced;
}

/**
 * The kernel configs {@link registerWebgpuTrainingKernels} registers.
 * @example
 * webgpuTrainingKernels(tf).map((k) => k.kernelName); // ['LRNGrad', 'Conv2DBackpropFilter']
 */
export function webgpuTrainingKernels(tf: Tfjs): KernelConfig[] {
  const configs = [lrnGradConfig(tf)];
  const builtIn = tf.getKernel(tf.Conv2DBackpropFilter, BACKEND);
  if (builtIn !== undefined && !ours.has(builtIn.kernelFunc)) {
    const dilated = trainingKernels(tf, BACKEND)[0]!.kernelFunc;
    const fallback = builtIn.kernelFunc;
    configs.push({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: BACKEND,
      kernelFunc: (args) => {
        const { strides } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
        const [strideHeight, strideWidth] = typeof strides === 'number' ? [strides, strides] : strides;
        return strideHeight > 1 || strideWidth > 1 ? dilated(args) : fallback(args);
      },
    });
  }
  return configs;
}

function lrnGradConfig(tf: Tfjs): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, y, dy } = inputs as NamedTensorInfoMap;
    const { depthRadius, bias, alpha, beta } = attrs as unknown as LRNGradAttrs;
    const input = x as TensorInfo;
    const depth = input.shape[input.shape.length - 1] as number;
    return (backend as unknown as WebgpuBackendLike).runWebGPUProgram(new LrnGradProgram(input.shape), [input, y as TensorInfo, dy as TensorInfo], input.dtype, [
      { type: 'int32', data: [depth] },
      { type: 'int32', data: [depthRadius] },
      { type: 'float32', data: [bias] },
      { type: 'float32', data: [alpha] },
      { type: 'float32', data: [beta] },
    ]);
  };
  return { kernelName: tf.LRNGrad, backendName: BACKEND, kernelFunc };
}

/**
 * With N_d = bias + alpha * sum over k in [d-r, d+r] of x_k^2 and y_d = x_d N_d^-beta:
 *   dx_c = dy_c N_c^-beta - 2 alpha beta x_c * sum over d in [c-r, c+r] of dy_d y_d / N_d
 * (the window is symmetric, so "c in d's window" is "d in c's window"). This is the cpu
 * backend's LRNGrad, gathered per output element instead of scattered per input element.
 * Channels are innermost (NHWC), so a pixel's channels are contiguous from `index - c`.
 */
class LrnGradProgram {
  readonly variableNames = ['inputImage', 'outputImage', 'dy'];
  readonly uniforms = 'depth : i32, radius : i32, bias : f32, alpha : f32, beta : f32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'patchstream_lrn_grad';

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const groups = Math.ceil(shape.reduce((a, b) => a * b, 1) / this.workgroupSize[0]);
    const x = Math.min(groups, 65535);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  getUserCode(): string {
    return `
      fn normAt(base : i32, d : i32) -> f32 {
        var sum = 0.0;
        for (var k = max(0, d - uniforms.radius); k <= min(uniforms.depth - 1, d + uniforms.radius); k = k + 1) {
          let z = inputImage[base + k];
          sum = sum + z * z;
        }
        return uniforms.bias + uniforms.alpha * sum;
      }

      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.depth;
          let base = index - c;
          var gathered = 0.0;
          for (var d = max(0, c - uniforms.radius); d <= min(uniforms.depth - 1, c + uniforms.radius); d = d + 1) {
            gathered = gathered + dy[base + d] * outputImage[base + d] / normAt(base, d);
          }
          let own = exp(log(normAt(base, c)) * (-uniforms.beta));
          setOutputAtIndex(index, dy[index] * own - 2.0 * uniforms.alpha * uniforms.beta * inputImage[index] * gathered);
        }
      }
    `;
  }
}
