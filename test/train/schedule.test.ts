import { describe, expect, it } from 'vitest';
import { LearningRateSchedule } from '../../src/train/schedule.js';

/**
 * Runs a schedule the way the trainer does: `startEpoch(e)` before epoch e (0-based), then
 * `validated(e + 1, error)` after it. Returns the learning rate each epoch trained with, and the
 * lines it logged.
 */
function drive(schedule: LearningRateSchedule, errors: number[]): { lrs: number[]; lines: string[] } {
  const lrs: number[] = [];
  const lines: string[] = [];
  errors.forEach((error, epoch) => {
    const stepped = schedule.startEpoch(epoch);
    if (stepped) lines.push(stepped);
    lrs.push(schedule.lr);
    const plateau = schedule.validated(epoch + 1, error);
    if (plateau) lines.push(plateau);
  });
  return { lrs, lines };
}

describe('LearningRateSchedule', () => {
  it('LearningRateSchedule (patience) - lr / 10 after `patience` epochs without a new best, then the count starts again', () => {
    const schedule = new LearningRateSchedule({ lr: 0.01, lrSteps: null, patience: 2 });
    // best 0.5 at epoch 2; epochs 3-4 no better (0.5 equals it: not an improvement) -> drop after
    // epoch 4; epoch 5 a new best; 6-7 worse -> drop after epoch 7; epoch 8 worse (count is 1).
    const errors = [0.8, 0.5, 0.6, 0.5, 0.4, 0.45, 0.41, 0.9];
    const { lrs, lines } = drive(schedule, errors);
    expect(lrs.map((lr) => +lr.toPrecision(6))).toEqual([0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001]);
    expect(lines).toEqual([
      'epoch 4: validation error stopped improving for 2 epochs: learning rate divided by 10 -> 0.001',
      'epoch 7: validation error stopped improving for 2 epochs: learning rate divided by 10 -> 0.0001',
    ]);
    expect(schedule.state).toMatchObject({ best: 0.4, sinceBest: 1 });
  });

  it('LearningRateSchedule (patience) - a steadily improving run keeps its learning rate', () => {
    const schedule = new LearningRateSchedule({ lr: 0.05, lrSteps: null, patience: 1 });
    const { lrs, lines } = drive(schedule, [0.9, 0.8, 0.7, 0.6, 0.5]);
    expect(lrs).toEqual([0.05, 0.05, 0.05, 0.05, 0.05]);
    expect(lines).toEqual([]);
    expect(schedule.state).toEqual({ lr: 0.05, best: 0.5, sinceBest: 0 });
  });

  it('LearningRateSchedule (lrSteps) - lr / 10 at the start of each listed epoch, whatever the validation error does', () => {
    const schedule = new LearningRateSchedule({ lr: 0.01, lrSteps: [2, 4], patience: 1 });
    // Validation error never improves after epoch 1: with patience 1 the plateau rule would drop lr
    // every epoch, but lrSteps replaces it.
    const { lrs, lines } = drive(schedule, [0.5, 0.9, 0.9, 0.9, 0.9, 0.9]);
    expect(lrs.map((lr) => +lr.toPrecision(6))).toEqual([0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]);
    expect(lines).toEqual([
      'epoch 2: learning rate divided by 10 (lrSteps) -> 0.001',
      'epoch 4: learning rate divided by 10 (lrSteps) -> 0.0001',
    ]);
  });

  it('new LearningRateSchedule(settings, state) - continues from a checkpoint\'s state as an uninterrupted schedule would', () => {
    const errors = [0.8, 0.5, 0.6, 0.7, 0.4, 0.45, 0.46];
    const straight = new LearningRateSchedule({ lr: 0.01, lrSteps: null, patience: 2 });
    const whole = drive(straight, errors).lrs;
    const first = new LearningRateSchedule({ lr: 0.01, lrSteps: null, patience: 2 });
    drive(first, errors.slice(0, 3));
    // Mid-plateau (one epoch since the best): the resumed schedule must remember it.
    const saved = JSON.parse(JSON.stringify(first.state)) as typeof first.state;
    expect(saved.sinceBest).toBe(1);
    const resumed = new LearningRateSchedule({ lr: 0.01, lrSteps: null, patience: 2 }, saved);
    const rest: number[] = [];
    errors.slice(3).forEach((error, i) => {
      resumed.startEpoch(3 + i);
      rest.push(resumed.lr);
      resumed.validated(4 + i, error);
    });
    expect(rest).toEqual(whole.slice(3));
    expect(resumed.state).toEqual(straight.state);
  });
});
