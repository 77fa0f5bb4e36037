/**
 * @module
 * The messages between the main thread and a host worker. They are small control records (posted
 * with structured clone), a few per operation and none per window: windows are synchronised host
 * to host on shared memory (see window-sync.ts), and packets travel in shared rings. Region
 * buffers, the sync block and the rings are SharedArrayBuffers (shared, never copied).
 */
import type { WireError } from '../errors.js';
import type { HardwareProfile } from '../hardware/profile.js';
import type { RegionInfo } from '../transport/memory.js';
import type { BlockedTask, TaskFailure } from '../sim/engine.js';
import type { LinkSharing } from '../sim/message-port.js';
import type { FlatPart, TimelinePart } from '../sim/timeline.js';
import type { RankSnapshot } from './gpu-machine.js';
import type { SyncBuffers } from './window-sync.js';
import type { HostHeapProfile } from './heap-sampler.js';

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
  /** Keep tasks' counter samples and activity slices (absent: as `recordTimeline`). */
  recordTraces?: boolean;
  /** How link ports share their bandwidth (absent: 'fluid'). */
  linkSharing?: LinkSharing;
  /** The shared window block and packet rings of the cluster. */
  sync: SyncBuffers;
  /** Wall-clock limit of any wait on another host, and of virtual time standing still inside a window, ms. */
  timeoutMs: number;
  /** Virtual-time bound of one operation, us (from its start; default 1e8). */
  maxVirtualUs?: number;
  /** Sample the host thread's heap allocations during each run and report them in its reply (absent: off). */
  heapSampling?: { intervalBytes: number; topSites: number };
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
  /** When the operation starts, on the hosts' clock (after any re-base: then 0), us. */
  startTime: number;
  /**
   * Re-base every host's clock before the start (the cluster is idle: see Engine.rebase): the
   * hosts' time `shiftUs` becomes their 0, which lies at `epochUs` on the cluster's clock. Every
   * host gets the same values at the same operation boundary. Absent: no re-base.
   */
  rebase?: { shiftUs: number; epochUs: number };
}
/** Run the started operation to its end, window by window with the other hosts; one reply at the end. */
export interface RunMessage {
  type: 'run';
  id: number;
  opId: number;
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
/**
 * Drop what the last operation left: it failed (stuck, past its virtual-time bound, aborted, virtual
 * time stood still in a host's window, or a malformed packet) and its promise was rejected. Every
 * host empties its engine and its inbound packet rings, and its ranks that were still running it go
 * back to idle (see Engine.dropAll).
 */
export interface DropMessage {
  type: 'drop';
  id: number;
}
export type HostRequest = InitMessage | RegisterMessage | UnregisterMessage | OpMessage | RunMessage | CollectMessage | FaultMessage | DropMessage;

export interface FinishedRank {
  rank: number;
  opId: number;
  endTime: number;
  result: unknown;
}

/** Every reply carries the host's state after handling the request. */
/**
 * Where a host thread's wall time went in a run (replies to 'run'): its own windows, the barriers,
 * and, where the platform tells (Linux), how long the thread ran on a CPU and how long it was
 * ready to run but waited for one (another process, or another thread, had the core).
 */
export interface HostRunStats {
  /** Wall time in its own windows (draining its rings, running its events, writing its packets), ms. */
  busyMs: number;
  /** Wall time at the window barriers (waiting for the other hosts, draining what arrives meanwhile), ms. */
  waitMs: number;
  /** Barrier waits that went to sleep (the others had not arrived within the short spin). */
  sleeps: number;
  /** Windows in which it ran no event. */
  emptyWindows: number;
  /** Time the thread ran on a CPU, ms (NaN where unknown). */
  onCpuMs: number;
  /** Time the thread was ready to run but waited for a CPU, ms (NaN where unknown). */
  runQueueMs: number;
}

export interface HostReply {
  type: 'reply';
  id: number;
  /** Time of the host's next local event (Infinity when idle). */
  next: number;
  finished: FinishedRank[];
  failures: TaskFailure[];
  states: RankSnapshot[];
  /** The host's virtual clock (time of its last event), us, on its own clock (see OpMessage). */
  now: number;
  /** Nothing queued, running or in flight on the host (Engine.idle), its ranks all finished. */
  idle: boolean;
  /** Events processed since the host's previous reply. */
  events: number;
  /** Transfers issued since the host's previous reply. */
  transfers?: number;
  /** Windows the run took (replies to 'run'; 0 otherwise). */
  windows: number;
  /** A run ended with ranks still running and no event left anywhere (replies to 'run'). */
  stuck?: boolean;
  /** A run's next event was past its virtual-time bound (replies to 'run'): the bound, us. */
  overBoundUs?: number;
  /** CPU time the host's thread spent in the run, ms (replies to 'run'; absent where unknown). */
  cpuMs?: number;
  /** Where the host's wall time went in the run (replies to 'run'). */
  stats?: HostRunStats;
  /** What the host's thread allocated during the run (replies to 'run', with heap sampling on). */
  heap?: HostHeapProfile;
  /** Set when the request itself failed (bad packet, unknown op...). */
  error?: WireError;
  /**
   * A run's `error` left this host alive and answering, only the run lost (virtual time stood
   * still in a window, or a malformed packet): its leftovers can be dropped (see DropMessage).
   */
  droppable?: boolean;
  /** The host's timeline records (chunks shared, not copied) and their canonical order. */
  timeline?: TimelinePart;
  /** The host's samples and activities (times on its engine's clock: see LogClock). */
  samples?: FlatPart;
  activities?: FlatPart;
  blocked?: BlockedTask[];
}
