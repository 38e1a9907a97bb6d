/**
 * webDataset: a dataset over WebDataset tar shards written by `patchstream pack`, read by byte
 * range through their `index.json`, from a local folder or an HTTP(S) server (nginx, S3 or any
 * server with Range support). Same samples, labels and order as the folder that was packed.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DatasetError, reasonOf, type DatasetProblem } from '../errors.js';
import type { ShardIndex } from './pack.js';
import type { Dataset, Sample, ShardStore } from './types.js';

/** Options of {@link webDataset}. */
export interface WebDatasetOptions {
  /** Milliseconds one HTTP request (headers and body) may take before it is retried. @default 30000 */
  timeoutMs?: number;
  /** Further attempts after a failed request or a body cut mid-way (resumed from the last byte received). @default 4 */
  retries?: number;
  /** Samples of one task (a run of a batch) closer than this many bytes in one shard are read with one request. 0 joins only touching ones. @default 65536 */
  gapBytes?: number;
  /** Largest request that joins several samples. @default 8 MiB */
  maxRequestBytes?: number;
  /** Extra HTTP headers on every request (e.g. `{ authorization: 'Bearer ...' }`). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** What {@link webDataset} returns. */
export interface WebDataset extends Dataset {
  shards: ShardStore;
  /** Where `index.json` was read from. */
  index: string;
}

/** True for `http://` and `https://` locations. */
export function isHttpLocation(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

const DEFAULTS = { timeoutMs: 30_000, retries: 4, gapBytes: 64 * 1024, maxRequestBytes: 8 * 1024 * 1024 };

function checkCount(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Expected integer between ${min} and ${max} for ${name} but received ${String(value)} of type ${typeof value}`);
  }
  return value;
}

/**
 * Opens WebDataset shards through their `index.json`.
 * @param location a shard folder, the path of its `index.json`, or an `http(s)://` URL of `index.json`
 * @throws {DatasetError} code `NOT_FOUND` (the index is missing: names the URL/path and the HTTP status), `BAD_INDEX` (every problem listed)
 * @example
 * const train = await webDataset('https://data.example.com/imagenet/train/index.json');
 * const loader = createLoader(train, { batchSize: 128, shard: 'auto' });
 */
export async function webDataset(location: string, options: WebDatasetOptions = {}): Promise<WebDataset> {
  if (typeof location !== 'string' || location === '') {
    throw new TypeError(`Expected a folder, index.json path or http(s) URL for location but received ${String(location)} of type ${typeof location}`);
  }
  const store = {
    timeoutMs: options.timeoutMs === undefined ? DEFAULTS.timeoutMs : checkCount('options.timeoutMs', options.timeoutMs, 1, 3_600_000),
    retries: options.retries === undefined ? DEFAULTS.retries : checkCount('options.retries', options.retries, 0, 100),
    gapBytes: options.gapBytes === undefined ? DEFAULTS.gapBytes : checkCount('options.gapBytes', options.gapBytes, 0, 1 << 30),
    maxRequestBytes: options.maxRequestBytes === undefined ? DEFAULTS.maxRequestBytes : checkCount('options.maxRequestBytes', options.maxRequestBytes, 1, 1 << 30),
    headers: { ...(options.headers ?? {}) },
  };
  const http = isHttpLocation(location);
  let indexLocation: string;
  let text: string;
  if (http) {
    indexLocation = location.endsWith('/') ? `${location}index.json` : location;
    text = await fetchIndex(indexLocation, store, options.signal);
  } else {
    indexLocation = resolve(location);
    try {
      if ((await stat(indexLocation)).isDirectory()) indexLocation = join(indexLocation, 'index.json');
      text = await readFile(indexLocation, 'utf8');
    } catch (error) {
      throw new DatasetError('NOT_FOUND', `Cannot read WebDataset index ${indexLocation}: ${reasonOf(error)}`, [], { cause: error });
    }
  }
  let index: ShardIndex;
  try {
    index = JSON.parse(text) as ShardIndex;
  } catch (error) {
    throw new DatasetError('BAD_INDEX', `WebDataset index ${indexLocation} is not JSON: ${reasonOf(error)}`, [], { cause: error });
  }
  const problems: DatasetProblem[] = [];
  const bad = (reason: string) => problems.push({ path: indexLocation, reason });
  if (typeof index !== 'object' || index === null || !Array.isArray(index.shardlist)) {
    throw new DatasetError('BAD_INDEX', `WebDataset index ${indexLocation} has no shardlist array (not written by patchstream pack?)`);
  }
  if (!Array.isArray(index.classes) || index.classes.some((c) => typeof c !== 'string')) {
    throw new DatasetError('BAD_INDEX', `WebDataset index ${indexLocation} has no classes array of strings; a wids index without patchstream's per-sample fields cannot be read at random (pack the data with patchstream pack)`);
  }
  const classes = index.classes;
  const locations: string[] = [];
  const samples: Sample[] = [];
  index.shardlist.forEach((entry, shard) => {
    const where = `shardlist[${shard}]`;
    if (typeof entry !== 'object' || entry === null || typeof entry.url !== 'string' || entry.url === '') return void bad(`${where}.url is not a string`);
    const shardLocation = shardLocationOf(indexLocation, entry.url, http);
    if (!shardLocation.ok) return void bad(`${where}.url '${entry.url}': ${shardLocation.reason}`);
    const { members, offsets, lengths, labels } = entry;
    const count = entry.nsamples;
    if (!Number.isInteger(count) || count < 0) return void bad(`${where}.nsamples is not a non-negative integer`);
    for (const [field, values] of [['members', members], ['offsets', offsets], ['lengths', lengths], ['labels', labels]] as const) {
      if (!Array.isArray(values) || values.length !== count) return void bad(`${where}.${field} is not an array of nsamples (${count}) entries`);
    }
    if (problems.length > 0) return;
    locations.push(shardLocation.location);
    for (let j = 0; j < count; j++) {
      const offset = offsets[j]!, length = lengths[j]!, label = labels[j]!, member = members[j]!;
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        bad(`${where} sample ${j}: offset ${String(offset)} / length ${String(length)} are not non-negative integers`);
      } else if (!Number.isInteger(label) || label < 0 || label >= classes.length) {
        bad(`${where} sample ${j}: label ${String(label)} is not in [0, ${classes.length})`);
      } else if (typeof member !== 'string' || member === '' || member.includes('#')) {
        bad(`${where} sample ${j}: member name ${JSON.stringify(member)} is not a plain name`);
      } else {
        samples.push({ path: `${shardLocation.location}#${member}`, label, source: { shard: locations.length - 1, offset, length } });
      }
      if (problems.length >= 100) return;
    }
  });
  if (problems.length > 0) throw new DatasetError('BAD_INDEX', `WebDataset index ${indexLocation} has ${problems.length}${problems.length >= 100 ? '+' : ''} problems:`, problems);
  if (samples.length === 0) throw new DatasetError('EMPTY_DATASET', `WebDataset index ${indexLocation} lists no samples`);
  return { samples, classes: [...classes], root: http ? indexLocation : dirname(indexLocation), shards: { locations, ...store }, index: indexLocation };
}

/** A shard's location from its `url` in the index: relative to the index, kept inside its folder when local. */
function shardLocationOf(indexLocation: string, url: string, http: boolean): { ok: true; location: string } | { ok: false; reason: string } {
  if (http) {
    let resolved: URL;
    try {
      resolved = new URL(url, indexLocation);
    } catch {
      return { ok: false, reason: 'not a URL' };
    }
    if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') return { ok: false, reason: `protocol ${resolved.protocol} is not http(s)` };
    return { ok: true, location: resolved.href };
  }
  // An index is data: it must not send reads to files outside its folder.
  if (isHttpLocation(url)) return { ok: true, location: url };
  if (isAbsolute(url) || url.split(/[\\/]/).includes('..') || url.includes('\0')) return { ok: false, reason: 'a local shard must be a relative path inside the index folder' };
  return { ok: true, location: join(dirname(indexLocation), url) };
}

async function fetchIndex(url: string, store: { timeoutMs: number; retries: number; headers: Record<string, string> }, signal?: AbortSignal): Promise<string> {
  let problem = '';
  for (let attempt = 0; attempt <= store.retries; attempt++) {
    signal?.throwIfAborted();
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** (attempt - 1))));
    try {
      const timeout = AbortSignal.timeout(store.timeoutMs);
      const response = await fetch(url, { headers: store.headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      if (response.ok) return await response.text();
      await response.body?.cancel().catch(() => undefined);
      problem = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const cause = (error as Error).cause as Error | undefined;
      problem = (error as Error).name === 'TimeoutError' ? `no answer within ${store.timeoutMs} ms` : `${reasonOf(error)}${cause ? `: ${reasonOf(cause)}` : ''}`;
    }
  }
  throw new DatasetError('NOT_FOUND', `Cannot read WebDataset index ${url}: ${problem}`);
}
