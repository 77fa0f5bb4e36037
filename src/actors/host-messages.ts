/**
 * @module
 * The messages between the main thread and a host worker. They are small control records (posted
 * with structured clone); packet batches inside them are transferred ArrayBuffers of msgpack, and
 * region buffers are SharedArrayBuffers (shared, never copied).
 */
import type { WireError } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import type { RegionInfo } from '../transport/memory.js';
import type { BlockedTask, TaskFailure } from '../sim/engine.js';
import type { RankSnapshot } from './gpu-machine.js';

export interface InitMessage {
  type: 'init';
  id: number;
  workerIndex: number;
  numWorkers: number;
  numRanks: number;
  gpusPerNode: number;
  hardware: HardwareProfile;
  workerOfRank: number[];
  recordTimeline: boolean;
}
export interface RegisterMessage {
  type: 'register';
  id: number;
  regions: RegionInfo[];
}
export interface UnregisterMessage {
  type: 'unregister';
  id: number;
  regionIds: number[];
}
export interface OpMessage {
  type: 'op';
  id: number;
  opId: number;
  name: string;
  args: unknown;
  startTime: number;
}
export interface WindowMessage {
  type: 'window';
  id: number;
  end: number;
  inbound: Uint8Array[];
}
export interface CollectMessage {
  type: 'collect';
  id: number;
  what: 'timeline' | 'samples' | 'activities' | 'blocked' | 'stats';
}
export interface FaultMessage {
  type: 'fault';
  id: number;
  kind: 'exit' | 'throw';
}
export type HostRequest = InitMessage | RegisterMessage | UnregisterMessage | OpMessage | WindowMessage | CollectMessage | FaultMessage;

/** A batch of packets for another host, with the earliest event time in it. */
export interface OutboundBatch {
  to: number;
  bytes: Uint8Array;
  minTime: number;
}

export interface FinishedRank {
  rank: number;
  opId: number;
  endTime: number;
  result: unknown;
}

/** Every reply carries the host's state after handling the request. */
export interface HostReply {
  type: 'reply';
  id: number;
  /** Time of the host's next local event (Infinity when idle). */
  next: number;
  outbound: OutboundBatch[];
  finished: FinishedRank[];
  failures: TaskFailure[];
  states: RankSnapshot[];
  /** The host's virtual clock (time of its last event), us. */
  now: number;
  /** Events processed since the host's previous reply. */
  events: number;
  /** Set when the request itself failed (bad packet, unknown op...). */
  error?: WireError;
  timeline?: Float64Array;
  samples?: Float64Array;
  activities?: Float64Array;
  blocked?: BlockedTask[];
}
