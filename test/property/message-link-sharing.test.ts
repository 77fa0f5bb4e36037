/**
 * Message link sharing (`linkSharing: 'message'`) on random transfers issued together: every
 * sender port serves one transfer at a time with no gap, so its busy time is its bytes over its
 * bandwidth; its streams take turns in rounds, in the order they became active; and each stream is delivered first in, first out (its counter adds, control
 * messages, with it).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../src/cluster/cluster.js';
import { runTraffic, type TrafficTransfer } from '../../src/ep/traffic.js';
import { ROUND } from '../unit/cluster/helpers.js';

// Two senders (ranks 0 and 1) to any rank: a sender's streams often have several transfers each.
/** ROUND's link rates, bytes/us, by path (1 NVLink, 2 IB). */
const BW: Record<number, number> = { 1: 1e5, 2: 5e4 };
const PORT_OUT: Record<number, string> = { 1: 'nvlink.out', 2: 'ib.out' };

let cluster: Cluster;
beforeAll(async () => {
  cluster = await createCluster({ nodes: 2, gpusPerNode: 4, hardware: ROUND, workers: 1, transport: 'in-process', linkSharing: 'message' });
});
afterAll(async () => {
  await cluster.close();
});

const flows = fc.array(
  fc.record({ src: fc.integer({ min: 0, max: 1 }), dst: fc.integer({ min: 0, max: 7 }), bytes: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 9, max: 60_000 })) }),
  { minLength: 10, maxLength: 40 },
).map((l) => l.filter((t) => t.src !== t.dst) as TrafficTransfer[]);

describe("linkSharing 'message' on random transfers", () => {
  it('sender ports serve one transfer at a time, streams in turn, FIFO per stream', async () => {
    await fc.assert(
      fc.asyncProperty(flows, async (list) => {
        if (list.length === 0) return;
        const r = await runTraffic(cluster, list);
        const puts = r.records.filter((x) => x.op === 0);
        for (const src of new Set(list.map((t) => t.src))) {
          for (const path of [1, 2]) {
            // Bulk transfers (more than 8 bytes: control messages take no port) of this port, in serve order.
            const mine = puts.filter((x) => x.src === src && x.path === path && x.bytes > 8).sort((a, b) => a.egressStartT - b.egressStartT);
            if (mine.length === 0) continue;
            let end = 0;
            let bytes = 0;
            for (const x of mine) {
              expect(x.egressStartT).toBe(end); // no gap, no overlap
              end = x.egressDoneT;
              bytes += x.bytes;
            }
            expect(end).toBeCloseTo(bytes / BW[path]!, 9);
            const port = r.ports.find((p) => p.rank === src && p.port === PORT_OUT[path]);
            expect(port!.busyUs).toBeCloseTo(bytes / BW[path]!, 9);
            // Turns: all issued together, so in rounds, each stream that still has a transfer once
            // per round, in the order they became active (their first transfer's issue).
            const counts = new Map<number, number>();
            for (const t of list) if (t.src === src && t.bytes > 8 && puts.some((x) => x.src === src && x.dst === t.dst && x.path === path)) counts.set(t.dst, (counts.get(t.dst) ?? 0) + 1);
            const rounds: number[] = [];
            for (let k = 0; rounds.length < mine.length; k++) for (const [dst, c] of counts) if (c > k) rounds.push(dst);
            expect(mine.map((x) => x.dst)).toEqual(rounds);
          }
        }
        // FIFO per stream (puts and their adds): deliveries in issue order.
        const all = [...r.records].sort((a, b) => a.src - b.src || a.dst - b.dst || a.pairSeq - b.pairSeq);
        for (let i = 1; i < all.length; i++) {
          const a = all[i - 1]!, b = all[i]!;
          if (a.src === b.src && a.dst === b.dst) expect(b.deliverT).toBeGreaterThanOrEqual(a.deliverT);
        }
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
