import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import { DatasetError } from '../../src/errors.js';
import { imageFolder } from '../../src/dataset/image-folder.js';
import { rejection } from '../helpers.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'patchstream-image-folder-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let treeCount = 0;
/** Builds a tree under a fresh folder; each key is a relative file path, each value its content. */
function tree(files: Record<string, string>, folders: string[] = []): string {
  const root = path.join(base, `tree-${treeCount++}`);
  mkdirSync(root, { recursive: true });
  for (const folder of folders) mkdirSync(path.join(root, folder), { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  return root;
}

/** Samples as `relative path -> label`, in order. */
function relative(root: string, samples: { path: string; label: number }[]): [string, number][] {
  return samples.map((sample) => [path.relative(root, sample.path), sample.label]);
}


describe('imageFolder()', () => {
  test('imageFolder() - labels follow sorted class names, not readdir order', async () => {
    // Created in an unsorted order; 'x\u{1F600}' is above U+FFFF, which UTF-16 sort puts
    // before 'x\uFF01' but code-point order (Python, torchvision) puts after.
    const root = tree({
      'zebra/1.jpg': 'z',
      'x\u{1F600}/1.jpg': 'e',
      'apple/1.jpg': 'a',
      'x\uFF01/1.jpg': 'f',
      'Apple/1.jpg': 'A',
      'éclair/1.jpg': 'é',
      'b/1.jpg': 'b',
    });
    const dataset = await imageFolder(root);
    const expected = ['Apple', 'apple', 'b', 'x\uFF01', 'x\u{1F600}', 'zebra', 'éclair'];
    expect(dataset.classes).toEqual(expected);
    expect([...expected].sort()).not.toEqual(expected);
    for (const sample of dataset.samples) {
      expect(path.basename(path.dirname(sample.path))).toBe(dataset.classes[sample.label]);
    }
    expect(dataset.samples.map((sample) => sample.label)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(dataset.root).toBe(root);
  });

  test('imageFolder() - samples sorted by path segments, nested files included, paths absolute', async () => {
    const root = tree({
      'a/z.jpg': '',
      'a/B.png': '',
      'a/sub/c.jpg': '',
      'a/a.JPEG': '',
      'a b/y.webp': '',
      'a b/x.gif': '',
      'c/deep/er/img.tiff': '',
      'c/img.tif': '',
    });
    const dataset = await imageFolder(root);
    expect(dataset.classes).toEqual(['a', 'a b', 'c']);
    // Segment order keeps each class contiguous: 'a/...' before 'a b/...' although ' ' < '/'.
    expect(relative(root, dataset.samples)).toEqual([
      ['a/B.png', 0],
      ['a/a.JPEG', 0],
      ['a/sub/c.jpg', 0],
      ['a/z.jpg', 0],
      ['a b/x.gif', 1],
      ['a b/y.webp', 1],
      ['c/deep/er/img.tiff', 2],
      ['c/img.tif', 2],
    ]);
    for (const sample of dataset.samples) expect(path.isAbsolute(sample.path)).toBe(true);
    expect(await imageFolder(root)).toEqual(dataset);
  });

  test('imageFolder() - .DS_Store, notes.txt and hidden entries are counted, not taken, and do not shift labels', async () => {
    const clean = { 'cat/1.jpg': '', 'cat/2.png': '', 'dog/3.jpg': '' };
    const cleanRoot = tree(clean);
    const root = tree(
      {
        ...clean,
        'readme.md': '',
        'top.jpg': '',
        '.DS_Store': '',
        'cat/.DS_Store': '',
        'cat/notes.txt': '',
        'cat/._1.jpg': 'AppleDouble',
        'dog/.hidden/4.jpg': '',
        '.ipynb_checkpoints/5.jpg': '',
      },
      [],
    );
    const dataset = await imageFolder(root);
    const reference = await imageFolder(cleanRoot);
    expect(dataset.classes).toEqual(['cat', 'dog']);
    expect(dataset.samples.map((sample) => sample.label)).toEqual(reference.samples.map((sample) => sample.label));
    expect(relative(root, dataset.samples)).toEqual(relative(cleanRoot, reference.samples));
    expect(dataset.ignored.count).toBe(8);
    expect(dataset.ignored.examples).toEqual([
      '.DS_Store',
      '.ipynb_checkpoints',
      'readme.md',
      'top.jpg',
      'cat/.DS_Store',
      'cat/._1.jpg',
      'cat/notes.txt',
      'dog/.hidden',
    ]);
    expect(dataset.refused).toEqual([]);
    expect(reference.ignored).toEqual({ count: 0, examples: [] });
  });

  test('imageFolder() - extensions are matched case-insensitively and can be replaced', async () => {
    const root = tree({ 'a/1.JPG': '', 'a/2.Png': '', 'a/3.bmp': '', 'b/4.ppm.gz': '' });
    const byDefault = await imageFolder(root, { allowEmptyClasses: true });
    expect(relative(root, byDefault.samples)).toEqual([
      ['a/1.JPG', 0],
      ['a/2.Png', 0],
    ]);
    expect(byDefault.ignored.count).toBe(2);
    const custom = await imageFolder(root, { extensions: ['bmp', '.PPM.GZ'] });
    expect(relative(root, custom.samples)).toEqual([
      ['a/3.bmp', 0],
      ['b/4.ppm.gz', 1],
    ]);
  });

  test('imageFolder() - an empty root, a root of loose files, and classes without images give EMPTY_DATASET', async () => {
    const empty = tree({});
    expect((await rejection(imageFolder(empty))).code).toBe('EMPTY_DATASET');
    const loose = await rejection(imageFolder(tree({ '1.jpg': '', '2.jpg': '' })));
    expect(loose.code).toBe('EMPTY_DATASET');
    expect(loose.message).toMatch(/2 other entries ignored/);
    const noImages = await rejection(imageFolder(tree({ 'a/notes.txt': '' }, ['b']), { allowEmptyClasses: true }));
    expect(noImages.code).toBe('EMPTY_DATASET');
  });

  test('imageFolder() - a missing root or a file as root gives NOT_FOUND naming the path', async () => {
    const missing = path.join(base, 'does-not-exist');
    const error = await rejection(imageFolder(missing));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.problems[0]?.path).toBe(missing);
    expect(error.message).toContain(missing);
    const file = path.join(tree({ 'x.jpg': '' }), 'x.jpg');
    expect((await rejection(imageFolder(file))).code).toBe('NOT_FOUND');
  });

  test('imageFolder() - EMPTY_CLASS names every empty class; allowEmptyClasses keeps indices', async () => {
    const root = tree({ 'a/1.jpg': '', 'a/2.jpg': '', 'a/3.jpg': '', 'c/1.jpg': '', 'c/2.jpg': '', 'd/notes.txt': '' }, ['b']);
    const error = await rejection(imageFolder(root));
    expect(error.code).toBe('EMPTY_CLASS');
    expect(error.problems.map((problem) => problem.path)).toEqual(['b', 'd']);
    expect(error.message).toMatch(/2 of 4 class folders .* have no image: b, d/);

    const dataset = await imageFolder(root, { allowEmptyClasses: true });
    expect(dataset.classes).toEqual(['a', 'b', 'c', 'd']);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['a/2.jpg', 0],
      ['a/3.jpg', 0],
      ['c/1.jpg', 2],
      ['c/2.jpg', 2],
    ]);
  });

  test('imageFolder() - a symlink loop ends the walk at once and is reported', { timeout: 5000 }, async () => {
    const root = tree({ 'a/1.jpg': '', 'a/sub/2.jpg': '', 'b/3.jpg': '' });
    symlinkSync('..', path.join(root, 'a', 'loop'));
    symlinkSync('.', path.join(root, 'a', 'self'));
    symlinkSync('..', path.join(root, 'a', 'sub', 'up'));
    const dataset = await imageFolder(root);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['a/sub/2.jpg', 0],
      ['b/3.jpg', 1],
    ]);
    expect(dataset.refused).toEqual([
      { path: 'a/loop', reason: 'symlink loop: points back to the root' },
      { path: 'a/self', reason: 'symlink loop: points back to a' },
      { path: 'a/sub/up', reason: 'symlink loop: points back to a' },
    ]);
    expect(dataset.ignored.count).toBe(3);
  });

  test('imageFolder() - links inside the root are followed, links leaving it are refused unless allowed', async () => {
    const outside = tree({ 'secret.jpg': '', 'folder/4.jpg': '' });
    const root = tree({ 'a/1.jpg': '', 'b/2.jpg': '' });
    symlinkSync('../b/2.jpg', path.join(root, 'a', 'alias.jpg'));
    symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'a', 'out.jpg'));
    symlinkSync(path.join(outside, 'folder'), path.join(root, 'b', 'out'));
    symlinkSync('/', path.join(root, 'b', 'slash'));
    symlinkSync(path.join(root, 'missing'), path.join(root, 'b', 'broken.jpg'));

    const dataset = await imageFolder(root);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['a/alias.jpg', 0],
      ['b/2.jpg', 1],
    ]);
    expect(dataset.refused.map((problem) => problem.path)).toEqual(['a/out.jpg', 'b/broken.jpg', 'b/out', 'b/slash']);
    expect(dataset.refused[0]?.reason).toMatch(/symlink leaves the root/);
    expect(dataset.refused[1]?.reason).toMatch(/broken symlink/);
    expect(dataset.refused[2]?.reason).toMatch(/symlink leaves the root/);
    expect(dataset.refused[3]?.reason).toMatch(/symlink leaves the root \(points to \/\)/);


    const open = tree({ 'a/1.jpg': '' });
    symlinkSync(path.join(outside, 'secret.jpg'), path.join(open, 'a', 'out.jpg'));
    symlinkSync(path.join(outside, 'folder'), path.join(open, 'a', 'out'));
    const allowed = await imageFolder(open, { allowOutsideRoot: true });
    expect(relative(open, allowed.samples)).toEqual([
      ['a/1.jpg', 0],
      ['a/out/4.jpg', 0],
      ['a/out.jpg', 0],
    ]);
    expect(allowed.refused).toEqual([]);
  });

  test('imageFolder() - allowOutsideRoot follows a class folder linked from elsewhere', async () => {
    const outside = tree({ 'x.jpg': '', 'y.png': '' });
    const root = tree({ 'a/1.jpg': '' });
    symlinkSync(outside, path.join(root, 'b'));
    const refused = await rejection(imageFolder(root));
    // The link still names class 'b' (index 1), so refusing it never shifts labels.
    expect(refused.code).toBe('EMPTY_CLASS');
    expect(refused.problems).toEqual([{ path: 'b', reason: expect.stringMatching(/symlink leaves the root/) }]);

    const dataset = await imageFolder(root, { allowOutsideRoot: true });
    expect(dataset.classes).toEqual(['a', 'b']);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['b/x.jpg', 1],
      ['b/y.png', 1],
    ]);
  });

  test('imageFolder() - followSymlinks: false refuses every link but keeps linked class names', async () => {
    const root = tree({ 'a/1.jpg': '', 'real/2.jpg': '' });
    symlinkSync('../real/2.jpg', path.join(root, 'a', 'alias.jpg'));
    symlinkSync('real', path.join(root, 'b'));
    const dataset = await imageFolder(root, { followSymlinks: false, allowEmptyClasses: true });
    expect(dataset.classes).toEqual(['a', 'b', 'real']);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['real/2.jpg', 2],
    ]);
    expect(dataset.refused.map((problem) => problem.path)).toEqual(['a/alias.jpg', 'b']);
  });

  test('imageFolder() - a folder reached twice through links is listed once', async () => {
    const root = tree({ 'a/1.jpg': '', 'b/2.jpg': '' });
    symlinkSync('../a', path.join(root, 'b', 'again'));
    const dataset = await imageFolder(root);
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['b/2.jpg', 1],
    ]);
    expect(dataset.refused).toEqual([{ path: 'b/again', reason: 'same folder as a, already listed' }]);
  });

  test('imageFolder() - names with spaces, commas, quotes and non-ASCII work', async () => {
    const names = ['a b.jpg', 'c,d.png', "q'uote.jpg", 'dq"x.jpg', '中文.png', 'é.jpg', 'e\u0301.jpg', '#hash.jpg'];
    const files: Record<string, string> = {};
    for (const name of names) files[`ünï cödé, "x"/${name}`] = name;
    files['猫/1.jpg'] = '';
    const root = tree(files);
    const dataset = await imageFolder(root);
    expect(dataset.classes).toEqual(['ünï cödé, "x"', '猫']);
    expect(dataset.samples).toHaveLength(names.length + 1);
    expect(dataset.samples.map((sample) => path.basename(sample.path)).slice(0, names.length).sort()).toEqual([...names].sort());
    for (const sample of dataset.samples) expect((await stat(sample.path)).isFile()).toBe(true);
  });

  test.skipIf(process.platform !== 'linux')('imageFolder() - a name that is not valid UTF-8 is refused with a hex name', async () => {
    const root = tree({ 'a/ok.jpg': '' });
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'a') + '/'), Buffer.from([0x63, 0xe9]), Buffer.from('.png')]), '');
    const dataset = await imageFolder(root);
    expect(relative(root, dataset.samples)).toEqual([['a/ok.jpg', 0]]);
    expect(dataset.refused).toEqual([{ path: 'a/c\\xe9.png', reason: 'name is not valid UTF-8' }]);
  });

  test.skipIf(process.platform === 'win32')('imageFolder() - a FIFO named like an image is refused, not opened', { timeout: 5000 }, async () => {
    const root = tree({ 'a/1.jpg': '' });
    execFileSync('mkfifo', [path.join(root, 'a', 'pipe.jpg')]);
    const dataset = await imageFolder(root);
    expect(relative(root, dataset.samples)).toEqual([['a/1.jpg', 0]]);
    expect(dataset.refused).toEqual([{ path: 'a/pipe.jpg', reason: expect.stringMatching(/not a regular file/) }]);
  });

  test('imageFolder() - folders deeper than maxDepth are refused', async () => {
    const root = tree({ 'a/1.jpg': '', 'a/l2/2.jpg': '', 'a/l2/l3/3.jpg': '', 'a/l2/l3/l4/4.jpg': '' });
    const dataset = await imageFolder(root, { maxDepth: 3 });
    expect(relative(root, dataset.samples)).toEqual([
      ['a/1.jpg', 0],
      ['a/l2/2.jpg', 0],
      ['a/l2/l3/3.jpg', 0],
    ]);
    expect(dataset.refused).toEqual([{ path: 'a/l2/l3/l4', reason: 'deeper than maxDepth (3)' }]);
  });

  test('imageFolder() - more entries than maxEntries fails with TOO_LARGE', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`a/${i}.jpg`] = '';
    const error = await rejection(imageFolder(tree(files), { maxEntries: 10 }));
    expect(error.code).toBe('TOO_LARGE');
  });

  test('imageFolder() - invalid options are rejected naming the option and the value', async () => {
    const root = tree({ 'a/1.jpg': '' });
    await expect(imageFolder(root, { maxDepth: 0 })).rejects.toThrow(
      new RangeError('Expected integer between 1 and 4096 for options.maxDepth but received 0 of type number'),
    );
    await expect(imageFolder(root, { extensions: 'jpg' as unknown as string[] })).rejects.toThrow(TypeError);
    await expect(imageFolder(root, { followSymlinks: 'yes' as unknown as boolean })).rejects.toThrow(/options.followSymlinks/);
    await expect(imageFolder('')).rejects.toThrow(TypeError);
  });

  test('imageFolder() - an aborted signal rejects with its reason', async () => {
    const root = tree({ 'a/1.jpg': '' });
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(imageFolder(root, { signal: controller.signal })).rejects.toThrow('stop');
  });
});
