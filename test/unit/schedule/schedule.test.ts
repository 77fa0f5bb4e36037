import { describe, expect, it } from 'vitest';
import { checkStreams } from '../../../src/actors/stream-machine.js';
import { buildSchedule, streamSpecs, twoBatchOverlapSchedule } from '../../../src/schedule/schedule.js';
import { simulatedFigures, stepFigures } from '../../../src/schedule/figures.js';
import type { ScheduledKernelRun } from '../../../src/schedule/run-schedule.js';
import { expectError } from '../cluster/helpers.js';

const order = (s: ReturnType<typeof buildSchedule>, stream: number) => s.kernels.filter((k) => k.stream === stream).map((k) => k.id);

describe('schedules as data', () => {
  it("two-batch overlap follows DeepSeek's prefill profile order on 108 + 24 SMs", () => {
    const s = twoBatchOverlapSchedule(2, 132, 24);
    expect(s.streams).toEqual([{ name: 'compute', sms: 108 }, { name: 'comm', sms: 24 }]);
    // Compute: ATTN(mb1), SHARED(mb0), ATTN(mb0), MLP(mb1), MLP(mb0), SHARED(mb1) (the gate after each ATTN).
    expect(order(s, 0)).toEqual([
      'L0.mb1.attn', 'L0.mb1.gate', 'L0.mb0.attn', 'L0.mb0.gate', 'L0.mb1.experts', 'L0.mb0.experts', 'L0.mb1.shared',
      'L1.mb1.attn', 'L1.mb1.gate', 'L0.mb0.shared', 'L1.mb0.attn', 'L1.mb0.gate', 'L1.mb1.experts', 'L1.mb0.experts', 'L1.mb1.shared',
      'L1.mb0.shared',
    ]);
    // Communication: COMBINE(mb0), DISPATCH(mb1), DISPATCH(mb0), COMBINE(mb1).
    expect(order(s, 1)).toEqual([
      'L0.mb1.dispatch', 'L0.mb0.dispatch', 'L0.mb1.combine',
      'L0.mb0.combine', 'L1.mb1.dispatch', 'L1.mb0.dispatch', 'L1.mb1.combine',
      'L1.mb0.combine',
    ]);
    const k = (id: string) => s.kernels.find((x) => x.id === id)!;
    expect(k('L1.mb0.attn').waits).toEqual(['L0.mb0.combine', 'L0.mb0.shared']);
    expect(k('L1.mb1.experts').waits).toEqual(['L1.mb1.dispatch']);
    expect(() => checkStreams({ rank: 0, smCount: 132, streams: streamSpecs(s) })).not.toThrow();
  });

  it('serial runs one stream on every SM, one kernel after another', () => {
    const s = buildSchedule('serial', 1, 132, 24);
    expect(s.streams).toEqual([{ name: 'gpu', sms: 132 }]);
    expect(order(s, 0)).toEqual(['L0.mb0.attn', 'L0.mb0.gate', 'L0.mb0.dispatch', 'L0.mb0.experts', 'L0.mb0.shared', 'L0.mb0.combine']);
  });

  it('rejects a communication partition that leaves no compute SMs, and zero layers', () => {
    expectError(() => buildSchedule('two-batch-overlap', 2, 132, 132), 'E_CONFIG', 'schedule.commSms', '132');
    expectError(() => buildSchedule('serial', 0, 132, 24), 'E_CONFIG', 'schedule.layers');
  });
});

describe('schedule figures', () => {
  const s = twoBatchOverlapSchedule(1, 132, 24);
  const run = (rank: number, id: string, startUs: number, endUs: number): ScheduledKernelRun => {
    const k = s.kernels.find((x) => x.id === id)!;
    return { rank, id, stream: k.stream, kind: k.kind, layer: k.layer, mb: k.mb, startUs, endUs };
  };
  it('exposed communication is the communication no compute of the same rank overlaps', () => {
    const ks = [
      run(0, 'L0.mb1.attn', 0, 100),
      run(0, 'L0.mb1.dispatch', 100, 150), // overlapped 100..130 by mb0.attn
      run(0, 'L0.mb0.attn', 100, 130),
      run(0, 'L0.mb0.dispatch', 150, 170), // exposed: no compute
      run(1, 'L0.mb1.combine', 0, 40), // rank 1: fully under its experts
      run(1, 'L0.mb1.experts', 0, 60),
    ];
    const f = simulatedFigures(s, ks, 2, 0, 200);
    // rank 0: comm 70, exposed 20 + 20; rank 1: comm 40, exposed 0. Means over 2 ranks.
    expect(f.commUs).toBe(55);
    expect(f.exposedCommUs).toBe(20);
    expect(f.exposedCommUsPerMb).toEqual([10, 10]);
    expect(f.smBusyShare).toEqual({ compute: (130 + 60) / 2 / 200, comm: (70 + 40) / 2 / 200 });
    expect(f.layerUs).toBe(200);
  });

  it('scales to 58 MoE + 3 dense layers; input throughput counts the cache hits (342 of 608)', () => {
    const sim = { layers: 2, makespanUs: 0, layerUs: 1000, commUs: 800, exposedCommUs: 200, exposedCommUsPerMb: [], smBusyShare: {} };
    const f = stepFigures(sim, 500, 16384, 8);
    expect(f.stepUs).toBe(58 * 1000 + 3 * 500);
    expect(f.commUs).toBe(400 * 58);
    expect(f.exposedCommUs).toBe(100 * 58);
    expect(f.hiddenShare).toBe(0.75);
    expect(f.throughputPerNode.computedTokensPerSec).toBeCloseTo((16384 * 8) / 0.0595, 6);
    expect(f.throughputPerNode.inputTokensPerSec).toBeCloseTo((16384 * 8) / 0.0595 / (266 / 608), 6);
  });
});
