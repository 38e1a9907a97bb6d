import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';

const require = createRequire(import.meta.url);
function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
// tfjs-node(-gpu) cannot be installed on the machines these tests were written on (their
// install downloads libtensorflow); where they are, the 'auto' expectations change.
const tensorflowAbsent = !installed('@tensorflow/tfjs-node-gpu') && !installed('@tensorflow/tfjs-node');

describe('selectBackend()', () => {
  it('selectBackend("cpu") - sets the cpu backend on the tfjs namespace it returns', async () => {
    const lines: string[] = [];
    const selected = await selectBackend('cpu', (line) => lines.push(line));
    expect(selected.name).toBe('cpu');
    expect(selected.tf).toBe(tf);
    expect(selected.tf.getBackend()).toBe('cpu');
    expect(selected.skipped).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backend: using cpu \(pure JavaScript(; Conv2DBackpropFilter \(dilated Conv2D\))?\)$/);
  });

  it('selectBackend("wasm") - SIMD wasm with the training kernels; calling it twice is fine', async () => {
    const first = await selectBackend('wasm');
    expect(first.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(first.detail).toMatch(/^wasm \(SIMD, \d+ threads?; Conv2DBackpropFilter, Conv2DBackpropInput/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    await selectBackend('cpu');
    const second = await selectBackend('wasm');
    expect(second.detail).toBe(first.detail);
    expect(tf.getBackend()).toBe('wasm');
    // It computes: a conv gradient w.r.t. the filter runs on wasm.
    const grad = tf.tidy(() =>
      tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid')))(
        tf.ones([3, 3, 1, 1]),
      ).dataSync(),
    );
    expect(Array.from(grad)).toEqual(Array(9).fill(4));
  });

  it.runIf(tensorflowAbsent)('selectBackend("auto") - logs why tfjs-node-gpu, webgpu (no hardware adapter here) and tfjs-node were skipped, then picks wasm', async () => {
    const lines: string[] = [];
    const selected = await selectBackend('auto', (line) => lines.push(line));
    expect(selected.name).toBe('wasm');
    expect(selected.skipped.map((s) => s.name)).toEqual(['tfjs-node-gpu', 'webgpu', 'tfjs-node']);
    // Node says "Cannot find package"; under vitest, vite answers for an optional peer dependency
    // ("Could not resolve ... Is it installed?"). Either way the reason names the package.
    expect(selected.skipped[0]?.reason).toMatch(/^(Cannot find package '|Could not resolve ")@tensorflow\/tfjs-node-gpu['"]/);
    // lavapipe (CI) is software and is used only when asked for; without Vulkan there is no adapter.
    expect(selected.skipped[1]?.reason).toMatch(/^(only a software adapter is available: .* it is used only when asked for \(--backend webgpu\)|no WebGPU adapter)/);
    expect(selected.skipped[2]?.reason).toMatch(/^(Cannot find package '|Could not resolve ")@tensorflow\/tfjs-node['"]/);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^backend: skipping tfjs-node-gpu: (Cannot find package|Could not resolve)/);
    expect(lines[1]).toMatch(/^backend: skipping webgpu: /);
    expect(lines[2]).toMatch(/^backend: skipping tfjs-node: (Cannot find package|Could not resolve)/);
    expect(lines[3]).toMatch(/^backend: using wasm \(SIMD/);
  });

  it.runIf(tensorflowAbsent)('selectBackend("tensorflow") - rejects, listing the reason for each package', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(
      /^No tensorflow backend could be loaded \(tfjs-node-gpu: (Cannot find package|Could not resolve) .*; tfjs-node: (Cannot find package|Could not resolve)/,
    );
  });

  it('selectBackend() - an unknown preference is a TypeError naming the value', async () => {
    await expect(selectBackend('gpu' as 'auto')).rejects.toThrow(
      new TypeError("Expected one of 'auto', 'tensorflow', 'webgpu', 'wasm', 'cpu' for backend but received 'gpu' of type string"),
    );
  });
});
