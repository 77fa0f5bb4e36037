/**
 * @module
 * Registered memory, RDMA-style: every rank registers named regions backed by SharedArrayBuffers.
 * A region's size is fixed at registration and counted against the rank's HBM capacity. Every
 * thread holds the same table (region ids are assigned once, on the main thread), so a receiver can
 * copy straight out of the sender's registered buffer at delivery: one copy, no structured clone.
 */
import { fail } from '../errors.js';

/** A registered region as every thread sees it. */
export interface Region {
  /** Cluster-wide id (assigned at registration, never reused). */
  readonly id: number;
  readonly rank: number;
  readonly name: string;
  readonly byteLength: number;
  readonly buffer: SharedArrayBuffer;
  readonly u8: Uint8Array;
  /**
   * Int32 view over the whole 4-byte-aligned prefix, for counters. The engine hosting the rank and
   * the tasks it runs read and write them with plain indexing, not `Atomics`: while an operation
   * runs, only that engine's thread touches them (other workers' transfers arrive as packets it
   * applies), and the window barriers and the operation's messages order every other access. In
   * Node 20 an `Atomics.load` in optimised code is a builtin call per access (docs/runtime.md).
   */
  readonly i32: Int32Array;
  /**
   * Engine-private: per int32 counter, the tasks waiting on it (sparse). Kept on the region so a
   * counter write finds its waiters with one array index, not a hash lookup.
   */
  waiters: Array<unknown[] | undefined> | null;
}

/** The plain description that crosses threads (the SharedArrayBuffer is shared, not copied). */
export interface RegionInfo {
  id: number;
  rank: number;
  name: string;
  buffer: SharedArrayBuffer;
}

export function regionFromInfo(info: RegionInfo): Region {
  const { buffer } = info;
  return {
    id: info.id,
    rank: info.rank,
    name: info.name,
    byteLength: buffer.byteLength,
    buffer,
    u8: new Uint8Array(buffer),
    i32: new Int32Array(buffer, 0, buffer.byteLength >> 2),
    waiters: null,
  };
}

/** Region lookup by id and by (rank, name), with bounds checks that name the region. */
export class RegionTable {
  private readonly byId: Array<Region | undefined> = [];
  /** Per rank, its regions by name (nested maps: no key strings built per lookup). */
  private readonly byRank: Array<Map<string, Region> | undefined> = [];

  add(info: RegionInfo): Region {
    const r = regionFromInfo(info);
    this.byId[r.id] = r;
    let m = this.byRank[r.rank];
    if (!m) this.byRank[r.rank] = m = new Map();
    m.set(r.name, r);
    return r;
  }

  remove(id: number): void {
    const r = this.byId[id];
    if (!r) return;
    this.byId[id] = undefined;
    this.byRank[r.rank]?.delete(r.name);
  }

  /** Number of ids ever assigned (an upper bound for packet validation). */
  get idLimit(): number {
    return this.byId.length;
  }

  get(id: number): Region {
    const r = this.byId[id];
    if (!r) fail('E_REGION', `no registered region with id ${id}`, { region: id });
    return r;
  }

  find(rank: number, name: string): Region | undefined {
    return this.byRank[rank]?.get(name);
  }

  /** The region `name` of `rank`; throws `E_REGION` naming both when it is not registered. */
  lookup(rank: number, name: string): Region {
    const r = this.byRank[rank]?.get(name);
    if (!r) fail('E_REGION', `rank ${rank} has no registered region '${name}'`, { rank, region: name });
    return r;
  }

  /** Call `fn` with every registered region, in id order. */
  forEach(fn: (r: Region) => void): void {
    for (const r of this.byId) if (r !== undefined) fn(r);
  }

  /** All regions of one rank, in id order. */
  ofRank(rank: number): Region[] {
    return this.byId.filter((r): r is Region => r !== undefined && r.rank === rank);
  }
}

/**
 * Throw `E_REGION` unless [offset, offset + length) lies inside the region. `what` names the
 * operation; it is only called to build the message (this check runs once per transfer).
 */
export function checkRange(r: Region, offset: number, length: number, what: string | (() => string)): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > r.byteLength)
    failRange(r, offset, length, typeof what === 'string' ? what : what());
}

function failRange(r: Region, offset: number, length: number, what: string): never {
  fail(
      'E_REGION',
      `${what}: bytes [${offset}, ${offset + length}) are outside region '${r.name}' of rank ${r.rank} (${r.byteLength} bytes)`,
    { rank: r.rank, region: r.name, offset, length, size: r.byteLength },
  );
}
