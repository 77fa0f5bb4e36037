/**
 * @module
 * `TraceRecorder`: a {@link TraceBuilder} feeding a {@link TraceWriter}, the object a run streams
 * into phase by phase; and `writeTrace`, the one-call form for a finished run.
 */
import type { RankSnapshot } from '../actors/gpu-machine.js';
import { TraceBuilder, type TracePhase, type TraceStats, checkPhase } from './builder.js';
import type { TraceOptions } from './events.js';
import { TraceWriter } from './writer.js';
import { checkArray, checkObject, checkString } from '../validate.js';

/** Shape of the cluster a trace describes. */
export interface TraceShape {
  numRanks: number;
  gpusPerNode: number;
}

export class TraceRecorder {
  readonly builder: TraceBuilder;
  readonly writer: TraceWriter;
  private extra: Record<string, unknown> = {};

  /** Opens `path` at once: throws `E_ARGUMENT` if it cannot be written. */
  constructor(path: string, shape: TraceShape, options: TraceOptions = {}, private readonly meta: Record<string, unknown> = {}) {
    checkString(path, 'path');
    checkObject(shape, 'shape');
    checkObject(meta, 'meta');
    // The builder first: its checks throw before the file is created.
    this.builder = new TraceBuilder(shape.numRanks, shape.gpusPerNode, options);
    this.writer = new TraceWriter(path);
  }

  get path(): string {
    return this.writer.path;
  }

  get stats(): TraceStats {
    return this.builder.stats;
  }

  phase(p: TracePhase): void {
    this.writer.write(this.builder.phase(p));
  }

  rankState(s: RankSnapshot): void {
    this.builder.rankState(s);
  }

  /** Add fields to the metadata written at {@link close} (`otherData`), e.g. the run's loads. */
  addMeta(fields: Record<string, unknown>): void {
    this.extra = { ...this.extra, ...fields };
  }

  /** Write what is left and the metadata; `error` marks the trace incomplete. */
  close(error?: unknown): void {
    try {
      this.finish(error);
    } catch (e) {
      // Not even an incomplete trace can be written: leave no file rather than a partial one.
      this.writer.abandon();
      throw e;
    }
  }

  private finish(error?: unknown): void {
    this.writer.write([...this.builder.header(), ...this.builder.flushStates()]);
    const { transfers, transfersDrawn, transfersNotDrawn } = this.builder.stats;
    const o = this.builder.options;
    this.writer.close({
      ...this.meta,
      ...this.extra,
      incomplete: error !== undefined,
      ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
      transfers, transfersDrawn, transfersNotDrawn,
      /** Phase slices' `args.step` is 1-based (older traces: 0-based, without this field). */
      stepBase: 1,
      /** True when some transfers have no slice (sampling, caps or lanes): counters still count them. */
      sampled: transfersNotDrawn > 0,
      sampling: o,
      counters: !o.counters ? 'none'
        : o.counterBuckets > 0 ? { mode: 'buckets', bucketsPerPhase: o.counterBuckets, value: 'mean bytes in flight over each bucket' }
        : { mode: 'exact', value: 'bytes in flight at every change' },
    });
  }
}

/** What {@link writeTrace} needs from a finished run. */
export interface TraceInput extends TraceShape {
  phases: readonly TracePhase[];
  rankStates?: readonly RankSnapshot[];
}

/**
 * Write a Chrome Trace Event JSON file (open it in https://ui.perfetto.dev) for a finished run.
 * @example
 * const res = await runScenario(scenario);               // or your own phases
 * writeTrace('run.trace.json', { numRanks: 8, gpusPerNode: 8, phases: res.phases });
 */
export function writeTrace(path: string, input: TraceInput, options: TraceOptions = {}): TraceStats {
  checkObject(input, 'input');
  const phases = checkArray(input.phases, 'input.phases');
  for (let i = 0; i < phases.length; i++) checkPhase(phases[i] as TracePhase, `input.phases[${i}]`);
  if (input.rankStates !== undefined) {
    const st = checkArray(input.rankStates, 'input.rankStates');
    for (let i = 0; i < st.length; i++) checkObject(st[i], `input.rankStates[${i}]`);
  }
  const rec = new TraceRecorder(path, input, options);
  for (const s of input.rankStates ?? []) rec.rankState(s);
  for (const p of input.phases) rec.phase(p);
  rec.close();
  return rec.stats;
}
