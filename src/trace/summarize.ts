/**
 * @module
 * `summarizeTrace`: per-rank and per-link utilisation from a trace file written by expertmesh
 * (busy time is the union of a track's slices over the trace's span; for links, the exact per-port
 * totals the phase slices carry, which count every transfer even when the slices are a sample).
 */
import { fail, showValue } from '../errors.js';
import type { TraceEvent } from './events.js';
import { readTraceFile } from './read.js';

/** One rank's compute track. */
export interface RankUtilisation {
  rank: number;
  node: number;
  busyUs: number;
  utilisation: number;
}

/** One link port of one rank (all its lanes together). */
export interface LinkUtilisation {
  rank: number;
  port: string;
  busyUs: number;
  utilisation: number;
  transfers: number;
  bytes: number;
  /** Bytes over busy time, GB/s: the rate while busy (the link's rate when it is the bottleneck). */
  busyGBps: number;
  /** Bytes over the trace's span, GB/s: the port's average. */
  avgGBps: number;
}

/** What {@link summarizeTrace} returns. */
export interface TraceSummary {
  schemaVersion: 1;
  /** First event to last slice end, us. */
  spanUs: number;
  events: number;
  incomplete: boolean;
  ranks: RankUtilisation[];
  links: LinkUtilisation[];
}

/** A finite number from a trace field, else 0 (fields of foreign traces may be anything). */
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

const TRACK = /^rank (\d+) (compute|nvlink\.out|nvlink\.in|ib\.out|ib\.in)(?: #\d+)?$/;

function unionLength(iv: Array<[number, number]>): number {
  iv.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [s, e] = [-Infinity, -Infinity];
  for (const [a, b] of iv) {
    if (a > e) {
      if (e > s) total += e - s;
      [s, e] = [a, b];
    } else e = Math.max(e, b);
  }
  if (e > s) total += e - s;
  return total;
}

/**
 * Summarise a trace: a parsed trace object, or a file path.
 * @throws ExpertmeshError `E_ARGUMENT` when the file cannot be read or is not a trace.
 * @example
 * const s = summarizeTrace('run.trace.json');
 * console.log(s.links.filter((l) => l.port === 'ib.out').map((l) => l.utilisation));
 */
/**
 * The events of a trace document (object or array form), each checked for what readers of traces
 * rely on: an object, numeric pid and tid, a finite ts (except metadata), a finite dur >= 0 on
 * slices. Throws `E_ARGUMENT` naming the first bad event. @internal
 */
export function checkTraceEvents(doc: unknown): TraceEvent[] {
  if (typeof doc !== 'object' || doc === null) fail('E_ARGUMENT', `not a trace: expected an object with a traceEvents array, got ${showValue(doc)}`, {});
  const events = Array.isArray(doc) ? (doc as TraceEvent[]) : (doc as { traceEvents?: unknown }).traceEvents;
  if (!Array.isArray(events)) fail('E_ARGUMENT', 'not a trace: expected an object with a traceEvents array', {});
  const other = Array.isArray(doc) ? undefined : (doc as { otherData?: unknown }).otherData;
  if (other !== undefined && (typeof other !== 'object' || other === null || Array.isArray(other)))
    fail('E_ARGUMENT', `not a trace: otherData must be an object, got ${showValue(other)}`, { field: 'otherData' });
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as TraceEvent;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail('E_ARGUMENT', `not a trace: event ${i} is not an object, got ${showValue(e)}`, { index: i });
    for (const f of ['pid', 'tid'] as const)
      if (typeof e[f] !== 'number' && typeof e[f] !== 'string')
        fail('E_ARGUMENT', `not a trace: event ${i} needs a numeric ${f}, got ${showValue(e[f])}`, { index: i, field: f });
    if (e.ph !== 'M' && (typeof e.ts !== 'number' || !Number.isFinite(e.ts)))
      fail('E_ARGUMENT', `not a trace: event ${i} (ph ${showValue(e.ph)}) needs a finite ts, got ${showValue(e.ts)}`, { index: i, field: 'ts' });
    if (e.ph === 'X' && (typeof e.dur !== 'number' || !(e.dur >= 0) || !Number.isFinite(e.dur)))
      fail('E_ARGUMENT', `not a trace: slice ${i} needs a finite dur >= 0, got ${showValue(e.dur)}`, { index: i, field: 'dur' });
    if (e.args !== undefined && (typeof e.args !== 'object' || e.args === null))
      fail('E_ARGUMENT', `not a trace: event ${i} has args ${showValue(e.args)}; args must be an object`, { index: i, field: 'args' });
  }
  return events;
}

export function summarizeTrace(trace: string | { traceEvents: TraceEvent[]; otherData?: Record<string, unknown> }): TraceSummary {
  const doc = typeof trace === 'string' ? readTraceFile(trace) : trace;
  const events = checkTraceEvents(doc);
  const names = new Map<string, { rank: number; track: string }>();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name') {
      const name = e.args?.['name'];
      const m = TRACK.exec(typeof name === 'string' ? name : '');
      if (m) names.set(`${e.pid}:${e.tid}`, { rank: Number(m[1]), track: m[2]! });
    }
  }
  // Traces by expertmesh carry exact per-port totals on each rank's phase slices (`args.links`): the
  // transfer slices may be a sample. Older or foreign traces: from the slices.
  const totals = new Map<string, { n: number; bytes: number; busyUs: number }>();
  const busy = new Map<string, Array<[number, number]>>();
  const bytes = new Map<string, { n: number; bytes: number }>();
  const nodeOf = new Map<number, number>();
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const e of events) {
    if (e.ph === 'M') continue;
    t0 = Math.min(t0, e.ts);
    t1 = Math.max(t1, e.ts + (e.dur ?? 0));
    if (e.ph !== 'X') continue;
    const who = names.get(`${e.pid}:${e.tid}`);
    if (!who) continue;
    // Traces that group tracks by rank carry the node in the phase slices' args; older ones: pid = node.
    if (!nodeOf.has(who.rank) || e.args?.['node'] !== undefined) nodeOf.set(who.rank, typeof e.args?.['node'] === 'number' ? (e.args['node'] as number) : e.pid);
    const key = `${who.rank}|${who.track}`;
    (busy.get(key) ?? busy.set(key, []).get(key)!).push([e.ts, e.ts + e.dur!]);
    const perPort = who.track === 'compute' && e.cat === 'phase' ? e.args?.['links'] : undefined;
    if (perPort && typeof perPort === 'object') {
      for (const [port, v] of Object.entries(perPort as Record<string, Partial<Record<'transfers' | 'bytes' | 'busyUs', unknown>> | null>)) {
        if (port === 'compute' || typeof v !== 'object' || v === null) continue;
        const k = `${who.rank}|${port}`;
        const t = totals.get(k) ?? { n: 0, bytes: 0, busyUs: 0 };
        t.n += num(v.transfers);
        t.bytes += num(v.bytes);
        t.busyUs += num(v.busyUs);
        totals.set(k, t);
      }
    }
    if (who.track !== 'compute') {
      const b = bytes.get(key) ?? { n: 0, bytes: 0 };
      b.n++;
      b.bytes += num(e.args?.['bytes']);
      bytes.set(key, b);
    }
  }
  const spanUs = t1 > t0 ? t1 - t0 : 0;
  const ranks: RankUtilisation[] = [];
  const links: LinkUtilisation[] = [];
  const useTotals = totals.size > 0;
  const keys = new Set([...busy.keys()].filter((k) => !useTotals || k.endsWith('|compute')));
  if (useTotals) for (const k of totals.keys()) keys.add(k);
  for (const key of [...keys].sort(cmpKey)) {
    const [rank, track] = [Number(key.split('|')[0]), key.split('|')[1]!];
    if (track === 'compute') {
      const busyUs = unionLength(busy.get(key) ?? []);
      ranks.push({ rank, node: nodeOf.get(rank) ?? 0, busyUs, utilisation: spanUs > 0 ? busyUs / spanUs : 0 });
      continue;
    }
    const t = useTotals ? totals.get(key)! : { n: 0, bytes: 0, ...bytes.get(key), busyUs: unionLength(busy.get(key) ?? []) };
    const busyUs = t.busyUs;
    links.push({ rank, port: track, busyUs, utilisation: spanUs > 0 ? busyUs / spanUs : 0, transfers: t.n, bytes: t.bytes, busyGBps: busyUs > 0 ? t.bytes / busyUs / 1e3 : 0, avgGBps: spanUs > 0 ? t.bytes / spanUs / 1e3 : 0 });
  }
  const other = Array.isArray(doc) ? undefined : doc.otherData;
  return { schemaVersion: 1, spanUs, events: events.length, incomplete: other?.['incomplete'] === true, ranks, links };
}

const PORT_ORDER = ['compute', 'nvlink.out', 'nvlink.in', 'ib.out', 'ib.in'];
function cmpKey(a: string, b: string): number {
  const [ra, ta] = a.split('|');
  const [rb, tb] = b.split('|');
  return Number(ra) - Number(rb) || PORT_ORDER.indexOf(ta!) - PORT_ORDER.indexOf(tb!);
}
