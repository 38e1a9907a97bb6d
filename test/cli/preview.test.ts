import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { imageFolder } from '../../src/dataset/image-folder.js';
import type { Dataset } from '../../src/dataset/types.js';
import type { Batch } from '../../src/loader/batch.js';
import { createLoader, type Loader } from '../../src/loader/loader.js';
import type { LoaderOptions } from '../../src/options.js';
import { sampleParams } from '../../src/pipeline/plan.js';
import { CAPTION_HEIGHT, contactSheet, contactSheetLayout, drawContactSheet, HEADER_HEIGHT, LABEL_HEIGHT, ROW_CAPTION_HEIGHT } from '../../src/preview/contact-sheet.js';
import { temporaryFolder } from '../helpers.js';

const BACKGROUND = [30, 30, 34];
const folder = temporaryFolder('patchstream-preview-');
const data = join(folder.dir, 'data');
let dataset: Dataset;

/**
 * 3 classes x 4 images of mixed sizes. Every pixel has all channels >= 70 (far from the sheet's
 * background, lighting or not), and the left fifth is a bright bar: no patch is its own mirror.
 */
async function makeDataset(): Promise<void> {
  const classes = { red: 200, green: 140, blue: 90 };
  for (const [name, tone] of Object.entries(classes)) {
    mkdirSync(join(data, name), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const width = 72 + i * 12;
      const height = 64 + (i % 2) * 24;
      const pixels = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const bar = x < width / 5;
          pixels.set(bar ? [245, 240, 120] : [70 + Math.round((x * 150) / width), tone, 70 + Math.round((y * 150) / height)], (y * width + x) * 3);
        }
      }
      await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(join(data, name, `${name}-${i}.png`));
    }
  }
}

beforeAll(async () => {
  await makeDataset();
  dataset = await imageFolder(data);
});
afterAll(() => folder.remove());
afterEach(() => vi.restoreAllMocks());

/** Runs the CLI in-process; returns the exit code and what it printed. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(['node', 'patchstream', ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

interface Picture {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

// Decode from a buffer: this process has created loaders, which allow only the *buffer* loaders.
async function readPng(path: string): Promise<Picture> {
  const { data, info } = await sharp(await readFile(path)).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function decode(png: Buffer): Promise<Picture> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function pixelAt(picture: Picture, x: number, y: number): number[] {
  const at = (y * picture.width + x) * picture.channels;
  return [picture.data[at]!, picture.data[at + 1]!, picture.data[at + 2]!];
}

/** Pixels of a rectangle equal to the background, and the total. */
function countBackground(picture: Picture, left: number, top: number, width: number, height: number): { background: number; total: number } {
  let background = 0;
  for (let y = top; y < top + height; y++) {
    for (let x = left; x < left + width; x++) {
      const [r, g, b] = pixelAt(picture, x, y);
      if (r === BACKGROUND[0] && g === BACKGROUND[1] && b === BACKGROUND[2]) background++;
    }
  }
  return { background, total: width * height };
}

function tile(picture: Picture, left: number, top: number, side: number): number[][][] {
  return Array.from({ length: side }, (_, v) => Array.from({ length: side }, (_, u) => pixelAt(picture, left + u, top + v)));
}

const mirror = (pixels: number[][][]) => pixels.map((row) => [...row].reverse());

async function firstBatch(options: LoaderOptions): Promise<{ loader: Loader; batch: Batch }> {
  const loader = createLoader(dataset, { rescale: 64, crop: 48, workers: 1, dtype: 'float32', ...options });
  let batch: Batch | undefined;
  for await (const first of loader.epoch(0)) {
    batch = first.clone();
    break;
  }
  await loader.close();
  return { loader, batch: batch! };
}

describe('contactSheetLayout()', () => {
  it('contactSheetLayout() - the documented size formulas', () => {
    // train / centre: columns = ceil(sqrt(n)), width = columns * (side + gap) + gap, height = 30 + rows * (side + 60 + gap) + gap
    expect(contactSheetLayout('train', 16, 224)).toMatchObject({ columns: 4, rows: 4, side: 224, width: 4 * 232 + 8, height: 30 + 4 * (224 + 60 + 8) + 8, tiles: 16 });
    expect(contactSheetLayout('centre', 7, 48)).toMatchObject({ columns: 3, rows: 3, side: 160, width: 3 * 168 + 8, height: 30 + 3 * (160 + 60 + 8) + 8 });
    expect(contactSheetLayout('train', 5, 28, { tile: 64, gap: 4 })).toMatchObject({ columns: 3, rows: 2, side: 64, width: 3 * 68 + 4, height: 30 + 2 * (64 + 60 + 4) + 4 });
    // ten-crop: 10 columns, one row per image, height = 30 + n * (20 + side + 16 + gap) + gap
    expect(contactSheetLayout('ten-crop', 3, 48)).toMatchObject({ columns: 10, rows: 3, tiles: 30, width: 10 * 168 + 8, height: 30 + 3 * (20 + 160 + 16 + 8) + 8 });
    expect([HEADER_HEIGHT, CAPTION_HEIGHT, ROW_CAPTION_HEIGHT, LABEL_HEIGHT]).toEqual([30, 60, 20, 16]);
    expect(() => contactSheetLayout('train', 4, 48, { tile: 0 })).toThrow('Expected integer between 1 and 4096 for options.tile but received 0 of type number');
  });
});

describe('contactSheet()', () => {
  it('contactSheet() - tiles are the batch de-normalised: clamp(round((x * std + mean) * 255)), at the documented places', async () => {
    const { loader, batch } = await firstBatch({ mode: 'train', batchSize: 5, seed: 7 });
    const sheet = await contactSheet(loader, batch, { tile: 48 });
    const picture = await decode(sheet.png);
    expect([picture.width, picture.height, picture.channels]).toEqual([sheet.width, sheet.height, 3]);
    expect([sheet.width, sheet.height, sheet.tiles]).toEqual([3 * 56 + 8, 30 + 2 * (48 + 60 + 8) + 8, 5]);
    const { mean, std } = loader.plan.normalize as { mean: number[]; std: number[] };
    const layout = contactSheetLayout('train', 5, 48, { tile: 48 });
    for (let k = 0; k < 5; k++) {
      const { left, top } = layout.tileOrigin(k);
      for (const [x, y] of [[0, 0], [47, 0], [13, 29], [47, 47]] as const) {
        const expected = [0, 1, 2].map((c) => {
          const value = batch.images[k * 48 * 48 * 3 + (y * 48 + x) * 3 + c]!;
          return Math.min(255, Math.max(0, Math.round((value * std[c]! + mean[c]!) * 255)));
        });
        expect(pixelAt(picture, left + x, top + y)).toEqual(expected);
      }
    }
  });

  it('contactSheet() - the PCA lighting shift stays visible: lighting on minus off is shift * 255 per channel', async () => {
    const on = await firstBatch({ mode: 'train', batchSize: 4, seed: 11 });
    const off = await firstBatch({ mode: 'train', batchSize: 4, seed: 11, lighting: false });
    expect(Array.from(on.batch.indices)).toEqual(Array.from(off.batch.indices));
    const withLighting = await decode((await contactSheet(on.loader, on.batch, { tile: 48, captions: false })).png);
    const without = await decode((await contactSheet(off.loader, off.batch, { tile: 48, captions: false })).png);
    const layout = contactSheetLayout('train', 4, 48, { tile: 48 });
    let largest = 0;
    for (let k = 0; k < 4; k++) {
      const shift = sampleParams(on.loader.plan, 0, on.batch.indices[k]!).lighting!.shift;
      const { left, top } = layout.tileOrigin(k);
      const a = pixelAt(withLighting, left + 30, top + 20);
      const b = pixelAt(without, left + 30, top + 20);
      for (let c = 0; c < 3; c++) {
        expect(Math.abs(a[c]! - b[c]! - shift[c]! * 255)).toBeLessThanOrEqual(1);
        largest = Math.max(largest, Math.abs(a[c]! - b[c]!));
      }
    }
    expect(largest).toBeGreaterThan(0);
  });

  it('contactSheet() - a uint8 batch (lighting and normalisation left in batch.affine) draws like the float32 one', async () => {
    const float = await firstBatch({ mode: 'train', batchSize: 3, seed: 5 });
    const bytes = await firstBatch({ mode: 'train', batchSize: 3, seed: 5, dtype: 'uint8' });
    const a = await decode((await contactSheet(float.loader, float.batch, { captions: false })).png);
    const b = await decode((await contactSheet(bytes.loader, bytes.batch, { captions: false })).png);
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    let largest = 0;
    for (let i = 0; i < a.data.length; i++) largest = Math.max(largest, Math.abs(a.data[i]! - b.data[i]!));
    expect(largest).toBeLessThanOrEqual(1);
  });

  it('contactSheet() - captions draw text in the strips; without text rendering the same sheet comes without them', async () => {
    const { loader, batch } = await firstBatch({ mode: 'centre', batchSize: 4 });
    const drawn = await contactSheet(loader, batch);
    const failing = await drawContactSheet(loader, batch, {}, () => Promise.reject(new Error('VipsOperation: class "text" not found')));
    const none = await contactSheet(loader, batch, { captions: false });
    expect(drawn).toMatchObject({ captions: true, captionError: null });
    expect(failing).toMatchObject({ captions: false, captionError: 'VipsOperation: class "text" not found', width: drawn.width, height: drawn.height, tiles: 4 });
    expect(none).toMatchObject({ captions: false, captionError: null });
    const layout = contactSheetLayout('centre', 4, 48);
    const { left, top } = layout.tileOrigin(0);
    const strip = (picture: Picture) => countBackground(picture, left, top + layout.side, layout.side, CAPTION_HEIGHT);
    const withText = strip(await decode(drawn.png));
    expect(withText.background).toBeLessThan(withText.total * 0.97);
    expect(strip(await decode(failing.png)).background).toBe(withText.total);
    expect(failing.png.equals(none.png)).toBe(true);
  });

  it('contactSheet() - rejects a batch from another plan', async () => {
    const { loader } = await firstBatch({ mode: 'train', batchSize: 2 });
    const { batch } = await firstBatch({ mode: 'ten-crop', batchSize: 2 });
    await expect(contactSheet(loader, batch)).rejects.toThrow(RangeError);
  });
});

describe('patchstream preview', () => {
  it('patchstream preview - train: a PNG of the documented size, 7 tiles of image content on the background', async () => {
    const out = join(folder.dir, 'out', 'train.png');
    const { code, stdout } = await run('preview', data, '--out', out, '--rescale', '64', '--crop', '48', '--count', '7', '--seed', '3', '--epoch', '1', '--workers', '1', '--json');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const side = 160;
    const width = 3 * (side + 8) + 8;
    const height = 30 + 3 * (side + 60 + 8) + 8;
    expect(summary).toMatchObject({ type: 'summary', out, width, height, tiles: 7, mode: 'train', images: 7, columns: 3, rows: 3, captions: true });
    const picture = await readPng(out);
    expect([picture.width, picture.height]).toEqual([width, height]);
    for (let cell = 0; cell < 9; cell++) {
      const left = 8 + (cell % 3) * (side + 8);
      const top = 30 + 8 + Math.floor(cell / 3) * (side + 60 + 8);
      const area = countBackground(picture, left, top, side, side);
      // Cells 0-6 hold a patch (no pixel of it is the background colour); 7 and 8 are empty.
      expect(area.background).toBe(cell < 7 ? 0 : area.total);
    }
    // The gaps: the side margins top to bottom, the gutters between columns below the header.
    for (const [left, top] of [[0, 0], [8 + side, 30], [8 + 2 * side + 8, 30], [width - 8, 0]] as const) {
      const gutter = countBackground(picture, left, top, 8, height - top);
      expect(gutter.background).toBe(gutter.total);
    }
    const bottom = countBackground(picture, 0, height - 8, width, 8);
    expect(bottom.background).toBe(bottom.total);
  });

  it('patchstream preview - ten-crop: one row of 10 tiles per image, the last five mirrors of the first five', async () => {
    const out = join(folder.dir, 'out', 'ten.png');
    const { code, stdout } = await run('preview', data, '--out', out, '--mode', 'ten-crop', '--rescale', '64', '--crop', '48', '--count', '3', '--workers', '1', '--json');
    expect(code).toBe(0);
    const side = 160;
    const width = 10 * (side + 8) + 8;
    const height = 30 + 3 * (20 + side + 16 + 8) + 8;
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ out, width, height, tiles: 30, mode: 'ten-crop', columns: 10, rows: 3 });
    const picture = await readPng(out);
    expect([picture.width, picture.height]).toEqual([width, height]);
    for (let row = 0; row < 3; row++) {
      const top = 30 + 8 + row * (20 + side + 16 + 8) + 20;
      const tiles = Array.from({ length: 10 }, (_, p) => {
        const left = 8 + p * (side + 8);
        expect(countBackground(picture, left, top, side, side).background).toBe(0);
        return tile(picture, left, top, side);
      });
      for (let p = 0; p < 5; p++) {
        expect(tiles[p]).not.toEqual(mirror(tiles[p]!)); // the bar makes every patch asymmetric
        expect(tiles[p + 5]).toEqual(mirror(tiles[p]!));
      }
      expect(tiles[0]).not.toEqual(tiles[1]); // TL and TR are different places
      expect(tiles[0]).not.toEqual(tiles[2]); // TL and BL too
    }
  });

  it('patchstream preview - exit codes: 0 done, 2 bad usage, 1 failure, errors on one line', async () => {
    const out = join(folder.dir, 'out', 'codes.png');
    expect((await run('preview', data, '--out', out, '--rescale', '64', '--crop', '48', '--count', '2', '--workers', '1')).code).toBe(0);
    const zero = await run('preview', data, '--out', out, '--count', '0');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain("'--count <n>' argument '0' is invalid");
    expect((await run('preview', data, '--out', out, '--mode', 'random')).code).toBe(2);
    expect((await run('preview', data)).code).toBe(2); // --out is required
    expect((await run('preview', data, '--out', out, '--rescale', '32', '--crop', '48')).code).toBe(2);
    const missing = await run('preview', join(folder.dir, 'no-such-dir'), '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Cannot open dataset folder .*no-such-dir/);
  });
});
