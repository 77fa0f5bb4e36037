/**
 * @module
 * Which resource binds a kernel, from measured utilisation of one rank over the kernel's steady
 * state (the middle 80% of the rank's activity):
 * - each link port (NVLink and NIC, egress and ingress): bytes moved / (capacity x time), a
 *   transfer's bytes spread evenly over its time at the port; a port carrying a trickle is not busy;
 * - each SM: the share of its time reserved on its clock, split by what bounds each reservation
 *   (see sm-clock.ts): its issue slots (copies' and reductions' instructions), its HBM read/write
 *   rates (DeepEP V2's per-SM figures), or its bytes in flight (memory-level parallelism over the
 *   destination's latency). A copy bound by its HBM write rate uses `rate / smIssueGBps` of the
 *   issue slots, and that is what counts as issue.
 * The resource >= 90% used binds (the most used one); when none is, the kernel waits on flow control
 * (a ring full, a head not yet returned) or on latency.
 */
import type { HardwareProfile } from '../hardware/profile.js';
import { ACTIVITY_STRIDE, LINK_PORT_TRACK, TIMELINE_FIELDS, TIMELINE_STRIDE } from '../sim/timeline.js';
import { PATH_IB, PATH_NVLINK } from '../transport/protocol.js';
import { activityBound, BOUND_HBM, BOUND_IN_FLIGHT, BOUND_ISSUE, SM_NAMES, SM_POST } from './sm-clock.js';

export type BindingResource = 'SM issue' | 'HBM' | 'SM bytes in flight' | 'NVLink port' | 'NIC' | 'flow control';

export interface Utilisation {
  /** Busiest SM of the rank: the share of its time reserved on its clock, whatever bounds it. */
  sm: number;
  /** Busiest SM's issue slots: instructions of its copies and reductions / its issue capacity. */
  smIssue: number;
  /** Busiest SM's HBM read/write rates (per-SM, DeepEP V2's figures): time bound by them / time. */
  hbm: number;
  /** Busiest SM's bytes in flight: time bound by memory-level parallelism / time. */
  smInFlight: number;
  /** Link ports: bytes moved / (capacity x time). */
  nvlinkOut: number;
  nvlinkIn: number;
  nicOut: number;
  nicIn: number;
  /** The resource >= 90% used (the most used one), or 'flow control' when none is. */
  binding: BindingResource;
}

const F = Object.fromEntries(TIMELINE_FIELDS.map((f, i) => [f, i])) as Record<(typeof TIMELINE_FIELDS)[number], number>;

/** Length of [s, e) inside [lo, hi). */
const overlap = (s: number, e: number, lo: number, hi: number) => Math.max(0, Math.min(e, hi) - Math.max(s, lo));

/** Utilisation of `rank` on `hw` from a canonical timeline and activity log of one kernel. */
export function measureUtilisation(timeline: Float64Array, activities: Float64Array, rank: number, hw: HardwareProfile): Utilisation {
  let t0 = Infinity;
  let t1 = -Infinity;
  const span = (s: number, e: number) => {
    if (s < t0) t0 = s;
    if (e > t1) t1 = e;
  };
  // SM reservations on the rank's SM tracks (the posting lanes are the warps' own time, not an SM's).
  const smActs: number[] = [];
  for (let i = 0; i < activities.length; i += ACTIVITY_STRIDE) {
    const tr = activities[i + 3]!;
    if (activities[i + 2] !== rank || tr >= LINK_PORT_TRACK || tr % SM_NAMES.length === SM_POST) continue;
    smActs.push(i);
    span(activities[i]!, activities[i + 1]!);
  }
  const xfers: number[] = [];
  for (let i = 0; i < timeline.length; i += TIMELINE_STRIDE) {
    const path = timeline[i + F.path]!;
    if (path !== PATH_NVLINK && path !== PATH_IB) continue;
    if (timeline[i + F.src] === rank) span(timeline[i + F.egressStartT]!, timeline[i + F.egressDoneT]!);
    else if (timeline[i + F.dst] === rank) span(timeline[i + F.ingressStartT]!, timeline[i + F.ingressDoneT]!);
    else continue;
    xfers.push(i);
  }
  const lo = t0 + 0.1 * (t1 - t0);
  const hi = t1 - 0.1 * (t1 - t0);
  const T = hi - lo;
  if (!(T > 0)) return { sm: 0, smIssue: 0, hbm: 0, smInFlight: 0, nvlinkOut: 0, nvlinkIn: 0, nicOut: 0, nicIn: 0, binding: 'flow control' };
  // Per SM track: reserved time by bound, and issue time (a rate-bound copy's bytes at the issue rate).
  const perSm = new Map<number, { all: number; issue: number; hbm: number; inFlight: number }>();
  const rateRatio = Math.min(hw.smHbmReadGBps, hw.smHbmWriteGBps) / hw.smIssueGBps;
  for (const i of smActs) {
    const d = overlap(activities[i]!, activities[i + 1]!, lo, hi);
    if (d <= 0) continue;
    const tr = activities[i + 3]!;
    let u = perSm.get(tr);
    if (!u) perSm.set(tr, (u = { all: 0, issue: 0, hbm: 0, inFlight: 0 }));
    u.all += d;
    const b = activityBound(activities[i + 4]!);
    if (b === BOUND_ISSUE) u.issue += d;
    else if (b === BOUND_HBM) {
      u.hbm += d;
      u.issue += d * rateRatio;
    } else if (b === BOUND_IN_FLIGHT) u.inFlight += d;
  }
  let sm = 0, smIssue = 0, hbm = 0, smInFlight = 0;
  for (const u of perSm.values()) {
    sm = Math.max(sm, u.all / T);
    smIssue = Math.max(smIssue, u.issue / T);
    hbm = Math.max(hbm, u.hbm / T);
    smInFlight = Math.max(smInFlight, u.inFlight / T);
  }
  // Ports: bytes in the window / (capacity x window).
  const bytes = new Float64Array(4);
  for (const i of xfers) {
    const k = timeline[i + F.path] === PATH_NVLINK ? 0 : 2;
    const b = timeline[i + F.bytes]!;
    const at = (s: number, e: number) => (e > s ? (b * overlap(s, e, lo, hi)) / (e - s) : s >= lo && s < hi ? b : 0);
    if (timeline[i + F.src] === rank) bytes[k]! += at(timeline[i + F.egressStartT]!, timeline[i + F.egressDoneT]!);
    if (timeline[i + F.dst] === rank) bytes[k + 1]! += at(timeline[i + F.ingressStartT]!, timeline[i + F.ingressDoneT]!);
  }
  const nvl = hw.nvlinkGBps * 1e3 * T;
  const nic = hw.ibGBps * 1e3 * T;
  const [nvlinkOut, nvlinkIn, nicOut, nicIn] = [bytes[0]! / nvl, bytes[1]! / nvl, bytes[2]! / nic, bytes[3]! / nic];
  const cand: Array<[BindingResource, number]> = [
    ['SM issue', smIssue], ['HBM', hbm], ['SM bytes in flight', smInFlight],
    ['NVLink port', Math.max(nvlinkOut, nvlinkIn)], ['NIC', Math.max(nicOut, nicIn)],
  ];
  cand.sort((a, b) => b[1] - a[1]);
  return { sm, smIssue, hbm, smInFlight, nvlinkOut, nvlinkIn, nicOut, nicIn, binding: cand[0]![1] >= 0.9 ? cand[0]![0] : 'flow control' };
}
