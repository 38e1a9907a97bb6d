/**
 * A batch as the model's float32 input tensor, with the per-image affine map (`batch.offsets`:
 * PCA lighting and normalisation folded together) applied on the device when the batch is uint8.
 *
 * Why: a float32 batch of 128 x 224 x 224 x 3 is 77 MB, uint8 is 19 MB. On a GPU backend the
 * copy to the device, not the arithmetic, is what a float32 feed costs. On webgpu the uint8
 * bytes go up as they are (viewed as 4-byte words, no conversion on the CPU) and one shader
 * unpacks each byte and applies `pixel * scale + bias` per image and channel. Elsewhere
 * (tfjs-node-gpu) the pixels go up as int32 and the map is two broadcast ops.
 */
import type { Batch } from '../loader/batch.js';
import type { Tfjs } from './tfjs.js';

type Tensor4D = ReturnType<Tfjs['tensor4d']>;

/**
 * Turns a loader batch into the model's float32 NHWC input. Float32 batches go in as they
 * are; uint8 batches are unpacked and mapped on the device. The tensor is the caller's to
 * dispose. A uint8 batch may be reused as soon as this returns; a float32 one is copied in by
 * wasm and tfjs-node, but cpu and webgpu read its array until the tensor is first used, so use
 * the tensor (the trainer's step does, at once) before asking the loader for the next batch.
 *
 * @throws Error for an NCHW batch (the models are NHWC)
 * @example
 * const x = batchToTensor(tf, batch); // inside tf.tidy
 */
export function batchToTensor(tf: Tfjs, batch: Batch): Tensor4D {
  const [n, height, width, channels] = batch.shape;
  if (channels !== 3) throw new Error(`batchToTensor: expected an NHWC batch with 3 channels but received shape [${batch.shape}]`);
  if (batch.images instanceof Float32Array) return tf.tensor4d(batch.images, batch.shape);
  const pixels = batch.images;
  const offsets = batch.offsets.subarray(0, n * 6);
  if (tf.getBackend() === 'webgpu' && pixels.byteOffset % 4 === 0) {
    return unpackOnWebgpu(tf, pixels, offsets, [n, height, width, channels]);
  }
  return tf.tidy(() => {
    const x = tf.tensor4d(pixels, batch.shape, 'int32').toFloat();
    const table = tf.tensor2d(offsets, [n, 6]);
    const scale = table.slice([0, 0], [n, 3]).reshape([n, 1, 1, 3]);
    const bias = table.slice([0, 3], [n, 3]).reshape([n, 1, 1, 3]);
    return x.mul(scale).add(bias) as Tensor4D;
  });
}

interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: Array<{ dataId: object; shape: number[]; dtype: string }>, outputDtype: string, uniforms?: Array<{ type: string; data: number[] }>): { dataId: object; shape: number[]; dtype: string };
}

/** The unpack + affine shader, in the shape tfjs-backend-webgpu's program compiler expects. */
class UnpackAffineProgram {
  readonly variableNames = ['packed', 'offsets'];
  readonly uniforms = 'pixelsPerImage : i32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'patchstream_unpack_affine';

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    const total = outputShape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    // One invocation per output element, spread over x (and y past the 65535-workgroup limit).
    const groups = Math.ceil(total / this.workgroupSize[0]);
    const x = Math.min(groups, 65535);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let word = bitcast<u32>(packed[index / 4]);
          let byte = f32((word >> (8u * u32(index % 4))) & 255u);
          let image = index / (uniforms.pixelsPerImage * 3);
          let channel = index % 3;
          setOutputAtIndex(index, byte * offsets[image * 6 + channel] + offsets[image * 6 + 3 + channel]);
        }
      }
    `;
  }
}

function unpackOnWebgpu(tf: Tfjs, pixels: Uint8Array, offsets: Float32Array, shape: [number, number, number, number]): Tensor4D {
  const words = Math.ceil(pixels.length / 4);
  // A view when the byte length is a multiple of 4 (it is for any even batch of 3-channel
  // images with an even side); otherwise one small copy padded to whole words.
  const packedWords =
    pixels.length % 4 === 0 ? new Int32Array(pixels.buffer, pixels.byteOffset, words) : padded(pixels, words);
  const backend = tf.backend() as unknown as WebgpuBackendLike;
  return tf.tidy(() => {
    const packed = tf.tensor1d(packedWords, 'int32');
    const table = tf.tensor1d(offsets, 'float32');
    const program = new UnpackAffineProgram(shape);
    const info = backend.runWebGPUProgram(program, [packed, table] as never, 'float32', [{ type: 'int32', data: [shape[1] * shape[2]] }]);
    return tf.engine().makeTensorFromTensorInfo(info as never) as Tensor4D;
  });
}

function padded(pixels: Uint8Array, words: number): Int32Array {
  const bytes = new Uint8Array(words * 4);
  bytes.set(pixels);
  return new Int32Array(bytes.buffer);
}
