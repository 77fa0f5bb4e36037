/**
 * What a host hands to the main thread after an operation (the timeline's chunks and order, the
 * samples and activities) lies on SharedArrayBuffers: posted as is, neither copied nor moved. A
 * transfer list would detach the buffers in the host, and V8's first detach in a thread throws
 * away every optimized function there that touches a typed array (see host-worker.ts).
 */
import { describe, expect, it } from 'vitest';
import { ActivityLog, SampleLog, TimelineLog } from '../../../src/sim/timeline.js';

describe("a host's parts", () => {
  it('lie on shared memory', () => {
    const t = new TimelineLog();
    t.record(1, 0, 0, 0, 0, 64, 0, 0.5, 1, 1.5, 2, 2.5);
    t.record(0, 1, 0, 0, 0, 64, 0, 0.5, 1, 1.5, 2, 2.5);
    const part = t.take(2);
    expect(part.order.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(part.order)).toEqual([1, 0]);
    for (const c of part.chunks) expect(c).toBeInstanceOf(SharedArrayBuffer);
    const s = new SampleLog();
    s.recordAt({ now: 0.5 }, 3, 1, 2);
    const sp = s.take();
    expect(sp.log.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(sp.log)).toEqual([0.5, 3, 1, 2]);
    const a = new ActivityLog();
    a.record(1, 2, 3, 4, 5);
    expect(a.take().log.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
