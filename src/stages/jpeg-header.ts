/**
 * What a JPEG's markers say before any pixel is decoded: size, components, coding process,
 * colour transform, EXIF orientation, ICC profile. The fast decode path ({@link ./jpeg-turbo.ts})
 * takes a JPEG only when this says it can reproduce what sharp would make of it; everything
 * else (CMYK/YCCK, 12-bit, arithmetic or lossless coding, EXIF orientation 2-8, an embedded ICC
 * profile other than sRGB) goes to sharp.
 */

/** The parts of a JPEG header that decide which decoder takes it. */
export interface JpegHeader {
  width: number;
  height: number;
  /** 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK/YCCK). */
  components: number;
  /** Bits per sample (8 or 12 in practice). */
  precision: number;
  /** The SOF marker's number: 0 baseline, 1 extended sequential, 2 progressive, 3 lossless, 9+ arithmetic. */
  process: number;
  /** EXIF orientation tag (1-8), 1 when absent or unreadable. */
  orientation: number;
  /** The embedded ICC profile: none, one whose description names sRGB, or another (sharp converts it to sRGB). */
  icc: 'none' | 'sRGB' | 'other';
  /** Adobe APP14 colour transform (0 none, 1 YCbCr, 2 YCCK), or -1 when there is no Adobe marker. */
  adobeTransform: number;
  /** Sampling factors (h << 4 | v) of each component. */
  sampling: number[];
}

/** Header parse outcome: the header, or why the markers could not be read. */
export type JpegHeaderResult = { ok: true; header: JpegHeader } | { ok: false; reason: string };

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Reads the EXIF orientation (tag 0x0112 of IFD0) from an APP1 payload, 1 when absent. */
function exifOrientation(bytes: Uint8Array, start: number, end: number): number {
  // "Exif\0\0" then a TIFF header.
  if (end - start < 14 || bytes[start] !== 0x45 || bytes[start + 1] !== 0x78 || bytes[start + 2] !== 0x69 || bytes[start + 3] !== 0x66) return 1;
  const tiff = start + 6;
  const little = bytes[tiff] === 0x49 && bytes[tiff + 1] === 0x49;
  const big = bytes[tiff] === 0x4d && bytes[tiff + 1] === 0x4d;
  if (!little && !big) return 1;
  const u16 = (at: number) => (little ? bytes[at]! | (bytes[at + 1]! << 8) : (bytes[at]! << 8) | bytes[at + 1]!);
  const u32 = (at: number) => (little ? u16(at) + u16(at + 2) * 65536 : u16(at) * 65536 + u16(at + 2));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/** Whether an APP2 ICC_PROFILE payload is a whole (one-segment) profile whose `desc` tag names sRGB. */
function iccIsSrgb(bytes: Uint8Array, start: number, end: number): boolean {
  if (bytes[start + 13] !== 1) return false; // the profile spans several segments: not a small sRGB one
  const profile = start + 14;
  const u32 = (at: number) => ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
  if (profile + 132 > end) return false;
  const tags = u32(profile + 128);
  for (let i = 0; i < tags && profile + 144 + i * 12 <= end; i++) {
    const entry = profile + 132 + i * 12;
    if (String.fromCharCode(bytes[entry]!, bytes[entry + 1]!, bytes[entry + 2]!, bytes[entry + 3]!) !== 'desc') continue;
    const from = profile + u32(entry + 4);
    const to = Math.min(end, from + u32(entry + 8));
    const text = Buffer.from(bytes.subarray(from, to));
    return text.includes('sRGB', 0, 'latin1') || text.includes('\0s\0R\0G\0B', 0, 'latin1');
  }
  return false;
}

/**
 * Parses the markers of a JPEG up to its first SOS (start of scan).
 * Never throws: a malformed header is a `{ ok: false }` with the reason.
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeaderResult {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return { ok: false, reason: 'no SOI marker (not a JPEG)' };
  let orientation = 1;
  let icc: JpegHeader['icc'] = 'none';
  let adobeTransform = -1;
  let frame: Omit<JpegHeader, 'orientation' | 'icc' | 'adobeTransform'> | null = null;
  let at = 2;
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) return { ok: false, reason: `expected a marker at byte ${at}, found 0x${bytes[at]!.toString(16)}` };
    while (at < bytes.length && bytes[at] === 0xff) at++; // fill bytes
    if (at >= bytes.length) break;
    const marker = bytes[at]!;
    at++;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // no length
    if (marker === 0xd9) break;
    if (at + 2 > bytes.length) break;
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    const start = at + 2;
    const end = at + length;
    if (length < 2 || end > bytes.length) return { ok: false, reason: `marker 0x${marker.toString(16)} at byte ${at - 2} runs past the end of the file` };
    if (marker === 0xda) {
      if (!frame) return { ok: false, reason: 'start of scan before any frame header (SOF)' };
      return { ok: true, header: { ...frame, orientation, icc, adobeTransform } };
    }
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) return { ok: false, reason: 'frame header (SOF) too short' };
      const components = bytes[start + 5]!;
      const sampling: number[] = [];
      for (let c = 0; c < components && start + 6 + c * 3 + 1 < end; c++) sampling.push(bytes[start + 6 + c * 3 + 1]!);
      frame = {
        precision: bytes[start]!,
        height: (bytes[start + 1]! << 8) | bytes[start + 2]!,
        width: (bytes[start + 3]! << 8) | bytes[start + 4]!,
        components,
        process: marker - 0xc0,
        sampling,
      };
    } else if (marker === 0xe1) {
      if (orientation === 1) orientation = exifOrientation(bytes, start, end);
    } else if (marker === 0xe2) {
      // "ICC_PROFILE\0"
      if (end - start >= 12 && bytes[start] === 0x49 && bytes[start + 1] === 0x43 && bytes[start + 2] === 0x43 && bytes[start + 3] === 0x5f) {
        icc = icc === 'none' && iccIsSrgb(bytes, start, end) ? 'sRGB' : 'other';
      }
    } else if (marker === 0xee) {
      // "Adobe": version(2) flags0(2) flags1(2) transform(1)
      if (end - start >= 12 && bytes[start] === 0x41 && bytes[start + 1] === 0x64 && bytes[start + 2] === 0x6f && bytes[start + 3] === 0x62 && bytes[start + 4] === 0x65) {
        adobeTransform = bytes[start + 11]!;
      }
    }
    at = end;
  }
  return { ok: false, reason: 'no start of scan (SOS) marker: the file ends inside its header' };
}

/**
 * Why the fast path does not take a JPEG with this header, or null when it does:
 * 8-bit baseline, extended or progressive Huffman coding, 1 component or 3 YCbCr components,
 * EXIF orientation 1 (or none), no ICC profile or an sRGB one.
 */
export function fastPathRefusal(header: JpegHeader): string | null {
  if (header.precision !== 8) return `${header.precision}-bit samples`;
  if (header.process !== 0 && header.process !== 1 && header.process !== 2) return `coding process SOF${header.process} (lossless, hierarchical or arithmetic)`;
  if (header.components !== 1 && header.components !== 3) return `${header.components} components (CMYK/YCCK)`;
  if (header.components === 3 && header.adobeTransform === 0) return 'RGB-coded (Adobe transform 0)';
  if (header.orientation !== 1) return `EXIF orientation ${header.orientation}`;
  if (header.icc === 'other') return 'embedded ICC profile other than sRGB';
  if (header.width < 1 || header.height < 1) return 'zero width or height (DNL marker)';
  return null;
}
