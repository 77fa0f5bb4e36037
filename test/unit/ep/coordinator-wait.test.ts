/**
 * The internode dispatch's ForwarderCoordinator waits for one forwarder's progress per source node;
 * the forwarder that reaches it rings the coordinator's bell. Literal layouts: the wait record of a
 * channel, which progress rings, and the bell's place in the local counters.
 */
import { describe, expect, it } from 'vitest';
import { InternodeLayout, LW_WAITING, lagMet, lagOf, lagTarget, lagWaitFor } from '../../../src/ep/normal/internode-dispatch-op.js';

describe('ForwarderCoordinator wait', () => {
  it('starts not waiting, with no forwarder waited for on any source node', () => {
    expect([...lagWaitFor(3)]).toEqual([0, -1, 0, -1, 0, -1, 0]);
    expect([LW_WAITING, lagOf(0), lagTarget(0), lagOf(2), lagTarget(2)]).toEqual([0, 1, 2, 5, 6]);
  });

  it('rings only for the waited-for forwarder of that node, at or past its target, while the coordinator waits', () => {
    // Waiting; node 1: forwarder 3 up to 8; node 0 not waited for.
    const lw = Int32Array.from([1, -1, 0, 3, 8]);
    expect(lagMet(lw, 1, 3, 8)).toBe(true);
    expect(lagMet(lw, 1, 3, 9)).toBe(true);
    expect(lagMet(lw, 1, 3, 7)).toBe(false);
    expect(lagMet(lw, 1, 2, 9)).toBe(false);
    expect(lagMet(lw, 0, 3, 9)).toBe(false);
    expect(lagMet(Int32Array.from([0, -1, 0, 3, 8]), 1, 3, 9)).toBe(false);
  });

  it("puts channel c's bell after the staged counts and the forwarders' progress (the local region's last C counters)", () => {
    // C = 2 channels, N = 4 nodes, G = 8 GPUs: 8 staged counts, 64 progress counters, then 2 bells.
    const L = new InternodeLayout(2, 4, 8, 4, 8, 1);
    expect(L.progress(1, 3, 7)).toBe(71);
    expect([L.coordinatorBell(0), L.coordinatorBell(1)]).toEqual([72, 73]);
  });
});
