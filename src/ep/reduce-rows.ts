/**
 * @module
 * The combine reduction on registered memory: BF16 rows summed in FP32 (each addition rounded to
 * float32, as a GPU's FP32 accumulator does), written back as BF16 (round to nearest even).
 */
import { bf16FromF32Bits } from '../kernels/bf16.js';

/** A reusable FP32 accumulator for one row of `hidden` values. */
export class RowAccumulator {
  readonly acc: Float32Array;
  private readonly bits: Uint32Array;
  private readonly tmp = new Uint32Array(1);
  private readonly tmpF = new Float32Array(this.tmp.buffer);

  constructor(readonly hidden: number) {
    this.acc = new Float32Array(hidden);
    this.bits = new Uint32Array(this.acc.buffer);
  }

  reset(): void {
    this.acc.fill(0);
  }

  /** Add the BF16 row starting at byte `offset` of `u8` (2-byte aligned). */
  addBf16(u8: Uint8Array, offset: number): void {
    const src = new Uint16Array(u8.buffer, u8.byteOffset + offset, this.hidden);
    const acc = this.acc;
    const t = this.tmp;
    const f = this.tmpF;
    for (let i = 0; i < src.length; i++) {
      t[0] = src[i]! << 16;
      acc[i] = acc[i]! + f[0]!;
    }
  }

  /** Add float32 values (a bias row) starting at element `offset` of `f32`. */
  addF32(f32: Float32Array, offset: number): void {
    const acc = this.acc;
    for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + f32[offset + i]!;
  }

  /** Write the accumulator as BF16 at byte `offset` of `u8`. */
  writeBf16(u8: Uint8Array, offset: number): void {
    const dst = new Uint16Array(u8.buffer, u8.byteOffset + offset, this.hidden);
    const b = this.bits;
    for (let i = 0; i < dst.length; i++) dst[i] = bf16FromF32Bits(b[i]!);
  }
}
