/**
 * @module
 * The event timeline: one record per delivered transfer, in a canonical form that does not depend
 * on how ranks were spread over worker threads. Records are sorted by (dst, src, pairSeq), a key
 * that is unique and placement-free, and hashed as little-endian float64s with SHA-256.
 */
import { createHash } from 'node:crypto';

/** Field order of one timeline record. Times in us; `path` and `op` are protocol constants. */
export const TIMELINE_FIELDS = [
  'dst', 'src', 'pairSeq', 'op', 'path', 'bytes', 'issueT', 'egressStartT', 'egressDoneT', 'ingressStartT',
  'ingressDoneT', 'deliverT',
] as const;
export const TIMELINE_STRIDE = TIMELINE_FIELDS.length;

/** Flat records, {@link TIMELINE_STRIDE} numbers each, in a growable float64 buffer. */
export class TimelineLog {
  private buf = new Float64Array(TIMELINE_STRIDE * 1024);
  private n = 0;

  /** Append one record (fields in {@link TIMELINE_FIELDS} order). */
  record(
    dst: number, src: number, pairSeq: number, op: number, path: number, bytes: number, issueT: number,
    egressStartT: number, egressDoneT: number, ingressStartT: number, ingressDoneT: number, deliverT: number,
  ): void {
    if (this.n + TIMELINE_STRIDE > this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const B = this.buf;
    let i = this.n;
    B[i++] = dst; B[i++] = src; B[i++] = pairSeq; B[i++] = op; B[i++] = path; B[i++] = bytes;
    B[i++] = issueT; B[i++] = egressStartT; B[i++] = egressDoneT; B[i++] = ingressStartT; B[i++] = ingressDoneT;
    B[i++] = deliverT;
    this.n = i;
  }

  /** Remove and return every record so far. */
  take(): Float64Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

/** One record as an object. */
export type TimelineRecord = { [K in (typeof TIMELINE_FIELDS)[number]]: number };

/** Sort flat records into canonical order (dst, src, pairSeq). */
export function canonicalTimeline(log: ArrayLike<number>): Float64Array {
  const n = log.length / TIMELINE_STRIDE;
  const idx = Array.from({ length: n }, (_, i) => i * TIMELINE_STRIDE);
  idx.sort((a, b) => log[a]! - log[b]! || log[a + 1]! - log[b + 1]! || log[a + 2]! - log[b + 2]!);
  const out = new Float64Array(log.length);
  idx.forEach((s, i) => {
    for (let f = 0; f < TIMELINE_STRIDE; f++) out[i * TIMELINE_STRIDE + f] = log[s + f]!;
  });
  return out;
}

/** SHA-256 hex of a canonical timeline. */
export function timelineDigest(canonical: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(canonical.buffer, canonical.byteOffset, canonical.byteLength)).digest('hex');
}

/** Records as objects (for tests, summaries and traces). */
export function timelineRecords(canonical: ArrayLike<number>): TimelineRecord[] {
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

export class SampleLog {
  private buf = new Float64Array(SAMPLE_STRIDE * 1024);
  private n = 0;

  record(time: number, rank: number, series: number, delta: number): void {
    if (this.n + SAMPLE_STRIDE > this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const B = this.buf;
    B[this.n] = time;
    B[this.n + 1] = rank;
    B[this.n + 2] = series;
    B[this.n + 3] = delta;
    this.n += SAMPLE_STRIDE;
  }

  take(): Float64Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

/** Sort flat samples by (time, rank, series), stable: a placement-free order. */
export function canonicalSamples(log: ArrayLike<number>): Float64Array {
  const n = log.length / SAMPLE_STRIDE;
  const idx = Array.from({ length: n }, (_, i) => i * SAMPLE_STRIDE);
  idx.sort((a, b) => log[a]! - log[b]! || log[a + 1]! - log[b + 1]! || log[a + 2]! - log[b + 2]! || a - b);
  const out = new Float64Array(log.length);
  idx.forEach((s, i) => {
    for (let f = 0; f < SAMPLE_STRIDE; f++) out[i * SAMPLE_STRIDE + f] = log[s + f]!;
  });
  return out;
}

/**
 * Activity slices tasks record for traces (e.g. an SM copying a chunk): flat records of
 * (start, end, rank, track, label); `track` and `label` are numbers whose names the recorder defines.
 */
export const ACTIVITY_STRIDE = 5;

export class ActivityLog {
  private buf = new Float64Array(ACTIVITY_STRIDE * 1024);
  private n = 0;

  record(start: number, end: number, rank: number, track: number, label: number): void {
    if (this.n + ACTIVITY_STRIDE > this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const B = this.buf;
    const i = this.n;
    B[i] = start;
    B[i + 1] = end;
    B[i + 2] = rank;
    B[i + 3] = track;
    B[i + 4] = label;
    this.n = i + ACTIVITY_STRIDE;
  }

  take(): Float64Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

/** Sort flat activities by (rank, track, start), stable: per-track slices in time order. */
export function canonicalActivities(log: ArrayLike<number>): Float64Array {
  const n = log.length / ACTIVITY_STRIDE;
  const idx = Array.from({ length: n }, (_, i) => i * ACTIVITY_STRIDE);
  idx.sort((a, b) => log[a + 2]! - log[b + 2]! || log[a + 3]! - log[b + 3]! || log[a]! - log[b]! || a - b);
  const out = new Float64Array(log.length);
  idx.forEach((s, i) => {
    for (let f = 0; f < ACTIVITY_STRIDE; f++) out[i * ACTIVITY_STRIDE + f] = log[s + f]!;
  });
  return out;
}
