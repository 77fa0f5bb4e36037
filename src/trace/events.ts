/**
 * @module
 * The Chrome Trace Event Format subset expertmesh writes (it opens in Perfetto and chrome://tracing):
 * complete slices (`X`), instants (`i`), counters (`C`), flow arrows (`s`/`f`) and metadata (`M`).
 * Timestamps and durations are virtual microseconds.
 */

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

/** Options that keep large traces loadable. */
export interface TraceOptions {
  /** Only transfers from or to these ranks get slices and flows (default: all). */
  ranks?: readonly number[] | undefined;
  /** Keep one transfer in `every`, by canonical index (default 1: all). */
  every?: number | undefined;
  /** At most this many transfers drawn as slices in the whole trace (default: no limit). */
  maxTransfers?: number | undefined;
  /** Flow arrows from each send to its receive (default true). */
  flows?: boolean | undefined;
  /** Bytes-in-flight counters per link port (default true); always computed from every transfer. */
  counters?: boolean | undefined;
  /**
   * Lanes per port (default 16). Transfers sharing a port overlap (processor sharing), so each port
   * has lanes, each a thread whose slices never overlap; a transfer finding every lane busy is not
   * drawn (counted in `otherData.transfersNotDrawn`) but still counts in the counters.
   */
  maxLanes?: number | undefined;
}

/** Trace options with defaults filled in. */
export interface ResolvedTraceOptions {
  ranks: readonly number[] | undefined;
  every: number;
  maxTransfers: number | undefined;
  flows: boolean;
  counters: boolean;
  maxLanes: number;
}

export function resolveTraceOptions(o: TraceOptions = {}): ResolvedTraceOptions {
  return {
    every: o.every ?? 1,
    flows: o.flows ?? true,
    counters: o.counters ?? true,
    maxLanes: o.maxLanes ?? 16,
    ranks: o.ranks,
    maxTransfers: o.maxTransfers,
  };
}
