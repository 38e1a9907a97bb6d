import { describe, expect, it } from 'vitest';
import { alignClasses } from '../../src/eval/checkpoint.js';
import { DatasetError } from '../../src/errors.js';

describe('alignClasses()', () => {
  const dataset = { classes: ['cat', 'dog', 'eel'], samples: [{ path: 'a', label: 0 }, { path: 'b', label: 1 }, { path: 'c', label: 2 }] };

  it('alignClasses() - relabels by name into the checkpoint\'s order', () => {
    const aligned = alignClasses(dataset, ['eel', 'cat', 'dog']);
    expect(aligned.classes).toEqual(['eel', 'cat', 'dog']);
    expect(aligned.samples.map((s) => aligned.classes[s.label])).toEqual(['cat', 'dog', 'eel']);
  });

  it('alignClasses() - a class missing on either side is CLASS_MISMATCH naming it', () => {
    let error: unknown;
    try {
      alignClasses(dataset, ['cat', 'dog', 'fox']);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).code).toBe('CLASS_MISMATCH');
    expect((error as DatasetError).problems.map((p) => p.reason)).toEqual([
      'class "fox" is in the checkpoint but not in the dataset',
      'class "eel" is in the dataset but not in the checkpoint',
    ]);
  });
});
