import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/transport/packet-ring.js';
import { RING_HEADER_BYTES } from '../../../src/transport/protocol.js';
import { expectError } from '../cluster/helpers.js';

const frame = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i) & 255);

function ring(dataBytes = 256) {
  const buf = new SharedArrayBuffer(PacketRing.byteLength(dataBytes));
  // Two views of one buffer, as the writer's and the reader's threads have.
  return { w: new PacketRing(buf, 0, dataBytes), r: new PacketRing(buf, 0, dataBytes), buf };
}

describe('PacketRing', () => {
  it('frames come out in order and intact across many wrap-arounds', () => {
    const { w, r } = ring(256);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 200; round++) {
      // Write 1-3 frames of 1..100 bytes, then read some back.
      for (let k = 0; k < 1 + (round % 3); k++) {
        const f = frame(1 + ((round * 7 + k * 13) % 100), next);
        if (!w.tryWrite(f)) break;
        next++;
      }
      for (let f = r.peek(); f !== null && (round % 2 === 0 || expected < next - 1); f = r.peek()) {
        expect(f[0]).toBe((expected * 31) & 255);
        expect(f).toEqual(frame(f.length, expected));
        r.release();
        expected++;
      }
    }
    for (let f = r.peek(); f !== null; f = r.peek()) { expect(f).toEqual(frame(f.length, expected)); r.release(); expected++; }
    expect(expected).toBe(next);
    expect(next).toBeGreaterThan(100); // far more bytes than the ring holds: it wrapped many times
  });

  it('a full ring refuses the frame (back pressure) and takes it once the reader frees room', () => {
    const { w, r } = ring(256);
    // 3 frames of 72 B (+8 header) = 240 of 256 bytes.
    for (let i = 0; i < 3; i++) expect(w.tryWrite(frame(72, i))).toBe(true);
    expect(w.tryWrite(frame(72, 3))).toBe(false);
    expect(w.usedBytes).toBe(240);
    expect(r.peek()).toEqual(frame(72, 0));
    r.release();
    // The fourth frame does not fit before the end (16 B left): it wraps to offset 0.
    expect(w.tryWrite(frame(72, 3))).toBe(true);
    for (let i = 1; i <= 3; i++) {
      expect(r.peek()).toEqual(frame(72, i));
      r.release();
    }
    expect(r.peek()).toBeNull();
    expect(w.usedBytes).toBe(0);
  });

  it('in place: a reserved frame is written into the ring, seen only once committed, and read where it lies (wrapping too)', () => {
    const { w, r } = ring(256);
    for (let i = 0; i < 3; i++) {
      const at = w.reserve(72);
      expect(at).toBe(i * 80 + 8); // after the frame's 8-byte header
      w.data.set(frame(72, i), at);
      expect(r.next()).toBe(i === 0 ? -1 : 8); // not before commit (then the first is there, unreleased)
      w.commit();
    }
    expect(w.reserve(72)).toBe(-1); // full: nothing reserved
    expect(w.usedBytes).toBe(240);
    expect(r.next()).toBe(8);
    expect(r.frameLength).toBe(72);
    expect(r.data.subarray(8, 80)).toEqual(frame(72, 0));
    r.release();
    // 16 B left before the end: the next frame wraps to offset 0.
    const at = w.reserve(40);
    expect(at).toBe(8);
    w.data.set(frame(40, 3), at);
    w.commit();
    for (let i = 1; i <= 3; i++) {
      const f = r.next();
      expect(r.data.subarray(f, f + r.frameLength)).toEqual(frame(i === 3 ? 40 : 72, i));
      r.release();
    }
    expect(r.next()).toBe(-1);
    expect(() => w.reserve(121)).toThrow(RangeError);
  });

  it('a frame over half the ring is refused outright; a corrupt length is rejected with E_PACKET', () => {
    const { w, r, buf } = ring(256);
    expect(() => w.tryWrite(new Uint8Array(121))).toThrow(RangeError);
    expect(w.tryWrite(frame(8, 0))).toBe(true);
    new Int32Array(buf, RING_HEADER_BYTES, 1)[0] = 9999;
    expectError(() => r.peek(), 'E_PACKET', 'frame length 9999');
    // A failed run's frames, the corrupt one included, are discarded unread; the ring works on.
    expect(r.discardAll()).toBe(true);
    expect(w.usedBytes).toBe(0);
    expect(r.peek()).toBeNull();
    expect(r.discardAll()).toBe(false);
    expect(w.tryWrite(frame(8, 1))).toBe(true);
    expect(r.peek()).toEqual(frame(8, 1));
  });

  it('property: any sequence of writes and reads delivers exactly the accepted frames, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 120 }), fc.constant(-1)), { maxLength: 300 }), (ops) => {
        const { w, r } = ring(256);
        const queue: Uint8Array[] = [];
        let seed = 0;
        for (const op of ops) {
          if (op >= 0) {
            const f = frame(op, seed++);
            if (w.tryWrite(f)) queue.push(f);
            else expect(w.usedBytes + 8 + ((op + 7) & ~7)).toBeGreaterThan(256 - 128); // refused only when near full
          } else {
            const f = r.peek();
            if (queue.length === 0) expect(f).toBeNull();
            else { expect(f).toEqual(queue.shift()); r.release(); }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
