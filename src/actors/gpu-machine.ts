/**
 * @module
 * The state machine of one simulated GPU. Its transitions mark operations (an operation starts or
 * ends, the rank fails), never chunks: per-chunk work runs in the engine's scheduler, the hot path.
 */
import { assign, setup } from 'xstate';

/** Events a GPU actor accepts. */
export type GpuEvent =
  | { type: 'OP_START'; op: string; opId: number }
  | { type: 'OP_DONE'; opId: number }
  /** The operation failed (stuck, past its bound, aborted) and its leftovers were dropped. */
  | { type: 'OP_DROPPED' }
  | { type: 'FAIL'; message: string }
  /** What each of the rank's streams is doing (a scheduled operation runs them). */
  | { type: 'STREAMS'; streams: Record<string, string> };

/** A GPU actor's context. */
export interface GpuContext {
  rank: number;
  /** Name of the running operation, or null when idle. */
  op: string | null;
  opId: number;
  opsCompleted: number;
  /** Why the rank failed, or null. */
  error: string | null;
  /** Per stream, what it runs or waits for, while a scheduled operation runs; else null. */
  streams: Record<string, string> | null;
}

/** The states a rank can be in. */
export type GpuStateValue = 'idle' | 'busy' | 'failed';

export const gpuMachine = setup({
  types: {
    context: {} as GpuContext,
    events: {} as GpuEvent,
    input: {} as { rank: number },
  },
}).createMachine({
  id: 'gpu',
  initial: 'idle',
  context: ({ input }) => ({ rank: input.rank, op: null, opId: -1, opsCompleted: 0, error: null, streams: null }),
  states: {
    idle: {
      on: {
        OP_START: { target: 'busy', actions: assign({ op: ({ event }) => event.op, opId: ({ event }) => event.opId }) },
        FAIL: { target: 'failed', actions: assign({ error: ({ event }) => event.message }) },
      },
    },
    busy: {
      on: {
        OP_DONE: {
          target: 'idle',
          guard: ({ context, event }) => context.opId === event.opId,
          actions: assign({ op: null, streams: null, opsCompleted: ({ context }) => context.opsCompleted + 1 }),
        },
        OP_DROPPED: { target: 'idle', actions: assign({ op: null, streams: null }) },
        STREAMS: { actions: assign({ streams: ({ event }) => event.streams }) },
        FAIL: { target: 'failed', actions: assign({ error: ({ event }) => event.message }) },
      },
    },
    failed: { type: 'final' },
  },
});

/** The plain snapshot of a rank that the main thread mirrors. */
export interface RankSnapshot {
  rank: number;
  value: GpuStateValue;
  op: string | null;
  opsCompleted: number;
  error: string | null;
  /** Per stream state while a scheduled operation runs (`running <kernel>`, `waiting <kernel>`, `drained`). */
  streams?: Record<string, string>;
  /** Virtual time of the change, us. */
  timeUs: number;
}
