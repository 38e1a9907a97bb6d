/**
 * A training run's folder: `metrics.jsonl` (one line per epoch, then the final evaluation),
 * `curve.svg`, and the crash-safe checkpoints under `checkpoints/` with `latest`.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { removeStaleTemporaries, saveCheckpoint, type CheckpointState, type ModelArtifactsLike, type NamedArray } from '../model/checkpoint.js';
import { trainingCurveSvg, type EpochPoint } from './curve.js';

/** The files of one training run. */
export class RunFolder {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates the folder if needed and deletes half-written checkpoints a killed run left. */
  static async open(out: string, log: (line: string) => void): Promise<RunFolder> {
    const path = resolve(out);
    await mkdir(path, { recursive: true });
    const stale = await removeStaleTemporaries(path);
    if (stale.length > 0) log(`removed ${stale.length} half-written checkpoint(s) left by a killed run: ${stale.join(', ')}`);
    return new RunFolder(path);
  }

  /** Appends one JSON line to metrics.jsonl. */
  async record(line: { type: string } & Record<string, unknown>): Promise<void> {
    await appendFile(join(this.path, 'metrics.jsonl'), `${JSON.stringify(line)}\n`);
  }

  /** Redraws curve.svg from the history so far. */
  async drawCurve(history: EpochPoint[], title: string, chanceTop1: number): Promise<void> {
    await writeFile(join(this.path, 'curve.svg'), trainingCurveSvg(history, { title, chanceTop1 }));
  }

  /** Writes a checkpoint and points `latest` at it; returns its folder. */
  checkpoint(contents: { model: ModelArtifactsLike; optimizer: NamedArray[]; state: CheckpointState }): Promise<string> {
    return saveCheckpoint(this.path, contents);
  }
}
