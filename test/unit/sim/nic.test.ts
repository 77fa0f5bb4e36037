/**
 * The NIC as RDMA work requests see it: per-QP rates (deepep-details.md §5: one QP ~365 Gb/s, two
 * ~392 Gb/s on 4 MB writes) and the tail update as an atomic on the same QP, after its data.
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import { H800 } from '../../../src/hardware/profile.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { timelineRecords } from '../../../src/sim/timeline.js';
import { withCluster } from '../cluster/helpers.js';
import { putSlots } from '../../../src/ep/normal/slots.js';

const MB4 = 4 * 1024 * 1024;

/** Rank 0 writes `bytes` to rank 2 (the other node) on each of `qps` queue pairs, each followed by a tail atomic on its QP. */
defineOp<{ qps: number[]; bytes: number }>({
  name: 't.rdmaWrites',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    const tail = ctx.peerRegion(2, 'flag');
    for (const qp of a.qps) {
      ctx.send(2, a.bytes, { qp });
      ctx.atomicAdd(tail, 0, 1, { qp });
    }
  },
});

/** Rank 0 posts two ring chunks to rank 2 (the other node) and one to rank 1 (its own node) as the EP kernels do (putSlots on a QP), at t = 10 us. */
defineOp<{ bytes: number }>({
  name: 't.rdmaChunks',
  *task(ctx: RankContext, a) {
    if (ctx.rank !== 0) return;
    yield ctx.sleep(10);
    for (let k = 0; k < 2; k++) putSlots(ctx, 2, null, 0, null, 0, k, 1, 2, a.bytes, ctx.peerRegion(2, 'flag'), 0, 3);
    putSlots(ctx, 1, null, 0, null, 0, 0, 1, 2, a.bytes, ctx.peerRegion(1, 'flag'), 0, 3);
  },
});

async function writes(qps: number[], bytes: number) {
  return withCluster({ hardware: H800 }, async (c) => {
    for (let r = 0; r < 4; r++) c.register(r, 'flag', 4);
    await c.takeTimeline();
    await c.run('t.rdmaWrites', { qps, bytes });
    return timelineRecords(await c.takeTimeline());
  });
}

describe('NIC: queue pairs and ordered tail atomics', () => {
  it('one QP moves a 4 MB write at 365 Gb/s', async () => {
    const [w] = (await writes([0], MB4)).filter((r) => r.op === 0);
    const gbitPerS = (w!.bytes * 8) / ((w!.egressDoneT - w!.egressStartT) * 1e3);
    expect(gbitPerS).toBeCloseTo(365, 6);
  });

  it('two QPs together move two 4 MB writes at 392 Gb/s', async () => {
    const ws = (await writes([0, 1], MB4)).filter((r) => r.op === 0);
    expect(ws).toHaveLength(2);
    const start = Math.min(...ws.map((w) => w.egressStartT));
    const end = Math.max(...ws.map((w) => w.egressDoneT));
    expect((2 * MB4 * 8) / ((end - start) * 1e3)).toBeCloseTo(392, 6);
  });

  it('a tail atomic never lands before the data of its QP, even with another QP busy beside it', async () => {
    const rs = await writes([0, 1, 0, 1], 300_000);
    for (const qp of [0, 1]) {
      // Issue order on rank 0 -> 2: put(q0), add(q0), put(q1), add(q1), put(q0), ...: pairSeq 4k + 2qp (+1 for the add).
      for (let k = 0; k < 2; k++) {
        const put = rs.find((r) => r.pairSeq === 4 * k + 2 * qp)!;
        const add = rs.find((r) => r.pairSeq === 4 * k + 2 * qp + 1)!;
        expect(put.op).toBe(0);
        expect(add.op).toBe(1);
        expect(add.deliverT).toBeGreaterThanOrEqual(put.deliverT);
        expect(add.ingressStartT).toBeGreaterThanOrEqual(put.ingressStartT);
      }
    }
  });

  it("a posted chunk starts a doorbell after its post; its tail atomic lands one round trip after its data (multipath fabric, reference §5)", async () => {
    const rs = await withCluster({ hardware: H800 }, async (c) => {
      for (let r = 0; r < 4; r++) c.register(r, 'flag', 4);
      await c.takeTimeline();
      await c.run('t.rdmaChunks', { bytes: 1_000_000 });
      return timelineRecords(await c.takeTimeline());
    });
    const ib = rs.filter((r) => r.dst === 2);
    const puts = ib.filter((r) => r.op === 0);
    const adds = ib.filter((r) => r.op === 1);
    expect([puts.length, adds.length]).toEqual([2, 2]);
    for (const p of puts) expect(p.issueT).toBeCloseTo(10 + H800.ibDoorbellUs, 9);
    for (let k = 0; k < 2; k++) {
      // The atomic goes out when the write's acknowledgement is back: a round trip after the data lands.
      expect(adds[k]!.issueT).toBeCloseTo(puts[k]!.deliverT + H800.ibLatencyUs, 9);
      expect(adds[k]!.deliverT).toBeGreaterThanOrEqual(puts[k]!.deliverT + 2 * H800.ibLatencyUs - 1e-9);
    }
    // The QP's second write was not held back by the first chunk's atomic, nor the atomic queued behind it.
    expect(puts[1]!.egressStartT).toBeLessThan(adds[0]!.issueT);
    expect(puts[1]!.egressDoneT).toBeGreaterThan(adds[0]!.issueT);
    expect(adds[0]!.egressStartT).toBeCloseTo(adds[0]!.issueT, 9);
    // Within the node the chunk is a plain put and atomic, no doorbell and no extra round trip.
    const local = rs.filter((r) => r.dst === 1);
    expect(local.map((r) => r.issueT)).toEqual([10, 10]);
  });
});
