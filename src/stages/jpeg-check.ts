/**
 * Stage `jpeg-check`: libjpeg-turbo's verdict on a whole JPEG stream, without decoding pixels.
 *
 * Why this exists. sharp's `failOn: 'warning'` lets many corrupt JPEGs through, for three reasons
 * found in libvips' jpeg loader (libvips/foreign/jpeg2vips.c, 8.18) and in libjpeg-turbo:
 * 1. libvips checks libjpeg's warning count only at the start of each 8-line strip, before
 *    decoding it, so a warning raised while decoding the last strip is never seen;
 * 2. libvips never calls `jpeg_finish_decompress()` ("it just checks the tail of the file"), so
 *    what libjpeg reports while reading the markers after the scan (extraneous bytes before EOI,
 *    a missing EOI, a second scan) is never seen;
 * 3. sharp reads sequentially and libvips stops decoding at the last row the output needs: with
 *    a centre crop, the bottom of a portrait image (and everything after it) is never decoded;
 * and, in libjpeg-turbo itself, the fast Huffman path (`decode_mcu_fast`, used while at least
 * 512 bytes per block of the MCU are left in the source buffer) turns a bad Huffman code into a
 * zero without a warning. sharp decodes from memory, so it takes the fast path almost everywhere,
 * while djpeg reads its file through libjpeg's stdio source (4096-byte buffer) and takes the slow,
 * warning path for a quarter or more of the MCUs. So the warnings depend on the source as well.
 *
 * What this does. It walks the marker segments and the entropy-coded data exactly as
 * libjpeg-turbo 2.1 (`djpeg`, with its stdio source) does: the same marker parser, the same
 * Huffman table checks, the same fast/slow MCU decoding choice (including its bit-buffer fill
 * pattern, which decides how many bytes are left in the source buffer), the same restart-marker
 * handling and the same end-of-stream checks, for baseline, extended and progressive Huffman
 * JPEGs. It decodes Huffman symbols only: no dequantisation, IDCT, upsampling, colour conversion
 * or resize, which is where a decoder spends most of its time. The result is the first warning
 * or error libjpeg would report, with libjpeg's own message. Arithmetic-coded JPEGs (SOF9/SOF10,
 * rare) are not walked: they are left to sharp's own `failOn`.
 */
import type { FailOn } from '../options.js';

/** What libjpeg reports: a warning, the data ending early (a warning too), or a fatal error. */
export type JpegIssueKind = 'warning' | 'truncated' | 'error';

/** The first thing libjpeg-turbo would report about a stream, if anything. */
export interface JpegIssue {
  kind: JpegIssueKind;
  /** libjpeg's message, e.g. `Corrupt JPEG data: bad Huffman code`. */
  message: string;
  /** Byte offset in the file where the reader was when it was reported. */
  offset: number;
}

/** Outcome of {@link checkJpegStream}. `walked: false` means the stream was not checked (arithmetic coding). */
export type JpegCheckResult =
  | { walked: true; issue: JpegIssue | null }
  | { walked: false; why: string };

/** libjpeg's stdio source reads its file in blocks of this many bytes (jdatasrc.c INPUT_BUF_SIZE). */
const SOURCE_BUFFER_SIZE = 4096;
/** jdhuff.c: the fast path needs `BUFSIZE * blocks_in_MCU` bytes left in the source buffer. */
const FAST_BYTES_PER_BLOCK = 64 * 8;
/** jdhuff.c MIN_GET_BITS with a 64-bit bit buffer. */
const MIN_GET_BITS = 57;
const LOOKAHEAD = 8;

/** Thrown inside the walk to stop it; never escapes {@link checkJpegStream}. */
class Stop {
  constructor(readonly issue: JpegIssue | null) {}
}

/** A derived Huffman table (jdhuff.c d_derived_tbl). */
interface HuffTable {
  maxcode: Int32Array; // 18 entries
  valoffset: Int32Array; // 18 entries
  lookup: Int32Array; // 256 entries: (length << 8) | symbol; length 9 = longer than lookahead
  huffval: Uint8Array; // 256 entries
}

interface RawHuffTable {
  bits: Uint8Array; // 17 entries, bits[0] unused
  huffval: Uint8Array; // 256 entries
}

interface Component {
  id: number;
  h: number;
  v: number;
  quant: number;
  widthInBlocks: number;
  heightInBlocks: number;
  /** Blocks per row in the coefficient buffer (rounded up to h), progressive only. */
  paddedWidth: number;
  paddedHeight: number;
  dcTable: number;
  acTable: number;
  /** Progressive only: nonzero flags of each block's 64 coefficients (zigzag order). */
  nonzero: Uint8Array | null;
  /** Progressive only: jdphuff coef_bits, -1 = never coded. */
  coefBits: Int32Array | null;
}

// jdhuff.c std_huff_tables(): the default tables libjpeg-turbo installs for a sequential scan
// whose DHT is missing (Motion-JPEG); ITU T.81 K.3.
const STD_DC_LUMA_BITS = [0, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const STD_DC_LUMA_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const STD_DC_CHROMA_BITS = [0, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const STD_DC_CHROMA_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const STD_AC_LUMA_BITS = [0, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const STD_AC_LUMA_VALS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
  0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
  0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
  0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
  0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
const STD_AC_CHROMA_BITS = [0, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const STD_AC_CHROMA_VALS = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];

function rawTable(bits: readonly number[], values: readonly number[]): RawHuffTable {
  const huffval = new Uint8Array(256);
  huffval.set(values);
  return { bits: Uint8Array.from(bits), huffval };
}

const hex2 = (value: number): string => `0x${value.toString(16).padStart(2, '0')}`;

// Reused between calls (one walk at a time per thread): the de-stuffed data of the current
// entropy-coded segment and the file offset just past each of its bytes.
let segmentData = new Uint8Array(1 << 16);
let segmentEnds = new Int32Array(1 << 16);
// Progressive JPEGs: which coefficients are nonzero so far (AC refinement scans read a
// correction bit for each nonzero one).
let nonzeroPool = new Uint8Array(1 << 18);

/**
 * Walks one JPEG stream the way libjpeg-turbo's djpeg reads it and returns the first warning or
 * error it would report. `stopAt` says which issues end the walk early: `'warning'` stops at the
 * first warning or error; `'truncated'` and `'error'` walk on past warnings (libjpeg keeps
 * decoding after them) to find whether the data ends early or a fatal error follows.
 */
export function checkJpegStream(bytes: Uint8Array, stopAt: 'warning' | 'error' | 'truncated' = 'warning'): JpegCheckResult {
  const walker = new Walker(bytes, stopAt);
  try {
    walker.run();
    return { walked: true, issue: walker.firstIssue };
  } catch (caught) {
    if (caught instanceof Stop) return { walked: true, issue: caught.issue ?? walker.firstIssue };
    if (caught instanceof Unwalked) return { walked: false, why: caught.why };
    throw caught;
  }
}

class Unwalked {
  constructor(readonly why: string) {}
}

class Walker {
  readonly #bytes: Uint8Array;
  readonly #size: number;
  readonly #stopAt: 'warning' | 'error' | 'truncated';
  firstIssue: JpegIssue | null = null;

  // source manager
  #pos = 0;
  // marker reader
  #unreadMarker = 0;
  #discarded = 0;
  #nextRestart = 0;
  // frame
  #sawSOF = false;
  #progressive = false;
  #width = 0;
  #height = 0;
  #maxH = 1;
  #maxV = 1;
  #components: Component[] = [];
  #dcRaw: (RawHuffTable | null)[] = [null, null, null, null];
  #acRaw: (RawHuffTable | null)[] = [null, null, null, null];
  #quant = [false, false, false, false];
  #restartInterval = 0;
  #sawJFIF = false;
  #sawAdobe = false;
  #adobeTransform = 0;
  #scanNumber = 0;
  #multipleScans = false;
  // scan
  #scan: Component[] = [];
  #Ss = 0;
  #Se = 63;
  #Ah = 0;
  #Al = 0;
  // bit reader over the current segment
  #segLength = 0; // de-stuffed data bytes before the terminating marker (or EOF)
  #segMarker = 0; // the marker ending the segment, 0 = file ended first
  #segMarkerEnd = 0; // file offset just past the marker code
  #segFastLimit = 0; // data bytes the fast path may fetch (FF FF.. 00 padding stops it)
  #fetched = 0;
  #consumed = 0;
  #zeroBits = 0;
  #markerHit = false;
  #insufficient = false;

  constructor(bytes: Uint8Array, stopAt: 'warning' | 'error' | 'truncated') {
    this.#bytes = bytes;
    this.#size = bytes.length;
    this.#stopAt = stopAt;
  }

  // ---- reporting -------------------------------------------------------------------------

  /**
   * Below `'warning'` a warning does not end the walk (libjpeg decodes on); at `'truncated'` a
   * fatal error ends it with nothing to report (libjpeg stops before the data could run out).
   */
  #report(kind: JpegIssueKind, message: string): void {
    const issue = { kind, message, offset: this.#pos };
    if (this.#stopAt === 'warning') throw new Stop(issue);
    if (kind === 'warning') return;
    if (kind === 'error' && this.#stopAt === 'truncated') throw new Stop(null);
    throw new Stop(issue);
  }

  #warn(message: string): void {
    this.#report('warning', message);
  }

  #error(message: string): never {
    this.#report('error', message);
    throw new Stop(null);
  }

  // ---- source (jdatasrc.c, stdio) ----------------------------------------------------------

  /** bytes_in_buffer of libjpeg's stdio source when the reader stands at file offset `pos`. */
  #bytesInBuffer(): number {
    const pos = this.#pos;
    if (pos % SOURCE_BUFFER_SIZE === 0) return 0;
    return Math.min(Math.ceil(pos / SOURCE_BUFFER_SIZE) * SOURCE_BUFFER_SIZE, this.#size) - pos;
  }

  /** One byte for the marker reader. Past the end: libjpeg warns and inserts a fake EOI. */
  #byte(): number {
    if (this.#pos < this.#size) return this.#bytes[this.#pos++]!;
    this.#endOfFile();
    return 0; // not reached
  }

  #endOfFile(): never {
    if (this.#size === 0) this.#error('Empty input file');
    // JWRN_JPEG_EOF, then a fake EOI: from here on libjpeg only winds down, so stop.
    this.#report('truncated', 'Premature end of JPEG file');
    throw new Stop(null);
  }

  #twoBytes(): number {
    const high = this.#byte();
    return (high << 8) | this.#byte();
  }

  #skip(count: number): void {
    if (count <= 0) return;
    if (this.#pos + count > this.#size) {
      this.#pos = this.#size;
      this.#endOfFile();
    }
    this.#pos += count;
  }

  // ---- markers (jdmarker.c) ---------------------------------------------------------------

  #nextMarker(): void {
    let c: number;
    for (;;) {
      c = this.#byte();
      while (c !== 0xff) {
        this.#discarded++;
        c = this.#byte();
      }
      do c = this.#byte(); while (c === 0xff);
      if (c !== 0) break;
      this.#discarded += 2;
    }
    if (this.#discarded !== 0) {
      const count = this.#discarded;
      this.#discarded = 0;
      this.#warn(`Corrupt JPEG data: ${count} extraneous bytes before marker ${hex2(c)}`);
    }
    this.#unreadMarker = c;
  }

  run(): void {
    if (this.#size === 0) this.#error('Empty input file');
    const c1 = this.#byte();
    const c2 = this.#byte();
    if (c1 !== 0xff || c2 !== 0xd8) this.#error(`Not a JPEG file: starts with ${hex2(c1)} ${hex2(c2)}`);
    let inHeaders = true;
    for (;;) {
      if (this.#unreadMarker === 0) this.#nextMarker();
      const marker = this.#unreadMarker;
      this.#unreadMarker = 0;
      if (marker === 0xd8) this.#error('Invalid JPEG file structure: two SOI markers');
      else if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) this.#sof(marker === 0xc2);
      else if (marker === 0xc9 || marker === 0xca) throw new Unwalked('arithmetic-coded JPEG');
      else if ((marker >= 0xc3 && marker <= 0xcf) && marker !== 0xc4 && marker !== 0xcc) {
        this.#error(`Unsupported JPEG process: SOF type ${hex2(marker)}`);
      } else if (marker === 0xda) {
        this.#sos();
        if (inHeaders) {
          inHeaders = false;
          this.#initialSetup();
        } else if (!this.#multipleScans) {
          this.#error("Didn't expect more than one scan");
        }
        this.#decodeScan();
      } else if (marker === 0xd9) {
        if (inHeaders) {
          if (this.#sawSOF) this.#error('Invalid JPEG file structure: missing SOS marker');
          this.#error('JPEG datastream contains no image');
        }
        return;
      } else if (marker === 0xcc) this.#skipVariable();
      else if (marker === 0xc4) this.#dht();
      else if (marker === 0xdb) this.#dqt();
      else if (marker === 0xdd) this.#dri();
      else if (marker === 0xe0 || marker === 0xee) this.#interestingApp(marker);
      else if ((marker >= 0xe1 && marker <= 0xef) || marker === 0xfe) this.#skipVariable();
      else if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { /* parameterless */ }
      else if (marker === 0xdc) this.#skipVariable();
      else this.#error(`Unsupported marker type ${hex2(marker)}`);
    }
  }

  #skipVariable(): void {
    const length = this.#twoBytes();
    this.#skip(length - 2);
  }

  #interestingApp(marker: number): void {
    let length = this.#twoBytes() - 2;
    // jdmarker.c get_interesting_appn() reads up to APPN_DATA_LEN (14) bytes of APP0 and APP14
    const count = length >= 14 ? 14 : length > 0 ? length : 0;
    const start = this.#pos;
    for (let i = 0; i < count; i++) this.#byte();
    length -= count;
    const data = this.#bytes.subarray(start, start + count);
    const isText = (text: string) => data.length >= text.length && [...text].every((ch, i) => data[i] === ch.charCodeAt(0));
    if (marker === 0xe0) {
      if (count >= 14 && isText('JFIF\0')) {
        this.#sawJFIF = true;
        if (data[5] !== 1) this.#warn(`Warning: unknown JFIF revision number ${data[5]}.${String(data[6]).padStart(2, '0')}`);
      }
    } else if (count >= 12 && isText('Adobe')) {
      this.#sawAdobe = true;
      this.#adobeTransform = data[11]!;
    }
    this.#skip(length);
  }

  #sof(progressive: boolean): void {
    if (this.#sawSOF) this.#error('Invalid JPEG file structure: two SOF markers');
    const length = this.#twoBytes();
    const precision = this.#byte();
    this.#height = this.#twoBytes();
    this.#width = this.#twoBytes();
    const count = this.#byte();
    if (this.#height <= 0 || this.#width <= 0 || count <= 0) this.#error('Empty JPEG image (DNL not supported)');
    if (length - 8 !== count * 3) this.#error('Bogus marker length');
    this.#components = [];
    for (let i = 0; i < count; i++) {
      const id = this.#byte();
      const sampling = this.#byte();
      const quant = this.#byte();
      this.#components.push({
        id, h: (sampling >> 4) & 15, v: sampling & 15, quant,
        widthInBlocks: 0, heightInBlocks: 0, paddedWidth: 0, paddedHeight: 0,
        dcTable: 0, acTable: 0, nonzero: null, coefBits: null,
      });
    }
    this.#sawSOF = true;
    this.#progressive = progressive;
    this.#precision = precision;
  }

  #precision = 8;

  #dht(): void {
    let length = this.#twoBytes() - 2;
    while (length > 16) {
      let index = this.#byte();
      const bits = new Uint8Array(17);
      let count = 0;
      for (let i = 1; i <= 16; i++) {
        bits[i] = this.#byte();
        count += bits[i]!;
      }
      length -= 17;
      if (count > 256 || count > length) this.#error('Bogus Huffman table definition');
      const huffval = new Uint8Array(256);
      for (let i = 0; i < count; i++) huffval[i] = this.#byte();
      length -= count;
      const table = { bits, huffval };
      if (index & 0x10) {
        index -= 0x10;
        if (index < 0 || index >= 4) this.#error(`Bogus DHT index ${index}`);
        this.#acRaw[index] = table;
      } else {
        if (index < 0 || index >= 4) this.#error(`Bogus DHT index ${index}`);
        this.#dcRaw[index] = table;
      }
    }
    if (length !== 0) this.#error('Bogus marker length');
  }

  #dqt(): void {
    let length = this.#twoBytes() - 2;
    while (length > 0) {
      const n = this.#byte();
      const precision = n >> 4;
      const table = n & 15;
      length--;
      if (table >= 4) this.#error(`Bogus DQT index ${table}`);
      let count = 64;
      if (precision) {
        if (length < 128) count = length >> 1;
        this.#skip(count * 2);
        length -= count * 2;
      } else {
        if (length < 64) count = length;
        this.#skip(count);
        length -= count;
      }
      this.#quant[table] = true;
    }
    if (length !== 0) this.#error('Bogus marker length');
  }

  #dri(): void {
    const length = this.#twoBytes();
    if (length !== 4) this.#error('Bogus marker length');
    this.#restartInterval = this.#twoBytes();
  }

  #sos(): void {
    if (!this.#sawSOF) this.#error('Invalid JPEG file structure: SOS before SOF');
    const length = this.#twoBytes();
    const n = this.#byte();
    if (length !== n * 2 + 6 || n < 1 || n > 4) this.#error('Bogus marker length');
    const slots: (Component | null)[] = [null, null, null, null];
    const scan: Component[] = [];
    for (let i = 0; i < n; i++) {
      const cc = this.#byte();
      const tables = this.#byte();
      let found: Component | null = null;
      // jdmarker.c get_sos() tests cur_comp_info[ci] with the component's index: kept as is.
      for (let ci = 0; ci < this.#components.length && ci < 4; ci++) {
        if (cc === this.#components[ci]!.id && !slots[ci]) {
          found = this.#components[ci]!;
          break;
        }
      }
      if (!found) this.#error(`Invalid component ID ${cc} in SOS`);
      for (const previous of scan) if (previous === found) this.#error(`Invalid component ID ${cc} in SOS`);
      slots[i] = found;
      found.dcTable = (tables >> 4) & 15;
      found.acTable = tables & 15;
      scan.push(found);
    }
    this.#Ss = this.#byte();
    this.#Se = this.#byte();
    const approximation = this.#byte();
    this.#Ah = (approximation >> 4) & 15;
    this.#Al = approximation & 15;
    this.#nextRestart = 0;
    this.#scanNumber++;
    this.#scan = scan;
  }

  /** jdinput.c initial_setup(), at the first SOS. */
  #initialSetup(): void {
    if (this.#height > 65500 || this.#width > 65500) this.#error('Maximum supported image dimension is 65500 pixels');
    if (this.#precision !== 8) throw new Unwalked(`${this.#precision}-bit JPEG`);
    if (this.#components.length > 10) this.#error(`Too many color components: ${this.#components.length}, max 10`);
    let maxH = 1;
    let maxV = 1;
    for (const c of this.#components) {
      if (c.h <= 0 || c.h > 4 || c.v <= 0 || c.v > 4) this.#error('Bogus sampling factors');
      maxH = Math.max(maxH, c.h);
      maxV = Math.max(maxV, c.v);
    }
    this.#maxH = maxH;
    this.#maxV = maxV;
    let nonzeroBytes = 0;
    for (const c of this.#components) {
      c.widthInBlocks = Math.ceil((this.#width * c.h) / (maxH * 8));
      c.heightInBlocks = Math.ceil((this.#height * c.v) / (maxV * 8));
      c.paddedWidth = Math.ceil(c.widthInBlocks / c.h) * c.h;
      c.paddedHeight = Math.ceil(c.heightInBlocks / c.v) * c.v;
      nonzeroBytes += c.paddedWidth * c.paddedHeight * 64;
    }
    if (this.#progressive) {
      if (nonzeroPool.length < nonzeroBytes) nonzeroPool = new Uint8Array(nonzeroBytes);
      else nonzeroPool.fill(0, 0, nonzeroBytes);
      let offset = 0;
      for (const c of this.#components) {
        const bytes = c.paddedWidth * c.paddedHeight * 64;
        c.nonzero = nonzeroPool.subarray(offset, offset + bytes);
        offset += bytes;
        c.coefBits = new Int32Array(64).fill(-1);
      }
    }
    this.#multipleScans = this.#progressive || this.#scan.length < this.#components.length;
    // jdapimin.c default_decompress_parms(): the Adobe transform code is checked once.
    const count = this.#components.length;
    if (!this.#sawJFIF && this.#sawAdobe) {
      const t = this.#adobeTransform;
      if ((count === 3 && t !== 0 && t !== 1) || (count === 4 && t !== 0 && t !== 2)) {
        this.#warn(`Unknown Adobe color transform code ${t}`);
      }
    } else if (this.#sawJFIF && this.#sawAdobe && count === 4) {
      const t = this.#adobeTransform;
      if (t !== 0 && t !== 2) this.#warn(`Unknown Adobe color transform code ${t}`);
    }
  }

  #table(raw: (RawHuffTable | null)[], index: number, isDC: boolean): HuffTable {
    let table = raw[index];
    if (!table && !this.#progressive && index < 2) {
      table = isDC
        ? (index === 0 ? rawTable(STD_DC_LUMA_BITS, STD_DC_LUMA_VALS) : rawTable(STD_DC_CHROMA_BITS, STD_DC_CHROMA_VALS))
        : (index === 0 ? rawTable(STD_AC_LUMA_BITS, STD_AC_LUMA_VALS) : rawTable(STD_AC_CHROMA_BITS, STD_AC_CHROMA_VALS));
      raw[index] = table;
    }
    if (index >= 4 || !table) this.#error(`Huffman table ${hex2(index)} was not defined`);
    return this.#derive(table, isDC);
  }

  /** jdhuff.c jpeg_make_d_derived_tbl(). */
  #derive(raw: RawHuffTable, isDC: boolean): HuffTable {
    const huffsize = new Uint8Array(257);
    const huffcode = new Int32Array(257);
    let p = 0;
    for (let l = 1; l <= 16; l++) {
      let i = raw.bits[l]!;
      if (p + i > 256) this.#error('Bogus Huffman table definition');
      while (i--) huffsize[p++] = l;
    }
    huffsize[p] = 0;
    const numsymbols = p;
    let code = 0;
    let si = huffsize[0]!;
    p = 0;
    while (huffsize[p]) {
      while (huffsize[p] === si) {
        huffcode[p++] = code;
        code++;
      }
      if (code >= 2 ** si) this.#error('Bogus Huffman table definition');
      code <<= 1;
      si++;
    }
    const maxcode = new Int32Array(18);
    const valoffset = new Int32Array(18);
    p = 0;
    for (let l = 1; l <= 16; l++) {
      if (raw.bits[l]) {
        valoffset[l] = p - huffcode[p]!;
        p += raw.bits[l]!;
        maxcode[l] = huffcode[p - 1]!;
      } else {
        maxcode[l] = -1;
      }
    }
    valoffset[17] = 0;
    maxcode[17] = 0xfffff;
    const lookup = new Int32Array(256).fill((LOOKAHEAD + 1) << LOOKAHEAD);
    p = 0;
    for (let l = 1; l <= LOOKAHEAD; l++) {
      for (let i = 1; i <= raw.bits[l]!; i++, p++) {
        let lookbits = huffcode[p]! << (LOOKAHEAD - l);
        for (let ctr = 1 << (LOOKAHEAD - l); ctr > 0; ctr--) lookup[lookbits++] = (l << LOOKAHEAD) | raw.huffval[p]!;
      }
    }
    if (isDC) {
      for (let i = 0; i < numsymbols; i++) if (raw.huffval[i]! > 15) this.#error('Bogus Huffman table definition');
    }
    return { maxcode, valoffset, lookup, huffval: raw.huffval };
  }

  // ---- entropy-coded segments -------------------------------------------------------------

  /** De-stuffs the segment starting at the reader's position, up to its marker (or EOF). */
  #loadSegment(): void {
    const bytes = this.#bytes;
    const size = this.#size;
    let i = this.#pos;
    let n = 0;
    let fastLimit = -1;
    if (segmentData.length < size - i + 16) {
      segmentData = new Uint8Array(size - i + 16);
      segmentEnds = new Int32Array(size - i + 16);
    }
    const data = segmentData;
    const ends = segmentEnds;
    let marker = 0;
    let markerEnd = size;
    while (i < size) {
      const b = bytes[i]!;
      if (b !== 0xff) {
        data[n] = b;
        ends[n++] = ++i;
        continue;
      }
      let j = i + 1;
      while (j < size && bytes[j] === 0xff) j++;
      if (j >= size) break; // the file ends inside FF padding
      const c = bytes[j]!;
      if (c === 0) {
        if (j > i + 1 && fastLimit < 0) fastLimit = n; // FF FF .. 00: the fast path reads it as a marker
        data[n] = 0xff;
        ends[n++] = j + 1;
        i = j + 1;
        continue;
      }
      marker = c;
      markerEnd = j + 1;
      break;
    }
    data.fill(0, n, n + 16);
    this.#zeroedTo = n + 16;
    this.#segLength = n;
    this.#segMarker = marker;
    this.#segMarkerEnd = markerEnd;
    this.#segFastLimit = fastLimit < 0 ? n : fastLimit;
    this.#segStart = this.#pos;
    this.#fetched = 0;
    this.#consumed = 0;
    this.#zeroBits = 0;
    this.#markerHit = false;
  }

  #segStart = 0;

  /** File offset of next_input_byte after `fetched` data bytes of the segment. */
  #offsetAfter(fetched: number): number {
    return fetched === 0 ? this.#segStart : segmentEnds[fetched - 1]!;
  }

  #bitsLeft(): number {
    return this.#fetched * 8 + this.#zeroBits - this.#consumed;
  }

  /** jdhuff.c jpeg_fill_bit_buffer(): fetch to 57 bits, stopping at the segment's marker. */
  #fill(nbits: number): void {
    if (!this.#markerHit) {
      const want = this.#consumed + MIN_GET_BITS - this.#zeroBits;
      let fetched = this.#fetched;
      if (fetched * 8 < want) {
        const needed = (want + 7) >> 3;
        if (needed <= this.#segLength) {
          fetched = needed;
        } else {
          fetched = this.#segLength;
          if (this.#segMarker === 0) {
            this.#fetched = fetched;
            this.#pos = this.#size;
            this.#endOfFile(); // jdatasrc.c: JWRN_JPEG_EOF, then a fake EOI; the walk stops here
          }
          this.#markerHit = true;
          this.#unreadMarker = this.#segMarker;
        }
        this.#fetched = fetched;
      }
      this.#pos = this.#markerHit ? this.#segMarkerEnd : this.#offsetAfter(fetched);
    }
    const left = this.#bitsLeft();
    if (this.#markerHit && nbits > left) {
      if (!this.#insufficient) {
        this.#insufficient = true;
        this.#warn('Corrupt JPEG data: premature end of data segment');
      }
      this.#zeroBits += MIN_GET_BITS - left;
      // the zero bits libjpeg shifts in must read as zeros here too
      const end = ((this.#fetched * 8 + this.#zeroBits) >> 3) + 8;
      if (end > this.#zeroedTo) {
        if (end > segmentData.length) {
          const grown = new Uint8Array(end * 2);
          grown.set(segmentData.subarray(0, this.#zeroedTo));
          segmentData = grown;
        }
        segmentData.fill(0, this.#zeroedTo, end);
        this.#zeroedTo = end;
      }
    }
  }

  #zeroedTo = 0;

  /** CHECK_BIT_BUFFER(n). */
  #need(count: number): void {
    if (this.#fetched * 8 + this.#zeroBits - this.#consumed < count) this.#fill(count);
  }

  /** CHECK_BIT_BUFFER + DROP_BITS: bits whose value does not matter here. */
  #skipBits(count: number): void {
    if (this.#fetched * 8 + this.#zeroBits - this.#consumed < count) this.#fill(count);
    this.#consumed += count;
  }

  /** CHECK_BIT_BUFFER + GET_BITS (count <= 16). */
  #bits(count: number): number {
    if (count === 0) return 0;
    if (this.#fetched * 8 + this.#zeroBits - this.#consumed < count) this.#fill(count);
    const at = this.#consumed;
    const q = at >> 3;
    const d = segmentData;
    const word = ((d[q]! << 16) | (d[q + 1]! << 8) | d[q + 2]!) << (at & 7);
    this.#consumed = at + count;
    return (word >>> (24 - count)) & ((1 << count) - 1);
  }

  /** HUFF_DECODE (slow path): warns on a bad code. */
  #decodeSlow(table: HuffTable): number {
    if (this.#fetched * 8 + this.#zeroBits - this.#consumed < LOOKAHEAD) {
      this.#fill(0);
      if (this.#fetched * 8 + this.#zeroBits - this.#consumed < LOOKAHEAD) return this.#decodeLong(table, 1);
    }
    const at = this.#consumed;
    const q = at >> 3;
    const look = table.lookup[((((segmentData[q]! << 8) | segmentData[q + 1]!) << (at & 7)) >>> 8) & 0xff]!;
    const nb = look >> LOOKAHEAD;
    if (nb <= LOOKAHEAD) {
      this.#consumed = at + nb;
      return look & 0xff;
    }
    return this.#decodeLong(table, nb);
  }

  /** jdhuff.c jpeg_huff_decode(). */
  #decodeLong(table: HuffTable, minBits: number): number {
    let l = minBits;
    let code = this.#bits(l);
    const maxcode = table.maxcode;
    while (code > maxcode[l]!) {
      code = (code << 1) | this.#bits(1);
      l++;
    }
    if (l > 16) {
      this.#warn('Corrupt JPEG data: bad Huffman code');
      return 0;
    }
    return table.huffval[(code + table.valoffset[l]!) & 0xff]!;
  }

  /** jdhuff.c / jdphuff.c process_restart() + jdmarker.c read_restart_marker(). */
  #processRestart(): void {
    this.#discarded += Math.floor(this.#bitsLeft() / 8);
    // libjpeg drops the bit buffer; the reader goes on from next_input_byte
    if (this.#unreadMarker === 0) this.#nextMarker();
    if (this.#unreadMarker === 0xd0 + this.#nextRestart) {
      this.#unreadMarker = 0;
    } else {
      this.#warn(`Corrupt JPEG data: found marker ${hex2(this.#unreadMarker)} instead of RST${this.#nextRestart}`);
      // Below 'warning' we only need to know whether the data ends early or an error follows:
      // resynchronise as jdmarker.c jpeg_resync_to_restart() does.
      this.#resync(this.#nextRestart);
    }
    this.#nextRestart = (this.#nextRestart + 1) & 7;
    if (this.#unreadMarker === 0) {
      this.#loadSegment();
      this.#insufficient = false;
    } else {
      // jpeg_resync_to_restart() left a marker unread: the entropy decoder gets an empty segment
      this.#segStart = this.#pos;
      this.#segLength = 0;
      this.#segFastLimit = 0;
      this.#segMarker = this.#unreadMarker;
      this.#segMarkerEnd = this.#pos;
      this.#fetched = 0;
      this.#consumed = 0;
      this.#zeroBits = 0;
      this.#markerHit = true;
      segmentData.fill(0, 0, 16);
      this.#zeroedTo = 16;
    }
  }

  #resync(desired: number): void {
    for (;;) {
      const marker = this.#unreadMarker;
      let action: number;
      if (marker < 0xc0) action = 2;
      else if (marker < 0xd0 || marker > 0xd7) action = 3;
      else if (marker === 0xd0 + ((desired + 1) & 7) || marker === 0xd0 + ((desired + 2) & 7)) action = 3;
      else if (marker === 0xd0 + ((desired - 1) & 7) || marker === 0xd0 + ((desired - 2) & 7)) action = 2;
      else action = 1;
      if (action === 1) {
        this.#unreadMarker = 0;
        return;
      }
      if (action === 3) return;
      this.#nextMarker();
    }
  }

  /** Decodes every MCU of the current scan (jdcoefct.c drives jdhuff.c / jdphuff.c). */
  #decodeScan(): void {
    const scan = this.#scan;
    let mcusPerRow: number;
    let mcuRows: number;
    const blockComponent: Component[] = [];
    const blockX: number[] = [];
    const blockY: number[] = [];
    if (scan.length === 1) {
      const c = scan[0]!;
      mcusPerRow = c.widthInBlocks;
      mcuRows = c.heightInBlocks;
      blockComponent.push(c);
      blockX.push(0);
      blockY.push(0);
    } else {
      mcusPerRow = Math.ceil(this.#width / (this.#maxH * 8));
      mcuRows = Math.ceil(this.#height / (this.#maxV * 8));
      for (const c of scan) {
        for (let y = 0; y < c.v; y++) for (let x = 0; x < c.h; x++) {
          blockComponent.push(c);
          blockX.push(x);
          blockY.push(y);
        }
      }
      if (blockComponent.length > 10) this.#error('Sampling factors too large for interleaved scan');
    }
    for (const c of scan) {
      if (c.quant >= 4 || !this.#quant[c.quant]) this.#error(`Quantization table ${hex2(c.quant)} was not defined`);
    }
    const blocksInMCU = blockComponent.length;

    if (this.#progressive) this.#startProgressive();
    else if (this.#Ss !== 0 || this.#Se !== 63 || this.#Ah !== 0 || this.#Al !== 0) this.#warn('Invalid SOS parameters for sequential JPEG');
    const derived = new Map<number, HuffTable>();
    const tableFor = (raw: (RawHuffTable | null)[], index: number, isDC: boolean): HuffTable => {
      const key = (isDC ? 0 : 16) + index;
      let table = derived.get(key);
      if (!table) derived.set(key, (table = this.#table(raw, index, isDC)));
      return table;
    };
    // Tables are derived per component of the scan, in scan order (jdhuff.c, jdphuff.c start_pass)
    for (const c of scan) {
      if (!this.#progressive || (this.#Ss === 0 && this.#Ah === 0)) tableFor(this.#dcRaw, c.dcTable, true);
      if (!this.#progressive || this.#Ss !== 0) tableFor(this.#acRaw, c.acTable, false);
    }
    const dcTables = blockComponent.map((c) => derived.get(c.dcTable)!);
    const acTables = blockComponent.map((c) => derived.get(16 + c.acTable)!);

    this.#insufficient = false;
    this.#loadSegment();
    if (this.#progressive) {
      this.#progressiveScan(scan.length === 1, mcusPerRow, mcuRows, blockComponent, blockX, blockY, dcTables, acTables);
    } else {
      const fastNeed = FAST_BYTES_PER_BLOCK * blocksInMCU;
      const restartInterval = this.#restartInterval;
      let restartsToGo = restartInterval;
      const mcus = mcusPerRow * mcuRows;
      for (let m = 0; m < mcus; m++) {
        if (restartInterval) {
          if (restartsToGo === 0) {
            this.#processRestart();
            restartsToGo = restartInterval;
          }
        }
        if (!this.#insufficient) {
          // jdhuff.c decode_mcu(): no fast path with restart markers, near the end of the source
          // buffer, or once the reader has met a marker
          const usefast = restartInterval === 0 && this.#unreadMarker === 0 && this.#bytesInBuffer() >= fastNeed;
          if (!usefast || !this.#mcuFast(blocksInMCU, dcTables, acTables)) this.#mcuSlow(blocksInMCU, dcTables, acTables);
        }
        if (restartInterval) restartsToGo--;
      }
    }
    // The scan is done: the marker reader goes on from next_input_byte (bytes the bit buffer
    // fetched ahead are dropped, as in libjpeg).
    if (!this.#markerHit) this.#pos = this.#offsetAfter(this.#fetched);
  }

  /** jdhuff.c decode_mcu_slow(). */
  #mcuSlow(blocks: number, dc: HuffTable[], ac: HuffTable[]): void {
    for (let b = 0; b < blocks; b++) {
      const s0 = this.#decodeSlow(dc[b]!);
      if (s0) this.#skipBits(s0);
      const table = ac[b]!;
      for (let k = 1; k < 64; k++) {
        const symbol = this.#decodeSlow(table);
        const r = symbol >> 4;
        const s = symbol & 15;
        if (s) {
          k += r;
          this.#skipBits(s);
        } else {
          if (r !== 15) break;
          k += 15;
        }
      }
    }
  }

  /**
   * jdhuff.c decode_mcu_fast(): bad codes decode as 0 without a warning. Returns false, with the
   * state as it was, where libjpeg hands the MCU back to the slow path (it fetched a marker).
   * FILL_BIT_BUFFER_FAST: with 16 or fewer bits left, 6 more bytes are fetched.
   */
  #mcuFast(blocks: number, dc: HuffTable[], ac: HuffTable[]): boolean {
    const limit = this.#segFastLimit;
    let fetched = this.#fetched;
    let consumed = this.#consumed;
    const d = segmentData;
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < 64; k++) {
        const table = k === 0 ? dc[b]! : ac[b]!;
        if (fetched * 8 - consumed <= 16) {
          fetched += 6;
          if (fetched > limit) return false;
        }
        const q = consumed >> 3;
        const look = table.lookup[((((d[q]! << 8) | d[q + 1]!) << (consumed & 7)) >>> 8) & 0xff]!;
        let nb = look >> LOOKAHEAD;
        let s: number;
        if (nb <= LOOKAHEAD) {
          consumed += nb;
          s = look & 0xff;
        } else {
          const q3 = consumed >> 3;
          let code = (((((d[q3]! << 16) | (d[q3 + 1]! << 8) | d[q3 + 2]!) << (consumed & 7)) >>> 15) & 0x1ff);
          consumed += 9;
          const maxcode = table.maxcode;
          while (code > maxcode[nb]!) {
            code = (code << 1) | ((d[consumed >> 3]! >> (7 - (consumed & 7))) & 1);
            consumed++;
            nb++;
          }
          s = nb > 16 ? 0 : table.huffval[(code + table.valoffset[nb]!) & 0xff]!;
        }
        if (k === 0) {
          if (s) {
            if (fetched * 8 - consumed <= 16) {
              fetched += 6;
              if (fetched > limit) return false;
            }
            consumed += s;
          }
          continue;
        }
        const r = s >> 4;
        s &= 15;
        if (s) {
          k += r;
          if (fetched * 8 - consumed <= 16) {
            fetched += 6;
            if (fetched > limit) return false;
          }
          consumed += s;
        } else {
          if (r !== 15) break;
          k += 15;
        }
      }
    }
    this.#fetched = fetched;
    this.#consumed = consumed;
    this.#pos = segmentEnds[fetched - 1]!;
    return true;
  }

  /** jdphuff.c start_pass_phuff_decoder(): parameter checks and progression bookkeeping. */
  #startProgressive(): void {
    const Ss = this.#Ss, Se = this.#Se, Ah = this.#Ah, Al = this.#Al;
    const isDC = Ss === 0;
    let bad = false;
    if (isDC) {
      if (Se !== 0) bad = true;
    } else {
      if (Ss > Se || Se >= 64) bad = true;
      if (this.#scan.length !== 1) bad = true;
    }
    if (Ah !== 0 && Al !== Ah - 1) bad = true;
    if (Al > 13) bad = true;
    if (bad) this.#error(`Invalid progressive parameters Ss=${Ss} Se=${Se} Ah=${Ah} Al=${Al}`);
    for (const c of this.#scan) {
      const index = this.#components.indexOf(c);
      const coefBits = c.coefBits!;
      if (!isDC && coefBits[0]! < 0) this.#warn(`Inconsistent progression sequence for component ${index} coefficient 0`);
      for (let k = Ss; k <= Se; k++) {
        const expected = coefBits[k]! < 0 ? 0 : coefBits[k]!;
        if (Ah !== expected) this.#warn(`Inconsistent progression sequence for component ${index} coefficient ${k}`);
        coefBits[k] = Al;
      }
    }
  }

  /** One progressive scan: jdphuff.c decode_mcu_DC_first / DC_refine / AC_first / AC_refine. */
  #progressiveScan(
    single: boolean, mcusPerRow: number, mcuRows: number, blockComponent: Component[],
    blockX: number[], blockY: number[], dc: HuffTable[], ac: HuffTable[],
  ): void {
    const Ss = this.#Ss, Se = this.#Se, Ah = this.#Ah;
    const restartInterval = this.#restartInterval;
    let restartsToGo = restartInterval;
    const blocks = blockComponent.length;
    // DC values only matter for jdphuff.c's overflow check (JERR_BAD_DCT_COEF), which needs
    // more than a million blocks of extreme differences: tracked only for images that large.
    const trackDC = this.#width * this.#height > 64 * 1_000_000;
    const lastDC = [0, 0, 0, 0];
    const scanIndex = blockComponent.map((c) => this.#scan.indexOf(c));
    let eobrun = 0;
    for (let row = 0; row < mcuRows; row++) {
      for (let col = 0; col < mcusPerRow; col++) {
        if (restartInterval) {
          if (restartsToGo === 0) {
            this.#processRestart();
            lastDC.fill(0);
            eobrun = 0;
            restartsToGo = restartInterval;
          }
          restartsToGo--;
        }
        if (Ss === 0) {
          if (Ah !== 0) {
            for (let b = 0; b < blocks; b++) this.#skipBits(1);
            continue;
          }
          if (this.#insufficient) continue;
          for (let b = 0; b < blocks; b++) {
            const s = this.#decodeSlow(dc[b]!);
            if (!trackDC) {
              if (s) this.#skipBits(s);
              continue;
            }
            let value = 0;
            if (s) {
              const r = this.#bits(s);
              value = r < (1 << (s - 1)) ? r + (-1 << s) + 1 : r;
            }
            const ci = scanIndex[b]!;
            const sum = lastDC[ci]! + value;
            if (sum > 0x7fffffff || sum < -0x80000000) this.#error('DCT coefficient out of range');
            lastDC[ci] = sum;
          }
          continue;
        }
        if (this.#insufficient) continue;
        const component = blockComponent[0]!;
        const nz = component.nonzero!;
        const base = (single ? row * component.paddedWidth + col : (row * component.v + blockY[0]!) * component.paddedWidth + col * component.h + blockX[0]!) * 64;
        const table = ac[0]!;
        if (Ah === 0) {
          if (eobrun > 0) {
            eobrun--;
            continue;
          }
          for (let k = Ss; k <= Se; k++) {
            const symbol = this.#decodeSlow(table);
            const r = symbol >> 4;
            const s = symbol & 15;
            if (s) {
              k += r;
              this.#skipBits(s);
              nz[base + (k < 63 ? k : 63)] = 1;
            } else if (r === 15) {
              k += 15;
            } else {
              eobrun = 1 << r;
              if (r) eobrun += this.#bits(r);
              eobrun--;
              break;
            }
          }
          continue;
        }
        // AC refinement
        let k = Ss;
        if (eobrun === 0) {
          for (; k <= Se; k++) {
            const symbol = this.#decodeSlow(table);
            let r = symbol >> 4;
            const s = symbol & 15;
            if (s) {
              if (s !== 1) this.#warn('Corrupt JPEG data: bad Huffman code');
              this.#skipBits(1);
            } else if (r !== 15) {
              eobrun = 1 << r;
              if (r) eobrun += this.#bits(r);
              break;
            }
            do {
              if (nz[base + k]) this.#skipBits(1);
              else if (--r < 0) break;
              k++;
            } while (k <= Se);
            if (s) nz[base + (k < 63 ? k : 63)] = 1;
          }
        }
        if (eobrun > 0) {
          for (; k <= Se; k++) if (nz[base + k]) this.#skipBits(1);
          eobrun--;
        }
      }
    }
  }
}

/**
 * The failure to report for a JPEG under a loader's `failOn`, from {@link checkJpegStream}.
 * `none` checks nothing (sharp decodes what it can). `truncated` refuses data that ends early
 * (libjpeg's "Premature end of JPEG file"); `error` also refuses fatal errors libjpeg meets
 * anywhere in the stream; `warning` refuses any libjpeg warning as well.
 * Returns `null` when libjpeg would report nothing at that level, `undefined` when the stream
 * could not be walked (leave it to sharp).
 */
export function jpegIssueFor(bytes: Uint8Array, failOn: FailOn): JpegIssue | null | undefined {
  if (failOn === 'none') return undefined;
  const result = checkJpegStream(bytes, failOn === 'warning' ? 'warning' : failOn);
  if (!result.walked) return undefined;
  const issue = result.issue;
  if (issue === null) return null;
  if (failOn === 'truncated' && issue.kind !== 'truncated') return null;
  if (failOn === 'error' && issue.kind === 'warning') return null;
  return issue;
}
