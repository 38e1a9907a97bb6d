import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Each example is run exactly as the README says (npx tsx examples/<name>.ts), importing
// 'patchstream' through the package's own exports (dist/, built by `npm test`).
function example(name: string, ...args: string[]) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: child.status, output: `${child.stdout}${child.stderr}` };
}

describe('examples/', () => {
  it('examples/iterate.ts - prints shapes, labels and throughput', () => {
    const { code, output } = example('iterate', 'fixtures/shapes', '1');
    expect(code, output).toBe(0);
    expect(output).toMatch(/shape \[64,56,56,3\]/);
    expect(output).toMatch(/epoch 0: 320 images in .* images\/s/);
  });

  it('examples/pipe-into-trainer.ts - stream.pipeline into a tfjs step, producer held back', () => {
    const { code, output } = example('pipe-into-trainer', 'fixtures/shapes');
    expect(code, output).toBe(0);
    expect(output).toMatch(/trained 10 steps; producer waited \d+\.\d\d s for the consumer/);
    // Backpressure as a count, not a time: with a consumer slower than the decoder, the batches
    // ahead of the one being trained on (the stream's buffer and the loader's work) never add up
    // past prefetch.
    const match = /at most (\d+) batches in memory at once \(prefetch (\d+), plus the one being trained on\)/.exec(output);
    expect(match, output).not.toBeNull();
    const [held, prefetch] = [Number(match![1]), Number(match![2])];
    expect(prefetch).toBe(2);
    expect(held).toBeGreaterThanOrEqual(1);
    expect(held).toBeLessThanOrEqual(prefetch + 1);
  });

  it('examples/fit-dataset.ts - model.fitDataset(toTfDataset(loader))', () => {
    const { code, output } = example('fit-dataset', 'fixtures/shapes', '1');
    expect(code, output).toBe(0);
    expect(output).toMatch(/epoch 0: loss \d/);
  });

  it('examples/train.ts - the bundled trainer with callbacks', () => {
    const { code, output } = example('train', 'fixtures/shapes', '1');
    expect(code, output).toBe(0);
    expect(output).toMatch(/my callback: epoch 1 validation top-1 error/);
    expect(output).toMatch(/done: 1 epochs on wasm; ten-crop top-1 error/);
  });

  it('examples/uint8-on-device.ts - uint8 + offsets on the device equal the float32 batches', () => {
    const { code, output } = example('uint8-on-device', 'fixtures/shapes');
    expect(code, output).toBe(0);
    const match = /largest difference from the float32 loader: ([\d.e+-]+)/.exec(output);
    expect(match, output).not.toBeNull();
    expect(Number(match![1])).toBeLessThan(1e-4);
  });
});
