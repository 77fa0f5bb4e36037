/**
 * @module
 * The transfers of one engine as records in preallocated typed arrays (struct of arrays), reused
 * through a free list: a transfer is an index into the columns, and issuing or receiving one
 * allocates nothing once the table has grown to the run's peak of transfers in flight.
 *
 * A record lives from its issue (or, on the receiving engine of a transfer between workers, from
 * its ingress-start packet) until nothing refers to it any more: delivered and, when an
 * acknowledgement was asked for, acknowledged. Handles given to tasks carry the record's
 * generation, so a handle outliving its record is recognised (its transfer is over).
 */

/** Low bits of a handle: the record index (the rest is its generation). */
const INDEX_BITS = 26;
const INDEX_SPAN = 2 ** INDEX_BITS;

/**
 * Factor by which the table's room grows when full. Growing copies every column into new arrays
 * (fresh memory, page faults on the copied part, the old arrays' pages lost); by 4 rather than 2
 * the copies touch a third of the final records rather than all of them. The room beyond the
 * records made is not written (zero-filled on demand by the system): address space, not memory.
 * DeepEP's normal combine at EP64 makes ~590k records a host: 40k fewer page faults a run than by 2
 * (docs/runtime.md).
 */
const GROWTH = 4;

/**
 * The columns the link ports read and write: a transfer's size, and where its receiver port keeps
 * it (the ports keep a transfer's progress in columns of their own, see flow-port.ts).
 */
export interface FlowJobs {
  readonly bytes: Float64Array;
  /** The transfer's entry in its receiver port (set by the port when the transfer starts there). */
  readonly recvEntry: Int32Array;
}

export class TransferTable implements FlowJobs {
  private cap = 0;
  /** Records in use. */
  live = 0;
  /** Indexes of free records (a stack) and its depth. */
  private freeList = new Int32Array(0);
  private freeN = 0;
  /** Records ever made (the high-water mark of the table). */
  private made = 0;

  src = new Int32Array(0);
  dst = new Int32Array(0);
  xid = new Float64Array(0);
  pairSeq = new Float64Array(0);
  op = new Uint8Array(0);
  path = new Uint8Array(0);
  bytes = new Float64Array(0);
  srcRegion = new Int32Array(0);
  srcOffset = new Float64Array(0);
  dstRegion = new Int32Array(0);
  dstOffset = new Float64Array(0);
  value = new Float64Array(0);
  issueT = new Float64Array(0);
  flags = new Int32Array(0);
  sigRegion = new Int32Array(0);
  sigOffset = new Float64Array(0);
  qp = new Int32Array(0);
  egressStartT = new Float64Array(0);
  egressDoneT = new Float64Array(0);
  ingressStartT = new Float64Array(0);
  ingressDoneT = new Float64Array(0);
  recvEntry = new Int32Array(0);
  acked = new Uint8Array(0);
  gen = new Float64Array(0);
  /**
   * A control message: the transfers its stream (src, dst, qp) had before it (mod 2^32), and the
   * next control message parked behind the same stream at the receiver (-1: none).
   */
  ahead = new Int32Array(0);
  parkNext = new Int32Array(0);
  /**
   * A record that is never in use and always acknowledged (-1 until {@link reserveOver}): the one a
   * sender hands out for a transfer it keeps no record of (a control message to another worker,
   * no ack asked for), so a wait on its handle ends at once.
   */
  over = -1;
  /** The task waiting for a record's acknowledgement (objects: tasks are long-lived). */
  ackWaiter: unknown[] = [];

  constructor(capacity = 1024) {
    this.grow(capacity);
  }

  /** A fresh record (every column reset by the caller's writes; ack state and times cleared here). */
  alloc(): number {
    let x: number;
    if (this.freeN > 0) x = this.freeList[--this.freeN]!;
    else {
      if (this.made === this.cap) this.grow(this.cap * GROWTH);
      x = this.made++;
    }
    this.live++;
    this.acked[x] = 0;
    this.egressStartT[x] = -1;
    this.egressDoneT[x] = -1;
    this.ingressStartT[x] = -1;
    this.ingressDoneT[x] = -1;
    // A new record's entry is appended (`ackWaiter` has one per record made): the array grows as
    // records are made, not by the table's room.
    this.ackWaiter[x] = null;
    return x;
  }

  /** Return record `x` to the free list; handles to it become stale. */
  release(x: number): void {
    this.gen[x]!++;
    this.ackWaiter[x] = null;
    this.freeList[this.freeN++] = x;
    this.live--;
  }

  /** Release every record (handles to any become stale): the table holds none, its room kept. */
  clear(): void {
    let n = 0;
    for (let x = this.made - 1; x >= 0; x--) {
      if (x === this.over) continue;
      this.gen[x]!++;
      this.ackWaiter[x] = null;
      this.freeList[n++] = x;
    }
    this.freeN = n;
    this.live = 0;
  }

  /** Make {@link over}: a record taken for good, acknowledged, not counted as live. */
  reserveOver(): number {
    if (this.over < 0) {
      const x = this.alloc();
      this.acked[x] = 1;
      this.live--;
      this.over = x;
    }
    return this.over;
  }

  /** The handle a task holds for record `x`. */
  handle(x: number): number {
    return this.gen[x]! * INDEX_SPAN + x;
  }

  /** The record of a handle, or -1 when the record has been released since. */
  index(h: number): number {
    const x = h % INDEX_SPAN;
    return x < this.made && this.gen[x] === (h - x) / INDEX_SPAN ? x : -1;
  }

  /** Records the table has room for. */
  get capacity(): number {
    return this.cap;
  }

  private grow(want: number): void {
    if (this.cap >= INDEX_SPAN) throw new RangeError(`more than ${INDEX_SPAN} transfers in flight`);
    const cap = Math.min(want, INDEX_SPAN);
    const f = (a: Float64Array) => { const b = new Float64Array(cap); b.set(a); return b; };
    const i = (a: Int32Array) => { const b = new Int32Array(cap); b.set(a); return b; };
    const u = (a: Uint8Array) => { const b = new Uint8Array(cap); b.set(a); return b; };
    this.src = i(this.src); this.dst = i(this.dst); this.xid = f(this.xid); this.pairSeq = f(this.pairSeq);
    this.op = u(this.op); this.path = u(this.path); this.bytes = f(this.bytes); this.srcRegion = i(this.srcRegion);
    this.srcOffset = f(this.srcOffset); this.dstRegion = i(this.dstRegion); this.dstOffset = f(this.dstOffset);
    this.value = f(this.value); this.issueT = f(this.issueT); this.flags = i(this.flags); this.sigRegion = i(this.sigRegion);
    this.sigOffset = f(this.sigOffset); this.qp = i(this.qp); this.egressStartT = f(this.egressStartT);
    this.egressDoneT = f(this.egressDoneT); this.ingressStartT = f(this.ingressStartT); this.ingressDoneT = f(this.ingressDoneT);
    this.recvEntry = i(this.recvEntry); this.acked = u(this.acked); this.gen = f(this.gen);
    this.ahead = i(this.ahead); this.parkNext = i(this.parkNext);
    const fl = new Int32Array(cap);
    fl.set(this.freeList.subarray(0, this.freeN));
    this.freeList = fl;
    this.cap = cap;
  }
}
