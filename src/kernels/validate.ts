/**
 * @module
 * Checks particular to the kernels (tile multiples, quantisation scales, locating a non-finite
 * element), on top of the shared ones in src/validate.ts. Every failure is an `ExpertmeshError`
 * that names the argument and the offending value.
 */
import { fail } from '../errors.js';
import { checkInt } from '../validate.js';

/** Any typed array a kernel accepts as an operand. */
export type KernelArray = Float32Array | Float64Array | Uint8Array | Uint16Array;

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
  return checkInt(value, name, 1);
}
