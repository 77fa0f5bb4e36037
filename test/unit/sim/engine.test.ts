/**
 * The engine in-process: several Engine/EngineHost instances in one thread (the 'in-process'
 * transport), driven through test-only operations defined here.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { timelineRecords } from '../../../src/sim/timeline.js';
import { expectReject, ROUND, withCluster } from '../cluster/helpers.js';

const MB = 1_000_000; // 10 us on ROUND's NVLink (1e5 B/us), 20 us on its IB (5e4 B/us)

interface Seen { t: number; value?: number; firstByte?: number; lastByte?: number }

/** Rank 0 puts `bytes` to rank `dst` then adds 1 to its counter; every receiver records what it saw when. */
defineOp<{ dst: number; bytes: number; peekAt: number; ack: boolean }>({
  name: 't.putAdd',
  *task(ctx: RankContext, a) {
    const buf = ctx.region('buf'), flag = ctx.region('flag');
    if (ctx.rank === 0) {
      buf.u8.fill(7);
      const h = ctx.put(ctx.peerRegion(a.dst, 'buf'), 0, buf, 0, a.bytes, { ack: a.ack });
      ctx.atomicAdd(ctx.peerRegion(a.dst, 'flag'), 0, 1);
      if (a.ack) {
        yield ctx.delivered(h);
        ctx.setResult({ t: ctx.now });
      }
    } else if (ctx.rank === a.dst) {
      const seen: Seen[] = [];
      yield ctx.sleep(a.peekAt);
      seen.push({ t: ctx.now, value: Atomics.load(flag.i32, 0), firstByte: buf.u8[0]!, lastByte: buf.u8[a.bytes - 1]! });
      const v = yield ctx.untilAtLeast(flag, 0, 1);
      seen.push({ t: ctx.now, value: v, firstByte: buf.u8[0]!, lastByte: buf.u8[a.bytes - 1]! });
      ctx.setResult(seen);
    }
  },
});

/**
 * Rank 0 adds 1 to `dst`'s counter, then puts `bytes` to it on the same stream, then adds 1 on
 * another queue pair; `dst` records when each counter value shows and when the put's data lands.
 */
defineOp<{ dst: number; bytes: number }>({
  name: 't.addPut',
  *task(ctx: RankContext, a) {
    const buf = ctx.region('buf'), flag = ctx.region('flag');
    if (ctx.rank === 0) {
      ctx.atomicAdd(ctx.peerRegion(a.dst, 'flag'), 0, 1);
      ctx.put(ctx.peerRegion(a.dst, 'buf'), 0, buf, 0, a.bytes, { signal: { region: ctx.peerRegion(a.dst, 'flag'), offset: 0, value: 10 } });
      ctx.atomicAdd(ctx.peerRegion(a.dst, 'flag'), 0, 100, { qp: 5 });
    } else if (ctx.rank === a.dst) {
      const seen: number[] = [];
      for (const v of [1, 11, 111]) {
        yield ctx.untilAtLeast(flag, 0, v);
        seen.push(ctx.now, Atomics.load(flag.i32, 0));
      }
      ctx.setResult(seen);
    }
  },
});

defineOp<{ peer: number }>({
  name: 't.read',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    const t0 = ctx.now;
    const v = yield ctx.read(ctx.peerRegion(a.peer, 'flag'), 0);
    ctx.setResult({ dt: ctx.now - t0, v });
  },
});

defineOp<null>({
  name: 't.badSleep',
  *task(ctx: RankContext) {
    if (ctx.rank === 1) yield ctx.sleep(-1);
  },
});

defineOp<{ what: string }>({
  name: 't.badPut',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    const buf = ctx.region('buf');
    if (a.what === 'range') ctx.put(ctx.peerRegion(1, 'buf'), 10, buf, 0, buf.byteLength);
    if (a.what === 'region') ctx.put(ctx.peerRegion(1, 'nope'), 0, buf, 0, 1);
    if (a.what === 'rank') ctx.send(99, 1);
    if (a.what === 'misaligned') ctx.atomicAdd(ctx.peerRegion(1, 'flag'), 2, 1);
    yield ctx.sleep(0);
  },
});

defineOp<null>({
  name: 't.stuck',
  *task(ctx: RankContext) {
    if (ctx.rank === 2) yield ctx.untilAtLeast(ctx.region('flag'), 0, 5);
  },
});

defineOp<null>({
  name: 't.children',
  *task(ctx: RankContext) {
    const a = ctx.spawn('child.a', (function* () { yield ctx.sleep(3); })());
    const b = ctx.spawn('child.b', (function* () { yield ctx.sleep(5); })());
    yield ctx.join([a, b]);
    ctx.setResult([ctx.now, ctx.opTimeUs, ctx.clusterTimeUs]);
  },
});

async function setup(c: import('../../../src/cluster/cluster.js').Cluster) {
  for (let r = 0; r < c.numRanks; r++) {
    c.register(r, 'buf', MB);
    c.register(r, 'flag', 4);
  }
}

describe.each([1, 2, 4])('engine, in-process, %i worker(s)', (workers) => {
  const cfg = { nodes: 2, gpusPerNode: 2, workers, hardware: ROUND };

  it('a put becomes visible only at its arrival; the add after it is FIFO behind it', async () => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      const r = await c.run<Seen[]>('t.putAdd', { dst: 1, bytes: MB, peekAt: 10.5, ack: false });
      const [early, late] = r.results[1]!;
      // At 10.5 us the last byte has left rank 0 (10 us) but is still 1 us of latency away.
      expect(early).toEqual({ t: 10.5, value: 0, firstByte: 0, lastByte: 0 });
      // The put arrives at 1 + 10 = 11 us. The 8-byte add (a control message: no share of the
      // port) reached rank 1 at 1 + 8e-5 us and waited for the put before it on the stream: it is
      // delivered with the put's last byte, at 11 us exactly, after it.
      expect(late!.firstByte).toBe(7);
      expect(late!.lastByte).toBe(7);
      expect(late!.value).toBe(1);
      expect(late!.t).toBe(11);
      const recs = timelineRecords(await c.takeTimeline());
      expect(recs.map((x) => x.op)).toEqual([0, 1]);
      expect(recs[0]).toMatchObject({ src: 0, dst: 1, pairSeq: 0, path: 1, bytes: MB, issueT: 0, egressStartT: 0, egressDoneT: 10, ingressStartT: 1, ingressDoneT: 11, deliverT: 11 });
      // Its packet left at its issue, waited at rank 1 and was taken in with the put's last byte.
      expect(recs[1]).toMatchObject({ src: 0, dst: 1, pairSeq: 1, op: 1, path: 1, bytes: 8, issueT: 0, egressStartT: 0, egressDoneT: 8 / 1e5, ingressStartT: 11 - 8 / 1e5, ingressDoneT: 11, deliverT: 11 });
    });
  });

  it('across nodes: IB latency and bandwidth; an acked put resumes its sender one latency after delivery', async () => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      const r = await c.run<unknown>('t.putAdd', { dst: 2, bytes: MB, peekAt: 0, ack: true });
      expect((r.results[0] as { t: number }).t).toBeCloseTo(2 + 20 + 2, 9);
      // The add behind the put on the same stream: delivered with it, at 2 + 20 us.
      expect((r.results[2] as Seen[])[1]!.t).toBe(22);
    });
  });

  it('control messages: on an idle stream at issue + latency + one 8-byte packet; a put after one is not held back', async () => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      // NVLink (1 us, 1e5 B/us): the add at 1 + 8e-5; the 1 MB put after it at 1 + 10, as alone.
      // The add on queue pair 5 is queue pair 0's on NVLink (one stream per pair): behind the put.
      expect((await c.run<number[]>('t.addPut', { dst: 1, bytes: MB })).results[1]).toEqual([1 + 8 / 1e5, 1, 11, 111, 11, 111]);
      // InfiniBand (2 us, 5e4 B/us): the add at 2 + 1.6e-4, the put at 2 + 20; the add on queue pair
      // 5 is a stream of its own, idle: it lands at 2 + 1.6e-4 too, before the put.
      expect((await c.run<number[]>('t.addPut', { dst: 2, bytes: MB })).results[2]).toEqual([2 + 8 / 5e4, 101, 2 + 8 / 5e4, 101, 22, 111]);
    });
  });

  it('a remote read costs a latency-only round trip and returns the peer value', async () => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      Atomics.store(c.region(1, 'flag').i32, 0, 41);
      Atomics.store(c.region(3, 'flag').i32, 0, 43);
      expect((await c.run<{ dt: number; v: number }>('t.read', { peer: 1 })).results[0]).toEqual({ dt: 2, v: 41 });
      expect((await c.run<{ dt: number; v: number }>('t.read', { peer: 3 })).results[0]).toEqual({ dt: 4, v: 43 });
    });
  });

  it('child tasks: join resumes when the last child ends', async () => {
    await withCluster(cfg, async (c) => {
      const r = await c.run<number[]>('t.children', null);
      expect(r.results).toEqual(Array(4).fill([5, 5, 5]));
      expect(r.endUs - r.startUs).toBe(5);
      expect([r.timeUs, r.rankTimeUs]).toEqual([5, [5, 5, 5, 5]]);
      // The cluster's clock carries over: the next operation starts where this one ended, and
      // runs on its own clock from 0 (the cluster was idle).
      const r2 = await c.run<number[]>('t.children', null);
      expect([r2.startUs, r2.endUs, r2.timeUs]).toEqual([5, 10, 5]);
      expect(r2.rankEndUs).toEqual([10, 10, 10, 10]);
      expect(r2.results).toEqual(Array(4).fill([5, 5, 10]));
    });
  });

  it('a wait that can never be satisfied ends with E_TIMEOUT naming rank, task and wait', async () => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      const data = await expectReject(c.run('t.stuck', null), 'E_TIMEOUT', "rank 2 task 't.stuck'", "counter flag[0] of rank 2 >= 5 (now 0)");
      expect(data['blocked']).toEqual([{ rank: 2, task: 't.stuck', waitingFor: 'counter flag[0] of rank 2 >= 5 (now 0)' }]);
    });
  });

  it('a failing task rejects with E_TASK naming rank and task, and its rank is failed', async () => {
    await withCluster(cfg, async (c) => {
      await expectReject(c.run('t.badSleep', null), 'E_TASK', "rank 1 task 't.badSleep'", 'sleep of -1 us');
      expect(c.snapshot(1).value).toBe('failed');
      expect(c.snapshot(0).value).not.toBe('failed');
    });
  });

  it.each([
    ['range', 'E_REGION', 'bytes [10, 1000010) are outside region \'buf\' of rank 1 (1000000 bytes)'],
    ['region', 'E_REGION', "rank 1 has no registered region 'nope'"],
    ['rank', 'E_RANK', 'destination rank 99 does not exist'],
    ['misaligned', 'E_REGION', 'atomic add offset 2'],
  ])('bad one-sided op (%s) -> %s naming the value', async (what, code, text) => {
    await withCluster(cfg, async (c) => {
      await setup(c);
      await expectReject(c.run('t.badPut', { what }), code, text, "rank 0 task 't.badPut'");
    });
  });
});
