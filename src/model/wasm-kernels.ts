/**
 * Kernels the tfjs wasm backend (4.22) lacks for training an AlexNet-style net.
 *
 * Checked by listing `tf.getKernelsForBackend('wasm')` against a forward + backward pass of
 * `alexnet` and `alexnet-small` (conv, grouped conv via split/concat, ReLU, LRN, max-pool,
 * flatten, dense, dropout, softmax cross-entropy, SGD update). The only kernel such a step
 * needs that wasm does not register is `Conv2DBackpropFilter` (the filter gradient of every
 * convolution). `Conv2DBackpropInput`, `LRN`, `LRNGrad`, `MaxPoolGrad`, `SplitV`, `Concat`,
 * `Step` (the ReLU gradient), `Softmax`, `Max`, `Sum`, `Exp`, `Log` ... are all there; the
 * tests compare the ones a step uses against the cpu backend.
 *
 * One present kernel is replaced for speed: wasm's `Conv2DBackpropInput` is a plain C loop and
 * took half of an alexnet-small step; for stride 1 it is rerun as an XNNPACK convolution (see
 * `fasterConv2DBackpropInput`), cutting the step from about 520 to 270 ms (batch 32, 32 px).
 */
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';
import type { Tfjs } from './tfjs.js';
import { registerFastWasmKernels, simdConv2DBackpropFilter } from './wasm-fast-kernels.js';

const BACKEND = 'wasm';

/**
 * Registers on the `wasm` backend every kernel a training step of the bundled models needs
 * and wasm does not provide (today: `Conv2DBackpropFilter`), and swaps wasm's slow
 * `Conv2DBackpropInput` for one that runs stride-1 cases on XNNPACK (other cases still go to
 * the original). Call it after importing `@tensorflow/tfjs-backend-wasm` (whose kernels it
 * inspects) and before `tf.setBackend('wasm')`; calling it again is a no-op, and a kernel that
 * wasm itself provides (a future tfjs) is left alone.
 *
 * @param tf - the tfjs namespace whose kernel registry to extend (the registry is global to a
 *   process, so this is the namespace of the one tfjs-core in play)
 * @returns the names of the kernels this call registered or replaced (empty on a second call)
 * @throws nothing; a kernel that fails at run time throws from the op that used it
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import '@tensorflow/tfjs-backend-wasm';
 * registerWasmTrainingKernels(tf);
 * await tf.setBackend('wasm');
 * ```
 */
export function registerWasmTrainingKernels(tf: Tfjs): string[] {
  const added: string[] = [];
  for (const config of trainingKernels(tf)) {
    if (tf.getKernel(config.kernelName, BACKEND) !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  const builtIn = tf.getKernel(tf.Conv2DBackpropInput, BACKEND);
  if (builtIn !== undefined && !replaced.has(builtIn.kernelFunc)) {
    const faster = fasterConv2DBackpropInput(tf, builtIn);
    replaced.add(faster.kernelFunc);
    tf.unregisterKernel(tf.Conv2DBackpropInput, BACKEND);
    tf.registerKernel(faster);
    added.push(`${tf.Conv2DBackpropInput} (XNNPACK, stride 1)`);
  }
  added.push(...registerFastWasmKernels(tf));
  return added;
}

/** Kernel functions this module put in place, so a second registration leaves them alone. */
const replaced = new WeakSet<object>();

/**
 * The kernel configs {@link registerWasmTrainingKernels} registers, exposed for tests and for
 * anyone composing their own registry.
 *
 * @example
 * ```ts
 * trainingKernels(tf).map((k) => k.kernelName); // ['Conv2DBackpropFilter']
 * ```
 */
export function trainingKernels(tf: Tfjs, backendName: 'wasm' | 'cpu' | 'webgpu' = BACKEND): KernelConfig[] {
  return [
    {
      kernelName: tf.Conv2DBackpropFilter,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) =>
        conv2DBackpropFilter(tf, inputs as NamedTensorInfoMap, backend as KernelBackend, attrs as unknown as Conv2DBackpropFilterAttrs, backendName),
    },
  ];
}

/** The cpu backend's own filter-gradient kernel, kept for tests that use it as the reference. */
let originalCpuFilterKernel: KernelConfig | undefined;

/**
 * Makes the pure-JS `cpu` backend usable for training: its built-in `Conv2DBackpropFilter` is a
 * scalar loop that took 63 s for one alexnet-small step at batch 32 (bench/train-step.ts --backends cpu,cpu-builtin); the same
 * dilated-convolution identity as on wasm, run on cpu's own Conv2D, is replaced in. Idempotent.
 * @returns the names of the kernels replaced (empty on a second call)
 * @example
 * registerCpuTrainingKernels(tf);
 * await tf.setBackend('cpu');
 */
export function registerCpuTrainingKernels(tf: Tfjs): string[] {
  if (originalCpuFilterKernel !== undefined) return [];
  const builtIn = tf.getKernel(tf.Conv2DBackpropFilter, 'cpu');
  if (builtIn === undefined) return [];
  originalCpuFilterKernel = builtIn;
  tf.unregisterKernel(tf.Conv2DBackpropFilter, 'cpu');
  for (const config of trainingKernels(tf, 'cpu')) tf.registerKernel(config);
  return [`${tf.Conv2DBackpropFilter} (dilated Conv2D)`];
}

/** Puts the cpu backend's own `Conv2DBackpropFilter` back (tests compare against it). */
export function restoreCpuKernels(tf: Tfjs): void {
  if (originalCpuFilterKernel === undefined) return;
  tf.unregisterKernel(tf.Conv2DBackpropFilter, 'cpu');
  tf.registerKernel(originalCpuFilterKernel);
  originalCpuFilterKernel = undefined;
}

/**
 * dW[ky, kx, ci, co] = sum over (b, oy, ox) of x[b, oy*s - padTop + ky, ox*s - padLeft + kx, ci]
 * * dy[b, oy, ox, co]. On wasm, when the output channels are a multiple of 16 (every layer of
 * the bundled models), that sum runs directly on the SIMD kernel `filterGrad` of
 * train-kernels.wat, its images in chunks shared with the helper thread
 * (`simdConv2DBackpropFilter`): the route below makes XNNPACK pack all of dy as a filter on
 * every call, which cost conv1 of alexnet-small (3 input channels, batch 64) 20-26 ms against
 * 8 ms direct; conv3-5 gained 10-20%, conv2 was level (interleaved runs in one process).
 * Otherwise: read with ci as the batch, b as the input channel, (ky, kx) as the output
 * position and dy as a filter of size (outH, outW), that is a stride-1 convolution with
 * dilation s of x^T = transpose(x, [3,1,2,0]) by dy^T = transpose(dy, [1,2,0,3]), giving
 * [ci, kH, kW, co], transposed back to [kH, kW, ci, co]. The heavy lifting is then wasm's own
 * XNNPACK Conv2D, which supports dilation and explicit padding.
 *
 * The forward pass's top/left padding carries over unchanged. Its bottom/right padding does
 * not: the dilated convolution must produce exactly kH x kW outputs, which needs
 * `(outH - 1) * s + kH - padTop - inH` rows of padding below. With 'valid' padding and a
 * stride that does not divide `inH - kH` that number is negative (the forward pass never read
 * the last rows), so those rows are sliced off instead.
 */
function conv2DBackpropFilter(
  tf: Tfjs,
  inputs: NamedTensorInfoMap,
  backend: KernelBackend,
  attrs: Conv2DBackpropFilterAttrs,
  backendName: 'wasm' | 'cpu' | 'webgpu' = BACKEND,
): TensorInfo {
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  if (dataFormat !== 'channelsLast') {
    throw new Error(`wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only but received '${attrs.dataFormat}'`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const padBottom = (outHeight - 1) * strideHeight + filterHeight - padTop - inHeight;
  const padRight = (outWidth - 1) * strideWidth + filterWidth - padLeft - inWidth;
  const usedHeight = inHeight + Math.min(0, padBottom);
  const usedWidth = inWidth + Math.min(0, padRight);

  if (backendName === 'wasm' && info.dilationHeight === 1 && info.dilationWidth === 1) {
    const direct = simdConv2DBackpropFilter(backend, x, dy, { ...info, padTop, padLeft });
    if (direct !== undefined) return direct;
  }
  const temporaries: TensorInfo[] = [];
  const run = (kernelName: string, kernelInputs: NamedTensorInfoMap, kernelAttrs: NamedAttrMap): TensorInfo => {
    const kernel = tf.getKernel(kernelName, backendName);
    if (kernel === undefined) throw new Error(`${backendName} backend has no ${kernelName} kernel`);
    const out = kernel.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as TensorInfo;
    temporaries.push(out);
    return out;
  };
  try {
    const xUsed =
      usedHeight < inHeight || usedWidth < inWidth
        ? run(tf.Slice, { x }, { begin: [0, 0, 0, 0], size: [batchSize, usedHeight, usedWidth, inChannels] })
        : x;
    const xT = run(tf.Transpose, { x: xUsed }, { perm: [3, 1, 2, 0] });
    const dyT = run(tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    const gradT = run(
      tf.Conv2D,
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, Math.max(0, padBottom)],
          [padLeft, Math.max(0, padRight)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [strideHeight, strideWidth],
      },
    );
    const grad = run(tf.Transpose, { x: gradT }, { perm: [1, 2, 0, 3] });
    if (grad.shape.join() !== [filterHeight, filterWidth, inChannels, outChannels].join()) {
      throw new Error(`wasm Conv2DBackpropFilter produced shape [${grad.shape}], expected [${attrs.filterShape}]`);
    }
    temporaries.pop();
    return grad;
  } finally {
    for (const info of temporaries) backend.disposeData(info.dataId);
  }
}

/**
 * wasm's own Conv2DBackpropInput is a plain C loop, about 5x slower than the XNNPACK
 * convolution next to it; in an alexnet-small step it took half the time. For stride 1 the
 * input gradient is a convolution of dy with the filter rotated by 180 degrees and its in/out
 * channels swapped, padded by (k - 1 - pad) on the top/left, so it can run on XNNPACK too.
 * The rotated, swapped filter is one pass in JS ({@link rotatedSwappedFilter}). Strided cases
 * keep the built-in kernel: they would need dy spread out with zeros (s^2 times the work), and
 * the bundled models never ask for them (the only strided conv is conv1, whose input gradient
 * is not computed).
 */
function fasterConv2DBackpropInput(tf: Tfjs, builtIn: KernelConfig): KernelConfig {
  const fallback = builtIn.kernelFunc;
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: BACKEND,
    // Keeps the built-in kernel's wasm binding set up for the fallback path.
    ...(builtIn.setupFunc === undefined ? {} : { setupFunc: builtIn.setupFunc }),
    kernelFunc: (args) => {
      const { inputs, attrs } = args;
      const backend = args.backend as KernelBackend;
      const dy = (inputs as NamedTensorInfoMap)['dy'] as TensorInfo;
      const filter = (inputs as NamedTensorInfoMap)['filter'] as TensorInfo;
      const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
      const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
      const info = tf.backend_util.computeConv2DInfo(
        inputShape,
        filter.shape as [number, number, number, number],
        strides,
        1,
        pad,
        dimRoundingMode,
        false,
        format,
      );
      const padTop = info.filterHeight - 1 - info.padInfo.top;
      const padLeft = info.filterWidth - 1 - info.padInfo.left;
      const padBottom = info.inHeight - info.outHeight + info.padInfo.top;
      const padRight = info.inWidth - info.outWidth + info.padInfo.left;
      if (
        format !== 'channelsLast' ||
        info.strideHeight !== 1 ||
        info.strideWidth !== 1 ||
        Math.min(padTop, padLeft, padBottom, padRight) < 0
      ) {
        return fallback(args);
      }
      const temporaries: TensorInfo[] = [];
      const run = (kernelName: string, kernelInputs: NamedTensorInfoMap, kernelAttrs: NamedAttrMap): TensorInfo => {
        const kernel = tf.getKernel(kernelName, BACKEND);
        if (kernel === undefined) throw new Error(`wasm backend has no ${kernelName} kernel`);
        const out = kernel.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as TensorInfo;
        temporaries.push(out);
        return out;
      };
      try {
        const swapped = rotatedSwappedFilter(backend as unknown as HeapBackend, filter);
        temporaries.push(swapped);
        const dx = run(
          tf.Conv2D,
          { x: dy, filter: swapped },
          {
            strides: [1, 1],
            pad: [
              [0, 0],
              [padTop, padBottom],
              [padLeft, padRight],
              [0, 0],
            ],
            dataFormat: 'NHWC',
            dilations: [1, 1],
          },
        );
        temporaries.pop();
        return dx;
      } finally {
        for (const temporary of temporaries) backend.disposeData(temporary.dataId);
      }
    },
  };
}

/** The part of tfjs-wasm's backend {@link rotatedSwappedFilter} uses. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The filter `[kh, kw, in, out]` rotated by 180 degrees with its channels swapped,
 * `[kh, kw, out, in]`, in one pass over tfjs's heap. wasm's Reverse then Transpose took 2.3 ms
 * for alexnet-small's conv3 filter (55k weights); over a step's five input gradients this pass
 * cut Conv2DBackpropInput from 46-51 to 30-38 ms (bench/train-profile.ts).
 */
function rotatedSwappedFilter(backend: HeapBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, inC, outC] = filter.shape as [number, number, number, number];
  const out = backend.makeOutput([kh, kw, outC, inC], 'float32');
  const source = backend.typedArrayFromHeap(filter);
  const target = backend.typedArrayFromHeap(out);
  const taps = kh * kw;
  const tapSize = inC * outC;
  for (let tap = 0; tap < taps; tap++) {
    const from = (taps - 1 - tap) * tapSize;
    const to = tap * tapSize;
    for (let i = 0; i < inC; i++) {
      const row = from + i * outC;
      for (let o = 0; o < outC; o++) target[to + o * inC + i] = source[row + o] as number;
    }
  }
  return out;
}
