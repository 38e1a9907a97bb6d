#!/usr/bin/env node
// Regenerates every committed image fixture under fixtures/ (see fixtures/README.md).
//
//   node scripts/make-fixtures.mjs
//
// Deterministic: all randomness comes from a seeded PRNG keyed by the file's name, and
// sharp/libvips encoders are deterministic, so a re-run with the same sharp version gives the
// same bytes (fixtures/SHA256SUMS lists them; `sha256sum -c fixtures/SHA256SUMS` from fixtures/
// checks a checkout). Nothing is downloaded: sharp draws everything from SVG or raw pixels.
// After writing, the script checks each file is what fixtures/README.md says and exits non-zero
// if one is not.

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { IMAGES_PER_CLASS, mulberry32, SHAPE_CLASSES } from './seeded.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const GENERATED_DIRS = ['shapes', 'odd', 'broken'];

// The cache would only hide the fact that a check re-decodes a file we just wrote.
sharp.cache(false);

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** FNV-1a 32-bit hash of a string, used to derive one PRNG seed per file. */
function hashString(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The seeded generator of one file: mulberry32 seeded by the hash of `key`. */
function createRandom(key) {
  const next = mulberry32(hashString(key));
  const uniform = (low, high) => low + (high - low) * next();
  const integer = (low, high) => Math.floor(uniform(low, high + 1)); // inclusive
  let spare = null;
  const gaussian = () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const u = Math.max(next(), 1e-12);
    const v = next();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
  return { next, uniform, integer, gaussian };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const clampByte = (value) => Math.max(0, Math.min(255, Math.round(value)));
const rgb = ([r, g, b]) => `rgb(${r},${g},${b})`;
const luma = ([r, g, b]) => 0.299 * r + 0.587 * g + 0.114 * b;
const fmt = (value) => Number(value.toFixed(2)); // short, stable numbers in SVG text
const svgDocument = (width, height, body) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;

/** Renders an SVG string to raw 8-bit RGB pixels. */
async function renderSvg(svg) {
  const { data, info } = await sharp(Buffer.from(svg))
    .flatten({ background: '#000000' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels from SVG, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}

/** Raw RGB pixels whose colour at (x, y) is paint(x, y) -> [r, g, b]. */
function paintRaw(width, height, paint) {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      const offset = (y * width + x) * 3;
      data[offset] = r;
      data[offset + 1] = g;
      data[offset + 2] = b;
    }
  }
  return data;
}

const fromRaw = (data, width, height, channels = 3) => sharp(data, { raw: { width, height, channels } });

const written = new Map(); // relative path -> bytes

async function put(relativePath, bytes) {
  const path = join(ROOT, relativePath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  written.set(relativePath, bytes);
}

/** Runs task(item) for every item with at most `limit` in flight; keeps the results' order. */
async function mapLimit(items, limit, task) {
  const results = new Array(items.length);
  let nextIndex = 0;
  const lane = async () => {
    while (nextIndex < items.length) {
      const index = nextIndex++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function check(condition, message) {
  if (!condition) throw new Error(`fixture check failed: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// a) fixtures/shapes: a learnable 10-class ImageFolder set


/** A foreground/background pair whose luma differs by at least 90 (of 255). */
function contrastingColours(random) {
  const colour = () => [random.integer(0, 255), random.integer(0, 255), random.integer(0, 255)];
  for (;;) {
    const background = colour();
    const foreground = colour();
    if (Math.abs(luma(foreground) - luma(background)) >= 90) return { foreground, background };
  }
}

/**
 * SVG markup for one shape of class `name` whose bounding box is a square of side `extent`
 * centred on (cx, cy).
 */
function shapeMarkup(name, random, cx, cy, extent, fill) {
  const half = extent / 2;
  switch (name) {
    case 'circle':
      return `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="${fmt(half)}" fill="${fill}"/>`;
    case 'ring': {
      const thickness = extent * random.uniform(0.12, 0.18);
      return `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="${fmt(half - thickness / 2)}" fill="none" stroke="${fill}" stroke-width="${fmt(thickness)}"/>`;
    }
    case 'square': {
      // A slight tilt only: at 45 degrees a square is the diamond class.
      const angle = random.uniform(-12, 12);
      const radians = (Math.abs(angle) * Math.PI) / 180;
      const side = extent / (Math.cos(radians) + Math.sin(radians));
      return `<rect x="${fmt(cx - side / 2)}" y="${fmt(cy - side / 2)}" width="${fmt(side)}" height="${fmt(side)}" fill="${fill}" transform="rotate(${fmt(angle)} ${fmt(cx)} ${fmt(cy)})"/>`;
    }
    case 'diamond': {
      const halfWidth = half * random.uniform(0.7, 1);
      const points = [
        [cx, cy - half],
        [cx + halfWidth, cy],
        [cx, cy + half],
        [cx - halfWidth, cy],
      ];
      return `<polygon points="${points.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ')}" fill="${fill}"/>`;
    }
    case 'triangle': {
      // Pointing up, mirror-symmetric about the vertical axis, so a horizontal flip keeps the class.
      const halfBase = half * random.uniform(0.8, 1);
      const points = [
        [cx, cy - half],
        [cx + halfBase, cy + half],
        [cx - halfBase, cy + half],
      ];
      return `<polygon points="${points.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ')}" fill="${fill}"/>`;
    }
    case 'cross': {
      const arm = extent * random.uniform(0.24, 0.34);
      return (
        `<rect x="${fmt(cx - half)}" y="${fmt(cy - arm / 2)}" width="${fmt(extent)}" height="${fmt(arm)}" fill="${fill}"/>` +
        `<rect x="${fmt(cx - arm / 2)}" y="${fmt(cy - half)}" width="${fmt(arm)}" height="${fmt(extent)}" fill="${fill}"/>`
      );
    }
    case 'horizontal-stripes':
    case 'vertical-stripes': {
      const bars = random.integer(3, 4);
      const period = extent / (2 * bars - 1);
      let markup = '';
      for (let bar = 0; bar < bars; bar++) {
        const along = cx - half + 2 * bar * period;
        const across = cy - half + 2 * bar * period;
        markup +=
          name === 'horizontal-stripes'
            ? `<rect x="${fmt(cx - half)}" y="${fmt(across)}" width="${fmt(extent)}" height="${fmt(period)}" fill="${fill}"/>`
            : `<rect x="${fmt(along)}" y="${fmt(cy - half)}" width="${fmt(period)}" height="${fmt(extent)}" fill="${fill}"/>`;
      }
      return markup;
    }
    case 'checkerboard': {
      const cells = random.integer(3, 4);
      const cell = extent / cells;
      let markup = '';
      for (let row = 0; row < cells; row++) {
        for (let column = 0; column < cells; column++) {
          if ((row + column) % 2 === 0) {
            markup += `<rect x="${fmt(cx - half + column * cell)}" y="${fmt(cy - half + row * cell)}" width="${fmt(cell)}" height="${fmt(cell)}" fill="${fill}"/>`;
          }
        }
      }
      return markup;
    }
    case 'dots': {
      // Scattered, non-overlapping dots: unlike checkerboard there is no grid.
      const radius = extent * random.uniform(0.075, 0.1);
      const wanted = random.integer(6, 9);
      const dots = [];
      for (let attempt = 0; attempt < 2000 && dots.length < wanted; attempt++) {
        const x = random.uniform(cx - half + radius, cx + half - radius);
        const y = random.uniform(cy - half + radius, cy + half - radius);
        if (dots.every(([ox, oy]) => Math.hypot(x - ox, y - oy) >= 2.6 * radius)) dots.push([x, y]);
      }
      return dots.map(([x, y]) => `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="${fmt(radius)}" fill="${fill}"/>`).join('');
    }
    default:
      throw new Error(`unknown shape class ${name}`);
  }
}

/** Plans one image of the shapes set: everything about it is a function of (class, index). */
function planShapeImage(name, index) {
  const random = createRandom(`shapes/${name}/${index}`);
  const layout = ['square', 'landscape', 'portrait'][index % 3];
  const isJpeg = index % 5 < 3; // 3 of every 5 are JPEG, the rest PNG
  let width;
  let height;
  if (layout === 'square') {
    width = height = random.integer(100, 360);
  } else {
    const shorter = random.integer(100, 260);
    const longer = Math.min(400, Math.round(shorter * random.uniform(1.2, 1.6)));
    [width, height] = layout === 'landscape' ? [longer, shorter] : [shorter, longer];
  }
  // Everything class-defining stays inside the central square (what a shorter-side rescale plus
  // centre crop keeps), with a margin so a 224/256-style random crop keeps it too.
  const side = Math.min(width, height);
  const left = (width - side) / 2;
  const top = (height - side) / 2;
  const patterned = ['horizontal-stripes', 'vertical-stripes', 'checkerboard', 'dots'].includes(name);
  const extent = side * (patterned ? random.uniform(0.55, 0.78) : random.uniform(0.42, 0.72));
  const margin = side * 0.08;
  const cx = left + random.uniform(margin + extent / 2, side - margin - extent / 2);
  const cy = top + random.uniform(margin + extent / 2, side - margin - extent / 2);

  const { foreground, background } = contrastingColours(random);
  const shift = () => random.integer(-35, 35);
  const background2 = background.map((value) => clampByte(value + shift()));
  const angle = random.uniform(0, 2 * Math.PI);
  const gx = Math.cos(angle) / 2;
  const gy = Math.sin(angle) / 2;
  const gradient =
    `<defs><linearGradient id="bg" x1="${fmt(0.5 - gx)}" y1="${fmt(0.5 - gy)}" x2="${fmt(0.5 + gx)}" y2="${fmt(0.5 + gy)}">` +
    `<stop offset="0" stop-color="${rgb(background)}"/><stop offset="1" stop-color="${rgb(background2)}"/></linearGradient></defs>`;
  const body =
    gradient +
    `<rect width="${width}" height="${height}" fill="url(#bg)"/>` +
    shapeMarkup(name, random, cx, cy, extent, rgb(foreground));
  return {
    name,
    index,
    width,
    height,
    layout,
    format: isJpeg ? 'jpg' : 'png',
    quality: random.integer(70, 95),
    noiseSigma: isJpeg ? random.uniform(1, 6) : 0,
    svg: svgDocument(width, height, body),
    random,
  };
}

async function makeShapeImage(plan) {
  const { data, width, height } = await renderSvg(plan.svg);
  if (plan.noiseSigma > 0) {
    for (let i = 0; i < data.length; i++) data[i] = clampByte(data[i] + plan.noiseSigma * plan.random.gaussian());
  }
  const image = fromRaw(data, width, height);
  const bytes =
    plan.format === 'jpg'
      ? await image.jpeg({ quality: plan.quality }).toBuffer()
      : await image.png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
  const file = `shapes/${plan.name}/${plan.name}-${String(plan.index).padStart(2, '0')}.${plan.format}`;
  await put(file, bytes);
  return file;
}

async function makeShapes() {
  const plans = SHAPE_CLASSES.flatMap((name) =>
    Array.from({ length: IMAGES_PER_CLASS }, (_, index) => planShapeImage(name, index)),
  );
  await mapLimit(plans, 4, makeShapeImage);
  return plans.length;
}

// ---------------------------------------------------------------------------------------------
// b) fixtures/odd: odd but valid images

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const YELLOW = [255, 255, 0];
const GREY = [128, 128, 128];
const CHART_RED = [200, 40, 40];
const CHART_GREEN = [40, 160, 70];
const CHART_BLUE = [40, 70, 170];

/** A 160x120 "scene" (gradient sky, sun, hills) reused for the format-variety files. */
function sceneSvg(width = 160, height = 120) {
  return svgDocument(
    width,
    height,
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="rgb(40,90,200)"/><stop offset="1" stop-color="rgb(190,220,250)"/></linearGradient></defs>` +
      `<rect width="${width}" height="${height}" fill="url(#sky)"/>` +
      `<circle cx="${width * 0.75}" cy="${height * 0.28}" r="${height * 0.13}" fill="rgb(250,210,40)"/>` +
      `<path d="M0 ${height * 0.7} Q ${width * 0.3} ${height * 0.45} ${width * 0.55} ${height * 0.68} T ${width} ${height * 0.62} V ${height} H 0 Z" fill="rgb(40,140,60)"/>` +
      `<rect x="${width * 0.12}" y="${height * 0.52}" width="${width * 0.16}" height="${height * 0.2}" fill="rgb(160,40,30)"/>`,
  );
}

/** Four solid quadrants (TL red, TR green, BL blue, BR yellow) plus a white "F" across the middle. */
function orientationSourceSvg(width, height) {
  const w2 = width / 2;
  const h2 = height / 2;
  const stroke = Math.round(height / 10);
  const fx = Math.round(width * 0.38);
  const fy = Math.round(height * 0.2);
  const fh = Math.round(height * 0.6);
  const fw = Math.round(width * 0.3);
  return svgDocument(
    width,
    height,
    `<rect x="0" y="0" width="${w2}" height="${h2}" fill="${rgb(RED)}"/>` +
      `<rect x="${w2}" y="0" width="${w2}" height="${h2}" fill="${rgb(GREEN)}"/>` +
      `<rect x="0" y="${h2}" width="${w2}" height="${h2}" fill="${rgb(BLUE)}"/>` +
      `<rect x="${w2}" y="${h2}" width="${w2}" height="${h2}" fill="${rgb(YELLOW)}"/>` +
      `<rect x="${fx}" y="${fy}" width="${stroke}" height="${fh}" fill="${rgb(WHITE)}"/>` +
      `<rect x="${fx}" y="${fy}" width="${fw}" height="${stroke}" fill="${rgb(WHITE)}"/>` +
      `<rect x="${fx}" y="${fy + Math.round(fh * 0.42)}" width="${Math.round(fw * 0.7)}" height="${stroke}" fill="${rgb(WHITE)}"/>`,
  );
}

/**
 * Where the pixel shown at (x, y) of the upright image lives in the stored image, for EXIF
 * orientation k, given the stored image's width and height. Applying orientation k to the stored
 * image (what `autoOrient()` does) then gives back the upright image.
 * 1 none, 2 mirror horizontal, 3 rotate 180, 4 mirror vertical, 5 transpose,
 * 6 rotate 90 clockwise to display, 7 transverse, 8 rotate 90 anticlockwise to display.
 */
function storedPosition(orientation, x, y, storedWidth, storedHeight) {
  switch (orientation) {
    case 1: return [x, y];
    case 2: return [storedWidth - 1 - x, y];
    case 3: return [storedWidth - 1 - x, storedHeight - 1 - y];
    case 4: return [x, storedHeight - 1 - y];
    case 5: return [y, x];
    case 6: return [y, storedHeight - 1 - x];
    case 7: return [storedWidth - 1 - y, storedHeight - 1 - x];
    case 8: return [storedWidth - 1 - y, x];
    default: throw new Error(`orientation ${orientation}`);
  }
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function meanAbsDiff(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

async function makeOrientation() {
  const width = 120;
  const height = 80;
  const upright = await renderSvg(orientationSourceSvg(width, height));
  await put('odd/orient-source.png', await fromRaw(upright.data, width, height).png().toBuffer());
  const report = [];
  for (let orientation = 1; orientation <= 8; orientation++) {
    const swapped = orientation >= 5;
    const storedWidth = swapped ? height : width;
    const storedHeight = swapped ? width : height;
    const stored = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [sx, sy] = storedPosition(orientation, x, y, storedWidth, storedHeight);
        upright.data.copy(stored, (sy * storedWidth + sx) * 3, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
    const bytes = await fromRaw(stored, storedWidth, storedHeight)
      .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation })
      .toBuffer();
    const file = `odd/orient-${orientation}.jpg`;
    await put(file, bytes);

    const metadata = await sharp(bytes).metadata();
    check(metadata.orientation === orientation, `${file} orientation tag ${metadata.orientation}`);
    const { data, info } = await sharp(bytes).autoOrient().raw().toBuffer({ resolveWithObject: true });
    check(info.width === width && info.height === height, `${file} autoOrient size ${info.width}x${info.height}`);
    const max = maxAbsDiff(data, upright.data);
    const mean = meanAbsDiff(data, upright.data);
    check(mean < 1.5 && max <= 64, `${file} differs from upright: mean ${mean} max ${max}`);
    report.push(`${orientation}: mean ${mean.toFixed(3)} max ${max}`);
  }
  return report;
}

async function makeOdd() {
  const scene = await renderSvg(sceneSvg());
  const sceneImage = () => fromRaw(scene.data, scene.width, scene.height);

  // Greyscale, 1 and 2 channels.
  await put('odd/grey.png', await sceneImage().toColourspace('b-w').png().toBuffer());
  await put('odd/grey.jpg', await sceneImage().toColourspace('b-w').jpeg({ quality: 90 }).toBuffer());
  const alphaRamp = paintRaw(scene.width, scene.height, (x) => {
    const alpha = clampByte(64 + (191 * x) / (scene.width - 1));
    return [alpha, alpha, alpha];
  });
  const withAlphaRamp = await sceneImage()
    .joinChannel(await fromRaw(alphaRamp, scene.width, scene.height).extractChannel(0).raw().toBuffer(), {
      raw: { width: scene.width, height: scene.height, channels: 1 },
    })
    .raw()
    .toBuffer();
  await put(
    'odd/grey-alpha.png',
    await fromRaw(withAlphaRamp, scene.width, scene.height, 4).toColourspace('b-w').png().toBuffer(),
  );

  // RGBA: the top-left 40x30 is fully transparent magenta (a loader that ignores alpha shows
  // magenta there; one that flattens on white shows white), the rest is the opaque scene.
  const rgba = Buffer.alloc(scene.width * scene.height * 4);
  for (let y = 0; y < scene.height; y++) {
    for (let x = 0; x < scene.width; x++) {
      const source = (y * scene.width + x) * 3;
      const target = (y * scene.width + x) * 4;
      const transparent = x < 40 && y < 30;
      rgba[target] = transparent ? 255 : scene.data[source];
      rgba[target + 1] = transparent ? 0 : scene.data[source + 1];
      rgba[target + 2] = transparent ? 255 : scene.data[source + 2];
      rgba[target + 3] = transparent ? 0 : 255;
    }
  }
  await put('odd/rgba.png', await fromRaw(rgba, scene.width, scene.height, 4).png().toBuffer());
  // Palette PNG from the same RGBA picture: the transparent corner becomes a tRNS entry.
  await put(
    'odd/palette.png',
    await fromRaw(rgba, scene.width, scene.height, 4).png({ palette: true, colours: 64, dither: 0 }).toBuffer(),
  );

  // 16-bit RGB: a smooth 16-bit gradient whose rounding to 8 bits (v / 257) is rgb16-as8.png.
  const width16 = 128;
  const height16 = 96;
  const deep = new Uint16Array(width16 * height16 * 3);
  const shallow = Buffer.alloc(width16 * height16 * 3);
  for (let y = 0; y < height16; y++) {
    for (let x = 0; x < width16; x++) {
      const offset = (y * width16 + x) * 3;
      const values = [
        (65535 * x) / (width16 - 1),
        (65535 * y) / (height16 - 1),
        65535 * (0.5 + 0.45 * Math.sin((x + 2 * y) / 23)),
      ];
      for (let channel = 0; channel < 3; channel++) {
        deep[offset + channel] = Math.round(values[channel]);
        shallow[offset + channel] = Math.round(deep[offset + channel] / 257);
      }
    }
  }
  await put(
    'odd/rgb16.png',
    await sharp(deep, { raw: { width: width16, height: height16, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer(),
  );
  await put('odd/rgb16-as8.png', await fromRaw(shallow, width16, height16).png().toBuffer());

  // CMYK JPEG of a 2x2 chart: TL red, TR green, BL blue, BR white (64x64 patches). The colours
  // are inside the CMYK gamut so that decoding back to sRGB lands near them; pure sRGB green
  // (0,255,0) comes back as (191,207,0).
  const chart = paintRaw(128, 128, (x, y) => (y < 64 ? (x < 64 ? CHART_RED : CHART_GREEN) : x < 64 ? CHART_BLUE : WHITE));
  await put('odd/cmyk-source.png', await fromRaw(chart, 128, 128).png().toBuffer());
  // toColourspace, not withIccProfile('cmyk'): embedding the built-in CMYK profile adds ~940 KB.
  // Without a profile, libvips converts back to sRGB with the same built-in CMYK profile.
  await put('odd/cmyk.jpg', await fromRaw(chart, 128, 128).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer());

  const orientationReport = await makeOrientation();

  // Extreme sizes.
  await put(
    'odd/tiny-10x10.png',
    await fromRaw(paintRaw(10, 10, (x, y) => [x * 28, y * 28, 255 - x * 14 - y * 14]), 10, 10).png().toBuffer(),
  );
  await put(
    'odd/line-1x400.png',
    await fromRaw(paintRaw(1, 400, (x, y) => [clampByte(y * 0.64), 80, clampByte(255 - y * 0.64)]), 1, 400).png().toBuffer(),
  );
  await put(
    'odd/line-400x1.png',
    await fromRaw(paintRaw(400, 1, (x) => [80, clampByte(x * 0.64), clampByte(255 - x * 0.64)]), 400, 1).png().toBuffer(),
  );

  // Animations: 3 frames of 48x32, solid red, green, blue, 200 ms each, looping forever.
  const frames = await Promise.all(
    [RED, GREEN, BLUE].map((colour) =>
      sharp({ create: { width: 48, height: 32, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } })
        .png()
        .toBuffer(),
    ),
  );
  await put(
    'odd/animated.gif',
    await sharp(frames, { join: { animated: true } }).gif({ loop: 0, delay: [200, 200, 200] }).toBuffer(),
  );
  await put(
    'odd/animated.webp',
    await sharp(frames, { join: { animated: true } })
      .webp({ loop: 0, delay: [200, 200, 200], lossless: true })
      .toBuffer(),
  );

  // Format and encoding variety, all of the same scene.
  await put('odd/progressive.jpg', await sceneImage().jpeg({ quality: 85, progressive: true }).toBuffer());
  await put('odd/interlaced.png', await sceneImage().png({ progressive: true }).toBuffer());
  await put('odd/image.webp', await sceneImage().webp({ quality: 80 }).toBuffer());
  await put('odd/image.tif', await sceneImage().tiff({ compression: 'lzw' }).toBuffer());

  // Ten-crop geometry: 256x256, 112x112 corners TL red, TR green, BL blue, BR yellow; the
  // 32-pixel gutter between them grey, with its central 32x32 square (112..143) white.
  const corners = paintRaw(256, 256, (x, y) => {
    const left = x < 112;
    const right = x >= 144;
    const top = y < 112;
    const bottom = y >= 144;
    if (top && left) return RED;
    if (top && right) return GREEN;
    if (bottom && left) return BLUE;
    if (bottom && right) return YELLOW;
    if (!left && !right && !top && !bottom) return WHITE;
    return GREY;
  });
  await put('odd/corners.png', await fromRaw(corners, 256, 256).png().toBuffer());

  // Flip geometry: 64x48, quadrants of 32x24: TL red, TR green, BL blue, BR yellow.
  const asymmetric = paintRaw(64, 48, (x, y) => (y < 24 ? (x < 32 ? RED : GREEN) : x < 32 ? BLUE : YELLOW));
  await put('odd/asymmetric.png', await fromRaw(asymmetric, 64, 48).png().toBuffer());

  return { sceneImage, orientationReport };
}

// ---------------------------------------------------------------------------------------------
// c) fixtures/broken: broken or disguised files

/** A PNG by hand: 20000x20000, 1-bit palette of one colour, about 50 KB on disk. */
function bombPng(width = 20000, height = 20000) {
  const crcTable = new Uint32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 3; // colour type: palette
  const rowBytes = 1 + Math.ceil(width / 8); // filter byte + packed 1-bit indices, all 0
  const pixels = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('PLTE', Buffer.from([0x33, 0x66, 0xcc])),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal one-page PDF with a correct cross-reference table. */
function minimalPdf() {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 150] /Contents 4 0 R >>',
  ];
  const stream = '0 0 1 rg 20 20 160 110 re f';
  objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  let body = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((object, index) => {
    offsets.push(body.length);
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/** Offsets [start, end) of the entropy-coded data of the first scan of a baseline JPEG. */
function jpegScanRange(bytes) {
  let offset = 2;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) throw new Error(`JPEG marker expected at ${offset}`);
    const marker = bytes[offset + 1];
    const length = bytes.readUInt16BE(offset + 2);
    if (marker === 0xda) return [offset + 2 + length, bytes.length - 2];
    offset += 2 + length;
  }
  throw new Error('no SOS marker');
}

async function makeBroken(sceneImage) {
  // A 320x240 photo-like JPEG and PNG to truncate and corrupt.
  const random = createRandom('broken/photo');
  const photo = await renderSvg(sceneSvg(320, 240));
  for (let i = 0; i < photo.data.length; i++) photo.data[i] = clampByte(photo.data[i] + 6 * random.gaussian());
  const jpeg = await fromRaw(photo.data, 320, 240).jpeg({ quality: 85 }).toBuffer();
  const png = await sharp(Buffer.from(sceneSvg(320, 240))).flatten().png().toBuffer(); // no noise: keeps it small

  await put('broken/truncated.jpg', jpeg.subarray(0, Math.round(jpeg.length * 0.6)));
  await put('broken/truncated.png', png.subarray(0, Math.round(png.length * 0.6)));
  await put('broken/empty.jpg', Buffer.alloc(0));
  await put('broken/one-byte.jpg', Buffer.from([0xff]));
  await put('broken/text.jpg', Buffer.from('This photo is no longer available.\nPlease contact the site owner.\n', 'utf8'));
  await put(
    'broken/html.jpg',
    Buffer.from(
      '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>404 Not Found</title></head>\n' +
        '<body>\n<h1>Not Found</h1>\n<p>The requested URL /images/n01440764_18.JPEG was not found on this server.</p>\n</body>\n</html>\n',
      'utf8',
    ),
  );
  await put('broken/png-named.jpg', await sceneImage().png().toBuffer());
  await put('broken/svg-named.jpg', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${sceneSvg()}\n`, 'utf8'));
  await put('broken/pdf-named.jpg', minimalPdf());
  await put('broken/tiff-named.jpg', await sceneImage().tiff({ compression: 'deflate' }).toBuffer());

  // Flip bits in 8 bytes of the scan data. Not every corruption of Huffman data makes libjpeg
  // warn (some just decode to wrong pixels), so walk forward from 40% of the scan to the first
  // spot where it does: sharp's default failOn: 'warning' then refuses the file while
  // failOn: 'none' still decodes it. Decoding is deterministic, so the walk is too.
  const [scanStart, scanEnd] = jpegScanRange(jpeg);
  let corrupt = null;
  for (let start = scanStart + Math.floor((scanEnd - scanStart) * 0.4); start < scanEnd - 200; start += 7) {
    const candidate = Buffer.from(jpeg);
    for (let k = 0; k < 8; k++) candidate[start + 13 * k] ^= 0x5a;
    if ((await decodeError(candidate)) !== null && (await decodeError(candidate, { failOn: 'none' })) === null) {
      corrupt = candidate;
      break;
    }
  }
  check(corrupt !== null, 'no scan corruption that sharp rejects was found');
  await put('broken/corrupt-scan.jpg', corrupt);

  await put('broken/bomb.png', bombPng());
}

// ---------------------------------------------------------------------------------------------
// Checks: each file is what the README says it is.

const decodeError = async (bytes, options) => {
  try {
    await sharp(bytes, options).raw().toBuffer();
    return null;
  } catch (error) {
    return error.message;
  }
};

async function verify() {
  const read = (file) => readFile(join(ROOT, file));
  const meta = async (file, options) => sharp(await read(file), options).metadata();
  const notes = [];

  // shapes
  for (const name of SHAPE_CLASSES) {
    const files = await readdir(join(ROOT, 'shapes', name));
    check(files.length === IMAGES_PER_CLASS, `shapes/${name} has ${files.length} files`);
  }

  // odd
  let m = await meta('odd/grey.png');
  check(m.channels === 1 && m.space === 'b-w', `grey.png ${m.channels} ${m.space}`);
  m = await meta('odd/grey.jpg');
  check(m.channels === 1 && m.format === 'jpeg', `grey.jpg ${m.channels}`);
  m = await meta('odd/grey-alpha.png');
  check(m.channels === 2 && m.hasAlpha, `grey-alpha.png ${m.channels}`);
  m = await meta('odd/palette.png');
  check(m.isPalette && m.hasAlpha, `palette.png isPalette ${m.isPalette} hasAlpha ${m.hasAlpha}`);
  m = await meta('odd/rgba.png');
  check(m.channels === 4 && m.hasAlpha, `rgba.png ${m.channels}`);

  m = await meta('odd/rgb16.png');
  check(m.depth === 'ushort' && m.space === 'rgb16' && m.bitsPerSample === 16, `rgb16.png ${m.depth} ${m.space}`);
  m = await meta('odd/rgb16-as8.png');
  check(m.depth === 'uchar', `rgb16-as8.png ${m.depth}`);
  const reduced = await sharp(await read('odd/rgb16.png')).toColourspace('srgb').raw().toBuffer();
  const as8 = await sharp(await read('odd/rgb16-as8.png')).raw().toBuffer();
  check(maxAbsDiff(reduced, as8) <= 1, `rgb16 8-bit reduction differs by ${maxAbsDiff(reduced, as8)}`);
  notes.push(`rgb16 -> 8 bit max diff ${maxAbsDiff(reduced, as8)}`);

  m = await meta('odd/cmyk.jpg');
  check(m.space === 'cmyk' && m.channels === 4, `cmyk.jpg ${m.space} ${m.channels}`);
  const cmykRgb = await sharp(await read('odd/cmyk.jpg')).toColourspace('srgb').raw().toBuffer();
  const patch = (x, y) => [...cmykRgb.subarray((y * 128 + x) * 3, (y * 128 + x) * 3 + 3)];
  notes.push(`cmyk.jpg -> sRGB patches red ${patch(32, 32)} green ${patch(96, 32)} blue ${patch(32, 96)} white ${patch(96, 96)}`);

  for (const [file, width, height] of [['odd/tiny-10x10.png', 10, 10], ['odd/line-1x400.png', 1, 400], ['odd/line-400x1.png', 400, 1]]) {
    m = await meta(file);
    check(m.width === width && m.height === height, `${file} is ${m.width}x${m.height}`);
  }
  for (const file of ['odd/animated.gif', 'odd/animated.webp']) {
    m = await meta(file);
    check(m.pages === 3, `${file} pages ${m.pages}`);
    const { data, info } = await sharp(await read(file), { animated: true }).raw().toBuffer({ resolveWithObject: true });
    const frameBytes = info.width * (info.height / 3) * info.channels;
    const firsts = [0, 1, 2].map((frame) => [...data.subarray(frame * frameBytes, frame * frameBytes + 3)]);
    check(
      JSON.stringify(firsts) === JSON.stringify([RED, GREEN, BLUE]),
      `${file} frame colours ${JSON.stringify(firsts)}`,
    );
  }
  check((await meta('odd/progressive.jpg')).isProgressive, 'progressive.jpg is not progressive');
  check((await meta('odd/interlaced.png')).isProgressive, 'interlaced.png is not interlaced');
  check((await meta('odd/image.webp')).format === 'webp', 'image.webp format');
  check((await meta('odd/image.tif')).format === 'tiff', 'image.tif format');

  // broken
  for (const [file, size] of [['broken/empty.jpg', 0], ['broken/one-byte.jpg', 1]]) {
    check((await stat(join(ROOT, file))).size === size, `${file} size`);
  }
  check((await decodeError(await read('broken/truncated.jpg'))) !== null, 'truncated.jpg decodes');
  check((await decodeError(await read('broken/truncated.png'))) !== null, 'truncated.png decodes');
  check((await decodeError(await read('broken/png-named.jpg'))) === null, 'png-named.jpg does not decode');
  check((await decodeError(await read('broken/tiff-named.jpg'))) === null, 'tiff-named.jpg does not decode');
  const corruptError = await decodeError(await read('broken/corrupt-scan.jpg'));
  check(corruptError !== null, 'corrupt-scan.jpg decodes with the default failOn');
  check((await decodeError(await read('broken/corrupt-scan.jpg'), { failOn: 'none' })) === null, 'corrupt-scan.jpg fails even with failOn none');
  notes.push(`corrupt-scan.jpg: ${corruptError}`);
  m = await meta('broken/bomb.png', { limitInputPixels: false });
  check(m.width === 20000 && m.height === 20000, `bomb.png ${m.width}x${m.height}`);
  check((await stat(join(ROOT, 'broken/bomb.png'))).size < 1 << 20, 'bomb.png is over 1 MiB');
  notes.push(`bomb.png: ${await decodeError(await read('broken/bomb.png'))}`);
  return notes;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  for (const directory of GENERATED_DIRS) await rm(join(ROOT, directory), { recursive: true, force: true });
  const images = await makeShapes();
  const { sceneImage, orientationReport } = await makeOdd();
  await makeBroken(sceneImage);

  const files = [...written.keys()].sort();
  const sums = files.map((file) => `${createHash('sha256').update(written.get(file)).digest('hex')}  ${file}\n`).join('');
  await writeFile(join(ROOT, 'SHA256SUMS'), sums);

  const notes = await verify();
  const bytes = (prefix) =>
    files.filter((file) => file.startsWith(prefix)).reduce((sum, file) => sum + written.get(file).length, 0);
  console.log(`orientation round trips (autoOrient vs upright): ${orientationReport.join('; ')}`);
  for (const note of notes) console.log(note);
  console.log(
    `wrote ${files.length} files to ${relative(process.cwd(), ROOT) || '.'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      `shapes ${images} images ${(bytes('shapes/') / 1024).toFixed(0)} KiB, odd ${(bytes('odd/') / 1024).toFixed(0)} KiB, ` +
      `broken ${(bytes('broken/') / 1024).toFixed(0)} KiB`,
  );
}

await main();
