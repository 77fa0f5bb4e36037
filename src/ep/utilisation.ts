/**
 * @module
 * Which resource binds a kernel, from measured utilisation: the busy fraction of one rank's SMs
 * (the reservations on their clocks: issue, per-SM HBM rates and bytes in flight), its NVLink and
 * NIC ports (egress and ingress, from the transfers' timeline) over the kernel's steady state (the
 * middle 80% of the rank's activity). A resource at >= 90% binds; when none does, the kernel is
 * waiting on flow control (a ring full, a head not yet returned) or on latency.
 */
import { ACTIVITY_STRIDE, TIMELINE_FIELDS, TIMELINE_STRIDE } from '../sim/timeline.js';
import { PATH_IB, PATH_NVLINK } from '../transport/protocol.js';

export interface Utilisation {
  /** Busiest SM of the rank. */
  sm: number;
  nvlinkOut: number;
  nvlinkIn: number;
  nicOut: number;
  nicIn: number;
  /** The resource >= 90% busy (the busiest one), or 'flow control' when none is. */
  binding: 'SM' | 'NVLink port' | 'NIC' | 'flow control';
}

const F = Object.fromEntries(TIMELINE_FIELDS.map((f, i) => [f, i])) as Record<(typeof TIMELINE_FIELDS)[number], number>;

/** Busy fraction of [lo, hi) covered by the union of intervals. */
function covered(iv: Array<[number, number]>, lo: number, hi: number): number {
  iv.sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let end = lo;
  for (const [s0, e0] of iv) {
    const s = Math.max(s0, end);
    const e = Math.min(e0, hi);
    if (e > s) busy += e - s;
    if (e0 > end) end = Math.min(Math.max(end, e0), hi);
  }
  return hi > lo ? busy / (hi - lo) : 0;
}

/** Utilisation of `rank` from a canonical timeline and activity log of one kernel. */
export function measureUtilisation(timeline: Float64Array, activities: Float64Array, rank: number): Utilisation {
  const sms = new Map<number, Array<[number, number]>>();
  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < activities.length; i += ACTIVITY_STRIDE) {
    if (activities[i + 2] !== rank) continue;
    const tr = activities[i + 3]!;
    if (!sms.has(tr)) sms.set(tr, []);
    sms.get(tr)!.push([activities[i]!, activities[i + 1]!]);
  }
  const ports: Array<Array<[number, number]>> = [[], [], [], []];
  for (let i = 0; i < timeline.length; i += TIMELINE_STRIDE) {
    const path = timeline[i + F.path]!;
    if (path !== PATH_NVLINK && path !== PATH_IB) continue;
    const k = path === PATH_NVLINK ? 0 : 2;
    if (timeline[i + F.src] === rank) ports[k]!.push([timeline[i + F.egressStartT]!, timeline[i + F.egressDoneT]!]);
    if (timeline[i + F.dst] === rank) ports[k + 1]!.push([timeline[i + F.ingressStartT]!, timeline[i + F.ingressDoneT]!]);
  }
  for (const list of [...sms.values(), ...ports])
    for (const [s, e] of list) {
      if (s < t0) t0 = s;
      if (e > t1) t1 = e;
    }
  const lo = t0 + 0.1 * (t1 - t0);
  const hi = t1 - 0.1 * (t1 - t0);
  let sm = 0;
  for (const iv of sms.values()) sm = Math.max(sm, covered(iv, lo, hi));
  const [nvlinkOut, nvlinkIn, nicOut, nicIn] = ports.map((p) => covered(p, lo, hi)) as [number, number, number, number];
  const cand: Array<[Utilisation['binding'], number]> = [['SM', sm], ['NVLink port', Math.max(nvlinkOut, nvlinkIn)], ['NIC', Math.max(nicOut, nicIn)]];
  cand.sort((a, b) => b[1] - a[1]);
  return { sm, nvlinkOut, nvlinkIn, nicOut, nicIn, binding: cand[0]![1] >= 0.9 ? cand[0]![0] : 'flow control' };
}
