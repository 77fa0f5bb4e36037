/**
 * @module
 * The estimate a run is checked against before any work starts: host memory (registered regions,
 * payload, routing plan, timeline, trace, runtime) against the machine's free memory, and
 * registered bytes per rank against the profile's HBM (a simulated allocation, reported
 * separately). Over a limit: `E_LIMIT` with the estimate, the limit and what to lower.
 */
import { freemem } from 'node:os';
import { fail, showValue } from '../errors.js';

/** Host memory of a run by what holds it, bytes. */
export interface HostBytes {
  /**
   * SharedArrayBuffers of every rank's registered regions, as far as the run writes them (pages are
   * committed when first written: a ring's slots that no token reaches cost no host memory).
   */
  registered: number;
  /** Caller-side tensors: inputs, received rows, expert outputs, references (real-payload runs). */
  payload: number;
  /** Routing plan, top-k ids, weights and layouts on the main thread. */
  plan: number;
  /** Per-transfer timeline records of the largest phase (held in the hosts' chunks with their order, then written out as rows). */
  timeline: number;
  /** Trace events of the largest phase held before they are written. */
  trace: number;
  /** Node itself and one V8 isolate per host worker thread. */
  runtime: number;
  total: number;
}

/** What a run will need, computed before it starts. */
export interface RunEstimate {
  /** What is estimated, e.g. `bench deepep` or the scenario name. */
  what: string;
  ranks: number;
  host: HostBytes;
  /**
   * Simulated HBM on the busiest rank: what the modelled software (DeepEP's buffers and tensors)
   * would allocate on a GPU, whether or not the run moves payload bytes. Host memory is `host`.
   */
  hbmPerRankBytes: number;
  /** The hardware profile's HBM per rank. */
  hbmCapacityBytes: number;
  /** Simulated events (transfers cost 4-8 events each under the credit-controlled links; see docs/errors.md, E_LIMIT). */
  events: number;
  /** Limit on host memory and where it came from. */
  hostLimitBytes: number;
  hostLimitSource: string;
  /** What to lower when over a limit (the inputs the estimate grows with). */
  lower: string;
}

/** Bytes of the Node main thread plus each worker isolate before any run data (measured order of magnitude). */
export const RUNTIME_BYTES_PER_THREAD = 64 * 2 ** 20;
/** Share of the free memory a run may plan to use: the rest is for V8 heaps and the OS. */
export const FREE_MEMORY_SHARE = 0.75;

/**
 * The host-memory limit: `EXPERTMESH_HOST_MEMORY_LIMIT` (bytes) when set, else 75% of the free
 * memory the OS reports now.
 */
export function hostMemoryLimit(): { bytes: number; source: string } {
  const env = process.env['EXPERTMESH_HOST_MEMORY_LIMIT'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isFinite(n) || n <= 0)
      fail('E_CONFIG', `EXPERTMESH_HOST_MEMORY_LIMIT must be a positive number of bytes, got ${JSON.stringify(env)}`, { field: 'EXPERTMESH_HOST_MEMORY_LIMIT', value: env });
    return { bytes: n, source: 'EXPERTMESH_HOST_MEMORY_LIMIT' };
  }
  return { bytes: Math.floor(freemem() * FREE_MEMORY_SHARE), source: `${FREE_MEMORY_SHARE * 100}% of free memory` };
}

/** Sum the parts into an estimate with the current limit. */
export function makeEstimate(
  what: string, ranks: number, parts: Omit<HostBytes, 'total' | 'runtime'>, threads: number, hbmPerRankBytes: number,
  hbmCapacityBytes: number, events: number, lower: string,
): RunEstimate {
  const runtime = threads * RUNTIME_BYTES_PER_THREAD;
  const total = parts.registered + parts.payload + parts.plan + parts.timeline + parts.trace + runtime;
  const limit = hostMemoryLimit();
  return {
    what, ranks, host: { ...parts, runtime, total }, hbmPerRankBytes, hbmCapacityBytes, events: Math.round(events),
    hostLimitBytes: limit.bytes, hostLimitSource: limit.source, lower,
  };
}

/** Bytes as `1.2 GB` (decimal units, as HBM capacities are given). */
export function formatBytes(b: number): string {
  if (!Number.isFinite(b)) return String(b);
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i === 0 ? b : b.toFixed(1)} ${units[i]}`;
}

/** Throw unless `e` has an estimate's figures (the ones the checks and the text read). */
function checkEstimateShape(e: RunEstimate): void {
  if (typeof e !== 'object' || e === null || typeof e.host !== 'object' || e.host === null)
    fail('E_ARGUMENT', `an estimate must be an object with host figures (from estimateDeepepBenchmark or estimateScenario), got ${showValue(e)}`, { argument: 'estimate' });
  for (const k of ['hostLimitBytes', 'hbmPerRankBytes', 'hbmCapacityBytes', 'events', 'ranks'] as const)
    if (typeof e[k] !== 'number') fail('E_ARGUMENT', `estimate.${k} must be a number, got ${showValue(e[k])}`, { argument: `estimate.${k}` });
  for (const k of ['total', 'registered', 'payload', 'plan', 'timeline', 'trace', 'runtime'] as const)
    if (typeof e.host[k] !== 'number') fail('E_ARGUMENT', `estimate.host.${k} must be a number, got ${showValue(e.host[k])}`, { argument: `estimate.host.${k}` });
  for (const k of ['what', 'hostLimitSource', 'lower'] as const)
    if (typeof e[k] !== 'string') fail('E_ARGUMENT', `estimate.${k} must be a string, got ${showValue(e[k])}`, { argument: `estimate.${k}` });
}

/** The problems of an estimate (empty when it fits). */
export function estimateProblems(e: RunEstimate): string[] {
  checkEstimateShape(e);
  const out: string[] = [];
  if (!(e.host.total <= e.hostLimitBytes))
    out.push(`host memory estimate ${formatBytes(e.host.total)} is over the limit of ${formatBytes(e.hostLimitBytes)} (${e.hostLimitSource})`);
  if (!(e.hbmPerRankBytes <= e.hbmCapacityBytes))
    out.push(`simulated HBM per rank ${formatBytes(e.hbmPerRankBytes)} is over the ${formatBytes(e.hbmCapacityBytes)} of HBM per rank`);
  return out;
}

/** Throw `E_LIMIT` when the estimate is over a limit. */
export function checkEstimate(e: RunEstimate): void {
  const problems = estimateProblems(e);
  if (problems.length === 0) return;
  fail('E_LIMIT', `${e.what}: ${problems.join('; ')}; lower ${e.lower}`, { estimate: e, problems });
}

/** The estimate as text lines (for `--dry-run`). */
export function formatEstimate(e: RunEstimate): string {
  checkEstimateShape(e);
  const h = e.host;
  const problems = estimateProblems(e);
  return [
    `estimate for ${e.what} (${e.ranks} ranks), before any work:`,
    `  host memory ${formatBytes(h.total)} (limit ${formatBytes(e.hostLimitBytes)}, ${e.hostLimitSource}):`,
    `    registered ${formatBytes(h.registered)}, payload ${formatBytes(h.payload)}, plan ${formatBytes(h.plan)}, timeline ${formatBytes(h.timeline)}, trace ${formatBytes(h.trace)}, runtime ${formatBytes(h.runtime)}`,
    `  simulated HBM per rank ${formatBytes(e.hbmPerRankBytes)} of ${formatBytes(e.hbmCapacityBytes)}`,
    `  events ~${e.events.toExponential(2)}`,
    problems.length === 0 ? '  fits' : `  over a limit: ${problems.join('; ')}; lower ${e.lower}`,
    '',
  ].join('\n');
}
