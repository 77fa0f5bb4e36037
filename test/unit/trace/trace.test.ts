import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TraceBuilder, TraceRecorder, summarizeTrace, validateTrace, writeTrace, type TraceEvent, type TracePhase } from '../../../src/trace/index.js';
import type { TimelineRecord } from '../../../src/sim/timeline.js';
import type { RankSnapshot } from '../../../src/index.js';
import { PATH_IB, PATH_NVLINK } from '../../../src/transport/protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'expertmesh-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function rec(src: number, dst: number, t: number, dur: number, bytes = 1000): TimelineRecord {
  const path = Math.floor(src / 2) === Math.floor(dst / 2) ? PATH_NVLINK : PATH_IB;
  const lat = path === PATH_IB ? 2.5 : 1;
  return {
    dst, src, pairSeq: seq++, op: 0, path, bytes,
    issueT: t, egressStartT: t, egressDoneT: t + dur, ingressStartT: t + lat, ingressDoneT: t + dur + lat, deliverT: t + dur + lat,
  };
}

/** An incast: ranks 1..3 all send to rank 0 at once (overlapping slices on rank 0's ports). */
const incast: TracePhase = {
  step: 0, phase: 'dispatch', startUs: 0, endUs: 20,
  records: [rec(1, 0, 0, 10), rec(2, 0, 0, 15), rec(3, 0, 0, 15), rec(3, 0, 1, 5), rec(0, 1, 0, 4)],
};
const experts: TracePhase = { step: 0, phase: 'experts', startUs: 20, endUs: 40, records: [], compute: [[20, 40], [20, 30], [20, 35], [20, 25]] };

describe('TraceBuilder', () => {
  it('emits valid Trace Event Format: required fields, nested per-thread slices, matched flows', () => {
    const b = new TraceBuilder(4, 2);
    b.rankState({ rank: 0, value: 'busy', op: 'traffic', opsCompleted: 0, error: null, timeUs: 0 });
    const ev = [...b.phase(incast), ...b.phase(experts)];
    expect(validateTrace(ev)).toEqual([]);
    for (const e of ev) for (const k of ['ph', 'ts', 'pid', 'tid', 'name'] as const) expect(e[k]).toBeDefined();
    const flows = ev.filter((e) => e.ph === 's' || e.ph === 'f');
    expect(flows.length).toBe(2 * 5);
    const instants = ev.filter((e) => e.ph === 'i');
    expect(instants).toEqual([expect.objectContaining({ name: 'busy (traffic)', cat: 'xstate', s: 't', pid: 0, tid: b.tid(0) })]);
    // a process per rank (one expandable group), named threads per rank, and the cluster's counters
    const names = ev.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args!['name']);
    expect(names).toEqual(expect.arrayContaining(['rank 0 compute', 'rank 0 ib.in', 'rank 0 ib.in #1', 'rank 0 ib.in #2', 'rank 1 nvlink.out']));
    expect(ev.filter((e) => e.name === 'process_name').map((e) => e.args!['name'])).toEqual(['rank 0 (node 0)', 'rank 1 (node 0)', 'rank 2 (node 1)', 'rank 3 (node 1)', 'cluster']);
    expect(ev.filter((e) => e.cat === 'phase' && e.args!['rank'] === 3).map((e) => e.args!['node'])).toEqual([1, 1]);
  });

  it("emits the ranks' state changes in time and rank order, whatever order the hosts' replies brought them in", () => {
    const changes: RankSnapshot[] = [
      { rank: 3, value: 'busy', op: 'ep.notify', opsCompleted: 0, error: null, timeUs: 0 },
      { rank: 2, value: 'busy', op: 'ep.notify', opsCompleted: 0, error: null, timeUs: 0 },
      { rank: 3, value: 'idle', op: null, opsCompleted: 1, error: null, timeUs: 7.5 },
      { rank: 0, value: 'busy', op: 'ep.notify', opsCompleted: 0, error: null, timeUs: 0 },
      { rank: 0, value: 'idle', op: null, opsCompleted: 1, error: null, timeUs: 5 },
    ];
    const names = (order: number[]) => {
      const b = new TraceBuilder(4, 2);
      for (const i of order) b.rankState(changes[i]!);
      return b.flushStates().filter((e) => e.cat === 'xstate').map((e) => `${e.args!['rank']} ${e.name} ${e.ts}`);
    };
    const expected = ['0 busy (ep.notify) 0', '2 busy (ep.notify) 0', '3 busy (ep.notify) 0', '0 idle 5', '3 idle 7.5'];
    expect(names([0, 1, 2, 3, 4])).toEqual(expected);
    expect(names([3, 4, 0, 1, 2])).toEqual(expected);
  });

  it('draws exact cluster utilisation counters: busy port time over ports and time, per link type', () => {
    const b = new TraceBuilder(4, 2);
    const ev = b.phase(incast);
    const series = (name: string) => ev.filter((e) => e.ph === 'C' && e.name === name && e.pid === 4);
    const nvl = series('NVLink busy %');
    const ib = series('IB busy %');
    // 100 buckets over [0, 20] us plus the closing zero.
    expect(nvl).toHaveLength(101);
    const mean = (c: TraceEvent[]) => c.slice(0, -1).reduce((a, e) => a + (e.args!['percent'] as number), 0) / 100;
    // NVLink: r1 out [0,10], r0 in [1,11], r0 out [0,4], r1 in [1,5] = 28 us over 8 ports x 20 us.
    expect(mean(nvl)).toBeCloseTo(17.5, 6);
    // IB: r2 out [0,15], r3 out [0,15] (its second send overlaps), r0 in [2.5,17.5] = 45 us over 160.
    expect(mean(ib)).toBeCloseTo(28.125, 6);
    // First bucket: only r1's and r0's NVLink egress are busy, 2 ports of 8.
    expect(nvl[0]!.args!['percent']).toBeCloseTo(25, 6);
    expect(series('SM busy %')).toEqual([]);
  });

  it('counts bytes in flight per port back to zero (full detail: a sample at every change)', () => {
    const b = new TraceBuilder(4, 2, { detail: 'full' });
    const ev = b.phase(incast);
    const c = ev.filter((e) => e.ph === 'C' && e.name === 'r0 ib.in bytes in flight');
    expect(Math.max(...c.map((e) => e.args!['bytes'] as number))).toBe(3000);
    expect(c[c.length - 1]!.args!['bytes']).toBe(0);
    expect(c.map((e) => e.ts)).toEqual([...c.map((e) => e.ts)].sort((x, y) => x - y));
  });

  it('aggregates counters by default: per-bucket means that keep the byte-time integral', () => {
    const b = new TraceBuilder(4, 2, { counterBuckets: 4 });
    expect(b.options).toMatchObject({ detail: 'sampled', counterBuckets: 4, maxTransfersPerPhase: 5000 });
    const ev = b.phase(incast);
    expect(validateTrace(ev)).toEqual([]);
    const c = ev.filter((e) => e.ph === 'C' && e.name === 'r0 ib.in bytes in flight');
    // phase [0, 20] (ingress ends at 17.5) in 4 buckets of 5 us, then back to 0 at the end
    expect(c.map((e) => e.ts)).toEqual([0, 5, 10, 15, 20]);
    const vals = c.map((e) => e.args!['bytes'] as number);
    expect(vals[vals.length - 1]).toBe(0);
    // rank 0's ib.in (ranks 2 and 3 are on the other node): [2.5, 17.5] twice, [3.5, 8.5], 1000 bytes each
    const integral = 1000 * (15 + 15 + 5);
    expect(vals.slice(0, 4).reduce((a, v) => a + v * 5, 0)).toBeCloseTo(integral, -1);
    expect(new Set(c.map((e) => e.ts)).size).toBe(c.length);
    // a long run of equal buckets writes one sample
    const idle = new TraceBuilder(4, 2, { counterBuckets: 1000 });
    const iev = idle.phase({ ...incast, endUs: 1000 }).filter((e) => e.ph === 'C' && e.name === 'r0 ib.in bytes in flight');
    expect(iev.length).toBeLessThan(40);
  });

  it('caps transfer slices per phase by default, evenly spaced; detail full draws them all', () => {
    const many: TracePhase = {
      step: 0, phase: 'dispatch', startUs: 0, endUs: 100,
      timeline: Float64Array.from(
        Array.from({ length: 40 }, (_, i) => rec(i % 4, (i + 1) % 4, i * 2, 1)).flatMap((r) => [r.dst, r.src, r.pairSeq, r.op, r.path, r.bytes, r.issueT, r.egressStartT, r.egressDoneT, r.ingressStartT, r.ingressDoneT, r.deliverT]),
      ),
    };
    const capped = new TraceBuilder(4, 2, { maxTransfersPerPhase: 10 });
    const ev = capped.phase(many);
    expect(validateTrace(ev)).toEqual([]);
    expect(capped.stats).toMatchObject({ transfers: 40, transfersDrawn: 10, transfersNotDrawn: 30 });
    expect(ev.filter((e) => e.ph === 's').length).toBe(10);
    // every 4th in canonical order
    const seqs = ev.filter((e) => e.cat === 'transfer' && e.name.includes('→')).map((e) => e.args!['pairSeq'] as number).sort((a, b) => a - b);
    expect(seqs.map((q) => q - seqs[0]!)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    const full = new TraceBuilder(4, 2, { detail: 'full' });
    full.phase(many);
    expect(full.stats).toMatchObject({ transfers: 40, transfersDrawn: 40 });
    expect(full.options).toMatchObject({ counterBuckets: 0, maxTransfersPerPhase: undefined });
  });

  it('samples: ranks, every, maxTransfers, maxLanes, no flows, no counters', () => {
    const only = new TraceBuilder(4, 2, { ranks: [1], flows: false, counters: false });
    const ev = only.phase(incast);
    expect(ev.filter((e) => e.cat === 'transfer').length).toBe(2 * 2);
    expect(ev.some((e) => e.ph === 's' || e.ph === 'C')).toBe(false);
    const lanes = new TraceBuilder(4, 2, { maxLanes: 1 });
    const lev = lanes.phase(incast);
    expect(validateTrace(lev)).toEqual([]);
    expect(lanes.stats.transfersNotDrawn).toBeGreaterThan(0);
    expect(lanes.stats.transfersDrawn + lanes.stats.transfersNotDrawn).toBe(5);
    const capped = new TraceBuilder(4, 2, { maxTransfers: 2 });
    capped.phase(incast);
    expect(capped.stats.transfersDrawn).toBe(2);
    const every = new TraceBuilder(4, 2, { every: 2 });
    every.phase(incast);
    expect(every.stats.transfersDrawn).toBe(3);
  });
});

describe('validateTrace', () => {
  const base = { pid: 0, tid: 0, name: 'x' };
  it('finds missing fields, overlapping slices, unmatched B/E and flows', () => {
    expect(validateTrace([{ ph: 'X', ts: 0, pid: 0, tid: 0 } as unknown as TraceEvent])).toEqual([expect.stringMatching(/name must be a string/), expect.stringMatching(/dur/)]);
    expect(validateTrace([{ ...base, ph: 'X', ts: 0, dur: 5 }, { ...base, ph: 'X', ts: 3, dur: 5 }])[0]).toMatch(/overlaps/);
    expect(validateTrace([{ ...base, ph: 'X', ts: 0, dur: 5 }, { ...base, ph: 'X', ts: 1, dur: 2 }, { ...base, ph: 'X', ts: 5, dur: 1 }])).toEqual([]);
    // back-to-back slices whose boundary differs by one ulp (times summed in different orders) touch, not overlap
    expect(validateTrace([{ ...base, ph: 'X', ts: 63.27578666666667, dur: 0.6 }, { ...base, ph: 'X', ts: 63.87578666666666, dur: 0.6 }])).toEqual([]);
    expect(validateTrace([{ ...base, ph: 'X', ts: 0, dur: 1 }, { ...base, ph: 'X', ts: 1 - 1e-6, dur: 1 }])[0]).toMatch(/overlaps/);
    expect(validateTrace([{ ...base, ph: 'E', ts: 0 }])[0]).toMatch(/E without a matching B/);
    expect(validateTrace([{ ...base, ph: 'B', ts: 0 }])[0]).toMatch(/never ended/);
    expect(validateTrace([{ ...base, ph: 'B', ts: 0 }, { ...base, ph: 'E', ts: 2 }])).toEqual([]);
    expect(validateTrace([{ ...base, ph: 's', ts: 0, id: 4 }])[0]).toMatch(/flow id 4: 1 start\(s\) and 0 end\(s\)/);
  });
});

describe('writing and summarising', () => {
  it('writes a loadable file and summarises per-rank and per-link utilisation', () => {
    const path = join(dir, 'ok.trace.json');
    const stats = writeTrace(path, { numRanks: 4, gpusPerNode: 2, phases: [incast, experts] });
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.otherData).toMatchObject({
      incomplete: false, schemaVersion: 1, transfers: 5, sampled: false,
      sampling: { detail: 'sampled', maxTransfersPerPhase: 5000, counterBuckets: 200 },
      counters: { mode: 'buckets', bucketsPerPhase: 200 },
    });
    expect(doc.traceEvents.length).toBe(stats.events);
    expect(validateTrace(doc.traceEvents)).toEqual([]);
    const s = summarizeTrace(path);
    expect(s.spanUs).toBeCloseTo(40);
    expect(s.ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3]);
    const in0 = s.links.find((l) => l.rank === 0 && l.port === 'ib.in')!;
    expect(in0).toMatchObject({ transfers: 3, bytes: 3000 });
    expect(in0.busyUs).toBeCloseTo(15);
    expect(in0.utilisation).toBeCloseTo(15 / 40);
  });

  it('summarises links from exact per-port totals, the same whether the slices are sampled or not', () => {
    const full = summarizeTrace(JSON.parse(JSON.stringify({ traceEvents: new TraceBuilder(4, 2, { detail: 'full' }).phase(incast) })));
    const sampled = summarizeTrace({ traceEvents: new TraceBuilder(4, 2, { maxTransfersPerPhase: 1, flows: false }).phase(incast) });
    expect(sampled.links).toEqual(full.links);
    expect(full.links.find((l) => l.rank === 0 && l.port === 'ib.in')).toMatchObject({ transfers: 3, bytes: 3000, busyUs: 15 });
    expect(full.links.reduce((a, l) => a + l.transfers, 0)).toBe(2 * 5);
  });

  it('marks a trace incomplete when closed with an error', () => {
    const path = join(dir, 'bad.trace.json');
    const r = new TraceRecorder(path, { numRanks: 4, gpusPerNode: 2 });
    r.phase(incast);
    r.close(new Error('rank 2 died'));
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.otherData).toMatchObject({ incomplete: true, error: 'rank 2 died' });
    expect(summarizeTrace(doc).incomplete).toBe(true);
  });

  it('reports unreadable or malformed trace files', () => {
    expect(() => summarizeTrace(join(dir, 'none.json'))).toThrow(/cannot read trace file .*ENOENT/);
    expect(() => summarizeTrace('README.md')).toThrow(/not valid JSON/);
    expect(() => new TraceRecorder(join(dir, 'x', 'y.json'), { numRanks: 1, gpusPerNode: 1 })).toThrow(/cannot write trace file/);
  });
});
