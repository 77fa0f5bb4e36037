import { describe, expect, it } from 'vitest';
import { createSyncBuffers, defaultRingBytes, PeerDeadline, ringIndex, SyncBlock, windowBounds } from '../../../src/actors/window-sync.js';
import { LinkModel } from '../../../src/transport/links.js';
import { ROUND } from '../cluster/helpers.js';

const I = Infinity;
function bounds(next: number[], lookahead: number[]): number[] {
  const W = next.length;
  const out = new Float64Array(W);
  windowBounds(next, lookahead, W, new Float64Array(W), out);
  return [...out];
}

describe('window bounds from the model', () => {
  it('two workers 2 us apart: the one behind runs to the other side + 2 us; the one ahead may run one more hop', () => {
    // E0 = 0, E1 = min(10, 0 + 2) = 2: worker 0 may run to E1 + 2 = 4, worker 1 to E0 + 2 = 2.
    expect(bounds([0, 10], [I, 2, 2, I])).toEqual([4, 2]);
    // A worker with no events can still be woken (at 2) and answer (at 4).
    expect(bounds([0, I], [I, 2, 2, I])).toEqual([4, 2]);
    expect(bounds([I, I], [I, 2, 2, I])).toEqual([I, I]);
  });

  it('two busy workers run in step, not in turn: the one ahead is held to the earliest time due + one hop', () => {
    // Uncapped, worker 0 would run to E1 + 2 = 4 while worker 1 (bound E0 + 2 = 2) has nothing
    // before its bound; the next round the roles swap, and so on: one worker busy per window.
    expect(bounds([0, 2], [I, 2, 2, I])).toEqual([2, 2]);
    expect(bounds([0, 1], [I, 2, 2, I])).toEqual([2, 2]);
    expect(bounds([5, 5], [I, 2, 2, I])).toEqual([7, 7]);
    // A peer's events at or past the longer bound do not hold it back (see the case above: [4, 2]).
    expect(bounds([0, 4], [I, 2, 2, I])).toEqual([4, 2]);
    // Three workers: 0 and 1 busy, held to the earliest (0) + the cheapest hop (1); worker 2 has
    // nothing before its bound (2), so nothing to hold back.
    expect(bounds([0, 1, 2], [I, 1, 5, 1, I, 1, 5, 1, I])).toEqual([1, 1, 2]);
  });

  it('three workers: effects travel through the cheaper route (0 -> 1 -> 2 beats 0 -> 2)', () => {
    // lookahead[p][w]: 0<->1 1 us, 1<->2 1 us, 0<->2 5 us.
    const L = [I, 1, 5, 1, I, 1, 5, 1, I];
    // E = [0, 1, 2]; bounds: w0 = min(E1+1, E2+5) = 2, w1 = min(E0+1, E2+1) = 1, w2 = min(E0+5, E1+1) = 2.
    expect(bounds([0, I, I], L)).toEqual([2, 1, 2]);
  });

  it('the lookahead matrix: IB between workers holding whole nodes, NVLink where a node is split', () => {
    const links = new LinkModel(ROUND, 4);
    // 2 nodes x 4 GPUs on 2 workers: a node each, so only IB (2 us) links them.
    expect([...links.lookaheadMatrix([0, 0, 0, 0, 1, 1, 1, 1], 2)]).toEqual([I, 2, 2, I]);
    // 1 node on 2 workers: NVLink (1 us).
    expect([...new LinkModel(ROUND, 8).lookaheadMatrix([0, 0, 0, 0, 1, 1, 1, 1], 2)]).toEqual([I, 1, 1, I]);
  });
});

describe('shared block and rings', () => {
  it('rings: 4 MiB each for 2 or 4 workers, smaller with more, never under two maximal frames', () => {
    expect([2, 4, 8, 64].map(defaultRingBytes)).toEqual([4 << 20, 2 << 20, 512 << 10, 512 << 10]);
  });

  it('one ring per ordered pair, each in its own slice', () => {
    const W = 4;
    const seen = new Set<number>();
    for (let a = 0; a < W; a++) for (let b = 0; b < W; b++) if (a !== b) seen.add(ringIndex(a, b, W));
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('a barrier of one passes at once; an aborted block makes waiters return false; a missing host times out naming it', () => {
    const one = new SyncBlock(createSyncBuffers(1, Float64Array.of(I)));
    expect(one.arrive(0, 10, () => false, () => '0')).toBe(true);
    const two = new SyncBlock(createSyncBuffers(2, Float64Array.of(I, 2, 2, I), 4096));
    two.setAbort(1);
    expect(two.arrive(0, 1000, () => false, () => '0-3')).toBe(false);
    two.resetForRun();
    const t0 = performance.now();
    expect(() => two.arrive(0, 30, () => false, (w) => (w === 1 ? '4-7' : '0-3'))).toThrow(/host worker 0 waited 30 ms at a window barrier for host worker 1 \(ranks 4-7\)/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('progress and the waiting flag (progress-based deadlines, ring room)', () => {
  it('a reader wakes a writer only while it is flagged waiting for room; a new run clears the flag', () => {
    const s = new SyncBlock(createSyncBuffers(2, Float64Array.of(I, 2, 2, I)));
    s.wakeIfWaiting(1);
    expect(s.doorbell(1)).toBe(0);
    s.setWaiting(1, 1);
    s.wakeIfWaiting(1);
    expect([s.doorbell(0), s.doorbell(1)]).toEqual([0, 1]);
    s.resetForRun();
    s.wakeIfWaiting(1);
    expect(s.doorbell(1)).toBe(1);
  });

  it('progress moves only with advance (not with the heartbeat); totalProgress sums the other hosts', () => {
    const s = new SyncBlock(createSyncBuffers(3, new Float64Array(9).fill(2)));
    s.beat(1);
    expect(s.progress(1)).toBe(0);
    s.advance(1);
    s.advance(2);
    s.advance(2);
    expect([s.progress(0), s.progress(1), s.progress(2)]).toEqual([0, 1, 2]);
    expect(s.totalProgress(0)).toBe(3);
    expect(s.totalProgress(2)).toBe(1);
  });

  it("a waiter's deadline restarts when the host it waits for progresses, and stays open while that host is busy with its window", () => {
    const s = new SyncBlock(createSyncBuffers(3, new Float64Array(9).fill(2)));
    // Host 0 waits for host 1 (ring room), from t = 0 with a 100 ms limit.
    const d = new PeerDeadline(s, 0, 1, 100, 0);
    expect(d.left(40)).toBe(60);
    s.advance(1);
    expect(d.left(50)).toBe(100); // restarted at 50
    s.advance(2); // another host's progress is not the reader's
    s.beat(1); // nor is the reader's heartbeat
    expect(d.left(150)).toBe(0);
    // Busy in one long event: no progress counted, yet the deadline stays open (the main thread's
    // watchdog judges a host that never returns).
    s.setBusy(1, 1);
    expect(d.left(400)).toBe(100);
    expect(d.left(900)).toBe(100);
    s.setBusy(1, 0);
    expect(d.left(950)).toBe(50);
    expect(d.left(1000)).toBe(0);
    // The other sign of progress (the ring's freed bytes): a move restarts the deadline.
    expect(d.left(1010, 64)).toBe(100);
    expect(d.left(1110, 64)).toBe(0);
    // A new run clears the busy flags.
    s.setBusy(1, 1);
    s.resetForRun();
    expect(s.busy(1)).toBe(false);
  });

  it('at a barrier (peer -1) the deadline watches every other host: any progress or any busy host keeps it open', () => {
    const s = new SyncBlock(createSyncBuffers(3, new Float64Array(9).fill(2)));
    const d = new PeerDeadline(s, 0, -1, 100, 0);
    s.advance(2);
    expect(d.left(80)).toBe(100);
    s.setBusy(0, 1); // its own flag does not count
    expect(d.left(180)).toBe(0);
    s.setBusy(1, 1);
    expect(d.left(500)).toBe(100);
    expect(s.othersBusy(1)).toBe(true); // host 0 is flagged
    expect(s.othersBusy(0)).toBe(true);
    s.setBusy(0, 0);
    expect(s.othersBusy(1)).toBe(false);
  });

  it('an injected slowness is taken once, by its host only', () => {
    const s = new SyncBlock(createSyncBuffers(2, Float64Array.of(I, 2, 2, I)));
    s.injectSlow(1, -300);
    expect(s.takeSlow(0)).toBe(0);
    expect(s.takeSlow(1)).toBe(-300);
    expect(s.takeSlow(1)).toBe(0);
  });
});
