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

/** Fill `out` with the bytes of pair (src, dst) under `seed` (xorshift32 stream). */
export function fillPairBytes(out: Uint8Array, seed: number, src: number, dst: number): void {
  let s = mix32(mix32(seed ^ 0x9e3779b9) ^ Math.imul(src + 1, 0x27d4eb2d) ^ Math.imul(dst + 1, 0x165667b1)) || 1;
  const words = out.length >> 2;
  const aligned = (out.byteOffset & 3) === 0;
  if (aligned && words > 0) {
    const w = new Uint32Array(out.buffer, out.byteOffset, words);
    for (let i = 0; i < words; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      w[i] = s;
    }
  } else {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < words; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      dv.setUint32(i * 4, s >>> 0, true);
    }
  }
  for (let i = words * 4; i < out.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = s & 255;
  }
}
