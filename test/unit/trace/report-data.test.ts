import { describe, expect, it } from 'vitest';
import { reportPlots, reportRowsFromTrace } from '../../../src/report/index.js';
import { TraceBuilder, type TraceEvent, type TracePhase } from '../../../src/trace/index.js';
import { PATH_NVLINK } from '../../../src/transport/protocol.js';

const rec = (src: number, dst: number, t: number, dur: number) => ({
  dst, src, pairSeq: 0, op: 0, path: PATH_NVLINK, bytes: 1000,
  issueT: t, egressStartT: t, egressDoneT: t + dur, ingressStartT: t + 1, ingressDoneT: t + dur + 1, deliverT: t + dur + 1,
});

describe('report rows from a trace', () => {
  it('reads phase bars per rank (1-based steps), the cluster utilisation, ring sums and loads', () => {
    const b = new TraceBuilder(2, 2);
    const dispatch: TracePhase = {
      step: 1, phase: 'dispatch', startUs: 0, endUs: 10, records: [rec(0, 1, 0, 4)],
      // ring tokens: rank 0 +5 at t=1, rank 1 +3 at t=2, rank 0 -5 at t=6 (time, rank, series, delta)
      samples: Float64Array.from([1, 0, 0, 5, 2, 1, 0, 3, 6, 0, 0, -5]),
    };
    const experts: TracePhase = { step: 1, phase: 'experts', startUs: 10, endUs: 20, records: [], compute: [[10, 20], [10, 15]] };
    const events: TraceEvent[] = [...b.phase(dispatch), ...b.phase(experts)];
    const loads = { experts: [[3, 1]], gpuBefore: [[3, 1]], gpuAfter: null };
    const rows = reportRowsFromTrace({ traceEvents: events, otherData: { stepBase: 1, loads } });
    expect(rows.phases.filter((p) => p.phase === 'experts')).toEqual([
      { rank: 0, node: 0, step: 1, phase: 'experts', startUs: 10, endUs: 20 },
      { rank: 1, node: 0, step: 1, phase: 'experts', startUs: 10, endUs: 15 },
    ]);
    // NVLink: rank 0's out port busy [0,4], rank 1's in port [1,5] over 4 ports: 8 / (4 x 10 us) = 20%.
    const nvl = rows.utilisation.filter((u) => u.series === 'NVLink');
    expect(nvl.slice(0, -1).reduce((a, u) => a + u.percent, 0) / (nvl.length - 1)).toBeCloseTo(20, 6);
    expect(rows.rings.map((r) => [r.tUs, r.tokens])).toEqual([[1, 5], [2, 8], [6, 3]]);
    expect(rows.loads).toEqual(loads);
    expect(reportPlots({ title: '', subtitle: '', summary: [], ...rows, smSweep: [], kernels: [] }).map((p) => p.id))
      .toEqual(['phase-timeline', 'expert-load', 'gpu-load', 'utilisation', 'ring-occupancy']);
  });

  it('older traces: 0-based steps and the rank from the compute thread id', () => {
    const ev: TraceEvent[] = [{ ph: 'X', cat: 'phase', name: 'combine', pid: 1, tid: 3 * 65, ts: 5, dur: 2, args: { step: 0, phase: 'combine' } }];
    expect(reportRowsFromTrace({ traceEvents: ev, otherData: {} }).phases).toEqual([{ rank: 3, node: 1, step: 1, phase: 'combine', startUs: 5, endUs: 7 }]);
  });
});
