/**
 * Helpers shared by the dataset sources: code-point ordering, root containment and non-UTF-8
 * names.
 * Internal: not re-exported from the package.
 */

import path from 'node:path';


/**
 * Compares two strings by Unicode code point, the order Python's `sorted()` gives.
 * `Array.prototype.sort` compares UTF-16 code units instead, which puts characters above
 * U+FFFF (emoji, rare CJK) before U+E000..U+FFFF, so class indices would differ from a
 * torchvision run on the same folder.
 * @example
 * ['b', 'a', '\u{1F600}', '\uFF01'].sort(compareCodePoints); // ['a', 'b', '\uFF01', '\u{1F600}']
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return surrogateLast(x) - surrogateLast(y);
  }
  return a.length - b.length;
}

// At the first differing code unit, a surrogate stands for a code point >= U+10000, so it
// must rank above every BMP unit, including U+E000..U+FFFF.
function surrogateLast(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/**
 * True when `child` is `parent` or lies under it. Both must be absolute and normalised
 * (outputs of `path.resolve` or `realpath`, so no `..` or doubled separators remain).
 * @example
 * isInside('/data', '/data/a/b.jpg'); // true
 * isInside('/data', '/data2/b.jpg');  // false
 */
export function isInside(parent: string, child: string): boolean {
  if (child === parent) return true;
  // String prefix, not path.relative: this runs once per list line. `/data2` must not count
  // as inside `/data`, hence the separator; a root of `/` already ends with one.
  const prefix = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(prefix);
}

/**
 * Shows a file name that is not valid UTF-8 with its bad bytes as `\xNN`, so it can be
 * reported: Node turns such bytes into U+FFFD, which names a file that does not exist.
 * @example
 * displayName(Buffer.from([0x63, 0xe9, 0x2e, 0x70, 0x6e, 0x67])); // 'c\\xe9.png'
 */
export function displayName(name: Buffer): string {
  let out = '';
  for (let i = 0; i < name.length; ) {
    const width = utf8SequenceLength(name, i);
    if (width === 0) {
      out += `\\x${(name[i] as number).toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      out += name.toString('utf8', i, i + width);
      i += width;
    }
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at `start`, or 0 if the bytes there are not one.
function utf8SequenceLength(bytes: Buffer, start: number): number {
  const lead = bytes[start] as number;
  if (lead < 0x80) return 1;
  const width = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (width === 0 || start + width > bytes.length) return 0;
  // The strict decoder also rejects overlong forms and encoded UTF-16 surrogates.
  return decodeUtf8(bytes.subarray(start, start + width)) === undefined ? 0 : width;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8, or returns `undefined` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
