/**
 * What a resumed run takes from its checkpoint and what from the options it was started with:
 * the comparison behind `TrainOptions.onResume`, the CLI's `resume` JSON line and its log lines.
 */

/** A given option that differs from the checkpoint's value. */
export interface ResumeDifference {
  /** The checkpoint's value (`null`: the checkpoint does not record it). */
  checkpoint: unknown;
  /** The value given to the resumed run. */
  given: unknown;
}

/** What `TrainOptions.onResume` receives: where the run continues and where its settings came from. */
export interface ResumeInfo {
  /** The checkpoint folder. */
  checkpoint: string;
  /** Epochs completed, i.e. the epoch the run continues (0-based). */
  epoch: number;
  /** Batches of `epoch` already trained. */
  step: number;
  /** Settings the run takes from the checkpoint, with their values. */
  kept: Record<string, unknown>;
  /** Given options that would change the batches or the model: the checkpoint's value is used instead. */
  ignored: Record<string, ResumeDifference>;
  /** Given options that differ from the checkpoint's and are used from here on (they change speed or length, not the batches). */
  changed: Record<string, ResumeDifference>;
}

/**
 * One compared option. `given` is `undefined` when the option was not given.
 * - `fixed`: decides the batches or the model; the checkpoint's value is always used.
 * - `restored`: the given value is used, else the checkpoint's.
 * - `local`: belongs to the machine (backend, feed): the given value is used, else the default;
 *   never taken from the checkpoint.
 */
export interface ComparedOption {
  kind: 'fixed' | 'restored' | 'local';
  checkpoint: unknown;
  given: unknown;
}

/** Sorts an option into kept, ignored or changed. */
export function compareResume(options: Record<string, ComparedOption>): Pick<ResumeInfo, 'kept' | 'ignored' | 'changed'> {
  const kept: ResumeInfo['kept'] = {};
  const ignored: ResumeInfo['ignored'] = {};
  const changed: ResumeInfo['changed'] = {};
  for (const [name, { kind, checkpoint, given }] of Object.entries(options)) {
    const differs = given !== undefined && !sameValue(given, checkpoint);
    if (kind === 'fixed') {
      kept[name] = checkpoint;
      if (differs) ignored[name] = { checkpoint: checkpoint ?? null, given };
    } else if (differs) {
      changed[name] = { checkpoint: checkpoint ?? null, given };
    } else if (checkpoint !== undefined && (kind === 'restored' || given !== undefined)) {
      kept[name] = checkpoint;
    }
  }
  return { kept, ignored, changed };
}

/** The log lines of a resume: where, what is kept, what is ignored, what changed. */
export function describeResume(info: ResumeInfo): string[] {
  const lines = [`resume: kept from the checkpoint: ${Object.entries(info.kept).map(([name, value]) => `${name} ${show(value)}`).join(', ')}`];
  const differences = (entries: Record<string, ResumeDifference>) =>
    Object.entries(entries).map(([name, { checkpoint, given }]) => `${name} ${show(given)} (checkpoint: ${show(checkpoint)})`).join(', ');
  if (Object.keys(info.ignored).length > 0) lines.push(`resume: ignored, they would change the batches or the model (the checkpoint's values are used): ${differences(info.ignored)}`);
  if (Object.keys(info.changed).length > 0) lines.push(`resume: changed, applied from here on: ${differences(info.changed)}`);
  return lines;
}

// JSON compares arrays and plain objects by value; the option values compared are plain data.
function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (value === false) return 'off';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (Array.isArray(value)) return value.map(show).join(',');
  if (typeof value === 'object') return Object.entries(value).map(([key, item]) => `${key} ${show(item)}`).join(' ');
  return String(value);
}
