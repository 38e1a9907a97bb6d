/** Comparing class lists by name: labels are indices into them, so a difference would shift labels. */
import { DatasetError } from '../errors.js';

/**
 * Throws `CLASS_MISMATCH` listing every class missing on either side; with `sameOrder`, also
 * when the names match but their order (hence the label indices) differs.
 * @param sides how to name the two lists in the messages, e.g. `['checkpoint', 'dataset']`
 * @throws {DatasetError} `CLASS_MISMATCH`
 */
export function checkSameClasses(
  reference: readonly string[],
  other: readonly string[],
  sides: readonly [string, string],
  message: string,
  options: { sameOrder: boolean },
): void {
  const missing = reference.filter((name) => !other.includes(name));
  const extra = other.filter((name) => !reference.includes(name));
  const reordered = missing.length === 0 && extra.length === 0 && options.sameOrder && reference.join('\n') !== other.join('\n');
  if (missing.length === 0 && extra.length === 0 && !reordered) return;
  throw new DatasetError('CLASS_MISMATCH', message, [
    ...missing.map((name) => ({ reason: `class ${JSON.stringify(name)} is in the ${sides[0]} but not in the ${sides[1]}` })),
    ...extra.map((name) => ({ reason: `class ${JSON.stringify(name)} is in the ${sides[1]} but not in the ${sides[0]}` })),
    ...(reordered ? [{ reason: 'same classes in a different order' }] : []),
  ]);
}
