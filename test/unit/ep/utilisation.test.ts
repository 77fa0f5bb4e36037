/**
 * Utilisation as the sensitivity table measures it (src/ep/utilisation.ts): a port's bytes moved /
 * (capacity x steady-state time), an SM's reserved time split by what bounds it (issue, HBM,
 * bytes in flight), and the binding resource named from them.
 */
import { describe, expect, it } from 'vitest';
import { measureUtilisation } from '../../../src/ep/utilisation.js';
import { BOUND_HBM, BOUND_IN_FLIGHT, BOUND_ISSUE, BOUND_POST, ROLE_NAMES, ROLE_STRIDE, SM_POST, SM_RECV, SM_SEND, smTrack } from '../../../src/ep/sm-clock.js';
import { H800 } from '../../../src/hardware/profile.js';
import { TIMELINE_FIELDS } from '../../../src/sim/timeline.js';
import { PATH_IB, PATH_NVLINK } from '../../../src/transport/protocol.js';

const HW = { ...H800, nvlinkGBps: 100, ibGBps: 50, smIssueGBps: 100, smHbmReadGBps: 200, smHbmWriteGBps: 50 };
const role = ROLE_NAMES.indexOf('RDMASender');

/** Transfers from rank 0 (src) to rank 1: [path, bytes, start, end] each, egress and ingress over the same interval. */
function timeline(xs: Array<[number, number, number, number]>): Float64Array {
  const t = new Float64Array(xs.length * TIMELINE_FIELDS.length);
  xs.forEach(([path, bytes, s, e], i) => {
    const r: Record<string, number> = { dst: 1, src: 0, pairSeq: i, op: 0, path, bytes, issueT: s, egressStartT: s, egressDoneT: e, ingressStartT: s, ingressDoneT: e, deliverT: e };
    TIMELINE_FIELDS.forEach((f, k) => (t[i * TIMELINE_FIELDS.length + k] = r[f]!));
  });
  return t;
}

/** SM slices of rank 0: [track, bound, start, end] each. */
function activities(xs: Array<[number, number, number, number]>): Float64Array {
  return Float64Array.from(xs.flatMap(([track, bound, s, e]) => [s, e, 0, track, role + ROLE_STRIDE * bound]));
}

describe('measured utilisation', () => {
  it('a port carrying a trickle all along is not busy: bytes / (capacity x time), not time with a transfer active', () => {
    // 0..100 us; steady state 10..90. One NIC transfer all along moving 10% of 50 GB/s.
    const tl = timeline([[PATH_IB, 0.1 * 50e3 * 100, 0, 100]]);
    const u = measureUtilisation(tl, new Float64Array(0), 0, HW);
    expect(u.nicOut).toBeCloseTo(0.1, 9);
    expect(u.nicIn).toBe(0);
    expect(u.binding).toBe('flow control');
    // The receiver sees the same share on its ingress.
    expect(measureUtilisation(tl, new Float64Array(0), 1, HW).nicIn).toBeCloseTo(0.1, 9);
  });

  it('a port moving its capacity over the steady state binds; the other port type is idle', () => {
    // Back-to-back NVLink transfers at 100 GB/s, 10 us each.
    const xs: Array<[number, number, number, number]> = [];
    for (let t = 0; t < 100; t += 10) xs.push([PATH_NVLINK, 100e3 * 10, t, t + 10]);
    const u = measureUtilisation(timeline(xs), new Float64Array(0), 0, HW);
    expect(u.nvlinkOut).toBeCloseTo(1, 9);
    expect(u.nicOut).toBe(0);
    expect(u.binding).toBe('NVLink port');
  });

  it("an SM whose copies are bound by its HBM write rate names HBM; its issue share is the write rate over the issue rate", () => {
    // SM busy 95% of 0..100 with HBM-bound copies, another SM with in-flight-bound ones 50%.
    const u = measureUtilisation(new Float64Array(0), activities([
      [smTrack(0, SM_SEND), BOUND_HBM, 0, 95], [smTrack(0, SM_SEND), BOUND_HBM, 95, 100],
      [smTrack(1, SM_RECV), BOUND_IN_FLIGHT, 10, 50],
    ]), 0, HW);
    expect(u.hbm).toBeCloseTo(1, 9);
    expect(u.smIssue).toBeCloseTo(0.5, 9); // min(200, 50) / 100
    expect(u.smInFlight).toBeCloseTo(0.5, 9);
    expect(u.sm).toBeCloseTo(1, 9);
    expect(u.binding).toBe('HBM');
  });

  it('issue-bound slices (reductions) name SM issue; posting-lane slices are the warps\' time, not an SM\'s', () => {
    const u = measureUtilisation(new Float64Array(0), activities([
      [smTrack(0, SM_RECV), BOUND_ISSUE, 0, 100],
      [smTrack(0, SM_POST), BOUND_POST, 0, 200],
    ]), 0, HW);
    // The posting lane is neither an SM nor part of the window (0..100, steady state 10..90).
    expect(u.smIssue).toBeCloseTo(1, 9);
    expect(u.binding).toBe('SM issue');
    const half = measureUtilisation(new Float64Array(0), activities([[smTrack(0, SM_RECV), BOUND_ISSUE, 0, 50], [smTrack(0, SM_SEND), BOUND_ISSUE, 50, 100]]), 0, HW);
    expect(half.smIssue).toBeCloseTo(0.5, 9);
    expect(half.binding).toBe('flow control');
  });
});
