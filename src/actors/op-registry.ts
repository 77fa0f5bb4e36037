/**
 * @module
 * Operations a host worker can run, by name. An operation gives each rank a root task (and may
 * prepare or finish synchronously, outside virtual time). Operations register themselves here when
 * their module loads; the host entry shells (thread and in-process) hand the registry to each
 * `EngineHost`, so the actor layer never imports the operations themselves.
 */
import type { RankContext } from '../sim/rank-context.js';
import type { TaskBody } from '../sim/task.js';

export interface OpDefinition<A = unknown> {
  readonly name: string;
  /** Synchronous set-up on each rank before its tasks start (filling buffers...): no virtual time. */
  prepare?(ctx: RankContext, args: A): void;
  /** The rank's root task. Omit for operations that only prepare/finish. */
  task?(ctx: RankContext, args: A): TaskBody;
  /** Synchronous wrap-up once the rank's tasks are done; its return value is the rank's result. */
  finish?(ctx: RankContext, args: A): unknown;
}

const registry = new Map<string, OpDefinition<never>>();

/** Register an operation (module load time). Names are unique. */
export function defineOp<A>(def: OpDefinition<A>): OpDefinition<A> {
  if (registry.has(def.name)) throw new Error(`operation '${def.name}' is defined twice`);
  registry.set(def.name, def as OpDefinition<never>);
  return def;
}

export function getOp(name: string): OpDefinition<unknown> | undefined {
  return registry.get(name) as OpDefinition<unknown> | undefined;
}

/** How a host finds operations by name. */
export interface OpLookup {
  get(name: string): OpDefinition<unknown> | undefined;
}

/** The registry every operation module registers into. */
export const opRegistry: OpLookup = { get: getOp };
