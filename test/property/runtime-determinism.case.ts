/**
 * The runtime's determinism, causality, bandwidth and FIFO properties over random small clusters
 * and random traffic. Shared by the in-process property test and its worker-thread variant.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { createCluster } from '../../src/cluster/cluster.js';
import type { HostTransportKind } from '../../src/actors/host-channel.js';
import type { RankSnapshot } from '../../src/actors/gpu-machine.js';
import { runTraffic, type TrafficResult, type TrafficTransfer } from '../../src/ep/traffic.js';
import { H800 } from '../../src/hardware/profile.js';
import type { TimelineRecord } from '../../src/sim/timeline.js';
import { LinkModel } from '../../src/transport/links.js';
import { CONTROL_MESSAGE_BYTES, PATH_LOCAL } from '../../src/transport/protocol.js';

export interface Scenario {
  nodes: number;
  gpus: number;
  /** Two rounds of traffic, run one after the other on the same cluster. */
  rounds: TrafficTransfer[][];
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ nodes: fc.integer({ min: 1, max: 3 }), gpus: fc.integer({ min: 1, max: 4 }) })
  .chain(({ nodes, gpus }) => {
    const rank = fc.integer({ min: 0, max: nodes * gpus - 1 });
    const transfer = fc.record({
      src: rank,
      dst: rank,
      bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300_000 })),
      atUs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 20, noNaN: true })),
    });
    return fc.record({
      nodes: fc.constant(nodes),
      gpus: fc.constant(gpus),
      rounds: fc.array(fc.array(transfer, { maxLength: 12 }), { minLength: 1, maxLength: 2 }),
    });
  });

export async function runScenario(s: Scenario, workers: number, transport: HostTransportKind): Promise<TrafficResult[] & { states: Array<RankSnapshot & { round: number }> }> {
  const c = await createCluster({ nodes: s.nodes, gpusPerNode: s.gpus, hardware: H800, workers, transport });
  // The ranks' state changes (busy, idle) in the order the hosts' replies brought them, by round.
  const states: Array<RankSnapshot & { round: number }> = [];
  let round = 0;
  c.on('rankState', (st) => states.push({ ...st, round }));
  try {
    const out: TrafficResult[] = [];
    for (const r of s.rounds) {
      out.push(await runTraffic(c, r));
      round++;
    }
    return Object.assign(out, { states });
  } finally {
    await c.close();
  }
}

const EPS = 1e-9;
const links = (gpus: number) => new LinkModel(H800, gpus);

/** Causality, per-port bandwidth and per-pair FIFO of one result. */
export function checkPhysics(res: TrafficResult, gpus: number): void {
  const L = links(gpus);
  const rs = res.records;
  const tol = (x: number) => EPS * Math.max(1, Math.abs(x));
  for (const r of rs) {
    const lat = L.latencyUs[r.path]!;
    expect(r.path).toBe(L.path(r.src, r.dst));
    expect(r.deliverT).toBeGreaterThanOrEqual(r.issueT + lat - tol(r.deliverT));
    expect(r.egressStartT).toBeGreaterThanOrEqual(r.issueT);
    expect(r.ingressStartT).toBeGreaterThanOrEqual(r.egressStartT + lat - tol(r.ingressStartT));
    expect(r.deliverT).toBeGreaterThanOrEqual(r.egressDoneT + lat - tol(r.deliverT));
    expect(r.deliverT).toBeGreaterThanOrEqual(r.ingressDoneT);
    if (r.path !== PATH_LOCAL) {
      const bw = L.bytesPerUs[r.path]!;
      expect(r.egressDoneT - r.egressStartT).toBeGreaterThanOrEqual(r.bytes / bw - tol(r.egressDoneT));
      expect(r.ingressDoneT - r.ingressStartT).toBeGreaterThanOrEqual(r.bytes / bw - tol(r.ingressDoneT));
    }
  }
  // No port carries more than its bandwidth over any interval formed from its record times. Control
  // messages (at most CONTROL_MESSAGE_BYTES: one packet) take no share of a port: their packets go
  // between the bulk flows' (docs/hardware.md, "Control messages").
  const ports = new Map<string, Array<{ s: number; e: number; bytes: number; bw: number }>>();
  const add = (key: string, s: number, e: number, r: TimelineRecord) => {
    let l = ports.get(key);
    if (!l) ports.set(key, (l = []));
    l.push({ s, e, bytes: r.bytes, bw: L.bytesPerUs[r.path]! });
  };
  for (const r of rs) {
    if (r.path === PATH_LOCAL || r.bytes <= CONTROL_MESSAGE_BYTES) continue;
    add(`out ${r.src} ${r.path}`, r.egressStartT, r.egressDoneT, r);
    add(`in ${r.dst} ${r.path}`, r.ingressStartT, r.ingressDoneT, r);
  }
  for (const [port, jobs] of ports) {
    const times = [...new Set(jobs.flatMap((j) => [j.s, j.e]))].sort((a, b) => a - b);
    for (let i = 0; i < times.length; i++)
      for (let k = i; k < times.length; k++) {
        const a = times[i]!, b = times[k]!;
        const carried = jobs.reduce((sum, j) => (j.s >= a && j.e <= b ? sum + j.bytes : sum), 0);
        const cap = jobs[0]!.bw * (b - a) * (1 + EPS) + 1e-6;
        if (carried > cap) expect.fail(`port ${port} carried ${carried} B in [${a}, ${b}] > ${cap} B`);
      }
  }
  // Completion: no earlier than the busiest port allows (from its first issue, plus one latency), no
  // later than every transfer one after the other, each alone on idle links.
  let bound = 0;
  let serial = 0;
  const portLoad = new Map<string, { first: number; bytes: number; bw: number; lat: number }>();
  for (const r of rs) {
    const bw = L.bytesPerUs[r.path]!;
    const lat = L.latencyUs[r.path]!;
    serial += lat + r.bytes / bw;
    bound = Math.max(bound, r.issueT + lat + r.bytes / bw);
    if (r.path === PATH_LOCAL || r.bytes <= CONTROL_MESSAGE_BYTES) continue;
    for (const key of [`out ${r.src} ${r.path}`, `in ${r.dst} ${r.path}`]) {
      const p = portLoad.get(key) ?? { first: Infinity, bytes: 0, bw, lat };
      p.first = Math.min(p.first, r.issueT);
      p.bytes += r.bytes;
      portLoad.set(key, p);
    }
  }
  for (const p of portLoad.values()) bound = Math.max(bound, p.first + p.lat + p.bytes / p.bw);
  const lastIssue = rs.reduce((m, r) => Math.max(m, r.issueT), 0);
  const lastDeliver = rs.reduce((m, r) => Math.max(m, r.deliverT), 0);
  expect(lastDeliver).toBeGreaterThanOrEqual(bound - tol(bound));
  expect(lastDeliver).toBeLessThanOrEqual(lastIssue + serial + tol(lastIssue + serial));
  // No sender port ever sends faster than its capacity: sum the rate segments alive at each start.
  const segs = new Map<string, Array<{ s: number; e: number; r: number; bw: number }>>();
  for (const g of res.rates) {
    const path = L.path(g.src, g.dst);
    const key = `${g.src} ${path}`;
    segs.set(key, [...(segs.get(key) ?? []), { s: g.startUs, e: g.endUs, r: g.GBps * 1e3, bw: L.bytesPerUs[path]! }]);
  }
  for (const [port, l] of segs)
    for (const a of l) {
      const load = l.reduce((sum, b) => (b.s <= a.s && b.e > a.s ? sum + b.r : sum), 0);
      if (load > a.bw * (1 + 1e-9)) expect.fail(`sender port ${port} sends ${load} B/us at ${a.s} us > ${a.bw}`);
    }
  // ... and no port is busy for less time than its bytes need.
  for (const p of res.ports) {
    const bw = L.bytesPerUs[p.port.startsWith('nvlink') ? 1 : 2]!;
    expect(p.busyUs * bw * (1 + 1e-9) + 1e-6).toBeGreaterThanOrEqual(p.bytes);
  }
  // FIFO per pair: delivery times never decrease along pairSeq.
  const pairs = new Map<string, TimelineRecord[]>();
  for (const r of rs) {
    const k = `${r.src}>${r.dst}`;
    pairs.set(k, [...(pairs.get(k) ?? []), r]);
  }
  for (const l of pairs.values()) {
    l.sort((x, y) => x.pairSeq - y.pairSeq);
    l.forEach((r, i) => {
      expect(r.pairSeq).toBe(l[0]!.pairSeq + i); // pair sequence numbers run on across operations
      if (i > 0) expect(r.deliverT).toBeGreaterThanOrEqual(l[i - 1]!.deliverT);
    });
  }
}

/** One property run: identical results over worker counts, and physics on each. */
export async function checkScenario(s: Scenario, workerCounts: number[], transport: HostTransportKind): Promise<void> {
  const n = s.nodes * s.gpus;
  const counts = workerCounts.filter((w) => w <= n);
  const base = await runScenario(s, counts[0]!, transport);
  base.forEach((r) => checkPhysics(r, s.gpus));
  base.forEach((r, i) => expect(r.records).toHaveLength(2 * s.rounds[i]!.length));
  for (const w of counts.slice(1)) {
    const other = await runScenario(s, w, transport);
    other.forEach((r, i) => {
      expect(r.timelineDigest, `round ${i}, ${w} workers`).toBe(base[i]!.timelineDigest);
      expect(r.records).toEqual(base[i]!.records);
      expect(r.timeUs).toBe(base[i]!.timeUs);
    });
    // Each rank's state changes. In the first round (from a fresh cluster's 0) at the same virtual
    // times: an operation's end is the rank's own, not when its host collected it (which depends on
    // the windows, and so on the hosts). Later rounds start where the cluster's clock stopped after
    // the last one, which can differ by worker count in the last digits (docs/runtime.md, "One clock
    // per operation"): there the changes themselves are compared.
    const byRank = (st: Array<RankSnapshot & { round: number }>) =>
      st.map((x) => `${x.round} ${x.rank} ${x.value} ${x.op}${x.round === 0 ? ` ${x.timeUs}` : ''}`).sort();
    expect(byRank(other.states), `${w} workers`).toEqual(byRank(base.states));
  }
}
