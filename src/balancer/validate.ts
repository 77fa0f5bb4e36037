/**
 * @module
 * Checks particular to the balancer modules (load matrices, EPLB preconditions), on top of the
 * shared ones in src/validate.ts. Every failure names the argument and the bad
 * value, and raises an {@link ExpertmeshError} with a stable code.
 */
import { fail, showValue } from '../errors.js';

/**
 * Require a non-empty rectangular matrix of finite, non-negative numbers and return its shape.
 * @internal
 */
export function requireLoadMatrix(name: string, m: readonly (readonly number[])[]): { rows: number; cols: number } {
  if (!Array.isArray(m) || m.length === 0) fail('E_ARGUMENT', `${name} must be a non-empty matrix`, { argument: name });
  const cols = Array.isArray(m[0]) ? m[0].length : 0;
  if (cols === 0) fail('E_ARGUMENT', `${name}[0] must be a non-empty row`, { argument: name });
  // Indexed loops: a sparse array's holes are checked too (forEach would skip them).
  for (let i = 0; i < m.length; i++) {
    const row = m[i];
    if (!Array.isArray(row)) fail('E_ARGUMENT', `${name}[${i}] must be an array of ${cols} loads, got ${showValue(row)}`, { argument: name, row: i });
    if (row.length !== cols) fail('E_ARGUMENT', `${name}[${i}] has length ${row.length}, expected ${cols}`, { argument: name, row: i });
    for (let j = 0; j < cols; j++) requireLoad(`${name}[${i}][${j}]`, row[j]!);
  }
  return { rows: m.length, cols };
}

/** Require one finite, non-negative load value. @internal */
export function requireLoad(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('E_NUMERIC', `${name} must be finite, got ${showValue(v)}`, { argument: name, value: v });
  if (v < 0) fail('E_NUMERIC', `${name} must be >= 0, got ${v}`, { argument: name, value: v });
  return v;
}

/** Raise `E_EPLB` unless `cond`; used for the preconditions DeepSeek's eplb.py asserts. @internal */
export function requireEplb(cond: boolean, message: string, data: Record<string, unknown>): void {
  if (!cond) fail('E_EPLB', message, data);
}
