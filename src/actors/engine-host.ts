/**
 * @module
 * The host of one worker thread: an {@link Engine} for its ranks, one xstate GPU actor per rank,
 * and the handling of the main thread's requests. Pure message-in, message-out logic, so it runs
 * the same inside a worker thread and in-process (tests, the in-process transport).
 */
import { createActor, type Actor } from 'xstate';
import { ExpertmeshError, fail, toWireError } from '../errors.js';
import { Engine } from '../sim/engine.js';
import { decodePackets, encodePackets } from '../transport/packets.js';
import { gpuMachine, type GpuStateValue, type RankSnapshot } from './gpu-machine.js';
import type { HostReply, HostRequest, InitMessage, OpMessage, OutboundBatch, WindowMessage } from './host-messages.js';
import { getOp } from './op-registry.js';
import type { TaskGroup } from '../sim/task.js';
import '../ops.js';

export class EngineHost {
  /** @param exitThread how a host ends its thread on an injected 'exit' fault. */
  constructor(private readonly exitThread: () => never = () => fail('E_WORKER', 'injected exit fault (in-process host)')) {}

  private engine: Engine | null = null;
  private actors = new Map<number, Actor<typeof gpuMachine>>();
  private stateChanges: RankSnapshot[] = [];
  private opArgs = new Map<number, { name: string; args: unknown }>();
  private eventsReported = 0;

  /** Handle one request; always returns a reply (errors travel inside it). */
  handle(msg: HostRequest): HostReply {
    try {
      switch (msg.type) {
        case 'init':
          this.init(msg);
          return this.reply(msg.id);
        case 'register':
          for (const r of msg.regions) this.mustEngine().regions.add(r);
          return this.reply(msg.id);
        case 'unregister':
          for (const id of msg.regionIds) this.mustEngine().regions.remove(id);
          return this.reply(msg.id);
        case 'op':
          this.startOp(msg);
          return this.reply(msg.id);
        case 'window':
          this.window(msg);
          return this.reply(msg.id);
        case 'collect': {
          const r = this.reply(msg.id);
          const e = this.mustEngine();
          if (msg.what === 'timeline') {
            r.timeline = e.timeline.take();
          } else if (msg.what === 'samples') {
            r.samples = e.samples.take();
          } else if (msg.what === 'activities') {
            r.activities = e.activities.take();
          } else if (msg.what === 'blocked') r.blocked = e.blockedTasks();
          return r;
        }
        case 'fault':
          if (msg.kind === 'exit') this.exitThread();
          fail('E_TASK', 'injected fault');
      }
    } catch (e) {
      const r = this.reply((msg as { id: number }).id);
      r.error = toWireError(e);
      return r;
    }
  }

  private mustEngine(): Engine {
    if (!this.engine) throw new ExpertmeshError('E_WORKER', 'host used before init');
    return this.engine;
  }

  private init(m: InitMessage): void {
    const localRanks = m.workerOfRank.flatMap((w, r) => (w === m.workerIndex ? [r] : []));
    this.engine = new Engine(
      { numRanks: m.numRanks, gpusPerNode: m.gpusPerNode, hardware: m.hardware, workerOfRank: m.workerOfRank, recordTimeline: m.recordTimeline },
      m.workerIndex,
      localRanks,
      m.numWorkers,
    );
    for (const rank of localRanks) {
      const actor = createActor(gpuMachine, { input: { rank } });
      actor.subscribe((s) => {
        this.stateChanges.push({
          rank,
          value: s.value as GpuStateValue,
          op: s.context.op,
          opsCompleted: s.context.opsCompleted,
          error: s.context.error,
          timeUs: this.engine?.now ?? 0,
        });
      });
      actor.start();
      this.actors.set(rank, actor);
    }
  }

  private startOp(m: OpMessage): void {
    const e = this.mustEngine();
    const def = getOp(m.name);
    if (!def) fail('E_ARGUMENT', `unknown operation '${m.name}'`, { op: m.name });
    for (const rank of e.localRanks) {
      const a = this.actors.get(rank)!;
      if (a.getSnapshot().value === 'failed') fail('E_TASK', `rank ${rank} has failed and cannot start '${m.name}'`, { rank, op: m.name });
    }
    this.opArgs.set(m.opId, { name: m.name, args: m.args });
    if (e.now < m.startTime) e.now = m.startTime;
    for (const rank of e.localRanks) {
      const ctx = e.contexts[rank]!;
      const group: TaskGroup = { opId: m.opId, rank, live: 0, result: undefined, failed: false, endTime: m.startTime };
      ctx.group = group;
      ctx.state = {};
      this.actors.get(rank)!.send({ type: 'OP_START', op: m.name, opId: m.opId });
      try {
        def.prepare?.(ctx, m.args);
      } catch (err) {
        const w = toWireError(err);
        e.failures.push({ rank, task: `${m.name}.prepare`, opId: m.opId, error: { ...w, message: `rank ${rank} ${m.name}.prepare: ${w.message}` } });
        group.failed = true;
        continue;
      }
      if (def.task) e.spawn(rank, m.name, def.task(ctx, m.args), group, m.startTime);
      else e.finishedGroups.push(group);
    }
  }

  private window(m: WindowMessage): void {
    const e = this.mustEngine();
    const limits = { numRanks: e.shape.numRanks, numRegions: e.regions.idLimit };
    // Validate every batch before applying any: a bad batch is rejected whole.
    const decoded = m.inbound.map((b) => decodePackets(b, limits));
    // The engine checks what it applies as one unit, so a bad packet in a later batch rejects all.
    e.acceptPackets(decoded.length === 1 ? decoded[0]! : decoded.flat());
    e.runUntil(m.end);
  }

  private reply(id: number): HostReply {
    const e = this.engine;
    const outbound: OutboundBatch[] = [];
    const finished: HostReply['finished'] = [];
    let failures: HostReply['failures'] = [];
    if (e) {
      e.flushStarts();
      e.outbox.forEach((pkts, to) => {
        if (pkts.length === 0) return;
        let minTime = Infinity;
        for (const p of pkts) if (p.time < minTime) minTime = p.time;
        outbound.push({ to, bytes: encodePackets(pkts), minTime });
        pkts.length = 0;
      });
      for (const g of e.finishedGroups) {
        const ctx = e.contexts[g.rank]!;
        const op = this.opArgs.get(g.opId);
        let result = g.result;
        try {
          const def = op ? getOp(op.name) : undefined;
          if (def?.finish) result = def.finish(ctx, op!.args);
        } catch (err) {
          const w = toWireError(err);
          e.failures.push({ rank: g.rank, task: `${op?.name}.finish`, opId: g.opId, error: { ...w, message: `rank ${g.rank} ${op?.name}.finish: ${w.message}` } });
          continue;
        }
        this.actors.get(g.rank)!.send({ type: 'OP_DONE', opId: g.opId });
        finished.push({ rank: g.rank, opId: g.opId, endTime: g.endTime, result });
      }
      e.finishedGroups.length = 0;
      failures = e.failures.splice(0);
      for (const f of failures) this.actors.get(f.rank)?.send({ type: 'FAIL', message: f.error.message });
    }
    const states = this.stateChanges;
    this.stateChanges = [];
    const total = e?.eventsProcessed ?? 0;
    const events = total - this.eventsReported;
    this.eventsReported = total;
    return { type: 'reply', id, next: e ? e.nextEventTime() : Infinity, now: e?.now ?? 0, outbound, finished, failures, states, events };
  }
}
