/**
 * `listFile()`: a dataset from a text file of `path<TAB>label` or `path,label` lines, validated
 * up front (labels, containment in the root, existence) so a bad line fails before training,
 * with its line number, instead of as a late out-of-range assertion inside the loss.
 */

import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

import { DatasetError, type DatasetProblem, reasonOf } from '../errors.js';
import type { Dataset, Sample } from './types.js';
import { forEachLimited } from '../limit.js';
import { checkChoice, checkInteger, checkOptionsObject, checkPath, checkSignal, invalid } from '../validate.js';
import { compareCodePoints, decodeUtf8, isInside } from './paths.js';

/** Options of {@link listFile}. */
export interface ListFileOptions {
  /**
   * Folder the paths in the list are relative to. Every path must stay inside it, also after
   * resolving symlinks.
   * @default the folder that holds the list file
   */
  root?: string;
  /**
   * Class names, `classes[label]`. Labels may then be indices in `[0, classes.length)` or
   * these names. Pass the training set's `classes` when reading a validation list, so a class
   * missing from the validation list does not shift the others.
   * @default inferred: `['0', '1', ..., String(max)]` when every label is an integer,
   * the sorted (code point) unique names when every label is a name
   */
  classes?: readonly string[];
  /**
   * Where a line splits into path and label. `'auto'`: at the last TAB if the line has one,
   * else at the last comma, so a path may contain commas (or TABs) when the label is last.
   * `' '` splits at the last space (Caffe `ImageData` lists).
   * @default 'auto'
   */
  delimiter?: 'auto' | '\t' | ',' | ' ';
  /**
   * How a label is read. `'auto'`: a non-negative integer is an index, anything else is a class
   * name; with `classes`, a label that is both a valid index and the name of a *different*
   * class (classes `['1', '2']`, label `1`) is an error asking you to choose. `'index'`: every
   * label must be an integer index. `'name'`: every label is a class name, digits included.
   * @default 'auto'
   */
  labelKind?: 'auto' | 'index' | 'name';
  /**
   * `'throw'`: any bad line fails the call with `BAD_LIST` listing every bad line. `'skip'`:
   * bad lines are left out, counted in `ignored` and listed in `problems`. Labels are
   * inferred from every line with a readable label either way, so skipping a line whose
   * file is missing never shifts the labels of the others.
   * @default 'throw'
   */
  onBadLine?: 'throw' | 'skip';
  /**
   * Most lines read (blank and comment lines included); more is a `BAD_LIST` error even
   * under `onBadLine: 'skip'`, raised before any file is checked.
   * @default 10_000_000
   */
  maxLines?: number;
  /**
   * Longest line, in UTF-8 bytes without the line ending. Longer lines are bad lines and are
   * never held in memory whole. Linux paths are at most 4096 bytes.
   * @default 4096
   */
  maxLineLength?: number;
  /**
   * File checks (`lstat`/`realpath`) in flight at once.
   * @default 64
   */
  concurrency?: number;
  /** Stops reading and checking; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What {@link listFile} returns: a {@link Dataset} plus the lines it left out. */
export interface ListFileDataset extends Dataset {
  /** The absolute root the paths were resolved against. */
  root: string;
  /** Bad lines skipped under `onBadLine: 'skip'` (always 0 under `'throw'`); examples are `line N: path`. */
  ignored: { count: number; examples: string[] };
  /** Every problem found, with its 1-based line number; empty under `'throw'`. */
  problems: DatasetProblem[];
}

const DEFAULT_MAX_LINES = 10_000_000;
const DEFAULT_MAX_LINE_LENGTH = 4096;
const DEFAULT_CONCURRENCY = 64;
/** Inferred integer labels above this need `options.classes`: `['0', ..., max]` would not fit memory. */
const MAX_INFERRED_CLASSES = 1_000_000;
const IGNORED_EXAMPLES = 10;

const INDEX = /^\d+$/;
const NUMBER_LIKE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** One entry line, as parsed. `label` is -1 until resolved; `bad` once a problem is recorded. */
interface Entry {
  line: number;
  rawPath: string;
  rawLabel: string;
  resolved: string;
  label: number;
  bad: boolean;
}

/**
 * Lists a dataset from a text file, one `path<TAB>label` or `path,label` line per sample, as
 * used by Caffe, MXNet `.lst` and many torch `Dataset`s.
 *
 * - Tolerates a UTF-8 BOM, CRLF endings, blank lines, `#` comment lines (a path that starts
 *   with `#` must be written `./#name.jpg`) and whitespace around the label (not around the
 *   path: file names may start or end with spaces).
 * - A label is an integer index or a class name (see {@link ListFileOptions.labelKind}).
 *   Without `options.classes`, all-integer labels give `classes = ['0', ..., String(max)]`
 *   and all-name labels give the sorted unique names; a mix is an error on the lines of the
 *   less common kind.
 * - Each path must be relative, free of NUL bytes, stay inside `root` lexically (`a/../b` is
 *   fine, `a/../../x` is not) and after resolving symlinks, and name an existing regular file.
 *   Lexical escapes are refused before any file system call, so nothing outside the root is
 *   touched for them.
 * - The same path twice with the same label is kept twice (a deliberate repeat, as in
 *   torchvision and tf.data); with a different label it is an error on the later line.
 * - `sample.path` is absolute (`path.resolve(root, path)`, symlinks not resolved); samples are
 *   in file order.
 *
 * Every bad line is found before anything is thrown, so one `BAD_LIST` error lists them all.
 *
 * @param file The list file.
 * @param options See {@link ListFileOptions}.
 * @returns `{ samples, classes, root, ignored, problems }`.
 * @throws {DatasetError} `NOT_FOUND` if the file or root is missing; `BAD_LIST` listing every
 * bad line's problems (`line`, `path`, `reason`, sorted by line); `BAD_LIST` past `maxLines`;
 * `EMPTY_DATASET` if no sample is left.
 * @throws {TypeError|RangeError} for an invalid option, naming it and the value received.
 * @example
 * // data/train.txt:  cat/001.jpg,0  ⏎  dog/002.jpg,1
 * const train = await listFile('data/train.txt');
 * train.samples[0]; // { path: '/abs/data/cat/001.jpg', label: 0 }
 * const val = await listFile('data/val.csv', { root: 'data/val', classes: train.classes });
 */
export async function listFile(file: string, options: ListFileOptions = {}): Promise<ListFileDataset> {
  checkPath('file', file);
  const settings = checkOptions(options);
  settings.signal?.throwIfAborted();

  const listPath = path.resolve(file);
  await expectExisting(listPath, 'file', 'list file');
  const root = path.resolve(options.root ?? path.dirname(listPath));
  await expectExisting(root, 'directory', 'root folder');
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    throw new DatasetError('NOT_FOUND', `Cannot resolve root folder ${root}`, [{ path: root, reason: reasonOf(error) }], {
      cause: error,
    });
  }

  const problems: DatasetProblem[] = [];
  const entries: Entry[] = [];
  const complain = (entry: Entry, reason: string): void => {
    entry.bad = true;
    problems.push({ line: entry.line, path: entry.rawPath, reason });
  };

  const { lines, stoppedEarly } = await readLines(listPath, settings, (line, text) => {
    if (text === undefined) {
      problems.push({ line, reason: `longer than maxLineLength (${settings.maxLineLength} bytes)` });
      return;
    }
    if (text === null) {
      problems.push({ line, reason: 'not valid UTF-8' });
      return;
    }
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const split = splitLine(text, settings.delimiter);
    if (split === undefined) {
      problems.push({ line, reason: `no delimiter: expected ${describeDelimiter(settings.delimiter)}` });
      return;
    }
    const entry: Entry = { line, rawPath: split.path, rawLabel: split.label, resolved: '', label: -1, bad: false };
    entries.push(entry);
    const pathProblem = checkPathSyntax(split.path, root);
    if (typeof pathProblem === 'string') complain(entry, pathProblem);
    else entry.resolved = pathProblem.resolved;
  });

  if (stoppedEarly) {
    problems.push({ line: settings.maxLines + 1, reason: `more than maxLines (${settings.maxLines}) lines; stopped reading` });
    throw badList(listPath, problems, lines);
  }

  const classes = resolveLabels(entries, settings, complain);
  findConflictingDuplicates(entries, classes, complain);

  await checkFiles(entries, realRoot, settings, complain);

  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const samples: Sample[] = [];
  for (const entry of entries) if (!entry.bad) samples.push({ path: entry.resolved, label: entry.label });

  if (problems.length > 0 && settings.onBadLine === 'throw') throw badList(listPath, problems, lines);
  if (samples.length === 0) {
    const why = problems.length > 0 ? `every entry is bad` : `${lines} lines, all blank or comments`;
    throw new DatasetError('EMPTY_DATASET', `No sample in ${listPath}: ${why}`, problems);
  }
  const badLines = [...new Set(problems.map((problem) => problem.line))];
  const examples = problems
    .filter((problem, i) => i === 0 || problems[i - 1]!.line !== problem.line)
    .slice(0, IGNORED_EXAMPLES)
    .map((problem) => `line ${problem.line}: ${problem.path ?? ''}`.trimEnd());
  return { samples, classes, root, ignored: { count: badLines.length, examples }, problems };
}

interface Settings {
  classes: string[] | undefined;
  delimiter: 'auto' | '\t' | ',' | ' ';
  labelKind: 'auto' | 'index' | 'name';
  onBadLine: 'throw' | 'skip';
  maxLines: number;
  maxLineLength: number;
  concurrency: number;
  signal: AbortSignal | undefined;
}

function checkOptions(options: ListFileOptions): Settings {
  checkOptionsObject(options);
  if (options.root !== undefined) checkPath('options.root', options.root);
  checkSignal('options.signal', options.signal);
  const { delimiter, labelKind, onBadLine, maxLines, maxLineLength, concurrency } = options;
  return {
    classes: options.classes === undefined ? undefined : checkClasses(options.classes),
    delimiter: delimiter === undefined ? 'auto' : checkChoice('options.delimiter', delimiter, ['auto', '\t', ',', ' ']),
    labelKind: labelKind === undefined ? 'auto' : checkChoice('options.labelKind', labelKind, ['auto', 'index', 'name']),
    onBadLine: onBadLine === undefined ? 'throw' : checkChoice('options.onBadLine', onBadLine, ['throw', 'skip']),
    maxLines: maxLines === undefined ? DEFAULT_MAX_LINES : checkInteger('options.maxLines', maxLines, 1, Number.MAX_SAFE_INTEGER),
    maxLineLength:
      maxLineLength === undefined ? DEFAULT_MAX_LINE_LENGTH : checkInteger('options.maxLineLength', maxLineLength, 1, 1 << 20),
    concurrency: concurrency === undefined ? DEFAULT_CONCURRENCY : checkInteger('options.concurrency', concurrency, 1, 1024),
    signal: options.signal,
  };
}

function checkClasses(classes: unknown): string[] {
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((name) => typeof name === 'string' && name !== '')) {
    invalid('options.classes', 'non-empty array of non-empty strings', classes);
  }
  const seen = new Map<string, number>();
  classes.forEach((name: string, index) => {
    const first = seen.get(name);
    if (first !== undefined) {
      invalid('options.classes', `unique names (${JSON.stringify(name)} is at ${first} and ${index})`, classes, RangeError);
    }
    seen.set(name, index);
  });
  return [...(classes as string[])];
}

async function expectExisting(target: string, kind: 'file' | 'directory', what: string): Promise<void> {
  let reason: string;
  let cause: unknown;
  try {
    const info = await stat(target);
    if (kind === 'file' ? info.isFile() : info.isDirectory()) return;
    reason = kind === 'file' ? 'not a regular file' : 'not a folder';
  } catch (error) {
    reason = reasonOf(error);
    cause = error;
  }
  throw new DatasetError('NOT_FOUND', `Cannot open ${what} ${target}`, [{ path: target, reason }], { cause });
}

/**
 * Streams `file` and calls `onLine` with each line's 1-based number and text without its line
 * ending: `undefined` when longer than `maxLineLength`, `null` when not valid UTF-8. Splits
 * bytes itself rather than using readline, which buffers a line of any length in memory.
 */
async function readLines(
  file: string,
  settings: Settings,
  onLine: (line: number, text: string | null | undefined) => void,
): Promise<{ lines: number; stoppedEarly: boolean }> {
  const stream = createReadStream(file, { highWaterMark: 1 << 16 });
  const limit = settings.maxLineLength + 1; // + 1 for the '\r' of a CRLF ending
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;

  const finish = (): boolean => {
    line++;
    if (line > settings.maxLines) return false;
    if (line % 65_536 === 0) settings.signal?.throwIfAborted();
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (tooLong || bytes.length > settings.maxLineLength) onLine(line, undefined);
    else {
      // toString() replaces bad bytes with U+FFFD, naming a file that does not exist; check
      // strictly only then, as well-formed lines are the norm.
      const text = bytes.toString('utf8');
      onLine(line, text.includes('\uFFFD') && decodeUtf8(bytes) === undefined ? null : text);
    }
    parts = [];
    size = 0;
    tooLong = false;
    return true;
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(0x0a, start);
        const stop = newline === -1 ? chunk.length : newline;
        if (!tooLong) {
          if (size + stop - start > limit) {
            tooLong = true;
            parts = [];
            size = 0;
          } else if (stop > start) {
            parts.push(chunk.subarray(start, stop));
            size += stop - start;
          }
        }
        if (newline === -1) break;
        if (!finish()) return { lines: line - 1, stoppedEarly: true };
        start = newline + 1;
      }
    }
    if (size > 0 || tooLong) {
      if (!finish()) return { lines: line - 1, stoppedEarly: true };
    }
  } catch (error) {
    if (settings.signal?.aborted) throw settings.signal.reason;
    throw new DatasetError('NOT_FOUND', `Cannot read list file ${file}`, [{ path: file, reason: reasonOf(error) }], {
      cause: error,
    });
  } finally {
    stream.destroy();
  }
  return { lines: line, stoppedEarly: false };
}

function splitLine(text: string, delimiter: Settings['delimiter']): { path: string; label: string } | undefined {
  let at: number;
  if (delimiter === 'auto') {
    at = text.lastIndexOf('\t');
    if (at === -1) at = text.lastIndexOf(',');
  } else if (delimiter === ' ') {
    text = text.trimEnd();
    at = text.lastIndexOf(' ');
  } else {
    at = text.lastIndexOf(delimiter);
  }
  if (at === -1) return undefined;
  return { path: text.slice(0, at), label: text.slice(at + 1).trim() };
}

function describeDelimiter(delimiter: Settings['delimiter']): string {
  if (delimiter === 'auto') return 'path<TAB>label or path,label';
  if (delimiter === '\t') return 'path<TAB>label';
  return `path${delimiter}label`;
}

/** The absolute path, or why the path is refused before touching the file system. */
function checkPathSyntax(rawPath: string, root: string): { resolved: string } | string {
  if (rawPath === '') return 'empty path';
  if (rawPath.includes('\0')) return 'path contains a NUL byte';
  if (path.isAbsolute(rawPath)) return `absolute path; paths must be relative to the root ${root}`;
  const resolved = path.resolve(root, rawPath);
  if (!isInside(root, resolved)) return `path leaves the root ${root} through '..'`;
  if (resolved === root) return 'path names the root folder itself';
  return { resolved };
}

/** Turns every readable label into an index, reporting bad ones, and returns the class names. */
function resolveLabels(entries: Entry[], settings: Settings, complain: (entry: Entry, reason: string) => void): string[] {
  const { classes, labelKind } = settings;
  if (classes !== undefined) {
    const byName = new Map(classes.map((name, index) => [name, index] as const));
    const range = `${classes.length} classes, so 0 to ${classes.length - 1}`;
    for (const entry of entries) {
      const label = entry.rawLabel;
      if (label === '') {
        complain(entry, 'empty label');
        continue;
      }
      const asIndex = labelKind !== 'name' && INDEX.test(label) && Number(label) < classes.length ? Number(label) : -1;
      const asName = labelKind !== 'index' ? (byName.get(label) ?? -1) : -1;
      if (asIndex >= 0 && asName >= 0 && asIndex !== asName) {
        complain(
          entry,
          `label ${label} is ambiguous: index ${label} (${classes[asIndex]}) or class ${JSON.stringify(label)} (index ${asName}); set labelKind`,
        );
      } else if (asIndex >= 0 || asName >= 0) {
        entry.label = Math.max(asIndex, asName);
      } else if (labelKind !== 'name' && INDEX.test(label)) {
        complain(entry, `label ${label} is out of range: ${range}`);
      } else if (labelKind === 'index' || (labelKind === 'auto' && NUMBER_LIKE.test(label))) {
        complain(entry, `${describeBadNumber(label)} (${range})`);
      } else {
        complain(entry, `unknown class ${JSON.stringify(label)}`);
      }
    }
    return [...classes];
  }

  // No class list: every entry gets a kind, the more common kind wins (ties go to indices).
  const indexEntries: Entry[] = [];
  const nameEntries: Entry[] = [];
  for (const entry of entries) {
    const label = entry.rawLabel;
    if (label === '') complain(entry, 'empty label');
    else if (labelKind === 'name') nameEntries.push(entry);
    else if (INDEX.test(label)) {
      if (Number(label) >= MAX_INFERRED_CLASSES) {
        complain(entry, `label ${label} is too large to infer classes from (limit ${MAX_INFERRED_CLASSES - 1}); pass options.classes`);
      } else indexEntries.push(entry);
    } else if (labelKind === 'index' || NUMBER_LIKE.test(label)) complain(entry, describeBadNumber(label));
    else nameEntries.push(entry);
  }
  const useNames = nameEntries.length > indexEntries.length;
  const [kept, dropped] = useNames ? [nameEntries, indexEntries] : [indexEntries, nameEntries];
  const keptKind = useNames ? 'class names' : 'integer indices';
  for (const entry of dropped) {
    const kind = useNames ? 'an integer index' : 'a class name';
    complain(entry, `label ${JSON.stringify(entry.rawLabel)} is ${kind} but ${kept.length} other lines use ${keptKind}; pass options.classes to mix them`);
  }
  if (useNames) {
    const classes = [...new Set(kept.map((entry) => entry.rawLabel))].sort(compareCodePoints);
    const byName = new Map(classes.map((name, index) => [name, index] as const));
    for (const entry of kept) entry.label = byName.get(entry.rawLabel)!;
    return classes;
  }
  let max = -1;
  for (const entry of kept) {
    entry.label = Number(entry.rawLabel);
    if (entry.label > max) max = entry.label;
  }
  return Array.from({ length: max + 1 }, (_, index) => String(index));
}

function describeBadNumber(label: string): string {
  if (label.startsWith('-') && NUMBER_LIKE.test(label) && Number(label) < 0) return `label ${label} is negative`;
  if (NUMBER_LIKE.test(label)) return `label ${label} is not an integer`;
  return `label ${JSON.stringify(label)} is not an integer index`;
}

function findConflictingDuplicates(entries: Entry[], classes: string[], complain: (entry: Entry, reason: string) => void): void {
  const first = new Map<string, Entry>();
  const name = (label: number): string => `${label} (${classes[label]})`;
  for (const entry of entries) {
    if (entry.bad) continue;
    const earlier = first.get(entry.resolved);
    if (earlier === undefined) first.set(entry.resolved, entry);
    else if (earlier.label !== entry.label) {
      complain(entry, `same file as line ${earlier.line} with label ${name(earlier.label)}, here label ${name(entry.label)}`);
    }
  }
}

type Kind = 'file' | 'directory' | 'link' | 'other';

/** A parent folder's real path and, when many lines point into it, the kinds of its entries. */
interface Folder {
  real: string;
  inside: boolean;
  kinds: Map<string, Kind> | undefined;
}

/** From this many lines per folder on, one `readdir` is cheaper than one `lstat` per line. */
const LIST_FOLDER_FROM = 8;

/**
 * Checks every entry not already bad, recording why its file cannot be a sample. Each parent
 * folder is resolved once; a folder many lines point into is read once with `readdir`
 * (ImageNet: 1000 calls instead of 1.28 M lstat), and its regular files are then accepted
 * without a promise per line. The rest (few lines per folder, names missing from the listing,
 * links) get an `lstat`, so case- or normalisation-insensitive file systems answer the same.
 */
async function checkFiles(
  entries: Entry[],
  realRoot: string,
  settings: Settings,
  complain: (entry: Entry, reason: string) => void,
): Promise<void> {
  const byFolder = new Map<string, Entry[]>();
  for (const entry of entries) {
    if (entry.bad) continue;
    const parent = path.dirname(entry.resolved);
    const group = byFolder.get(parent);
    if (group === undefined) byFolder.set(parent, [entry]);
    else group.push(entry);
  }

  const slow: { entry: Entry; folder: Folder }[] = [];
  const folders = [...byFolder];
  await forEachLimited(
    folders.length,
    settings.concurrency,
    async (i) => {
      const [parent, group] = folders[i]!;
      const folder = await resolveFolder(parent, realRoot, group.length >= LIST_FOLDER_FROM);
      for (const entry of group) {
        if (folder instanceof Error) complain(entry, describeMissing(folder));
        else if (!folder.inside) complain(entry, `leaves the root through a symlink (real folder ${folder.real})`);
        else if (folder.kinds?.get(path.basename(entry.resolved)) !== 'file') slow.push({ entry, folder });
      }
    },
    settings.signal,
  );

  await forEachLimited(
    slow.length,
    settings.concurrency,
    async (i) => {
      const { entry, folder } = slow[i]!;
      const reason = await checkFile(path.join(folder.real, path.basename(entry.resolved)), realRoot, folder.kinds);
      if (reason === undefined) return;
      const spaced = entry.rawPath !== entry.rawPath.trim();
      complain(entry, spaced ? `${reason} (note: the path starts or ends with whitespace)` : reason);
    },
    settings.signal,
  );
}

async function resolveFolder(parent: string, realRoot: string, listEntries: boolean): Promise<Folder | Error> {
  try {
    const real = await realpath(parent);
    const inside = isInside(realRoot, real);
    // Never list a folder outside the root: its lines are refused without looking inside.
    if (!listEntries || !inside) return { real, inside, kinds: undefined };
    const kinds = new Map<string, Kind>();
    for (const dirent of await readdir(real, { withFileTypes: true })) {
      // U+FFFD stands for bytes that were not UTF-8: such a name does not exist as written.
      if (dirent.name.includes('\uFFFD')) continue;
      kinds.set(
        dirent.name,
        dirent.isFile() ? 'file' : dirent.isDirectory() ? 'directory' : dirent.isSymbolicLink() ? 'link' : 'other',
      );
    }
    return { real, inside, kinds };
  } catch (error) {
    return error as Error;
  }
}

/**
 * Why `real` (a name in a real folder inside the root) cannot be a sample, or `undefined` if
 * it is a regular file whose real path is inside `realRoot`.
 */
async function checkFile(real: string, realRoot: string, kinds: Map<string, Kind> | undefined): Promise<string | undefined> {
  try {
    const kind = kinds?.get(path.basename(real)) ?? kindOf(await lstat(real));
    if (kind === 'file') return undefined;
    if (kind === 'directory') return 'is a folder, not a file';
    if (kind === 'other') return 'not a regular file (socket, FIFO or device)';
    const target = await realpath(real);
    if (!isInside(realRoot, target)) return `leaves the root through a symlink (real path ${target})`;
    const info = await stat(target);
    if (info.isDirectory()) return 'is a folder, not a file';
    if (!info.isFile()) return 'not a regular file (socket, FIFO or device)';
    return undefined;
  } catch (error) {
    return describeMissing(error);
  }
}

function kindOf(info: Stats): Kind {
  return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : info.isSymbolicLink() ? 'link' : 'other';
}

function describeMissing(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'file not found';
  if (code === 'ELOOP') return 'symlink loop';
  return reasonOf(error);
}

function badList(file: string, problems: DatasetProblem[], lines: number): DatasetError {
  const badLines = new Set(problems.map((problem) => problem.line)).size;
  return new DatasetError('BAD_LIST', `${badLines} bad lines in ${file} (${lines} lines read)`, problems);
}
