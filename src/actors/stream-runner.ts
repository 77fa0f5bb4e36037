/**
 * @module
 * The `streams.run` operation: every rank runs one schedule on its streams. The rank's
 * {@link createStreamMachine stream machine} decides what starts; this module performs its `launch`
 * actions as engine tasks and tells it when each kernel ends. A compute kernel is timed work on
 * its stream's SMs (its duration, computed for that partition, comes with the schedule); a
 * communication kernel is a registered operation (dispatch, combine...) whose tasks run with their
 * regions scoped to the kernel (`scope` prefixes every region name, so each micro-batch has its own
 * rings). The machine only sees launches and completions, never chunks.
 */
import { createActor } from 'xstate';
import { fail } from '../errors.js';
import type { RankContext } from '../sim/rank-context.js';
import type { KernelTag, TaskBody } from '../sim/task.js';
import { defineOp, getOp } from './op-registry.js';
import { checkStreams, createStreamMachine, streamStates, type LaunchParams, type StreamSpec } from './stream-machine.js';

/** What a kernel does when launched. */
export type KernelWork =
  /** Timed work: `us[rank]` on the stream's SMs. */
  | { kind: 'compute'; us: readonly number[] }
  /** A registered operation's prepare, tasks and finish, its regions prefixed with `scope`. */
  | { kind: 'op'; op: string; args: unknown; scope: string };

/** Arguments of `streams.run`: the same for every rank. */
export interface StreamsRunArgs {
  /** SMs of the GPU (the partitions may not exceed it). */
  smCount: number;
  streams: readonly StreamSpec[];
  /** What each kernel id does. */
  work: Readonly<Record<string, KernelWork>>;
}

/** One kernel as it ran on a rank: stream index, kernel id, start and end, us (on the cluster's clock). */
export interface KernelSpan {
  stream: number;
  id: string;
  startUs: number;
  endUs: number;
}

/** A rank's result of `streams.run`: its kernels in completion order. */
export interface StreamsRunResult {
  spans: KernelSpan[];
}

function* computeKernel(ctx: RankContext, us: number): TaskBody {
  if (!(us >= 0)) fail('E_ARGUMENT', `rank ${ctx.rank}: compute kernel of ${us} us`, { rank: ctx.rank, value: us });
  yield ctx.sleep(us);
}

function* opKernel(ctx: RankContext, w: Extract<KernelWork, { kind: 'op' }>): TaskBody {
  const def = getOp(w.op);
  if (!def) fail('E_ARGUMENT', `unknown operation '${w.op}' in a schedule`, { op: w.op });
  // Each kernel keeps its own per-rank state, whatever runs on the other streams meanwhile.
  const state: Record<string, unknown> = {};
  ctx.state = state;
  def.prepare?.(ctx, w.args);
  if (def.task) yield* def.task(ctx, w.args);
  ctx.state = state;
  def.finish?.(ctx, w.args);
}

defineOp<StreamsRunArgs>({
  name: 'streams.run',
  *task(ctx, a) {
    // Checked here, not in the machine's actions: an action that throws would escape the task.
    checkStreams({ rank: ctx.rank, smCount: a.smCount, streams: a.streams });
    for (const s of a.streams)
      for (const l of s.launches)
        if (!a.work[l.id]) fail('E_CONFIG', `schedule kernel '${l.id}' on stream '${s.name}' has no work`, { kernel: l.id });
    const spans: KernelSpan[] = [];
    let running = 0;
    const machine = createStreamMachine(a.streams.length).provide({
      actions: {
        launch: (_, p: LaunchParams) => {
          const w = a.work[p.id]!;
          const tag: KernelTag = {
            scope: w.kind === 'op' ? w.scope : '',
            onFail: (message) => {
              actor.send({ type: 'KERNEL_FAILED', stream: p.stream, message });
              ctx.onStreams?.(streamStates(actor.getSnapshot()));
            },
          };
          running++;
          ctx.launch(p.id, run(p), tag);
        },
      },
    });
    const actor = createActor(machine, { input: { rank: ctx.rank, smCount: a.smCount, streams: a.streams } });
    function* run(p: LaunchParams): TaskBody {
      const startUs = ctx.clusterTimeUs;
      const w = a.work[p.id]!;
      if (w.kind === 'compute') yield* computeKernel(ctx, w.us[ctx.rank]!);
      else yield* opKernel(ctx, w);
      spans.push({ stream: p.stream, id: p.id, startUs, endUs: ctx.clusterTimeUs });
      running--;
      actor.send({ type: 'KERNEL_DONE', stream: p.stream });
      const snap = actor.getSnapshot();
      ctx.onStreams?.(streamStates(snap));
      if (snap.status === 'done') ctx.setResult({ spans } satisfies StreamsRunResult);
      else if (running === 0) fail('E_TASK', `rank ${ctx.rank}: the schedule stopped with nothing running (${JSON.stringify(streamStates(snap))})`, { rank: ctx.rank });
    }
    actor.start();
    ctx.onStreams?.(streamStates(actor.getSnapshot()));
    if (actor.getSnapshot().status === 'done') ctx.setResult({ spans } satisfies StreamsRunResult);
    // The operation lasts while the kernels' tasks do: they belong to its task group.
  },
});
