/**
 * @module
 * Packing the caller's tensors into registered records and unpacking what arrived, on the main
 * thread (outside virtual time): the kernels move whole records, as DeepEP's do.
 */
import { fail } from '../errors.js';
import type { Region } from '../transport/memory.js';
import type { RecordLayout } from './records.js';

/** A rank's dispatch payload: BF16 bits, or FP8 bytes plus one float32 scale per 128 values. */
export type DispatchX = Uint16Array | { q: Uint8Array; scales: Float32Array };

/** Write token records (row, scales, source meta, top-k ids and weights) into `region`. */
export function packRecords(
  region: Region, L: RecordLayout, rank: number, T: number, x: DispatchX | undefined, topkIdx: Int32Array,
  weights: ArrayLike<number> | undefined, where: string,
): void {
  const u8 = region.u8;
  const dv = new DataView(region.buffer);
  const H = L.hidden;
  if (x !== undefined) {
    if (L.dtype === 'bf16') {
      if (!(x instanceof Uint16Array) || x.length !== T * H)
        fail('E_ARGUMENT', `${where}: x[${rank}] must be a Uint16Array of BF16 bits with ${T} x ${H} = ${T * H} values, got ${describe(x)}`, { argument: `x[${rank}]`, rank });
      const src = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      for (let t = 0; t < T; t++) u8.set(src.subarray(t * H * 2, (t + 1) * H * 2), t * L.bytes);
    } else {
      if (x instanceof Uint16Array || !(x.q instanceof Uint8Array) || !(x.scales instanceof Float32Array) || x.q.length !== T * H || x.scales.length !== (T * H) / 128)
        fail('E_ARGUMENT', `${where}: x[${rank}] must be { q: Uint8Array(${T * H}), scales: Float32Array(${(T * H) / 128}) } for FP8`, { argument: `x[${rank}]`, rank });
      const sc = new Uint8Array(x.scales.buffer, x.scales.byteOffset, x.scales.byteLength);
      const sb = (H / 128) * 4;
      for (let t = 0; t < T; t++) {
        u8.set(x.q.subarray(t * H, (t + 1) * H), t * L.bytes);
        u8.set(sc.subarray(t * sb, (t + 1) * sb), t * L.bytes + L.scaleOffset);
      }
    }
  }
  for (let t = 0; t < T; t++) {
    const o = t * L.bytes;
    dv.setInt32(o + L.metaOffset, rank, true);
    dv.setInt32(o + L.metaOffset + 4, t, true);
    for (let j = 0; j < L.topk; j++) {
      dv.setInt32(o + L.idxOffset + j * 4, topkIdx[t * L.topk + j]!, true);
      dv.setFloat32(o + L.weightOffset + j * 4, weights ? weights[t * L.topk + j]! : 0, true);
    }
  }
}

function describe(x: unknown): string {
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as Uint8Array).length})`;
  return typeof x;
}

/** What one rank received in a dispatch, in DeepEP's terms. */
export interface ReceivedTokens {
  /** BF16 rows [rows][hidden], or FP8 bytes and scales. */
  recvX: DispatchX;
  /** [rows][topk] local expert ids (global id minus the rank's first expert), -1 where not local. */
  recvTopkIdx: Int32Array;
  /** [rows][topk] weights, 0 where not local. */
  recvTopkWeights: Float32Array;
  /** [rows][2] source rank and source token index of every row. */
  recvSrc: Int32Array;
}

/** Unpack `rows` records of rank `rank`, rewriting expert ids to local ones. */
export function unpackRecords(region: Region, L: RecordLayout, rows: number, rank: number, expertsPerRank: number): ReceivedTokens {
  const H = L.hidden;
  const u8 = region.u8;
  const dv = new DataView(region.buffer);
  const first = rank * expertsPerRank;
  const recvTopkIdx = new Int32Array(rows * L.topk);
  const recvTopkWeights = new Float32Array(rows * L.topk);
  const recvSrc = new Int32Array(rows * 2);
  let recvX: DispatchX;
  if (L.dtype === 'bf16') {
    const x = new Uint16Array(rows * H);
    const xb = new Uint8Array(x.buffer);
    for (let i = 0; i < rows; i++) xb.set(u8.subarray(i * L.bytes, i * L.bytes + H * 2), i * H * 2);
    recvX = x;
  } else {
    const q = new Uint8Array(rows * H);
    const scales = new Float32Array((rows * H) / 128);
    const sb = new Uint8Array(scales.buffer);
    const sw = (H / 128) * 4;
    for (let i = 0; i < rows; i++) {
      q.set(u8.subarray(i * L.bytes, i * L.bytes + H), i * H);
      sb.set(u8.subarray(i * L.bytes + L.scaleOffset, i * L.bytes + L.scaleOffset + sw), i * sw);
    }
    recvX = { q, scales };
  }
  for (let i = 0; i < rows; i++) {
    const o = i * L.bytes;
    recvSrc[i * 2] = dv.getInt32(o + L.metaOffset, true);
    recvSrc[i * 2 + 1] = dv.getInt32(o + L.metaOffset + 4, true);
    for (let j = 0; j < L.topk; j++) {
      const e = dv.getInt32(o + L.idxOffset + j * 4, true) - first;
      const local = e >= 0 && e < expertsPerRank;
      recvTopkIdx[i * L.topk + j] = local ? e : -1;
      recvTopkWeights[i * L.topk + j] = local ? dv.getFloat32(o + L.weightOffset + j * 4, true) : 0;
    }
  }
  return { recvX, recvTopkIdx, recvTopkWeights, recvSrc };
}
