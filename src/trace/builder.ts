/**
 * @module
 * `TraceBuilder`: turns the phases of a run (transfer records, compute spans) and rank state
 * changes into trace events, incrementally, so a trace can be streamed while the run goes on.
 *
 * Tracks: a process per node; per rank a compute thread (phase slices, xstate instants, counters)
 * and lanes per link port (`nvlink.out`, `nvlink.in`, `ib.out`, `ib.in`), each lane a thread whose
 * slices never overlap. Flow arrows join a transfer's egress slice to its ingress slice.
 */
import type { RankSnapshot } from '../actors/gpu-machine.js';
import type { TimelineRecord } from '../sim/timeline.js';
import { OP_NAMES, PATH_IB, PATH_NVLINK } from '../transport/protocol.js';
import { LINK_PORTS, resolveTraceOptions, tidsPerRank, type ResolvedTraceOptions, type TraceEvent, type TraceOptions } from './events.js';

/** What the builder needs to know about one phase of a run. */
export interface TracePhase {
  step: number;
  phase: string;
  startUs: number;
  endUs: number;
  records: readonly TimelineRecord[];
  /** Per rank `[startUs, endUs]` of its compute, for phases that compute. */
  compute?: ReadonlyArray<readonly [number, number]>;
}

/** Counts of what a builder drew and left out. */
export interface TraceStats {
  transfers: number;
  transfersDrawn: number;
  transfersNotDrawn: number;
  events: number;
}

const PORT_OUT = { [PATH_NVLINK]: 0, [PATH_IB]: 2 } as Record<number, number>;

export class TraceBuilder {
  readonly options: ResolvedTraceOptions;
  readonly stats: TraceStats = { transfers: 0, transfersDrawn: 0, transfersNotDrawn: 0, events: 0 };
  private readonly laneEnd: Float64Array[];
  private readonly laneNamed: Uint8Array[];
  private readonly inFlight: Float64Array;
  private readonly states: RankSnapshot[] = [];
  private readonly rankFilter: Set<number> | null;
  private nextFlow = 1;
  private started = false;

  constructor(readonly numRanks: number, readonly gpusPerNode: number, options: TraceOptions = {}) {
    this.options = resolveTraceOptions(options);
    const slots = numRanks * LINK_PORTS.length;
    this.laneEnd = Array.from({ length: slots }, () => new Float64Array(this.options.maxLanes).fill(-Infinity));
    this.laneNamed = Array.from({ length: slots }, () => new Uint8Array(this.options.maxLanes));
    this.inFlight = new Float64Array(slots);
    this.rankFilter = options.ranks ? new Set(options.ranks) : null;
  }

  /** Node (trace process id) of a rank. */
  pid(rank: number): number {
    return Math.floor(rank / this.gpusPerNode);
  }

  /** Thread id of a rank's compute track (`lane` < 0) or of lane `lane` of port `port`. */
  tid(rank: number, port = -1, lane = 0): number {
    const base = rank * tidsPerRank(this.options.maxLanes);
    return port < 0 ? base : base + 1 + port * this.options.maxLanes + lane;
  }

  private count(events: TraceEvent[]): TraceEvent[] {
    this.stats.events += events.length;
    return events;
  }

  /** Process and compute-thread names (emitted once, before the first phase). */
  header(): TraceEvent[] {
    if (this.started) return [];
    this.started = true;
    const ev: TraceEvent[] = [];
    for (let n = 0; n < Math.ceil(this.numRanks / this.gpusPerNode); n++) {
      ev.push({ ph: 'M', name: 'process_name', pid: n, tid: 0, ts: 0, args: { name: `node ${n}` } });
      ev.push({ ph: 'M', name: 'process_sort_index', pid: n, tid: 0, ts: 0, args: { sort_index: n } });
    }
    for (let r = 0; r < this.numRanks; r++) {
      ev.push({ ph: 'M', name: 'thread_name', pid: this.pid(r), tid: this.tid(r), ts: 0, args: { name: `rank ${r} compute` } });
      ev.push({ ph: 'M', name: 'thread_sort_index', pid: this.pid(r), tid: this.tid(r), ts: 0, args: { sort_index: this.tid(r) } });
    }
    return this.count(ev);
  }

  /** Buffer a rank state change; it is emitted with the next phase (or {@link flushStates}). */
  rankState(s: RankSnapshot): void {
    this.states.push(s);
  }

  /** The buffered state changes as instant events. */
  flushStates(): TraceEvent[] {
    const ev = this.states.splice(0).map((s): TraceEvent => ({
      ph: 'i', s: 't', cat: 'xstate', name: s.op ? `${s.value} (${s.op})` : s.value, pid: this.pid(s.rank), tid: this.tid(s.rank), ts: s.timeUs,
      args: { rank: s.rank, value: s.value, op: s.op, opsCompleted: s.opsCompleted, ...(s.error ? { error: s.error } : {}) },
    }));
    return this.count(ev);
  }

  /** Take a free lane of (rank, port) from `start` to `end`, or -1. */
  private lane(rank: number, port: number, start: number, end: number, out: TraceEvent[]): number {
    const slot = rank * LINK_PORTS.length + port;
    const ends = this.laneEnd[slot]!;
    for (let l = 0; l < ends.length; l++) {
      if (ends[l]! <= start) {
        ends[l] = end;
        if (this.laneNamed[slot]![l] === 0) {
          this.laneNamed[slot]![l] = 1;
          const tid = this.tid(rank, port, l);
          out.push({ ph: 'M', name: 'thread_name', pid: this.pid(rank), tid, ts: 0, args: { name: `rank ${rank} ${LINK_PORTS[port]}${l > 0 ? ` #${l}` : ''}` } });
          out.push({ ph: 'M', name: 'thread_sort_index', pid: this.pid(rank), tid, ts: 0, args: { sort_index: tid } });
        }
        return l;
      }
    }
    return -1;
  }

  private sampled(index: number, r: TimelineRecord): boolean {
    const o = this.options;
    if (this.rankFilter && !this.rankFilter.has(r.src) && !this.rankFilter.has(r.dst)) return false;
    return index % o.every === 0;
  }

  /** The events of one phase, sorted by time. */
  phase(p: TracePhase): TraceEvent[] {
    const before = this.stats.events;
    const ev: TraceEvent[] = [...this.header(), ...this.flushStates()];
    const timed: TraceEvent[] = [];
    const args = { step: p.step, phase: p.phase };
    // Compute track: the rank's own span of the phase (compute, or its first to last transfer).
    const span = Array.from({ length: this.numRanks }, () => [Infinity, -Infinity]);
    for (const r of p.records) {
      const s = span[r.src]!;
      if (r.issueT < s[0]!) s[0] = r.issueT;
      if (r.egressDoneT > s[1]!) s[1] = r.egressDoneT;
      const d = span[r.dst]!;
      if (r.ingressStartT < d[0]!) d[0] = r.ingressStartT;
      if (r.deliverT > d[1]!) d[1] = r.deliverT;
    }
    p.compute?.forEach(([a, b], rank) => {
      span[rank] = [a, b];
    });
    span.forEach(([a, b], rank) => {
      if (b! >= a!) timed.push({ ph: 'X', cat: 'phase', name: p.phase, pid: this.pid(rank), tid: this.tid(rank), ts: a!, dur: b! - a!, args });
    });

    // Link lanes: assign in order of start time (greedy interval partitioning is optimal that way).
    const order = p.records.map((_, i) => i).filter((i) => PORT_OUT[p.records[i]!.path] !== undefined);
    const base = this.stats.transfers;
    this.stats.transfers += order.length;
    const drawnOut = new Int32Array(p.records.length).fill(-1);
    const byEgress = [...order].sort((a, b) => p.records[a]!.egressStartT - p.records[b]!.egressStartT || a - b);
    const byIngress = [...order].sort((a, b) => p.records[a]!.ingressStartT - p.records[b]!.ingressStartT || a - b);
    const want = new Uint8Array(p.records.length);
    order.forEach((i, k) => {
      if (this.sampled(base + k, p.records[i]!)) want[i] = 1;
    });
    const limit = this.options.maxTransfers ?? Infinity;
    let started = 0;
    for (const i of byEgress) {
      if (!want[i]) continue;
      if (this.stats.transfersDrawn + started >= limit) {
        want[i] = 0;
        continue;
      }
      const r = p.records[i]!;
      const port = PORT_OUT[r.path]!;
      const l = this.lane(r.src, port, r.egressStartT, r.egressDoneT, ev);
      if (l < 0) continue;
      started++;
      drawnOut[i] = l;
      timed.push({
        ph: 'X', cat: 'transfer', name: `${p.phase} ${OP_NAMES[r.op]} → r${r.dst}`, pid: this.pid(r.src), tid: this.tid(r.src, port, l),
        ts: r.egressStartT, dur: r.egressDoneT - r.egressStartT, args: { step: p.step, phase: p.phase, src: r.src, dst: r.dst, pairSeq: r.pairSeq, bytes: r.bytes },
      });
    }
    let drawn = 0;
    for (const i of byIngress) {
      if (!want[i]) continue;
      const r = p.records[i]!;
      const port = PORT_OUT[r.path]! + 1;
      const l = drawnOut[i]! < 0 ? -1 : this.lane(r.dst, port, r.ingressStartT, r.ingressDoneT, ev);
      if (l < 0) {
        this.stats.transfersNotDrawn++;
        continue;
      }
      drawn++;
      const tid = this.tid(r.dst, port, l);
      timed.push({
        ph: 'X', cat: 'transfer', name: `${p.phase} ${OP_NAMES[r.op]} ← r${r.src}`, pid: this.pid(r.dst), tid,
        ts: r.ingressStartT, dur: r.ingressDoneT - r.ingressStartT, args: { step: p.step, phase: p.phase, src: r.src, dst: r.dst, pairSeq: r.pairSeq, bytes: r.bytes },
      });
      if (this.options.flows) {
        const id = this.nextFlow++;
        timed.push({ ph: 's', cat: 'flow', name: 'send', id, pid: this.pid(r.src), tid: this.tid(r.src, port - 1, drawnOut[i]!), ts: r.egressStartT });
        timed.push({ ph: 'f', bp: 'e', cat: 'flow', name: 'send', id, pid: this.pid(r.dst), tid, ts: r.ingressStartT });
      }
    }
    this.stats.transfersDrawn += drawn;
    this.stats.transfersNotDrawn += order.reduce((a, i) => a + (want[i] ? 0 : 1), 0);
    // Not sorted by time: viewers sort, and every thread's slices are already in order.
    for (const e of timed) ev.push(e);
    if (this.options.counters) this.counters(p.records, ev);
    this.stats.events = before + ev.length;
    return ev;
  }

  /** Bytes in service per port, as counters on the rank's compute thread. */
  private counters(records: readonly TimelineRecord[], ev: TraceEvent[]): void {
    const deltas: Array<[slot: number, t: number, d: number]> = [];
    for (const r of records) {
      const out = PORT_OUT[r.path];
      if (out === undefined) continue;
      deltas.push([r.src * 4 + out, r.egressStartT, r.bytes], [r.src * 4 + out, r.egressDoneT, -r.bytes]);
      deltas.push([r.dst * 4 + out + 1, r.ingressStartT, r.bytes], [r.dst * 4 + out + 1, r.ingressDoneT, -r.bytes]);
    }
    deltas.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 0; i < deltas.length; ) {
      const [slot, t] = deltas[i]!;
      while (i < deltas.length && deltas[i]![0] === slot && deltas[i]![1] === t) this.inFlight[slot]! += deltas[i++]![2];
      const rank = Math.floor(slot / 4);
      // Float sums of +b and -b can leave dust; a port with nothing in service reads exactly 0.
      const v = Math.abs(this.inFlight[slot]!) < 0.5 ? (this.inFlight[slot] = 0) : this.inFlight[slot]!;
      ev.push({ ph: 'C', name: `r${rank} ${LINK_PORTS[slot % 4]} bytes in flight`, pid: this.pid(rank), tid: this.tid(rank), ts: t, args: { bytes: v } });
    }
  }
}
