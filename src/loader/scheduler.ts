/**
 * The ordered, bounded scheduler under every epoch (p-map's `pMapIterable` is the model): jobs
 * run concurrently, at most `ahead` of them submitted and not yet handed to the consumer, and
 * they come out strictly in index order. A job needs a free slot (a batch buffer) to start, so
 * a ring of slots bounds memory as well as work.
 */
import { performance } from 'node:perf_hooks';

/** Counters the scheduler keeps up to date (milliseconds). */
export interface SchedulerTimes {
  /** Time the consumer spent waiting for the next job. */
  consumerWaitMs: number;
  /** Time nothing ran because `ahead` jobs were already waiting for the consumer. */
  producerWaitMs: number;
  /** Jobs submitted and not yet handed out, now and at most. */
  ahead: number;
  maxAhead: number;
}

/** Options of {@link orderedBounded}. */
export interface OrderedBoundedOptions<TSlot, TResult> {
  /** Jobs `start` to `end - 1` run, and come out in that order. */
  start: number;
  end: number;
  /** At most this many jobs are submitted and not yet handed out. */
  ahead: number;
  /** A free slot for a job, or `undefined` when none is free (the job waits). */
  take(): TSlot | undefined;
  /** Gives a job's slot back once the consumer has asked for the job after it. */
  release(slot: TSlot): void;
  /** Starts job `index` in `slot`. A rejection surfaces when that job's turn comes. */
  run(index: number, slot: TSlot): Promise<TResult>;
  signal?: AbortSignal;
  times: SchedulerTimes;
}

/**
 * Runs the jobs and yields `{ index, slot, result }` in index order. A job's slot stays the
 * consumer's until it asks for the next job. However the iteration ends (done, `break`, an
 * error, `signal`), it settles only after every submitted job has: a job still running could
 * write into a slot that is about to be handed to someone else.
 */
export async function* orderedBounded<TSlot, TResult>(
  options: OrderedBoundedOptions<TSlot, TResult>,
): AsyncGenerator<{ index: number; slot: TSlot; result: TResult }, void, undefined> {
  const { start, end, ahead, signal, times } = options;
  const jobs = new Map<number, { slot: TSlot; done: Promise<TResult> }>();
  let next = start;
  let handedOut = start;
  let running = 0;
  let idleSince: number | null = null;

  const noteAhead = () => {
    times.ahead = next - handedOut;
    times.maxAhead = Math.max(times.maxAhead, times.ahead);
  };
  const noteIdle = () => {
    if (running === 0 && idleSince === null && next < end) idleSince = performance.now();
  };
  const fill = () => {
    while (next < end && next - handedOut < ahead) {
      const slot = options.take();
      if (slot === undefined) break;
      if (idleSince !== null) {
        times.producerWaitMs += performance.now() - idleSince;
        idleSince = null;
      }
      const index = next++;
      running++;
      const done = options.run(index, slot).finally(() => {
        running--;
        noteIdle();
      });
      done.catch(() => undefined); // handled when its turn comes, or by the settle below
      jobs.set(index, { slot, done });
    }
    noteAhead();
    noteIdle();
  };

  try {
    for (let index = start; index < end; index++) {
      fill();
      const job = jobs.get(index)!;
      const waitStarted = performance.now();
      const result = await abortable(job.done, signal);
      times.consumerWaitMs += performance.now() - waitStarted;
      jobs.delete(index);
      handedOut++;
      // Refill before handing the job out, not only when the consumer asks for the next one:
      // while the consumer works on this job, `ahead` others run (the slot of the job before
      // this one is already free), so a ring of `ahead + 1` slots is used whole.
      fill();
      yield { index, slot: job.slot, result };
      signal?.throwIfAborted();
      options.release(job.slot);
    }
  } finally {
    await Promise.allSettled([...jobs.values()].map((job) => job.done));
    if (idleSince !== null) times.producerWaitMs += performance.now() - idleSince;
    times.ahead = 0;
  }
}

/** Resolves with the promise, or rejects with `signal.reason` as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
