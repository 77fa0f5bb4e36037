/**
 * @module
 * The Chrome Trace Event Format subset expertmesh writes (it opens in Perfetto and chrome://tracing):
 * complete slices (`X`), instants (`i`), counters (`C`), flow arrows (`s`/`f`) and metadata (`M`).
 * Timestamps and durations are virtual microseconds.
 */
import { fail, showValue } from '../errors.js';

/** One trace event. */
export interface TraceEvent {
  /** Phase: X complete slice, B/E begin/end, i instant, C counter, s/f flow start/end, M metadata. */
  ph: 'X' | 'B' | 'E' | 'i' | 'C' | 's' | 'f' | 'M';
  name: string;
  /** Process id: the node. */
  pid: number;
  /** Thread id: a rank's compute track or one lane of one of its link ports. */
  tid: number;
  /** Virtual microseconds. */
  ts: number;
  dur?: number;
  cat?: string;
  /** Flow id (s/f), matched between the two ends. */
  id?: number;
  /** Flow binding point: 'e' binds the flow end to the enclosing slice. */
  bp?: 'e';
  /** Instant scope: 't' thread. */
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

/** The ports of a rank, in track order after its compute track. */
export const LINK_PORTS = ['nvlink.out', 'nvlink.in', 'ib.out', 'ib.in'] as const;
export type LinkPort = (typeof LINK_PORTS)[number];

/** Thread ids per rank: one compute track plus `maxLanes` lanes per port. */
export const tidsPerRank = (maxLanes: number) => 1 + LINK_PORTS.length * maxLanes;

/**
 * How much of a run a trace draws. `sampled` (the default) keeps any run loadable: at most
 * {@link DEFAULT_MAX_TRANSFERS_PER_PHASE} transfers per phase get slices and flows (evenly spaced in
 * canonical order) and the bytes-in-flight counters are time-bucket means
 * ({@link DEFAULT_COUNTER_BUCKETS} buckets per phase). `full` draws every transfer and samples the
 * counters at every change: for small runs.
 */
export type TraceDetail = 'sampled' | 'full';

/** Transfers drawn per phase by default (`detail: 'sampled'`). */
export const DEFAULT_MAX_TRANSFERS_PER_PHASE = 5000;
/** Counter buckets per phase by default (`detail: 'sampled'`). */
export const DEFAULT_COUNTER_BUCKETS = 200;

/** Options that keep large traces loadable. */
export interface TraceOptions {
  /** `sampled` (default) or `full`: sets the defaults of `maxTransfersPerPhase` and `counterBuckets`. */
  detail?: TraceDetail | undefined;
  /** Only transfers from or to these ranks get slices and flows (default: all). */
  ranks?: readonly number[] | undefined;
  /** Keep one transfer in `every`, by canonical index (default 1: all). */
  every?: number | undefined;
  /**
   * At most this many transfers of one phase drawn as slices, evenly spaced in canonical order among
   * those the other options keep (default {@link DEFAULT_MAX_TRANSFERS_PER_PHASE}; no limit with
   * `detail: 'full'`).
   */
  maxTransfersPerPhase?: number | undefined;
  /** At most this many transfers drawn as slices in the whole trace (default: no limit). */
  maxTransfers?: number | undefined;
  /** Flow arrows from each send to its receive (default true). */
  flows?: boolean | undefined;
  /** Bytes-in-flight counters per link port (default true); always computed from every transfer. */
  counters?: boolean | undefined;
  /**
   * Counter buckets per phase: each port's counter is sampled once per bucket with the mean bytes in
   * flight over it (default {@link DEFAULT_COUNTER_BUCKETS}). 0: a sample at every change (the
   * default with `detail: 'full'`).
   */
  counterBuckets?: number | undefined;
  /**
   * Lanes per port (default 16). Transfers sharing a port overlap (processor sharing), so each port
   * has lanes, each a thread whose slices never overlap; a transfer finding every lane busy is not
   * drawn (counted in `otherData.transfersNotDrawn`) but still counts in the counters.
   */
  maxLanes?: number | undefined;
}

/** Trace options with defaults filled in (what `otherData.sampling` of a trace records). */
export interface ResolvedTraceOptions {
  detail: TraceDetail;
  ranks: readonly number[] | undefined;
  every: number;
  maxTransfersPerPhase: number | undefined;
  maxTransfers: number | undefined;
  flows: boolean;
  counters: boolean;
  counterBuckets: number;
  maxLanes: number;
}

/** Throw `E_ARGUMENT` naming the first bad trace option. */
function checkTraceOptions(o: TraceOptions): void {
  const bad = (f: string, v: unknown, want: string): never =>
    fail('E_ARGUMENT', `trace options: ${f} must be ${want}, got ${showValue(v)}`, { argument: `trace.${f}`, value: v });
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('(options)', o, 'an object');
  if (o.detail !== undefined && o.detail !== 'sampled' && o.detail !== 'full') bad('detail', o.detail, "'sampled' or 'full'");
  const ints: Array<[keyof TraceOptions, number]> = [['every', 1], ['maxTransfersPerPhase', 1], ['counterBuckets', 0], ['maxLanes', 1], ['maxTransfers', 1]];
  for (const [f, min] of ints) {
    const v = o[f];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) bad(f, v, `an integer >= ${min}`);
  }
  for (const f of ['flows', 'counters'] as const) if (o[f] !== undefined && typeof o[f] !== 'boolean') bad(f, o[f], 'true or false');
  if (o.ranks !== undefined && (!Array.isArray(o.ranks) || o.ranks.some((r) => !Number.isSafeInteger(r) || r < 0))) bad('ranks', o.ranks, 'an array of rank ids');
}

export function resolveTraceOptions(o: TraceOptions = {}): ResolvedTraceOptions {
  checkTraceOptions(o);
  const detail = o.detail ?? 'sampled';
  const full = detail === 'full';
  return {
    detail,
    every: o.every ?? 1,
    maxTransfersPerPhase: o.maxTransfersPerPhase ?? (full ? undefined : DEFAULT_MAX_TRANSFERS_PER_PHASE),
    flows: o.flows ?? true,
    counters: o.counters ?? true,
    counterBuckets: o.counterBuckets ?? (full ? 0 : DEFAULT_COUNTER_BUCKETS),
    maxLanes: o.maxLanes ?? 16,
    ranks: o.ranks,
    maxTransfers: o.maxTransfers,
  };
}
