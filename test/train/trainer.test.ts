import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { median } from '../../src/cli/bench.js';
import { imageFolder } from '../../src/dataset/image-folder.js';
import type { Dataset } from '../../src/dataset/types.js';
import { DatasetError } from '../../src/errors.js';
import { evaluateCheckpoint } from '../../src/eval/checkpoint.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { temporaryFolder } from '../helpers.js';

const folder = temporaryFolder();
let shapes: Dataset;

/** Four classes x 12 images of the shapes fixture: small enough for seconds per epoch. */
function subset(dataset: Dataset, classes: string[], perClass: number): Dataset {
  const samples = classes.flatMap((name) => dataset.samples.filter((s) => dataset.classes[s.label] === name).slice(0, perClass).map((s) => ({ path: s.path, label: classes.indexOf(name) })));
  return { samples, classes };
}

beforeAll(async () => {
  const full = await imageFolder('fixtures/shapes');
  shapes = subset(full, ['circle', 'cross', 'horizontal-stripes', 'vertical-stripes'], 12);
});
afterAll(() => folder.remove());

const quick: TrainOptions = { model: 'alexnet-small', width: 0.5, rescale: 20, crop: 16, batchSize: 8, lr: 0.02, backend: 'wasm', loader: { workers: 1 }, valFraction: 0.25, seed: 5 };

describe('train()', () => {
  it('train() - the loss falls well below chance, tensors do not leak, metrics, curve and checkpoints are written', async () => {
    // Two classes, 48 training images at 32 px: alexnet-small leaves chance (ln 2) within a
    // dozen epochs (measured over 5 runs: last-epoch loss 0.007-0.25). A smaller input or
    // fewer steps only moves the loss around ln(classes), which would prove nothing.
    const twoClasses = subset(await imageFolder('fixtures/shapes'), ['circle', 'horizontal-stripes'], 32);
    const out = join(folder.dir, 'run');
    const counts: number[] = [];
    const result = await train(twoClasses, {
      model: 'alexnet-small', rescale: 36, crop: 32, batchSize: 4, lr: 0.003, backend: 'wasm', loader: { workers: 1, cache: 'memory' }, valFraction: 0.25, seed: 5,
      epochs: 12, out,
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    expect(result.epochs).toBe(12);
    expect(result.backend).toBe('wasm');
    expect([result.trainImages, result.valImages]).toEqual([48, 16]);
    // Tensor count constant across steps (after the first, which creates the velocities).
    expect(new Set(counts.slice(1)).size).toBe(1);
    // Median of the last four epochs: plain SGD with momentum at batch 4 now and then has a
    // one-epoch loss spike (seen: ... 0.106 0.096 0.113 0.869), which says nothing about learning.
    const losses = result.history.map((epoch) => epoch.trainLoss);
    const lateLoss = median(losses.slice(-4));
    expect(lateLoss, `epoch losses ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(0.5 * Math.log(2));
    expect(lateLoss).toBeLessThan(losses[0]!);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(metrics.filter((m) => m.type === 'epoch')).toHaveLength(12);
    expect(metrics.at(-1)).toMatchObject({ type: 'final', centre: { images: 16 }, tenCrop: { images: 16 } });
    expect(readFileSync(join(out, 'curve.svg'), 'utf8')).toMatch(/^<svg[\s\S]*polyline[\s\S]*<\/svg>$/);
    expect(result.final!.tenCrop.images).toBe(16);
    expect(readdirSync(join(out, 'checkpoints'))).toContain('epoch-0012-step-000000');
    const evaluation = await evaluateCheckpoint(out, twoClasses, { backend: 'wasm', loader: { workers: 1 } });
    expect(evaluation.centre.images).toBe(64);
  });

  it('train() - interrupting mid-epoch checkpoints the step; resuming continues with the same batches as an uninterrupted run', async () => {
    const record = (log: string[][]) => ({ onStep: ({ epoch, step, indices }: { epoch: number; step: number; indices: Int32Array }) => void log.push([`${epoch}:${step}`, Array.from(indices).join(',')]) });
    const straight: string[][] = [];
    await train(shapes, { ...quick, epochs: 2, out: join(folder.dir, 'straight'), finalEvaluation: false, ...record(straight) });

    const controller = new AbortController();
    const first: string[][] = [];
    const interrupted = await train(shapes, {
      ...quick, epochs: 2, out: join(folder.dir, 'resumed'), finalEvaluation: false, signal: controller.signal,
      onStep: (info) => {
        first.push([`${info.epoch}:${info.step}`, Array.from(info.indices).join(',')]);
        if (info.epoch === 1 && info.step === 2) controller.abort();
      },
    });
    expect(interrupted.interrupted).toBe(true);
    const saved = await loadCheckpoint(join(folder.dir, 'resumed'));
    expect([saved.state.epoch, saved.state.step]).toEqual([1, 2]);
    expect(readdirSync(join(folder.dir, 'resumed', 'checkpoints')).some((name) => name.includes('.tmp'))).toBe(false);

    const second: string[][] = [];
    await train(shapes, { ...quick, epochs: 2, out: join(folder.dir, 'resumed'), resume: join(folder.dir, 'resumed'), finalEvaluation: false, ...record(second) });
    expect([...first, ...second]).toEqual(straight);
  });

  it('train() - resuming with a different class list is refused', async () => {
    const other = { ...shapes, classes: ['circle', 'cross', 'horizontal-stripes', 'ring'] };
    await expect(train(other, { ...quick, epochs: 1, resume: join(folder.dir, 'run'), out: join(folder.dir, 'other') })).rejects.toThrow(DatasetError);
    await expect(train(other, { ...quick, epochs: 1, resume: join(folder.dir, 'run'), out: join(folder.dir, 'other') })).rejects.toThrow(/class "ring" is in the dataset but not in the checkpoint/);
  });

  it('patchstream train - SIGINT finishes the step, writes a checkpoint, leaves no temporary folder and exits 130', async () => {
    const out = join(folder.dir, 'sigint');
    const child = spawn(process.execPath, [resolve('bin/patchstream.js'), 'train', 'fixtures/shapes', '--model', 'alexnet-small', '--width', '0.5', '--rescale', '20', '--crop', '16', '--batch-size', '8', '--epochs', '50', '--backend', 'wasm', '--workers', '1', '--out', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (exitCode) => resolveExit(exitCode)));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // Under --json, stdout carries one line per epoch: interrupt as soon as the first one
    // arrives, so the signal lands in the second epoch (index 1), whatever the machine's speed.
    let signalled = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const complete = stdout.split('\n').slice(0, -1); // a chunk may end mid-line
      if (!signalled && complete.some((line) => JSON.parse(line).type === 'epoch')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await exited;
    const output = `${stdout}${stderr}`;
    expect(signalled, `exited before its first epoch ended: ${output}`).toBe(true);
    expect(code, output).toBe(130);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.type === 'epoch').map((line) => line.epoch)).toEqual([1]);
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ type: 'summary', interrupted: true, epochs: 1 });
    const interrupted = /interrupted: checkpoint at epoch 1, step (\d+)/.exec(stderr);
    expect(interrupted, stderr).not.toBeNull();
    const step = Number(interrupted![1]);
    expect(summary.checkpoint).toMatch(new RegExp(`epoch-0001-step-${String(step).padStart(6, '0')}$`));
    expect(readdirSync(join(out, 'checkpoints')).some((name) => name.includes('.tmp'))).toBe(false);
    const saved = await loadCheckpoint(out);
    expect([saved.state.epoch, saved.state.step]).toEqual([1, step]);
    expect(existsSync(join(out, 'latest'))).toBe(true);
  });

  it('patchstream train - after SIGKILL, --resume from the last checkpoint continues with the batches an uninterrupted run would see', async () => {
    // The same 48 images as `shapes`, as a folder the CLI can read (same names, so the same order).
    const data = join(folder.dir, 'subset');
    for (const sample of shapes.samples) {
      const classDir = join(data, shapes.classes[sample.label]!);
      mkdirSync(classDir, { recursive: true });
      copyFileSync(sample.path, join(classDir, basename(sample.path)));
    }
    const listed = await imageFolder(data);
    expect(listed.samples.map((s) => basename(s.path))).toEqual(shapes.samples.map((s) => basename(s.path)));

    const straight: string[] = [];
    await train(listed, { ...quick, epochs: 5, out: join(folder.dir, 'straight-kill'), finalEvaluation: false, onStep: ({ epoch, step, indices }) => void straight.push(`${epoch}:${step}:${Array.from(indices).join(',')}`) });

    const out = join(folder.dir, 'killed');
    const child = spawn(process.execPath, [resolve('bin/patchstream.js'), 'train', data, '--model', 'alexnet-small', '--width', '0.5', '--rescale', '20', '--crop', '16', '--batch-size', '8', '--lr', '0.02', '--val-fraction', '0.25', '--seed', '5', '--epochs', '5', '--backend', 'wasm', '--workers', '1', '--checkpoint-every', '2', '--out', out], { stdio: 'ignore' });
    // Kill it hard once a mid-epoch checkpoint of the second epoch exists.
    await new Promise<void>((resolveWait, reject) => {
      const timer = setInterval(() => {
        const names = existsSync(join(out, 'checkpoints')) ? readdirSync(join(out, 'checkpoints')) : [];
        if (names.some((name) => /^epoch-000[1-3]-step-\d+$/.test(name) && name !== 'epoch-0001-step-000000')) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolveWait();
        }
      }, 20);
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') {
          clearInterval(timer);
          reject(new Error(`finished before it could be killed (code ${code})`));
        }
      });
    });
    await new Promise((resolveExit) => child.on('exit', resolveExit));
    const saved = await loadCheckpoint(out);
    const resumed: string[] = [];
    await train(listed, { ...quick, epochs: 5, out, resume: out, finalEvaluation: false, onStep: ({ epoch, step, indices }) => void resumed.push(`${epoch}:${step}:${Array.from(indices).join(',')}`) });
    const from = straight.findIndex((entry) => entry.startsWith(`${saved.state.epoch}:${saved.state.step + 1}:`));
    expect(from).toBeGreaterThan(0);
    expect(resumed).toEqual(straight.slice(from));
  });
});
