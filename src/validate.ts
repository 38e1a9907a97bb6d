/**
 * The option checks, sharp-style (sharp's `lib/is`): each throws a `TypeError` for the wrong
 * type or a `RangeError` for a value out of range, with a message that names the option and
 * says what it received, e.g.
 * `Expected integer between 1 and 4096 for options.crop but received 0 of type number`.
 * Every public entry point validates with these, once, before any work starts.
 */

/** `0 of type number`, `'x' of type string`: how a received value is described in errors. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `${JSON.stringify(value).slice(0, 60)} of type array`;
  if (typeof value === 'string') return `'${value}' of type string`;
  if (typeof value === 'object') return `${JSON.stringify(value)?.slice(0, 60) ?? 'object'} of type object`;
  return `${String(value)} of type ${typeof value}`;
}

/** Throws `Expected <what> for <name> but received <value>`. */
export function invalid(name: string, what: string, value: unknown, ErrorClass: typeof TypeError | typeof RangeError = TypeError): never {
  throw new ErrorClass(`Expected ${what} for ${name} but received ${describe(value)}`);
}

/** Checks an integer in [min, max], sharp-style errors. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) invalid(name, `integer between ${min} and ${max}`, value);
  if (value < min || value > max) invalid(name, `integer between ${min} and ${max}`, value, RangeError);
  return value;
}

/** Checks a finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(name, `number between ${min} and ${max}`, value);
  if (value < min || value > max) invalid(name, `number between ${min} and ${max}`, value, RangeError);
  return value;
}

/** Checks one of a fixed set of strings. */
export function checkChoice<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    invalid(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Checks a boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(name, 'boolean', value);
  return value;
}

/** Checks an array (or typed array) of three items with `check`. */
export function checkTriple(name: string, value: unknown, check: (name: string, item: unknown) => number): [number, number, number] {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) invalid(name, 'array of 3 numbers', value);
  const items = Array.from(value as ArrayLike<unknown>);
  if (items.length !== 3) invalid(name, 'array of 3 numbers', value, RangeError);
  return items.map((item, i) => check(`${name}[${i}]`, item)) as [number, number, number];
}

/** Checks an `[r, g, b]` colour of integers 0-255. */
export function checkRgb(name: string, value: unknown): [number, number, number] {
  return checkTriple(name, value, (n, v) => checkInteger(n, v, 0, 255));
}

/** Validates `{ mean, std }` on the 0-1 scale. */
export function checkNormalization(name: string, value: unknown): { mean: number[]; std: number[] } {
  if (typeof value !== 'object' || value === null) invalid(name, 'object { mean, std } or false', value);
  const { mean, std } = value as Record<string, unknown>;
  return {
    mean: checkTriple(`${name}.mean`, mean, (n, v) => checkNumber(n, v, -1e6, 1e6)),
    std: checkTriple(`${name}.std`, std, (n, v) => {
      const x = checkNumber(n, v, 0, 1e6);
      if (x === 0) invalid(n, 'number greater than 0', v, RangeError);
      return x;
    }),
  };
}

/** Validates `{ eigenvalues, eigenvectors }`. */
export function checkLighting(name: string, value: unknown): { eigenvalues: number[]; eigenvectors: number[][] } {
  if (typeof value !== 'object' || value === null) invalid(name, 'object { eigenvalues, eigenvectors } or false', value);
  const { eigenvalues, eigenvectors } = value as Record<string, unknown>;
  const values = checkTriple(`${name}.eigenvalues`, eigenvalues, (n, v) => checkNumber(n, v, 0, 1e6));
  if (!Array.isArray(eigenvectors) || eigenvectors.length !== 3) invalid(`${name}.eigenvectors`, '3x3 array (rows R, G, B)', eigenvectors);
  const vectors = eigenvectors.map((row, i) => checkTriple(`${name}.eigenvectors[${i}]`, row, (n, v) => checkNumber(n, v, -1e6, 1e6)));
  return { eigenvalues: values, eigenvectors: vectors };
}

/** Checks an integer in [min, max], or `undefined` for "not given". */
export function checkOptionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  return value === undefined ? undefined : checkInteger(name, value, min, max);
}

/** Throws a TypeError unless `value` is `undefined` or a boolean. */
export function checkOptionalBoolean(name: string, value: unknown): void {
  if (value !== undefined) checkBoolean(name, value);
}

/** Throws a TypeError unless `value` is `undefined` or an AbortSignal. */
export function checkSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) invalid(name, 'AbortSignal', value);
  return value as AbortSignal | undefined;
}

/** Throws a TypeError unless `value` is an object (an options bag). */
export function checkOptionsObject(value: unknown, name = 'options'): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(name, 'object', value);
}

/** Throws a TypeError for a key of `options` that is not in `known`, listing the known ones. */
export function checkKnownKeys(name: string, options: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`Unknown option ${name}.${key}; known options: ${[...known].join(', ')}`);
  }
}

/** Throws a TypeError unless `value` is a non-empty string without NUL bytes. */
export function checkPath(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) invalid(name, 'non-empty string', value);
  if (value.includes('\0')) invalid(name, 'path without NUL bytes', value);
}

/** Checks an array of positive integers (e.g. `lrSteps`). */
export function checkPositiveIntegers(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) invalid(name, 'array of positive integers', value);
  value.forEach((item, i) => checkInteger(`${name}[${i}]`, item, 1, Number.MAX_SAFE_INTEGER));
  return [...value] as number[];
}
