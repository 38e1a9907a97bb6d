import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveLoaderOptions } from '../../src/loader/options.js';
import { decodeFile, decodeSettings, type DecodeSettings } from '../../src/stages/load.js';
import { configureSharp } from '../../src/pool/sharp.js';

const ODD = 'fixtures/odd';
const BROKEN = 'fixtures/broken';

/** The loader's defaults (the ones users get), at a given rescale, with overrides. */
function settings(rescale: number, overrides: Partial<DecodeSettings> = {}): DecodeSettings {
  return { ...decodeSettings(resolveLoaderOptions({ rescale, sampleTimeout: 10 })), ...overrides };
}

async function pixels(path: string, rescale: number, overrides: Partial<DecodeSettings> = {}): Promise<Uint8Array> {
  const result = await decodeFile(path, settings(rescale, overrides));
  if (!result.ok) throw new Error(`${path}: ${result.failure.code} ${result.failure.reason}`);
  expect([result.image.width, result.image.height, result.image.data.length]).toEqual([rescale, rescale, rescale * rescale * 3]);
  return result.image.data;
}

const at = (data: Uint8Array, side: number, x: number, y: number) => Array.from(data.subarray((y * side + x) * 3, (y * side + x) * 3 + 3));

beforeAll(() => configureSharp());

describe('decodeFile() on odd but valid images', () => {
  it('decodeFile() - every odd fixture prepares to exactly rescale x rescale x 3, for several rescales', async () => {
    for (const name of readdirSync(ODD)) {
      for (const rescale of [32, 256]) await pixels(join(ODD, name), rescale);
    }
  });

  it('decodeFile() - greyscale becomes 3 equal channels; palette and RGBA keep colour; alpha is flattened onto the background', async () => {
    const grey = await pixels(join(ODD, 'grey.png'), 64);
    for (let i = 0; i < grey.length; i += 3) expect(grey[i]).toBe(grey[i + 1]);
    // rgba.png: the top-left 40x30 of 160x120 is transparent magenta; rescale 120 keeps columns 20..139.
    const rgba = await pixels(join(ODD, 'rgba.png'), 120);
    expect(at(rgba, 120, 2, 2)).toEqual([0, 0, 0]);
    const white = await pixels(join(ODD, 'rgba.png'), 120, { background: [255, 255, 255] });
    expect(at(white, 120, 2, 2)).toEqual([255, 255, 255]);
    const palette = await pixels(join(ODD, 'palette.png'), 120);
    expect(at(palette, 120, 2, 2)).toEqual([0, 0, 0]);
    expect(Math.max(...at(palette, 120, 100, 100))).toBeGreaterThan(0);
  });

  it('decodeFile() - EXIF orientations 1-8 give 8 identical upright images', async () => {
    const reference = await pixels(join(ODD, 'orient-source.png'), 80);
    for (let k = 1; k <= 8; k++) {
      const data = await pixels(join(ODD, `orient-${k}.jpg`), 80);
      let total = 0;
      let worst = 0;
      for (let i = 0; i < data.length; i++) {
        const difference = Math.abs(data[i]! - reference[i]!);
        total += difference;
        worst = Math.max(worst, difference);
      }
      expect(total / data.length, `orient-${k}.jpg mean difference`).toBeLessThan(2);
      expect(worst, `orient-${k}.jpg worst difference`).toBeLessThan(40);
    }
    // Not applying the tag would be caught: orientation 3 is the picture turned 180 degrees.
    const upsideDown = await sharp(readFileSync(join(ODD, 'orient-3.jpg')), { autoOrient: false }).resize(80, 80, { fit: 'cover' }).raw().toBuffer();
    expect(Math.abs(upsideDown[0]! - reference[0]!) + Math.abs(upsideDown[1]! - reference[1]!)).toBeGreaterThan(100);
  });

  it('decodeFile() - a CMYK JPEG comes out close to its RGB original', async () => {
    const cmyk = await pixels(join(ODD, 'cmyk.jpg'), 64);
    const rgb = await pixels(join(ODD, 'cmyk-source.png'), 64);
    // Mean of each 16x16 patch, per channel: within 30 of the original (no ICC profile is embedded;
    // measured worst: 26 on the red channel of saturated green).
    const patchMean = (data: Uint8Array, x0: number, y0: number) => [0, 1, 2].map((c) => {
      let sum = 0;
      for (let y = y0; y < y0 + 16; y++) for (let x = x0; x < x0 + 16; x++) sum += data[(y * 64 + x) * 3 + c]!;
      return sum / 256;
    });
    for (const [x, y] of [[8, 8], [40, 8], [8, 40], [40, 40]] as const) {
      const a = patchMean(cmyk, x, y);
      const b = patchMean(rgb, x, y);
      for (let c = 0; c < 3; c++) expect(Math.abs(a[c]! - b[c]!), `patch at ${x},${y} channel ${c}: ${a} vs ${b}`).toBeLessThanOrEqual(30);
    }
  });

  it('decodeFile() - a 16-bit PNG gives the same pixels as its 8-bit copy within 1/255', async () => {
    const deep = await pixels(join(ODD, 'rgb16.png'), 96);
    const shallow = await pixels(join(ODD, 'rgb16-as8.png'), 96);
    let worst = 0;
    for (let i = 0; i < deep.length; i++) worst = Math.max(worst, Math.abs(deep[i]! - shallow[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('decodeFile() - animated GIF and WebP: the first frame only (red)', async () => {
    for (const name of ['animated.gif', 'animated.webp']) {
      const data = await pixels(join(ODD, name), 32);
      expect(at(data, 32, 16, 16), name).toEqual([255, 0, 0]);
      expect(at(data, 32, 16, 31), name).toEqual([255, 0, 0]);
    }
  });

  it('decodeFile() - tiny and line images are upscaled to the exact shape, 1x5000 and 5000x1 too', async () => {
    await pixels(join(ODD, 'tiny-10x10.png'), 224);
    await pixels(join(ODD, 'line-1x400.png'), 224);
    const tall = await sharp({ create: { width: 1, height: 5000, channels: 3, background: '#336699' } }).png().toBuffer();
    const wide = await sharp({ create: { width: 5000, height: 1, channels: 3, background: '#336699' } }).png().toBuffer();
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/patchstream-lines-');
    writeFileSync(join(dir, 'tall.png'), tall);
    writeFileSync(join(dir, 'wide.png'), wide);
    const before = process.memoryUsage().rss;
    const data = await pixels(join(dir, 'tall.png'), 256);
    await pixels(join(dir, 'wide.png'), 256);
    expect(at(data, 256, 128, 128)).toEqual([0x33, 0x66, 0x99]);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('decodeFile() on broken files', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['truncated.jpg', 'DECODE', 'decode', /premature end|truncated|corrupt/i],
    ['truncated.png', 'DECODE', 'decode', /^vipspng: libpng read error/],
    ['corrupt-scan.jpg', 'DECODE', 'decode', /^libjpeg: Corrupt JPEG data: premature end of data segment \(byte \d+; failOn is 'warning'\)$/],
    ['empty.jpg', 'EMPTY', 'read', /empty \(0 bytes\)/],
    ['one-byte.jpg', 'EMPTY', 'read', /only 1 bytes/],
    ['text.jpg', 'UNSUPPORTED', 'sniff', /TEXT content is not an allowed format/],
    ['html.jpg', 'UNSUPPORTED', 'sniff', /HTML content/],
    ['svg-named.jpg', 'UNSUPPORTED', 'sniff', /SVG content/],
    ['pdf-named.jpg', 'UNSUPPORTED', 'sniff', /PDF content/],
    ['tiff-named.jpg', 'UNSUPPORTED', 'sniff', /TIFF content in a \.jpg file \(set allowMisnamed: true to accept\)/],
    ['bomb.png', 'PIXEL_LIMIT', 'decode', /exceeds pixel limit.*limitInputPixels is 50000000/],
  ];
  for (const [name, code, stage, reason] of cases) {
    it(`decodeFile() - ${name} fails with ${code} at stage ${stage}`, async () => {
      const result = await decodeFile(join(BROKEN, name), settings(64));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.failure.code).toBe(code);
      expect(result.failure.stage).toBe(stage);
      expect(result.failure.reason).toMatch(reason);
    });
  }

  it('decodeFile() - a PNG named .jpg decodes; a TIFF named .jpg decodes when allowed; SVG never does', async () => {
    await pixels(join(BROKEN, 'png-named.jpg'), 64);
    await pixels(join(BROKEN, 'tiff-named.jpg'), 64, { allowMisnamed: true });
    // even when the sniff stage is told to let SVG through, libvips' SVG loader is blocked
    const svg = await decodeFile(join(BROKEN, 'svg-named.jpg'), settings(64, { allowMisnamed: true, formats: ['jpeg', 'png', 'svg' as never] }));
    expect(svg.ok || svg.failure).toEqual({ code: 'UNSUPPORTED', stage: 'decode', reason: 'Input buffer contains unsupported image format' });
  });

  it('decodeFile() - the 20000x20000 bomb is refused from its header with PIXEL_LIMIT, without the memory', async () => {
    const before = process.memoryUsage().rss;
    const result = await decodeFile(join(BROKEN, 'bomb.png'), settings(256));
    // sharp checks limitInputPixels against the header's size before it decodes a pixel: a
    // PIXEL_LIMIT failure (rather than a decode that ran, or failed later for memory) says so.
    expect(result.ok || result.failure).toMatchObject({ code: 'PIXEL_LIMIT', stage: 'decode', reason: expect.stringMatching(/exceeds pixel limit/) });
    // 20000 x 20000 x 3 bytes would be 1.2 GB.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('decodeFile() - a missing file or a folder is an IO error naming the errno', async () => {
    const missing = await decodeFile('fixtures/odd/no-such-file.png', settings(64));
    expect(missing.ok || missing.failure).toMatchObject({ code: 'IO', stage: 'read', reason: expect.stringMatching(/^ENOENT/) });
    const folder = await decodeFile('fixtures/odd', settings(64));
    expect(folder.ok || folder.failure).toMatchObject({ code: 'IO', stage: 'read', reason: expect.stringMatching(/^EISDIR/) });
  });

  it('decodeFile() - files above maxFileBytes are refused from their size', async () => {
    const result = await decodeFile(join(ODD, 'rgb16.png'), settings(64, { maxFileBytes: 1000 }));
    expect(result.ok || result.failure).toMatchObject({ code: 'FILE_TOO_LARGE', stage: 'read' });
  });
});
