#!/usr/bin/env node
// Generates fixtures/corrupt/: real photos as ImageNet-sized JPEGs (good/) and seeded corruptions
// of them (bad/), for the djpeg-oracle tests (test/stages/jpeg-check.test.ts).
//
//   node scripts/make-corrupt-jpegs.mjs [--out fixtures/corrupt] [--seed 13] [--per-base 6]
//
// The photos are the nature wallpapers of Debian's mate-backgrounds package
// (/usr/share/backgrounds/mate/nature/*.jpg, installed by scripts/install-system-deps.sh): real
// camera photos, 1280-2560 px. Each good file is a seeded crop of one photo, resized to an
// ImageNet-like size and encoded by sharp (baseline 4:2:0, 4:4:4, progressive, greyscale,
// greyscale progressive, ...); two get restart markers from libjpeg-turbo's jpegtran
// (Debian libjpeg-turbo-progs). Each bad file is one good file with one seeded corruption:
//   flip8        8 random bytes of the entropy-coded data replaced (the issue's measurement)
//   bitflip      one bit of the entropy-coded data flipped
//   truncate     the file cut at 30-95% of its length
//   zero-range   16-256 bytes of entropy-coded data zeroed
//   no-eoi       the EOI marker removed
//   zero-eoi     EOI zeroed and 64 bytes of the second half changed (the issue's example)
//   huffman      a DHT table broken (a count or a symbol changed)
//   no-scan      a valid header (tables, SOF) followed by EOI: no scan at all
//   extraneous   garbage bytes inserted before EOI
//   restart      a restart marker renumbered (restart-marker files only)
// Corruptions that leave the file as djpeg decodes it cleanly are kept too (they must be
// accepted). manifest.json records, for every file, where it came from, what was done to it,
// and djpeg's verdict when the generator ran (exit code and messages), so tests can run without
// djpeg; the djpeg-oracle test re-runs djpeg itself.
//
// Deterministic: a mulberry32 PRNG seeded from (seed, file name); sharp 0.35.5 / libvips 8.18.7
// encode deterministically. Another sharp build may change the bytes: regenerate and commit.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values: options } = parseArgs({
  options: {
    out: { type: 'string', default: 'fixtures/corrupt' },
    seed: { type: 'string', default: '13' },
    'per-base': { type: 'string', default: '6' },
    photos: { type: 'string', default: '/usr/share/backgrounds/mate/nature' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (options.help) {
  console.log('usage: node scripts/make-corrupt-jpegs.mjs [--out fixtures/corrupt] [--seed 13] [--per-base 6] [--photos DIR]');
  process.exit(0);
}
const seed = Number(options.seed);
const perBase = Number(options['per-base']);
if (!Number.isInteger(seed) || !Number.isInteger(perBase) || perBase < 0) {
  console.error(`Expected integers for --seed and --per-base but received ${options.seed} and ${options['per-base']}`);
  process.exit(2);
}
if (!existsSync(options.photos)) {
  console.error(`make-corrupt-jpegs: ${options.photos} not found: install Debian's mate-backgrounds (scripts/install-system-deps.sh)`);
  process.exit(1);
}
const haveTool = (tool) => spawnSync(tool, ['-version'], { stdio: 'ignore' }).error === undefined;
const haveJpegtran = haveTool('jpegtran');
const haveDjpeg = haveTool('djpeg');
sharp.cache(false);
sharp.concurrency(1);

function mulberry32(state) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function rngFor(name) {
  let h = 0x811c9dc5 ^ seed;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return mulberry32(h >>> 0);
}
const int = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

// ---- good files --------------------------------------------------------------------------------

const SIZES = [[500, 375], [375, 500], [400, 400], [500, 333], [333, 500], [320, 240]];
const VARIANTS = [
  { name: 'baseline', encode: (img, rng) => img.jpeg({ quality: int(rng, 75, 95), chromaSubsampling: '4:2:0' }) },
  { name: 'progressive', encode: (img, rng) => img.jpeg({ quality: int(rng, 75, 95), progressive: true }) },
  { name: 'grey', encode: (img, rng) => img.greyscale().jpeg({ quality: int(rng, 75, 95) }) },
  { name: 'q444', encode: (img, rng) => img.jpeg({ quality: int(rng, 80, 95), chromaSubsampling: '4:4:4' }) },
  { name: 'grey-progressive', encode: (img, rng) => img.greyscale().jpeg({ quality: int(rng, 75, 95), progressive: true }) },
  { name: 'plain-huffman', encode: (img, rng) => img.jpeg({ quality: int(rng, 75, 95), optimiseCoding: false, mozjpeg: false }) },
];

const photos = readdirSync(options.photos).filter((name) => name.toLowerCase().endsWith('.jpg')).sort();
if (photos.length === 0) {
  console.error(`make-corrupt-jpegs: no .jpg in ${options.photos}`);
  process.exit(1);
}

const out = options.out;
rmSync(join(out, 'good'), { recursive: true, force: true });
rmSync(join(out, 'bad'), { recursive: true, force: true });
mkdirSync(join(out, 'good'), { recursive: true });
mkdirSync(join(out, 'bad'), { recursive: true });

const manifest = { generator: 'make-corrupt-jpegs/1', seed, photos: options.photos, files: {} };
const goods = [];
for (const [index, photo] of photos.entries()) {
  const variant = VARIANTS[index % VARIANTS.length];
  const [width, height] = SIZES[index % SIZES.length];
  const stem = photo.replace(/\.jpg$/i, '').toLowerCase();
  const name = `${stem}-${variant.name}`;
  const rng = rngFor(name);
  const source = sharp(join(options.photos, photo));
  const meta = await source.metadata();
  // a seeded crop of 50-90% of the photo with the target's aspect ratio, then the resize
  const scale = 0.5 + rng() * 0.4;
  const cropWidth = Math.min(meta.width, Math.round(Math.min(meta.width, (meta.height * width) / height) * scale));
  const cropHeight = Math.min(meta.height, Math.round((cropWidth * height) / width));
  const left = int(rng, 0, meta.width - cropWidth);
  const top = int(rng, 0, meta.height - cropHeight);
  const image = sharp(join(options.photos, photo)).extract({ left, top, width: cropWidth, height: cropHeight }).resize(width, height);
  let bytes = await variant.encode(image, rng).toBuffer();
  let restart = 0;
  if (haveJpegtran && index % 5 === 4) {
    restart = int(rng, 1, 4);
    bytes = execFileSync('jpegtran', ['-restart', String(restart), '-copy', 'none'], { input: bytes });
  }
  const file = `good/${name}${restart ? `-rst${restart}` : ''}.jpg`;
  writeFileSync(join(out, file), bytes);
  manifest.files[file] = { photo, crop: [left, top, cropWidth, cropHeight], size: [width, height], variant: variant.name, restart, corruption: null };
  goods.push({ file, bytes, restart });
}

// ---- corruptions -------------------------------------------------------------------------------

/** Offsets of markers in a JPEG: [{ marker, at, length }] up to the first SOS, then the SOS data. */
function parse(bytes) {
  const segments = [];
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) break;
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    segments.push({ marker, at: i, length });
    if (marker === 0xda) return { segments, scanStart: i + 2 + length };
    i += 2 + length;
  }
  return { segments, scanStart: i };
}
const eoiAt = (bytes) => (bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9 ? bytes.length - 2 : bytes.length);

const CORRUPTIONS = {
  flip8(bytes, rng) {
    const { scanStart } = parse(bytes);
    const end = eoiAt(bytes);
    for (let k = 0; k < 8; k++) bytes[int(rng, scanStart, end - 1)] = int(rng, 0, 255);
    return bytes;
  },
  bitflip(bytes, rng) {
    const { scanStart } = parse(bytes);
    const at = int(rng, scanStart, eoiAt(bytes) - 1);
    bytes[at] ^= 1 << int(rng, 0, 7);
    return bytes;
  },
  truncate(bytes, rng) {
    return bytes.subarray(0, Math.floor(bytes.length * (0.3 + rng() * 0.65)));
  },
  'zero-range'(bytes, rng) {
    const { scanStart } = parse(bytes);
    const length = int(rng, 16, 256);
    const at = int(rng, scanStart, Math.max(scanStart, eoiAt(bytes) - length));
    bytes.fill(0, at, at + length);
    return bytes;
  },
  'no-eoi'(bytes) {
    return bytes.subarray(0, eoiAt(bytes));
  },
  'zero-eoi'(bytes, rng) {
    const end = eoiAt(bytes);
    bytes.fill(0, end, bytes.length);
    const half = Math.floor(end / 2);
    for (let k = 0; k < 64; k++) bytes[int(rng, half, end - 1)] = int(rng, 0, 255);
    return bytes;
  },
  huffman(bytes, rng) {
    const tables = parse(bytes).segments.filter((s) => s.marker === 0xc4);
    if (tables.length === 0) return null;
    const table = tables[int(rng, 0, tables.length - 1)];
    // a code-length count (bits[1..16] after the class/index byte) or one of the symbols
    const at = rng() < 0.5 ? table.at + 5 + int(rng, 0, 15) : table.at + 21 + int(rng, 0, Math.max(0, table.length - 20));
    bytes[at] = (bytes[at] + int(rng, 1, 255)) & 0xff;
    return bytes;
  },
  'no-scan'(bytes) {
    const sos = parse(bytes).segments.find((s) => s.marker === 0xda);
    return Buffer.concat([bytes.subarray(0, sos.at), Buffer.from([0xff, 0xd9])]);
  },
  extraneous(bytes, rng) {
    const end = eoiAt(bytes);
    const junk = Buffer.alloc(int(rng, 1, 12));
    for (let k = 0; k < junk.length; k++) junk[k] = int(rng, 0, 0xfe);
    return Buffer.concat([bytes.subarray(0, end), junk, bytes.subarray(end)]);
  },
  restart(bytes, rng) {
    const { scanStart } = parse(bytes);
    const markers = [];
    for (let i = scanStart; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] >= 0xd0 && bytes[i + 1] <= 0xd7) markers.push(i + 1);
    if (markers.length === 0) return null;
    const at = markers[int(rng, 0, markers.length - 1)];
    bytes[at] = 0xd0 + ((bytes[at] - 0xd0 + int(rng, 1, 7)) & 7);
    return bytes;
  },
};

const KINDS = Object.keys(CORRUPTIONS);
for (const [index, good] of goods.entries()) {
  const kinds = [];
  // every base gets restart corruption if it has restarts; the rest rotate through the kinds
  if (good.restart) kinds.push('restart');
  for (let k = 0; kinds.length < perBase; k++) {
    const kind = KINDS[(index * 3 + k) % KINDS.length];
    if (kind !== 'restart' && !kinds.includes(kind)) kinds.push(kind);
  }
  for (const kind of kinds) {
    const stem = good.file.slice('good/'.length, -'.jpg'.length);
    const file = `bad/${stem}-${kind}.jpg`;
    const corrupted = CORRUPTIONS[kind](Buffer.from(good.bytes), rngFor(file));
    if (corrupted === null) continue;
    writeFileSync(join(out, file), corrupted);
    manifest.files[file] = { ...manifest.files[good.file], from: good.file, corruption: kind };
  }
}

// ---- djpeg's verdict at generation time -----------------------------------------------------------

for (const [file, entry] of Object.entries(manifest.files)) {
  if (!haveDjpeg) {
    entry.djpeg = null;
    continue;
  }
  const run = spawnSync('djpeg', ['-outfile', '/dev/null', join(out, file)], { encoding: 'utf8' });
  entry.djpeg = { status: run.status, messages: run.stderr.split('\n').filter(Boolean) };
}
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
const all = Object.values(manifest.files);
const warned = all.filter((entry) => entry.djpeg && entry.djpeg.status !== 0).length;
console.log(`make-corrupt-jpegs: ${goods.length} good, ${all.length - goods.length} corrupted (${warned} files djpeg warns about or rejects) in ${out}`);
