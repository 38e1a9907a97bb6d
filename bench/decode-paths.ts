/**
 * Issue 14's side-by-side, one thread, interleaved: what each decode path costs per image for
 * (A) an original JPEG -> the prepared `rescale x rescale` square, and (B) a `rescale x rescale`
 * JPEG cache record (q90, 4:4:4, as the disk cache writes it) -> pixels. Each round times every
 * path over the same files in turn (so machine noise hits them alike); medians over rounds,
 * ratios to sharp's pipeline measured in the same run.
 *
 *   npx tsx bench/decode-paths.ts [dir] [--images 400] [--rounds 7] [--rescale 256]
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { imageFolder } from '../src/dataset/image-folder.js';
import { prepareImage } from '../src/stages/decode.js';
import { configureSharp } from '../src/pool/sharp.js';
import { decodeJpegRecord, recyclePixels } from '../src/stages/jpeg-turbo.js';
import { readJpegHeader } from '../src/stages/jpeg-header.js';
import { kernelInput, resampleCover, resampleReference } from '../src/stages/resample.js';
import { LOADER_DEFAULTS } from '../src/options.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string', default: '400' }, rounds: { type: 'string', default: '7' }, rescale: { type: 'string', default: '256' } },
});
const dir = positionals[0] ?? '.bench-data/imagenet-like';
const rescale = Number(values.rescale);
const rounds = Number(values.rounds);
configureSharp();
const turbo = createRequire(import.meta.url)('@julusian/jpeg-turbo') as { FORMAT_RGB: number; decompressSync(b: Buffer, o: Buffer, f: { format: number }): unknown };

const dataset = await imageFolder(dir);
const files = await Promise.all(dataset.samples.slice(0, Number(values.images)).map((s) => readFile(s.path)));
const headers = files.map((bytes) => { const h = readJpegHeader(bytes); if (!h.ok) throw new Error(h.reason); return h.header; });
const settings = {
  rescale, kernel: LOADER_DEFAULTS.kernel, background: LOADER_DEFAULTS.background, limitInputPixels: LOADER_DEFAULTS.limitInputPixels,
  failOn: LOADER_DEFAULTS.failOn, sampleTimeout: LOADER_DEFAULTS.sampleTimeout,
};
const records = await Promise.all(files.map(async (bytes) => {
  const prepared = await prepareImage(bytes, { ...settings, decoder: 'sharp' });
  if (!prepared.ok) throw new Error(prepared.failure.reason);
  return sharp(prepared.image.data, { raw: { width: rescale, height: rescale, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();
}));

const out = new Uint8Array(rescale * rescale * 3);

/** Runs `work` over every item, 4 calls in flight for the async ones (as a worker does); ms per item. */
async function timed(count: number, work: (i: number) => unknown): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < count) await work(next++); }));
  return (performance.now() - started) / count;
}

const paths: Array<[string, () => Promise<number>]> = [
  ['(A) sharp pipeline (prepareImage, decoder sharp)', () => timed(files.length, (i) => prepareImage(files[i]!, { ...settings, decoder: 'sharp' }))],
  ['(A) fast path (prepareImage, decoder auto)', () => timed(files.length, async (i) => {
    const prepared = await prepareImage(files[i]!, { ...settings, decoder: 'auto' });
    if (prepared.ok) recyclePixels(prepared.image.data); // as the worker does after writing its patches
  })],
  ['(A)   of which libjpeg-turbo decode only', () => timed(files.length, (i) => {
    const h = headers[i]!;
    const target = kernelInput(h.width, h.height, rescale, 'linear');
    turbo.decompressSync(files[i]!, Buffer.from(target.buffer, target.byteOffset, target.byteLength), { format: turbo.FORMAT_RGB });
  })],
  ['(A)   of which WASM SIMD resample only', () => timed(files.length, (i) => { const h = headers[i]!; resampleCover(kernelInput(h.width, h.height, rescale, 'linear'), h.width, h.height, rescale, 'linear', out); })],
  ['(A)   plain-JS resample (reference), for scale', () => timed(Math.min(files.length, 60), (i) => { const h = headers[i]!; resampleReference(kernelInput(h.width, h.height, rescale, 'linear'), h.width, h.height, rescale, 'linear'); })],
  ['(A) bare sharp decode to raw (no resize)', () => timed(files.length, (i) => sharp(files[i]!).raw().toBuffer())],
  ['(B) record -> pixels, sharp', () => timed(records.length, (i) => sharp(records[i]!).raw().toBuffer())],
  ['(B) record -> pixels, fast path', () => timed(records.length, (i) => { const pixels = decodeJpegRecord(records[i]!); if (pixels) recyclePixels(pixels); })],
];

const samples = paths.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  for (let p = 0; p < paths.length; p++) samples[p]!.push(await paths[p]![1]());
}
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]!; };
const medians = samples.map(median);
console.log(`${dir}: ${files.length} images, rescale ${rescale}, ${rounds} interleaved rounds, one thread; median ms per image (ratio to the sharp row of its shape)`);
for (let p = 0; p < paths.length; p++) {
  const base = paths[p]![0].startsWith('(B)') ? medians[6]! : medians[0]!;
  console.log(`${paths[p]![0].padEnd(52)} ${medians[p]!.toFixed(3)} ms  ${(medians[p]! / base).toFixed(2)}x`);
}
