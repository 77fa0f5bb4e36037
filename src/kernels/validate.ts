/**
 * @module
 * Argument checks shared by the kernels. Every failure is an `ExpertmeshError` that names the argument
 * and the offending value (`E_ARGUMENT` for shapes and types, `E_NUMERIC` for NaN / infinite values).
 */
import { fail, showValue } from '../errors.js';

/** Any typed array a kernel accepts as an operand. */
export type KernelArray = Float32Array | Float64Array | Uint8Array | Uint16Array;

/** `value` must be a positive (or, with `allowZero`, non-negative) safe integer. */
export function checkDim(name: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1))
    fail('E_ARGUMENT', `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${showValue(value)}`, { argument: name, value });
  return value;
}

/** `arr` must be an instance of `ctor` with exactly `length` elements. */
export function checkArray<T extends KernelArray>(
  name: string,
  arr: unknown,
  ctor: abstract new (...args: never[]) => T,
  length: number,
): T {
  if (!(arr instanceof ctor))
    fail('E_ARGUMENT', `${name} must be a ${ctor.name}, got ${describe(arr)}`, { argument: name, expected: ctor.name, value: describe(arr) });
  if (arr.length !== length)
    fail('E_ARGUMENT', `${name} must have ${length} elements, got ${arr.length}`, { argument: name, expected: length, length: arr.length });
  return arr;
}

/** `n` must be a multiple of `of` (tile widths). */
export function checkMultiple(name: string, n: number, of: number): void {
  if (n % of !== 0) fail('E_ARGUMENT', `${name} must be a multiple of ${of}, got ${n}`, { argument: name, value: n, multipleOf: of });
}

/** Every scale must be finite and positive (a NaN, infinite, zero or negative scale is rejected). */
export function checkScales(name: string, scales: Float32Array): void {
  for (let i = 0; i < scales.length; i++) {
    const s = scales[i]!;
    if (!(s > 0 && s < Infinity))
      fail('E_NUMERIC', `${name}[${i}] must be a finite positive scale, got ${s}`, { argument: name, index: i, value: s });
  }
}

/** Fail with `E_NUMERIC` for a non-finite element found at `index` of `name`. */
export function failNonFinite(name: string, arr: ArrayLike<number>, from: number, to: number): never {
  for (let i = from; i < to; i++) {
    const v = arr[i]!;
    if (!Number.isFinite(v)) fail('E_NUMERIC', `${name}[${i}] must be finite, got ${v}`, { argument: name, index: i, value: v });
  }
  fail('E_NUMERIC', `${name} contains a non-finite value in [${from}, ${to})`, { argument: name, from, to });
}

/** `value` must be a positive integer or `Infinity` (used for promotion intervals). */
export function checkInterval(name: string, value: unknown): number {
  if (value === Infinity) return Infinity;
  return checkDim(name, value);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
