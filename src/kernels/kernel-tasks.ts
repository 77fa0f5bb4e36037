/**
 * @module
 * The kernel pool's task protocol and its pure executor (runs in-process in tests and inside the pool's
 * workers). Errors come back as data (`{ ok: false, error: WireError }`) because an error thrown in a
 * piscina worker loses its code and data on the way.
 */
import { toWireError, type WireError } from '../errors.js';
import { f32Gemm, fp8Gemm, type GemmOptions } from './gemm.js';
import { quantizePerBlock, quantizePerTile, tileToColumnQuant, type Quantized, type QuantizeOptions } from './quantize.js';
import { fail } from '../errors.js';
import { showValue } from '../errors.js';
import { checkInt, checkObject, checkTypedArray } from '../validate.js';

/** One heavy kernel call, as sent to a pool worker. */
export type KernelTask =
  | { op: 'fp8Gemm'; aQ: Uint8Array; aScales: Float32Array; bQ: Uint8Array; bScales: Float32Array; m: number; n: number; k: number; opts?: GemmOptions }
  | { op: 'f32Gemm'; a: Float32Array; b: Float32Array; m: number; n: number; k: number; opts?: GemmOptions }
  | { op: 'quantizePerTile'; x: Float32Array; m: number; n: number; opts?: QuantizeOptions }
  | { op: 'quantizePerBlock'; w: Float32Array; m: number; n: number; opts?: QuantizeOptions }
  | { op: 'tileToColumnQuant'; q: Uint8Array; scales: Float32Array; m: number; n: number; opts?: QuantizeOptions };

/** What a kernel task returns. */
export type KernelValue = Float32Array | Quantized;

/** A task's outcome: the value, or the error as plain data. */
export type KernelResult = { ok: true; value: KernelValue } | { ok: false; error: WireError };

/**
 * Run a task in this thread (never throws).
 * @example runKernelTask({ op: 'f32Gemm', a, b, m, n, k }) // { ok: true, value: Float32Array }
 */
export function runKernelTask(task: KernelTask): KernelResult {
  try {
    return { ok: true, value: execute(task) };
  } catch (e) {
    return { ok: false, error: toWireError(e) };
  }
}

function execute(t: KernelTask): KernelValue {
  switch (t.op) {
    case 'fp8Gemm':
      return fp8Gemm(t.aQ, t.aScales, t.bQ, t.bScales, t.m, t.n, t.k, t.opts);
    case 'f32Gemm':
      return f32Gemm(t.a, t.b, t.m, t.n, t.k, t.opts);
    case 'quantizePerTile':
      return quantizePerTile(t.x, t.m, t.n, t.opts);
    case 'quantizePerBlock':
      return quantizePerBlock(t.w, t.m, t.n, t.opts);
    case 'tileToColumnQuant':
      return tileToColumnQuant(t.q, t.scales, t.m, t.n, t.opts);
    default:
      return fail('E_ARGUMENT', `unknown kernel op '${String((t as { op?: unknown }).op)}'`, { argument: 'op', value: (t as { op?: unknown }).op });
  }
}

/**
 * Check a task's operands and sizes before it is sent to a pool thread (where a wrong type would
 * surface as an uncoded clone error): operands of the right typed-array kind and length, sizes,
 * options of plain values. @internal
 */
export function checkTask(t: KernelTask): void {
  checkObject(t, 'task');
  const dims = (...names: Array<'m' | 'n' | 'k'>) => names.map((d) => checkInt((t as unknown as Record<string, unknown>)[d], d, 1));
  switch (t.op) {
    case 'fp8Gemm': {
      const [m, n, k] = dims('m', 'n', 'k');
      checkTypedArray(t.aQ, 'aQ', Uint8Array, m! * k!);
      checkTypedArray(t.aScales, 'aScales', Float32Array);
      checkTypedArray(t.bQ, 'bQ', Uint8Array, n! * k!);
      checkTypedArray(t.bScales, 'bScales', Float32Array);
      break;
    }
    case 'f32Gemm': {
      const [m, n, k] = dims('m', 'n', 'k');
      checkTypedArray(t.a, 'a', Float32Array, m! * k!);
      checkTypedArray(t.b, 'b', Float32Array, n! * k!);
      break;
    }
    case 'quantizePerTile':
    case 'quantizePerBlock': {
      const [m, n] = dims('m', 'n');
      checkTypedArray(t.op === 'quantizePerTile' ? t.x : t.w, t.op === 'quantizePerTile' ? 'x' : 'w', Float32Array, m! * n!);
      break;
    }
    case 'tileToColumnQuant': {
      const [m, n] = dims('m', 'n');
      checkTypedArray(t.q, 'q', Uint8Array, m! * n!);
      checkTypedArray(t.scales, 'scales', Float32Array);
      break;
    }
    default:
      fail('E_ARGUMENT', `unknown kernel op ${showValue((t as { op?: unknown }).op)}`, { argument: 'op' });
  }
  if (t.opts !== undefined) {
    const o = checkObject(t.opts, 'opts');
    for (const [k, v] of Object.entries(o))
      if (v !== undefined && typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean')
        fail('E_ARGUMENT', `opts.${k} must be a number, string or boolean, got ${showValue(v)}`, { argument: `opts.${k}` });
  }
}

/** The typed arrays a task carries (for the transfer list). */
export function taskOperands(t: KernelTask): ArrayBufferView[] {
  switch (t.op) {
    case 'fp8Gemm':
      return [t.aQ, t.aScales, t.bQ, t.bScales];
    case 'f32Gemm':
      return [t.a, t.b];
    case 'quantizePerTile':
      return [t.x];
    case 'quantizePerBlock':
      return [t.w];
    case 'tileToColumnQuant':
      return [t.q, t.scales];
    default:
      return [];
  }
}

/**
 * The distinct non-shared ArrayBuffers behind `views` (SharedArrayBuffers are shared, not transferred).
 * @example transferList([a, a.subarray(4)]) // [a.buffer] once
 */
export function transferList(views: readonly unknown[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views)
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
  return [...out];
}

/** The typed arrays of a result (to transfer back). */
export function resultOperands(r: KernelResult): ArrayBufferView[] {
  if (!r.ok) return [];
  return r.value instanceof Float32Array ? [r.value] : [r.value.q, r.value.scales];
}
