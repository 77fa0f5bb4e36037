/**
 * @module
 * Tasks: the communication and compute routines a simulated GPU runs (senders, receivers,
 * forwarders, coordinators...). A task is a generator that yields {@link Wait}s; the engine resumes
 * it in virtual time. Generators, not promises: resuming one is a plain function call inside the
 * event loop, so per-chunk work never touches the microtask queue or xstate.
 */
import { CMP_NAMES, WAIT_ANY, WAIT_COUNTER, WAIT_READ, WAIT_SLEEP, WAIT_TASKS, WAIT_TRANSFER } from '../transport/protocol.js';
import type { Region } from '../transport/memory.js';
import { FreeList } from './free-list.js';
import { DOUBLE } from './field-init.js';

/** What a task waits for. Build them with the {@link RankContext} helpers. */
export type Wait =
  | { kind: typeof WAIT_SLEEP; us: number }
  | { kind: typeof WAIT_COUNTER; region: Region; index: number; cmp: number; value: number }
  | { kind: typeof WAIT_TRANSFER; transfer: TransferHandle }
  | { kind: typeof WAIT_READ; peer: number; region: Region; index: number }
  | { kind: typeof WAIT_TASKS; tasks: readonly Task[] }
  | { kind: typeof WAIT_ANY; conds: readonly CounterCondition[]; count: number };

/** One condition on a local int32 counter. */
export interface CounterCondition {
  region: Region;
  index: number;
  cmp: number;
  value: number;
}

/** The body of a task: yields waits, receives the waited value (counter value, read value). */
export type TaskBody = Generator<Wait, void, number>;

/**
 * A role written as an explicit state record instead of a generator, for the hottest roles (a
 * generator's resumption restores and saves its whole frame at every wait): `step(value)` runs the
 * role from where it stopped to its next wait and returns that wait, or null once the role is done;
 * `value` is what the previous wait resumed with, as a generator's `next(value)` receives it. The
 * engine treats both alike.
 */
export interface RoleStep {
  step(value: number): Wait | null;
  /**
   * A detached role whose first wait is a sleep of this many us from its spawn (a NIC's doorbell):
   * the engine starts it with that sleep running, so its first `step` is at the sleep's end (one
   * task event fewer, the same timeline: see Engine.spawn).
   */
  readonly startDelayUs?: number;
}

/**
 * A handle on an issued transfer, for waiting on its delivery acknowledgement: the index of the
 * engine's transfer record with the record's generation (a number; no object per transfer).
 */
export type TransferHandle = number;

/**
 * Every wait record has one shape (one hidden class, every field present), whatever its kind: the
 * engine reads `kind` and the fields of every wait a task yields, and one shape keeps those reads
 * monomorphic on the hot path. Build waits with {@link makeWait} (or the {@link RankContext} helpers).
 */
class WaitRecord {
  kind = 0;
  /** A sleep's length and a transfer's handle (an index with a generation, beyond the small integers) are doubles. */
  us = DOUBLE;
  region: Region | null = null;
  index = 0;
  cmp = 0;
  value = 0;
  transfer: TransferHandle = DOUBLE;
  peer = 0;
  tasks: readonly Task[] | null = null;
  conds: readonly CounterCondition[] | null = null;
  /**
   * WAIT_ANY: how many of `conds` (its first ones) the wait is on; -1: all of them. A reused
   * condition list keeps its array's capacity between waits and says its size here.
   */
  count = -1;

  constructor() {
    // Declared DOUBLE (double from the first record on: see field-init.ts), start at 0.
    this.us = this.transfer = 0;
  }
}

/** A wait record of `kind` (fill its fields before yielding it). */
export function makeWait<K extends Wait['kind']>(kind: K): Extract<Wait, { kind: K }> {
  const w = new WaitRecord();
  w.kind = kind;
  return w as unknown as Extract<Wait, { kind: K }>;
}

/**
 * Wait records of ended tasks, for the tasks spawned after them (an engine's own): a task takes a
 * record of a kind on its first wait of that kind and keeps it until it ends, so the records of an
 * operation's tasks serve the next operation's.
 */
export class WaitPool {
  private readonly free = new FreeList<WaitRecord>();

  /** A record of `kind` (its other fields as its last user left them). */
  take<K extends Wait['kind']>(kind: K): Extract<Wait, { kind: K }> {
    const w = this.free.take() ?? new WaitRecord();
    w.kind = kind;
    return w as unknown as Extract<Wait, { kind: K }>;
  }

  /** Return a record no task refers to any more. */
  give(w: object): void {
    this.free.give(w as WaitRecord);
  }

  /** Return an ended task's records. */
  release(t: Task): void {
    if (t.sleepWait !== null) { this.give(t.sleepWait); t.sleepWait = null; }
    if (t.counterWait !== null) { this.give(t.counterWait); t.counterWait = null; }
    if (t.readWait !== null) { this.give(t.readWait); t.readWait = null; }
    if (t.transferWait !== null) { this.give(t.transferWait); t.transferWait = null; }
  }
}

/**
 * A running task. Its fields are declared in the order the engine reads them at every resume
 * (`done`, `wait`, `role`, `roleStep`, `rank`, then the reused waits), so an event's first touch
 * of its task loads one or two cache lines, not the whole record: V8 lays fields out in the order
 * they are first assigned, and the other fields (the joins, the kernel, the name) are read rarely.
 */
export class Task {
  /**
   * Ended, or stopped with its failed group: every task of a failed group is marked done when the
   * group fails (Engine.failTask / failGroup, and a spawn into it), so a resume reads only this.
   */
  done = false;
  wait: Wait | null = null;
  /** The task's state record, or null when it runs a generator. */
  role: RoleStep | null;
  /**
   * The role's `step` method, looked up once when the task starts: the roles are many classes, so
   * `role.step` at every resume is a megamorphic property load (a probe of V8's global stub cache,
   * usually a cache miss); the engine calls this with the role as `this` instead.
   */
  roleStep: RoleStep['step'] | null;
  rank: number;
  /**
   * Reused wait records: a task yields one wait at a time, so the hot waits allocate nothing. Each
   * is taken from the engine's {@link WaitPool} on the task's first wait of its kind and given back
   * when the task ends.
   */
  sleepWait: { kind: typeof WAIT_SLEEP; us: number } | null = null;
  counterWait: { kind: typeof WAIT_COUNTER; region: Region; index: number; cmp: number; value: number } | null = null;
  readWait: { kind: typeof WAIT_READ; peer: number; region: Region; index: number } | null = null;
  transferWait: { kind: typeof WAIT_TRANSFER; transfer: TransferHandle } | null = null;
  /** The task's place in its engine's list of tasks not yet ended (-1 once ended). */
  slot = -1;
  /** The task's generator, or null when it runs a {@link RoleStep}. */
  body: TaskBody | null;
  id: number;
  name: string;
  group: TaskGroup;
  /** The task waiting for this one (WAIT_TASKS), and any more after it (rare). */
  joiner: Task | null = null;
  joiners: Task[] | null = null;
  /** While joining (WAIT_TASKS): how many of the joined tasks have not ended. */
  joinPending = 0;
  /** The scheduled kernel this task runs for (inherited by the tasks it spawns), or null. */
  kernel: KernelTag | null = null;
  /**
   * Nobody keeps or joins this task (a NIC's work request): once it ends, the engine reuses the
   * record for the next detached task (see RankContext.spawnDetached).
   */
  detached = false;
  constructor(id: number, rank: number, name: string, run: TaskBody | RoleStep, group: TaskGroup) {
    const isRole = typeof (run as Partial<RoleStep>).step === 'function';
    this.role = isRole ? (run as RoleStep) : null;
    this.roleStep = isRole ? (run as RoleStep).step : null;
    this.rank = rank;
    this.body = isRole ? null : (run as TaskBody);
    this.id = id;
    this.name = name;
    this.group = group;
    // Stored again: mutable fields from the first task on, not from the first task that ends, is
    // detached or joined (see field-init.ts).
    this.done = false;
    this.detached = false;
    this.joiners = null;
  }

  /** Make an ended detached task's record a new task (as the constructor would). */
  reuse(id: number, rank: number, name: string, role: RoleStep, group: TaskGroup): void {
    this.id = id;
    this.rank = rank;
    this.name = name;
    this.group = group;
    this.body = null;
    this.role = role;
    this.roleStep = role.step;
    this.done = false;
    this.wait = null;
    this.joiner = null;
    this.joiners = null;
    this.joinPending = 0;
    this.slot = -1;
    this.kernel = null;
  }
}

/**
 * What a task of a scheduled kernel carries: the prefix of the regions it addresses (one set of
 * regions per micro-batch, so two micro-batches' kernels never share rings) and who to tell when
 * one of its tasks fails.
 */
export interface KernelTag {
  readonly scope: string;
  onFail?(message: string): void;
}

/** All tasks one rank runs for one operation; the operation ends on that rank when it empties. */
export interface TaskGroup {
  readonly opId: number;
  readonly rank: number;
  live: number;
  result: unknown;
  failed: boolean;
  /** Virtual time the group's last task ended. */
  endTime: number;
}

/** A readable description of what a task waits for, for timeout and deadlock errors. */
export function describeWait(w: Wait | null): string {
  if (!w) return 'nothing (runnable)';
  switch (w.kind) {
    case WAIT_SLEEP:
      return `a delay of ${w.us} us`;
    case WAIT_COUNTER:
      return `counter ${w.region.name}[${w.index}] of rank ${w.region.rank} ${CMP_NAMES[w.cmp]} ${w.value} (now ${w.region.i32[w.index]!})`;
    case WAIT_TRANSFER:
      return `delivery of transfer ${w.transfer} (handle)`;
    case WAIT_READ:
      return `a remote read of ${w.region.name}[${w.index}] on rank ${w.peer}`;
    case WAIT_ANY:
      return `any of: ${listed(w.conds.slice(0, condCount(w)).map((c) => `${c.region.name}[${c.index}] ${CMP_NAMES[c.cmp]} ${c.value} (now ${c.region.i32[c.index]!})`))}`;
    case WAIT_TASKS:
      return `tasks ${listed(w.tasks.filter((t) => !t.done).map((t) => `'${t.name}'`))}`;
  }
}

/** How many conditions a WAIT_ANY is on. */
export function condCount(w: { conds: readonly CounterCondition[]; count: number }): number {
  return w.count < 0 ? w.conds.length : w.count;
}

/** At most six items and how many more: a kernel's parent waits on hundreds of role tasks. */
function listed(items: string[]): string {
  return items.length <= 6 ? items.join(', ') : `${items.slice(0, 6).join(', ')} and ${items.length - 6} more`;
}
