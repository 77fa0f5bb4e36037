import { describe, expect, it } from 'vitest';
import { layoutFromPhy2log } from '../../../src/balancer/layout.js';
import type { PhaseRun } from '../../../src/scenario/moe-steps.js';
import type { MoePlan } from '../../../src/scenario/plan.js';
import { deepepBandwidth } from '../../../src/scenario/result.js';
import { PHASE } from '../../../src/scenario/moe-steps.js';
import { PLAN } from '../../../src/scenario/plan.js';
import { stamp } from '../../../src/validate.js';

// Hand-made plans and phases, marked as the library's own (deepepBandwidth checks that).
const made = <T extends object>(v: T, kind: string): T => stamp(v, kind);

/**
 * 2 nodes x 2 GPUs, one expert per GPU, top-2. Rank 0's tokens: t0 -> experts 0 and 2 (nodes 0 and 1),
 * t1 -> 1 and 0 (node 0), t2 -> 2 and 3 (node 1): 4 (token, node) pairs, DeepEP's
 * num_tokens_per_rdma_rank summed. Rank 0 receives 2 + 3 + 0 + 1 = 6 tokens.
 */
const plan = made({
  scenario: { model: { topk: 2, hidden: 128, dispatchFormat: 'fp8' } },
  numRanks: 4, gpusPerNode: 2, numNodes: 2,
  layout: layoutFromPhy2log([0, 1, 2, 3], 4, 4, 2),
  steps: [{
    slots: [Int32Array.from([0, 2, 1, 0, 2, 3]), new Int32Array(0), new Int32Array(0), new Int32Array(0)],
    sendTokens: Int32Array.from([2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
  }],
} as unknown as MoePlan, PLAN);
const phase = (name: 'dispatch' | 'combine', us: number[]) => made({ phase: name, step: 1, kernelRankUs: us } as unknown as PhaseRun, PHASE);

describe('DeepEP-style bandwidth of a run (as bench deepep counts it)', () => {
  it('rank 0: (token, node) pairs and received tokens x row bytes over its own kernel time', () => {
    const d = deepepBandwidth(plan, [phase('dispatch', [2, 9, 9, 9]), phase('combine', [4, 1, 1, 1])]);
    // FP8 row: 128 x (1 + 4/128) = 132 bytes; BF16 row: 256 bytes.
    expect(d.dispatch!.rdmaGBps).toBeCloseTo((4 * 132) / 2 / 1e3, 12);
    expect(d.dispatch!.nvlGBps).toBeCloseTo((6 * 132) / 2 / 1e3, 12);
    expect(d.combine!.rdmaGBps).toBeCloseTo((4 * 256) / 4 / 1e3, 12);
    expect(d.combine!.nvlGBps).toBeCloseTo((6 * 256) / 4 / 1e3, 12);
    expect(d.dispatch).toMatchObject({ rank: 0, kernelUs: 2 });
  });

  it('no RDMA figure on one node; null without per-rank kernel times', () => {
    const one = made({ ...plan, numNodes: 1, gpusPerNode: 4 } as MoePlan, PLAN);
    expect(deepepBandwidth(one, [phase('dispatch', [2, 1, 1, 1])]).dispatch!.rdmaGBps).toBeNull();
    expect(deepepBandwidth(plan, [made({ phase: 'dispatch', step: 1 } as unknown as PhaseRun, PHASE)]).dispatch).toBeNull();
  });
});
