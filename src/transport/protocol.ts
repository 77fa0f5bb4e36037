/**
 * @module
 * Wire constants of expertmesh, in one place: packet kinds between engines, event kinds inside an
 * engine, link paths, port indexes, and the message types between the main thread and host workers.
 */

/** Link paths a transfer can take. */
export const PATH_LOCAL = 0; // same rank: HBM copy, no link port
export const PATH_NVLINK = 1; // same node: sender's NVLink egress, receiver's NVLink ingress
export const PATH_IB = 2; // across nodes: sender's NIC egress, receiver's NIC ingress
export const PATH_NAMES = ['local', 'nvlink', 'ib'] as const;
export type PathName = (typeof PATH_NAMES)[number];

/** Port indexes on a rank: egress ports at the sender, ingress ports at the receiver. */
export const PORT_NVL_OUT = 0;
export const PORT_NVL_IN = 1;
export const PORT_IB_OUT = 2;
export const PORT_IB_IN = 3;
export const PORT_NAMES = ['nvlink.out', 'nvlink.in', 'ib.out', 'ib.in'] as const;

/** Transfer operation kinds. */
export const OP_PUT = 0; // one-sided write into a peer's registered region
export const OP_ADD = 1; // remote atomic add on an int32 counter
export const OP_READ = 2; // explicit remote read (request); the reply is OP_READ_REPLY
export const OP_READ_REPLY = 3;
export const OP_NAMES = ['put', 'add', 'read', 'readReply'] as const;
/**
 * Bytes an atomic add or a read request occupies on a link. A transfer of at most this many wire
 * bytes (every atomic, and a put of at most 8 bytes) is a **control message**: one packet, which
 * takes no share of the link ports' fair sharing and is delivered in its stream's order
 * (docs/hardware.md, "Control messages").
 */
export const CONTROL_MESSAGE_BYTES = 8;

/** Packet kinds between engines on different threads (msgpack records). */
export const PKT_INGRESS_START = 1; // a transfer started leaving the sender at `rate` (news due at the receiver's port +latency)
export const PKT_EGRESS_DONE = 2; // a transfer's last byte has left the sender (news due +latency)
export const PKT_ACK = 3; // delivery acknowledged to the sender (completes a put it waits on)
export const PKT_READ = 4; // remote read request reaches the peer
export const PKT_READ_REPLY = 5; // remote read value reaches the requester
/** Link flow control (docs/hardware.md): a sender's rate changed (`rate`), seen by the receiver one latency later. */
export const PKT_RATE = 6;
/** Link flow control: a receiver's fair share (`rate`) for the sender's stream, seen by the sender one latency later. */
export const PKT_CREDIT = 7;
/**
 * A control message (CONTROL_MESSAGE_BYTES at most) reaches its receiver at `time` (issue + latency +
 * one CONTROL_MESSAGE_BYTES packet at the link rate). `rate` carries, as a whole number, how many transfers its stream
 * (src, dst, qp) had before it (mod 2^32): it is delivered once the receiver has delivered as many.
 */
export const PKT_CONTROL = 8;
export const PACKET_KIND_MAX = 8;
/** Queue pairs per (sender, receiver) pair a transfer can name; streams are keyed rank * QP_SLOTS + qp. */
export const QP_SLOTS = 32;

/**
 * A packet batch on the wire: one msgpack array per (window, ordered host pair), columnar:
 *
 *   [BATCH_LAYOUT_VERSION, count, kinds, time, keyRank, ..., rate, qp]
 *
 * - `kinds`: bin of `count` bytes, the PKT_* kind of each packet (a kind column: a new packet kind
 *   needs no layout change);
 * - then one bin per field of `PACKET_COLUMNS`, in that order: `count` native (little-endian on
 *   every platform Node runs threads on here) float64s.
 *
 * Typed arrays travel as msgpack bin (msgpackr's encoding of typed arrays, zero-copy on both ends);
 * the receiver copies each column into its reused aligned arrays and reads packets by index: no
 * object per packet. A batch larger than `BATCH_MAX_PACKETS` is split into several messages of
 * the same layout. `BATCH_HEADER_ITEMS` items precede the columns.
 */
export const BATCH_HEADER_ITEMS = 3;
export const BATCH_LAYOUT_VERSION = 2; // 2: keySeq2 replaced by the link flow columns rate and qp
export const PACKET_COLUMNS = [
  'time', 'keyRank', 'keySeq', 'src', 'dst', 'xid', 'pairSeq', 'op', 'path', 'bytes',
  'srcRegion', 'srcOffset', 'dstRegion', 'dstOffset', 'value', 'issueT', 'egressStartT', 'egressDoneT', 'flags', 'waiter',
  'sigRegion', 'sigOffset', 'rate', 'qp',
] as const;
export type PacketColumn = (typeof PACKET_COLUMNS)[number];
/** Column indexes (`C_*`), in the order above. */
export const C_TIME = 0, C_KEY_RANK = 1, C_KEY_SEQ = 2, C_SRC = 3, C_DST = 4, C_XID = 5, C_PAIR_SEQ = 6, C_OP = 7,
  C_PATH = 8, C_BYTES = 9, C_SRC_REGION = 10, C_SRC_OFFSET = 11, C_DST_REGION = 12, C_DST_OFFSET = 13, C_VALUE = 14,
  C_ISSUE_T = 15, C_EGRESS_START_T = 16, C_EGRESS_DONE_T = 17, C_FLAGS = 18, C_WAITER = 19, C_SIG_REGION = 20,
  C_SIG_OFFSET = 21, C_RATE = 22, C_QP = 23;
/** Packets per msgpack message at most (bounds a frame to ~190 KiB). */
export const BATCH_MAX_PACKETS = 1024;

/**
 * One packet ring per ordered pair of hosts, in a SharedArrayBuffer: an Int32 header then the data.
 * `head` and `tail` are byte counters (mod 2^32, as int32) of frames written and consumed; the
 * writer owns `head`, the reader `tail`. A frame is an int32 byte length, the msgpack bytes, padding
 * to 8. A frame never wraps: when it does not fit before the end, the writer stores
 * `RING_WRAP` as the length and continues at offset 0.
 */
export const RING_HEAD = 0;
export const RING_TAIL = 1;
export const RING_HEADER_BYTES = 16;
export const RING_FRAME_HEADER_BYTES = 8;
export const RING_WRAP = -1;
/**
 * Data bytes of each ring (a power of two): up to 4 MiB, room for a burst of ~20k packets, so a
 * writer rarely waits for a reader still running its window; with many workers, smaller (32 MiB
 * over all rings, at least RING_MIN_BYTES: two maximal frames). Pages are touched only when used.
 */
export const RING_DEFAULT_BYTES = 1 << 22;
export const RING_MIN_BYTES = 1 << 19;
export const RING_TOTAL_BYTES = 1 << 25;

/**
 * The window-synchronisation block shared by all hosts of a cluster and the main thread: Int32
 * words first, then Float64 slots. Per-worker slots are indexed `base + worker`.
 */
export const SYNC_BARRIER_COUNT = 0; // hosts arrived at the current barrier
export const SYNC_BARRIER_GEN = 1; // barriers completed (every waiter watches it)
export const SYNC_ABORT = 2; // SYNC_ABORT_*: set by the main thread (or a host) to end every loop
export const SYNC_FAULT = 3; // test fault injection: worker index + 1 that must exit mid-window
export const SYNC_WINDOWS = 4; // windows completed in the current run (progress, read by the main thread)
export const SYNC_SLOW = 5; // test fault injection: worker index + 1 that must run its next window slowly
export const SYNC_SLOW_MS = 6; // how long: > 0 slow but progressing, < 0 stopped (no progress) for -ms
export const SYNC_INT_HEADER = 8;
/** Int32 per worker: its doorbell (bumped and notified whenever something concerns it). */
export const SYNC_DOORBELL = SYNC_INT_HEADER;
/**
 * Then, after `workers` doorbells, int32 per worker: the barrier round it last arrived at; then its
 * heartbeat (moves while it is alive, also while it waits); then its progress (moves only while it
 * runs events or ends a window: a waiter's deadline restarts while the hosts it waits for progress).
 */
export const SYNC_ABORT_NONE = 0, SYNC_ABORT_CLOSE = 1, SYNC_ABORT_DEATH = 2, SYNC_ABORT_SIGNAL = 3, SYNC_ABORT_HOST = 4;
/**
 * Float64 slots per worker, published after each window (before the round's barrier), in two
 * copies by round parity (a host is at most one round ahead of another, so the copy being read is
 * never the one being written): at `((parity * workers + w) * (SYNC_F_SLOTS + workers))`, then
 * `SYNC_F_SENT + to`: the earliest time of the packets it wrote to host `to` in that window.
 */
export const SYNC_F_NEXT = 0; // time of its next event (Infinity: none)
export const SYNC_F_REMAINING = 1; // its ranks still running the operation
export const SYNC_F_FAILED = 2; // failures it reported
export const SYNC_F_NOW = 3; // its clock
export const SYNC_F_SLOTS = 4;
export const SYNC_F_SENT = SYNC_F_SLOTS;

/** Event kinds inside one engine's queue. */
export const EV_TASK = 1; // resume (or start) a task
export const EV_PORT = 2; // a port's completion timer
export const EV_INGRESS_START = 3;
export const EV_EGRESS_DONE = 4;
export const EV_ACK = 5;
export const EV_READ = 6;
export const EV_READ_REPLY = 7;
export const EV_LOCAL_DELIVER = 8; // same-rank copy completes
export const EV_RECV_PORT = 9; // a receiver port's timer (a queue empties or a transfer is served)
export const EV_NEWS = 10; // news of senders' rates reaches receiver ports
export const EV_CREDIT = 11; // a receiver's credit reaches sender ports
export const EV_SETTLE = 12; // a changed port settles, at the end of the instant
export const EV_CONTROL = 13; // a control message reaches its receiver (delivered, or parked behind its stream)

/** Wait kinds a task can yield. */
export const WAIT_SLEEP = 1;
export const WAIT_COUNTER = 2;
export const WAIT_TRANSFER = 3;
export const WAIT_READ = 4;
export const WAIT_TASKS = 5;
export const WAIT_ANY = 6; // any of several local counter conditions

/** Counter comparisons for WAIT_COUNTER. */
export const CMP_GE = 0;
export const CMP_NE = 1;
export const CMP_EQ = 2;
export const CMP_NAMES = ['>=', '!=', '=='] as const;

/** Messages main -> host worker (structured clone; small control records only). */
export const MSG_INIT = 'init';
export const MSG_REGISTER = 'register';
export const MSG_UNREGISTER = 'unregister';
export const MSG_OP = 'op';
export const MSG_WINDOW = 'window';
export const MSG_COLLECT = 'collect';
export const MSG_CLOSE = 'close';
/** Messages host worker -> main. */
export const MSG_READY = 'ready';
export const MSG_DONE = 'done';
export const MSG_FATAL = 'fatal';
