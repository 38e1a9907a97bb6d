/**
 * `imageFolder()`: a dataset from `root/<class>/**\/<image>`, with torchvision ImageFolder
 * semantics made deterministic (code-point order) and safe to point at untrusted trees
 * (symlink loops, links out of the root, deep or huge trees).
 */

import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

import { DatasetError, type DatasetProblem, reasonOf } from '../errors.js';
import type { Dataset, Sample } from './types.js';
import { checkInteger, checkOptionalBoolean, checkOptionsObject, checkPath, checkSignal, invalid } from '../validate.js';
import {
  compareCodePoints,
  decodeUtf8,
  displayName,
  isInside,
} from './paths.js';

/** The image extensions {@link imageFolder} takes by default (compared case-insensitively). */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
]);

/** Options of {@link imageFolder}. */
export interface ImageFolderOptions {
  /**
   * File name endings to take, compared case-insensitively; `'jpg'` means `'.jpg'`.
   * Multi-part endings such as `'.ppm.gz'` work.
   * @default DEFAULT_IMAGE_EXTENSIONS ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']
   */
  extensions?: readonly string[];
  /**
   * Keep class folders that hold no image instead of throwing `EMPTY_CLASS`. They keep their
   * index, so the labels of the other classes are the same as when the folder is full.
   * @default false
   */
  allowEmptyClasses?: boolean;
  /**
   * Follow symbolic links (to files and folders) whose real path stays inside the root.
   * When `false`, every link below a class folder is refused; links at the top level still
   * name classes (see {@link imageFolder}) but their content is not listed.
   * @default true
   */
  followSymlinks?: boolean;
  /**
   * Also follow links whose real path is outside the root (for example a class folder linked
   * from another disk). Needs `followSymlinks`.
   * @default false
   */
  allowOutsideRoot?: boolean;
  /**
   * Deepest folder level listed; class folders are level 1. Deeper folders are refused.
   * @default 32
   */
  maxDepth?: number;
  /**
   * Most directory entries examined over the whole walk before giving up with `TOO_LARGE`,
   * so a runaway tree fails fast instead of exhausting memory. Checked after each folder is
   * read (a folder is read whole).
   * @default 10_000_000
   */
  maxEntries?: number;
  /** Stops the walk; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What {@link imageFolder} returns: a {@link Dataset} plus an account of what it left out. */
export interface ImageFolderDataset extends Dataset {
  /** The absolute root (`path.resolve(dir)`; symlinks in it are not resolved). */
  root: string;
  /**
   * Every directory entry seen and not taken: files with another extension, hidden entries,
   * files directly in the root, and every entry in {@link refused}. A skipped folder counts
   * once, not once per file beneath it. `examples` holds the first few relative paths.
   */
  ignored: { count: number; examples: string[] };
  /**
   * Entries not taken for a reason other than their name, each with a relative `path` and a
   * `reason`: links leaving the root, symlink loops, folders already listed through another
   * link, folders deeper than `maxDepth`, unreadable folders, broken links, names that are not
   * valid UTF-8 (shown with `\xNN` escapes), sockets and FIFOs. In walk order.
   */
  refused: DatasetProblem[];
}

const DEFAULT_MAX_DEPTH = 32;
const DEFAULT_MAX_ENTRIES = 10_000_000;
const IGNORED_EXAMPLES = 10;

interface Walk {
  extensions: string[];
  followSymlinks: boolean;
  allowOutsideRoot: boolean;
  maxDepth: number;
  maxEntries: number;
  signal: AbortSignal | undefined;
  realRoot: string;
  /** `dev:ino` of every real folder listed so far, to the relative path it was listed as. */
  visited: Map<string, string>;
  entries: number;
  ignoredCount: number;
  ignoredExamples: string[];
  refused: DatasetProblem[];
}

type Resolved =
  | { kind: 'file' }
  /** `identity` (`dev:ino`) is known for links (stat-ed already), looked up later for plain folders. */
  | { kind: 'directory'; identity: string | undefined }
  | { kind: 'refused'; reason: string };

/**
 * Lists an image-classification dataset laid out as `dir/<class>/**\/<image>`, like
 * torchvision's `ImageFolder`.
 *
 * - `classes` are the names of the immediate subfolders of `dir` (links to folders included,
 *   hidden ones such as `.ipynb_checkpoints` excluded), sorted by code point so the order does
 *   not depend on the locale; a sample's `label` is its class's index in that list.
 * - `samples` are the files under each class folder, at any depth, whose name ends with an
 *   allowed extension, sorted by their path relative to `dir` compared segment by segment
 *   (so every class's files are contiguous and in label order). The order never depends on
 *   `readdir` order. `sample.path` is absolute (`path.resolve`, links not resolved).
 * - Hidden entries (name starting with `.`: `.DS_Store`, macOS `._x.jpg` resource forks,
 *   `.git`) are never taken; like other left-out entries they are counted in `ignored`.
 * - Symlinks: followed while their real path stays inside the real root; each real folder is
 *   listed at most once (tracked by `dev:ino`), so `ln -s .. loop` ends at once. Refused links
 *   are counted in `ignored` and explained in `refused`. A top-level link still names a class
 *   even when refused, so refusing it never shifts labels: the class is empty instead.
 *
 * @param dir The dataset root.
 * @param options See {@link ImageFolderOptions}.
 * @returns `{ samples, classes, root, ignored, refused }`.
 * @throws {DatasetError} `NOT_FOUND` if `dir` is missing or not a folder; `EMPTY_DATASET` if
 * it has no class folder or no image at all; `EMPTY_CLASS` naming every class folder without
 * an image (unless `allowEmptyClasses`); `TOO_LARGE` past `maxEntries`.
 * @throws {TypeError|RangeError} for an invalid option, naming it and the value received.
 * @example
 * const train = await imageFolder('data/train');
 * train.classes;       // ['cat', 'dog']
 * train.samples[0];    // { path: '/abs/data/train/cat/001.jpg', label: 0 }
 * train.ignored.count; // 1 (data/train/cat/.DS_Store)
 */
export async function imageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  checkPath('dir', dir);
  const walk = createWalk(options);
  walk.signal?.throwIfAborted();

  const root = path.resolve(dir);
  let rootIdentity: string;
  try {
    const info = await stat(root, { bigint: true });
    if (!info.isDirectory()) {
      throw new DatasetError('NOT_FOUND', `Expected a folder at ${root} but found a file`, [
        { path: root, reason: 'not a folder' },
      ]);
    }
    rootIdentity = `${info.dev}:${info.ino}`;
    walk.realRoot = await realpath(root);
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError('NOT_FOUND', `Cannot open dataset folder ${root}`, [{ path: root, reason: reasonOf(error) }], {
      cause: error,
    });
  }
  walk.visited.set(rootIdentity, '.');

  const top = await listEntries(walk, root, '');
  if (top === undefined) {
    // The root was stat-able but not readable (EACCES): nothing can be listed.
    const problem = walk.refused[0] ?? { path: root, reason: 'cannot read folder' };
    throw new DatasetError('NOT_FOUND', `Cannot read dataset folder ${root}`, [problem]);
  }

  const classFolders: { name: string; absolute: string; link: boolean }[] = [];
  for (const entry of top) {
    const name = entry.name;
    const absolute = path.join(root, name);
    if (name.startsWith('.')) ignore(walk, name);
    else if (entry.dirent.isDirectory()) classFolders.push({ name, absolute, link: false });
    else if (entry.dirent.isFile()) ignore(walk, name);
    else if (!entry.dirent.isSymbolicLink()) refuse(walk, name, 'not a regular file or folder (socket, FIFO or device)');
    else {
      // A link names a class whatever the symlink policy, so the policy never shifts labels.
      const target = await targetKind(absolute);
      if (target === 'directory') classFolders.push({ name, absolute, link: true });
      else if (target === 'file') ignore(walk, name);
      else refuse(walk, name, `broken symlink: ${target}`);
    }
  }

  if (classFolders.length === 0) {
    const hint = walk.ignoredCount > 0 ? ` (${walk.ignoredCount} other entries ignored: expected ${root}/<class>/<image>)` : '';
    throw new DatasetError('EMPTY_DATASET', `No class folder in ${root}${hint}`, [
      { path: root, reason: 'no class folder' },
    ]);
  }

  const classes = classFolders.map((folder) => folder.name);
  const samples: Sample[] = [];
  const emptyClasses: DatasetProblem[] = [];
  for (let label = 0; label < classFolders.length; label++) {
    const folder = classFolders[label]!;
    const before = samples.length;
    const refusedBefore = walk.refused.length;
    if (folder.link) {
      const resolved = await resolveLink(walk, folder.absolute);
      if (resolved.kind === 'refused') {
        refuse(walk, folder.name, resolved.reason);
      } else if (resolved.kind === 'directory') {
        const identity = resolved.identity ?? (await folderIdentity(walk, folder.absolute, folder.name));
        if (identity !== undefined) await enterFolder(walk, folder.absolute, folder.name, 1, identity, label, samples);
      }
    } else {
      const identity = await folderIdentity(walk, folder.absolute, folder.name);
      if (identity !== undefined) await enterFolder(walk, folder.absolute, folder.name, 1, identity, label, samples);
    }
    if (samples.length === before) {
      const refusals = walk.refused.slice(refusedBefore);
      const own = refusals.find((problem) => problem.path === folder.name);
      const why = own
        ? own.reason
        : `no file ending in ${walk.extensions.join(', ')}` + (refusals.length > 0 ? ` (${refusals.length} entries refused, see refused)` : '');
      emptyClasses.push({ path: folder.name, reason: why });
    }
  }

  const ignored = { count: walk.ignoredCount, examples: walk.ignoredExamples };
  if (samples.length === 0) {
    throw new DatasetError(
      'EMPTY_DATASET',
      `No image in ${root}: ${classes.length} class folders, ${ignored.count} entries ignored`,
      emptyClasses,
    );
  }
  if (emptyClasses.length > 0 && options.allowEmptyClasses !== true) {
    const names = emptyClasses.map((problem) => problem.path).join(', ');
    throw new DatasetError(
      'EMPTY_CLASS',
      `${emptyClasses.length} of ${classes.length} class folders in ${root} have no image: ${names} (pass allowEmptyClasses: true to keep them)`,
      emptyClasses,
    );
  }
  return { samples, classes, root, ignored, refused: walk.refused };
}

function createWalk(options: ImageFolderOptions): Walk {
  checkOptionsObject(options);
  checkOptionalBoolean('options.allowEmptyClasses', options.allowEmptyClasses);
  checkOptionalBoolean('options.followSymlinks', options.followSymlinks);
  checkOptionalBoolean('options.allowOutsideRoot', options.allowOutsideRoot);
  if (options.maxDepth !== undefined) checkInteger('options.maxDepth', options.maxDepth, 1, 4096);
  if (options.maxEntries !== undefined) checkInteger('options.maxEntries', options.maxEntries, 1, Number.MAX_SAFE_INTEGER);
  checkSignal('options.signal', options.signal);
  return {
    extensions: normaliseExtensions(options.extensions),
    followSymlinks: options.followSymlinks ?? true,
    allowOutsideRoot: options.allowOutsideRoot ?? false,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    signal: options.signal,
    realRoot: '',
    visited: new Map(),
    entries: 0,
    ignoredCount: 0,
    ignoredExamples: [],
    refused: [],
  };
}

function normaliseExtensions(extensions: unknown): string[] {
  if (extensions === undefined) return [...DEFAULT_IMAGE_EXTENSIONS];
  const valid =
    Array.isArray(extensions) &&
    extensions.length > 0 &&
    extensions.every((ext) => typeof ext === 'string' && ext.replace(/^\./, '').length > 0 && !/[/\\\0]/.test(ext));
  if (!valid) invalid('options.extensions', "non-empty array of extensions such as ['.jpg', '.png']", extensions);
  return [...new Set((extensions as string[]).map((ext) => (ext.startsWith('.') ? ext : '.' + ext).toLowerCase()))];
}

interface Entry {
  dirent: Dirent<Buffer>;
  /** The name decoded from UTF-8 (names that are not valid UTF-8 never become entries). */
  name: string;
}

/**
 * Reads one folder, refusing names that are not valid UTF-8 and sorting the rest by code
 * point. Returns `undefined` (after recording why) when the folder cannot be read.
 */
async function listEntries(walk: Walk, absolute: string, relative: string): Promise<Entry[] | undefined> {
  walk.signal?.throwIfAborted();
  let dirents: Dirent<Buffer>[];
  try {
    // Buffer names: Node would turn invalid UTF-8 bytes into U+FFFD and report a path that
    // does not exist (nodejs/node#59202); raw bytes let us name the file instead.
    dirents = await readdir(absolute, { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    refuse(walk, relative || '.', `cannot read folder: ${reasonOf(error)}`);
    return undefined;
  }
  walk.entries += dirents.length;
  if (walk.entries > walk.maxEntries) {
    throw new DatasetError(
      'TOO_LARGE',
      `More than maxEntries (${walk.maxEntries}) directory entries under ${walk.realRoot}; raise options.maxEntries if the tree is really this big`,
      [{ path: relative || '.', reason: `limit reached while reading this folder (${dirents.length} entries)` }],
    );
  }
  const entries: Entry[] = [];
  for (const dirent of dirents) {
    const name = decodeUtf8(dirent.name);
    if (name === undefined) {
      refuse(walk, path.join(relative, displayName(dirent.name)), 'name is not valid UTF-8');
      continue;
    }
    entries.push({ dirent, name });
  }
  entries.sort((a, b) => compareCodePoints(a.name, b.name));
  return entries;
}

/** Lists a folder already checked for loops and depth, pushing samples in sorted order. */
async function enterFolder(
  walk: Walk,
  absolute: string,
  relative: string,
  depth: number,
  identity: string,
  label: number,
  samples: Sample[],
): Promise<void> {
  const previous = walk.visited.get(identity);
  if (previous !== undefined) {
    const isLoop = previous === '.' || relative === previous || relative.startsWith(previous + path.sep);
    const where = previous === '.' ? 'the root' : previous;
    refuse(walk, relative, isLoop ? `symlink loop: points back to ${where}` : `same folder as ${where}, already listed`);
    return;
  }
  walk.visited.set(identity, relative);
  const entries = await listEntries(walk, absolute, relative);
  if (entries === undefined) return;

  for (const entry of entries) {
    const name = entry.name;
    const childRelative = path.join(relative, name);
    const childAbsolute = path.join(absolute, name);
    if (name.startsWith('.')) {
      ignore(walk, childRelative);
      continue;
    }
    const resolved: Resolved = entry.dirent.isSymbolicLink()
      ? await resolveLink(walk, childAbsolute)
      : entry.dirent.isDirectory()
        ? { kind: 'directory', identity: undefined }
        : entry.dirent.isFile()
          ? { kind: 'file' }
          : { kind: 'refused', reason: 'not a regular file or folder (socket, FIFO or device)' };

    if (resolved.kind === 'refused') {
      refuse(walk, childRelative, resolved.reason);
    } else if (resolved.kind === 'file') {
      if (hasExtension(name, walk.extensions)) samples.push({ path: childAbsolute, label });
      else ignore(walk, childRelative);
    } else if (depth + 1 > walk.maxDepth) {
      refuse(walk, childRelative, `deeper than maxDepth (${walk.maxDepth})`);
    } else {
      const identity = resolved.identity ?? (await folderIdentity(walk, childAbsolute, childRelative));
      if (identity !== undefined) {
        await enterFolder(walk, childAbsolute, childRelative, depth + 1, identity, label, samples);
      }
    }
  }
}

/** Applies the symlink policy to one link: what it points to, or why it is refused. */
async function resolveLink(walk: Walk, absolute: string): Promise<Resolved> {
  if (!walk.followSymlinks) return { kind: 'refused', reason: 'symlink not followed (followSymlinks: false)' };
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    return { kind: 'refused', reason: `broken symlink: ${reasonOf(error)}` };
  }
  if (!walk.allowOutsideRoot && !isInside(walk.realRoot, real)) {
    return { kind: 'refused', reason: `symlink leaves the root (points to ${real}); pass allowOutsideRoot: true to follow it` };
  }
  try {
    const info = await stat(real, { bigint: true });
    if (info.isFile()) return { kind: 'file' };
    if (info.isDirectory()) return { kind: 'directory', identity: `${info.dev}:${info.ino}` };
    return { kind: 'refused', reason: 'symlink to something that is not a regular file or folder' };
  } catch (error) {
    return { kind: 'refused', reason: `broken symlink: ${reasonOf(error)}` };
  }
}

// BigInt stats: inode numbers above 2^53 exist (XFS, btrfs, NFS) and would collide as numbers.
async function folderIdentity(walk: Walk, absolute: string, relative: string): Promise<string | undefined> {
  try {
    const info = await stat(absolute, { bigint: true });
    return `${info.dev}:${info.ino}`;
  } catch (error) {
    refuse(walk, relative, `cannot read folder: ${reasonOf(error)}`);
    return undefined;
  }
}

/** `'directory'`, `'file'`, or why the link target cannot be used. */
async function targetKind(absolute: string): Promise<string> {
  try {
    const info = await stat(absolute);
    if (info.isDirectory()) return 'directory';
    if (info.isFile()) return 'file';
    return 'not a regular file or folder';
  } catch (error) {
    return reasonOf(error);
  }
}

function hasExtension(name: string, extensions: readonly string[]): boolean {
  const lower = name.toLowerCase();
  for (const ext of extensions) if (lower.endsWith(ext)) return true;
  return false;
}

function ignore(walk: Walk, relative: string): void {
  walk.ignoredCount++;
  if (walk.ignoredExamples.length < IGNORED_EXAMPLES) walk.ignoredExamples.push(relative);
}

function refuse(walk: Walk, relative: string, reason: string): void {
  walk.refused.push({ path: relative, reason });
  ignore(walk, relative);
}
