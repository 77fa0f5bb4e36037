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
/** Bytes an atomic add or a read request occupies on a link. */
export const CONTROL_MESSAGE_BYTES = 8;

/** Packet kinds between engines on different threads (msgpack records). */
export const PKT_INGRESS_START = 1; // a transfer's first byte reaches the receiver's ingress port
export const PKT_EGRESS_DONE = 2; // a transfer's last byte has left the sender (arrives +latency)
export const PKT_ACK = 3; // delivery acknowledged to the sender (completes a put it waits on)
export const PKT_READ = 4; // remote read request reaches the peer
export const PKT_READ_REPLY = 5; // remote read value reaches the requester
/**
 * Both halves of a short transfer in one packet: its egress finished before the window's packets
 * left, so the ingress-start (key `keySeq`) and egress-done (key `keySeq2`) news travel together.
 */
export const PKT_START_DONE = 6;
export const PACKET_KIND_MAX = 6;

/** Event kinds inside one engine's queue. */
export const EV_TASK = 1; // resume (or start) a task
export const EV_PORT = 2; // a port's completion timer
export const EV_INGRESS_START = 3;
export const EV_EGRESS_DONE = 4;
export const EV_ACK = 5;
export const EV_READ = 6;
export const EV_READ_REPLY = 7;
export const EV_LOCAL_DELIVER = 8; // same-rank copy completes

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
