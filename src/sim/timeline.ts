/**
 * @module
 * The event timeline: one record per delivered transfer, in a canonical form that does not depend
 * on how ranks were spread over worker threads. Records are sorted by (dst, src, pairSeq), a key
 * that is unique and placement-free, and hashed as little-endian float64s with SHA-256.
 */
import { createHash } from 'node:crypto';
import { fail, showValue } from '../errors.js';
import { checkAlloc } from '../validate.js';
import { DOUBLE } from './field-init.js';

/** Field order of one timeline record. Times in us; `path` and `op` are protocol constants. */
export const TIMELINE_FIELDS = [
  'dst', 'src', 'pairSeq', 'op', 'path', 'bytes', 'issueT', 'egressStartT', 'egressDoneT', 'ingressStartT',
  'ingressDoneT', 'deliverT',
] as const;
export const TIMELINE_STRIDE = TIMELINE_FIELDS.length;

/** Records per chunk of every per-engine log: logs grow a chunk at a time, never by copying. */
export const LOG_CHUNK_RECORDS = 8192;

/**
 * Where a log's times lie: records from `localFrom` on hold the engine's own times (relative to its
 * time 0, which lies at `epochUs` on the cluster's clock); the ones before it were recorded under an
 * earlier origin and hold cluster times already (`epochUs + time`, added when the origin moved).
 * The reader adds the epoch (the cluster's view) or subtracts an operation's start (its own view):
 * see {@link ClockView}.
 */
export interface LogClock {
  epochUs: number;
  localFrom: number;
}

/** One host's samples or activities, as they cross to the main thread (see {@link LogClock}). */
export interface FlatPart extends LogClock {
  log: Float64Array;
}

/**
 * A log of fixed-stride float64 records in chunks of {@link LOG_CHUNK_RECORDS}: the shape of the
 * samples and activities logs. Growing adds a chunk (no copy of what is there); `take()` joins them.
 * Times (the fields `timeFields`) are kept on the engine's clock (see {@link LogClock}).
 */
class FlatLog {
  /** Cluster-clock time of the engine's time 0, us (see Engine.rebase). */
  private epochUs = DOUBLE;
  /** Records (from the first) already on the cluster's clock. */
  private localFrom = 0;
  private readonly full: Float64Array[] = [];
  protected buf: Float64Array;
  protected n = 0;

  constructor(private readonly stride: number, private readonly timeFields: readonly number[]) {
    this.buf = new Float64Array(stride * LOG_CHUNK_RECORDS);
    this.epochUs = 0; // declared DOUBLE: a double from the first log on (see field-init.ts)
  }

  /** Index of a new record's first field in `buf` (starting a new chunk when full). */
  protected slot(): number {
    if (this.n === this.buf.length) {
      this.full.push(this.buf);
      this.buf = new Float64Array(this.stride * LOG_CHUNK_RECORDS);
      this.n = 0;
    }
    const i = this.n;
    this.n = i + this.stride;
    return i;
  }

  /**
   * The engine's time 0 moves to `epochUs` on the cluster's clock: the records held (kept on the
   * old origin) get the old epoch added now, once, as a record on the cluster's clock would.
   */
  rebase(epochUs: number): void {
    const s = this.stride;
    const chunk = s * LOG_CHUNK_RECORDS;
    let i = this.localFrom * s;
    const end = this.full.length * chunk + this.n;
    for (; i < end; i += s) {
      const c = Math.floor(i / chunk);
      const B = c < this.full.length ? this.full[c]! : this.buf;
      const o = i - c * chunk;
      for (const f of this.timeFields) B[o + f] = this.epochUs + B[o + f]!;
    }
    this.localFrom = end / s;
    this.epochUs = epochUs;
  }

  /**
   * Remove and return every record so far, in recording order, with where their times lie. On
   * shared memory, as the timeline's order: a host hands it to the main thread as is (host-worker.ts).
   */
  take(): FlatPart {
    const out = new Float64Array(new SharedArrayBuffer(8 * (this.full.length * this.buf.length + this.n)));
    let o = 0;
    for (const c of this.full) {
      out.set(c, o);
      o += c.length;
    }
    out.set(this.buf.subarray(0, this.n), o);
    this.full.length = 0;
    this.n = 0;
    const part = { log: out, epochUs: this.epochUs, localFrom: this.localFrom };
    this.localFrom = 0;
    return part;
  }
}

/**
 * The clock a log is read on: `null` for the cluster's; else an operation's own, whose start lies
 * at `startUs` on the hosts' clock, whose time 0 lies at `epochUs` on the cluster's. A time the
 * engine recorded under that origin reads as `time - startUs`: on an operation that started on an
 * idle cluster (`startUs` 0) the engine's own number, exactly as on a fresh cluster.
 */
export type ClockView = { epochUs: number; startUs: number } | null;

/**
 * A part's times on a clock: `(time + add) - sub`, with `local` for records on the engine's clock
 * and `settled` for those on the cluster's (see {@link LogClock}). On the cluster's clock a local
 * time reads `epochUs + time`, the one rounding every reported time has.
 */
export function clockShift(part: LogClock, view: ClockView): { local: [number, number]; settled: [number, number] } {
  if (view === null) return { local: [part.epochUs, 0], settled: [0, 0] };
  const start = view.epochUs + view.startUs;
  return { local: part.epochUs === view.epochUs ? [0, view.startUs] : [part.epochUs, start], settled: [0, start] };
}

/** A flat part's records with their times on `view` (in place; see {@link clockShift}). */
export function flatOnClock(part: FlatPart, stride: number, timeFields: readonly number[], view: ClockView): Float64Array {
  const { local, settled } = clockShift(part, view);
  const B = part.log;
  for (let i = 0; i < B.length; i += stride) {
    const [add, sub] = i / stride < part.localFrom ? settled : local;
    if (add === 0 && sub === 0) continue;
    for (const f of timeFields) B[i + f] = B[i + f]! + add - sub;
  }
  return B;
}

/** Sort flat records by `compare(a, b)` over their start offsets, stable. */
function sortRecords(log: ArrayLike<number>, stride: number, compare: (a: number, b: number) => number): Float64Array {
  const n = log.length / stride;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => compare(a * stride, b * stride) || a - b);
  const out = new Float64Array(log.length);
  for (let i = 0; i < n; i++) {
    const s = idx[i]! * stride;
    for (let f = 0; f < stride; f++) out[i * stride + f] = log[s + f]!;
  }
  return out;
}

/*
 * The timeline log. A record is one 72-byte row in chunks of TIMELINE_CHUNK records, each chunk one
 * SharedArrayBuffer (the main thread reads a worker's chunks in place: no copy, no structured
 * clone): the seven float64 fields (bytes and the six times) first, then pairSeq as uint32, dst and
 * src as uint16, op and path as uint8, 6 bytes unused: 72 bytes a record instead of 96, every value
 * exact (ranks are below 65536, pair sequence numbers are int32 counters, op and path small codes).
 * A row, not a column per field: the main thread reads the records in canonical order, which jumps
 * between chunks at almost every record; a row is one or two cache lines, twelve columns are twelve.
 */
export const TIMELINE_CHUNK = LOG_CHUNK_RECORDS;
const C = TIMELINE_CHUNK;
const TL_F64 = 7;
/** Bytes of one record's row. */
const ROW_BYTES = 72;
/** A row's float64 words, and where its small fields lie in the row, in units of their own size. */
const ROW_F64 = ROW_BYTES / 8;
const ROW_U32 = ROW_BYTES / 4;
const ROW_U16 = ROW_BYTES / 2;
const PAIR_U32 = 56 / 4;
const DST_U16 = 60 / 2;
const SRC_U16 = 62 / 2;
const OP_U8 = 64;
const PATH_U8 = 65;
/** Bytes of one timeline chunk's rows (72 bytes a record). */
export const TIMELINE_CHUNK_BYTES = ROW_BYTES * C;
/**
 * A chunk's lease word: an int32 after its rows (the chunk's buffer is 8 bytes longer than its rows).
 * A chunk is written only by the host whose log holds it; {@link TimelineLog.take} lends it to a
 * reader, which reads it and then stores {@link LEASE_RETURNED} (once, its last access: see
 * {@link returnTimelineChunks}); the host that lent it may then take it back into its log, storing
 * {@link LEASE_HELD} before it writes a row. One writer at a time: the host while the word reads
 * held, the reader once to return it.
 */
const LEASE_BYTE = TIMELINE_CHUNK_BYTES;
const LEASE_HELD = 0;
const LEASE_RETURNED = 1;
/** Bytes of one timeline chunk's buffer: its rows and its lease word (padded to 8 bytes). */
const CHUNK_BUFFER_BYTES = TIMELINE_CHUNK_BYTES + 8;
/** Bytes a timeline record takes while it is held (see {@link TIMELINE_CHUNK_BYTES}). */
export const TIMELINE_RECORD_HELD_BYTES = ROW_BYTES;

/** Views over one timeline chunk's rows (record `i`'s row starts at float64 `i * 9`, byte `i * 72`). */
export class TimelineChunk {
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u16: Uint16Array;
  readonly u8: Uint8Array;
  /** The chunk's lease word (see {@link LEASE_BYTE}). */
  readonly lease: Int32Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.f64 = new Float64Array(buffer, 0, TIMELINE_CHUNK_BYTES / 8);
    this.u32 = new Uint32Array(buffer, 0, TIMELINE_CHUNK_BYTES / 4);
    this.u16 = new Uint16Array(buffer, 0, TIMELINE_CHUNK_BYTES / 2);
    this.u8 = new Uint8Array(buffer, 0, TIMELINE_CHUNK_BYTES);
    this.lease = new Int32Array(buffer, LEASE_BYTE, 1);
  }
}

/**
 * One host's part of a timeline, as it crosses to the main thread: the chunks (shared, not copied),
 * the number of records, their canonical order (record indices, chunk * TIMELINE_CHUNK + i) and
 * where their times lie (see {@link LogClock}; `localFrom` a record index).
 */
export interface TimelinePart extends LogClock {
  chunks: SharedArrayBuffer[];
  count: number;
  order: Uint32Array;
  /** Of `chunks`, those made new for it (fresh memory); the others held an earlier part's records. */
  freshChunks: number;
}

/** Records of one engine, in chunks. `record` writes one; `take` hands every record over, sorted. */
export class TimelineLog {
  /**
   * Cluster-clock time of the engine's time 0, us: records keep the engine's times, and the reader
   * adds it (see {@link LogClock}, Engine.rebase). Declared DOUBLE, set to 0 by the constructor: a
   * double from the first log on (see field-init.ts).
   */
  private epochUs = DOUBLE;
  /** Records (from the first) already on the cluster's clock. */
  private localFrom = 0;
  private chunks: TimelineChunk[] = [];
  /**
   * The chunks the last {@link take} lent (some may be returned since), and returned chunks ready
   * to hold records again: a new chunk is one of those when there is one, so a run whose reader
   * returns each operation's chunks touches no fresh memory for the next operation's records.
   */
  private lent: TimelineChunk[] = [];
  private spare: TimelineChunk[] = [];
  /** The most chunks one take has lent: the spares kept are at most as many. */
  private peakChunks = 0;
  /** Chunks made (fresh memory) since the last take. */
  private made = 0;
  private cur: TimelineChunk | null = null;
  /** Records in the current (last) chunk. */
  private k = C;
  private count = 0;

  constructor() {
    this.epochUs = 0;
  }

  /** Records held. */
  get size(): number {
    return this.count;
  }

  /**
   * The next record's seven floats (bytes, then the six times in {@link TIMELINE_FIELDS} order), for
   * {@link recordRow}: the engine writes them here, not as arguments, since a float passed to a call
   * V8 does not inline (the transfer's landing is too large to inline this into) is boxed as a heap
   * number: seven per transfer recorded.
   */
  readonly times = new Float64Array(7);

  /** Append one record (fields in {@link TIMELINE_FIELDS} order). */
  record(
    dst: number, src: number, pairSeq: number, op: number, path: number, bytes: number, issueT: number,
    egressStartT: number, egressDoneT: number, ingressStartT: number, ingressDoneT: number, deliverT: number,
  ): void {
    const t = this.times;
    t[0] = bytes;
    t[1] = issueT;
    t[2] = egressStartT;
    t[3] = egressDoneT;
    t[4] = ingressStartT;
    t[5] = ingressDoneT;
    t[6] = deliverT;
    this.recordRow(dst, src, pairSeq, op, path);
  }

  /** Append one record whose bytes and times the caller wrote to {@link times}. */
  recordRow(dst: number, src: number, pairSeq: number, op: number, path: number): void {
    let c = this.cur;
    let k = this.k;
    if (k === C || c === null) {
      c = this.cur = this.nextChunk();
      this.chunks.push(c);
      k = 0;
    }
    if (!(pairSeq >>> 0 === pairSeq && dst >>> 0 === dst && dst < 65536 && src >>> 0 === src && src < 65536 && op >>> 0 === op && op < 256 && path >>> 0 === path && path < 256))
      fail('E_ARGUMENT', `timeline record (dst ${dst}, src ${src}, pairSeq ${pairSeq}, op ${op}, path ${path}) has a field out of its range`, { dst, src, pairSeq, op, path });
    const f = c.f64;
    const o = k * ROW_F64;
    const t = this.times;
    f[o] = t[0]!;
    f[o + 1] = t[1]!;
    f[o + 2] = t[2]!;
    f[o + 3] = t[3]!;
    f[o + 4] = t[4]!;
    f[o + 5] = t[5]!;
    f[o + 6] = t[6]!;
    c.u32[k * ROW_U32 + PAIR_U32] = pairSeq;
    c.u16[k * ROW_U16 + DST_U16] = dst;
    c.u16[k * ROW_U16 + SRC_U16] = src;
    c.u8[k * ROW_BYTES + OP_U8] = op;
    c.u8[k * ROW_BYTES + PATH_U8] = path;
    this.k = k + 1;
    this.count++;
  }

  /** A chunk to write: a returned one when there is one (see {@link LEASE_BYTE}), else a new one. */
  private nextChunk(): TimelineChunk {
    if (this.spare.length === 0) this.collectReturned();
    const c = this.spare.pop();
    if (c === undefined) {
      this.made++;
      return new TimelineChunk(new SharedArrayBuffer(CHUNK_BUFFER_BYTES));
    }
    // Ours again (the reader stored its last word before this load saw it): held before any write.
    Atomics.store(c.lease, 0, LEASE_HELD);
    return c;
  }

  /** Move the lent chunks their reader has returned to the spares. */
  private collectReturned(): void {
    const lent = this.lent;
    let keep = 0;
    for (let j = 0; j < lent.length; j++) {
      const c = lent[j]!;
      if (Atomics.load(c.lease, 0) === LEASE_RETURNED) this.spare.push(c);
      else lent[keep++] = c;
    }
    lent.length = keep;
  }

  /** As FlatLog.rebase: the records held get the old epoch added, once; later ones keep the engine's times. */
  rebase(epochUs: number): void {
    const e = this.epochUs;
    for (let x = this.localFrom; x < this.count; x++) {
      const f = this.chunks[Math.floor(x / C)]!.f64;
      const o = (x % C) * ROW_F64;
      for (let j = 1; j < TL_F64; j++) f[o + j] = e + f[o + j]!;
    }
    this.localFrom = this.count;
    this.epochUs = epochUs;
  }

  /**
   * Remove every record and return them with their canonical order (dst, src, pairSeq), computed
   * here (on the host, in parallel with the others) by counting sorts on src then dst and, within a
   * (dst, src) pair, by pairSeq (already in order unless queue pairs overtook each other).
   */
  take(numRanks: number): TimelinePart {
    const chunks = this.chunks;
    const n = this.count;
    // The chunks lent before and not returned by now are forgotten (their reader keeps them: they
    // are freed with its last reference); the spares kept are at most as many as one take has lent.
    this.collectReturned();
    this.lent = chunks;
    this.peakChunks = Math.max(this.peakChunks, chunks.length);
    if (this.spare.length > this.peakChunks) this.spare.length = this.peakChunks;
    this.chunks = [];
    this.cur = null;
    this.k = C;
    this.count = 0;
    const localFrom = this.localFrom;
    this.localFrom = 0;
    const freshChunks = this.made;
    this.made = 0;
    return { chunks: chunks.map((c) => c.buffer), count: n, order: canonicalOrder(chunks, n, numRanks), epochUs: this.epochUs, localFrom, freshChunks };
  }
}

function canonicalOrder(chunks: TimelineChunk[], n: number, numRanks: number): Uint32Array {
  const R = Math.max(numRanks, 1);
  // The keys copied out of the rows first, in record order (record x = chunk << 13 | i, chunks
  // full but the last): the pair `dst * R + src` and pairSeq. The sorts then read flat arrays.
  // Called once per kernel, so the loops are in functions of their own (optimised after their
  // first calls).
  const pair = new Uint32Array(n);
  const seq = new Uint32Array(n);
  for (let ci = 0; ci < chunks.length; ci++) copyKeys(chunks[ci]!, Math.min(C, n - ci * C), ci * C, R, pair, seq);
  // On shared memory: a host hands it to the main thread neither copied nor moved (host-worker.ts).
  const order = new Uint32Array(new SharedArrayBuffer(4 * n));
  if (R <= MAX_PAIR_BUCKETS_R) {
    // One stable counting sort by pair: (dst, src), then record order.
    countingSort(pair, null, order, new Uint32Array(R * R + 1));
  } else {
    // Too many pairs for a bucket each: stable counting sorts by src, then by dst.
    const src = new Uint32Array(n);
    const dst = new Uint32Array(n);
    for (let x = 0; x < n; x++) {
      src[x] = pair[x]! % R;
      dst[x] = (pair[x]! - src[x]!) / R;
    }
    const cnt = new Uint32Array(R + 1);
    const bySrc = new Uint32Array(n);
    countingSort(src, null, bySrc, cnt);
    cnt.fill(0);
    countingSort(dst, bySrc, order, cnt);
  }
  sortPairRuns(order, pair, seq);
  return order;
}

/** Ranks up to which {@link canonicalOrder} sorts by pair in one pass (R * R buckets: 16 MiB at 2048). */
const MAX_PAIR_BUCKETS_R = 2048;

function copyKeys(c: TimelineChunk, m: number, at: number, R: number, pair: Uint32Array, seq: Uint32Array): void {
  const u16 = c.u16;
  const u32 = c.u32;
  for (let i = 0; i < m; i++) {
    pair[at + i] = u16[i * ROW_U16 + DST_U16]! * R + u16[i * ROW_U16 + SRC_U16]!;
    seq[at + i] = u32[i * ROW_U32 + PAIR_U32]!;
  }
}

/** Stable counting sort of records (`input` order, or record order when null) by `key` into `out`; `cnt` has a bucket per key value plus one. */
function countingSort(key: Uint32Array, input: Uint32Array | null, out: Uint32Array, cnt: Uint32Array): void {
  const n = key.length;
  const B = cnt.length - 1;
  for (let i = 0; i < n; i++) cnt[key[i]! + 1]!++;
  for (let r = 0; r < B; r++) cnt[r + 1]! += cnt[r]!;
  if (input === null) {
    for (let i = 0; i < n; i++) out[cnt[key[i]!]!++] = i;
  } else {
    for (let j = 0; j < n; j++) {
      const x = input[j]!;
      out[cnt[key[x]!]!++] = x;
    }
  }
}

/**
 * Within each (dst, src) run of `order`, records by pairSeq (already in order unless queue pairs
 * overtook each other). An unsorted run is sorted on packed keys (pairSeq * length + position, a
 * native numeric sort, no comparator): the same order as a stable sort by pairSeq.
 */
function sortPairRuns(order: Uint32Array, pair: Uint32Array, seq: Uint32Array): void {
  const n = order.length;
  let lo = 0;
  while (lo < n) {
    const first = order[lo]!;
    const k = pair[first]!;
    let prev = seq[first]!;
    let sorted = true;
    let hi = lo + 1;
    for (; hi < n; hi++) {
      const x = order[hi]!;
      if (pair[x] !== k) break;
      const q = seq[x]!;
      if (q < prev) sorted = false;
      prev = q;
    }
    if (!sorted) sortRunBySeq(order, lo, hi, seq);
    lo = hi;
  }
}

function sortRunBySeq(order: Uint32Array, lo: number, hi: number, seq: Uint32Array): void {
  const m = hi - lo;
  const run = order.slice(lo, hi);
  // pairSeq < 2^32 and m < 2^21 keep every packed key below 2^53 (exact).
  if (m >= 1 << 21) {
    order.subarray(lo, hi).sort((a, b) => seq[a]! - seq[b]!);
    return;
  }
  const keys = new Float64Array(m);
  for (let i = 0; i < m; i++) keys[i] = seq[run[i]!]! * m + i;
  keys.sort();
  for (let i = 0; i < m; i++) order[lo + i] = run[keys[i]! % m]!;
}

/** Chunk index shift: TIMELINE_CHUNK is 2^13. */
if (C !== 1 << 13) throw new Error('TIMELINE_CHUNK must be 8192 (record indices split as chunk << 13 | i)');

/**
 * Write records `from..to` of a part, in its canonical order, as flat float64 rows
 * ({@link TIMELINE_FIELDS} order) into `out` starting at row `at`, times on `clock` (the
 * cluster's by default).
 */
export function gatherTimeline(part: TimelinePart, views: TimelineChunk[], from: number, to: number, out: Float64Array, at: number, clock: ClockView = null): void {
  const order = part.order;
  const { local, settled } = clockShift(part, clock);
  const [lAdd, lSub] = local;
  const [sAdd, sSub] = settled;
  const localFrom = part.localFrom;
  let o = at * TIMELINE_STRIDE;
  for (let j = from; j < to; j++) {
    const x = order[j]!;
    const c = views[x >>> 13]!;
    const i = x & (C - 1);
    const f = c.f64;
    const r = i * ROW_F64;
    const add = x < localFrom ? sAdd : lAdd;
    const sub = x < localFrom ? sSub : lSub;
    out[o] = c.u16[i * ROW_U16 + DST_U16]!;
    out[o + 1] = c.u16[i * ROW_U16 + SRC_U16]!;
    out[o + 2] = c.u32[i * ROW_U32 + PAIR_U32]!;
    out[o + 3] = c.u8[i * ROW_BYTES + OP_U8]!;
    out[o + 4] = c.u8[i * ROW_BYTES + PATH_U8]!;
    out[o + 5] = f[r]!;
    out[o + 6] = f[r + 1]! + add - sub;
    out[o + 7] = f[r + 2]! + add - sub;
    out[o + 8] = f[r + 3]! + add - sub;
    out[o + 9] = f[r + 4]! + add - sub;
    out[o + 10] = f[r + 5]! + add - sub;
    out[o + 11] = f[r + 6]! + add - sub;
    o += TIMELINE_STRIDE;
  }
}

/**
 * Hand a part's chunks back to the host that lent them (see {@link LEASE_BYTE}): the caller has
 * read them for the last time, and its next operation's records may be written over them. The part
 * is emptied (no chunks, no records), so a second return or a late read finds nothing.
 */
export function returnTimelineChunks(part: TimelinePart): void {
  const chunks = part.chunks;
  part.chunks = [];
  part.count = 0;
  part.order = new Uint32Array(0);
  for (const b of chunks) Atomics.store(new Int32Array(b, LEASE_BYTE, 1), 0, LEASE_RETURNED);
}

/** Views over a part's chunks (for {@link gatherTimeline}). */
export function timelineViews(part: TimelinePart): TimelineChunk[] {
  return part.chunks.map((b) => new TimelineChunk(b));
}

/** A part's records as flat float64 rows in canonical order. */
export function partRows(part: TimelinePart): Float64Array {
  const out = new Float64Array(part.count * TIMELINE_STRIDE);
  gatherTimeline(part, timelineViews(part), 0, part.count, out, 0);
  return out;
}

/** Records per block when a timeline is streamed (768 KiB of rows). */
export const TIMELINE_BLOCK_RECORDS = 8192;

/**
 * The parts (in the given order, each in its canonical order) as blocks of flat float64 rows, one
 * at a time (the same reused buffer: consume each before asking for the next), so a caller can
 * fold them a few at a time. The bytes are those of the joined canonical timeline: a hash fed
 * block by block equals {@link timelineDigest} of it.
 */
export function* timelineBlocks(parts: readonly TimelinePart[], partRead?: (part: TimelinePart) => void): Generator<Uint8Array, void, undefined> {
  const block = new Float64Array(TIMELINE_BLOCK_RECORDS * TIMELINE_STRIDE);
  const bytes = new Uint8Array(block.buffer);
  for (const p of parts) {
    const views = timelineViews(p);
    const n = p.count;
    for (let from = 0; from < n; from += TIMELINE_BLOCK_RECORDS) {
      const to = Math.min(n, from + TIMELINE_BLOCK_RECORDS);
      gatherTimeline(p, views, from, to, block, 0);
      // The part's last rows are in the block (a copy): `partRead` may return its chunks now.
      if (to === n) partRead?.(p);
      yield bytes.subarray(0, (to - from) * TIMELINE_STRIDE * 8);
    }
    if (n === 0) partRead?.(p);
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
/** Fields of a sample that are times. */
export const SAMPLE_TIME_FIELDS = [0] as const;

/** Sample series: tokens buffered in the rank's NVLink receive rings / RDMA receive rings. */
export const SERIES_NVL_RING = 0;
export const SERIES_RDMA_RING = 1;
export const SERIES_NAMES = ['nvlink ring tokens', 'rdma ring tokens'] as const;

export class SampleLog extends FlatLog {
  constructor() {
    super(SAMPLE_STRIDE, SAMPLE_TIME_FIELDS);
  }

  /**
   * Record a change of `delta` in `series` of `rank` at `clock.now`, read here: the engine's tasks
   * record at their clock, and a float time passed to a call V8 does not inline is boxed as a heap
   * number, one per sample.
   */
  recordAt(clock: { readonly now: number }, rank: number, series: number, delta: number): void {
    const i = this.slot();
    const B = this.buf;
    B[i] = clock.now;
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
/** Fields of an activity that are times. */
export const ACTIVITY_TIME_FIELDS = [0, 1] as const;

/**
 * Link activities (recorded only while a `runTraffic` call asks for them): a port's busy period on
 * track LINK_PORT_TRACK + port index (label: bytes moved), and a sender's rate segment for one
 * transfer on track LINK_RATE_TRACK + destination rank (label: rate, bytes/us).
 */
export const LINK_PORT_TRACK = 1 << 20;
export const LINK_RATE_TRACK = 1 << 21;

export class ActivityLog extends FlatLog {
  constructor() {
    super(ACTIVITY_STRIDE, ACTIVITY_TIME_FIELDS);
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

  /**
   * The next slice's start and end, for {@link recordSpan}: a caller writes them here rather than
   * passing them, since a float argument to a call V8 does not inline is boxed (two per slice).
   */
  readonly span = new Float64Array(2);

  /** {@link record} of the slice whose times are in {@link span}. */
  recordSpan(rank: number, track: number, label: number): void {
    const i = this.slot();
    const B = this.buf;
    B[i] = this.span[0]!;
    B[i + 1] = this.span[1]!;
    B[i + 2] = rank;
    B[i + 3] = track;
    B[i + 4] = label;
  }
}

/** Sort flat activities by (rank, track, start), stable: per-track slices in time order. */
export function canonicalActivities(log: ArrayLike<number>): Float64Array {
  return sortRecords(log, ACTIVITY_STRIDE, (a, b) => log[a + 2]! - log[b + 2]! || log[a + 3]! - log[b + 3]! || log[a]! - log[b]!);
}
