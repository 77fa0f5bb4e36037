/**
 * The contract every host channel passes (hono's router-suite style), in one place: run by
 * test/unit/cluster/transport-in-process.test.ts (in-process hosts) and
 * test/workers/transport-worker.test.ts (worker threads). A channel joins by giving a name and a
 * way to open a cluster on it (a network channel would pass its own `open`).
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../../src/cluster/cluster.js';
import type { HostTransportKind } from '../../../src/actors/host-channel.js';
import { allToAll } from '../../../src/ep/all-to-all.js';
import { A2A_RECV, A2A_SEND, A2A_SIGNAL, peerSlot } from '../../../src/ep/all-to-all-op.js';
import '../../../src/ep/debug-ops.js';
import { fillPairBytes } from '../../../src/ep/seeded-bytes.js';
import { runTraffic } from '../../../src/ep/traffic.js';
import { timelineDigest } from '../../../src/sim/timeline.js';
import { H800 } from '../../../src/hardware/profile.js';
import { CONTROL_MESSAGE_BYTES } from '../../../src/transport/protocol.js';
import { expectReject } from './helpers.js';

const NODES = 2, GPUS = 4, N = NODES * GPUS, B = 16 << 10, SEED = 11;

/** Opens a cluster on the channel under test. */
export type OpenCluster = (shape: { nodes: number; gpusPerNode: number; workers: number; seed: number }) => Promise<Cluster>;

/** The built-in channels, by transport kind. */
export const openOn = (transport: HostTransportKind): OpenCluster => (shape) => createCluster({ ...shape, hardware: H800, transport });

let openCluster: OpenCluster = openOn('in-process');
async function open(_: unknown, workers: number, nodes = NODES, gpus = GPUS): Promise<Cluster> {
  return openCluster({ nodes, gpusPerNode: gpus, workers, seed: SEED });
}

async function using<T>(c: Cluster, fn: (c: Cluster) => Promise<T>): Promise<T> {
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** SHA-256 of what allToAll must deliver, computed independently of the runtime. */
function expectedReceivedDigest(n: number, bytes: number, seed: number): string {
  const h = createHash('sha256');
  const slot = new Uint8Array(bytes);
  for (let r = 0; r < n; r++) for (let s = 0; s < n; s++) if (s !== r) { fillPairBytes(slot, seed, s, r); h.update(slot); }
  return h.digest('hex');
}

/** Analytic port bound of a uniform all-to-all: for each path, latency + busiest port's bytes / bandwidth. */
function uniformBound(nodes: number, gpus: number, bytes: number): number {
  const wire = bytes + CONTROL_MESSAGE_BYTES; // each put is followed by one counter add on its pair
  const nvl = gpus > 1 ? H800.nvlinkLatencyUs + ((gpus - 1) * wire) / (H800.nvlinkGBps * 1e3) : 0;
  const ib = nodes > 1 ? H800.ibLatencyUs + ((nodes - 1) * gpus * wire) / (H800.ibGBps * 1e3) : 0;
  return Math.max(nvl, ib);
}

export function runTransportContract({ name, open: openWith }: { name: string; open: OpenCluster }): void {
  const transport = name;
  describe(`host channel contract: ${name}`, () => {
    beforeAll(() => {
      openCluster = openWith;
    });
    let reference: { received: string; timeline: string; timeUs: number } | undefined;
    /** Received and timeline digests of the uniform case on the in-process transport with 1 worker. */
    async function ref() {
      return (reference ??= await using(await openOn('in-process')({ nodes: NODES, gpusPerNode: GPUS, workers: 1, seed: SEED }), async (c) => {
        const r = await allToAll(c, { bytesPerPair: B });
        return { received: r.receivedDigest, timeline: timelineDigest(await c.takeTimeline()), timeUs: r.timeUs };
      }));
    }

    it.each([1, 2, 4])('uniform allToAll, %i worker(s): port bound within 1%, right bytes, same digests as in-process x1', async (workers) => {
      await using(await open(transport, workers), async (c) => {
        const r = await allToAll(c, { bytesPerPair: B });
        const bound = uniformBound(NODES, GPUS, B);
        expect(Math.abs(r.timeUs - bound) / bound).toBeLessThan(0.01);
        expect(r.receivedDigest).toBe(expectedReceivedDigest(N, B, SEED));
        const tl = await c.takeTimeline();
        expect(tl.length / 12).toBe(N * (N - 1)); // one put with a signal per ordered pair
        const want = await ref();
        expect(r.receivedDigest).toBe(want.received);
        expect(timelineDigest(tl)).toBe(want.timeline);
        expect(r.timeUs).toBe(want.timeUs);
      });
    });

    it('uniform allToAll on one node (NVLink only) and with the call seed overriding the cluster seed', async () => {
      await using(await open(transport, 2, 1, 4), async (c) => {
        const r = await allToAll(c, { bytesPerPair: B, seed: 99 });
        const bound = uniformBound(1, 4, B);
        expect(Math.abs(r.timeUs - bound) / bound).toBeLessThan(0.01);
        expect(r.receivedDigest).toBe(expectedReceivedDigest(4, B, 99));
      });
    });

    it.each([1, 2, 4])('incast (7 senders -> rank 0), %i worker(s): receiver port bound within 1%', async (workers) => {
      await using(await open(transport, workers, 4, 2), async (c) => {
        const bytes = 1 << 20;
        const r = await runTraffic(c, Array.from({ length: 7 }, (_, i) => ({ src: i + 1, dst: 0, bytes })));
        // Rank 0's NIC ingress is the busiest port: 6 IB senders' puts and adds.
        const bound = H800.ibLatencyUs + (6 * (bytes + CONTROL_MESSAGE_BYTES)) / (H800.ibGBps * 1e3);
        expect(Math.abs(r.timeUs - bound) / bound).toBeLessThan(0.01);
        expect(r.records).toHaveLength(14);
      });
    });

    it('a corrupted receive is detected: the verify op names rank, source and byte', async () => {
      await using(await open(transport, 2), async (c) => {
        await allToAll(c, { bytesPerPair: B }); // verifies: E_VERIFY is not thrown
        const args = { bytesPerPair: B, seed: SEED, sizesOnly: false };
        const ok = await c.run<{ ok: boolean }>('a2a.verify', args);
        expect(ok.results.every((x) => x.ok)).toBe(true);
        c.region(5, A2A_RECV).u8[peerSlot(5, 2) * B + 123]! ^= 0xff;
        const bad = await c.run<{ ok: boolean; source?: number; byte?: number }>('a2a.verify', args);
        expect(bad.results.map((x, rank) => (x.ok ? null : { rank, ...x })).filter(Boolean)).toEqual([{ rank: 5, ok: false, source: 2, byte: 123 }]);
      });
    });

    it('a source buffer changed before delivery delivers the changed bytes (RDMA source-stability rule)', async () => {
      await using(await open(transport, 2), async (c) => {
        await allToAll(c, { bytesPerPair: B }); // registers the regions
        const args = { bytesPerPair: B, seed: SEED, sizesOnly: false };
        await c.run('a2a.fill', args);
        await c.run('debug.a2aClobber', { ...args, clobberRank: 0 });
        const v = await c.run<{ ok: boolean; source?: number; byte?: number }>('a2a.verify', args);
        // Every peer of rank 0 got zeros from it (none of its puts was delivered at issue time).
        for (let r = 1; r < N; r++) expect(v.results[r]).toMatchObject({ ok: false, source: 0 });
        expect(v.results[0]).toEqual({ ok: true });
      });
    });

    it('no main-thread message per window: a run takes the same messages however many windows it spans', async () => {
      await using(await open(transport, 2), async (c) => {
        const runs = [];
        for (const bytes of [1 << 8, 1 << 18]) {
          await allToAll(c, { bytesPerPair: bytes, sizesOnly: true });
          for (let r = 0; r < N; r++) Atomics.store(c.region(r, A2A_SIGNAL).i32, 0, 0);
          runs.push(await c.run('a2a', { bytesPerPair: bytes, seed: SEED, sizesOnly: true }));
        }
        expect(runs[1]!.windows).toBeGreaterThan(runs[0]!.windows);
        // 'op' and 'run' to each of the 2 hosts, and their replies.
        expect(runs.map((r) => r.mainThreadMessages)).toEqual([8, 8]);
        expect(runs[1]!.hostCpuMs).toHaveLength(2); // per host thread (NaN where the platform cannot tell)
        // Where each host's time went: per host, windows without events counted among the run's windows.
        expect(runs[1]!.hostStats).toHaveLength(2);
        for (const st of runs[1]!.hostStats) {
          expect(st.emptyWindows).toBeGreaterThanOrEqual(0);
          expect(st.emptyWindows).toBeLessThan(runs[1]!.windows);
          expect(st.busyMs).toBeGreaterThan(0);
          expect(st.waitMs).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(st.sleeps)).toBe(true);
        }
      });
    });

    it('close() with an operation pending rejects it with E_CLOSED; an aborted operation rejects with E_ABORTED', async () => {
      const c = await open(transport, 2);
      const ac = new AbortController();
      const aborted = allToAll(c, { bytesPerPair: 1 << 20, sizesOnly: true }, { signal: ac.signal });
      ac.abort();
      await expectReject(aborted, 'E_ABORTED', 'aborted');
      const pending = allToAll(c, { bytesPerPair: 1 << 22, sizesOnly: true });
      // Closed at once: the aborted run left nothing behind, so the next one can end within a few
      // ms, and a timer could fire after it.
      await Promise.resolve();
      const closing = c.close();
      await expectReject(pending, 'E_CLOSED', 'closed');
      await closing;
    });
  });
}
