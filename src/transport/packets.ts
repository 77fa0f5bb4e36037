/**
 * @module
 * Packets between engines on different threads: msgpackr records of one fixed shape, built only by
 * {@link makePacket} (object spread made msgpackr packing ~7x slower), encoded a batch at a time.
 * Payload bytes never travel in a packet: they stay in registered SharedArrayBuffer regions and
 * the receiver copies them at delivery. Decoding validates every field of every packet before the
 * batch is handed over, so a malformed batch is rejected whole and changes nothing.
 */
import { Packr } from 'msgpackr';
import { fail } from '../errors.js';
import { PACKET_KIND_MAX, OP_READ_REPLY } from './protocol.js';

/** One control message between engines. All fields are numbers, so the shape never changes. */
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
  /** PKT_START_DONE: the tie-break seq of the egress-done event (its time is egressDoneT + latency); else -1. */
  keySeq2: number;
}

/** The transfer moves no payload bytes (sizes-only mode). */
export const FLAG_NO_DATA = 1;
/** The source waits for an acknowledgement of delivery. */
export const FLAG_WANT_ACK = 2;

const FIELDS = [
  'kind', 'time', 'keyRank', 'keySeq', 'src', 'dst', 'xid', 'pairSeq', 'op', 'path', 'bytes',
  'srcRegion', 'srcOffset', 'dstRegion', 'dstOffset', 'value', 'issueT', 'egressStartT', 'egressDoneT', 'flags', 'waiter', 'sigRegion', 'sigOffset', 'keySeq2',
] as const;

/** The one packet factory: always the same field order, so msgpackr reuses one record structure. */
export function makePacket(
  kind: number, time: number, keyRank: number, keySeq: number, src: number, dst: number, xid: number,
  pairSeq: number, op: number, path: number, bytes: number, srcRegion: number, srcOffset: number,
  dstRegion: number, dstOffset: number, value: number, issueT: number, egressStartT: number,
  egressDoneT: number, flags: number, waiter: number, sigRegion: number, sigOffset: number, keySeq2: number,
): Packet {
  return {
    kind, time, keyRank, keySeq, src, dst, xid, pairSeq, op, path, bytes, srcRegion, srcOffset,
    dstRegion, dstOffset, value, issueT, egressStartT, egressDoneT, flags, waiter, sigRegion, sigOffset, keySeq2,
  };
}

function newPackr(): Packr {
  // Both ends predefine the one structure, so no structure definitions travel with the data.
  return new Packr({ structures: [[...FIELDS]], useRecords: true, maxSharedStructures: 1 });
}

const encoder = newPackr();
const decoder = newPackr();

/** Encode a batch of packets into a fresh, transferable buffer. */
export function encodePackets(packets: readonly Packet[]): Uint8Array {
  // pack() returns a view into msgpackr's shared arena (a Buffer, whose slice() is another view):
  // copy it into a buffer of its own, so transferring it never detaches or aliases the arena.
  return Uint8Array.prototype.slice.call(encoder.pack(packets));
}

/** Limits that decoded packets are checked against. */
export interface PacketLimits {
  numRanks: number;
  numRegions: number;
}

/**
 * Decode and validate a batch. Throws `E_PACKET` naming the packet index, field and value; nothing
 * of a rejected batch should be applied by the caller.
 */
export function decodePackets(bytes: Uint8Array, limits: PacketLimits): Packet[] {
  let value: unknown;
  try {
    value = decoder.unpack(bytes);
  } catch (e) {
    fail('E_PACKET', `packet batch is not valid msgpack: ${(e as Error).message}`, { field: 'batch' });
  }
  if (!Array.isArray(value)) fail('E_PACKET', 'packet batch must be an array', { field: 'batch' });
  for (let i = 0; i < value.length; i++) validatePacket(value[i], i, limits);
  return value as Packet[];
}

function bad(i: number, field: string, v: unknown, want: string): never {
  fail('E_PACKET', `packet ${i}: field '${field}' ${want}, got ${JSON.stringify(v) ?? String(v)}`, { index: i, field, value: v });
}

function int(p: Record<string, unknown>, i: number, f: string, lo: number, hi: number): void {
  const v = p[f];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(i, f, v, `must be an integer in [${lo}, ${hi}]`);
}

function time(p: Record<string, unknown>, i: number, f: string, allowUnknown: boolean): void {
  const v = p[f];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (allowUnknown ? -1 : 0)) bad(i, f, v, 'must be a finite time >= 0');
}

const MAX = Number.MAX_SAFE_INTEGER;
const isInt = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isTime = (v: unknown, lo: number): boolean => typeof v === 'number' && Number.isFinite(v) && v >= lo;

/** The common case in one pass of direct field reads; the detailed check below names what is wrong. */
function looksValid(x: unknown, limits: PacketLimits): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const p = x as Packet;
  const R = limits.numRanks - 1;
  const G = limits.numRegions - 1;
  return (
    isInt(p.kind, 1, PACKET_KIND_MAX) && isTime(p.time, 0) && isInt(p.keyRank, 0, R) && isInt(p.keySeq, 0, MAX) &&
    isInt(p.src, 0, R) && isInt(p.dst, 0, R) && isInt(p.xid, 0, MAX) && isInt(p.pairSeq, 0, MAX) &&
    isInt(p.op, 0, OP_READ_REPLY) && isInt(p.path, 0, 2) && isInt(p.bytes, 0, MAX) && isInt(p.srcRegion, -1, G) &&
    isInt(p.srcOffset, -1, MAX) && isInt(p.dstRegion, -1, G) && isInt(p.dstOffset, -1, MAX) &&
    typeof p.value === 'number' && Number.isFinite(p.value) && isTime(p.issueT, 0) && isTime(p.egressStartT, -1) &&
    isTime(p.egressDoneT, -1) && isInt(p.flags, 0, 3) && isInt(p.waiter, -1, MAX) && isInt(p.sigRegion, -1, G) &&
    isInt(p.sigOffset, -1, MAX) && isInt(p.keySeq2, -1, MAX)
  );
}

/** Check one decoded packet; exported for tests. */
export function validatePacket(x: unknown, i: number, limits: PacketLimits): asserts x is Packet {
  if (looksValid(x, limits)) return;
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(i, 'packet', x, 'must be a record');
  const p = x as Record<string, unknown>;
  const maxRank = limits.numRanks - 1;
  int(p, i, 'kind', 1, PACKET_KIND_MAX);
  time(p, i, 'time', false);
  int(p, i, 'keyRank', 0, maxRank);
  int(p, i, 'keySeq', 0, Number.MAX_SAFE_INTEGER);
  int(p, i, 'src', 0, maxRank);
  int(p, i, 'dst', 0, maxRank);
  int(p, i, 'xid', 0, Number.MAX_SAFE_INTEGER);
  int(p, i, 'pairSeq', 0, Number.MAX_SAFE_INTEGER);
  int(p, i, 'op', 0, OP_READ_REPLY);
  int(p, i, 'path', 0, 2);
  int(p, i, 'bytes', 0, Number.MAX_SAFE_INTEGER);
  int(p, i, 'srcRegion', -1, limits.numRegions - 1);
  int(p, i, 'srcOffset', -1, Number.MAX_SAFE_INTEGER);
  int(p, i, 'dstRegion', -1, limits.numRegions - 1);
  int(p, i, 'dstOffset', -1, Number.MAX_SAFE_INTEGER);
  if (typeof p['value'] !== 'number' || !Number.isFinite(p['value'])) bad(i, 'value', p['value'], 'must be a finite number');
  time(p, i, 'issueT', false);
  time(p, i, 'egressStartT', true);
  time(p, i, 'egressDoneT', true);
  int(p, i, 'flags', 0, 3);
  int(p, i, 'waiter', -1, Number.MAX_SAFE_INTEGER);
  int(p, i, 'sigRegion', -1, limits.numRegions - 1);
  int(p, i, 'sigOffset', -1, Number.MAX_SAFE_INTEGER);
  int(p, i, 'keySeq2', -1, Number.MAX_SAFE_INTEGER);
}
