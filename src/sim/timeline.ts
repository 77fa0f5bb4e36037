/**
 * @module
 * The event timeline: one record per delivered transfer, in a canonical form that does not depend
 * on how ranks were spread over worker threads. Records are sorted by (dst, src, pairSeq), a key
 * that is unique and placement-free, and hashed as little-endian float64s with SHA-256.
 */
import { createHash } from 'node:crypto';
import { fail, showValue } from '../errors.js';
import { checkAlloc } from '../validate.js';

/** Field order of one timeline record. Times in us; `path` and `op` are protocol constants. */
export const TIMELINE_FIELDS = [
  'dst', 'src', 'pairSeq', 'op', 'path', 'bytes', 'issueT', 'egressStartT', 'egressDoneT', 'ingressStartT',
  'ingressDoneT', 'deliverT',
] as const;
export const TIMELINE_STRIDE = TIMELINE_FIELDS.length;

/**
 * A growable log of fixed-stride float64 records: the shape of every per-engine log (timeline,
 * samples, activities). `slot()` returns where the next record's fields go.
 */
class FlatLog {
  protected buf: Float64Array;
  protected n = 0;

  constructor(private readonly stride: number) {
    this.buf = new Float64Array(stride * 1024);
  }

  /** Index of a new record's first field (growing the buffer when full). */
  protected slot(): number {
    if (this.n + this.stride > this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const i = this.n;
    this.n = i + this.stride;
    return i;
  }

  /** Remove and return every record so far. */
  take(): Float64Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

/** Sort flat records by `compare(a, b)` over their start offsets, stable. */
function sortRecords(log: ArrayLike<number>, stride: number, compare: (a: number, b: number) => number): Float64Array {
  const n = log.length / stride;
  const idx = Array.from({ length: n }, (_, i) => i * stride);
  idx.sort((a, b) => compare(a, b) || a - b);
  const out = new Float64Array(log.length);
  idx.forEach((s, i) => {
    for (let f = 0; f < stride; f++) out[i * stride + f] = log[s + f]!;
  });
  return out;
}

/** Flat records, {@link TIMELINE_STRIDE} numbers each, in a growable float64 buffer. */
export class TimelineLog extends FlatLog {
  constructor() {
    super(TIMELINE_STRIDE);
  }

  /** Append one record (fields in {@link TIMELINE_FIELDS} order). */
  record(
    dst: number, src: number, pairSeq: number, op: number, path: number, bytes: number, issueT: number,
    egressStartT: number, egressDoneT: number, ingressStartT: number, ingressDoneT: number, deliverT: number,
  ): void {
    let i = this.slot();
    const B = this.buf;
    B[i++] = dst; B[i++] = src; B[i++] = pairSeq; B[i++] = op; B[i++] = path; B[i++] = bytes;
    B[i++] = issueT; B[i++] = egressStartT; B[i++] = egressDoneT; B[i++] = ingressStartT; B[i++] = ingressDoneT;
    B[i] = deliverT;
  }
}

/** One record as an object. */
export type TimelineRecord = { [K in (typeof TIMELINE_FIELDS)[number]]: number };

/** Sort flat records into canonical order (dst, src, pairSeq). */
export function canonicalTimeline(log: ArrayLike<number>): Float64Array {
  return sortRecords(log, TIMELINE_STRIDE, (a, b) => log[a]! - log[b]! || log[a + 1]! - log[b + 1]! || log[a + 2]! - log[b + 2]!);
}

/** SHA-256 hex of a canonical timeline. */
export function timelineDigest(canonical: Float64Array): string {
  if (!(canonical instanceof Float64Array)) fail('E_ARGUMENT', `timelineDigest: the timeline must be a Float64Array, got ${showValue(canonical)}`, { argument: 'canonical' });
  return createHash('sha256').update(new Uint8Array(canonical.buffer, canonical.byteOffset, canonical.byteLength)).digest('hex');
}

/** Records as objects (for tests, summaries and traces). */
export function timelineRecords(canonical: ArrayLike<number>): TimelineRecord[] {
  if (!Array.isArray(canonical) && !(canonical instanceof Float64Array))
    fail('E_ARGUMENT', `timelineRecords: the timeline must be a Float64Array (or array of numbers), got ${showValue(canonical)}`, { argument: 'canonical' });
  // One object of 12 fields per record.
  checkAlloc('timelineRecords', 'the records', (canonical.length / TIMELINE_STRIDE) * 200, 'the timeline (collect it per phase)', true);
  const out: TimelineRecord[] = [];
  for (let i = 0; i < canonical.length; i += TIMELINE_STRIDE) {
    const r = {} as TimelineRecord;
    TIMELINE_FIELDS.forEach((f, k) => (r[f] = canonical[i + k]!));
    out.push(r);
  }
  return out;
}

/**
 * Counter samples tasks record for traces (e.g. ring-buffer occupancy): flat records of
 * (time, rank, series, delta); a series' value is the running sum of its deltas in time order.
 */
export const SAMPLE_STRIDE = 4;

/** Sample series: tokens buffered in the rank's NVLink receive rings / RDMA receive rings. */
export const SERIES_NVL_RING = 0;
export const SERIES_RDMA_RING = 1;
export const SERIES_NAMES = ['nvlink ring tokens', 'rdma ring tokens'] as const;

export class SampleLog extends FlatLog {
  constructor() {
    super(SAMPLE_STRIDE);
  }

  record(time: number, rank: number, series: number, delta: number): void {
    const i = this.slot();
    const B = this.buf;
    B[i] = time;
    B[i + 1] = rank;
    B[i + 2] = series;
    B[i + 3] = delta;
  }
}

/** Sort flat samples by (time, rank, series), stable: a placement-free order. */
export function canonicalSamples(log: ArrayLike<number>): Float64Array {
  return sortRecords(log, SAMPLE_STRIDE, (a, b) => log[a]! - log[b]! || log[a + 1]! - log[b + 1]! || log[a + 2]! - log[b + 2]!);
}

/**
 * Activity slices tasks record for traces (e.g. an SM copying a chunk): flat records of
 * (start, end, rank, track, label); `track` and `label` are numbers whose names the recorder defines.
 */
export const ACTIVITY_STRIDE = 5;

/**
 * Link activities (recorded only while a `runTraffic` call asks for them): a port's busy period on
 * track LINK_PORT_TRACK + port index (label: bytes moved), and a sender's rate segment for one
 * transfer on track LINK_RATE_TRACK + destination rank (label: rate, bytes/us).
 */
export const LINK_PORT_TRACK = 1 << 20;
export const LINK_RATE_TRACK = 1 << 21;

export class ActivityLog extends FlatLog {
  constructor() {
    super(ACTIVITY_STRIDE);
  }

  record(start: number, end: number, rank: number, track: number, label: number): void {
    const i = this.slot();
    const B = this.buf;
    B[i] = start;
    B[i + 1] = end;
    B[i + 2] = rank;
    B[i + 3] = track;
    B[i + 4] = label;
  }
}

/** Sort flat activities by (rank, track, start), stable: per-track slices in time order. */
export function canonicalActivities(log: ArrayLike<number>): Float64Array {
  return sortRecords(log, ACTIVITY_STRIDE, (a, b) => log[a + 2]! - log[b + 2]! || log[a + 3]! - log[b + 3]! || log[a]! - log[b]!);
}
