/**
 * A wait on any of several counters: resumed when one of its conditions holds, with the first that
 * holds, whether the counter moved alone (a store) or with others (a put's data over several
 * counters), and in the order the engine's waiter lists give.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { ROUND, withCluster } from '../cluster/helpers.js';

/** Counters A (index 0) and B (index 1) of rank 0's 'ctr'; rank 1 writes both at once, or stores B. */
defineOp<{ put: boolean }>({
  name: 't.anyOfWake',
  *task(ctx: RankContext, a) {
    const ctr = ctx.region('ctr');
    if (ctx.rank === 1) {
      if (!a.put) return;
      const src = ctx.region('src');
      src.i32[0] = 0; // A: unchanged
      src.i32[1] = 1; // B
      ctx.put(ctx.peerRegion(0, 'ctr'), 0, src, 0, 8);
      return;
    }
    const log: Array<[string, number, number]> = [];
    // W waits for B first (its list: [W]), then any-of takes its place behind it in B's list and
    // is first in A's.
    const w = ctx.spawn('W', (function* () {
      const v: number = yield ctx.untilAtLeast(ctr, 1, 1);
      log.push(['W', ctx.now, v]);
    })());
    const any = ctx.spawn('any', (function* () {
      yield ctx.sleep(0.5);
      const v: number = yield ctx.untilAny([ctx.atLeast(ctr, 0, 5), ctx.atLeast(ctr, 1, 1)]);
      log.push(['any', ctx.now, v]);
    })());
    if (!a.put) {
      yield ctx.sleep(3);
      ctx.store(ctr, 1, 1);
    }
    yield ctx.join([w, any]);
    ctx.setResult(log);
  },
});

describe('a wait on any of several counters', () => {
  it('a store to one of them resumes it with that condition, after the counter\'s earlier waiter', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
      for (let r = 0; r < 2; r++) { c.register(r, 'ctr', 8); c.register(r, 'src', 8); }
      const r = await c.run<Array<[string, number, number]>>('t.anyOfWake', { put: false });
      expect(r.results[0]).toEqual([['W', 3, 1], ['any', 3, 1]]);
    });
  });

  it('a put over both resumes it from the first counter written, before the second\'s waiter', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 2, hardware: ROUND }, async (c) => {
      for (let r = 0; r < 2; r++) { c.register(r, 'ctr', 8); c.register(r, 'src', 8); }
      const r = await c.run<Array<[string, number, number]>>('t.anyOfWake', { put: true });
      // 8 bytes over NVLink (1 us latency, 1e5 B/us): they land at 1.00008 us. Counter A is
      // re-checked first and its waiter holds through B: it is resumed before B's own waiter.
      const log = r.results[0]!;
      expect(log.map(([who, , v]) => [who, v])).toEqual([['any', 1], ['W', 1]]);
      expect(log[0]![1]).toBeCloseTo(1.00008, 9);
      expect(log[1]![1]).toBe(log[0]![1]);
    });
  });
});
