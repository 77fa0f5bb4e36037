/**
 * @module
 * Token records as DeepEP's normal kernels lay them out in their buffers: the row (BF16, or FP8
 * plus one float32 scale per 128 values), 8 bytes of source metadata (source rank and token index),
 * the top-k expert ids (int32) and weights (float32), aligned to 16 bytes. At hidden 7168 and
 * top-8 that is 7,472 B for FP8 and 14,416 B for BF16, as on the reference page.
 */
import { checkInt, checkOneOf } from '../validate.js';

/** Payload formats of dispatch. */
export type DispatchDtype = 'bf16' | 'fp8';

export interface RecordLayout {
  hidden: number;
  topk: number;
  dtype: DispatchDtype;
  /** Bytes of the row itself (BF16: 2 * hidden; FP8: hidden). */
  dataBytes: number;
  /** Bytes of the FP8 scales (0 for BF16). */
  scaleBytes: number;
  scaleOffset: number;
  /** Offset of [sourceRank, sourceToken] int32s. */
  metaOffset: number;
  /** Offset of topk int32 expert ids. */
  idxOffset: number;
  /** Offset of topk float32 weights. */
  weightOffset: number;
  /** Whole record, aligned to 16. */
  bytes: number;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

export function dispatchRecordLayout(hidden: number, topk: number, dtype: DispatchDtype): RecordLayout {
  checkInt(hidden, 'hidden', 1);
  checkInt(topk, 'topk', 1);
  checkOneOf(dtype, 'dtype', ['fp8', 'bf16'] as const);
  const dataBytes = dtype === 'bf16' ? hidden * 2 : hidden;
  const scaleBytes = dtype === 'fp8' ? (hidden / 128) * 4 : 0;
  const scaleOffset = dataBytes;
  const metaOffset = dataBytes + scaleBytes;
  const idxOffset = metaOffset + 8;
  const weightOffset = idxOffset + topk * 4;
  return { hidden, topk, dtype, dataBytes, scaleBytes, scaleOffset, metaOffset, idxOffset, weightOffset, bytes: align16(weightOffset + topk * 4) };
}

/** Combine records: one BF16 row, aligned to 16. */
export function combineRecordBytes(hidden: number): number {
  checkInt(hidden, 'hidden', 1);
  return align16(hidden * 2);
}

/**
 * Bytes per token row as DeepEP's benchmark counts bandwidth: FP8 `hidden * (1 + 4/128)`, BF16
 * `hidden * 2` (combine is always BF16).
 */
export function benchmarkRowBytes(hidden: number, dtype: DispatchDtype): number {
  checkInt(hidden, 'hidden', 1);
  checkOneOf(dtype, 'dtype', ['fp8', 'bf16'] as const);
  return dtype === 'fp8' ? hidden * (1 + 4 / 128) : hidden * 2;
}
