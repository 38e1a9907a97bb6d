import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, wasmThreadCount, wasmThreadsFor } from '../../src/model/wasm-threads.js';

interface ChildResult {
  detail: string;
  threads: number;
  simd: string;
  loss: number;
  grads: number[][];
  product: number[];
}

function runChild(threads: number): ChildResult {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/model/wasm-threads-child.ts'], {
    encoding: 'utf8',
    timeout: 100_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PATCHSTREAM_WASM_THREADS: String(threads) },
  });
  // A hang (pthread workers holding the event loop) ends in the timeout's SIGTERM, not exit 0.
  expect(child.signal, child.stderr).toBeNull();
  expect(child.status, child.stderr).toBe(0);
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ChildResult;
}

function relativeError(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let magnitude = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    magnitude = Math.max(magnitude, Math.abs(expected[i] as number));
  }
  return diff / magnitude;
}

describe('installWasmThreads()', () => {
  it('installWasmThreads() - 2 wasm threads give the 1-thread gradients (rel. error < 1e-5) and the process exits by itself', () => {
    const one = runChild(1);
    const two = runChild(2);
    expect(one.threads).toBe(1);
    expect(one.detail).toMatch(/^wasm \(SIMD, 1 thread;/);
    expect(two.threads).toBe(2);
    expect(two.detail).toMatch(/^wasm \(SIMD, 2 threads;/);
    // The SIMD LRN/MaxPool kernels run on both heaps (tfjs's threaded build shares its memory).
    expect(one.simd).toBe('plain');
    expect(two.simd).toBe('shared');
    expect(two.grads).toHaveLength(16);
    expect(Math.abs(two.loss - one.loss)).toBeLessThan(1e-5 * Math.abs(one.loss));
    two.grads.forEach((grad, index) => expect(relativeError(grad, one.grads[index]!), `gradient ${index}`).toBeLessThan(1e-5));
    expect(relativeError(two.product, one.product)).toBeLessThan(1e-5);
  });

  it('wasmThreadCount() - PATCHSTREAM_WASM_THREADS sets the count; a bad value is a RangeError naming it', () => {
    expect(wasmThreadCount({ PATCHSTREAM_WASM_THREADS: '3' })).toBe(3);
    expect(wasmThreadCount({})).toBe(wasmThreadsFor());
    expect(wasmThreadsFor()).toBe(Math.min(MAX_WASM_THREADS, availableParallelism()));
    expect(wasmThreadsFor(availableParallelism() + 4)).toBe(1);
    for (const bad of ['0', '9', '1.5', 'two']) {
      expect(() => wasmThreadCount({ PATCHSTREAM_WASM_THREADS: bad })).toThrow(
        new RangeError(`Expected integer between 1 and 8 for PATCHSTREAM_WASM_THREADS but received "${bad}"`),
      );
    }
  });
});
