/**
 * @module
 * Packets between engines on different threads, columnar: a {@link PacketColumns} holds a batch as
 * one typed array per field (struct of arrays, reused and grown, never one object per packet); a
 * {@link BatchCodec} packs a batch as one msgpack message of those columns into a reused buffer and
 * decodes a message back into reused columns. The layout is named in `protocol.ts`.
 *
 * Payload bytes never travel in a packet: they stay in registered SharedArrayBuffer regions and
 * the receiver copies them at delivery. Decoding validates every field of every packet before the
 * batch is handed over, so a malformed batch is rejected whole and changes nothing.
 */
import { Packr } from 'msgpackr';
import { fail, showValue } from '../errors.js';
import {
  BATCH_HEADER_ITEMS, BATCH_LAYOUT_VERSION, BATCH_MAX_PACKETS, C_BYTES, C_DST, C_DST_OFFSET, C_DST_REGION, C_EGRESS_DONE_T,
  C_EGRESS_START_T, C_FLAGS, C_ISSUE_T, C_KEY_RANK, C_KEY_SEQ, C_OP, C_PAIR_SEQ, C_PATH, C_QP, C_RATE, C_SIG_OFFSET,
  C_SIG_REGION, C_SRC, C_SRC_OFFSET, C_SRC_REGION, C_TIME, C_VALUE, C_WAITER, C_XID, OP_READ_REPLY, PACKET_COLUMNS,
  PACKET_KIND_MAX, QP_SLOTS, type PacketColumn,
} from './protocol.js';

/** One control message between engines, as an object (tests and diagnostics; the hot path uses columns). */
export interface Packet {
  /** PKT_* kind. */
  kind: number;
  /** Virtual time (us) at which the destination engine acts on it. */
  time: number;
  /** Rank whose action produced the packet: the event's tie-break rank. */
  keyRank: number;
  /** Sequence number of that rank: the event's tie-break seq. */
  keySeq: number;
  /** Source and destination ranks of the transfer. */
  src: number;
  dst: number;
  /** Transfer id, unique per source rank. */
  xid: number;
  /** Per (src, dst) sequence number: delivery order on the pair. */
  pairSeq: number;
  /** OP_* operation. */
  op: number;
  /** PATH_* path. */
  path: number;
  /** Bytes the transfer occupies on the link. */
  bytes: number;
  /** Source region id and byte offset (put), or -1. */
  srcRegion: number;
  srcOffset: number;
  /** Destination region id and byte offset. */
  dstRegion: number;
  dstOffset: number;
  /** Add operand, or the value read. */
  value: number;
  /** Times (us) the transfer was issued, started and finished leaving the sender (-1 unknown). */
  issueT: number;
  egressStartT: number;
  egressDoneT: number;
  /** FLAG_* bits. */
  flags: number;
  /** Id of the task waiting for completion on the source, or -1. */
  waiter: number;
  /** Put with signal: region id and byte offset of the int32 counter that `value` is added to at delivery, or -1. */
  sigRegion: number;
  sigOffset: number;
  /**
   * Link flow news: the sending rate (PKT_INGRESS_START, PKT_RATE) or credit level (PKT_CREDIT),
   * bytes/us; PKT_CONTROL: the transfers its stream had before it; else 0.
   */
  rate: number;
  /** Queue pair of the transfer's stream (0 unless an RDMA work request on another QP). */
  qp: number;
}

/** The transfer moves no payload bytes (sizes-only mode). */
export const FLAG_NO_DATA = 1;
/** The source waits for an acknowledgement of delivery. */
export const FLAG_WANT_ACK = 2;

/** Build a packet object (always the same field order). */
export function makePacket(
  kind: number, time: number, keyRank: number, keySeq: number, src: number, dst: number, xid: number,
  pairSeq: number, op: number, path: number, bytes: number, srcRegion: number, srcOffset: number,
  dstRegion: number, dstOffset: number, value: number, issueT: number, egressStartT: number,
  egressDoneT: number, flags: number, waiter: number, sigRegion: number, sigOffset: number,
  rate = 0, qp = 0,
): Packet {
  return {
    kind, time, keyRank, keySeq, src, dst, xid, pairSeq, op, path, bytes, srcRegion, srcOffset,
    dstRegion, dstOffset, value, issueT, egressStartT, egressDoneT, flags, waiter, sigRegion, sigOffset, rate, qp,
  };
}

const NCOL = PACKET_COLUMNS.length;

/**
 * A batch of packets as columns: `kinds[i]` and `col[C_*][i]` for packet `i < count`. Reused: `clear()`
 * keeps the arrays, `push` grows them by doubling.
 */
export class PacketColumns {
  count = 0;
  kinds: Uint8Array;
  readonly col: Float64Array[];

  constructor(capacity = 64) {
    this.kinds = new Uint8Array(capacity);
    this.col = Array.from({ length: NCOL }, () => new Float64Array(capacity));
  }

  get capacity(): number {
    return this.kinds.length;
  }

  clear(): void {
    this.count = 0;
  }

  /** Make room for `n` packets (keeps the first `count`). */
  reserve(n: number): void {
    if (n <= this.kinds.length) return;
    let cap = this.kinds.length * 2;
    while (cap < n) cap *= 2;
    const k = new Uint8Array(cap);
    k.set(this.kinds.subarray(0, this.count));
    this.kinds = k;
    for (let f = 0; f < NCOL; f++) {
      const c = new Float64Array(cap);
      c.set(this.col[f]!.subarray(0, this.count));
      this.col[f] = c;
    }
  }

  /** Append one packet (arguments in {@link makePacket} order). */
  push(
    kind: number, time: number, keyRank: number, keySeq: number, src: number, dst: number, xid: number,
    pairSeq: number, op: number, path: number, bytes: number, srcRegion: number, srcOffset: number,
    dstRegion: number, dstOffset: number, value: number, issueT: number, egressStartT: number,
    egressDoneT: number, flags: number, waiter: number, sigRegion: number, sigOffset: number, rate: number, qp: number,
  ): void {
    const i = this.count;
    if (i === this.kinds.length) this.reserve(i + 1);
    this.kinds[i] = kind;
    const c = this.col;
    c[C_TIME]![i] = time; c[C_KEY_RANK]![i] = keyRank; c[C_KEY_SEQ]![i] = keySeq; c[C_SRC]![i] = src; c[C_DST]![i] = dst;
    c[C_XID]![i] = xid; c[C_PAIR_SEQ]![i] = pairSeq; c[C_OP]![i] = op; c[C_PATH]![i] = path; c[C_BYTES]![i] = bytes;
    c[C_SRC_REGION]![i] = srcRegion; c[C_SRC_OFFSET]![i] = srcOffset; c[C_DST_REGION]![i] = dstRegion;
    c[C_DST_OFFSET]![i] = dstOffset; c[C_VALUE]![i] = value; c[C_ISSUE_T]![i] = issueT; c[C_EGRESS_START_T]![i] = egressStartT;
    c[C_EGRESS_DONE_T]![i] = egressDoneT; c[C_FLAGS]![i] = flags; c[C_WAITER]![i] = waiter; c[C_SIG_REGION]![i] = sigRegion;
    c[C_SIG_OFFSET]![i] = sigOffset; c[C_RATE]![i] = rate; c[C_QP]![i] = qp;
    this.count = i + 1;
  }

  pushPacket(p: Packet): void {
    this.push(
      p.kind, p.time, p.keyRank, p.keySeq, p.src, p.dst, p.xid, p.pairSeq, p.op, p.path, p.bytes, p.srcRegion, p.srcOffset,
      p.dstRegion, p.dstOffset, p.value, p.issueT, p.egressStartT, p.egressDoneT, p.flags, p.waiter, p.sigRegion, p.sigOffset, p.rate, p.qp,
    );
  }

  /** Packet `i` as an object (tests, diagnostics). */
  packetAt(i: number): Packet {
    const c = this.col;
    const g = (f: number) => c[f]![i]!;
    return makePacket(
      this.kinds[i]!, g(C_TIME), g(C_KEY_RANK), g(C_KEY_SEQ), g(C_SRC), g(C_DST), g(C_XID), g(C_PAIR_SEQ), g(C_OP), g(C_PATH),
      g(C_BYTES), g(C_SRC_REGION), g(C_SRC_OFFSET), g(C_DST_REGION), g(C_DST_OFFSET), g(C_VALUE), g(C_ISSUE_T),
      g(C_EGRESS_START_T), g(C_EGRESS_DONE_T), g(C_FLAGS), g(C_WAITER), g(C_SIG_REGION), g(C_SIG_OFFSET), g(C_RATE), g(C_QP),
    );
  }

  /** Smallest `time` of the batch (Infinity when empty). */
  minTime(): number {
    let m = Infinity;
    const t = this.col[C_TIME]!;
    for (let i = 0; i < this.count; i++) if (t[i]! < m) m = t[i]!;
    return m;
  }
}

/** Limits that decoded packets are checked against. */
export interface PacketLimits {
  numRanks: number;
  numRegions: number;
}

const MAX = Number.MAX_SAFE_INTEGER;
/** Range of every column: [lo, hi, integer]; `hi` of -2 / -3 stands for numRanks-1 / numRegions-1. */
const RANKS = -2, REGIONS = -3;
const SPEC: ReadonlyArray<readonly [number, number, boolean]> = [
  /* time */ [0, Number.MAX_VALUE, false], /* keyRank */ [0, RANKS, true], /* keySeq */ [0, MAX, true],
  /* src */ [0, RANKS, true], /* dst */ [0, RANKS, true], /* xid */ [0, MAX, true], /* pairSeq */ [0, MAX, true],
  /* op */ [0, OP_READ_REPLY, true], /* path */ [0, 2, true], /* bytes */ [0, MAX, true],
  /* srcRegion */ [-1, REGIONS, true], /* srcOffset */ [-1, MAX, true], /* dstRegion */ [-1, REGIONS, true],
  /* dstOffset */ [-1, MAX, true], /* value */ [-Number.MAX_VALUE, Number.MAX_VALUE, false],
  /* issueT */ [0, Number.MAX_VALUE, false], /* egressStartT */ [-1, Number.MAX_VALUE, false],
  /* egressDoneT */ [-1, Number.MAX_VALUE, false], /* flags */ [0, 3, true], /* waiter */ [-1, MAX, true],
  /* sigRegion */ [-1, REGIONS, true], /* sigOffset */ [-1, MAX, true],
  /* rate */ [0, Number.MAX_VALUE, false], /* qp */ [0, QP_SLOTS - 1, true],
];

function bad(i: number, field: string, v: unknown, want: string): never {
  fail('E_PACKET', `packet ${i}: field '${field}' ${want}, got ${showValue(v)}`, { index: i, field, value: v });
}

/**
 * Check every field of every packet of a batch, column by column. Throws `E_PACKET` naming the
 * packet index, field and value (the first bad packet in index order).
 */
export function validateColumns(b: PacketColumns, limits: PacketLimits, from = 0, to = b.count): void {
  let worst = -1;
  const k = b.kinds;
  for (let i = from; i < to; i++) if (!(k[i]! >= 1 && k[i]! <= PACKET_KIND_MAX)) { worst = i; break; }
  for (let f = 0; f < NCOL; f++) {
    const [lo, hiSpec, integer] = SPEC[f]!;
    const hi = hiSpec === RANKS ? limits.numRanks - 1 : hiSpec === REGIONS ? limits.numRegions - 1 : hiSpec;
    const c = b.col[f]!;
    const stop = worst < 0 ? to : worst;
    for (let i = from; i < stop; i++) {
      const v = c[i]!;
      if (!(v >= lo && v <= hi) || (integer && !Number.isInteger(v))) { worst = i; break; }
    }
  }
  if (worst < 0) return;
  // Name the first bad field of the first bad packet, in wire order (index within the batch).
  const at = worst;
  const i = at - from;
  if (!(k[at]! >= 1 && k[at]! <= PACKET_KIND_MAX)) bad(i, 'kind', k[at], `must be an integer in [1, ${PACKET_KIND_MAX}]`);
  for (let f = 0; f < NCOL; f++) {
    const [lo, hiSpec, integer] = SPEC[f]!;
    const hi = hiSpec === RANKS ? limits.numRanks - 1 : hiSpec === REGIONS ? limits.numRegions - 1 : hiSpec;
    const v = b.col[f]![at]!;
    if (!(v >= lo && v <= hi) || (integer && !Number.isInteger(v)))
      bad(i, PACKET_COLUMNS[f]!, v, integer ? `must be an integer in [${lo}, ${hi}]` : lo >= -1 ? `must be a finite time >= ${lo === -1 ? '0 (or -1: unknown)' : '0'}` : 'must be a finite number');
  }
}

/**
 * Packs batches into one reused buffer and decodes them into reused columns. One codec per host
 * (single-threaded use): `encode` returns a view into its buffer, valid until the next `encode`.
 *
 * It writes the msgpack of the layout itself (byte for byte what msgpackr's `pack` of the items
 * array writes: test/unit/transport/packets.test.ts), and reads a message of exactly that form
 * itself, copying each value with a DataView: no view, wrapper or item array per message (through
 * msgpackr, ~50 typed-array views and bin wrappers per message, and a message per peer per window:
 * ~7 B per event on the hosts of a 2-worker DeepEP EP32 run, docs/runtime.md). A message of any
 * other form (another valid msgpack encoding of it, or a malformed one) goes through msgpackr's
 * `unpack`, which accepts what it accepted before and names what is wrong as before.
 */
export class BatchCodec {
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private buffer = new Uint8Array(256 << 10);
  /** A DataView over each buffer a message was written to or read from (the codec's own, the rings'). */
  private readonly views = new WeakMap<ArrayBufferLike, DataView>();

  /** Bytes of the message {@link encode} writes for `n` packets. */
  static encodedLength(n: number): number {
    return 3 + 1 + (n < 0x80 ? 1 : n < 0x100 ? 2 : 3) + binHeaderBytes(n) + n + NCOL * (binHeaderBytes(8 * n) + 8 * n);
  }

  /** msgpack of packets [from, from + n) of `b` (n <= BATCH_MAX_PACKETS), as a view into the codec's buffer. */
  encode(b: PacketColumns, from = 0, n = b.count - from): Uint8Array {
    const need = BatchCodec.encodedLength(n);
    if (this.buffer.length < need) this.buffer = new Uint8Array(need * 2);
    return this.buffer.subarray(0, this.encodeInto(this.buffer, 0, b, from, n));
  }

  /**
   * {@link encode} into `out` at `at` (room for {@link encodedLength} bytes there: a ring's
   * reserved frame, written in place); the bytes written.
   */
  encodeInto(out: Uint8Array, at: number, b: PacketColumns, from: number, n: number): number {
    if (n > BATCH_MAX_PACKETS) throw new RangeError(`encode: ${n} packets exceed BATCH_MAX_PACKETS (${BATCH_MAX_PACKETS})`);
    const dv = this.viewOf(out.buffer);
    // array16 of the items (header items, then the columns), as msgpackr writes an array of 16 or more.
    out[at] = 0xdc;
    out[at + 1] = (BATCH_HEADER_ITEMS + NCOL) >> 8;
    out[at + 2] = (BATCH_HEADER_ITEMS + NCOL) & 0xff;
    let pos = writeUint(out, at + 3, BATCH_LAYOUT_VERSION);
    pos = writeUint(out, pos, n);
    pos = writeBinHeader(out, pos, n);
    const k = b.kinds;
    for (let i = 0; i < n; i++) out[pos + i] = k[from + i]!;
    pos += n;
    for (let f = 0; f < NCOL; f++) {
      pos = writeBinHeader(out, pos, n * 8);
      const c = b.col[f]!;
      let p = out.byteOffset + pos;
      for (let i = 0; i < n; i++, p += 8) dv.setFloat64(p, c[from + i]!, true);
      pos += n * 8;
    }
    return pos - at;
  }

  /**
   * Decode one message and append its packets to `into` (validated as a whole first: on any bad
   * field nothing is appended). Throws `E_PACKET` naming the packet and field.
   */
  decodeInto(bytes: Uint8Array, into: PacketColumns, limits: PacketLimits): void {
    this.decodeAt(bytes, 0, bytes.length, into, limits);
  }

  /** {@link decodeInto} of the `len` bytes at `at` of `buf` (a ring's frame, read in place). */
  decodeAt(buf: Uint8Array, at: number, len: number, into: PacketColumns, limits: PacketLimits): void {
    const base = into.count;
    if (!this.readOwnForm(buf, at, len, into)) this.readAnyForm(buf.subarray(at, at + len), into);
    const n = into.count - base;
    // Validate the new packets only; on failure they are dropped (count back to `base`).
    into.count = base;
    validateColumns(into, limits, base, base + n);
    into.count = base + n;
  }

  private viewOf(buf: ArrayBufferLike): DataView {
    let dv = this.views.get(buf);
    if (dv === undefined) {
      dv = new DataView(buf);
      this.views.set(buf, dv);
    }
    return dv;
  }

  /**
   * A message of exactly the form {@link encode} writes (the `len` bytes at `at` of `buf`), read
   * into `into` (its count advanced); false, with `into` unchanged, for any other.
   */
  private readOwnForm(buf: Uint8Array, at: number, len: number, into: PacketColumns): boolean {
    const end = at + len;
    if (len < 6 || buf[at] !== 0xdc || buf[at + 1] !== (BATCH_HEADER_ITEMS + NCOL) >> 8 || buf[at + 2] !== ((BATCH_HEADER_ITEMS + NCOL) & 0xff)) return false;
    if (buf[at + 3] !== BATCH_LAYOUT_VERSION) return false;
    let pos = at + 4;
    let n = buf[pos]!;
    if (n < 0x80) pos += 1;
    else if (n === 0xcc) { n = buf[pos + 1]!; pos += 2; }
    else if (n === 0xcd) { n = (buf[pos + 1]! << 8) | buf[pos + 2]!; pos += 3; }
    else return false;
    if (n > BATCH_MAX_PACKETS) return false;
    // Every column's bin header and length first: the whole message, exactly.
    const kindsAt = binAt(buf, pos, end, n);
    if (kindsAt < 0) return false;
    pos = kindsAt + n;
    const colsAt = pos;
    for (let f = 0; f < NCOL; f++) {
      const d = binAt(buf, pos, end, n * 8);
      if (d < 0) return false;
      pos = d + n * 8;
    }
    if (pos !== end) return false;
    const base = into.count;
    into.reserve(base + n);
    const k = into.kinds;
    for (let i = 0; i < n; i++) k[base + i] = buf[kindsAt + i]!;
    const dv = this.viewOf(buf.buffer);
    pos = buf.byteOffset + colsAt;
    for (let f = 0; f < NCOL; f++) {
      pos += binHeaderBytes(n * 8);
      const c = into.col[f]!;
      for (let i = 0; i < n; i++, pos += 8) c[base + i] = dv.getFloat64(pos, true);
    }
    into.count = base + n;
    return true;
  }

  /** Any msgpack encoding of the layout, through msgpackr (names what is wrong with a malformed one). */
  private readAnyForm(bytes: Uint8Array, into: PacketColumns): void {
    let v: unknown;
    try {
      v = this.packr.unpack(bytes);
    } catch (e) {
      fail('E_PACKET', `packet batch is not valid msgpack: ${(e as Error).message}`, { field: 'batch' });
    }
    if (!Array.isArray(v) || v.length !== BATCH_HEADER_ITEMS + NCOL)
      fail('E_PACKET', `packet batch must be an array of ${BATCH_HEADER_ITEMS + NCOL} items (layout ${BATCH_LAYOUT_VERSION})`, { field: 'batch' });
    if (v[0] !== BATCH_LAYOUT_VERSION) fail('E_PACKET', `packet batch: field 'version' must be ${BATCH_LAYOUT_VERSION}, got ${showValue(v[0])}`, { field: 'version', value: v[0] });
    const n = v[1] as unknown;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > BATCH_MAX_PACKETS)
      fail('E_PACKET', `packet batch: field 'count' must be an integer in [0, ${BATCH_MAX_PACKETS}], got ${showValue(n)}`, { field: 'count', value: n });
    const column = (j: number, name: string, width: number): Uint8Array => {
      const c = v[j] as unknown;
      if (!(c instanceof Uint8Array) || c.length !== n * width)
        fail('E_PACKET', `packet batch: column '${name}' must be ${n * width} bytes of binary, got ${c instanceof Uint8Array ? `${c.length} bytes` : typeof c}`, { field: name });
      return c;
    };
    const base = into.count;
    into.reserve(base + n);
    // Copy into the reused aligned columns (the wire bytes need not be 8-aligned).
    into.kinds.set(column(2, 'kind', 1), base);
    for (let f = 0; f < NCOL; f++) {
      const c = column(BATCH_HEADER_ITEMS + f, PACKET_COLUMNS[f]!, 8);
      new Uint8Array(into.col[f]!.buffer, base * 8, n * 8).set(c);
    }
    into.count = base + n;
  }
}

/** msgpack of a non-negative integer below 2^16 (as msgpackr writes one: the shortest form), at `pos`; the position after it. */
function writeUint(out: Uint8Array, pos: number, v: number): number {
  if (v < 0x80) {
    out[pos] = v;
    return pos + 1;
  }
  if (v < 0x100) {
    out[pos] = 0xcc;
    out[pos + 1] = v;
    return pos + 2;
  }
  out[pos] = 0xcd;
  out[pos + 1] = v >> 8;
  out[pos + 2] = v & 0xff;
  return pos + 3;
}

/** Bytes of the msgpack bin header for `len` bytes of data (the shortest form, as msgpackr writes it). */
function binHeaderBytes(len: number): number {
  return len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

/** The msgpack bin header for `len` bytes of data, at `pos`; the position of the data. */
function writeBinHeader(out: Uint8Array, pos: number, len: number): number {
  if (len < 0x100) {
    out[pos] = 0xc4;
    out[pos + 1] = len;
    return pos + 2;
  }
  if (len < 0x10000) {
    out[pos] = 0xc5;
    out[pos + 1] = len >> 8;
    out[pos + 2] = len & 0xff;
    return pos + 3;
  }
  out[pos] = 0xc6;
  out[pos + 1] = len >>> 24;
  out[pos + 2] = (len >> 16) & 0xff;
  out[pos + 3] = (len >> 8) & 0xff;
  out[pos + 4] = len & 0xff;
  return pos + 5;
}

/**
 * Where the data of a bin of exactly `len` bytes in its shortest header form starts, when one
 * starts at `pos` and ends by `end`; -1 otherwise.
 */
function binAt(bytes: Uint8Array, pos: number, end: number, len: number): number {
  const h = binHeaderBytes(len);
  if (pos + h + len > end) return -1;
  const t = bytes[pos]!;
  if (h === 2) return t === 0xc4 && bytes[pos + 1] === len ? pos + 2 : -1;
  if (h === 3) return t === 0xc5 && bytes[pos + 1] === len >> 8 && bytes[pos + 2] === (len & 0xff) ? pos + 3 : -1;
  return t === 0xc6 && bytes[pos + 1] === len >>> 24 && bytes[pos + 2] === ((len >> 16) & 0xff) && bytes[pos + 3] === ((len >> 8) & 0xff) && bytes[pos + 4] === (len & 0xff) ? pos + 5 : -1;
}

const sharedCodec = new BatchCodec();

/** Encode packets into a fresh buffer (tests and tools; the runtime uses a {@link BatchCodec}). */
export function encodePackets(packets: readonly Packet[]): Uint8Array {
  const c = new PacketColumns(Math.max(1, packets.length));
  for (const p of packets) c.pushPacket(p);
  return sharedCodec.encode(c).slice();
}

/** Decode and validate one batch message into packet objects (tests and tools). */
export function decodePackets(bytes: Uint8Array, limits: PacketLimits): Packet[] {
  const c = new PacketColumns(1);
  sharedCodec.decodeInto(bytes, c, limits);
  return Array.from({ length: c.count }, (_, i) => c.packetAt(i));
}

export type { PacketColumn };
