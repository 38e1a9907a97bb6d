/**
 * packShards: writes a dataset as WebDataset tar shards plus an `index.json` that lets any
 * sample be read at random by byte range (as webdataset's `wids` reads shards).
 *
 * Shard layout (WebDataset's): POSIX ustar members `<key>.<ext>` (the original image bytes,
 * unchanged) and `<key>.cls` (the class index in decimal), the members of one sample adjacent.
 * Keys are the sample's position in the dataset, 9 digits (`000000042`), so names stay short
 * (no pax headers) and free of dots (WebDataset splits the key at the first dot).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { pack as tarPack } from 'tar-stream';
import { PatchstreamError, reasonOf } from '../errors.js';
import type { Dataset } from './types.js';

/** Options of {@link packShards}. */
export interface PackOptions {
  /** Samples per shard (the last shard holds the rest). @default 1000 */
  shardSize?: number;
  /** Shard name prefix: `<prefix>-000000.tar`. @default 'train' */
  prefix?: string;
  /** Called after each sample with (samples written, total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** One shard's entry in `index.json`: wids's `shardlist` fields, then patchstream's per-sample byte ranges. */
export interface ShardIndexEntry {
  /** The shard's file name, relative to `index.json`. */
  url: string;
  nsamples: number;
  /** Bytes of the shard file. */
  filesize: number;
  /** Per sample, the image member's name. */
  members: string[];
  /** Per sample, the byte offset of the image member's data in the shard. */
  offsets: number[];
  /** Per sample, the image's length in bytes. */
  lengths: number[];
  /** Per sample, the class index. */
  labels: number[];
}

/** `index.json`, compatible with webdataset's wids (`__kind__`, `shardlist`). */
export interface ShardIndex {
  __kind__: 'wids-shard-index-v1';
  wids_version: 1;
  name: string;
  /** patchstream's index format version. */
  patchstream: 1;
  /** `classes[label]` is the class name. */
  classes: string[];
  shardlist: ShardIndexEntry[];
}

/** What {@link packShards} wrote. */
export interface PackResult {
  out: string;
  index: string;
  images: number;
  shards: number;
  /** Bytes of all shards. */
  bytes: number;
}

const BLOCK = 512;
const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;
/** Fixed member time, so packing the same files twice gives the same bytes. */
const MTIME = new Date(Date.UTC(2000, 0, 1));

/** The member extension of a sample: its file's, lower case, letters and digits only. */
function memberExtension(path: string): string {
  const ext = extname(path).slice(1).toLowerCase();
  return /^[a-z0-9]{1,10}$/.test(ext) ? ext : 'img';
}

/**
 * Writes `dataset` as tar shards and `index.json` into `out` (created if missing). Shards are
 * written under a temporary name and renamed when complete; `index.json` comes last, so a
 * folder with an `index.json` always has every shard it lists.
 * @throws {PatchstreamError} code `PACK`: a sample could not be read (the message names it) or a shard could not be written
 * @example
 * await packShards(await imageFolder('data/train'), 'shards/train', { shardSize: 1000 });
 */
export async function packShards(dataset: Dataset, out: string, options: PackOptions = {}): Promise<PackResult> {
  const shardSize = options.shardSize ?? 1000;
  if (!Number.isInteger(shardSize) || shardSize < 1 || shardSize > 100_000_000) {
    throw new RangeError(`Expected integer between 1 and 100000000 for options.shardSize but received ${String(shardSize)} of type ${typeof shardSize}`);
  }
  const prefix = options.prefix ?? 'train';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new TypeError(`Expected 1-64 letters, digits, '-' or '_' for options.prefix but received ${String(prefix)} of type ${typeof prefix}`);
  }
  const outDir = resolve(out);
  await mkdir(outDir, { recursive: true });
  const total = dataset.samples.length;
  const shardlist: ShardIndexEntry[] = [];
  let bytes = 0;
  for (let first = 0, shard = 0; first < total; first += shardSize, shard++) {
    const name = `${prefix}-${String(shard).padStart(6, '0')}.tar`;
    const entry = await writeShard(dataset, first, Math.min(total, first + shardSize), join(outDir, name), name, options);
    shardlist.push(entry);
    bytes += entry.filesize;
  }
  const index: ShardIndex = {
    __kind__: 'wids-shard-index-v1',
    wids_version: 1,
    name: dataset.root ?? 'patchstream pack',
    patchstream: 1,
    classes: [...dataset.classes],
    shardlist,
  };
  const indexPath = join(outDir, 'index.json');
  await writeFile(`${indexPath}.tmp`, `${JSON.stringify(index)}\n`);
  await rename(`${indexPath}.tmp`, indexPath);
  return { out: outDir, index: indexPath, images: total, shards: shardlist.length, bytes };
}

async function writeShard(dataset: Dataset, first: number, end: number, path: string, name: string, options: PackOptions): Promise<ShardIndexEntry> {
  const temporary = `${path}.tmp`;
  const tar = tarPack();
  const file = createWriteStream(temporary);
  const written = new Promise<void>((resolveWritten, reject) => {
    file.on('error', reject);
    tar.on('error', reject);
    file.on('finish', () => resolveWritten());
  });
  // Keep the 'error' listeners above even if we stop early; the rejection is read below.
  written.catch(() => undefined);
  tar.pipe(file);
  const entry: ShardIndexEntry = { url: name, nsamples: end - first, filesize: 0, members: [], offsets: [], lengths: [], labels: [] };
  // Offsets follow from the ustar layout: a 512-byte header, then the data padded to 512 bytes.
  // The shard's final size is checked against them below, so a layout surprise cannot pass.
  let position = 0;
  const addMember = async (member: string, data: Buffer) => {
    if (!tar.entry({ name: member, size: data.length, mode: 0o644, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '' }, data)) {
      await once(tar, 'drain');
    }
    position += BLOCK + padded(data.length);
  };
  try {
    for (let i = first; i < end; i++) {
      options.signal?.throwIfAborted();
      const sample = dataset.samples[i]!;
      let data: Buffer;
      try {
        data = await readFile(sample.path);
      } catch (error) {
        throw new PatchstreamError('PACK', `PACK ${sample.path} (stage read): ${reasonOf(error)}`, { cause: error });
      }
      const key = String(i).padStart(9, '0');
      const member = `${key}.${memberExtension(sample.path)}`;
      entry.members.push(member);
      entry.offsets.push(position + BLOCK);
      entry.lengths.push(data.length);
      entry.labels.push(sample.label);
      await addMember(member, data);
      await addMember(`${key}.cls`, Buffer.from(String(sample.label)));
      options.onProgress?.(i + 1, dataset.samples.length);
    }
    tar.finalize();
    await written;
  } catch (error) {
    tar.destroy();
    file.destroy();
    throw error instanceof PatchstreamError || (error as Error).name === 'AbortError' ? error : new PatchstreamError('PACK', `PACK ${path} (stage write): ${reasonOf(error)}`, { cause: error });
  }
  const { size } = await stat(temporary);
  // tar-stream ends an archive with two zero blocks; it pads nothing else.
  if (size !== position + 2 * BLOCK) {
    throw new PatchstreamError('PACK', `PACK ${path} (stage write): shard has ${size} bytes, the index expects ${position + 2 * BLOCK}; offsets would be wrong`);
  }
  await rename(temporary, path);
  entry.filesize = size;
  return entry;
}
