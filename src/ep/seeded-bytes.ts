/**
 * @module
 * Deterministic pseudo-random payloads: the bytes rank `src` sends to rank `dst` under a seed, so
 * any thread can regenerate and check them without them ever crossing a thread.
 */

/** 32-bit mix (murmur3 finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Fill `out` with the bytes of pair (src, dst) under `seed` (xorshift32 stream).
 * The loops live in functions of their own: in one function, the code optimised while the word
 * loop ran (on-stack replacement) met the tail loop without type feedback and was thrown away at
 * every call (hundreds of deoptimisations per allToAll fill and verify), and the recompilations ran
 * on the compiler's background threads during whatever came next, the timed exchange included.
 */
export function fillPairBytes(out: Uint8Array, seed: number, src: number, dst: number): void {
  const s = mix32(mix32(seed ^ 0x9e3779b9) ^ Math.imul(src + 1, 0x27d4eb2d) ^ Math.imul(dst + 1, 0x165667b1)) || 1;
  const words = out.length >> 2;
  if (words === 0) fillTail(out, 0, s);
  else if ((out.byteOffset & 3) === 0) fillTail(out, words * 4, fillWords(new Uint32Array(out.buffer, out.byteOffset, words), s));
  else fillTail(out, words * 4, fillWordsUnaligned(new DataView(out.buffer, out.byteOffset, out.byteLength), words, s));
}

/** The stream's next `w.length` words into `w`; returns the stream's state. */
function fillWords(w: Uint32Array, s: number): number {
  for (let i = 0; i < w.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    w[i] = s;
  }
  return s;
}

/** As {@link fillWords}, little-endian through a DataView (unaligned views). */
function fillWordsUnaligned(dv: DataView, words: number, s: number): number {
  for (let i = 0; i < words; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    dv.setUint32(i * 4, s >>> 0, true);
  }
  return s;
}

/** The stream's low bytes into `out` from byte `from` to its end. */
function fillTail(out: Uint8Array, from: number, s: number): void {
  for (let i = from; i < out.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = s & 255;
  }
}
