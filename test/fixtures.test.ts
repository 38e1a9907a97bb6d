// The committed fixtures are what fixtures/README.md says they are.
// Regenerate them with `node scripts/make-fixtures.mjs`.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type SharpOptions } from 'sharp';
import { describe, expect, test } from 'vitest';
import { SHAPE_CLASSES } from '../scripts/seeded.mjs';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fixture = (path: string) => join(FIXTURES, path);
const read = (path: string) => readFile(fixture(path));


type RGB = [number, number, number];
const RED: RGB = [255, 0, 0];
const GREEN: RGB = [0, 255, 0];
const BLUE: RGB = [0, 0, 255];
const YELLOW: RGB = [255, 255, 0];
const WHITE: RGB = [255, 255, 255];
const GREY: RGB = [128, 128, 128];

/** Decodes the way a loader would: orientation applied, alpha flattened, 8-bit sRGB. */
async function decodeRgb(path: string, options?: SharpOptions) {
  const { data, info } = await sharp(await read(path), options)
    .autoOrient()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixel = (x: number, y: number): number[] => {
    const offset = (y * info.width + x) * info.channels;
    return [...data.subarray(offset, offset + info.channels)];
  };
  return { data, info, pixel };
}

function diff(a: Uint8Array, b: Uint8Array) {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

// The IJG (libjpeg) luminance quantisation table; quality q scales it by 200 - 2q percent (q >= 50).
const IJG_LUMINANCE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
  87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];

/** The libjpeg quality (50-100) whose luminance table the file's first DQT table matches, or -1. */
function jpegQuality(bytes: Buffer): number {
  let offset = 2;
  while (offset + 4 < bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1]!;
    const length = bytes.readUInt16BE(offset + 2);
    if (marker === 0xdb && (bytes[offset + 4]! & 0xf0) === 0) {
      // 8-bit table: order does not matter for a sum, so zig-zag order can be ignored.
      let sum = 0;
      for (let i = 0; i < 64; i++) sum += bytes[offset + 5 + i]!;
      for (let quality = 50; quality <= 100; quality++) {
        const scale = 200 - 2 * quality;
        const expected = IJG_LUMINANCE.reduce((total, basic) => total + Math.min(255, Math.max(1, Math.floor((basic * scale + 50) / 100))), 0);
        if (expected === sum) return quality;
      }
      return -1;
    }
    offset += 2 + length;
  }
  return -1;
}

describe('fixtures/shapes', () => {
  test('fixtures/shapes - 10 class folders of 32 images each', async () => {
    expect((await readdir(fixture('shapes'))).sort()).toEqual(SHAPE_CLASSES);
    for (const name of SHAPE_CLASSES) {
      const files = await readdir(fixture(`shapes/${name}`));
      expect(files, name).toHaveLength(32);
      for (const file of files) expect(file).toMatch(new RegExp(`^${name}-\\d\\d\\.(jpg|png)$`));
    }
  });

  test('fixtures/shapes - every class mixes JPEG and PNG, square, landscape and portrait, 100-400 px', async () => {
    const qualities = new Set<number>();
    for (const name of SHAPE_CLASSES) {
      const formats = new Set<string>();
      const layouts = new Set<string>();
      for (const file of await readdir(fixture(`shapes/${name}`))) {
        const metadata = await sharp(await read(`shapes/${name}/${file}`)).metadata();
        expect(metadata.format).toBe(file.endsWith('.jpg') ? 'jpeg' : 'png');
        expect(metadata.channels).toBe(3);
        expect(Math.min(metadata.width, metadata.height)).toBeGreaterThanOrEqual(100);
        expect(Math.max(metadata.width, metadata.height)).toBeLessThanOrEqual(400);
        formats.add(metadata.format);
        layouts.add(
          metadata.width === metadata.height ? 'square' : metadata.width > metadata.height ? 'landscape' : 'portrait',
        );
        if (metadata.format === 'jpeg') qualities.add(jpegQuality(await read(`shapes/${name}/${file}`)));
      }
      expect([...formats].sort(), name).toEqual(['jpeg', 'png']);
      expect([...layouts].sort(), name).toEqual(['landscape', 'portrait', 'square']);
    }
    expect(qualities.size).toBeGreaterThan(10);
    for (const quality of qualities) {
      expect(quality).toBeGreaterThanOrEqual(70);
      expect(quality).toBeLessThanOrEqual(95);
    }
  });

  test('fixtures/shapes - the foreground stays inside the central square', async () => {
    // The border of the image outside the central square (and 5% inside it) is background only:
    // its colour spread is small compared with the whole image, which has the shape in it.
    for (const name of SHAPE_CLASSES) {
      for (const file of (await readdir(fixture(`shapes/${name}`))).filter((f) => f.endsWith('.png')).slice(0, 3)) {
        const { data, info } = await decodeRgb(`shapes/${name}/${file}`);
        const side = Math.min(info.width, info.height);
        const margin = Math.floor(side * 0.05);
        const left = (info.width - side) / 2 + margin;
        const top = (info.height - side) / 2 + margin;
        const right = (info.width + side) / 2 - margin;
        const bottom = (info.height + side) / 2 - margin;
        let ringLumaMin = 255;
        let ringLumaMax = 0;
        let lumaMin = 255;
        let lumaMax = 0;
        for (let y = 0; y < info.height; y++) {
          for (let x = 0; x < info.width; x++) {
            const offset = (y * info.width + x) * 3;
            const luma = 0.299 * data[offset]! + 0.587 * data[offset + 1]! + 0.114 * data[offset + 2]!;
            lumaMin = Math.min(lumaMin, luma);
            lumaMax = Math.max(lumaMax, luma);
            if (x < left || x >= right || y < top || y >= bottom) {
              ringLumaMin = Math.min(ringLumaMin, luma);
              ringLumaMax = Math.max(ringLumaMax, luma);
            }
          }
        }
        expect(lumaMax - lumaMin, file).toBeGreaterThan(70);
        expect(ringLumaMax - ringLumaMin, file).toBeLessThan((lumaMax - lumaMin) * 0.75);
      }
    }
  });
});

describe('fixtures/odd', () => {
  test('fixtures/odd - grey.png and grey.jpg are 1-channel, grey-alpha.png is 2-channel', async () => {
    const grey = await sharp(await read('odd/grey.png')).metadata();
    expect([grey.format, grey.channels, grey.space]).toEqual(['png', 1, 'b-w']);
    const greyJpeg = await sharp(await read('odd/grey.jpg')).metadata();
    expect([greyJpeg.format, greyJpeg.channels, greyJpeg.space]).toEqual(['jpeg', 1, 'b-w']);
    const greyAlpha = await sharp(await read('odd/grey-alpha.png')).metadata();
    expect([greyAlpha.format, greyAlpha.channels, greyAlpha.hasAlpha]).toEqual(['png', 2, true]);
  });

  test('fixtures/odd - palette.png is indexed with a transparent entry', async () => {
    const metadata = await sharp(await read('odd/palette.png')).metadata();
    expect(metadata.isPalette).toBe(true);
    expect(metadata.hasAlpha).toBe(true);
    const { data, info } = await sharp(await read('odd/palette.png')).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(data[3]).toBe(0); // top-left pixel
    expect(data[(info.height * info.width - 1) * 4 + 3]).toBe(255); // bottom-right pixel
  });

  test('fixtures/odd - rgba.png has a fully transparent magenta 40x30 top-left corner', async () => {
    const { data, info } = await sharp(await read('odd/rgba.png')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([160, 120, 4]);
    const at = (x: number, y: number) => [...data.subarray((y * 160 + x) * 4, (y * 160 + x) * 4 + 4)];
    expect(at(0, 0)).toEqual([255, 0, 255, 0]);
    expect(at(39, 29)).toEqual([255, 0, 255, 0]);
    expect(at(40, 29)[3]).toBe(255);
    expect(at(39, 30)[3]).toBe(255);
    const flattened = await decodeRgb('odd/rgba.png');
    expect(flattened.pixel(10, 10)).toEqual(WHITE);
  });

  test('fixtures/odd - rgb16.png is 16-bit', async () => {
    const metadata = await sharp(await read('odd/rgb16.png')).metadata();
    expect([metadata.depth, metadata.space, metadata.channels, metadata.bitsPerSample]).toEqual(['ushort', 'rgb16', 3, 16]);
    const { data } = await sharp(await read('odd/rgb16.png')).raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const values = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
    // Real 16-bit content, not 8-bit values times 257.
    expect(values.some((value) => value % 257 !== 0)).toBe(true);
    expect((await sharp(await read('odd/rgb16-as8.png')).metadata()).depth).toBe('uchar');
  });

  test('fixtures/odd - rgb16.png reduced to 8 bits equals rgb16-as8.png within 1/255', async () => {
    const deep = await decodeRgb('odd/rgb16.png');
    const shallow = await decodeRgb('odd/rgb16-as8.png');
    expect(deep.info.channels).toBe(3);
    expect(diff(deep.data, shallow.data).max).toBeLessThanOrEqual(1);
  });

  test('fixtures/odd - cmyk.jpg is CMYK and decodes near cmyk-source.png', async () => {
    const metadata = await sharp(await read('odd/cmyk.jpg')).metadata();
    expect([metadata.format, metadata.space, metadata.channels]).toEqual(['jpeg', 'cmyk', 4]);
    const cmyk = await decodeRgb('odd/cmyk.jpg');
    const source = await decodeRgb('odd/cmyk-source.png');
    expect(cmyk.info.channels).toBe(3);
    for (const [x, y] of [[32, 32], [96, 32], [32, 96], [96, 96]] as const) {
      const got = cmyk.pixel(x, y);
      const want = source.pixel(x, y);
      for (let channel = 0; channel < 3; channel++) expect(Math.abs(got[channel]! - want[channel]!)).toBeLessThanOrEqual(40);
    }
    // Dominant channel: red, green, blue patches; white stays white.
    expect(cmyk.pixel(32, 32).indexOf(Math.max(...cmyk.pixel(32, 32)))).toBe(0);
    expect(cmyk.pixel(96, 32).indexOf(Math.max(...cmyk.pixel(96, 32)))).toBe(1);
    expect(cmyk.pixel(32, 96).indexOf(Math.max(...cmyk.pixel(32, 96)))).toBe(2);
    expect(Math.min(...cmyk.pixel(96, 96))).toBeGreaterThan(240);
  });

  describe('fixtures/odd - orient-k.jpg', () => {
    const orientations = [1, 2, 3, 4, 5, 6, 7, 8];

    test.each(orientations)('fixtures/odd - orient-%i.jpg carries EXIF orientation %i', async (orientation) => {
      const metadata = await sharp(await read(`odd/orient-${orientation}.jpg`)).metadata();
      expect(metadata.orientation).toBe(orientation);
      const [width, height] = orientation >= 5 ? [80, 120] : [120, 80];
      expect([metadata.width, metadata.height]).toEqual([width, height]);
      expect([metadata.autoOrient.width, metadata.autoOrient.height]).toEqual([120, 80]);
    });

    test.each(orientations)('fixtures/odd - orient-%i.jpg after autoOrient() is the upright orient-source.png', async (orientation) => {
      const upright = await decodeRgb('odd/orient-source.png');
      const oriented = await decodeRgb(`odd/orient-${orientation}.jpg`);
      expect([oriented.info.width, oriented.info.height]).toEqual([120, 80]);
      const { max, mean } = diff(oriented.data, upright.data);
      expect(mean).toBeLessThan(1);
      expect(max).toBeLessThanOrEqual(32);
      // Quadrant colours: TL red, TR green, BL blue, BR yellow.
      const near = (got: number[], want: RGB) => want.every((value, i) => Math.abs(got[i]! - value) <= 8);
      expect(near(oriented.pixel(8, 8), RED)).toBe(true);
      expect(near(oriented.pixel(111, 8), GREEN)).toBe(true);
      expect(near(oriented.pixel(8, 71), BLUE)).toBe(true);
      expect(near(oriented.pixel(111, 71), YELLOW)).toBe(true);
    });

    test.each(orientations.slice(1))('fixtures/odd - orient-%i.jpg without autoOrient() is not upright', async (orientation) => {
      const upright = await decodeRgb('odd/orient-source.png');
      const { data, info } = await sharp(await read(`odd/orient-${orientation}.jpg`)).raw().toBuffer({ resolveWithObject: true });
      if (info.width === 120) expect(diff(data, upright.data).mean).toBeGreaterThan(50);
      else expect([info.width, info.height]).toEqual([80, 120]);
    });
  });

  test('fixtures/odd - tiny-10x10.png, line-1x400.png and line-400x1.png have their sizes', async () => {
    for (const [file, width, height] of [['tiny-10x10.png', 10, 10], ['line-1x400.png', 1, 400], ['line-400x1.png', 400, 1]] as const) {
      const metadata = await sharp(await read(`odd/${file}`)).metadata();
      expect([metadata.width, metadata.height], file).toEqual([width, height]);
    }
  });

  test.each(['animated.gif', 'animated.webp'])('fixtures/odd - %s has 3 frames: red, green, blue', async (file) => {
    const metadata = await sharp(await read(`odd/${file}`)).metadata();
    expect(metadata.pages).toBe(3);
    expect(metadata.delay).toEqual([200, 200, 200]);
    expect(metadata.loop).toBe(0);
    const { data, info } = await sharp(await read(`odd/${file}`), { animated: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([48, 96]);
    const frameBytes = 48 * 32 * 3;
    for (const [frame, colour] of [RED, GREEN, BLUE].entries()) {
      const middle = frame * frameBytes + (16 * 48 + 24) * 3;
      expect([...data.subarray(middle, middle + 3)]).toEqual(colour);
    }
    // A loader that reads only the first page sees red.
    const first = await decodeRgb(`odd/${file}`);
    expect([first.info.width, first.info.height]).toEqual([48, 32]);
    expect(first.pixel(24, 16)).toEqual(RED);
  });

  test('fixtures/odd - progressive.jpg is progressive, interlaced.png is interlaced', async () => {
    const jpeg = await sharp(await read('odd/progressive.jpg')).metadata();
    expect([jpeg.format, jpeg.isProgressive]).toEqual(['jpeg', true]);
    const png = await sharp(await read('odd/interlaced.png')).metadata();
    expect([png.format, png.isProgressive]).toEqual(['png', true]);
  });

  test('fixtures/odd - image.webp is WebP and image.tif is TIFF', async () => {
    expect((await sharp(await read('odd/image.webp')).metadata()).format).toBe('webp');
    expect((await read('odd/image.tif')).subarray(0, 4)).toEqual(Buffer.from('II*\0', 'latin1'));
    expect((await sharp(await read('odd/image.tif')).metadata()).format).toBe('tiff');
  });

  test('fixtures/odd - corners.png has the documented ten-crop geometry', async () => {
    const { info, pixel } = await decodeRgb('odd/corners.png');
    expect([info.width, info.height]).toEqual([256, 256]);
    const expected: Array<[number, number, RGB]> = [
      [0, 0, RED], [111, 111, RED],
      [144, 0, GREEN], [255, 111, GREEN],
      [0, 144, BLUE], [111, 255, BLUE],
      [144, 144, YELLOW], [255, 255, YELLOW],
      [112, 112, WHITE], [143, 143, WHITE], [128, 128, WHITE],
      [112, 0, GREY], [143, 111, GREY], [0, 112, GREY], [255, 143, GREY], [128, 255, GREY], [111, 128, GREY],
    ];
    for (const [x, y, colour] of expected) expect(pixel(x, y), `${x},${y}`).toEqual(colour);
  });

  test('fixtures/odd - asymmetric.png has four distinct 32x24 quadrants', async () => {
    const { info, pixel } = await decodeRgb('odd/asymmetric.png');
    expect([info.width, info.height]).toEqual([64, 48]);
    expect(pixel(0, 0)).toEqual(RED);
    expect(pixel(31, 23)).toEqual(RED);
    expect(pixel(32, 0)).toEqual(GREEN);
    expect(pixel(0, 24)).toEqual(BLUE);
    expect(pixel(63, 47)).toEqual(YELLOW);
  });

  test('fixtures/odd - every file decodes to 3-channel 8-bit sRGB after autoOrient and flatten', async () => {
    const files = (await readdir(fixture('odd'))).sort();
    expect(files).toHaveLength(29);
    for (const file of files) {
      const { info } = await decodeRgb(`odd/${file}`);
      expect(info.channels, file).toBe(3);
      expect(info.width * info.height, file).toBeGreaterThan(0);
    }
  });
});

describe('fixtures/broken', () => {
  const failsToDecode = async (path: string, options?: SharpOptions) => {
    try {
      await sharp(await read(path), options).raw().toBuffer();
      return false;
    } catch {
      return true;
    }
  };

  test('fixtures/broken - empty.jpg is 0 bytes and one-byte.jpg is 0xFF', async () => {
    expect((await read('broken/empty.jpg')).length).toBe(0);
    expect([...(await read('broken/one-byte.jpg'))]).toEqual([0xff]);
    expect(await failsToDecode('broken/empty.jpg')).toBe(true);
    expect(await failsToDecode('broken/one-byte.jpg')).toBe(true);
  });

  test('fixtures/broken - truncated.jpg and truncated.png are cut image files that do not decode', async () => {
    const jpeg = await read('broken/truncated.jpg');
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...jpeg.subarray(-2)]).not.toEqual([0xff, 0xd9]);
    expect(await failsToDecode('broken/truncated.jpg')).toBe(true);
    const png = await read('broken/truncated.png');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.includes(Buffer.from('IEND'))).toBe(false);
    expect(await failsToDecode('broken/truncated.png')).toBe(true);
  });

  test('fixtures/broken - text.jpg, html.jpg, svg-named.jpg and pdf-named.jpg are not JPEG', async () => {
    expect((await read('broken/text.jpg')).toString('utf8')).toMatch(/^This photo is no longer available/);
    expect((await read('broken/html.jpg')).toString('utf8')).toMatch(/^<!DOCTYPE html>/);
    const svg = (await read('broken/svg-named.jpg')).toString('utf8');
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain('<svg');
    expect((await read('broken/pdf-named.jpg')).toString('latin1')).toMatch(/^%PDF-1\.4\n[\s\S]*%%EOF\n$/);
    expect(await failsToDecode('broken/text.jpg')).toBe(true);
    expect(await failsToDecode('broken/html.jpg')).toBe(true);
    expect(await failsToDecode('broken/pdf-named.jpg')).toBe(true);
    // sharp itself renders SVG: refusing svg-named.jpg is the loader's job (by magic bytes).
    expect((await sharp(await read('broken/svg-named.jpg')).metadata()).format).toBe('svg');
  });

  test('fixtures/broken - png-named.jpg and tiff-named.jpg are valid images under a .jpg name', async () => {
    expect((await read('broken/png-named.jpg')).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const png = await decodeRgb('broken/png-named.jpg');
    expect([png.info.width, png.info.height, png.info.channels]).toEqual([160, 120, 3]);
    expect((await read('broken/tiff-named.jpg')).subarray(0, 4)).toEqual(Buffer.from('II*\0', 'latin1'));
    const tiff = await decodeRgb('broken/tiff-named.jpg');
    expect([tiff.info.width, tiff.info.height, tiff.info.channels]).toEqual([160, 120, 3]);
  });

  test("fixtures/broken - corrupt-scan.jpg is refused with failOn 'warning' and decodes with 'none'", async () => {
    const bytes = await read('broken/corrupt-scan.jpg');
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect([...bytes.subarray(-2)]).toEqual([0xff, 0xd9]);
    await expect(sharp(bytes).raw().toBuffer()).rejects.toThrow(/Corrupt JPEG data/);
    expect(await failsToDecode('broken/corrupt-scan.jpg', { failOn: 'none' })).toBe(false);
  });

  test('fixtures/broken - bomb.png is 20000x20000 in under 1 MB and over the default pixel limit', async () => {
    const bytes = await read('broken/bomb.png');
    expect(bytes.length).toBeLessThan(1_000_000);
    expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([20000, 20000]);
    await expect(sharp(bytes).metadata()).rejects.toThrow(/exceeds pixel limit/);
  });
});

test('fixtures/SHA256SUMS - lists every generated file with its current hash', async () => {
  const listing = (await readFile(fixture('SHA256SUMS'), 'utf8')).trim().split('\n');
  const listed = new Set<string>();
  for (const line of listing) {
    const [hash, path] = line.split('  ') as [string, string];
    listed.add(path);
    expect(createHash('sha256').update(await read(path)).digest('hex'), `${path} differs from SHA256SUMS: rerun node scripts/make-fixtures.mjs`).toBe(hash);
  }
  const onDisk: string[] = [];
  for (const directory of ['shapes', 'odd', 'broken']) {
    for (const entry of await readdir(fixture(directory), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) onDisk.push(join(entry.parentPath ?? entry.path, entry.name).slice(FIXTURES.length));
    }
  }
  expect(onDisk.sort()).toEqual([...listed].sort());
});
