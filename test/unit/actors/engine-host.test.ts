import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EngineHost, ROUND_DONE, ROUND_RUN } from '../../../src/actors/engine-host.js';
import type { HostReply, HostRequest } from '../../../src/actors/host-messages.js';
import { opRegistry } from '../../../src/actors/op-registry.js';
import { createSyncBuffers, ringIndex, SyncBlock } from '../../../src/actors/window-sync.js';
import { PacketRing } from '../../../src/transport/packet-ring.js';
import { RING_HEAD, RING_TAIL } from '../../../src/transport/protocol.js';
import '../../../src/ep/traffic.js';
import { ROUND } from '../cluster/helpers.js';

function host() {
  const h = new EngineHost(opRegistry);
  const send = (m: HostRequest): HostReply => h.handle(m);
  return { h, send };
}
const init = (): HostRequest => ({
  type: 'init', id: 1, workerIndex: 0, numWorkers: 1, numRanks: 2, gpusPerNode: 2, hardware: ROUND, workerOfRank: [0, 0],
  recordTimeline: true, sync: createSyncBuffers(1, Float64Array.of(Infinity)), timeoutMs: 1000,
});

describe('EngineHost', () => {
  it("reports the actors' initial idle states, then idle -> busy -> idle around an operation run in one reply", () => {
    const { send } = host();
    const r0 = send(init());
    expect(r0.states.map((s) => [s.rank, s.value])).toEqual([[0, 'idle'], [1, 'idle']]);
    send({ type: 'register', id: 2, regions: [0, 1].map((rank) => ({ id: rank, rank, name: 'traffic.signal', buffer: new SharedArrayBuffer(4) })) });
    const r1 = send({ type: 'op', id: 3, opId: 0, name: 'traffic', args: { perRank: [[1, 100, 0], []], expected: [0, 1] }, startTime: 0 });
    expect(r1.states.map((s) => [s.rank, s.value, s.op])).toEqual([[0, 'busy', 'traffic'], [1, 'busy', 'traffic']]);
    expect(r1.next).toBe(0);
    const r2 = send({ type: 'run', id: 4, opId: 0 });
    expect(r2.error).toBeUndefined();
    expect(r2.finished.map((f) => f.rank).sort()).toEqual([0, 1]);
    expect(r2.states.map((s) => [s.rank, s.value])).toEqual([[0, 'idle'], [1, 'idle']]);
    expect(r2.events).toBeGreaterThan(0);
    expect(r2.windows).toBe(1); // one host: one window to the end
    expect(r2.next).toBe(Infinity);
  });

  it('a round: publish, decide, run the window; the decision is done once nothing is left', () => {
    const { h, send } = host();
    send(init());
    send({ type: 'register', id: 2, regions: [0, 1].map((rank) => ({ id: rank, rank, name: 'traffic.signal', buffer: new SharedArrayBuffer(4) })) });
    send({ type: 'op', id: 3, opId: 0, name: 'traffic', args: { perRank: [[1, 100, 0], []], expected: [0, 1] }, startTime: 0 });
    h.publish();
    expect(h.decide()).toBe(ROUND_RUN);
    expect(h.bound).toBe(Infinity);
    h.runWindow(h.bound, () => { throw new Error('no ring to fill with one host'); });
    h.publish();
    expect(h.decide()).toBe(ROUND_DONE);
  });

  it("with heap sampling, a run's reply carries the host thread's sampled allocations and their sites; without, none", () => {
    const runOnce = (heapSampling?: { intervalBytes: number; topSites: number }) => {
      const { send } = host();
      send({ ...init(), ...(heapSampling ? { heapSampling } : {}) } as HostRequest);
      send({ type: 'register', id: 2, regions: [0, 1].map((rank) => ({ id: rank, rank, name: 'traffic.signal', buffer: new SharedArrayBuffer(4) })) });
      // 64 transfers of one rank to the other: the engine allocates its tasks, events and records.
      send({ type: 'op', id: 3, opId: 0, name: 'traffic', args: { perRank: [Array.from({ length: 64 }, () => [1, 100, 0]).flat(), []], expected: [0, 64] }, startTime: 0 });
      const r = send({ type: 'run', id: 4, opId: 0 });
      expect(r.error).toBeUndefined();
      return r;
    };
    expect(runOnce().heap).toBeUndefined();
    const heap = runOnce({ intervalBytes: 32, topSites: 4 }).heap!;
    expect(heap.intervalBytes).toBe(32);
    expect(heap.sampledBytes).toBeGreaterThan(0);
    expect(heap.sites.length).toBeGreaterThan(0);
    expect(heap.sites.length).toBeLessThanOrEqual(4);
    expect(heap.sites[0]!.functionName).not.toBe('');
    expect(heap.sites[0]!.selfBytes).toBeGreaterThan(0);
  });

  it('errors travel inside the reply: unknown op, use before init, injected throw', () => {
    const { send } = host();
    expect(send({ type: 'run', id: 1, opId: 0 }).error?.code).toBe('E_WORKER');
    send(init());
    const r = send({ type: 'op', id: 2, opId: 0, name: 'no.such.op', args: null, startTime: 0 });
    expect(r.error).toMatchObject({ code: 'E_ARGUMENT', message: "unknown operation 'no.such.op'" });
    expect(r.id).toBe(2);
    expect(send({ type: 'fault', id: 3, kind: 'throw' }).error?.code).toBe('E_TASK');
    expect(send({ type: 'fault', id: 4, kind: 'exit' }).error?.code).toBe('E_WORKER'); // in-process: no thread to end
  });

  it('the actor layer does not import the EP layer (operations come from the injected registry)', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const dir = new URL('../../../src/actors/', import.meta.url);
    for (const f of readdirSync(dir)) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      expect(src, f).not.toMatch(/from '\.\.\/(ep|ops|scenario|cli)[/.]/);
      expect(src, f).not.toMatch(/import '\.\.\/(ep|ops)[/.]/);
    }
  });
});

/**
 * Host worker 1 of two (one rank each, 512 KiB rings) with the given timeoutMs, its ring to host 0,
 * a 100 kB frame, and its private waitForRoom.
 */
function writerHost(timeoutMs: number) {
  const sync = createSyncBuffers(2, Float64Array.of(Infinity, 2, 2, Infinity), 1 << 19);
  const h = new EngineHost(opRegistry);
  h.handle({
    type: 'init', id: 1, workerIndex: 1, numWorkers: 2, numRanks: 2, gpusPerNode: 1, hardware: ROUND, workerOfRank: [0, 1],
    recordTimeline: false, sync, timeoutMs,
  });
  const s = new SyncBlock(sync);
  const waitForRoom = (h as unknown as { waitForRoom(peer: number, bytes: number): void }).waitForRoom.bind(h);
  return { sync, s, ring: s.ring(1, 0), frame: new Uint8Array(100_000), waitForRoom };
}

describe('EngineHost: waiting for room in a packet ring', () => {
  it('a reader that drained the whole ring between the failed write and the wait does not leave the writer waiting', () => {
    const { ring, frame, waitForRoom } = writerHost(200);
    let written = 0;
    while (ring.tryWrite(frame)) written++;
    expect(written).toBe(5); // 512 KiB holds five frames of 100 kB: the sixth write fails
    // The reader drains everything before the writer starts waiting.
    for (let f = ring.peek(); f !== null; f = ring.peek()) ring.release();
    expect(ring.usedBytes).toBe(0);
    // Before: it waited for the ring to hold less than when the wait began (0 bytes), and failed with E_TIMEOUT.
    expect(() => waitForRoom(0, frame.length)).not.toThrow();
    expect(ring.tryWrite(frame)).toBe(true);
  });

  it('a writer waits past timeoutMs for a reader busy with its window (one long event), then writes; a reader that only waits is named', async () => {
    const { sync, s, ring, frame, waitForRoom } = writerHost(50);
    while (ring.tryWrite(frame));
    // Host 0, the reader, is not busy and nothing moves: after 50 ms the writer names it.
    expect(() => waitForRoom(0, frame.length)).toThrow(/host worker 1: the packet ring to host worker 0 \(ranks 0\) stayed full for 50 ms/);
    // Host 0 is busy (its progress cannot move inside an event); another thread plays its end: 300 ms
    // later, six times the limit, it drains the ring and is no longer busy.
    s.setBusy(0, 1);
    const ringOffset = ringIndex(1, 0, 2) * PacketRing.byteLength(sync.ringBytes);
    const reader = new Worker(
      `const { workerData: w } = require('node:worker_threads');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      const ring = new Int32Array(w.rings, w.ringOffset, 4);
      Atomics.store(ring, ${RING_TAIL}, Atomics.load(ring, ${RING_HEAD}));
      Atomics.store(new Int32Array(w.sync), w.busyIndex, 0);`,
      { eval: true, workerData: { rings: sync.rings, sync: sync.sync, ringOffset, busyIndex: s.busyIndex(0) } },
    );
    try {
      // Before: E_TIMEOUT after 50 ms, "while that worker made no progress".
      expect(() => waitForRoom(0, frame.length)).not.toThrow();
      expect(ring.tryWrite(frame)).toBe(true);
    } finally {
      await reader.terminate();
    }
  });
});
