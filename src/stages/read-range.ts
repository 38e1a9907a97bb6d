/**
 * Stage `read` for samples inside tar shards: bytes by (shard, offset, length), from a local
 * file or an HTTP(S) server with Range requests. Runs in the workers, so the main thread never
 * touches image bytes. The samples of one task that lie close together in the same shard are
 * read with one request (an epoch in file order, or one rank's stride through it, becomes a
 * few requests per task instead of one per image).
 */
import { open } from 'node:fs/promises';
import type { ShardStore } from '../dataset/types.js';
import { isHttpLocation } from '../dataset/webdataset.js';
import { reasonOf, type SampleFailure } from '../errors.js';
import { decodeBytes, type DecodeSettings } from './load.js';
import type { PrepareResult } from './decode.js';
import type { ReadResult } from './read.js';

/** Fewer bytes than any real image can have (as in read.ts). */
const MIN_IMAGE_BYTES = 12;

/** An HTTP failure worth another attempt (the server or the network, not the request). */
class RetryableError extends Error {}


/** A group of samples read with one request. */
interface Group {
  shard: number;
  start: number;
  end: number;
  bytes: Promise<{ ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure }> | null;
}

/**
 * The byte ranges of one task's samples, read on demand: the first `read(j)` of a group starts
 * its request, later ones share it. Samples never asked for (cache hits) are never read.
 */
export class TaskRanges {
  readonly #store: ShardStore;
  readonly #maxFileBytes: number;
  readonly #ranges: readonly number[];
  readonly #groupOf: Int32Array;
  readonly #groups: Group[] = [];
  /** Groups waiting for a read-ahead slot, in the order the task's lanes will need them. */
  #queue: Group[] = [];
  #active = 0;
  /** Requests made (for the bench and tests). */
  requests = 0;

  /** `ranges` holds (shard, offset, length) per sample of the task. */
  constructor(store: ShardStore, ranges: readonly number[], maxFileBytes: number) {
    this.#store = store;
    this.#ranges = ranges;
    this.#maxFileBytes = maxFileBytes;
    const count = ranges.length / 3;
    this.#groupOf = new Int32Array(count).fill(-1);
    const order = Array.from({ length: count }, (_, j) => j)
      .filter((j) => ranges[3 * j + 2]! <= maxFileBytes)
      .sort((a, b) => ranges[3 * a]! - ranges[3 * b]! || ranges[3 * a + 1]! - ranges[3 * b + 1]!);
    let current: Group | null = null;
    for (const j of order) {
      const shard = ranges[3 * j]!;
      const start = ranges[3 * j + 1]!;
      const end = start + ranges[3 * j + 2]!;
      if (current && current.shard === shard && start - current.end <= store.gapBytes && Math.max(end, current.end) - current.start <= store.maxRequestBytes) {
        current.end = Math.max(current.end, end);
      } else {
        current = { shard, start, end, bytes: null };
        this.#groups.push(current);
      }
      this.#groupOf[j] = this.#groups.length - 1;
    }
  }

  /**
   * Starts reading every group now, at most `parallel` requests at a time, in the order the
   * samples come in the task: a shard server's latency then overlaps the decodes instead of
   * adding to each (measured: bench/webdataset-http.ts). Without it a group is read when its
   * first sample is asked for, so samples served from a cache are never fetched.
   */
  readAhead(parallel: number): void {
    const firstUse = new Map<Group, number>();
    this.#groupOf.forEach((g, j) => {
      if (g >= 0 && !firstUse.has(this.#groups[g]!)) firstUse.set(this.#groups[g]!, j);
    });
    this.#queue = [...firstUse.keys()].sort((a, b) => firstUse.get(a)! - firstUse.get(b)!);
    this.#pump(parallel);
  }

  #pump(parallel: number): void {
    while (this.#active < parallel && this.#queue.length > 0) {
      const group = this.#queue.shift()!;
      if (group.bytes) continue;
      this.#active++;
      this.#start(group).finally(() => {
        this.#active--;
        this.#pump(parallel);
      });
    }
  }

  #start(group: Group): NonNullable<Group['bytes']> {
    this.requests++;
    group.bytes = readRange(this.#store, group.shard, group.start, group.end);
    return group.bytes;
  }

  /** The bytes of the task's sample `j`. */
  async read(j: number): Promise<ReadResult> {
    const length = this.#ranges[3 * j + 2]!;
    if (length > this.#maxFileBytes) {
      return { ok: false, failure: { code: 'FILE_TOO_LARGE', stage: 'read', reason: `member has ${length} bytes, more than maxFileBytes (${this.#maxFileBytes})` } };
    }
    if (length < MIN_IMAGE_BYTES) {
      return { ok: false, failure: { code: 'EMPTY', stage: 'read', reason: length === 0 ? 'member is empty (0 bytes)' : `member has only ${length} bytes, too few for an image` } };
    }
    const group = this.#groups[this.#groupOf[j]!]!;
    const read = await (group.bytes ?? this.#start(group));
    if (!read.ok) return read;
    const offset = this.#ranges[3 * j + 1]! - group.start;
    // A view, not a copy: the group's buffer lives until its last sample is decoded.
    return { ok: true, bytes: read.bytes.subarray(offset, offset + length) };
  }
}

/** Bytes `[start, end)` of shard `shard`, local or over HTTP. */
export async function readRange(store: ShardStore, shard: number, start: number, end: number): Promise<{ ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure }> {
  const location = store.locations[shard];
  if (location === undefined) return { ok: false, failure: { code: 'IO', stage: 'read', reason: `shard ${shard} is not in the index` } };
  return isHttpLocation(location) ? readHttpRange(location, start, end, store) : readLocalRange(location, start, end);
}

async function readLocalRange(path: string, start: number, end: number): Promise<{ ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure }> {
  let handle;
  try {
    handle = await open(path, 'r');
    const bytes = Buffer.allocUnsafe(end - start);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
      if (bytesRead === 0) {
        return { ok: false, failure: { code: 'IO', stage: 'read', reason: `shard ${path} ends at byte ${start + filled}, before byte ${end} the index gives (shard truncated or index stale)` } };
      }
      filled += bytesRead;
    }
    return { ok: true, bytes };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, failure: { code: 'IO', stage: 'read', reason: `${code}: ${reasonOf(error)}` } };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One Range request, with up to `retries` further attempts on network errors, timeouts, 408,
 * 429 and 5xx. A body cut mid-way is resumed: the next attempt asks only for the bytes not yet
 * received. 4xx (a missing shard) fails at once with the URL and the status.
 */
export async function readHttpRange(
  url: string,
  start: number,
  end: number,
  settings: Pick<ShardStore, 'timeoutMs' | 'retries' | 'headers'>,
): Promise<{ ok: true; bytes: Buffer } | { ok: false; failure: SampleFailure }> {
  const bytes = Buffer.allocUnsafe(end - start);
  let received = 0;
  let lastProblem = '';
  for (let attempt = 0; attempt <= settings.retries; attempt++) {
    if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** (attempt - 1)));
    const from = start + received;
    const range = `bytes=${from}-${end - 1}`;
    try {
      const response = await fetch(url, { headers: { ...settings.headers, range }, signal: AbortSignal.timeout(settings.timeoutMs) });
      if (response.status !== 206) {
        await response.body?.cancel().catch(() => undefined);
        const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
        if (response.status === 200) {
          return { ok: false, failure: { code: 'IO', stage: 'read', reason: `${status} for GET ${url} (${range}): the server ignored the Range header; serve the shards from a server with Range support (nginx, S3, any static file server)` } };
        }
        if (response.status === 408 || response.status === 429 || response.status >= 500) throw new RetryableError(status);
        const missing = response.status === 404 || response.status === 410 ? ' (shard missing?)' : '';
        return { ok: false, failure: { code: 'IO', stage: 'read', reason: `${status} for GET ${url} (${range})${missing}` } };
      }
      const contentRange = response.headers.get('content-range') ?? '';
      const match = /^bytes (\d+)-(\d+)\//.exec(contentRange);
      if (!match || Number(match[1]) !== from || Number(match[2]) > end - 1) {
        await response.body?.cancel().catch(() => undefined);
        return { ok: false, failure: { code: 'IO', stage: 'read', reason: `GET ${url} (${range}) answered Content-Range '${contentRange}', not the bytes asked for` } };
      }
      if (!response.body) throw new RetryableError('response without a body');
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          if (received + chunk.length > bytes.length) throw new Error(`more bytes than the ${end - start} asked for`);
          bytes.set(chunk, received);
          received += chunk.length;
        }
      } catch (error) {
        if (/more bytes than/.test(reasonOf(error))) throw error;
        throw new RetryableError(`body cut after ${received} of ${end - start} bytes: ${reasonOf((error as Error).cause ?? error)}`);
      }
      if (received === bytes.length) return { ok: true, bytes };
      throw new RetryableError(`body ended after ${received} of ${end - start} bytes`);
    } catch (error) {
      if (!(error instanceof RetryableError) && !isNetworkError(error)) {
        return { ok: false, failure: { code: 'IO', stage: 'read', reason: `GET ${url} (${range}): ${reasonOf(error)}` } };
      }
      lastProblem = error instanceof RetryableError ? error.message : describeNetworkError(error, settings.timeoutMs);
    }
  }
  return { ok: false, failure: { code: 'IO', stage: 'read', reason: `GET ${url} (bytes=${start}-${end - 1}) failed after ${settings.retries + 1} attempts: ${lastProblem}` } };
}

function isNetworkError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError' || (error instanceof TypeError && /fetch failed|terminated|other side closed/i.test(error.message));
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if ((error as Error).name === 'TimeoutError') return `no complete answer within ${timeoutMs} ms (timeoutMs)`;
  const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
  return cause ? `${reasonOf(error)}: ${cause.code ?? ''} ${reasonOf(cause)}`.trim() : reasonOf(error);
}

/** sniff + check + prepare of bytes already read (the rest of `decodeFile` for a shard member). */
export async function decodeRead(path: string, read: ReadResult, settings: DecodeSettings): Promise<PrepareResult> {
  if (!read.ok) return read;
  return decodeBytes(path, read.bytes, settings);
}
