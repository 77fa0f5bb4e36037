/**
 * @module
 * The one set of argument checks of the library, used at every public boundary. Each names the bad
 * value and where it came from (`name`: the argument or field path, prefixed by the function when
 * that helps) and throws an {@link ExpertmeshError}: `E_ARGUMENT` for wrong types, shapes and
 * ranges (or the code the caller passes), `E_NUMERIC` for NaN and infinite numbers, `E_LIMIT` for
 * sizes too large to allocate (checked before allocating).
 * @internal
 */
import { getHeapStatistics } from 'node:v8';
import { fail, showValue, type ErrorCode } from './errors.js';
import { formatBytes, hostMemoryLimit } from './cluster/host-limits.js';

/** Any typed array an argument may be. */
export type TypedArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Int32Array | Uint32Array;

/** `min`..`max` in words: "a positive integer", "an integer in [1, 8]". */
function intRange(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER && min === Number.MIN_SAFE_INTEGER) return 'an integer';
  if (max === Number.MAX_SAFE_INTEGER) return min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  return `an integer in [${min}, ${max}]`;
}

/** Throw unless `value` is a safe integer in `[min, max]`; returns it. */
export function checkInt(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER, code: ErrorCode = 'E_ARGUMENT'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    fail(code, `${name} must be ${intRange(min, max)}, got ${showValue(value)}`, { argument: name, value, min, max });
  return value;
}

/**
 * Throw unless `value` is a finite number (and `>= 0` with `nonNegative`); returns it. NaN and
 * infinities are `E_NUMERIC`, other types `E_ARGUMENT`.
 */
export function checkNumber(value: unknown, name: string, nonNegative = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (nonNegative && value < 0)) {
    const what = nonNegative ? 'a finite number >= 0' : 'a finite number';
    fail(typeof value === 'number' && !Number.isFinite(value) ? 'E_NUMERIC' : 'E_ARGUMENT', `${name} must be ${what}, got ${showValue(value)}`, { argument: name, value });
  }
  return value;
}

/** Throw `E_NUMERIC` at the first NaN or infinite element of `array` (`E_ARGUMENT` if it is not an array). */
export function checkFinite(array: unknown, name: string): asserts array is ArrayLike<number> {
  const a = checkArray(array, name, true);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number') fail('E_ARGUMENT', `${name}[${i}] must be a number, got ${showValue(v)}`, { argument: name, index: i, value: v });
    if (!Number.isFinite(v)) fail('E_NUMERIC', `${name}[${i}] is ${showValue(v)}; finite values are required`, { argument: name, index: i, value: v });
  }
}

/** Throw unless `array` has exactly `expected` elements (`shape` says why, e.g. `tokens x hidden`). */
export function checkLength(array: unknown, expected: number, name: string, shape?: string): asserts array is ArrayLike<unknown> {
  const a = checkArray(array, name, true);
  if (a.length !== expected) {
    fail('E_ARGUMENT', `${name} has length ${a.length}, expected ${expected}${shape ? ` (${shape})` : ''}`, {
      argument: name, length: a.length, expected, ...(shape ? { shape } : {}),
    });
  }
}

/** Throw unless `value` is a number (NaN and infinities allowed: element-wise conversions take them). */
export function checkNumeric(value: unknown, name: string): number {
  if (typeof value !== 'number') fail('E_ARGUMENT', `${name} must be a number, got ${showValue(value)}`, { argument: name, value: describeType(value) });
  return value;
}

/** What a value is, for "must be a Float32Array, got ..." messages. */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** Throw unless `value` is an instance of the typed array `ctor` (with exactly `length` elements when given). */
export function checkTypedArray<T extends TypedArray>(value: unknown, name: string, ctor: abstract new (...args: never[]) => T, length?: number): T {
  if (!(value instanceof ctor))
    fail('E_ARGUMENT', `${name} must be a ${ctor.name}, got ${describeType(value)}`, { argument: name, expected: ctor.name, value: describeType(value) });
  if (length !== undefined && value.length !== length)
    fail('E_ARGUMENT', `${name} must have ${length} elements, got ${value.length}`, { argument: name, expected: length, length: value.length });
  return value;
}

/** Throw unless `value` is a non-null object (not an array); returns it. */
export function checkObject(value: unknown, name: string, code: ErrorCode = 'E_ARGUMENT'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(code, `${name} must be an object, got ${showValue(value)}`, { argument: name, value: describeType(value) });
  return value as Record<string, unknown>;
}

/** Throw unless `value` is an array (or, with `arrayLike`, any array-like with a safe length); returns it. */
export function checkArray(value: unknown, name: string, arrayLike = false, code: ErrorCode = 'E_ARGUMENT'): ArrayLike<unknown> {
  const ok = Array.isArray(value) || (arrayLike && ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!ok) fail(code, `${name} must be an array, got ${showValue(value)}`, { argument: name, value: describeType(value) });
  return value as ArrayLike<unknown>;
}

/**
 * Throw unless `value` is an array of arrays (`rows x cols` when `cols` is given) of integers in
 * `[min, max]`; returns it. For top-k id tables and similar.
 */
export function checkIntRows(value: unknown, name: string, min: number, max: number, cols?: number): number[][] {
  checkArray(value, name);
  const rows = value as unknown[];
  for (let i = 0; i < rows.length; i++) {
    const row = checkArray(rows[i], `${name}[${i}]`);
    if (cols !== undefined) checkLength(row, cols, `${name}[${i}]`);
    for (let j = 0; j < row.length; j++) checkInt(row[j], `${name}[${i}][${j}]`, min, max);
  }
  return rows as number[][];
}

/** Throw unless `value` is one of `options` (strings, numbers); returns it. */
export function checkOneOf<T extends string | number | boolean>(value: unknown, name: string, options: readonly T[], code: ErrorCode = 'E_ARGUMENT'): T {
  if (!options.includes(value as T))
    fail(code, `${name} must be one of ${options.map((o) => showValue(o)).join(', ')}, got ${showValue(value)}`, { argument: name, value, allowed: options });
  return value as T;
}

/** Throw unless `value` is a string (non-empty unless `allowEmpty`); returns it. */
export function checkString(value: unknown, name: string, allowEmpty = false, code: ErrorCode = 'E_ARGUMENT'): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0))
    fail(code, `${name} must be a ${allowEmpty ? '' : 'non-empty '}string, got ${showValue(value)}`, { argument: name, value: describeType(value) });
  return value;
}

/**
 * Throw unless `value` has the shape of `template` (a default object): every number of the
 * template a finite number >= 0 in `value`, every string a string, objects and arrays recursively
 * (an array's elements against the template's first). Returns `value`. For parameter records
 * such as a compute model or model dimensions, checked against their defaults.
 */
export function checkLike<T>(value: unknown, template: T, name: string): T {
  if (typeof template === 'number') checkNumber(value, name, true);
  else if (typeof template === 'string') checkString(value, name, true);
  else if (typeof template === 'boolean') {
    if (typeof value !== 'boolean') fail('E_ARGUMENT', `${name} must be true or false, got ${showValue(value)}`, { argument: name, value });
  } else if (Array.isArray(template)) {
    const a = checkArray(value, name);
    if (template.length > 0) for (let i = 0; i < a.length; i++) checkLike(a[i], template[0], `${name}[${i}]`);
  } else if (typeof template === 'object' && template !== null) {
    const o = checkObject(value, name);
    for (const k of Object.keys(template)) checkLike(o[k], (template as Record<string, unknown>)[k], `${name}.${k}`);
  }
  return value as T;
}

/** Throw unless `value` is a function. */
export function checkFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') fail('E_ARGUMENT', `${name} must be a function, got ${showValue(value)}`, { argument: name, value: describeType(value) });
  return value as (...args: never[]) => unknown;
}

/** Throw unless `value` is undefined or a boolean. */
export function checkOptionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') fail('E_ARGUMENT', `${name} must be true or false, got ${showValue(value)}`, { argument: name, value });
  return value;
}

/** Share of V8's heap limit one call may plan to fill with JS arrays and objects (the estimates are of the main structures only). */
const HEAP_SHARE = 0.25;

/**
 * Before allocating: throw `E_LIMIT` when `bytes` is over what the host can hold. Typed arrays
 * live outside V8's heap and are checked against the host-memory limit (free memory, or
 * `EXPERTMESH_HOST_MEMORY_LIMIT`); JS arrays and objects (`inHeap`) against half of V8's heap
 * limit as well. `what` names the allocation, `lower` the inputs it grows with.
 */
export function checkAlloc(where: string, what: string, bytes: number, lower: string, inHeap = false): void {
  const host = hostMemoryLimit();
  let limit = host.bytes;
  let source = host.source;
  if (inHeap) {
    const heap = getHeapStatistics().heap_size_limit * HEAP_SHARE;
    if (heap < limit) {
      limit = heap;
      source = `${HEAP_SHARE * 100}% of the JS heap limit`;
    }
  }
  if (!(bytes <= limit))
    fail('E_LIMIT', `${where}: ${what} would take ${formatBytes(bytes)}, over the limit of ${formatBytes(limit)} (${source}); lower ${lower}`, {
      where, what, bytes, limitBytes: limit, limitSource: source, lower,
    });
}

/**
 * The most element operations one call may plan (a few minutes of single-threaded work at most):
 * a call over it would look hung, so it is refused up front like an allocation.
 */
export const MAX_WORK = 1e10;

/** Before a long loop: throw `E_LIMIT` when `operations` is over {@link MAX_WORK}. */
export function checkWork(where: string, operations: number, lower: string): void {
  if (!(operations <= MAX_WORK))
    fail('E_LIMIT', `${where}: about ${operations.toExponential(1)} operations, over the limit of ${MAX_WORK.toExponential(0)}; lower ${lower}`, {
      where, operations, limit: MAX_WORK, lower,
    });
}

/** What made each result the library hands out (plans, phases, run and benchmark results, reports). */
const made = new WeakMap<object, string>();

/** Mark `value` as a `kind` the library made (so {@link checkMade} accepts it); returns it. */
export function stamp<T extends object>(value: T, kind: string): T {
  made.set(value, kind);
  return value;
}

/**
 * Throw unless `value` is a `kind` the library made (`by` names the function that makes it). For
 * arguments that are the library's own results, whose insides are not user input.
 */
export function checkMade(value: unknown, name: string, kind: string, by: string): void {
  if (typeof value !== 'object' || value === null || made.get(value) !== kind)
    fail('E_ARGUMENT', `${name} must be ${kind} from ${by}, got ${showValue(value)}`, { argument: name, expected: kind });
}
