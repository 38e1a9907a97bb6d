/** Test helpers: small datasets made on the fly with sharp, in a temporary folder; running the CLI. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import { DatasetError } from '../src/errors.js';
import type { Dataset } from '../src/dataset/types.js';
import type { Batch } from '../src/loader/batch.js';

/** A fresh temporary folder, removed by the returned cleanup. */
export function temporaryFolder(prefix = 'patchstream-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The colour that encodes sample `index` in {@link indexDataset}. */
export function indexColour(index: number): [number, number, number] {
  return [index % 256, Math.floor(index / 256) % 256, 77];
}

/** Decodes an index from a uint8 RGB pixel written by {@link indexDataset}. */
export function colourIndex(r: number, g: number): number {
  return r + 256 * g;
}

/**
 * `count` solid-colour PNGs whose colour encodes their index, label = index % classes.
 * Sizes vary (landscape, portrait) so rescaling really happens.
 */
export async function indexDataset(dir: string, count: number, classes = 5): Promise<Dataset> {
  mkdirSync(dir, { recursive: true });
  const samples = [];
  for (let index = 0; index < count; index++) {
    const [r, g, b] = indexColour(index);
    const path = join(dir, `img-${String(index).padStart(5, '0')}.png`);
    const width = 40 + (index % 7) * 9;
    const height = 40 + (index % 5) * 11;
    await sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toFile(path);
    samples.push({ path, label: index % classes });
  }
  return { samples, classes: Array.from({ length: classes }, (_, c) => `class-${c}`), root: dir };
}

/** Seeded noise JPEGs/PNGs of mixed sizes: every crop, flip and lighting choice shows in the pixels. */
export async function texturedDataset(dir: string, count: number, classes = 4): Promise<Dataset> {
  mkdirSync(dir, { recursive: true });
  const samples = [];
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  for (let index = 0; index < count; index++) {
    const width = 48 + (index % 4) * 16;
    const height = 40 + (index % 3) * 20;
    const data = Buffer.alloc(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = next();
    const path = join(dir, `tex-${String(index).padStart(4, '0')}.${index % 2 ? 'png' : 'jpg'}`);
    await sharp(data, { raw: { width, height, channels: 3 } }).toFile(path);
    samples.push({ path, label: index % classes });
  }
  return { samples, classes: Array.from({ length: classes }, (_, c) => `c${c}`), root: dir };
}

/** A `side x side` PNG whose pixel (x, y) is R = x * step, G = y * step, B = 50. */
export async function coordinatePng(path: string, side: number, step: number): Promise<void> {
  const data = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data.set([x * step, y * step, 50], (y * side + x) * 3);
  await sharp(data, { raw: { width: side, height: side, channels: 3 } }).png().toFile(path);
}

/** Collects every batch of an async iterable as owned copies. */
export async function collect<T extends { clone(): T }>(batches: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const batch of batches) out.push(batch.clone());
  return out;
}

/** What an epoch's iteration ends with: the error, or null when it completes. */
export async function outcome(iteration: AsyncIterable<Batch>, onBatch: (batch: Batch) => void = () => undefined): Promise<unknown> {
  try {
    for await (const batch of iteration) onBatch(batch);
  } catch (error) {
    return error;
  }
  return null;
}

/** Awaits a promise that must reject with a {@link DatasetError}, and returns the error. */
export async function rejection(promise: Promise<unknown>): Promise<DatasetError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DatasetError);
  return error as DatasetError;
}

/** Runs `patchstream <args>` (bin/patchstream.js, which loads dist/) to completion. */
export function runCli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [resolve('bin/patchstream.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** The objects of a `--json` run's stdout, one per line (the last is the summary). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}
