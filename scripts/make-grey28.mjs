#!/usr/bin/env node
// Generates a small MNIST-like set for the CPU training benchmark (not committed):
// 28x28 greyscale PNGs of the ten digits, drawn as jittered pen strokes.
//
//   node scripts/make-grey28.mjs [dir] [--count 3000] [--val-fraction 0.2] [--seed 1]
//
// dir defaults to .bench-data/grey28 and gets dir/train/<digit>/*.png and dir/val/<digit>/*.png
// (ImageFolder layouts with the same ten classes, `--count` images in all, classes balanced).
// Each image is a pure function of (seed, index): a digit template (strokes in a unit box)
// whose control points move by N(0, 0.05), then a random stroke width (1.4-3.2 px), slant,
// rotation (+-14 degrees), scale (0.75-1.05) and shift (+-2.5 px), ink and paper levels,
// Gaussian blur and pixel noise, and sometimes a stray stroke. That makes a set that a small
// convnet learns to a few tens of per cent validation error in a few epochs, not a trivial one.
// A re-run with the same arguments rewrites nothing (dir/manifest.json records what was made).

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const GENERATOR = 'make-grey28/1';
const SIZE = 28;

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string', default: '3000' },
    'val-fraction': { type: 'string', default: '0.2' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (options.help) {
  console.log('usage: node scripts/make-grey28.mjs [dir] [--count 3000] [--val-fraction 0.2] [--seed 1]');
  process.exit(0);
}
const count = Number(options.count);
const valFraction = Number(options['val-fraction']);
const seed = Number(options.seed);
if (!Number.isInteger(count) || count < 20) {
  console.error(`Expected integer >= 20 for --count but received ${JSON.stringify(options.count)}`);
  process.exit(2);
}
if (!(valFraction > 0 && valFraction < 1)) {
  console.error(`Expected number between 0 and 1 for --val-fraction but received ${JSON.stringify(options['val-fraction'])}`);
  process.exit(2);
}
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`Expected integer >= 0 for --seed but received ${JSON.stringify(options.seed)}`);
  process.exit(2);
}
const directory = positionals[0] ?? '.bench-data/grey28';

sharp.cache(false);

// mulberry32 seeded per image: (seed, index) -> stream of uniforms.
function rng(...parts) {
  let state = 0x811c9dc5;
  for (const char of parts.join('/')) state = Math.imul(state ^ char.charCodeAt(0), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gaussian = (random) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

// Strokes per digit in a unit box (x right, y down): each a list of points joined by a smooth
// curve (Catmull-Rom through the points).
const DIGITS = [
  [[[0.5, 0.08], [0.22, 0.25], [0.18, 0.6], [0.38, 0.92], [0.66, 0.88], [0.8, 0.55], [0.75, 0.2], [0.5, 0.08]]],
  [[[0.35, 0.25], [0.55, 0.08], [0.54, 0.5], [0.55, 0.92]]],
  [[[0.2, 0.28], [0.45, 0.08], [0.75, 0.22], [0.65, 0.5], [0.22, 0.9], [0.52, 0.88], [0.82, 0.9]]],
  [[[0.22, 0.15], [0.6, 0.08], [0.72, 0.3], [0.45, 0.48], [0.75, 0.65], [0.62, 0.9], [0.2, 0.86]]],
  [[[0.62, 0.08], [0.2, 0.62], [0.85, 0.62]], [[0.64, 0.35], [0.64, 0.92]]],
  [[[0.78, 0.1], [0.32, 0.1], [0.28, 0.45], [0.65, 0.45], [0.78, 0.7], [0.55, 0.92], [0.2, 0.82]]],
  [[[0.72, 0.1], [0.4, 0.3], [0.24, 0.7], [0.45, 0.92], [0.72, 0.78], [0.6, 0.52], [0.28, 0.62]]],
  [[[0.18, 0.12], [0.82, 0.12], [0.5, 0.6], [0.42, 0.92]]],
  [[[0.5, 0.48], [0.24, 0.28], [0.5, 0.08], [0.74, 0.28], [0.5, 0.48], [0.22, 0.72], [0.5, 0.93], [0.78, 0.72], [0.5, 0.48]]],
  [[[0.72, 0.4], [0.45, 0.5], [0.26, 0.3], [0.5, 0.08], [0.74, 0.25], [0.7, 0.6], [0.6, 0.92]]],
];

function smoothPath(points) {
  let d = `M ${points[0][0].toFixed(3)} ${points[0][1].toFixed(3)}`;
  for (let i = 0; i < points.length - 1; i++) {
    const p0 = points[Math.max(0, i - 1)];
    const p1 = points[i];
    const p2 = points[i + 1];
    const p3 = points[Math.min(points.length - 1, i + 2)];
    const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    d += ` C ${c1.map((v) => v.toFixed(3)).join(' ')} ${c2.map((v) => v.toFixed(3)).join(' ')} ${p2.map((v) => v.toFixed(3)).join(' ')}`;
  }
  return d;
}

async function makeImage(digit, index) {
  const random = rng(GENERATOR, seed, index);
  const jitter = () => 0.05 * gaussian(random);
  const strokes = DIGITS[digit].map((stroke) => stroke.map(([x, y]) => [x + jitter(), y + jitter()]));
  if (random() < 0.15) {
    // A stray stroke: a short line somewhere, as a smudge or a neighbour's ink.
    const x = random();
    const y = random();
    strokes.push([[x, y], [x + 0.3 * (random() - 0.5), y + 0.3 * (random() - 0.5)]]);
  }
  const width = (1.4 + 1.8 * random()) / SIZE / 0.9;
  const angle = 14 * (2 * random() - 1);
  const slant = 0.25 * (2 * random() - 1);
  const scale = (0.75 + 0.3 * random()) * SIZE;
  const dx = SIZE / 2 + 2.5 * (2 * random() - 1);
  const dy = SIZE / 2 + 2.5 * (2 * random() - 1);
  const ink = Math.round(170 + 85 * random());
  const paper = Math.round(35 * random());
  const paths = strokes.map((points) => `<path d="${smoothPath(points)}"/>`).join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}">` +
    `<rect width="${SIZE}" height="${SIZE}" fill="rgb(${paper},${paper},${paper})"/>` +
    `<g transform="translate(${dx.toFixed(2)} ${dy.toFixed(2)}) rotate(${angle.toFixed(2)}) matrix(1 0 ${slant.toFixed(3)} 1 0 0) scale(${scale.toFixed(2)}) translate(-0.5 -0.5)" ` +
    `fill="none" stroke="rgb(${ink},${ink},${ink})" stroke-width="${width.toFixed(4)}" stroke-linecap="round" stroke-linejoin="round">${paths}</g></svg>`;
  const { data } = await sharp(Buffer.from(svg))
    .blur(0.3 + 0.5 * random())
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const noise = 6 + 14 * random();
  const grey = Buffer.alloc(SIZE * SIZE);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.max(0, Math.min(255, Math.round((data[i * (data.length / grey.length)] ?? 0) + noise * gaussian(random))));
  }
  return sharp(grey, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png().toBuffer();
}

const manifestPath = join(directory, 'manifest.json');
const wanted = { generator: GENERATOR, count, valFraction, seed };
try {
  const previous = JSON.parse(await readFile(manifestPath, 'utf8'));
  if (JSON.stringify(previous) === JSON.stringify(wanted)) {
    console.log(`${directory}: ${count} images already there (${manifestPath})`);
    process.exit(0);
  }
} catch {
  // No manifest yet: generate.
}
await rm(join(directory, 'train'), { recursive: true, force: true });
await rm(join(directory, 'val'), { recursive: true, force: true });
const perClass = Math.floor(count / 10);
const valPerClass = Math.max(1, Math.round(perClass * valFraction));
const jobs = [];
for (let digit = 0; digit < 10; digit++) {
  for (const split of ['train', 'val']) await mkdir(join(directory, split, String(digit)), { recursive: true });
  for (let k = 0; k < perClass; k++) jobs.push({ digit, k, split: k < valPerClass ? 'val' : 'train' });
}
let next = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < jobs.length) {
      const { digit, k, split } = jobs[next++];
      const png = await makeImage(digit, digit * 100_000 + k);
      await writeFile(join(directory, split, String(digit), `${String(k).padStart(5, '0')}.png`), png);
    }
  }),
);
await writeFile(manifestPath, JSON.stringify(wanted) + '\n');
console.log(`${directory}: wrote ${jobs.length} images (${10 * (perClass - valPerClass)} train, ${10 * valPerClass} val)`);
