/**
 * Bad inputs through the real loader (worker threads, onError 'throw' and 'skip'). Decoding of
 * each fixture on its own is in test/stages/decode.test.ts and listing odd names in
 * test/dataset/image-folder.test.ts; here every case goes through createLoader(), and the
 * checks are the loader's promises: the error names the file, the stage and the reason, a
 * skip is counted by code, labels never shift, nothing hangs.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoader } from '../../src/loader/loader.js';
import { epochOrder } from '../../src/loader/sampler.js';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { SampleError, type SampleErrorCode } from '../../src/errors.js';
import { decodeFailure } from '../../src/stages/decode.js';
import type { Dataset } from '../../src/dataset/types.js';
import type { Batch } from '../../src/loader/batch.js';
import { colourIndex, indexColour, indexDataset, outcome, temporaryFolder } from '../helpers.js';
import { mulberry32 } from '../../scripts/seeded.mjs';

const BROKEN = resolve('fixtures/broken');
const ODD = resolve('fixtures/odd');
const folder = temporaryFolder('patchstream-bad-inputs-');
afterAll(() => folder.remove());

/** Raw uint8 pixels, so the colour of an index image names its dataset index. */
const identity = { rescale: 32, crop: 24, dtype: 'uint8', normalize: false } as const;

/**
 * What sharp says when libvips failed on a warning but the detail is gone. libvips' error
 * buffer and sharp's warning queue are process-wide: with decodes in flight in other threads
 * (workers, inFlight), one failing decode can clear or take another's detail, or even report
 * the other's text (seen: truncated.png reported with corrupt-scan.jpg's "VipsJpeg: Corrupt JPEG
 * data"). The code, stage and path are patchstream's own and exact; a DECODE reason is libvips'
 * best effort, so it is only checked to be a decoder message.
 */
const DETAIL_LOST = 'Warning treated as error due to failOn setting';
const DECODER_MESSAGE = new RegExp(`Vips|libpng|pngload|jpeg|${DETAIL_LOST}`, 'i');

/** What the loader must make of each file in fixtures/broken (see fixtures/README.md). */
const BROKEN_EXPECTED: Record<string, { code: SampleErrorCode; stage: string; reason: RegExp } | 'decodes'> = {
  'truncated.jpg': { code: 'DECODE', stage: 'decode', reason: DECODER_MESSAGE },
  'truncated.png': { code: 'DECODE', stage: 'decode', reason: DECODER_MESSAGE },
  'corrupt-scan.jpg': { code: 'DECODE', stage: 'decode', reason: DECODER_MESSAGE },
  'empty.jpg': { code: 'EMPTY', stage: 'read', reason: /empty \(0 bytes\)/ },
  'one-byte.jpg': { code: 'EMPTY', stage: 'read', reason: /only 1 bytes/ },
  'text.jpg': { code: 'UNSUPPORTED', stage: 'sniff', reason: /TEXT content is not an allowed format/ },
  'html.jpg': { code: 'UNSUPPORTED', stage: 'sniff', reason: /HTML content/ },
  'svg-named.jpg': { code: 'UNSUPPORTED', stage: 'sniff', reason: /SVG content/ },
  'pdf-named.jpg': { code: 'UNSUPPORTED', stage: 'sniff', reason: /PDF content/ },
  'tiff-named.jpg': { code: 'UNSUPPORTED', stage: 'sniff', reason: /TIFF content in a \.jpg file/ },
  'bomb.png': { code: 'PIXEL_LIMIT', stage: 'decode', reason: /exceeds pixel limit.*limitInputPixels is 50000000/ },
  'png-named.jpg': 'decodes',
};

/** The message format of every SampleError: `CODE path (stage S): reason`. */
function expectMessage(error: SampleError): void {
  expect(error.message).toBe(`${error.code} ${error.path} (stage ${error.stage}): ${error.reason}`);
  expect(error.reason.length).toBeGreaterThan(0);
}

/** The uint8 RGB of image k's centre pixel. */
function centre(batch: Batch, k: number): [number, number, number] {
  const side = batch.shape[1];
  const at = k * side * side * 3 + ((side >> 1) * side + (side >> 1)) * 3;
  return [batch.images[at]!, batch.images[at + 1]!, batch.images[at + 2]!];
}

describe('decodeFailure() - reasons', () => {
  it("decodeFailure() - keeps libvips' warnings when sharp's first line only says a warning was treated as an error", () => {
    const failure = decodeFailure(new Error(`${DETAIL_LOST}\nVipsJpeg: premature end of JPEG image\n`));
    expect(failure).toEqual({ code: 'DECODE', stage: 'decode', reason: `${DETAIL_LOST}: VipsJpeg: premature end of JPEG image` });
    expect(decodeFailure(new Error(DETAIL_LOST)).reason).toBe(DETAIL_LOST);
    expect(decodeFailure(new Error('VipsJpeg: Bogus marker length\nsecond line')).reason).toBe('VipsJpeg: Bogus marker length');
  });
});

describe("createLoader() - every fixtures/broken file mixed with good images", () => {
  let good: Dataset;
  let mixed: Dataset;
  /** Dataset index -> broken fixture name. */
  const brokenAt = new Map<number, string>();

  beforeAll(async () => {
    expect(readdirSync(BROKEN).sort()).toEqual(Object.keys(BROKEN_EXPECTED).sort()); // a new fixture must be classified here
    good = await indexDataset(join(folder.dir, 'mixed-good'), 48, 5);
    const samples = [...good.samples];
    Object.keys(BROKEN_EXPECTED).sort().forEach((name, i) => {
      const at = 2 + i * 5;
      samples.splice(at, 0, { path: join(BROKEN, name), label: i % 5 });
    });
    samples.forEach((sample, index) => {
      if (dirname(sample.path) === BROKEN) brokenAt.set(index, basename(sample.path));
    });
    mixed = { samples, classes: good.classes };
  });

  it("createLoader() - onError 'skip': the good ones all arrive with their labels, skips counted exactly by code, stage and reason", async () => {
    const loader = createLoader(mixed, { ...identity, batchSize: 8, workers: 2, seed: 11, onError: 'skip', maxSkipped: 11 });
    const seen = new Set<number>();
    const skippedInBatches: SampleError[] = [];
    for await (const batch of loader.epoch(0)) {
      expect(batch.shape).toEqual([batch.labels.length, 24, 24, 3]);
      skippedInBatches.push(...batch.skipped);
      for (let k = 0; k < batch.labels.length; k++) {
        const index = batch.indices[k]!;
        const sample = mixed.samples[index]!;
        expect(batch.labels[k]).toBe(sample.label);
        expect(seen.has(index)).toBe(false);
        seen.add(index);
        if (brokenAt.get(index) === 'png-named.jpg') continue; // the scene, not an index colour
        expect(brokenAt.has(index), `${sample.path} was delivered`).toBe(false);
        const [r, g] = centre(batch, k);
        expect(good.samples[colourIndex(r, g)]!.path).toBe(sample.path);
      }
    }
    const shouldFail = [...brokenAt].filter(([, name]) => BROKEN_EXPECTED[name] !== 'decodes');
    expect(seen.size).toBe(mixed.samples.length - shouldFail.length);
    const pngNamed = [...brokenAt].find(([, name]) => name === 'png-named.jpg')![0];
    expect(seen.has(pngNamed)).toBe(true);

    const stats = loader.stats();
    expect(stats.skipped).toEqual({ DECODE: 3, EMPTY: 2, UNSUPPORTED: 5, PIXEL_LIMIT: 1 });
    expect(stats.skippedTotal).toBe(11);
    expect(stats.skippedFiles.map((f) => f.index).sort((a, b) => a - b)).toEqual(shouldFail.map(([index]) => index));
    for (const file of stats.skippedFiles) {
      const expected = BROKEN_EXPECTED[basename(file.path)];
      expect(expected, file.path).not.toBe('decodes');
      if (expected === 'decodes' || expected === undefined) continue;
      expect({ path: file.path, code: file.code, stage: file.stage }).toEqual({ path: mixed.samples[file.index]!.path, code: expected.code, stage: expected.stage });
      expect(file.reason, file.path).toMatch(expected.reason);
    }
    expect(skippedInBatches.length).toBe(11);
    skippedInBatches.forEach(expectMessage);
    await loader.close();
  });

  it("createLoader() - onError 'throw': the first bad file in epoch order fails the epoch, naming path, stage and reason", async () => {
    const batchSize = 8;
    const firstFailures = new Set<string>();
    for (const epoch of [0, 1, 2]) {
      const loader = createLoader(mixed, { ...identity, batchSize, workers: 2, seed: 11 });
      const order = epochOrder(mixed.samples.length, epoch, { shuffle: true, seed: 11, shard: { rank: 0, worldSize: 1 } });
      const position = order.findIndex((index) => brokenAt.has(index) && BROKEN_EXPECTED[brokenAt.get(index)!] !== 'decodes');
      const index = order[position]!;
      const expected = BROKEN_EXPECTED[brokenAt.get(index)!] as Exclude<(typeof BROKEN_EXPECTED)[string], 'decodes'>;
      let delivered = 0;
      const error = await outcome(loader.epoch(epoch), (batch) => (delivered += batch.labels.length));
      expect(error).toBeInstanceOf(SampleError);
      const sampleError = error as SampleError;
      expect({ index: sampleError.index, path: sampleError.path, label: sampleError.label, code: sampleError.code, stage: sampleError.stage }, `epoch ${epoch}: ${sampleError.message}`)
        .toEqual({ index, path: mixed.samples[index]!.path, label: mixed.samples[index]!.label, code: expected.code, stage: expected.stage });
      expect(sampleError.reason).toMatch(expected.reason);
      expectMessage(sampleError);
      // Whole batches before the failing one arrived (png-named.jpg among them counts as good).
      const failingBatch = Math.floor(position / batchSize);
      expect(delivered).toBe(failingBatch * batchSize);
      expect(loader.stats().threads).toBe(0);
      firstFailures.add(basename(sampleError.path));
      await loader.close();
    }
    expect(firstFailures.size).toBeGreaterThan(0);
  });
});

describe('createLoader() - 100 seeded mutations of a valid JPEG', () => {
  it("createLoader() - all 100 through one loader under 'skip': each delivered or counted, finite pixels, no crash, no hang", async () => {
    const dir = join(folder.dir, 'mutations');
    mkdirSync(dir, { recursive: true });
    // A 160x120 noisy gradient, q85 4:2:0: about 10 KB of entropy-coded scan data.
    const width = 160;
    const height = 120;
    const raw = Buffer.alloc(width * height * 3);
    const random = mulberry32(0x9e3779b9);
    const below = (n: number) => Math.floor(random() * n);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) raw.set([(x * 255) / width + below(40), (y * 255) / height + below(40), 128 + below(60)], (y * width + x) * 3);
    }
    const valid = await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    // Walk the marker segments to the start of scan (SOS, FF DA); the scan data follows its header.
    let at = 2;
    while (!(valid[at] === 0xff && valid[at + 1] === 0xda)) at += 2 + valid.readUInt16BE(at + 2);
    const scanStart = at + 2 + valid.readUInt16BE(at + 2);
    const scanEnd = valid.length - 2; // FF D9
    expect(scanEnd - scanStart).toBeGreaterThan(4000);

    const kinds: Array<'scan' | 'truncate' | 'header'> = [];
    const samples: Array<{ path: string; label: number }> = [];
    for (let m = 0; m < 100; m++) {
      const kind = m < 80 ? 'scan' : m < 90 ? 'truncate' : 'header';
      let bytes = Buffer.from(valid);
      const flip = (at: number) => void (bytes[at] = bytes[at]! ^ (1 + below(255)));
      if (kind === 'scan') {
        for (let flips = 1 + below(8); flips > 0; flips--) flip(scanStart + below(scanEnd - scanStart));
      } else if (kind === 'truncate') {
        bytes = bytes.subarray(0, 2 + below(valid.length - 3));
      } else {
        for (let flips = 1 + below(3); flips > 0; flips--) flip(2 + below(scanStart - 2));
      }
      const path = join(dir, `mutation-${String(m).padStart(3, '0')}.jpg`);
      writeFileSync(path, bytes);
      kinds.push(kind);
      samples.push({ path, label: m % 10 });
    }
    const dataset = { samples, classes: Array.from({ length: 10 }, (_, c) => `c${c}`) };
    const loader = createLoader(dataset, { rescale: 40, crop: 32, batchSize: 16, workers: 2, seed: 3, onError: 'skip', maxSkipped: Infinity, sampleTimeout: 3 });

    const runEpoch = async (epoch: number) => {
      const delivered = new Set<number>();
      const skipped: SampleError[] = [];
      for await (const batch of loader.epoch(epoch)) {
        skipped.push(...batch.skipped);
        expect(batch.shape).toEqual([batch.labels.length, 32, 32, 3]);
        for (const value of batch.images) if (!Number.isFinite(value)) throw new Error(`non-finite value in batch ${batch.index}`);
        batch.indices.forEach((index, k) => {
          expect(batch.labels[k]).toBe(samples[index]!.label);
          expect(delivered.has(index)).toBe(false);
          delivered.add(index);
        });
      }
      return { delivered, skipped };
    };

    const started = performance.now();
    const first = await runEpoch(0);
    const seconds = (performance.now() - started) / 1000;
    expect(first.delivered.size + first.skipped.length).toBe(100);
    for (const index of first.delivered) expect(first.skipped.some((f) => f.index === index)).toBe(false);
    // Codes a mutated JPEG may get; never a crashed or hung worker.
    for (const file of first.skipped) {
      expect(['DECODE', 'UNSUPPORTED', 'EMPTY', 'PIXEL_LIMIT'], file.message).toContain(file.code);
      expect(file.path).toBe(samples[file.index]!.path);
      expectMessage(file);
    }
    expect(loader.stats().skippedTotal).toBe(first.skipped.length);
    expect(loader.stats().replacedWorkers).toBe(0);
    // No hang: 100 small files; a hang would take the watchdog's 5 s per sample at least.
    expect(seconds).toBeLessThan(45);

    // The same outcome again: decoding is deterministic, so a flaky crash or timeout would show.
    const second = await runEpoch(1);
    expect([...second.delivered].sort((a, b) => a - b)).toEqual([...first.delivered].sort((a, b) => a - b));
    // Counted every epoch, listed once.
    expect(loader.stats().skippedTotal).toBe(2 * first.skipped.length);
    expect(loader.stats().skippedFiles.map((f) => f.index).sort((a, b) => a - b)).toEqual(first.skipped.map((f) => f.index).sort((a, b) => a - b));

    const table: Record<string, Record<string, number>> = {};
    kinds.forEach((kind, index) => {
      const failure = first.skipped.find((f) => f.index === index);
      const result = failure ? `${failure.code} (${failure.stage})` : 'decoded';
      table[kind] ??= {};
      table[kind][result] = (table[kind][result] ?? 0) + 1;
    });
    const codes: Record<string, number> = {};
    for (const file of first.skipped) codes[file.code] = (codes[file.code] ?? 0) + 1;
    console.log(`100 JPEG mutations in ${seconds.toFixed(2)} s: ${first.delivered.size} decoded, ${first.skipped.length} skipped ${JSON.stringify(codes)}`);
    console.table(table);
    const reasons = new Map<string, number>();
    for (const file of first.skipped) {
      const reason = `${file.code}: ${file.reason.replace(/\d+/g, 'N')}`;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    console.log([...reasons].map(([reason, count]) => `${count} x ${reason}`).join('\n'));
    await loader.close();
  }, 120_000);
});

describe('createLoader() - odd file names through imageFolder()', () => {
  it('createLoader() - spaces, commas, quotes, non-ASCII and a leading dash all decode with the right labels', async () => {
    const root = join(folder.dir, 'odd-names');
    const names = ['a b.png', 'c,d.png', "q'uote.png", 'dq"x.jpg', '中文.png', 'é.jpg', '-dash.png', '--help.jpg', ' lead space.png', "it's, \"both\".png"];
    const classes = ["class 'one', \"x\"", '猫 -v'];
    // Colours far apart (steps of 11 in red) so a JPEG's rounding cannot mistake one for another.
    const colourOf = new Map<string, [number, number, number]>();
    let id = 0;
    for (const className of classes) {
      mkdirSync(join(root, className), { recursive: true });
      for (const name of names) {
        const colour: [number, number, number] = [10 + 11 * id, 200 - 9 * id, 60 + (id % 2) * 100];
        id++;
        const path = join(root, className, name);
        const image = sharp({ create: { width: 48 + id, height: 40, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } });
        await (name.endsWith('.jpg') ? image.jpeg({ quality: 95 }) : image.png()).toFile(path);
        colourOf.set(path, colour);
      }
    }
    const dataset = await imageFolder(root);
    expect(dataset.classes).toEqual([...classes].sort());
    expect(dataset.samples).toHaveLength(names.length * classes.length);
    const loader = createLoader(dataset, { ...identity, batchSize: 6, workers: 2, seed: 1 });
    let total = 0;
    for await (const batch of loader.epoch(0)) {
      for (let k = 0; k < batch.labels.length; k++) {
        const sample = dataset.samples[batch.indices[k]!]!;
        expect(batch.labels[k]).toBe(dataset.classes.indexOf(basename(dirname(sample.path))));
        const expected = colourOf.get(sample.path)!;
        const got = centre(batch, k);
        for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - expected[c]!), `${sample.path} channel ${c}: ${got} vs ${expected}`).toBeLessThanOrEqual(3);
      }
      total += batch.labels.length;
    }
    expect(total).toBe(names.length * classes.length);
    expect(loader.stats().skippedTotal).toBe(0);
    await loader.close();
  });
});

describe('createLoader() - files that change after the dataset was listed', () => {
  let root: string;
  let dataset: Dataset;
  let deleted: string;
  let replaced: string;

  beforeAll(async () => {
    root = join(folder.dir, 'changing');
    for (let index = 0; index < 24; index++) {
      const [r, g, b] = indexColour(index);
      const dir = join(root, `class-${index % 3}`);
      mkdirSync(dir, { recursive: true });
      await sharp({ create: { width: 40, height: 36, channels: 3, background: { r, g, b } } }).png().toFile(join(dir, `img-${String(index).padStart(2, '0')}.png`));
    }
    dataset = await imageFolder(root);
    deleted = dataset.samples[5]!.path;
    replaced = dataset.samples[14]!.path;
    unlinkSync(deleted);
    rmSync(replaced);
    mkdirSync(replaced);
  });

  /** The index image a dataset sample was made from (its file name holds the number). */
  const madeAs = (path: string) => Number(/img-(\d+)\.png$/.exec(path)![1]);

  it("createLoader() - onError 'skip': IO errors name the deleted file and the folder; the epoch completes, labels right", async () => {
    const loader = createLoader(dataset, { ...identity, batchSize: 5, workers: 2, seed: 2, onError: 'skip' });
    let total = 0;
    for await (const batch of loader.epoch(0)) {
      for (let k = 0; k < batch.labels.length; k++) {
        const sample = dataset.samples[batch.indices[k]!]!;
        const [r, g] = centre(batch, k);
        expect(colourIndex(r, g)).toBe(madeAs(sample.path));
        expect(batch.labels[k]).toBe(madeAs(sample.path) % 3);
        expect(batch.labels[k]).toBe(sample.label);
      }
      total += batch.labels.length;
    }
    expect(total).toBe(22);
    const stats = loader.stats();
    expect(stats.skipped).toEqual({ IO: 2 });
    const byPath = Object.fromEntries(stats.skippedFiles.map((f) => [f.path, f]));
    expect(byPath[deleted]).toMatchObject({ code: 'IO', stage: 'read', reason: expect.stringMatching(/^ENOENT/) });
    expect(byPath[replaced]).toMatchObject({ code: 'IO', stage: 'read', reason: expect.stringMatching(/^EISDIR/) });
    await loader.close();
  });

  it("createLoader() - onError 'throw': the first of them in epoch order fails with IO naming it", async () => {
    const loader = createLoader(dataset, { ...identity, batchSize: 5, workers: 2, mode: 'centre' });
    const error = await outcome(loader.epoch(0));
    expect(error).toBeInstanceOf(SampleError);
    expect((error as SampleError).path).toBe(deleted); // unshuffled: index 5 comes before 14
    expect((error as SampleError).message).toMatch(new RegExp(`^IO ${deleted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(stage read\\): ENOENT`));
    await loader.close();
  });

  it.skipIf(process.platform === 'win32')('createLoader() - a file replaced by a FIFO is refused as IO, not opened and waited on', async () => {
    const { execFileSync } = await import('node:child_process');
    const fifo = dataset.samples[20]!.path;
    const backup = `${fifo}.bak`;
    copyFileSync(fifo, backup);
    rmSync(fifo);
    execFileSync('mkfifo', [fifo]);
    try {
      const loader = createLoader(dataset, { ...identity, batchSize: 5, workers: 1, onError: 'skip', mode: 'centre', sampleTimeout: 1 });
      let total = 0;
      const started = performance.now();
      for await (const batch of loader.epoch(0)) total += batch.labels.length;
      expect(total).toBe(21);
      const fifoFailure = loader.stats().skippedFiles.find((f) => f.path === fifo);
      expect(fifoFailure).toMatchObject({ code: 'IO', stage: 'read', reason: expect.stringMatching(/not a regular file/) });
      expect(loader.stats().replacedWorkers).toBe(0); // refused at once, not after the watchdog
      expect(performance.now() - started).toBeLessThan(10_000);
      await loader.close();
    } finally {
      rmSync(fifo);
      copyFileSync(backup, fifo);
    }
  }, 30_000);
});

describe('createLoader() - odd but valid images in one batch', () => {
  it('createLoader() - greyscale, palette, alpha, CMYK, 16-bit, orientations, animated, tiny, 1x5000 and 5000x1: one batch of exact shape, finite values', async () => {
    const dir = join(folder.dir, 'odd-batch');
    mkdirSync(dir, { recursive: true });
    await sharp({ create: { width: 1, height: 5000, channels: 3, background: '#336699' } }).png().toFile(join(dir, 'tall-1x5000.png'));
    await sharp({ create: { width: 5000, height: 1, channels: 3, background: '#336699' } }).png().toFile(join(dir, 'wide-5000x1.png'));
    const files = [
      'grey.png', 'grey.jpg', 'grey-alpha.png', 'palette.png', 'rgba.png', 'cmyk.jpg', 'rgb16.png',
      ...Array.from({ length: 8 }, (_, k) => `orient-${k + 1}.jpg`),
      'animated.gif', 'animated.webp', 'tiny-10x10.png', 'line-1x400.png', 'line-400x1.png',
      'progressive.jpg', 'interlaced.png', 'image.webp', 'image.tif',
    ].map((name) => join(ODD, name)).concat([join(dir, 'tall-1x5000.png'), join(dir, 'wide-5000x1.png')]);
    const dataset = { samples: files.map((path, label) => ({ path, label })), classes: files.map((path) => basename(path)) };
    const n = files.length;

    // Train mode, float32, lighting and normalisation: the full recipe.
    const train = createLoader(dataset, { rescale: 64, crop: 56, batchSize: n, workers: 2, seed: 8 });
    const batches: Batch[] = [];
    for await (const batch of train.epoch(0)) batches.push(batch.clone());
    expect(batches).toHaveLength(1);
    const [batch] = batches as [Batch];
    expect(batch.shape).toEqual([n, 56, 56, 3]);
    expect(batch.images.length).toBe(n * 56 * 56 * 3);
    expect([...batch.indices].sort((a, b) => a - b)).toEqual(files.map((_, i) => i));
    batch.indices.forEach((index, k) => expect(batch.labels[k]).toBe(index));
    let low = Infinity;
    let high = -Infinity;
    for (const value of batch.images) {
      if (!Number.isFinite(value)) throw new Error('non-finite value');
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
    // ImageNet normalisation of 0-1 pixels plus lighting stays within about [-2.5, 2.9].
    expect(low).toBeGreaterThan(-4);
    expect(high).toBeLessThan(4);
    expect(train.stats().skippedTotal).toBe(0);
    await train.close();

    // Centre patches, raw: a few colours the loader must not mangle on the way.
    const raw = createLoader(dataset, { ...identity, rescale: 64, crop: 56, mode: 'centre', batchSize: n, workers: 2 });
    for await (const centreBatch of raw.epoch(0)) {
      expect(centreBatch.shape).toEqual([n, 56, 56, 3]);
      const colourOf = (name: string) => centre(centreBatch, centreBatch.indices.indexOf(files.findIndex((path) => basename(path) === name)));
      expect(colourOf('animated.gif')).toEqual([255, 0, 0]); // frame 0 only
      expect(colourOf('animated.webp')).toEqual([255, 0, 0]);
      expect(colourOf('tall-1x5000.png')).toEqual([0x33, 0x66, 0x99]);
      expect(colourOf('wide-5000x1.png')).toEqual([0x33, 0x66, 0x99]);
      const [r, g, b] = colourOf('grey.png');
      expect(r === g && g === b).toBe(true);
      // The 8 orientations give one upright picture: the same centre patch within JPEG noise.
      const upright = centreBatch.indices.indexOf(files.findIndex((path) => basename(path) === 'orient-1.jpg'));
      const side = 56 * 56 * 3;
      for (let k = 2; k <= 8; k++) {
        const other = centreBatch.indices.indexOf(files.findIndex((path) => basename(path) === `orient-${k}.jpg`));
        let total = 0;
        for (let i = 0; i < side; i++) total += Math.abs(centreBatch.images[other * side + i]! - centreBatch.images[upright * side + i]!);
        expect(total / side, `orient-${k}.jpg vs orient-1.jpg`).toBeLessThan(4);
      }
    }
    await raw.close();
  });
});

describe('createLoader() - a decompression bomb', () => {
  it('createLoader() - bomb.png fails with PIXEL_LIMIT at once, RSS stays put, and the same worker serves the next samples', async () => {
    const good = await indexDataset(join(folder.dir, 'bomb-good'), 24, 4);
    // Batch 0: good only (starts the thread); batch 1: the bomb amid good images.
    const samples = [...good.samples];
    samples.splice(15, 0, { path: join(BROKEN, 'bomb.png'), label: 3 });
    const dataset = { samples, classes: good.classes };
    const loader = createLoader(dataset, { ...identity, batchSize: 12, workers: 1, prefetch: 1, mode: 'centre', onError: 'skip' });
    const iterator = loader.epoch(0);
    const firstBatch = await iterator.next();
    expect(firstBatch.done).toBe(false);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 2);
    const started = performance.now();
    let total = (firstBatch.value as Batch).labels.length;
    try {
      for (let result = await iterator.next(); !result.done; result = await iterator.next()) {
        const batch = result.value;
        for (let k = 0; k < batch.labels.length; k++) {
          const sample = samples[batch.indices[k]!]!;
          const [r, g] = centre(batch, k);
          expect(good.samples[colourIndex(r, g)]!.path).toBe(sample.path);
          expect(batch.labels[k]).toBe(sample.label);
        }
        total += batch.labels.length;
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    console.log(`bomb: the rest of the epoch in ${seconds.toFixed(3)} s, RSS peak +${((rssPeak - rssBefore) / 2 ** 20).toFixed(1)} MB`);
    expect(total).toBe(24);
    const stats = loader.stats();
    expect(stats.skipped).toEqual({ PIXEL_LIMIT: 1 });
    expect(stats.skippedFiles[0]).toMatchObject({ path: join(BROKEN, 'bomb.png'), stage: 'decode', reason: expect.stringMatching(/exceeds pixel limit/) });
    expect(stats.replacedWorkers).toBe(0);
    expect(stats.threads).toBe(1);
    // Decoding 20000x20000 would take seconds and 1.2 GB; refused from the header it takes ms.
    expect(seconds).toBeLessThan(5);
    expect(rssPeak - rssBefore).toBeLessThan(100 * 2 ** 20);
    await loader.close();
  });
});

