/**
 * The one bounded-concurrency helper (the lanes of p-map's `concurrency`): a worker's samples in
 * flight, the dataset sources' file checks, the CLI's bare-sharp baseline.
 */

/**
 * Runs `work(i)` for i in [0, count) with at most `limit` calls running at once, in index
 * order. After a call rejects or `signal` aborts, no new call starts; the returned promise
 * rejects (with the first error, or `signal.reason`) only once every running call has settled:
 * a call still running after its caller moved on could write into memory that has since been
 * handed to someone else (a worker's batch buffer).
 * @example
 * await forEachLimited(paths.length, 64, async (i) => { sizes[i] = (await stat(paths[i])).size; });
 */
export async function forEachLimited(count: number, limit: number, work: (index: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (next < count && failure === null) {
      if (signal?.aborted) {
        failure = { error: signal.reason };
        return;
      }
      try {
        await work(next++);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, count)) }, lane));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
