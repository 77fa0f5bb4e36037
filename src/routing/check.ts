/**
 * @module
 * Argument checks shared by the routing modules. Each names the bad value and the argument it came
 * from, and throws an {@link ExpertmeshError} (`E_ARGUMENT`, or `E_NUMERIC` for non-finite numbers).
 * @internal
 */
import { fail, showValue } from '../errors.js';

/** Row-major numeric matrix accepted by the routing functions. */
export type NumericArray = Float32Array | Float64Array;

/** Throw unless `value` is an integer in `[min, max]`. */
export function checkInt(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail('E_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${showValue(value)}`, { argument: name, value, min, max });
  }
  return value;
}

/** Throw unless `array` has exactly `expected` elements. */
export function checkLength(array: ArrayLike<unknown>, expected: number, name: string, shape: string): void {
  if (array.length !== expected) {
    fail('E_ARGUMENT', `${name} has length ${array.length}, expected ${expected} (${shape})`, {
      argument: name,
      length: array.length,
      expected,
      shape,
    });
  }
}

/** Throw `E_NUMERIC` at the first NaN or infinite element of `array`. */
export function checkFinite(array: ArrayLike<number>, name: string): void {
  for (let i = 0; i < array.length; i++) {
    const v = array[i]!;
    if (!Number.isFinite(v)) fail('E_NUMERIC', `${name}[${i}] is ${v}; finite values are required`, { argument: name, index: i, value: v });
  }
}

/** Throw unless `value` is a finite number (optionally also `>= 0`). */
export function checkNumber(value: unknown, name: string, nonNegative = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (nonNegative && value < 0)) {
    const what = nonNegative ? 'a finite number >= 0' : 'a finite number';
    fail(typeof value === 'number' && !Number.isFinite(value) ? 'E_NUMERIC' : 'E_ARGUMENT', `${name} must be ${what}, got ${showValue(value)}`, { argument: name, value });
  }
  return value;
}
