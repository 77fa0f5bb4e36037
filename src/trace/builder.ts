/**
 * @module
 * `TraceBuilder`: turns the phases of a run (transfer records, compute spans) and rank state
 * changes into trace events, incrementally, so a trace can be streamed while the run goes on.
 *
 * Tracks: a process per rank (`rank R (node N)`), so that a viewer shows each rank as one expandable
 * group: its compute thread (phase slices, xstate instants, counters), lanes per link port
 * (`nvlink.out`, `nvlink.in`, `ib.out`, `ib.in`), each lane a thread whose slices never overlap, and
 * its SMs. Flow arrows join a transfer's egress slice to its ingress slice. A last process,
 * `cluster`, carries the utilisation counters of the whole cluster over virtual time (NVLink, IB and
 * SM busy %, exact: computed from every transfer and SM slice, not from the drawn sample).
 */
import type { RankSnapshot } from '../actors/gpu-machine.js';
import { ACTIVITY_STRIDE, SAMPLE_STRIDE, SERIES_NAMES, TIMELINE_FIELDS, TIMELINE_STRIDE, type TimelineRecord } from '../sim/timeline.js';
import { activityRole, SM_NAMES } from '../ep/sm-clock.js';

/** SM tracks' thread ids: a range of their own, above every rank's compute and link tracks. */
const SM_TID_BASE = 1_000_000;
const SM_TIDS_PER_RANK = 4096;
/** Stream tracks' thread ids: below the SM tracks, above every rank's compute and link tracks. */
const STREAM_TID_BASE = 900_000;
const STREAM_TIDS_PER_RANK = 16;
import { OP_NAMES, PATH_IB, PATH_NVLINK } from '../transport/protocol.js';
import { LINK_PORTS, resolveTraceOptions, tidsPerRank, type ResolvedTraceOptions, type TraceEvent, type TraceOptions } from './events.js';
import { checkAlloc, checkArray, checkInt, checkNumber, checkObject, checkString } from '../validate.js';

/** What the builder needs to know about one phase of a run. */
export interface TracePhase {
  step: number;
  phase: string;
  startUs: number;
  endUs: number;
  /**
   * The transfers as flat records ({@link TIMELINE_STRIDE} numbers each, `TIMELINE_FIELDS` order).
   * Read instead of `records` when present: the builder never builds per-transfer objects.
   */
  timeline?: ArrayLike<number> | undefined;
  /** The transfers as objects (used when `timeline` is absent). */
  records?: readonly TimelineRecord[] | undefined;
  /** Per rank `[startUs, endUs]` of its compute, for phases that compute. */
  compute?: ReadonlyArray<readonly [number, number]> | undefined;
  /** Counter samples (ring occupancy): flat (time, rank, series, delta) records in time order. */
  samples?: ArrayLike<number> | undefined;
  /** SM activity slices (a channel's SM copying or reducing a chunk, per warp role): flat
   * (start, end, rank, track, label) records ordered by (rank, track, start). */
  activities?: ArrayLike<number> | undefined;
  /** Scheduled phases: each kernel on each rank's streams, drawn on a track per stream. */
  kernels?: ReadonlyArray<{ rank: number; stream: string; id: string; startUs: number; endUs: number }> | undefined;
}

/** Counts of what a builder drew and left out. */
export interface TraceStats {
  transfers: number;
  transfersDrawn: number;
  transfersNotDrawn: number;
  events: number;
}

const F = Object.fromEntries(TIMELINE_FIELDS.map((f, i) => [f, i])) as Record<(typeof TIMELINE_FIELDS)[number], number>;
const [DST, SRC, SEQ, OP, PATH, BYTES, ISSUE, E0, E1, I0, I1, DELIVER] = [
  F.dst, F.src, F.pairSeq, F.op, F.path, F.bytes, F.issueT, F.egressStartT, F.egressDoneT, F.ingressStartT, F.ingressDoneT, F.deliverT,
] as const;

/** Records as flat numbers, `TIMELINE_FIELDS` order. */
function flatten(records: readonly TimelineRecord[]): Float64Array {
  const out = new Float64Array(records.length * TIMELINE_STRIDE);
  records.forEach((r, i) => TIMELINE_FIELDS.forEach((f, k) => (out[i * TIMELINE_STRIDE + k] = r[f])));
  return out;
}

/** Buckets per phase of the cluster utilisation counters. */
export const UTILISATION_BUCKETS = 100;
/** Names of the cluster utilisation counters (percent). */
export const UTILISATION_SERIES = { nvlink: 'NVLink busy %', ib: 'IB busy %', sm: 'SM busy %' } as const;

const PORT_OUT = { [PATH_NVLINK]: 0, [PATH_IB]: 2 } as Record<number, number>;

/** Throw unless `p` is a phase a trace can hold: its step, name and times, and well-formed parts. @internal */
export function checkPhase(p: TracePhase, name: string): void {
  checkObject(p, name);
  checkInt(p.step, `${name}.step`, 0);
  checkString(p.phase, `${name}.phase`);
  checkNumber(p.startUs, `${name}.startUs`);
  checkNumber(p.endUs, `${name}.endUs`);
  if (p.timeline !== undefined) checkArray(p.timeline, `${name}.timeline`, true);
  else if (p.records !== undefined) {
    const rs = checkArray(p.records, `${name}.records`);
    for (let i = 0; i < rs.length; i++) checkObject(rs[i], `${name}.records[${i}]`);
  }
  if (p.samples !== undefined) checkArray(p.samples, `${name}.samples`, true);
  if (p.activities !== undefined) checkArray(p.activities, `${name}.activities`, true);
  if (p.compute !== undefined) {
    const c = checkArray(p.compute, `${name}.compute`);
    for (let i = 0; i < c.length; i++) {
      const span = checkArray(c[i], `${name}.compute[${i}]`);
      checkNumber(span[0], `${name}.compute[${i}][0]`);
      checkNumber(span[1], `${name}.compute[${i}][1]`);
    }
  }
  if (p.kernels !== undefined) {
    const ks = checkArray(p.kernels, `${name}.kernels`);
    for (let i = 0; i < ks.length; i++) {
      const k = checkObject(ks[i], `${name}.kernels[${i}]`);
      checkInt(k['rank'], `${name}.kernels[${i}].rank`, 0);
      checkString(k['stream'], `${name}.kernels[${i}].stream`, true);
      checkString(k['id'], `${name}.kernels[${i}].id`, true);
      checkNumber(k['startUs'], `${name}.kernels[${i}].startUs`);
      checkNumber(k['endUs'], `${name}.kernels[${i}].endUs`);
    }
  }
}

export class TraceBuilder {
  readonly options: ResolvedTraceOptions;
  readonly stats: TraceStats = { transfers: 0, transfersDrawn: 0, transfersNotDrawn: 0, events: 0 };
  private readonly laneEnd: Float64Array[];
  private readonly laneNamed: Uint8Array[];
  private readonly inFlight: Float64Array;
  private readonly states: RankSnapshot[] = [];
  private readonly rankFilter: Set<number> | null;
  /** SM tracks already named. */
  private readonly smThreads = new Set<number>();
  /** Stream names by index, and stream tracks already named. */
  private readonly streamIndex = new Map<string, number>();
  private readonly streamThreads = new Set<number>();
  private readonly lastStreams = new Map<number, Record<string, string>>();
  private nextFlow = 1;
  private started = false;

  constructor(readonly numRanks: number, readonly gpusPerNode: number, options: TraceOptions = {}) {
    checkInt(numRanks, 'numRanks', 1);
    checkInt(gpusPerNode, 'gpusPerNode', 1, numRanks);
    this.options = resolveTraceOptions(options);
    checkAlloc('TraceBuilder', 'the lanes of every link port', numRanks * LINK_PORTS.length * this.options.maxLanes * 9, 'numRanks or options.maxLanes');
    const slots = numRanks * LINK_PORTS.length;
    this.laneEnd = Array.from({ length: slots }, () => new Float64Array(this.options.maxLanes).fill(-Infinity));
    this.laneNamed = Array.from({ length: slots }, () => new Uint8Array(this.options.maxLanes));
    this.inFlight = new Float64Array(slots);
    this.rankFilter = options.ranks ? new Set(options.ranks) : null;
  }

  /** Trace process id of a rank: one process (an expandable group in viewers) per rank. */
  pid(rank: number): number {
    return rank;
  }

  /** Node of a rank. */
  node(rank: number): number {
    return Math.floor(rank / this.gpusPerNode);
  }

  /** Process id of the cluster-wide utilisation counters, after every rank's. */
  get clusterPid(): number {
    return this.numRanks;
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
    for (let r = 0; r < this.numRanks; r++) {
      ev.push({ ph: 'M', name: 'process_name', pid: this.pid(r), tid: 0, ts: 0, args: { name: `rank ${r} (node ${this.node(r)})` } });
      ev.push({ ph: 'M', name: 'process_sort_index', pid: this.pid(r), tid: 0, ts: 0, args: { sort_index: r } });
    }
    ev.push({ ph: 'M', name: 'process_name', pid: this.clusterPid, tid: 0, ts: 0, args: { name: 'cluster' } });
    ev.push({ ph: 'M', name: 'process_sort_index', pid: this.clusterPid, tid: 0, ts: 0, args: { sort_index: -1 } });
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

  /**
   * The buffered state changes as instant events: the rank's state on its compute track, and each
   * stream's state, when it changes, on that stream's track.
   */
  flushStates(): TraceEvent[] {
    const ev: TraceEvent[] = [];
    // In time, then rank order: the hosts' replies (and so the buffered changes) arrive in whatever
    // order their threads finish, and the trace is an output, the same at every run. A rank's own
    // changes keep their order (a stable sort; one rank's times do not go back).
    const states = this.states.splice(0).sort((a, b) => a.timeUs - b.timeUs || a.rank - b.rank);
    for (const s of states) {
      if (s.streams) {
        const last = this.lastStreams.get(s.rank) ?? {};
        for (const [name, state] of Object.entries(s.streams)) {
          if (last[name] === state) continue;
          const tid = this.streamTid(s.rank, name, ev);
          ev.push({ ph: 'i', s: 't', cat: 'xstate', name: state, pid: this.pid(s.rank), tid, ts: s.timeUs, args: { rank: s.rank, stream: name, state } });
        }
        this.lastStreams.set(s.rank, s.streams);
        continue;
      }
      this.lastStreams.delete(s.rank);
      ev.push({
        ph: 'i', s: 't', cat: 'xstate', name: s.op ? `${s.value} (${s.op})` : s.value, pid: this.pid(s.rank), tid: this.tid(s.rank), ts: s.timeUs,
        args: { rank: s.rank, value: s.value, op: s.op, opsCompleted: s.opsCompleted, ...(s.error ? { error: s.error } : {}) },
      });
    }
    return this.count(ev);
  }

  /** Thread id of stream `stream` of `rank`, naming the thread the first time. */
  private streamTid(rank: number, stream: string, out: TraceEvent[]): number {
    let si = this.streamIndex.get(stream);
    if (si === undefined) this.streamIndex.set(stream, (si = this.streamIndex.size));
    const tid = STREAM_TID_BASE + rank * STREAM_TIDS_PER_RANK + (si % STREAM_TIDS_PER_RANK);
    if (!this.streamThreads.has(tid)) {
      this.streamThreads.add(tid);
      out.push({ ph: 'M', name: 'thread_name', pid: this.pid(rank), tid, ts: 0, args: { name: `rank ${rank} stream ${stream}` } });
      out.push({ ph: 'M', name: 'thread_sort_index', pid: this.pid(rank), tid, ts: 0, args: { sort_index: tid } });
    }
    return tid;
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

  /** The events of one phase: compute-track slice per rank, sampled transfers, counters. */
  phase(p: TracePhase): TraceEvent[] {
    checkPhase(p, 'phase');
    const before = this.stats.events;
    const ev: TraceEvent[] = [...this.header(), ...this.flushStates()];
    const o = this.options;
    // Flat records only: a full-size phase has about a million transfers.
    const tl = p.timeline !== undefined ? p.timeline : flatten(p.records ?? []);
    const n = tl.length / TIMELINE_STRIDE;
    const R = this.numRanks;
    // One pass: each rank's span, the transfers the options keep (canonical order), the time range.
    const span = new Float64Array(2 * R);
    for (let r = 0; r < R; r++) (span[2 * r] = Infinity), (span[2 * r + 1] = -Infinity);
    const cand = new Int32Array(n);
    let m = 0;
    let links = 0;
    let lo = p.startUs;
    let hi = p.endUs;
    const every = o.every;
    const filter = this.rankFilter;
    const base = this.stats.transfers;
    for (let i = 0, x = 0; i < n; i++, x += TIMELINE_STRIDE) {
      const src = tl[x + SRC]!;
      const dst = tl[x + DST]!;
      if (tl[x + ISSUE]! < span[2 * src]!) span[2 * src] = tl[x + ISSUE]!;
      if (tl[x + E1]! > span[2 * src + 1]!) span[2 * src + 1] = tl[x + E1]!;
      if (tl[x + I0]! < span[2 * dst]!) span[2 * dst] = tl[x + I0]!;
      if (tl[x + DELIVER]! > span[2 * dst + 1]!) span[2 * dst + 1] = tl[x + DELIVER]!;
      if (PORT_OUT[tl[x + PATH]!] === undefined) continue;
      if (tl[x + E0]! < lo) lo = tl[x + E0]!;
      if (tl[x + I1]! > hi) hi = tl[x + I1]!;
      const k = base + links++;
      if (filter && !filter.has(src) && !filter.has(dst)) continue;
      if (k % every === 0) cand[m++] = i;
    }
    this.stats.transfers += links;
    p.compute?.forEach(([a, b], rank) => {
      span[2 * rank] = a;
      span[2 * rank + 1] = b;
    });
    const ls = links > 0 ? this.linkStats(tl, n) : null;
    const timed: TraceEvent[] = [];
    for (let rank = 0; rank < R; rank++) {
      const a = span[2 * rank]!;
      const b = span[2 * rank + 1]!;
      if (!(b >= a)) continue;
      const args: Record<string, unknown> = { step: p.step, phase: p.phase, rank, node: this.node(rank) };
      if (ls) {
        // Exact per-port totals of every transfer (the slices may be a sample): what `trace summarize` reads.
        const perPort: Record<string, { transfers: number; bytes: number; busyUs: number }> = {};
        for (let port = 0; port < LINK_PORTS.length; port++) {
          const k = 3 * (rank * LINK_PORTS.length + port);
          if (ls[k]! > 0) perPort[LINK_PORTS[port]!] = { transfers: ls[k]!, bytes: ls[k + 1]!, busyUs: ls[k + 2]! };
        }
        if (Object.keys(perPort).length > 0) args['links'] = perPort;
      }
      timed.push({ ph: 'X', cat: 'phase', name: p.phase, pid: this.pid(rank), tid: this.tid(rank), ts: a, dur: b - a, args });
    }

    // Sample: at most maxTransfersPerPhase of the kept ones, evenly spaced in canonical order.
    const cap = o.maxTransfersPerPhase ?? Infinity;
    let picks: number[];
    if (m <= cap) picks = Array.from(cand.subarray(0, m));
    else {
      picks = new Array<number>(cap);
      for (let j = 0; j < cap; j++) picks[j] = cand[Math.floor((j * m) / cap)]!;
    }
    // Link lanes: assign in order of start time (greedy interval partitioning is optimal that way).
    const byEgress = [...picks].sort((a, b) => tl[a * TIMELINE_STRIDE + E0]! - tl[b * TIMELINE_STRIDE + E0]! || a - b);
    const limit = o.maxTransfers ?? Infinity;
    const outLane = new Map<number, number>();
    for (const i of byEgress) {
      if (this.stats.transfersDrawn + outLane.size >= limit) break;
      const x = i * TIMELINE_STRIDE;
      const src = tl[x + SRC]!;
      const port = PORT_OUT[tl[x + PATH]!]!;
      const l = this.lane(src, port, tl[x + E0]!, tl[x + E1]!, ev);
      if (l < 0) continue;
      outLane.set(i, l);
      timed.push({
        ph: 'X', cat: 'transfer', name: `${p.phase} ${OP_NAMES[tl[x + OP]!]} → r${tl[x + DST]}`, pid: this.pid(src), tid: this.tid(src, port, l),
        ts: tl[x + E0]!, dur: tl[x + E1]! - tl[x + E0]!, args: this.sliceArgs(p, tl, x),
      });
    }
    const byIngress = [...outLane.keys()].sort((a, b) => tl[a * TIMELINE_STRIDE + I0]! - tl[b * TIMELINE_STRIDE + I0]! || a - b);
    let drawn = 0;
    for (const i of byIngress) {
      const x = i * TIMELINE_STRIDE;
      const src = tl[x + SRC]!;
      const dst = tl[x + DST]!;
      const port = PORT_OUT[tl[x + PATH]!]! + 1;
      const l = this.lane(dst, port, tl[x + I0]!, tl[x + I1]!, ev);
      if (l < 0) continue;
      drawn++;
      const tid = this.tid(dst, port, l);
      timed.push({
        ph: 'X', cat: 'transfer', name: `${p.phase} ${OP_NAMES[tl[x + OP]!]} ← r${src}`, pid: this.pid(dst), tid,
        ts: tl[x + I0]!, dur: tl[x + I1]! - tl[x + I0]!, args: this.sliceArgs(p, tl, x),
      });
      if (o.flows) {
        const id = this.nextFlow++;
        timed.push({ ph: 's', cat: 'flow', name: 'send', id, pid: this.pid(src), tid: this.tid(src, port - 1, outLane.get(i)!), ts: tl[x + E0]! });
        timed.push({ ph: 'f', bp: 'e', cat: 'flow', name: 'send', id, pid: this.pid(dst), tid, ts: tl[x + I0]! });
      }
    }
    this.stats.transfersDrawn += drawn;
    this.stats.transfersNotDrawn += links - drawn;
    if (p.activities && p.activities.length > 0) this.activitySlices(p, p.activities, timed);
    if (p.kernels) this.kernelSlices(p, p.kernels, timed);
    // Not sorted by time: viewers sort, and every thread's slices are already in order.
    for (const e of timed) ev.push(e);
    if (o.counters) {
      if (o.counterBuckets > 0) this.bucketCounters(tl, n, lo, hi, ev);
      else this.exactCounters(tl, n, ev);
      if (p.samples && p.samples.length > 0) this.sampleCounters(p.samples, lo, hi, ev);
      if (hi > lo) this.utilisationCounters(tl, n, p.activities, lo, hi, ev);
    }
    this.stats.events = before + ev.length;
    return ev;
  }

  /**
   * Per port (rank * 4 + port): transfers, bytes and busy time (the union of its transfers' egress or
   * ingress intervals), as `[transfers, bytes, busyUs]` triples. Intervals are grouped by port with a
   * counting sort; the union is a sweep over each port's sorted starts and sorted ends.
   */
  private linkStats(tl: ArrayLike<number>, n: number): Float64Array {
    const slots = this.numRanks * LINK_PORTS.length;
    const stats = new Float64Array(3 * slots);
    const at = new Int32Array(slots + 1);
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      const s = tl[x + SRC]! * 4 + out;
      const d = tl[x + DST]! * 4 + out + 1;
      at[s + 1]!++;
      at[d + 1]!++;
      stats[3 * s]!++;
      stats[3 * d]!++;
      stats[3 * s + 1]! += tl[x + BYTES]!;
      stats[3 * d + 1]! += tl[x + BYTES]!;
    }
    for (let k = 0; k < slots; k++) at[k + 1]! += at[k]!;
    const starts = new Float64Array(at[slots]!);
    const ends = new Float64Array(at[slots]!);
    const pos = at.slice(0, slots);
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      const s = tl[x + SRC]! * 4 + out;
      const d = tl[x + DST]! * 4 + out + 1;
      starts[pos[s]!] = tl[x + E0]!;
      ends[pos[s]!++] = tl[x + E1]!;
      starts[pos[d]!] = tl[x + I0]!;
      ends[pos[d]!++] = tl[x + I1]!;
    }
    for (let k = 0; k < slots; k++) {
      const len = at[k + 1]! - at[k]!;
      if (len === 0) continue;
      const a = starts.subarray(at[k]!, at[k + 1]!).sort();
      const b = ends.subarray(at[k]!, at[k + 1]!).sort();
      let i = 0;
      let j = 0;
      let open = 0;
      let from = 0;
      let busy = 0;
      while (j < len) {
        if (i < len && (a[i]! < b[j]! || open === 0)) {
          if (open++ === 0) from = a[i]!;
          i++;
        } else {
          if (--open === 0) busy += b[j]! - from;
          j++;
        }
      }
      stats[3 * k + 2] = busy;
    }
    return stats;
  }

  private sliceArgs(p: TracePhase, tl: ArrayLike<number>, x: number): Record<string, unknown> {
    return { step: p.step, phase: p.phase, src: tl[x + SRC], dst: tl[x + DST], pairSeq: tl[x + SEQ], bytes: tl[x + BYTES] };
  }

  /** Each rank's streams as threads (`rank R stream compute`, ...), a slice per kernel. */
  private kernelSlices(p: TracePhase, ks: NonNullable<TracePhase['kernels']>, out: TraceEvent[]): void {
    const filter = this.rankFilter;
    for (const k of ks) {
      if (filter && !filter.has(k.rank)) continue;
      const tid = this.streamTid(k.rank, k.stream, out);
      out.push({ ph: 'X', cat: 'kernel', name: k.id, pid: this.pid(k.rank), tid, ts: k.startUs, dur: k.endUs - k.startUs, args: { step: p.step, stream: k.stream } });
    }
  }

  /**
   * Each channel's SMs as threads of the rank (`rank R ch C send SM`, ...), with a slice per chunk
   * copied or reduced, named by the warp role. Capped like transfers (evenly spaced in their order,
   * which keeps every track's slices in time order and disjoint).
   */
  private activitySlices(p: TracePhase, a: ArrayLike<number>, out: TraceEvent[]): void {
    const n = a.length / ACTIVITY_STRIDE;
    const cap = this.options.maxTransfersPerPhase ?? Infinity;
    const step = n > cap ? n / cap : 1;
    const filter = this.rankFilter;
    for (let f = 0; f < n; f += step) {
      const x = Math.floor(f) * ACTIVITY_STRIDE;
      const rank = a[x + 2]!, track = a[x + 3]!;
      if (filter && !filter.has(rank)) continue;
      const tid = SM_TID_BASE + rank * SM_TIDS_PER_RANK + track;
      const key = rank * SM_TIDS_PER_RANK + track;
      if (!this.smThreads.has(key)) {
        this.smThreads.add(key);
        const ch = Math.floor(track / SM_NAMES.length);
        out.push({ ph: 'M', name: 'thread_name', pid: this.pid(rank), tid, ts: 0, args: { name: `rank ${rank} ch ${ch} ${SM_NAMES[track % SM_NAMES.length]}` } });
        out.push({ ph: 'M', name: 'thread_sort_index', pid: this.pid(rank), tid, ts: 0, args: { sort_index: tid } });
      }
      out.push({
        ph: 'X', cat: 'sm', name: activityRole(a[x + 4]!) ?? 'work', pid: this.pid(rank), tid, ts: a[x]!, dur: a[x + 1]! - a[x]!,
        args: { step: p.step, phase: p.phase },
      });
    }
  }

  /**
   * Sampled series (tokens buffered in each rank's receive rings) as counters on the rank's compute
   * thread: the running sum of the deltas, written at most once per bucket width per series (every
   * change with exact counters), and its final value at the phase end.
   */
  private sampleCounters(s: ArrayLike<number>, lo: number, hi: number, ev: TraceEvent[]): void {
    const B = this.options.counterBuckets;
    const gap = B > 0 ? (hi - lo) / B : 0;
    const value = new Map<number, number>();
    const shown = new Map<number, number>();
    const shownAt = new Map<number, number>();
    const filter = this.rankFilter;
    for (let i = 0; i + SAMPLE_STRIDE <= s.length; i += SAMPLE_STRIDE) {
      const t = s[i]!, rank = s[i + 1]!, series = s[i + 2]!;
      if (filter && !filter.has(rank)) continue;
      const key = rank * 8 + series;
      const v = (value.get(key) ?? 0) + s[i + 3]!;
      value.set(key, v);
      const at = shownAt.get(key);
      if (at !== undefined && t - at < gap) continue;
      if (shown.get(key) !== v) ev.push(this.seriesEvent(rank, series, t, v));
      shown.set(key, v);
      shownAt.set(key, t);
    }
    for (const [key, v] of value) if (shown.get(key) !== v) ev.push(this.seriesEvent(key >> 3, key & 7, Math.max(hi, shownAt.get(key) ?? hi), v));
  }

  private seriesEvent(rank: number, series: number, t: number, tokens: number): TraceEvent {
    return { ph: 'C', name: `r${rank} ${SERIES_NAMES[series] ?? `series ${series}`}`, pid: this.pid(rank), tid: this.tid(rank), ts: t, args: { tokens } };
  }

  private counterEvent(slot: number, t: number, bytes: number): TraceEvent {
    const rank = slot >> 2;
    return { ph: 'C', name: `r${rank} ${LINK_PORTS[slot & 3]} bytes in flight`, pid: this.pid(rank), tid: this.tid(rank), ts: t, args: { bytes } };
  }

  /**
   * Mean bytes in flight per port over `counterBuckets` equal buckets of `[lo, hi]`, in one pass over
   * the transfers (each egress or ingress interval adds its partial first and last buckets directly
   * and its full buckets through a difference array). A sample is written only when the value
   * changes, and the counter returns to 0 at `hi`.
   */
  private bucketCounters(tl: ArrayLike<number>, n: number, lo: number, hi: number, ev: TraceEvent[]): void {
    const B = this.options.counterBuckets;
    const w = (hi - lo) / B;
    if (!(w > 0)) return;
    const slots = this.numRanks * LINK_PORTS.length;
    const part = new Float64Array(slots * B);
    const full = new Float64Array(slots * (B + 1));
    const add = (slot: number, a: number, b: number, bytes: number) => {
      if (!(b > a)) return;
      const ka = Math.min(B - 1, Math.floor((a - lo) / w));
      const kb = Math.min(B - 1, Math.floor((b - lo) / w));
      if (ka === kb) part[slot * B + ka]! += bytes * (b - a);
      else {
        part[slot * B + ka]! += bytes * (lo + (ka + 1) * w - a);
        part[slot * B + kb]! += bytes * (b - (lo + kb * w));
        full[slot * (B + 1) + ka + 1]! += bytes;
        full[slot * (B + 1) + kb]! -= bytes;
      }
    };
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      const bytes = tl[x + BYTES]!;
      add(tl[x + SRC]! * 4 + out, tl[x + E0]!, tl[x + E1]!, bytes);
      add(tl[x + DST]! * 4 + out + 1, tl[x + I0]!, tl[x + I1]!, bytes);
    }
    for (let slot = 0; slot < slots; slot++) {
      let last = this.inFlight[slot]!;
      let rate = 0;
      for (let k = 0; k < B; k++) {
        rate += full[slot * (B + 1) + k]!;
        const v = Math.round(part[slot * B + k]! / w + rate);
        if (v !== last) ev.push(this.counterEvent(slot, lo + k * w, (last = v)));
      }
      if (last !== 0) ev.push(this.counterEvent(slot, hi, 0));
      this.inFlight[slot] = 0;
    }
  }

  /**
   * Cluster-wide utilisation over `[lo, hi]` in {@link UTILISATION_BUCKETS} buckets, as counters
   * (percent) on the `cluster` process: per link type the busy time of every port (the union of its
   * transfers' egress or ingress intervals) over ports x bucket width, the ports being every rank's
   * two ports of that type; and the SMs' busy time over the SM tracks active in the phase.
   */
  private utilisationCounters(tl: ArrayLike<number>, n: number, act: ArrayLike<number> | undefined, lo: number, hi: number, ev: TraceEvent[]): void {
    const B = UTILISATION_BUCKETS;
    const w = (hi - lo) / B;
    const add = (acc: Float64Array, a: number, b: number) => {
      a = Math.max(a, lo);
      b = Math.min(b, hi);
      for (let k = Math.max(0, Math.floor((a - lo) / w)); k < B && lo + k * w < b; k++) {
        const x = Math.max(a, lo + k * w);
        const y = Math.min(b, lo + (k + 1) * w);
        if (y > x) acc[k]! += y - x;
      }
    };
    const ports = this.numRanks * LINK_PORTS.length;
    // Every port's intervals in typed arrays, grouped by port (a counting pass, then a fill): no
    // array per port growing a push at a time.
    const at = new Uint32Array(ports + 1);
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      at[tl[x + SRC]! * 4 + out + 1]!++;
      at[tl[x + DST]! * 4 + out + 2]!++;
    }
    for (let p = 0; p < ports; p++) at[p + 1]! += at[p]!;
    const starts = new Float64Array(at[ports]!);
    const ends = new Float64Array(at[ports]!);
    const fill = at.slice(0, ports);
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      let k = fill[tl[x + SRC]! * 4 + out]!++;
      starts[k] = tl[x + E0]!;
      ends[k] = tl[x + E1]!;
      k = fill[tl[x + DST]! * 4 + out + 1]!++;
      starts[k] = tl[x + I0]!;
      ends[k] = tl[x + I1]!;
    }
    const busy = { nvlink: new Float64Array(B), ib: new Float64Array(B) };
    const used = { nvlink: false, ib: false };
    const idx = new Uint32Array(at[ports]!);
    for (let slot = 0; slot < ports; slot++) {
      const a0 = at[slot]!, a1 = at[slot + 1]!;
      if (a1 === a0) continue;
      const kind = (slot & 3) < 2 ? 'nvlink' : 'ib';
      used[kind] = true;
      const order = idx.subarray(a0, a1);
      for (let i = a0; i < a1; i++) order[i - a0] = i;
      // Stable by start (ties keep insertion order, as the sort of indices before did).
      order.sort((p, q) => starts[p]! - starts[q]! || p - q);
      let s = -Infinity, e = -Infinity;
      for (let j = 0; j < order.length; j++) {
        const i = order[j]!;
        const a = starts[i]!, b = ends[i]!;
        if (a > e) {
          if (e > s) add(busy[kind], s, e);
          s = a;
          e = b;
        } else if (b > e) e = b;
      }
      if (e > s) add(busy[kind], s, e);
    }
    const sm = new Float64Array(B);
    const smTracks = new Set<number>();
    if (act) {
      for (let x = 0; x + ACTIVITY_STRIDE <= act.length; x += ACTIVITY_STRIDE) {
        smTracks.add(act[x + 2]! * SM_TIDS_PER_RANK + act[x + 3]!);
        add(sm, act[x]!, act[x + 1]!);
      }
    }
    const pid = this.clusterPid;
    const emit = (name: string, acc: Float64Array, units: number) => {
      for (let k = 0; k < B; k++) ev.push({ ph: 'C', name, pid, tid: 0, ts: lo + k * w, args: { percent: Math.min(100, (100 * acc[k]!) / (units * w)) } });
      ev.push({ ph: 'C', name, pid, tid: 0, ts: hi, args: { percent: 0 } });
    };
    // Every rank has an out and an in port per link type.
    if (used.nvlink) emit(UTILISATION_SERIES.nvlink, busy.nvlink, 2 * this.numRanks);
    if (used.ib) emit(UTILISATION_SERIES.ib, busy.ib, 2 * this.numRanks);
    if (smTracks.size > 0) emit(UTILISATION_SERIES.sm, sm, smTracks.size);
  }

  /** Bytes in service per port at every change, as counters on the rank's compute thread. */
  private exactCounters(tl: ArrayLike<number>, n: number, ev: TraceEvent[]): void {
    // Four changes per link transfer, in typed arrays sized once.
    let m = 0;
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) if (PORT_OUT[tl[x + PATH]!] !== undefined) m += 4;
    const slot = new Uint32Array(m);
    const time = new Float64Array(m);
    const delta = new Float64Array(m);
    let k = 0;
    for (let x = 0; x < n * TIMELINE_STRIDE; x += TIMELINE_STRIDE) {
      const out = PORT_OUT[tl[x + PATH]!];
      if (out === undefined) continue;
      const bytes = tl[x + BYTES]!;
      const s = tl[x + SRC]! * 4 + out;
      const d = tl[x + DST]! * 4 + out + 1;
      slot[k] = s; slot[k + 1] = s; slot[k + 2] = d; slot[k + 3] = d;
      time[k] = tl[x + E0]!; time[k + 1] = tl[x + E1]!; time[k + 2] = tl[x + I0]!; time[k + 3] = tl[x + I1]!;
      delta[k] = bytes; delta[k + 1] = -bytes; delta[k + 2] = bytes; delta[k + 3] = -bytes;
      k += 4;
    }
    const order = new Uint32Array(m);
    for (let i = 0; i < m; i++) order[i] = i;
    order.sort((a, b) => slot[a]! - slot[b]! || time[a]! - time[b]! || a - b);
    for (let j = 0; j < order.length; ) {
      const s = slot[order[j]!]!;
      const t = time[order[j]!]!;
      while (j < order.length && slot[order[j]!] === s && time[order[j]!] === t) this.inFlight[s]! += delta[order[j++]!]!;
      // Float sums of +b and -b can leave dust; a port with nothing in service reads exactly 0.
      const v = Math.abs(this.inFlight[s]!) < 0.5 ? (this.inFlight[s] = 0) : this.inFlight[s]!;
      ev.push(this.counterEvent(s, t, v));
    }
  }
}
