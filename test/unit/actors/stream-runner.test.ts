import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import type { StreamsRunArgs, StreamsRunResult } from '../../../src/actors/stream-runner.js';
import type { RankSnapshot } from '../../../src/actors/gpu-machine.js';
import '../../../src/ops.js';
import { expectReject, withCluster } from '../cluster/helpers.js';

// A communication-like kernel: writes its rank into its scoped region, then works 7 us.
defineOp<null>({
  name: 'test.streams.touch',
  prepare(ctx) {
    ctx.region('touch').i32[0] = 100 + ctx.rank;
  },
  *task(ctx) {
    yield ctx.sleep(7);
  },
});
defineOp<null>({
  name: 'test.streams.boom',
  *task(ctx) {
    yield ctx.sleep(2);
    if (ctx.rank === 1) throw new Error('kernel exploded');
  },
});

const schedule = (comm: string): StreamsRunArgs => ({
  smCount: 132,
  streams: [
    { name: 'compute', sms: 108, launches: [{ id: 'A', waits: [] }, { id: 'B', waits: [] }, { id: 'C', waits: ['X'] }] },
    { name: 'comm', sms: 24, launches: [{ id: 'X', waits: ['A'] }] },
  ],
  work: {
    A: { kind: 'compute', us: [10, 20, 30, 40] },
    B: { kind: 'compute', us: [5, 5, 5, 5] },
    C: { kind: 'compute', us: [1, 1, 1, 1] },
    X: { kind: 'op', op: comm, args: null, scope: 'mb0.' },
  },
});

describe('streams.run: each rank runs a schedule on its streams', () => {
  it('runs streams concurrently, in order, with cross-stream waits; op kernels address their scope', async () => {
    await withCluster({}, async (c) => {
      for (let r = 0; r < 4; r++) c.register(r, 'mb0.touch', 4);
      const seen: RankSnapshot[] = [];
      c.on('rankState', (s) => seen.push(s));
      const res = await c.run<StreamsRunResult>('streams.run', schedule('test.streams.touch'));
      const r2 = res.results[2]!.spans.map((s) => [s.id, s.startUs, s.endUs]);
      // A 0..30; B follows A on compute while X (waits A) runs on comm 30..37; C waits X.
      expect(r2).toEqual([['B', 30, 35], ['X', 30, 37], ['A', 0, 30], ['C', 37, 38]].sort((a, b) => Number(a[2]) - Number(b[2])));
      expect(res.rankEndUs).toEqual([18, 28, 38, 48]);
      for (let r = 0; r < 4; r++) expect(c.region(r, 'mb0.touch').i32[0]).toBe(100 + r);
      // The actor's streams are visible as they change, then cleared when the operation ends.
      const mid = seen.filter((s) => s.rank === 3 && s.streams).map((s) => s.streams);
      expect(mid[0]).toEqual({ compute: 'running A', comm: 'waiting X' });
      expect(mid).toContainEqual({ compute: 'waiting C', comm: 'running X' });
      expect(c.snapshot(3).streams).toBeUndefined();
      expect(c.snapshot(3).value).toBe('idle');
    });
  });

  it('a failing kernel fails its rank and the run', async () => {
    await withCluster({}, async (c) => {
      for (let r = 0; r < 4; r++) c.register(r, 'mb0.touch', 4);
      const seen: RankSnapshot[] = [];
      c.on('rankState', (s) => seen.push(s));
      await expectReject(c.run('streams.run', schedule('test.streams.boom')), 'E_TASK', 'rank 1', 'kernel exploded');
      expect(c.snapshot(1).value).toBe('failed');
      expect(seen.filter((s) => s.rank === 1 && s.streams).pop()?.streams).toEqual({ compute: 'failed', comm: 'failed' });
    });
  });

  it('rejects a schedule whose partitions exceed the GPU', async () => {
    await withCluster({}, async (c) => {
      const bad = { ...schedule('test.streams.touch'), smCount: 100 };
      await expectReject(c.run('streams.run', bad), 'E_CONFIG', 'over the GPU');
    });
  });
});
