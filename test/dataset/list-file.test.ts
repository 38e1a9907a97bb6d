import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { DatasetError } from '../../src/errors.js';
import { listFile } from '../../src/dataset/list-file.js';
import { rejection } from '../helpers.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'patchstream-list-file-'));
const root = path.join(base, 'root');
const outside = path.join(base, 'outside');
const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);

beforeAll(() => {
  for (const file of ['many/.keep', 'cat/1.jpg', 'cat/2.jpg', 'dog/3.jpg', 'odd, name.jpg', '中文 é.png', 'sub/x.jpg']) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), 'not really an image');
  }
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(outside, 'secret.jpg'), 'secret');
  symlinkSync('/', path.join(root, 'rootlink'));
  symlinkSync(outside, path.join(root, 'outlink'));
  symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'secret.jpg'));
  symlinkSync('cat/1.jpg', path.join(root, 'inside-link.jpg'));
  for (let i = 0; i < 10; i++) writeFileSync(path.join(root, 'many', `f${i}.jpg`), '');
  mkdirSync(path.join(root, 'many', 'sub'));
  symlinkSync('f0.jpg', path.join(root, 'many', 'link.jpg'));
  symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'many', 'out.jpg'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

let listCount = 0;
/** Writes a list file into the root (so the default root applies) and returns its path. */
function list(content: string | Buffer, folder = root): string {
  const file = path.join(folder, `list-${listCount++}.txt`);
  writeFileSync(file, content);
  return file;
}


const at = (file: string): string => path.join(root, file);

describe('listFile()', () => {
  const badList = [
    '\uFEFFcat/1.jpg,0', //            1  valid (BOM)
    'cat/2.jpg,10', //                  2  out of range with 10 classes
    'dog/3.jpg,-1', //                  3  negative
    'dog/3.jpg,3.5', //                 4  not an integer
    'dog/3.jpg,cat', //                 5  unknown class
    'dog/3.jpg', //                     6  no delimiter
    'dog/3.jpg,2\r', //                 7  valid (CRLF)
    '', //                              8  blank
    '# a comment, with a comma', //     9  comment
    'cat/1.jpg,1', //                  10  same file as line 1, other label
    '../../etc/passwd,0', //           11  leaves the root lexically
    '/etc/passwd,0', //                12  absolute
    'a/../../x,0', //                  13  leaves the root lexically
    'rootlink/etc/passwd,0', //        14  leaves the root through a symlink to /
    'cat/1.jpg,0', //                  15  valid: a repeat with the same label is kept
    'missing.jpg,0', //                16  not found
    'cat/2.jpg, c4 \r', //             17  valid: class name, whitespace around the label
    'cat,0', //                        18  a folder
    ',0', //                           19  empty path
    'dog/3.jpg,', //                   20  empty label
    'a\0b.jpg,0', //                   21  NUL byte
    '   ', //                          22  blank (whitespace only)
    'sub/../sub/x.jpg\t9', //          23  valid: '..' that stays inside, TAB delimiter
    'secret.jpg,0', //                 24  symlink to a file outside the root
    'outlink/secret.jpg,0', //         25  through a linked folder outside the root
  ].join('\n');

  const expectedProblems: [number, RegExp][] = [
    [2, /label 10 is out of range: 10 classes, so 0 to 9/],
    [3, /label -1 is negative/],
    [4, /label 3.5 is not an integer/],
    [5, /unknown class "cat"/],
    [6, /no delimiter/],
    [10, /same file as line 1 with label 0 \(c0\), here label 1 \(c1\)/],
    [11, /leaves the root .* through '\.\.'/],
    [12, /absolute path/],
    [13, /leaves the root .* through '\.\.'/],
    [14, /leaves the root through a symlink/],
    [16, /file not found/],
    [18, /is a folder/],
    [19, /empty path/],
    [20, /empty label/],
    [21, /NUL byte/],
    [24, /leaves the root through a symlink \(real path .*secret\.jpg\)/],
    [25, /leaves the root through a symlink \(real folder .*outside\)/],
  ];

  test('listFile() - reports every bad line with its line number in one BAD_LIST error', async () => {
    const error = await rejection(listFile(list(badList), { classes }));
    expect(error.code).toBe('BAD_LIST');
    expect(error.problems.map((problem) => problem.line)).toEqual(expectedProblems.map(([line]) => line));
    error.problems.forEach((problem, i) => expect(problem.reason).toMatch(expectedProblems[i]![1]));
    expect(error.problems[10]).toMatchObject({ line: 16, path: 'missing.jpg' });
    expect(error.message).toMatch(/^17 bad lines in .*list-\d+\.txt \(25 lines read\)/);
    expect(error.message).toContain('line 11 ../../etc/passwd:');
  });

  test('listFile() - valid lines are exactly the expected samples, in file order', async () => {
    const dataset = await listFile(list(badList), { classes, onBadLine: 'skip' });
    expect(dataset.samples).toEqual([
      { path: at('cat/1.jpg'), label: 0 },
      { path: at('dog/3.jpg'), label: 2 },
      { path: at('cat/1.jpg'), label: 0 },
      { path: at('cat/2.jpg'), label: 4 },
      { path: at('sub/x.jpg'), label: 9 },
    ]);
    expect(dataset.classes).toEqual(classes);
    expect(dataset.root).toBe(root);
    expect(dataset.problems.map((problem) => problem.line)).toEqual(expectedProblems.map(([line]) => line));
    expect(dataset.ignored.count).toBe(17);
    expect(dataset.ignored.examples[0]).toBe('line 2: cat/2.jpg');
  });

  test('listFile() - lexical escapes are refused before touching the file, even when it exists', async () => {
    const error = await rejection(listFile(list('../outside/secret.jpg,0\ncat/1.jpg,0')));
    expect(error.problems).toEqual([{ line: 1, path: '../outside/secret.jpg', reason: expect.stringMatching(/through '\.\.'/) }]);
  });

  test('listFile() - links inside the root are followed', async () => {
    const dataset = await listFile(list('inside-link.jpg,0\n'));
    expect(dataset.samples).toEqual([{ path: at('inside-link.jpg'), label: 0 }]);
  });

  test('listFile() - integer labels give classes "0" to max', async () => {
    const dataset = await listFile(list('cat/1.jpg,2\ndog/3.jpg,0\n'));
    expect(dataset.classes).toEqual(['0', '1', '2']);
    expect(dataset.samples.map((sample) => sample.label)).toEqual([2, 0]);
  });

  test('listFile() - class names as labels give the sorted unique names', async () => {
    const dataset = await listFile(list('dog/3.jpg,dog\ncat/1.jpg,cat\ncat/2.jpg,cat\nsub/x.jpg,Zebra\n'));
    expect(dataset.classes).toEqual(['Zebra', 'cat', 'dog']);
    expect(dataset.samples.map((sample) => sample.label)).toEqual([2, 1, 1, 0]);
  });

  test('listFile() - a mix of names and indices is an error on the less common kind', async () => {
    const error = await rejection(listFile(list('cat/1.jpg,cat\ncat/2.jpg,cat\ndog/3.jpg,1\n')));
    expect(error.problems).toEqual([{ line: 3, path: 'dog/3.jpg', reason: expect.stringMatching(/is an integer index but 2 other lines use class names/) }]);
  });

  test('listFile() - with classes, names and indices mix; an ambiguous label must be resolved with labelKind', async () => {
    const mixed = await listFile(list('cat/1.jpg,c3\ncat/2.jpg,7\n'), { classes });
    expect(mixed.samples.map((sample) => sample.label)).toEqual([3, 7]);

    const numeric = ['1', '2', '10'];
    const file = list('cat/1.jpg,1\ndog/3.jpg,0\ncat/2.jpg,10\n');
    const error = await rejection(listFile(file, { classes: numeric }));
    expect(error.problems).toEqual([{ line: 1, path: 'cat/1.jpg', reason: expect.stringMatching(/ambiguous/) }]);
    const byName = await rejection(listFile(file, { classes: numeric, labelKind: 'name' }));
    expect(byName.problems).toEqual([{ line: 2, path: 'dog/3.jpg', reason: 'unknown class "0"' }]);
    const byIndex = await rejection(listFile(file, { classes: numeric, labelKind: 'index' }));
    expect(byIndex.problems).toEqual([{ line: 3, path: 'cat/2.jpg', reason: expect.stringMatching(/out of range/) }]);
    const names = await listFile(list('cat/1.jpg,1\ncat/2.jpg,10\n'), { classes: numeric, labelKind: 'name' });
    expect(names.samples.map((sample) => sample.label)).toEqual([0, 2]);
  });

  test('listFile() - TAB splits at the last TAB, comma at the last comma, so paths may hold commas', async () => {
    const dataset = await listFile(list('odd, name.jpg\t1\nodd, name.jpg,1\n中文 é.png,0\n'));
    expect(dataset.samples).toEqual([
      { path: at('odd, name.jpg'), label: 1 },
      { path: at('odd, name.jpg'), label: 1 },
      { path: at('中文 é.png'), label: 0 },
    ]);
  });

  test('listFile() - whitespace around a path is kept and hinted at, not silently trimmed', async () => {
    const error = await rejection(listFile(list('cat/1.jpg ,0\n')));
    expect(error.problems).toEqual([
      { line: 1, path: 'cat/1.jpg ', reason: 'file not found (note: the path starts or ends with whitespace)' },
    ]);
  });

  test('listFile() - delimiter " " reads Caffe-style lists', async () => {
    const dataset = await listFile(list('cat/1.jpg 0\r\ndog/3.jpg 1  \r\n'), { delimiter: ' ' });
    expect(dataset.samples).toEqual([
      { path: at('cat/1.jpg'), label: 0 },
      { path: at('dog/3.jpg'), label: 1 },
    ]);
  });

  test('listFile() - paths resolve against options.root, default the list file folder', async () => {
    const elsewhere = path.join(base, 'lists');
    mkdirSync(elsewhere, { recursive: true });
    const file = list('cat/1.jpg,0\n', elsewhere);
    expect((await rejection(listFile(file))).problems[0]?.reason).toBe('file not found');
    const dataset = await listFile(file, { root });
    expect(dataset.samples).toEqual([{ path: at('cat/1.jpg'), label: 0 }]);
    expect(dataset.root).toBe(root);
  });

  test('listFile() - a list of only blanks and comments gives EMPTY_DATASET; a missing file NOT_FOUND', async () => {
    expect((await rejection(listFile(list('\uFEFF# header\r\n\r\n   \n')))).code).toBe('EMPTY_DATASET');
    expect((await rejection(listFile(list('')))).code).toBe('EMPTY_DATASET');
    const missing = path.join(base, 'nope.txt');
    const error = await rejection(listFile(missing));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.problems[0]?.path).toBe(missing);
    expect((await rejection(listFile(list('cat/1.jpg,0'), { root: path.join(base, 'no-root') }))).code).toBe('NOT_FOUND');
  });

  test('listFile() - every line bad under onBadLine: skip gives EMPTY_DATASET with the problems', async () => {
    const error = await rejection(listFile(list('missing.jpg,0\n'), { onBadLine: 'skip' }));
    expect(error.code).toBe('EMPTY_DATASET');
    expect(error.problems).toEqual([{ line: 1, path: 'missing.jpg', reason: 'file not found' }]);
  });

  test('listFile() - a line longer than maxLineLength is a bad line and the next lines still count', async () => {
    const long = 'x'.repeat(200_000) + '.jpg,0';
    const error = await rejection(listFile(list(`cat/1.jpg,0\n${long}\ncat/x.jpg,0\n`), { maxLineLength: 100 }));
    expect(error.problems).toEqual([
      { line: 2, reason: 'longer than maxLineLength (100 bytes)' },
      { line: 3, path: 'cat/x.jpg', reason: 'file not found' },
    ]);
  });

  test('listFile() - more lines than maxLines fails before any file is checked', async () => {
    const error = await rejection(listFile(list('a,0\nb,0\nc,0\nd,0\ne,0\n'), { maxLines: 3, onBadLine: 'skip' }));
    expect(error.code).toBe('BAD_LIST');
    expect(error.problems).toEqual([{ line: 4, reason: 'more than maxLines (3) lines; stopped reading' }]);
  });

  test('listFile() - a line that is not valid UTF-8 is reported', async () => {
    const bytes = Buffer.concat([Buffer.from('cat/1.jpg,0\ncat/'), Buffer.from([0xe9]), Buffer.from('.jpg,0\n')]);
    const error = await rejection(listFile(list(bytes)));
    expect(error.problems).toEqual([{ line: 2, reason: 'not valid UTF-8' }]);
  });

  test('listFile() - a folder many lines point into gives the same answers as one checked file by file', async () => {
    const names = ['f0.jpg', 'f1.jpg', 'link.jpg', 'missing.jpg', 'out.jpg', 'sub', 'F2.JPG', 'f3.jpg', 'f4.jpg', 'f5.jpg'];
    const expected = [
      [4, /file not found/],
      [5, /leaves the root through a symlink \(real path .*secret\.jpg\)/],
      [6, /is a folder/],
      [7, /file not found/],
    ] as const;
    // 10 lines into many/ (read with readdir), then the same names one per list (lstat each).
    const together = await rejection(listFile(list(names.map((name) => `many/${name},0`).join('\n'))));
    expect(together.problems.map((problem) => problem.line)).toEqual(expected.map(([line]) => line));
    together.problems.forEach((problem, i) => expect(problem.reason).toMatch(expected[i]![1]));
    for (const [line, reason] of expected) {
      const alone = await rejection(listFile(list(`many/${names[line - 1]},0`)));
      expect(alone.problems[0]?.reason).toMatch(reason);
    }
    const fine = await listFile(list(['f0.jpg', 'f1.jpg', 'link.jpg', 'f3.jpg', 'f4.jpg', 'f5.jpg', 'f6.jpg', 'f7.jpg'].map((name) => `many/${name},0`).join('\n')));
    expect(fine.samples.map((sample) => path.basename(sample.path))).toEqual(['f0.jpg', 'f1.jpg', 'link.jpg', 'f3.jpg', 'f4.jpg', 'f5.jpg', 'f6.jpg', 'f7.jpg']);
  });

  test('listFile() - 200k lines pointing into shared folders all load, in file order', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) lines.push(`${i % 3 === 0 ? 'dog/3.jpg' : 'cat/1.jpg'},${i % 3 === 0 ? 1 : 0}`);
    const dataset = await listFile(list(lines.join('\n')), { concurrency: 16 });
    expect(dataset.samples).toHaveLength(200_000);
    expect(dataset.samples[3]).toEqual({ path: at('dog/3.jpg'), label: 1 });
    expect(dataset.classes).toEqual(['0', '1']);
  });

  test('listFile() - invalid options are rejected naming the option and the value', async () => {
    const file = list('cat/1.jpg,0\n');
    await expect(listFile(file, { delimiter: ';' as ',' })).rejects.toThrow(/options.delimiter but received ';' of type string/);
    await expect(listFile(file, { classes: ['a', 'b', 'a'] })).rejects.toThrow(RangeError);
    await expect(listFile(file, { classes: [] })).rejects.toThrow(TypeError);
    await expect(listFile(file, { maxLines: 0 })).rejects.toThrow(RangeError);
  });
});
