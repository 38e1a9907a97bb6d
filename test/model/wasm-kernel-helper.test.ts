import { describe, expect, it } from 'vitest';
import { KernelHelper, type ChunkedCall } from '../../src/model/wasm-kernel-helper.js';
import { TRAIN_KERNELS_SHARED_WASM_BASE64 } from '../../src/model/train-kernels-wasm.js';

// The helper thread's hand-over on its own: a shared memory of our own, the kernel module
// instantiated on it here and in the helper, and many calls in quick succession, so the helper
// often wakes after a call is over (or in the middle of the next one).
describe('KernelHelper', () => {
  it('KernelHelper.run - 2,000 calls into one output, each checked at once: no chunk is lost, none runs with an earlier call\'s arguments', async () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const bytes = Buffer.from(TRAIN_KERNELS_SHARED_WASM_BASE64, 'base64');
    const kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as {
      reluGrad(dy: number, x: number, dx: number, count: number): void;
    };
    const helper = new KernelHelper(memory, bytes);
    expect(await helper.ready()).toBe(true);
    const heap = new Float32Array(memory.buffer);
    const count = 4096;
    // Two sets of (dy, x, dx), used by turns: a chunk run with the previous call's arguments
    // writes the other set's dx, and this call's dx keeps a NaN there.
    const sets = [0, 1].map((set) => {
      const [dyAt, xAt, dxAt] = [0, 1, 2].map((k) => 1024 + (set * 3 + k) * count * 4);
      heap.fill(1, dyAt / 4, dyAt / 4 + count);
      return { dyAt, xAt, dxAt, x: heap.subarray(xAt / 4, xAt / 4 + count), dx: heap.subarray(dxAt / 4, dxAt / 4 + count) };
    });
    const kernel = (...args: number[]): void => kernels.reluGrad(...(args as [number, number, number, number]));
    let wrong = 0;
    for (let i = 0; i < 2000; i++) {
      const { dyAt, xAt, dxAt, x, dx } = sets[i % 2]!;
      // x positive (dx = 1) on the chunks where (chunk + i / 2) is even, else negative (dx = 0).
      const phase = (i >> 1) % 2;
      for (let c = 0; c < 8; c++) x.fill((c + phase) % 2 === 0 ? 1 : -1, c * 512, (c + 1) * 512);
      dx.fill(NaN);
      const call: ChunkedCall = { kernel: 'reluGrad', args: [dyAt, xAt, dxAt, count], strides: [4, 4, 4], countIndex: 3, total: count, chunk: 512 };
      // Every tenth call waits for the helper, so it certainly takes part in some.
      helper.run(call, kernel, i % 10 === 0);
      for (let c = 0; c < 8; c++) {
        const expected = (c + phase) % 2 === 0 ? 1 : 0;
        for (const at of [c * 512, c * 512 + 511]) if (dx[at] !== expected) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(helper.calls).toBeGreaterThanOrEqual(200);
  });
});
