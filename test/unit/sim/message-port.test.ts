/**
 * Message link sharing (`linkSharing: 'message'`, src/sim/message-port.ts): a sender port serves
 * one transfer at a time at its full rate, its streams in turn (in the order they became active);
 * receivers send no credits and take the bytes in the order they arrived. Expected times are written from that rule with the ROUND profile
 * (NVLink 1e5 B/us and 1 us, IB 5e4 B/us and 2 us, a queue pair 45,625 B/us).
 */
import { describe, expect, it } from 'vitest';
import { defineOp } from '../../../src/actors/op-registry.js';
import { runTraffic, type TrafficTransfer } from '../../../src/ep/traffic.js';
import { runLowLatencyBenchmark } from '../../../src/ep/low-latency/benchmark.js';
import type { RankContext } from '../../../src/sim/rank-context.js';
import { timelineRecords } from '../../../src/sim/timeline.js';
import { expectReject, ROUND, withCluster } from '../cluster/helpers.js';

const message = { linkSharing: 'message' as const };

/** The puts (op 0) of a run: [src, dst, egress start, egress done, ingress start, delivery], in (dst, src, pairSeq) order. */
function puts(records: ReturnType<typeof timelineRecords>): number[][] {
  return records.filter((r) => r.op === 0).map((r) => [r.src, r.dst, r.egressStartT, r.egressDoneT, r.ingressStartT, r.deliverT]);
}

/** Rank 0 sends 1e5 B to rank 2 (the other node) on queue pair 0, then 1e5 B on queue pair 1; rank 2 waits for both. */
defineOp<null>({
  name: 't.msgQp',
  *task(ctx: RankContext) {
    const flag = ctx.region('flag');
    if (ctx.rank === 0) {
      for (const qp of [0, 1]) ctx.send(2, 100_000, { qp, signal: { region: ctx.peerRegion(2, 'flag'), offset: 0, value: 1 } });
    } else if (ctx.rank === 2) {
      yield ctx.untilAtLeast(flag, 0, 2);
      ctx.setResult(ctx.now);
    }
  },
});

/** Rank 0 starts two long sends (10 us each at 1e5 B/us) and waits for a flag nobody sets. */
defineOp<null>({
  name: 't.msgLong',
  *task(ctx: RankContext) {
    if (ctx.rank !== 0) return;
    ctx.send(1, 1_000_000);
    ctx.send(2, 1_000_000);
    yield ctx.untilAtLeast(ctx.region('flag'), 0, 1);
  },
});

const THREE_STREAMS: TrafficTransfer[] = [{ src: 0, dst: 1, bytes: 100_000 }, { src: 0, dst: 2, bytes: 200_000 }, { src: 0, dst: 1, bytes: 100_000 }, { src: 0, dst: 3, bytes: 50_000 }];
const THREE_STREAMS_PUTS = [
  [0, 1, 0, 1, 1, 2],
  [0, 1, 3.5, 4.5, 4.5, 5.5],
  [0, 2, 1, 3, 2, 4],
  [0, 3, 3, 3.5, 4, 4.5],
];

describe("linkSharing 'message'", () => {
  it('a sender port serves one transfer at a time, its streams in turn in the order they became active', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 4, ...message }, async (c) => {
      // Issued together: 0->1, 0->2, 0->1 again (queued behind the first), 0->3.
      const r = await runTraffic(c, THREE_STREAMS);
      // Turns: stream 1 [0, 1] (it has more: back of the line), stream 2 [1, 3], stream 3 [3, 3.5],
      // stream 1 again [3.5, 4.5]. Each arrives one latency later at the full rate, which its
      // receiver (alone) serves as it comes: delivered at its egress end + 1 us.
      expect(puts(r.records)).toEqual(THREE_STREAMS_PUTS);
      // The counter add after each put (a control message, FIFO on its stream) lands with it.
      const adds = r.records.filter((x) => x.op === 1).map((x) => [x.dst, x.pairSeq, x.deliverT]);
      expect(adds).toEqual([[1, 1, 2], [1, 3, 5.5], [2, 1, 4], [3, 1, 4.5]]);
      expect(r.timeUs).toBe(5.5);
      // One rate per transfer, the port's whole capacity (100 GB/s); the port busy 4.5 us for 4.5e5 B.
      expect(r.rates.map((g) => [g.dst, g.startUs, g.endUs, g.GBps])).toEqual([[1, 0, 1, 100], [1, 3.5, 4.5, 100], [2, 1, 3, 100], [3, 3, 3.5, 100]]);
      expect(r.ports.find((p) => p.rank === 0 && p.port === 'nvlink.out')).toEqual({ rank: 0, port: 'nvlink.out', busyUs: 4.5, bytes: 450_000 });
    });
  });

  it('a receiver takes an incast into the switch buffer (no credits) and the bytes in arrival order', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 4, ...message }, async (c) => {
      const r = await runTraffic(c, [{ src: 1, dst: 0, bytes: 100_000 }, { src: 1, dst: 3, bytes: 100_000 }, { src: 2, dst: 0, bytes: 200_000 }]);
      // Rank 1 sends to 0 over [0, 1], then to 3 over [1, 2]; rank 2 sends to 0 over [0, 2], never
      // slowed (no credits). Rank 0 gets 2e5 B/us over [1, 2] and takes 1e5 B/us: at 2, when rank
      // 1's last byte arrives, 1e5 B wait ahead of it (it included): delivered at 2 + 1 = 3. Then
      // 1e5 B/us arrive and leave; at 3 rank 2's last byte arrives behind 1e5 B: delivered at 4.
      // Rank 3 gets its transfer over [2, 3] and takes it as it comes.
      expect(puts(r.records)).toEqual([
        [1, 0, 0, 1, 1, 3],
        [2, 0, 0, 2, 1, 4],
        [1, 3, 1, 2, 2, 3],
      ]);
      expect(r.ports.find((p) => p.rank === 0 && p.port === 'nvlink.in')).toEqual({ rank: 0, port: 'nvlink.in', busyUs: 3, bytes: 300_000 });
    });
  });

  it('a receiver serves what arrived first first: a later stream waits behind the queue', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 4, ...message }, async (c) => {
      const r = await runTraffic(c, [{ src: 1, dst: 0, bytes: 100_000 }, { src: 2, dst: 0, bytes: 100_000 }, { src: 3, dst: 0, bytes: 100_000, atUs: 1 }]);
      // Ranks 1 and 2 arrive together over [1, 2] (2e5 B/us into 1e5): 1e5 B wait at 2, so both
      // are done at 3. Rank 3's arrives over [2, 3] behind that queue and is done at 4. (Sharing the
      // port max-min among the three streams would end the first two at 3.5.)
      expect(puts(r.records).map((x) => [x[0], x[5]])).toEqual([[1, 3], [2, 3], [3, 4]]);
    });
  });

  it("a queue pair alone runs at its rate; with another active the NIC's, the fluid total", async () => {
    await withCluster({ nodes: 2, gpusPerNode: 2, ...message }, async (c) => {
      for (let r = 0; r < 4; r++) c.register(r, 'flag', 4);
      const res = await c.run<number>('t.msgQp', null);
      const recs = timelineRecords(await c.takeTimeline()).filter((x) => x.op === 0);
      // Both queue pairs active at the first start: min(5e4, 2 x 45,625) = 5e4 B/us, [0, 2]. The
      // second is then alone: 45,625 B/us, 1e5 / 45,625 us. Each arrives 2 us later, under the
      // NIC's rate, and is delivered as its last byte arrives.
      const second = 2 + 100_000 / 45_625;
      expect(recs.map((x) => [x.egressStartT, x.egressDoneT, x.deliverT])).toEqual([[0, 2, 4], [2, second, second + 2]]);
      expect(res.results[2]).toBe(second + 2);
    });
  });

  it('an operation stopped with transfers on the wire leaves its ports as new: the next run has the same times', async () => {
    await withCluster({ nodes: 1, gpusPerNode: 4, maxVirtualUs: 5.6, ...message }, async (c) => {
      for (let r = 0; r < 4; r++) c.register(r, 'flag', 4);
      // Stopped at 5.6 us of virtual time: half of each send is on the wire, its receiver mid-way.
      await expectReject(c.run('t.msgLong', null), 'E_TIMEOUT');
      const r = await runTraffic(c, THREE_STREAMS);
      expect(puts(r.records)).toEqual(THREE_STREAMS_PUTS);
    });
  });

  it('gives the same timeline with 1, 2 and 4 workers', async () => {
    const flows: TrafficTransfer[] = [];
    for (let s = 0; s < 8; s++) for (let k = 1; k < 8; k += 2) flows.push({ src: s, dst: (s + k) % 8, bytes: 7_408 + 1_000 * ((s * k) % 5), atUs: (s % 3) * 0.05 });
    const digests: string[] = [];
    for (const workers of [1, 2, 4]) await withCluster({ nodes: 2, gpusPerNode: 4, workers, ...message }, async (c) => digests.push((await runTraffic(c, flows)).timelineDigest));
    expect(new Set(digests).size).toBe(1);
    // And it is another model than the default's.
    const fluid = await withCluster({ nodes: 2, gpusPerNode: 4 }, async (c) => (await runTraffic(c, flows)).timelineDigest);
    expect(fluid).not.toBe(digests[0]);
  });

  it('refuses an unknown sharing, naming it, at the cluster and at the benchmark', async () => {
    await expectReject(withCluster({ linkSharing: 'packet' as never }, async () => undefined), 'E_CONFIG', "'linkSharing'", '"packet"');
    await expectReject(runLowLatencyBenchmark({ ranks: 8, linkSharing: 'packets' as never }), 'E_ARGUMENT', '--link-sharing', '"packets"');
  });
});
