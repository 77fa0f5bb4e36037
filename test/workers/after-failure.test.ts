/**
 * An operation that fails stuck (a deadlock), past its virtual-time bound or aborted leaves nothing
 * behind: the hosts drop its tasks, events, transfers and port state, so the next operation runs
 * on its own clock, bit for bit as on a fresh cluster (docs/runtime.md, "One clock per operation").
 * Before, the leftovers kept the cluster from being idle: later operations ran on the running clock
 * (last bits) or among the failed run's transfers still in flight.
 */
import { describe, expect, it, vi } from 'vitest';
import { createCluster, type Cluster, type OpResult } from '../../src/cluster/cluster.js';
import type { ClusterConfig } from '../../src/cluster/config.js';
import { allToAll } from '../../src/ep/all-to-all.js';
import { DEBUG_NEVER } from '../../src/ep/debug-ops.js';
import { H800 } from '../../src/hardware/profile.js';
import { expectReject } from '../unit/cluster/helpers.js';

interface Figures {
  timeUs: number;
  rankTimeUs: number[];
  events: number;
  transfers: number;
  digest: string;
}

/** A small allToAll (real bytes, verified) and its send operation's per-rank times. */
async function a2a(c: Cluster): Promise<Figures> {
  const spy = vi.spyOn(c, 'run');
  try {
    const r = await allToAll(c, { bytesPerPair: 3000, seed: 5 });
    const runs = (await Promise.all(spy.mock.results.map((x) => x.value))) as OpResult[];
    // (The fill and the verify take no virtual time.)
    const send = runs.find((x) => x.timeUs > 0)!;
    expect(send.timeUs).toBe(r.timeUs);
    return { timeUs: r.timeUs, rankTimeUs: send.rankTimeUs, events: r.events, transfers: r.transfers, digest: r.receivedDigest };
  } finally {
    spy.mockRestore();
  }
}

/** The allToAll figures of a fresh cluster made by `open` (closed afterwards). */
async function onFresh(open: () => Promise<Cluster>): Promise<Figures> {
  const fresh = await open();
  try {
    return await a2a(fresh);
  } finally {
    await fresh.close();
  }
}

const configs: Array<[string, Partial<ClusterConfig>]> = [
  ['1 worker thread', { workers: 1 }],
  ['2 worker threads', { workers: 2 }],
  ['in-process, 2 workers', { workers: 2, transport: 'in-process' }],
];

describe('after a failed operation, the next one runs as on a fresh cluster', () => {
  for (const [what, cfg] of configs) {
    it(`deadlock, past the bound, aborted: then allToAll equals a fresh cluster's bit for bit (${what})`, async () => {
      const open = () => createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, seed: 1, maxVirtualUs: 400, ...cfg });
      const expected = await onFresh(open);
      expect(expected.timeUs).toBeGreaterThan(0);
      const c = await open();
      try {
        for (let r = 0; r < c.numRanks; r++) c.register(r, DEBUG_NEVER, 4);
        // A deadlock at 0.7 us: every rank's task waits forever.
        await expectReject(c.run('debug.waitAfter', { us: 0.7 }), 'E_TIMEOUT', 'can make no more progress at', "task 'debug.waitAfter' waits for counter");
        expect(c.nowUs).toBe(0.7);
        for (let r = 0; r < c.numRanks; r++) expect(c.snapshot(r).value).toBe('idle');
        expect(await a2a(c)).toEqual(expected);
        // Past the bound in the middle of 8 MB per pair: transfers, news and credits in flight.
        await expectReject(allToAll(c, { bytesPerPair: 8 << 20, sizesOnly: true }), 'E_TIMEOUT', 'passed its virtual-time bound of 400 us');
        expect(await a2a(c)).toEqual(expected);
        // Aborted while polling (the clock moving on).
        const ac = new AbortController();
        const t = setTimeout(() => ac.abort(), 30);
        await expectReject(c.run('debug.poll', { us: 0.0001 }, { signal: ac.signal }), 'E_ABORTED', "operation 'debug.poll' aborted at");
        clearTimeout(t);
        expect(c.nowUs).toBeGreaterThan(0);
        expect(await a2a(c)).toEqual(expected);
        for (let r = 0; r < c.numRanks; r++) expect(c.snapshot(r).value).toBe('idle');
      } finally {
        await c.close();
      }
    }, 60_000);

    it(`virtual time standing still (a host's watchdog): then allToAll equals a fresh cluster's bit for bit (${what})`, async () => {
      const open = () => createCluster({ nodes: 2, gpusPerNode: 4, hardware: H800, seed: 1, timeoutMs: 400, ...cfg });
      const expected = await onFresh(open);
      const c = await open();
      try {
        for (let r = 0; r < c.numRanks; r++) c.register(r, DEBUG_NEVER, 4);
        // Tasks waking each other forever at one instant: a host's watchdog ends the run, the host
        // alive and answering; the caller gets that host's error as before.
        await expectReject(c.run('debug.poll', { us: 0 }), 'E_TIMEOUT', 'virtual time stood still at 0 us for 400 ms', "task 'debug.poll' waits for a delay of 0 us");
        for (let r = 0; r < c.numRanks; r++) expect(c.snapshot(r).value).toBe('idle');
        expect(await a2a(c)).toEqual(expected);
        for (let r = 0; r < c.numRanks; r++) expect(c.snapshot(r).value).toBe('idle');
      } finally {
        await c.close();
      }
    }, 60_000);
  }
});
