/**
 * The skip ledger of `onError: 'skip'`: counts by reason, every skipped file listed once, and
 * the per-epoch budget past which an epoch fails with {@link SkipBudgetError}.
 */
import { SkipBudgetError, type SampleError, type SampleErrorCode } from '../errors.js';

/** A skipped file, as listed in `loader.stats().skippedFiles` (from its first failure). */
export interface SkippedFile {
  path: string;
  index: number;
  code: SampleErrorCode;
  stage: string;
  reason: string;
  epoch: number;
}

/** Every skip of a loader's lifetime. */
export class SkipLedger {
  /** Skips by reason, counted every time (a file bad in 3 epochs counts 3). */
  readonly counts: Partial<Record<SampleErrorCode, number>> = {};
  total = 0;
  /** Each skipped file once, at its first failure, so the list does not grow with every epoch. */
  readonly files: SkippedFile[] = [];
  #listed = new Set<number>();

  /**
   * Starts an epoch's budget: the returned function records a batch's skips, and throws
   * {@link SkipBudgetError} once more than `maxSkipped` samples of this epoch were skipped.
   */
  epoch(epoch: number, maxSkipped: number): (skipped: readonly SampleError[]) => void {
    const failures: SampleError[] = [];
    return (skipped) => {
      for (const error of skipped) {
        this.counts[error.code] = (this.counts[error.code] ?? 0) + 1;
        this.total++;
        if (!this.#listed.has(error.index)) {
          this.#listed.add(error.index);
          this.files.push({ path: error.path, index: error.index, code: error.code, stage: error.stage, reason: error.reason, epoch });
        }
        failures.push(error);
      }
      if (failures.length > maxSkipped) throw new SkipBudgetError(maxSkipped, failures);
    };
  }
}
