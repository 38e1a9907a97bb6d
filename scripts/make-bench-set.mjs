#!/usr/bin/env node
// Generates an ImageNet-like JPEG set for benchmarks (not committed).
//
//   node scripts/make-bench-set.mjs [dir] [--count 2000] [--seed 1] [--concurrency 4]
//
// dir defaults to .bench-data/imagenet-like and gets an ImageFolder layout: class-00 .. class-09.
// Each image is a pure function of (seed, index): its size (250-500 px a side, mostly
// landscape, about 400x350 on average), its JPEG quality (75-95) and its pixels: a smooth
// gradient, blurred colour blobs, a few sharp-edged shapes and grain, so that a JPEG decoder
// sees photo-like entropy (about 20-40 KB a file) rather than flat colour. Classes differ a
// little in hue, nothing more: the set is for measuring throughput, not accuracy.
// dir/manifest.json records what was written; a re-run keeps every file whose recorded
// parameters and size still match, and removes files it wrote before that are no longer asked for.

import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { mulberry32 } from './seeded.mjs';

const GENERATOR = 'make-bench-set/1';
const CLASSES = 10;
const NOISE_TILE = 512;

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (options.help) {
  console.log('usage: node scripts/make-bench-set.mjs [dir] [--count 2000] [--seed 1] [--concurrency 4]');
  process.exit(0);
}

const parseInteger = (name, text, minimum) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    console.error(`Expected integer >= ${minimum} for --${name} but received ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
};
const count = parseInteger('count', options.count, 1);
const seed = parseInteger('seed', options.seed, 0);
const concurrency = parseInteger('concurrency', options.concurrency, 1);
const directory = positionals[0] ?? '.bench-data/imagenet-like';

sharp.cache(false);

// ---------------------------------------------------------------------------------------------

function hash(...parts) {
  let value = 0x811c9dc5;
  for (const char of parts.join('/')) {
    value ^= char.charCodeAt(0);
    value = Math.imul(value, 0x01000193);
  }
  return value >>> 0;
}

/** mulberry32, seeded by `key`. */
function createRandom(key) {
  const next = mulberry32(key);
  const uniform = (low, high) => low + (high - low) * next();
  const integer = (low, high) => Math.floor(uniform(low, high + 1));
  return { next, uniform, integer };
}

const f1 = (value) => value.toFixed(1);

/** HSL (degrees, 0-1, 0-1) to an SVG colour. */
function hsl(hue, saturation, lightness) {
  const h = ((hue % 360) + 360) % 360;
  return `hsl(${f1(h)},${f1(saturation * 100)}%,${f1(lightness * 100)}%)`;
}

/** Everything about image `index` except its pixels: cheap, so re-runs can skip by comparing it. */
function plan(index) {
  const random = createRandom(hash(seed, index));
  const label = index % CLASSES;
  const shape = random.next();
  let width;
  let height;
  if (shape < 0.72) {
    width = random.integer(340, 500);
    height = random.integer(250, Math.min(width - 20, 440));
  } else if (shape < 0.87) {
    height = random.integer(340, 500);
    width = random.integer(250, Math.min(height - 20, 440));
  } else {
    width = height = random.integer(280, 480);
  }
  const quality = random.integer(75, 95);
  const file = `class-${String(label).padStart(2, '0')}/img-${String(index).padStart(6, '0')}.jpg`;
  return { index, label, width, height, quality, file, random };
}

/** Seeded grain tiles: gaussian-ish noise around mid-grey, blurred a little so it reads as texture. */
async function makeNoiseTiles() {
  const tiles = [];
  for (const [tile, sigma] of [10, 15, 21, 28].entries()) {
    const random = createRandom(hash(seed, 'noise', tile));
    const raw = Buffer.alloc(NOISE_TILE * NOISE_TILE * 3);
    for (let i = 0; i < raw.length; i++) {
      // Sum of 4 uniforms: cheap, close enough to gaussian, variance 4/12.
      const value = (random.next() + random.next() + random.next() + random.next() - 2) * sigma * Math.sqrt(3);
      raw[i] = Math.max(0, Math.min(255, Math.round(128 + value)));
    }
    tiles.push(
      await sharp(raw, { raw: { width: NOISE_TILE, height: NOISE_TILE, channels: 3 } }).blur(0.6).raw().toBuffer(),
    );
  }
  return tiles;
}

function noiseFor(tiles, { width, height, random }) {
  const tile = tiles[random.integer(0, tiles.length - 1)];
  const out = Buffer.alloc(width * height * 3);
  // A tile is 512 px: wrap around rather than needing a bigger one.
  const ox = random.integer(0, NOISE_TILE - 1);
  const oy = random.integer(0, NOISE_TILE - 1);
  for (let y = 0; y < height; y++) {
    const sourceRow = ((y + oy) % NOISE_TILE) * NOISE_TILE * 3;
    for (let x = 0; x < width; ) {
      const sx = (x + ox) % NOISE_TILE;
      const run = Math.min(width - x, NOISE_TILE - sx);
      tile.copy(out, (y * width + x) * 3, sourceRow + sx * 3, sourceRow + (sx + run) * 3);
      x += run;
    }
  }
  return out;
}

async function render(image, tiles) {
  const { width, height, label, random } = image;
  const hue = label * 36 + random.uniform(-40, 40);
  // Low-resolution layer: gradient and blobs, upscaled so they are smooth, like out-of-focus areas.
  const lowWidth = Math.ceil(width / 8);
  const lowHeight = Math.ceil(height / 8);
  let low =
    `<defs><linearGradient id="g" x1="${f1(random.next())}" y1="0" x2="${f1(random.next())}" y2="1">` +
    `<stop offset="0" stop-color="${hsl(hue + random.uniform(-30, 30), random.uniform(0.2, 0.7), random.uniform(0.5, 0.85))}"/>` +
    `<stop offset="1" stop-color="${hsl(hue + random.uniform(-60, 60), random.uniform(0.2, 0.7), random.uniform(0.15, 0.5))}"/>` +
    `</linearGradient></defs><rect width="${lowWidth}" height="${lowHeight}" fill="url(#g)"/>`;
  for (let blob = random.integer(8, 16); blob > 0; blob--) {
    low +=
      `<ellipse cx="${f1(random.uniform(0, lowWidth))}" cy="${f1(random.uniform(0, lowHeight))}" ` +
      `rx="${f1(random.uniform(2, lowWidth / 3))}" ry="${f1(random.uniform(2, lowHeight / 3))}" ` +
      `fill="${hsl(hue + random.uniform(-90, 90), random.uniform(0.1, 0.8), random.uniform(0.1, 0.9))}" fill-opacity="${f1(random.uniform(0.3, 0.9))}"/>`;
  }
  // Full-resolution layer: a few hard edges (objects, branches, horizons).
  let sharpLayer = '';
  for (let shape = random.integer(3, 7); shape > 0; shape--) {
    const fill = hsl(hue + random.uniform(-120, 120), random.uniform(0.1, 0.9), random.uniform(0.1, 0.9));
    const opacity = f1(random.uniform(0.4, 1));
    if (random.next() < 0.5) {
      const points = Array.from({ length: random.integer(3, 6) }, () => `${f1(random.uniform(0, width))},${f1(random.uniform(0, height))}`);
      sharpLayer += `<polygon points="${points.join(' ')}" fill="${fill}" fill-opacity="${opacity}"/>`;
    } else {
      sharpLayer +=
        `<path d="M${f1(random.uniform(0, width))} ${f1(random.uniform(0, height))} Q ${f1(random.uniform(0, width))} ${f1(random.uniform(0, height))} ${f1(random.uniform(0, width))} ${f1(random.uniform(0, height))}" ` +
        `stroke="${fill}" stroke-opacity="${opacity}" stroke-width="${f1(random.uniform(2, 14))}" fill="none"/>`;
    }
  }
  const svg = (w, h, body) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${body}</svg>`);
  const background = await sharp(svg(lowWidth, lowHeight, low))
    .flatten()
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .blur(3)
    .png({ compressionLevel: 0 })
    .toBuffer();
  return sharp(background)
    .composite([
      { input: svg(width, height, sharpLayer) },
      { input: noiseFor(tiles, image), raw: { width, height, channels: 3 }, blend: 'overlay' },
    ])
    .jpeg({ quality: image.quality })
    .toBuffer();
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  await mkdir(directory, { recursive: true });
  const manifestPath = join(directory, 'manifest.json');
  let previous = { generator: GENERATOR, seed, images: {} };
  try {
    const loaded = JSON.parse(await readFile(manifestPath, 'utf8'));
    if (loaded.generator === GENERATOR && loaded.seed === seed) previous = loaded;
  } catch {
    // No manifest (or an unreadable one): generate everything.
  }

  const images = Array.from({ length: count }, (_, index) => plan(index));
  const manifest = { generator: GENERATOR, seed, count, images: {} };
  const wanted = new Set(images.map((image) => image.file));
  for (const file of Object.keys(previous.images)) {
    if (!wanted.has(file)) await rm(join(directory, file), { force: true });
  }
  for (let label = 0; label < CLASSES; label++) {
    await mkdir(join(directory, `class-${String(label).padStart(2, '0')}`), { recursive: true });
  }

  let tiles = null;
  let written = 0;
  let next = 0;
  const lane = async () => {
    while (next < images.length) {
      const image = images[next++];
      const record = { width: image.width, height: image.height, quality: image.quality };
      const old = previous.images[image.file];
      if (old && old.width === record.width && old.height === record.height && old.quality === record.quality) {
        const size = await stat(join(directory, image.file)).then((info) => info.size, () => -1);
        if (size === old.bytes) {
          manifest.images[image.file] = old;
          continue;
        }
      }
      tiles ??= makeNoiseTiles();
      const bytes = await render(image, await tiles);
      await writeFile(join(directory, image.file), bytes);
      manifest.images[image.file] = { ...record, bytes: bytes.length };
      written++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));

  const ordered = Object.fromEntries(images.map((image) => [image.file, manifest.images[image.file]]));
  await writeFile(manifestPath, `${JSON.stringify({ ...manifest, images: ordered }, null, 1)}\n`);

  const records = Object.values(ordered);
  const mean = (key) => records.reduce((sum, record) => sum + record[key], 0) / records.length;
  console.log(
    `imagenet-like: ${count} images in ${CLASSES} classes at ${directory} (${written} written, ${count - written} reused), ` +
      `mean ${mean('width').toFixed(0)}x${mean('height').toFixed(0)} px, mean ${(mean('bytes') / 1024).toFixed(1)} KB, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

await main();
