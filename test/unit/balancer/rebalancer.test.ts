import { describe, expect, it } from 'vitest';
import { ExpertLoadRecorder, PeriodicRebalancer, rebalanceExperts, weightMoveCost } from '../../../src/balancer/index.js';
import { expectError } from '../routing/expect-error.js';

describe('ExpertLoadRecorder', () => {
  it('sums the last windowSteps closed steps', () => {
    const rec = new ExpertLoadRecorder(2, 3, 2);
    rec.recordStep([[1, 0, 0], [0, 0, 1]]);
    rec.recordStep([[2, 0, 0], [0, 1, 0]]);
    expect(rec.window()).toEqual([[3, 0, 0], [0, 1, 1]]);
    rec.recordTopk(0, [[0, 2], [2, -1]]);
    expect(rec.window()).toEqual([[3, 0, 0], [0, 1, 1]]); // open step not counted yet
    rec.endStep();
    expect(rec.window()).toEqual([[3, 0, 2], [0, 1, 0]]); // steps 2 and 3
    expect(rec.steps).toBe(2);
  });

  it('rejects bad layers, lengths, ids and loads', () => {
    const rec = new ExpertLoadRecorder(1, 2, 1);
    expectError(() => rec.record(1, [0, 0]), 'E_ARGUMENT', 'layer 1');
    expectError(() => rec.record(0, [0]), 'E_ARGUMENT', 'expertTokens', 'length 1');
    expectError(() => rec.record(0, [0, -1]), 'E_NUMERIC', 'expertTokens[1]');
    expectError(() => rec.recordTopk(0, [[5]]), 'E_ARGUMENT', 'topkIdx holds 5');
    expectError(() => new ExpertLoadRecorder(1, 2, 0), 'E_ARGUMENT', 'windowSteps');
  });
});

describe('weightMoveCost', () => {
  it('reports network copies, local copies and per-GPU bytes', () => {
    // 2 nodes x 2 GPUs, 2 slots per GPU.
    const old = [[0, 1, 2, 3, 4, 5, 6, 7]];
    const next = [[0, 0, 2, 1, 4, 5, 6, 0]];
    const c = weightMoveCost(old, next, 4, 2, 100);
    expect(c.localCopies).toBe(1); // slot 1: GPU 0 already held expert 0
    expect(c.moves).toEqual([
      { layer: 0, slot: 3, expert: 1, fromGpu: 0, toGpu: 1, interNode: false },
      { layer: 0, slot: 7, expert: 0, fromGpu: 0, toGpu: 3, interNode: true },
    ]);
    expect([c.totalBytes, c.interNodeBytes, c.maxSendBytes, c.maxRecvBytes]).toEqual([200, 100, 200, 100]);
    expect(c.sendBytes).toEqual([200, 0, 0, 0]);
  });

  it('counts a second slot of the same expert on one GPU as a local copy', () => {
    const c = weightMoveCost([[0, 1, 2, 3]], [[0, 1, 0, 0]], 2, 1, 10);
    expect([c.moves.length, c.localCopies]).toEqual([1, 1]);
    expectError(() => weightMoveCost([[0, 1]], [[0, 1], [0, 1]], 1, 1, 1), 'E_ARGUMENT', 'newPhy2log');
    expectError(() => weightMoveCost([[0, 1]], [[0, 9]], 1, 1, 1), 'E_ARGUMENT', 'expert 9');
  });
});

describe('PeriodicRebalancer', () => {
  const options = { numLayers: 1, numExperts: 4, numReplicas: 6, numGroups: 1, numNodes: 1, numGpus: 2, intervalSteps: 2, bytesPerExpert: 1e6 };

  it('re-plans every intervalSteps from the window and reports the move cost', () => {
    const rb = new PeriodicRebalancer(options);
    expect(rb.plan).toEqual(rebalanceExperts([[1, 1, 1, 1]], 6, 1, 1, 2));
    expect(rb.step([[9, 1, 1, 1]])).toBeUndefined();
    const ev = rb.step([[9, 1, 1, 1]])!;
    expect(ev.step).toBe(2);
    expect(ev.plan).toEqual(rebalanceExperts([[18, 2, 2, 2]], 6, 1, 1, 2));
    expect(ev.plan.logcnt[0]![0]).toBe(3);
    expect(ev.cost.totalBytes).toBe(ev.cost.moves.length * 1e6);
    expect(rb.plan).toBe(ev.plan);
    // Same load again: the next plan is the same, nothing moves.
    rb.step([[9, 1, 1, 1]]);
    expect(rb.step([[9, 1, 1, 1]])!.cost.totalBytes).toBe(0);
  });

  it('re-plans on demand and validates its options', () => {
    const rb = new PeriodicRebalancer({ ...options, initialWeight: [[0, 0, 0, 5]] });
    expect(rb.rebalanceNow().cost.totalBytes).toBe(0); // nothing recorded: plan kept
    rb.recorder.record(0, [5, 0, 0, 0]);
    rb.recorder.endStep();
    expect(rb.rebalanceNow().plan.logcnt).toEqual([[3, 1, 1, 1]]);
    expectError(() => new PeriodicRebalancer({ ...options, intervalSteps: 0 }), 'E_ARGUMENT', 'intervalSteps');
    expectError(() => new PeriodicRebalancer({ ...options, initialWeight: [] }), 'E_ARGUMENT', 'initialWeight');
  });
});
