/**
 * @module
 * What a report shows, as plain rows (the plots' data), and how those rows are read from a trace
 * written by expertmesh: phase slices per rank, the cluster's utilisation counters, the ring
 * occupancy counters and the loads in `otherData`.
 */
import type { RunLoads } from '../scenario/result.js';
import { UTILISATION_SERIES } from '../trace/builder.js';
import { tidsPerRank } from '../trace/events.js';
import type { TraceDocument } from '../trace/read.js';
import { checkArray, checkFinite, checkNumber, checkObject, checkString } from '../validate.js';

/** One phase of one step on one rank. */
export interface PhaseRow {
  rank: number;
  node: number;
  /** 1-based. */
  step: number;
  phase: string;
  startUs: number;
  endUs: number;
}

/** One sample of a utilisation series (percent of the cluster's ports or SMs busy). */
export interface UtilisationRow {
  tUs: number;
  series: 'NVLink' | 'IB' | 'SM';
  percent: number;
}

/** Tokens buffered in every rank's receive rings together, one series per ring type. */
export interface RingRow {
  tUs: number;
  series: string;
  tokens: number;
}

/** One point of an SM sweep of `bench deepep` (one row per SM count and kernel). */
export interface SmSweepRow {
  sms: number;
  kernel: 'dispatch' | 'combine';
  timeUs: number;
  rdmaGBps: number | null;
  nvlGBps: number;
}

/** One kernel's bandwidth on one link type, as `bench deepep` reports it (rank 0, with the range over ranks). */
export interface KernelRow {
  kernel: 'dispatch' | 'combine';
  link: 'RDMA' | 'NVL';
  gbps: number;
  min: number;
  max: number;
}

/** A titled block of preformatted text (a summary table). */
export interface ReportText {
  heading: string;
  text: string;
}

/** Everything a report draws. Absent or empty parts are left out of the page. */
export interface ReportData {
  title: string;
  subtitle: string;
  summary: ReportText[];
  phases: PhaseRow[];
  utilisation: UtilisationRow[];
  rings: RingRow[];
  loads: RunLoads | null;
  /** SM sweep rows; the plot is drawn when they span two SM counts or more. */
  smSweep: SmSweepRow[];
  /** `bench deepep`'s kernels (rank 0 and the range over ranks). */
  kernels: KernelRow[];
}

/** The fields of each kind of report row: a string, a finite number, or a finite number or null. */
const ROW_FIELDS = {
  summary: { heading: 'string', text: 'string' },
  phases: { rank: 'number', node: 'number', step: 'number', phase: 'string', startUs: 'number', endUs: 'number' },
  utilisation: { tUs: 'number', series: 'string', percent: 'number' },
  rings: { tUs: 'number', series: 'string', tokens: 'number' },
  smSweep: { sms: 'number', kernel: 'string', timeUs: 'number', rdmaGBps: 'number?', nvlGBps: 'number' },
  kernels: { kernel: 'string', link: 'string', gbps: 'number', min: 'number', max: 'number' },
} as const satisfies Record<string, Record<string, 'string' | 'number' | 'number?'>>;

/** Throw unless `d` has a report's parts: title and subtitle strings, lists of row objects, loads an object or null. @internal */
export function checkReportData(d: unknown): ReportData {
  const r = checkObject(d, 'report');
  checkString(r['title'], 'report.title', true);
  checkString(r['subtitle'], 'report.subtitle', true);
  for (const k of Object.keys(ROW_FIELDS) as Array<keyof typeof ROW_FIELDS>) {
    const rows = checkArray(r[k], `report.${k}`);
    for (let i = 0; i < rows.length; i++) {
      const row = checkObject(rows[i], `report.${k}[${i}]`);
      for (const [f, kind] of Object.entries(ROW_FIELDS[k])) {
        const v = row[f];
        const name = `report.${k}[${i}].${f}`;
        if (kind === 'string') checkString(v, name, true);
        else if (!(kind === 'number?' && v === null)) checkNumber(v, name);
      }
    }
  }
  if (r['loads'] !== null) {
    const loads = checkObject(r['loads'], 'report.loads');
    for (const k of ['experts', 'gpuBefore', 'gpuAfter'] as const) {
      if (k === 'gpuAfter' && loads[k] === null) continue;
      const m = checkArray(loads[k], `report.loads.${k}`);
      for (let i = 0; i < m.length; i++) checkFinite(m[i], `report.loads.${k}[${i}]`);
    }
  }
  return d as ReportData;
}

const SERIES_OF: Record<string, UtilisationRow['series']> = {
  [UTILISATION_SERIES.nvlink]: 'NVLink',
  [UTILISATION_SERIES.ib]: 'IB',
  [UTILISATION_SERIES.sm]: 'SM',
};
const RING = /^r(\d+) (.+ ring tokens)$/;

/** Points kept per ring series: the sum over ranks is a step function with a change per sample. */
const RING_POINTS = 600;

/** The plot rows a trace holds (summary and SM sweep left empty). */
export function reportRowsFromTrace(doc: TraceDocument): Pick<ReportData, 'phases' | 'utilisation' | 'rings' | 'loads'> {
  const other = doc.otherData ?? {};
  const sampling = (other['sampling'] ?? {}) as { maxLanes?: number };
  const perRank = tidsPerRank(sampling.maxLanes ?? 16);
  const stepShift = other['stepBase'] === 1 ? 0 : 1;
  const phases: PhaseRow[] = [];
  const utilisation: UtilisationRow[] = [];
  const ringEvents = new Map<string, Array<[number, number, number]>>();
  for (const e of doc.traceEvents) {
    if (e.ph === 'X' && e.cat === 'phase' && e.dur !== undefined) {
      const a = e.args ?? {};
      // Older traces (a process per node) have no rank in the args: the compute track's thread id tells.
      const rank = typeof a['rank'] === 'number' ? a['rank'] : Math.floor(e.tid / perRank);
      const node = typeof a['node'] === 'number' ? a['node'] : e.pid;
      phases.push({ rank, node, step: Number(a['step'] ?? 0) + stepShift, phase: String(a['phase'] ?? e.name), startUs: e.ts, endUs: e.ts + e.dur });
    } else if (e.ph === 'C') {
      const series = SERIES_OF[e.name];
      if (series) {
        utilisation.push({ tUs: e.ts, series, percent: Number(e.args?.['percent'] ?? 0) });
        continue;
      }
      const m = RING.exec(e.name);
      if (m) {
        const list = ringEvents.get(m[2]!) ?? ringEvents.set(m[2]!, []).get(m[2]!)!;
        list.push([e.ts, Number(m[1]), Number(e.args?.['tokens'] ?? 0)]);
      }
    }
  }
  utilisation.sort((a, b) => a.tUs - b.tUs);
  const rings: RingRow[] = [];
  for (const [series, list] of ringEvents) rings.push(...ringSum(series, list));
  const loads = isLoads(other['loads']) ? other['loads'] : null;
  return { phases, utilisation, rings, loads };
}

/** The sum over ranks of each rank's latest value, kept at most {@link RING_POINTS} times (the peak of each time cell). */
function ringSum(series: string, list: Array<[number, number, number]>): RingRow[] {
  list.sort((a, b) => a[0] - b[0]);
  const t0 = list[0]![0];
  const t1 = list[list.length - 1]![0];
  const cell = (t1 - t0) / RING_POINTS || 1;
  const value = new Map<number, number>();
  let total = 0;
  const out: RingRow[] = [];
  let curCell = -1;
  for (const [t, rank, v] of list) {
    total += v - (value.get(rank) ?? 0);
    value.set(rank, v);
    const c = Math.floor((t - t0) / cell);
    const last = out[out.length - 1];
    if (c === curCell && last) {
      if (total > last.tokens) last.tokens = total;
    } else {
      out.push({ tUs: t, series, tokens: total });
      curCell = c;
    }
  }
  return out;
}

function isLoads(v: unknown): v is RunLoads {
  return !!v && typeof v === 'object' && Array.isArray((v as RunLoads).experts) && Array.isArray((v as RunLoads).gpuBefore);
}
