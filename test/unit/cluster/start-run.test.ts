/**
 * An operation whose start fails on one host (a rank's prepare, a failed rank) leaves nothing
 * behind: the caller gets the start's own error, and the hosts that did start it drop its tasks,
 * which the next operation would otherwise run. In-process hosts with two workers follow the same
 * protocol as worker threads.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import { createCluster } from '../../../src/cluster/cluster.js';
import { fail } from '../../../src/errors.js';
import { expectReject, ROUND } from './helpers.js';

const MARK = 'test.start.mark';

/** Every rank's task adds 1 to its own mark; rank `failRank`'s prepare refuses to start. */
defineOp<{ failRank: number }>({
  name: 'test.start.marks',
  prepare(ctx, a) {
    if (ctx.rank === a.failRank) fail('E_ARGUMENT', `rank ${ctx.rank} refuses to start`, { rank: ctx.rank });
  },
  *task(ctx) {
    yield ctx.sleep(1);
    ctx.addLocal(ctx.region(MARK), 0, 1);
  },
});

describe('a failed start', () => {
  it('fails on one host: its error, no task run, the ranks that started it dropped back to idle', async () => {
    // Ranks 0-1 on host 0, ranks 2-3 on host 1.
    const c = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: ROUND, workers: 2, transport: 'in-process' });
    try {
      for (let r = 0; r < 4; r++) c.register(r, MARK, 4);
      const marks = () => [0, 1, 2, 3].map((r) => Atomics.load(c.region(r, MARK).i32, 0));
      await expectReject(c.run('test.start.marks', { failRank: 3 }), 'E_ARGUMENT', 'rank 3 refuses to start');
      // Ranks 0-2 started their tasks; none ran, and they were dropped (the ranks are idle again,
      // not busy with the failed operation).
      expect(marks()).toEqual([0, 0, 0, 0]);
      expect(c.snapshot(3).value).toBe('failed');
      for (const r of [0, 1, 2]) expect(c.snapshot(r).value).toBe('idle');
      // Rank 3 stays failed: the next start fails on its host, and again no task runs.
      await expectReject(c.run('test.start.marks', { failRank: -1 }), 'E_TASK', 'rank 3 has failed');
      expect(marks()).toEqual([0, 0, 0, 0]);
    } finally {
      await c.close();
    }
  });

  it('after a start that fails on every host, the next run adds each mark exactly once', async () => {
    const c = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: ROUND, workers: 2, transport: 'in-process' });
    try {
      for (let r = 0; r < 4; r++) c.register(r, MARK, 4);
      const marks = () => [0, 1, 2, 3].map((r) => Atomics.load(c.region(r, MARK).i32, 0));
      await expectReject(c.run('no.such.op', null), 'E_ARGUMENT', "unknown operation 'no.such.op'");
      const ok = await c.run('test.start.marks', { failRank: -1 });
      expect(marks()).toEqual([1, 1, 1, 1]);
      // Per run: the start and the run to each of the 2 hosts, and their replies.
      expect(ok.mainThreadMessages).toBe(8);
      expect(ok.timeUs).toBe(1);
    } finally {
      await c.close();
    }
  });
});
