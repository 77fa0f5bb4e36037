/**
 * @module
 * The news and credits due at one engine at one instant, as batches of items in typed columns
 * (see Engine.dueBatch), and the pool their columns come from.
 */
import { FreeList } from './free-list.js';
import { DOUBLE } from './field-init.js';

/**
 * The capacity of a batch's columns while it is in the pool (the smallest size class). At 64 most
 * instants fit without growing (at LL EP32, 87k batches applied: 66% of 64 items or fewer, 155k
 * growths with 8, 34k with 64), for 64 x 37 bytes per pooled batch (about a thousand there).
 */
export const BATCH_MIN = 64;

/**
 * The item columns of a flow batch at one capacity (see {@link FlowBatch}), for
 * {@link BatchColumnPool}.
 */
export class BatchColumns {
  /** News: the transfer; credits: the sender rank. */
  job: Int32Array;
  /** News: NEWS_*; credits: path index (0 NVLink, 1 IB). */
  kind: Uint8Array;
  /** News: the sending rate; credits: the fair level (bytes/us, Infinity: no limit). */
  rate: Float64Array;
  key: Float64Array;
  /**
   * Credits: the ordering key (rank * 2^32 + seq) the credit was sent under. News: the receiver
   * port (dst * 2 + path index) when sent by this engine, -1 when from another worker.
   */
  ekey: Float64Array;
  /**
   * News: the key the sender sent the item under (rank * 2^32 + seq). The items due at one instant
   * are applied in this order, wherever their senders are hosted (see Engine.inKeyOrder).
   */
  order: Float64Array;

  constructor(cap: number) {
    this.job = new Int32Array(cap);
    this.kind = new Uint8Array(cap);
    this.rate = new Float64Array(cap);
    this.key = new Float64Array(cap);
    this.ekey = new Float64Array(cap);
    this.order = new Float64Array(cap);
  }

  /** Exchange columns with `o` (same fields, any capacities). */
  swap(o: BatchColumns): void {
    const { job, kind, rate, key, ekey, order } = this;
    this.job = o.job; this.kind = o.kind; this.rate = o.rate; this.key = o.key; this.ekey = o.ekey; this.order = o.order;
    o.job = job; o.kind = kind; o.rate = rate; o.key = key; o.ekey = ekey; o.order = order;
  }
}

/**
 * Spare batch columns by size class (capacity BATCH_MIN * 2^k). Thousands of batches can wait at
 * once (one per instant with news or credits due), a few of them large: a batch that outgrows its
 * columns trades them for the next class's, and an applied batch trades its columns back for the
 * smallest, so columns of each size are reused once the run has reached its peak of batches of
 * that size (a batch that kept the columns it grew to, reused for another instant, grew again, and
 * the pool's thousands of batches kept growing run after run).
 */
export class BatchColumnPool {
  private readonly classes: Array<FreeList<BatchColumns>> = [];
  /** Columns made so far (the rest of the takes reused spare ones). */
  made = 0;

  /** Spare columns of capacity `cap` (BATCH_MIN * 2^k), made when none is spare. */
  take(cap: number): BatchColumns {
    const c = this.list(cap).take();
    if (c !== null) return c;
    this.made++;
    return new BatchColumns(cap);
  }

  give(c: BatchColumns): void {
    this.list(c.job.length).give(c);
  }

  private list(cap: number): FreeList<BatchColumns> {
    const k = Math.log2(cap / BATCH_MIN) | 0;
    while (this.classes.length <= k) this.classes.push(new FreeList<BatchColumns>());
    return this.classes[k]!;
  }
}

/**
 * News due at the receiver ports of one engine at one instant (job, NEWS_* kind, rate and receiver
 * stream key per item), or credits due at its sender ports (sender rank, path index, level, sender
 * stream key and the credit's own ordering key per item). Batches are pooled and reused once
 * applied; their columns come from the engine's {@link BatchColumnPool}.
 */
export class FlowBatch extends BatchColumns {
  n = 0;
  /**
   * Every item was added by {@link addSent} with its send key, in ascending order: the batch is
   * known to be in key order (see Engine.inKeyOrder) without reading its keys again. An item added
   * by {@link add} makes the order unknown.
   */
  ordered = true;
  /** The send key of the last item {@link addSent} added. */
  private lastKey = -Infinity;

  constructor(private readonly columns: BatchColumnPool) {
    super(BATCH_MIN);
  }

  /** Empty, for reuse. */
  clear(): void {
    this.n = 0;
    this.ordered = true;
    this.lastKey = -Infinity;
  }

  /** Applied: columns grown past the smallest go back to the pool for the next batch that grows. */
  release(): void {
    if (this.job.length === BATCH_MIN) return;
    const c = this.columns.take(BATCH_MIN);
    this.swap(c);
    this.columns.give(c);
  }

  /**
   * Append an item of transfer or rank `job` and kind `kind`; returns its index, whose `rate`,
   * `key` and `ekey` the caller writes (floats passed to a call that is not inlined are boxed).
   */
  add(job: number, kind: number): number {
    this.ordered = false;
    return this.append(job, kind);
  }

  /**
   * The send key of the item {@link addSent} adds next, rank * 2^32 + seq: set by the caller, not
   * passed, since a float argument to a call that V8 does not inline is boxed as a heap number.
   * Declared DOUBLE (past 2^31 it is never a small integer; read only after a write: see field-init.ts).
   */
  sendKey = DOUBLE;

  /**
   * {@link add} an item sent under key {@link sendKey} (which the caller also writes where its kind
   * keeps it: `order` for news, `ekey` for credits), keeping track of whether the keys still ascend.
   */
  addSent(job: number, kind: number): number {
    const sendKey = this.sendKey;
    if (sendKey < this.lastKey) this.ordered = false;
    this.lastKey = sendKey;
    return this.append(job, kind);
  }

  private append(job: number, kind: number): number {
    if (this.n === this.job.length) this.grow();
    const i = this.n++;
    this.job[i] = job;
    this.kind[i] = kind;
    return i;
  }

  /** Trade the columns for spare ones of twice the capacity, items copied. */
  private grow(): void {
    const c = this.columns.take(2 * this.job.length);
    c.job.set(this.job); c.kind.set(this.kind); c.rate.set(this.rate); c.key.set(this.key); c.ekey.set(this.ekey); c.order.set(this.order);
    this.swap(c);
    this.columns.give(c);
  }
}
