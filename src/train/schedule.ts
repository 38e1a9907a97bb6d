/**
 * The learning-rate schedule of the paper: divide by 10 when the validation error stops
 * improving (`patience` epochs without a new best), or at fixed epochs (`lrSteps`).
 */

/** The schedule's state, kept in checkpoints so a resumed run continues it. */
export interface ScheduleState {
  lr: number;
  /** Best validation top-1 error so far. */
  best: number;
  /** Epochs since `best` improved. */
  sinceBest: number;
}

/** Settings of a {@link LearningRateSchedule}. */
export interface ScheduleSettings {
  lr: number;
  /** Epochs at which lr is divided by 10; `null`: on validation plateau instead. */
  lrSteps: number[] | null;
  patience: number;
}

/** Plateau or step schedule; `state` is what a checkpoint stores. */
export class LearningRateSchedule {
  readonly state: ScheduleState;
  #settings: ScheduleSettings;

  constructor(settings: ScheduleSettings, state?: ScheduleState) {
    this.#settings = settings;
    this.state = state ? { ...state } : { lr: settings.lr, best: Infinity, sinceBest: 0 };
  }

  get lr(): number {
    return this.state.lr;
  }

  /** At the start of `epoch` (0-based): applies an `lrSteps` step. Returns a log line when lr changed. */
  startEpoch(epoch: number): string | null {
    if (!this.#settings.lrSteps?.includes(epoch)) return null;
    this.state.lr /= 10;
    return `epoch ${epoch}: learning rate divided by 10 (lrSteps) -> ${this.state.lr}`;
  }

  /** After epoch `epoch` (1-based) was validated: the plateau rule. Returns a log line when lr changed. */
  validated(epoch: number, top1Error: number): string | null {
    if (this.#settings.lrSteps) return null;
    if (top1Error < this.state.best - 1e-9) {
      this.state.best = top1Error;
      this.state.sinceBest = 0;
      return null;
    }
    if (++this.state.sinceBest < this.#settings.patience) return null;
    this.state.lr /= 10;
    this.state.sinceBest = 0;
    return `epoch ${epoch}: validation error stopped improving for ${this.#settings.patience} epochs: learning rate divided by 10 -> ${this.state.lr}`;
  }
}
