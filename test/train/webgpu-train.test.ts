/**
 * Training on webgpu (Dawn; lavapipe in CI): the same loss curve as the cpu backend from the
 * same weights, no tensor leak per step, uint8 batches mapped on the device equal to the
 * loader's float32 batches, and a CLI run that names the backend and adapter and exits by
 * itself. Skips, with the reason, when Dawn finds no adapter (no Vulkan driver: Debian's
 * mesa-vulkan-drivers >= 23 from bookworm-backports gives lavapipe).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { createLoader } from '../../src/loader/loader.js';
import { createModel, type ModelName } from '../../src/model/alexnet.js';
import { closeWebgpu, initWebgpu, probeWebgpu } from '../../src/model/webgpu.js';
import { batchToTensor } from '../../src/model/device-feed.js';
import { Sgd, trainableVariables } from '../../src/train/sgd.js';
import { registerCpuTrainingKernels, restoreCpuKernels } from '../../src/model/wasm-kernels.js';
import { temporaryFolder } from '../helpers.js';

const probe = await probeWebgpu();
const reason = 'reason' in probe ? probe.reason : '';
if (reason) console.warn(`webgpu training tests skipped: ${reason}`);

const folder = temporaryFolder();
afterAll(() => folder.remove());

/** A deterministic Math.random, so tfjs's unseeded dropout draws the same masks on both backends. */
function seededMathRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Losses of `steps` SGD steps (paper settings) from seeded weights, and the tensor count after each. */
async function lossCurve(backend: 'cpu' | 'webgpu', model: ModelName, inputSize: number, batch: number, steps: number) {
  expect(await tf.setBackend(backend)).toBe(true);
  const random = vi.spyOn(Math, 'random').mockImplementation(seededMathRandom(7));
  const net = createModel(tf, { name: model, numClasses: 10, inputSize, seed: 3 });
  const sgd = new Sgd(tf, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const variables = trainableVariables(net);
  const x = tf.randomNormal([batch, inputSize, inputSize, 3], 0, 1, 'float32', 11);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
  const losses: number[] = [];
  const tensors: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const loss = sgd.stepTensor(variables, () => tf.losses.softmaxCrossEntropy(labels, net.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      losses.push((await loss.data())[0]!);
      loss.dispose();
      tensors.push(tf.memory().numTensors);
    }
  } finally {
    random.mockRestore();
    tf.dispose([x, labels]);
    sgd.dispose();
    net.dispose();
  }
  return { losses, tensors };
}

describe.skipIf(reason !== '')('training on webgpu', () => {
  beforeAll(async () => {
    // The cpu reference as the trainer runs it: tfjs-cpu's own filter gradient is a scalar loop
    // (about 30 s a step here); the replacement is tested against it in wasm-kernels.test.ts.
    registerCpuTrainingKernels(tf);
    await initWebgpu(tf, { allowSoftware: true });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
    await closeWebgpu(tf);
    restoreCpuKernels(tf);
  });

  it('Sgd.stepTensor() on alexnet-small (grouped convs, LRN, overlapping pools, dropout) - webgpu and cpu give the same loss curve; no tensor leak', async () => {
    const cpu = await lossCurve('cpu', 'alexnet-small', 32, 8, 5);
    const gpu = await lossCurve('webgpu', 'alexnet-small', 32, 8, 5);
    // It trains: the loss moves (a step that did nothing would agree trivially).
    expect(Math.abs(cpu.losses[4]! - cpu.losses[0]!)).toBeGreaterThan(1e-3);
    gpu.losses.forEach((loss, i) => expect(Math.abs(loss - cpu.losses[i]!), `step ${i}: webgpu ${loss} cpu ${cpu.losses[i]}`).toBeLessThan(1e-3 * Math.max(1, cpu.losses[i]!)));
    // Constant after the first step, which creates the velocities.
    expect(new Set(gpu.tensors.slice(1)).size).toBe(1);
  });

  // On 2 shared cores the cpu reference alone takes over 10 minutes: opt in with PATCHSTREAM_SLOW_TESTS=1.
  it.runIf(process.env['PATCHSTREAM_SLOW_TESTS'] === '1')('Sgd.stepTensor() on full alexnet at 227 px (conv1 11x11/4, 2 groups) - webgpu and cpu agree over 2 steps', async (context) => {
    await tf.setBackend('webgpu');
    const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    // fc6's kernel, 9216 x 4096 float32 (144 MiB), must fit one storage binding: lavapipe allows 128 MiB.
    if (limit < 9216 * 4096 * 4) {
      console.warn(`full AlexNet skipped: this adapter's maxStorageBufferBindingSize is ${limit} bytes, fc6 needs ${9216 * 4096 * 4}`);
      context.skip();
    }
    const cpu = await lossCurve('cpu', 'alexnet', 227, 2, 2);
    const gpu = await lossCurve('webgpu', 'alexnet', 227, 2, 2);
    gpu.losses.forEach((loss, i) => expect(Math.abs(loss - cpu.losses[i]!), `step ${i}: webgpu ${loss} cpu ${cpu.losses[i]}`).toBeLessThan(1e-3 * Math.max(1, cpu.losses[i]!)));
    expect(gpu.tensors[1]).toBe(gpu.tensors[0]);
  }, 1_800_000);

  it('batchToTensor() - uint8 batches with batch.offsets applied on webgpu equal the loader\'s float32 batches', async () => {
    await tf.setBackend('webgpu');
    const dataset = await imageFolder('fixtures/shapes');
    const options = { batchSize: 6, rescale: 40, crop: 32, seed: 9, workers: 1, mode: 'train' as const };
    const bytes = createLoader(dataset, { ...options, dtype: 'uint8' });
    const floats = createLoader(dataset, { ...options, dtype: 'float32' });
    try {
      const reference = floats.epoch(0);
      let batches = 0;
      for await (const batch of bytes.epoch(0)) {
        const expected = (await reference.next()).value!;
        const x = batchToTensor(tf, batch);
        expect(x.shape).toEqual(batch.shape);
        const values = await x.data();
        x.dispose();
        let worst = 0;
        for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]! - expected.images[i]!));
        expect(worst).toBeLessThan(1e-4);
        if (++batches === 3) break;
      }
      expect(batches).toBe(3);
    } finally {
      await bytes.close();
      await floats.close();
    }
  });

  it('patchstream train --backend webgpu --json - the summary names the backend and adapter, and the process exits by itself', async () => {
    const data = join(folder.dir, 'two-classes');
    const full = await imageFolder('fixtures/shapes');
    for (const name of ['circle', 'horizontal-stripes']) {
      mkdirSync(join(data, name), { recursive: true });
      for (const sample of full.samples.filter((s) => full.classes[s.label] === name).slice(0, 8)) copyFileSync(sample.path, join(data, name, basename(sample.path)));
    }
    const out = join(folder.dir, 'run');
    const args = [resolve('bin/patchstream.js'), 'train', data, '--model', 'alexnet-small', '--width', '0.5', '--rescale', '20', '--crop', '16', '--batch-size', '4', '--epochs', '2', '--lr', '0.01', '--val-fraction', '0.25', '--backend', 'webgpu', '--workers', '1', '--out', out, '--json'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolveExit) => child.on('exit', (exitCode) => resolveExit(exitCode)));
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/OffscreenCanvas|Error/);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ type: 'summary', epochs: 2, backend: 'webgpu', feed: 'uint8' });
    expect(summary.adapter).toMatchObject({ vendor: expect.any(String), description: expect.any(String), software: expect.any(Boolean) });
    expect(summary.adapter.description.length + summary.adapter.device.length).toBeGreaterThan(0);
    expect(Number.isFinite(summary.trainLoss)).toBe(true);
    expect(summary.tenCrop.top1Error).toBeGreaterThanOrEqual(0);
    expect(stderr).toMatch(/backend: using webgpu \(/);
  }, 600_000);
});
