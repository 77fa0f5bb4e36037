/**
 * @module
 * The streams of one rank as an xstate machine: one parallel region per stream (compute,
 * communication, ...), each owning a share of the GPU's SMs and a queue of kernel launches it runs
 * in order, as CUDA streams do. A kernel's completion records an event named by its id; a launch
 * that waits on events of other streams stays queued until they are recorded (a guard), as with
 * `cudaStreamWaitEvent`. A failed kernel fails the rank: every stream stops.
 *
 * The machine is pure: it decides, and its `launch` action says what to start. Whoever runs it
 * (`stream-runner.ts`) provides `launch` and sends `KERNEL_DONE` / `KERNEL_FAILED` back; tests
 * drive it with xstate's `transition()` and read the actions it returns.
 */
import { assign, setup, type SnapshotFrom } from 'xstate';
import { fail, showValue } from '../errors.js';
import { checkArray, checkInt, checkObject, checkString } from '../validate.js';

/** One kernel launch on a stream: its id (also the event recorded when it completes) and its waits. */
export interface StreamLaunch {
  readonly id: string;
  /** Events (ids of kernels, on any stream) that must be recorded before this kernel starts. */
  readonly waits: readonly string[];
}

/** A stream: a name, the SMs of its partition and its queue of launches, in order. */
export interface StreamSpec {
  readonly name: string;
  readonly sms: number;
  readonly launches: readonly StreamLaunch[];
}

/** Input of the stream machine. */
export interface StreamMachineInput {
  rank: number;
  /** SMs of the GPU; the streams' partitions may not add up to more. */
  smCount: number;
  streams: readonly StreamSpec[];
}

/** What the `launch` action receives. */
export interface LaunchParams {
  stream: number;
  /** Position of the launch in its stream's queue. */
  index: number;
  id: string;
  sms: number;
}

/** Events the stream machine accepts. */
export type StreamEvent =
  | { type: 'KERNEL_DONE'; stream: number }
  | { type: 'KERNEL_FAILED'; stream: number; message: string };

export interface StreamContext {
  rank: number;
  streams: readonly StreamSpec[];
  /** Per stream, the index of its next (or running) launch. */
  next: number[];
  /** Events recorded so far. */
  recorded: Record<string, true>;
  /** Kernels completed, all streams. */
  completed: number;
  error: string | null;
}

/**
 * Check a set of streams: positive SM partitions within `smCount`, unique kernel ids, waits naming
 * kernels that exist, and no launch order that can never complete (a cycle of waits through the
 * streams' in-order queues).
 * @throws ExpertmeshError `E_CONFIG` naming the bad stream or kernel.
 */
/** Most streams a machine may have (streams partition the SMs, at least one each). */
export const MAX_STREAMS = 1024;

export function checkStreams(input: StreamMachineInput): void {
  checkObject(input, 'streams input', 'E_CONFIG');
  const { streams } = input;
  const smCount = checkInt(input.smCount, 'smCount', 1, Number.MAX_SAFE_INTEGER, 'E_CONFIG');
  checkArray(streams, 'streams', false, 'E_CONFIG');
  for (let si = 0; si < streams.length; si++) {
    const s = checkObject(streams[si], `streams[${si}]`, 'E_CONFIG');
    checkString(s['name'], `streams[${si}].name`, false, 'E_CONFIG');
    const launches = checkArray(s['launches'], `streams[${si}].launches`, false, 'E_CONFIG');
    for (let i = 0; i < launches.length; i++) {
      const l = checkObject(launches[i], `streams[${si}].launches[${i}]`, 'E_CONFIG');
      checkString(l['id'], `streams[${si}].launches[${i}].id`, false, 'E_CONFIG');
      const waits = checkArray(l['waits'], `streams[${si}].launches[${i}].waits`, false, 'E_CONFIG');
      for (let j = 0; j < waits.length; j++) checkString(waits[j], `streams[${si}].launches[${i}].waits[${j}]`, false, 'E_CONFIG');
    }
  }
  if (streams.length === 0) fail('E_CONFIG', 'a schedule needs at least one stream', { field: 'streams' });
  let sms = 0;
  const ids = new Map<string, [number, number]>();
  streams.forEach((s, si) => {
    if (!Number.isInteger(s.sms) || s.sms < 1) fail('E_CONFIG', `stream '${s.name}': sms must be a positive integer, got ${showValue(s.sms)}`, { field: `streams[${si}].sms`, value: s.sms });
    sms += s.sms;
    s.launches.forEach((l, i) => {
      if (ids.has(l.id)) fail('E_CONFIG', `kernel id '${l.id}' appears twice (stream '${s.name}')`, { field: `streams[${si}].launches[${i}].id`, value: l.id });
      ids.set(l.id, [si, i]);
    });
  });
  if (sms > smCount) fail('E_CONFIG', `the streams' SM partitions add up to ${sms}, over the GPU's ${smCount} SMs`, { field: 'streams', value: sms, smCount });
  for (const s of streams)
    for (const l of s.launches)
      for (const w of l.waits) if (!ids.has(w)) fail('E_CONFIG', `kernel '${l.id}' on stream '${s.name}' waits for '${w}', which no stream launches`, { field: 'waits', value: w });
  // Simulate with unbounded speed: a round that starts nothing while work remains is a deadlock.
  const next = streams.map(() => 0);
  const done = new Set<string>();
  for (;;) {
    let progressed = false;
    streams.forEach((s, si) => {
      while (next[si]! < s.launches.length && s.launches[next[si]!]!.waits.every((w) => done.has(w))) {
        done.add(s.launches[next[si]!]!.id);
        next[si]!++;
        progressed = true;
      }
    });
    if (!progressed) break;
  }
  const stuck = streams.flatMap((s, si) => (next[si]! < s.launches.length ? [`'${s.launches[next[si]!]!.id}' on '${s.name}'`] : []));
  if (stuck.length > 0) fail('E_CONFIG', `the schedule can never finish: ${stuck.join(', ')} wait(s) for kernels queued behind them`, { field: 'waits', value: stuck });
}

const headReady = (c: StreamContext, i: number): boolean => {
  const l = c.streams[i]!.launches[c.next[i]!];
  return l !== undefined && l.waits.every((w) => c.recorded[w] === true);
};

/** The machine of a rank's streams. `launch` is a no-op here: runners provide it. */
export const streamSetup = setup({
  types: {
    context: {} as StreamContext,
    events: {} as StreamEvent,
    input: {} as StreamMachineInput,
  },
  actions: {
    launch: (_, _params: LaunchParams) => {},
  },
});

/** Build the machine for `count` streams (one parallel region each: waiting, running, drained). */
export function createStreamMachine(count: number) {
  // Streams partition a GPU's SMs, at least one each: no GPU has 1024 SMs.
  checkInt(count, 'count', 1, MAX_STREAMS);
  const regions: Record<string, object> = {};
  for (let i = 0; i < count; i++) {
    regions[`s${i}`] = {
      initial: 'waiting',
      states: {
        waiting: {
          always: [
            { guard: ({ context }: { context: StreamContext }) => context.next[i]! >= context.streams[i]!.launches.length, target: 'drained' },
            {
              guard: ({ context }: { context: StreamContext }) => headReady(context, i),
              target: 'running',
              actions: {
                type: 'launch',
                params: ({ context }: { context: StreamContext }): LaunchParams => {
                  const s = context.streams[i]!;
                  return { stream: i, index: context.next[i]!, id: s.launches[context.next[i]!]!.id, sms: s.sms };
                },
              },
            },
          ],
        },
        running: {
          on: {
            KERNEL_DONE: {
              guard: ({ event }: { event: StreamEvent }) => event.stream === i,
              target: 'waiting',
              actions: assign(({ context }: { context: StreamContext }) => {
                const id = context.streams[i]!.launches[context.next[i]!]!.id;
                const next = context.next.slice();
                next[i] = next[i]! + 1;
                return { next, recorded: { ...context.recorded, [id]: true as const }, completed: context.completed + 1 };
              }),
            },
          },
        },
        drained: { type: 'final' },
      },
    };
  }
  return streamSetup.createMachine({
    id: 'streams',
    initial: 'running',
    context: ({ input }) => {
      checkStreams(input);
      return { rank: input.rank, streams: input.streams, next: input.streams.map(() => 0), recorded: {}, completed: 0, error: null };
    },
    states: {
      running: {
        type: 'parallel',
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        states: regions as any,
        onDone: 'done',
        on: {
          KERNEL_FAILED: {
            target: 'failed',
            actions: assign({ error: ({ context, event }) => `stream '${context.streams[event.stream]?.name}': ${event.message}` }),
          },
        },
      },
      done: { type: 'final' },
      failed: { type: 'final' },
    },
  });
}

export type StreamMachine = ReturnType<typeof createStreamMachine>;

/**
 * What each stream is doing, by name: `running <kernel>`, `waiting <kernel>`, `drained`; or
 * `failed` / `done` for the whole rank.
 */
export function streamStates(snap: SnapshotFrom<StreamMachine>): Record<string, string> {
  checkObject(snap, 'snapshot');
  const c = checkObject(snap.context, 'snapshot.context') as unknown as StreamContext;
  const streams = checkArray(c.streams, 'snapshot.context.streams');
  for (let i = 0; i < streams.length; i++) checkString(checkObject(streams[i], `snapshot.context.streams[${i}]`)['name'], `snapshot.context.streams[${i}].name`);
  if (typeof snap.value !== 'string') checkObject(checkObject(snap.value, 'snapshot.value')['running'], 'snapshot.value.running');
  const out: Record<string, string> = {};
  const value = snap.value as string | { running: Record<string, string> };
  c.streams.forEach((s, i) => {
    if (typeof value === 'string') {
      out[s.name] = value;
      return;
    }
    const st = value.running[`s${i}`]!;
    out[s.name] = st === 'drained' ? st : `${st} ${s.launches[c.next[i]!]!.id}`;
  });
  return out;
}
