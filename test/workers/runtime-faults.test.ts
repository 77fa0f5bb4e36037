/** Thread-spawning runtime tests: scale, worker death, close(), timeouts, mirrored actor states. */
import { describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../../src/cluster/cluster.js';
import type { RankSnapshot } from '../../src/actors/gpu-machine.js';
import { allToAll } from '../../src/ep/all-to-all.js';
import { DEBUG_NEVER } from '../../src/ep/debug-ops.js';
import { STILL_EVENTS } from '../../src/actors/engine-host.js';
import { runTraffic } from '../../src/ep/traffic.js';
import { H800 } from '../../src/hardware/profile.js';
import { expectReject } from '../unit/cluster/helpers.js';

const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length;

async function using<T>(c: Cluster, fn: (c: Cluster) => Promise<T>): Promise<T> {
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe('runtime on worker threads', () => {
  it('256 ranks (32 nodes x 8) on 2 workers run a sizes-only allToAll at the port bound', async () => {
    await using(await createCluster({ nodes: 32, gpusPerNode: 8, hardware: H800, workers: 2, recordTimeline: false }), async (c) => {
      expect(c.ranksOfWorker(0)).toHaveLength(128);
      expect(new Set(c.threadIds).size).toBe(2);
      const B = 4096;
      const r = await allToAll(c, { bytesPerPair: B, sizesOnly: true });
      const bound = H800.ibLatencyUs + (31 * 8 * (B + 8)) / (H800.ibGBps * 1e3);
      expect(Math.abs(r.timeUs - bound) / bound).toBeLessThan(0.01);
      // Every pair's transfer was simulated (the links' work of an instant is one event, so the
      // events are far fewer than the transfers).
      expect(r.transfers).toBe(256 * 255);
      expect(r.events).toBeGreaterThan(0);
    });
  });

  it('a worker that dies fails the pending operation with E_WORKER naming it and its ranks; its ranks show failed', async () => {
    const before = ports();
    const c = await createCluster({ nodes: 4, gpusPerNode: 2, hardware: H800, workers: 2 });
    const died: Array<[number, number[]]> = [];
    c.on('workerDied', (w, ranks) => died.push([w, ranks]));
    const pending = allToAll(c, { bytesPerPair: 1 << 16, sizesOnly: true });
    c.injectFault(1, 'exit');
    const data = await expectReject(pending, 'E_WORKER', 'host worker 1 (ranks 4-7) died', 'exited with code 3');
    expect(data).toMatchObject({ worker: 1, ranks: [4, 5, 6, 7] });
    expect(died).toEqual([[1, [4, 5, 6, 7]]]);
    for (let r = 4; r < 8; r++) expect(c.snapshot(r)).toMatchObject({ value: 'failed', error: expect.stringContaining('host worker 1') });
    expect(c.snapshot(0).value).not.toBe('failed');
    await expectReject(runTraffic(c, []), 'E_WORKER', 'host worker 1');
    await c.close();
    expect(ports()).toBe(before);
  });

  it('close() ends every thread, also with an operation pending (which rejects with E_CLOSED)', async () => {
    const before = ports();
    const c = await createCluster({ nodes: 2, gpusPerNode: 2, hardware: H800, workers: 2 });
    // Idle, the hosts do not keep Node alive; with an operation pending they do.
    expect(ports()).toBe(before);
    const pending = allToAll(c, { bytesPerPair: 1 << 20 });
    await new Promise((r) => setTimeout(r, 5));
    expect(ports()).toBe(before + 2);
    const closing = c.close();
    await expectReject(pending, 'E_CLOSED', 'closed');
    await closing;
    expect(ports()).toBe(before);
    // A Worker's threadId is -1 once its thread has exited.
    expect(c.threadIds).toEqual([-1, -1]);
    await c.close();
  });

  it('a wait that can never be satisfied ends with E_TIMEOUT naming rank, task and the wait', async () => {
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2 }), async (c) => {
      for (let r = 0; r < 2; r++) c.register(r, DEBUG_NEVER, 4);
      const data = await expectReject(c.run('debug.waitForever', null), 'E_TIMEOUT', "rank 0 task 'debug.waitForever' waits for counter debug.never[0] of rank 0 >= 1 (now 0)", 'rank 1');
      expect(data['blocked']).toHaveLength(2);
    });
  });

  it('a run whose virtual clock passes maxVirtualUs ends with E_TIMEOUT naming rank, task and the wait', async () => {
    for (const [workers, transport] of [[1, 'worker'], [2, 'worker'], [2, 'in-process']] as const) {
      await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers, transport, maxVirtualUs: 5000 }), async (c) => {
        for (let r = 0; r < 2; r++) c.register(r, DEBUG_NEVER, 4);
        const data = await expectReject(c.run('debug.poll', { us: 10 }), 'E_TIMEOUT', "operation 'debug.poll' passed its virtual-time bound of 5000 us (maxVirtualUs)", "rank 0 task 'debug.poll' waits for a delay of 10 us", 'rank 1');
        expect(data).toMatchObject({ boundUs: 5000, maxVirtualUs: 5000 });
      });
    }
  });

  it('a host whose virtual time stands still inside a window is stopped by its watchdog, naming rank, task and wait', async () => {
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 1, timeoutMs: 300 }), async (c) => {
      for (let r = 0; r < 2; r++) c.register(r, DEBUG_NEVER, 4);
      const t0 = performance.now();
      await expectReject(c.run('debug.poll', { us: 0 }), 'E_TIMEOUT', 'host worker 0: virtual time stood still at 0 us for 300 ms', "task 'debug.poll' waits for a delay of 0 us");
      expect(performance.now() - t0).toBeLessThan(5000);
    });
  });

  it('an instant that takes longer than timeoutMs but has fewer than STILL_EVENTS events is not a livelock', async () => {
    // 2 ranks x 2,100 steps of 0.35 ms at virtual time 0: the host's watchdog looks after 4,096
    // events, about 1.4 s in (over timeoutMs; under twice it, the main thread's heartbeat limit),
    // and finds 4,096 events at the instant, not 2^20.
    expect(STILL_EVENTS).toBe(1048576);
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 1, timeoutMs: 1000 }), async (c) => {
      const t0 = performance.now();
      const r = await c.run('debug.slowInstant', { steps: 2100, spinMs: 0.35 });
      expect(performance.now() - t0).toBeGreaterThan(1000);
      expect(r.timeUs).toBe(0);
    });
  });

  it("the main thread's watchdog ends a worker stuck in a task that never yields", async () => {
    const c = await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2, timeoutMs: 200 });
    const t0 = performance.now();
    await expectReject(c.run('debug.spin', { ms: 20_000 }), 'E_TIMEOUT', 'host worker 0 (ranks 0) ran \'debug.spin\' for 400 ms without returning');
    expect(performance.now() - t0).toBeLessThan(5000);
    await expectReject(runTraffic(c, []), 'E_TIMEOUT', 'host worker 0');
    await c.close();
  });

  it('the wall-clock timeoutMs applies to a host that does not answer', async () => {
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2, timeoutMs: 100 }), async (c) => {
      const t0 = performance.now();
      await expectReject(c.run('debug.stall', { ms: 1500 }), 'E_TIMEOUT', 'did not answer', 'within 100 ms', "start 'debug.stall'");
      expect(performance.now() - t0).toBeLessThan(1000);
    });
  });

  it('a host slower than timeoutMs but still progressing is waited for, at the window barrier and at a full packet ring', async () => {
    // Barrier: host 0 spends 600 ms in its first window (progressing every few ms) while host 1 waits.
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2, timeoutMs: 150 }), async (c) => {
      c.injectFault(0, 'slow', 600);
      const r = await allToAll(c, { bytesPerPair: 4096, sizesOnly: true });
      expect(r.transfers).toBe(2);
    });
    // Three hosts: hosts 1 and 2 wait at the window barrier.
    await using(await createCluster({ nodes: 3, gpusPerNode: 1, hardware: H800, workers: 3, timeoutMs: 150 }), async (c) => {
      c.injectFault(0, 'slow', 600);
      const r = await allToAll(c, { bytesPerPair: 4096, sizesOnly: true });
      expect(r.transfers).toBe(6);
    });
    // Ring: host 1's first window sends host 0 more packets than a 512 KiB ring holds, while host 0 is
    // slow; then each host fills the ring to the other while that one may still be busy with its
    // window. These windows are long while the code is not yet compiled: 0.2-0.65 s on a loaded
    // machine, one event (thousands of transfers at one instant) up to 0.45 s, with no heartbeat in
    // between; the limit keeps them well inside the main thread's watchdog (twice timeoutMs).
    await using(await createCluster({ nodes: 16, gpusPerNode: 8, hardware: H800, workers: 2, timeoutMs: 1000, ringBytes: 1 << 19, recordTimeline: false }), async (c) => {
      c.injectFault(0, 'slow', 2500);
      const r = await allToAll(c, { bytesPerPair: 4096, sizesOnly: true });
      expect(r.transfers).toBe(128 * 127);
    });
  });

  it('a host busy in one event longer than timeoutMs is waited for at the window barrier (the watchdog, at twice timeoutMs, ends one that never returns)', async () => {
    // Rank 0's first step holds host 0 for 800 ms in one event (no progress counts until it returns)
    // while host 1 waits at the barrier: busy, not stuck (below the main thread's 1200 ms watchdog).
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2, timeoutMs: 600 }), async (c) => {
      // Before: "host worker 1 waited 600 ms at a window barrier for host worker 0 (ranks 0), which made no progress".
      const r = await c.run('debug.spin', { ms: 800 });
      expect(r.timeUs).toBe(1);
    });
  });

  it('a host that stops making progress is named in E_TIMEOUT by the host waiting for it (barrier, full ring)', async () => {
    await using(await createCluster({ nodes: 2, gpusPerNode: 1, hardware: H800, workers: 2, timeoutMs: 150 }), async (c) => {
      c.injectFault(0, 'stop', 10_000);
      const t0 = performance.now();
      const data = await expectReject(allToAll(c, { bytesPerPair: 4096, sizesOnly: true }), 'E_TIMEOUT', 'host worker 1 waited 150 ms at a window barrier for host worker 0 (ranks 0), which made no progress');
      expect(data).toMatchObject({ worker: 1, waitingFor: [0] });
      expect(performance.now() - t0).toBeLessThan(5000);
    });
    await using(await createCluster({ nodes: 3, gpusPerNode: 1, hardware: H800, workers: 3, timeoutMs: 150 }), async (c) => {
      c.injectFault(0, 'stop', 10_000);
      await expectReject(allToAll(c, { bytesPerPair: 4096, sizesOnly: true }), 'E_TIMEOUT', 'at a window barrier for host worker 0 (ranks 0), which made no progress');
    });
    // The limit: as in the ring case above.
    await using(await createCluster({ nodes: 16, gpusPerNode: 8, hardware: H800, workers: 2, timeoutMs: 1000, ringBytes: 1 << 19, recordTimeline: false }), async (c) => {
      c.injectFault(0, 'stop', 10_000);
      const t0 = performance.now();
      const data = await expectReject(allToAll(c, { bytesPerPair: 4096, sizesOnly: true }), 'E_TIMEOUT', 'host worker 1: the packet ring to host worker 0 (ranks 0-63) stayed full for 1000 ms while that worker made no progress');
      expect(data).toMatchObject({ worker: 1, peer: 0 });
      expect(performance.now() - t0).toBeLessThan(5000);
    });
  });

  it("mirrors rank states: idle -> busy -> idle per operation", async () => {
    await using(await createCluster({ nodes: 2, gpusPerNode: 2, hardware: H800, workers: 2 }), async (c) => {
      const seen: RankSnapshot[] = [];
      c.on('rankState', (s) => seen.push(s));
      await runTraffic(c, [{ src: 0, dst: 3, bytes: 100 }]);
      for (let r = 0; r < 4; r++) expect(seen.filter((s) => s.rank === r).map((s) => s.value)).toEqual(['busy', 'idle']);
    });
  });
});
